//! SlashID RBAC endpoints. Every call carries `SlashID-API-Key` and `SlashID-OrgID`; writes also
//! carry the consistency level and timeout. Role names hold a `/` (`{orgId}/{name}`), so the path
//! segment is percent-encoded (`/` → `%2F`), as the spec's `role_name` parameter asks.

use std::time::Duration;

use http::Method;

use super::SlashId;
use super::model::{
    Envelope, PatchRoleRequest, PostPermissionRequest, PostRoleRequest, Role, Tagged,
};
use crate::crd::SlashIdConsistency;
use crate::providers::http::{Request, path_segment};
use crate::providers::{Account, Error, Result};

pub const DEFAULT_CONSISTENCY_TIMEOUT_SECONDS: u32 = 30;

/// Extra client-side time beyond the consistency timeout, so SlashID's own 408 arrives before
/// the connection is cut.
const TIMEOUT_MARGIN: Duration = Duration::from_secs(10);

pub fn role_path(full_name: &str) -> String {
    format!("/rbac/roles/{}", path_segment(full_name))
}

/// The organisation settings of an account, with defaults applied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Org<'a> {
    pub id: &'a str,
    pub consistency: &'static str,
    pub timeout_seconds: u32,
}

impl<'a> Org<'a> {
    /// Reads `spec.slashid` of the ProviderConfig; its absence is a configuration error.
    pub fn of(account: &'a Account) -> Result<Self> {
        let settings = account.settings.products.slashid.as_ref().ok_or_else(|| {
            Error::InvalidSpec(
                "slashid: the ProviderConfig has no spec.slashid.orgId; it is required".into(),
            )
        })?;
        Ok(Self {
            id: settings.org_id.as_str(),
            consistency: match settings
                .consistency
                .unwrap_or(SlashIdConsistency::AllRegions)
            {
                SlashIdConsistency::AllRegions => "all_regions",
                SlashIdConsistency::LocalRegion => "local_region",
            },
            timeout_seconds: settings
                .consistency_timeout_seconds
                .unwrap_or(DEFAULT_CONSISTENCY_TIMEOUT_SECONDS)
                .clamp(1, 120),
        })
    }
}

