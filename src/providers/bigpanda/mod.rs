//! BigPanda roles (Roles API v2.1): server-assigned ids, full-replace PUT, Bearer user API key,
//! one regional host per organisation (`region` or `endpoint` picks it). Create and PUT answer
//! with the role, and the paged listing carries whole roles. The duplicate-name status is not
//! documented, so the scope is listed by name before a create.

mod client;
#[cfg(test)]
mod fuzz;
pub mod guard;
mod mapping;
pub mod model;
pub mod sim;
mod validate;

use crate::crd::{BigPandaRegion, BigPandaRole, ProviderKind, ProviderSettings};
use crate::providers::http::Http;
use crate::providers::{
    Account, ApiError, Auth, Calls, CircuitCause, Desired, Error, Identity, Limits, Listed,
    Provider, Result, Window, bad_external_id, is_plain_id,
};
use model::RoleDto;

pub const US_BASE_URL: &str = "https://api.bigpanda.io";
pub const EU_BASE_URL: &str = "https://eu-api.bigpanda.io";

/// Roles every organisation has out of the box; BigPanda refuses to change or delete them.
const BUILT_IN_ROLES: [&str; 2] = ["Admin", "User"];

base_url_flag!(
    "bigpanda-url",
    "ROLEPLANE_BIGPANDA_URL",
    "Default BigPanda base URL for configs without an endpoint (overrides the region)."
);

#[derive(Clone)]
pub struct BigPanda {
    http: Http,
}

/// A 401 most often means a key from the other region: say so next to BigPanda's own text.
/// The same for a circuit opened by such 401s.
fn hint(e: Error) -> Error {
    const HINT: &str = " (a BigPanda user API key works only in its organisation's region: check \
                        the key and the ProviderConfig's region or endpoint)";
    match e {
        Error::Api(mut api) if api.status == Some(401) => {
            api.message.push_str(HINT);
            Error::Api(api)
        }
        Error::CircuitOpen(mut open) if open.cause == CircuitCause::Unauthorized => {
            open.said.push_str(HINT);
            Error::CircuitOpen(open)
        }
        other => other,
    }
}

fn built_in(name: &str, operation: &str) -> Error {
    Error::InvalidSpec(format!(
        "bigpanda {operation}: {name} is a built-in BigPanda role and cannot be changed or \
         deleted; use managementPolicy: ObserveOnly and deletionPolicy: Orphan for it"
    ))
}

impl BigPanda {
    /// The roles named exactly `name`.
    async fn named(&self, account: &Account, name: &str) -> Result<Vec<RoleDto>> {
        Ok(self
            .list_all(account)
            .await?
            .into_iter()
            .filter(|r| r.name == name)
            .collect())
    }

    /// What a refused write `e` means. The status for a taken name is undocumented (400 or 409),
    /// so the roles are listed: a role named `name` other than `except` makes it AlreadyExists;
    /// anything else stays the product's own answer.
    async fn refused(
        &self,
        account: &Account,
        name: &str,
        except: Option<&str>,
        operation: &str,
        e: Error,
    ) -> Result<Error> {
        if !matches!(e.status(), Some(400 | 409)) {
            return Ok(e);
        }
        let named = self.named(account, name).await?;
        Ok(if named.iter().any(|r| Some(r.id.as_str()) != except) {
            Error::AlreadyExists(format!(
                "bigpanda {operation}: another role is named {name:?} ({e})"
            ))
        } else {
            e
        })
    }

    async fn create_inner(
        &self,
        account: &Account,
        desired: Desired<'_, BigPandaRole>,
    ) -> Result<RoleDto> {
        let body = mapping::body(desired.name, desired.spec, &[]);
        match self.post_role(account, &body).await {
            Ok(created) if !created.id.is_empty() => Ok(created),
            Ok(_) => {
                // Created, but the answer carried no role: find it by its (unique) name.
                let mut named = self
                    .named(account, desired.name)
                    .await
                    .map_err(|e| e.after_create(account.provider, "create role"))?;
                match named.len() {
                    1 => Ok(named.remove(0)),
                    n => Err(Error::UnknownOutcome(ApiError {
                        provider: account.provider,
                        operation: "create role",
                        status: Some(201),
                        message: format!(
                            "the answer carried no role id and {n} roles are named {:?}",
                            desired.name
                        ),
                        retry_after: None,
                    })),
                }
            }
            Err(e) => Err(self
                .refused(account, desired.name, None, "create role", e)
                .await?),
        }
    }

    async fn update_inner(
        &self,
        account: &Account,
        desired: Desired<'_, BigPandaRole>,
        current: &RoleDto,
    ) -> Result<RoleDto> {
        // PUT replaces everything: the current members are kept when `users` is not managed,
        // and built-in roles are refused before writing.
        if BUILT_IN_ROLES.contains(&current.name.as_str()) {
            return Err(built_in(&current.name, "update role"));
        }
        let body = mapping::body(desired.name, desired.spec, &current.users);
        match self.put_role(account, &current.id, &body).await {
            Ok(stored) if !stored.id.is_empty() => Ok(stored),
            // An answer without the role: read it back.
            Ok(_) => self.get_role(account, &current.id).await,
            Err(e) => Err(self
                .refused(account, desired.name, Some(&current.id), "update role", e)
                .await?),
        }
    }

    async fn delete_inner(&self, account: &Account, id: &str) -> Result<()> {
        match self.delete_role(account, id).await {
            Err(e) if e.is_not_found() => Ok(()),
            // Built-in roles are refused with an undocumented status; tell that apart from a
            // credentials problem.
            Err(e) if matches!(e.status(), Some(400 | 403 | 409)) => {
                match self.get_role(account, id).await {
                    Err(g) if g.is_not_found() => Ok(()),
                    Ok(r) if BUILT_IN_ROLES.contains(&r.name.as_str()) => {
                        Err(built_in(&r.name, "delete role"))
                    }
                    _ => Err(e),
                }
            }
            other => other,
        }
    }
}

