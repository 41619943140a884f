//! What the benchmark knows of each product: the manifest it creates, the accounts it sets up in
//! a simulator, the published rate limits (from `/work/shared/providers/<name>.md`, the products'
//! contracts) and the page sizes a listing uses.

use roleplane::crd::ProviderKind;
use roleplane::providers::Simulator;
use roleplane::sim::Faults;
use serde_json::{Value, json};

/// The ConfigCat product (and its environments) every credential's simulator holds.
const CONFIGCAT_PRODUCT: &str = "cafe0000-0000-4000-8000-000000000001";
const CONFIGCAT_TEST: &str = "cafe0000-0000-4000-8000-000000000011";
const CONFIGCAT_PROD: &str = "cafe0000-0000-4000-8000-000000000012";
/// A BigPanda user id for role members.
const BIGPANDA_USER: &str = "60c5238222fa63633d935555";

/// A published window: at most `requests` in any `seconds`.
#[derive(Clone, Copy, Debug)]
pub struct Published {
    pub requests: u32,
    pub seconds: u64,
}

/// The product's published rate limits per credential, for writes (what every product's
/// documentation limits at least). Empty: the product publishes no numbers.
///
/// - Statsig: about 100 mutations per 10 s and 900 per 15 min per project (statsig.md, S2).
/// - ConfigCat, SlashID, Looker, BigPanda: no numbers published (429 only).
pub fn published(kind: ProviderKind) -> &'static [Published] {
    match kind {
        ProviderKind::Statsig => &[
            Published {
                requests: 100,
                seconds: 10,
            },
            Published {
                requests: 900,
                seconds: 900,
            },
        ],
        _ => &[],
    }
}

/// The faults a credential's simulator of `kind` runs with: the latency only (the published
/// limits are the simulators' own switch, see [`prepare`]).
pub fn sim_faults(latency_ms: u64) -> Faults {
    Faults {
        latency_ms,
        ..Default::default()
    }
}

/// Switches the limits and latency on in one credential's simulators and creates what the
/// manifests refer to (ConfigCat's product and environments).
pub fn prepare(sim: &Simulator, latency_ms: u64) {
    for &kind in ProviderKind::ALL {
        sim.traffic(kind).set_faults(sim_faults(latency_ms));
        // Each simulator enforces its product's published windows (`roleplane sim
        // --published-limits`), as its contract states them.
        sim.traffic(kind).set_published_limits(true);
    }
    let cc = &sim.configcat;
    cc.add_product_with_id(CONFIGCAT_PRODUCT, "Bench");
    for (id, name) in [(CONFIGCAT_TEST, "Test"), (CONFIGCAT_PROD, "Production")] {
        assert!(cc.add_environment_with_id(CONFIGCAT_PRODUCT, id, name));
    }
}

/// The Secret data and extra ProviderConfig spec of `kind`'s account in the simulators
/// (their default credentials).
pub fn account(kind: ProviderKind) -> (&'static [(&'static str, &'static str)], Value) {
    match kind {
        ProviderKind::Statsig => (&[("apiKey", "console-sim-key")], json!({})),
        ProviderKind::SlashId => (
            &[("apiKey", "sim-slashid-key")],
            json!({"slashid": {"orgId": "sim-org"}}),
        ),
        ProviderKind::Looker => (
            &[
                ("clientId", "sim-client-id"),
                ("clientSecret", "sim-client-secret"),
            ],
            json!({}),
        ),
        ProviderKind::BigPanda => (
            &[("apiKey", "sim-bigpanda-key")],
            json!({"bigpanda": {"region": "us"}}),
        ),
        ProviderKind::ConfigCat => (
            &[("username", "sim-user"), ("password", "sim-password")],
            json!({}),
        ),
    }
}

/// Kind (`Role` or `PermissionGroup`) and spec of resource `name` of `kind`: what the
/// conformance fixtures create (Looker: an inline permission set and model set, so three
/// writes per role).
pub fn manifest(kind: ProviderKind, name: &str) -> (&'static str, Value) {
    let config = json!({"name": kind.as_str()});
    match kind {
        ProviderKind::Statsig => (
            "Role",
            json!({"providerConfigRef": config, "name": name,
                "statsig": {"permissions": {"createConfigs": true, "launchToProduction": false}}}),
        ),
        ProviderKind::SlashId => (
            "Role",
            json!({"providerConfigRef": config, "name": name,
                "slashid": {"description": "Bench role", "permissions": ["billing.read"]}}),
        ),
        ProviderKind::Looker => (
            "Role",
            json!({"providerConfigRef": config, "name": name,
                "looker": {"permissionSet": {"permissions": ["access_data", "see_looks"]},
                           "modelSet": {"models": ["thelook"]}}}),
        ),
        ProviderKind::BigPanda => (
            "Role",
            json!({"providerConfigRef": config, "name": name,
                "bigpanda": {"users": [BIGPANDA_USER],
                             "permissions": [{"resourceType": "users", "actions": ["read"]}]}}),
        ),
        ProviderKind::ConfigCat => (
            "PermissionGroup",
            json!({"providerConfigRef": config, "name": name, "productId": CONFIGCAT_PRODUCT,
                "accessType": "custom", "canCreateOrUpdateConfig": true,
                "environmentAccesses": [
                    {"environmentId": CONFIGCAT_TEST, "environmentAccessType": "full"},
                    {"environmentId": CONFIGCAT_PROD, "environmentAccessType": "readOnly"}]}),
        ),
    }
}

/// The fewest calls one poll of `objects` objects of `kind` under one credential can make, from
/// the contracts: the listing's pages (Statsig `limit` 100, BigPanda `per_page` 100, Looker
/// `/roles/search` `limit` 100; ConfigCat lists unpaged), and for SlashID, whose listing has
/// names only, one list plus one read per object.
pub fn poll_floor(kind: ProviderKind, objects: usize) -> usize {
    let pages = |size: usize| objects.div_ceil(size).max(1);
    match kind {
        ProviderKind::Statsig | ProviderKind::BigPanda | ProviderKind::Looker => pages(100),
        ProviderKind::ConfigCat => 1,
        ProviderKind::SlashId => 1 + objects,
    }
}

/// Writes one create costs at least (Looker: permission set, model set, role).
pub fn writes_per_create(kind: ProviderKind) -> usize {
    match kind {
        ProviderKind::Looker => 3,
        _ => 1,
    }
}

/// Lower bound on the time `writes` writes under one credential take within `kind`'s published
/// windows, plus one round trip: a window admits `requests` at once, then `requests` more each
/// `seconds`.
pub fn lower_bound_seconds(kind: ProviderKind, writes: usize, latency_ms: u64) -> f64 {
    let round_trip = latency_ms as f64 / 1000.0;
    let windows = published(kind).iter().map(|w| {
        let batches = writes.div_ceil(w.requests as usize).max(1) - 1;
        (batches as u64 * w.seconds) as f64
    });
    windows.fold(0.0, f64::max) + round_trip
}
