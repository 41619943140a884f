//! BigPanda Roles API v2.1 simulator, one instance per region (`/bigpanda` US, `/bigpanda-eu`
//! EU), each with its own roles and its own key: a key from the other region gets 401, as a
//! real organisation's key does on the other host. Faithful to `providers/bigpanda.md`:
//! `Authorization: Bearer <user API key>`, 24-hex ids, 201 on create, duplicate names refused
//! (409 by default), full-replace PUT, 204 then 404 on delete, `{status, errors}` error bodies,
//! `actions` accepted as a string or a list (and answered as a string for single actions),
//! built-in Admin and User roles that cannot be changed.

mod state;

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};

pub use state::{ActionsForm, RoleInput, Settings, SimPermission, SimRole};

use crate::sim::{ProductSim, Simulated, Routes, Traffic, product_router};

pub const ROLES_PATH: &str = "/resources/v2.1/roles";

/// BigPanda user API keys the simulator accepts, one per region.
#[derive(Clone, Debug, clap::Args)]
#[group(skip)]
pub struct Args {
    /// BigPanda user API key accepted by /bigpanda (the US region).
    #[arg(
        id = "bigpanda-api-key",
        long = "bigpanda-api-key",
        env = "ROLEPLANE_SIM_BIGPANDA_API_KEY",
        default_value = "sim-bigpanda-key"
    )]
    pub api_key: String,
    /// BigPanda user API key accepted by /bigpanda-eu (the EU region; US keys get 401 there).
    #[arg(
        id = "bigpanda-eu-api-key",
        long = "bigpanda-eu-api-key",
        env = "ROLEPLANE_SIM_BIGPANDA_EU_API_KEY",
        default_value = "sim-bigpanda-eu-key"
    )]
    pub eu_api_key: String,
}

impl Default for Args {
    fn default() -> Self {
        Self {
            api_key: "sim-bigpanda-key".into(),
            eu_api_key: "sim-bigpanda-eu-key".into(),
        }
    }
}

/// Both regions: `/bigpanda` (US) and `/bigpanda-eu` (EU), with separate state and keys.
pub struct Sim {
    pub us: Arc<BigPandaSim>,
    pub eu: Arc<BigPandaSim>,
}

impl Simulated for Sim {
    type Args = Args;

    fn new(args: Args) -> Self {
        Self {
            us: Arc::new(BigPandaSim::new("us", args.api_key)),
            eu: Arc::new(BigPandaSim::new("eu", args.eu_api_key)),
        }
    }

    fn mounts(self: &Arc<Self>) -> Vec<(&'static str, Router)> {
        vec![
            ("/bigpanda", product_router(routes(self.us.clone()), self.us.clone())),
            ("/bigpanda-eu", product_router(routes(self.eu.clone()), self.eu.clone())),
        ]
    }

    fn main_traffic(&self) -> &Traffic {
        &self.us.traffic
    }
}

struct Store {
    roles: Vec<SimRole>,
    counter: u32,
    settings: Settings,
}

pub struct BigPandaSim {
    pub traffic: Traffic,
    /// `us` or `eu`, for the admin view.
    region: &'static str,
    keys: Mutex<BTreeSet<String>>,
    /// The user every key belongs to (`created_by` of roles made through the API).
    caller: String,
    store: Mutex<Store>,
}

