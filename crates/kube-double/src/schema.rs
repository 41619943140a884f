//! Structural-schema handling of custom resources, as apiextensions-apiserver does on every
//! write: prune unknown fields, apply `default`s, then validate against `openAPIV3Schema` with
//! kube-openapi's error texts. Only the keywords in `SUPPORTED` are implemented; a CRD using
//! any other is refused by `check_supported` when the double is built.
//!
//! `x-kubernetes-validations` (CEL rules) are evaluated afterwards in `validate.rs`, with kube's
//! client-side CEL (kube-cel), once the object is structurally valid.

use serde_json::{Map, Value};

use super::meta::cached_regex;
use super::status::{FieldError, fmt_num};

const SUPPORTED: &[&str] = &[
    "type",
    "description",
    "title",
    "properties",
    "required",
    "additionalProperties",
    "items",
    "nullable",
    "default",
    "enum",
    "format",
    "minLength",
    "maxLength",
    "pattern",
    "minimum",
    "maximum",
    "minItems",
    "maxItems",
    "maxProperties",
    "x-kubernetes-list-type",
    "x-kubernetes-list-map-keys",
    "x-kubernetes-preserve-unknown-fields",
    "x-kubernetes-validations",
];

/// `Err(what)` when the schema uses something `process` does not implement.
pub fn check_supported(s: &Value, path: &str) -> Result<(), String> {
    let Value::Object(m) = s else {
        return Err(format!("a non-object schema at {path:?}"));
    };
    if let Some(k) = m.keys().find(|k| !SUPPORTED.contains(&k.as_str())) {
        return Err(format!("schema keyword {k:?} at {path:?}"));
    }
    let format = m.get("format").and_then(Value::as_str);
    if m.get("type") == Some(&Value::from("string")) && format.is_some_and(|f| f != "date-time") {
        // Formats of integers and numbers (int32, int64, double...) are not validated anyway.
        return Err(format!("string format {format:?} at {path:?}"));
    }
    for (key, sub) in m
        .get("properties")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        check_supported(sub, &join(path, key))?;
    }
    if let Some(items) = m.get("items") {
        check_supported(items, &format!("{path}[*]"))?;
    }
    if let Some(additional) = m.get("additionalProperties") {
        check_supported(additional, &join(path, "*"))?;
    }
    Ok(())
}

/// Prunes, defaults and validates a whole custom resource in place; returns the errors.
/// `apiVersion`, `kind` and `metadata` are kept at the root whatever the schema says.
pub fn process(schema: &Value, obj: &mut Value) -> Vec<FieldError> {
    let mut errs = vec![];
    walk(schema, obj, "", &mut errs, true);
    errs
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
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

fn type_error(path: &str, want: &str, v: &Value) -> FieldError {
    let have = type_name(v);
    FieldError::invalid(
        path,
        &Value::from(have),
        &format!("{path} in body must be of type {want}: \"{have}\""),
    )
}

fn walk(s: &Value, v: &mut Value, path: &str, errs: &mut Vec<FieldError>, root: bool) {
    let want = s.get("type").and_then(Value::as_str);
    if v.is_null() {
        if s.get("nullable") != Some(&Value::Bool(true)) {
            errs.push(type_error(path, want.unwrap_or("object"), v));
        }
        return;
    }
    if let Some(want) = want {
        let have = type_name(v);
        if have != want && !(want == "number" && have == "integer") {
            errs.push(type_error(path, want, v));
            return;
        }
    }
    match v {
        Value::Object(map) => walk_object(s, map, path, errs, root),
        Value::Array(items) => walk_array(s, items, path, errs),
        _ => {}
    }
    check_value(s, v, path, errs);
}

fn walk_object(
    s: &Value,
    map: &mut Map<String, Value>,
    path: &str,
    errs: &mut Vec<FieldError>,
    root: bool,
) {
    let props = s.get("properties").and_then(Value::as_object);
    let additional = s.get("additionalProperties");
    let preserve = s.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true));
    let keys: Vec<String> = map.keys().cloned().collect();
    for key in keys {
        if root && matches!(key.as_str(), "apiVersion" | "kind" | "metadata") {
            continue;
        }
        let child_path = join(path, &key);
        match props.and_then(|p| p.get(&key)).or(additional) {
            Some(sub) => {
                if map[&key].is_null() && sub.get("nullable") != Some(&Value::Bool(true)) {
                    // Non-nullable nulls are pruned (and then defaulted) by the real server.
                    map.remove(&key);
                    continue;
                }
                let child = map.get_mut(&key).expect("key present");
                walk(sub, child, &child_path, errs, false);
            }
            None if preserve => {}
            None => {
                map.remove(&key);
            }
        }
    }
    for (key, sub) in props.into_iter().flatten() {
        if !map.contains_key(key)
            && let Some(d) = sub.get("default")
        {
            let mut d = d.clone();
            walk(sub, &mut d, &join(path, key), &mut vec![], false);
            map.insert(key.clone(), d);
        }
    }
    for r in s
        .get("required")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let r = r.as_str().unwrap_or_default();
        if !map.contains_key(r) {
            errs.push(FieldError::required(&join(path, r), ""));
        }
    }
    let n = if root {
        map.keys()
            .filter(|k| !matches!(k.as_str(), "apiVersion" | "kind" | "metadata"))
            .count()
    } else {
        map.len()
    };
    if let Some(max) = s.get("maxProperties").and_then(Value::as_u64)
        && n as u64 > max
    {
        errs.push(FieldError::too_many(path, n, max as usize));
    }
}

