//! Role: one access role in Statsig, SlashID, Looker or BigPanda, plus the fields every managed
//! kind shares (`ManagedSpec`).

use super::{DeletionPolicy, ManagedStatus, ManagementPolicy, ProviderConfigReference};
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

mod blocks;
pub use blocks::*;

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
#[derive(CustomResource, Clone, Debug, PartialEq, Serialize, Deserialize, KubeSchema)]
#[kube(
    group = "roleplane.dev",
    version = "v1alpha1",
    kind = "Role",
    namespaced,
    status = "ManagedStatus",
    category = "roleplane",
    shortname = "rprole",
    doc = "An access role in Statsig, SlashID, Looker or BigPanda, created, corrected and deleted by Roleplane.",
    printcolumn = r#"{"name":"PROVIDER","type":"string","jsonPath":".status.provider"}"#,
    printcolumn = r#"{"name":"NAME","type":"string","jsonPath":".spec.name","priority":1}"#,
    printcolumn = r#"{"name":"READY","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"SYNCED","type":"string","jsonPath":".status.conditions[?(@.type==\"Synced\")].status"}"#,
    printcolumn = r#"{"name":"REASON","type":"string","jsonPath":".status.conditions[?(@.type==\"Synced\")].reason","priority":1}"#,
    printcolumn = r#"{"name":"EXTERNAL-ID","type":"string","jsonPath":".status.externalId"}"#,
    printcolumn = r#"{"name":"AGE","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[x_kube(validation = kube::core::Rule::new("[has(self.statsig), has(self.slashid), has(self.looker), has(self.bigpanda)].filter(x, x).size() == 1").message("set exactly one product block: statsig, slashid, looker or bigpanda"))]
#[x_kube(validation = kube::core::Rule::new("has(self.statsig) == has(oldSelf.statsig) && has(self.slashid) == has(oldSelf.slashid) && has(self.looker) == has(oldSelf.looker) && has(self.bigpanda) == has(oldSelf.bigpanda)").message("the product block cannot change; create a new Role instead"))]
#[x_kube(validation = kube::core::Rule::new("!(has(self.statsig) || has(self.slashid)) || self.name == oldSelf.name").message("name is immutable: Statsig and SlashID key roles on their name"))]
#[x_kube(validation = kube::core::Rule::new("!has(self.slashid) || (size(self.name) >= 2 && size(self.name) <= 100 && self.name.matches('^[A-Za-z0-9][A-Za-z0-9_.:-]*[A-Za-z0-9]$'))").message("SlashID role names are 2-100 characters of A-Z a-z 0-9 _ . : - and start and end with a letter or digit"))]
#[serde(rename_all = "camelCase")]
pub struct RoleSpec {
    #[serde(flatten)]
    pub managed: ManagedSpec,
    /// Statsig console role: permission flags.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub statsig: Option<StatsigRole>,
    /// SlashID organisation role: description and permission names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slashid: Option<SlashIdRole>,
    /// Looker role: a permission set and a model set, inline (owned) or referenced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub looker: Option<LookerRole>,
    /// BigPanda role: users and typed permissions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bigpanda: Option<BigPandaRole>,
}

/// A flag by name, for Statsig flags newer than this release.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct NamedFlag {
    /// Flag name exactly as the product API spells it (e.g. `some_new_flag`).
    #[schemars(length(min = 1, max = 128), regex(pattern = r"^[a-z][a-z0-9_]*$"))]
    pub name: String,
    /// Whether the flag is granted.
    pub enabled: bool,
}

/// SlashID role content.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct SlashIdRole {
    /// Role description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 1024))]
    pub description: Option<String>,
    /// Permission names granted by the role. Missing permission objects are created; Roleplane
    /// never deletes a permission object (other roles may use it).
    #[serde(default)]
    #[schemars(
        length(max = 256),
        inner(
            length(min = 2, max = 1024),
            regex(pattern = r"^[A-Za-z0-9][\w./\\:-]*[A-Za-z0-9]$")
        )
    )]
    #[x_kube(merge_strategy = kube::core::ListMerge::Set)]
    pub permissions: Vec<String>,
}

/// Looker role content.
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
    /// Set id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 64))]
    pub id: Option<String>,
    /// Set name (exact match).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 255))]
    pub name: Option<String>,
}

/// BigPanda role content. Updates replace the whole role: permissions not listed are removed,
/// and so are users when `users` is set.
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
    #[schemars(length(min = 1, max = 64))]
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
