//! ConfigCat Public Management API endpoints for permission groups, with HTTP Basic auth from the
//! Secret's `username` and `password`.

use reqwest::Method;

use super::model::{Environment, PermissionGroup, PermissionGroupRequest};
use crate::providers::http::{Http, Request};
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

#[derive(Clone)]
pub struct Client {
    http: Http,
}

impl Client {
    pub fn new(http: Http) -> Self {
        Self { http }
    }

    fn call<'a>(
        &'a self,
        account: &'a Account,
        op: &'static str,
        method: Method,
        path: &str,
    ) -> Request<'a> {
        self.http.request(account, op, method, path).basic_auth(
            account.credentials.get("username"),
            account.credentials.get("password"),
        )
    }

    /// `GET /v1/me`: the cheapest authenticated read.
    pub async fn me(&self, account: &Account) -> Result<()> {
        self.call(account, "get me", Method::GET, "/v1/me")
            .send()
            .await
            .map(|_| ())
    }

    /// Every environment of a product (the list is not paged).
    pub async fn environments(
        &self,
        account: &Account,
        product_id: &str,
    ) -> Result<Vec<Environment>> {
        self.call(
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
    pub async fn list(&self, account: &Account, product_id: &str) -> Result<Vec<PermissionGroup>> {
        self.call(
            account,
            "list permission groups",
            Method::GET,
            &product_groups_path(product_id),
        )
        .send()
        .await?
        .json()
    }

    pub async fn get(&self, account: &Account, id: i64) -> Result<PermissionGroup> {
        self.call(
            account,
            "get permission group",
            Method::GET,
            &group_path(id),
        )
        .send()
        .await?
        .json()
    }

    pub async fn create(
        &self,
        account: &Account,
        product_id: &str,
        body: &PermissionGroupRequest,
    ) -> Result<PermissionGroup> {
        self.call(
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

    pub async fn update(
        &self,
        account: &Account,
        id: i64,
        body: &PermissionGroupRequest,
    ) -> Result<PermissionGroup> {
        self.call(
            account,
            "update permission group",
            Method::PUT,
            &group_path(id),
        )
        .json(body)
        .send()
        .await?
        .json()
    }

    pub async fn delete(&self, account: &Account, id: i64) -> Result<()> {
        self.call(
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
