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

mod condition;
mod permission_group;
mod provider_config;
mod role;

pub use condition::{Condition, ConditionStatus};
pub use permission_group::*;
pub use provider_config::*;
pub use role::*;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::{CustomResourceExt, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Every CRD Roleplane installs, in a stable order.
pub fn all() -> Vec<CustomResourceDefinition> {
    vec![
        ProviderConfig::crd(),
        ClusterProviderConfig::crd(),
        Role::crd(),
        PermissionGroup::crd(),
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

/// The SaaS product a config points at.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum ProviderKind {
    Statsig,
    #[serde(rename = "configcat")]
    ConfigCat,
    #[serde(rename = "slashid")]
    SlashId,
    Looker,
    #[serde(rename = "bigpanda")]
    BigPanda,
}

impl ProviderKind {
    /// Lower-case name used in manifests, metrics and the simulator's path prefix.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Statsig => "statsig",
            Self::ConfigCat => "configcat",
            Self::SlashId => "slashid",
            Self::Looker => "looker",
            Self::BigPanda => "bigpanda",
        }
    }
}

impl std::fmt::Display for ProviderKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
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
    /// When the product object was last seen matching the spec.
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

/// Annotation that overrides the drift poll interval of one object (e.g. `30s`, `5m`, `1h`).
pub const POLL_INTERVAL_ANNOTATION: &str = "roleplane.dev/poll-interval";
/// Annotation recording that a create was started before the product returned an id.
pub const CREATE_PENDING_ANNOTATION: &str = "roleplane.dev/create-pending";

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    /// Walks a schema, collecting paths of strings without maxLength (or enum/format) and lists
    /// and maps without maxItems/maxProperties: unbounded values break the CEL cost budget.
    fn unbounded(schema: &Value, path: &str, out: &mut Vec<String>) {
        let Some(obj) = schema.as_object() else {
            return;
        };
        match obj.get("type").and_then(Value::as_str) {
            Some("string")
                if !obj.contains_key("maxLength")
                    && !obj.contains_key("enum")
                    && !obj.contains_key("format") =>
            {
                out.push(path.to_string())
            }
            Some("array") if !obj.contains_key("maxItems") => out.push(path.to_string()),
            Some("object")
                if obj.contains_key("additionalProperties")
                    && !obj.contains_key("maxProperties") =>
            {
                out.push(path.to_string())
            }
            _ => {}
        }
        if let Some(props) = obj.get("properties").and_then(Value::as_object) {
            for (k, v) in props {
                unbounded(v, &format!("{path}.{k}"), out);
            }
        }
        for key in ["items", "additionalProperties"] {
            if let Some(v) = obj.get(key) {
                unbounded(v, &format!("{path}[]"), out);
            }
        }
    }

    #[test]
    fn every_string_list_and_map_in_the_crds_is_bounded() {
        for crd in all() {
            let schema =
                serde_json::to_value(&crd.spec.versions[0].schema).unwrap()["openAPIV3Schema"]
                    .clone();
            let mut out = Vec::new();
            unbounded(&schema["properties"]["spec"], "spec", &mut out);
            unbounded(&schema["properties"]["status"], "status", &mut out);
            assert!(
                out.is_empty(),
                "{}: unbounded fields {out:?}",
                crd.metadata.name.unwrap()
            );
        }
    }

    #[test]
    fn crds_carry_category_columns_and_status_subresource() {
        for crd in all() {
            assert_eq!(
                crd.spec.names.categories.as_deref(),
                Some(&["roleplane".to_string()][..])
            );
            let v = &crd.spec.versions[0];
            assert!(
                v.subresources
                    .as_ref()
                    .and_then(|s| s.status.as_ref())
                    .is_some()
            );
            let cols: Vec<_> = v
                .additional_printer_columns
                .iter()
                .flatten()
                .map(|c| c.name.as_str())
                .collect();
            assert!(cols.contains(&"READY") && cols.contains(&"AGE"), "{cols:?}");
        }
    }

    #[test]
    fn role_rules_are_in_the_schema() {
        let role = serde_json::to_string(&Role::crd()).unwrap();
        assert!(role.contains("set exactly one product block"));
        assert!(role.contains("name is immutable"));
        let pg = serde_json::to_string(&PermissionGroup::crd()).unwrap();
        assert!(pg.contains("productId is immutable"));
        assert!(pg.contains("environmentAccesses is only allowed with accessType: custom"));
    }
}

#[cfg(test)]
mod cel_tests {
    //! The CEL rules as kube-apiserver would run them (kube's client-side CEL).
    use super::*;
    use kube::core::cel::{ScopeContext, Validator, WarningKind, analyze_rule, compile_schema};
    use serde_json::{Value, json};

    fn schema<K: CustomResourceExt>() -> Value {
        serde_json::to_value(&K::crd().spec.versions[0].schema).unwrap()["openAPIV3Schema"].clone()
    }

    /// Every rule in the schema, with the schema node it sits on.
    fn rules(node: &Value, out: &mut Vec<(String, Value)>) {
        if let Some(v) = node
            .get("x-kubernetes-validations")
            .and_then(Value::as_array)
        {
            for r in v {
                out.push((r["rule"].as_str().unwrap().to_string(), node.clone()));
            }
        }
        for key in ["properties", "items", "additionalProperties"] {
            match node.get(key) {
                Some(Value::Object(m)) if key == "properties" => {
                    m.values().for_each(|c| rules(c, out))
                }
                Some(child @ Value::Object(_)) => rules(child, out),
                _ => {}
            }
        }
    }

