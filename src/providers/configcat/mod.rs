//! ConfigCat permission groups: keyed by the numeric `permissionGroupId` create returns, created
//! under `spec.productId`, replaced by PUT with the whole desired state, observed by GET (list per
//! product for crash recovery: names are not unique in ConfigCat).

mod client;
pub mod desired;
pub mod model;

use crate::crd::PermissionGroupSpec;
use crate::providers::http::Http;
use crate::providers::{Account, Error, Listed, Observed, Provider, Result, Spec, Target};
pub use client::{group_path, product_environments_path, product_groups_path};

#[derive(Clone)]
pub struct ConfigCat {
    client: client::Client,
}

impl ConfigCat {
    pub fn new(http: Http) -> Self {
        Self {
            client: client::Client::new(http),
        }
    }

    /// The product's environment ids, when the request needs them.
    async fn environments(
        &self,
        account: &Account,
        spec: &PermissionGroupSpec,
    ) -> Result<Vec<String>> {
        if !desired::needs_environments(spec) {
            return Ok(Vec::new());
        }
        match self.client.environments(account, &spec.product_id).await {
            Ok(envs) => Ok(envs.into_iter().map(|e| e.environment_id).collect()),
            Err(e) => Err(product_missing(spec, e)),
        }
    }
}

fn block<'a>(target: &Target<'a>) -> Result<&'a PermissionGroupSpec> {
    match target.spec {
        Spec::ConfigCat(s) => Ok(s),
        _ => Err(Error::InvalidSpec(
            "the configcat provider manages PermissionGroup resources only".into(),
        )),
    }
}

/// A 404 on a product-scoped call means the product is unknown (or hidden from these
/// credentials): a missing dependency, not a rejected request. Other errors pass through.
fn product_missing(spec: &PermissionGroupSpec, e: Error) -> Error {
    if !e.is_not_found() {
        return e;
    }
    Error::DependencyNotReady(format!(
        "configcat: product {} does not exist or these credentials cannot see it; \
         create it in ConfigCat or fix spec.productId ({e})",
        spec.product_id
    ))
}

impl Provider for ConfigCat {
    fn validate(&self, target: &Target<'_>) -> Result<()> {
        desired::validate(target.name, block(target)?)
    }

    async fn check_access(&self, account: &Account) -> Result<()> {
        self.client.me(account).await
    }

    async fn list(&self, account: &Account, target: &Target<'_>) -> Result<Vec<Listed>> {
        let spec = block(target)?;
        let groups = self
            .client
            .list(account, &spec.product_id)
            .await
            .map_err(|e| product_missing(spec, e))?;
        Ok(groups
            .into_iter()
            .map(|g| Listed {
                external_id: g.permission_group_id.to_string(),
                name: g.name,
            })
            .collect())
    }

    async fn observe(
        &self,
        account: &Account,
        target: &Target<'_>,
        external_id: &str,
    ) -> Result<Option<Observed>> {
        let spec = block(target)?;
        let id = desired::group_id(external_id)?;
        let group = match self.client.get(account, id).await {
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
        Ok(Some(Observed {
            external_id: id.to_string(),
            drift: desired::drift(target.name, spec, &group),
            summary: desired::summary(&group),
        }))
    }

    async fn create(&self, account: &Account, target: &Target<'_>) -> Result<String> {
        let spec = block(target)?;
        let environments = self.environments(account, spec).await?;
        let body = desired::request(target.name, spec, &environments)?;
        let created = self
            .client
            .create(account, &spec.product_id, &body)
            .await
            .map_err(|e| product_missing(spec, e))?;
        Ok(created.permission_group_id.to_string())
    }

    async fn update(
        &self,
        account: &Account,
        target: &Target<'_>,
        external_id: &str,
    ) -> Result<()> {
        let spec = block(target)?;
        let id = desired::group_id(external_id)?;
        let environments = self.environments(account, spec).await?;
        let body = desired::request(target.name, spec, &environments)?;
        self.client.update(account, id, &body).await
    }

    async fn delete(
        &self,
        account: &Account,
        _target: &Target<'_>,
        external_id: &str,
    ) -> Result<()> {
        // A non-numeric id names no ConfigCat group: there is nothing to delete.
        let Ok(id) = desired::group_id(external_id) else {
            return Ok(());
        };
        match self.client.delete(account, id).await {
            Err(e) if e.is_not_found() => Ok(()),
            other => other,
        }
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
        let err = product_missing(&spec(), api(404));
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
            product_missing(&spec(), api(400)).class(),
            ErrorClass::ProviderRejected
        );
        assert_eq!(
            product_missing(&spec(), api(401)).class(),
            ErrorClass::CredentialsRejected
        );
        assert_eq!(
            product_missing(&spec(), api(503)).class(),
            ErrorClass::ProviderUnavailable
        );
    }
}
