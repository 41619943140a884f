//! BigPanda Roles API v2.1 endpoints (`/resources/v2.1/roles`), Bearer user API key.

use std::collections::HashSet;

use reqwest::Method;
use serde_json::Value;

use super::BigPanda;
use super::model::{self, RoleBody, RoleDto};
use crate::crd::ProviderKind;
use crate::providers::http::{Response, path_segment};
use crate::providers::{Account, ApiError, Error, Result};

pub const ROLES_PATH: &str = "/resources/v2.1/roles";
/// Page size asked for when listing; a shorter page is the last one.
pub const PAGE_SIZE: usize = 100;
/// Stops a listing whose server ignores paging from looping for ever.
const MAX_PAGES: usize = 1000;

pub fn role_path(id: &str) -> String {
    format!("{ROLES_PATH}/{}", path_segment(id))
}

impl BigPanda {
    /// One page of roles (1-based).
    pub(super) async fn list_page(
        &self,
        account: &Account,
        page: usize,
        per_page: usize,
    ) -> Result<Vec<RoleDto>> {
        let response = self
            .http
            .request(account, "list roles", Method::GET, ROLES_PATH)
            .query(&[("page", page), ("per_page", per_page)])
            .send()
            .await?;
        let body: Value = response.json()?;
        model::roles(body).map_err(|e| unexpected("list roles", response.status, e))
    }

    /// Every role: pages until one comes back short (or repeats, for a server that ignores paging).
    pub(super) async fn list_all(&self, account: &Account) -> Result<Vec<RoleDto>> {
        let mut roles = Vec::new();
        let mut seen = HashSet::new();
        for page in 1..=MAX_PAGES {
            let batch = self.list_page(account, page, PAGE_SIZE).await?;
            let len = batch.len();
            let mut new = 0;
            for role in batch {
                if seen.insert(role.id.clone()) {
                    roles.push(role);
                    new += 1;
                }
            }
            if len < PAGE_SIZE || new == 0 {
                break;
            }
        }
        Ok(roles)
    }

    pub(super) async fn get_role(&self, account: &Account, id: &str) -> Result<RoleDto> {
        let response = self
            .http
            .request(account, "get role", Method::GET, &role_path(id))
            .send()
            .await?;
        role(&response, "get role")
    }

    pub(super) async fn post_role(&self, account: &Account, body: &RoleBody) -> Result<RoleDto> {
        let response = self
            .http
            .request(account, "create role", Method::POST, ROLES_PATH)
            .json(body)
            .send()
            .await?;
        role(&response, "create role")
    }

    /// Full replace; the answer is the role as stored (without an id when the body was empty).
    pub(super) async fn put_role(
        &self,
        account: &Account,
        id: &str,
        body: &RoleBody,
    ) -> Result<RoleDto> {
        let response = self
            .http
            .request(account, "update role", Method::PUT, &role_path(id))
            .json(body)
            .send()
            .await?;
        role(&response, "update role")
    }

    pub(super) async fn delete_role(&self, account: &Account, id: &str) -> Result<()> {
        self.http
            .request(account, "delete role", Method::DELETE, &role_path(id))
            .send()
            .await?;
        Ok(())
    }
}

/// A single role from a bare or `{status, data}` body. An empty body reads as a role without id.
fn role(response: &Response, operation: &'static str) -> Result<RoleDto> {
    if response.body.iter().all(u8::is_ascii_whitespace) {
        return Ok(RoleDto::default());
    }
    let body: Value = response.json()?;
    serde_json::from_value(model::unwrap(body))
        .map_err(|e| unexpected(operation, response.status, e))
}

fn unexpected(operation: &'static str, status: u16, e: serde_json::Error) -> Error {
    Error::Api(ApiError {
        provider: ProviderKind::BigPanda,
        operation,
        status: Some(status),
        message: format!("unexpected response body: {e}"),
        retry_after: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_ids_are_one_encoded_segment() {
        assert_eq!(
            role_path("60c5238222fa55553d93d52f"),
            "/resources/v2.1/roles/60c5238222fa55553d93d52f"
        );
        assert_eq!(role_path("a/b"), "/resources/v2.1/roles/a%2Fb");
    }
}
