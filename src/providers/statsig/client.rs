//! Statsig Console API endpoints for custom roles. The `{id}` path segment is the role name,
//! percent-encoded as one segment.

use reqwest::Method;

use super::Statsig;
use super::model::{Envelope, Page, RoleDto, RoleUpdateDto};
use crate::providers::http::path_segment;
use crate::providers::{Account, Result};

pub const PAGE_SIZE: u32 = 100;

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

    /// Every role, following `nextPage` until it is null.
    pub(super) async fn list_all(&self, account: &Account) -> Result<Vec<RoleDto>> {
        let mut roles = Vec::new();
        let mut page = 1;
        loop {
            let p = self.list_page(account, page, PAGE_SIZE).await?;
            let full = p.data.len() as u32 >= PAGE_SIZE;
            roles.extend(p.data);
            if p.pagination.next_page.is_none() || !full && page > 1000 {
                return Ok(roles);
            }
            page += 1;
        }
    }

    pub(super) async fn get_role(&self, account: &Account, name: &str) -> Result<RoleDto> {
        let r: Envelope<RoleDto> = self
            .http
            .request(account, "get role", Method::GET, &role_path(name))
            .send()
            .await?
            .json()?;
        Ok(r.data)
    }

    pub(super) async fn post_role(&self, account: &Account, role: &RoleDto) -> Result<RoleDto> {
        let r: Envelope<RoleDto> = self
            .http
            .request(account, "create role", Method::POST, "/console/v1/roles")
            .json(role)
            .send()
            .await?
            .json()?;
        Ok(r.data)
    }

    pub(super) async fn patch_role(
        &self,
        account: &Account,
        name: &str,
        body: &RoleUpdateDto<'_>,
    ) -> Result<RoleDto> {
        let r: Envelope<RoleDto> = self
            .http
            .request(account, "update role", Method::PATCH, &role_path(name))
            .json(body)
            .send()
            .await?
            .json()?;
        Ok(r.data)
    }

    pub(super) async fn delete_role(&self, account: &Account, name: &str) -> Result<()> {
        self.http
            .request(account, "delete role", Method::DELETE, &role_path(name))
            .send()
            .await?;
        Ok(())
    }
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
