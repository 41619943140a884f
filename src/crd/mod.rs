//! The Roleplane API (`roleplane.dev/v1alpha1`): the kinds users write, and the pieces they share.
//!
//! Everything here is plain data with a schema; the controller gives it meaning. Every string and
//! list carries a bound (`maxLength`, `maxItems`) so the apiserver can cost the CEL rules.

/// Declares a struct of optional boolean flags whose Rust field names are the product's wire names;
/// keeps the CRD field, its doc and the wire name in one place.
macro_rules! flags {
    ($(#[$meta:meta])* $name:ident { $($(#[doc = $doc:literal])+ $field:ident,)+ }) => {
        $(#[$meta])*
        #[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize, kube::KubeSchema)]
        #[serde(rename_all = "camelCase")]
        pub struct $name {
            $(
                $(#[doc = $doc])+
                #[serde(default, skip_serializing_if = "Option::is_none")]
                pub $field: Option<bool>,
            )+
        }

        impl $name {
            /// Every flag as (wire name, value), in declaration order.
            pub fn entries(&self) -> Vec<(&'static str, Option<bool>)> {
                vec![$((stringify!($field), self.$field),)+]
            }
            /// Wire names of every typed flag.
            pub const NAMES: &'static [&'static str] = &[$(stringify!($field),)+];
        }
    };
}

pub mod admission;
mod condition;
pub mod policy;
pub mod products;
mod provider_config;
mod role;

pub use condition::{Condition, ConditionStatus};
pub use policy::{RoleplanePolicy, RoleplanePolicySpec, RoleplanePolicyStatus};
pub use products::*;
pub use provider_config::*;
pub use role::*;

use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::{CustomResourceExt, KubeSchema, Resource};
use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// Every CRD Roleplane installs, in a stable order.
pub fn all() -> Vec<CustomResourceDefinition> {
    vec![
        ProviderConfig::crd(),
        ClusterProviderConfig::crd(),
        Role::crd(),
        PermissionGroup::crd(),
        RoleplanePolicy::crd(),
    ]
}

/// All CRDs as one multi-document YAML stream (what `roleplane crds` prints).
pub fn all_yaml() -> String {
    all()
        .iter()
        .map(|crd| serde_yaml_ng::to_string(crd).expect("a CRD always serializes to YAML"))
        .collect::<Vec<_>>()
        .join("---\n")
}

/// Which kind of config a resource points at.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum ProviderConfigKind {
    /// A ProviderConfig in the resource's own namespace.
    #[default]
    ProviderConfig,
    /// A cluster-scoped ClusterProviderConfig whose `allowedNamespaces` admits the resource's namespace.
    ClusterProviderConfig,
}

/// Reference to the config that holds the product account's endpoint and credentials.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProviderConfigReference {
    /// ProviderConfig (same namespace, the default) or ClusterProviderConfig.
    #[serde(default)]
    pub kind: ProviderConfigKind,
    /// Name of the config.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
}

/// What happens to the product object when the resource is deleted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum DeletionPolicy {
    /// Delete the object in the product (the default).
    #[default]
    Delete,
    /// Leave the object in the product untouched.
    Orphan,
}

/// Whether Roleplane may change the product object.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum ManagementPolicy {
    /// Create, correct and delete the product object (the default).
    #[default]
    Manage,
    /// Only read the product object and report differences; never write to the product.
    ObserveOnly,
}

/// Observed state shared by Role and PermissionGroup.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct ManagedStatus {
    /// The product's key for the object (its id, or its name where the product keys on names).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 1024))]
    pub external_id: Option<String>,
    /// The product this resource is reconciled against.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<ProviderKind>,
    /// The generation the conditions describe.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// When the status last changed after the product object was seen matching the spec (an
    /// in-sync poll that changes nothing else does not write it, to spare the API server).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_sync_time: Option<k8s_openapi::apimachinery::pkg::apis::meta::v1::Time>,
    /// A short summary of the product object as last observed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 1024))]
    pub observed: Option<String>,
    /// `Ready` and `Synced`, following Kubernetes conventions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 8))]
    #[x_kube(merge_strategy = kube::core::ListMerge::Map(vec!["type".into()]))]
    pub conditions: Vec<Condition>,
}

/// Finalizer that guards product objects (and configs in use).
pub const FINALIZER: &str = "roleplane.dev/cleanup";
/// Finalizer Roleplane keeps on the credentials Secret of a config, so that a namespace being
/// deleted keeps its credentials until the resources using them are cleaned up.
pub const CREDENTIALS_FINALIZER: &str = "roleplane.dev/credentials";
/// Annotation that overrides the drift poll interval of one object (e.g. `30s`, `5m`, `1h`).
pub const POLL_INTERVAL_ANNOTATION: &str = "roleplane.dev/poll-interval";
/// Annotation recording that a create was started before the product returned an id.
pub const CREATE_PENDING_ANNOTATION: &str = "roleplane.dev/create-pending";

/// A kind whose resources each manage one product object (Role, PermissionGroup): what the
/// generic reconciler needs from it.
pub trait Managed:
    Resource<DynamicType = (), Scope = NamespaceResourceScope>
    + Clone
    + std::fmt::Debug
    + Serialize
    + DeserializeOwned
    + Send
    + Sync
    + 'static
{
    /// Kind name for logs and metrics.
    const KIND: &'static str;
    fn managed(&self) -> &ManagedSpec;
    fn managed_status(&self) -> Option<&ManagedStatus>;
    /// The typed product block, or why there is none usable.
    fn product(&self) -> Result<ProductSpec<'_>, String>;
}

#[cfg(test)]
pub(crate) mod tests;