impl BigPandaSim {
    pub fn new(region: &'static str, key: String) -> Self {
        let mut store = Store {
            roles: Vec::new(),
            counter: 0,
            settings: Settings::default(),
        };
        let system = next_id(&mut store);
        // Built-ins get fixed ids per region so manifests can adopt them.
        for (n, (name, permissions)) in [
            (
                "Admin",
                vec![
                    SimPermission::new("roles", None, &["full_access"]),
                    SimPermission::new("users", None, &["full_access"]),
                    SimPermission::new("environments", None, &["full_access"]),
                ],
            ),
            (
                "User",
                vec![SimPermission::new("environments", None, &["read"])],
            ),
        ]
        .into_iter()
        .enumerate()
        {
            store.roles.push(SimRole {
                id: built_in_id(region, n),
                name: name.into(),
                users: vec![],
                permissions,
                created_by: system.clone(),
                created_at: state::now(),
                updated_at: state::now(),
                built_in: true,
            });
        }
        let caller = next_id(&mut store);
        Self {
            traffic: Traffic::new(),
            region,
            keys: Mutex::new(BTreeSet::from([key])),
            caller,
            store: Mutex::new(store),
        }
    }

    fn store(&self) -> std::sync::MutexGuard<'_, Store> {
        self.store.lock().expect("sim lock")
    }

    /// Every role, built-ins first, then in creation order.
    pub fn roles(&self) -> Vec<SimRole> {
        self.store().roles.clone()
    }

    pub fn role(&self, id: &str) -> Option<SimRole> {
        self.store().roles.iter().find(|r| r.id == id).cloned()
    }

    pub fn roles_named(&self, name: &str) -> Vec<SimRole> {
        self.store()
            .roles
            .iter()
            .filter(|r| r.name == name)
            .cloned()
            .collect()
    }

    /// Out-of-band create (no uniqueness check, so tests can build ambiguous states).
    pub fn insert_role(&self, input: RoleInput) -> SimRole {
        let mut store = self.store();
        let role = SimRole {
            id: next_id(&mut store),
            name: input.name,
            users: input.users,
            permissions: input.permissions,
            created_by: self.caller.clone(),
            created_at: state::now(),
            updated_at: state::now(),
            built_in: false,
        };
        store.roles.push(role.clone());
        role
    }

    /// Out-of-band edit of one role; false when there is none with that id.
    pub fn edit_role(&self, id: &str, edit: impl FnOnce(&mut SimRole)) -> bool {
        let mut store = self.store();
        let Some(role) = store.roles.iter_mut().find(|r| r.id == id) else {
            return false;
        };
        edit(role);
        role.updated_at = state::now();
        true
    }

    /// Out-of-band delete (built-ins included).
    pub fn remove_role(&self, id: &str) -> bool {
        let mut store = self.store();
        let before = store.roles.len();
        store.roles.retain(|r| r.id != id);
        before != store.roles.len()
    }

    pub fn settings(&self) -> Settings {
        self.store().settings.clone()
    }

    pub fn set_settings(&self, settings: Settings) {
        self.store().settings = settings;
    }

    /// Accepts another key (e.g. after a rotation).
    pub fn add_key(&self, key: &str) {
        self.keys.lock().expect("sim lock").insert(key.to_string());
    }

    /// Stops accepting a key.
    pub fn revoke_key(&self, key: &str) {
        self.keys.lock().expect("sim lock").remove(key);
    }
}

/// Fixed id of built-in role `n` (0 Admin, 1 User): `5e8f0a1b2c3d4e5f6071a000` / `…a001` in the
/// US, `…e000` / `…e001` in the EU.
pub fn built_in_id(region: &str, n: usize) -> String {
    let code = if region == "eu" { 'e' } else { 'a' };
    format!("5e8f0a1b2c3d4e5f6071{code}{n:03x}")
}

fn next_id(store: &mut Store) -> String {
    store.counter += 1;
    state::new_id(store.counter)
}

impl ProductSim for BigPandaSim {
    fn traffic(&self) -> &Traffic {
        &self.traffic
    }

    fn state(&self) -> Value {
        let store = self.store();
        json!({
            "region": self.region,
            "roles": store.roles,
            "settings": store.settings,
        })
    }
}

/// BigPanda's default error body.
fn error(status: StatusCode, message: &str) -> Response {
    (
        status,
        axum::Json(json!({"status": status.as_u16(), "errors": [message]})),
    )
        .into_response()
}

