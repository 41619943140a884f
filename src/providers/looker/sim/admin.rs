//! Out-of-band edits of the simulated Looker instance: Rust methods for tests and the same
//! edits over HTTP under `_admin` (never faulted or recorded).

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{patch, post, put};
use serde::Deserialize;
use serde_json::json;

use super::http::Shared;
use super::state::key;
use super::{LookerSim, SetKind, SimRole, SimSet};
use crate::sim::found;

impl LookerSim {
    /// Makes every issued token expire now (the next call with one gets 401).
    pub fn expire_tokens(&self) {
        let now = Instant::now();
        for (_, expiry) in self.lock().tokens.values_mut() {
            *expiry = now;
        }
    }

    /// Lifetime of tokens issued from now on.
    pub fn set_token_ttl(&self, ttl: Duration) {
        self.lock().token_ttl = ttl;
    }

    /// Successful logins so far.
    pub fn logins(&self) -> u32 {
        self.lock().logins
    }

    /// Accepts another API key (e.g. after a rotation).
    pub fn add_client(&self, client_id: &str, client_secret: &str) {
        self.lock()
            .clients
            .insert(client_id.to_string(), client_secret.to_string());
    }

    /// Stops accepting an API key and revokes its tokens.
    pub fn revoke_client(&self, client_id: &str) {
        let mut state = self.lock();
        state.clients.remove(client_id);
        state.tokens.retain(|_, (c, _)| c != client_id);
    }

    /// Whether duplicate names are detected ignoring case (the default).
    pub fn set_case_insensitive_names(&self, on: bool) {
        self.lock().case_insensitive_names = on;
    }

    pub fn roles(&self) -> Vec<SimRole> {
        self.lock().roles.values().cloned().collect()
    }

    pub fn role(&self, id: &str) -> Option<SimRole> {
        self.lock().roles.get(&key(id)?).cloned()
    }

    pub fn role_by_name(&self, name: &str) -> Option<SimRole> {
        self.lock().roles.values().find(|r| r.name == name).cloned()
    }

    pub fn sets(&self, kind: SetKind) -> Vec<SimSet> {
        self.lock().sets(kind).values().cloned().collect()
    }

    pub fn set(&self, kind: SetKind, id: &str) -> Option<SimSet> {
        self.lock().sets(kind).get(&key(id)?).cloned()
    }

    pub fn set_by_name(&self, kind: SetKind, name: &str) -> Option<SimSet> {
        self.lock()
            .sets(kind)
            .values()
            .find(|s| s.name == name)
            .cloned()
    }

    /// Out-of-band: creates a set (no validation), returning its id.
    pub fn insert_set(&self, kind: SetKind, name: &str, items: &[&str]) -> String {
        self.lock()
            .insert_set(kind, name, items.iter().map(|s| s.to_string()).collect())
    }

    /// Out-of-band: changes a set's name and/or members (even a built-in one). False if unknown.
    pub fn edit_set(
        &self,
        kind: SetKind,
        id: &str,
        name: Option<&str>,
        items: Option<&[&str]>,
    ) -> bool {
        let mut state = self.lock();
        let Some(set) = key(id).and_then(|k| state.sets_mut(kind).get_mut(&k)) else {
            return false;
        };
        if let Some(name) = name {
            set.name = name.to_string();
        }
        if let Some(items) = items {
            set.items = items.iter().map(|s| s.to_string()).collect();
        }
        true
    }

    /// Out-of-band: deletes a set even if roles use it (they then embed null).
    pub fn remove_set(&self, kind: SetKind, id: &str) -> bool {
        let mut state = self.lock();
        key(id).is_some_and(|k| state.sets_mut(kind).remove(&k).is_some())
    }

    /// Out-of-band: creates a role (no validation), returning its id.
    pub fn insert_role(&self, name: &str, permission_set_id: &str, model_set_id: &str) -> String {
        let mut state = self.lock();
        let id = state.next();
        state.roles.insert(
            id,
            SimRole {
                id: id.to_string(),
                name: name.to_string(),
                permission_set_id: permission_set_id.to_string(),
                model_set_id: model_set_id.to_string(),
                built_in: false,
            },
        );
        id.to_string()
    }

    /// Out-of-band: changes a role's name and/or sets. False if unknown.
    pub fn edit_role(
        &self,
        id: &str,
        name: Option<&str>,
        permission_set_id: Option<&str>,
        model_set_id: Option<&str>,
    ) -> bool {
        let mut state = self.lock();
        let Some(role) = key(id).and_then(|k| state.roles.get_mut(&k)) else {
            return false;
        };
        if let Some(v) = name {
            role.name = v.to_string();
        }
        if let Some(v) = permission_set_id {
            role.permission_set_id = v.to_string();
        }
        if let Some(v) = model_set_id {
            role.model_set_id = v.to_string();
        }
        true
    }

    /// Out-of-band delete of a role.
    pub fn remove_role(&self, id: &str) -> bool {
        let mut state = self.lock();
        key(id).is_some_and(|k| state.roles.remove(&k).is_some())
    }
}

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
