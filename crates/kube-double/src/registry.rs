//! The resource types the double serves: five built-in kinds (CustomResourceDefinition among
//! them) plus the CRDs given to `ApiServer::new` or created through the API, and lookup by
//! group/version/plural. A CRD using what the double does not implement (several served
//! versions, no schema, the scale subresource, an unsupported schema keyword) is refused (a
//! panic at construction, 501 when created through the API), so no test can pass against a
//! server ignoring a rule. A deleted CRD's type stays in the list, no longer served.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use serde_json::Value;

use super::schema;

/// Built-in kinds with hand-written (typed) validation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Builtin {
    Namespace,
    Secret,
    Event,
    Lease,
    CustomResourceDefinition,
}

#[derive(Debug, Clone)]
pub struct ResourceType {
    pub group: String,
    /// The one served version.
    pub version: String,
    pub plural: String,
    pub kind: String,
    pub list_kind: String,
    pub namespaced: bool,
    /// `true` when status is written through `/status` only (never by main-resource writes).
    pub status_subresource: bool,
    /// `openAPIV3Schema` of a CRD; `None` for built-ins.
    /// Shared: a request copies its type (a CRD's schema is tens of KiB of JSON).
    pub schema: Option<std::sync::Arc<Value>>,
    /// Its CEL rules, compiled once (kube-apiserver compiles them when the CRD is stored).
    pub cel: Option<std::sync::Arc<kube::core::cel::CompiledSchema>>,
    /// The same rules less those that can only see parts of an object that an update left
    /// unchanged (see [`UnchangedRules`]); `None` when there are none such.
    pub cel_unchanged: Option<std::sync::Arc<UnchangedRules>>,
    pub builtin: Option<Builtin>,
    /// `false` once the CRD defining it is gone (its index stays: it is the storage key).
    pub served: bool,
}

impl ResourceType {
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }
    /// kube-apiserver lets PUT create objects only for these kinds (among those served here).
    pub fn allow_create_on_update(&self) -> bool {
        matches!(self.builtin, Some(Builtin::Event | Builtin::Lease))
    }
    /// Custom resources need a resourceVersion on PUT and maintain `metadata.generation`;
    /// the built-in kinds served here do neither.
    pub fn is_crd(&self) -> bool {
        self.builtin.is_none()
    }
}

fn builtin(group: &str, plural: &str, kind: &str, b: Builtin) -> ResourceType {
    ResourceType {
        group: group.into(),
        version: "v1".into(),
        plural: plural.into(),
        kind: kind.into(),
        list_kind: format!("{kind}List"),
        namespaced: !matches!(b, Builtin::Namespace | Builtin::CustomResourceDefinition),
        // Namespace and CRD status is kept on updates (their /status); the others have none.
        status_subresource: matches!(b, Builtin::Namespace | Builtin::CustomResourceDefinition),
        schema: None,
        cel: None,
        cel_unchanged: None,
        builtin: Some(b),
        served: true,
    }
}

/// The resource type of one CRD; panics on what the double does not implement.
pub fn from_crd(crd: &CustomResourceDefinition) -> ResourceType {
    try_from_crd(crd).unwrap_or_else(|what| {
        panic!(
            "CRD {}: {what} is not supported by the kube API test double",
            crd.spec.names.plural
        )
    })
}

/// The resource type of one CRD, or what the double does not implement in it.
pub fn try_from_crd(crd: &CustomResourceDefinition) -> Result<ResourceType, String> {
    let spec = &crd.spec;
    let names = &spec.names;
    let served: Vec<_> = spec.versions.iter().filter(|v| v.served).collect();
    let [v] = served.as_slice() else {
        return Err("serving other than exactly one version".into());
    };
    let subresources = v.subresources.as_ref();
    if subresources.is_some_and(|s| s.scale.is_some()) {
        return Err("the scale subresource".into());
    }
    let Some(schema) = v
        .schema
        .as_ref()
        .and_then(|s| s.open_api_v3_schema.as_ref())
    else {
        return Err("a version without openAPIV3Schema".into());
    };
    let schema = serde_json::to_value(schema).expect("schema serializes");
    schema::check_supported(&schema, "")?;
    Ok(ResourceType {
        group: spec.group.clone(),
        version: v.name.clone(),
        plural: names.plural.clone(),
        kind: names.kind.clone(),
        list_kind: names
            .list_kind
            .clone()
            .unwrap_or_else(|| format!("{}List", names.kind)),
        namespaced: spec.scope == "Namespaced",
        status_subresource: subresources.is_some_and(|s| s.status.is_some()),
        cel: Some(std::sync::Arc::new(kube::core::cel::compile_schema(
            &schema,
        ))),
        cel_unchanged: UnchangedRules::of(&schema).map(std::sync::Arc::new),
        schema: Some(std::sync::Arc::new(schema)),
        builtin: None,
        served: true,
    })
}

