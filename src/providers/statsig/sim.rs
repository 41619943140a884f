//! Statsig Console API simulator (`/statsig`), faithful to `providers/statsig.md`: the
//! `STATSIG-API-KEY` header (401 with a key echo, as Statsig does), one project per key, roles keyed
//! by URL-decoded name, 400 on bad bodies and duplicate names, 404 on unknown names, PATCH merging
//! flags, paged listing with `nextPage`.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::sim::{ProductSim, Routes, SingleApi, Traffic, sim_args};

pub type Role = BTreeMap<String, bool>;

sim_args! {
    /// Statsig console API keys accepted by /statsig (comma-separated; each key is its own
    /// project).
    api_keys: Vec<String> = "console-sim-key",
        flag "statsig-api-keys", env "ROLEPLANE_SIM_STATSIG_API_KEYS", value_delimiter = ',';
}

/// The simulator the registry assembles.
pub type Sim = StatsigSim;

pub struct StatsigSim {
    pub traffic: Traffic,
    /// API key → project roles (name → flags), in creation order.
    projects: Mutex<HashMap<String, Vec<(String, Role)>>>,
    /// Status for a duplicate create (Statsig's is undocumented: 400 by default).
    duplicate_status: Mutex<u16>,
}

impl SingleApi for StatsigSim {
    type Args = Args;
    const PREFIX: &'static str = "/statsig";

    fn from_args(args: Args) -> Self {
        Self {
            traffic: Traffic::new(),
            projects: Mutex::new(args.api_keys.into_iter().map(|k| (k, Vec::new())).collect()),
            duplicate_status: Mutex::new(400),
        }
    }
}

impl StatsigSim {
    /// Roles of the project that `key` belongs to.
    pub fn roles(&self, key: &str) -> Vec<(String, Role)> {
        self.projects
            .lock()
            .expect("sim lock")
            .get(key)
            .cloned()
            .unwrap_or_default()
    }

    pub fn role(&self, key: &str, name: &str) -> Option<Role> {
        self.roles(key)
            .into_iter()
            .find(|(n, _)| n == name)
            .map(|(_, r)| r)
    }

    /// Out-of-band edit: creates or replaces a role's flags.
    pub fn put_role(&self, key: &str, name: &str, flags: Role) {
        let mut projects = self.projects.lock().expect("sim lock");
        let roles = projects.entry(key.to_string()).or_default();
        match roles.iter_mut().find(|(n, _)| n == name) {
            Some((_, r)) => *r = flags,
            None => roles.push((name.to_string(), flags)),
        }
    }

    /// Out-of-band delete.
    pub fn remove_role(&self, key: &str, name: &str) -> bool {
        let mut projects = self.projects.lock().expect("sim lock");
        let roles = projects.entry(key.to_string()).or_default();
        let before = roles.len();
        roles.retain(|(n, _)| n != name);
        before != roles.len()
    }

    /// Accepts another key (its own project), e.g. after a rotation.
    pub fn add_key(&self, key: &str) {
        self.projects
            .lock()
            .expect("sim lock")
            .entry(key.to_string())
            .or_default();
    }

    /// Stops accepting a key (its roles stay, unreachable).
    pub fn revoke_key(&self, key: &str) {
        self.projects.lock().expect("sim lock").remove(key);
    }

    pub fn set_duplicate_status(&self, status: u16) {
        *self.duplicate_status.lock().expect("sim lock") = status;
    }
}

impl ProductSim for StatsigSim {
    fn traffic(&self) -> &Traffic {
        &self.traffic
    }

    fn state(&self) -> Value {
        let projects = self.projects.lock().expect("sim lock");
        let projects: Vec<Value> = projects
            .iter()
            .map(|(key, roles)| {
                json!({
                    "key": redact_key(key),
                    "roles": roles.iter().map(|(n, p)| json!({"name": n, "permissions": p})).collect::<Vec<_>>(),
                })
            })
            .collect();
        json!({ "projects": projects })
    }

    fn routes(self: &Arc<Self>) -> Routes {
        routes(self.clone())
    }
}

fn redact_key(key: &str) -> String {
    format!("{}…", &key[..key.floor_char_boundary(12.min(key.len()))])
}

fn error(status: StatusCode, message: &str) -> Response {
    (
        status,
        axum::Json(json!({"status": status.as_u16(), "message": message})),
    )
        .into_response()
}

fn bad_request() -> Response {
    error(
        StatusCode::BAD_REQUEST,
        "Invalid request. Please check the request input and try again.",
    )
}

fn not_found() -> Response {
    error(
        StatusCode::NOT_FOUND,
        "Not Found. The requested resource could not be found.",
    )
}

type Shared = State<Arc<StatsigSim>>;

/// The project of the request's key, or the 401 Statsig answers.
#[allow(clippy::result_large_err)] // the error is the HTTP response itself
fn project(sim: &StatsigSim, headers: &HeaderMap) -> Result<String, Response> {
    let key = headers
        .get("statsig-api-key")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if sim.projects.lock().expect("sim lock").contains_key(key) {
        return Ok(key.to_string());
    }
    Err(error(
        StatusCode::UNAUTHORIZED,
        &format!(
            "This endpoint only accepts an active CONSOLE key, but an invalid key was sent. Key: {}",
            redact_key(key)
        ),
    ))
}

/// `permissions` must be an object of booleans.
fn flags(value: Option<&Value>) -> Option<Role> {
    value?
        .as_object()?
        .iter()
        .map(|(k, v)| v.as_bool().map(|b| (k.clone(), b)))
        .collect()
}

