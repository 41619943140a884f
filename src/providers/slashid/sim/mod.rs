//! SlashID RBAC simulator (`/slashid`), faithful to `providers/slashid.md`: `SlashID-API-Key`
//! (401) tied to one organisation that `SlashID-OrgID` must name (400 when absent, 403 when
//! another), role names `{orgId}/{name}` checked against SlashID's rules (400), permissions that
//! must exist before a role names them (400) and cannot be deleted while a role uses them (400),
//! idempotent creates (204, nothing changed), ETags that change on every write with `If-Match`
//! (412), 404 on unknown names, consistency headers checked, and errors in SlashID's
//! `{meta, errors:[{httpcode, message}]}` envelope.
//!
//! Product switches ([`Switches`], `PUT /slashid/_admin/switches`): `applyThen408Next` (the next
//! n writes are applied but answered 408, as when replication outlasts the consistency timeout),
//! `maxRoles` (402 pricing-tier answer to creates beyond it), `conflictOnChangedCreate` (409 to a
//! create naming an existing role with a different body, instead of SlashID's silent 204),
//! `concurrentEditNext` (the next n role PATCHes meet a write made since the caller's GET, so a
//! stale `If-Match` gets 412).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::sim::{ProductSim, PublishedLimits, Routes, SingleApi, Traffic, sim_args};

mod admin;
mod named;
mod names;
mod permissions;
mod roles;
mod wire;

sim_args! {
    /// SlashID API key accepted by /slashid (it belongs to the organisation below).
    api_key: String = "sim-slashid-key",
        flag "slashid-api-key", env "ROLEPLANE_SIM_SLASHID_API_KEY";
    /// SlashID organisation id the key belongs to (`SlashID-OrgID`, and the role name prefix).
    org_id: String = "sim-org",
        flag "slashid-org-id", env "ROLEPLANE_SIM_SLASHID_ORG_ID";
}

/// The simulator the registry assembles.
pub type Sim = SlashIdSim;

/// A role as stored.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Role {
    pub description: Option<String>,
    pub created: String,
    pub permissions: Vec<String>,
    pub etag: String,
}

/// A permission as stored.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Permission {
    pub description: Option<String>,
    pub created: String,
}

/// One organisation's RBAC pool.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Org {
    pub permissions: BTreeMap<String, Permission>,
    /// Keyed by the full name `{orgId}/{name}`.
    pub roles: BTreeMap<String, Role>,
}

/// Product-specific behaviour switches.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Switches {
    /// The next n successful writes are applied, then answered 408 Request Timeout.
    #[serde(alias = "apply_then_408_next")]
    pub apply_then_408_next: u32,
    /// Creating a role beyond this many answers 402 Pricing Tier Violation.
    #[serde(alias = "max_roles")]
    pub max_roles: Option<usize>,
    /// A create naming an existing role with a different body answers 409 instead of 204.
    #[serde(alias = "conflict_on_changed_create")]
    pub conflict_on_changed_create: bool,
    /// The next n role PATCHes find the role changed by another writer since it was read: its
    /// ETag moves just before the `If-Match` check.
    #[serde(alias = "concurrent_edit_next")]
    pub concurrent_edit_next: u32,
}

struct Inner {
    /// API key → the organisation it belongs to.
    keys: HashMap<String, String>,
    orgs: BTreeMap<String, Org>,
    switches: Switches,
    /// Source of ETags: bumped on every write.
    version: u64,
    /// Consistency level and timeout headers of the last API write (None when absent).
    last_consistency: (Option<String>, Option<String>),
}

impl Inner {
    fn next_etag(&mut self) -> String {
        self.version += 1;
        format!("\"v{}\"", self.version)
    }

    fn org_of_role(&mut self, full: &str) -> &mut Org {
        let org = full.split_once('/').map_or("", |(o, _)| o);
        self.orgs.entry(org.to_string()).or_default()
    }
}

pub struct SlashIdSim {
    pub traffic: Traffic,
    default_org: String,
    inner: Mutex<Inner>,
}

fn now() -> String {
    k8s_openapi::jiff::Timestamp::now().to_string()
}

