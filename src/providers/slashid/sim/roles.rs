//! SlashID's roles: full names `{orgId}/{name}` checked against SlashID's rules, idempotent
//! create (204, nothing changed when the name exists; the switches add 409 and 402), reads with
//! an `ETag`, and PATCH guarded by `If-Match`.

use std::collections::BTreeMap;

use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde_json::{Value, json};

use super::named::{Named, described};
use super::names::is_role_name;
use super::wire::{
    Write, applied, if_match, invalid, not_found, optional_string, permission_list, refusal,
};
use super::{Org, Role, SlashIdSim, now};
use crate::sim::{Answer, Refusal};

/// `{orgId}/` prefix plus SlashID's role name rule on the rest.
fn check_role_name(org: &str, full: &str) -> Result<(), Refusal> {
    match full.split_once('/') {
        Some((prefix, rest)) if prefix == org && is_role_name(rest) => Ok(()),
        Some((prefix, rest)) if prefix == org => Err(invalid(format!(
            "invalid role name {rest:?}: 2-100 characters of A-Z a-z 0-9 - _ . :, \
             starting and ending with an alphanumeric character"
        ))),
        _ => Err(invalid(format!(
            "role names must be prefixed with the organization id ({org}/)"
        ))),
    }
}

fn same_set(a: &[String], b: &[String]) -> bool {
    let (mut a, mut b) = (a.to_vec(), b.to_vec());
    a.sort();
    b.sort();
    a == b
}

impl Named for Role {
    const COLLECTION: &'static str = "/rbac/roles";
    const NOUN: &'static str = "role";

    fn pool(org: &mut Org) -> &mut BTreeMap<String, Self> {
        &mut org.roles
    }

    fn read(&self, name: &str) -> (Value, Option<&str>) {
        let body = json!({"name": name, "created": self.created, "permissions": self.permissions});
        (described(body, &self.description), Some(&self.etag))
    }

    fn create(sim: &SlashIdSim, w: Write, name: String) -> Answer {
        check_role_name(&w.org, &name)?;
        let description = optional_string(&w.body, "description")?;
        let mut inner = sim.lock();
        let switches = inner.switches.clone();
        let state = inner.orgs.entry(w.org).or_default();
        let permissions = permission_list(&w.body, state)?.unwrap_or_default();
        if let Some(existing) = state.roles.get(&name) {
            let changed = existing.description != description
                || !same_set(&existing.permissions, &permissions);
            if switches.conflict_on_changed_create && changed {
                return Err(refusal(
                    StatusCode::CONFLICT,
                    format!("role {name} already exists with different attributes"),
                ));
            }
            // "If the Role exists already, no action will be taken."
            return Ok(StatusCode::NO_CONTENT.into_response());
        }
        if switches
            .max_roles
            .is_some_and(|max| state.roles.len() >= max)
        {
            return Err(refusal(
                StatusCode::PAYMENT_REQUIRED,
                "pricing tier violation: the maximum number of roles for your plan has been reached",
            ));
        }
        let etag = inner.next_etag();
        inner.org_of_role(&name).roles.insert(
            name,
            Role {
                description,
                created: now(),
                permissions,
                etag,
            },
        );
        applied(&mut inner, w.headers)
    }

    fn patch(sim: &SlashIdSim, w: Write, name: String) -> Answer {
        if w.body.get("name").is_some() {
            return Err(invalid("a role's name cannot be changed"));
        }
        let description = optional_string(&w.body, "description")?;
        let mut inner = sim.lock();
        let org = w.org;
        let state = inner.orgs.entry(org.clone()).or_default();
        let permissions = permission_list(&w.body, state)?;
        if !state.roles.contains_key(&name) {
            return Err(not_found(Self::NOUN, &name));
        }
        if inner.switches.concurrent_edit_next > 0 {
            inner.switches.concurrent_edit_next -= 1;
            let etag = inner.next_etag();
            if let Some(role) = inner.org_of_role(&name).roles.get_mut(&name) {
                role.etag = etag;
            }
        }
        let current = &inner.orgs[&org].roles[&name].etag;
        if let Some(want) = if_match(w.headers)
            && want != current
            && want != "*"
        {
            return Err(refusal(
                StatusCode::PRECONDITION_FAILED,
                "the role was modified since it was read (If-Match does not match the ETag)",
            ));
        }
        let etag = inner.next_etag();
        let role = inner
            .org_of_role(&name)
            .roles
            .get_mut(&name)
            .expect("role checked above under the same lock");
        if description.is_some() {
            role.description = description;
        }
        if let Some(p) = permissions {
            role.permissions = p;
        }
        role.etag = etag;
        applied(&mut inner, w.headers)
    }
}
