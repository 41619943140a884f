//! SlashID RBAC roles: keyed by their name `{orgId}/{name}` (the external id), created with a
//! 204 and no body, read back by GET (with an ETag), changed by PATCH with `If-Match` (204, no
//! body). Permission objects a role names are created first and never deleted. A 408 means the
//! write may still land, so it is reported as an unknown outcome and the controller re-observes.
//! The listing has names only, so every role is read on its own.

mod client;
pub mod model;
pub mod sim;

use crate::crd::{ProviderKind, ProviderSettings, SlashIdRole};
use crate::providers::http::Http;
use crate::providers::{
    Account, Desired, Error, Identity, Limits, Listed, Provider, Result, Window, bad_external_id,
};
pub use client::{DEFAULT_CONSISTENCY_TIMEOUT_SECONDS, Org, role_path};
use model::{PatchRoleRequest, PostRoleRequest, Role, Tagged};

pub const DEFAULT_BASE_URL: &str = "https://api.slashid.com";

/// Operator flags for SlashID.
#[derive(Clone, Debug, Default, clap::Args)]
#[group(skip)]
pub struct Flags {
    /// Default SlashID base URL for configs without an endpoint.
    #[arg(id = "slashid-url", long = "slashid-url", env = "ROLEPLANE_SLASHID_URL")]
    pub url: Option<String>,
}

impl Flags {
    pub fn base_url(&self) -> Option<&str> {
        self.url.as_deref()
    }
}

#[derive(Clone)]
pub struct SlashId {
    client: client::Client,
}

/// SlashID's `RoleName` rule, applied to the part after `{orgId}/`: 2-100 characters of
/// `A-Z a-z 0-9 _ . : -`, starting and ending with a letter or digit.
pub fn is_role_name(name: &str) -> bool {
    name_rule(name, 100, |c| {
        c.is_ascii_alphanumeric() || "_.:-".contains(c)
    })
}

/// SlashID's `PermissionName` rule: 2-1024 characters of `A-Z a-z 0-9 _ . : - / \`, starting
/// and ending with a letter or digit.
pub fn is_permission_name(name: &str) -> bool {
    name_rule(name, 1024, |c| {
        c.is_ascii_alphanumeric() || "_.:-/\\".contains(c)
    })
}

fn name_rule(name: &str, max: usize, allowed: impl Fn(char) -> bool) -> bool {
    let edge = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    (2..=max).contains(&name.len())
        && edge(name.chars().next())
        && edge(name.chars().next_back())
        && name.chars().all(allowed)
}

/// The role's key in SlashID. An external id that already holds a `/` is used as is (it names
/// its organisation); a bare name gets the account's `{orgId}/` prefix.
pub fn full_name(org_id: &str, id_or_name: &str) -> String {
    if id_or_name.contains('/') {
        id_or_name.to_string()
    } else {
        format!("{org_id}/{id_or_name}")
    }
}

/// The permission list as sent: sorted and without duplicates (SlashID treats it as a set).
pub fn desired_permissions(role: &SlashIdRole) -> Vec<String> {
    let mut permissions = role.permissions.clone();
    permissions.sort();
    permissions.dedup();
    permissions
}

/// Manifest paths whose SlashID value differs. Permissions compare as sets; the description is
/// only compared when the manifest sets it (an absent and an empty description are equal).
pub fn drift(role: &SlashIdRole, observed: &Role) -> Vec<String> {
    let mut drift = Vec::new();
    if let Some(want) = &role.description
        && observed.description.as_deref().unwrap_or_default() != want
    {
        drift.push("slashid.description".to_string());
    }
    let mut have = observed.permissions.clone();
    have.sort();
    have.dedup();
    if have != desired_permissions(role) {
        drift.push("slashid.permissions".to_string());
    }
    drift
}

fn summary(observed: &Role) -> String {
    match observed.permissions.len() {
        1 => "1 permission".to_string(),
        n => format!("{n} permissions"),
    }
}

