//! What every handler of the simulated Looker API shares: Looker's error bodies (`Error`,
//! 422 `ValidationError`), bearer-token checks, SQL-LIKE name matching and `/search` paging.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::LookerSim;

pub(super) type Shared = State<Arc<LookerSim>>;
pub(super) type Params = Query<HashMap<String, String>>;

const DOCS: &str = "https://cloud.google.com/looker/docs/r/err/4.0";

pub(super) fn error(status: StatusCode, message: &str) -> Response {
    (
        status,
        axum::Json(
            json!({"message": message, "documentation_url": format!("{DOCS}/{}", status.as_u16())}),
        ),
    )
        .into_response()
}

pub(super) fn not_found() -> Response {
    error(StatusCode::NOT_FOUND, "Not found")
}

pub(super) fn cannot_modify() -> Response {
    error(StatusCode::METHOD_NOT_ALLOWED, "Resource Can't Be Modified")
}

pub(super) fn bad_request() -> Response {
    error(
        StatusCode::BAD_REQUEST,
        "Bad Request: the body is not a JSON object",
    )
}

/// 422 `ValidationError` with `(field, code, message)` details.
pub(super) fn invalid(errors: &[(&str, &str, String)]) -> Response {
    let details: Vec<Value> = errors
        .iter()
        .map(|(field, code, message)| {
            json!({"field": field, "code": code, "message": message, "documentation_url": format!("{DOCS}/422")})
        })
        .collect();
    (
        StatusCode::UNPROCESSABLE_ENTITY,
        axum::Json(json!({"message": "Validation Failed", "errors": details, "documentation_url": format!("{DOCS}/422")})),
    )
        .into_response()
}

/// Case-insensitive SQL LIKE: `%` any run, `_` one character.
pub fn like(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.to_lowercase().chars().collect();
    let t: Vec<char> = text.to_lowercase().chars().collect();
    let mut row = vec![false; t.len() + 1];
    row[0] = true;
    for pc in &p {
        let mut next = vec![false; t.len() + 1];
        if *pc == '%' {
            next[0] = row[0];
        }
        for j in 1..=t.len() {
            next[j] = match pc {
                '%' => next[j - 1] || row[j],
                '_' => row[j - 1],
                c => row[j - 1] && *c == t[j - 1],
            };
        }
        row = next;
    }
    row[t.len()]
}

/// Keeps only the top-level `fields` requested (comma-separated), as Looker's `fields` does.
pub(super) fn pick(value: Value, fields: Option<&String>) -> Value {
    let (Some(fields), Value::Object(map)) = (fields, &value) else {
        return value;
    };
    let wanted: Vec<&str> = fields.split(',').map(str::trim).collect();
    Value::Object(
        map.iter()
            .filter(|(k, _)| wanted.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    )
}

/// Filters, sorts and pages search results (`limit`, `offset`, `sorts` of `id` or `name`).
pub(super) fn page(mut rows: Vec<Value>, q: &HashMap<String, String>) -> Response {
    if q.get("sorts").is_some_and(|s| s.starts_with("name")) {
        rows.sort_by_key(|r| r["name"].as_str().unwrap_or_default().to_lowercase());
    }
    let number = |k: &str| q.get(k).map(|v| v.parse::<usize>());
    let (Ok(offset), Ok(limit)) = (
        number("offset").unwrap_or(Ok(0)),
        number("limit").unwrap_or(Ok(usize::MAX)),
    ) else {
        return error(StatusCode::BAD_REQUEST, "limit and offset must be integers");
    };
    let rows: Vec<Value> = rows
        .into_iter()
        .skip(offset)
        .take(limit)
        .map(|r| pick(r, q.get("fields")))
        .collect();
    axum::Json(rows).into_response()
}

pub(super) fn token_of(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get("authorization")?.to_str().ok()?;
    value
        .strip_prefix("token ")
        .or_else(|| value.strip_prefix("Bearer "))
        .map(str::trim)
}

/// 401 unless the request carries a live token.
pub(super) fn authorize(sim: &LookerSim, headers: &HeaderMap) -> Result<(), Box<Response>> {
    let state = sim.lock();
    let live = token_of(headers)
        .and_then(|t| state.tokens.get(t))
        .is_some_and(|(_, expiry)| *expiry > Instant::now());
    if live {
        Ok(())
    } else {
        Err(Box::new(error(
            StatusCode::UNAUTHORIZED,
            "Requires authentication.",
        )))
    }
}

macro_rules! authorized {
    ($sim:expr, $headers:expr) => {
        if let Err(r) = authorize(&$sim, &$headers) {
            return *r;
        }
    };
}
pub(super) use authorized;

/// A string (or number) field; `Err` when present with another type.
pub(super) fn text(body: &Value, field: &str) -> Result<Option<String>, ()> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(_) => Err(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_matches_case_insensitively_with_wildcards() {
        assert!(like("roleplane:Analyst", "ROLEPLANE:analyst"));
        assert!(like("road_map", "roadXmap"));
        assert!(like("%lyst", "Analyst"));
        assert!(like("a%t", "Analyst"));
        assert!(!like("Analyst", "Analysts"));
        assert!(!like("An_", "Analyst"));
    }
}
