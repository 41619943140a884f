//! Admin edits (never faulted or recorded):
//! `POST _admin/products` `{name, productId?}`, `DELETE _admin/products/{productId}`,
//! `POST _admin/products/{productId}/environments` `{name, environmentId?}`,
//! `DELETE _admin/environments/{environmentId}`,
//! `POST _admin/products/{productId}/permissions` (a create body),
//! `PUT _admin/permissions/{id}` (an update body) and `DELETE _admin/permissions/{id}`.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, post, put};
use serde::Deserialize;
use serde_json::{Value, json};

use super::api::{Shared, create_group, group_json, product_json, update_group};
use super::wire::Failure;
use super::{ConfigCatSim, uuid};
use crate::sim::found;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AdminNamed {
    name: String,
    #[serde(default)]
    product_id: Option<String>,
    #[serde(default)]
    environment_id: Option<String>,
}

async fn add_product(State(s): Shared, axum::Json(b): axum::Json<AdminNamed>) -> Response {
    let id = b.product_id.unwrap_or_else(uuid);
    s.add_product_with_id(&id, &b.name);
    let p = s.store().product(&id).map(product_json);
    (StatusCode::CREATED, axum::Json(p)).into_response()
}

async fn add_environment(
    State(s): Shared,
    Path(pid): Path<String>,
    axum::Json(b): axum::Json<AdminNamed>,
) -> Response {
    let id = b.environment_id.unwrap_or_else(uuid).to_ascii_lowercase();
    if !s.add_environment_with_id(&pid, &id, &b.name) {
        return (StatusCode::NOT_FOUND, "Product not found.").into_response();
    }
    let environment = json!({"environmentId": id, "name": b.name});
    (StatusCode::CREATED, axum::Json(environment)).into_response()
}

async fn add_group(
    State(s): Shared,
    Path(pid): Path<String>,
    axum::Json(b): axum::Json<Value>,
) -> Result<(StatusCode, axum::Json<Value>), Failure> {
    let g = create_group(&s, &pid, &b)?;
    Ok((StatusCode::CREATED, axum::Json(group_json(&s.store(), &g))))
}

async fn edit_group(
    State(s): Shared,
    Path(id): Path<String>,
    axum::Json(b): axum::Json<Value>,
) -> Result<axum::Json<Value>, Failure> {
    update_group(&s, &id, &b).map(axum::Json)
}

async fn remove_group(State(s): Shared, Path(id): Path<String>) -> StatusCode {
    found(id.parse().is_ok_and(|id| s.remove_group(id)))
}

pub(super) fn router(sim: Arc<ConfigCatSim>) -> Router {
    Router::new()
        .route("/_admin/products", post(add_product))
        .route(
            "/_admin/products/{pid}",
            delete(|State(s): Shared, Path(pid): Path<String>| async move {
                found(s.remove_product(&pid))
            }),
        )
        .route("/_admin/products/{pid}/environments", post(add_environment))
        .route(
            "/_admin/environments/{eid}",
            delete(|State(s): Shared, Path(eid): Path<String>| async move {
                found(s.remove_environment(&eid))
            }),
        )
        .route("/_admin/products/{pid}/permissions", post(add_group))
        .route(
            "/_admin/permissions/{id}",
            put(edit_group).delete(remove_group),
        )
        .with_state(sim)
}
