//! Built-in kinds: typed decoding (through k8s-openapi, which drops unknown fields and rejects
//! wrong types like the real decoder), defaulting and the kube-apiserver validation rules of
//! Namespace, Secret (Opaque only), events.k8s.io/v1 Event, Lease and
//! apiextensions.k8s.io/v1 CustomResourceDefinition (its name rule; the schema rules the double
//! enforces on custom resources are checked when it is created, see `registry::try_from_crd`).

use base64::Engine;
use serde::{Serialize, de::DeserializeOwned};
use serde_json::{Value, json};

use super::meta::{self, NameRule, dns_subdomain_errors, qualified_name_errors};
use super::registry::Builtin;
use super::status::{ApiError, FieldError};

fn roundtrip<T: DeserializeOwned + Serialize>(obj: &Value, kind: &str) -> Result<Value, ApiError> {
    let typed: T = typed(obj, kind)?;
    Ok(serde_json::to_value(typed).expect("typed object serializes"))
}

/// `obj` as the typed struct (400 as the real decoder answers when it does not fit).
pub fn typed<T: DeserializeOwned>(obj: &Value, kind: &str) -> Result<T, ApiError> {
    serde_json::from_value(obj.clone()).map_err(|e| {
        ApiError::bad_request(format!(
            "{kind} in version \"v1\" cannot be handled as a {kind}: {e}"
        ))
    })
}

/// Decodes into the typed struct and back: unknown fields vanish, wrong types fail (400).
pub fn decode(b: Builtin, obj: &Value) -> Result<Value, ApiError> {
    use k8s_openapi::api::{coordination, core, events};
    let mut v = match b {
        Builtin::Namespace => roundtrip::<core::v1::Namespace>(obj, "Namespace")?,
        Builtin::Secret => roundtrip::<core::v1::Secret>(obj, "Secret")?,
        Builtin::Event => roundtrip::<events::v1::Event>(obj, "Event")?,
        Builtin::Lease => roundtrip::<coordination::v1::Lease>(obj, "Lease")?,
        Builtin::CustomResourceDefinition => {
            use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1 as ext;
            roundtrip::<ext::CustomResourceDefinition>(obj, "CustomResourceDefinition")?
        }
    };
    // Go's omitempty: empty maps/lists at the top level are not serialized.
    if let Value::Object(m) = &mut v {
        m.retain(|k, x| k == "metadata" || !is_empty_container(x));
    }
    Ok(v)
}

fn is_empty_container(v: &Value) -> bool {
    matches!(v, Value::Null)
        || v.as_object().is_some_and(|o| o.is_empty())
        || v.as_array().is_some_and(|a| a.is_empty())
}

/// Conversions the real server does on every write of a versioned object.
pub fn prepare(b: Builtin, obj: &mut Value, creating: bool) {
    match b {
        Builtin::Secret => {
            if let Some(Value::Object(sd)) =
                obj.as_object_mut().and_then(|m| m.remove("stringData"))
            {
                if !obj["data"].is_object() {
                    obj["data"] = json!({});
                }
                for (k, v) in sd {
                    let s = v.as_str().unwrap_or_default();
                    obj["data"][k] =
                        Value::from(base64::engine::general_purpose::STANDARD.encode(s));
                }
            }
            if obj["type"].as_str().unwrap_or("").is_empty() {
                obj["type"] = Value::from("Opaque");
            }
        }
        Builtin::Namespace => {
            if creating {
                obj["spec"] = json!({"finalizers": ["kubernetes"]});
                obj["status"] = json!({"phase": "Active"});
            }
            let name = obj["metadata"]["name"].clone();
            if name.is_string() {
                if !obj["metadata"]["labels"].is_object() {
                    obj["metadata"]["labels"] = json!({});
                }
                obj["metadata"]["labels"]["kubernetes.io/metadata.name"] = name;
            }
        }
        // Established at once (kube-apiserver's naming and establishing controllers take a
        // moment; clients wait for the condition either way).
        Builtin::CustomResourceDefinition if creating => {
            let now = meta::now();
            let condition = |type_: &str, reason: &str, message: &str| {
                json!({"type": type_, "status": "True", "lastTransitionTime": now,
                       "reason": reason, "message": message})
            };
            let stored: Vec<Value> = obj["spec"]["versions"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|v| v["storage"] == true)
                .map(|v| v["name"].clone())
                .collect();
            obj["status"] = json!({
                "conditions": [
                    condition("NamesAccepted", "NoConflicts", "no conflicts found"),
                    condition("Established", "InitialNamesAccepted", "the initial names have been accepted"),
                ],
                "acceptedNames": obj["spec"]["names"],
                "storedVersions": stored,
            });
        }
        _ => {}
    }
}

