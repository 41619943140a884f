//! Checks request bodies the operator sent against the official OpenAPI descriptions in
//! `tests/openapi/`. OpenAPI 3.0 schemas are turned into JSON Schema (`nullable`, boolean
//! exclusive bounds) and validated with `$ref`s resolved inside the same document.

use std::path::PathBuf;

use serde_json::{Map, Value};

pub struct OpenApi {
    name: String,
    doc: Value,
}

impl OpenApi {
    /// Loads `tests/openapi/<file>` (JSON or YAML).
    pub fn load(file: &str) -> Self {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/openapi")
            .join(file);
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
        let mut doc: Value = if file.ends_with(".json") {
            serde_json::from_str(&text).expect("valid JSON spec")
        } else {
            serde_yaml_ng::from_str(&text).expect("valid YAML spec")
        };
        convert(&mut doc);
        Self {
            name: file.to_string(),
            doc,
        }
    }

    /// The request-body schema of `method` on the spec path that matches `path` (a concrete path
    /// relative to the spec's paths, e.g. `/console/v1/roles/My%20Role`).
    fn request_schema(&self, method: &str, path: &str) -> Result<Value, String> {
        let paths = self.doc["paths"].as_object().ok_or("spec has no paths")?;
        let (template, item) = paths
            .iter()
            .find(|(t, _)| matches_template(t, path))
            .ok_or_else(|| format!("{}: no path matches {path}", self.name))?;
        let op = item
            .get(method.to_ascii_lowercase())
            .ok_or_else(|| format!("{}: {template} has no {method}", self.name))?;
        let content = op["requestBody"]["content"]
            .as_object()
            .ok_or_else(|| format!("{}: {method} {template} takes no body", self.name))?;
        let media = content
            .get("application/json")
            .or_else(|| content.values().next())
            .ok_or("no media type")?;
        Ok(media["schema"].clone())
    }

    /// Validates `body` as the request body of `method path`.
    pub fn validate_request(&self, method: &str, path: &str, body: &Value) -> Result<(), String> {
        let schema = self.request_schema(method, path)?;
        let mut root = match schema {
            Value::Object(m) => m,
            other => return Err(format!("unexpected schema {other}")),
        };
        root.insert("components".into(), self.doc["components"].clone());
        let validator = jsonschema::options()
            .with_draft(jsonschema::Draft::Draft4)
            .build(&Value::Object(root))
            .map_err(|e| format!("{}: schema does not compile: {e}", self.name))?;
        let errors: Vec<String> = validator
            .iter_errors(body)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "{}: {method} {path}: {}",
                self.name,
                errors.join("; ")
            ))
        }
    }

    /// Validates every recorded request that has a JSON body; panics naming the first failure.
    pub fn assert_bodies(&self, requests: &[roleplane::sim::RecordedRequest], strip_prefix: &str) {
        let mut checked = 0;
        for r in requests {
            let Some(body) = &r.body else { continue };
            if !(200..300).contains(&r.status) && r.status != 404 && r.status != 409 {
                continue;
            }
            let path = r.path.strip_prefix(strip_prefix).unwrap_or(&r.path);
            if let Err(e) = self.validate_request(&r.method, path, body) {
                panic!("request rejected by the official OpenAPI description: {e}\nbody: {body}");
            }
            checked += 1;
        }
        assert!(
            checked > 0,
            "no request bodies were checked against {}",
            self.name
        );
    }
}

fn matches_template(template: &str, path: &str) -> bool {
    let t: Vec<&str> = template.trim_end_matches('/').split('/').collect();
    let p: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    t.len() == p.len()
        && t.iter()
            .zip(&p)
            .all(|(t, p)| (t.starts_with('{') && t.ends_with('}') && !p.is_empty()) || t == p)
}

/// OpenAPI 3.0 → JSON Schema draft 4: `nullable: true` admits null.
fn convert(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for v in map.values_mut() {
                convert(v);
            }
            if map.get("nullable") == Some(&Value::Bool(true)) {
                map.remove("nullable");
                match map.get_mut("type") {
                    Some(Value::String(t)) => {
                        let t = t.clone();
                        map.insert(
                            "type".into(),
                            Value::Array(vec![Value::String(t), "null".into()]),
                        );
                        if let Some(Value::Array(e)) = map.get_mut("enum") {
                            e.push(Value::Null);
                        }
                    }
                    _ => {
                        let inner = Value::Object(std::mem::take(map));
                        let mut any = Map::new();
                        any.insert(
                            "anyOf".into(),
                            Value::Array(vec![inner, serde_json::json!({"type": "null"})]),
                        );
                        *map = any;
                    }
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(convert),
        _ => {}
    }
}

#[test]
fn statsig_spec_accepts_a_role_and_rejects_a_bad_one() {
    let spec = OpenApi::load("statsig-console.json");
    let good = serde_json::json!({"name": "r", "permissions": {"create_configs": true}});
    spec.validate_request("POST", "/console/v1/roles", &good)
        .unwrap();
    let bad = serde_json::json!({"name": 5, "permissions": {"create_configs": "yes"}});
    assert!(
        spec.validate_request("POST", "/console/v1/roles", &bad)
            .is_err()
    );
    let patch = serde_json::json!({"permissions": {"create_configs": false}});
    spec.validate_request("PATCH", "/console/v1/roles/My%20Role", &patch)
        .unwrap();
}
