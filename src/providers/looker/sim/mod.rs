//! Looker API 4.0 simulator (`/looker/api/4.0`), faithful to `providers/looker.md`: `POST /login`
//! (form or query `client_id` / `client_secret`; 404 for unknown ones) issuing tokens that expire
//! (401 after), roles with embedded permission and model sets, the permission catalogue, built-in
//! "Admin" role / "Admin" permission set / "All" model set (405 on change), 409 on duplicate
//! names (case-insensitive by default), 422 with field errors, 404 on unknown ids, `/search` with
//! SQL-LIKE name matching and limit/offset. Ids are strings from one counter, so a set id never
//! doubles as another kind's.

mod admin;
mod api;
mod seed;
mod sets;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::{Value, json};

use axum::Router;

use crate::sim::{ProductSim, Simulated, Routes, Traffic, product_router};

/// The Looker API client id and secret the simulator accepts, and its token lifetime.
#[derive(Clone, Debug, clap::Args)]
#[group(skip)]
pub struct Args {
    /// Looker API client id accepted by /looker/api/4.0/login.
    #[arg(
        id = "looker-client-id",
        long = "looker-client-id",
        env = "ROLEPLANE_SIM_LOOKER_CLIENT_ID",
        default_value = "sim-client-id"
    )]
    pub client_id: String,
    /// Looker API client secret accepted by /looker/api/4.0/login.
    #[arg(
        id = "looker-client-secret",
        long = "looker-client-secret",
        env = "ROLEPLANE_SIM_LOOKER_CLIENT_SECRET",
        default_value = "sim-client-secret"
    )]
    pub client_secret: String,
    /// Lifetime of Looker access tokens in seconds (`expires_in`; 401 afterwards).
    #[arg(
        id = "looker-token-ttl-seconds",
        long = "looker-token-ttl-seconds",
        env = "ROLEPLANE_SIM_LOOKER_TOKEN_TTL_SECONDS",
        default_value_t = 3600
    )]
    pub token_ttl_seconds: u64,
}

impl Default for Args {
    fn default() -> Self {
        Self {
            client_id: "sim-client-id".into(),
            client_secret: "sim-client-secret".into(),
            token_ttl_seconds: 3600,
        }
    }
}

/// The simulator the registry assembles.
pub type Sim = LookerSim;

impl Simulated for LookerSim {
    type Args = Args;

    fn new(args: Args) -> Self {
        LookerSim::new(
            &args.client_id,
            &args.client_secret,
            Duration::from_secs(args.token_ttl_seconds),
        )
    }

    fn mounts(self: &Arc<Self>) -> Vec<(&'static str, Router)> {
        vec![("/looker", product_router(routes(self.clone()), self.clone()))]
    }

    fn main_traffic(&self) -> &Traffic {
        &self.traffic
    }
}

/// Permission set or model set.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SetKind {
    Permission,
    Model,
}

