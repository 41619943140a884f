//! PermissionGroup failures through the real controller loop: each shows its Synced reason, names
//! what is wrong, and writes nothing to ConfigCat.

use std::time::Duration;

use kube::api::{Api, PostParams};
use roleplane::crd::{PermissionGroup, ProviderKind};
use serde_json::json;

use super::scenarios::{PASSWORD, configcat_account, create, product, spec, wait};
use crate::harness::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_password_is_credentials_rejected_and_never_shown() {
    let env = Env::start().await;
    let p = product(&env);
    let wrong = "WRONGPASSWORD-0123456789";
    configcat_account(&env, wrong).await;
    create(&env, "developers", spec(&p, "Developers"), json!({})).await;
    let g = wait(
        &env,
        "developers",
        "CredentialsRejected",
        failed_with("CredentialsRejected"),
    )
    .await;
    assert!(
        synced_message(&g).contains("HTTP 401"),
        "{}",
        synced_message(&g)
    );
    assert!(!is_ready(g.status.as_ref().unwrap()));
    let everything = format!("{:?}{:?}", g.status, env.events(NS, "developers").await);
    assert!(
        !everything.contains("WRONGPASSWORD"),
        "secret leaked: {everything}"
    );
    assert!(env.mutations(ProviderKind::ConfigCat).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_product_is_dependency_not_ready_naming_it_without_a_retry_storm() {
    let env = Env::start().await;
    let p = product(&env);
    configcat_account(&env, PASSWORD).await;
    let mut s = spec(&p, "Developers");
    let missing = "0badc0de-0000-4000-8000-000000000000";
    s["productId"] = missing.into();
    s["environmentAccesses"] = json!([]);
    create(&env, "developers", s, json!({})).await;
    let g = wait(
        &env,
        "developers",
        "DependencyNotReady",
        failed_with("DependencyNotReady"),
    )
    .await;
    let message = synced_message(&g);
    assert!(
        message.contains(missing) && message.contains("HTTP 404"),
        "{message}"
    );
    assert!(!is_ready(g.status.as_ref().unwrap()));
    tokio::time::sleep(Duration::from_secs(4)).await;
    let calls = env
        .sim
        .traffic(ProviderKind::ConfigCat)
        .requests()
        .into_iter()
        .filter(|r| r.path.contains(missing))
        .count();
    assert!(calls <= 2, "{calls} calls for a missing product in ~4 s");
    assert!(env.mutations(ProviderKind::ConfigCat).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn environment_deleted_in_configcat_is_dependency_not_ready_naming_it() {
    let env = Env::start().await;
    let p = product(&env);
    configcat_account(&env, PASSWORD).await;
    create(&env, "developers", spec(&p, "Developers"), json!({})).await;
    wait(&env, "developers", "Ready", is_ready).await;
    assert!(env.sim.configcat.remove_environment(&p.prod));
    let g = wait(
        &env,
        "developers",
        "DependencyNotReady",
        failed_with("DependencyNotReady"),
    )
    .await;
    assert!(
        synced_message(&g).contains(&p.prod),
        "{}",
        synced_message(&g)
    );
    assert!(!is_ready(g.status.as_ref().unwrap()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn environment_list_without_custom_access_is_invalid_spec_without_provider_call() {
    let env = Env::start().await;
    let p = product(&env);
    configcat_account(&env, PASSWORD).await;
    let mut s = spec(&p, "Developers");
    s["accessType"] = "full".into();
    // The API double may enforce the CEL rule on create; then the controller never sees it.
    let group: PermissionGroup = serde_json::from_value(json!({
        "apiVersion": "roleplane.dev/v1alpha1", "kind": "PermissionGroup",
        "metadata": {"name": "developers", "namespace": NS}, "spec": s,
    }))
    .unwrap();
    let api = Api::<PermissionGroup>::namespaced(env.client.clone(), NS);
    match api.create(&PostParams::default(), &group).await {
        Err(kube::Error::Api(e)) => {
            assert!(e.message.contains("accessType: custom"), "{}", e.message);
        }
        Err(e) => panic!("unexpected error {e}"),
        Ok(_) => {
            let g = wait(
                &env,
                "developers",
                "InvalidSpec",
                failed_with("InvalidSpec"),
            )
            .await;
            assert!(synced_message(&g).contains("accessType: custom"));
        }
    }
    assert!(env.mutations(ProviderKind::ConfigCat).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interrupted_create_with_two_same_named_groups_is_ambiguous() {
    let env = Env::start().await;
    let p = product(&env);
    configcat_account(&env, PASSWORD).await;
    for _ in 0..2 {
        env.sim
            .configcat
            .create_group(&p.id, &json!({"name": "Developers"}))
            .unwrap();
    }
    let pending = json!({"roleplane.dev/create-pending": "2026-11-22T10:00:00Z"});
    create(&env, "developers", spec(&p, "Developers"), pending).await;
    let g = wait(
        &env,
        "developers",
        "AmbiguousExternalObject",
        failed_with("AmbiguousExternalObject"),
    )
    .await;
    assert!(synced_message(&g).contains("spec.externalId"));
    assert!(
        env.mutations(ProviderKind::ConfigCat).is_empty(),
        "{:?}",
        env.mutations(ProviderKind::ConfigCat)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn same_named_group_without_external_id_is_already_exists() {
    let env = Env::start().await;
    let p = product(&env);
    configcat_account(&env, PASSWORD).await;
    let existing = env
        .sim
        .configcat
        .create_group(&p.id, &json!({"name": "Developers"}))
        .unwrap();
    create(&env, "developers", spec(&p, "Developers"), json!({})).await;
    let g = wait(
        &env,
        "developers",
        "AlreadyExists",
        failed_with("AlreadyExists"),
    )
    .await;
    let message = synced_message(&g);
    assert!(
        message.contains(&existing.permission_group_id.to_string())
            && message.contains("spec.externalId"),
        "{message}"
    );
    assert!(
        env.mutations(ProviderKind::ConfigCat).is_empty(),
        "took over a group: {:?}",
        env.mutations(ProviderKind::ConfigCat)
    );
}
