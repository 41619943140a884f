//! BigPanda roles through the real controller loop: lifecycle, full-replace updates, drift,
//! adoption, crash recovery, observe-only, and the two regions.

use std::time::Duration;

use roleplane::crd::{ConditionStatus, ProviderKind, Role};
use roleplane::sim::bigpanda::{BigPandaSim, RoleInput, SimPermission, built_in_id};
use serde_json::{Value, json};

use super::{ALICE, BOB, ENV, EU_KEY, US_KEY, assert_bodies};
use crate::harness::*;

/// Secret + ProviderConfig `bigpanda` (US, at the simulator's `/bigpanda`).
async fn us_account(env: &Env) {
    env.secret(NS, "bigpanda-us", &[("apiKey", US_KEY)]).await;
    env.provider_config(
        NS,
        "bigpanda",
        "bigpanda",
        "bigpanda-us",
        json!({"bigpanda": {"region": "us"}}),
    )
    .await;
}

/// Secret (holding `key`) + ProviderConfig `bigpanda-eu` (region eu, at `/bigpanda-eu`).
async fn eu_account(env: &Env, key: &str) {
    env.secret(NS, "bigpanda-eu", &[("apiKey", key)]).await;
    env.provider_config(
        NS,
        "bigpanda-eu",
        "bigpanda",
        "bigpanda-eu",
        json!({"bigpanda": {"region": "eu"}, "endpoint": env.endpoint("bigpanda-eu")}),
    )
    .await;
}

fn spec(name: &str) -> Value {
    json!({
        "providerConfigRef": {"name": "bigpanda"},
        "name": name,
        "bigpanda": {
            "users": [ALICE],
            "permissions": [
                {"resourceType": "users", "actions": ["read"]},
                {"resourceType": "roles", "actions": ["read", "full_access"]},
            ],
        },
    })
}

fn us(env: &Env) -> &BigPandaSim {
    &env.sim.bigpanda
}

fn external_id(role: &Role) -> String {
    role.status
        .as_ref()
        .and_then(|s| s.external_id.clone())
        .expect("externalId in status")
}

