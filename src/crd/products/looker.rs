//! Looker: the `looker` block of a Role (a permission set and a model set, inline or referenced).

use kube::KubeSchema;
use serde::{Deserialize, Serialize};

use super::Rules;

/// Looker instances have no public default URL: a Looker config names its endpoint.
/// Looker role ids are plain identifiers (digits, in practice), used as URL path segments.
pub(super) const RULES: Rules = Rules {
    role: &[(
        "!has(self.looker) || !has(self.externalId) || (size(self.externalId) <= 128 && self.externalId.matches('^[A-Za-z0-9_-]+([.][A-Za-z0-9_-]+)*$'))",
        "externalId must be a Looker role id: letters, digits, - _ and single dots (no /, % or ..)",
    )],
    config: &[(
        "self.provider != 'looker' || has(self.endpoint)",
        "spec.endpoint is required for looker",
    )],
};

/// Looker role: a permission set and a model set, inline (owned) or referenced.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[x_kube(validation = kube::core::Rule::new("has(self.permissionSet) != has(self.permissionSetRef)").message("set exactly one of permissionSet or permissionSetRef"))]
#[x_kube(validation = kube::core::Rule::new("has(self.modelSet) != has(self.modelSetRef)").message("set exactly one of modelSet or modelSetRef"))]
#[serde(rename_all = "camelCase")]
pub struct LookerRole {
    /// Inline permission set owned by this role (named after it; created, updated and deleted with it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permission_set: Option<LookerPermissionSet>,
    /// An existing permission set, by id or name; never modified or deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permission_set_ref: Option<LookerSetRef>,
    /// Inline model set owned by this role.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_set: Option<LookerModelSet>,
    /// An existing model set, by id or name; never modified or deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_set_ref: Option<LookerSetRef>,
}

/// Permissions of an owned Looker permission set.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct LookerPermissionSet {
    /// Permission names from Looker's catalogue (`GET /permissions`), e.g. `access_data`, `see_looks`.
    #[schemars(
        length(min = 1, max = 256),
        inner(length(min = 1, max = 128), regex(pattern = r"^[a-z][a-z0-9_]*$"))
    )]
    #[x_kube(merge_strategy = kube::core::ListMerge::Set)]
    pub permissions: Vec<String>,
}

/// Models of an owned Looker model set.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct LookerModelSet {
    /// LookML model names.
    #[schemars(length(min = 1, max = 256), inner(length(min = 1, max = 255)))]
    #[x_kube(merge_strategy = kube::core::ListMerge::Set)]
    pub models: Vec<String>,
}

/// Reference to an existing Looker set.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[x_kube(validation = kube::core::Rule::new("has(self.id) != has(self.name)").message("set exactly one of id or name"))]
#[serde(rename_all = "camelCase")]
pub struct LookerSetRef {
    /// Set id (letters, digits, `-`, `_` and single dots; digits, in practice).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        length(min = 1, max = 64),
        regex(pattern = r"^[A-Za-z0-9_-]+([.][A-Za-z0-9_-]+)*$")
    )]
    pub id: Option<String>,
    /// Set name (exact match).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 255))]
    pub name: Option<String>,
}

#[cfg(test)]
mod tests {
    use crate::crd::tests::cel::{config, errors, schema};
    use serde_json::json;

    #[test]
    fn looker_config_needs_an_endpoint() {
        let no_endpoint =
            config(json!({"provider": "looker", "credentialsSecretRef": {"name": "s"}}));
        assert!(
            errors(schema::<crate::crd::ProviderConfig>(), no_endpoint, None)
                .iter()
                .any(|m| m.contains("endpoint is required"))
        );
    }
}

/// What a RoleplanePolicy lets Looker roles grant. Each `allowed…` list, when set, is the whole
/// of what may be granted; left out, it does not limit.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct LookerCeiling {
    /// The only permissions an inline `permissionSet` may list.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        length(max = 256),
        inner(length(min = 1, max = 128), regex(pattern = r"^[a-z][a-z0-9_]*$"))
    )]
    pub allowed_permissions: Option<Vec<String>>,
    /// Permissions an inline `permissionSet` may not list (e.g. `sudo`, `develop`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(
        length(max = 256),
        inner(length(min = 1, max = 128), regex(pattern = r"^[a-z][a-z0-9_]*$"))
    )]
    pub denied_permissions: Vec<String>,
    /// The only models an inline `modelSet` may list.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 256), inner(length(min = 1, max = 255)))]
    pub allowed_models: Option<Vec<String>>,
    /// Models an inline `modelSet` may not list.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 256), inner(length(min = 1, max = 255)))]
    pub denied_models: Vec<String>,
    /// Whether `permissionSetRef` and `modelSetRef` may name existing sets, whose content
    /// Roleplane does not own and cannot check against this policy. Default false: a reference is
    /// refused where this policy limits permissions (for `permissionSetRef`) or models (for
    /// `modelSetRef`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub allow_set_references: bool,
}
