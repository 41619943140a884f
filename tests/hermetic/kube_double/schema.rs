//! Structural-schema handling of custom resources, as apiextensions-apiserver does on every
//! write: prune unknown fields, apply `default`s, then validate against `openAPIV3Schema`.
//!
//! `x-kubernetes-validations` (CEL rules) are evaluated afterwards in `validate.rs`, with kube's
//! client-side CEL (kube-cel), once the object is structurally valid.

use serde_json::{Map, Value};

use super::status::FieldError;
use super::values::check_value;

/// What processing found: validation errors and the paths of pruned (unknown) fields.
#[derive(Debug, Default)]
pub struct Outcome {
    pub errors: Vec<FieldError>,
    pub pruned: Vec<String>,
}

/// Prunes, defaults and validates a whole custom resource in place.
/// `apiVersion`, `kind` and `metadata` are kept at the root whatever the schema says.
pub fn process(schema: &Value, obj: &mut Value) -> Outcome {
    let mut out = Outcome::default();
    walk(schema, obj, "", &mut out, true);
    out
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

fn flag(s: &Value, key: &str) -> bool {
    s.get(key).and_then(Value::as_bool).unwrap_or(false)
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(n) if n.as_f64().is_some_and(|f| f.fract() == 0.0) => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn type_ok(want: &str, v: &Value) -> bool {
    let have = type_name(v);
    have == want || (want == "number" && have == "integer")
}

fn type_error(path: &str, want: &str, v: &Value) -> FieldError {
    let have = Value::from(type_name(v));
    FieldError::invalid(
        path,
        &have,
        &format!("{path} in body must be of type {want}: {}", have),
    )
}

fn walk(s: &Value, v: &mut Value, path: &str, out: &mut Outcome, root: bool) {
    if v.is_null() {
        if !flag(s, "nullable") {
            let want = s.get("type").and_then(Value::as_str).unwrap_or("object");
            out.errors.push(type_error(path, want, v));
        }
        return;
    }
    if flag(s, "x-kubernetes-int-or-string") {
        if !(v.is_string() || type_name(v) == "integer") {
            out.errors.push(type_error(path, "integer-or-string", v));
            return;
        }
    } else if let Some(want) = s.get("type").and_then(Value::as_str)
        && !type_ok(want, v)
    {
        out.errors.push(type_error(path, want, v));
        return;
    }
    match v {
        Value::Object(map) => walk_object(s, map, path, out, root),
        Value::Array(items) => walk_array(s, items, path, out),
        _ => {}
    }
    check_value(s, v, path, &mut out.errors);
    for key in ["allOf", "anyOf", "oneOf"] {
        if let Some(subs) = s.get(key).and_then(Value::as_array) {
            let passing = subs
                .iter()
                .filter(|sub| {
                    let mut probe = Outcome::default();
                    check_only(sub, v, path, &mut probe);
                    probe.errors.is_empty()
                })
                .count();
            let ok = match key {
                "allOf" => passing == subs.len(),
                "anyOf" => passing >= 1,
                _ => passing == 1,
            };
            if !ok {
                let what = match key {
                    "allOf" => "must validate all the schemas (allOf)",
                    "anyOf" => "must validate at least one schema (anyOf)",
                    _ => "must validate one and only one schema (oneOf)",
                };
                out.errors.push(FieldError::invalid(
                    path,
                    &Value::from(""),
                    &format!("{path} in body {what}"),
                ));
            }
        }
    }
    if let Some(not) = s.get("not") {
        let mut probe = Outcome::default();
        check_only(not, v, path, &mut probe);
        if probe.errors.is_empty() {
            out.errors.push(FieldError::invalid(
                path,
                &Value::from(""),
                &format!("{path} in body should not validate the given schema"),
            ));
        }
    }
}

/// Validation of a value against a sub-schema (allOf/anyOf/oneOf/not) without touching it.
fn check_only(s: &Value, v: &Value, path: &str, out: &mut Outcome) {
    let mut copy = v.clone();
    let mut sub = s.clone();
    // Value validations in junctors never prune: pretend unknown fields are preserved.
    if let Value::Object(m) = &mut sub {
        m.insert(
            "x-kubernetes-preserve-unknown-fields".into(),
            Value::Bool(true),
        );
    }
    walk(&sub, &mut copy, path, out, false);
}

fn walk_object(s: &Value, map: &mut Map<String, Value>, path: &str, out: &mut Outcome, root: bool) {
    let props = s.get("properties").and_then(Value::as_object);
    let additional = s.get("additionalProperties");
    let preserve = flag(s, "x-kubernetes-preserve-unknown-fields");
    let embedded = flag(s, "x-kubernetes-embedded-resource");
    let keep_meta = root || embedded;
    let keys: Vec<String> = map.keys().cloned().collect();
    for key in keys {
        if keep_meta && matches!(key.as_str(), "apiVersion" | "kind" | "metadata") {
            continue;
        }
        let child_path = join(path, &key);
        let sub = props.and_then(|p| p.get(&key)).or(match additional {
            Some(a) if a.is_object() => Some(a),
            _ => None,
        });
        match sub {
            Some(sub) => {
                if map[&key].is_null() && !flag(sub, "nullable") {
                    // Non-nullable nulls are pruned (and then defaulted) by the real server.
                    map.remove(&key);
                    continue;
                }
                walk(
                    sub,
                    map.get_mut(&key).expect("key present"),
                    &child_path,
                    out,
                    false,
                );
            }
            None if preserve || additional == Some(&Value::Bool(true)) => {}
            None => {
                map.remove(&key);
                out.pruned.push(child_path);
            }
        }
    }
    if let Some(props) = props {
        for (key, sub) in props {
            if !map.contains_key(key)
                && let Some(d) = sub.get("default")
            {
                let mut d = d.clone();
                walk(
                    sub,
                    &mut d,
                    &join(path, key),
                    &mut Outcome::default(),
                    false,
                );
                map.insert(key.clone(), d);
            }
        }
    }
    if let Some(req) = s.get("required").and_then(Value::as_array) {
        for r in req.iter().filter_map(Value::as_str) {
            if !map.contains_key(r) {
                out.errors.push(FieldError::required(&join(path, r), ""));
            }
        }
    }
    let n = map.len() - if root { count_meta(map) } else { 0 };
    if let Some(max) = s.get("maxProperties").and_then(Value::as_u64)
        && n as u64 > max
    {
        out.errors.push(FieldError::too_many(path, n, max as usize));
    }
    if let Some(min) = s.get("minProperties").and_then(Value::as_u64)
        && (n as u64) < min
    {
        out.errors.push(FieldError::invalid(
            path,
            &Value::from(n),
            &format!("{path} in body should have at least {min} properties"),
        ));
    }
}

fn count_meta(map: &Map<String, Value>) -> usize {
    ["apiVersion", "kind", "metadata"]
        .iter()
        .filter(|k| map.contains_key(**k))
        .count()
}

fn walk_array(s: &Value, items: &mut [Value], path: &str, out: &mut Outcome) {
    if let Some(item_schema) = s.get("items") {
        for (i, item) in items.iter_mut().enumerate() {
            walk(item_schema, item, &format!("{path}[{i}]"), out, false);
        }
    }
    let n = items.len();
    if let Some(max) = s.get("maxItems").and_then(Value::as_u64)
        && n as u64 > max
    {
        out.errors.push(FieldError::too_many(path, n, max as usize));
    }
    if let Some(min) = s.get("minItems").and_then(Value::as_u64)
        && (n as u64) < min
    {
        out.errors.push(FieldError::invalid(
            path,
            &Value::from(n),
            &format!("{path} in body should have at least {min} items"),
        ));
    }
    match s.get("x-kubernetes-list-type").and_then(Value::as_str) {
        Some("set") => {
            for (i, item) in items.iter().enumerate() {
                if items[..i].contains(item) {
                    out.errors
                        .push(FieldError::duplicate(&format!("{path}[{i}]"), item));
                }
            }
        }
        Some("map") => {
            let keys: Vec<&str> = s
                .get("x-kubernetes-list-map-keys")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            let key_of = |v: &Value| keys.iter().map(|k| v[*k].clone()).collect::<Vec<_>>();
            for (i, item) in items.iter().enumerate() {
                if items[..i].iter().any(|o| key_of(o) == key_of(item)) {
                    let shown: Map<String, Value> = keys
                        .iter()
                        .map(|k| (k.to_string(), item[*k].clone()))
                        .collect();
                    out.errors.push(FieldError::duplicate(
                        &format!("{path}[{i}]"),
                        &Value::Object(shown),
                    ));
                }
            }
        }
        _ => {}
    }
}
