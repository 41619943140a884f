//! Statsig Console API endpoints for custom roles. The `{id}` path segment is the role name,
//! percent-encoded as one segment.

use std::collections::HashSet;

use http::Method;

use super::Statsig;
use super::model::{Envelope, Page, RoleDto, RoleUpdateDto};
use crate::providers::http::{Response, path_segment};
use crate::providers::{Account, ApiError, Error, Result};

pub const PAGE_SIZE: u32 = 100;
/// Stops a listing that never ends.
const MAX_PAGES: u32 = 1000;

pub fn role_path(name: &str) -> String {
    format!("/console/v1/roles/{}", path_segment(name))
}

impl Statsig {
    /// One page of roles (1-based).
    pub(super) async fn list_page(&self, account: &Account, page: u32, limit: u32) -> Result<Page> {
        self.http
            .request(account, "list roles", Method::GET, "/console/v1/roles")
            .query(&[("page", page), ("limit", limit)])
            .send()
            .await?
            .json()
    }

    /// Every role, following `nextPage` until it is null, or until a page brings no role not
    /// seen yet (a server that ignores `page`); `MAX_PAGES` pages without an end are an error.
    pub(super) async fn list_all(&self, account: &Account) -> Result<Vec<RoleDto>> {
        let mut roles = Vec::new();
        let mut seen = HashSet::new();
        for page in 1..=MAX_PAGES {
            let p = self.list_page(account, page, PAGE_SIZE).await?;
            let mut new = false;
            for role in p.data {
                if seen.insert(role.name.clone()) {
                    roles.push(role);
                    new = true;
                }
            }
            if p.pagination.next_page.is_none() || !new {
                return Ok(roles);
            }
        }
        Err(Error::Api(ApiError {
            provider: account.provider,
            operation: "list roles",
            status: None,
            message: format!("the listing did not end after {MAX_PAGES} pages"),
            retry_after: None,
        }))
    }

    pub(super) async fn get_role(&self, account: &Account, name: &str) -> Result<RoleDto> {
        let response = self
            .http
            .request(account, "get role", Method::GET, &role_path(name))
            .send()
            .await?;
        role_named(&response, name)
    }

    pub(super) async fn post_role(&self, account: &Account, role: &RoleDto) -> Result<RoleDto> {
        let response = self
            .http
            .request(account, "create role", Method::POST, "/console/v1/roles")
            .json(role)
            .send()
            .await?;
        role_named(&response, &role.name)
    }

    pub(super) async fn patch_role(
        &self,
        account: &Account,
        name: &str,
        body: &RoleUpdateDto<'_>,
    ) -> Result<RoleDto> {
        let response = self
            .http
            .request(account, "update role", Method::PATCH, &role_path(name))
            .json(body)
            .send()
            .await?;
        role_named(&response, name)
    }

    pub(super) async fn delete_role(&self, account: &Account, name: &str) -> Result<()> {
        self.http
            .request(account, "delete role", Method::DELETE, &role_path(name))
            .send()
            .await?;
        Ok(())
    }
}

/// The role in a `{message, data}` answer, which must be the role named `name` (Statsig keys
/// roles on their name: another name would be taken for this role's id).
fn role_named(response: &Response, name: &str) -> Result<RoleDto> {
    let r: Envelope<RoleDto> = response.json()?;
    response.expect_same("role", &r.data.name, name)?;
    Ok(r.data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_names_are_one_encoded_segment() {
        assert_eq!(role_path("Custom Role"), "/console/v1/roles/Custom%20Role");
        assert_eq!(role_path("a/b?c"), "/console/v1/roles/a%2Fb%3Fc");
        assert_eq!(role_path("x-y_z.1~"), "/console/v1/roles/x-y_z.1~");
    }
}
