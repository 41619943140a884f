//! The simulated API routes, their validation, and the admin edits under `/_admin`.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::body::{FLAGS, apply};
use super::{ConfigCatSim, Group, ORGANIZATION_ID, Product, Store, uuid};

/// A failed call: status and ConfigCat's plain-text message.
pub(super) type Failure = (StatusCode, String);

pub(super) fn fail(status: StatusCode, text: impl Into<String>) -> Failure {
    (status, text.into())
}

fn respond(result: Result<Value, Failure>, ok: StatusCode) -> Response {
    match result {
        Ok(v) => (ok, axum::Json(v)).into_response(),
        Err((status, text)) => (status, text).into_response(),
    }
}

fn base64(input: &[u8]) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in input.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ABC[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Basic auth against the configured credentials; 401 names neither.
fn authorize(sim: &ConfigCatSim, headers: &HeaderMap) -> Result<(), Failure> {
    let (user, password) = &sim.credentials;
    let expected = base64(format!("{user}:{password}").as_bytes());
    let sent = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("basic"))
        .map(|(_, creds)| creds.trim());
    if sent == Some(expected.as_str()) {
        Ok(())
    } else {
        Err(fail(
            StatusCode::UNAUTHORIZED,
            "Unauthorized. Check your Public API credentials.",
        ))
    }
}

