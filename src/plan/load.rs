//! Reading the manifests `roleplane diff` and `roleplane import` are given: files, folders
//! (recursively, `.yaml`, `.yml` and `.json`) and `-` for stdin, split into documents. Roleplane's
//! kinds are checked against the schema of the CRDs this release generates, so a document the API
//! server would refuse is reported with the schema's own message (and its file and document
//! number) while the other documents are still planned.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use k8s_openapi::api::core::v1::{Namespace, Secret};
use kube::ResourceExt;
use serde::Deserialize;
use serde_json::Value;

use crate::crd::{ClusterProviderConfig, PermissionGroup, ProviderConfig, Role};

/// Where a document came from: its file (`-` for stdin) and its number in that file (from 1).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Origin {
    pub file: String,
    pub document: usize,
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (document {})", self.file, self.document)
    }
}

/// A document that cannot be used, and why.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Problem {
    #[serde(flatten)]
    pub origin: Origin,
    pub error: String,
}

/// A managed resource (Role or PermissionGroup) from the files.
#[derive(Clone, Debug)]
pub enum Resource {
    Role(Box<Role>),
    PermissionGroup(Box<PermissionGroup>),
}

impl Resource {
    pub fn kind(&self) -> &'static str {
        match self {
            Resource::Role(_) => "Role",
            Resource::PermissionGroup(_) => "PermissionGroup",
        }
    }

    pub fn name(&self) -> String {
        match self {
            Resource::Role(r) => r.name_any(),
            Resource::PermissionGroup(g) => g.name_any(),
        }
    }

    pub fn namespace(&self) -> String {
        match self {
            Resource::Role(r) => r.namespace(),
            Resource::PermissionGroup(g) => g.namespace(),
        }
        .unwrap_or_default()
    }

    pub fn managed(&self) -> &crate::crd::ManagedSpec {
        use crate::crd::Managed;
        match self {
            Resource::Role(r) => r.managed(),
            Resource::PermissionGroup(g) => g.managed(),
        }
    }
}

/// Everything read: the resources to plan, the configs, Secrets and Namespaces they may need,
/// and the documents that could not be used.
#[derive(Debug, Default)]
pub struct Loaded {
    pub resources: Vec<(Origin, Resource)>,
    /// By `namespace/name`.
    pub provider_configs: BTreeMap<String, ProviderConfig>,
    /// By name.
    pub cluster_provider_configs: BTreeMap<String, ClusterProviderConfig>,
    /// By `namespace/name`.
    pub secrets: BTreeMap<String, Secret>,
    /// Labels by namespace name.
    pub namespaces: BTreeMap<String, BTreeMap<String, String>>,
    pub problems: Vec<Problem>,
}

/// The documents of `paths`; namespaced objects without a namespace get `namespace`.
pub fn load(paths: &[String], namespace: &str, stdin: &mut dyn Read) -> Loaded {
    let schemas = Schemas::new();
    let mut loaded = Loaded::default();
    for path in paths {
        for (file, text) in read_path(path, stdin, &mut loaded.problems) {
            load_text(&schemas, &file, &text, namespace, &mut loaded);
        }
    }
    loaded
}

/// Reads one `-f` argument: stdin, a file, or every manifest file under a folder (sorted).
fn read_path(
    path: &str,
    stdin: &mut dyn Read,
    problems: &mut Vec<Problem>,
) -> Vec<(String, String)> {
    let fail = |problems: &mut Vec<Problem>, file: &str, error: String| {
        problems.push(Problem {
            origin: Origin {
                file: file.to_string(),
                document: 0,
            },
            error,
        })
    };
    if path == "-" {
        let mut text = String::new();
        return match stdin.read_to_string(&mut text) {
            Ok(_) => vec![("-".into(), text)],
            Err(e) => {
                fail(problems, "-", format!("cannot read stdin: {e}"));
                vec![]
            }
        };
    }
    let mut files = Vec::new();
    if let Err(e) = collect(Path::new(path), true, &mut files) {
        fail(problems, path, format!("cannot read: {e}"));
        return vec![];
    }
    files.sort();
    files
        .into_iter()
        .filter_map(|f| {
            let name = f.display().to_string();
            match std::fs::read_to_string(&f) {
                Ok(text) => Some((name, text)),
                Err(e) => {
                    fail(problems, &name, format!("cannot read: {e}"));
                    None
                }
            }
        })
        .collect()
}

