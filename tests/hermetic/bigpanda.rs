//! BigPanda provider against the in-process simulator (US `/bigpanda`, EU `/bigpanda-eu`). Every
//! POST/PUT body the provider sent is validated against `tests/openapi/bigpanda-roles.schema.json`.
//! Controller scenarios are in `bigpanda/scenarios.rs`.

mod scenarios;

use crate::harness::test_providers;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use roleplane::crd::{
    BigPandaAction, BigPandaPermission, BigPandaRegion, BigPandaRole, BigPandaSettings,
    ProviderKind, ProviderSettings,
};
use roleplane::providers::{Account, Credentials, ErrorClass, Providers, Spec, Target};
use roleplane::sim::bigpanda::{BigPandaSim, RoleInput, Settings, SimPermission};
use roleplane::sim::{Faults, RateLimit, RecordedRequest, SimCredentials, Simulator};
use serde_json::{Value, json};

const US_KEY: &str = "sim-bigpanda-key";
const EU_KEY: &str = "sim-bigpanda-eu-key";
const ALICE: &str = "60c5238222fa63633d935555";
const BOB: &str = "5555238222fa63633d93560c";
const ENV: &str = "624e114fb4d7581100179111";

struct Fixture {
    sim: Simulator,
    base: String,
    providers: Providers,
}

async fn fixture() -> Fixture {
    let (sim, base) = Simulator::start(SimCredentials::default())
        .await
        .expect("simulator starts");
    Fixture {
        sim,
        base,
        providers: test_providers(),
    }
}

impl Fixture {
    /// An account on `prefix` (`/bigpanda` or `/bigpanda-eu`) with `key`, as the controller
    /// builds it from a ProviderConfig whose `endpoint` points at the simulator.
    fn account(&self, region: BigPandaRegion, prefix: &str, key: &str) -> Account {
        Account {
            provider: ProviderKind::BigPanda,
            base_url: format!("{}{prefix}", self.base),
            settings: ProviderSettings {
                bigpanda: Some(BigPandaSettings { region }),
                ..Default::default()
            },
            credentials: Credentials::new([("apiKey".to_string(), key.to_string())]),
            key: format!("bigpanda{prefix}/{}", &key[..8]),
        }
    }

    fn us(&self) -> Account {
        self.account(BigPandaRegion::Us, "/bigpanda", US_KEY)
    }

    fn eu(&self) -> Account {
        self.account(BigPandaRegion::Eu, "/bigpanda-eu", EU_KEY)
    }

    fn us_sim(&self) -> &BigPandaSim {
        &self.sim.bigpanda
    }

    fn requests(&self) -> Vec<RecordedRequest> {
        self.sim.traffic(ProviderKind::BigPanda).requests()
    }
}

fn perm(t: &str, id: Option<&str>, actions: &[BigPandaAction]) -> BigPandaPermission {
    BigPandaPermission {
        resource_type: t.into(),
        resource_id: id.map(str::to_string),
        actions: actions.to_vec(),
    }
}

fn ops_role() -> BigPandaRole {
    BigPandaRole {
        users: Some(vec![ALICE.into()]),
        permissions: vec![
            perm("users", None, &[BigPandaAction::Read]),
            perm(
                "roles",
                None,
                &[BigPandaAction::Read, BigPandaAction::FullAccess],
            ),
        ],
    }
}

fn target<'a>(name: &'a str, role: &'a BigPandaRole) -> Target<'a> {
    Target {
        name,
        spec: Spec::BigPanda(role),
    }
}

fn sim_actions(sim: &BigPandaSim, id: &str) -> Vec<(String, Option<String>, Vec<String>)> {
    let mut out: Vec<_> = sim
        .role(id)
        .expect("role exists in the simulator")
        .permissions
        .into_iter()
        .map(|p| {
            let mut a = p.actions;
            a.sort();
            (p.resource_type, p.resource_id, a)
        })
        .collect();
    out.sort();
    out
}

