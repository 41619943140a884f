//! What every handler of the simulated Looker API shares: Looker's error bodies (`Error`,
//! 422 `ValidationError`), bearer-token checks, the name rules roles and sets share, SQL-LIKE
//! name matching and `/search` paging.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Instant;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use serde_json::{Value, json};

use super::LookerSim;
use super::state::key;
use crate::sim::{Answer, Refusal, authorization};

pub(super) type Shared = State<Arc<LookerSim>>;

const DOCS: &str = "https://cloud.google.com/looker/docs/r/err/4.0";

/// Looker's `Error` body.
pub(super) fn error(status: StatusCode, message: &str) -> Refusal {
    let docs = format!("{DOCS}/{}", status.as_u16());
    Refusal::json(
        status,
        json!({"message": message, "documentation_url": docs}),
    )
}

pub(super) fn not_found() -> Refusal {
    error(StatusCode::NOT_FOUND, "Not found")
}

pub(super) fn cannot_modify() -> Refusal {
    error(StatusCode::METHOD_NOT_ALLOWED, "Resource Can't Be Modified")
}

pub(super) fn bad_request() -> Refusal {
    error(
        StatusCode::BAD_REQUEST,
        "Bad Request: the body is not a JSON object",
    )
}

/// One detail of a 422: field, code and message.
pub(super) type FieldError = (&'static str, &'static str, String);

/// 422 `ValidationError` with `(field, code, message)` details.
pub(super) fn invalid(errors: &[FieldError]) -> Refusal {
    let details: Vec<Value> = errors
        .iter()
        .map(|(field, code, message)| {
            json!({"field": field, "code": code, "message": message, "documentation_url": format!("{DOCS}/422")})
        })
        .collect();
    Refusal::json(
        StatusCode::UNPROCESSABLE_ENTITY,
        json!({"message": "Validation Failed", "errors": details, "documentation_url": format!("{DOCS}/422")}),
    )
}

/// The `name` rules of role and set writes: not blank, and required on create.
pub(super) fn check_name(name: &Option<String>, creating: bool, errors: &mut Vec<FieldError>) {
    match name {
        Some(n) if n.trim().is_empty() => {
            errors.push(("name", "blank", "Name can't be blank".to_string()))
        }
        None if creating => errors.push(("name", "missing", "This field is required.".into())),
        _ => {}
    }
}

/// The key of the role or set a write changes: 404 when unknown, 405 when built in.
pub(super) fn modifiable<T>(
    items: &BTreeMap<u64, T>,
    id: &str,
    built_in: fn(&T) -> bool,
) -> Result<u64, Refusal> {
    let k = key(id)
        .filter(|k| items.contains_key(k))
        .ok_or_else(not_found)?;
    if built_in(&items[&k]) {
        return Err(cannot_modify());
    }
    Ok(k)
}

/// A name another role (or set of the kind) has: 409 on create, 422 on update.
pub(super) fn refuse_taken(taken: bool, creating: bool, message: String) -> Result<(), Refusal> {
    match (taken, creating) {
        (false, _) => Ok(()),
        (true, true) => Err(error(StatusCode::CONFLICT, &message)),
        (true, false) => Err(invalid(&[("name", "already_exists", message)])),
    }
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
pub(super) fn page(mut rows: Vec<Value>, q: &HashMap<String, String>) -> Answer {
    if q.get("sorts").is_some_and(|s| s.starts_with("name")) {
        rows.sort_by_key(|r| r["name"].as_str().unwrap_or_default().to_lowercase());
    }
    let number = |k: &str| q.get(k).map(|v| v.parse::<usize>());
    let (Ok(offset), Ok(limit)) = (
        number("offset").unwrap_or(Ok(0)),
        number("limit").unwrap_or(Ok(usize::MAX)),
    ) else {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "limit and offset must be integers",
        ));
    };
    let rows: Vec<Value> = rows
        .into_iter()
        .skip(offset)
        .take(limit)
        .map(|r| pick(r, q.get("fields")))
        .collect();
    Ok(axum::Json(rows).into_response())
}

/// The token of `Authorization: token <t>` (or `Bearer <t>`).
pub(super) fn token_of(headers: &HeaderMap) -> Option<&str> {
    match authorization(headers)? {
        ("token" | "Bearer", token) => Some(token),
        _ => None,
    }
}

/// 401 unless the request carries a live token.
pub(super) fn authorize(sim: &LookerSim, headers: &HeaderMap) -> Result<(), Refusal> {
    let state = sim.lock();
    let live = token_of(headers)
        .and_then(|t| state.tokens.get(t))
        .is_some_and(|(_, expiry)| *expiry > Instant::now());
    if live {
        Ok(())
    } else {
        Err(error(StatusCode::UNAUTHORIZED, "Requires authentication."))
    }
}

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
