//! The Roles API of one region: `Authorization: Bearer <user API key>` (401 otherwise), paged
//! listing, 201 on create, duplicate names refused (409 unless configured otherwise), full-replace
//! PUT, 204 then 404 on delete, built-in roles refused (403), errors as `{status, errors}`.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use serde::Deserialize;
use serde_json::{Value, json};

use super::region::BigPandaSim;
use super::role::{self, RoleInput, SimRole};
use crate::sim::{Answer, Refusal, authorization};

const ROLES_PATH: &str = "/resources/v2.1/roles";

type Shared = State<Arc<BigPandaSim>>;

/// BigPanda's default error body.
pub(super) fn error(status: StatusCode, message: &str) -> Refusal {
    Refusal::json(
        status,
        json!({"status": status.as_u16(), "errors": [message]}),
    )
}

fn not_found(id: &str) -> Refusal {
    error(StatusCode::NOT_FOUND, &format!("Role {id} not found"))
}

/// A create or replace body, read by the Roles API's rules (400 otherwise).
pub(super) fn role_input(bytes: &[u8]) -> Result<RoleInput, Refusal> {
    role::read_body(bytes).map_err(|m| error(StatusCode::BAD_REQUEST, &m))
}

/// A success answer, bare or wrapped per the settings.
fn answer(sim: &BigPandaSim, status: StatusCode, data: Value) -> Answer {
    let body = if sim.settings().wrap_responses {
        json!({"status": status.as_u16(), "data": data})
    } else {
        data
    };
    Ok((status, axum::Json(body)).into_response())
}

fn answer_role(sim: &BigPandaSim, status: StatusCode, role: &SimRole) -> Answer {
    answer(sim, status, role::render(role, sim.settings().actions_form))
}

/// The 401 BigPanda answers unless `Authorization: Bearer <key>` carries this region's key.
fn authorize(sim: &BigPandaSim, headers: &HeaderMap) -> Result<(), Refusal> {
    let key = match authorization(headers) {
        Some(("Bearer", key)) => key,
        _ => "",
    };
    if sim.accepts(key) {
        return Ok(());
    }
    Err(error(StatusCode::UNAUTHORIZED, "Authorization Required"))
}

fn duplicate(sim: &BigPandaSim, name: &str) -> Refusal {
    let status =
        StatusCode::from_u16(sim.settings().duplicate_status).unwrap_or(StatusCode::CONFLICT);
    error(status, &format!("Role with name '{name}' already exists"))
}

fn refuse_built_in(role: &SimRole) -> Refusal {
    error(
        StatusCode::FORBIDDEN,
        &format!("{} is a system role and cannot be modified", role.name),
    )
}

#[derive(Deserialize)]
struct ListQuery {
    page: Option<String>,
    per_page: Option<String>,
}

async fn list(State(sim): Shared, headers: HeaderMap, Query(q): Query<ListQuery>) -> Answer {
    authorize(&sim, &headers)?;
    let number = |v: &Option<String>, default: usize| match v.as_deref() {
        None => Some(default),
        Some(s) => s.parse::<usize>().ok(),
    };
    let (Some(page), Some(per_page)) = (number(&q.page, 1), number(&q.per_page, 20)) else {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "\"page\" and \"per_page\" must be numbers",
        ));
    };
    let (page, per_page) = (page.max(1), per_page.clamp(1, 100));
    let form = sim.settings().actions_form;
    let data: Vec<Value> = sim
        .roles()
        .iter()
        .skip((page - 1) * per_page)
        .take(per_page)
        .map(|r| role::render(r, form))
        .collect();
    answer(&sim, StatusCode::OK, Value::Array(data))
}

async fn create(State(sim): Shared, headers: HeaderMap, bytes: Bytes) -> Answer {
    authorize(&sim, &headers)?;
    let input = role_input(&bytes)?;
    if !sim.roles_named(&input.name).is_empty() {
        return Err(duplicate(&sim, &input.name));
    }
    let role = sim.insert_role(input);
    answer_role(&sim, StatusCode::CREATED, &role)
}

async fn read(State(sim): Shared, headers: HeaderMap, Path(id): Path<String>) -> Answer {
    authorize(&sim, &headers)?;
    let role = sim.role(&id).ok_or_else(|| not_found(&id))?;
    answer_role(&sim, StatusCode::OK, &role)
}

async fn replace(
    State(sim): Shared,
    headers: HeaderMap,
    Path(id): Path<String>,
    bytes: Bytes,
) -> Answer {
    authorize(&sim, &headers)?;
    let current = sim.role(&id).ok_or_else(|| not_found(&id))?;
    if current.built_in {
        return Err(refuse_built_in(&current));
    }
    let input = role_input(&bytes)?;
    if sim.roles_named(&input.name).iter().any(|r| r.id != id) {
        return Err(duplicate(&sim, &input.name));
    }
    // Full replace: users left out become none, permissions are exactly those sent.
    let replaced = sim.edit_role(&id, |role| {
        role.name = input.name;
        role.users = input.users;
        role.permissions = input.permissions;
    });
    let role = replaced.ok_or_else(|| not_found(&id))?;
    answer_role(&sim, StatusCode::OK, &role)
}

async fn delete(State(sim): Shared, headers: HeaderMap, Path(id): Path<String>) -> Answer {
    authorize(&sim, &headers)?;
    let role = sim.role(&id).ok_or_else(|| not_found(&id))?;
    if role.built_in {
        return Err(refuse_built_in(&role));
    }
    sim.remove_role(&id);
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `GET|POST /resources/v2.1/roles` and `GET|PUT|DELETE /resources/v2.1/roles/{id}`.
pub fn routes(sim: Arc<BigPandaSim>) -> Router {
    Router::new()
        .route(ROLES_PATH, get(list).post(create))
        .route(
            &format!("{ROLES_PATH}/{{id}}"),
            get(read).put(replace).delete(delete),
        )
        .with_state(sim)
}
