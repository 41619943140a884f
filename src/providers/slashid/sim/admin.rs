//! The simulator's routes: SlashID's RBAC API, and the admin edits tests and users make out of
//! band (switches, roles, permissions).

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, put};
use serde::Deserialize;

use super::named;
use super::wire::Shared;
use super::{Permission, Role, SlashIdSim, Switches};
use crate::sim::{Params, Routes, found};

#[derive(Deserialize)]
struct AdminRole {
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    permissions: Vec<String>,
}

/// `?org=`, defaulting to the configured organisation.
fn org_of(sim: &SlashIdSim, query: &HashMap<String, String>) -> String {
    query
        .get("org")
        .cloned()
        .unwrap_or_else(|| sim.default_org.clone())
}

async fn put_switches(State(s): Shared, axum::Json(w): axum::Json<Switches>) -> StatusCode {
    s.set_switches(w);
    StatusCode::NO_CONTENT
}

async fn put_role(
    State(s): Shared,
    Path(name): Path<String>,
    axum::Json(r): axum::Json<AdminRole>,
) -> StatusCode {
    let permissions: Vec<&str> = r.permissions.iter().map(String::as_str).collect();
    s.put_role(&name, r.description.as_deref(), &permissions);
    StatusCode::NO_CONTENT
}

async fn delete_role(State(s): Shared, Path(name): Path<String>) -> StatusCode {
    found(s.remove_role(&name))
}

async fn put_permission(
    State(s): Shared,
    Path(name): Path<String>,
    Query(q): Params,
) -> StatusCode {
    s.put_permission(&org_of(&s, &q), &name);
    StatusCode::NO_CONTENT
}

async fn delete_permission(
    State(s): Shared,
    Path(name): Path<String>,
    Query(q): Params,
) -> StatusCode {
    if s.remove_permission(&org_of(&s, &q), &name) {
        StatusCode::NO_CONTENT
    } else {
        StatusCode::CONFLICT
    }
}

/// The API under `/slashid`, plus admin edits: `GET|PUT _admin/switches` ([`Switches`]),
/// `PUT _admin/roles/{fullName}` with `{description?, permissions}` (missing permissions are
/// created), `DELETE _admin/roles/{fullName}`, `PUT|DELETE _admin/permissions/{name}?org=`
/// (org defaults to the configured one; deleting one that is absent or in use answers 409).
pub fn routes(sim: Arc<SlashIdSim>) -> Routes {
    let admin = Router::new()
        .route(
            "/_admin/switches",
            get(|State(s): Shared| async move { axum::Json(s.switches()) }).put(put_switches),
        )
        .route("/_admin/roles/{name}", put(put_role).delete(delete_role))
        .route(
            "/_admin/permissions/{name}",
            put(put_permission).delete(delete_permission),
        )
        .with_state(sim.clone());
    let api = Router::new()
        .merge(named::routes::<Role>())
        .merge(named::routes::<Permission>())
        .with_state(sim);
    Routes { api, admin }
}
