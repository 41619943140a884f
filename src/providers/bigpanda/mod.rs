//! BigPanda roles (Roles API v2.1): server-assigned 24-hex ids, full-replace PUT, Bearer user API
//! key, one regional host per organisation (the controller resolves `region`/`endpoint` into the
//! account's base URL).

mod client;
pub mod mapping;
pub mod model;

use crate::crd::BigPandaRole;
use crate::providers::http::Http;
use crate::providers::{
    Account, ApiError, Error, Listed, Observed, Provider, Result, Spec, Target,
};
pub use client::{PAGE_SIZE, ROLES_PATH, role_path};

pub const US_BASE_URL: &str = "https://api.bigpanda.io";
pub const EU_BASE_URL: &str = "https://eu-api.bigpanda.io";

/// Roles every organisation has out of the box; BigPanda refuses to change or delete them.
pub const BUILT_IN_ROLES: [&str; 2] = ["Admin", "User"];

#[derive(Clone)]
pub struct BigPanda {
    client: client::Client,
}

impl BigPanda {
    pub fn new(http: Http) -> Self {
        Self {
            client: client::Client::new(http),
        }
    }
}

fn block<'a>(target: &Target<'a>) -> Result<&'a BigPandaRole> {
    match target.spec {
        Spec::BigPanda(b) => Ok(b),
        _ => Err(Error::InvalidSpec(
            "the bigpanda provider needs a bigpanda block".into(),
        )),
    }
}

/// A 401 most often means a key from the other region: say so next to BigPanda's own text.
fn hint(e: Error) -> Error {
    match e {
        Error::Api(mut api) if api.status == Some(401) => {
            api.message.push_str(
                " (a BigPanda user API key works only in its organisation's region: check the \
                 key and the ProviderConfig's region or endpoint)",
            );
            Error::Api(api)
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
    /// Ids of the roles named exactly `name`.
    async fn ids_named(&self, account: &Account, name: &str) -> Result<Vec<String>> {
        Ok(self
            .client
            .list_all(account)
            .await?
            .into_iter()
            .filter(|r| r.name == name)
            .map(|r| r.id)
            .collect())
    }

    async fn create_inner(&self, account: &Account, target: &Target<'_>) -> Result<String> {
        let body = mapping::body(target.name, block(target)?, &[]);
        match self.client.create(account, &body).await {
            Ok(created) if !created.id.is_empty() => Ok(created.id),
            Ok(_) => {
                // Created, but the answer carried no id: find it by its (unique) name.
                let ids = self.ids_named(account, target.name).await?;
                match ids.as_slice() {
                    [id] => Ok(id.clone()),
                    _ => Err(Error::UnknownOutcome(ApiError {
                        provider: account.provider,
                        operation: "create role",
                        status: Some(201),
                        message: format!(
                            "the answer carried no role id and {} roles are named {:?}",
                            ids.len(),
                            target.name
                        ),
                        retry_after: None,
                    })),
                }
            }
            // The duplicate-name status is undocumented (400 or 409): look before concluding.
            Err(e) if matches!(e.status(), Some(400 | 409)) => {
                if self.ids_named(account, target.name).await?.is_empty() {
                    Err(e)
                } else {
                    Err(Error::AlreadyExists(format!(
                        "bigpanda create role: a role named {:?} already exists ({e})",
                        target.name
                    )))
                }
            }
            Err(e) => Err(e),
        }
    }

    async fn update_inner(&self, account: &Account, target: &Target<'_>, id: &str) -> Result<()> {
        let role = block(target)?;
        // PUT replaces everything: read the current members first (kept when `users` is not
        // managed), and refuse built-in roles before writing.
        let current = self.client.get(account, id).await?;
        if BUILT_IN_ROLES.contains(&current.name.as_str()) {
            return Err(built_in(&current.name, "update role"));
        }
        let body = mapping::body(target.name, role, &current.users);
        match self.client.replace(account, id, &body).await {
            Err(e) if e.status() == Some(409) => {
                let ids = self.ids_named(account, target.name).await?;
                if ids.iter().any(|other| other != id) {
                    Err(Error::AlreadyExists(format!(
                        "bigpanda update role: cannot rename to {:?}, another role has that name ({e})",
                        target.name
                    )))
                } else {
                    Err(e)
                }
            }
            other => other,
        }
    }

    async fn delete_inner(&self, account: &Account, id: &str) -> Result<()> {
        match self.client.delete(account, id).await {
            Err(e) if e.is_not_found() => Ok(()),
            // Built-in roles are refused with an undocumented status; tell that apart from a
            // credentials problem.
            Err(e) if matches!(e.status(), Some(400 | 403 | 409)) => {
                match self.client.get(account, id).await {
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
    fn validate(&self, target: &Target<'_>) -> Result<()> {
        mapping::check(target.name, block(target)?)
    }

    async fn check_access(&self, account: &Account) -> Result<()> {
        self.client
            .list_page(account, 1, 1)
            .await
            .map(|_| ())
            .map_err(hint)
    }

    async fn list(&self, account: &Account, _target: &Target<'_>) -> Result<Vec<Listed>> {
        let roles = self.client.list_all(account).await.map_err(hint)?;
        Ok(roles
            .into_iter()
            .map(|r| Listed {
                external_id: r.id,
                name: r.name,
            })
            .collect())
    }

    async fn observe(
        &self,
        account: &Account,
        target: &Target<'_>,
        id: &str,
    ) -> Result<Option<Observed>> {
        let role = block(target)?;
        let found = match self.client.get(account, id).await {
            Ok(r) => r,
            Err(e) if e.is_not_found() => return Ok(None),
            Err(e) => return Err(hint(e)),
        };
        Ok(Some(Observed {
            external_id: if found.id.is_empty() {
                id.to_string()
            } else {
                found.id.clone()
            },
            drift: mapping::drift(target.name, role, &found),
            summary: mapping::summary(&found),
        }))
    }

    async fn create(&self, account: &Account, target: &Target<'_>) -> Result<String> {
        self.create_inner(account, target).await.map_err(hint)
    }

    async fn update(&self, account: &Account, target: &Target<'_>, id: &str) -> Result<()> {
        self.update_inner(account, target, id).await.map_err(hint)
    }

    async fn delete(&self, account: &Account, _target: &Target<'_>, id: &str) -> Result<()> {
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
    }

    #[test]
    fn built_in_roles_are_invalid_spec_not_credentials_errors() {
        let e = built_in("Admin", "delete role");
        assert_eq!(e.class(), crate::providers::ErrorClass::InvalidSpec);
        assert!(e.to_string().contains("Orphan"), "{e}");
    }
}