/// Validates every recorded create/replace body against the hand-written schema, and checks
/// the wire choices the schema leaves open (actions sent as arrays, never as strings).
fn assert_bodies(requests: &[RecordedRequest]) {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/openapi/bigpanda-roles.schema.json");
    let schema: Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("schema file")).unwrap();
    let validator = jsonschema::validator_for(&schema).expect("schema compiles");
    let mut checked = 0;
    for r in requests {
        let writes_role = (r.method == "POST" && r.path == "/resources/v2.1/roles")
            || (r.method == "PUT" && r.path.starts_with("/resources/v2.1/roles/"));
        if !writes_role {
            continue;
        }
        let body = r.body.as_ref().expect("role writes carry a JSON body");
        let errors: Vec<String> = validator
            .iter_errors(body)
            .map(|e| format!("{e} at {}", e.instance_path()))
            .collect();
        assert!(
            errors.is_empty(),
            "{} {} body rejected by bigpanda-roles.schema.json: {}\nbody: {body}",
            r.method,
            r.path,
            errors.join("; ")
        );
        for p in body["permissions"].as_array().unwrap() {
            assert!(
                p["actions"].is_array(),
                "actions must be sent as an array: {body}"
            );
        }
        checked += 1;
    }
    assert!(checked > 0, "no role bodies were checked");
}

#[test]
fn schema_accepts_the_seed_body_and_rejects_system_fields_and_misplaced_ids() {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/openapi/bigpanda-roles.schema.json");
    let schema: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let v = jsonschema::validator_for(&schema).unwrap();
    let seed = json!({"name": "Test Role", "users": [ALICE], "permissions": [
        {"resource_type": "environments", "resource_id": ENV, "actions": "read"},
        {"resource_type": "users", "actions": "read"}]});
    assert!(v.is_valid(&seed));
    assert!(v.is_valid(&json!({"name": "r", "permissions": [
        {"resource_type": "environments", "resource_id": ENV, "actions": ["read", "incident_actions"]}]})));
    for bad in [
        json!({"name": "r", "id": "x", "permissions": [{"resource_type": "users", "actions": ["read"]}]}),
        json!({"name": "r", "permissions": [{"resource_type": "users", "resource_id": ENV, "actions": ["read"]}]}),
        json!({"name": "r", "permissions": [{"resource_type": "users", "actions": ["incident_actions"]}]}),
        json!({"name": "r", "users": ["bob"], "permissions": [{"resource_type": "users", "actions": ["read"]}]}),
        json!({"name": "r", "permissions": [{"resource_type": "users", "actions": ["write"]}]}),
        json!({"name": "r", "permissions": []}),
        json!({"permissions": [{"resource_type": "users", "actions": ["read"]}]}),
    ] {
        assert!(!v.is_valid(&bad), "schema should reject {bad}");
    }
}

