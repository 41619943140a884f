//! ConfigCat Public Management API simulator (`/configcat`), faithful to `providers/configcat.md`:
//! HTTP Basic auth (401 otherwise), one organisation holding products (uuid) with environments
//! (uuid) and permission groups (int64 ids from a counter); POST validates the name (1–255) and
//! enums (400), unknown products and groups give 404, PUT keeps null/absent fields and merges
//! environment entries by id, DELETE answers 204. Every API response carries
//! `X-Rate-Limit-Remaining` and `X-Rate-Limit-Reset` (an ISO 8601 UTC timestamp, as ASP.NET rate
//! limiters send); the framework's rate-limit fault answers 429 with `Retry-After`.
//!
//! A demo product ([`DEMO_PRODUCT_ID`]) with a Test and a Production environment is seeded so the
//! example manifests work against `roleplane sim` as they are.

mod admin;
mod api;
mod body;
mod wire;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::middleware;
use serde::Serialize;
use serde_json::{Value, json};

use crate::sim::{ProductSim, PublishedLimits, Routes, SingleApi, Traffic, sim_args};

sim_args! {
    /// ConfigCat Public API username accepted by /configcat (HTTP Basic).
    username: String = "sim-user",
        flag "configcat-username", env "ROLEPLANE_SIM_CONFIGCAT_USERNAME";
    /// ConfigCat Public API password accepted by /configcat (HTTP Basic).
    password: String = "sim-password",
        flag "configcat-password", env "ROLEPLANE_SIM_CONFIGCAT_PASSWORD",
        hide_env_values = true;
}

/// The simulator the registry assembles.
pub type Sim = ConfigCatSim;

pub const DEMO_PRODUCT_ID: &str = "c0ffee00-0000-4000-8000-000000000001";
pub const DEMO_TEST_ENVIRONMENT_ID: &str = "c0ffee00-0000-4000-8000-000000000011";
pub const DEMO_PRODUCT_ENVIRONMENT_ID: &str = "c0ffee00-0000-4000-8000-000000000012";
const ORGANIZATION_ID: &str = "c0ffee00-0000-4000-8000-0000000000aa";

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Environment {
    pub environment_id: String,
    pub name: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Product {
    pub product_id: String,
    pub name: String,
    pub environments: Vec<Environment>,
}

/// A permission group as the simulator holds it. Per-environment maps are keyed by environment id;
/// environments without an entry read as `none` / `cannotApprove`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Group {
    pub permission_group_id: i64,
    pub product_id: String,
    pub name: String,
    pub flags: BTreeMap<String, bool>,
    pub access_type: String,
    pub new_environment_access_type: String,
    pub environment_accesses: BTreeMap<String, String>,
    pub approval_permission_type: String,
    pub new_environment_approval_permission_type: String,
    pub environment_approval_permissions: BTreeMap<String, String>,
}

#[derive(Default)]
struct Store {
    products: Vec<Product>,
    groups: BTreeMap<i64, Group>,
    last_id: i64,
}

impl Store {
    fn product(&self, id: &str) -> Option<&Product> {
        self.products
            .iter()
            .find(|p| p.product_id.eq_ignore_ascii_case(id))
    }
}

pub struct ConfigCatSim {
    pub traffic: Traffic,
    /// Accepted Basic credentials (username, password).
    credentials: (String, String),
    store: Mutex<Store>,
}

