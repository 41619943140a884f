//! Object metadata: timestamps, uids, ObjectMeta pruning and the apimachinery ObjectMeta
//! validation (names, labels, annotations, finalizers).

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use rand::Rng;
use serde_json::{Map, Value};

use super::status::{ApiError, FieldError};

pub fn now() -> String {
    let ts = k8s_openapi::jiff::Timestamp::now();
    k8s_openapi::jiff::Timestamp::from_second(ts.as_second())
        .expect("valid time")
        .to_string()
}

pub fn new_uid() -> String {
    let b: [u8; 16] = rand::rng().random();
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-4{}-a{}-{}",
        &h[0..8],
        &h[8..12],
        &h[13..16],
        &h[17..20],
        &h[20..32]
    )
}

pub fn meta_mut(obj: &mut Value) -> &mut Map<String, Value> {
    if !obj["metadata"].is_object() {
        obj["metadata"] = Value::Object(Map::new());
    }
    obj["metadata"].as_object_mut().expect("metadata object")
}
pub fn meta_str<'a>(obj: &'a Value, key: &str) -> Option<&'a str> {
    obj["metadata"][key].as_str().filter(|s| !s.is_empty())
}
pub fn finalizers(obj: &Value) -> Vec<String> {
    obj["metadata"]["finalizers"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

/// Decodes metadata as `ObjectMeta` (dropping unknown fields, like the real decoder) and
/// re-encodes it; Go's `omitempty` drops empty strings, maps and lists.
pub fn normalize_meta(obj: &mut Value) -> Result<(), ApiError> {
    let raw = obj
        .get("metadata")
        .cloned()
        .unwrap_or(Value::Object(Map::new()));
    if !raw.is_object() {
        return Err(ApiError::bad_request(
            "metadata: expected an object for ObjectMeta".to_string(),
        ));
    }
    let om: ObjectMeta = serde_json::from_value(raw)
        .map_err(|e| ApiError::bad_request(format!("unable to decode metadata: {e}")))?;
    let mut v = serde_json::to_value(om).expect("ObjectMeta serializes");
    if let Value::Object(m) = &mut v {
        m.retain(|_, x| !is_empty(x));
    }
    obj["metadata"] = v;
    Ok(())
}

/// Metadata the double does not implement (after `normalize_meta`): 501.
pub fn check_supported(obj: &Value) -> Result<(), ApiError> {
    if meta_str(obj, "generateName").is_some() {
        return Err(ApiError::unsupported("metadata.generateName"));
    }
    if obj["metadata"].get("ownerReferences").is_some() {
        return Err(ApiError::unsupported(
            "metadata.ownerReferences (there is no garbage collector)",
        ));
    }
    Ok(())
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        _ => false,
    }
}

const DNS1123_LABEL: &str = "[a-z0-9]([-a-z0-9]*[a-z0-9])?";
const QUALIFIED_NAME: &str = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]";
const LABEL_VALUE: &str = "(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?";

/// Compiled regexes, cached per thread (schemas and name rules reuse a handful). Shared, not
/// cloned: a cloned `Regex` starts with empty matching caches and rebuilds its automaton.
pub fn cached_regex(pattern: &str) -> Option<std::rc::Rc<regex::Regex>> {
    type Cache = std::collections::HashMap<String, Option<std::rc::Rc<regex::Regex>>>;
    thread_local! {
        static CACHE: std::cell::RefCell<Cache> = Default::default();
    }
    CACHE.with(|c| {
        c.borrow_mut()
            .entry(pattern.to_string())
            .or_insert_with(|| regex::Regex::new(pattern).ok().map(std::rc::Rc::new))
            .clone()
    })
}

fn full_match(re: &str, s: &str) -> bool {
    cached_regex(&format!("^(?:{re})$")).is_some_and(|r| r.is_match(s))
}

