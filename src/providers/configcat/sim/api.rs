//! The simulated API: its handlers, the POST and PUT semantics they share with the admin edits,
//! and how ConfigCat renders products, environments and permission groups.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use serde_json::{Map, Value, json};

use super::body::{FLAGS, apply};
use super::wire::{Failure, authorize, bad_request, fail};
use super::{ConfigCatSim, Group, ORGANIZATION_ID, Product, Store};
use crate::sim::JsonBody;

/// The group's product, or an empty one when the product is gone.
fn product_of(store: &Store, g: &Group) -> Product {
    store.product(&g.product_id).cloned().unwrap_or(Product {
        product_id: g.product_id.clone(),
        name: String::new(),
        environments: Vec::new(),
    })
}

pub(super) fn product_json(p: &Product) -> Value {
    json!({
        "organization": {"organizationId": ORGANIZATION_ID, "name": "Sim Organization"},
        "productId": p.product_id, "name": p.name, "description": null, "order": 0,
        "reasonRequired": false, "approveRequired": false,
    })
}

fn environments_json(p: &Product) -> Value {
    p.environments
        .iter()
        .enumerate()
        .map(|(i, e)| {
            json!({
                "product": product_json(p), "environmentId": e.environment_id, "name": e.name,
                "color": null, "description": null, "order": i, "reasonRequired": false,
                "approveRequired": false,
            })
        })
        .collect()
}

/// `PermissionGroupModel`: one access and one approval entry per environment of the product.
pub(super) fn group_json(store: &Store, g: &Group) -> Value {
    let product = &product_of(store, g);
    let mut v = Map::new();
    v.insert("permissionGroupId".into(), g.permission_group_id.into());
    v.insert("name".into(), g.name.clone().into());
    for (flag, on) in &g.flags {
        v.insert(flag.clone(), (*on).into());
    }
    let accesses: Vec<Value> = product.environments.iter().enumerate().map(|(i, e)| json!({
        "environmentId": e.environment_id, "name": e.name, "color": null, "description": null,
        "order": i, "reasonRequired": false, "approveRequired": false,
        "environmentAccessType": g.environment_accesses.get(&e.environment_id).map_or("none", String::as_str),
    })).collect();
    let approvals: Vec<Value> = product.environments.iter().map(|e| json!({
        "environmentId": e.environment_id,
        "environmentApprovalPermissionType": g.environment_approval_permissions.get(&e.environment_id).map_or("cannotApprove", String::as_str),
    })).collect();
    v.insert("accessType".into(), g.access_type.clone().into());
    v.insert(
        "newEnvironmentAccessType".into(),
        g.new_environment_access_type.clone().into(),
    );
    v.insert("environmentAccesses".into(), accesses.into());
    v.insert("product".into(), product_json(product));
    v.insert(
        "approvalPermissionType".into(),
        g.approval_permission_type.clone().into(),
    );
    v.insert(
        "newEnvironmentApprovalPermissionType".into(),
        g.new_environment_approval_permission_type.clone().into(),
    );
    v.insert("environmentApprovalPermissions".into(), approvals.into());
    Value::Object(v)
}

/// POST semantics, shared by the API and the admin view.
pub(super) fn create_group(
    sim: &ConfigCatSim,
    product_id: &str,
    body: &Value,
) -> Result<Group, Failure> {
    let mut store = sim.store();
    let product = store
        .product(product_id)
        .cloned()
        .ok_or_else(|| not_found("Product"))?;
    let mut g = Group {
        permission_group_id: store.last_id + 1,
        product_id: product.product_id.clone(),
        name: String::new(),
        flags: FLAGS.iter().map(|f| (f.to_string(), false)).collect(),
        access_type: "custom".into(),
        new_environment_access_type: "none".into(),
        environment_accesses: BTreeMap::new(),
        approval_permission_type: "cannotApprove".into(),
        new_environment_approval_permission_type: "cannotApprove".into(),
        environment_approval_permissions: BTreeMap::new(),
    };
    apply(&mut g, body, &product, true)?;
    store.last_id += 1;
    store.groups.insert(g.permission_group_id, g.clone());
    Ok(g)
}

