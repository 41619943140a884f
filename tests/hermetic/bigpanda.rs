//! BigPanda only: what the conformance suite (one US role) does not show. The two regions, the
//! full-replace PUT (members kept when `users` is not managed, environment grants), the forms
//! BigPanda's answers take, names (rename, a taken name whatever the status), paging, built-in
//! roles, the example manifests, and request bodies valid against
//! `tests/openapi/bigpanda-roles.schema.json` (BigPanda publishes no OpenAPI description).

use std::collections::BTreeSet;

use roleplane::crd::{BigPandaRole, ProviderConfig, Role};
use roleplane::providers::bigpanda::BigPanda;
use roleplane::providers::bigpanda::sim::{self, BigPandaSim, RoleInput, Settings, SimPermission};
use roleplane::providers::{Account, Credentials, Desired, ErrorClass, Provider, Simulator};
use roleplane::sim::RecordedRequest;
use serde_json::{Value, json};

use crate::harness::*;

const US_KEY: &str = "sim-bigpanda-key";
const EU_KEY: &str = "sim-bigpanda-eu-key";
const ALICE: &str = "60c5238222fa63633d935555";
const BOB: &str = "5555238222fa63633d93560c";
const ENV: &str = "624e114fb4d7581100179111";
const OTHER_ENV: &str = "624e114fb4d7581100179999";

/// Secret `<config>-creds` holding `key`, and ProviderConfig `config` for `region` at the
/// simulator's prefix of that region.
async fn account(env: &Env, config: &str, region: &str, key: &str) {
    let secret = format!("{config}-creds");
    env.secret(NS, &secret, &[("apiKey", key)]).await;
    let prefix = if region == "eu" {
        "bigpanda-eu"
    } else {
        "bigpanda"
    };
    let extra = json!({"bigpanda": {"region": region}, "endpoint": env.endpoint(prefix)});
    env.provider_config(NS, config, "bigpanda", &secret, extra)
        .await;
}

/// A role `name` through `config`: Alice, and read access to users and roles.
fn spec(config: &str, name: &str) -> Value {
    json!({
        "providerConfigRef": {"name": config},
        "name": name,
        "bigpanda": {
            "users": [ALICE],
            "permissions": [
                {"resourceType": "users", "actions": ["read"]},
                {"resourceType": "roles", "actions": ["read"]},
            ],
        },
    })
}

fn us(env: &Env) -> &BigPandaSim {
    &env.sim.bigpanda.us
}

fn eu(env: &Env) -> &BigPandaSim {
    &env.sim.bigpanda.eu
}

fn external_id(role: &Role) -> String {
    role.status
        .as_ref()
        .and_then(|s| s.external_id.clone())
        .expect("externalId in status")
}

fn ids(roles: Vec<sim::SimRole>) -> Vec<String> {
    roles.into_iter().map(|r| r.id).collect()
}

fn users(sim: &BigPandaSim, id: &str) -> BTreeSet<String> {
    sim.role(id).expect("role").users.into_iter().collect()
}

/// (resource_type, resource_id, actions) of each permission, order-free.
fn permissions(
    sim: &BigPandaSim,
    id: &str,
) -> BTreeSet<(String, Option<String>, BTreeSet<String>)> {
    let role = sim.role(id).expect("role");
    role.permissions
        .into_iter()
        .map(|p| {
            (
                p.resource_type,
                p.resource_id,
                p.actions.into_iter().collect(),
            )
        })
        .collect()
}

fn grant(
    t: &str,
    id: Option<&str>,
    actions: &[&str],
) -> (String, Option<String>, BTreeSet<String>) {
    let actions = actions.iter().map(|a| a.to_string()).collect();
    (t.to_string(), id.map(str::to_string), actions)
}

fn generation_ready(generation: i64) -> impl Fn(&roleplane::crd::ManagedStatus) -> bool {
    move |s| s.observed_generation == Some(generation) && is_ready(s)
}