/// A CRD's CEL rules for an update that leaves some top-level parts of the object (`parts`,
/// e.g. `spec` for a status write) as they were: without the rules that see only those parts
/// and not `oldSelf`. Such a rule sees only values it passed when they were stored (a rule sees
/// nothing but `self` and the constant `apiVersion`, `apiGroup` and `kind`, and a CRD's spec
/// cannot change here), so leaving it out changes no outcome; kube-apiserver's ratcheting
/// would not report it either. Transition rules, and rules on other parts, still run.
#[derive(Debug)]
pub struct UnchangedRules {
    /// The top-level properties whose rules are left out.
    pub parts: Vec<String>,
    pub cel: kube::core::cel::CompiledSchema,
}

impl UnchangedRules {
    fn of(schema: &Value) -> Option<Self> {
        let mut reduced = schema.clone();
        let mut parts = vec![];
        if let Some(props) = reduced.get_mut("properties").and_then(Value::as_object_mut) {
            for (name, sub) in props.iter_mut() {
                if without_plain_rules(sub) {
                    parts.push(name.clone());
                }
            }
        }
        (!parts.is_empty()).then(|| Self {
            parts,
            cel: kube::core::cel::compile_schema(&reduced),
        })
    }

    /// Whether `new` keeps every one of [`Self::parts`] as `old` had it.
    pub fn applies(&self, new: &Value, old: &Value) -> bool {
        self.parts.iter().all(|p| new.get(p) == old.get(p))
    }
}

/// Removes, in `schema` and every schema nested in it, the rules that do not mention
/// `oldSelf`; whether any was removed.
fn without_plain_rules(schema: &mut Value) -> bool {
    let Some(obj) = schema.as_object_mut() else {
        return false;
    };
    let mut removed = false;
    if let Some(rules) = obj
        .get_mut("x-kubernetes-validations")
        .and_then(Value::as_array_mut)
    {
        let before = rules.len();
        rules.retain(|r| {
            r.get("rule")
                .and_then(Value::as_str)
                .is_none_or(|rule| rule.contains("oldSelf"))
        });
        removed = rules.len() < before;
        if rules.is_empty() {
            obj.remove("x-kubernetes-validations");
        }
    }
    if let Some(props) = obj.get_mut("properties").and_then(Value::as_object_mut) {
        for sub in props.values_mut() {
            removed |= without_plain_rules(sub);
        }
    }
    for key in ["items", "additionalProperties", "not"] {
        if let Some(sub) = obj.get_mut(key) {
            removed |= without_plain_rules(sub);
        }
    }
    for key in ["allOf", "oneOf", "anyOf"] {
        if let Some(subs) = obj.get_mut(key).and_then(Value::as_array_mut) {
            for sub in subs {
                removed |= without_plain_rules(sub);
            }
        }
    }
    removed
}

/// All types served, indexed by position (the index is the storage key of a type).
#[derive(Debug, Clone)]
pub struct Registry {
    pub types: Vec<ResourceType>,
}

impl Registry {
    /// The built-in kinds only (CRDs are added as they are created).
    pub fn new() -> Self {
        let types = vec![
            builtin("", "namespaces", "Namespace", Builtin::Namespace),
            builtin("", "secrets", "Secret", Builtin::Secret),
            builtin("events.k8s.io", "events", "Event", Builtin::Event),
            builtin("coordination.k8s.io", "leases", "Lease", Builtin::Lease),
            builtin(
                "apiextensions.k8s.io",
                "customresourcedefinitions",
                "CustomResourceDefinition",
                Builtin::CustomResourceDefinition,
            ),
        ];
        Self { types }
    }

    /// Index of the type serving `group/version/plural`, if any.
    pub fn find(&self, group: &str, version: &str, plural: &str) -> Option<usize> {
        self.types.iter().position(|t| {
            t.served && t.group == group && t.version == version && t.plural == plural
        })
    }

    /// Index of the built-in kind `b`.
    pub fn builtin(&self, b: Builtin) -> usize {
        self.types
            .iter()
            .position(|t| t.builtin == Some(b))
            .expect("built-in kinds are always registered")
    }
}