#[tokio::test]
async fn create_observe_update_list_delete_round_trip() {
    let f = fixture().await;
    let us = f.us();
    let mut role = ops_role();
    let t = target("Ops", &role);
    f.providers.validate(&t).unwrap();
    f.providers.check_access(&us).await.unwrap();

    let id = f.providers.create(&us, &t).await.unwrap();
    assert!(
        id.len() == 24 && id.bytes().all(|b| b.is_ascii_hexdigit()),
        "{id}"
    );
    let stored = f.us_sim().role(&id).unwrap();
    assert_eq!(stored.name, "Ops");
    assert_eq!(stored.users, vec![ALICE]);
    let seen = f.providers.observe(&us, &t, &id).await.unwrap().unwrap();
    assert_eq!(seen.external_id, id);
    assert!(seen.drift.is_empty(), "{:?}", seen.drift);
    assert_eq!(seen.summary, "1 users, 2 permissions");

    // Add a user, drop one permission, change another.
    role.users = Some(vec![ALICE.into(), BOB.into()]);
    role.permissions = vec![perm("users", None, &[BigPandaAction::FullAccess])];
    let t = target("Ops", &role);
    let before = f.providers.observe(&us, &t, &id).await.unwrap().unwrap();
    assert_eq!(
        before.drift,
        vec![
            "bigpanda.users",
            "bigpanda.permissions[roles]",
            "bigpanda.permissions[users]"
        ]
    );
    f.providers.update(&us, &t, &id).await.unwrap();
    let mut users = f.us_sim().role(&id).unwrap().users;
    users.sort();
    assert_eq!(users, vec![BOB, ALICE]);
    assert_eq!(
        sim_actions(f.us_sim(), &id),
        vec![("users".into(), None, vec!["full_access".into()])]
    );
    assert!(
        f.providers
            .observe(&us, &t, &id)
            .await
            .unwrap()
            .unwrap()
            .drift
            .is_empty()
    );

    // Remove a user again.
    role.users = Some(vec![BOB.into()]);
    let t = target("Ops", &role);
    f.providers.update(&us, &t, &id).await.unwrap();
    assert_eq!(f.us_sim().role(&id).unwrap().users, vec![BOB]);

    let listed = f.providers.list(&us, &t).await.unwrap();
    assert!(
        listed
            .iter()
            .any(|l| l.external_id == id && l.name == "Ops")
    );
    assert!(
        listed.iter().any(|l| l.name == "Admin"),
        "built-ins are listed"
    );

    f.providers.delete(&us, &t, &id).await.unwrap();
    assert!(f.us_sim().role(&id).is_none());
    f.providers
        .delete(&us, &t, &id)
        .await
        .expect("deleting an absent role is done");
    assert_eq!(f.providers.observe(&us, &t, &id).await.unwrap(), None);
    let statuses: Vec<(String, u16)> = f
        .requests()
        .iter()
        .filter(|r| r.method == "DELETE")
        .map(|r| (r.method.clone(), r.status))
        .collect();
    assert_eq!(
        statuses,
        vec![("DELETE".into(), 204), ("DELETE".into(), 404)]
    );
    assert_bodies(&f.requests());
}

#[tokio::test]
async fn out_of_band_edit_is_drift_and_update_puts_the_full_desired_state_back() {
    let f = fixture().await;
    let us = f.us();
    let role = ops_role();
    let t = target("Ops", &role);
    let id = f.providers.create(&us, &t).await.unwrap();

    // Someone edits the role in BigPanda (through the admin endpoint).
    let client = reqwest::Client::new();
    let status = client
        .patch(format!("{}/bigpanda/_admin/roles/{id}", f.base))
        .json(&json!({"users": [BOB], "permissions": [
            {"resource_type": "users", "actions": ["read"]},
            {"resource_type": "analytics", "actions": ["read"]}]}))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status.as_u16(), 204);

    let seen = f.providers.observe(&us, &t, &id).await.unwrap().unwrap();
    assert_eq!(
        seen.drift,
        vec![
            "bigpanda.users",
            "bigpanda.permissions[analytics]",
            "bigpanda.permissions[roles]"
        ]
    );
    f.providers.update(&us, &t, &id).await.unwrap();
    assert!(
        f.providers
            .observe(&us, &t, &id)
            .await
            .unwrap()
            .unwrap()
            .drift
            .is_empty()
    );
    let put = f
        .requests()
        .into_iter()
        .find(|r| r.method == "PUT")
        .unwrap();
    assert_eq!(
        put.body.unwrap(),
        json!({"name": "Ops", "users": [ALICE], "permissions": [
            {"resource_type": "roles", "actions": ["full_access", "read"]},
            {"resource_type": "users", "actions": ["read"]}]}),
        "PUT carries everything the manifest manages"
    );
    assert_bodies(&f.requests());
}