fn writes(sim: &BigPandaSim) -> Vec<(String, String, u16)> {
    sim.traffic
        .requests()
        .into_iter()
        .filter(|r| r.method != "GET")
        .map(|r| (r.method, r.path, r.status))
        .collect()
}

fn schema() -> jsonschema::Validator {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/openapi/bigpanda-roles.schema.json"
    );
    let schema: Value = serde_json::from_str(&std::fs::read_to_string(path).expect("schema"))
        .expect("schema is JSON");
    jsonschema::validator_for(&schema).expect("schema compiles")
}

/// Checks every create and replace body against the schema, and the choice the schema leaves
/// open (actions always sent as an array). Returns how many bodies were checked.
fn assert_bodies(requests: &[RecordedRequest]) -> usize {
    let validator = schema();
    let writes_role = |r: &&RecordedRequest| {
        (r.method == "POST" && r.path == "/resources/v2.1/roles")
            || (r.method == "PUT" && r.path.starts_with("/resources/v2.1/roles/"))
    };
    let mut checked = 0;
    for r in requests.iter().filter(writes_role) {
        let body = r.body.as_ref().expect("a JSON body");
        let errors: Vec<String> = validator.iter_errors(body).map(|e| e.to_string()).collect();
        assert!(
            errors.is_empty(),
            "{} {}: {errors:?}\n{body}",
            r.method,
            r.path
        );
        let permissions = body["permissions"].as_array().expect("permissions");
        assert!(
            permissions.iter().all(|p| p["actions"].is_array()),
            "{body}"
        );
        checked += 1;
    }
    checked
}

