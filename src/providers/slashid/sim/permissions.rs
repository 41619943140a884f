//! `/rbac/permissions`: names-only listing, idempotent create, read, description PATCH, and a
//! delete SlashID refuses while a role includes the permission.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use serde_json::{Value, json};

use super::names::is_permission_name;
use super::wire::{
    Answer, Shared, applied, invalid, json_body, name, not_found, optional_string, org, result,
    write_org,
};
use super::{Permission, now};

pub async fn list(State(sim): Shared, headers: HeaderMap) -> Answer {
    let org = org(&sim, &headers)?;
    let mut inner = sim.lock();
    let version = inner.version;
    let names: Vec<String> = inner
        .orgs
        .entry(org)
        .or_default()
        .permissions
        .keys()
        .cloned()
        .collect();
    Ok(result(json!(names), Some(&format!("\"v{version}\""))))
}

pub async fn create(
    State(sim): Shared,
    headers: HeaderMap,
    body: Option<axum::Json<Value>>,
) -> Answer {
    let org = write_org(&sim, &headers)?;
    let body = json_body(body)?;
    let name = name(&body)?;
    if !is_permission_name(&name) {
        return Err(invalid(format!("invalid permission name {name:?}")));
    }
    let description = optional_string(&body, "description")?;
    let mut inner = sim.lock();
    let state = inner.orgs.entry(org).or_default();
    if state.permissions.contains_key(&name) {
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    state.permissions.insert(
        name,
        Permission {
            description,
            created: now(),
        },
    );
    inner.next_etag();
    applied(&mut inner, &headers)
}

/// GET permission declares no ETag in SlashID's description: none is sent.
pub async fn get(State(sim): Shared, headers: HeaderMap, Path(name): Path<String>) -> Answer {
    let org = org(&sim, &headers)?;
    let inner = sim.lock();
    let p = inner
        .orgs
        .get(&org)
        .and_then(|o| o.permissions.get(&name))
        .ok_or_else(|| not_found("permission", &name))?;
    let mut body = json!({"name": name, "created": p.created});
    if let Some(d) = &p.description {
        body["description"] = json!(d);
    }
    Ok(result(body, None))
}

pub async fn patch(
    State(sim): Shared,
    headers: HeaderMap,
    Path(name): Path<String>,
    body: Option<axum::Json<Value>>,
) -> Answer {
    let org = write_org(&sim, &headers)?;
    let body = json_body(body)?;
    let description = optional_string(&body, "description")?;
    let mut inner = sim.lock();
    let permissions = &mut inner.orgs.entry(org).or_default().permissions;
    let p = permissions
        .get_mut(&name)
        .ok_or_else(|| not_found("permission", &name))?;
    if description.is_some() {
        p.description = description;
    }
    inner.next_etag();
    applied(&mut inner, &headers)
}

pub async fn delete(State(sim): Shared, headers: HeaderMap, Path(name): Path<String>) -> Answer {
    let org = write_org(&sim, &headers)?;
    let mut inner = sim.lock();
    let state = inner.orgs.entry(org).or_default();
    if !state.permissions.contains_key(&name) {
        return Err(not_found("permission", &name));
    }
    if let Some((role, _)) = state
        .roles
        .iter()
        .find(|(_, r)| r.permissions.contains(&name))
    {
        return Err(invalid(format!(
            "permission {name} cannot be deleted while it is included in role {role}"
        )));
    }
    state.permissions.remove(&name);
    inner.next_etag();
    applied(&mut inner, &headers)
}
