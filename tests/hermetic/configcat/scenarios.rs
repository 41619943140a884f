//! PermissionGroup through the real controller loop against the Kubernetes API double and the
//! ConfigCat simulator: the core lifecycle promises, plus ConfigCat's own cases (numeric ids,
//! duplicate names, unknown products, environment access rules).

use std::time::Duration;

use kube::api::{Api, PostParams};
use roleplane::crd::{ConditionStatus, ManagedStatus, PermissionGroup, ProviderKind};
use serde_json::{Value, json};

use crate::harness::*;
use crate::openapi::OpenApi;

pub(super) const USER: &str = "sim-user";
pub(super) const PASSWORD: &str = "sim-password";

/// A product with three environments in the simulator.
pub(super) struct Product {
    pub(super) id: String,
    pub(super) test: String,
    pub(super) prod: String,
    pub(super) staging: String,
}

pub(super) fn product(env: &Env) -> Product {
    let cc = &env.sim.configcat;
    let id = cc.add_product("Scenarios");
    Product {
        test: cc.add_environment(&id, "Test").expect("product exists"),
        prod: cc
            .add_environment(&id, "Production")
            .expect("product exists"),
        staging: cc.add_environment(&id, "Staging").expect("product exists"),
        id,
    }
}

pub(super) async fn configcat_account(env: &Env, password: &str) {
    env.secret(
        NS,
        "configcat-creds",
        &[("username", USER), ("password", password)],
    )
    .await;
    env.provider_config(NS, "configcat", "configcat", "configcat-creds", json!({}))
        .await;
}

/// Custom access: full on test, readOnly on production, staging unlisted.
pub(super) fn spec(p: &Product, name: &str) -> Value {
    json!({
        "providerConfigRef": {"name": "configcat"},
        "name": name,
        "productId": p.id,
        "accessType": "custom",
        "canCreateOrUpdateConfig": true,
        "environmentAccesses": [
            {"environmentId": p.test, "accessType": "full"},
            {"environmentId": p.prod, "accessType": "readOnly"},
        ],
    })
}

pub(super) async fn create(env: &Env, name: &str, spec: Value, annotations: Value) {
    let group: PermissionGroup = serde_json::from_value(json!({
        "apiVersion": "roleplane.dev/v1alpha1", "kind": "PermissionGroup",
        "metadata": {"name": name, "namespace": NS, "annotations": annotations},
        "spec": spec,
    }))
    .expect("valid PermissionGroup");
    Api::<PermissionGroup>::namespaced(env.client.clone(), NS)
        .create(&PostParams::default(), &group)
        .await
        .expect("created");
}

pub(super) async fn wait(
    env: &Env,
    name: &str,
    what: &str,
    check: impl Fn(&ManagedStatus) -> bool,
) -> PermissionGroup {
    env.wait_managed::<PermissionGroup>(NS, name, what, |g| g.status.as_ref().is_some_and(&check))
        .await
}

pub(super) fn access(env: &Env, id: &str, environment: &str) -> String {
    let g = env
        .sim
        .configcat
        .group(id.parse().expect("numeric id"))
        .expect("group exists");
    g.environment_accesses
        .get(environment)
        .cloned()
        .unwrap_or_else(|| "none".into())
}

