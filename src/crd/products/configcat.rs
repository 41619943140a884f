//! ConfigCat: the PermissionGroup kind (one ConfigCat product permission group) is this
//! product's own; its CEL rules sit on the kind below.

use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::Rules;
use crate::crd::{ManagedSpec, ManagedStatus};

/// ConfigCat adds nothing to the shared kinds.
pub(super) const RULES: Rules = Rules {
    role: &[],
    config: &[],
};

mod flags {
    //! ConfigCat's wire names are camelCase, and the Rust field names are the wire names.
    #![allow(non_snake_case)]

    flags! {
        /// ConfigCat permission flags. A flag left out is sent as `false`: the group grants exactly
        /// what the manifest lists.
        ConfigCatPermissions {
            /// Manage team members.
            canManageMembers,
            /// Create and update Configs.
            canCreateOrUpdateConfig,
            /// Delete Configs.
            canDeleteConfig,
            /// Create and update Environments.
            canCreateOrUpdateEnvironment,
            /// Delete Environments.
            canDeleteEnvironment,
            /// Create and update Feature Flags and Settings.
            canCreateOrUpdateSetting,
            /// Attach and detach Tags on Feature Flags and Settings.
            canTagSetting,
            /// Delete Feature Flags and Settings.
            canDeleteSetting,
            /// Create and update Tags.
            canCreateOrUpdateTag,
            /// Delete Tags.
            canDeleteTag,
            /// Create, update and delete Webhooks.
            canManageWebhook,
            /// Use the export/import feature.
            canUseExportImport,
            /// Update Product preferences.
            canManageProductPreferences,
            /// Add and configure integrations.
            canManageIntegrations,
            /// See SDK keys.
            canViewSdkKey,
            /// Rotate SDK keys.
            canRotateSdkKey,
            /// Create and update Segments.
            canCreateOrUpdateSegments,
            /// Delete Segments.
            canDeleteSegments,
            /// See the product audit log.
            canViewProductAuditLog,
            /// See product statistics.
            canViewProductStatistics,
            /// Disable two-factor authentication for other members.
            canDisable2FA,
        }
    }
}
pub use flags::ConfigCatPermissions;

/// Feature-management access across environments.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum AccessType {
    ReadOnly,
    Full,
    Custom,
}

/// Access to one environment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum EnvironmentAccessType {
    Full,
    ReadOnly,
    None,
}

/// Change-request approval rights.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum ApprovalPermissionType {
    CannotApprove,
    CanApproveOthers,
    CanBypassApproval,
    Custom,
}

/// Change-request approval rights on one environment (and for new environments).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum EnvironmentApprovalPermissionType {
    CannotApprove,
    CanApproveOthers,
    CanBypassApproval,
}

/// Access granted on one environment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct EnvironmentAccess {
    /// Environment id (uuid).
    #[schemars(
        length(min = 36, max = 36),
        regex(
            pattern = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
        )
    )]
    pub environment_id: String,
    /// full, readOnly or none (ConfigCat's `environmentAccessType`).
    pub environment_access_type: EnvironmentAccessType,
}

/// Approval rights on one environment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct EnvironmentApproval {
    /// Environment id (uuid).
    #[schemars(
        length(min = 36, max = 36),
        regex(
            pattern = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
        )
    )]
    pub environment_id: String,
    /// cannotApprove, canApproveOthers or canBypassApproval.
    pub approval_permission_type: EnvironmentApprovalPermissionType,
}

/// A ConfigCat permission group kept in line with this manifest.
#[derive(CustomResource, Clone, Debug, PartialEq, Serialize, Deserialize, KubeSchema)]
#[kube(
    group = "roleplane.dev",
    version = "v1alpha1",
    kind = "PermissionGroup",
    namespaced,
    status = "ManagedStatus",
    category = "roleplane",
    shortname = "rppg",
    doc = "A ConfigCat product permission group, created, corrected and deleted by Roleplane.",
    printcolumn = r#"{"name":"PRODUCT","type":"string","jsonPath":".spec.productId","priority":1}"#,
    printcolumn = r#"{"name":"NAME","type":"string","jsonPath":".spec.name","priority":1}"#,
    printcolumn = r#"{"name":"READY","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"SYNCED","type":"string","jsonPath":".status.conditions[?(@.type==\"Synced\")].status"}"#,
    printcolumn = r#"{"name":"REASON","type":"string","jsonPath":".status.conditions[?(@.type==\"Synced\")].reason","priority":1}"#,
    printcolumn = r#"{"name":"EXTERNAL-ID","type":"string","jsonPath":".status.externalId"}"#,
    printcolumn = r#"{"name":"AGE","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[x_kube(validation = kube::core::Rule::new("self.productId == oldSelf.productId").message("productId is immutable"))]