impl SetKind {
    fn items_field(self) -> &'static str {
        match self {
            SetKind::Permission => "permissions",
            SetKind::Model => "models",
        }
    }

    fn noun(self) -> &'static str {
        match self {
            SetKind::Permission => "Permission set",
            SetKind::Model => "Model set",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SimRole {
    pub id: String,
    pub name: String,
    pub permission_set_id: String,
    pub model_set_id: String,
    pub built_in: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SimSet {
    pub id: String,
    pub name: String,
    /// Permissions or models.
    pub items: Vec<String>,
    pub built_in: bool,
    pub all_access: bool,
}

struct State {
    /// Accepted API keys: client id → secret.
    clients: HashMap<String, String>,
    token_ttl: Duration,
    /// Token → (client id, expiry).
    tokens: HashMap<String, (String, Instant)>,
    logins: u32,
    next_id: u64,
    roles: BTreeMap<u64, SimRole>,
    permission_sets: BTreeMap<u64, SimSet>,
    model_sets: BTreeMap<u64, SimSet>,
    case_insensitive_names: bool,
}

impl State {
    fn sets(&self, kind: SetKind) -> &BTreeMap<u64, SimSet> {
        match kind {
            SetKind::Permission => &self.permission_sets,
            SetKind::Model => &self.model_sets,
        }
    }

    fn sets_mut(&mut self, kind: SetKind) -> &mut BTreeMap<u64, SimSet> {
        match kind {
            SetKind::Permission => &mut self.permission_sets,
            SetKind::Model => &mut self.model_sets,
        }
    }

    fn next(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    fn same_name(&self, a: &str, b: &str) -> bool {
        if self.case_insensitive_names {
            a.to_lowercase() == b.to_lowercase()
        } else {
            a == b
        }
    }

    fn insert_set(&mut self, kind: SetKind, name: &str, items: Vec<String>) -> String {
        let id = self.next();
        self.sets_mut(kind).insert(
            id,
            SimSet {
                id: id.to_string(),
                name: name.to_string(),
                items,
                built_in: false,
                all_access: false,
            },
        );
        id.to_string()
    }
}

pub struct LookerSim {
    pub traffic: Traffic,
    state: Mutex<State>,
}

fn key(id: &str) -> Option<u64> {
    id.parse().ok()
}

impl LookerSim {
    /// An instance accepting one API key, with the built-in Admin role and sets.
    pub fn new(client_id: &str, client_secret: &str, token_ttl: Duration) -> Self {
        let mut state = State {
            clients: HashMap::from([(client_id.to_string(), client_secret.to_string())]),
            token_ttl,
            tokens: HashMap::new(),
            logins: 0,
            next_id: 0,
            roles: BTreeMap::new(),
            permission_sets: BTreeMap::new(),
            model_sets: BTreeMap::new(),
            case_insensitive_names: true,
        };
        let all_permissions = seed::PERMISSIONS.iter().map(|p| p.0.to_string()).collect();
        let admin_ps = state.insert_set(SetKind::Permission, "Admin", all_permissions);
        let all_ms = state.insert_set(
            SetKind::Model,
            "All",
            seed::MODELS.iter().map(|m| m.to_string()).collect(),
        );
        for kind in [SetKind::Permission, SetKind::Model] {
            for set in state.sets_mut(kind).values_mut() {
                set.built_in = true;
                set.all_access = true;
            }
        }
        let id = state.next();
        state.roles.insert(
            id,
            SimRole {
                id: id.to_string(),
                name: "Admin".into(),
                permission_set_id: admin_ps,
                model_set_id: all_ms,
                built_in: true,
            },
        );
        Self {
            traffic: Traffic::new(),
            state: Mutex::new(state),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().expect("sim lock")
    }

    /// Makes every issued token expire now (the next call with one gets 401).
    pub fn expire_tokens(&self) {
        let now = Instant::now();
        for (_, expiry) in self.lock().tokens.values_mut() {
            *expiry = now;
        }
    }

    /// Lifetime of tokens issued from now on.
    pub fn set_token_ttl(&self, ttl: Duration) {
        self.lock().token_ttl = ttl;
    }

    /// Successful logins so far.
    pub fn logins(&self) -> u32 {
        self.lock().logins
    }

    /// Accepts another API key (e.g. after a rotation).
    pub fn add_client(&self, client_id: &str, client_secret: &str) {
        self.lock()
            .clients
            .insert(client_id.to_string(), client_secret.to_string());
    }

    /// Stops accepting an API key and revokes its tokens.
    pub fn revoke_client(&self, client_id: &str) {
        let mut state = self.lock();
        state.clients.remove(client_id);
        state.tokens.retain(|_, (c, _)| c != client_id);
    }

    /// Whether duplicate names are detected ignoring case (the default).
    pub fn set_case_insensitive_names(&self, on: bool) {
        self.lock().case_insensitive_names = on;
    }

    pub fn roles(&self) -> Vec<SimRole> {
        self.lock().roles.values().cloned().collect()
    }

    pub fn role(&self, id: &str) -> Option<SimRole> {
        self.lock().roles.get(&key(id)?).cloned()
    }

    pub fn role_by_name(&self, name: &str) -> Option<SimRole> {
        self.lock().roles.values().find(|r| r.name == name).cloned()
    }

    pub fn sets(&self, kind: SetKind) -> Vec<SimSet> {
        self.lock().sets(kind).values().cloned().collect()
    }

    pub fn set(&self, kind: SetKind, id: &str) -> Option<SimSet> {
        self.lock().sets(kind).get(&key(id)?).cloned()
    }

    pub fn set_by_name(&self, kind: SetKind, name: &str) -> Option<SimSet> {
        self.lock()
            .sets(kind)
            .values()
            .find(|s| s.name == name)
            .cloned()
    }

    /// Out-of-band: creates a set (no validation), returning its id.
    pub fn insert_set(&self, kind: SetKind, name: &str, items: &[&str]) -> String {
        self.lock()
            .insert_set(kind, name, items.iter().map(|s| s.to_string()).collect())
    }

    /// Out-of-band: changes a set's name and/or members (even a built-in one). False if unknown.
    pub fn edit_set(
        &self,
        kind: SetKind,
        id: &str,
        name: Option<&str>,
        items: Option<&[&str]>,
    ) -> bool {
        let mut state = self.lock();
        let Some(set) = key(id).and_then(|k| state.sets_mut(kind).get_mut(&k)) else {
            return false;
        };
        if let Some(name) = name {
            set.name = name.to_string();
        }
        if let Some(items) = items {
            set.items = items.iter().map(|s| s.to_string()).collect();
        }
        true
    }

    /// Out-of-band: deletes a set even if roles use it (they then embed null).
    pub fn remove_set(&self, kind: SetKind, id: &str) -> bool {
        let mut state = self.lock();
        key(id).is_some_and(|k| state.sets_mut(kind).remove(&k).is_some())
    }

    /// Out-of-band: creates a role (no validation), returning its id.
    pub fn insert_role(&self, name: &str, permission_set_id: &str, model_set_id: &str) -> String {
        let mut state = self.lock();
        let id = state.next();
        state.roles.insert(
            id,
            SimRole {
                id: id.to_string(),
                name: name.to_string(),
                permission_set_id: permission_set_id.to_string(),
                model_set_id: model_set_id.to_string(),
                built_in: false,
            },
        );
        id.to_string()
    }

    /// Out-of-band: changes a role's name and/or sets. False if unknown.
    pub fn edit_role(
        &self,
        id: &str,
        name: Option<&str>,
        permission_set_id: Option<&str>,
        model_set_id: Option<&str>,
    ) -> bool {
        let mut state = self.lock();
        let Some(role) = key(id).and_then(|k| state.roles.get_mut(&k)) else {
            return false;
        };
        if let Some(v) = name {
            role.name = v.to_string();
        }
        if let Some(v) = permission_set_id {
            role.permission_set_id = v.to_string();
        }
        if let Some(v) = model_set_id {
            role.model_set_id = v.to_string();
        }
        true
    }

    /// Out-of-band delete of a role.
    pub fn remove_role(&self, id: &str) -> bool {
        let mut state = self.lock();
        key(id).is_some_and(|k| state.roles.remove(&k).is_some())
    }

    fn set_json(&self, state: &State, kind: SetKind, id: &str) -> Value {
        match key(id).and_then(|k| state.sets(kind).get(&k)) {
            Some(set) => set_json(kind, set),
            None => Value::Null,
        }
    }

    fn role_json(&self, state: &State, role: &SimRole) -> Value {
        json!({
            "id": role.id,
            "name": role.name,
            "permission_set": self.set_json(state, SetKind::Permission, &role.permission_set_id),
            "model_set": self.set_json(state, SetKind::Model, &role.model_set_id),
            "internal": false,
            "can": {"show": true, "index": true, "update": !role.built_in, "delete": !role.built_in},
            "url": format!("/api/4.0/roles/{}", role.id),
            "users_url": format!("/api/4.0/roles/{}/users", role.id),
        })
    }
}

fn set_json(kind: SetKind, set: &SimSet) -> Value {
    let path = match kind {
        SetKind::Permission => "permission_sets",
        SetKind::Model => "model_sets",
    };
    let mut v = json!({
        "id": set.id,
        "name": set.name,
        "all_access": set.all_access,
        "built_in": set.built_in,
        "can": {"show": true, "index": true, "update": !set.built_in},
        "url": format!("/api/4.0/{path}/{}", set.id),
    });
    v[kind.items_field()] = json!(set.items);
    v
}

impl ProductSim for LookerSim {
    fn traffic(&self) -> &Traffic {
        &self.traffic
    }

    fn state(&self) -> Value {
        let state = self.lock();
        json!({
            "roles": state.roles.values().collect::<Vec<_>>(),
            "permissionSets": state.permission_sets.values().collect::<Vec<_>>(),
            "modelSets": state.model_sets.values().collect::<Vec<_>>(),
            "activeTokens": state.tokens.values().filter(|(_, e)| *e > Instant::now()).count(),
            "tokenTtlSeconds": state.token_ttl.as_secs(),
            "logins": state.logins,
        })
    }
}

/// The API under `/looker/api/4.0` and the admin edits under `/looker/_admin`.
pub fn routes(sim: Arc<LookerSim>) -> Routes {
    Routes {
        api: api::router(sim.clone()),
        admin: admin::router(sim),
    }
}
