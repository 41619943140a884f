//! Looker API 4.0 simulator (`/looker/api/4.0`), faithful to `providers/looker.md`: `POST /login`
//! (form or query `client_id` / `client_secret`; 404 for unknown ones) issuing tokens that expire
//! (401 after), roles with embedded permission and model sets, the permission catalogue, built-in
//! "Admin" role / "Admin" permission set / "All" model set (405 on change), 409 on duplicate
//! names (case-insensitive by default), 422 with field errors, 404 on unknown ids, `/search` with
//! SQL-LIKE name matching and limit/offset. Ids are strings from one counter, so a set id never
//! doubles as another kind's.

mod admin;
mod api;
mod http;
mod seed;
mod sets;
mod state;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::{Value, json};

use crate::sim::{ProductSim, PublishedLimits, Routes, SingleApi, Traffic, sim_args};
use state::State;

sim_args! {
    /// Looker API client id accepted by /looker/api/4.0/login.
    client_id: String = "sim-client-id",
        flag "looker-client-id", env "ROLEPLANE_SIM_LOOKER_CLIENT_ID";
    /// Looker API client secret accepted by /looker/api/4.0/login.
    client_secret: String = "sim-client-secret",
        flag "looker-client-secret", env "ROLEPLANE_SIM_LOOKER_CLIENT_SECRET";
    /// Lifetime of Looker access tokens in seconds (`expires_in`; 401 afterwards).
    token_ttl_seconds: u64 = "3600",
        flag "looker-token-ttl-seconds", env "ROLEPLANE_SIM_LOOKER_TOKEN_TTL_SECONDS";
}

/// The simulator the registry assembles.
pub type Sim = LookerSim;

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

pub struct LookerSim {
    pub traffic: Traffic,
    state: Mutex<State>,
}

impl SingleApi for LookerSim {
    type Args = Args;
    const PREFIX: &'static str = "/looker";

    /// An instance accepting one API key, with the built-in Admin role and sets.
    fn from_args(args: Args) -> Self {
        let ttl = Duration::from_secs(args.token_ttl_seconds);
        Self {
            traffic: Traffic::new(),
            state: Mutex::new(State::new(&args.client_id, &args.client_secret, ttl)),
        }
    }
}

impl LookerSim {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().expect("sim lock")
    }
}

impl ProductSim for LookerSim {
    /// `providers/looker.md` "Rate limits": 429 is declared, no numbers are published.
    const PUBLISHED_LIMITS: PublishedLimits = PublishedLimits::NONE;

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

    /// The API under `/looker/api/4.0` and the admin edits under `/looker/_admin`.
    fn routes(self: &Arc<Self>) -> Routes {
        Routes {
            api: api::router(self.clone()),
            admin: admin::router(self.clone()),
        }
    }
}
