//! ConfigCat permission groups: keyed by the numeric `permissionGroupId` create returns, created
//! under `spec.productId`, replaced by PUT with the whole desired state (its answer carries the
//! group), observed by GET; the per-product listing carries whole groups, so it observes every
//! group of a product at once. Names are not unique in ConfigCat.

mod client;
mod desired;
#[cfg(test)]
mod fuzz;
pub mod guard;
mod model;
pub mod sim;

use crate::crd::{PermissionGroupSpec, ProviderKind, ProviderSettings};
use crate::providers::http::Http;
use crate::providers::{
    Account, Auth, Desired, Error, Identity, Limits, Listed, Provider, Result, gone,
};
use model::PermissionGroup;

pub const DEFAULT_BASE_URL: &str = "https://api.configcat.com";

base_url_flag!(
    "configcat-url",
    "ROLEPLANE_CONFIGCAT_URL",
    "Default ConfigCat base URL for configs without an endpoint."
);

#[derive(Clone)]
pub struct ConfigCat {
    http: Http,
}

impl ConfigCat {
    /// The product's environment ids, when the request needs them.
    async fn environments(
        &self,
        account: &Account,
        spec: &PermissionGroupSpec,
    ) -> Result<Vec<String>> {
        if !desired::needs_environments(spec) {
            return Ok(Vec::new());
        }
        match self.list_environments(account, &spec.product_id).await {
            Ok(envs) => Ok(envs.into_iter().map(|e| e.environment_id).collect()),
            Err(e) => Err(product_missing(&spec.product_id, e)),
        }
    }
}

/// A 404 on a product-scoped call means the product is unknown (or hidden from these
/// credentials): a missing dependency, not a rejected request. Other errors pass through.
fn product_missing(product_id: &str, e: Error) -> Error {
    if !e.is_not_found() {
        return e;
    }
    Error::DependencyNotReady(format!(
        "configcat: product {product_id} does not exist or these credentials cannot see it; \
         create it in ConfigCat or fix spec.productId ({e})"
    ))
}

impl Provider for ConfigCat {
    type Spec = PermissionGroupSpec;
    type Object = PermissionGroup;

