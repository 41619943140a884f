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
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use percent_encoding::percent_decode_str;
use serde_json::{Value, json};

use super::http::{
    Params, Shared, authorize, authorized, bad_request, cannot_modify, error, invalid, like,
    not_found, page, pick, text, token_of,
};
use super::state::{State as SimState, key};
use super::{LookerSim, SetKind, SimRole, seed};

fn decode(s: &str) -> String {
    percent_decode_str(&s.replace('+', " "))
        .decode_utf8_lossy()
        .into_owned()
}

/// `POST /login` with a form body (or the deprecated query parameters).
async fn login(State(sim): Shared, Query(q): Params, body: Bytes) -> Response {
    let mut params: HashMap<String, String> = String::from_utf8_lossy(&body)
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (decode(k), decode(v)))
        .collect();
    params.extend(q);
    let (Some(id), Some(secret)) = (params.get("client_id"), params.get("client_secret")) else {
        return error(
            StatusCode::BAD_REQUEST,
            "client_id and client_secret are required",
        );
    };
    let mut state = sim.lock();
    if state.clients.get(id) != Some(secret) {
        return not_found();
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
    axum::Json(json!({
        "access_token": token, "token_type": "Bearer", "expires_in": ttl.as_secs(), "refresh_token": null,
    }))
    .into_response()
}

async fn logout(State(sim): Shared, headers: HeaderMap) -> Response {
    authorized!(sim, headers);
    if let Some(t) = token_of(&headers) {
        sim.lock().tokens.remove(t);
    }
    StatusCode::NO_CONTENT.into_response()
}

async fn permissions(State(sim): Shared, headers: HeaderMap) -> Response {
    authorized!(sim, headers);
    let list: Vec<Value> = seed::PERMISSIONS
        .iter()
        .map(|(p, parent, d)| json!({"permission": p, "parent": parent, "description": d, "can": {}}))
        .collect();
    axum::Json(list).into_response()
}

async fn list_roles(State(sim): Shared, headers: HeaderMap, Query(q): Params) -> Response {
    authorized!(sim, headers);
    let state = sim.lock();
    let ids: Option<Vec<&str>> = q.get("ids").map(|v| v.split(',').collect());
    let rows: Vec<Value> = state
        .roles
        .values()
        .filter(|r| ids.as_ref().is_none_or(|ids| ids.contains(&r.id.as_str())))
        .map(|r| pick(state.role_json(r), q.get("fields")))
        .collect();
    axum::Json(rows).into_response()
}

async fn search_roles(State(sim): Shared, headers: HeaderMap, Query(q): Params) -> Response {
    authorized!(sim, headers);
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

async fn get_role(State(sim): Shared, headers: HeaderMap, Path(id): Path<String>) -> Response {
    authorized!(sim, headers);
    let state = sim.lock();
    match key(&id).and_then(|k| state.roles.get(&k)) {
        Some(r) => axum::Json(state.role_json(r)).into_response(),
        None => not_found(),
    }
}

/// Validated writable role fields; `creating` requires all three.
fn role_fields(
    state: &SimState,
    body: &Value,
    creating: bool,
    own: Option<u64>,
) -> Result<[Option<String>; 3], Box<Response>> {
    if !body.is_object() {
        return Err(Box::new(bad_request()));
    }
    let (Ok(name), Ok(ps), Ok(ms)) = (
        text(body, "name"),
        text(body, "permission_set_id"),
        text(body, "model_set_id"),
    ) else {
        return Err(Box::new(bad_request()));
    };
    let mut errors = Vec::new();
    match &name {
        Some(n) if n.trim().is_empty() => {
            errors.push(("name", "blank", "Name can't be blank".to_string()))
        }
        None if creating => errors.push(("name", "missing", "This field is required.".into())),
        _ => {}
    }
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
        return Err(Box::new(invalid(&errors)));
    }
    if let Some(n) = &name {
        let clash = state
            .roles
            .iter()
            .any(|(k, r)| Some(*k) != own && state.same_name(&r.name, n));
        if clash && creating {
            return Err(Box::new(error(
                StatusCode::CONFLICT,
                &format!("Role with name '{n}' already exists"),
            )));
        }
        if clash {
            return Err(Box::new(invalid(&[(
                "name",
                "already_exists",
                format!("Role with name '{n}' already exists"),
            )])));
        }
    }
    Ok([name, ps, ms])
}

async fn create_role(
    State(sim): Shared,
    headers: HeaderMap,
    body: Option<axum::Json<Value>>,
) -> Response {
    authorized!(sim, headers);
    let Some(axum::Json(body)) = body else {
        return bad_request();
    };
    let mut state = sim.lock();
    let [name, ps, ms] = match role_fields(&state, &body, true, None) {
        Ok(f) => f,
        Err(r) => return *r,
    };
    let id = state.next();
    let role = SimRole {
        id: id.to_string(),
        name: name.unwrap_or_default(),
        permission_set_id: ps.unwrap_or_default(),
        model_set_id: ms.unwrap_or_default(),
        built_in: false,
    };
    state.roles.insert(id, role.clone());
    axum::Json(state.role_json(&role)).into_response()
}

async fn update_role(
    State(sim): Shared,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Option<axum::Json<Value>>,
) -> Response {
    authorized!(sim, headers);
    let Some(axum::Json(body)) = body else {
        return bad_request();
    };
    let mut state = sim.lock();
    let Some(k) = key(&id).filter(|k| state.roles.contains_key(k)) else {
        return not_found();
    };
    if state.roles[&k].built_in {
        return cannot_modify();
    }
    let [name, ps, ms] = match role_fields(&state, &body, false, Some(k)) {
        Ok(f) => f,
        Err(r) => return *r,
    };
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
    axum::Json(state.role_json(&role)).into_response()
}

async fn delete_role(State(sim): Shared, headers: HeaderMap, Path(id): Path<String>) -> Response {
    authorized!(sim, headers);
    let mut state = sim.lock();
    let Some(k) = key(&id).filter(|k| state.roles.contains_key(k)) else {
        return not_found();
    };
    if state.roles[&k].built_in {
        return cannot_modify();
    }
    state.roles.remove(&k);
    StatusCode::NO_CONTENT.into_response()
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
        .merge(super::sets::routes(SetKind::Permission))
        .merge(super::sets::routes(SetKind::Model))
        .with_state(sim)
}
