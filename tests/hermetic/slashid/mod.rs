//! SlashID: the provider against its simulator (`provider`), and roles through the real
//! controller loop (`scenarios`).

mod provider;
mod scenarios;

use roleplane::sim::RecordedRequest;
use serde_json::json;

use crate::openapi::OpenApi;

/// Checks every recorded body against SlashID's OpenAPI description. `RoleName`'s pattern has
/// no `/` although the same schema says names carry an `{orgId}/` prefix that does not count:
/// the pattern applies to the part after the prefix, so the prefix is checked here and removed
/// before validation.
pub fn assert_bodies(mut requests: Vec<RecordedRequest>) {
    for r in &mut requests {
        if r.method == "POST" && r.path == "/rbac/roles" && (200..300).contains(&r.status) {
            let body = r.body.as_mut().expect("create role has a body");
            let name = body["name"].as_str().expect("name is a string");
            let short = name
                .strip_prefix("sim-org/")
                .unwrap_or_else(|| panic!("role name {name} lacks the sim-org/ prefix"));
            body["name"] = json!(short);
        }
    }
    OpenApi::load("slashid.yaml").assert_bodies(&requests, "");
}
