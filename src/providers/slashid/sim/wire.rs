//! How the simulated SlashID reads requests and answers them: the API key and organisation
//! headers, the consistency headers of writes, JSON bodies, SlashID's error envelope, ETags, and
//! the 408 a late replication gives.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::names::is_permission_name;
use super::{Inner, Org, SlashIdSim};
use crate::sim::{Answer, JsonBody, Refusal, header};

pub type Shared = State<Arc<SlashIdSim>>;

/// A refusal in SlashID's envelope: `{meta, errors: [{httpcode, message}]}`.
pub fn refusal(status: StatusCode, message: impl Into<String>) -> Refusal {
    let message = message.into();
    Refusal::json(
        status,
        json!({
            "meta": {},
            "errors": [{"httpcode": status.as_u16(), "message": message}],
        }),
    )
}

pub fn invalid(message: impl Into<String>) -> Refusal {
    refusal(StatusCode::BAD_REQUEST, message)
}

pub fn not_found(what: &str, name: &str) -> Refusal {
    refusal(StatusCode::NOT_FOUND, format!("{what} {name} not found"))
}

/// The organisation the request acts on: the key must be known (401), `SlashID-OrgID` present
/// (400) and the key's own organisation (403).
pub fn org(sim: &SlashIdSim, headers: &HeaderMap) -> Result<String, Refusal> {
    let key = header(headers, "slashid-api-key").unwrap_or_default();
    let Some(key_org) = sim.lock().keys.get(key).cloned() else {
        return Err(refusal(
            StatusCode::UNAUTHORIZED,
            "invalid or missing API key (SlashID-API-Key)",
        ));
    };
    match header(headers, "slashid-orgid") {
        None | Some("") => Err(invalid("missing SlashID-OrgID header")),
        Some(o) if o == key_org => Ok(key_org),
        Some(o) => Err(refusal(
            StatusCode::FORBIDDEN,
            format!("the API key does not belong to organization {o}"),
        )),
    }
}

/// The organisation of a write, after checking the optional consistency headers (recorded for
/// the tests).
pub fn write_org(sim: &SlashIdSim, headers: &HeaderMap) -> Result<String, Refusal> {
    let org = org(sim, headers)?;
    let level = header(headers, "slashid-required-consistency");
    let timeout = header(headers, "slashid-required-consistency-timeout");
    if let Some(level) = level
        && !matches!(level, "local_region" | "all_regions")
    {
        return Err(invalid(format!(
            "invalid SlashID-Required-Consistency {level:?}: use local_region or all_regions"
        )));
    }
    if let Some(t) = timeout
        && !t.parse::<u32>().is_ok_and(|t| (1..=120).contains(&t))
    {
        return Err(invalid(
            "SlashID-Required-Consistency-Timeout must be an integer from 1 to 120",
        ));
    }
    sim.lock().last_consistency = (level.map(str::to_string), timeout.map(str::to_string));
    Ok(org)
}

/// `If-Match`, when sent.
pub fn if_match(headers: &HeaderMap) -> Option<&str> {
    header(headers, "if-match")
}

/// Answers a write that was applied: 204, or 408 when the switch says replication is late (the
/// write stays applied, as SlashID warns).
pub fn applied(inner: &mut Inner, headers: &HeaderMap) -> Answer {
    if inner.switches.apply_then_408_next > 0 {
        inner.switches.apply_then_408_next -= 1;
        let timeout = header(headers, "slashid-required-consistency-timeout").unwrap_or("30");
        return Err(refusal(
            StatusCode::REQUEST_TIMEOUT,
            format!(
                "the requested consistency level was not reached within {timeout} seconds; \
                 the request may still be applied"
            ),
        ));
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// A successful read: `{result}` with an `ETag`.
pub fn result(value: Value, etag: Option<&str>) -> Response {
    let mut response = axum::Json(json!({ "result": value })).into_response();
    if let Some(v) = etag.and_then(|e| HeaderValue::from_str(e).ok()) {
        response.headers_mut().insert("etag", v);
    }
    response
}

/// A write with a body, as read before the kind's own rules: the caller's organisation
/// (consistency headers checked) and the body, a JSON object.
pub struct Write<'h> {
    pub org: String,
    pub body: Value,
    pub headers: &'h HeaderMap,
}

pub fn write<'h>(
    sim: &SlashIdSim,
    headers: &'h HeaderMap,
    body: JsonBody,
) -> Result<Write<'h>, Refusal> {
    let org = write_org(sim, headers)?;
    match body {
        Some(axum::Json(body)) if body.is_object() => Ok(Write { org, body, headers }),
        _ => Err(invalid("the request body must be a JSON object")),
    }
}

/// The required `name` of a create.
pub fn name(body: &Value) -> Result<String, Refusal> {
    body.get("name")
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| invalid("name is required"))
}

pub fn optional_string(body: &Value, field: &str) -> Result<Option<String>, Refusal> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(invalid(format!("{field} must be a string"))),
    }
}

/// `permissions`: an array of valid names that all exist in the organisation (duplicates are
/// dropped). None when absent.
pub fn permission_list(body: &Value, org: &Org) -> Result<Option<Vec<String>>, Refusal> {
    let Some(value) = body.get("permissions").filter(|v| !v.is_null()) else {
        return Ok(None);
    };
    let items = value
        .as_array()
        .ok_or_else(|| invalid("permissions must be an array of strings"))?;
    let mut names: Vec<String> = Vec::new();
    for item in items {
        let name = item
            .as_str()
            .ok_or_else(|| invalid("permissions must be an array of strings"))?;
        if !is_permission_name(name) {
            return Err(invalid(format!("invalid permission name {name:?}")));
        }
        if !org.permissions.contains_key(name) {
            return Err(invalid(format!("permission {name:?} does not exist")));
        }
        if !names.iter().any(|n| n == name) {
            names.push(name.to_string());
        }
    }
    Ok(Some(names))
}