#[test]
fn schema_accepts_the_documented_bodies_and_rejects_the_rest() {
    let v = schema();
    let seed = json!({"name": "Test Role", "users": [ALICE], "permissions": [
        {"resource_type": "environments", "resource_id": ENV, "actions": "read"},
        {"resource_type": "users", "actions": ["read"]}]});
    assert!(v.is_valid(&seed));
    let read_users = json!([{"resource_type": "users", "actions": ["read"]}]);
    for bad in [
        json!({"name": "r", "id": "x", "permissions": read_users}),
        json!({"permissions": read_users}),
        json!({"name": "r", "users": ["bob"], "permissions": read_users}),
        json!({"name": "r", "permissions": []}),
        json!({"name": "r", "permissions": [{"resource_type": "users", "resource_id": ENV, "actions": ["read"]}]}),
        json!({"name": "r", "permissions": [{"resource_type": "users", "actions": ["incident_actions"]}]}),
        json!({"name": "r", "permissions": [{"resource_type": "users", "actions": ["write"]}]}),
    ] {
        assert!(!v.is_valid(&bad), "the schema should reject {bad}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_works_only_in_its_region_and_each_region_keeps_its_own_roles() {
    let env = Env::start_with(|c| c.poll_interval = NEVER).await;
    account(&env, "bigpanda", "us", US_KEY).await;
    // The US key in the EU region's Secret.
    account(&env, "bigpanda-eu", "eu", US_KEY).await;
    env.role(NS, "noc-us", spec("bigpanda", "NOC")).await;
    env.role(NS, "noc-eu", spec("bigpanda-eu", "NOC")).await;
    let us_id = external_id(&env.wait_role(NS, "noc-us", "Ready", is_ready).await);
    let rejected = env
        .wait_role(
            NS,
            "noc-eu",
            "CredentialsRejected",
            failed_with("CredentialsRejected"),
        )
        .await;
    let message = synced_message(&rejected);
    assert!(
        message.contains("HTTP 401") && message.contains("region"),
        "{message}"
    );
    let everything = format!("{:?}{:?}", rejected.status, env.events(NS, "noc-eu").await);
    assert!(!everything.contains(US_KEY), "the key leaked: {everything}");
    assert_eq!(
        writes(eu(&env)),
        vec![],
        "nothing is written with a rejected key"
    );

    // The EU key fixes it; the same name gives a second, separate role.
    env.secret(NS, "bigpanda-eu-creds", &[("apiKey", EU_KEY)])
        .await;
    let eu_id = external_id(&env.wait_role(NS, "noc-eu", "Ready", is_ready).await);
    assert_ne!(us_id, eu_id);
    assert_eq!(ids(us(&env).roles_named("NOC")), vec![us_id.clone()]);
    assert_eq!(ids(eu(&env).roles_named("NOC")), vec![eu_id.clone()]);
    assert!(us(&env).role(&eu_id).is_none() && eu(&env).role(&us_id).is_none());
    assert_eq!(assert_bodies(&eu(&env).traffic.requests()), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn member_and_permission_changes_replace_the_whole_role() {
    let env = Env::start_with(|c| c.poll_interval = NEVER).await;
    account(&env, "bigpanda", "us", US_KEY).await;
    let mut s = spec("bigpanda", "NOC");
    s["bigpanda"]["permissions"] = json!([
        {"resourceType": "users", "actions": ["read"]},
        {"resourceType": "environments", "resourceId": ENV, "actions": ["read", "incident_actions"]},
    ]);
    env.role(NS, "noc", s).await;
    let role = env.wait_role(NS, "noc", "Ready", is_ready).await;
    let id = external_id(&role);
    assert_eq!(
        permissions(us(&env), &id),
        BTreeSet::from([
            grant("users", None, &["read"]),
            grant("environments", Some(ENV), &["read", "incident_actions"]),
        ])
    );
    let observed = role.status.as_ref().and_then(|s| s.observed.clone());
    assert_eq!(observed.as_deref(), Some("1 users, 2 permissions"));

    env.patch_spec::<Role>(NS, "noc", json!({"bigpanda": {"users": [ALICE, BOB]}}))
        .await;
    env.wait_role(NS, "noc", "generation 2 Ready", generation_ready(2))
        .await;
    assert_eq!(
        users(us(&env), &id),
        BTreeSet::from([ALICE.into(), BOB.into()])
    );

    // Alice removed, the users grant dropped, the environment grant moved elsewhere.
    let moved = json!({"bigpanda": {"users": [BOB], "permissions": [
        {"resourceType": "environments", "resourceId": OTHER_ENV, "actions": ["read"]}]}});
    env.patch_spec::<Role>(NS, "noc", moved).await;
    env.wait_role(NS, "noc", "generation 3 Ready", generation_ready(3))
        .await;
    assert_eq!(users(us(&env), &id), BTreeSet::from([BOB.into()]));
    assert_eq!(
        permissions(us(&env), &id),
        BTreeSet::from([grant("environments", Some(OTHER_ENV), &["read"])])
    );
    let log = us(&env).traffic.requests();
    let puts: Vec<&RecordedRequest> = log.iter().filter(|r| r.method == "PUT").collect();
    assert_eq!(puts.len(), 2);
    assert_eq!(
        puts[1].body,
        Some(json!({"name": "NOC", "users": [BOB], "permissions": [
            {"resource_type": "environments", "resource_id": OTHER_ENV, "actions": ["read"]}]})),
        "the PUT carries the whole role"
    );
    assert_eq!(assert_bodies(&log), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_added_in_bigpanda_stay_when_users_are_not_managed() {
    let env = Env::start_with(|c| c.poll_interval = NEVER).await;
    account(&env, "bigpanda", "us", US_KEY).await;
    let mut s = spec("bigpanda", "NOC");
    s["bigpanda"]
        .as_object_mut()
        .expect("block")
        .remove("users");
    env.role(NS, "noc", s).await;
    let id = external_id(&env.wait_role(NS, "noc", "Ready", is_ready).await);
    us(&env).edit_role(&id, |r| r.users = vec![ALICE.into(), BOB.into()]);

    env.patch_spec::<Role>(
        NS,
        "noc",
        json!({"bigpanda": {"permissions": [{"resourceType": "users", "actions": ["read"]}]}}),
    )
    .await;
    env.wait_role(NS, "noc", "generation 2 Ready", generation_ready(2))
        .await;
    assert_eq!(
        permissions(us(&env), &id),
        BTreeSet::from([grant("users", None, &["read"])])
    );
    assert_eq!(
        users(us(&env), &id),
        BTreeSet::from([ALICE.into(), BOB.into()]),
        "the PUT kept the members"
    );
    let note = env.wait_event(NS, "noc", "Updated").await;
    assert!(
        note.ends_with(": bigpanda.permissions[roles]"),
        "members are not drift: {note}"
    );
    assert_eq!(assert_bodies(&us(&env).traffic.requests()), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrapped_answers_with_string_actions_are_read_without_drift() {
    let env = Env::start_with(|c| c.poll_interval = NEVER).await;
    account(&env, "bigpanda", "us", US_KEY).await;
    us(&env).set_settings(Settings {
        wrap_responses: true,
        ..Settings::default()
    });
    env.role(NS, "noc", spec("bigpanda", "NOC")).await;
    let id = external_id(&env.wait_role(NS, "noc", "Ready", is_ready).await);
    assert_eq!(
        writes(us(&env)),
        vec![("POST".into(), "/resources/v2.1/roles".into(), 201)],
        "the answered role matched: no PUT"
    );
    // What BigPanda answered: `{status, data}`, with single actions as strings.
    let answer: Value = reqwest::Client::new()
        .get(format!(
            "{}/resources/v2.1/roles/{id}",
            env.endpoint("bigpanda")
        ))
        .bearer_auth(US_KEY)
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("JSON");
    assert_eq!(answer["status"], 200);
    assert_eq!(answer["data"]["permissions"][0]["actions"], "read");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rename_puts_the_new_name_and_a_taken_name_is_already_exists() {
    let env = Env::start_with(|c| c.poll_interval = NEVER).await;
    account(&env, "bigpanda", "us", US_KEY).await;
    env.role(NS, "noc", spec("bigpanda", "NOC")).await;
    let id = external_id(&env.wait_role(NS, "noc", "Ready", is_ready).await);
    env.patch_spec::<Role>(NS, "noc", json!({"name": "Operations"}))
        .await;
    env.wait_role(NS, "noc", "generation 2 Ready", generation_ready(2))
        .await;
    assert_eq!(us(&env).role(&id).expect("role").name, "Operations");

    env.patch_spec::<Role>(NS, "noc", json!({"name": "User"}))
        .await;
    let role = env
        .wait_role(NS, "noc", "AlreadyExists", failed_with("AlreadyExists"))
        .await;
    assert!(
        synced_message(&role).contains("\"User\""),
        "{}",
        synced_message(&role)
    );
    assert_eq!(us(&env).role(&id).expect("role").name, "Operations");
    assert_eq!(us(&env).roles_named("User").len(), 1);
}

/// The provider alone against the US simulator, for what the controller never reaches in order
/// (a name taken between the listing and the write) or reaches only in bulk (paging).
async fn provider() -> (Simulator, BigPanda, Account) {
    let (sim, base) = Simulator::start(Default::default())
        .await
        .expect("simulator");
    let account = Account::of::<BigPanda>(
        format!("{base}/bigpanda"),
        Default::default(),
        Credentials::new([("apiKey".to_string(), US_KEY.to_string())]),
        "test",
    );
    (sim, BigPanda::new(test_providers().http), account)
}

fn role_spec(users: &[&str]) -> BigPandaRole {
    serde_json::from_value(json!({
        "users": users,
        "permissions": [{"resourceType": "users", "actions": ["read"]}],
    }))
    .expect("a bigpanda block")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_taken_name_is_already_exists_whether_bigpanda_answers_400_or_409() {
    let (sim, bigpanda, account) = provider().await;
    let spec = role_spec(&[ALICE]);
    let ops = Desired {
        name: "Ops",
        spec: &spec,
    };
    bigpanda.create(&account, ops).await.expect("created");
    let other = Desired {
        name: "Other",
        spec: &spec,
    };
    let other_role = bigpanda.create(&account, other).await.expect("created");
    for status in [400, 409] {
        sim.bigpanda.us.set_settings(Settings {
            duplicate_status: status,
            ..Settings::default()
        });
        let err = bigpanda.create(&account, ops).await.expect_err("taken");
        assert_eq!(err.class(), ErrorClass::AlreadyExists, "{status}: {err}");
        assert!(err.to_string().contains(&format!("HTTP {status}")), "{err}");
        let err = bigpanda
            .update(&account, ops, &other_role)
            .await
            .expect_err("taken");
        assert_eq!(
            err.class(),
            ErrorClass::AlreadyExists,
            "rename, {status}: {err}"
        );
    }
    assert_eq!(sim.bigpanda.us.roles_named("Ops").len(), 1);
    assert_eq!(sim.bigpanda.us.roles_named("Other").len(), 1);
    // A 400 for another reason stays BigPanda's rejection.
    let bad_spec = role_spec(&["bob"]);
    let bad = Desired {
        name: "Bad",
        spec: &bad_spec,
    };
    let err = bigpanda
        .create(&account, bad)
        .await
        .expect_err("bad user id");
    assert_eq!(err.class(), ErrorClass::ProviderRejected, "{err}");
    assert!(err.to_string().contains("users[0]"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listing_pages_through_every_role() {
    let (sim, bigpanda, account) = provider().await;
    for i in 0..230 {
        sim.bigpanda.us.insert_role(RoleInput {
            name: format!("role {i:03}"),
            users: vec![],
            permissions: vec![SimPermission::new("users", None, &["read"])],
        });
    }
    let listed = bigpanda.list(&account, "").await.expect("listed");
    let ids: BTreeSet<&str> = listed.iter().map(|l| l.id.as_str()).collect();
    assert_eq!(ids.len(), 232, "230 roles plus Admin and User");
    assert!(
        listed.iter().all(|l| l.object.is_some()),
        "the listing carries whole roles"
    );
    let pages: Vec<Option<String>> = sim
        .bigpanda
        .us
        .traffic
        .requests()
        .into_iter()
        .map(|r| r.query)
        .collect();
    assert_eq!(
        pages,
        [
            "page=1&per_page=100",
            "page=2&per_page=100",
            "page=3&per_page=100"
        ]
        .map(|q| Some(q.to_string()))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn built_in_roles_are_observed_but_never_written() {
    let env = Env::start_with(|c| c.poll_interval = NEVER).await;
    account(&env, "bigpanda-eu", "eu", EU_KEY).await;
    let admin = sim::built_in_id("eu", 0);
    let watch = json!({
        "providerConfigRef": {"name": "bigpanda-eu"},
        "name": "Admin",
        "externalId": admin,
        "managementPolicy": "ObserveOnly",
        "deletionPolicy": "Orphan",
        "bigpanda": {"permissions": [
            {"resourceType": "roles", "actions": ["full_access"]},
            {"resourceType": "users", "actions": ["full_access"]},
            {"resourceType": "environments", "actions": ["full_access"]}]},
    });
    env.role(NS, "admin-watch", watch.clone()).await;
    env.wait_role(NS, "admin-watch", "Ready", is_ready).await;

    // Managing it is refused before any write; deleting it is refused by BigPanda, and said so.
    let mut manage = watch;
    manage["managementPolicy"] = "Manage".into();
    manage["deletionPolicy"] = "Delete".into();
    manage["bigpanda"]["permissions"] = json!([{"resourceType": "roles", "actions": ["read"]}]);
    env.role(NS, "admin-manage", manage).await;
    let role = env
        .wait_role(
            NS,
            "admin-manage",
            "InvalidSpec",
            failed_with("InvalidSpec"),
        )
        .await;
    assert!(
        synced_message(&role).contains("built-in"),
        "{}",
        synced_message(&role)
    );
    assert_eq!(writes(eu(&env)), vec![]);
    env.delete::<Role>(NS, "admin-manage").await;
    let role = env
        .wait_role(NS, "admin-manage", "refused deletion", |s| {
            failed_with("InvalidSpec")(s)
                && condition(s, "Synced").is_some_and(|(_, _, m)| {
                    m.contains("delete role") && m.contains("deletionPolicy: Orphan")
                })
        })
        .await;
    assert!(role.metadata.deletion_timestamp.is_some());
    let path = format!("/resources/v2.1/roles/{admin}");
    assert_eq!(writes(eu(&env))[0], ("DELETE".into(), path, 403));
    assert_eq!(eu(&env).role(&admin).expect("Admin").permissions.len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interrupted_create_with_two_same_named_roles_is_ambiguous() {
    let env = Env::start_with(|c| c.poll_interval = NEVER).await;
    account(&env, "bigpanda", "us", US_KEY).await;
    for member in [ALICE, BOB] {
        us(&env).insert_role(RoleInput {
            name: "NOC".into(),
            users: vec![member.into()],
            permissions: vec![SimPermission::new("users", None, &["read"])],
        });
    }
    let annotations = json!({roleplane::crd::CREATE_PENDING_ANNOTATION: "2026-11-22T10:00:00Z"});
    env.apply::<Role>(
        NS,
        json!({"metadata": {"name": "noc", "annotations": annotations}, "spec": spec("bigpanda", "NOC")}),
    )
    .await;
    let role = env
        .wait_role(
            NS,
            "noc",
            "AmbiguousExternalObject",
            failed_with("AmbiguousExternalObject"),
        )
        .await;
    assert!(
        synced_message(&role).contains("spec.externalId"),
        "{}",
        synced_message(&role)
    );
    assert_eq!(writes(us(&env)), vec![]);
    assert_eq!(us(&env).roles_named("NOC").len(), 2);
}

/// The documents of `deploy/examples/<file>`.
fn example(file: &str) -> Vec<Value> {
    let path = format!("{}/deploy/examples/{file}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(path).expect("example");
    serde_yaml_ng::Deserializer::from_str(&text)
        .map(|doc| serde::Deserialize::deserialize(doc).expect("YAML"))
        .collect()
}

/// `examples.rs` applies every example; here: each BigPanda example names its region's
/// simulator prefix and key, and without `endpoint` its region's real host.
#[test]
fn example_manifests_point_each_region_at_its_own_host_and_key() {
    let keys = sim::Args::default();
    for (file, region, prefix, key, host) in [
        (
            "bigpanda-us.yaml",
            "us",
            "/bigpanda",
            keys.api_key,
            "https://api.bigpanda.io",
        ),
        (
            "bigpanda-eu.yaml",
            "eu",
            "/bigpanda-eu",
            keys.eu_api_key,
            "https://eu-api.bigpanda.io",
        ),
    ] {
        let docs = example(file);
        let secret = docs.iter().find(|d| d["kind"] == "Secret").expect("Secret");
        assert_eq!(secret["stringData"]["apiKey"], key.as_str(), "{file}");
        let config = docs
            .iter()
            .find(|d| d["kind"] == "ProviderConfig")
            .expect("config");
        assert_eq!(config["spec"]["bigpanda"]["region"], region, "{file}");
        let mut config: ProviderConfig = serde_json::from_value(config.clone()).expect("config");
        let endpoint = config.spec.settings.endpoint.take().expect("endpoint");
        assert_eq!(endpoint, format!("http://127.0.0.1:8090{prefix}"), "{file}");
        assert_eq!(
            BigPanda::default_base_url(&config.spec.settings).as_deref(),
            Some(host)
        );
    }
}