#[tokio::test]
async fn string_form_actions_and_wrapped_bodies_are_read_without_drift() {
    let f = fixture().await;
    let us = f.us();
    let role = ops_role();
    let t = target("Ops", &role);
    let id = f.providers.create(&us, &t).await.unwrap();

    // The simulator answers single-action permissions with a bare string.
    let raw: Value = reqwest::Client::new()
        .get(format!("{}/bigpanda/resources/v2.1/roles/{id}", f.base))
        .bearer_auth(US_KEY)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let users_perm = raw["permissions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["resource_type"] == "users")
        .unwrap();
    assert_eq!(users_perm["actions"], json!("read"));
    assert!(
        f.providers
            .observe(&us, &t, &id)
            .await
            .unwrap()
            .unwrap()
            .drift
            .is_empty()
    );

    // Same answers wrapped in {status, data}.
    f.us_sim().set_settings(Settings {
        wrap_responses: true,
        ..Settings::default()
    });
    assert!(
        f.providers
            .observe(&us, &t, &id)
            .await
            .unwrap()
            .unwrap()
            .drift
            .is_empty()
    );
    let listed = f.providers.list(&us, &t).await.unwrap();
    assert!(listed.iter().any(|l| l.external_id == id));
    let second = BigPandaRole {
        users: None,
        ..ops_role()
    };
    let id2 = f
        .providers
        .create(&us, &target("Ops 2", &second))
        .await
        .unwrap();
    assert_eq!(f.us_sim().role(&id2).unwrap().name, "Ops 2");
}

#[tokio::test]
async fn environment_scoped_permission_round_trips_with_its_resource_id() {
    let f = fixture().await;
    let us = f.us();
    let role = BigPandaRole {
        users: Some(vec![]),
        permissions: vec![
            perm(
                "environments",
                Some(ENV),
                &[BigPandaAction::Read, BigPandaAction::IncidentActions],
            ),
            perm("environments", None, &[BigPandaAction::Read]),
        ],
    };
    let t = target("Env readers", &role);
    let id = f.providers.create(&us, &t).await.unwrap();
    assert_eq!(
        sim_actions(f.us_sim(), &id),
        vec![
            ("environments".into(), None, vec!["read".into()]),
            (
                "environments".into(),
                Some(ENV.into()),
                vec!["incident_actions".into(), "read".into()]
            ),
        ]
    );
    assert!(
        f.providers
            .observe(&us, &t, &id)
            .await
            .unwrap()
            .unwrap()
            .drift
            .is_empty()
    );

    // Moving the grant to another environment is drift on that key.
    let other = "624e114fb4d7581100179999";
    f.us_sim().edit_role(&id, |r| {
        for p in &mut r.permissions {
            if p.resource_id.as_deref() == Some(ENV) {
                p.resource_id = Some(other.into());
            }
        }
    });
    let seen = f.providers.observe(&us, &t, &id).await.unwrap().unwrap();
    assert_eq!(
        seen.drift,
        vec![
            format!("bigpanda.permissions[environments/{ENV}]"),
            format!("bigpanda.permissions[environments/{other}]"),
        ]
    );
    f.providers.update(&us, &t, &id).await.unwrap();
    assert!(
        f.providers
            .observe(&us, &t, &id)
            .await
            .unwrap()
            .unwrap()
            .drift
            .is_empty()
    );
    assert_bodies(&f.requests());
}

#[tokio::test]
async fn members_are_kept_when_the_manifest_does_not_manage_users() {
    let f = fixture().await;
    let us = f.us();
    let mut role = BigPandaRole {
        users: None,
        ..ops_role()
    };
    let id = f
        .providers
        .create(&us, &target("Ops", &role))
        .await
        .unwrap();
    assert!(f.us_sim().role(&id).unwrap().users.is_empty());
    f.us_sim()
        .edit_role(&id, |r| r.users = vec![ALICE.into(), BOB.into()]);

    role.permissions = vec![perm("users", None, &[BigPandaAction::Read])];
    let t = target("Ops", &role);
    let seen = f.providers.observe(&us, &t, &id).await.unwrap().unwrap();
    assert_eq!(seen.drift, vec!["bigpanda.permissions[roles]"]);
    f.providers.update(&us, &t, &id).await.unwrap();
    assert_eq!(f.us_sim().role(&id).unwrap().users, vec![ALICE, BOB]);
    assert_bodies(&f.requests());
}

#[tokio::test]
async fn renaming_puts_the_new_name_and_a_taken_name_is_already_exists() {
    let f = fixture().await;
    let us = f.us();
    let role = ops_role();
    let id = f
        .providers
        .create(&us, &target("Ops", &role))
        .await
        .unwrap();
    let t = target("Operations", &role);
    assert_eq!(
        f.providers
            .observe(&us, &t, &id)
            .await
            .unwrap()
            .unwrap()
            .drift,
        vec!["name"]
    );
    f.providers.update(&us, &t, &id).await.unwrap();
    assert_eq!(f.us_sim().role(&id).unwrap().name, "Operations");

    let err = f
        .providers
        .update(&us, &target("Admin", &role), &id)
        .await
        .unwrap_err();
    assert_eq!(err.class(), ErrorClass::AlreadyExists, "{err}");
}

#[tokio::test]
async fn duplicate_name_on_create_is_already_exists_whatever_the_status() {
    let f = fixture().await;
    let us = f.us();
    let role = ops_role();
    let t = target("Ops", &role);
    f.providers.create(&us, &t).await.unwrap();
    for status in [409, 400] {
        f.us_sim().set_settings(Settings {
            duplicate_status: status,
            ..Settings::default()
        });
        let err = f.providers.create(&us, &t).await.unwrap_err();
        assert_eq!(err.class(), ErrorClass::AlreadyExists, "{err}");
        assert!(err.to_string().contains(&format!("HTTP {status}")), "{err}");
    }
    assert_eq!(f.us_sim().roles_named("Ops").len(), 1);
    // A 400 for another reason stays a rejection.
    let bad = BigPandaRole {
        users: Some(vec!["bob".into()]),
        ..ops_role()
    };
    let err = f
        .providers
        .create(&us, &target("Other", &bad))
        .await
        .unwrap_err();
    assert_eq!(err.class(), ErrorClass::ProviderRejected, "{err}");
    assert!(err.to_string().contains("users[0]"), "{err}");
}

#[tokio::test]
async fn listing_pages_through_every_role() {
    let f = fixture().await;
    let us = f.us();
    for i in 0..230 {
        f.us_sim().insert_role(RoleInput {
            name: format!("role {i:03}"),
            users: vec![],
            permissions: vec![SimPermission::new("users", None, &["read"])],
        });
    }
    let role = ops_role();
    let listed = f.providers.list(&us, &target("x", &role)).await.unwrap();
    assert_eq!(listed.len(), 232, "230 roles plus Admin and User");
    let ids: std::collections::BTreeSet<_> = listed.iter().map(|l| &l.external_id).collect();
    assert_eq!(ids.len(), 232);
    let pages: Vec<String> = f
        .requests()
        .into_iter()
        .filter(|r| r.method == "GET")
        .filter_map(|r| r.query)
        .collect();
    assert_eq!(
        pages,
        vec![
            "page=1&per_page=100",
            "page=2&per_page=100",
            "page=3&per_page=100"
        ]
    );
}

#[tokio::test]
async fn built_in_roles_are_observed_but_never_written() {
    let f = fixture().await;
    let us = f.us();
    let role = ops_role();
    let admin = f.us_sim().roles_named("Admin").remove(0);
    let t = target("Admin", &role);
    let seen = f
        .providers
        .observe(&us, &t, &admin.id)
        .await
        .unwrap()
        .unwrap();
    assert!(
        !seen.drift.is_empty(),
        "observe-only may report drift on Admin"
    );

    let err = f.providers.update(&us, &t, &admin.id).await.unwrap_err();
    assert_eq!(err.class(), ErrorClass::InvalidSpec, "{err}");
    assert!(
        f.requests().iter().all(|r| r.method != "PUT"),
        "no PUT is sent"
    );

    let err = f.providers.delete(&us, &t, &admin.id).await.unwrap_err();
    assert_eq!(err.class(), ErrorClass::InvalidSpec, "{err}");
    assert!(err.to_string().contains("deletionPolicy: Orphan"), "{err}");
    assert!(f.us_sim().role(&admin.id).is_some());
    // The simulator itself refuses, too.
    let status = reqwest::Client::new()
        .put(format!("{}/bigpanda/resources/v2.1/roles/{}", f.base, admin.id))
        .bearer_auth(US_KEY)
        .json(&json!({"name": "Admin", "permissions": [{"resource_type": "users", "actions": "read"}]}))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status.as_u16(), 403);
}

