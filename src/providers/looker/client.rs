//! Looker API 4.0 endpoints below `<instance>/api/4.0`. Every call carries a cached token from
//! `POST /login` (form body) and logs in again once when Looker answers 401.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use http::Method;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::model::{AccessToken, Permission, Role, RoleWrite, Set};
use super::token::{Cached, Token, Tokens};
use crate::providers::http::{Http, Response, path_segment};
use crate::providers::{Account, ApiError, Error, Result, is_plain_id};

mod sets;

/// Page size of the `/search` endpoints.
const PAGE_SIZE: usize = 100;
/// Stops a search whose server never gives a short page.
const MAX_PAGES: usize = 1000;

/// What search results are paged and checked by.
trait HasId {
    fn id(&self) -> &str;
}

impl HasId for Role {
    fn id(&self) -> &str {
        &self.id
    }
}

impl HasId for Set {
    fn id(&self) -> &str {
        &self.id
    }
}
/// Token lifetime assumed when `/login` does not say.
const DEFAULT_TOKEN_LIFETIME: Duration = Duration::from_secs(3600);

/// `path` below the API root of `account`. The endpoint is the instance URL; one that already
/// ends in `/api/4.0` is accepted as well.
fn api_path(account: &Account, path: &str) -> String {
    if account.base_url.trim_end_matches('/').ends_with("/api/4.0") {
        path.to_string()
    } else {
        format!("/api/4.0{path}")
    }
}

fn item_path(collection: &str, id: &str) -> String {
    format!("{collection}/{}", path_segment(id))
}

#[derive(Clone)]
pub struct Client {
    http: Http,
    tokens: Arc<Tokens>,
}

impl Client {
    pub fn new(http: Http) -> Self {
        Self {
            http,
            tokens: Arc::default(),
        }
    }

    /// Exchanges the client id and secret for a token. Looker answers an unknown client id or
    /// secret with 404 (400 when one is missing); both are reported as rejected credentials.
    async fn login(&self, account: &Account) -> Result<Cached> {
        let form = [
            ("client_id", account.credentials.get("clientId")),
            ("client_secret", account.credentials.get("clientSecret")),
        ];
        let response = self
            .http
            .request(
                account,
                "login",
                Method::POST,
                &api_path(account, "/login"),
            )
            .form(&form)
            .send()
            .await
            .map_err(|e| match e {
                Error::Api(api) if matches!(api.status, Some(400 | 401 | 403 | 404)) => {
                    Error::Api(ApiError {
                        message: format!(
                            "the client id and secret were rejected, or the endpoint is not a Looker instance (login answered HTTP {}: {})",
                            api.status.unwrap_or_default(),
                            api.message
                        ),
                        status: Some(401),
                        ..api
                    })
                }
                other => other,
            })?;
        let token: AccessToken = response.json()?;
        let lifetime = token
            .expires_in
            .map(Duration::from_secs)
            .unwrap_or(DEFAULT_TOKEN_LIFETIME);
        Ok(Cached::new(Token(token.access_token), lifetime))
    }

    /// The cached token, logging in when there is none or it is about to expire.
    async fn token(&self, account: &Account) -> Result<Token> {
        let slot = self.tokens.slot(account);
        let mut cached = slot.lock().await;
        if let Some(c) = cached.as_ref().filter(|c| c.fresh()) {
            return Ok(c.token.clone());
        }
        let fresh = self.login(account).await?;
        let token = fresh.token.clone();
        *cached = Some(fresh);
        Ok(token)
    }

    /// An authenticated call; a 401 drops the token and retries once with a new one.
    async fn call(
        &self,
        account: &Account,
        operation: &'static str,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
    ) -> Result<Response> {
        self.call_with(account, operation, method, path, query, body, false)
            .await
    }