fn not_found(id: &str) -> Response {
    error(StatusCode::NOT_FOUND, &format!("Role {id} not found"))
}

/// A success answer, bare or wrapped per the settings.
fn answer(sim: &BigPandaSim, status: StatusCode, data: Value) -> Response {
    let body = if sim.settings().wrap_responses {
        json!({"status": status.as_u16(), "data": data})
    } else {
        data
    };
    (status, axum::Json(body)).into_response()
}

type Shared = State<Arc<BigPandaSim>>;

/// The 401 BigPanda answers unless `Authorization: Bearer <key>` carries a key of this region.
fn unauthorized(sim: &BigPandaSim, headers: &HeaderMap) -> Option<Response> {
    let key = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default()
        .trim();
    let known = !key.is_empty() && sim.keys.lock().expect("sim lock").contains(key);
    (!known).then(|| error(StatusCode::UNAUTHORIZED, "Authorization Required"))
}

/// A create or replace body, or the 400 BigPanda answers.
fn role_input(bytes: &Bytes) -> Result<RoleInput, String> {
    let body: Value =
        serde_json::from_slice(bytes).map_err(|e| format!("Invalid JSON body: {e}"))?;
    state::parse_role(&body)
}

fn duplicate(sim: &BigPandaSim, name: &str) -> Response {
    let status =
        StatusCode::from_u16(sim.settings().duplicate_status).unwrap_or(StatusCode::CONFLICT);
    error(status, &format!("Role with name '{name}' already exists"))
}

#[derive(Deserialize)]
struct ListQuery {
    page: Option<String>,
    per_page: Option<String>,
}

async fn list(State(sim): Shared, headers: HeaderMap, Query(q): Query<ListQuery>) -> Response {
    if let Some(r) = unauthorized(&sim, &headers) {
        return r;
    }
    let number = |v: &Option<String>, default: usize| match v.as_deref() {
        None => Some(default),
        Some(s) => s.parse::<usize>().ok(),
    };
    let (Some(page), Some(per_page)) = (number(&q.page, 1), number(&q.per_page, 20)) else {
        return error(
            StatusCode::BAD_REQUEST,
            "\"page\" and \"per_page\" must be numbers",
        );
    };
    let (page, per_page) = (page.max(1), per_page.clamp(1, 100));
    let form = sim.settings().actions_form;
    let data: Vec<Value> = sim
        .roles()
        .iter()
        .skip((page - 1) * per_page)
        .take(per_page)
        .map(|r| state::render(r, form))
        .collect();
    answer(&sim, StatusCode::OK, Value::Array(data))
}

async fn create(State(sim): Shared, headers: HeaderMap, bytes: Bytes) -> Response {
    if let Some(r) = unauthorized(&sim, &headers) {
        return r;
    }
    let input = match role_input(&bytes) {
        Ok(input) => input,
        Err(m) => return error(StatusCode::BAD_REQUEST, &m),
    };
    if !sim.roles_named(&input.name).is_empty() {
        return duplicate(&sim, &input.name);
    }
    let role = sim.insert_role(input);
    let form = sim.settings().actions_form;
    answer(&sim, StatusCode::CREATED, state::render(&role, form))
}

async fn read(State(sim): Shared, headers: HeaderMap, Path(id): Path<String>) -> Response {
    if let Some(r) = unauthorized(&sim, &headers) {
        return r;
    }
    match sim.role(&id) {
        Some(role) => answer(
            &sim,
            StatusCode::OK,
            state::render(&role, sim.settings().actions_form),
        ),
        None => not_found(&id),
    }
}

fn refuse_built_in(role: &SimRole) -> Response {
    error(
        StatusCode::FORBIDDEN,
        &format!("{} is a system role and cannot be modified", role.name),
    )
}

