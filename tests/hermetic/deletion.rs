//! Deletion that never hangs: deleting a namespace (with a namespaced or a cluster config, or
//! with its config deleted first) cleans up the product objects and ends, and losing the
//! credentials outside a namespace deletion says what blocks a deletion and how to get out.

use std::time::Duration;

use k8s_openapi::api::core::v1::{Namespace, Secret};
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use roleplane::crd::{
    CREDENTIALS_FINALIZER, ClusterProviderConfig, ProviderConfig, ProviderKind, Role,
};
use serde_json::json;

use crate::harness::*;

const TENANT: &str = "tenant-x";

fn spec(name: &str, config: serde_json::Value) -> serde_json::Value {
    json!({
        "providerConfigRef": config,
        "name": name,
        "statsig": {"permissions": {"createConfigs": true}},
    })
}

async fn namespace(env: &Env, name: &str) {
    let api: Api<Namespace> = Api::all(env.client.clone());
    let body = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}});
    api.patch(name, &PatchParams::apply("test"), &Patch::Apply(&body))
        .await
        .expect("namespace");
}

async fn secret(env: &Env, ns: &str, name: &str) -> Option<Secret> {
    let api: Api<Secret> = Api::namespaced(env.client.clone(), ns);
    api.get_opt(name).await.expect("get secret")
}

