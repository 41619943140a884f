//! Looker roles: a role points at one permission set and one model set. Inline sets are owned
//! (named `roleplane:<role name>`, created before the role and deleted after it); referenced
//! sets are looked up by id or name and never changed. The role id is the external id; reads
//! take the set ids from the embedded `permission_set` / `model_set`. Role names are unique
//! (a taken name answers 409), the listing carries whole roles, and every write answers with the
//! object written.

mod catalogue;
mod client;
pub mod model;
pub mod plan;
mod sets;
pub mod sim;
mod token;

use crate::crd::{LookerRole, ProviderKind, ProviderSettings};
use crate::providers::http::Http;
use crate::providers::{
    Account, ApiError, Desired, Error, Identity, Limits, Listed, Provider, Result, Window,
    bad_external_id, is_plain_id,
};
pub use client::api_path;
use model::{Role, RoleWrite, Set, SetKind};
use plan::Want;

/// Operator flags for Looker: none (every instance has its own URL, set as the config's endpoint).
#[derive(Clone, Debug, Default, clap::Args)]
#[group(skip)]
pub struct Flags {}

impl Flags {
    pub fn base_url(&self) -> Option<&str> {
        None
    }
}

#[derive(Clone)]
pub struct Looker {
    client: client::Client,
}

impl Looker {
    /// Checks inline permission names against the instance's catalogue (one read, no write).
    async fn check_permissions(&self, account: &Account, want: &Want<'_>) -> Result<()> {
        if let Want::Owned(items) = want {
            let catalogue = self.client.permissions(account).await?;
            catalogue::check(items, &catalogue)?;
        }
        Ok(())
    }

    /// The set the role should use for `kind`: a resolved reference or a (created) owned set.
    async fn target_set(
        &self,
        account: &Account,
        kind: SetKind,
        want: &Want<'_>,
        role_name: &str,
        current: Option<&Set>,
        old_name: Option<&str>,
    ) -> Result<sets::Ensured> {
        match want {
            Want::Ref(_) => Ok(sets::Ensured {
                id: self.resolve_ref(account, kind, want, current).await?,
                created: false,
                written: None,
            }),
            Want::Owned(items) => {
                self.ensure_owned(account, kind, items, role_name, current, old_name)
                    .await
            }
        }
    }

    /// Best-effort removal of sets this call created, after the role could not be created.
    async fn discard(&self, account: &Account, created: &[(SetKind, String)]) {
        for (kind, id) in created {
            if let Err(e) = self.delete_owned(account, *kind, id).await {
                tracing::warn!(provider = "looker", set = %id, error = %e, "could not remove an unused owned {}", kind.noun());
            }
        }
    }
}

fn wants(block: &LookerRole) -> Result<(Want<'_>, Want<'_>)> {
    Ok((
        plan::want(block, SetKind::Permission)?,
        plan::want(block, SetKind::Model)?,
    ))
}

/// Looker answers 405 for built-in roles (such as Admin): say so plainly.
fn built_in(e: Error, role: &str) -> Error {
    match e {
        Error::Api(api) if api.status == Some(405) => Error::Api(ApiError {
            message: format!(
                "role {role:?} is built-in and cannot be modified or deleted ({})",
                api.message
            ),
            ..api
        }),
        other => other,
    }
}

/// A failed role create that certainly did not create the role.
fn definitely_failed(e: &Error) -> bool {
    matches!(e.status(), Some(400 | 404 | 405 | 409 | 422))
}

impl Provider for Looker {
    type Spec = LookerRole;
    type Object = Role;

