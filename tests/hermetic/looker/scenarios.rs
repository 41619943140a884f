//! Looker Roles through the real controller loop: inline and referenced sets, switching between
//! them, drift in the role and in an owned set, deletion order, orphaning, token expiry while
//! running, and recovery from interrupted creates.

use roleplane::crd::{ConditionStatus, ProviderKind, Role};
use roleplane::sim::looker::SetKind;
use serde_json::{Value, json};

use crate::harness::*;
use crate::openapi::OpenApi;

const CLIENT_ID: &str = "sim-client-id";
const CLIENT_SECRET: &str = "sim-client-secret";

async fn looker_account(env: &Env) {
    env.secret(
        NS,
        "looker-creds",
        &[("clientId", CLIENT_ID), ("clientSecret", CLIENT_SECRET)],
    )
    .await;
    env.provider_config(NS, "looker", "looker", "looker-creds", json!({}))
        .await;
}

fn inline_spec(name: &str) -> Value {
    json!({
        "providerConfigRef": {"name": "looker"},
        "name": name,
        "looker": {
            "permissionSet": {"permissions": ["access_data", "see_looks", "explore"]},
            "modelSet": {"models": ["thelook"]},
        },
    })
}

fn ref_spec(name: &str, permission_set: &str, model_set: &str) -> Value {
    json!({
        "providerConfigRef": {"name": "looker"},
        "name": name,
        "looker": {
            "permissionSetRef": {"name": permission_set},
            "modelSetRef": {"name": model_set},
        },
    })
}

/// Writes Looker saw, logins aside.
fn mutations(env: &Env) -> Vec<String> {
    env.mutations(ProviderKind::Looker)
        .into_iter()
        .filter(|m| !m.ends_with("/login"))
        .collect()
}

fn assert_bodies(env: &Env) {
    OpenApi::load("looker-4.0.oas.json").assert_bodies(
        &env.sim.traffic(ProviderKind::Looker).requests(),
        "/api/4.0",
    );
}

