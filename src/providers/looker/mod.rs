//! Looker roles: a role points at one permission set and one model set. Inline sets are owned
//! (named `roleplane:<role name>`, created before the role and deleted after it); referenced
//! sets are looked up by id or name and never changed. The role id is the external id; reads
//! take the set ids from the embedded `permission_set` / `model_set`. Role names are unique
//! (a taken name answers 409), the listing carries whole roles, and every write answers with the
//! object written.

mod catalogue;
mod client;
#[cfg(test)]
mod fuzz;
pub mod guard;
pub mod model;
mod plan;
mod roles;
mod sets;
pub mod sim;
mod token;

use crate::crd::{LookerRole, ProviderKind, ProviderSettings};
use crate::providers::http::Http;
use crate::providers::memo::Memo;
use crate::providers::{
    Account, Auth, Desired, Error, Identity, Limits, Listed, Provider, Result, bad_external_id,
    found, is_plain_id, name_problem,
};
use model::{Role, SetKind};
use plan::Want;

// Every Looker instance has its own URL: configs name it as their endpoint.
base_url_flag!();

/// Looker documents no length limit for role names: the CRD's bound.
const MAX_NAME_CHARS: usize = 255;

#[derive(Clone)]
pub struct Looker {
    client: client::Client,
    /// The instance's permission catalogue, per credential (see `memo`).
    catalogue: Memo<Vec<model::Permission>>,
}

fn wants(block: &LookerRole) -> Result<(Want<'_>, Want<'_>)> {
    Ok((
        plan::want(block, SetKind::Permission)?,
        plan::want(block, SetKind::Model)?,
    ))
}

impl Provider for Looker {
    type Spec = LookerRole;
    type Object = Role;

    const KIND: ProviderKind = ProviderKind::Looker;
    /// Names are unique and a taken one answers 409, but inline sets are made before the role:
    /// looking the name up first keeps a conflict from writing anything.
    const IDENTITY: Identity = Identity::Id;
    const SEARCHES_BY_NAME: bool = true;
    const SECRET_KEYS: &'static [&'static str] = &["clientId", "clientSecret"];
    /// A token from `POST /login` with the client id and secret (see `token`).
    const AUTH: Auth = Auth::Custom;
    /// Looker publishes no numbers (every operation may answer 429, Retry-After honoured): a
    /// conservative default.
    const LIMITS: Limits = Limits::UNPUBLISHED;

    fn new(http: Http) -> Self {
        Self {
            client: client::Client::new(http),
            catalogue: Memo::default(),
        }
    }

    fn default_base_url(_: &ProviderSettings) -> Option<String> {
        None
    }

    fn validate(&self, desired: Desired<'_, LookerRole>) -> Result<()> {
        let name = desired.name;
        if let Some(problem) = name_problem(name, MAX_NAME_CHARS) {
            return Err(Error::InvalidSpec(format!("name {name:?} {problem}")));
        }
        // Referenced set ids are URL path segments (`/permission_sets/{id}`).
        let refs = [
            (
                "looker.permissionSetRef.id",
                &desired.spec.permission_set_ref,
            ),
            ("looker.modelSetRef.id", &desired.spec.model_set_ref),
        ];
        for (field, set) in refs {
            if let Some(id) = set.as_ref().and_then(|r| r.id.as_deref())
                && !is_plain_id(id)
            {
                return Err(Error::InvalidSpec(format!(
                    "{field}: {id:?} is not a Looker id (letters, digits, - _ and single dots)"
                )));
            }
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

    fn name_of(&self, role: &Role) -> String {
        role.name.clone().unwrap_or_default()
    }

    fn drift(&self, desired: Desired<'_, LookerRole>, role: &Role) -> Vec<String> {
        // Only an unvalidated spec (during deletion) fails here: then nothing is in line.
        plan::drift(desired.spec, desired.name, role).unwrap_or_else(|_| vec!["looker".to_string()])
    }

    fn summary(&self, _: Desired<'_, LookerRole>, role: &Role) -> String {
        plan::summary(role)
    }

    fn manifest(&self, role: &Role, _scope: &str) -> Option<serde_json::Value> {
        plan::manifest(role)
    }

    /// The Admin role comes with every instance (built-in sets, 405 on change).
    fn built_in(&self, role: &Role) -> bool {
        role.name.as_deref() == Some("Admin")
            || role.permission_set.as_ref().is_some_and(|s| s.built_in)
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
            .map(|r| self.listed(r))
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
            .map(|r| self.listed(r))
            .collect())
    }

    async fn observe(
        &self,
        account: &Account,
        _: Desired<'_, LookerRole>,
        id: &str,
    ) -> Result<Option<Role>> {
        found(self.client.get_role(account, id).await)
    }

    async fn create(&self, account: &Account, desired: Desired<'_, LookerRole>) -> Result<Role> {
        self.create_role(account, desired).await
    }

    async fn update(
        &self,
        account: &Account,
        desired: Desired<'_, LookerRole>,
        role: &Role,
    ) -> Result<Role> {
        self.update_role(account, desired, role).await
    }

    async fn delete(
        &self,
        account: &Account,
        desired: Desired<'_, LookerRole>,
        id: &str,
    ) -> Result<()> {
        self.delete_role(account, desired, id).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crd::{LookerModelSet, LookerPermissionSet, LookerSetRef};

    fn looker() -> Looker {
        Looker::new(Http::new(Default::default(), Default::default()))
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
        for bad in ["", "line1\nline2", "Analyst "] {
            assert!(l.validate(target(bad, &good)).is_err(), "{bad:?}");
        }
        let traversal = LookerRole {
            model_set_ref: Some(LookerSetRef {
                id: Some("../../admin".into()),
                name: None,
            }),
            ..good.clone()
        };
        let err = l.validate(target("Analyst", &traversal)).unwrap_err();
        assert!(err.to_string().contains("looker.modelSetRef.id"), "{err}");
        let err = l.validate(target("Analyst", &both)).unwrap_err();
        assert!(err.to_string().contains("looker.modelSet"), "{err}");
        let none = LookerRole {
            model_set_ref: None,
            ..good.clone()
        };
        assert!(l.validate(target("Analyst", &none)).is_err());
    }
}