    const KIND: ProviderKind = ProviderKind::ConfigCat;
    const IDENTITY: Identity = Identity::Id;
    const SECRET_KEYS: &'static [&'static str] = &["username", "password"];
    const AUTH: Auth = Auth::Basic {
        user: "username",
        password: "password",
    };
    /// ConfigCat publishes no numbers (it answers 429 with Retry-After and `X-Rate-Limit-*`
    /// headers, which pause the budget): a conservative default.
    const LIMITS: Limits = Limits::UNPUBLISHED;
    const SCOPE_FIELD: Option<&'static str> = Some("productId");

    fn new(http: Http) -> Self {
        Self { http }
    }

    fn default_base_url(_: &ProviderSettings) -> Option<String> {
        Some(DEFAULT_BASE_URL.to_string())
    }

    fn validate(&self, desired: Desired<'_, PermissionGroupSpec>) -> Result<()> {
        desired::validate(desired.name, desired.spec)
    }

    fn check_external_id(
        &self,
        _: &Account,
        _: Desired<'_, PermissionGroupSpec>,
        id: &str,
    ) -> Result<()> {
        desired::group_id(id).map(drop)
    }

    fn scope(&self, spec: &PermissionGroupSpec) -> String {
        spec.product_id.clone()
    }

    fn id_of(&self, group: &PermissionGroup) -> String {
        group.permission_group_id.to_string()
    }

    fn name_of(&self, group: &PermissionGroup) -> String {
        group.name.clone()
    }

    fn drift(
        &self,
        desired: Desired<'_, PermissionGroupSpec>,
        group: &PermissionGroup,
    ) -> Vec<String> {
        desired::drift(desired.name, desired.spec, group)
    }

    fn summary(&self, _: Desired<'_, PermissionGroupSpec>, group: &PermissionGroup) -> String {
        desired::summary(group)
    }

    fn manifest(&self, group: &PermissionGroup, product_id: &str) -> Option<serde_json::Value> {
        desired::manifest(group, product_id)
    }

    async fn check_access(&self, account: &Account) -> Result<()> {
        self.me(account).await
    }

    async fn list(
        &self,
        account: &Account,
        product_id: &str,
    ) -> Result<Vec<Listed<PermissionGroup>>> {
        let groups = self
            .list_groups(account, product_id)
            .await
            .map_err(|e| product_missing(product_id, e))?;
        Ok(groups.into_iter().map(|g| self.listed(g)).collect())
    }

    async fn observe(
        &self,
        account: &Account,
        desired: Desired<'_, PermissionGroupSpec>,
        external_id: &str,
    ) -> Result<Option<PermissionGroup>> {
        let spec = desired.spec;
        let id = desired::group_id(external_id)?;
        let group = match self.get_group(account, id).await {
            Ok(g) => g,
            Err(e) if e.is_not_found() => return Ok(None),
            Err(e) => return Err(e),
        };
        if let Some(product) = &group.product
            && !product.product_id.eq_ignore_ascii_case(&spec.product_id)
        {
            return Err(Error::InvalidSpec(format!(
                "configcat: permission group {id} belongs to product {}, not to spec.productId {}",
                product.product_id, spec.product_id
            )));
        }
        Ok(Some(group))
    }

    async fn create(
        &self,
        account: &Account,
        desired: Desired<'_, PermissionGroupSpec>,
    ) -> Result<PermissionGroup> {
        let spec = desired.spec;
        let environments = self.environments(account, spec).await?;
        let body = desired::request(desired.name, spec, &environments)?;
        self.post_group(account, &spec.product_id, &body)
            .await
            .map_err(|e| product_missing(&spec.product_id, e))
    }

    async fn update(
        &self,
        account: &Account,
        desired: Desired<'_, PermissionGroupSpec>,
        current: &PermissionGroup,
    ) -> Result<PermissionGroup> {
        let spec = desired.spec;
        let environments = self.environments(account, spec).await?;
        let body = desired::request(desired.name, spec, &environments)?;
        self.put_group(account, current.permission_group_id, &body)
            .await
    }

    async fn delete(
        &self,
        account: &Account,
        _: Desired<'_, PermissionGroupSpec>,
        external_id: &str,
    ) -> Result<()> {
        // A non-numeric id names no ConfigCat group: there is nothing to delete.
        let Ok(id) = desired::group_id(external_id) else {
            return Ok(());
        };
        gone(self.delete_group(account, id).await)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crd::ProviderKind;
    use crate::providers::{ApiError, ErrorClass};

    fn api(status: u16) -> Error {
        Error::Api(ApiError {
            provider: ProviderKind::ConfigCat,
            operation: "create permission group",
            status: Some(status),
            message: "Product not found.".into(),
            retry_after: None,
        })
    }

    fn spec() -> PermissionGroupSpec {
        serde_json::from_value(serde_json::json!({
            "providerConfigRef": {"name": "configcat"},
            "name": "Developers",
            "productId": "0badc0de-0000-4000-8000-000000000000",
        }))
        .unwrap()
    }

    #[test]
    fn product_scoped_404_is_a_missing_dependency_naming_product_operation_and_text() {
        let err = product_missing(&spec().product_id, api(404));
        assert_eq!(err.class(), ErrorClass::DependencyNotReady);
        let text = err.to_string();
        for part in [
            "0badc0de-0000-4000-8000-000000000000",
            "configcat create permission group",
            "HTTP 404",
            "Product not found.",
        ] {
            assert!(text.contains(part), "{part} missing from {text}");
        }
    }

    #[test]
    fn other_product_scoped_errors_keep_their_class() {
        assert_eq!(
            product_missing(&spec().product_id, api(400)).class(),
            ErrorClass::ProviderRejected
        );
        assert_eq!(
            product_missing(&spec().product_id, api(401)).class(),
            ErrorClass::CredentialsRejected
        );
        assert_eq!(
            product_missing(&spec().product_id, api(503)).class(),
            ErrorClass::ProviderUnavailable
        );
    }
}