impl SingleApi for SlashIdSim {
    type Args = Args;
    const PREFIX: &'static str = "/slashid";

    /// A simulator accepting the key for its organisation.
    fn from_args(Args { api_key, org_id }: Args) -> Self {
        Self {
            traffic: Traffic::new(),
            default_org: org_id.clone(),
            inner: Mutex::new(Inner {
                keys: HashMap::from([(api_key, org_id.clone())]),
                orgs: BTreeMap::from([(org_id, Org::default())]),
                switches: Switches::default(),
                version: 0,
                last_consistency: (None, None),
            }),
        }
    }
}

impl SlashIdSim {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().expect("sim lock")
    }

    pub fn switches(&self) -> Switches {
        self.lock().switches.clone()
    }

    pub fn set_switches(&self, switches: Switches) {
        self.lock().switches = switches;
    }

    /// The next `n` successful writes are applied, then answered 408.
    pub fn set_apply_then_408_next(&self, n: u32) {
        self.lock().switches.apply_then_408_next = n;
    }

    /// `SlashID-Required-Consistency` and `-Timeout` as sent on the last API write.
    pub fn last_consistency(&self) -> (Option<String>, Option<String>) {
        self.lock().last_consistency.clone()
    }

    /// A role by its full name `{orgId}/{name}`.
    pub fn role(&self, full: &str) -> Option<Role> {
        self.lock().org_of_role(full).roles.get(full).cloned()
    }

    /// Full names of an organisation's roles.
    pub fn roles(&self, org_id: &str) -> Vec<String> {
        self.lock()
            .orgs
            .get(org_id)
            .map(|o| o.roles.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// Permission names of an organisation.
    pub fn permissions(&self, org_id: &str) -> Vec<String> {
        self.lock()
            .orgs
            .get(org_id)
            .map(|o| o.permissions.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// Out-of-band edit: creates or replaces a role (by full name), creating the permissions it
    /// names. The ETag changes.
    pub fn put_role(&self, full: &str, description: Option<&str>, permissions: &[&str]) {
        let mut inner = self.lock();
        let etag = inner.next_etag();
        let org = inner.org_of_role(full);
        for p in permissions {
            org.permissions
                .entry(p.to_string())
                .or_insert_with(|| Permission {
                    description: None,
                    created: now(),
                });
        }
        let created = org.roles.get(full).map_or_else(now, |r| r.created.clone());
        org.roles.insert(
            full.to_string(),
            Role {
                description: description.map(str::to_string),
                created,
                permissions: permissions.iter().map(|p| p.to_string()).collect(),
                etag,
            },
        );
    }

    /// Out-of-band delete of a role.
    pub fn remove_role(&self, full: &str) -> bool {
        self.lock().org_of_role(full).roles.remove(full).is_some()
    }

    /// Out-of-band creation of a permission.
    pub fn put_permission(&self, org_id: &str, name: &str) {
        self.lock()
            .orgs
            .entry(org_id.to_string())
            .or_default()
            .permissions
            .entry(name.to_string())
            .or_insert_with(|| Permission {
                description: None,
                created: now(),
            });
    }

    /// Out-of-band delete of a permission; refused (false) while a role includes it.
    pub fn remove_permission(&self, org_id: &str, name: &str) -> bool {
        let mut inner = self.lock();
        let Some(org) = inner.orgs.get_mut(org_id) else {
            return false;
        };
        if org
            .roles
            .values()
            .any(|r| r.permissions.iter().any(|p| p == name))
        {
            return false;
        }
        org.permissions.remove(name).is_some()
    }
}

impl ProductSim for SlashIdSim {
    /// `providers/slashid.md` "Rate limits": no numbers published.
    const PUBLISHED_LIMITS: PublishedLimits = PublishedLimits::NONE;

    fn traffic(&self) -> &Traffic {
        &self.traffic
    }

    fn state(&self) -> Value {
        let inner = self.lock();
        json!({ "orgs": inner.orgs, "switches": inner.switches })
    }

    fn routes(self: &Arc<Self>) -> Routes {
        admin::routes(self.clone())
    }
}
