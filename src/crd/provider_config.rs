//! ProviderConfig (namespaced) and ClusterProviderConfig (cluster-scoped): how to reach one
//! product account, and which namespaces may use it.

use std::collections::BTreeMap;

use super::{Condition, ProviderKind};
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Endpoint and per-product settings shared by both config kinds.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProviderSettings {
    /// Base URL of the product API. Required for Looker (`https://<instance>.cloud.looker.com`);
    /// optional elsewhere, for self-hosted, regional or test endpoints such as the Roleplane
    /// simulator (`http://127.0.0.1:8090/statsig`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 2048), regex(pattern = r"^https?://[^\s]+$"))]
    pub endpoint: Option<String>,
    /// SlashID settings; required when `provider` is `slashid`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slashid: Option<SlashIdSettings>,
    /// BigPanda settings; optional when `provider` is `bigpanda` (region `us` by default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bigpanda: Option<BigPandaSettings>,
}

/// SlashID organisation and write consistency.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct SlashIdSettings {
    /// Organisation id, sent as `SlashID-OrgID` and used as the `{orgId}/` prefix of role names.
    #[schemars(
        length(min = 1, max = 128),
        regex(pattern = r"^[A-Za-z0-9][A-Za-z0-9\-]*$")
    )]
    pub org_id: String,
    /// `SlashID-Required-Consistency` sent on writes: `all_regions` (default) waits until every
    /// region stored the write; `local_region` returns sooner.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consistency: Option<SlashIdConsistency>,
    /// `SlashID-Required-Consistency-Timeout` in seconds (1-120, default 30).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 120))]
    pub consistency_timeout_seconds: Option<u32>,
}

/// SlashID write consistency level.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SlashIdConsistency {
    LocalRegion,
    AllRegions,
}

/// BigPanda region.
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

/// A Secret in the config's own namespace.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct LocalSecretReference {
    /// Secret name. Keys: statsig `apiKey`; configcat `username`, `password`; slashid `apiKey`;
    /// looker `clientId`, `clientSecret`; bigpanda `apiKey`.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
}

/// A Secret in a named namespace.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecretReference {
    /// Secret name (keys as for ProviderConfig).
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
    /// Namespace of the Secret; tenants using the config need no access to it.
    #[schemars(length(min = 1, max = 63))]
    pub namespace: String,
}

/// Status of both config kinds.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProviderConfigStatus {
    /// The generation the conditions describe.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Number of Roles and PermissionGroups using this config when last checked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub users: Option<u32>,
    /// `Ready`: the credentials passed a cheap authenticated read.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 8))]
    #[x_kube(merge_strategy = kube::core::ListMerge::Map(vec!["type".into()]))]
    pub conditions: Vec<Condition>,
}

/// How to reach one product account from this namespace.
#[derive(CustomResource, Clone, Debug, PartialEq, Serialize, Deserialize, KubeSchema)]
#[kube(
    group = "roleplane.dev",
    version = "v1alpha1",
    kind = "ProviderConfig",
    namespaced,
    status = "ProviderConfigStatus",
    category = "roleplane",
    shortname = "rpconfig",
    doc = "Endpoint and credentials of one product account, usable by Roles and PermissionGroups in the same namespace.",
    printcolumn = r#"{"name":"PROVIDER","type":"string","jsonPath":".spec.provider"}"#,
    printcolumn = r#"{"name":"READY","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"REASON","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].reason"}"#,
    printcolumn = r#"{"name":"USERS","type":"integer","jsonPath":".status.users"}"#,
    printcolumn = r#"{"name":"AGE","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[x_kube(validation = kube::core::Rule::new("self.provider != 'looker' || has(self.endpoint)").message("spec.endpoint is required for looker"))]
