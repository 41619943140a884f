//! Handlers of the simulated permission sets and model sets: list, search, get, create (409 on
//! a duplicate name), patch (405 on built-ins, 422 on bad members) and delete (422 while in use).

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::Value;

use super::http::{
    Params, Shared, authorize, authorized, bad_request, cannot_modify, error, invalid, like,
    not_found, page, pick, text,
};
use super::state::{State as SimState, key, set_json};
use super::{LookerSim, SetKind, seed};

async fn list_sets(
    kind: SetKind,
    sim: Arc<LookerSim>,
    headers: HeaderMap,
    q: HashMap<String, String>,
) -> Response {
    authorized!(sim, headers);
    let state = sim.lock();
    let rows: Vec<Value> = state
        .sets(kind)
        .values()
        .map(|s| pick(set_json(kind, s), q.get("fields")))
        .collect();
    axum::Json(rows).into_response()
}

async fn search_sets(
    kind: SetKind,
    sim: Arc<LookerSim>,
    headers: HeaderMap,
    q: HashMap<String, String>,
) -> Response {
    authorized!(sim, headers);
    let state = sim.lock();
    let flag = |k: &str, v: bool| {
        q.get(k)
            .is_none_or(|b| b == if v { "true" } else { "false" })
    };
    let rows = state
        .sets(kind)
        .values()
        .filter(|s| q.get("name").is_none_or(|n| like(n, &s.name)))
        .filter(|s| q.get("id").is_none_or(|id| *id == s.id))
        .filter(|s| flag("built_in", s.built_in) && flag("all_access", s.all_access))
        .map(|s| set_json(kind, s))
        .collect();
    page(rows, &q)
}

async fn get_set(kind: SetKind, sim: Arc<LookerSim>, headers: HeaderMap, id: String) -> Response {
    authorized!(sim, headers);
    let state = sim.lock();
    match key(&id).and_then(|k| state.sets(kind).get(&k)) {
        Some(s) => axum::Json(set_json(kind, s)).into_response(),
        None => not_found(),
    }
}

/// A set's name and members, each optional.
type SetFields = (Option<String>, Option<Vec<String>>);

/// Validated writable set fields: permissions must be in the catalogue with their parents.
fn set_fields(
    state: &SimState,
    kind: SetKind,
    body: &Value,
    creating: bool,
    own: Option<u64>,
) -> Result<SetFields, Box<Response>> {
    let field = kind.items_field();
    let Ok(name) = text(body, "name") else {
        return Err(Box::new(bad_request()));
    };
    let items: Option<Vec<String>> = match body.get(field) {
        None | Some(Value::Null) => None,
        Some(Value::Array(a)) => match a.iter().map(|v| v.as_str().map(str::to_string)).collect() {
            Some(items) => Some(items),
            None => return Err(Box::new(bad_request())),
        },
        Some(_) => return Err(Box::new(bad_request())),
    };
    let mut errors = Vec::new();
    match &name {
        Some(n) if n.trim().is_empty() => {
            errors.push(("name", "blank", "Name can't be blank".to_string()))
        }
        None if creating => errors.push(("name", "missing", "This field is required.".into())),
        _ => {}
    }
    for item in items.iter().flatten() {
        match kind {
            SetKind::Permission => match seed::PERMISSIONS.iter().find(|p| p.0 == item) {
                None => errors.push((field, "invalid", format!("Unknown permission '{item}'"))),
                Some((_, Some(parent), _)) if !items.iter().flatten().any(|i| i == parent) => {
                    errors.push((
                        field,
                        "invalid",
                        format!("Permission '{item}' requires its parent '{parent}'"),
                    ))
                }
                Some(_) => {}
            },
            SetKind::Model if item.trim().is_empty() => {
                errors.push((field, "blank", "Model names can't be blank".into()))
            }
            SetKind::Model => {}
        }
    }
    if !errors.is_empty() {
        return Err(Box::new(invalid(&errors)));
    }
    if let Some(n) = &name {
        let clash = state
            .sets(kind)
            .iter()
            .any(|(k, s)| Some(*k) != own && state.same_name(&s.name, n));
        let message = format!("{} with name '{n}' already exists", kind.noun());
        if clash && creating {
            return Err(Box::new(error(StatusCode::CONFLICT, &message)));
        }
        if clash {
            return Err(Box::new(invalid(&[("name", "already_exists", message)])));
        }
    }
    Ok((name, items))
}

