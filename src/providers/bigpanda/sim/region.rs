//! One simulated BigPanda region: its roles (built-in Admin and User included), the one user API
//! key it accepts, the behaviour switches the contract leaves open, and out-of-band edits.

use std::sync::{Mutex, MutexGuard};

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::role::{self, ActionsForm, RoleInput, SimPermission, SimRole};
use crate::sim::Traffic;

/// Behaviour switches the contract leaves open.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Settings {
    /// Status of a duplicate-name create or rename (undocumented: 409 by default).
    pub duplicate_status: u16,
    pub actions_form: ActionsForm,
    /// Answer single roles and lists wrapped in `{status, data}` instead of bare.
    pub wrap_responses: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            duplicate_status: 409,
            actions_form: ActionsForm::Mixed,
            wrap_responses: false,
        }
    }
}

struct Store {
    /// Built-ins first, then in creation order.
    roles: Vec<SimRole>,
    counter: u32,
    settings: Settings,
}

impl Store {
    fn next_id(&mut self) -> String {
        self.counter += 1;
        role::new_id(self.counter)
    }
}

pub struct BigPandaSim {
    pub traffic: Traffic,
    /// `us` or `eu`, for the admin view.
    region: &'static str,
    /// The user API key this region accepts.
    key: String,
    /// The user the key belongs to (`created_by` of roles made through the API).
    caller: String,
    store: Mutex<Store>,
}

/// Fixed id of built-in role `n` (0 Admin, 1 User): `5e8f0a1b2c3d4e5f6071a000` / `…a001` in the
/// US, `…e000` / `…e001` in the EU.
pub fn built_in_id(region: &str, n: usize) -> String {
    let code = if region == "eu" { 'e' } else { 'a' };
    format!("5e8f0a1b2c3d4e5f6071{code}{n:03x}")
}

impl BigPandaSim {
    pub fn new(region: &'static str, key: String) -> Self {
        let mut store = Store {
            roles: Vec::new(),
            counter: 0,
            settings: Settings::default(),
        };
        let system = store.next_id();
        let admin = vec![
            SimPermission::new("roles", None, &["full_access"]),
            SimPermission::new("users", None, &["full_access"]),
            SimPermission::new("environments", None, &["full_access"]),
        ];
        let user = vec![SimPermission::new("environments", None, &["read"])];
        // Built-ins get fixed ids per region so manifests can adopt them.
        for (n, (name, permissions)) in [("Admin", admin), ("User", user)].into_iter().enumerate() {
            store.roles.push(SimRole {
                id: built_in_id(region, n),
                name: name.into(),
                users: vec![],
                permissions,
                created_by: system.clone(),
                created_at: role::now(),
                updated_at: role::now(),
                built_in: true,
            });
        }
        let caller = store.next_id();
        Self {
            traffic: Traffic::new(),
            region,
            key,
            caller,
            store: Mutex::new(store),
        }
    }

    fn store(&self) -> MutexGuard<'_, Store> {
        self.store.lock().expect("sim lock")
    }

    /// Whether `key` is this region's user API key.
    pub(super) fn accepts(&self, key: &str) -> bool {
        !key.is_empty() && key == self.key
    }

    /// Every role, built-ins first, then in creation order.
    pub fn roles(&self) -> Vec<SimRole> {
        self.store().roles.clone()
    }

    pub fn role(&self, id: &str) -> Option<SimRole> {
        self.store().roles.iter().find(|r| r.id == id).cloned()
    }

    pub fn roles_named(&self, name: &str) -> Vec<SimRole> {
        self.store()
            .roles
            .iter()
            .filter(|r| r.name == name)
            .cloned()
            .collect()
    }

    /// Creates a role made by this region's API user. No uniqueness check: the API checks names
    /// itself, and tests stage ambiguous states with it.
    pub fn insert_role(&self, input: RoleInput) -> SimRole {
        let mut store = self.store();
        let role = SimRole {
            id: store.next_id(),
            name: input.name,
            users: input.users,
            permissions: input.permissions,
            created_by: self.caller.clone(),
            created_at: role::now(),
            updated_at: role::now(),
            built_in: false,
        };
        store.roles.push(role.clone());
        role
    }

    /// Edits one role (bumping `updated_at`); None when there is no role with that id.
    pub fn edit_role(&self, id: &str, edit: impl FnOnce(&mut SimRole)) -> Option<SimRole> {
        let mut store = self.store();
        let role = store.roles.iter_mut().find(|r| r.id == id)?;
        edit(role);
        role.updated_at = role::now();
        Some(role.clone())
    }

    /// Deletes a role (built-ins included: the API refuses those itself).
    pub fn remove_role(&self, id: &str) -> bool {
        let mut store = self.store();
        let before = store.roles.len();
        store.roles.retain(|r| r.id != id);
        before != store.roles.len()
    }

    pub fn settings(&self) -> Settings {
        self.store().settings.clone()
    }

    pub fn set_settings(&self, settings: Settings) {
        self.store().settings = settings;
    }

    /// The region's state as `GET _admin/state` shows it.
    pub(super) fn snapshot(&self) -> Value {
        let store = self.store();
        json!({
            "region": self.region,
            "roles": store.roles,
            "settings": store.settings,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_have_their_own_key_and_built_ins() {
        let us = BigPandaSim::new("us", "us-key".into());
        let eu = BigPandaSim::new("eu", "eu-key".into());
        assert!(us.accepts("us-key") && !us.accepts("eu-key") && !us.accepts(""));
        let names: Vec<_> = us.roles().into_iter().map(|r| (r.id, r.name)).collect();
        assert_eq!(
            names,
            vec![
                ("5e8f0a1b2c3d4e5f6071a000".to_string(), "Admin".to_string()),
                ("5e8f0a1b2c3d4e5f6071a001".to_string(), "User".to_string()),
            ]
        );
        assert_eq!(eu.roles()[0].id, "5e8f0a1b2c3d4e5f6071e000");
        assert!(us.roles().iter().all(|r| r.built_in));
    }
}