/// A 408 from a write: SlashID did not reach the requested consistency in time, but the write
/// may still be applied, so neither success nor failure is known.
fn unknown_on_408(e: Error) -> Error {
    match e {
        Error::Api(api) if api.status == Some(408) => Error::UnknownOutcome(api),
        other => other,
    }
}

impl SlashId {
    /// Creates the permission objects the role names that the organisation lacks. Creating a
    /// permission is idempotent in SlashID; a 409 means another writer won the race.
    async fn ensure_permissions(
        &self,
        account: &Account,
        org: &Org<'_>,
        wanted: &[String],
    ) -> Result<()> {
        if wanted.is_empty() {
            return Ok(());
        }
        let existing = self.client.list_permissions(account, org).await?;
        for name in wanted.iter().filter(|n| !existing.contains(n)) {
            match self.client.create_permission(account, org, name).await {
                Err(e) if e.status() == Some(409) => {}
                other => other.map_err(unknown_on_408)?,
            }
        }
        Ok(())
    }

    /// After a create (204 also answers for an existing role, left untouched; 409 refuses): the
    /// role counts as ours when its content matches the manifest, else it is someone else's.
    async fn settle_create(
        &self,
        account: &Account,
        org: &Org<'_>,
        role: &SlashIdRole,
        sent: Role,
        conflict: Option<Error>,
    ) -> Result<Tagged> {
        match self.client.get_role(account, org, &sent.name).await {
            Ok(found) => {
                let differs = drift(role, &found.role);
                if differs.is_empty() {
                    Ok(found)
                } else {
                    Err(Error::AlreadyExists(format!(
                        "slashid create role: a role named {:?} already exists with a different {} \
                         (SlashID leaves an existing role unchanged); set spec.externalId to adopt it",
                        sent.name,
                        differs.join(", ")
                    )))
                }
            }
            // A 204 with nothing to read yet: replication lag. What was sent is what SlashID will
            // hold; the next observation reads it back.
            Err(e) if e.is_not_found() => match conflict {
                Some(conflict) => Err(conflict),
                None => Ok(Tagged {
                    role: sent,
                    etag: None,
                }),
            },
            Err(e) => Err(e),
        }
    }
}

impl Provider for SlashId {
    type Spec = SlashIdRole;
    type Object = Tagged;

