//! `roleplane import`: the product objects of one config's account that no resource manages yet,
//! as ready-to-commit manifests in sync with the product (`externalId` set), so applying them
//! adopts each object without a write. Built-in objects are imported observe-only.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use super::load::Schemas;
use super::sources::Sources;
use crate::controller::Error;
use crate::controller::account::ConfigView;
use crate::crd::{Managed, ManagementPolicy, PermissionGroup, ProviderConfigKind, Role};
use crate::providers::{Desired, Provider, Visit, VisitKind};

/// What to import.
#[derive(Clone, Debug)]
pub struct ImportRequest {
    pub config_kind: ProviderConfigKind,
    /// The config's name.
    pub config: String,
    /// The namespace of the manifests (and of a ProviderConfig).
    pub namespace: String,
    /// Listing scopes (ConfigCat product ids); empty: those the config's resources use.
    pub scopes: Vec<String>,
    /// `ObserveOnly` for every manifest (built-ins always are).
    pub management_policy: ManagementPolicy,
}

/// The manifests, sorted by name, and the objects that could not be imported.
#[derive(Clone, Debug, Default)]
pub struct Imported {
    pub manifests: Vec<Value>,
    /// `(product id, why)`.
    pub skipped: Vec<(String, String)>,
}

/// Lists the account of the config and describes every object nothing manages.
pub async fn import(sources: &Sources, request: &ImportRequest) -> Result<Imported, Error> {
    let view = sources
        .config_by_name(request.config_kind, &request.namespace, &request.config)
        .await?;
    let users = users(sources, request).await?;
    let visit = ImportVisit {
        sources,
        request,
        view: &view,
        users: &users,
    };
    sources.providers.visit_kind(view.provider, visit).await
}

/// A resource that uses the config: from the cluster (all namespaces for a cluster config) and
/// from the files.
struct User {
    name: String,
    spec: Value,
    /// `spec.externalId` and `status.externalId`.
    ids: Vec<String>,
}

async fn users(sources: &Sources, request: &ImportRequest) -> Result<Vec<User>, Error> {
    let uses = |m: &crate::crd::ManagedSpec| {
        m.provider_config_ref.kind == request.config_kind
            && m.provider_config_ref.name == request.config
    };
    let mut out = Vec::new();
    let mut add = |ns: String,
                   managed: &crate::crd::ManagedSpec,
                   spec: Value,
                   status: Option<&crate::crd::ManagedStatus>| {
        if !uses(managed)
            || (request.config_kind == ProviderConfigKind::ProviderConfig
                && ns != request.namespace)
        {
            return;
        }
        let ids = managed
            .external_id
            .iter()
            .chain(status.and_then(|s| s.external_id.as_ref()))
            .cloned()
            .collect();
        out.push(User {
            name: managed.name.clone(),
            spec,
            ids,
        });
    };
    for (_, r) in &sources.loaded.resources {
        let spec = match r {
            super::load::Resource::Role(r) => serde_json::to_value(&r.spec),
            super::load::Resource::PermissionGroup(g) => serde_json::to_value(&g.spec),
        }
        .unwrap_or_default();
        add(r.namespace(), r.managed(), spec, None);
    }
    if let Some(ctx) = &sources.cluster {
        let ns = match request.config_kind {
            ProviderConfigKind::ProviderConfig => Some(request.namespace.as_str()),
            ProviderConfigKind::ClusterProviderConfig => None,
        };
        let client = ctx.client.clone();
        let roles: kube::Api<Role> = match ns {
            Some(ns) => kube::Api::namespaced(client.clone(), ns),
            None => kube::Api::all(client.clone()),
        };
        crate::controller::for_each_listed(&roles, |r| {
            let spec = serde_json::to_value(&r.spec).unwrap_or_default();
            let ns = kube::ResourceExt::namespace(&r).unwrap_or_default();
            add(ns, r.managed(), spec, r.managed_status());
        })
        .await?;
        let groups: kube::Api<PermissionGroup> = match ns {
            Some(ns) => kube::Api::namespaced(client.clone(), ns),
            None => kube::Api::all(client),
        };
        crate::controller::for_each_listed(&groups, |g| {
            let spec = serde_json::to_value(&g.spec).unwrap_or_default();
            let ns = kube::ResourceExt::namespace(&g).unwrap_or_default();
            add(ns, g.managed(), spec, g.managed_status());
        })
        .await?;
    }
    Ok(out)
}