impl Provider for BigPanda {
    type Spec = BigPandaRole;
    type Object = RoleDto;

    const KIND: ProviderKind = ProviderKind::BigPanda;
    const IDENTITY: Identity = Identity::Id;
    const SECRET_KEYS: &'static [&'static str] = &["apiKey"];
    const AUTH: Auth = Auth::Bearer { key: "apiKey" };
    /// BigPanda documents no limit for the Roles API (429 only): a conservative default.
    const LIMITS: Limits = Limits {
        windows: &[Window::ours(50, 20, Calls::All)],
    };

    fn new(http: Http) -> Self {
        Self { http }
    }

    fn default_base_url(settings: &ProviderSettings) -> Option<String> {
        let region = settings
            .products
            .bigpanda
            .as_ref()
            .map(|b| b.region)
            .unwrap_or_default();
        Some(
            match region {
                BigPandaRegion::Us => US_BASE_URL,
                BigPandaRegion::Eu => EU_BASE_URL,
            }
            .to_string(),
        )
    }

    fn validate(&self, desired: Desired<'_, BigPandaRole>) -> Result<()> {
        validate::check(desired.name, desired.spec)
    }

    fn check_external_id(&self, _: &Account, _: Desired<'_, BigPandaRole>, id: &str) -> Result<()> {
        if is_plain_id(id) {
            return Ok(());
        }
        Err(bad_external_id(
            Self::KIND,
            id,
            "BigPanda role ids are plain identifiers (24 hex characters, in practice)",
        ))
    }

    fn id_of(&self, role: &RoleDto) -> String {
        role.id.clone()
    }

    fn name_of(&self, role: &RoleDto) -> String {
        role.name.clone()
    }

    fn drift(&self, desired: Desired<'_, BigPandaRole>, role: &RoleDto) -> Vec<String> {
        mapping::drift(desired.name, desired.spec, role)
    }

    fn summary(&self, _: Desired<'_, BigPandaRole>, role: &RoleDto) -> String {
        mapping::summary(role)
    }

    fn manifest(&self, role: &RoleDto, _scope: &str) -> Option<serde_json::Value> {
        mapping::manifest(role)
    }

    /// Admin and User come with every BigPanda account and cannot be edited.
    fn built_in(&self, role: &RoleDto) -> bool {
        BUILT_IN_ROLES.contains(&role.name.as_str())
    }

    async fn check_access(&self, account: &Account) -> Result<()> {
        self.list_page(account, 1, 1)
            .await
            .map(|_| ())
            .map_err(hint)
    }

    async fn list(&self, account: &Account, _scope: &str) -> Result<Vec<Listed<RoleDto>>> {
        let roles = self.list_all(account).await.map_err(hint)?;
        Ok(roles.into_iter().map(|r| self.listed(r)).collect())
    }

    async fn observe(
        &self,
        account: &Account,
        _: Desired<'_, BigPandaRole>,
        id: &str,
    ) -> Result<Option<RoleDto>> {
        match self.get_role(account, id).await {
            Ok(mut r) => {
                if r.id.is_empty() {
                    r.id = id.to_string();
                }
                Ok(Some(r))
            }
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(hint(e)),
        }
    }

    async fn create(
        &self,
        account: &Account,
        desired: Desired<'_, BigPandaRole>,
    ) -> Result<RoleDto> {
        self.create_inner(account, desired).await.map_err(hint)
    }

    async fn update(
        &self,
        account: &Account,
        desired: Desired<'_, BigPandaRole>,
        current: &RoleDto,
    ) -> Result<RoleDto> {
        self.update_inner(account, desired, current)
            .await
            .map_err(hint)
    }

    async fn delete(
        &self,
        account: &Account,
        _: Desired<'_, BigPandaRole>,
        id: &str,
    ) -> Result<()> {
        self.delete_inner(account, id).await.map_err(hint)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crd::ProviderKind;

    fn api(status: u16) -> Error {
        Error::Api(ApiError {
            provider: ProviderKind::BigPanda,
            operation: "get role",
            status: Some(status),
            message: "Unauthorized".into(),
            retry_after: None,
        })
    }

    #[test]
    fn unauthorized_answers_point_at_the_region() {
        let e = hint(api(401));
        assert_eq!(e.class(), crate::providers::ErrorClass::CredentialsRejected);
        assert!(
            e.to_string()
                .starts_with("bigpanda get role: HTTP 401: Unauthorized")
        );
        assert!(e.to_string().contains("region"), "{e}");
        assert_eq!(hint(api(403)), api(403));
        // Also when those 401s opened the credential's circuit.
        let open = hint(Error::CircuitOpen(crate::providers::CircuitOpen {
            provider: ProviderKind::BigPanda,
            operation: "list roles",
            cause: CircuitCause::Unauthorized,
            failures: 3,
            retry_at: std::time::SystemTime::now(),
            said: "Authorization Required".into(),
        }));
        let text = open.to_string();
        assert!(
            text.contains("HTTP 401") && text.contains("region"),
            "{text}"
        );
    }

    #[test]
    fn built_in_roles_are_invalid_spec_not_credentials_errors() {
        let e = built_in("Admin", "delete role");
        assert_eq!(e.class(), crate::providers::ErrorClass::InvalidSpec);
        assert!(e.to_string().contains("Orphan"), "{e}");
    }
}