async fn replace(
    State(sim): Shared,
    headers: HeaderMap,
    Path(id): Path<String>,
    bytes: Bytes,
) -> Response {
    if let Some(r) = unauthorized(&sim, &headers) {
        return r;
    }
    let Some(current) = sim.role(&id) else {
        return not_found(&id);
    };
    if current.built_in {
        return refuse_built_in(&current);
    }
    let input = match role_input(&bytes) {
        Ok(input) => input,
        Err(m) => return error(StatusCode::BAD_REQUEST, &m),
    };
    if sim.roles_named(&input.name).iter().any(|r| r.id != id) {
        return duplicate(&sim, &input.name);
    }
    // Full replace: users left out become none, permissions are exactly those sent.
    sim.edit_role(&id, |role| {
        role.name = input.name;
        role.users = input.users;
        role.permissions = input.permissions;
    });
    let role = sim.role(&id).expect("role was just edited");
    answer(
        &sim,
        StatusCode::OK,
        state::render(&role, sim.settings().actions_form),
    )
}

async fn delete(State(sim): Shared, headers: HeaderMap, Path(id): Path<String>) -> Response {
    if let Some(r) = unauthorized(&sim, &headers) {
        return r;
    }
    match sim.role(&id) {
        None => not_found(&id),
        Some(role) if role.built_in => refuse_built_in(&role),
        Some(_) => {
            sim.remove_role(&id);
            StatusCode::NO_CONTENT.into_response()
        }
    }
}

/// Out-of-band edit body: fields present replace the role's.
#[derive(Deserialize)]
struct AdminEdit {
    name: Option<String>,
    users: Option<Vec<String>>,
    permissions: Option<Vec<SimPermission>>,
}

/// The API under the region's prefix, plus admin edits:
/// `POST _admin/roles` (a create body; no uniqueness check) → the role,
/// `PATCH _admin/roles/{id}` with any of `{name, users, permissions}`,
/// `DELETE _admin/roles/{id}`, and `GET|PUT _admin/settings` ([`Settings`]).
pub fn routes(sim: Arc<BigPandaSim>) -> Routes {
    let admin =
        Router::new()
            .route(
                "/_admin/roles",
                post(|State(s): Shared, bytes: Bytes| async move {
                    match role_input(&bytes) {
                        Ok(input) => {
                            (StatusCode::CREATED, axum::Json(s.insert_role(input))).into_response()
                        }
                        Err(m) => error(StatusCode::BAD_REQUEST, &m),
                    }
                }),
            )
            .route(
                "/_admin/roles/{id}",
                axum::routing::patch(
                    |State(s): Shared,
                     Path(id): Path<String>,
                     axum::Json(e): axum::Json<AdminEdit>| async move {
                        let found = s.edit_role(&id, |r| {
                            if let Some(name) = e.name {
                                r.name = name;
                            }
                            if let Some(users) = e.users {
                                r.users = users;
                            }
                            if let Some(permissions) = e.permissions {
                                r.permissions = permissions;
                            }
                        });
                        if found {
                            StatusCode::NO_CONTENT
                        } else {
                            StatusCode::NOT_FOUND
                        }
                    },
                )
                .delete(|State(s): Shared, Path(id): Path<String>| async move {
                    if s.remove_role(&id) {
                        StatusCode::NO_CONTENT
                    } else {
                        StatusCode::NOT_FOUND
                    }
                }),
            )
            .route(
                "/_admin/settings",
                get(|State(s): Shared| async move { axum::Json(s.settings()) }).put(
                    |State(s): Shared, axum::Json(settings): axum::Json<Settings>| async move {
                        s.set_settings(settings);
                        StatusCode::NO_CONTENT
                    },
                ),
            )
            .with_state(sim.clone());
    let api = Router::new()
        .route(ROLES_PATH, get(list).post(create))
        .route(
            &format!("{ROLES_PATH}/{{id}}"),
            get(read).put(replace).delete(delete),
        )
        .with_state(sim);
    Routes { api, admin }
}
