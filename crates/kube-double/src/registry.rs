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
        schema: Some(std::sync::Arc::new(schema)),
        builtin: None,
        served: true,
    })
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