pub fn name_rule(b: Builtin) -> NameRule {
    match b {
        Builtin::Namespace => NameRule::DnsLabel,
        _ => NameRule::DnsSubdomain,
    }
}

fn s<'a>(v: &'a Value, k: &str) -> &'a str {
    v[k].as_str().unwrap_or("")
}

const KEY_RE_MSG: &str = "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')";

/// Secret rules for the one type served: keys and total size of `data`.
fn validate_secret(obj: &Value, errs: &mut Vec<FieldError>) {
    let mut size = 0;
    for (k, v) in obj["data"].as_object().into_iter().flatten() {
        let ok = !k.is_empty()
            && k.len() <= 253
            && k.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-._".contains(c));
        if !ok {
            let field = format!("data[{k}]");
            errs.push(FieldError::invalid(
                &field,
                &Value::from(k.as_str()),
                KEY_RE_MSG,
            ));
        }
        let decoded = base64::engine::general_purpose::STANDARD.decode(v.as_str().unwrap_or(""));
        size += decoded.map_or(0, |b| b.len());
    }
    if size > 1024 * 1024 {
        errs.push(FieldError::too_long("data", 1024 * 1024));
    }
}

/// What the double does not implement for built-ins (501): typed and immutable Secrets.
pub fn check_supported(b: Builtin, obj: &Value) -> Result<(), ApiError> {
    if b == Builtin::Secret && obj["type"] != "Opaque" {
        return Err(ApiError::unsupported(format!(
            "Secret type {}",
            obj["type"]
        )));
    }
    if b == Builtin::Secret && obj["immutable"] == true {
        return Err(ApiError::unsupported("an immutable Secret"));
    }
    Ok(())
}

/// Kind-specific create/update validation. `old` is the stored object on updates.
pub fn validate(b: Builtin, obj: &Value, old: Option<&Value>) -> Vec<FieldError> {
    let mut errs = vec![];
    match b {
        Builtin::Secret => validate_secret(obj, &mut errs),
        Builtin::Lease => {
            let spec = &obj["spec"];
            if spec["leaseDurationSeconds"]
                .as_i64()
                .is_some_and(|d| d <= 0)
            {
                errs.push(FieldError::invalid(
                    "spec.leaseDurationSeconds",
                    &spec["leaseDurationSeconds"],
                    "must be greater than 0",
                ));
            }
            if spec["leaseTransitions"].as_i64().is_some_and(|d| d < 0) {
                errs.push(FieldError::invalid(
                    "spec.leaseTransitions",
                    &spec["leaseTransitions"],
                    "must be greater than or equal to 0",
                ));
            }
            if spec["strategy"].is_string() && spec["strategy"] != "OldestEmulationVersion" {
                errs.push(FieldError::not_supported(
                    "spec.strategy",
                    &spec["strategy"],
                    &[Value::from("OldestEmulationVersion")],
                ));
            }
            if !s(spec, "preferredHolder").is_empty() && s(spec, "strategy").is_empty() {
                errs.push(FieldError::forbidden(
                    "spec.preferredHolder",
                    "may only be specified if `strategy` is defined",
                ));
            }
        }
        Builtin::Event => validate_event(obj, old, &mut errs),
        Builtin::Namespace => {}
        Builtin::CustomResourceDefinition => validate_crd(obj, &mut errs),
    }
    errs
}

/// The apiextensions rules a CRD the double serves can break (`ValidateCustomResourceDefinition`):
/// its name, group, scope, names and storage version.
fn validate_crd(obj: &Value, errs: &mut Vec<FieldError>) {
    let spec = &obj["spec"];
    let names = &spec["names"];
    let want = format!("{}.{}", s(names, "plural"), s(spec, "group"));
    let name = s(&obj["metadata"], "name");
    if name != want {
        errs.push(FieldError::invalid(
            "metadata.name",
            &Value::from(name),
            "must be spec.names.plural+\".\"+spec.group",
        ));
    }
    let group = s(spec, "group");
    if group.is_empty() {
        errs.push(FieldError::required("spec.group", ""));
    } else if !group.contains('.') {
        errs.push(FieldError::invalid(
            "spec.group",
            &Value::from(group),
            "should be a domain with at least one dot",
        ));
    }
    let scope = &spec["scope"];
    if scope != "Namespaced" && scope != "Cluster" {
        errs.push(FieldError::not_supported(
            "spec.scope",
            scope,
            &[Value::from("Cluster"), Value::from("Namespaced")],
        ));
    }
    for field in ["plural", "singular"] {
        let v = s(names, field);
        if field == "plural" && v.is_empty() {
            errs.push(FieldError::required("spec.names.plural", ""));
        }
        if !v.is_empty() {
            for msg in meta::dns_label_errors(v) {
                let path = format!("spec.names.{field}");
                errs.push(FieldError::invalid(&path, &Value::from(v), &msg));
            }
        }
    }
    if s(names, "kind").is_empty() {
        errs.push(FieldError::required("spec.names.kind", ""));
    }
    let versions = spec["versions"].as_array().map_or(&[][..], Vec::as_slice);
    if versions.is_empty() {
        errs.push(FieldError::required(
            "spec.versions",
            "must have exactly one version marked as storage version",
        ));
    } else if versions.iter().filter(|v| v["storage"] == true).count() != 1 {
        errs.push(FieldError::invalid(
            "spec.versions",
            &spec["versions"],
            "must have exactly one version marked as storage version",
        ));
    }
}