/// (resource_type, resource_id, sorted actions), sorted.
fn permissions(sim: &BigPandaSim, id: &str) -> Vec<(String, Option<String>, Vec<String>)> {
    let mut out: Vec<_> = sim
        .role(id)
        .expect("role in the simulator")
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

fn users(sim: &BigPandaSim, id: &str) -> Vec<String> {
    let mut u = sim.role(id).expect("role in the simulator").users;
    u.sort();
    u
}

fn p(t: &str, id: Option<&str>, actions: &[&str]) -> (String, Option<String>, Vec<String>) {
    (
        t.into(),
        id.map(str::to_string),
        actions.iter().map(|a| a.to_string()).collect(),
    )
}

fn generation_ready(generation: i64) -> impl Fn(&roleplane::crd::ManagedStatus) -> bool {
    move |s| s.observed_generation == Some(generation) && is_ready(s)
}

fn staged(name: &str, users: &[&str]) -> RoleInput {
    RoleInput {
        name: name.into(),
        users: users.iter().map(|u| u.to_string()).collect(),
        permissions: vec![SimPermission::new("users", None, &["read"])],
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn role_is_created_in_bigpanda_and_goes_ready_with_its_id() {
    let env = Env::start().await;
    us_account(&env).await;
    env.role(NS, "noc", spec("NOC")).await;
    let role = env.wait_role(NS, "noc", "Ready", is_ready).await;
    let id = external_id(&role);
    assert!(
        id.len() == 24 && id.bytes().all(|b| b.is_ascii_hexdigit()),
        "{id}"
    );
    assert_eq!(
        role.status.as_ref().and_then(|s| s.provider),
        Some(ProviderKind::BigPanda)
    );
    let stored = us(&env).role(&id).expect("role created");
    assert_eq!(stored.name, "NOC");
    assert_eq!(stored.users, vec![ALICE]);
    assert_eq!(
        permissions(us(&env), &id),
        vec![
            p("roles", None, &["full_access", "read"]),
            p("users", None, &["read"])
        ]
    );
    assert!(
        env.events(NS, "noc")
            .await
            .iter()
            .any(|(_, r, n)| r == "Created" && n.contains(&id))
    );
    assert!(
        env.sim.bigpanda_eu.roles_named("NOC").is_empty(),
        "created in the US region only"
    );
    assert_bodies(&env.sim.traffic(ProviderKind::BigPanda).requests());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn adding_and_removing_users_and_changing_permissions_replace_the_role() {
    let env = Env::start().await;
    us_account(&env).await;
    env.role(NS, "noc", spec("NOC")).await;
    let id = external_id(&env.wait_role(NS, "noc", "Ready", is_ready).await);

    // Add a user.
    env.patch_spec::<Role>(NS, "noc", json!({"bigpanda": {"users": [ALICE, BOB]}}))
        .await;
    env.wait_role(NS, "noc", "generation 2 Ready", generation_ready(2))
        .await;
    assert_eq!(users(us(&env), &id), vec![BOB, ALICE]);
    let note = env.wait_event(NS, "noc", "Updated").await;
    assert!(note.contains("bigpanda.users"), "{note}");

    // Remove one, drop a permission and change another.
    env.patch_spec::<Role>(
        NS,
        "noc",
        json!({"bigpanda": {"users": [BOB], "permissions": [{"resourceType": "users", "actions": ["full_access"]}]}}),
    )
    .await;
    env.wait_role(NS, "noc", "generation 3 Ready", generation_ready(3))
        .await;
    assert_eq!(users(us(&env), &id), vec![BOB]);
    assert_eq!(
        permissions(us(&env), &id),
        vec![p("users", None, &["full_access"])]
    );
    let puts = env
        .mutations(ProviderKind::BigPanda)
        .iter()
        .filter(|m| m.starts_with("PUT "))
        .count();
    assert_eq!(puts, 2, "{:?}", env.mutations(ProviderKind::BigPanda));
    assert_eq!(
        env.mutations(ProviderKind::BigPanda)
            .iter()
            .filter(|m| m.starts_with("POST"))
            .count(),
        1
    );
    assert_bodies(&env.sim.traffic(ProviderKind::BigPanda).requests());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn environment_scoped_permission_is_granted_on_that_environment() {
    let env = Env::start().await;
    us_account(&env).await;
    let mut s = spec("Env responders");
    s["bigpanda"]["permissions"] = json!([
        {"resourceType": "environments", "resourceId": ENV, "actions": ["read", "incident_actions"]},
        {"resourceType": "users", "actions": ["read"]},
    ]);
    env.role(NS, "responders", s).await;
    let id = external_id(&env.wait_role(NS, "responders", "Ready", is_ready).await);
    assert_eq!(
        permissions(us(&env), &id),
        vec![
            p("environments", Some(ENV), &["incident_actions", "read"]),
            p("users", None, &["read"])
        ]
    );
    let other = "624e114fb4d7581100179999";
    env.patch_spec::<Role>(
        NS,
        "responders",
        json!({"bigpanda": {"permissions": [
            {"resourceType": "environments", "resourceId": other, "actions": ["read"]},
            {"resourceType": "users", "actions": ["read"]}]}}),
    )
    .await;
    env.wait_role(NS, "responders", "generation 2 Ready", generation_ready(2))
        .await;
    assert_eq!(
        permissions(us(&env), &id),
        vec![
            p("environments", Some(other), &["read"]),
            p("users", None, &["read"])
        ]
    );
    let note = env.wait_event(NS, "responders", "Updated").await;
    assert!(
        note.contains(&format!("bigpanda.permissions[environments/{other}]")),
        "{note}"
    );
    assert_bodies(&env.sim.traffic(ProviderKind::BigPanda).requests());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn out_of_band_edit_is_corrected_on_the_next_poll_with_an_event() {
    let env = Env::start().await;
    us_account(&env).await;
    env.role(NS, "noc", spec("NOC")).await;
    let id = external_id(&env.wait_role(NS, "noc", "Ready", is_ready).await);
    us(&env).edit_role(&id, |r| {
        r.users = vec![BOB.into()];
        r.permissions = vec![SimPermission::new("users", None, &["read"])];
    });
    let note = env.wait_event(NS, "noc", "DriftCorrected").await;
    assert!(
        note.contains("bigpanda.users") && note.contains("bigpanda.permissions[roles]"),
        "{note}"
    );
    assert_eq!(users(us(&env), &id), vec![ALICE]);
    assert_eq!(
        permissions(us(&env), &id),
        vec![
            p("roles", None, &["full_access", "read"]),
            p("users", None, &["read"])
        ]
    );
    assert_bodies(&env.sim.traffic(ProviderKind::BigPanda).requests());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_added_in_bigpanda_stay_when_users_are_not_managed() {
    let env = Env::start().await;
    us_account(&env).await;
    let mut s = spec("NOC");
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
        vec![p("users", None, &["read"])]
    );
    assert_eq!(
        users(us(&env), &id),
        vec![BOB, ALICE],
        "the PUT kept the members"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_the_resource_deletes_the_role_and_a_role_already_gone_is_done() {
    let mut env = Env::start().await;
    us_account(&env).await;
    env.role(NS, "noc", spec("NOC")).await;
    env.role(NS, "gone", spec("Gone")).await;
    let id = external_id(&env.wait_role(NS, "noc", "Ready", is_ready).await);
    let gone = external_id(&env.wait_role(NS, "gone", "Ready", is_ready).await);
    env.delete::<Role>(NS, "noc").await;
    env.wait_gone::<Role>(NS, "noc").await;
    assert!(us(&env).role(&id).is_none());
    assert!(
        env.mutations(ProviderKind::BigPanda)
            .contains(&format!("DELETE /resources/v2.1/roles/{id}"))
    );

    // Deleted in BigPanda while the operator was down: the DELETE's 404 counts as done.
    env.stop_controllers().await;
    us(&env).remove_role(&gone);
    env.delete::<Role>(NS, "gone").await;
    env.restart().await;
    env.wait_gone::<Role>(NS, "gone").await;
    let log = env.sim.traffic(ProviderKind::BigPanda).requests();
    assert!(
        log.iter()
            .any(|r| r.method == "DELETE" && r.path.ends_with(&gone) && r.status == 404),
        "{log:?}"
    );
    assert!(us(&env).roles_named("Gone").is_empty(), "not recreated");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orphan_policy_leaves_the_role_in_bigpanda() {
    let env = Env::start().await;
    us_account(&env).await;
    let mut s = spec("NOC");
    s["deletionPolicy"] = "Orphan".into();
    env.role(NS, "noc", s).await;
    let id = external_id(&env.wait_role(NS, "noc", "Ready", is_ready).await);
    env.delete::<Role>(NS, "noc").await;
    env.wait_gone::<Role>(NS, "noc").await;
    assert!(us(&env).role(&id).is_some());
    assert!(
        !env.mutations(ProviderKind::BigPanda)
            .iter()
            .any(|m| m.starts_with("DELETE"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn observe_only_reports_drift_and_never_writes() {
    let env = Env::start().await;
    us_account(&env).await;
    let existing = us(&env).insert_role(staged("NOC", &[BOB]));
    let mut s = spec("NOC");
    s["managementPolicy"] = "ObserveOnly".into();
    env.role(NS, "noc", s).await;
    let role = env
        .wait_role(NS, "noc", "Drifted", |s| {
            matches!(condition(s, "Ready"), Some((ConditionStatus::False, r, _)) if r == "Drifted")
        })
        .await;
    assert_eq!(external_id(&role), existing.id);
    let (_, _, message) = condition(role.status.as_ref().expect("status"), "Ready").expect("Ready");
    assert!(
        message.contains("bigpanda.users") && message.contains("bigpanda.permissions[roles]"),
        "{message}"
    );
    env.delete::<Role>(NS, "noc").await;
    env.wait_gone::<Role>(NS, "noc").await;
    assert!(
        env.mutations(ProviderKind::BigPanda).is_empty(),
        "observe-only wrote: {:?}",
        env.mutations(ProviderKind::BigPanda)
    );
    assert_eq!(us(&env).role(&existing.id), Some(existing));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn built_in_admin_role_can_be_watched_but_not_managed() {
    let env = Env::start().await;
    eu_account(&env, EU_KEY).await;
    let admin = built_in_id("eu", 0);
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

    let mut manage = watch;
    manage["managementPolicy"] = "Manage".into();
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
    let (_, _, message) =
        condition(role.status.as_ref().expect("status"), "Synced").expect("Synced");
    assert!(message.contains("built-in"), "{message}");
    let writes: Vec<_> = env
        .sim
        .bigpanda_eu
        .traffic
        .requests()
        .into_iter()
        .filter(|r| r.method != "GET")
        .collect();
    assert!(writes.is_empty(), "{writes:?}");
    assert_eq!(
        env.sim
            .bigpanda_eu
            .role(&admin)
            .expect("Admin")
            .permissions
            .len(),
        3
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn existing_role_is_adopted_by_external_id_and_corrected() {
    let env = Env::start().await;
    us_account(&env).await;
    let existing = us(&env).insert_role(staged("NOC", &[BOB]));
    let mut s = spec("NOC");
    s["externalId"] = existing.id.clone().into();
    env.role(NS, "noc", s).await;
    let role = env.wait_role(NS, "noc", "Ready", is_ready).await;
    assert_eq!(external_id(&role), existing.id);
    env.wait_event(NS, "noc", "Adopted").await;
    assert_eq!(users(us(&env), &existing.id), vec![ALICE]);
    assert!(
        !env.mutations(ProviderKind::BigPanda)
            .iter()
            .any(|m| m.starts_with("POST"))
    );
    assert_eq!(us(&env).roles_named("NOC").len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn same_named_role_without_external_id_is_already_exists() {
    let env = Env::start().await;
    us_account(&env).await;
    let existing = us(&env).insert_role(staged("NOC", &[BOB]));
    env.role(NS, "noc", spec("NOC")).await;
    let role = env
        .wait_role(NS, "noc", "AlreadyExists", failed_with("AlreadyExists"))
        .await;
    let (_, _, message) =
        condition(role.status.as_ref().expect("status"), "Synced").expect("Synced");
    assert!(
        message.contains(&existing.id) && message.contains("spec.externalId"),
        "{message}"
    );
    assert!(
        env.mutations(ProviderKind::BigPanda).is_empty(),
        "took over a role it did not create: {:?}",
        env.mutations(ProviderKind::BigPanda)
    );
}

/// A Role whose create intent was recorded but whose id never reached status (a crash between
/// the product create and the status write).
async fn interrupted(env: &Env, name: &str) {
    let role: Role = serde_json::from_value(json!({
        "apiVersion": "roleplane.dev/v1alpha1", "kind": "Role",
        "metadata": {"name": name, "namespace": NS,
                     "annotations": {"roleplane.dev/create-pending": "2026-11-22T10:00:00Z"}},
        "spec": spec("NOC"),
    }))
    .expect("role");
    kube::Api::<Role>::namespaced(env.client.clone(), NS)
        .create(&Default::default(), &role)
        .await
        .expect("created");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interrupted_create_is_adopted_not_duplicated() {
    let env = Env::start().await;
    us_account(&env).await;
    let left_behind = us(&env).insert_role(staged("NOC", &[ALICE]));
    interrupted(&env, "noc").await;
    let role = env.wait_role(NS, "noc", "Ready", is_ready).await;
    assert_eq!(external_id(&role), left_behind.id);
    assert!(
        !role
            .metadata
            .annotations
            .unwrap_or_default()
            .contains_key("roleplane.dev/create-pending")
    );
    assert_eq!(us(&env).roles_named("NOC").len(), 1);
    assert!(
        !env.mutations(ProviderKind::BigPanda)
            .iter()
            .any(|m| m.starts_with("POST"))
    );
    assert_eq!(
        permissions(us(&env), &left_behind.id),
        vec![
            p("roles", None, &["full_access", "read"]),
            p("users", None, &["read"])
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interrupted_create_with_two_same_named_roles_is_ambiguous() {
    let env = Env::start().await;
    us_account(&env).await;
    us(&env).insert_role(staged("NOC", &[ALICE]));
    us(&env).insert_role(staged("NOC", &[BOB]));
    interrupted(&env, "noc").await;
    env.wait_role(
        NS,
        "noc",
        "AmbiguousExternalObject",
        failed_with("AmbiguousExternalObject"),
    )
    .await;
    assert!(
        env.mutations(ProviderKind::BigPanda).is_empty(),
        "{:?}",
        env.mutations(ProviderKind::BigPanda)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn us_key_against_the_eu_region_is_credentials_rejected_until_the_eu_key_is_set() {
    let env = Env::start_with(|c| c.poll_interval = Duration::from_secs(3600)).await;
    eu_account(&env, US_KEY).await;
    let mut s = spec("NOC");
    s["providerConfigRef"] = json!({"name": "bigpanda-eu"});
    env.role(NS, "noc", s).await;
    let role = env
        .wait_role(
            NS,
            "noc",
            "CredentialsRejected",
            failed_with("CredentialsRejected"),
        )
        .await;
    let (_, _, message) =
        condition(role.status.as_ref().expect("status"), "Synced").expect("Synced");
    assert!(
        message.contains("HTTP 401") && message.contains("region"),
        "{message}"
    );
    let everything = format!("{:?}{:?}", role.status, env.events(NS, "noc").await);
    assert!(!everything.contains(US_KEY), "secret leaked: {everything}");
    assert!(env.sim.bigpanda_eu.roles_named("NOC").is_empty());

    // The EU key fixes it at once (Secret rotation), and the role lives in the EU only.
    env.secret(NS, "bigpanda-eu", &[("apiKey", EU_KEY)]).await;
    let role = env.wait_role(NS, "noc", "Ready", is_ready).await;
    let id = external_id(&role);
    assert!(env.sim.bigpanda_eu.role(&id).is_some());
    assert!(us(&env).roles_named("NOC").is_empty());
    assert_bodies(&env.sim.bigpanda_eu.traffic.requests());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn same_role_name_in_both_regions_gives_two_separate_roles() {
    let env = Env::start().await;
    us_account(&env).await;
    eu_account(&env, EU_KEY).await;
    env.role(NS, "noc-us", spec("NOC")).await;
    let mut s = spec("NOC");
    s["providerConfigRef"] = json!({"name": "bigpanda-eu"});
    env.role(NS, "noc-eu", s).await;
    let us_id = external_id(&env.wait_role(NS, "noc-us", "Ready", is_ready).await);
    let eu_id = external_id(&env.wait_role(NS, "noc-eu", "Ready", is_ready).await);
    assert_ne!(us_id, eu_id);
    assert!(us(&env).role(&us_id).is_some() && us(&env).role(&eu_id).is_none());
    assert!(
        env.sim.bigpanda_eu.role(&eu_id).is_some() && env.sim.bigpanda_eu.role(&us_id).is_none()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_spec_is_reported_without_a_product_write() {
    let env = Env::start().await;
    us_account(&env).await;
    let mut s = spec("NOC");
    s["bigpanda"]["permissions"] = json!([
        {"resourceType": "users", "actions": ["read"]},
        {"resourceType": "users", "actions": ["full_access"]},
    ]);
    env.role(NS, "noc", s).await;
    let role = env
        .wait_role(NS, "noc", "InvalidSpec", failed_with("InvalidSpec"))
        .await;
    let (_, _, message) =
        condition(role.status.as_ref().expect("status"), "Synced").expect("Synced");
    assert!(message.contains("bigpanda.permissions[1]"), "{message}");
    tokio::time::sleep(Duration::from_secs(3)).await;
    let calls = env.sim.traffic(ProviderKind::BigPanda).requests();
    assert!(
        calls
            .iter()
            .all(|r| r.method == "GET" && r.path == "/resources/v2.1/roles"),
        "{calls:?}"
    );
}
