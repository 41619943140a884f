//! Role: one access role in a product, plus the fields every managed kind shares (`ManagedSpec`).

use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::products::{ProductSpec, RoleBlocks, role_rules};
use super::{DeletionPolicy, Managed, ManagedStatus, ManagementPolicy, ProviderConfigReference};

/// Fields shared by Role and PermissionGroup.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct ManagedSpec {
    /// The ProviderConfig or ClusterProviderConfig with the product account's endpoint and credentials.
    pub provider_config_ref: ProviderConfigReference,
    /// Name of the object in the product.
    #[schemars(length(min = 1, max = 255))]
    pub name: String,
    /// Delete (default) removes the product object when this resource is deleted; Orphan leaves it.
    #[serde(default)]
    pub deletion_policy: DeletionPolicy,
    /// Manage (default) creates and corrects the product object; ObserveOnly only reads and reports.
    #[serde(default)]
    pub management_policy: ManagementPolicy,
    /// Adopt this existing product object (its id, or its name where the product keys on names)
    /// instead of creating one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 1024))]
    pub external_id: Option<String>,
}

/// A product access role kept in line with this manifest.
#[derive(CustomResource, Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "roleplane.dev",
    version = "v1alpha1",
    kind = "Role",
    namespaced,
    status = "ManagedStatus",
    category = "roleplane",
    shortname = "rprole",
    doc = "An access role in a SaaS product (one product block), created, corrected and deleted by Roleplane.",
    printcolumn = r#"{"name":"PROVIDER","type":"string","jsonPath":".status.provider"}"#,
    printcolumn = r#"{"name":"NAME","type":"string","jsonPath":".spec.name","priority":1}"#,
    printcolumn = r#"{"name":"READY","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"SYNCED","type":"string","jsonPath":".status.conditions[?(@.type==\"Synced\")].status"}"#,
    printcolumn = r#"{"name":"REASON","type":"string","jsonPath":".status.conditions[?(@.type==\"Synced\")].reason","priority":1}"#,
    printcolumn = r#"{"name":"EXTERNAL-ID","type":"string","jsonPath":".status.externalId"}"#,
    printcolumn = r#"{"name":"AGE","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[schemars(transform = role_rules)]
#[serde(rename_all = "camelCase")]
pub struct RoleSpec {
    #[serde(flatten)]
    pub managed: ManagedSpec,
    /// The product block (exactly one).
    #[serde(flatten)]
    pub products: RoleBlocks,
}

impl Managed for Role {
    const KIND: &'static str = "Role";

    fn managed(&self) -> &ManagedSpec {
        &self.spec.managed
    }

    fn managed_status(&self) -> Option<&ManagedStatus> {
        self.status.as_ref()
    }

    fn product(&self) -> Result<ProductSpec<'_>, String> {
        self.spec.products.product()
    }
}
