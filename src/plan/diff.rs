//! `roleplane diff`: for each Role and PermissionGroup, the step the controller would take, found
//! the way the controller finds it (`decide` over `execute::find`, the provider's own `drift`),
//! and never a write. Updates name each field with the product's value and the manifest's.

use serde::Serialize;
use serde_json::Value;

use super::load::{Origin, Problem, Resource, Schemas};
use super::sources::Sources;
use crate::controller::decide::{self, Adoption, Change, Facts, Lookup, Step};
use crate::controller::{Error, execute};
use crate::crd::{Managed, ManagementPolicy};
use crate::providers::{Desired, Provider, Visit};

/// What applying a manifest would do in the product.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Action {
    Create,
    Update,
    InSync,
    /// Observe-only and different: reported, never written.
    Drifted,
    /// The controller would refuse (reason and message as it would write them).
    Blocked,
}

/// One field to change: the product's value and the manifest's (null: not set).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Field {
    pub field: String,
    pub product: Value,
    pub manifest: Value,
}

/// The plan of one resource.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Entry {
    #[serde(flatten)]
    pub origin: Origin,
    pub kind: &'static str,
    pub namespace: String,
    pub name: String,
    /// The product (when the resource names one).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    /// The object's name in the product.
    pub product_name: String,
    pub action: Action,
    /// The product object kept (update, in sync, drifted).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    /// Why an existing object is taken on: `externalId`, `interruptedCreate`, `observeOnlyByName`,
    /// or `assumedByName` (no cluster: the one object carrying the name is assumed to be the
    /// resource's; if Roleplane did not create it, the controller reports AlreadyExists).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub adopt: Option<&'static str>,
    /// A create that replaces an object deleted outside Roleplane.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recreating: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<Field>,
    /// The `Synced` reason the controller would write (blocked).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// The whole plan.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub resources: Vec<Entry>,
    /// Documents that could not be planned.
    pub invalid: Vec<Problem>,
    pub summary: Summary,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    pub create: usize,
    pub update: usize,
    pub in_sync: usize,
    pub drifted: usize,
    pub blocked: usize,
    pub invalid: usize,
}

impl Report {
    /// `terraform plan -detailed-exitcode`: 1 when anything is blocked or invalid, else 2 when
    /// something would change, else 0.
    pub fn exit_code(&self) -> i32 {
        let s = &self.summary;
        if s.blocked > 0 || s.invalid > 0 {
            1
        } else if s.create + s.update > 0 {
            2
        } else {
            0
        }
    }
}

/// Plans every resource of `sources` (one at a time: the per-credential budgets apply anyway).
pub async fn diff(sources: &Sources) -> Report {
    let schemas = Schemas::new();
    let mut resources: Vec<Entry> = Vec::new();
    // The object each create makes (account, scope, name): a second resource creating the same
    // one would find it made by the first, which the controller refuses as AlreadyExists.
    let mut creators: std::collections::BTreeMap<String, String> = Default::default();
    for (origin, resource) in &sources.loaded.resources {
        let (mut entry, target) = plan_one(sources, &schemas, origin, resource).await;
        if let Some(target) = target {
            let this = format!("{} {}/{}", entry.kind, entry.namespace, entry.name);
            if let Some(first) = creators.get(&target) {
                entry.action = Action::Blocked;
                entry.reason = Some(crate::controller::reason::ALREADY_EXISTS);
                entry.message = Some(format!(
                    "{first} in this plan creates the {} object named {:?} first; only one resource can manage it",
                    entry.provider.as_deref().unwrap_or_default(),
                    entry.product_name
                ));
            } else {
                creators.insert(target, this);
            }
        }
        resources.push(entry);
    }
    let invalid = sources.loaded.problems.clone();
    let mut summary = Summary {
        invalid: invalid.len(),
        ..Default::default()
    };
    for e in &resources {
        match e.action {
            Action::Create => summary.create += 1,
            Action::Update => summary.update += 1,
            Action::InSync => summary.in_sync += 1,
            Action::Drifted => summary.drifted += 1,
            Action::Blocked => summary.blocked += 1,
        }
    }
    Report {
        resources,
        invalid,
        summary,
    }
}

