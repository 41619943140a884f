//! Looker API 4.0 endpoints of permission sets and model sets.

use http::Method;

use super::{Client, item_path};
use crate::providers::looker::model::{Set, SetKind};
use crate::providers::{Account, Result};

impl Client {
    pub async fn get_set(&self, account: &Account, kind: SetKind, id: &str) -> Result<Set> {
        let op = match kind {
            SetKind::Permission => "get permission set",
            SetKind::Model => "get model set",
        };
        let path = item_path(kind.path(), id);
        self.call(account, op, Method::GET, &path, &[], None)
            .await?
            .json()
    }

    /// The set named exactly `name` (set names are unique per kind; the search is filtered as
    /// for roles).
    pub async fn find_set(
        &self,
        account: &Account,
        kind: SetKind,
        name: &str,
    ) -> Result<Option<Set>> {
        let op = match kind {
            SetKind::Permission => "search permission sets",
            SetKind::Model => "search model sets",
        };
        let path = format!("{}/search", kind.path());
        let found: Vec<Set> = self.search(account, op, &path, Some(name)).await?;
        Ok(found.into_iter().find(|s| s.name() == name))
    }

    pub async fn create_set(
        &self,
        account: &Account,
        kind: SetKind,
        name: &str,
        items: &[String],
    ) -> Result<Set> {
        let op = match kind {
            SetKind::Permission => "create permission set",
            SetKind::Model => "create model set",
        };
        let body = kind.body(Some(name), Some(items));
        // A set's name is unique: a repeated create answers 409, and the caller reuses the set.
        self.call_with(
            account,
            op,
            Method::POST,
            kind.path(),
            &[],
            Some(&body),
            true,
        )
        .await?
        .json()
    }

    pub async fn update_set(
        &self,
        account: &Account,
        kind: SetKind,
        id: &str,
        name: Option<&str>,
        items: Option<&[String]>,
    ) -> Result<Set> {
        let op = match kind {
            SetKind::Permission => "update permission set",
            SetKind::Model => "update model set",
        };
        let body = kind.body(name, items);
        let path = item_path(kind.path(), id);
        self.call(account, op, Method::PATCH, &path, &[], Some(&body))
            .await?
            .json()
    }

    pub async fn delete_set(&self, account: &Account, kind: SetKind, id: &str) -> Result<()> {
        let op = match kind {
            SetKind::Permission => "delete permission set",
            SetKind::Model => "delete model set",
        };
        let path = item_path(kind.path(), id);
        self.call(account, op, Method::DELETE, &path, &[], None)
            .await
            .map(drop)
    }
}