#[x_kube(validation = kube::core::Rule::new("self.provider == 'slashid' || !has(self.slashid)").message("spec.slashid is only valid with provider slashid"))]
#[x_kube(validation = kube::core::Rule::new("self.provider != 'slashid' || has(self.slashid)").message("spec.slashid.orgId is required for provider slashid"))]
#[x_kube(validation = kube::core::Rule::new("self.provider == 'bigpanda' || !has(self.bigpanda)").message("spec.bigpanda is only valid with provider bigpanda"))]
#[serde(rename_all = "camelCase")]
pub struct ProviderConfigSpec {
    /// The product: statsig, configcat, slashid, looker or bigpanda. Immutable.
    #[x_kube(validation = kube::core::Rule::new("self == oldSelf").message("provider is immutable"))]
    pub provider: ProviderKind,
    /// Secret in this namespace holding the product credentials.
    pub credentials_secret_ref: LocalSecretReference,
    #[serde(flatten)]
    pub settings: ProviderSettings,
}

/// Namespaces allowed to use a ClusterProviderConfig. Empty admits none.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct AllowedNamespaces {
    /// Namespaces admitted by name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 256), inner(length(min = 1, max = 63)))]
    pub names: Vec<String>,
    /// Namespaces admitted by their labels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<NamespaceSelector>,
}

/// A label selector over Namespaces (same semantics as `metav1.LabelSelector`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct NamespaceSelector {
    /// Labels that must all match exactly.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(extend("maxProperties" = 32, "additionalProperties" = {"type": "string", "maxLength": 63}))]
    pub match_labels: BTreeMap<String, String>,
    /// Expressions that must all hold.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 32))]
    pub match_expressions: Vec<LabelSelectorRequirement>,
}

/// One selector expression.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct LabelSelectorRequirement {
    /// Label key.
    #[schemars(length(min = 1, max = 317))]
    pub key: String,
    /// In, NotIn, Exists or DoesNotExist.
    pub operator: LabelSelectorOperator,
    /// Values for In and NotIn.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 64), inner(length(max = 63)))]
    pub values: Vec<String>,
}

/// Selector operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum LabelSelectorOperator {
    In,
    NotIn,
    Exists,
    DoesNotExist,
}

/// A product account shared with chosen namespaces; tenants use it without reading its Secret.
#[derive(CustomResource, Clone, Debug, PartialEq, Serialize, Deserialize, KubeSchema)]
#[kube(
    group = "roleplane.dev",
    version = "v1alpha1",
    kind = "ClusterProviderConfig",
    status = "ProviderConfigStatus",
    category = "roleplane",
    shortname = "rpclusterconfig",
    doc = "Endpoint and credentials of one product account, usable from the namespaces that allowedNamespaces admits (none by default).",
    printcolumn = r#"{"name":"PROVIDER","type":"string","jsonPath":".spec.provider"}"#,
    printcolumn = r#"{"name":"READY","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"REASON","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].reason"}"#,
    printcolumn = r#"{"name":"USERS","type":"integer","jsonPath":".status.users"}"#,
    printcolumn = r#"{"name":"AGE","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[x_kube(validation = kube::core::Rule::new("self.provider != 'looker' || has(self.endpoint)").message("spec.endpoint is required for looker"))]
#[x_kube(validation = kube::core::Rule::new("self.provider == 'slashid' || !has(self.slashid)").message("spec.slashid is only valid with provider slashid"))]
#[x_kube(validation = kube::core::Rule::new("self.provider != 'slashid' || has(self.slashid)").message("spec.slashid.orgId is required for provider slashid"))]
#[x_kube(validation = kube::core::Rule::new("self.provider == 'bigpanda' || !has(self.bigpanda)").message("spec.bigpanda is only valid with provider bigpanda"))]
#[serde(rename_all = "camelCase")]
pub struct ClusterProviderConfigSpec {
    /// The product: statsig, configcat, slashid, looker or bigpanda. Immutable.
    #[x_kube(validation = kube::core::Rule::new("self == oldSelf").message("provider is immutable"))]
    pub provider: ProviderKind,
    /// Secret (name and namespace) holding the product credentials.
    pub credentials_secret_ref: SecretReference,
    /// Namespaces whose Roles and PermissionGroups may use this config. Empty: none (default deny).
    #[serde(default)]
    pub allowed_namespaces: AllowedNamespaces,
    #[serde(flatten)]
    pub settings: ProviderSettings,
}