    #[test]
    fn every_rule_compiles_and_stays_within_the_cost_budget() {
        for (name, s) in [
            ("Role", schema::<Role>()),
            ("PermissionGroup", schema::<PermissionGroup>()),
            ("ProviderConfig", schema::<ProviderConfig>()),
            ("ClusterProviderConfig", schema::<ClusterProviderConfig>()),
        ] {
            let mut found = Vec::new();
            rules(&s, &mut found);
            assert!(!found.is_empty(), "{name} has no CEL rules");
            for (rule, node) in found {
                let compiled = compile_schema(&node);
                assert!(
                    compiled.compilation_errors().is_empty(),
                    "{name}: {rule} does not compile"
                );
                let warnings = analyze_rule(&rule, &compiled, ScopeContext::CrdValidation);
                let costly: Vec<_> = warnings
                    .iter()
                    .filter(|w| {
                        matches!(
                            w.kind,
                            WarningKind::CostExceeded | WarningKind::MissingBounds
                        )
                    })
                    .collect();
                assert!(costly.is_empty(), "{name}: {rule}: {costly:?}");
            }
        }
    }

    fn role(spec: Value) -> Value {
        json!({"apiVersion": "roleplane.dev/v1alpha1", "kind": "Role", "metadata": {"name": "r"}, "spec": spec})
    }

    fn errors(kind: Value, obj: Value, old: Option<Value>) -> Vec<String> {
        match Validator::new().validate(&kind, &obj, old.as_ref()) {
            Ok(()) => vec![],
            Err(e) => e.into_vec().into_iter().map(|e| e.message).collect(),
        }
    }

    #[test]
    fn role_needs_exactly_one_product_block() {
        let base = json!({"providerConfigRef": {"name": "c"}, "name": "R"});
        let mut none = base.clone();
        none["x"] = json!(null);
        assert!(
            errors(schema::<Role>(), role(base.clone()), None)
                .iter()
                .any(|m| m.contains("exactly one product block"))
        );
        let mut two = base.clone();
        two["statsig"] = json!({});
        two["bigpanda"] = json!({"permissions": [{"resourceType": "roles", "actions": ["read"]}]});
        assert!(
            errors(schema::<Role>(), role(two), None)
                .iter()
                .any(|m| m.contains("exactly one product block"))
        );
        let mut one = base;
        one["statsig"] = json!({});
        assert_eq!(
            errors(schema::<Role>(), role(one), None),
            Vec::<String>::new()
        );
    }

    #[test]
    fn statsig_role_name_is_immutable_but_bigpanda_may_rename() {
        let old = role(json!({"providerConfigRef": {"name": "c"}, "name": "A", "statsig": {}}));
        let new = role(json!({"providerConfigRef": {"name": "c"}, "name": "B", "statsig": {}}));
        assert!(
            errors(schema::<Role>(), new, Some(old))
                .iter()
                .any(|m| m.contains("name is immutable"))
        );
        let bp = |n: &str| {
            role(json!({"providerConfigRef": {"name": "c"}, "name": n,
            "bigpanda": {"permissions": [{"resourceType": "roles", "actions": ["read"]}]}}))
        };
        assert_eq!(
            errors(schema::<Role>(), bp("B"), Some(bp("A"))),
            Vec::<String>::new()
        );
    }

    #[test]
    fn product_block_cannot_switch() {
        let old = role(json!({"providerConfigRef": {"name": "c"}, "name": "A", "statsig": {}}));
        let new = role(json!({"providerConfigRef": {"name": "c"}, "name": "A", "slashid": {}}));
        assert!(
            errors(schema::<Role>(), new, Some(old))
                .iter()
                .any(|m| m.contains("product block cannot change"))
        );
    }

    #[test]
    fn environment_accesses_need_custom_access_type() {
        let pg = |access: &str| {
            json!({"apiVersion": "roleplane.dev/v1alpha1", "kind": "PermissionGroup", "metadata": {"name": "g"},
            "spec": {"providerConfigRef": {"name": "c"}, "name": "G", "productId": "08d8b1f6-7b32-4d2a-8f33-1c0a3f3b0c11",
                     "accessType": access,
                     "environmentAccesses": [{"environmentId": "08d8b1f6-7b32-4d2a-8f33-1c0a3f3b0c12", "accessType": "full"}]}})
        };
        assert!(
            errors(schema::<PermissionGroup>(), pg("full"), None)
                .iter()
                .any(|m| m.contains("accessType: custom"))
        );
        assert_eq!(
            errors(schema::<PermissionGroup>(), pg("custom"), None),
            Vec::<String>::new()
        );
    }

    #[test]
    fn looker_config_needs_an_endpoint() {
        let pc = |spec: Value| json!({"apiVersion": "roleplane.dev/v1alpha1", "kind": "ProviderConfig", "metadata": {"name": "p"}, "spec": spec});
        let no_endpoint = pc(json!({"provider": "looker", "credentialsSecretRef": {"name": "s"}}));
        assert!(
            errors(schema::<ProviderConfig>(), no_endpoint, None)
                .iter()
                .any(|m| m.contains("endpoint is required"))
        );
        let slashid = pc(json!({"provider": "slashid", "credentialsSecretRef": {"name": "s"}}));
        assert!(
            errors(schema::<ProviderConfig>(), slashid, None)
                .iter()
                .any(|m| m.contains("orgId is required"))
        );
    }
}