/// A random version-4 uuid.
fn uuid() -> String {
    let n = rand::random::<u128>() & !(0xf000 << 64) & !(0xc << 60) | (0x4000 << 64) | (0x8 << 60);
    let h = format!("{n:032x}");
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

impl SingleApi for ConfigCatSim {
    type Args = Args;
    const PREFIX: &'static str = "/configcat";

    /// An organisation with the demo product, accepting the configured credentials.
    fn from_args(args: Args) -> Self {
        let sim = Self {
            traffic: Traffic::new(),
            credentials: (args.username, args.password),
            store: Mutex::default(),
        };
        sim.add_product_with_id(DEMO_PRODUCT_ID, "Demo");
        sim.add_environment_with_id(DEMO_PRODUCT_ID, DEMO_TEST_ENVIRONMENT_ID, "Test");
        sim.add_environment_with_id(DEMO_PRODUCT_ID, DEMO_PRODUCT_ENVIRONMENT_ID, "Production");
        sim
    }

    /// Every answer, faults included, carries the rate-limit headers.
    fn layer(self: &Arc<Self>, router: Router) -> Router {
        router.layer(middleware::from_fn_with_state(
            self.clone(),
            wire::rate_limit_headers,
        ))
    }
}

impl ConfigCatSim {
    fn store(&self) -> std::sync::MutexGuard<'_, Store> {
        self.store.lock().expect("sim lock")
    }

    /// Adds a product with a random id and returns the id.
    pub fn add_product(&self, name: &str) -> String {
        let id = uuid();
        self.add_product_with_id(&id, name);
        id
    }

    /// Adds (or renames) a product with a chosen id.
    pub fn add_product_with_id(&self, id: &str, name: &str) {
        let mut store = self.store();
        match store
            .products
            .iter_mut()
            .find(|p| p.product_id.eq_ignore_ascii_case(id))
        {
            Some(p) => p.name = name.into(),
            None => store.products.push(Product {
                product_id: id.to_ascii_lowercase(),
                name: name.into(),
                environments: Vec::new(),
            }),
        }
    }

    /// Removes a product with its environments and permission groups.
    pub fn remove_product(&self, id: &str) -> bool {
        let mut store = self.store();
        let before = store.products.len();
        store
            .products
            .retain(|p| !p.product_id.eq_ignore_ascii_case(id));
        store
            .groups
            .retain(|_, g| !g.product_id.eq_ignore_ascii_case(id));
        before != store.products.len()
    }

    /// Adds an environment with a random id; None when the product does not exist.
    pub fn add_environment(&self, product_id: &str, name: &str) -> Option<String> {
        let id = uuid();
        self.add_environment_with_id(product_id, &id, name)
            .then_some(id)
    }

    /// Adds an environment with a chosen id. Existing groups of the product get their
    /// `newEnvironmentAccessType` and `newEnvironmentApprovalPermissionType` on it, as ConfigCat
    /// does for environments created later.
    pub fn add_environment_with_id(&self, product_id: &str, id: &str, name: &str) -> bool {
        let mut store = self.store();
        let id = id.to_ascii_lowercase();
        let Some(product) = store
            .products
            .iter_mut()
            .find(|p| p.product_id.eq_ignore_ascii_case(product_id))
        else {
            return false;
        };
        if !product.environments.iter().any(|e| e.environment_id == id) {
            product.environments.push(Environment {
                environment_id: id.clone(),
                name: name.into(),
            });
        }
        let product_id = product.product_id.clone();
        for g in store
            .groups
            .values_mut()
            .filter(|g| g.product_id == product_id)
        {
            g.environment_accesses
                .insert(id.clone(), g.new_environment_access_type.clone());
            g.environment_approval_permissions.insert(
                id.clone(),
                g.new_environment_approval_permission_type.clone(),
            );
        }
        true
    }

    /// Removes an environment from its product and from every group.
    pub fn remove_environment(&self, environment_id: &str) -> bool {
        let id = environment_id.to_ascii_lowercase();
        let mut store = self.store();
        let mut found = false;
        for p in &mut store.products {
            let before = p.environments.len();
            p.environments.retain(|e| e.environment_id != id);
            found |= before != p.environments.len();
        }
        for g in store.groups.values_mut() {
            g.environment_accesses.remove(&id);
            g.environment_approval_permissions.remove(&id);
        }
        found
    }

    pub fn groups(&self) -> Vec<Group> {
        self.store().groups.values().cloned().collect()
    }

    pub fn group(&self, id: i64) -> Option<Group> {
        self.store().groups.get(&id).cloned()
    }

    /// Out-of-band edit of a group's stored state; false when it does not exist.
    pub fn edit_group(&self, id: i64, edit: impl FnOnce(&mut Group)) -> bool {
        self.store().groups.get_mut(&id).map(edit).is_some()
    }

    /// Out-of-band create, as the API would (body in `CreatePermissionGroupRequest` shape).
    pub fn create_group(&self, product_id: &str, body: &Value) -> Result<Group, String> {
        api::create_group(self, product_id, body).map_err(|(_, text)| text)
    }

    /// Out-of-band delete.
    pub fn remove_group(&self, id: i64) -> bool {
        self.store().groups.remove(&id).is_some()
    }
}

impl ProductSim for ConfigCatSim {
    /// `providers/configcat.md` "Rate limits": 429 + `Retry-After` and `X-Rate-Limit-*` headers
    /// are documented (the headers are always sent here), the numbers are not.
    const PUBLISHED_LIMITS: PublishedLimits = PublishedLimits::NONE;

    fn traffic(&self) -> &Traffic {
        &self.traffic
    }

    fn state(&self) -> Value {
        let store = self.store();
        json!({
            "organization": {"organizationId": ORGANIZATION_ID, "name": "Sim Organization"},
            "products": store.products,
            "permissionGroups": store.groups.values().collect::<Vec<_>>(),
        })
    }

    fn routes(self: &Arc<Self>) -> Routes {
        Routes {
            api: api::router(self.clone()),
            admin: admin::router(self.clone()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids_are_version_4() {
        let id = uuid();
        assert_eq!(id.len(), 36);
        assert_eq!(&id[14..15], "4");
        assert!(matches!(&id[19..20], "8" | "9" | "a" | "b"), "{id}");
    }
}
