//! `labelSelector` (=, ==, !=, in, notin, exists, !exists) and `fieldSelector` (=, ==, !=)
//! parsing and matching, with kube-apiserver's 400 errors for malformed or unsupported ones.

use serde_json::Value;

use super::meta::{cached_regex, label_value_errors, qualified_name_errors};
use super::status::ApiError;

#[derive(Debug, Clone)]
enum Req {
    Eq(String, String),
    NotEq(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    NotExists(String),
}

/// A parsed label selector; empty matches everything.
#[derive(Debug, Clone, Default)]
pub struct LabelSelector(Vec<Req>);

/// Splits on commas that are not inside parentheses.
fn split_top(s: &str) -> Vec<String> {
    let mut out = vec![];
    let mut depth = 0;
    let mut cur = String::new();
    for c in s.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                out.push(std::mem::take(&mut cur));
                continue;
            }
            _ => {}
        }
        cur.push(c);
    }
    out.push(cur);
    out
}

fn bad_label(sel: &str, why: &str) -> ApiError {
    ApiError::bad_request(format!(
        "unable to parse requirement: {why} (selector {sel:?})"
    ))
}

fn check_key(sel: &str, k: &str) -> Result<String, ApiError> {
    let k = k.trim();
    if let Some(msg) = qualified_name_errors(k).first() {
        return Err(bad_label(sel, &format!("invalid label key {k:?}: {msg}")));
    }
    Ok(k.to_string())
}

impl LabelSelector {
    pub fn parse(sel: &str) -> Result<Self, ApiError> {
        let mut reqs = vec![];
        for part in split_top(sel) {
            let p = part.trim();
            if p.is_empty() {
                if sel.trim().is_empty() {
                    continue;
                }
                return Err(bad_label(sel, "found '', expected: identifier"));
            }
            let set_re = cached_regex(r"^(\S+?)\s+(in|notin)\s*\((.*)\)$").expect("static regex");
            let set_op = |op: &str| -> Option<(String, Vec<String>)> {
                let c = set_re.captures(p)?;
                if &c[2] != op.trim() {
                    return None;
                }
                let vals = c[3]
                    .split(',')
                    .map(|v| v.trim().to_string())
                    .filter(|v| !v.is_empty())
                    .collect();
                Some((c[1].to_string(), vals))
            };
            if let Some((k, vals)) = set_op(" notin ") {
                reqs.push(Req::NotIn(check_key(sel, &k)?, vals));
            } else if let Some((k, vals)) = set_op(" in ") {
                reqs.push(Req::In(check_key(sel, &k)?, vals));
            } else if let Some((k, v)) = p.split_once("!=") {
                reqs.push(Req::NotEq(check_key(sel, k)?, v.trim().to_string()));
            } else if let Some((k, v)) = p.split_once("==").or_else(|| p.split_once('=')) {
                reqs.push(Req::Eq(check_key(sel, k)?, v.trim().to_string()));
            } else if let Some(k) = p.strip_prefix('!') {
                reqs.push(Req::NotExists(check_key(sel, k)?));
            } else if p.contains(['(', ')', ' ', '<', '>']) {
                return Err(bad_label(sel, &format!("invalid requirement {p:?}")));
            } else {
                reqs.push(Req::Exists(check_key(sel, p)?));
            }
        }
        for r in &reqs {
            let values: Vec<&String> = match r {
                Req::Eq(_, v) | Req::NotEq(_, v) => vec![v],
                Req::In(_, vs) | Req::NotIn(_, vs) => vs.iter().collect(),
                _ => vec![],
            };
            for v in values {
                if let Some(msg) = label_value_errors(v).first() {
                    return Err(bad_label(
                        sel,
                        &format!("invalid label value: {v:?}: {msg}"),
                    ));
                }
            }
            if matches!(r, Req::In(_, vs) | Req::NotIn(_, vs) if vs.is_empty()) {
                return Err(bad_label(
                    sel,
                    "for 'in', 'notin' operators, values set can't be empty",
                ));
            }
        }
        Ok(Self(reqs))
    }

    pub fn matches(&self, obj: &Value) -> bool {
        let labels = &obj["metadata"]["labels"];
        let get = |k: &str| labels.get(k).and_then(Value::as_str);
        self.0.iter().all(|r| match r {
            Req::Eq(k, v) => get(k) == Some(v.as_str()),
            Req::NotEq(k, v) => get(k) != Some(v.as_str()),
            Req::In(k, vs) => get(k).is_some_and(|x| vs.iter().any(|v| v == x)),
            Req::NotIn(k, vs) => get(k).is_none_or(|x| !vs.iter().any(|v| v == x)),
            Req::Exists(k) => get(k).is_some(),
            Req::NotExists(k) => get(k).is_none(),
        })
    }
}

/// A parsed field selector over the field labels a kind supports.
#[derive(Debug, Clone, Default)]
pub struct FieldSelector(Vec<(String, bool, String)>);

impl FieldSelector {
    /// `supported` lists the kind's extra field labels (metadata.name/namespace always work).
    pub fn parse(sel: &str, supported: &[String]) -> Result<Self, ApiError> {
        let mut reqs = vec![];
        for part in sel.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (k, eq, v) = if let Some((k, v)) = part.split_once("!=") {
                (k, false, v)
            } else if let Some((k, v)) = part.split_once("==").or_else(|| part.split_once('=')) {
                (k, true, v)
            } else {
                return Err(ApiError::bad_request(format!(
                    "invalid selector: '{sel}'; can't understand '{part}'"
                )));
            };
            let k = k.trim();
            if k != "metadata.name"
                && k != "metadata.namespace"
                && !supported.iter().any(|s| s == k)
            {
                return Err(ApiError::bad_request(format!(
                    "field label not supported: {k}"
                )));
            }
            reqs.push((k.to_string(), eq, v.trim().to_string()));
        }
        Ok(Self(reqs))
    }

    pub fn matches(&self, obj: &Value) -> bool {
        self.0.iter().all(|(k, eq, v)| {
            // events.k8s.io/v1 events answer the core/v1 field labels on their renamed fields.
            let k = if obj.get("regarding").is_some() {
                k.replacen("involvedObject.", "regarding.", 1).replacen(
                    "reportingComponent",
                    "reportingController",
                    1,
                )
            } else {
                k.clone()
            };
            let k = &k;
            let mut cur = obj;
            for seg in k.split('.') {
                cur = &cur[seg];
            }
            let actual = match cur {
                Value::String(s) => s.clone(),
                Value::Null => String::new(),
                other => other.to_string(),
            };
            // core/v1 events select `source` on source.component.
            let actual = if k == "source" {
                obj["source"]["component"]
                    .as_str()
                    .unwrap_or("")
                    .to_string()
            } else {
                actual
            };
            (actual == *v) == *eq
        })
    }

    /// The name pinned by `metadata.name=...`, if any.
    pub fn pinned_name(&self) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, eq, _)| k == "metadata.name" && *eq)
            .map(|(_, _, v)| v.as_str())
    }
}

/// Label + field selector pair used by list and watch.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub labels: LabelSelector,
    pub fields: FieldSelector,
}

impl Filter {
    pub fn matches(&self, obj: &Value) -> bool {
        self.labels.matches(obj) && self.fields.matches(obj)
    }
}