    /// [`Client::call`]; `refused_if_repeated`: a create Looker refuses to repeat (409 for a
    /// taken name, which the caller handles), see `Request::refused_if_repeated`.
    #[allow(clippy::too_many_arguments)]
    async fn call_with(
        &self,
        account: &Account,
        operation: &'static str,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
        refused_if_repeated: bool,
    ) -> Result<Response> {
        let path = api_path(account, path);
        let mut retried = false;
        loop {
            let token = self.token(account).await?;
            let mut request = self
                .http
                .request(account, operation, method.clone(), &path)
                .secret_header("authorization", &format!("Bearer {}", token.as_str()));
            if !retried {
                // A 401 here most likely means the cached token expired: log in again rather
                // than count it against the credentials. A fresh token refused counts.
                request = request.session_token();
            }
            if refused_if_repeated {
                request = request.refused_if_repeated();
            }
            if !query.is_empty() {
                request = request.query(query);
            }
            if let Some(body) = body {
                request = request.json(body);
            }
            match request.send().await {
                Err(e) if e.status() == Some(401) && !retried => {
                    self.tokens.invalidate(account, &token).await;
                    retried = true;
                }
                other => return other.map_err(|e| scrub(e, &token)),
            }
        }
    }

    /// The permission catalogue. One without a single named permission is no catalogue (every
    /// instance has dozens): reading it as one would call every manifest permission unknown.
    pub async fn permissions(&self, account: &Account) -> Result<Vec<Permission>> {
        let response = self
            .call(
                account,
                "list permissions",
                Method::GET,
                "/permissions",
                &[],
                None,
            )
            .await?;
        let catalogue: Vec<Permission> = response.json()?;
        if catalogue.iter().all(|p| p.permission.is_none()) {
            return Err(response.unexpected("the permission catalogue names no permission".into()));
        }
        Ok(catalogue)
    }

    /// Every result of `path` (a `/search` endpoint) matching `name` (any, when None), paged
    /// through by id. Every result must carry an id of the form Looker's ids have; a page with
    /// nothing new ends the search (a server that ignores `offset`), and so does `MAX_PAGES`,
    /// as an error.
    async fn search<T: DeserializeOwned + HasId>(
        &self,
        account: &Account,
        operation: &'static str,
        path: &str,
        name: Option<&str>,
    ) -> Result<Vec<T>> {
        let mut found: Vec<T> = Vec::new();
        let mut seen = HashSet::new();
        for _ in 0..MAX_PAGES {
            let mut query = vec![
                ("sorts", "id".to_string()),
                ("limit", PAGE_SIZE.to_string()),
                ("offset", found.len().to_string()),
            ];
            query.extend(name.map(|n| ("name", n.to_string())));
            let response = self
                .call(account, operation, Method::GET, path, &query, None)
                .await?;
            let page: Vec<T> = response.json()?;
            let full = page.len() >= PAGE_SIZE;
            let mut new = false;
            for item in page {
                if !is_plain_id(item.id()) {
                    let id = item.id();
                    return Err(response.unexpected(format!("a result's id {id:?} is not an id")));
                }
                if seen.insert(item.id().to_string()) {
                    found.push(item);
                    new = true;
                }
            }
            if !full || !new {
                return Ok(found);
            }
        }
        Err(Error::Api(ApiError {
            provider: account.provider,
            operation,
            status: None,
            message: format!("the search did not end after {MAX_PAGES} pages"),
            retry_after: None,
        }))
    }

    /// Every role (with its embedded sets).
    pub async fn all_roles(&self, account: &Account) -> Result<Vec<Role>> {
        self.search(account, "search roles", "/roles/search", None)
            .await
    }

    /// The roles named exactly `name` (Looker's `name` search is case-insensitive with `%` and
    /// `_` as wildcards, so the results are filtered here).
    pub async fn roles_named(&self, account: &Account, name: &str) -> Result<Vec<Role>> {
        let found: Vec<Role> = self
            .search(account, "search roles", "/roles/search", Some(name))
            .await?;
        Ok(found
            .into_iter()
            .filter(|r| r.name.as_deref() == Some(name))
            .collect())
    }

