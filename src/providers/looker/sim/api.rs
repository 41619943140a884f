//! Handlers of the simulated Looker API: login and logout, the permission catalogue and roles,
//! and the router. Sets live in `sets.rs`, shared helpers in `http.rs`, admin edits in
//! `admin.rs`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use percent_encoding::percent_decode_str;
use serde_json::{Value, json};

use super::http::{
    Shared, authorize, bad_request, check_name, error, invalid, like, modifiable, not_found, page,
    pick, refuse_taken, text, token_of,
};
use super::sets::{self, ModelSets, PermissionSets};
use super::state::{State as SimState, key};
use super::{LookerSim, SetKind, SimRole, seed};
use crate::sim::{Answer, JsonBody, Params, Refusal};

fn decode(s: &str) -> String {
    percent_decode_str(&s.replace('+', " "))
        .decode_utf8_lossy()
        .into_owned()
}

/// `POST /login` with a form body (or the deprecated query parameters).
async fn login(State(sim): Shared, Query(q): Params, body: Bytes) -> Answer {
    let mut params: HashMap<String, String> = String::from_utf8_lossy(&body)
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (decode(k), decode(v)))
        .collect();
    params.extend(q);
    let (Some(id), Some(secret)) = (params.get("client_id"), params.get("client_secret")) else {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "client_id and client_secret are required",
        ));
    };
    let mut state = sim.lock();
    if state.clients.get(id) != Some(secret) {
        return Err(not_found());
    }
    let token = format!(
        "{:032x}{:08x}",
        rand::random::<u128>(),
        rand::random::<u32>()
    );
    let ttl = state.token_ttl;
    state
        .tokens
        .insert(token.clone(), (id.clone(), Instant::now() + ttl));
    state.logins += 1;
    Ok(axum::Json(json!({
        "access_token": token, "token_type": "Bearer", "expires_in": ttl.as_secs(), "refresh_token": null,
    }))
    .into_response())
}

