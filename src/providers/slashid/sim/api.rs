//! The SlashID RBAC endpoints and the product's admin edits, over the state in the parent module.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Inner, Org, Permission, Role, SlashIdSim, Switches, now};
use crate::sim::Routes;

use super::names::{is_permission_name, is_role_name};

/// A refused request, answered in SlashID's error envelope.
struct Refusal(StatusCode, String);

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let Refusal(status, message) = self;
        (
            status,
            axum::Json(json!({
                "meta": {},
                "errors": [{"httpcode": status.as_u16(), "message": message}],
            })),
        )
            .into_response()
    }
}

fn refusal(status: StatusCode, message: &str) -> Refusal {
    Refusal(status, message.to_string())
}

fn error(status: StatusCode, message: &str) -> Response {
    refusal(status, message).into_response()
}

fn bad_request(message: &str) -> Response {
    error(StatusCode::BAD_REQUEST, message)
}

fn invalid(message: &str) -> Refusal {
    refusal(StatusCode::BAD_REQUEST, message)
}

fn with_etag(mut response: Response, etag: &str) -> Response {
    if let Ok(v) = HeaderValue::from_str(etag) {
        response.headers_mut().insert("etag", v);
    }
    response
}

type Shared = State<Arc<SlashIdSim>>;

fn header<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// The organisation the request acts on, or SlashID's refusal.
fn org(sim: &SlashIdSim, headers: &HeaderMap) -> Result<String, Refusal> {
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
            &format!("the API key does not belong to organization {o}"),
        )),
    }
}

/// The organisation of a write, after checking the optional consistency headers.
fn write_org(sim: &SlashIdSim, headers: &HeaderMap) -> Result<String, Refusal> {
    let org = org(sim, headers)?;
    if let Some(level) = header(headers, "slashid-required-consistency")
        && !matches!(level, "local_region" | "all_regions")
    {
        return Err(invalid(&format!(
            "invalid SlashID-Required-Consistency {level:?}: use local_region or all_regions"
        )));
    }
    if let Some(t) = header(headers, "slashid-required-consistency-timeout")
        && !t.parse::<u32>().is_ok_and(|t| (1..=120).contains(&t))
    {
        return Err(invalid(
            "SlashID-Required-Consistency-Timeout must be an integer from 1 to 120",
        ));
    }
    sim.lock().last_consistency = (
        header(headers, "slashid-required-consistency").map(str::to_string),
        header(headers, "slashid-required-consistency-timeout").map(str::to_string),
    );
    Ok(org)
}

/// Answers a write that was applied: 204, or 408 when the switch says replication is late.
fn applied(inner: &mut Inner, headers: &HeaderMap) -> Response {
    if inner.switches.apply_then_408_next > 0 {
        inner.switches.apply_then_408_next -= 1;
        let timeout = header(headers, "slashid-required-consistency-timeout").unwrap_or("30");
        return error(
            StatusCode::REQUEST_TIMEOUT,
            &format!(
                "the requested consistency level was not reached within {timeout} seconds; \
                 the request may still be applied"
            ),
        );
    }
    StatusCode::NO_CONTENT.into_response()
}

/// `{orgId}/` prefix plus SlashID's role name rule on the rest.
fn check_role_name(org: &str, full: &str) -> Result<(), Refusal> {
    match full.split_once('/') {
        Some((prefix, rest)) if prefix == org => {
            if is_role_name(rest) {
                Ok(())
            } else {
                Err(invalid(&format!(
                    "invalid role name {rest:?}: 2-100 characters of A-Z a-z 0-9 - _ . :, \
                     starting and ending with an alphanumeric character"
                )))
            }
        }
        _ => Err(invalid(&format!(
            "role names must be prefixed with the organization id ({org}/)"
        ))),
    }
}

fn optional_string(body: &Value, field: &str) -> Result<Option<String>, Refusal> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(invalid(&format!("{field} must be a string"))),
    }
}