/// The plan of one resource, and for a create, the object it would make.
async fn plan_one(
    sources: &Sources,
    schemas: &Schemas,
    origin: &Origin,
    resource: &Resource,
) -> (Entry, Option<String>) {
    let managed = resource.managed();
    let mut entry = Entry {
        origin: origin.clone(),
        kind: resource.kind(),
        namespace: resource.namespace(),
        name: resource.name(),
        provider: None,
        product_name: managed.name.clone(),
        action: Action::Blocked,
        external_id: None,
        adopt: None,
        recreating: None,
        fields: Vec::new(),
        reason: None,
        message: None,
    };
    let mut target = None;
    let result = async {
        let product = match resource {
            Resource::Role(r) => r.product(),
            Resource::PermissionGroup(g) => g.product(),
        }
        .map_err(Error::InvalidSpec)?;
        entry.provider = Some(product.kind().to_string());
        let live = sources
            .live(resource.kind(), &entry.namespace, &entry.name)
            .await?;
        // A change the API server would refuse against the object in the cluster (the rules
        // that compare with it: immutable fields).
        if let Some(old) = &live.object {
            let new = match resource {
                Resource::Role(r) => serde_json::to_value(r),
                Resource::PermissionGroup(g) => serde_json::to_value(g),
            }
            .unwrap_or_default();
            schemas
                .check(resource.kind(), &new, Some(old))
                .map_err(|e| {
                    Error::InvalidSpec(format!(
                        "the API server would refuse this change to the {} in the cluster: {e}",
                        resource.kind()
                    ))
                })?;
        }
        // Without a cluster nothing tells which objects Roleplane created: a single object
        // carrying the name is assumed to be this resource's (as after an interrupted create),
        // and the entry says so.
        let assume = sources.cluster.is_none() && managed.external_id.is_none();
        let facts = Facts {
            wanted: managed.external_id.clone(),
            known: live.status.as_ref().and_then(|s| s.external_id.clone()),
            intent: live.create_pending || assume,
            observe_only: managed.management_policy == ManagementPolicy::ObserveOnly,
            was_ready: false,
        };
        let manifest = match resource {
            Resource::Role(r) => serde_json::to_value(&r.spec),
            Resource::PermissionGroup(g) => serde_json::to_value(&g.spec),
        }
        .unwrap_or_default();
        let visit = PlanVisit {
            sources,
            namespace: &entry.namespace,
            managed,
            facts,
            manifest,
        };
        sources.providers.visit(product, visit).await
    }
    .await;
    match result {
        Ok(planned) => {
            target = planned.target;
            entry.action = planned.action;
            entry.external_id = planned.external_id;
            entry.adopt = planned.adopt;
            entry.recreating = planned.recreating;
            entry.fields = planned.fields;
        }
        Err(e) => {
            entry.reason = Some(e.reason());
            entry.message = Some(e.to_string());
        }
    }
    (entry, target)
}

struct Planned {
    /// For a create: the object made, as `account|scope|name`.
    target: Option<String>,
    action: Action,
    external_id: Option<String>,
    adopt: Option<&'static str>,
    recreating: Option<String>,
    fields: Vec<Field>,
}

/// The controller's first steps (`execute::prepare` and `converge`) up to the decision.
struct PlanVisit<'a> {
    sources: &'a Sources,
    namespace: &'a str,
    managed: &'a crate::crd::ManagedSpec,
    facts: Facts,
    /// The resource's spec as JSON, for the manifest's side of each field.
    manifest: Value,
}

impl Visit for PlanVisit<'_> {
    type Output = Result<Planned, Error>;

    async fn visit<P: Provider>(self, provider: &P, spec: &P::Spec) -> Self::Output {
        let desired = Desired {
            name: &self.managed.name,
            spec,
        };
        provider.validate(desired)?;
        let view = self
            .sources
            .config(self.namespace, &self.managed.provider_config_ref)
            .await?;
        crate::controller::execute::config_is_for::<P>(&view)?;
        let account = self.sources.account::<P>(&view).await?;
        let facts = self.facts;
        if let Some(id) = &facts.wanted {
            provider.check_external_id(&account, desired, id)?;
        }
        let lookup = decide::lookup(&facts, P::IDENTITY, || {
            provider.name_key(&account, desired.name)
        });
        let (found, objects) = match &lookup {
            Lookup::Name => self.sources.find_named(provider, &account, desired).await?,
            _ => execute::find(provider, &account, desired, &lookup, None).await?,
        };
        match decide::step(&facts, P::KIND.as_str(), desired.name, &found) {
            Step::Fail(failure) => Err(failure.into()),
            Step::Create { recreating } => Ok(Planned {
                target: Some(format!(
                    "{}|{}|{}",
                    account.key,
                    provider.scope(spec),
                    provider.name_key(&account, desired.name)
                )),
                action: Action::Create,
                external_id: None,
                adopt: None,
                recreating,
                fields: Vec::new(),
            }),
            Step::Keep { id, adopt, change } => {
                let object = objects.iter().find(|o| provider.id_of(o) == id);
                let product = object.map(|o| {
                    let mut v = provider
                        .manifest(o, &provider.scope(spec))
                        .unwrap_or_else(|| Value::Object(Default::default()));
                    v["name"] = provider.name_of(o).into();
                    v
                });
                let values = |fields: Vec<String>| {
                    fields
                        .into_iter()
                        .map(|field| Field {
                            product: product
                                .as_ref()
                                .map(|p| lookup_path(p, &field))
                                .unwrap_or(Value::Null),
                            manifest: lookup_path(&self.manifest, &field),
                            field,
                        })
                        .collect()
                };
                let (action, fields) = match change {
                    Change::None => (Action::InSync, Vec::new()),
                    Change::Update { fields, .. } => (Action::Update, values(fields)),
                    Change::Report { fields } => (Action::Drifted, values(fields)),
                };
                Ok(Planned {
                    target: None,
                    action,
                    external_id: Some(id),
                    adopt: adopt.map(|a| match a {
                        Adoption::ExternalId => "externalId",
                        Adoption::InterruptedCreate if self.sources.cluster.is_none() => {
                            "assumedByName"
                        }
                        Adoption::InterruptedCreate => "interruptedCreate",
                        Adoption::ObserveOnlyByName => "observeOnlyByName",
                    }),
                    recreating: None,
                    fields,
                })
            }
        }
    }
}

