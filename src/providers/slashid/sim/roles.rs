//! `/rbac/roles`: names-only listing, idempotent create (204, nothing changed when the name
//! exists), read with an `ETag`, PATCH guarded by `If-Match`, delete.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use serde_json::{Value, json};

use super::names::is_role_name;
use super::wire::{
    Answer, Refusal, Shared, applied, if_match, invalid, json_body, name, not_found,
    optional_string, org, permission_list, refusal, result, write_org,
};
use super::{Role, now};

/// `{orgId}/` prefix plus SlashID's role name rule on the rest.
fn check_role_name(org: &str, full: &str) -> Result<(), Refusal> {
    match full.split_once('/') {
        Some((prefix, rest)) if prefix == org && is_role_name(rest) => Ok(()),
        Some((prefix, rest)) if prefix == org => Err(invalid(format!(
            "invalid role name {rest:?}: 2-100 characters of A-Z a-z 0-9 - _ . :, \
             starting and ending with an alphanumeric character"
        ))),
        _ => Err(invalid(format!(
            "role names must be prefixed with the organization id ({org}/)"
        ))),
    }
}

fn same_set(a: &[String], b: &[String]) -> bool {
    let (mut a, mut b) = (a.to_vec(), b.to_vec());
    a.sort();
    b.sort();
    a == b
}

pub async fn list(State(sim): Shared, headers: HeaderMap) -> Answer {
    let org = org(&sim, &headers)?;
    let mut inner = sim.lock();
    let version = inner.version;
    let names: Vec<String> = inner
        .orgs
        .entry(org)
        .or_default()
        .roles
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
    check_role_name(&org, &name)?;
    let description = optional_string(&body, "description")?;
    let mut inner = sim.lock();
    let switches = inner.switches.clone();
    let state = inner.orgs.entry(org).or_default();
    let permissions = permission_list(&body, state)?.unwrap_or_default();
    if let Some(existing) = state.roles.get(&name) {
        let changed =
            existing.description != description || !same_set(&existing.permissions, &permissions);
        if switches.conflict_on_changed_create && changed {
            return Err(refusal(
                StatusCode::CONFLICT,
                format!("role {name} already exists with different attributes"),
            ));
        }
        // "If the Role exists already, no action will be taken."
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    if switches
        .max_roles
        .is_some_and(|max| state.roles.len() >= max)
    {
        return Err(refusal(
            StatusCode::PAYMENT_REQUIRED,
            "pricing tier violation: the maximum number of roles for your plan has been reached",
        ));
    }
    let etag = inner.next_etag();
    inner.org_of_role(&name).roles.insert(
        name,
        Role {
            description,
            created: now(),
            permissions,
            etag,
        },
    );
    applied(&mut inner, &headers)
}

pub async fn get(State(sim): Shared, headers: HeaderMap, Path(name): Path<String>) -> Answer {
    let org = org(&sim, &headers)?;
    let inner = sim.lock();
    let role = inner
        .orgs
        .get(&org)
        .and_then(|o| o.roles.get(&name))
        .ok_or_else(|| not_found("role", &name))?;
    let mut body = json!({"name": name, "created": role.created, "permissions": role.permissions});
    if let Some(d) = &role.description {
        body["description"] = json!(d);
    }
    Ok(result(body, Some(&role.etag)))
}

pub async fn patch(
    State(sim): Shared,
    headers: HeaderMap,
    Path(name): Path<String>,
    body: Option<axum::Json<Value>>,
) -> Answer {
    let org = write_org(&sim, &headers)?;
    let body = json_body(body)?;
    if body.get("name").is_some() {
        return Err(invalid("a role's name cannot be changed"));
    }
    let description = optional_string(&body, "description")?;
    let mut inner = sim.lock();
    let state = inner.orgs.entry(org.clone()).or_default();
    let permissions = permission_list(&body, state)?;
    if !state.roles.contains_key(&name) {
        return Err(not_found("role", &name));
    }
    if inner.switches.concurrent_edit_next > 0 {
        inner.switches.concurrent_edit_next -= 1;
        let etag = inner.next_etag();
        if let Some(role) = inner.org_of_role(&name).roles.get_mut(&name) {
            role.etag = etag;
        }
    }
    let current = &inner.orgs[&org].roles[&name].etag;
    if let Some(want) = if_match(&headers)
        && want != current
        && want != "*"
    {
        return Err(refusal(
            StatusCode::PRECONDITION_FAILED,
            "the role was modified since it was read (If-Match does not match the ETag)",
        ));
    }
    let etag = inner.next_etag();
    let role = inner
        .org_of_role(&name)
        .roles
        .get_mut(&name)
        .expect("role checked above under the same lock");
    if description.is_some() {
        role.description = description;
    }
    if let Some(p) = permissions {
        role.permissions = p;
    }
    role.etag = etag;
    applied(&mut inner, &headers)
}

pub async fn delete(State(sim): Shared, headers: HeaderMap, Path(name): Path<String>) -> Answer {
    let org = write_org(&sim, &headers)?;
    let mut inner = sim.lock();
    let roles = &mut inner.orgs.entry(org).or_default().roles;
    if roles.remove(&name).is_none() {
        return Err(not_found("role", &name));
    }
    inner.next_etag();
    applied(&mut inner, &headers)
}