fn collect(path: &Path, given: bool, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    if path.is_dir() {
        for entry in std::fs::read_dir(path)? {
            collect(&entry?.path(), false, out)?;
        }
    } else if given
        || path
            .extension()
            .is_some_and(|e| e == "yaml" || e == "yml" || e == "json")
    {
        // A file named on the command line is read whatever its name; in folders only manifests.
        std::fs::metadata(path)?;
        out.push(path.to_path_buf());
    }
    Ok(())
}

fn load_text(schemas: &Schemas, file: &str, text: &str, namespace: &str, loaded: &mut Loaded) {
    for (n, doc) in serde_yaml_ng::Deserializer::from_str(text).enumerate() {
        let origin = Origin {
            file: file.to_string(),
            document: n + 1,
        };
        match Value::deserialize(doc) {
            Ok(Value::Null) => {}
            Ok(body) => {
                if let Err(error) = classify(schemas, body, namespace, &origin, loaded) {
                    loaded.problems.push(Problem { origin, error });
                }
            }
            Err(e) => {
                // The parser cannot resynchronise after a syntax error: the rest of the file is lost.
                loaded.problems.push(Problem {
                    origin,
                    error: format!("not valid YAML: {e}; the rest of this file is skipped"),
                });
                break;
            }
        }
    }
}

/// Files the document under its kind, after the schema check for Roleplane's own kinds.
fn classify(
    schemas: &Schemas,
    mut body: Value,
    namespace: &str,
    origin: &Origin,
    loaded: &mut Loaded,
) -> Result<(), String> {
    let api_version = body["apiVersion"].as_str().unwrap_or_default().to_string();
    let kind = body["kind"].as_str().unwrap_or_default().to_string();
    if !body.is_object() || api_version.is_empty() || kind.is_empty() {
        return Err("not a Kubernetes object (apiVersion and kind are required)".into());
    }
    let name = body["metadata"]["name"].as_str().unwrap_or_default();
    if name.is_empty() {
        return Err(format!("{kind} without metadata.name"));
    }
    let name = name.to_string();
    let namespaced = kind != "ClusterProviderConfig" && kind != "Namespace";
    if namespaced
        && body["metadata"]["namespace"]
            .as_str()
            .is_none_or(str::is_empty)
    {
        body["metadata"]["namespace"] = namespace.into();
    }
    let ns = body["metadata"]["namespace"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    match (api_version.as_str(), kind.as_str()) {
        ("v1", "Secret") => {
            // Never echo a Secret's content: serde's messages quote the values they refuse.
            let secret: Secret = serde_json::from_value(body).map_err(|_| {
                format!("Secret {ns}/{name} is not a valid Secret (content not shown)")
            })?;
            loaded.secrets.insert(format!("{ns}/{name}"), secret);
        }
        ("v1", "Namespace") => {
            let n: Namespace =
                serde_json::from_value(body).map_err(|e| format!("Namespace {name}: {e}"))?;
            loaded
                .namespaces
                .insert(name, n.metadata.labels.unwrap_or_default());
        }
        (crate::plan::API_VERSION, _) => {
            schemas.check(&kind, &body, None)?;
            let typed = |e: serde_json::Error| format!("{kind} {name}: {e}");
            match kind.as_str() {
                "Role" => loaded.resources.push((
                    origin.clone(),
                    Resource::Role(Box::new(serde_json::from_value(body).map_err(typed)?)),
                )),
                "PermissionGroup" => loaded.resources.push((
                    origin.clone(),
                    Resource::PermissionGroup(Box::new(
                        serde_json::from_value(body).map_err(typed)?,
                    )),
                )),
                "ProviderConfig" => {
                    let pc = serde_json::from_value(body).map_err(typed)?;
                    loaded.provider_configs.insert(format!("{ns}/{name}"), pc);
                }
                "ClusterProviderConfig" => {
                    let cpc = serde_json::from_value(body).map_err(typed)?;
                    loaded.cluster_provider_configs.insert(name, cpc);
                }
                _ => unreachable!("Schemas::check accepts only Roleplane's kinds"),
            }
        }
        _ => {
            return Err(format!(
                "unknown kind {kind} ({api_version}): Roleplane plans Role and PermissionGroup, and reads ProviderConfig, ClusterProviderConfig, Secret and Namespace"
            ));
        }
    }
    Ok(())
}

/// The schemas of Roleplane's kinds, from the CRDs of this release: the structural schema and
/// its CEL rules (`x-kubernetes-validations`), both as the API server runs them.
pub struct Schemas {
    by_kind: BTreeMap<String, (Value, jsonschema::Validator)>,
}

impl Schemas {
    pub fn new() -> Self {
        let by_kind = crate::crd::all()
            .into_iter()
            .filter_map(|crd| {
                let kind = crd.spec.names.kind.clone();
                let schema = crd
                    .spec
                    .versions
                    .first()?
                    .schema
                    .as_ref()?
                    .open_api_v3_schema
                    .as_ref()?;
                let schema = serde_json::to_value(schema).ok()?;
                let validator = jsonschema::validator_for(&schema).ok()?;
                Some((kind, (schema, validator)))
            })
            .collect();
        Self { by_kind }
    }

    /// The schema's complaints about `body` (a whole object of `kind`), as one message. `old` is
    /// the object it would replace, for the rules that compare with it (immutable fields).
    pub fn check(&self, kind: &str, body: &Value, old: Option<&Value>) -> Result<(), String> {
        let (schema, validator) = self.by_kind.get(kind).ok_or_else(|| {
            format!(
                "unknown kind {kind} ({}): Roleplane's kinds are {}",
                crate::plan::API_VERSION,
                self.by_kind.keys().cloned().collect::<Vec<_>>().join(", ")
            )
        })?;
        let errors: Vec<String> = validator
            .iter_errors(body)
            .map(|e| {
                let path = e.instance_path().to_string();
                let path = path.trim_start_matches('/').replace('/', ".");
                if path.is_empty() {
                    e.to_string()
                } else {
                    format!("{path}: {e}")
                }
            })
            .collect();
        // CEL rules assume a structurally valid object: only run them on one.
        let errors = if errors.is_empty() {
            match kube::core::cel::Validator::new().validate(schema, body, old) {
                Ok(()) => vec![],
                Err(e) => e
                    .into_vec()
                    .into_iter()
                    .map(|e| match e.field_path.as_str() {
                        "" => e.message,
                        path => format!("{path}: {}", e.message),
                    })
                    .collect(),
            }
        } else {
            errors
        };
        if errors.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "{kind} {} is refused by the CRD schema: {}",
                body["metadata"]["name"].as_str().unwrap_or_default(),
                errors.join("; ")
            ))
        }
    }
}

