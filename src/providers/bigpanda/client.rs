//! BigPanda Roles API v2.1 endpoints (`/resources/v2.1/roles`), Bearer user API key.

use std::collections::HashSet;

use http::Method;
use serde_json::Value;

use super::BigPanda;
use super::model::{self, RoleBody, RoleDto};
use crate::providers::http::{Response, path_segment};
use crate::providers::{Account, Error, Result, is_plain_id};

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
        let roles = model::roles(body).map_err(|e| unexpected(&response, e))?;
        // Listed ids are adopted as `externalId`: each must be an id.
        if let Some(bad) = roles.iter().find(|r| !is_plain_id(&r.id)) {
            let id = &bad.id;
            return Err(response.unexpected(format!("a listed role's id {id:?} is not an id")));
        }
        Ok(roles)
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
        let role = role_with_id(&response, id)?;
        // A read must carry the role: a nameless one (`{}`, an empty body) is not one, and an
        // update built on it would send its members back as none.
        if role.name.is_empty() {
            return Err(response.unexpected("the answer carries no role".into()));
        }
        Ok(role)
    }

    pub(super) async fn post_role(&self, account: &Account, body: &RoleBody) -> Result<RoleDto> {
        let response = self
            .http
            .request(account, "create role", Method::POST, ROLES_PATH)
            .json(body)
            .send()
            .await?;
        let role = role(&response)?;
        if !role.id.is_empty() && !is_plain_id(&role.id) {
            let id = &role.id;
            return Err(response.unexpected(format!("the new role's id {id:?} is not an id")));
        }
        Ok(role)
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
        role_with_id(&response, id)
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
fn role(response: &Response) -> Result<RoleDto> {
    if response.body.iter().all(u8::is_ascii_whitespace) {
        return Ok(RoleDto::default());
    }
    let body: Value = response.json()?;
    serde_json::from_value(model::unwrap(body)).map_err(|e| unexpected(response, e))
}

/// A role from an answer about role `id`: one that names another id is unusable (one without an
/// id is taken as this role's).
fn role_with_id(response: &Response, id: &str) -> Result<RoleDto> {
    let role = role(response)?;
    if !role.id.is_empty() {
        response.expect_same("role", &role.id, id)?;
    }
    Ok(role)
}

fn unexpected(response: &Response, e: serde_json::Error) -> Error {
    response.unexpected(format!("unexpected response body: {e}"))
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
