//! BigPanda Roles API v2.1 simulator, one instance per region (`/bigpanda` US, `/bigpanda-eu`
//! EU), each with its own roles and its own key: a key from the other region gets 401, as a
//! real organisation's key does on the other host. Modelled on `providers/bigpanda.md`:
//!
//! - `region`: one region's state (roles, key, behaviour switches) and its out-of-band edits;
//! - `role`: a role as stored, as read from a request body (the API's rules), and as answered;
//! - `api`: the Roles API (Bearer key, 201 on create, duplicate names refused, full-replace PUT,
//!   204 then 404 on delete, `{status, errors}` error bodies, built-in roles that cannot change);
//! - `admin`: the region's admin routes (staging and editing roles, settings).

mod admin;
mod api;
mod region;
mod role;

use std::sync::Arc;

use axum::Router;
use serde_json::Value;

pub use region::{BigPandaSim, Settings, built_in_id};
pub use role::ActionsForm;
pub use role::{RoleInput, SimPermission, SimRole};

use crate::sim::{
    ProductSim, PublishedLimits, Routes, Simulated, Traffic, product_router, sim_args,
};

sim_args! {
    /// BigPanda user API key accepted by /bigpanda (the US region).
    api_key: String = "sim-bigpanda-key",
        flag "bigpanda-api-key", env "ROLEPLANE_SIM_BIGPANDA_API_KEY";
    /// BigPanda user API key accepted by /bigpanda-eu (the EU region; US keys get 401 there).
    eu_api_key: String = "sim-bigpanda-eu-key",
        flag "bigpanda-eu-api-key", env "ROLEPLANE_SIM_BIGPANDA_EU_API_KEY";
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
            ("/bigpanda", product_router(&self.us)),
            ("/bigpanda-eu", product_router(&self.eu)),
        ]
    }

    fn main_traffic(&self) -> &Traffic {
        &self.us.traffic
    }

    fn all_traffic(&self) -> Vec<&Traffic> {
        vec![&self.us.traffic, &self.eu.traffic]
    }
}

/// Each region is served as its own API, with its own traffic.
impl ProductSim for BigPandaSim {
    /// `providers/bigpanda.md` "Rate limits": nothing published for the Roles API.
    const PUBLISHED_LIMITS: PublishedLimits = PublishedLimits::NONE;

    fn traffic(&self) -> &Traffic {
        &self.traffic
    }

    fn state(&self) -> Value {
        self.snapshot()
    }

    fn routes(self: &Arc<Self>) -> Routes {
        Routes {
            api: api::routes(self.clone()),
            admin: admin::routes(self.clone()),
        }
    }
}
