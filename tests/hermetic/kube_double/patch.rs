//! Patch formats: JSON merge patch (RFC 7386), JSON patch (RFC 6902, via `json-patch`) and
//! strategic merge patch for the built-in kinds served here.

use serde_json::{Map, Value};

use super::status::ApiError;

/// RFC 7386: objects merge recursively, `null` deletes, everything else replaces.
pub fn merge(target: &mut Value, patch: &Value) {
    match patch {
        Value::Object(p) => {
            if !target.is_object() {
                *target = Value::Object(Map::new());
            }
            let t = target.as_object_mut().expect("object");
            for (k, v) in p {
                if v.is_null() {
                    t.remove(k);
                } else {
                    merge(t.entry(k.clone()).or_insert(Value::Null), v);
                }
            }
        }
        other => *target = other.clone(),
    }
}

pub fn json_patch(target: &mut Value, body: &[u8]) -> Result<(), ApiError> {
    let patch: json_patch::Patch = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("error decoding patch: {e}")))?;
    for op in patch.0 {
        // Like kube-apiserver's json-patch, `test` of `null` also passes for a missing path.
        if let json_patch::PatchOperation::Test(t) = &op
            && t.value.is_null()
        {
            let actual = target.pointer(t.path.as_str());
            if actual.is_none_or(Value::is_null) {
                continue;
            }
            return Err(ApiError::patch_unprocessable(&format!(
                "testing value {} failed: test failed",
                t.path.as_str()
            )));
        }
        json_patch::patch(target, &[op])
            .map_err(|e| ApiError::patch_unprocessable(&e.to_string()))?;
    }
    Ok(())
}

/// Merge keys of the lists of the built-in kinds served here (all other lists are atomic).
fn merge_key(path: &str) -> Option<&'static str> {
    match path {
        "metadata.ownerReferences" => Some("uid"),
        "metadata.managedFields" => None,
        _ => None,
    }
}

fn is_set_list(path: &str) -> bool {
    matches!(path, "metadata.finalizers" | "spec.finalizers")
}

/// Strategic merge patch with the directives clients send (`$patch`, `$retainKeys`,
/// `$deleteFromPrimitiveList/...`, `$setElementOrder/...`) for the built-in kinds.
pub fn strategic(target: &mut Value, patch: &Value) -> Result<(), ApiError> {
    smp(target, patch, "")
}

fn smp(target: &mut Value, patch: &Value, path: &str) -> Result<(), ApiError> {
    let Value::Object(p) = patch else {
        *target = patch.clone();
        return Ok(());
    };
    match p.get("$patch").and_then(Value::as_str) {
        Some("replace") => {
            let mut clean = p.clone();
            clean.remove("$patch");
            *target = Value::Object(clean);
            return Ok(());
        }
        Some("delete") => {
            *target = Value::Null;
            return Ok(());
        }
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "unknown patch type: {other}"
            )));
        }
        None => {}
    }
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let retain: Option<Vec<String>> = p.get("$retainKeys").and_then(Value::as_array).map(|a| {
        a.iter()
            .filter_map(|v| v.as_str().map(String::from))
            .collect()
    });
    let t = target.as_object_mut().expect("object");
    if let Some(keep) = retain {
        t.retain(|k, _| keep.contains(k));
    }
    for (k, v) in p {
        if k == "$retainKeys" || k.starts_with("$setElementOrder/") {
            continue;
        }
        if let Some(list) = k.strip_prefix("$deleteFromPrimitiveList/") {
            if let (Some(Value::Array(cur)), Some(del)) = (t.get_mut(list), v.as_array()) {
                cur.retain(|x| !del.contains(x));
            }
            continue;
        }
        let child = if path.is_empty() {
            k.clone()
        } else {
            format!("{path}.{k}")
        };
        if v.is_null() {
            t.remove(k);
            continue;
        }
        match (t.get_mut(k), v) {
            (Some(Value::Array(cur)), Value::Array(items)) if is_set_list(&child) => {
                for it in items {
                    if !cur.contains(it) {
                        cur.push(it.clone());
                    }
                }
            }
            (Some(Value::Array(cur)), Value::Array(items)) if merge_key(&child).is_some() => {
                let key = merge_key(&child).expect("merge key");
                for it in items {
                    let directive = it.get("$patch").and_then(Value::as_str);
                    let pos = cur.iter().position(|c| c[key] == it[key]);
                    match (pos, directive) {
                        (Some(i), Some("delete")) => {
                            cur.remove(i);
                        }
                        (Some(i), _) => smp(&mut cur[i], it, &child)?,
                        (None, Some("delete")) => {}
                        (None, _) => cur.push(it.clone()),
                    }
                }
            }
            (Some(cur @ Value::Object(_)), Value::Object(_)) => {
                smp(cur, v, &child)?;
                if cur.is_null() {
                    t.remove(k);
                }
            }
            _ => {
                let mut fresh = Value::Null;
                smp(&mut fresh, v, &child)?;
                if fresh.is_null() {
                    t.remove(k);
                } else {
                    t.insert(k.clone(), fresh);
                }
            }
        }
    }
    Ok(())
}