fn walk_array(s: &Value, items: &mut [Value], path: &str, errs: &mut Vec<FieldError>) {
    if let Some(item_schema) = s.get("items") {
        for (i, item) in items.iter_mut().enumerate() {
            walk(item_schema, item, &format!("{path}[{i}]"), errs, false);
        }
    }
    let n = items.len();
    if let Some(max) = s.get("maxItems").and_then(Value::as_u64)
        && n as u64 > max
    {
        errs.push(FieldError::too_many(path, n, max as usize));
    }
    if let Some(min) = s.get("minItems").and_then(Value::as_u64)
        && (n as u64) < min
    {
        errs.push(FieldError::invalid(
            path,
            &Value::from(n),
            &format!("{path} in body should have at least {min} items"),
        ));
    }
    let map_keys: Vec<&str> = s
        .get("x-kubernetes-list-map-keys")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    // Items of a `set` are their own key; items of a `map` are keyed by the map keys.
    let key_of = |v: &Value| -> Value {
        match s.get("x-kubernetes-list-type").and_then(Value::as_str) {
            Some("set") => v.clone(),
            Some("map") => Value::Object(
                map_keys
                    .iter()
                    .map(|k| (k.to_string(), v[*k].clone()))
                    .collect(),
            ),
            _ => Value::Null,
        }
    };
    for (i, item) in items.iter().enumerate() {
        let key = key_of(item);
        if !key.is_null() && items[..i].iter().any(|o| key_of(o) == key) {
            errs.push(FieldError::duplicate(&format!("{path}[{i}]"), &key));
        }
    }
}

/// Scalar value validations: enum, string length, pattern and format, numeric bounds.
fn check_value(s: &Value, v: &Value, path: &str, errs: &mut Vec<FieldError>) {
    if let Some(allowed) = s.get("enum").and_then(Value::as_array)
        && !allowed
            .iter()
            .any(|a| a == v || a.as_f64().is_some_and(|a| v.as_f64() == Some(a)))
    {
        errs.push(FieldError::not_supported(path, v, allowed));
    }
    if let Value::String(st) = v {
        let chars = st.chars().count() as u64;
        if let Some(max) = s.get("maxLength").and_then(Value::as_u64)
            && chars > max
        {
            errs.push(FieldError::too_long(path, max as usize));
        }
        if let Some(min) = s.get("minLength").and_then(Value::as_u64)
            && chars < min
        {
            let msg = format!("{path} in body should be at least {min} chars long");
            errs.push(FieldError::invalid(path, v, &msg));
        }
        if let Some(p) = s.get("pattern").and_then(Value::as_str)
            && !cached_regex(p).is_some_and(|r| r.is_match(st))
        {
            let msg = format!("{path} in body should match '{p}'");
            errs.push(FieldError::invalid(path, v, &msg));
        }
        if s.get("format").and_then(Value::as_str) == Some("date-time")
            && st.parse::<k8s_openapi::jiff::Timestamp>().is_err()
        {
            let msg = format!("{path} in body must be of type date-time: {v}");
            errs.push(FieldError::invalid(path, v, &msg));
        }
    }
    if let Some(x) = v.as_f64() {
        if let Some(min) = s.get("minimum").and_then(Value::as_f64)
            && x < min
        {
            let msg = format!(
                "{path} in body should be greater than or equal to {}",
                fmt_num(min)
            );
            errs.push(FieldError::invalid(path, v, &msg));
        }
        if let Some(max) = s.get("maximum").and_then(Value::as_f64)
            && x > max
        {
            let msg = format!(
                "{path} in body should be less than or equal to {}",
                fmt_num(max)
            );
            errs.push(FieldError::invalid(path, v, &msg));
        }
    }
}
