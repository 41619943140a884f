//! BigPanda: the `bigpanda` block of a Role, and the region of a BigPanda config.

use kube::KubeSchema;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::Rules;

/// BigPanda roles may be renamed (they are keyed by id); ids are plain identifiers (24 hex
/// characters, in practice), used as URL path segments.
pub(super) const RULES: Rules = Rules {
    role: &[(
        "!has(self.bigpanda) || !has(self.externalId) || (size(self.externalId) <= 128 && self.externalId.matches('^[A-Za-z0-9_-]+([.][A-Za-z0-9_-]+)*$'))",
        "externalId must be a BigPanda role id: letters, digits, - _ and single dots (no /, % or ..)",
    )],
    config: &[],
};

/// BigPanda role: users and typed permissions. Updates replace the whole role: permissions not
/// listed are removed, and so are users when `users` is set.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct BigPandaRole {
    /// BigPanda user ids (24 hex characters) holding the role; users not listed are removed
    /// (`[]` removes everyone). Leave the field out to keep whatever members the role has in
    /// BigPanda (assigned in the UI or by SCIM): Roleplane then neither changes nor compares them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        length(max = 1000),
        inner(length(min = 24, max = 24), regex(pattern = r"^[a-f0-9]{24}$"))
    )]
    #[x_kube(merge_strategy = kube::core::ListMerge::Set)]
    pub users: Option<Vec<String>>,
    /// Permissions granted by the role.
    #[schemars(length(min = 1, max = 200))]
    pub permissions: Vec<BigPandaPermission>,
}

/// One BigPanda permission.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, KubeSchema)]
#[x_kube(validation = kube::core::Rule::new("!has(self.resourceId) || self.resourceType == 'environments'").message("resourceId is only valid for resourceType environments"))]
#[x_kube(validation = kube::core::Rule::new("!self.actions.exists(a, a == 'incident_actions') || self.resourceType == 'environments'").message("incident_actions is only valid for resourceType environments"))]
#[serde(rename_all = "camelCase")]
pub struct BigPandaPermission {
    /// Permission name without the access level, e.g. `roles`, `users`, `environments`.
    #[schemars(length(min = 1, max = 128), regex(pattern = r"^[a-z][a-z0-9_]*$"))]
    pub resource_type: String,
    /// Environment id, only for `resourceType: environments`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        length(min = 1, max = 64),
        regex(pattern = r"^[A-Za-z0-9_-]+([.][A-Za-z0-9_-]+)*$")
    )]
    pub resource_id: Option<String>,
    /// Actions granted.
    #[schemars(length(min = 1, max = 3))]
    #[x_kube(merge_strategy = kube::core::ListMerge::Set)]
    pub actions: Vec<BigPandaAction>,
}

/// BigPanda permission action.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum BigPandaAction {
    Read,
    FullAccess,
    IncidentActions,
}

/// BigPanda settings; optional when `provider` is `bigpanda` (region `us` by default).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct BigPandaSettings {
    /// `us` (https://api.bigpanda.io, the default) or `eu` (https://eu-api.bigpanda.io).
    #[serde(default)]
    pub region: BigPandaRegion,
}

/// Region that hosts a BigPanda organisation.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum BigPandaRegion {
    #[default]
    Us,
    Eu,
}

/// What a RoleplanePolicy lets BigPanda roles grant.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct BigPandaCeiling {
    /// When set, the only resource types (e.g. `users`, `environments`) a role may hold
    /// permissions on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        length(max = 128),
        inner(length(min = 1, max = 128), regex(pattern = r"^[a-z][a-z0-9_]*$"))
    )]
    pub allowed_resource_types: Option<Vec<String>>,
    /// Resource types a role may hold no permission on.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(
        length(max = 128),
        inner(length(min = 1, max = 128), regex(pattern = r"^[a-z][a-z0-9_]*$"))
    )]
    pub denied_resource_types: Vec<String>,
    /// Actions a role may not grant, on one resource type or on every type.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 128))]
    pub denied_actions: Vec<BigPandaDeniedActions>,
}

/// Actions denied on one resource type (or on all).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct BigPandaDeniedActions {
    /// The resource type (e.g. `roles`); left out, the actions are denied on every type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 128), regex(pattern = r"^[a-z][a-z0-9_]*$"))]
    pub resource_type: Option<String>,
    /// The actions denied (e.g. `full_access`).
    #[schemars(length(min = 1, max = 3))]
    pub actions: Vec<BigPandaAction>,
}
