//! ConfigCat Public Management API endpoints for permission groups, with HTTP Basic auth from the
//! Secret's `username` and `password`.

use http::Method;

use super::ConfigCat;
use super::model::{Environment, PermissionGroup, PermissionGroupRequest};
use crate::providers::http::Response;
use crate::providers::{Account, Result};

fn group_path(id: i64) -> String {
    format!("/v1/permissions/{id}")
}

fn product_groups_path(product_id: &str) -> String {
    format!("/v1/products/{product_id}/permissions")
}

fn product_environments_path(product_id: &str) -> String {
    format!("/v1/products/{product_id}/environments")
}

impl ConfigCat {
    /// `GET /v1/me`: the cheapest authenticated read.
    pub(super) async fn me(&self, account: &Account) -> Result<()> {
        self.http
            .request(account, "get me", Method::GET, "/v1/me")
            .send()
            .await
            .map(|_| ())
    }

    /// Every environment of a product (the list is not paged).
    pub(super) async fn list_environments(
        &self,
        account: &Account,
        product_id: &str,
    ) -> Result<Vec<Environment>> {
        self.http
            .request(
                account,
                "list environments",
                Method::GET,
                &product_environments_path(product_id),
            )
            .send()
            .await?
            .json()
    }

    /// Every permission group of a product (the list is not paged).
    pub(super) async fn list_groups(
        &self,
        account: &Account,
        product_id: &str,
    ) -> Result<Vec<PermissionGroup>> {
        let response = self
            .http
            .request(
                account,
                "list permission groups",
                Method::GET,
                &product_groups_path(product_id),
            )
            .send()
            .await?;
        let groups: Vec<PermissionGroup> = response.json()?;
        // Listed ids are adopted as `externalId`: each must be a permissionGroupId.
        if let Some(bad) = groups.iter().find(|g| g.permission_group_id <= 0) {
            let id = bad.permission_group_id;
            return Err(response.unexpected(format!(
                "a listed permission group's id {id} is not a permissionGroupId"
            )));
        }
        Ok(groups)
    }

    pub(super) async fn get_group(&self, account: &Account, id: i64) -> Result<PermissionGroup> {
        let response = self
            .http
            .request(
                account,
                "get permission group",
                Method::GET,
                &group_path(id),
            )
            .send()
            .await?;
        group(&response, id)
    }

    pub(super) async fn post_group(
        &self,
        account: &Account,
        product_id: &str,
        body: &PermissionGroupRequest,
    ) -> Result<PermissionGroup> {
        self.http
            .request(
                account,
                "create permission group",
                Method::POST,
                &product_groups_path(product_id),
            )
            .json(body)
            .send()
            .await?
            .json()
    }

    pub(super) async fn put_group(
        &self,
        account: &Account,
        id: i64,
        body: &PermissionGroupRequest,
    ) -> Result<PermissionGroup> {
        let response = self
            .http
            .request(
                account,
                "update permission group",
                Method::PUT,
                &group_path(id),
            )
            .json(body)
            .send()
            .await?;
        group(&response, id)
    }

    pub(super) async fn delete_group(&self, account: &Account, id: i64) -> Result<()> {
        self.http
            .request(
                account,
                "delete permission group",
                Method::DELETE,
                &group_path(id),
            )
            .send()
            .await
            .map(|_| ())
    }
}

/// The group in an answer about group `id`: one about another group is unusable.
fn group(response: &Response, id: i64) -> Result<PermissionGroup> {
    let group: PermissionGroup = response.json()?;
    let (got, want) = (group.permission_group_id.to_string(), id.to_string());
    response.expect_same("permission group", &got, &want)?;
    Ok(group)
}