/// `permissions`: an array of valid names that all exist in the organisation.
fn permission_list(body: &Value, org: &Org) -> Result<Option<Vec<String>>, Refusal> {
    let Some(value) = body.get("permissions").filter(|v| !v.is_null()) else {
        return Ok(None);
    };
    let Some(items) = value.as_array() else {
        return Err(invalid("permissions must be an array of strings"));
    };
    let mut names = Vec::new();
    for item in items {
        let Some(name) = item.as_str() else {
            return Err(invalid("permissions must be an array of strings"));
        };
        if !is_permission_name(name) {
            return Err(invalid(&format!("invalid permission name {name:?}")));
        }
        if !org.permissions.contains_key(name) {
            return Err(invalid(&format!("permission {name:?} does not exist")));
        }
        if !names.iter().any(|n| n == name) {
            names.push(name.to_string());
        }
    }
    Ok(Some(names))
}

fn json_body(body: Option<axum::Json<Value>>) -> Result<Value, Refusal> {
    match body {
        Some(axum::Json(v)) if v.is_object() => Ok(v),
        _ => Err(invalid("the request body must be a JSON object")),
    }
}

fn same_set(a: &[String], b: &[String]) -> bool {
    let (mut a, mut b) = (a.to_vec(), b.to_vec());
    a.sort();
    b.sort();
    a == b
}

macro_rules! tri {
    ($e:expr) => {
        match $e {
            Ok(v) => v,
            Err(r) => return r.into_response(),
        }
    };
}

/// A names-only listing with the organisation's current ETag, as SlashID answers list calls.
fn listing(names: Vec<String>, version: u64) -> Response {
    with_etag(
        axum::Json(json!({ "result": names })).into_response(),
        &format!("\"v{version}\""),
    )
}

async fn list_roles(State(sim): Shared, headers: HeaderMap) -> Response {
    let org = tri!(org(&sim, &headers));
    let mut inner = sim.lock();
    let names = inner
        .orgs
        .entry(org)
        .or_default()
        .roles
        .keys()
        .cloned()
        .collect();
    listing(names, inner.version)
}