#[tokio::test]
async fn wrong_key_is_credentials_rejected_without_the_key_in_the_message() {
    let f = fixture().await;
    let secret = "bp-user-key-0123456789abcdef";
    let bad = f.account(BigPandaRegion::Us, "/bigpanda", secret);
    let role = ops_role();
    let err = f.providers.check_access(&bad).await.unwrap_err();
    assert_eq!(err.class(), ErrorClass::CredentialsRejected);
    let err = f
        .providers
        .create(&bad, &target("Ops", &role))
        .await
        .unwrap_err();
    assert_eq!(err.class(), ErrorClass::CredentialsRejected);
    let text = err.to_string();
    assert!(text.contains("bigpanda create role: HTTP 401"), "{text}");
    assert!(
        !text.contains(secret) && !text.contains(&secret[..8]),
        "{text}"
    );
    assert!(f.us_sim().roles_named("Ops").is_empty());
}

#[tokio::test]
async fn regions_have_separate_state_and_a_key_works_only_in_its_own_region() {
    let f = fixture().await;
    let (us, eu) = (f.us(), f.eu());
    let role = ops_role();
    let t = target("Ops", &role);
    let us_id = f.providers.create(&us, &t).await.unwrap();
    let eu_id = f.providers.create(&eu, &t).await.unwrap();
    assert_ne!(us_id, eu_id);
    assert!(f.sim.bigpanda_eu.role(&eu_id).is_some());
    assert!(f.sim.bigpanda_eu.role(&us_id).is_none());
    assert_eq!(f.providers.observe(&eu, &t, &us_id).await.unwrap(), None);

    // A US key sent to the EU host (region: eu, US key in the Secret).
    let wrong = f.account(BigPandaRegion::Eu, "/bigpanda-eu", US_KEY);
    let err = f.providers.observe(&wrong, &t, &eu_id).await.unwrap_err();
    assert_eq!(err.class(), ErrorClass::CredentialsRejected);
    let text = err.to_string();
    assert!(
        text.contains("HTTP 401") && text.contains("region"),
        "{text}"
    );
    assert!(!text.contains(US_KEY), "{text}");
    let err = f.providers.check_access(&wrong).await.unwrap_err();
    assert_eq!(err.class(), ErrorClass::CredentialsRejected);
    assert_bodies(&f.sim.bigpanda_eu.traffic.requests());
}

