//! Admin edits of the simulated Looker instance (never faulted or recorded).

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{patch, post, put};
use serde::Deserialize;
use serde_json::json;

use super::api::Shared;
use super::{LookerSim, SetKind};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AdminRole {
    name: Option<String>,
    permission_set_id: Option<String>,
    model_set_id: Option<String>,
}

#[derive(Deserialize)]
struct AdminSet {
    name: Option<String>,
    #[serde(alias = "permissions", alias = "models")]
    items: Option<Vec<String>>,
}

#[derive(Deserialize)]
struct AdminTtl {
    seconds: u64,
}

fn found(ok: bool) -> StatusCode {
    if ok {
        StatusCode::NO_CONTENT
    } else {
        StatusCode::NOT_FOUND
    }
}

fn admin_sets(kind: SetKind) -> Router<Arc<LookerSim>> {
    let collection = match kind {
        SetKind::Permission => "/_admin/permission_sets",
        SetKind::Model => "/_admin/model_sets",
    };
    Router::new()
        .route(
            collection,
            post(
                move |State(s): Shared, axum::Json(b): axum::Json<AdminSet>| async move {
                    let items: Vec<String> = b.items.unwrap_or_default();
                    let refs: Vec<&str> = items.iter().map(String::as_str).collect();
                    let id = s.insert_set(kind, b.name.as_deref().unwrap_or_default(), &refs);
                    (StatusCode::CREATED, axum::Json(json!({"id": id})))
                },
            ),
        )
        .route(
            &format!("{collection}/{{id}}"),
            patch(
                move |State(s): Shared,
                      Path(id): Path<String>,
                      axum::Json(b): axum::Json<AdminSet>| async move {
                    let items: Option<Vec<&str>> = b
                        .items
                        .as_ref()
                        .map(|i| i.iter().map(String::as_str).collect());
                    found(s.edit_set(kind, &id, b.name.as_deref(), items.as_deref()))
                },
            )
            .delete(move |State(s): Shared, Path(id): Path<String>| async move {
                found(s.remove_set(kind, &id))
            }),
        )
}

/// Admin edits: `POST _admin/tokens/expire`, `PUT _admin/token_ttl {seconds}`,
/// `PATCH|DELETE _admin/roles/{id}` (`{name, permissionSetId, modelSetId}`),
/// `POST _admin/permission_sets|model_sets` (`{name, permissions|models}` → `{id}`),
/// `PATCH|DELETE _admin/permission_sets|model_sets/{id}`.
pub fn router(sim: Arc<LookerSim>) -> Router {
    Router::new()
        .route(
            "/_admin/tokens/expire",
            post(|State(s): Shared| async move {
                s.expire_tokens();
                StatusCode::NO_CONTENT
            }),
        )
        .route(
            "/_admin/token_ttl",
            put(|State(s): Shared, axum::Json(t): axum::Json<AdminTtl>| async move {
                s.set_token_ttl(Duration::from_secs(t.seconds));
                StatusCode::NO_CONTENT
            }),
        )
        .route(
            "/_admin/roles/{id}",
            patch(
                |State(s): Shared, Path(id): Path<String>, axum::Json(b): axum::Json<AdminRole>| async move {
                    found(s.edit_role(
                        &id,
                        b.name.as_deref(),
                        b.permission_set_id.as_deref(),
                        b.model_set_id.as_deref(),
                    ))
                },
            )
            .delete(|State(s): Shared, Path(id): Path<String>| async move { found(s.remove_role(&id)) }),
        )
        .merge(admin_sets(SetKind::Permission))
        .merge(admin_sets(SetKind::Model))
        .with_state(sim)
}
