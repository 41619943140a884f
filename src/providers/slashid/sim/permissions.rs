//! SlashID's permissions: idempotent create (204, nothing changed when the name exists),
//! description PATCH, no ETag on reads, and no delete while a role includes the permission.

use std::collections::BTreeMap;

use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde_json::{Value, json};

use super::named::{Named, described};
use super::names::is_permission_name;
use super::wire::{Write, applied, invalid, not_found, optional_string};
use super::{Org, Permission, SlashIdSim, now};
use crate::sim::{Answer, Refusal};

impl Named for Permission {
    const COLLECTION: &'static str = "/rbac/permissions";
    const NOUN: &'static str = "permission";

    fn pool(org: &mut Org) -> &mut BTreeMap<String, Self> {
        &mut org.permissions
    }

    /// GET permission declares no ETag in SlashID's description: none is sent.
    fn read(&self, name: &str) -> (Value, Option<&str>) {
        let body = json!({"name": name, "created": self.created});
        (described(body, &self.description), None)
    }

    fn create(sim: &SlashIdSim, w: Write, name: String) -> Answer {
        if !is_permission_name(&name) {
            return Err(invalid(format!("invalid permission name {name:?}")));
        }
        let description = optional_string(&w.body, "description")?;
        let mut inner = sim.lock();
        let state = inner.orgs.entry(w.org).or_default();
        if state.permissions.contains_key(&name) {
            return Ok(StatusCode::NO_CONTENT.into_response());
        }
        let created = now();
        state.permissions.insert(
            name,
            Permission {
                description,
                created,
            },
        );
        inner.next_etag();
        applied(&mut inner, w.headers)
    }

    fn patch(sim: &SlashIdSim, w: Write, name: String) -> Answer {
        let description = optional_string(&w.body, "description")?;
        let mut inner = sim.lock();
        let permissions = &mut inner.orgs.entry(w.org).or_default().permissions;
        let p = permissions
            .get_mut(&name)
            .ok_or_else(|| not_found(Self::NOUN, &name))?;
        if description.is_some() {
            p.description = description;
        }
        inner.next_etag();
        applied(&mut inner, w.headers)
    }

    fn check_delete(org: &Org, name: &str) -> Result<(), Refusal> {
        let user = org
            .roles
            .iter()
            .find(|(_, r)| r.permissions.iter().any(|p| p == name));
        match user {
            Some((role, _)) => Err(invalid(format!(
                "permission {name} cannot be deleted while it is included in role {role}"
            ))),
            None => Ok(()),
        }
    }
}