#[x_kube(validation = kube::core::Rule::new(r"!self.name.matches('\\p{Cc}|^\\s|\\s$')").message("name must not start or end with spaces or contain control characters"))]
#[x_kube(validation = kube::core::Rule::new("!has(self.externalId) || self.externalId.matches('^[1-9][0-9]{0,18}$')").message("externalId must be a ConfigCat permissionGroupId: a positive integer"))]
#[x_kube(validation = kube::core::Rule::new("!has(self.environmentAccesses) || size(self.environmentAccesses) == 0 || (has(self.accessType) && self.accessType == 'custom')").message("environmentAccesses is only allowed with accessType: custom"))]
#[x_kube(validation = kube::core::Rule::new("!has(self.environmentApprovalPermissions) || size(self.environmentApprovalPermissions) == 0 || (has(self.approvalPermissionType) && self.approvalPermissionType == 'custom')").message("environmentApprovalPermissions is only allowed with approvalPermissionType: custom"))]
#[serde(rename_all = "camelCase")]
pub struct PermissionGroupSpec {
    #[serde(flatten)]
    pub managed: ManagedSpec,
    /// ConfigCat product id (uuid) the group belongs to. Immutable.
    #[schemars(
        length(min = 36, max = 36),
        regex(
            pattern = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
        )
    )]
    pub product_id: String,
    /// Feature-management access: readOnly, full, or custom (per environment). Default custom.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_type: Option<AccessType>,
    /// Access on environments created later: full, readOnly or none. Default none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_environment_access_type: Option<EnvironmentAccessType>,
    /// Per-environment access, only with `accessType: custom`. Environments not listed get the
    /// `newEnvironmentAccessType` access (none by default).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 100))]
    #[x_kube(merge_strategy = kube::core::ListMerge::Map(vec!["environmentId".into()]))]
    pub environment_accesses: Vec<EnvironmentAccess>,
    #[serde(flatten)]
    pub permissions: ConfigCatPermissions,
    /// Change-request approval rights. Left out: not managed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval_permission_type: Option<ApprovalPermissionType>,
    /// Approval rights on environments created later. Left out: not managed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_environment_approval_permission_type: Option<EnvironmentApprovalPermissionType>,
    /// Per-environment approval rights, only with `approvalPermissionType: custom`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 100))]
    #[x_kube(merge_strategy = kube::core::ListMerge::Map(vec!["environmentId".into()]))]
    pub environment_approval_permissions: Vec<EnvironmentApproval>,
}

#[cfg(test)]
mod tests {
    use crate::crd::tests::cel::{errors, schema};
    use serde_json::json;

    #[test]
    fn environment_accesses_need_custom_access_type() {
        let pg = |access: &str| {
            json!({"apiVersion": "roleplane.dev/v1alpha1", "kind": "PermissionGroup", "metadata": {"name": "g"},
            "spec": {"providerConfigRef": {"name": "c"}, "name": "G", "productId": "08d8b1f6-7b32-4d2a-8f33-1c0a3f3b0c11",
                     "accessType": access,
                     "environmentAccesses": [{"environmentId": "08d8b1f6-7b32-4d2a-8f33-1c0a3f3b0c12", "environmentAccessType": "full"}]}})
        };
        assert!(
            errors(schema::<super::PermissionGroup>(), pg("full"), None)
                .iter()
                .any(|m| m.contains("accessType: custom"))
        );
        assert_eq!(
            errors(schema::<super::PermissionGroup>(), pg("custom"), None),
            Vec::<String>::new()
        );
    }
}

/// What a RoleplanePolicy lets ConfigCat permission groups grant. Each `allowed…` list, when
/// set, is the whole of what may be granted; left out, it does not limit.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConfigCatCeiling {
    /// `can…` flags a PermissionGroup may not set to true (e.g. `canManageMembers`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(schema_with = "flag_list_schema")]
    pub denied_permissions: Vec<String>,
    /// The only `can…` flags a PermissionGroup may set to true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "optional_flag_list_schema")]
    pub allowed_permissions: Option<Vec<String>>,
    /// The `accessType` values allowed (a group that sets none has `custom`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 3))]
    pub allowed_access_types: Option<Vec<AccessType>>,
    /// The environment access values allowed in `newEnvironmentAccessType` and
    /// `environmentAccesses` (`none` grants nothing and is always allowed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 3))]
    pub allowed_environment_access_types: Option<Vec<EnvironmentAccessType>>,
    /// The approval rights allowed in `approvalPermissionType`,
    /// `newEnvironmentApprovalPermissionType` and `environmentApprovalPermissions`
    /// (`cannotApprove` grants nothing and is always allowed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 4))]
    pub allowed_approval_permission_types: Option<Vec<ApprovalPermissionType>>,
}

fn flag_list_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    crate::crd::policy::name_list(ConfigCatPermissions::NAMES, 64)
}

fn optional_flag_list_schema(g: &mut schemars::SchemaGenerator) -> schemars::Schema {
    flag_list_schema(g)
}
