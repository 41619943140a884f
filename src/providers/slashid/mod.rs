//! SlashID RBAC roles: keyed by their name `{orgId}/{name}` (the external id), created with a
//! 204 and no body, read back by GET (with an ETag), changed by PATCH with `If-Match` (204, no
//! body). Permission objects a role names are created first and never deleted. A 408 means the
//! write may still land, so it is reported as an unknown outcome and the controller re-observes.
//! The listing has names only, so every role is read on its own.

mod client;
#[cfg(test)]
mod fuzz;
pub mod guard;
mod mapping;
pub mod model;
pub mod sim;

use crate::crd::{ProviderKind, ProviderSettings, SlashIdRole};
use crate::providers::http::Http;
use crate::providers::memo::Memo;
use crate::providers::{
    Account, Auth, Desired, Error, Identity, Limits, Listed, Provider, Result, bad_external_id,
    found, gone,
};
use client::Org;
use mapping::{check_names, desired_permissions, drift, full_name, named_by, summary};
use model::{PatchRoleRequest, PostRoleRequest, Role, Tagged};

pub const DEFAULT_BASE_URL: &str = "https://api.slashid.com";

base_url_flag!(
    "slashid-url",
    "ROLEPLANE_SLASHID_URL",
    "Default SlashID base URL for configs without an endpoint."
);

#[derive(Clone)]
pub struct SlashId {
    http: Http,
    /// The organisation's permission names, per credential and org (see `memo`).
    permissions: Memo<Vec<String>>,
}

/// A 408 from a write: SlashID did not reach the requested consistency in time, but the write
/// may still be applied, so neither success nor failure is known.
fn unknown_on_408(e: Error) -> Error {
    match e {
        Error::Api(api) if api.status == Some(408) => Error::UnknownOutcome(api),
        other => other,
    }
}

/// Where an organisation's permission names are kept: per credential and org.
fn permissions_key(account: &Account, org: &Org<'_>) -> String {
    format!("{}|{}", account.key, org.id)
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
        let key = permissions_key(account, org);
        let read = || self.list_permissions(account, org);
        let kept = self.permissions.kept(&key).is_some();
        let mut existing = self.permissions.get(&key, read).await?;
        let missing = |existing: &[String]| wanted.iter().any(|n| !existing.contains(n));
        if missing(&existing) && kept {
            // Never write on a kept answer's word: someone may have created it since.
            existing = self.permissions.fresh(&key, read).await?;
        }
        if !missing(&existing) {
            return Ok(());
        }
        let mut now = existing.to_vec();
        for name in wanted.iter().filter(|n| !existing.contains(n)) {
            match self.create_permission(account, org, name).await {
                Err(e) if e.status() == Some(409) => {}
                Err(e) => {
                    self.permissions.forget(&key);
                    return Err(unknown_on_408(e));
                }
                Ok(()) => {}
            }
            now.push(name.clone());
        }
        self.permissions.fresh(&key, || async { Ok(now) }).await?;
        Ok(())
    }

    fn forget_permissions(&self, account: &Account, org: &Org<'_>) {
        self.permissions.forget(&permissions_key(account, org));
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
        match self.get_role(account, org, &sent.name).await {
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
            // The create went through (204 or 409): whatever the read-back says, the role exists.
            Err(e) => Err(e.after_create(ProviderKind::SlashId, "create role")),
        }
    }
}

impl Provider for SlashId {
    type Spec = SlashIdRole;
    type Object = Tagged;

