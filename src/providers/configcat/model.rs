//! ConfigCat Public Management API wire types: the permission-group request body (the same for
//! POST and PUT) and the `PermissionGroupModel` / `EnvironmentModel` answers.
//!
//! Enum values ConfigCat returns are read as plain strings, so a value newer than this release
//! shows up as drift instead of failing the whole read.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::crd::{
    AccessType, ApprovalPermissionType, EnvironmentAccessType, EnvironmentApprovalPermissionType,
};

/// `CreatePermissionGroupRequest` / `UpdatePermissionGroupRequest`. Roleplane always sends the
/// whole desired state; the approval fields are left out when the manifest does not manage them.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PermissionGroupRequest {
    pub name: String,
    /// Every typed flag by wire name, unset ones as `false`.
    #[serde(flatten)]
    pub flags: BTreeMap<&'static str, bool>,
    pub access_type: AccessType,
    pub new_environment_access_type: EnvironmentAccessType,
    /// Sent only with `accessType: custom`: one entry per environment of the product.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub environment_accesses: Option<Vec<EnvironmentAccessRequest>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approval_permission_type: Option<ApprovalPermissionType>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new_environment_approval_permission_type: Option<EnvironmentApprovalPermissionType>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub environment_approval_permissions: Option<Vec<EnvironmentApprovalRequest>>,
}

/// `CreateOrUpdateEnvironmentAccessModel`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EnvironmentAccessRequest {
    pub environment_id: String,
    pub environment_access_type: EnvironmentAccessType,
}

/// `CreateOrUpdateEnvironmentApprovalPermissionModel`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EnvironmentApprovalRequest {
    pub environment_id: String,
    pub environment_approval_permission_type: EnvironmentApprovalPermissionType,
}

/// `PermissionGroupModel`, as far as Roleplane reads it. Flags ConfigCat leaves out are unknown,
/// not false.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PermissionGroup {
    pub permission_group_id: i64,
    pub name: String,
    #[serde(flatten)]
    pub flags: BTreeMap<String, serde_json::Value>,
    #[serde(default)]
    pub access_type: Option<String>,
    #[serde(default)]
    pub new_environment_access_type: Option<String>,
    #[serde(default)]
    pub environment_accesses: Option<Vec<EnvironmentAccess>>,
    #[serde(default)]
    pub approval_permission_type: Option<String>,
    #[serde(default)]
    pub new_environment_approval_permission_type: Option<String>,
    #[serde(default)]
    pub environment_approval_permissions: Option<Vec<EnvironmentApproval>>,
    #[serde(default)]
    pub product: Option<Product>,
}

impl PermissionGroup {
    /// A typed flag's reported value; None when ConfigCat did not report it (or not as a bool).
    pub fn flag(&self, name: &str) -> Option<bool> {
        self.flags.get(name).and_then(serde_json::Value::as_bool)
    }

    /// Whether ConfigCat reports the flag as anything but `want`. Absent or null is unknown, not
    /// a difference; a value that is not a boolean (`"true"`, `1`) is one.
    pub fn flag_differs(&self, name: &str, want: bool) -> bool {
        match self.flags.get(name) {
            None | Some(serde_json::Value::Null) => false,
            Some(have) => have.as_bool() != Some(want),
        }
    }
}

/// `PermissionGroupEnvironmentAccessModel` (the environment's details are ignored).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EnvironmentAccess {
    pub environment_id: String,
    #[serde(default)]
    pub environment_access_type: Option<String>,
}

/// `PermissionGroupEnvironmentApprovalPermissionModel`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EnvironmentApproval {
    pub environment_id: String,
    #[serde(default)]
    pub environment_approval_permission_type: Option<String>,
}

/// The `product` of a group.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Product {
    pub product_id: String,
}

/// `EnvironmentModel`, as far as Roleplane reads it.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Environment {
    pub environment_id: String,
}
