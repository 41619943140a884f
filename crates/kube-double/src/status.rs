//! Failures in kube-apiserver's wire format: `ApiError` becomes a `meta/v1 Status` body,
//! `FieldError` mirrors apimachinery's `field.Error` (message text and `causes`).

use serde_json::{Value, json};

/// One field-level validation error, rendered like apimachinery's `field.Error`.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldError {
    pub field: String,
    pub reason: &'static str,
    pub body: String,
}

/// Go's `%q`/`%v`-like rendering of a value inside an "Invalid value: ..." message.
pub fn repr(v: &Value) -> String {
    match v {
        Value::String(s) => Value::String(s.clone()).to_string(),
        Value::Number(n) => fmt_num(n.as_f64().unwrap_or_default()),
        other => other.to_string(),
    }
}

/// Go's `%v` of a float64: integral values print without a fraction.
pub fn fmt_num(f: f64) -> String {
    if f.fract() == 0.0 && f.abs() < 1e15 {
        format!("{}", f as i64)
    } else {
        format!("{f}")
    }
}

impl FieldError {
    fn new(field: &str, reason: &'static str, body: String) -> Self {
        Self {
            field: field.to_string(),
            reason,
            body,
        }
    }
    pub fn required(field: &str, detail: &str) -> Self {
        let body = if detail.is_empty() {
            "Required value".to_string()
        } else {
            format!("Required value: {detail}")
        };
        Self::new(field, "FieldValueRequired", body)
    }
    pub fn invalid(field: &str, value: &Value, detail: &str) -> Self {
        Self::new(
            field,
            "FieldValueInvalid",
            format!("Invalid value: {}: {detail}", repr(value)),
        )
    }
    pub fn forbidden(field: &str, detail: &str) -> Self {
        Self::new(field, "FieldValueForbidden", format!("Forbidden: {detail}"))
    }
    pub fn too_long(field: &str, max: usize) -> Self {
        Self::new(
            field,
            "FieldValueTooLong",
            format!("Too long: may not be more than {max} bytes"),
        )
    }
    pub fn too_many(field: &str, actual: usize, max: usize) -> Self {
        Self::new(
            field,
            "FieldValueTooMany",
            format!("Too many: {actual}: must have at most {max} items"),
        )
    }
    pub fn not_supported(field: &str, value: &Value, allowed: &[Value]) -> Self {
        let list: Vec<String> = allowed.iter().map(repr).collect();
        Self::new(
            field,
            "FieldValueNotSupported",
            format!(
                "Unsupported value: {}: supported values: {}",
                repr(value),
                list.join(", ")
            ),
        )
    }
    pub fn duplicate(field: &str, value: &Value) -> Self {
        Self::new(
            field,
            "FieldValueDuplicate",
            format!("Duplicate value: {}", repr(value)),
        )
    }
    pub fn message(&self) -> String {
        format!("{}: {}", self.field, self.body)
    }
}

/// A successful answer: status code and JSON body.
pub type Reply = (u16, Value);

/// A request failure: HTTP code, `Status.reason`, message and optional `details`.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub code: u16,
    pub reason: &'static str,
    pub message: String,
    pub details: Option<Value>,
}

impl ApiError {
    pub fn new(code: u16, reason: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            reason,
            message: message.into(),
            details: None,
        }
    }
    fn with_details(mut self, details: Value) -> Self {
        self.details = Some(details);
        self
    }
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "BadRequest", message)
    }
    /// `gr` is "plural" (core) or "plural.group"; `group`/`plural` go to details.
    pub fn not_found(group: &str, plural: &str, name: &str) -> Self {
        Self::new(
            404,
            "NotFound",
            format!("{} \"{name}\" not found", gr(group, plural)),
        )
        .with_details(json!({"name": name, "group": group, "kind": plural}))
    }
    pub fn no_route() -> Self {
        Self::new(
            404,
            "NotFound",
            "the server could not find the requested resource",
        )
        .with_details(json!({}))
    }
    /// 501: something kube-apiserver serves but this double does not. Never a real answer, so
    /// a test relying on it fails loudly instead of passing against a more forgiving server.
    pub fn unsupported(what: impl std::fmt::Display) -> Self {
        Self::new(
            501,
            "NotImplemented",
            format!("{what} is not supported by the kube API test double"),
        )
    }
    pub fn method_not_allowed() -> Self {
        Self::new(
            405,
            "MethodNotAllowed",
            "the server does not allow this method on the requested resource",
        )
        .with_details(json!({}))
    }
    pub fn already_exists(group: &str, plural: &str, name: &str) -> Self {
        Self::new(
            409,
            "AlreadyExists",
            format!("{} \"{name}\" already exists", gr(group, plural)),
        )
        .with_details(json!({"name": name, "group": group, "kind": plural}))
    }
    pub fn conflict(group: &str, plural: &str, name: &str) -> Self {
        Self::new(
            409,
            "Conflict",
            format!(
                "Operation cannot be fulfilled on {} \"{name}\": the object has been modified; please apply your changes to the latest version and try again",
                gr(group, plural)
            ),
        )
        .with_details(json!({"name": name, "group": group, "kind": plural}))
    }
    /// 422 Invalid for `Kind[.group] "name"`, listing every field error like apimachinery.
    pub fn invalid(group: &str, kind: &str, name: &str, errs: &[FieldError]) -> Self {
        let qkind = if group.is_empty() {
            kind.to_string()
        } else {
            format!("{kind}.{group}")
        };
        let agg = if errs.len() == 1 {
            errs[0].message()
        } else {
            format!(
                "[{}]",
                errs.iter()
                    .map(FieldError::message)
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        let causes: Vec<Value> = errs
            .iter()
            .map(|e| json!({"reason": e.reason, "message": e.body, "field": e.field}))
            .collect();
        Self::new(
            422,
            "Invalid",
            format!("{qkind} \"{name}\" is invalid: {agg}"),
        )
        .with_details(json!({"name": name, "group": group, "kind": kind, "causes": causes}))
    }
    /// 422 from a JSON patch that could not be applied (failed `test`, missing path...).
    pub fn patch_unprocessable(detail: &str) -> Self {
        Self::new(
            422,
            "Invalid",
            "the server rejected our request due to an error in our request",
        )
        .with_details(
            json!({"causes": [{"reason": "UnexpectedServerResponse", "message": detail}]}),
        )
    }
    pub fn unsupported_media_type(accepted: &[&str]) -> Self {
        Self::new(
            415,
            "UnsupportedMediaType",
            format!(
                "the body of the request was in an unknown format - accepted media types include: {}",
                accepted.join(", ")
            ),
        )
        .with_details(json!({}))
    }
    pub fn expired(message: impl Into<String>) -> Self {
        Self::new(410, "Expired", message)
    }
    pub fn with_causes(mut self, causes: Value) -> Self {
        let mut d = self.details.take().unwrap_or_else(|| json!({}));
        d["causes"] = causes;
        self.details = Some(d);
        self
    }

    /// The `Status` object kube-apiserver sends for this failure.
    pub fn to_status(&self) -> Value {
        let mut s = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        });
        if let Some(d) = &self.details {
            s["details"] = d.clone();
        }
        s
    }
}

/// "plural" or "plural.group" as kube-apiserver prints a GroupResource.
pub fn gr(group: &str, plural: &str) -> String {
    if group.is_empty() {
        plural.to_string()
    } else {
        format!("{plural}.{group}")
    }
}