fn assert_bodies(env: &Env) {
    OpenApi::load("configcat-publicapi.yaml")
        .assert_bodies(&env.sim.traffic(ProviderKind::ConfigCat).requests(), "");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn permission_group_is_created_and_goes_ready_with_its_numeric_id() {
    let env = Env::start().await;
    let p = product(&env);
    configcat_account(&env, PASSWORD).await;
    create(&env, "developers", spec(&p, "Developers"), json!({})).await;
    let g = wait(&env, "developers", "Ready", is_ready).await;
    let status = g.status.expect("status");
    let id = status.external_id.clone().expect("externalId");
    let groups = env.sim.configcat.groups();
    assert_eq!(groups.len(), 1);
    assert_eq!(id, groups[0].permission_group_id.to_string());
    assert_eq!(status.provider, Some(ProviderKind::ConfigCat));
    assert_eq!(
        status.observed.as_deref(),
        Some("1 of 21 flags, accessType custom, access to 2 environments")
    );
    assert_eq!(groups[0].product_id, p.id);
    assert_eq!(access(&env, &id, &p.staging), "none");
    assert!(
        g.metadata
            .finalizers
            .unwrap_or_default()
            .contains(&"roleplane.dev/cleanup".to_string())
    );
    let created = env.wait_event(NS, "developers", "Created").await;
    assert!(created.contains(&id), "{created}");
    assert_bodies(&env);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spec_change_revokes_an_environment_that_left_the_spec_and_renames() {
    let env = Env::start().await;
    let p = product(&env);
    configcat_account(&env, PASSWORD).await;
    create(&env, "developers", spec(&p, "Developers"), json!({})).await;
    let g = wait(&env, "developers", "Ready", is_ready).await;
    let id = g.status.and_then(|s| s.external_id).expect("externalId");
    env.patch_spec::<PermissionGroup>(
        NS,
        "developers",
        json!({
            "name": "Developers (EU)",
            "canDeleteConfig": true,
            "environmentAccesses": [{"environmentId": p.test, "accessType": "full"}],
        }),
    )
    .await;
    wait(&env, "developers", "generation 2 Ready", |s| {
        s.observed_generation == Some(2) && is_ready(s)
    })
    .await;
    assert_eq!(access(&env, &id, &p.prod), "none");
    assert_eq!(access(&env, &id, &p.test), "full");
    let g = env.sim.configcat.group(id.parse().unwrap()).unwrap();
    assert_eq!(g.name, "Developers (EU)");
    assert!(g.flags["canDeleteConfig"]);
    let note = env.wait_event(NS, "developers", "Updated").await;
    assert!(
        note.contains(&format!("environmentAccesses[{}]", p.prod)) && note.contains("name"),
        "{note}"
    );
    assert!(
        env.mutations(ProviderKind::ConfigCat)
            .contains(&format!("PUT /v1/permissions/{id}"))
    );

    // newEnvironmentAccessType: readOnly → unlisted environments, and new ones, get readOnly.
    env.patch_spec::<PermissionGroup>(
        NS,
        "developers",
        json!({"newEnvironmentAccessType": "readOnly"}),
    )
    .await;
    wait(&env, "developers", "generation 3 Ready", |s| {
        s.observed_generation == Some(3) && is_ready(s)
    })
    .await;
    assert_eq!(access(&env, &id, &p.prod), "readOnly");
    assert_eq!(access(&env, &id, &p.staging), "readOnly");
    let puts = env.mutations(ProviderKind::ConfigCat).len();
    let canary = env.sim.configcat.add_environment(&p.id, "Canary").unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await; // more than one drift poll
    assert_eq!(access(&env, &id, &canary), "readOnly");
    assert_eq!(
        env.mutations(ProviderKind::ConfigCat).len(),
        puts,
        "a new environment is not drift"
    );
    assert_bodies(&env);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn out_of_band_edit_is_corrected_on_the_next_poll_with_an_event() {
    let env = Env::start().await;
    let p = product(&env);
    configcat_account(&env, PASSWORD).await;
    create(&env, "developers", spec(&p, "Developers"), json!({})).await;
    let g = wait(&env, "developers", "Ready", is_ready).await;
    let id = g.status.and_then(|s| s.external_id).expect("externalId");
    assert!(env.sim.configcat.edit_group(id.parse().unwrap(), |g| {
        g.flags.insert("canManageMembers".into(), true);
        g.environment_accesses
            .insert(p.staging.clone(), "full".into());
    }));
    let note = env.wait_event(NS, "developers", "DriftCorrected").await;
    assert!(
        note.contains("canManageMembers")
            && note.contains(&format!("environmentAccesses[{}]", p.staging)),
        "{note}"
    );
    let g = env.sim.configcat.group(id.parse().unwrap()).unwrap();
    assert!(!g.flags["canManageMembers"]);
    assert_eq!(access(&env, &id, &p.staging), "none");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_the_permission_group_deletes_it_in_configcat() {
    let env = Env::start().await;
    let p = product(&env);
    configcat_account(&env, PASSWORD).await;
    create(&env, "developers", spec(&p, "Developers"), json!({})).await;
    wait(&env, "developers", "Ready", is_ready).await;
    env.delete::<PermissionGroup>(NS, "developers").await;
    env.wait_gone::<PermissionGroup>(NS, "developers").await;
    assert!(env.sim.configcat.groups().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_already_deleted_in_configcat_does_not_block_deletion() {
    // No drift poll in between, so the group is not recreated before the deletion.
    let env = Env::start_with(|c| c.poll_interval = Duration::from_secs(3600)).await;
    let p = product(&env);
    configcat_account(&env, PASSWORD).await;
    create(&env, "developers", spec(&p, "Developers"), json!({})).await;
    let g = wait(&env, "developers", "Ready", is_ready).await;
    let id: i64 = g
        .status
        .and_then(|s| s.external_id)
        .unwrap()
        .parse()
        .unwrap();
    assert!(env.sim.configcat.remove_group(id));
    env.delete::<PermissionGroup>(NS, "developers").await;
    env.wait_gone::<PermissionGroup>(NS, "developers").await;
    let deletes: Vec<u16> = env
        .sim
        .traffic(ProviderKind::ConfigCat)
        .requests()
        .iter()
        .filter(|r| r.method == "DELETE")
        .map(|r| r.status)
        .collect();
    assert_eq!(deletes, vec![404]);
    assert!(env.sim.configcat.groups().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orphan_policy_leaves_the_group_in_configcat() {
    let env = Env::start().await;
    let p = product(&env);
    configcat_account(&env, PASSWORD).await;
    let mut s = spec(&p, "Developers");
    s["deletionPolicy"] = "Orphan".into();
    create(&env, "developers", s, json!({})).await;
    wait(&env, "developers", "Ready", is_ready).await;
    env.delete::<PermissionGroup>(NS, "developers").await;
    env.wait_gone::<PermissionGroup>(NS, "developers").await;
    assert_eq!(env.sim.configcat.groups().len(), 1);
    assert!(
        !env.mutations(ProviderKind::ConfigCat)
            .iter()
            .any(|m| m.starts_with("DELETE"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn observe_only_reports_drift_and_never_writes() {
    let env = Env::start().await;
    let p = product(&env);
    configcat_account(&env, PASSWORD).await;
    env.sim
        .configcat
        .create_group(
            &p.id,
            &json!({"name": "Developers", "canManageMembers": true}),
        )
        .unwrap();
    let mut s = spec(&p, "Developers");
    s["managementPolicy"] = "ObserveOnly".into();
    create(&env, "developers", s, json!({})).await;
    let g = wait(
        &env,
        "developers",
        "Drifted",
        |s| matches!(condition(s, "Ready"), Some((ConditionStatus::False, r, _)) if r == "Drifted"),
    )
    .await;
    let (_, _, message) = condition(g.status.as_ref().unwrap(), "Ready").unwrap();
    assert!(
        message.contains("canManageMembers")
            && message.contains(&format!("environmentAccesses[{}]", p.test)),
        "{message}"
    );
    env.delete::<PermissionGroup>(NS, "developers").await;
    env.wait_gone::<PermissionGroup>(NS, "developers").await;
    assert!(
        env.mutations(ProviderKind::ConfigCat).is_empty(),
        "observe-only wrote: {:?}",
        env.mutations(ProviderKind::ConfigCat)
    );
    assert_eq!(env.sim.configcat.groups().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn existing_group_is_adopted_by_external_id_and_corrected() {
    let env = Env::start().await;
    let p = product(&env);
    configcat_account(&env, PASSWORD).await;
    // Named differently in ConfigCat: adoption by id renames it to the manifest's name.
    let existing = env
        .sim
        .configcat
        .create_group(&p.id, &json!({"name": "devs", "canManageMembers": true}))
        .unwrap();
    let mut s = spec(&p, "Developers");
    s["externalId"] = existing.permission_group_id.to_string().into();
    create(&env, "developers", s, json!({})).await;
    wait(&env, "developers", "Ready", is_ready).await;
    env.wait_event(NS, "developers", "Adopted").await;
    let g = env
        .sim
        .configcat
        .group(existing.permission_group_id)
        .unwrap();
    assert_eq!(g.name, "Developers");
    assert!(!g.flags["canManageMembers"] && g.flags["canCreateOrUpdateConfig"]);
    assert!(
        !env.mutations(ProviderKind::ConfigCat)
            .iter()
            .any(|m| m.starts_with("POST"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interrupted_create_is_adopted_not_duplicated() {
    let env = Env::start().await;
    let p = product(&env);
    configcat_account(&env, PASSWORD).await;
    // What a crash between the ConfigCat create and the status write leaves behind.
    let left = env
        .sim
        .configcat
        .create_group(&p.id, &json!({"name": "Developers"}))
        .unwrap();
    let pending = json!({"roleplane.dev/create-pending": "2026-11-22T10:00:00Z"});
    create(&env, "developers", spec(&p, "Developers"), pending).await;
    let g = wait(&env, "developers", "Ready", is_ready).await;
    let id = left.permission_group_id.to_string();
    assert_eq!(g.status.unwrap().external_id.as_deref(), Some(id.as_str()));
    assert!(
        !g.metadata
            .annotations
            .unwrap_or_default()
            .contains_key("roleplane.dev/create-pending")
    );
    assert_eq!(env.sim.configcat.groups().len(), 1);
    assert!(
        !env.mutations(ProviderKind::ConfigCat)
            .iter()
            .any(|m| m.starts_with("POST"))
    );
    assert_eq!(access(&env, &id, &p.test), "full");
}