    const KIND: ProviderKind = ProviderKind::SlashId;
    const IDENTITY: Identity = Identity::Name;
    const SECRET_KEYS: &'static [&'static str] = &["apiKey"];
    /// SlashID publishes no numbers (429 with Retry-After is honoured): a conservative default.
    const LIMITS: Limits = Limits {
        windows: &[Window {
            requests: 100,
            seconds: 20,
        }],
        published: false,
    };

    fn new(http: Http) -> Self {
        Self {
            client: client::Client::new(http),
        }
    }

    fn default_base_url(_: &ProviderSettings) -> Option<String> {
        Some(DEFAULT_BASE_URL.to_string())
    }

    fn validate(&self, desired: Desired<'_, SlashIdRole>) -> Result<()> {
        if !is_role_name(desired.name) {
            return Err(Error::InvalidSpec(format!(
                "name {:?}: SlashID role names (without the orgId/ prefix Roleplane adds) are 2-100 \
                 characters of A-Z a-z 0-9 _ . : - and start and end with a letter or digit",
                desired.name
            )));
        }
        if let Some(bad) = desired.spec.permissions.iter().find(|p| !is_permission_name(p)) {
            return Err(Error::InvalidSpec(format!(
                "slashid.permissions: {bad:?} is not a SlashID permission name (2-1024 characters \
                 of A-Z a-z 0-9 _ . : - / \\, starting and ending with a letter or digit)"
            )));
        }
        Ok(())
    }

    /// SlashID keys roles on their name: `externalId` is the name, with or without an
    /// organisation prefix (a role shared from a parent organisation carries the parent's).
    fn check_external_id(&self, _: &Account, desired: Desired<'_, SlashIdRole>, id: &str) -> Result<()> {
        let bare = match id.split_once('/') {
            Some((org, name)) if !org.is_empty() && !name.contains('/') => name,
            Some(_) => "",
            None => id,
        };
        if bare == desired.name {
            return Ok(());
        }
        Err(bad_external_id(
            Self::KIND,
            id,
            &format!(
                "SlashID keys roles on their name, so it must be {:?} or orgId/{:?}",
                desired.name, desired.name
            ),
        ))
    }

    fn name_key(&self, account: &Account, name: &str) -> String {
        match Org::of(account) {
            Ok(org) => full_name(org.id, name),
            Err(_) => name.to_string(),
        }
    }

    fn id_of(&self, role: &Tagged) -> String {
        role.role.name.clone()
    }

    fn drift(&self, desired: Desired<'_, SlashIdRole>, role: &Tagged) -> Vec<String> {
        drift(desired.spec, &role.role)
    }

    fn summary(&self, _: Desired<'_, SlashIdRole>, role: &Tagged) -> String {
        summary(&role.role)
    }

    async fn check_access(&self, account: &Account) -> Result<()> {
        let org = Org::of(account)?;
        self.client.list_roles(account, &org).await.map(|_| ())
    }

    /// Roles of this organisation only: the listing also shows roles other organisations of an
    /// RBAC pool share, and those carry their own prefix. Names only: each is read on its own.
    async fn list(&self, account: &Account, _scope: &str) -> Result<Vec<Listed<Tagged>>> {
        let org = Org::of(account)?;
        let prefix = format!("{}/", org.id);
        Ok(self
            .client
            .list_roles(account, &org)
            .await?
            .into_iter()
            .filter_map(|full| {
                let name = full.strip_prefix(&prefix)?.to_string();
                Some(Listed {
                    id: full,
                    name,
                    object: None,
                })
            })
            .collect())
    }

    async fn observe(
        &self,
        account: &Account,
        _: Desired<'_, SlashIdRole>,
        id: &str,
    ) -> Result<Option<Tagged>> {
        let org = Org::of(account)?;
        let full = full_name(org.id, id);
        match self.client.get_role(account, &org, &full).await {
            Ok(found) => Ok(Some(found)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn create(&self, account: &Account, desired: Desired<'_, SlashIdRole>) -> Result<Tagged> {
        let role = desired.spec;
        let org = Org::of(account)?;
        let full = full_name(org.id, desired.name);
        let permissions = desired_permissions(role);
        self.ensure_permissions(account, &org, &permissions).await?;
        let body = PostRoleRequest {
            name: &full,
            description: role.description.as_deref(),
            permissions: &permissions,
        };
        let conflict = match self.client.create_role(account, &org, &body).await {
            Ok(()) => None,
            Err(e) if e.status() == Some(409) => Some(e),
            Err(e) => return Err(unknown_on_408(e)),
        };
        let sent = Role {
            name: full.clone(),
            description: role.description.clone(),
            permissions,
        };
        // Create is idempotent by name: a 204 also answers for a role that existed and was left
        // as it was, so read it back before calling it ours.
        self.settle_create(account, &org, role, sent, conflict).await
    }

    /// PATCH with the ETag of `current`; on 412 (someone wrote since) read again and retry once.
    /// SlashID answers 204 without a body: the role is then what was written.
    async fn update(
        &self,
        account: &Account,
        desired: Desired<'_, SlashIdRole>,
        current: &Tagged,
    ) -> Result<Tagged> {
        let role = desired.spec;
        let org = Org::of(account)?;
        let full = current.role.name.clone();
        let permissions = desired_permissions(role);
        let added: Vec<String> = permissions
            .iter()
            .filter(|p| !current.role.permissions.contains(p))
            .cloned()
            .collect();
        self.ensure_permissions(account, &org, &added).await?;
        let body = PatchRoleRequest {
            description: role.description.as_deref(),
            permissions: &permissions,
        };
        let mut etag = current.etag.clone();
        let mut retried = false;
        loop {
            match self
                .client
                .patch_role(account, &org, &full, etag.as_deref(), &body)
                .await
            {
                Ok(()) => break,
                // Someone wrote between our read and the PATCH: read again and retry once.
                Err(e) if e.status() == Some(412) && !retried => {
                    retried = true;
                    let fresh = self.client.get_role(account, &org, &full).await?;
                    if drift(role, &fresh.role).is_empty() {
                        // Already in line, e.g. a write that answered 408 has landed since.
                        return Ok(fresh);
                    }
                    etag = fresh.etag;
                }
                Err(e) => return Err(unknown_on_408(e)),
            }
        }
        Ok(Tagged {
            role: Role {
                name: full,
                description: role.description.clone().or(current.role.description.clone()),
                permissions,
            },
            etag: None,
        })
    }

    /// Deletes the role only; permission objects stay (other roles may use them).
    async fn delete(&self, account: &Account, _: Desired<'_, SlashIdRole>, id: &str) -> Result<()> {
        let org = Org::of(account)?;
        let full = full_name(org.id, id);
        match self.client.delete_role(account, &org, &full).await {
            Err(e) if e.is_not_found() => Ok(()),
            other => other.map_err(unknown_on_408),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crd::{ProductSettings, SlashIdConsistency, SlashIdSettings};
    use crate::providers::{ApiError, Credentials, ErrorClass};

    fn role() -> SlashIdRole {
        SlashIdRole {
            description: Some("Billing viewers".into()),
            permissions: vec![
                "billing.read".into(),
                "audit.read".into(),
                "billing.read".into(),
            ],
        }
    }

    fn observed(description: Option<&str>, permissions: &[&str]) -> Role {
        Role {
            name: "sim-org/billing".into(),
            description: description.map(str::to_string),
            permissions: permissions.iter().map(|p| p.to_string()).collect(),
        }
    }

    fn account(settings: Option<SlashIdSettings>) -> Account {
        Account {
            provider: ProviderKind::SlashId,
            base_url: "http://127.0.0.1:1/slashid".into(),
            settings: ProviderSettings {
                products: ProductSettings {
                    slashid: settings,
                    ..Default::default()
                },
                ..Default::default()
            },
            credentials: Credentials::default(),
            key: "k".into(),
            limits: SlashId::LIMITS,
        }
    }

    fn provider() -> SlashId {
        SlashId::new(Http::new(Default::default(), Default::default()))
    }

    #[test]
    fn permissions_are_sent_sorted_without_duplicates() {
        assert_eq!(
            desired_permissions(&role()),
            vec!["audit.read", "billing.read"]
        );
        let body = PostRoleRequest {
            name: "sim-org/billing",
            description: Some("d"),
            permissions: &desired_permissions(&role()),
        };
        assert_eq!(
            serde_json::to_value(&body).unwrap(),
            serde_json::json!({"name": "sim-org/billing", "description": "d",
                "permissions": ["audit.read", "billing.read"]})
        );
        let patch = PatchRoleRequest {
            description: None,
            permissions: &[],
        };
        assert_eq!(
            serde_json::to_value(&patch).unwrap(),
            serde_json::json!({"permissions": []})
        );
    }

    #[test]
    fn drift_compares_permissions_as_sets() {
        let same = observed(Some("Billing viewers"), &["billing.read", "audit.read"]);
        assert!(drift(&role(), &same).is_empty());
        let extra = observed(
            Some("Billing viewers"),
            &["billing.read", "audit.read", "x.y"],
        );
        assert_eq!(drift(&role(), &extra), vec!["slashid.permissions"]);
        let both = observed(None, &["billing.read"]);
        assert_eq!(
            drift(&role(), &both),
            vec!["slashid.description", "slashid.permissions"]
        );
    }

    #[test]
    fn unset_description_is_not_managed_and_empty_equals_absent() {
        let mut r = role();
        r.description = None;
        assert!(
            drift(
                &r,
                &observed(Some("anything"), &["audit.read", "billing.read"])
            )
            .is_empty()
        );
        r.description = Some(String::new());
        assert!(drift(&r, &observed(None, &["audit.read", "billing.read"])).is_empty());
    }

    #[test]
    fn external_ids_carry_the_org_prefix() {
        assert_eq!(full_name("sim-org", "billing"), "sim-org/billing");
        assert_eq!(full_name("sim-org", "sim-org/billing"), "sim-org/billing");
        assert_eq!(full_name("sim-org", "parent/shared"), "parent/shared");
    }

    #[test]
    fn name_rules_follow_slashid() {
        for ok in ["ab", "billing-viewer", "a.b:c_d-9", &"x".repeat(100)] {
            assert!(is_role_name(ok), "{ok}");
        }
        for bad in ["a", "-ab", "ab-", "a/b", "a b", "é1", &"x".repeat(101)] {
            assert!(!is_role_name(bad), "{bad}");
        }
        assert!(is_permission_name(r"billing/invoices\list"));
        assert!(!is_permission_name("billing/"));
        assert!(!is_permission_name(&"p".repeat(1025)));
    }

    #[test]
    fn validate_rejects_bad_names_and_permissions_without_calling_slashid() {
        let p = provider();
        let r = role();
        let ok = Desired {
            name: "billing",
            spec: &r,
        };
        p.validate(ok).unwrap();
        let slash = Desired {
            name: "org/billing",
            ..ok
        };
        assert_eq!(
            p.validate(slash).unwrap_err().class(),
            ErrorClass::InvalidSpec
        );
        let mut bad = role();
        bad.permissions.push("bad perm".into());
        let err = p
            .validate(Desired {
                name: "billing",
                spec: &bad,
            })
            .unwrap_err();
        assert!(err.to_string().contains("\"bad perm\""), "{err}");
    }

    #[test]
    fn status_408_on_a_write_is_an_unknown_outcome() {
        let api = |status| {
            Error::Api(ApiError {
                provider: ProviderKind::SlashId,
                operation: "create role",
                status: Some(status),
                message: "consistency not reached".into(),
                retry_after: None,
            })
        };
        let e = unknown_on_408(api(408));
        assert_eq!(e.class(), ErrorClass::UnknownOutcome);
        assert!(e.to_string().contains("HTTP 408"), "{e}");
        assert_eq!(
            unknown_on_408(api(402)).class(),
            ErrorClass::ProviderRejected
        );
        assert_eq!(
            unknown_on_408(api(400)).class(),
            ErrorClass::ProviderRejected
        );
    }

    #[test]
    fn org_settings_default_to_all_regions_and_30_seconds() {
        let settings = SlashIdSettings {
            org_id: "sim-org".into(),
            consistency: None,
            consistency_timeout_seconds: None,
        };
        let a = account(Some(settings.clone()));
        let org = Org::of(&a).unwrap();
        assert_eq!(
            (org.id, org.consistency, org.timeout_seconds),
            ("sim-org", "all_regions", 30)
        );
        let a = account(Some(SlashIdSettings {
            consistency: Some(SlashIdConsistency::LocalRegion),
            consistency_timeout_seconds: Some(5),
            ..settings
        }));
        let org = Org::of(&a).unwrap();
        assert_eq!((org.consistency, org.timeout_seconds), ("local_region", 5));
        let missing = account(None);
        assert_eq!(
            Org::of(&missing).unwrap_err().class(),
            ErrorClass::InvalidSpec
        );
    }
}