    const KIND: ProviderKind = ProviderKind::SlashId;
    const IDENTITY: Identity = Identity::Name;
    const SECRET_KEYS: &'static [&'static str] = &["apiKey"];
    const AUTH: Auth = Auth::Header {
        header: "slashid-api-key",
        key: "apiKey",
    };
    /// SlashID publishes no numbers (429 with Retry-After is honoured): a conservative default.
    const LIMITS: Limits = Limits::UNPUBLISHED;
    /// `GET /rbac/roles` names the roles, nothing more.
    const LISTS_OBJECTS: bool = false;

    fn new(http: Http) -> Self {
        Self {
            http,
            permissions: Memo::default(),
        }
    }

    fn default_base_url(_: &ProviderSettings) -> Option<String> {
        Some(DEFAULT_BASE_URL.to_string())
    }

    fn validate(&self, desired: Desired<'_, SlashIdRole>) -> Result<()> {
        check_names(desired.name, desired.spec)
    }

    /// SlashID keys roles on their name: `externalId` is the name, with or without an
    /// organisation prefix (a role shared from a parent organisation carries the parent's).
    fn check_external_id(
        &self,
        _: &Account,
        desired: Desired<'_, SlashIdRole>,
        id: &str,
    ) -> Result<()> {
        if named_by(id) == Some(desired.name) {
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

    /// The name without the organisation prefix, as the resource names it.
    fn name_of(&self, role: &Tagged) -> String {
        let full = role.role.name.as_str();
        full.split_once('/')
            .map_or(full, |(_, name)| name)
            .to_string()
    }

    fn drift(&self, desired: Desired<'_, SlashIdRole>, role: &Tagged) -> Vec<String> {
        drift(desired.spec, &role.role)
    }

    fn summary(&self, _: Desired<'_, SlashIdRole>, role: &Tagged) -> String {
        summary(&role.role)
    }

    fn manifest(&self, role: &Tagged, _scope: &str) -> Option<serde_json::Value> {
        let mut permissions = role.role.permissions.clone();
        permissions.sort();
        permissions.dedup();
        let mut block = serde_json::json!({ "permissions": permissions });
        if let Some(d) = role.role.description.as_deref().filter(|d| !d.is_empty()) {
            block["description"] = d.into();
        }
        Some(serde_json::json!({ "slashid": block }))
    }

    /// The listing has names only: the role is read on its own.
    async fn read_listed(
        &self,
        account: &Account,
        _scope: &str,
        listed: &Listed<Tagged>,
    ) -> Result<Option<Tagged>> {
        if let Some(object) = &listed.object {
            return Ok(Some(object.clone()));
        }
        let org = Org::of(account)?;
        let full = full_name(org.id, &listed.id);
        found(self.get_role(account, &org, &full).await)
    }

    async fn check_access(&self, account: &Account) -> Result<()> {
        let org = Org::of(account)?;
        self.list_roles(account, &org).await.map(|_| ())
    }

    /// Roles of this organisation only: the listing also shows roles other organisations of an
    /// RBAC pool share, and those carry their own prefix. Names only: each is read on its own.
    async fn list(&self, account: &Account, _scope: &str) -> Result<Vec<Listed<Tagged>>> {
        let org = Org::of(account)?;
        let prefix = format!("{}/", org.id);
        Ok(self
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
        found(self.get_role(account, &org, &full).await)
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
        let conflict = match self.create_role(account, &org, &body).await {
            Ok(()) => None,
            Err(e) if e.status() == Some(409) => Some(e),
            Err(e) => {
                // Perhaps a permission it names was deleted since it was listed.
                self.forget_permissions(account, &org);
                return Err(unknown_on_408(e));
            }
        };
        let sent = Role {
            name: full.clone(),
            description: role.description.clone(),
            permissions,
        };
        // Create is idempotent by name: a 204 also answers for a role that existed and was left
        // as it was, so read it back before calling it ours.
        self.settle_create(account, &org, role, sent, conflict)
            .await
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
                .patch_role(account, &org, &full, etag.as_deref(), &body)
                .await
            {
                Ok(()) => break,
                // Someone wrote between our read and the PATCH: read again and retry once.
                Err(e) if e.status() == Some(412) && !retried => {
                    retried = true;
                    let fresh = self.get_role(account, &org, &full).await?;
                    if drift(role, &fresh.role).is_empty() {
                        // Already in line, e.g. a write that answered 408 has landed since.
                        return Ok(fresh);
                    }
                    etag = fresh.etag;
                }
                Err(e) => {
                    self.forget_permissions(account, &org);
                    return Err(unknown_on_408(e));
                }
            }
        }
        Ok(Tagged {
            role: Role {
                name: full,
                description: role
                    .description
                    .clone()
                    .or(current.role.description.clone()),
                permissions,
            },
            etag: None,
        })
    }

    /// Deletes the role only; permission objects stay (other roles may use them).
    async fn delete(&self, account: &Account, _: Desired<'_, SlashIdRole>, id: &str) -> Result<()> {
        let org = Org::of(account)?;
        let full = full_name(org.id, id);
        gone(self.delete_role(account, &org, &full).await).map_err(unknown_on_408)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::{ApiError, ErrorClass};
    use client::tests::{account, settings};

    fn role() -> SlashIdRole {
        SlashIdRole {
            description: Some("Billing viewers".into()),
            permissions: vec!["billing.read".into()],
        }
    }

    fn provider() -> SlashId {
        SlashId::new(Http::new(Default::default(), Default::default()))
    }

    #[test]
    fn external_id_is_the_name_with_or_without_an_org_prefix() {
        let p = provider();
        let a = account(Some(settings()));
        let r = role();
        let desired = Desired {
            name: "billing",
            spec: &r,
        };
        for ok in ["billing", "sim-org/billing", "parent-org/billing"] {
            p.check_external_id(&a, desired, ok).unwrap();
        }
        for bad in [
            "other",
            "sim-org/other",
            "/billing",
            "a/b/billing",
            "sim-org/",
        ] {
            let err = p.check_external_id(&a, desired, bad).unwrap_err();
            assert_eq!(err.class(), ErrorClass::InvalidSpec, "{bad}");
            assert!(err.to_string().contains("orgId/\"billing\""), "{err}");
        }
        assert_eq!(p.name_key(&a, "billing"), "sim-org/billing");
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
}