    pub async fn get_role(&self, account: &Account, id: &str) -> Result<Role> {
        let path = item_path("/roles", id);
        let response = self
            .call(account, "get role", Method::GET, &path, &[], None)
            .await?;
        role_with_id(&response, Some(id))
    }

    pub async fn create_role(&self, account: &Account, role: &RoleWrite<'_>) -> Result<Role> {
        let body = serde_json::to_value(role).expect("role bodies serialise");
        let response = self
            .call(
                account,
                "create role",
                Method::POST,
                "/roles",
                &[],
                Some(&body),
            )
            .await?;
        role_with_id(&response, None)
    }

    pub async fn update_role(
        &self,
        account: &Account,
        id: &str,
        role: &RoleWrite<'_>,
    ) -> Result<Role> {
        let body = serde_json::to_value(role).expect("role bodies serialise");
        let path = item_path("/roles", id);
        let response = self
            .call(
                account,
                "update role",
                Method::PATCH,
                &path,
                &[],
                Some(&body),
            )
            .await?;
        role_with_id(&response, Some(id))
    }

    pub async fn delete_role(&self, account: &Account, id: &str) -> Result<()> {
        let path = item_path("/roles", id);
        self.call(account, "delete role", Method::DELETE, &path, &[], None)
            .await
            .map(drop)
    }

    /// A cheap authenticated read: logs in and reads one role.
    pub async fn check_access(&self, account: &Account) -> Result<()> {
        let query = [("limit", "1".to_string())];
        self.call(
            account,
            "search roles",
            Method::GET,
            "/roles/search",
            &query,
            None,
        )
        .await?
        .json::<Vec<Value>>()
        .map(drop)
    }
}

/// The role in an answer: the one with id `id` when one was asked for, and in any case with an
/// id of the form Looker's ids have (it becomes the resource's `externalId`).
fn role_with_id(response: &Response, id: Option<&str>) -> Result<Role> {
    let role: Role = response.json()?;
    match id {
        Some(id) => response.expect_same("role", &role.id, id)?,
        None if !is_plain_id(&role.id) => {
            return Err(response.unexpected(format!("role id {:?} is not an id", role.id)));
        }
        None => {}
    }
    Ok(role)
}

/// Removes the token from error text, should Looker ever echo it.
fn scrub(e: Error, token: &Token) -> Error {
    let clean = |mut api: ApiError| {
        if token.as_str().len() >= 8 {
            api.message = api.message.replace(token.as_str(), "<redacted>");
        }
        api
    };
    match e {
        Error::Api(api) => Error::Api(clean(api)),
        Error::UnknownOutcome(api) => Error::UnknownOutcome(clean(api)),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crd::{ProviderKind, ProviderSettings};
    use crate::providers::Credentials;

    fn account(base: &str) -> Account {
        Account::of::<crate::providers::looker::Looker>(
            base,
            ProviderSettings::default(),
            Credentials::default(),
            "k",
        )
    }

    #[test]
    fn paths_sit_below_api_4_0_unless_the_endpoint_names_it() {
        assert_eq!(
            api_path(&account("https://x.cloud.looker.com"), "/roles"),
            "/api/4.0/roles"
        );
        assert_eq!(
            api_path(&account("https://x.cloud.looker.com/api/4.0"), "/roles"),
            "/roles"
        );
        assert_eq!(item_path("/roles", "12"), "/roles/12");
        assert_eq!(item_path("/model_sets", "a/b"), "/model_sets/a%2Fb");
    }

    #[test]
    fn scrub_removes_the_token_from_error_text() {
        let e = Error::Api(ApiError {
            provider: ProviderKind::Looker,
            operation: "get role",
            status: Some(400),
            message: "bad token abcdefgh12345".into(),
            retry_after: None,
        });
        let clean = scrub(e, &Token("abcdefgh12345".into()));
        assert_eq!(
            clean.to_string(),
            "looker get role: HTTP 400: bad token <redacted>"
        );
    }
}
