//! The simulated instance's state: accepted keys and issued tokens, roles, permission sets and
//! model sets (ids from one counter), and how Looker renders them (roles embed their sets; the
//! write-only `*_set_id` fields are never read back).

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::{SetKind, SimRole, SimSet, seed};

pub(super) struct State {
    /// Accepted API keys: client id → secret.
    pub(super) clients: HashMap<String, String>,
    pub(super) token_ttl: Duration,
    /// Token → (client id, expiry).
    pub(super) tokens: HashMap<String, (String, Instant)>,
    pub(super) logins: u32,
    pub(super) next_id: u64,
    pub(super) roles: BTreeMap<u64, SimRole>,
    pub(super) permission_sets: BTreeMap<u64, SimSet>,
    pub(super) model_sets: BTreeMap<u64, SimSet>,
    pub(super) case_insensitive_names: bool,
}

impl State {
    /// An instance accepting one API key, with the built-in Admin role, "Admin" permission set
    /// and "All" model set.
    pub(super) fn new(client_id: &str, client_secret: &str, token_ttl: Duration) -> Self {
        let mut state = Self {
            clients: HashMap::from([(client_id.to_string(), client_secret.to_string())]),
            token_ttl,
            tokens: HashMap::new(),
            logins: 0,
            next_id: 0,
            roles: BTreeMap::new(),
            permission_sets: BTreeMap::new(),
            model_sets: BTreeMap::new(),
            case_insensitive_names: true,
        };
        let all_permissions = seed::PERMISSIONS.iter().map(|p| p.0.to_string()).collect();
        let admin_ps = state.insert_set(SetKind::Permission, "Admin", all_permissions);
        let all_ms = state.insert_set(
            SetKind::Model,
            "All",
            seed::MODELS.iter().map(|m| m.to_string()).collect(),
        );
        for kind in [SetKind::Permission, SetKind::Model] {
            for set in state.sets_mut(kind).values_mut() {
                set.built_in = true;
                set.all_access = true;
            }
        }
        let id = state.next();
        state.roles.insert(
            id,
            SimRole {
                id: id.to_string(),
                name: "Admin".into(),
                permission_set_id: admin_ps,
                model_set_id: all_ms,
                built_in: true,
            },
        );
        state
    }

    pub(super) fn sets(&self, kind: SetKind) -> &BTreeMap<u64, SimSet> {
        match kind {
            SetKind::Permission => &self.permission_sets,
            SetKind::Model => &self.model_sets,
        }
    }

    pub(super) fn sets_mut(&mut self, kind: SetKind) -> &mut BTreeMap<u64, SimSet> {
        match kind {
            SetKind::Permission => &mut self.permission_sets,
            SetKind::Model => &mut self.model_sets,
        }
    }

    pub(super) fn next(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    pub(super) fn same_name(&self, a: &str, b: &str) -> bool {
        if self.case_insensitive_names {
            a.to_lowercase() == b.to_lowercase()
        } else {
            a == b
        }
    }

    pub(super) fn insert_set(&mut self, kind: SetKind, name: &str, items: Vec<String>) -> String {
        let id = self.next();
        self.sets_mut(kind).insert(
            id,
            SimSet {
                id: id.to_string(),
                name: name.to_string(),
                items,
                built_in: false,
                all_access: false,
            },
        );
        id.to_string()
    }

    /// A role as Looker answers it, with its sets embedded (null where a set is gone).
    pub(super) fn role_json(&self, role: &SimRole) -> Value {
        let set = |kind, id: &str| match key(id).and_then(|k| self.sets(kind).get(&k)) {
            Some(set) => set_json(kind, set),
            None => Value::Null,
        };
        json!({
            "id": role.id,
            "name": role.name,
            "permission_set": set(SetKind::Permission, &role.permission_set_id),
            "model_set": set(SetKind::Model, &role.model_set_id),
            "internal": false,
            "can": {"show": true, "index": true, "update": !role.built_in, "delete": !role.built_in},
            "url": format!("/api/4.0/roles/{}", role.id),
            "users_url": format!("/api/4.0/roles/{}/users", role.id),
        })
    }
}

/// A set as Looker answers it.
pub(super) fn set_json(kind: SetKind, set: &SimSet) -> Value {
    let path = match kind {
        SetKind::Permission => "permission_sets",
        SetKind::Model => "model_sets",
    };
    let mut v = json!({
        "id": set.id,
        "name": set.name,
        "all_access": set.all_access,
        "built_in": set.built_in,
        "can": {"show": true, "index": true, "update": !set.built_in},
        "url": format!("/api/4.0/{path}/{}", set.id),
    });
    v[kind.items_field()] = json!(set.items);
    v
}

/// The map key of an id (ids are decimal strings).
pub(super) fn key(id: &str) -> Option<u64> {
    id.parse().ok()
}