/// The value at a drift path (`a.b`, `list[key]`, `list[type/id]`) in a spec as JSON; null when
/// unset. A `[key]` picks the list item whose text fields are exactly the key's parts, else the
/// first item holding them all.
pub fn lookup_path(root: &Value, path: &str) -> Value {
    let mut at = root;
    for part in path.split('.') {
        let (name, key) = match part.split_once('[') {
            Some((n, k)) => (n, Some(k.trim_end_matches(']'))),
            None => (part, None),
        };
        at = match at.get(name) {
            Some(v) => v,
            None => return Value::Null,
        };
        if let Some(key) = key {
            let Some(items) = at.as_array() else {
                return Value::Null;
            };
            let parts: std::collections::BTreeSet<String> =
                key.split('/').map(str::to_ascii_lowercase).collect();
            let texts = |item: &Value| -> std::collections::BTreeSet<String> {
                item.as_object()
                    .map(|o| {
                        o.values()
                            .filter_map(Value::as_str)
                            .map(str::to_ascii_lowercase)
                            .collect()
                    })
                    .unwrap_or_default()
            };
            let exact = items.iter().find(|i| texts(i) == parts);
            let holding = || items.iter().find(|i| parts.is_subset(&texts(i)));
            at = match exact.or_else(holding) {
                Some(v) => v,
                None => return Value::Null,
            };
        }
    }
    at.clone()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn paths_find_fields_and_keyed_list_items() {
        let spec = json!({
            "name": "A",
            "statsig": {"permissions": {"createConfigs": true}},
            "bigpanda": {"permissions": [
                {"resourceType": "environments", "actions": ["read"]},
                {"resourceType": "environments", "resourceId": "abc", "actions": ["full_access"]},
            ]},
            "environmentAccesses": [{"environmentId": "E1", "environmentAccessType": "full"}],
        });
        assert_eq!(lookup_path(&spec, "name"), json!("A"));
        assert_eq!(
            lookup_path(&spec, "statsig.permissions.createConfigs"),
            json!(true)
        );
        assert_eq!(
            lookup_path(&spec, "statsig.permissions.launchToProduction"),
            Value::Null
        );
        assert_eq!(
            lookup_path(&spec, "bigpanda.permissions[environments]")["actions"],
            json!(["read"])
        );
        assert_eq!(
            lookup_path(&spec, "bigpanda.permissions[environments/abc]")["actions"],
            json!(["full_access"])
        );
        assert_eq!(
            lookup_path(&spec, "environmentAccesses[e1]")["environmentAccessType"],
            json!("full")
        );
        assert_eq!(
            lookup_path(&spec, "bigpanda.permissions[roles]"),
            Value::Null
        );
    }

    #[test]
    fn exit_codes_follow_terraform_detailed_exitcode() {
        let report = |summary: Summary| Report {
            resources: vec![],
            invalid: vec![],
            summary,
        };
        assert_eq!(report(Summary::default()).exit_code(), 0);
        let drifted_only = Summary {
            in_sync: 1,
            drifted: 1,
            ..Default::default()
        };
        assert_eq!(report(drifted_only).exit_code(), 0);
        let changes = Summary {
            update: 1,
            ..Default::default()
        };
        assert_eq!(report(changes).exit_code(), 2);
        let blocked = Summary {
            create: 1,
            blocked: 1,
            ..Default::default()
        };
        assert_eq!(report(blocked).exit_code(), 1);
        let invalid = Summary {
            invalid: 1,
            ..Default::default()
        };
        assert_eq!(report(invalid).exit_code(), 1);
    }
}
