//! The resource types the double serves: a fixed set of built-in kinds plus the served
//! versions of every CRD given to `ApiServer::new`, and lookup by group/version/plural.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use serde_json::Value;

/// Built-in kinds with hand-written (typed) validation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Builtin {
    Namespace,
    Secret,
    ConfigMap,
    CoreEvent,
    Event,
    Lease,
}

#[derive(Debug, Clone)]
pub struct Version {
    pub name: String,
    /// `openAPIV3Schema` of a CRD version; `None` for built-ins.
    pub schema: Option<Value>,
    pub status_subresource: bool,
    /// Field labels usable in `fieldSelector` besides metadata.name/namespace.
    pub selectable: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct ResourceType {
    pub group: String,
    pub plural: String,
    pub singular: String,
    pub kind: String,
    pub list_kind: String,
    pub namespaced: bool,
    pub versions: Vec<Version>,
    pub builtin: Option<Builtin>,
}

impl ResourceType {
    pub fn api_version(&self, version: &str) -> String {
        if self.group.is_empty() {
            version.to_string()
        } else {
            format!("{}/{}", self.group, version)
        }
    }
    pub fn version(&self, v: &str) -> Option<&Version> {
        self.versions.iter().find(|x| x.name == v)
    }
    /// kube-apiserver lets PUT create objects only for these kinds.
    pub fn allow_create_on_update(&self) -> bool {
        matches!(
            self.builtin,
            Some(Builtin::CoreEvent | Builtin::Event | Builtin::Lease)
        )
    }
    /// Built-in strategies allow PUT without resourceVersion; custom resources do not.
    pub fn allow_unconditional_update(&self) -> bool {
        self.builtin.is_some()
    }
    /// Only custom resources maintain `metadata.generation` among the kinds served here.
    pub fn has_generation(&self) -> bool {
        self.builtin.is_none()
    }
    pub fn is_crd(&self) -> bool {
        self.builtin.is_none()
    }
}

#[allow(clippy::too_many_arguments)]
fn builtin(
    group: &str,
    version: &str,
    plural: &str,
    kind: &str,
    namespaced: bool,
    b: Builtin,
    status: bool,
    selectable: &[&str],
) -> ResourceType {
    ResourceType {
        group: group.into(),
        plural: plural.into(),
        singular: kind.to_lowercase(),
        kind: kind.into(),
        list_kind: format!("{kind}List"),
        namespaced,
        versions: vec![Version {
            name: version.into(),
            schema: None,
            status_subresource: status,
            selectable: selectable.iter().map(|s| s.to_string()).collect(),
        }],
        builtin: Some(b),
    }
}

const CORE_EVENT_FIELDS: &[&str] = &[
    "involvedObject.kind",
    "involvedObject.namespace",
    "involvedObject.name",
    "involvedObject.uid",
    "involvedObject.apiVersion",
    "involvedObject.resourceVersion",
    "involvedObject.fieldPath",
    "reason",
    "reportingComponent",
    "source",
    "type",
];

pub fn builtins() -> Vec<ResourceType> {
    use Builtin::*;
    vec![
        builtin(
            "",
            "v1",
            "namespaces",
            "Namespace",
            false,
            Namespace,
            true,
            &["status.phase"],
        ),
        builtin(
            "",
            "v1",
            "secrets",
            "Secret",
            true,
            Secret,
            false,
            &["type"],
        ),
        builtin(
            "",
            "v1",
            "configmaps",
            "ConfigMap",
            true,
            ConfigMap,
            false,
            &[],
        ),
        builtin(
            "",
            "v1",
            "events",
            "Event",
            true,
            CoreEvent,
            false,
            CORE_EVENT_FIELDS,
        ),
        builtin(
            "events.k8s.io",
            "v1",
            "events",
            "Event",
            true,
            Event,
            false,
            CORE_EVENT_FIELDS,
        ),
        builtin(
            "coordination.k8s.io",
            "v1",
            "leases",
            "Lease",
            true,
            Lease,
            false,
            &[],
        ),
    ]
}

/// Builds the resource type of one CRD (served versions only).
pub fn from_crd(crd: &CustomResourceDefinition) -> ResourceType {
    let spec = &crd.spec;
    let names = &spec.names;
    let versions = spec
        .versions
        .iter()
        .filter(|v| v.served)
        .map(|v| Version {
            name: v.name.clone(),
            schema: v
                .schema
                .as_ref()
                .and_then(|s| s.open_api_v3_schema.as_ref())
                .map(|s| serde_json::to_value(s).expect("schema serializes")),
            status_subresource: v.subresources.as_ref().is_some_and(|s| s.status.is_some()),
            selectable: v
                .selectable_fields
                .iter()
                .flatten()
                .map(|f| f.json_path.trim_start_matches('.').to_string())
                .collect(),
        })
        .collect();
    ResourceType {
        group: spec.group.clone(),
        plural: names.plural.clone(),
        singular: names
            .singular
            .clone()
            .unwrap_or_else(|| names.kind.to_lowercase()),
        kind: names.kind.clone(),
        list_kind: names
            .list_kind
            .clone()
            .unwrap_or_else(|| format!("{}List", names.kind)),
        namespaced: spec.scope == "Namespaced",
        versions,
        builtin: None,
    }
}

/// All types served, indexed by position (the index is the storage key of a type).
#[derive(Debug, Clone)]
pub struct Registry {
    pub types: Vec<ResourceType>,
}

impl Registry {
    pub fn new(crds: &[CustomResourceDefinition]) -> Self {
        let mut types = builtins();
        types.extend(crds.iter().map(from_crd));
        Self { types }
    }

    /// Index of the type serving `group/version/plural`, if any.
    pub fn find(&self, group: &str, version: &str, plural: &str) -> Option<usize> {
        self.types
            .iter()
            .position(|t| t.group == group && t.plural == plural && t.version(version).is_some())
    }

    pub fn serves_group_version(&self, group: &str, version: &str) -> bool {
        self.types
            .iter()
            .any(|t| t.group == group && t.version(version).is_some())
    }

    pub fn index_of(&self, b: Builtin) -> usize {
        self.types
            .iter()
            .position(|t| t.builtin == Some(b))
            .expect("builtin registered")
    }
}