async fn create_role(
    State(sim): Shared,
    headers: HeaderMap,
    body: Option<axum::Json<Value>>,
) -> Response {
    let org = tri!(write_org(&sim, &headers));
    let body = tri!(json_body(body));
    let Some(name) = body.get("name").and_then(Value::as_str).map(str::to_string) else {
        return bad_request("name is required");
    };
    tri!(check_role_name(&org, &name));
    let description = tri!(optional_string(&body, "description"));
    let mut inner = sim.lock();
    let switches = inner.switches.clone();
    let state = inner.orgs.entry(org).or_default();
    let permissions = tri!(permission_list(&body, state)).unwrap_or_default();
    if let Some(existing) = state.roles.get(&name) {
        let changed =
            existing.description != description || !same_set(&existing.permissions, &permissions);
        if switches.conflict_on_changed_create && changed {
            return error(
                StatusCode::CONFLICT,
                &format!("role {name} already exists with different attributes"),
            );
        }
        // "If the Role exists already, no action will be taken."
        return StatusCode::NO_CONTENT.into_response();
    }
    if switches
        .max_roles
        .is_some_and(|max| state.roles.len() >= max)
    {
        return error(
            StatusCode::PAYMENT_REQUIRED,
            "pricing tier violation: the maximum number of roles for your plan has been reached",
        );
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

async fn get_role(State(sim): Shared, headers: HeaderMap, Path(name): Path<String>) -> Response {
    let org = tri!(org(&sim, &headers));
    let inner = sim.lock();
    let Some(role) = inner.orgs.get(&org).and_then(|o| o.roles.get(&name)) else {
        return error(StatusCode::NOT_FOUND, &format!("role {name} not found"));
    };
    let mut result =
        json!({"name": name, "created": role.created, "permissions": role.permissions});
    if let Some(d) = &role.description {
        result["description"] = json!(d);
    }
    with_etag(
        axum::Json(json!({ "result": result })).into_response(),
        &role.etag,
    )
}

async fn patch_role(
    State(sim): Shared,
    headers: HeaderMap,
    Path(name): Path<String>,
    body: Option<axum::Json<Value>>,
) -> Response {
    let org = tri!(write_org(&sim, &headers));
    let body = tri!(json_body(body));
    if body.get("name").is_some() {
        return bad_request("a role's name cannot be changed");
    }
    let description = tri!(optional_string(&body, "description"));
    let mut inner = sim.lock();
    let state = inner.orgs.entry(org.clone()).or_default();
    let permissions = tri!(permission_list(&body, state));
    if !state.roles.contains_key(&name) {
        return error(StatusCode::NOT_FOUND, &format!("role {name} not found"));
    }
    if inner.switches.concurrent_edit_next > 0 {
        inner.switches.concurrent_edit_next -= 1;
        let etag = inner.next_etag();
        if let Some(role) = inner.org_of_role(&name).roles.get_mut(&name) {
            role.etag = etag;
        }
    }
    let role = &inner.orgs[&org].roles[&name];
    if let Some(want) = header(&headers, "if-match")
        && want != role.etag
        && want != "*"
    {
        return error(
            StatusCode::PRECONDITION_FAILED,
            "the role was modified since it was read (If-Match does not match the ETag)",
        );
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

async fn delete_role(State(sim): Shared, headers: HeaderMap, Path(name): Path<String>) -> Response {
    let org = tri!(write_org(&sim, &headers));
    let mut inner = sim.lock();
    if inner
        .orgs
        .entry(org)
        .or_default()
        .roles
        .remove(&name)
        .is_none()
    {
        return error(StatusCode::NOT_FOUND, &format!("role {name} not found"));
    }
    inner.next_etag();
    applied(&mut inner, &headers)
}

async fn list_permissions(State(sim): Shared, headers: HeaderMap) -> Response {
    let org = tri!(org(&sim, &headers));
    let mut inner = sim.lock();
    let names = inner
        .orgs
        .entry(org)
        .or_default()
        .permissions
        .keys()
        .cloned()
        .collect();
    listing(names, inner.version)
}

async fn create_permission(
    State(sim): Shared,
    headers: HeaderMap,
    body: Option<axum::Json<Value>>,
) -> Response {
    let org = tri!(write_org(&sim, &headers));
    let body = tri!(json_body(body));
    let Some(name) = body.get("name").and_then(Value::as_str).map(str::to_string) else {
        return bad_request("name is required");
    };
    if !is_permission_name(&name) {
        return bad_request(&format!("invalid permission name {name:?}"));
    }
    let description = tri!(optional_string(&body, "description"));
    let mut inner = sim.lock();
    let state = inner.orgs.entry(org).or_default();
    if state.permissions.contains_key(&name) {
        return StatusCode::NO_CONTENT.into_response();
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

async fn get_permission(State(sim): Shared, headers: HeaderMap, Path(name): Path<String>) -> Response {
    let org = tri!(org(&sim, &headers));
    let inner = sim.lock();
    let Some(p) = inner.orgs.get(&org).and_then(|o| o.permissions.get(&name)) else {
        return error(
            StatusCode::NOT_FOUND,
            &format!("permission {name} not found"),
        );
    };
    let mut result = json!({"name": name, "created": p.created});
    if let Some(d) = &p.description {
        result["description"] = json!(d);
    }
    axum::Json(json!({ "result": result })).into_response()
}

async fn patch_permission(
    State(sim): Shared,
    headers: HeaderMap,
    Path(name): Path<String>,
    body: Option<axum::Json<Value>>,
) -> Response {
    let org = tri!(write_org(&sim, &headers));
    let body = tri!(json_body(body));
    let description = tri!(optional_string(&body, "description"));
    let mut inner = sim.lock();
    let Some(p) = inner
        .orgs
        .entry(org)
        .or_default()
        .permissions
        .get_mut(&name)
    else {
        return error(
            StatusCode::NOT_FOUND,
            &format!("permission {name} not found"),
        );
    };
    if description.is_some() {
        p.description = description;
    }
    inner.next_etag();
    applied(&mut inner, &headers)
}

async fn delete_permission(
    State(sim): Shared,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> Response {
    let org = tri!(write_org(&sim, &headers));
    let mut inner = sim.lock();
    let state = inner.orgs.entry(org).or_default();
    if !state.permissions.contains_key(&name) {
        return error(
            StatusCode::NOT_FOUND,
            &format!("permission {name} not found"),
        );
    }
    if let Some((role, _)) = state
        .roles
        .iter()
        .find(|(_, r)| r.permissions.contains(&name))
    {
        return bad_request(&format!(
            "permission {name} cannot be deleted while it is included in role {role}"
        ));
    }
    state.permissions.remove(&name);
    inner.next_etag();
    applied(&mut inner, &headers)
}

#[derive(Deserialize)]
struct AdminRole {
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    permissions: Vec<String>,
}

/// The API under `/slashid`, plus admin edits: `GET|PUT _admin/switches` ([`Switches`]),
/// `PUT _admin/roles/{fullName}` with `{description?, permissions}` (missing permissions are
/// created), `DELETE _admin/roles/{fullName}`, `PUT|DELETE _admin/permissions/{name}?org=`
/// (org defaults to the configured one; deleting one that is absent or in use answers 409).
pub fn routes(sim: Arc<SlashIdSim>) -> Routes {
    let admin =
        Router::new()
            .route(
                "/_admin/switches",
                get(|State(s): Shared| async move { axum::Json(s.switches()) }).put(
                    |State(s): Shared, axum::Json(w): axum::Json<Switches>| async move {
                        s.set_switches(w);
                        StatusCode::NO_CONTENT
                    },
                ),
            )
            .route(
                "/_admin/roles/{name}",
                axum::routing::put(
                    |State(s): Shared,
                     Path(name): Path<String>,
                     axum::Json(r): axum::Json<AdminRole>| async move {
                        let permissions: Vec<&str> =
                            r.permissions.iter().map(String::as_str).collect();
                        s.put_role(&name, r.description.as_deref(), &permissions);
                        StatusCode::NO_CONTENT
                    },
                )
                .delete(|State(s): Shared, Path(name): Path<String>| async move {
                    if s.remove_role(&name) {
                        StatusCode::NO_CONTENT
                    } else {
                        StatusCode::NOT_FOUND
                    }
                }),
            )
            .route(
                "/_admin/permissions/{name}",
                axum::routing::put(
                    |State(s): Shared,
                     Path(name): Path<String>,
                     Query(q): Query<HashMap<String, String>>| async move {
                        let org = q
                            .get("org")
                            .cloned()
                            .unwrap_or_else(|| s.default_org.clone());
                        s.put_permission(&org, &name);
                        StatusCode::NO_CONTENT
                    },
                )
                .delete(
                    |State(s): Shared,
                     Path(name): Path<String>,
                     Query(q): Query<HashMap<String, String>>| async move {
                        let org = q
                            .get("org")
                            .cloned()
                            .unwrap_or_else(|| s.default_org.clone());
                        if s.remove_permission(&org, &name) {
                            StatusCode::NO_CONTENT
                        } else {
                            StatusCode::CONFLICT
                        }
                    },
                ),
            )
            .with_state(sim.clone());
    let api = Router::new()
        .route("/rbac/roles", get(list_roles).post(create_role))
        .route(
            "/rbac/roles/{name}",
            get(get_role).patch(patch_role).delete(delete_role),
        )
        .route(
            "/rbac/permissions",
            get(list_permissions).post(create_permission),
        )
        .route(
            "/rbac/permissions/{name}",
            get(get_permission)
                .patch(patch_permission)
                .delete(delete_permission),
        )
        .with_state(sim);
    Routes { api, admin }
}