async fn wait_namespace_gone(env: &Env, name: &str) {
    let api: Api<Namespace> = Api::all(env.client.clone());
    let deadline = tokio::time::Instant::now() + WAIT;
    while api.get_opt(name).await.expect("get").is_some() {
        if tokio::time::Instant::now() > deadline {
            let roles: Api<Role> = Api::namespaced(env.client.clone(), name);
            let configs: Api<ProviderConfig> = Api::namespaced(env.client.clone(), name);
            let secrets: Api<Secret> = Api::namespaced(env.client.clone(), name);
            let left = (
                roles.list(&Default::default()).await.map(|l| l.items),
                configs.list(&Default::default()).await.map(|l| l.items),
                secrets
                    .list(&Default::default())
                    .await
                    .map(|l| l.items.into_iter().map(|s| s.metadata).collect::<Vec<_>>()),
            );
            panic!("namespace {name} is still there; left: {left:#?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn delete_namespace(env: &Env, name: &str) {
    let api: Api<Namespace> = Api::all(env.client.clone());
    api.delete(name, &DeleteParams::default())
        .await
        .expect("namespace deletion accepted");
}

/// Three Ready Statsig roles in `TENANT` using `config`.
async fn tenant_roles(env: &Env, config: serde_json::Value) {
    for i in 0..3 {
        env.role(
            TENANT,
            &format!("role-{i}"),
            spec(&format!("Tenant-{i}"), config.clone()),
        )
        .await;
    }
    for i in 0..3 {
        env.wait_role(TENANT, &format!("role-{i}"), "Ready", is_ready)
            .await;
    }
}

fn product_roles(env: &Env) -> usize {
    env.sim
        .statsig
        .roles(STATSIG_KEY)
        .iter()
        .filter(|(n, _)| n.starts_with("Tenant-"))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_namespace_deletes_its_product_objects_and_ends() {
    let env = Env::start().await;
    namespace(&env, TENANT).await;
    env.statsig_account(TENANT).await;
    tenant_roles(&env, json!({"name": "statsig"})).await;
    let held = secret(&env, TENANT, "statsig-creds").await.expect("secret");
    assert!(
        held.metadata
            .finalizers
            .iter()
            .flatten()
            .any(|f| f == CREDENTIALS_FINALIZER),
        "the config holds its Secret"
    );
    assert_eq!(product_roles(&env), 3);
    delete_namespace(&env, TENANT).await;
    wait_namespace_gone(&env, TENANT).await;
    assert_eq!(product_roles(&env), 0, "product objects left behind");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_namespace_whose_config_was_deleted_first_also_ends() {
    let env = Env::start().await;
    namespace(&env, TENANT).await;
    env.statsig_account(TENANT).await;
    tenant_roles(&env, json!({"name": "statsig"})).await;
    env.delete::<ProviderConfig>(TENANT, "statsig").await;
    env.wait_managed::<ProviderConfig>(TENANT, "statsig", "InUse", |p| {
        p.status
            .as_ref()
            .is_some_and(|s| s.conditions.iter().any(|c| c.reason == "InUse"))
    })
    .await;
    delete_namespace(&env, TENANT).await;
    wait_namespace_gone(&env, TENANT).await;
    assert_eq!(product_roles(&env), 0, "product objects left behind");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_tenant_namespace_using_a_cluster_config_ends_and_keeps_the_shared_secret() {
    let env = Env::start().await;
    namespace(&env, TENANT).await;
    namespace(&env, "platform").await;
    env.secret("platform", "statsig-creds", &[("apiKey", STATSIG_KEY)])
        .await;
    let cluster: Api<ClusterProviderConfig> = Api::all(env.client.clone());
    let body = json!({
        "apiVersion": "roleplane.dev/v1alpha1", "kind": "ClusterProviderConfig",
        "metadata": {"name": "shared"},
        "spec": {"provider": "statsig",
                 "credentialsSecretRef": {"name": "statsig-creds", "namespace": "platform"},
                 "endpoint": env.endpoint("statsig"),
                 "allowedNamespaces": {"names": [TENANT]}},
    });
    cluster
        .patch("shared", &PatchParams::apply("test"), &Patch::Apply(&body))
        .await
        .expect("cluster config");
    tenant_roles(
        &env,
        json!({"kind": "ClusterProviderConfig", "name": "shared"}),
    )
    .await;
    delete_namespace(&env, TENANT).await;
    wait_namespace_gone(&env, TENANT).await;
    assert_eq!(product_roles(&env), 0, "product objects left behind");
    assert!(secret(&env, "platform", "statsig-creds").await.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_secret_is_let_go_and_a_blocked_deletion_names_the_way_out() {
    let env = Env::start_with(|c| c.poll_interval = Duration::from_secs(3600)).await;
    env.statsig_account(NS).await;
    env.role(NS, "editors", spec("Editors", json!({"name": "statsig"})))
        .await;
    env.wait_role(NS, "editors", "Ready", is_ready).await;
    // Deleting credentials outside a namespace deletion stays the user's decision.
    env.delete::<Secret>(NS, "statsig-creds").await;
    let deadline = tokio::time::Instant::now() + WAIT;
    while secret(&env, NS, "statsig-creds").await.is_some() {
        assert!(tokio::time::Instant::now() < deadline, "the Secret is held");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    env.delete::<Role>(NS, "editors").await;
    let role = env
        .wait_role(
            NS,
            "editors",
            "deletion blocked",
            |s| matches!(condition(s, "Ready"), Some((_, r, _)) if r == "Deleting"),
        )
        .await;
    let message = synced_message(&role);
    for part in ["statsig-creds", "not found", "deletionPolicy: Orphan"] {
        assert!(message.contains(part), "{part:?} missing from {message}");
    }
    env.wait_event(NS, "editors", "CredentialsMissing").await;
    // The documented way out: finish at once, without a product call.
    env.sim.traffic(ProviderKind::Statsig).clear_requests();
    env.patch_spec::<Role>(NS, "editors", json!({"deletionPolicy": "Orphan"}))
        .await;
    env.wait_gone::<Role>(NS, "editors").await;
    assert!(env.sim.traffic(ProviderKind::Statsig).requests().is_empty());
    assert!(env.sim.statsig.role(STATSIG_KEY, "Editors").is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_no_config_uses_any_more_is_released_when_deleted() {
    let env = Env::start().await;
    env.statsig_account(NS).await;
    env.wait_managed::<ProviderConfig>(NS, "statsig", "Ready", |p| {
        p.status
            .as_ref()
            .is_some_and(|s| s.conditions.iter().any(|c| c.reason == "Available"))
    })
    .await;
    // Repoint the config: the old Secret keeps Roleplane's finalizer until it is deleted.
    env.secret(NS, "new-creds", &[("apiKey", STATSIG_KEY)])
        .await;
    env.provider_config(NS, "statsig", "statsig", "new-creds", json!({}))
        .await;
    let old = secret(&env, NS, "statsig-creds").await.expect("old secret");
    assert!(
        old.metadata
            .finalizers
            .iter()
            .flatten()
            .any(|f| f == CREDENTIALS_FINALIZER)
    );
    env.delete::<Secret>(NS, "statsig-creds").await;
    let deadline = tokio::time::Instant::now() + WAIT;
    while secret(&env, NS, "statsig-creds").await.is_some() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the unused Secret is held"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_config_secret_in_a_deleted_namespace_is_kept_only_for_that_namespace() {
    // The cluster config's Secret lives in the tenant namespace; another namespace uses the
    // config too. The tenant namespace still ends (its roles are cleaned up with the Secret
    // kept), without waiting for the other namespace or for a poll.
    let env = Env::start_with(|c| c.poll_interval = Duration::from_secs(3600)).await;
    namespace(&env, TENANT).await;
    env.secret(TENANT, "statsig-creds", &[("apiKey", STATSIG_KEY)])
        .await;
    let cluster: Api<ClusterProviderConfig> = Api::all(env.client.clone());
    let body = json!({
        "apiVersion": "roleplane.dev/v1alpha1", "kind": "ClusterProviderConfig",
        "metadata": {"name": "tenant-key"},
        "spec": {"provider": "statsig",
                 "credentialsSecretRef": {"name": "statsig-creds", "namespace": TENANT},
                 "endpoint": env.endpoint("statsig"),
                 "allowedNamespaces": {"names": [TENANT, NS]}},
    });
    cluster
        .patch(
            "tenant-key",
            &PatchParams::apply("test"),
            &Patch::Apply(&body),
        )
        .await
        .expect("cluster config");
    let config = json!({"kind": "ClusterProviderConfig", "name": "tenant-key"});
    tenant_roles(&env, config.clone()).await;
    env.role(NS, "elsewhere", spec("Elsewhere", config)).await;
    env.wait_role(NS, "elsewhere", "Ready", is_ready).await;
    delete_namespace(&env, TENANT).await;
    wait_namespace_gone(&env, TENANT).await;
    assert_eq!(product_roles(&env), 0, "product objects left behind");
    assert!(
        env.sim.statsig.role(STATSIG_KEY, "Elsewhere").is_some(),
        "a role of another namespace was touched"
    );
}