#[derive(Deserialize)]
struct ListQuery {
    page: Option<String>,
    limit: Option<String>,
}

async fn list(State(sim): Shared, headers: HeaderMap, Query(q): Query<ListQuery>) -> Response {
    let key = match project(&sim, &headers) {
        Ok(k) => k,
        Err(r) => return r,
    };
    let page: usize = match q.page.as_deref().map(str::parse).transpose() {
        Ok(p) => p.unwrap_or(1).max(1),
        Err(_) => return bad_request(),
    };
    let limit: usize = match q.limit.as_deref().map(str::parse).transpose() {
        Ok(l) => l.unwrap_or(100).clamp(1, 100),
        Err(_) => return bad_request(),
    };
    let roles = sim.roles(&key);
    let total = roles.len();
    let data: Vec<Value> = roles
        .iter()
        .skip((page - 1) * limit)
        .take(limit)
        .map(|(n, p)| json!({"name": n, "permissions": p}))
        .collect();
    let next = (page * limit < total)
        .then(|| format!("/console/v1/roles?page={}&limit={limit}", page + 1));
    let prev = (page > 1).then(|| format!("/console/v1/roles?page={}&limit={limit}", page - 1));
    axum::Json(json!({
        "message": "Roles listed successfully.",
        "data": data,
        "pagination": {
            "itemsPerPage": limit, "pageNumber": page, "totalItems": total,
            "nextPage": next, "previousPage": prev, "all": "/console/v1/roles",
        }
    }))
    .into_response()
}

async fn create(
    State(sim): Shared,
    headers: HeaderMap,
    body: Option<axum::Json<Value>>,
) -> Response {
    let key = match project(&sim, &headers) {
        Ok(k) => k,
        Err(r) => return r,
    };
    let Some(axum::Json(body)) = body else {
        return bad_request();
    };
    let name = body
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let Some(perms) = flags(body.get("permissions")) else {
        return bad_request();
    };
    if name.trim().is_empty() {
        return bad_request();
    }
    if sim.role(&key, &name).is_some() {
        let status = *sim.duplicate_status.lock().expect("sim lock");
        return error(
            StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
            &format!("A role named {name} already exists."),
        );
    }
    sim.put_role(&key, &name, perms.clone());
    (
        StatusCode::CREATED,
        axum::Json(json!({"message": "Role created successfully.", "data": {"name": name, "permissions": perms}})),
    )
        .into_response()
}

async fn read(State(sim): Shared, headers: HeaderMap, Path(name): Path<String>) -> Response {
    let key = match project(&sim, &headers) {
        Ok(k) => k,
        Err(r) => return r,
    };
    match sim.role(&key, &name) {
        Some(p) => axum::Json(
            json!({"message": "Role read successfully.", "data": {"name": name, "permissions": p}}),
        )
        .into_response(),
        None => not_found(),
    }
}

async fn update(
    State(sim): Shared,
    headers: HeaderMap,
    Path(name): Path<String>,
    body: Option<axum::Json<Value>>,
) -> Response {
    let key = match project(&sim, &headers) {
        Ok(k) => k,
        Err(r) => return r,
    };
    let Some(axum::Json(body)) = body else {
        return bad_request();
    };
    let Some(changes) = flags(body.get("permissions")) else {
        return bad_request();
    };
    if body
        .get("name")
        .is_some_and(|n| n.as_str() != Some(name.as_str()))
    {
        return bad_request();
    }
    let Some(mut perms) = sim.role(&key, &name) else {
        return not_found();
    };
    perms.extend(changes);
    sim.put_role(&key, &name, perms.clone());
    axum::Json(json!({"message": "Role updated successfully.", "data": {"name": name, "permissions": perms}}))
        .into_response()
}

async fn delete(State(sim): Shared, headers: HeaderMap, Path(name): Path<String>) -> Response {
    let key = match project(&sim, &headers) {
        Ok(k) => k,
        Err(r) => return r,
    };
    if sim.remove_role(&key, &name) {
        axum::Json(json!({"message": "Role deleted successfully."})).into_response()
    } else {
        not_found()
    }
}

#[derive(Deserialize)]
struct AdminRole {
    key: String,
    permissions: Role,
}

/// The API under `/statsig`, plus admin edits: `PUT _admin/roles/{name}` with
/// `{key, permissions}` and `DELETE _admin/roles/{name}?key=`.
fn routes(sim: Arc<StatsigSim>) -> Routes {
    let admin = Router::new()
        .route(
            "/_admin/roles/{name}",
            axum::routing::put(
                |State(s): Shared,
                 Path(name): Path<String>,
                 axum::Json(r): axum::Json<AdminRole>| async move {
                    s.put_role(&r.key, &name, r.permissions);
                    StatusCode::NO_CONTENT
                },
            )
            .delete(
                |State(s): Shared,
                 Path(name): Path<String>,
                 Query(q): Query<HashMap<String, String>>| async move {
                    let key = q.get("key").cloned().unwrap_or_default();
                    if s.remove_role(&key, &name) {
                        StatusCode::NO_CONTENT
                    } else {
                        StatusCode::NOT_FOUND
                    }
                },
            ),
        )
        .with_state(sim.clone());
    let api = Router::new()
        .route("/console/v1/roles", get(list).post(create))
        .route(
            "/console/v1/roles/{name}",
            get(read).patch(update).delete(delete),
        )
        .with_state(sim);
    Routes { api, admin }
}