impl SlashId {
    /// A read: the organisation header (the key is added by the account's auth).
    fn read<'a>(
        &'a self,
        account: &'a Account,
        org: &Org<'_>,
        op: &'static str,
        path: &str,
    ) -> Request<'a> {
        self.http
            .request(account, op, Method::GET, path)
            .header("slashid-orgid", org.id)
    }

    /// A write: the organisation and the consistency it must reach, and a timeout past it.
    fn write<'a>(
        &'a self,
        account: &'a Account,
        org: &Org<'_>,
        op: &'static str,
        method: Method,
        path: &str,
    ) -> Request<'a> {
        self.http
            .request(account, op, method, path)
            .header("slashid-orgid", org.id)
            .header("slashid-required-consistency", org.consistency)
            .header(
                "slashid-required-consistency-timeout",
                &org.timeout_seconds.to_string(),
            )
            .timeout(Duration::from_secs(org.timeout_seconds.into()) + TIMEOUT_MARGIN)
    }

    /// Every role name in the organisation's pool (unpaged, names only).
    pub(super) async fn list_roles(&self, account: &Account, org: &Org<'_>) -> Result<Vec<String>> {
        let r: Envelope<Vec<String>> = self
            .read(account, org, "list roles", "/rbac/roles")
            .send()
            .await?
            .json()?;
        Ok(r.result)
    }

    pub(super) async fn get_role(
        &self,
        account: &Account,
        org: &Org<'_>,
        name: &str,
    ) -> Result<Tagged> {
        let response = self
            .read(account, org, "get role", &role_path(name))
            .send()
            .await?;
        let r: Envelope<Role> = response.json()?;
        // The role is keyed by its name: an answer naming another one is not this role.
        response.expect_same("role", &r.result.name, name)?;
        Ok(Tagged {
            role: r.result,
            etag: response.header("etag").map(str::to_string),
        })
    }

    pub(super) async fn create_role(
        &self,
        account: &Account,
        org: &Org<'_>,
        body: &PostRoleRequest<'_>,
    ) -> Result<()> {
        // Idempotent by name: an existing role answers 204 (and is checked by the caller).
        self.write(account, org, "create role", Method::POST, "/rbac/roles")
            .refused_if_repeated()
            .json(body)
            .send()
            .await?;
        Ok(())
    }

    pub(super) async fn patch_role(
        &self,
        account: &Account,
        org: &Org<'_>,
        name: &str,
        etag: Option<&str>,
        body: &PatchRoleRequest<'_>,
    ) -> Result<()> {
        let mut request = self
            .write(account, org, "update role", Method::PATCH, &role_path(name))
            .json(body);
        if let Some(etag) = etag {
            request = request.header("if-match", etag);
        }
        request.send().await?;
        Ok(())
    }

    pub(super) async fn delete_role(
        &self,
        account: &Account,
        org: &Org<'_>,
        name: &str,
    ) -> Result<()> {
        self.write(
            account,
            org,
            "delete role",
            Method::DELETE,
            &role_path(name),
        )
        .send()
        .await?;
        Ok(())
    }

    /// Every permission name in the organisation.
    pub(super) async fn list_permissions(
        &self,
        account: &Account,
        org: &Org<'_>,
    ) -> Result<Vec<String>> {
        let r: Envelope<Vec<String>> = self
            .read(account, org, "list permissions", "/rbac/permissions")
            .send()
            .await?
            .json()?;
        Ok(r.result)
    }

    pub(super) async fn create_permission(
        &self,
        account: &Account,
        org: &Org<'_>,
        name: &str,
    ) -> Result<()> {
        self.write(
            account,
            org,
            "create permission",
            Method::POST,
            "/rbac/permissions",
        )
        // Idempotent by name (409 for a permission that exists, which the caller accepts).
        .refused_if_repeated()
        .json(&PostPermissionRequest { name })
        .send()
        .await?;
        Ok(())
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::crd::{ProductSettings, ProviderSettings, SlashIdSettings};
    use crate::providers::{Credentials, ErrorClass};

    /// A SlashID account with these organisation settings (shared by the provider's tests).
    pub(in crate::providers::slashid) fn account(settings: Option<SlashIdSettings>) -> Account {
        Account::of::<crate::providers::slashid::SlashId>(
            "http://127.0.0.1:1/slashid",
            ProviderSettings {
                products: ProductSettings {
                    slashid: settings,
                    ..Default::default()
                },
                ..Default::default()
            },
            Credentials::default(),
            "k",
        )
    }

    pub(in crate::providers::slashid) fn settings() -> SlashIdSettings {
        SlashIdSettings {
            org_id: "sim-org".into(),
            consistency: None,
            consistency_timeout_seconds: None,
        }
    }

    #[test]
    fn prefixed_role_names_are_one_encoded_segment() {
        assert_eq!(
            role_path("sim-org/billing-viewer"),
            "/rbac/roles/sim-org%2Fbilling-viewer"
        );
        assert_eq!(role_path("o/a:b.c_d"), "/rbac/roles/o%2Fa%3Ab.c_d");
    }

    #[test]
    fn org_settings_default_to_all_regions_and_30_seconds() {
        let a = account(Some(settings()));
        let org = Org::of(&a).unwrap();
        assert_eq!(
            (org.id, org.consistency, org.timeout_seconds),
            ("sim-org", "all_regions", 30)
        );
        let a = account(Some(SlashIdSettings {
            consistency: Some(SlashIdConsistency::LocalRegion),
            consistency_timeout_seconds: Some(5),
            ..settings()
        }));
        let org = Org::of(&a).unwrap();
        assert_eq!((org.consistency, org.timeout_seconds), ("local_region", 5));
        let missing = account(None);
        assert_eq!(
            Org::of(&missing).unwrap_err().class(),
            ErrorClass::InvalidSpec
        );
    }
}