/// events.k8s.io/v1 rules (`ValidateEventCreate`/`ValidateEventUpdate` for the v1 API).
fn validate_event(obj: &Value, old: Option<&Value>, errs: &mut Vec<FieldError>) {
    let ns = s(&obj["metadata"], "namespace");
    let regarding_ns = s(&obj["regarding"], "namespace");
    if regarding_ns.is_empty() && ns != "default" && ns != "kube-system" {
        errs.push(FieldError::invalid(
            "involvedObject.namespace",
            &Value::from(""),
            "does not match event.namespace",
        ));
    }
    let controller = s(obj, "reportingController");
    if controller.is_empty() {
        errs.push(FieldError::required("reportingController", ""));
    }
    for msg in qualified_name_errors(controller) {
        let value = Value::from(controller);
        errs.push(FieldError::invalid("reportingController", &value, &msg));
    }
    for (field, limit) in [("reportingInstance", 128), ("action", 128), ("reason", 128)] {
        let v = s(obj, field);
        if v.is_empty() {
            errs.push(FieldError::required(field, ""));
        }
        if v.len() > limit {
            let msg = format!("can have at most {limit} characters");
            errs.push(FieldError::invalid(field, &Value::from(""), &msg));
        }
    }
    if s(obj, "note").len() > 1024 {
        let msg = "can have at most 1024 characters";
        errs.push(FieldError::invalid("note", &Value::from(""), msg));
    }
    for msg in dns_subdomain_errors(ns) {
        errs.push(FieldError::invalid("namespace", &Value::from(ns), &msg));
    }
    let series_changed = old.is_none_or(|o| o["series"] != obj["series"]);
    if series_changed && obj["series"].is_object() {
        if obj["series"]["count"].as_i64().unwrap_or(0) < 2 {
            errs.push(FieldError::invalid(
                "series.count",
                &Value::from(""),
                "should be at least 2",
            ));
        }
        if s(&obj["series"], "lastObservedTime").is_empty() {
            errs.push(FieldError::required("series.lastObservedTime", ""));
        }
    }
    match old {
        None => {
            if s(obj, "eventTime").is_empty() {
                errs.push(FieldError::required("eventTime", ""));
            }
            let ty = s(obj, "type");
            if ty != "Normal" && ty != "Warning" {
                errs.push(FieldError::invalid(
                    "type",
                    &Value::from(""),
                    &format!("has invalid value: {ty}"),
                ));
            }
            for (f, label) in [
                ("deprecatedFirstTimestamp", "firstTimestamp"),
                ("deprecatedLastTimestamp", "lastTimestamp"),
                ("deprecatedCount", "count"),
                ("deprecatedSource", "source"),
            ] {
                if !obj[f].is_null() {
                    errs.push(FieldError::invalid(
                        label,
                        &Value::from(""),
                        "needs to be unset",
                    ));
                }
            }
        }
        Some(old) => {
            for (f, label) in [
                ("regarding", "involvedObject"),
                ("reason", "reason"),
                ("note", "message"),
                ("deprecatedSource", "source"),
                ("deprecatedFirstTimestamp", "firstTimestamp"),
                ("deprecatedLastTimestamp", "lastTimestamp"),
                ("deprecatedCount", "count"),
                ("type", "type"),
                ("eventTime", "eventTime"),
                ("action", "action"),
                ("related", "related"),
                ("reportingController", "reportingController"),
                ("reportingInstance", "reportingInstance"),
            ] {
                if obj[f] != old[f] {
                    errs.push(FieldError::invalid(label, &obj[f], "field is immutable"));
                }
            }
        }
    }
}
