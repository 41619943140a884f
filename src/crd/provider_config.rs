//! ProviderConfig (namespaced) and ClusterProviderConfig (cluster-scoped): how to reach one
//! product account, and which namespaces may use it.

use std::collections::BTreeMap;

use super::products::{ProductSettings, config_rules};
use super::{Condition, ProviderKind};
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Endpoint and per-product settings shared by both config kinds.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProviderSettings {
    /// Base URL of the product API. Required where the product has no public default (Looker:
    /// `https://<instance>.cloud.looker.com`); optional elsewhere, for self-hosted, regional or
    /// test endpoints such as the Roleplane simulator (`http://127.0.0.1:8090/statsig`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 2048), regex(pattern = r"^https?://[^\s]+$"))]
    pub endpoint: Option<String>,
    /// Settings of the products that have any (each only valid with its own `provider`).
    #[serde(flatten)]
    pub products: ProductSettings,
}

/// A Secret in the config's own namespace.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct LocalSecretReference {
    /// Secret name. The keys each product needs are listed in its documentation (and named in
    /// the config's Ready condition when one is missing).
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
    #[schemars(extend("format" = "int64"))]
    pub users: Option<u32>,
    /// Product objects in the config's scope and how many Roleplane manages, as of the last
    /// listing (at most one per poll interval).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inventory: Option<Inventory>,
    /// `Ready`: the credentials passed a cheap authenticated read.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 8))]
    #[x_kube(merge_strategy = kube::core::ListMerge::Map(vec!["type".into()]))]
    pub conditions: Vec<Condition>,
}

/// What a config's account holds, from its listing.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct Inventory {
    /// Product objects in the config's scope: the whole account, or for products listed per
    /// scope (ConfigCat products) the scopes its resources use.
    #[schemars(extend("format" = "int64"))]
    pub objects: u32,
    /// Of those, the objects a Role or PermissionGroup using this config manages. The others can
    /// be brought under management with `roleplane import`.
    #[schemars(extend("format" = "int64"))]
    pub managed: u32,
    /// When a listing first gave these numbers (listings that find the same numbers do not move
    /// it, so an account that does not change costs no status write per poll).
    pub last_listed_time: k8s_openapi::apimachinery::pkg::apis::meta::v1::Time,
}

/// The two config kinds, which differ in scope (`#[kube(namespaced)]`), names, the Secret
/// reference and namespace admission only: what they share (API group, status, printer columns,
/// CEL rules, `provider` first and the settings last) is written once, here.
macro_rules! config_kind {
    (
        $(#[$attr:meta])*
        $spec:ident { kind: $kind:tt, shortname: $short:tt, doc: $kind_doc:tt }
        { $($fields:tt)* }
    ) => {
        #[derive(CustomResource, Clone, Debug, PartialEq, Serialize, Deserialize, KubeSchema)]
        $(#[$attr])*
        #[kube(
            group = "roleplane.dev",
            version = "v1alpha1",
            kind = $kind,
            status = "ProviderConfigStatus",
            category = "roleplane",
            shortname = $short,
            doc = $kind_doc,
            printcolumn = r#"{"name":"PROVIDER","type":"string","jsonPath":".spec.provider"}"#,
            printcolumn = r#"{"name":"READY","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
            printcolumn = r#"{"name":"REASON","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].reason"}"#,
            printcolumn = r#"{"name":"USERS","type":"integer","jsonPath":".status.users"}"#,
            printcolumn = r#"{"name":"OBJECTS","type":"integer","jsonPath":".status.inventory.objects","priority":1}"#,
            printcolumn = r#"{"name":"MANAGED","type":"integer","jsonPath":".status.inventory.managed","priority":1}"#,
            printcolumn = r#"{"name":"AGE","type":"date","jsonPath":".metadata.creationTimestamp"}"#
        )]
        #[schemars(transform = config_rules)]
        #[serde(rename_all = "camelCase")]
        pub struct $spec {
            /// The product. Immutable.
            #[x_kube(validation = kube::core::Rule::new("self == oldSelf").message("provider is immutable"))]
            pub provider: ProviderKind,
            $($fields)*
            #[serde(flatten)]
            pub settings: ProviderSettings,
        }
    };
}

config_kind! {
    /// How to reach one product account from this namespace.
    #[kube(namespaced)]
    ProviderConfigSpec {
        kind: "ProviderConfig",
        shortname: "rpconfig",
        doc: "Endpoint and credentials of one product account, usable by Roles and PermissionGroups in the same namespace."
    }
    {
        /// Secret in this namespace holding the product credentials.
        pub credentials_secret_ref: LocalSecretReference,
    }
}

config_kind! {
    /// A product account shared with chosen namespaces; tenants use it without reading its Secret.
    ClusterProviderConfigSpec {
        kind: "ClusterProviderConfig",
        shortname: "rpclusterconfig",
        doc: "Endpoint and credentials of one product account, usable from the namespaces that allowedNamespaces admits (none by default)."
    }
    {
        /// Secret (name and namespace) holding the product credentials.
        pub credentials_secret_ref: SecretReference,
        /// Namespaces whose Roles and PermissionGroups may use this config. Empty: none (default deny).
        #[serde(default)]
        pub allowed_namespaces: AllowedNamespaces,
    }
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