#[tokio::test]
async fn rate_limited_requests_wait_for_retry_after() {
    let f = fixture().await;
    let us = f.us();
    f.sim.traffic(ProviderKind::BigPanda).set_faults(Faults {
        rate_limit: Some(RateLimit {
            requests: 1,
            window_seconds: 1,
            retry_after_seconds: Some(1),
        }),
        ..Faults::default()
    });
    let role = ops_role();
    let t = target("Ops", &role);
    let started = Instant::now();
    let id = f.providers.create(&us, &t).await.unwrap();
    let seen = f.providers.observe(&us, &t, &id).await.unwrap().unwrap();
    assert!(seen.drift.is_empty());
    assert!(started.elapsed() >= Duration::from_millis(900));
    let statuses: Vec<u16> = f.requests().iter().map(|r| r.status).collect();
    assert!(statuses.contains(&429), "{statuses:?}");
    assert_eq!(statuses.last(), Some(&200));
}

#[tokio::test]
async fn server_errors_are_provider_unavailable_and_not_found_updates_say_so() {
    let f = fixture().await;
    let us = f.us();
    let role = ops_role();
    let t = target("Ops", &role);
    f.sim.traffic(ProviderKind::BigPanda).set_faults(Faults {
        fail_next: [503].into(),
        ..Faults::default()
    });
    let err = f.providers.create(&us, &t).await.unwrap_err();
    assert_eq!(err.class(), ErrorClass::ProviderUnavailable);
    assert!(err.to_string().contains("HTTP 503"), "{err}");

    let err = f
        .providers
        .update(&us, &t, "0123456789abcdef01234567")
        .await
        .unwrap_err();
    assert!(err.is_not_found(), "{err}");
}