impl Default for Schemas {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load_str(text: &str) -> Loaded {
        let mut loaded = Loaded::default();
        load_text(&Schemas::new(), "t.yaml", text, "default", &mut loaded);
        loaded
    }

    #[test]
    fn bad_documents_are_reported_by_number_and_the_rest_are_kept() {
        let loaded = load_str(
            r#"
apiVersion: roleplane.dev/v1alpha1
kind: Role
metadata: {name: ok}
spec: {providerConfigRef: {name: c}, name: Ok, statsig: {permissions: {createConfigs: true}}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
---
apiVersion: roleplane.dev/v1alpha1
kind: Role
metadata: {name: long}
spec: {providerConfigRef: {name: c}, name: "", statsig: {}}
---
apiVersion: roleplane.dev/v1alpha1
kind: Role
metadata: {name: two}
spec: {providerConfigRef: {name: c}, name: Two, statsig: {}, slashid: {}}
---
apiVersion: v1
kind: Secret
metadata: {name: s}
stringData: {apiKey: [not-a-string-TOPSECRET]}
"#,
        );
        assert_eq!(loaded.resources.len(), 1);
        assert_eq!(loaded.resources[0].1.namespace(), "default");
        let problems: Vec<(usize, &str)> = loaded
            .problems
            .iter()
            .map(|p| (p.origin.document, p.error.as_str()))
            .collect();
        assert_eq!(problems.len(), 4, "{problems:?}");
        assert_eq!(problems[0].0, 2);
        assert!(problems[0].1.contains("unknown kind Deployment"));
        assert_eq!(problems[1].0, 3);
        assert!(
            problems[1].1.contains("spec.name")
                && problems[1].1.contains("refused by the CRD schema"),
            "{}",
            problems[1].1
        );
        assert_eq!(problems[2].0, 4);
        assert!(
            problems[2].1.contains("set exactly one product block"),
            "the CEL rules run: {}",
            problems[2].1
        );
        assert_eq!(problems[3].0, 5);
        assert!(!problems[3].1.contains("TOPSECRET"));
    }

    #[test]
    fn unparsable_yaml_is_a_problem_not_a_panic() {
        let loaded = load_str("a: [unclosed\n---\nb: 1\n");
        assert_eq!(loaded.problems.len(), 1);
        assert!(loaded.problems[0].error.contains("not valid YAML"));
    }
}