pub fn dns_subdomain_errors(s: &str) -> Vec<String> {
    let mut out = vec![];
    if s.len() > 253 {
        out.push("must be no more than 253 characters".to_string());
    }
    let re = format!("{DNS1123_LABEL}(\\.{DNS1123_LABEL})*");
    if !full_match(&re, s) {
        out.push(format!("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '{re}')"));
    }
    out
}

pub fn dns_label_errors(s: &str) -> Vec<String> {
    let mut out = vec![];
    if s.len() > 63 {
        out.push("must be no more than 63 characters".to_string());
    }
    if !full_match(DNS1123_LABEL, s) {
        out.push(format!("a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '{DNS1123_LABEL}')"));
    }
    out
}

pub fn qualified_name_errors(s: &str) -> Vec<String> {
    let (prefix, name) = match s.split_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, s),
    };
    let mut out = vec![];
    if let Some(p) = prefix {
        if p.is_empty() {
            out.push("prefix part must be non-empty".to_string());
        } else {
            out.extend(
                dns_subdomain_errors(p)
                    .into_iter()
                    .map(|m| format!("prefix part {m}")),
            );
        }
    }
    if name.is_empty() {
        out.push("name part must be non-empty".to_string());
    } else {
        if name.len() > 63 {
            out.push("name part must be no more than 63 characters".to_string());
        }
        if !full_match(QUALIFIED_NAME, name) {
            out.push(format!("name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '{QUALIFIED_NAME}')"));
        }
    }
    out
}

pub fn label_value_errors(s: &str) -> Vec<String> {
    let mut out = vec![];
    if s.len() > 63 {
        out.push("must be no more than 63 characters".to_string());
    }
    if !full_match(LABEL_VALUE, s) {
        out.push(format!("a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '{LABEL_VALUE}')"));
    }
    out
}

/// How a kind validates `metadata.name`.
#[derive(Clone, Copy)]
pub enum NameRule {
    DnsSubdomain,
    DnsLabel,
}

/// apimachinery `ValidateObjectMeta`: name, labels, annotations and finalizers.
pub fn validate_meta(obj: &Value, rule: NameRule) -> Vec<FieldError> {
    let m = &obj["metadata"];
    let mut errs = vec![];
    let name = m["name"].as_str().unwrap_or("");
    if name.is_empty() {
        errs.push(FieldError::required(
            "metadata.name",
            "name or generateName is required",
        ));
    } else {
        let msgs = match rule {
            NameRule::DnsSubdomain => dns_subdomain_errors(name),
            NameRule::DnsLabel => dns_label_errors(name),
        };
        for msg in msgs {
            errs.push(FieldError::invalid(
                "metadata.name",
                &Value::from(name),
                &msg,
            ));
        }
    }
    if let Some(labels) = m["labels"].as_object() {
        for (k, v) in labels {
            for msg in qualified_name_errors(k) {
                errs.push(FieldError::invalid(
                    "metadata.labels",
                    &Value::from(k.as_str()),
                    &msg,
                ));
            }
            let v = v.as_str().unwrap_or("");
            for msg in label_value_errors(v) {
                errs.push(FieldError::invalid(
                    "metadata.labels",
                    &Value::from(v),
                    &msg,
                ));
            }
        }
    }
    if let Some(ann) = m["annotations"].as_object() {
        let mut total = 0;
        for (k, v) in ann {
            total += k.len() + v.as_str().map_or(0, str::len);
            for msg in qualified_name_errors(&k.to_lowercase()) {
                errs.push(FieldError::invalid(
                    "metadata.annotations",
                    &Value::from(k.as_str()),
                    &msg,
                ));
            }
        }
        if total > 256 * 1024 {
            errs.push(FieldError::too_long("metadata.annotations", 256 * 1024));
        }
    }
    for (i, f) in finalizers(obj).iter().enumerate() {
        for msg in qualified_name_errors(f) {
            errs.push(FieldError::invalid(
                &format!("metadata.finalizers[{i}]"),
                &Value::from(f.as_str()),
                &msg,
            ));
        }
    }
    errs
}