async fn ready_id(env: &Env, name: &str) -> String {
    let role = env.wait_role(NS, name, "Ready", is_ready).await;
    role.status.and_then(|s| s.external_id).expect("externalId")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inline_role_creates_owned_sets_then_the_role_and_goes_ready() {
    let env = Env::start().await;
    looker_account(&env).await;
    env.role(NS, "analysts", inline_spec("Analyst")).await;
    let role = env.wait_role(NS, "analysts", "Ready", is_ready).await;
    let status = role.status.expect("status");
    let id = status.external_id.clone().expect("externalId");
    assert_eq!(status.provider, Some(ProviderKind::Looker));
    assert_eq!(
        status.observed.as_deref(),
        Some("permission set roleplane:Analyst (3), model set roleplane:Analyst")
    );
    let looker = env.sim.looker.role(&id).expect("role in Looker");
    assert_eq!(looker.name, "Analyst");
    let ps = env
        .sim
        .looker
        .set(SetKind::Permission, &looker.permission_set_id)
        .expect("owned permission set");
    assert_eq!(ps.name, "roleplane:Analyst");
    let writes = mutations(&env);
    let position = |w: &str| writes.iter().position(|m| m == w).unwrap_or(usize::MAX);
    assert!(position("POST /api/4.0/permission_sets") < position("POST /api/4.0/roles"));
    assert!(position("POST /api/4.0/model_sets") < position("POST /api/4.0/roles"));
    assert_eq!(writes.len(), 3, "{writes:?}");
    env.wait_event(NS, "analysts", "Created").await;
    assert_bodies(&env);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn referenced_sets_are_used_and_never_changed_or_deleted() {
    let env = Env::start().await;
    looker_account(&env).await;
    let viewer =
        env.sim
            .looker
            .insert_set(SetKind::Permission, "Viewer", &["access_data", "see_looks"]);
    env.role(NS, "viewers", ref_spec("Viewers", "Viewer", "All"))
        .await;
    let id = ready_id(&env, "viewers").await;
    let role = env.sim.looker.role(&id).expect("role");
    assert_eq!(role.permission_set_id, viewer);
    env.delete::<Role>(NS, "viewers").await;
    env.wait_gone::<Role>(NS, "viewers").await;
    assert!(env.sim.looker.role(&id).is_none());
    assert!(
        mutations(&env).iter().all(|m| !m.contains("_sets")),
        "{:?}",
        mutations(&env)
    );
    assert!(env.sim.looker.set(SetKind::Permission, &viewer).is_some());
    assert!(env.sim.looker.set_by_name(SetKind::Model, "All").is_some());
    assert_bodies(&env);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_referenced_set_waits_as_dependency_not_ready_then_goes_ready() {
    let env = Env::start().await;
    looker_account(&env).await;
    env.role(NS, "viewers", ref_spec("Viewers", "Viewer", "All"))
        .await;
    let role = env
        .wait_role(
            NS,
            "viewers",
            "DependencyNotReady",
            failed_with("DependencyNotReady"),
        )
        .await;
    assert!(
        synced_message(&role).contains("\"Viewer\""),
        "{}",
        synced_message(&role)
    );
    assert!(mutations(&env).is_empty(), "{:?}", mutations(&env));
    env.sim
        .looker
        .insert_set(SetKind::Permission, "Viewer", &["access_data", "see_looks"]);
    ready_id(&env, "viewers").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn switching_from_inline_to_a_reference_and_back() {
    let env = Env::start().await;
    looker_account(&env).await;
    let viewer =
        env.sim
            .looker
            .insert_set(SetKind::Permission, "Viewer", &["access_data", "see_looks"]);
    env.role(NS, "analysts", inline_spec("Analyst")).await;
    let id = ready_id(&env, "analysts").await;
    let owned = env.sim.looker.role(&id).expect("role").permission_set_id;

    env.patch_spec::<Role>(
        NS,
        "analysts",
        json!({"looker": {"permissionSet": null, "permissionSetRef": {"name": "Viewer"}}}),
    )
    .await;
    env.wait_role(NS, "analysts", "generation 2 Ready", |s| {
        s.observed_generation == Some(2) && is_ready(s)
    })
    .await;
    assert_eq!(
        env.sim.looker.role(&id).expect("role").permission_set_id,
        viewer
    );
    assert!(
        env.sim.looker.set(SetKind::Permission, &owned).is_none(),
        "the unused owned set is deleted"
    );
    let note = env.wait_event(NS, "analysts", "Updated").await;
    assert!(note.contains("looker.permissionSetRef"), "{note}");

    env.patch_spec::<Role>(
        NS,
        "analysts",
        json!({"looker": {"permissionSetRef": null, "permissionSet": {"permissions": ["access_data", "see_looks", "see_sql"]}}}),
    )
    .await;
    env.wait_role(NS, "analysts", "generation 3 Ready", |s| {
        s.observed_generation == Some(3) && is_ready(s)
    })
    .await;
    let role = env.sim.looker.role(&id).expect("role");
    let back = env
        .sim
        .looker
        .set(SetKind::Permission, &role.permission_set_id)
        .expect("owned set again");
    assert_eq!(back.name, "roleplane:Analyst");
    assert_eq!(back.items, ["access_data", "see_looks", "see_sql"]);
    assert_eq!(
        env.sim
            .looker
            .set(SetKind::Permission, &viewer)
            .expect("viewer")
            .items,
        ["access_data", "see_looks"]
    );
    assert_bodies(&env);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drift_in_an_owned_set_is_corrected_with_an_event() {
    let env = Env::start().await;
    looker_account(&env).await;
    env.role(NS, "analysts", inline_spec("Analyst")).await;
    let id = ready_id(&env, "analysts").await;
    let ps = env.sim.looker.role(&id).expect("role").permission_set_id;
    env.sim.looker.edit_set(
        SetKind::Permission,
        &ps,
        None,
        Some(&["access_data", "see_looks", "see_sql", "explore"]),
    );
    let note = env.wait_event(NS, "analysts", "DriftCorrected").await;
    assert!(note.contains("looker.permissionSet.permissions"), "{note}");
    assert_eq!(
        env.sim
            .looker
            .set(SetKind::Permission, &ps)
            .expect("set")
            .items,
        ["access_data", "explore", "see_looks"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drift_in_the_role_is_corrected_with_an_event() {
    let env = Env::start().await;
    looker_account(&env).await;
    env.role(NS, "analysts", inline_spec("Analyst")).await;
    let id = ready_id(&env, "analysts").await;
    let owned_ms = env.sim.looker.role(&id).expect("role").model_set_id;
    let all = env
        .sim
        .looker
        .set_by_name(SetKind::Model, "All")
        .expect("All")
        .id;
    env.sim.looker.edit_role(&id, None, None, Some(&all));
    let note = env.wait_event(NS, "analysts", "DriftCorrected").await;
    assert!(note.contains("looker.modelSet"), "{note}");
    assert_eq!(
        env.sim.looker.role(&id).expect("role").model_set_id,
        owned_ms
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_removes_the_role_before_its_owned_sets() {
    let env = Env::start().await;
    looker_account(&env).await;
    env.role(NS, "analysts", inline_spec("Analyst")).await;
    let id = ready_id(&env, "analysts").await;
    let role = env.sim.looker.role(&id).expect("role");
    env.delete::<Role>(NS, "analysts").await;
    env.wait_gone::<Role>(NS, "analysts").await;
    let deletes: Vec<String> = mutations(&env)
        .into_iter()
        .filter(|m| m.starts_with("DELETE"))
        .collect();
    assert_eq!(
        deletes,
        [
            format!("DELETE /api/4.0/roles/{id}"),
            format!("DELETE /api/4.0/permission_sets/{}", role.permission_set_id),
            format!("DELETE /api/4.0/model_sets/{}", role.model_set_id),
        ]
    );
    assert!(env.sim.looker.role(&id).is_none());
    assert!(
        env.sim
            .looker
            .set(SetKind::Permission, &role.permission_set_id)
            .is_none()
    );
    assert!(
        env.sim
            .looker
            .set(SetKind::Model, &role.model_set_id)
            .is_none()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orphan_policy_leaves_the_role_and_its_sets() {
    let env = Env::start().await;
    looker_account(&env).await;
    let mut spec = inline_spec("Analyst");
    spec["deletionPolicy"] = "Orphan".into();
    env.role(NS, "analysts", spec).await;
    let id = ready_id(&env, "analysts").await;
    env.delete::<Role>(NS, "analysts").await;
    env.wait_gone::<Role>(NS, "analysts").await;
    let role = env.sim.looker.role(&id).expect("role left in Looker");
    assert!(
        env.sim
            .looker
            .set(SetKind::Permission, &role.permission_set_id)
            .is_some()
    );
    assert!(!mutations(&env).iter().any(|m| m.starts_with("DELETE")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_token_mid_run_is_renewed_and_the_change_applied() {
    let env = Env::start().await;
    looker_account(&env).await;
    env.role(NS, "analysts", inline_spec("Analyst")).await;
    let id = ready_id(&env, "analysts").await;
    let logins = env.sim.looker.logins();
    env.sim.looker.expire_tokens();
    env.patch_spec::<Role>(
        NS,
        "analysts",
        json!({"looker": {"modelSet": {"models": ["thelook", "ecommerce"]}}}),
    )
    .await;
    env.wait_role(NS, "analysts", "generation 2 Ready", |s| {
        s.observed_generation == Some(2) && is_ready(s)
    })
    .await;
    let ms = env.sim.looker.role(&id).expect("role").model_set_id;
    assert_eq!(
        env.sim.looker.set(SetKind::Model, &ms).expect("set").items,
        ["ecommerce", "thelook"]
    );
    assert!(env.sim.looker.logins() > logins);
    let events = env.events(NS, "analysts").await;
    assert!(
        !events.iter().any(|(_, r, _)| r == "CredentialsRejected"),
        "{events:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_create_is_adopted_not_duplicated() {
    let env = Env::start().await;
    looker_account(&env).await;
    // A crash after Looker created the sets and the role, before the status write.
    let ps = env.sim.looker.insert_set(
        SetKind::Permission,
        "roleplane:Analyst",
        &["access_data", "see_looks", "explore"],
    );
    let ms = env
        .sim
        .looker
        .insert_set(SetKind::Model, "roleplane:Analyst", &["thelook"]);
    let existing = env.sim.looker.insert_role("Analyst", &ps, &ms);
    let role: Role = serde_json::from_value(json!({
        "apiVersion": "roleplane.dev/v1alpha1", "kind": "Role",
        "metadata": {"name": "analysts", "namespace": NS,
                     "annotations": {"roleplane.dev/create-pending": "2026-11-22T10:00:00Z"}},
        "spec": inline_spec("Analyst"),
    }))
    .expect("role");
    kube::Api::<Role>::namespaced(env.client.clone(), NS)
        .create(&Default::default(), &role)
        .await
        .expect("created");
    assert_eq!(ready_id(&env, "analysts").await, existing);
    assert!(mutations(&env).is_empty(), "{:?}", mutations(&env));
    assert_eq!(env.sim.looker.roles().len(), 2, "Admin and Analyst only");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn owned_sets_left_by_a_crash_before_the_role_are_reused() {
    let env = Env::start().await;
    looker_account(&env).await;
    let ps = env
        .sim
        .looker
        .insert_set(SetKind::Permission, "roleplane:Analyst", &["access_data"]);
    env.role(NS, "analysts", inline_spec("Analyst")).await;
    let id = ready_id(&env, "analysts").await;
    assert_eq!(
        env.sim.looker.role(&id).expect("role").permission_set_id,
        ps
    );
    let named = env
        .sim
        .looker
        .sets(SetKind::Permission)
        .into_iter()
        .filter(|s| s.name == "roleplane:Analyst")
        .count();
    assert_eq!(named, 1);
    assert_bodies(&env);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_restart_keeps_one_role_and_one_set_of_each_kind() {
    let mut env = Env::start().await;
    looker_account(&env).await;
    env.role(NS, "analysts", inline_spec("Analyst")).await;
    ready_id(&env, "analysts").await;
    env.restart().await;
    env.patch_spec::<Role>(
        NS,
        "analysts",
        json!({"looker": {"permissionSet": {"permissions": ["access_data", "see_looks"]}}}),
    )
    .await;
    env.wait_role(NS, "analysts", "generation 2 Ready", |s| {
        s.observed_generation == Some(2) && is_ready(s)
    })
    .await;
    assert_eq!(env.sim.looker.roles().len(), 2);
    assert_eq!(env.sim.looker.sets(SetKind::Permission).len(), 2);
    assert_eq!(env.sim.looker.sets(SetKind::Model).len(), 2);
    let posts = mutations(&env)
        .iter()
        .filter(|m| m.starts_with("POST"))
        .count();
    assert_eq!(posts, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn same_named_role_without_external_id_is_already_exists() {
    let env = Env::start().await;
    looker_account(&env).await;
    let admin_ps = env
        .sim
        .looker
        .set_by_name(SetKind::Permission, "Admin")
        .expect("Admin")
        .id;
    let all = env
        .sim
        .looker
        .set_by_name(SetKind::Model, "All")
        .expect("All")
        .id;
    env.sim.looker.insert_role("Analyst", &admin_ps, &all);
    env.role(NS, "analysts", inline_spec("Analyst")).await;
    let role = env
        .wait_role(
            NS,
            "analysts",
            "AlreadyExists",
            failed_with("AlreadyExists"),
        )
        .await;
    assert!(synced_message(&role).contains("spec.externalId"));
    assert!(mutations(&env).is_empty(), "{:?}", mutations(&env));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_permission_is_invalid_spec_without_writes() {
    let env = Env::start().await;
    looker_account(&env).await;
    let mut spec = inline_spec("Analyst");
    spec["looker"]["permissionSet"]["permissions"] = json!(["access_data", "see_lookz"]);
    env.role(NS, "analysts", spec).await;
    let role = env
        .wait_role(NS, "analysts", "InvalidSpec", failed_with("InvalidSpec"))
        .await;
    let message = synced_message(&role);
    assert!(
        message.contains("\"see_lookz\"") && message.contains("see_looks"),
        "{message}"
    );
    assert!(mutations(&env).is_empty(), "{:?}", mutations(&env));
    assert!(!is_ready(role.status.as_ref().expect("status")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_credentials_are_rejected_and_never_shown() {
    let env = Env::start().await;
    let secret = "WRONG-looker-secret-0123";
    env.secret(
        NS,
        "looker-creds",
        &[("clientId", CLIENT_ID), ("clientSecret", secret)],
    )
    .await;
    env.provider_config(NS, "looker", "looker", "looker-creds", json!({}))
        .await;
    env.role(NS, "analysts", inline_spec("Analyst")).await;
    let role = env
        .wait_role(
            NS,
            "analysts",
            "CredentialsRejected",
            failed_with("CredentialsRejected"),
        )
        .await;
    let everything = format!("{:?}{:?}", role.status, env.events(NS, "analysts").await);
    assert!(
        !everything.contains("WRONG-looker"),
        "secret leaked: {everything}"
    );
    assert!(mutations(&env).is_empty());
    // Rotating the Secret is picked up and logs in with the new credentials.
    env.secret(
        NS,
        "looker-creds",
        &[("clientId", CLIENT_ID), ("clientSecret", CLIENT_SECRET)],
    )
    .await;
    ready_id(&env, "analysts").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_built_in_admin_role_adopted_then_deleted_reports_why_it_stays() {
    let env = Env::start().await;
    looker_account(&env).await;
    let admin = env.sim.looker.role_by_name("Admin").expect("Admin").id;
    let mut spec = ref_spec("Admin", "Admin", "All");
    spec["externalId"] = admin.clone().into();
    env.role(NS, "admin", spec).await;
    env.wait_role(NS, "admin", "Ready", is_ready).await;
    env.delete::<Role>(NS, "admin").await;
    let role = env
        .wait_role(
            NS,
            "admin",
            "ProviderRejected",
            failed_with("ProviderRejected"),
        )
        .await;
    assert!(
        synced_message(&role).contains("built-in and cannot be modified"),
        "{}",
        synced_message(&role)
    );
    assert!(env.sim.looker.role(&admin).is_some());
    let (status, _, _) =
        condition(role.status.as_ref().expect("status"), "Synced").expect("Synced");
    assert_eq!(status, ConditionStatus::False);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limit_waits_for_retry_after() {
    let env = Env::start().await;
    looker_account(&env).await;
    env.sim
        .traffic(ProviderKind::Looker)
        .set_faults(roleplane::sim::Faults {
            rate_limit: Some(roleplane::sim::RateLimit {
                requests: 2,
                window_seconds: 2,
                retry_after_seconds: Some(2),
            }),
            ..Default::default()
        });
    env.role(NS, "analysts", inline_spec("Analyst")).await;
    ready_id(&env, "analysts").await;
    let log = env.sim.traffic(ProviderKind::Looker).requests();
    let first = log
        .iter()
        .position(|r| r.status == 429)
        .expect("the simulator throttled");
    let waited = log[first + 1..]
        .iter()
        .find(|r| r.status != 429)
        .expect("a later request succeeded")
        .at_ms
        - log[first].at_ms;
    assert!(waited >= 1900, "retried {waited} ms after Retry-After: 2");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_example_manifests_go_ready_against_the_simulator() {
    let env = Env::start().await;
    for file in ["looker-inline.yaml", "looker-ref.yaml"] {
        let path = format!("{}/deploy/examples/{file}", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(&path).expect("example exists");
        let text = text.replace("http://127.0.0.1:8090/looker", &env.endpoint("looker"));
        for doc in serde_yaml_ng::Deserializer::from_str(&text) {
            let body: Value = serde::Deserialize::deserialize(doc).expect("valid YAML");
            match body["kind"].as_str() {
                Some("Secret") => {
                    let data: Vec<(String, String)> = body["stringData"]
                        .as_object()
                        .expect("stringData")
                        .iter()
                        .map(|(k, v)| (k.clone(), v.as_str().expect("string").to_string()))
                        .collect();
                    let pairs: Vec<(&str, &str)> =
                        data.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
                    let name = body["metadata"]["name"].as_str().expect("name");
                    env.secret(NS, name, &pairs).await;
                }
                Some("ProviderConfig") => {
                    env.apply::<roleplane::crd::ProviderConfig>(NS, body).await;
                }
                Some("Role") => {
                    env.apply::<Role>(NS, body).await;
                }
                other => panic!("unexpected kind {other:?} in {file}"),
            }
        }
    }
    let analysts = ready_id(&env, "analysts").await;
    let admins = ready_id(&env, "platform-admins").await;
    assert_eq!(
        env.sim.looker.role(&analysts).expect("role").name,
        "Analyst"
    );
    let admins = env.sim.looker.role(&admins).expect("role");
    assert_eq!(
        env.sim
            .looker
            .set(SetKind::Permission, &admins.permission_set_id)
            .expect("set")
            .name,
        "Admin"
    );
}