async fn create_set(
    kind: SetKind,
    sim: Arc<LookerSim>,
    headers: HeaderMap,
    body: Option<axum::Json<Value>>,
) -> Response {
    authorized!(sim, headers);
    let Some(axum::Json(body)) = body.filter(|b| b.0.is_object()) else {
        return bad_request();
    };
    let mut state = sim.lock();
    let (name, items) = match set_fields(&state, kind, &body, true, None) {
        Ok(f) => f,
        Err(r) => return *r,
    };
    let id = state.insert_set(kind, &name.unwrap_or_default(), items.unwrap_or_default());
    let set = &state.sets(kind)[&key(&id).expect("numeric id")];
    axum::Json(set_json(kind, set)).into_response()
}

async fn update_set(
    kind: SetKind,
    sim: Arc<LookerSim>,
    headers: HeaderMap,
    id: String,
    body: Option<axum::Json<Value>>,
) -> Response {
    authorized!(sim, headers);
    let Some(axum::Json(body)) = body.filter(|b| b.0.is_object()) else {
        return bad_request();
    };
    let mut state = sim.lock();
    let Some(k) = key(&id).filter(|k| state.sets(kind).contains_key(k)) else {
        return not_found();
    };
    if state.sets(kind)[&k].built_in {
        return cannot_modify();
    }
    let (name, items) = match set_fields(&state, kind, &body, false, Some(k)) {
        Ok(f) => f,
        Err(r) => return *r,
    };
    let set = state.sets_mut(kind).get_mut(&k).expect("checked above");
    if let Some(v) = name {
        set.name = v;
    }
    if let Some(v) = items {
        set.items = v;
    }
    axum::Json(set_json(kind, set)).into_response()
}

async fn delete_set(
    kind: SetKind,
    sim: Arc<LookerSim>,
    headers: HeaderMap,
    id: String,
) -> Response {
    authorized!(sim, headers);
    let mut state = sim.lock();
    let Some(k) = key(&id).filter(|k| state.sets(kind).contains_key(k)) else {
        return not_found();
    };
    if state.sets(kind)[&k].built_in {
        return cannot_modify();
    }
    let users: Vec<String> = state
        .roles
        .values()
        .filter(|r| match kind {
            SetKind::Permission => r.permission_set_id == id,
            SetKind::Model => r.model_set_id == id,
        })
        .map(|r| r.name.clone())
        .collect();
    if !users.is_empty() {
        return invalid(&[(
            "id",
            "in_use",
            format!("{} is used by role(s): {}", kind.noun(), users.join(", ")),
        )]);
    }
    state.sets_mut(kind).remove(&k);
    StatusCode::NO_CONTENT.into_response()
}

pub(super) fn routes(kind: SetKind) -> Router<Arc<LookerSim>> {
    let collection = match kind {
        SetKind::Permission => "/api/4.0/permission_sets",
        SetKind::Model => "/api/4.0/model_sets",
    };
    Router::new()
        .route(
            collection,
            get(move |State(s): Shared, h: HeaderMap, Query(q): Params| list_sets(kind, s, h, q))
                .post(
                    move |State(s): Shared, h: HeaderMap, b: Option<axum::Json<Value>>| {
                        create_set(kind, s, h, b)
                    },
                ),
        )
        .route(
            &format!("{collection}/search"),
            get(move |State(s): Shared, h: HeaderMap, Query(q): Params| search_sets(kind, s, h, q)),
        )
        .route(
            &format!("{collection}/{{id}}"),
            get(
                move |State(s): Shared, h: HeaderMap, Path(id): Path<String>| {
                    get_set(kind, s, h, id)
                },
            )
            .patch(
                move |State(s): Shared,
                      h: HeaderMap,
                      Path(id): Path<String>,
                      b: Option<axum::Json<Value>>| {
                    update_set(kind, s, h, id, b)
                },
            )
            .delete(
                move |State(s): Shared, h: HeaderMap, Path(id): Path<String>| {
                    delete_set(kind, s, h, id)
                },
            ),
        )
}
