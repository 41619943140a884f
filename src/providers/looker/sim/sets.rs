//! Handlers of the simulated permission sets and model sets: list, search, get, create (409 on
//! a duplicate name), patch (405 on built-ins, 422 on bad members) and delete (422 while in use).

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing;
use serde_json::Value;

use super::http::{
    Shared, authorize, bad_request, check_name, invalid, like, modifiable, not_found, page, pick,
    refuse_taken, text,
};
use super::state::{State as SimState, key, set_json};
use super::{LookerSim, SetKind, seed};
use crate::sim::{Answer, JsonBody, Params, Refusal};

/// A set collection as a type, so that its handlers are plain axum handlers.
pub(super) trait Sets: Send + Sync + 'static {
    const KIND: SetKind;
}

pub(super) struct PermissionSets;
pub(super) struct ModelSets;

impl Sets for PermissionSets {
    const KIND: SetKind = SetKind::Permission;
}

impl Sets for ModelSets {
    const KIND: SetKind = SetKind::Model;
}

async fn list<K: Sets>(State(sim): Shared, headers: HeaderMap, Query(q): Params) -> Answer {
    let kind = K::KIND;
    authorize(&sim, &headers)?;
    let state = sim.lock();
    let rows: Vec<Value> = state
        .sets(kind)
        .values()
        .map(|s| pick(set_json(kind, s), q.get("fields")))
        .collect();
    Ok(axum::Json(rows).into_response())
}

async fn search<K: Sets>(State(sim): Shared, headers: HeaderMap, Query(q): Params) -> Answer {
    let kind = K::KIND;
    authorize(&sim, &headers)?;
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

async fn get<K: Sets>(State(sim): Shared, headers: HeaderMap, Path(id): Path<String>) -> Answer {
    let kind = K::KIND;
    authorize(&sim, &headers)?;
    let state = sim.lock();
    let set = key(&id)
        .and_then(|k| state.sets(kind).get(&k))
        .ok_or_else(not_found)?;
    Ok(axum::Json(set_json(kind, set)).into_response())
}

/// A set write's body: a JSON object (400 otherwise, before anything else is checked).
fn object(body: JsonBody) -> Result<Value, Refusal> {
    let axum::Json(body) = body.filter(|b| b.0.is_object()).ok_or_else(bad_request)?;
    Ok(body)
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
) -> Result<SetFields, Refusal> {
    let field = kind.items_field();
    let name = text(body, "name").map_err(|()| bad_request())?;
    let items: Option<Vec<String>> = match body.get(field) {
        None | Some(Value::Null) => None,
        Some(Value::Array(a)) => {
            let items: Option<Vec<String>> =
                a.iter().map(|v| v.as_str().map(str::to_string)).collect();
            Some(items.ok_or_else(bad_request)?)
        }
        Some(_) => return Err(bad_request()),
    };
    let mut errors = Vec::new();
    check_name(&name, creating, &mut errors);
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
        return Err(invalid(&errors));
    }
    if let Some(n) = &name {
        let taken = state
            .sets(kind)
            .iter()
            .any(|(k, s)| Some(*k) != own && state.same_name(&s.name, n));
        refuse_taken(
            taken,
            creating,
            format!("{} with name '{n}' already exists", kind.noun()),
        )?;
    }
    Ok((name, items))
}

async fn create<K: Sets>(State(sim): Shared, headers: HeaderMap, body: JsonBody) -> Answer {
    let kind = K::KIND;
    authorize(&sim, &headers)?;
    let body = object(body)?;
    let mut state = sim.lock();
    let (name, items) = set_fields(&state, kind, &body, true, None)?;
    let id = state.insert_set(kind, &name.unwrap_or_default(), items.unwrap_or_default());
    let set = &state.sets(kind)[&key(&id).expect("numeric id")];
    Ok(axum::Json(set_json(kind, set)).into_response())
}

async fn update<K: Sets>(
    State(sim): Shared,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: JsonBody,
) -> Answer {
    let kind = K::KIND;
    authorize(&sim, &headers)?;
    let body = object(body)?;
    let mut state = sim.lock();
    let k = modifiable(state.sets(kind), &id, |s| s.built_in)?;
    let (name, items) = set_fields(&state, kind, &body, false, Some(k))?;
    let set = state.sets_mut(kind).get_mut(&k).expect("checked above");
    if let Some(v) = name {
        set.name = v;
    }
    if let Some(v) = items {
        set.items = v;
    }
    Ok(axum::Json(set_json(kind, set)).into_response())
}

async fn delete<K: Sets>(State(sim): Shared, headers: HeaderMap, Path(id): Path<String>) -> Answer {
    let kind = K::KIND;
    authorize(&sim, &headers)?;
    let mut state = sim.lock();
    let k = modifiable(state.sets(kind), &id, |s| s.built_in)?;
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
        return Err(invalid(&[(
            "id",
            "in_use",
            format!("{} is used by role(s): {}", kind.noun(), users.join(", ")),
        )]));
    }
    state.sets_mut(kind).remove(&k);
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `GET|POST` on the collection, `GET` on its `/search`, `GET|PATCH|DELETE` on one set.
pub(super) fn routes<K: Sets>() -> Router<Arc<LookerSim>> {
    let collection = match K::KIND {
        SetKind::Permission => "/api/4.0/permission_sets",
        SetKind::Model => "/api/4.0/model_sets",
    };
    Router::new()
        .route(collection, routing::get(list::<K>).post(create::<K>))
        .route(&format!("{collection}/search"), routing::get(search::<K>))
        .route(
            &format!("{collection}/{{id}}"),
            routing::get(get::<K>)
                .patch(update::<K>)
                .delete(delete::<K>),
        )
}