fn product_json(p: &Product) -> Value {
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
fn group_json(store: &Store, g: &Group) -> Value {
    let empty = Product {
        product_id: g.product_id.clone(),
        name: String::new(),
        environments: Vec::new(),
    };
    let product = store.product(&g.product_id).unwrap_or(&empty);
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
        .ok_or_else(|| fail(StatusCode::NOT_FOUND, "Product not found."))?;
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
fn update_group(sim: &ConfigCatSim, id: &str, body: &Value) -> Result<Value, Failure> {
    let id = group_id(id)?;
    let mut store = sim.store();
    let mut g = store
        .groups
        .get(&id)
        .cloned()
        .ok_or_else(|| fail(StatusCode::NOT_FOUND, "Permission Group not found."))?;
    let product = store.product(&g.product_id).cloned().unwrap_or(Product {
        product_id: g.product_id.clone(),
        name: String::new(),
        environments: Vec::new(),
    });
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

type Shared = State<Arc<ConfigCatSim>>;

async fn me(State(sim): Shared, headers: HeaderMap) -> Response {
    let r = authorize(&sim, &headers)
        .map(|()| json!({"email": "sim-user@example.com", "fullName": "Sim User"}));
    respond(r, StatusCode::OK)
}

async fn products(State(sim): Shared, headers: HeaderMap) -> Response {
    let r =
        authorize(&sim, &headers).map(|()| sim.store().products.iter().map(product_json).collect());
    respond(r, StatusCode::OK)
}

async fn environments(State(sim): Shared, headers: HeaderMap, Path(pid): Path<String>) -> Response {
    let r = authorize(&sim, &headers).and_then(|()| {
        let store = sim.store();
        let p = store
            .product(&pid)
            .ok_or_else(|| fail(StatusCode::NOT_FOUND, "Product not found."))?;
        Ok(environments_json(p))
    });
    respond(r, StatusCode::OK)
}

async fn list(State(sim): Shared, headers: HeaderMap, Path(pid): Path<String>) -> Response {
    let r = authorize(&sim, &headers).and_then(|()| {
        let store = sim.store();
        let p = store
            .product(&pid)
            .ok_or_else(|| fail(StatusCode::NOT_FOUND, "Product not found."))?;
        Ok(store
            .groups
            .values()
            .filter(|g| g.product_id == p.product_id)
            .map(|g| group_json(&store, g))
            .collect())
    });
    respond(r, StatusCode::OK)
}

async fn create(
    State(sim): Shared,
    headers: HeaderMap,
    Path(pid): Path<String>,
    body: Option<axum::Json<Value>>,
) -> Response {
    let r = authorize(&sim, &headers).and_then(|()| {
        let axum::Json(body) = body.ok_or_else(|| fail(StatusCode::BAD_REQUEST, "Bad request."))?;
        let g = create_group(&sim, &pid, &body)?;
        Ok(group_json(&sim.store(), &g))
    });
    respond(r, StatusCode::CREATED)
}

async fn read(State(sim): Shared, headers: HeaderMap, Path(id): Path<String>) -> Response {
    let r = authorize(&sim, &headers).and_then(|()| {
        let id = group_id(&id)?;
        let store = sim.store();
        let g = store
            .groups
            .get(&id)
            .ok_or_else(|| fail(StatusCode::NOT_FOUND, "Permission Group not found."))?;
        Ok(group_json(&store, g))
    });
    respond(r, StatusCode::OK)
}

async fn update(
    State(sim): Shared,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Option<axum::Json<Value>>,
) -> Response {
    let r = authorize(&sim, &headers).and_then(|()| {
        let axum::Json(body) = body.ok_or_else(|| fail(StatusCode::BAD_REQUEST, "Bad request."))?;
        update_group(&sim, &id, &body)
    });
    respond(r, StatusCode::OK)
}

async fn remove(State(sim): Shared, headers: HeaderMap, Path(id): Path<String>) -> Response {
    let r = authorize(&sim, &headers).and_then(|()| {
        let id = group_id(&id)?;
        if sim.remove_group(id) {
            Ok(())
        } else {
            Err(fail(StatusCode::NOT_FOUND, "Permission Group not found."))
        }
    });
    match r {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err((status, text)) => (status, text).into_response(),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AdminNamed {
    name: String,
    #[serde(default)]
    product_id: Option<String>,
    #[serde(default)]
    environment_id: Option<String>,
}

/// Admin edits (never faulted or recorded):
/// `POST _admin/products` `{name, productId?}`, `DELETE _admin/products/{productId}`,
/// `POST _admin/products/{productId}/environments` `{name, environmentId?}`,
/// `DELETE _admin/environments/{environmentId}`,
/// `POST _admin/products/{productId}/permissions` (a create body),
/// `PUT _admin/permissions/{id}` (an update body) and `DELETE _admin/permissions/{id}`.
fn admin_routes(sim: Arc<ConfigCatSim>) -> Router {
    Router::new()
        .route("/_admin/products", post(|State(s): Shared, axum::Json(b): axum::Json<AdminNamed>| async move {
            let id = b.product_id.unwrap_or_else(uuid);
            s.add_product_with_id(&id, &b.name);
            let p = s.store().product(&id).map(product_json);
            (StatusCode::CREATED, axum::Json(p)).into_response()
        }))
        .route("/_admin/products/{pid}", delete(|State(s): Shared, Path(pid): Path<String>| async move {
            if s.remove_product(&pid) { StatusCode::NO_CONTENT } else { StatusCode::NOT_FOUND }
        }))
        .route("/_admin/products/{pid}/environments", post(|State(s): Shared, Path(pid): Path<String>, axum::Json(b): axum::Json<AdminNamed>| async move {
            let id = b.environment_id.unwrap_or_else(uuid).to_ascii_lowercase();
            if !s.add_environment_with_id(&pid, &id, &b.name) {
                return (StatusCode::NOT_FOUND, "Product not found.").into_response();
            }
            (StatusCode::CREATED, axum::Json(json!({"environmentId": id, "name": b.name}))).into_response()
        }))
        .route("/_admin/environments/{eid}", delete(|State(s): Shared, Path(eid): Path<String>| async move {
            if s.remove_environment(&eid) { StatusCode::NO_CONTENT } else { StatusCode::NOT_FOUND }
        }))
        .route("/_admin/products/{pid}/permissions", post(|State(s): Shared, Path(pid): Path<String>, axum::Json(b): axum::Json<Value>| async move {
            let r = create_group(&s, &pid, &b).map(|g| group_json(&s.store(), &g));
            respond(r, StatusCode::CREATED)
        }))
        .route("/_admin/permissions/{id}", put(|State(s): Shared, Path(id): Path<String>, axum::Json(b): axum::Json<Value>| async move {
            respond(update_group(&s, &id, &b), StatusCode::OK)
        }).delete(|State(s): Shared, Path(id): Path<String>| async move {
            match id.parse() {
                Ok(id) if s.remove_group(id) => StatusCode::NO_CONTENT,
                _ => StatusCode::NOT_FOUND,
            }
        }))
        .with_state(sim)
}

/// The API under `/configcat` (paths as on `https://api.configcat.com`) and the admin edits.
pub(super) fn routes(sim: Arc<ConfigCatSim>) -> crate::sim::Routes {
    let api = Router::new()
        .route("/v1/me", get(me))
        .route("/v1/products", get(products))
        .route("/v1/products/{pid}/environments", get(environments))
        .route("/v1/products/{pid}/permissions", get(list).post(create))
        .route("/v1/permissions/{id}", get(read).put(update).delete(remove))
        .with_state(sim.clone());
    crate::sim::Routes {
        api,
        admin: admin_routes(sim),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc_4648_vectors() {
        for (plain, encoded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(plain.as_bytes()), encoded);
        }
    }
}