    const KIND: ProviderKind = ProviderKind::Looker;
    /// Names are unique and a taken one answers 409, but inline sets are made before the role:
    /// looking the name up first keeps a conflict from writing anything.
    const IDENTITY: Identity = Identity::Id;
    const SECRET_KEYS: &'static [&'static str] = &["clientId", "clientSecret"];
    /// Looker publishes no numbers (every operation may answer 429, Retry-After honoured): a
    /// conservative default.
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
        None
    }

    fn validate(&self, desired: Desired<'_, LookerRole>) -> Result<()> {
        let name = desired.name;
        if name.trim().is_empty() || name.trim() != name || name.chars().any(char::is_control) {
            return Err(Error::InvalidSpec(
                "name must not be blank, start or end with spaces, or hold control characters"
                    .into(),
            ));
        }
        wants(desired.spec).map(drop)
    }

    fn check_external_id(&self, _: &Account, _: Desired<'_, LookerRole>, id: &str) -> Result<()> {
        if is_plain_id(id) {
            return Ok(());
        }
        Err(bad_external_id(
            Self::KIND,
            id,
            "Looker role ids are plain identifiers (digits, in practice)",
        ))
    }

    fn id_of(&self, role: &Role) -> String {
        role.id.clone()
    }

    fn drift(&self, desired: Desired<'_, LookerRole>, role: &Role) -> Vec<String> {
        // Only an unvalidated spec (during deletion) fails here: then nothing is in line.
        plan::drift(desired.spec, desired.name, role)
            .unwrap_or_else(|_| vec!["looker".to_string()])
    }

    fn summary(&self, _: Desired<'_, LookerRole>, role: &Role) -> String {
        plan::summary(role)
    }

    async fn check_access(&self, account: &Account) -> Result<()> {
        self.client.check_access(account).await
    }

    async fn list(&self, account: &Account, _scope: &str) -> Result<Vec<Listed<Role>>> {
        Ok(self
            .client
            .all_roles(account)
            .await?
            .into_iter()
            .map(|r| Listed {
                id: r.id.clone(),
                name: r.name.clone().unwrap_or_default(),
                object: Some(r),
            })
            .collect())
    }

    /// One search by name (Looker matches case-insensitively, with wildcards: exact matches
    /// are kept), instead of the whole listing.
    async fn find_named(
        &self,
        account: &Account,
        desired: Desired<'_, LookerRole>,
    ) -> Result<Vec<Listed<Role>>> {
        Ok(self
            .client
            .roles_named(account, desired.name)
            .await?
            .into_iter()
            .map(|r| Listed {
                id: r.id.clone(),
                name: r.name.clone().unwrap_or_default(),
                object: Some(r),
            })
            .collect())
    }

    async fn observe(
        &self,
        account: &Account,
        _: Desired<'_, LookerRole>,
        id: &str,
    ) -> Result<Option<Role>> {
        match self.client.get_role(account, id).await {
            Ok(r) => Ok(Some(r)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn create(&self, account: &Account, desired: Desired<'_, LookerRole>) -> Result<Role> {
        let (perms, models) = wants(desired.spec)?;
        self.check_permissions(account, &perms).await?;
        // References first: a missing one must not leave freshly created owned sets behind.
        let mut order = [(SetKind::Permission, &perms), (SetKind::Model, &models)];
        order.sort_by_key(|(_, w)| matches!(w, Want::Owned(_)));
        let mut ids = (String::new(), String::new());
        let mut created: Vec<(SetKind, String)> = Vec::new();
        for (kind, want) in order {
            let ensured = match self
                .target_set(account, kind, want, desired.name, None, None)
                .await
            {
                Ok(e) => e,
                Err(e) => {
                    self.discard(account, &created).await;
                    return Err(e);
                }
            };
            if ensured.created {
                created.push((kind, ensured.id.clone()));
            }
            match kind {
                SetKind::Permission => ids.0 = ensured.id,
                SetKind::Model => ids.1 = ensured.id,
            }
        }
        let body = RoleWrite {
            name: Some(desired.name),
            permission_set_id: Some(&ids.0),
            model_set_id: Some(&ids.1),
        };
        match self.client.create_role(account, &body).await {
            Ok(role) => Ok(role),
            Err(e) => {
                if definitely_failed(&e) {
                    self.discard(account, &created).await;
                }
                if e.status() == Some(409) {
                    return Err(Error::AlreadyExists(format!(
                        "looker create role: a role named {:?} already exists and Roleplane did not create it ({e}); set spec.externalId to adopt it",
                        desired.name
                    )));
                }
                Err(e)
            }
        }
    }

    async fn update(
        &self,
        account: &Account,
        desired: Desired<'_, LookerRole>,
        role: &Role,
    ) -> Result<Role> {
        let (perms, models) = wants(desired.spec)?;
        let target = desired.name;
        self.check_permissions(account, &perms).await?;
        let looker_name = role.name.clone().unwrap_or_default();
        let names = [target, looker_name.as_str()];
        let ps = self
            .target_set(
                account,
                SetKind::Permission,
                &perms,
                target,
                role.permission_set.as_ref(),
                Some(&looker_name),
            )
            .await?;
        let ms = self
            .target_set(
                account,
                SetKind::Model,
                &models,
                target,
                role.model_set.as_ref(),
                Some(&looker_name),
            )
            .await?;
        let current_id = |s: Option<&Set>| s.map(|s| s.id.clone());
        let body = RoleWrite {
            name: (looker_name != target).then_some(target),
            permission_set_id: (current_id(role.permission_set.as_ref()).as_ref() != Some(&ps.id))
                .then_some(ps.id.as_str()),
            model_set_id: (current_id(role.model_set.as_ref()).as_ref() != Some(&ms.id))
                .then_some(ms.id.as_str()),
        };
        let updated = if body.is_empty() {
            // Only owned members changed: the role is as read, with the sets as written.
            Role {
                permission_set: ps.written.clone().or(role.permission_set.clone()),
                model_set: ms.written.clone().or(role.model_set.clone()),
                ..role.clone()
            }
        } else {
            self.client
                .update_role(account, &role.id, &body)
                .await
                .map_err(|e| built_in(e, &looker_name))?
        };
        // A switch to a reference leaves the owned set unused: delete it after the role moved.
        for (kind, want, before, now) in [
            (
                SetKind::Permission,
                &perms,
                role.permission_set.as_ref(),
                &ps.id,
            ),
            (SetKind::Model, &models, role.model_set.as_ref(), &ms.id),
        ] {
            if let Want::Ref(_) = want {
                let keep = |s: &Set| &s.id == now || want.refers_to(s);
                for set in self
                    .owned_leftovers(account, kind, before, &names, &keep)
                    .await?
                {
                    self.delete_owned(account, kind, &set).await?;
                }
            }
        }
        Ok(updated)
    }

    async fn delete(&self, account: &Account, desired: Desired<'_, LookerRole>, id: &str) -> Result<()> {
        let role = match self.client.get_role(account, id).await {
            Ok(r) => Some(r),
            Err(e) if e.is_not_found() => None,
            Err(e) => return Err(e),
        };
        if let Some(role) = &role {
            let name = role.name.as_deref().unwrap_or(desired.name);
            match self.client.delete_role(account, id).await {
                Ok(()) => {}
                Err(e) if e.is_not_found() => {}
                Err(e) => return Err(built_in(e, name)),
            }
        }
        // Owned sets go after the role. The spec may not validate any more: spare referenced
        // sets only when it still says which they are.
        let (perms, models) = match wants(desired.spec) {
            Ok((p, m)) => (Some(p), Some(m)),
            Err(_) => (None, None),
        };
        let looker_name = role
            .as_ref()
            .and_then(|r| r.name.clone())
            .unwrap_or_default();
        let names = [desired.name, looker_name.as_str()];
        for (kind, want, embedded) in [
            (
                SetKind::Permission,
                perms.as_ref(),
                role.as_ref().and_then(|r| r.permission_set.as_ref()),
            ),
            (
                SetKind::Model,
                models.as_ref(),
                role.as_ref().and_then(|r| r.model_set.as_ref()),
            ),
        ] {
            let keep = |s: &Set| want.is_some_and(|w| w.refers_to(s));
            for set in self
                .owned_leftovers(account, kind, embedded, &names, &keep)
                .await?
            {
                self.delete_owned(account, kind, &set).await?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crd::{LookerModelSet, LookerPermissionSet, LookerSetRef, ProviderKind};

    fn looker() -> Looker {
        Looker::new(Http::new(Default::default(), Default::default()))
    }

    fn api(status: u16) -> Error {
        Error::Api(ApiError {
            provider: ProviderKind::Looker,
            operation: "delete role",
            status: Some(status),
            message: "Resource Can't Be Modified".into(),
            retry_after: None,
        })
    }

    #[test]
    fn built_in_roles_get_a_plain_terminal_reason() {
        let e = built_in(api(405), "Admin");
        assert_eq!(e.class(), crate::providers::ErrorClass::ProviderRejected);
        assert_eq!(
            e.to_string(),
            "looker delete role: HTTP 405: role \"Admin\" is built-in and cannot be modified or deleted (Resource Can't Be Modified)"
        );
        assert_eq!(built_in(api(404), "x"), api(404));
    }

    #[test]
    fn validate_needs_one_form_per_set_and_a_clean_name() {
        let good = LookerRole {
            permission_set: Some(LookerPermissionSet {
                permissions: vec!["access_data".into()],
            }),
            model_set_ref: Some(LookerSetRef {
                id: None,
                name: Some("All".into()),
            }),
            ..Default::default()
        };
        let l = looker();
        let target = |name, spec| Desired { name, spec };
        l.validate(target("Analyst", &good)).unwrap();
        assert!(matches!(
            l.validate(target(" Analyst", &good)),
            Err(Error::InvalidSpec(_))
        ));
        let both = LookerRole {
            model_set: Some(LookerModelSet {
                models: vec!["thelook".into()],
            }),
            ..good.clone()
        };
        let err = l.validate(target("Analyst", &both)).unwrap_err();
        assert!(err.to_string().contains("looker.modelSet"), "{err}");
        let none = LookerRole {
            model_set_ref: None,
            ..good.clone()
        };
        assert!(l.validate(target("Analyst", &none)).is_err());
    }
}
