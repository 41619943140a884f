//! RoleplanePolicy (cluster-scoped): a privilege ceiling a platform team sets for chosen
//! namespaces. The kind is generic; each product's ceiling block lives with that product's block
//! (`products/<name>.rs`) and is listed once, by the registry. Several policies selecting one
//! namespace combine to the most restrictive result: a resource must stay under every one.

use kube::{CustomResource, KubeSchema};
use serde::{Deserialize, Serialize};

use super::products::ProductCeilings;
use super::{AllowedNamespaces, Condition};

/// A privilege ceiling for the Roles and PermissionGroups of the namespaces it selects.
#[derive(CustomResource, Clone, Debug, PartialEq, Serialize, Deserialize, KubeSchema)]
#[kube(
    group = "roleplane.dev",
    version = "v1alpha1",
    kind = "RoleplanePolicy",
    status = "RoleplanePolicyStatus",
    category = "roleplane",
    shortname = "rppolicy",
    doc = "A privilege ceiling: what the Roles and PermissionGroups of the selected namespaces may grant in each product. Refused at admission (ValidatingAdmissionPolicy) and again at reconcile.",
    printcolumn = r#"{"name":"NAMESPACES","type":"integer","jsonPath":".status.namespaces"}"#,
    printcolumn = r#"{"name":"READY","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"REASON","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].reason"}"#,
    printcolumn = r#"{"name":"AGE","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct RoleplanePolicySpec {
    /// The namespaces this policy applies to: by name and/or by a label selector over Namespaces.
    /// Empty (or an empty selector) selects none, and the policy's status says so. To select
    /// every namespace, use the selector expression `kubernetes.io/metadata.name Exists`.
    pub namespaces: AllowedNamespaces,
    /// Per product, what the selected namespaces' resources may grant. A product left out is not
    /// limited by this policy.
    #[serde(flatten)]
    pub ceilings: ProductCeilings,
}

/// What a policy currently selects, and whether it is usable.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct RoleplanePolicyStatus {
    /// The generation the status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// How many existing namespaces the policy selects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("format" = "int64"))]
    pub namespaces: Option<u32>,
    /// `Ready`: True when the policy selects at least one namespace; False with reason
    /// `NoNamespaceSelected` otherwise.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 8))]
    #[x_kube(merge_strategy = kube::core::ListMerge::Map(vec!["type".into()]))]
    pub conditions: Vec<Condition>,
}

/// A list of names restricted to `names` (a JSON-schema enum), at most `max` long: lets the API
/// server refuse unknown permission names in a policy.
pub fn name_list<S: AsRef<str>>(names: &[S], max: u64) -> schemars::Schema {
    let names: Vec<&str> = names.iter().map(AsRef::as_ref).collect();
    schemars::json_schema!({
        "type": "array",
        "maxItems": max,
        "items": {"type": "string", "enum": names},
        "x-kubernetes-list-type": "set",
    })
}

/// Why a resource exceeds one policy: `what` (e.g. `statsig permission`) and the offending
/// names, in the order the admission policy reports them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Breach {
    pub what: &'static str,
    pub names: Vec<String>,
}

impl Breach {
    /// A breach when `names` is not empty.
    pub fn of(what: &'static str, names: Vec<String>) -> Option<Self> {
        (!names.is_empty()).then_some(Self { what, names })
    }

    /// The message the admission policy and the reconciler both give.
    pub fn message(&self, policy: &str) -> String {
        format!(
            "RoleplanePolicy {policy} does not allow {}: {}",
            self.what,
            self.names.join(", ")
        )
    }
}

/// One admission rule of a product: when `when` holds, the CEL list `offending` must be empty;
/// its items are reported as `what`. Paths start at `object.spec` and `params.spec`.
#[derive(Clone, Debug)]
pub struct AdmissionRule {
    pub what: &'static str,
    pub when: String,
    pub offending: String,
}

impl AdmissionRule {
    pub fn new(what: &'static str, when: impl Into<String>, offending: impl Into<String>) -> Self {
        Self {
            what,
            when: when.into(),
            offending: offending.into(),
        }
    }
}

/// `snake_case` to `camelCase` (a flag's wire name to its manifest name; the drift report
/// and the policy both name flags as the manifest does).
pub fn camel(snake: &str) -> String {
    let mut out = String::with_capacity(snake.len());
    let mut upper = false;
    for c in snake.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// `path` when it is set, else an empty list (CEL).
pub fn cel_list(path: &str) -> String {
    format!("(has({path}) ? {path} : [])")
}