/// The documents of `deploy/examples/<file>`.
fn example(file: &str) -> Vec<Value> {
    use serde::Deserialize;
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("deploy/examples")
        .join(file);
    let text = std::fs::read_to_string(&path).unwrap();
    serde_yaml_ng::Deserializer::from_str(&text)
        .map(|doc| Value::deserialize(doc).unwrap())
        .collect()
}

#[tokio::test]
async fn example_manifests_work_against_the_simulator_in_both_regions() {
    use roleplane::crd::{ManagementPolicy, ProviderConfig, Role};
    let f = fixture().await;
    let defaults = SimCredentials::default();
    for (file, prefix, key, region, real) in [
        (
            "bigpanda-us.yaml",
            "/bigpanda",
            defaults.bigpanda_api_key.as_str(),
            BigPandaRegion::Us,
            "https://api.bigpanda.io",
        ),
        (
            "bigpanda-eu.yaml",
            "/bigpanda-eu",
            defaults.bigpanda_eu_api_key.as_str(),
            BigPandaRegion::Eu,
            "https://eu-api.bigpanda.io",
        ),
    ] {
        let docs = example(file);
        let secret = docs.iter().find(|d| d["kind"] == "Secret").unwrap();
        assert_eq!(secret["stringData"]["apiKey"], json!(key), "{file}");
        let config: ProviderConfig = serde_json::from_value(
            docs.iter()
                .find(|d| d["kind"] == "ProviderConfig")
                .unwrap()
                .clone(),
        )
        .unwrap();
        let settings = &config.spec.settings;
        assert_eq!(
            settings.endpoint.as_deref(),
            Some(format!("http://127.0.0.1:8090{prefix}").as_str())
        );
        assert_eq!(settings.bigpanda.as_ref().unwrap().region, region);
        let without_endpoint = ProviderSettings {
            endpoint: None,
            ..settings.clone()
        };
        assert_eq!(
            Providers::default_base_url(ProviderKind::BigPanda, &without_endpoint).as_deref(),
            Some(real)
        );

        let account = f.account(region, prefix, key);
        for doc in docs.iter().filter(|d| d["kind"] == "Role") {
            let role: Role = serde_json::from_value(doc.clone()).unwrap();
            let block = role.spec.bigpanda.as_ref().unwrap();
            let t = target(&role.spec.managed.name, block);
            f.providers.validate(&t).unwrap();
            let id = match &role.spec.managed.external_id {
                Some(id) => id.clone(),
                None => f.providers.create(&account, &t).await.unwrap(),
            };
            let seen = f.providers.observe(&account, &t, &id).await.unwrap();
            let seen = seen.unwrap_or_else(|| panic!("{file}: {id} exists"));
            assert!(seen.drift.is_empty(), "{file}: {:?}", seen.drift);
            if role.spec.managed.management_policy == ManagementPolicy::ObserveOnly {
                assert_eq!(role.spec.managed.name, "Admin");
            }
        }
    }
    assert_bodies(&f.requests());
    assert_bodies(&f.sim.bigpanda_eu.traffic.requests());
}
