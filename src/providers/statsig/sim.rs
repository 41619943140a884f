//! Statsig Console API simulator (`/statsig`), faithful to `providers/statsig.md`: the
//! `STATSIG-API-KEY` header (401 with a key echo, as Statsig does), one project per key, roles keyed
//! by URL-decoded name, 400 on bad bodies and duplicate names, 404 on unknown names, PATCH merging
//! flags, paged listing with `nextPage`.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, put};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::sim::{
    Answer, JsonBody, Params, ProductSim, PublishedLimits, PublishedWindow, Refusal, Routes,
    SingleApi, Traffic, found, header, sim_args,
};

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
    /// `providers/statsig.md` "Rate limits": about 100 mutations per 10 s and 900 per 15 min,
    /// per project (each key is its own project here). Reads are not documented as limited.
    const PUBLISHED_LIMITS: PublishedLimits = PublishedLimits {
        windows: &[
            PublishedWindow {
                requests: 100,
                seconds: 10,
                mutations_only: true,
            },
            PublishedWindow {
                requests: 900,
                seconds: 900,
                mutations_only: true,
            },
        ],
        per_header: Some("statsig-api-key"),
    };

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

    /// The API under `/statsig`, plus admin edits: `PUT _admin/roles/{name}` with
    /// `{key, permissions}` and `DELETE _admin/roles/{name}?key=`.
    fn routes(self: &Arc<Self>) -> Routes {
        let admin = Router::new()
            .route("/_admin/roles/{name}", put(admin_put).delete(admin_delete))
            .with_state(self.clone());
        let api = Router::new()
            .route("/console/v1/roles", get(list).post(create))
            .route(
                "/console/v1/roles/{name}",
                get(read).patch(update).delete(delete),
            )
            .with_state(self.clone());
        Routes { api, admin }
    }
}

fn redact_key(key: &str) -> String {
    format!("{}…", &key[..key.floor_char_boundary(12.min(key.len()))])
}

/// Statsig's error body: `{status, message}`.
fn error(status: StatusCode, message: &str) -> Refusal {
    Refusal::json(
        status,
        json!({"status": status.as_u16(), "message": message}),
    )
}

fn bad_request() -> Refusal {
    error(
        StatusCode::BAD_REQUEST,
        "Invalid request. Please check the request input and try again.",
    )
}

fn not_found() -> Refusal {
    error(
        StatusCode::NOT_FOUND,
        "Not Found. The requested resource could not be found.",
    )
}

/// A role answered with Statsig's `{message, data}` wrapper.
fn role_answer(message: &str, name: &str, permissions: &Role) -> axum::Json<Value> {
    axum::Json(json!({"message": message, "data": {"name": name, "permissions": permissions}}))
}

type Shared = State<Arc<StatsigSim>>;

/// The project of the request's key, or the 401 Statsig answers.
fn project(sim: &StatsigSim, headers: &HeaderMap) -> Result<String, Refusal> {
    let key = header(headers, "statsig-api-key").unwrap_or_default();
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

/// `permissions`, which must be an object of booleans.
fn flags(body: &Value) -> Result<Role, Refusal> {
    let flags = body.get("permissions").and_then(Value::as_object);
    let flags = flags.ok_or_else(bad_request)?;
    flags
        .iter()
        .map(|(k, v)| v.as_bool().map(|b| (k.clone(), b)).ok_or_else(bad_request))
        .collect()
}

#[derive(Deserialize)]
struct ListQuery {
    page: Option<String>,
    limit: Option<String>,
}

/// A paging parameter: a number when sent, 400 otherwise.
fn number(value: Option<&str>, default: usize) -> Result<usize, Refusal> {
    value.map_or(Ok(default), |v| v.parse().map_err(|_| bad_request()))
}

async fn list(State(sim): Shared, headers: HeaderMap, Query(q): Query<ListQuery>) -> Answer {
    let key = project(&sim, &headers)?;
    let page = number(q.page.as_deref(), 1)?.max(1);
    let limit = number(q.limit.as_deref(), 100)?.clamp(1, 100);
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
    Ok(axum::Json(json!({
        "message": "Roles listed successfully.",
        "data": data,
        "pagination": {
            "itemsPerPage": limit, "pageNumber": page, "totalItems": total,
            "nextPage": next, "previousPage": prev, "all": "/console/v1/roles",
        }
    }))
    .into_response())
}

async fn create(State(sim): Shared, headers: HeaderMap, body: JsonBody) -> Answer {
    let key = project(&sim, &headers)?;
    let axum::Json(body) = body.ok_or_else(bad_request)?;
    let name = body
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let perms = flags(&body)?;
    if name.trim().is_empty() {
        return Err(bad_request());
    }
    if sim.role(&key, &name).is_some() {
        let status = *sim.duplicate_status.lock().expect("sim lock");
        return Err(error(
            StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
            &format!("A role named {name} already exists."),
        ));
    }
    sim.put_role(&key, &name, perms.clone());
    let created = role_answer("Role created successfully.", &name, &perms);
    Ok((StatusCode::CREATED, created).into_response())
}

async fn read(State(sim): Shared, headers: HeaderMap, Path(name): Path<String>) -> Answer {
    let key = project(&sim, &headers)?;
    let perms = sim.role(&key, &name).ok_or_else(not_found)?;
    Ok(role_answer("Role read successfully.", &name, &perms).into_response())
}

async fn update(
    State(sim): Shared,
    headers: HeaderMap,
    Path(name): Path<String>,
    body: JsonBody,
) -> Answer {
    let key = project(&sim, &headers)?;
    let axum::Json(body) = body.ok_or_else(bad_request)?;
    let changes = flags(&body)?;
    if body
        .get("name")
        .is_some_and(|n| n.as_str() != Some(name.as_str()))
    {
        return Err(bad_request());
    }
    let mut perms = sim.role(&key, &name).ok_or_else(not_found)?;
    perms.extend(changes);
    sim.put_role(&key, &name, perms.clone());
    Ok(role_answer("Role updated successfully.", &name, &perms).into_response())
}

async fn delete(State(sim): Shared, headers: HeaderMap, Path(name): Path<String>) -> Answer {
    let key = project(&sim, &headers)?;
    if !sim.remove_role(&key, &name) {
        return Err(not_found());
    }
    Ok(axum::Json(json!({"message": "Role deleted successfully."})).into_response())
}

#[derive(Deserialize)]
struct AdminRole {
    key: String,
    permissions: Role,
}

async fn admin_put(
    State(s): Shared,
    Path(name): Path<String>,
    axum::Json(r): axum::Json<AdminRole>,
) -> StatusCode {
    s.put_role(&r.key, &name, r.permissions);
    StatusCode::NO_CONTENT
}

async fn admin_delete(State(s): Shared, Path(name): Path<String>, Query(q): Params) -> StatusCode {
    found(s.remove_role(q.get("key").map_or("", String::as_str), &name))
}
