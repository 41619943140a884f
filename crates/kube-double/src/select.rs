//! Field selectors: the two every kind supports.

use serde_json::Value;

use super::routing::Query;
use super::status::ApiError;

/// A `fieldSelector` over `metadata.name` / `metadata.namespace` (=, ==, !=); any other field
/// label is not implemented (501), as kind-specific field labels and selectableFields are not.
#[derive(Debug, Clone, Default)]
pub struct FieldSelector(Vec<(String, bool, String)>);

impl FieldSelector {
    pub fn parse(q: &Query) -> Result<Self, ApiError> {
        let sel = q.get("fieldSelector").unwrap_or("");
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
            if k != "metadata.name" && k != "metadata.namespace" {
                return Err(ApiError::unsupported(format!("fieldSelector on {k:?}")));
            }
            reqs.push((k["metadata.".len()..].to_string(), eq, v.trim().to_string()));
        }
        Ok(Self(reqs))
    }

    pub fn matches(&self, obj: &Value) -> bool {
        self.0.iter().all(|(k, eq, v)| {
            let actual = obj["metadata"][k.as_str()].as_str().unwrap_or("");
            (actual == v) == *eq
        })
    }
}
