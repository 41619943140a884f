//! SlashID's RBAC API treats roles and permissions alike: each organisation keeps them by name
//! under their own collection, lists them as bare names (the organisation's version as ETag),
//! reads one with its description and creation time, and deletes one by name (404 when unknown).
//! The handlers here serve both; each kind states its rules by implementing [`Named`] (in
//! `roles.rs` and `permissions.rs`).

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::routing::get;
use serde_json::{Value, json};

use super::wire::{Shared, Write, applied, name, not_found, org, result, write, write_org};
use super::{Org, SlashIdSim};
use crate::sim::{Answer, JsonBody, Refusal};

/// A role or a permission, with its kind's rules.
pub trait Named: Sized + 'static {
    /// The collection's path, e.g. `/rbac/roles`.
    const COLLECTION: &'static str;
    /// How SlashID's messages name the kind.
    const NOUN: &'static str;
    fn pool(org: &mut Org) -> &mut BTreeMap<String, Self>;
    /// The body of a read, and its ETag where SlashID's description declares one.
    fn read(&self, name: &str) -> (Value, Option<&str>);
    /// A create of `name`, its organisation and body read.
    fn create(sim: &SlashIdSim, write: Write, name: String) -> Answer;
    /// A PATCH of `name`, its organisation and body read.
    fn patch(sim: &SlashIdSim, write: Write, name: String) -> Answer;
    /// Refuses a delete the kind's rules forbid (none unless it has some).
    fn check_delete(_org: &Org, _name: &str) -> Result<(), Refusal> {
        Ok(())
    }
}

/// `GET|POST` on the kind's collection and `GET|PATCH|DELETE` on one of its names.
pub fn routes<T: Named>() -> Router<Arc<SlashIdSim>> {
    Router::new()
        .route(T::COLLECTION, get(list::<T>).post(create::<T>))
        .route(
            &format!("{}/{{name}}", T::COLLECTION),
            get(read::<T>).patch(patch::<T>).delete(delete::<T>),
        )
}

/// `description` is left out when there is none.
pub fn described(mut body: Value, description: &Option<String>) -> Value {
    if let Some(d) = description {
        body["description"] = json!(d);
    }
    body
}

async fn list<T: Named>(State(sim): Shared, headers: HeaderMap) -> Answer {
    let org = org(&sim, &headers)?;
    let mut inner = sim.lock();
    let version = inner.version;
    let names: Vec<&String> = T::pool(inner.orgs.entry(org).or_default()).keys().collect();
    Ok(result(json!(names), Some(&format!("\"v{version}\""))))
}

async fn create<T: Named>(State(sim): Shared, headers: HeaderMap, body: JsonBody) -> Answer {
    let write = write(&sim, &headers, body)?;
    let name = name(&write.body)?;
    T::create(&sim, write, name)
}

async fn read<T: Named>(
    State(sim): Shared,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> Answer {
    let org = org(&sim, &headers)?;
    let mut inner = sim.lock();
    let entry = inner.orgs.get_mut(&org).and_then(|o| T::pool(o).get(&name));
    let (body, etag) = entry.ok_or_else(|| not_found(T::NOUN, &name))?.read(&name);
    Ok(result(body, etag))
}

async fn patch<T: Named>(
    State(sim): Shared,
    headers: HeaderMap,
    Path(name): Path<String>,
    body: JsonBody,
) -> Answer {
    let write = write(&sim, &headers, body)?;
    T::patch(&sim, write, name)
}

async fn delete<T: Named>(
    State(sim): Shared,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> Answer {
    let org = write_org(&sim, &headers)?;
    let mut inner = sim.lock();
    let state = inner.orgs.entry(org).or_default();
    if !T::pool(state).contains_key(&name) {
        return Err(not_found(T::NOUN, &name));
    }
    T::check_delete(state, &name)?;
    T::pool(state).remove(&name);
    inner.next_etag();
    applied(&mut inner, &headers)
}