async fn logout(State(sim): Shared, headers: HeaderMap) -> Answer {
    authorize(&sim, &headers)?;
    if let Some(t) = token_of(&headers) {
        sim.lock().tokens.remove(t);
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn permissions(State(sim): Shared, headers: HeaderMap) -> Answer {
    authorize(&sim, &headers)?;
    let list: Vec<Value> = seed::PERMISSIONS
        .iter()
        .map(|(p, parent, d)| json!({"permission": p, "parent": parent, "description": d, "can": {}}))
        .collect();
    Ok(axum::Json(list).into_response())
}

async fn list_roles(State(sim): Shared, headers: HeaderMap, Query(q): Params) -> Answer {
    authorize(&sim, &headers)?;
    let state = sim.lock();
    let ids: Option<Vec<&str>> = q.get("ids").map(|v| v.split(',').collect());
    let rows: Vec<Value> = state
        .roles
        .values()
        .filter(|r| ids.as_ref().is_none_or(|ids| ids.contains(&r.id.as_str())))
        .map(|r| pick(state.role_json(r), q.get("fields")))
        .collect();
    Ok(axum::Json(rows).into_response())
}

async fn search_roles(State(sim): Shared, headers: HeaderMap, Query(q): Params) -> Answer {
    authorize(&sim, &headers)?;
    let state = sim.lock();
    let rows = state
        .roles
        .values()
        .filter(|r| q.get("name").is_none_or(|n| like(n, &r.name)))
        .filter(|r| q.get("id").is_none_or(|id| *id == r.id))
        .filter(|r| {
            q.get("built_in")
                .is_none_or(|b| b == if r.built_in { "true" } else { "false" })
        })
        .map(|r| state.role_json(r))
        .collect();
    page(rows, &q)
}

async fn get_role(State(sim): Shared, headers: HeaderMap, Path(id): Path<String>) -> Answer {
    authorize(&sim, &headers)?;
    let state = sim.lock();
    let role = key(&id)
        .and_then(|k| state.roles.get(&k))
        .ok_or_else(not_found)?;
    Ok(axum::Json(state.role_json(role)).into_response())
}

/// Validated writable role fields; `creating` requires all three.
fn role_fields(
    state: &SimState,
    body: &Value,
    creating: bool,
    own: Option<u64>,
) -> Result<[Option<String>; 3], Refusal> {
    if !body.is_object() {
        return Err(bad_request());
    }
    let (Ok(name), Ok(ps), Ok(ms)) = (
        text(body, "name"),
        text(body, "permission_set_id"),
        text(body, "model_set_id"),
    ) else {
        return Err(bad_request());
    };
    let mut errors = Vec::new();
    check_name(&name, creating, &mut errors);
    for (field, value, kind) in [
        ("permission_set_id", &ps, SetKind::Permission),
        ("model_set_id", &ms, SetKind::Model),
    ] {
        match value {
            Some(id) if key(id).and_then(|k| state.sets(kind).get(&k)).is_none() => errors.push((
                field,
                "invalid",
                format!("{} with id {id} does not exist", kind.noun()),
            )),
            None if creating => errors.push((field, "missing", "This field is required.".into())),
            _ => {}
        }
    }
    if !errors.is_empty() {
        return Err(invalid(&errors));
    }
    if let Some(n) = &name {
        let taken = state
            .roles
            .iter()
            .any(|(k, r)| Some(*k) != own && state.same_name(&r.name, n));
        refuse_taken(
            taken,
            creating,
            format!("Role with name '{n}' already exists"),
        )?;
    }
    Ok([name, ps, ms])
}

async fn create_role(State(sim): Shared, headers: HeaderMap, body: JsonBody) -> Answer {
    authorize(&sim, &headers)?;
    let axum::Json(body) = body.ok_or_else(bad_request)?;
    let mut state = sim.lock();
    let [name, ps, ms] = role_fields(&state, &body, true, None)?;
    let id = state.next();
    let role = SimRole {
        id: id.to_string(),
        name: name.unwrap_or_default(),
        permission_set_id: ps.unwrap_or_default(),
        model_set_id: ms.unwrap_or_default(),
        built_in: false,
    };
    state.roles.insert(id, role.clone());
    Ok(axum::Json(state.role_json(&role)).into_response())
}

/// PATCH: only the fields sent change.
async fn update_role(
    State(sim): Shared,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: JsonBody,
) -> Answer {
    authorize(&sim, &headers)?;
    let axum::Json(body) = body.ok_or_else(bad_request)?;
    let mut state = sim.lock();
    let k = modifiable(&state.roles, &id, |r| r.built_in)?;
    let [name, ps, ms] = role_fields(&state, &body, false, Some(k))?;
    let role = state.roles.get_mut(&k).expect("checked above");
    if let Some(v) = name {
        role.name = v;
    }
    if let Some(v) = ps {
        role.permission_set_id = v;
    }
    if let Some(v) = ms {
        role.model_set_id = v;
    }
    let role = role.clone();
    Ok(axum::Json(state.role_json(&role)).into_response())
}

async fn delete_role(State(sim): Shared, headers: HeaderMap, Path(id): Path<String>) -> Answer {
    authorize(&sim, &headers)?;
    let mut state = sim.lock();
    let k = modifiable(&state.roles, &id, |r| r.built_in)?;
    state.roles.remove(&k);
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub fn router(sim: Arc<LookerSim>) -> Router {
    Router::new()
        .route("/api/4.0/login", post(login))
        .route("/api/4.0/logout", axum::routing::delete(logout))
        .route("/api/4.0/permissions", get(permissions))
        .route("/api/4.0/roles", get(list_roles).post(create_role))
        .route("/api/4.0/roles/search", get(search_roles))
        .route(
            "/api/4.0/roles/{id}",
            get(get_role).patch(update_role).delete(delete_role),
        )
        .merge(sets::routes::<PermissionSets>())
        .merge(sets::routes::<ModelSets>())
        .with_state(sim)
}
