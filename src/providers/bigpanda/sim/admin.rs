//! A region's own admin routes (never faulted or recorded), for out-of-band changes:
//! `POST _admin/roles` (a create body; no uniqueness check) → the stored role,
//! `PATCH _admin/roles/{id}` with any of `{name, users, permissions}`,
//! `DELETE _admin/roles/{id}` (built-ins included), and `GET|PUT _admin/settings` ([`Settings`]).

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, patch, post};
use serde::Deserialize;

use super::api::role_input;
use super::region::{BigPandaSim, Settings};
use super::role::SimPermission;
use crate::sim::{Answer, found};

type Shared = State<Arc<BigPandaSim>>;

/// Out-of-band edit body: fields present replace the role's.
#[derive(Deserialize)]
struct Edit {
    name: Option<String>,
    users: Option<Vec<String>>,
    permissions: Option<Vec<SimPermission>>,
}

async fn stage(State(sim): Shared, bytes: Bytes) -> Answer {
    let input = role_input(&bytes)?;
    Ok((StatusCode::CREATED, axum::Json(sim.insert_role(input))).into_response())
}

async fn edit(
    State(sim): Shared,
    Path(id): Path<String>,
    axum::Json(e): axum::Json<Edit>,
) -> StatusCode {
    let edited = sim.edit_role(&id, |r| {
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
    found(edited.is_some())
}

async fn remove(State(sim): Shared, Path(id): Path<String>) -> StatusCode {
    found(sim.remove_role(&id))
}

async fn settings(State(sim): Shared) -> axum::Json<Settings> {
    axum::Json(sim.settings())
}

async fn set_settings(State(sim): Shared, axum::Json(s): axum::Json<Settings>) -> StatusCode {
    sim.set_settings(s);
    StatusCode::NO_CONTENT
}

pub fn routes(sim: Arc<BigPandaSim>) -> Router {
    Router::new()
        .route("/_admin/roles", post(stage))
        .route("/_admin/roles/{id}", patch(edit).delete(remove))
        .route("/_admin/settings", get(settings).put(set_settings))
        .with_state(sim)
}