struct ImportVisit<'a> {
    sources: &'a Sources,
    request: &'a ImportRequest,
    view: &'a ConfigView,
    users: &'a [User],
}

impl VisitKind for ImportVisit<'_> {
    type Output = Result<Imported, Error>;

    async fn visit<P: Provider>(self, provider: &P) -> Self::Output {
        let account = self.sources.account::<P>(self.view).await?;
        let kind = P::KIND.managed_kind();
        // The typed specs of the users: their scopes, and the keys of name-keyed products.
        let mut managed: BTreeSet<String> = BTreeSet::new();
        // A resource that knows no id yet (not reconciled, or read from files without a
        // cluster) will find its object by name: the objects so named are not imported again.
        let mut claimed_names: BTreeSet<&str> = BTreeSet::new();
        let mut scopes: BTreeSet<String> = self.request.scopes.iter().cloned().collect();
        for user in self.users {
            managed.extend(user.ids.iter().cloned());
            if P::IDENTITY == crate::providers::Identity::Name {
                managed.insert(provider.name_key(&account, &user.name));
            } else if user.ids.is_empty() {
                claimed_names.insert(&user.name);
            }
            if let Some(field) = P::SCOPE_FIELD
                && self.request.scopes.is_empty()
                && let Some(scope) = user.spec.get(field).and_then(Value::as_str)
            {
                scopes.insert(scope.to_string());
            }
        }
        if scopes.is_empty() {
            if let Some(field) = P::SCOPE_FIELD {
                return Err(Error::InvalidSpec(format!(
                    "{} lists its objects per spec.{field} and no resource of {} names one: pass --scope <{field}>",
                    P::KIND,
                    self.view.describe
                )));
            }
            scopes.insert(String::new());
        }
        let schemas = Schemas::new();
        let mut out = Imported::default();
        let mut names = BTreeSet::new();
        for scope in &scopes {
            for listed in provider.list(&account, scope).await? {
                if managed.contains(&listed.id) || claimed_names.contains(listed.name.as_str()) {
                    continue;
                }
                let Some(object) = provider.read_listed(&account, scope, &listed).await? else {
                    continue;
                };
                let id = provider.id_of(&object);
                let product_name = provider.name_of(&object);
                let Some(fields) = provider.manifest(&object, scope) else {
                    out.skipped.push((id, "no manifest can describe it".into()));
                    continue;
                };
                let built_in = provider.built_in(&object);
                let name = k8s_name(kind, &product_name, &id, P::IDENTITY);
                if !names.insert(name.clone()) {
                    out.skipped
                        .push((id, format!("the name {name} is taken twice")));
                    continue;
                }
                let mut spec = json!({
                    "providerConfigRef": {"name": self.request.config},
                    "name": product_name,
                    "externalId": id,
                });
                if self.request.config_kind == ProviderConfigKind::ClusterProviderConfig {
                    spec["providerConfigRef"]["kind"] = "ClusterProviderConfig".into();
                }
                if built_in || self.request.management_policy == ManagementPolicy::ObserveOnly {
                    spec["managementPolicy"] = "ObserveOnly".into();
                }
                if built_in {
                    // Built-ins cannot be deleted: deleting the resource must leave them be.
                    spec["deletionPolicy"] = "Orphan".into();
                }
                if let (Value::Object(spec), Value::Object(fields)) = (&mut spec, fields) {
                    spec.extend(fields);
                }
                let manifest = json!({
                    "apiVersion": super::API_VERSION,
                    "kind": kind,
                    "metadata": {"name": name, "namespace": self.request.namespace},
                    "spec": spec,
                });
                match check(&self.sources.providers, &schemas, kind, &manifest).await {
                    Ok(()) => out.manifests.push(manifest),
                    Err(why) => out.skipped.push((id, why)),
                }
            }
        }
        out.manifests.sort_by(|a, b| {
            a["metadata"]["name"]
                .as_str()
                .cmp(&b["metadata"]["name"].as_str())
        });
        Ok(out)
    }
}