/// PUT semantics, shared by the API and the admin view.
pub(super) fn update_group(sim: &ConfigCatSim, id: &str, body: &Value) -> Result<Value, Failure> {
    let id = group_id(id)?;
    let mut store = sim.store();
    let mut g = store
        .groups
        .get(&id)
        .cloned()
        .ok_or_else(|| not_found("Permission Group"))?;
    let product = product_of(&store, &g);
    apply(&mut g, body, &product, false)?;
    store.groups.insert(id, g.clone());
    Ok(group_json(&store, &g))
}

fn group_id(id: &str) -> Result<i64, Failure> {
    id.parse().map_err(|_| {
        fail(
            StatusCode::BAD_REQUEST,
            format!("'{id}' is not a valid permissionGroupId."),
        )
    })
}

pub(super) type Shared = State<Arc<ConfigCatSim>>;
type Json = axum::Json<Value>;
/// An answer: JSON, or a plain-text failure.
type Reply = Result<Json, Failure>;

fn not_found(what: &str) -> Failure {
    fail(StatusCode::NOT_FOUND, format!("{what} not found."))
}

async fn me(State(sim): Shared, headers: HeaderMap) -> Reply {
    authorize(&sim, &headers)?;
    Ok(axum::Json(
        json!({"email": "sim-user@example.com", "fullName": "Sim User"}),
    ))
}

async fn products(State(sim): Shared, headers: HeaderMap) -> Reply {
    authorize(&sim, &headers)?;
    let list = sim.store().products.iter().map(product_json).collect();
    Ok(axum::Json(list))
}

async fn environments(State(sim): Shared, headers: HeaderMap, Path(pid): Path<String>) -> Reply {
    authorize(&sim, &headers)?;
    let store = sim.store();
    let p = store.product(&pid).ok_or_else(|| not_found("Product"))?;
    Ok(axum::Json(environments_json(p)))
}

async fn list(State(sim): Shared, headers: HeaderMap, Path(pid): Path<String>) -> Reply {
    authorize(&sim, &headers)?;
    let store = sim.store();
    let p = store.product(&pid).ok_or_else(|| not_found("Product"))?;
    let groups = store
        .groups
        .values()
        .filter(|g| g.product_id == p.product_id);
    Ok(axum::Json(groups.map(|g| group_json(&store, g)).collect()))
}

async fn create(
    State(sim): Shared,
    headers: HeaderMap,
    Path(pid): Path<String>,
    body: JsonBody,
) -> Result<(StatusCode, Json), Failure> {
    authorize(&sim, &headers)?;
    let axum::Json(body) = body.ok_or_else(bad_request)?;
    let g = create_group(&sim, &pid, &body)?;
    Ok((
        StatusCode::CREATED,
        axum::Json(group_json(&sim.store(), &g)),
    ))
}

async fn read(State(sim): Shared, headers: HeaderMap, Path(id): Path<String>) -> Reply {
    authorize(&sim, &headers)?;
    let id = group_id(&id)?;
    let store = sim.store();
    let g = store
        .groups
        .get(&id)
        .ok_or_else(|| not_found("Permission Group"))?;
    Ok(axum::Json(group_json(&store, g)))
}

async fn update(
    State(sim): Shared,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: JsonBody,
) -> Reply {
    authorize(&sim, &headers)?;
    let axum::Json(body) = body.ok_or_else(bad_request)?;
    update_group(&sim, &id, &body).map(axum::Json)
}

async fn remove(
    State(sim): Shared,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<StatusCode, Failure> {
    authorize(&sim, &headers)?;
    let id = group_id(&id)?;
    if !sim.remove_group(id) {
        return Err(not_found("Permission Group"));
    }
    Ok(StatusCode::NO_CONTENT)
}

/// The API under `/configcat`, paths as on `https://api.configcat.com`.
pub(super) fn router(sim: Arc<ConfigCatSim>) -> Router {
    Router::new()
        .route("/v1/me", get(me))
        .route("/v1/products", get(products))
        .route("/v1/products/{pid}/environments", get(environments))
        .route("/v1/products/{pid}/permissions", get(list).post(create))
        .route("/v1/permissions/{id}", get(read).put(update).delete(remove))
        .with_state(sim)
}
