//! Statsig roles through the real controller loop: the core lifecycle promises, proved on the
//! first product.

use std::collections::BTreeMap;
use std::time::Duration;

use roleplane::crd::{ClusterProviderConfig, ConditionStatus, ProviderConfig, ProviderKind, Role};
use serde_json::json;

use crate::harness::*;
use crate::openapi::OpenApi;

fn spec(name: &str) -> serde_json::Value {
    json!({
        "providerConfigRef": {"name": "statsig"},
        "name": name,
        "statsig": {"permissions": {"createConfigs": true, "launchToProduction": false}},
    })
}

fn flags(pairs: &[(&str, bool)]) -> BTreeMap<String, bool> {
    pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn role_is_created_and_goes_ready_with_external_id() {
    let env = Env::start().await;
    env.statsig_account(NS).await;
    env.role(NS, "editors", spec("Editors")).await;
    let role = env.wait_role(NS, "editors", "Ready", is_ready).await;
    let status = role.status.expect("status");
    assert_eq!(status.external_id.as_deref(), Some("Editors"));
    assert_eq!(status.provider, Some(ProviderKind::Statsig));
    assert_eq!(status.observed_generation, role.metadata.generation);
    assert_eq!(
        env.sim.statsig.role(STATSIG_KEY, "Editors"),
        Some(flags(&[
            ("create_configs", true),
            ("launch_to_production", false)
        ]))
    );
    assert!(
        role.metadata
            .finalizers
            .unwrap_or_default()
            .contains(&"roleplane.dev/cleanup".to_string())
    );
    assert!(
        env.events(NS, "editors")
            .await
            .iter()
            .any(|(_, r, n)| r == "Created" && n.contains("Editors"))
    );
    let metrics = env.ctx.metrics.encode();
    assert!(
        metrics.contains(r#"provider="statsig",operation="create role",status="201"} 1"#),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"roleplane_resources{kind="Role",ready="true"} 1"#),
        "{metrics}"
    );
    OpenApi::load("statsig-console.json")
        .assert_bodies(&env.sim.traffic(ProviderKind::Statsig).requests(), "");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spec_change_is_applied_by_patch() {
    let env = Env::start().await;
    env.statsig_account(NS).await;
    env.role(NS, "editors", spec("Editors")).await;
    env.wait_role(NS, "editors", "Ready", is_ready).await;
    env.patch_spec::<Role>(
        NS,
        "editors",
        json!({"statsig": {"permissions": {"launchToProduction": true, "approveReviews": true}}}),
    )
    .await;
    env.wait_role(NS, "editors", "generation 2 Ready", |s| {
        s.observed_generation == Some(2) && is_ready(s)
    })
    .await;
    let role = env
        .sim
        .statsig
        .role(STATSIG_KEY, "Editors")
        .expect("role exists");
    assert_eq!(role.get("launch_to_production"), Some(&true));
    assert_eq!(role.get("approve_reviews"), Some(&true));
    assert!(
        env.mutations(ProviderKind::Statsig)
            .contains(&"PATCH /console/v1/roles/Editors".to_string())
    );
    let note = env.wait_event(NS, "editors", "Updated").await;
    assert!(note.contains("launchToProduction"), "{note}");
    OpenApi::load("statsig-console.json")
        .assert_bodies(&env.sim.traffic(ProviderKind::Statsig).requests(), "");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn out_of_band_edit_is_corrected_on_the_next_poll_with_an_event() {
    let env = Env::start().await;
    env.statsig_account(NS).await;
    env.role(NS, "editors", spec("Editors")).await;
    env.wait_role(NS, "editors", "Ready", is_ready).await;
    env.sim.statsig.put_role(
        STATSIG_KEY,
        "Editors",
        flags(&[("create_configs", false), ("launch_to_production", false)]),
    );
    let note = env.wait_event(NS, "editors", "DriftCorrected").await;
    assert!(note.contains("statsig.permissions.createConfigs"), "{note}");
    assert_eq!(
        env.sim
            .statsig
            .role(STATSIG_KEY, "Editors")
            .expect("role")
            .get("create_configs"),
        Some(&true)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_the_role_deletes_it_in_statsig() {
    let env = Env::start().await;
    env.statsig_account(NS).await;
    env.role(NS, "editors", spec("Editors")).await;
    env.wait_role(NS, "editors", "Ready", is_ready).await;
    env.delete::<Role>(NS, "editors").await;
    env.wait_gone::<Role>(NS, "editors").await;
    assert_eq!(env.sim.statsig.role(STATSIG_KEY, "Editors"), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orphan_policy_leaves_the_role_in_statsig() {
    let env = Env::start().await;
    env.statsig_account(NS).await;
    let mut s = spec("Editors");
    s["deletionPolicy"] = "Orphan".into();
    env.role(NS, "editors", s).await;
    env.wait_role(NS, "editors", "Ready", is_ready).await;
    env.delete::<Role>(NS, "editors").await;
    env.wait_gone::<Role>(NS, "editors").await;
    assert!(env.sim.statsig.role(STATSIG_KEY, "Editors").is_some());
    assert!(
        !env.mutations(ProviderKind::Statsig)
            .iter()
            .any(|m| m.starts_with("DELETE"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn observe_only_reports_drift_and_never_writes() {
    let env = Env::start().await;
    env.statsig_account(NS).await;
    env.sim
        .statsig
        .put_role(STATSIG_KEY, "Editors", flags(&[("create_configs", false)]));
    let mut s = spec("Editors");
    s["managementPolicy"] = "ObserveOnly".into();
    env.role(NS, "editors", s).await;
    let role = env
        .wait_role(NS, "editors", "Drifted", |s| matches!(condition(s, "Ready"), Some((ConditionStatus::False, r, _)) if r == "Drifted"))
        .await;
    let (_, _, message) = condition(role.status.as_ref().expect("status"), "Ready").expect("Ready");
    assert!(
        message.contains("statsig.permissions.createConfigs"),
        "{message}"
    );
    env.delete::<Role>(NS, "editors").await;
    env.wait_gone::<Role>(NS, "editors").await;
    assert!(
        env.mutations(ProviderKind::Statsig).is_empty(),
        "observe-only wrote: {:?}",
        env.mutations(ProviderKind::Statsig)
    );
    assert_eq!(
        env.sim.statsig.role(STATSIG_KEY, "Editors"),
        Some(flags(&[("create_configs", false)]))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn existing_role_is_adopted_by_external_id_and_corrected() {
    let env = Env::start().await;
    env.statsig_account(NS).await;
    env.sim
        .statsig
        .put_role(STATSIG_KEY, "Editors", flags(&[("create_configs", false)]));
    let mut s = spec("Editors");
    s["externalId"] = "Editors".into();
    env.role(NS, "editors", s).await;
    env.wait_role(NS, "editors", "Ready", is_ready).await;
    env.wait_event(NS, "editors", "Adopted").await;
    assert_eq!(
        env.sim
            .statsig
            .role(STATSIG_KEY, "Editors")
            .expect("role")
            .get("create_configs"),
        Some(&true)
    );
    assert!(
        !env.mutations(ProviderKind::Statsig)
            .iter()
            .any(|m| m.starts_with("POST"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn same_named_role_without_external_id_is_already_exists() {
    let env = Env::start().await;
    env.statsig_account(NS).await;
    env.sim
        .statsig
        .put_role(STATSIG_KEY, "Editors", flags(&[("create_configs", false)]));
    env.role(NS, "editors", spec("Editors")).await;
    let role = env
        .wait_role(NS, "editors", "AlreadyExists", failed_with("AlreadyExists"))
        .await;
    let status = role.status.expect("status");
    assert!(!is_ready(&status));
    assert!(
        condition(&status, "Synced")
            .expect("Synced")
            .2
            .contains("spec.externalId")
    );
    assert!(
        env.mutations(ProviderKind::Statsig).is_empty(),
        "took over a role it did not create: {:?}",
        env.mutations(ProviderKind::Statsig)
    );
    env.wait_event(NS, "editors", "AlreadyExists").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_secret_sets_credentials_missing_without_provider_call() {
    let env = Env::start().await;
    env.provider_config(NS, "statsig", "statsig", "nowhere", json!({}))
        .await;
    env.role(NS, "editors", spec("Editors")).await;
    let role = env
        .wait_role(
            NS,
            "editors",
            "CredentialsMissing",
            failed_with("CredentialsMissing"),
        )
        .await;
    assert!(
        condition(role.status.as_ref().expect("status"), "Synced")
            .expect("Synced")
            .2
            .contains("team-a/nowhere")
    );
    assert!(env.sim.traffic(ProviderKind::Statsig).requests().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secret_without_the_key_sets_credentials_missing() {
    let env = Env::start().await;
    env.secret(NS, "statsig-creds", &[("token", "x")]).await;
    env.provider_config(NS, "statsig", "statsig", "statsig-creds", json!({}))
        .await;
    env.role(NS, "editors", spec("Editors")).await;
    let role = env
        .wait_role(
            NS,
            "editors",
            "CredentialsMissing",
            failed_with("CredentialsMissing"),
        )
        .await;
    assert!(
        condition(role.status.as_ref().expect("status"), "Synced")
            .expect("Synced")
            .2
            .contains("apiKey")
    );
    assert!(env.sim.traffic(ProviderKind::Statsig).requests().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_key_is_credentials_rejected_and_never_shown() {
    let env = Env::start().await;
    let secret_value = "console-WRONGKEY-0123456789";
    env.secret(NS, "statsig-creds", &[("apiKey", secret_value)])
        .await;
    env.provider_config(NS, "statsig", "statsig", "statsig-creds", json!({}))
        .await;
    env.role(NS, "editors", spec("Editors")).await;
    let role = env
        .wait_role(
            NS,
            "editors",
            "CredentialsRejected",
            failed_with("CredentialsRejected"),
        )
        .await;
    let (_, _, message) =
        condition(role.status.as_ref().expect("status"), "Synced").expect("Synced");
    assert!(message.contains("HTTP 401"), "{message}");
    let everything = format!("{:?}{:?}", role.status, env.events(NS, "editors").await);
    assert!(
        !everything.contains("WRONGKEY"),
        "secret leaked: {everything}"
    );
    let pc = env
        .wait_managed::<ProviderConfig>(NS, "statsig", "config not ready", |p| {
            p.status.as_ref().is_some_and(|s| {
                s.conditions
                    .iter()
                    .any(|c| c.reason == "CredentialsRejected")
            })
        })
        .await;
    assert!(!format!("{:?}", pc.status).contains("WRONGKEY"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_provider_config_is_reported_without_provider_call() {
    let env = Env::start().await;
    env.role(NS, "editors", spec("Editors")).await;
    env.wait_role(
        NS,
        "editors",
        "ProviderConfigNotFound",
        failed_with("ProviderConfigNotFound"),
    )
    .await;
    assert!(env.sim.traffic(ProviderKind::Statsig).requests().is_empty());
    // Creating the config later is picked up without waiting for a poll.
    env.statsig_account(NS).await;
    env.wait_role(NS, "editors", "Ready", is_ready).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_config_is_denied_by_default_and_admits_namespaces_by_label() {
    let env = Env::start().await;
    env.secret("platform", "statsig-creds", &[("apiKey", STATSIG_KEY)])
        .await;
    let cluster_api: kube::Api<ClusterProviderConfig> = kube::Api::all(env.client.clone());
    let apply_config = |allowed: serde_json::Value| {
        let body = json!({
            "apiVersion": "roleplane.dev/v1alpha1", "kind": "ClusterProviderConfig",
            "metadata": {"name": "shared-statsig"},
            "spec": {"provider": "statsig",
                     "credentialsSecretRef": {"name": "statsig-creds", "namespace": "platform"},
                     "endpoint": env.endpoint("statsig"), "allowedNamespaces": allowed},
        });
        let api = cluster_api.clone();
        async move {
            api.patch(
                "shared-statsig",
                &kube::api::PatchParams::apply("test"),
                &kube::api::Patch::Apply(&body),
            )
            .await
            .expect("cluster config applied");
        }
    };
    apply_config(json!({})).await;
    let mut s = spec("Editors");
    s["providerConfigRef"] = json!({"kind": "ClusterProviderConfig", "name": "shared-statsig"});
    env.role(NS, "editors", s).await;
    env.wait_role(
        NS,
        "editors",
        "NamespaceNotAllowed",
        failed_with("NamespaceNotAllowed"),
    )
    .await;
    assert!(env.mutations(ProviderKind::Statsig).is_empty());
    // Admitted by a label selector over the namespace's labels.
    let namespaces: kube::Api<k8s_openapi::api::core::v1::Namespace> =
        kube::Api::all(env.client.clone());
    let ns = json!({"apiVersion": "v1", "kind": "Namespace",
                    "metadata": {"name": NS, "labels": {"roleplane.dev/tenant": "yes"}}});
    namespaces
        .patch(
            NS,
            &kube::api::PatchParams::apply("test"),
            &kube::api::Patch::Apply(&ns),
        )
        .await
        .expect("namespace labelled");
    apply_config(json!({"selector": {"matchLabels": {"roleplane.dev/tenant": "yes"}}})).await;
    env.wait_role(NS, "editors", "Ready", is_ready).await;
    assert!(env.sim.statsig.role(STATSIG_KEY, "Editors").is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limit_waits_for_retry_after() {
    let env = Env::start().await;
    env.statsig_account(NS).await;
    env.sim
        .traffic(ProviderKind::Statsig)
        .set_faults(roleplane::sim::Faults {
            rate_limit: Some(roleplane::sim::RateLimit {
                requests: 1,
                window_seconds: 2,
                retry_after_seconds: Some(2),
            }),
            ..Default::default()
        });
    env.role(NS, "editors", spec("Editors")).await;
    env.wait_role(NS, "editors", "Ready", is_ready).await;
    let mut log = env.sim.traffic(ProviderKind::Statsig).requests();
    log.sort_by_key(|r| r.at_ms);
    let first_429 = log
        .iter()
        .position(|r| r.status == 429)
        .expect("the simulator throttled");
    let next = &log[first_429 + 1..];
    let waited = next
        .iter()
        .find(|r| r.status != 429)
        .expect("a later request succeeded")
        .at_ms
        - log[first_429].at_ms;
    assert!(
        waited >= 1900,
        "retried {waited} ms after a 429 with Retry-After: 2"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotated_secret_is_used_without_restart() {
    let env = Env::start_with(|c| c.poll_interval = Duration::from_secs(3600)).await;
    env.secret(NS, "statsig-creds", &[("apiKey", "console-old-key-1234")])
        .await;
    env.provider_config(NS, "statsig", "statsig", "statsig-creds", json!({}))
        .await;
    env.role(NS, "editors", spec("Editors")).await;
    env.wait_role(
        NS,
        "editors",
        "CredentialsRejected",
        failed_with("CredentialsRejected"),
    )
    .await;
    // Rotating the Secret re-runs the role at once, although its retry is minutes away.
    env.secret(NS, "statsig-creds", &[("apiKey", STATSIG_KEY)])
        .await;
    env.wait_role(NS, "editors", "Ready", is_ready).await;
    assert!(env.sim.statsig.role(STATSIG_KEY, "Editors").is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interrupted_create_is_adopted_not_duplicated() {
    let env = Env::start().await;
    env.statsig_account(NS).await;
    // The state a crash between the product create and the status write leaves behind.
    env.sim
        .statsig
        .put_role(STATSIG_KEY, "Editors", flags(&[("create_configs", true)]));
    let role: Role = serde_json::from_value(json!({
        "apiVersion": "roleplane.dev/v1alpha1", "kind": "Role",
        "metadata": {"name": "editors", "namespace": NS,
                     "annotations": {"roleplane.dev/create-pending": "2026-11-22T10:00:00Z"}},
        "spec": spec("Editors"),
    }))
    .expect("role");
    kube::Api::<Role>::namespaced(env.client.clone(), NS)
        .create(&Default::default(), &role)
        .await
        .expect("created");
    let role = env.wait_role(NS, "editors", "Ready", is_ready).await;
    assert_eq!(
        role.status.expect("status").external_id.as_deref(),
        Some("Editors")
    );
    assert!(
        !role
            .metadata
            .annotations
            .unwrap_or_default()
            .contains_key("roleplane.dev/create-pending")
    );
    assert_eq!(env.sim.statsig.roles(STATSIG_KEY).len(), 1);
    assert!(
        !env.mutations(ProviderKind::Statsig)
            .iter()
            .any(|m| m.starts_with("POST"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_restart_keeps_one_role_and_applies_later_changes() {
    let mut env = Env::start().await;
    env.statsig_account(NS).await;
    env.role(NS, "editors", spec("Editors")).await;
    env.wait_role(NS, "editors", "Ready", is_ready).await;
    env.restart().await;
    env.patch_spec::<Role>(
        NS,
        "editors",
        json!({"statsig": {"permissions": {"createConfigs": false}}}),
    )
    .await;
    env.wait_role(NS, "editors", "generation 2 Ready", |s| {
        s.observed_generation == Some(2) && is_ready(s)
    })
    .await;
    assert_eq!(env.sim.statsig.roles(STATSIG_KEY).len(), 1);
    assert_eq!(
        env.mutations(ProviderKind::Statsig)
            .iter()
            .filter(|m| m.starts_with("POST"))
            .count(),
        1
    );
    assert_eq!(
        env.sim
            .statsig
            .role(STATSIG_KEY, "Editors")
            .expect("role")
            .get("create_configs"),
        Some(&false)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_spec_is_reported_once_without_provider_call_or_hot_loop() {
    let env = Env::start().await;
    env.statsig_account(NS).await;
    let mut s = spec("Editors");
    s["statsig"]["additionalPermissions"] = json!([{"name": "create_configs", "enabled": true}]);
    env.role(NS, "editors", s).await;
    let role = env
        .wait_role(NS, "editors", "InvalidSpec", failed_with("InvalidSpec"))
        .await;
    let (_, _, message) =
        condition(role.status.as_ref().expect("status"), "Synced").expect("Synced");
    assert!(
        message.contains("statsig.permissions.createConfigs"),
        "{message}"
    );
    tokio::time::sleep(Duration::from_secs(5)).await;
    let product_calls = env.sim.traffic(ProviderKind::Statsig).requests();
    assert!(
        product_calls
            .iter()
            .all(|r| r.path == "/console/v1/roles" && r.method == "GET"),
        "{product_calls:?}"
    );
    let status_writes = env
        .api
        .requests()
        .iter()
        .filter(|r| r.method == "PATCH" && r.path.contains("/roles/editors/status"))
        .count();
    assert!(
        status_writes <= 2,
        "status written {status_writes} times for one unchanged error"
    );
    let warnings = env
        .events(NS, "editors")
        .await
        .into_iter()
        .filter(|(_, r, _)| r == "InvalidSpec")
        .count();
    assert_eq!(warnings, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn block_for_another_product_is_invalid_spec() {
    let env = Env::start().await;
    env.secret(NS, "bp", &[("apiKey", "k")]).await;
    env.provider_config(NS, "statsig", "bigpanda", "bp", json!({}))
        .await;
    env.role(NS, "editors", spec("Editors")).await;
    let role = env
        .wait_role(NS, "editors", "InvalidSpec", failed_with("InvalidSpec"))
        .await;
    let (_, _, message) =
        condition(role.status.as_ref().expect("status"), "Synced").expect("Synced");
    assert!(
        message.contains("statsig block") && message.contains("bigpanda"),
        "{message}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provider_config_in_use_is_not_deleted_until_its_roles_are_gone() {
    let env = Env::start().await;
    env.statsig_account(NS).await;
    env.wait_managed::<ProviderConfig>(NS, "statsig", "config Ready", |p| {
        p.status.as_ref().is_some_and(|s| {
            s.conditions
                .iter()
                .any(|c| c.r#type == "Ready" && c.status == ConditionStatus::True)
        })
    })
    .await;
    env.role(NS, "editors", spec("Editors")).await;
    env.wait_role(NS, "editors", "Ready", is_ready).await;
    env.delete::<ProviderConfig>(NS, "statsig").await;
    env.wait_managed::<ProviderConfig>(NS, "statsig", "InUse", |p| {
        p.status.as_ref().is_some_and(|s| {
            s.conditions
                .iter()
                .any(|c| c.reason == "InUse" && c.message.contains("team-a/editors"))
        })
    })
    .await;
    // The role can still be deleted (its cleanup needs the config), and then the config goes.
    env.delete::<Role>(NS, "editors").await;
    env.wait_gone::<Role>(NS, "editors").await;
    assert_eq!(env.sim.statsig.role(STATSIG_KEY, "Editors"), None);
    env.wait_gone::<ProviderConfig>(NS, "statsig").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_role_whose_spec_became_invalid_can_still_be_deleted() {
    let env = Env::start().await;
    env.statsig_account(NS).await;
    env.role(NS, "editors", spec("Editors")).await;
    env.wait_role(NS, "editors", "Ready", is_ready).await;
    env.patch_spec::<Role>(
        NS,
        "editors",
        json!({"statsig": {"additionalPermissions": [{"name": "create_configs", "enabled": true}]}}),
    )
    .await;
    env.wait_role(NS, "editors", "InvalidSpec", failed_with("InvalidSpec"))
        .await;
    env.delete::<Role>(NS, "editors").await;
    env.wait_gone::<Role>(NS, "editors").await;
    assert_eq!(env.sim.statsig.role(STATSIG_KEY, "Editors"), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreadable_role_is_reported_on_itself_and_does_not_stop_the_others() {
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::JSONSchemaProps;
    use kube::api::{ApiResource, DynamicObject};
    // A looser Role schema, as after a CRD version skew: the API server stores what this
    // release cannot decode.
    let mut crds = roleplane::crd::all();
    for crd in crds.iter_mut().filter(|c| c.spec.names.kind == "Role") {
        let schema = crd.spec.versions[0]
            .schema
            .as_mut()
            .and_then(|s| s.open_api_v3_schema.as_mut())
            .expect("schema");
        schema.properties.as_mut().expect("properties").insert(
            "spec".into(),
            JSONSchemaProps {
                type_: Some("object".into()),
                x_kubernetes_preserve_unknown_fields: Some(true),
                ..Default::default()
            },
        );
    }
    let env = Env::start_with_crds(crds, |_| {}).await;
    env.statsig_account(NS).await;
    let dynamic: kube::Api<DynamicObject> =
        kube::Api::namespaced_with(env.client.clone(), NS, &ApiResource::erase::<Role>(&()));
    let broken: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "roleplane.dev/v1alpha1", "kind": "Role",
        "metadata": {"name": "broken", "namespace": NS},
        "spec": {"name": 5, "statsig": "yes"},
    }))
    .expect("object");
    dynamic
        .create(&Default::default(), &broken)
        .await
        .expect("stored by the looser schema");
    env.role(NS, "editors", spec("Editors")).await;
    env.wait_role(NS, "editors", "Ready", is_ready).await;
    let note = env.wait_event(NS, "broken", "InvalidObject").await;
    assert!(note.contains("cannot read this Role"), "{note}");
    assert_eq!(env.sim.statsig.roles(STATSIG_KEY).len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_of_a_taken_name_is_already_exists_whether_statsig_answers_400_or_409() {
    use roleplane::crd::StatsigRole;
    use roleplane::providers::{Account, Credentials, ErrorClass, Spec, Target};
    let (sim, base) = roleplane::sim::Simulator::start(Default::default())
        .await
        .expect("simulator");
    let providers = test_providers();
    let account = Account {
        provider: ProviderKind::Statsig,
        base_url: format!("{base}/statsig"),
        settings: Default::default(),
        credentials: Credentials::new([("apiKey".to_string(), STATSIG_KEY.to_string())]),
        key: "test".into(),
    };
    let role = StatsigRole::default();
    let target = Target {
        name: "Taken",
        spec: Spec::Statsig(&role),
    };
    sim.statsig.put_role(STATSIG_KEY, "Taken", flags(&[]));
    for status in [400, 409] {
        sim.statsig.set_duplicate_status(status);
        let err = providers
            .create(&account, &target)
            .await
            .expect_err("the name is taken");
        assert_eq!(err.class(), ErrorClass::AlreadyExists, "{status}: {err}");
        assert!(err.to_string().contains(&format!("HTTP {status}")), "{err}");
    }
    // Other bad input stays a rejection, not a name clash.
    let err = providers
        .create(
            &account,
            &Target {
                name: " ",
                spec: Spec::Statsig(&role),
            },
        )
        .await
        .expect_err("blank name");
    assert_eq!(err.class(), ErrorClass::ProviderRejected, "{err}");
    assert_eq!(sim.statsig.roles(STATSIG_KEY).len(), 1);
}