/// A manifest is only printed when the API server and the controller would take it.
async fn check(
    providers: &crate::providers::Providers,
    schemas: &Schemas,
    kind: &str,
    manifest: &Value,
) -> Result<(), String> {
    schemas.check(kind, manifest, None)?;
    let visit = |name: String| ValidateVisit { name };
    if kind == "Role" {
        let role: Role = serde_json::from_value(manifest.clone()).map_err(|e| e.to_string())?;
        let name = role.spec.managed.name.clone();
        providers.visit(role.product()?, visit(name)).await
    } else {
        let group: PermissionGroup =
            serde_json::from_value(manifest.clone()).map_err(|e| e.to_string())?;
        let name = group.spec.managed.name.clone();
        providers.visit(group.product()?, visit(name)).await
    }
}

/// The product's own checks of a block (`Provider::validate`).
struct ValidateVisit {
    name: String,
}

impl Visit for ValidateVisit {
    type Output = Result<(), String>;

    async fn visit<P: Provider>(self, provider: &P, spec: &P::Spec) -> Self::Output {
        provider
            .validate(Desired {
                name: &self.name,
                spec,
            })
            .map_err(|e| e.to_string())
    }
}

/// A Kubernetes name for the object: its product name lower-cased with other characters as `-`;
/// suffixed with a hash of the id unless the name is already valid and unique in the product
/// (name-keyed products), so the name is the same on every run and never collides.
pub fn k8s_name(
    kind: &str,
    product_name: &str,
    id: &str,
    identity: crate::providers::Identity,
) -> String {
    let mut slug = String::new();
    for c in product_name.chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_alphanumeric() {
            slug.push(c);
        } else if !slug.ends_with('-') {
            slug.push('-');
        }
    }
    let slug = slug.trim_matches('-');
    let slug: String = slug.chars().take(50).collect();
    let slug = slug.trim_end_matches('-');
    let slug = if slug.is_empty() {
        kind.to_ascii_lowercase()
    } else {
        slug.to_string()
    };
    if identity == crate::providers::Identity::Name && slug == product_name {
        slug
    } else {
        format!("{slug}-{:08x}", fnv1a(id.as_bytes()) as u32)
    }
}

/// FNV-1a: a hash that is the same in every build (unlike `DefaultHasher`).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf29ce484222325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x100000001b3)
    })
}

/// The manifests as one YAML stream.
pub fn render_yaml(manifests: &[Value]) -> String {
    manifests
        .iter()
        .map(|m| serde_yaml_ng::to_string(m).expect("a manifest always serializes"))
        .collect::<Vec<_>>()
        .join("---\n")
}

/// The manifests as a `v1 List` (what `kubectl apply -f` takes in one JSON document).
pub fn render_json(manifests: &[Value]) -> String {
    serde_json::to_string_pretty(&json!({"apiVersion": "v1", "kind": "List", "items": manifests}))
        .expect("a manifest always serializes")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::Identity;

    #[test]
    fn names_are_valid_stable_and_distinct() {
        assert_eq!(
            k8s_name("Role", "admins", "admins", Identity::Name),
            "admins"
        );
        let a = k8s_name(
            "Role",
            "Release Managers",
            "Release Managers",
            Identity::Name,
        );
        assert_eq!(
            a,
            k8s_name(
                "Role",
                "Release Managers",
                "Release Managers",
                Identity::Name
            )
        );
        assert!(a.starts_with("release-managers-"), "{a}");
        let x = k8s_name("Role", "Admin", "1", Identity::Id);
        let y = k8s_name("Role", "Admin", "2", Identity::Id);
        assert_ne!(x, y);
        let odd = k8s_name("Role", "  ***  ", "9", Identity::Id);
        assert!(odd.starts_with("role-"), "{odd}");
        let long = k8s_name("Role", &"x".repeat(300), "9", Identity::Id);
        assert!(long.len() <= 63, "{long}");
        for n in [a, x, odd, long] {
            assert!(
                n.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                    && !n.starts_with('-')
                    && !n.ends_with('-'),
                "{n}"
            );
        }
    }
}
