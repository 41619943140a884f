//! The generic controller, through its real loop: config and namespace rules, credentials,
//! relations between kinds (Secrets, configs), restarts, invalid input and unreadable objects.
//! Statsig serves as the product; nothing here depends on which one it is (the lifecycle every
//! product shares is the conformance suite's).

use std::time::Duration;

use roleplane::crd::{ClusterProviderConfig, ConditionStatus, ProviderConfig, ProviderKind, Role};
use serde_json::json;

use crate::harness::*;

fn spec(name: &str) -> serde_json::Value {
    json!({
        "providerConfigRef": {"name": "statsig"},
        "name": name,
        "statsig": {"permissions": {"createConfigs": true, "launchToProduction": false}},
    })
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
async fn secrets_are_watched_over_one_connection_whatever_their_number() {
    let env = Env::start_with(|c| c.poll_interval = Duration::from_secs(3600)).await;
    let tenants: Vec<String> = (0..6).map(|i| format!("tenant-{i}")).collect();
    for ns in &tenants {
        env.statsig_account(ns).await;
        env.role(ns, "editors", spec(&format!("Editors-{ns}")))
            .await;
    }
    for ns in &tenants {
        env.wait_role(ns, "editors", "Ready", is_ready).await;
    }
    let secret_watches: Vec<String> = env
        .api
        .requests()
        .into_iter()
        .filter(|r| r.path.contains("/secrets") && r.path.contains("watch=true"))
        .map(|r| r.path)
        .collect();
    assert_eq!(
        secret_watches.len(),
        1,
        "one metadata-only Secret watch is expected: {secret_watches:?}"
    );
    // Secret values are read on demand, one GET per use, never listed.
    assert!(
        !env.api
            .requests()
            .iter()
            .any(|r| r.method == "GET" && r.path.ends_with("/secrets")),
        "Secrets were listed with their data"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn external_id_of_the_wrong_form_is_invalid_spec_without_provider_call() {
    // The CRD refuses such an id at admission; a Role stored under an older CRD without the
    // externalId rules still reaches the operator, which must refuse it before any call.
    let mut crds = roleplane::crd::all();
    for crd in crds.iter_mut().filter(|c| c.spec.names.kind == "Role") {
        let spec = crd.spec.versions[0]
            .schema
            .as_mut()
            .and_then(|s| s.open_api_v3_schema.as_mut())
            .and_then(|s| s.properties.as_mut())
            .and_then(|p| p.get_mut("spec"))
            .expect("spec schema");
        if let Some(rules) = spec.x_kubernetes_validations.as_mut() {
            rules.retain(|r| !r.rule.contains("externalId"));
        }
    }
    let env = Env::start_with_crds(crds, |_| {}).await;
    env.statsig_account(NS).await;
    let mut s = spec("Editors");
    s["externalId"] = "../../admin".into();
    env.role(NS, "editors", s).await;
    let role = env
        .wait_role(NS, "editors", "InvalidSpec", failed_with("InvalidSpec"))
        .await;
    let message = synced_message(&role);
    assert!(message.contains("spec.externalId"), "{message}");
    assert!(
        env.sim
            .traffic(ProviderKind::Statsig)
            .requests()
            .iter()
            .all(|r| r.path == "/console/v1/roles"),
        "the product was called for the role"
    );
    // Nothing was ever adopted under that id: deletion finishes without a call or a claim.
    env.delete::<Role>(NS, "editors").await;
    env.wait_gone::<Role>(NS, "editors").await;
    assert!(env.mutations(ProviderKind::Statsig).is_empty());
    assert!(
        !env.events(NS, "editors")
            .await
            .iter()
            .any(|(_, r, _)| r == "Deleted"),
        "a deletion was reported for an id never adopted"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_product_calls_and_ready_resources() {
    let env = Env::start().await;
    env.statsig_account(NS).await;
    env.role(NS, "editors", spec("Editors")).await;
    env.wait_role(NS, "editors", "Ready", is_ready).await;
    let metrics = env.ctx.metrics.encode();
    assert!(
        metrics.contains(r#"provider="statsig",operation="create role",status="201"} 1"#),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"roleplane_resources{kind="Role",ready="true"} 1"#),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_drift_correction_names_its_own_fields() {
    let env = Env::start().await;
    env.statsig_account(NS).await;
    env.role(NS, "editors", spec("Editors")).await;
    env.wait_role(NS, "editors", "Ready", is_ready).await;
    let drifted = |flag: &str, value: bool| {
        let mut role = env.sim.statsig.role(STATSIG_KEY, "Editors").expect("role");
        role.insert(flag.to_string(), value);
        env.sim.statsig.put_role(STATSIG_KEY, "Editors", role);
    };
    let corrections = || async {
        env.events(NS, "editors")
            .await
            .into_iter()
            .filter(|(_, r, _)| r == "DriftCorrected")
            .map(|(_, _, note)| note)
            .collect::<Vec<_>>()
    };
    drifted("create_configs", false);
    env.wait_event(NS, "editors", "DriftCorrected").await;
    drifted("launch_to_production", true);
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let notes = corrections().await;
        if notes.iter().any(|n| n.contains("launchToProduction")) {
            assert!(
                notes.iter().any(|n| n.contains("createConfigs")),
                "{notes:?}"
            );
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the second correction is not told: {notes:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_role_gets_its_finalizer_with_the_create_and_one_that_lost_it_gets_it_back() {
    use roleplane::crd::FINALIZER;
    let env = Env::start().await;
    env.statsig_account(NS).await;
    env.role(NS, "editors", spec("Editors")).await;
    let role = env.wait_role(NS, "editors", "Ready", is_ready).await;
    let has_finalizer = |r: &Role| {
        r.metadata
            .finalizers
            .iter()
            .flatten()
            .any(|f| f == FINALIZER)
    };
    assert!(has_finalizer(&role));
    // Someone strips it (kubectl patch): the next poll puts it back, before anything else.
    let api: kube::Api<Role> = kube::Api::namespaced(env.client.clone(), NS);
    api.patch(
        "editors",
        &kube::api::PatchParams::default(),
        &kube::api::Patch::Merge(json!({"metadata": {"finalizers": null}})),
    )
    .await
    .expect("finalizer stripped");
    let role = env
        .wait_managed::<Role>(NS, "editors", "finalizer back", has_finalizer)
        .await;
    assert!(is_ready(role.status.as_ref().expect("status")));
    // And deleting still deletes the product object.
    env.delete::<Role>(NS, "editors").await;
    env.wait_gone::<Role>(NS, "editors").await;
    assert!(env.sim.statsig.roles(STATSIG_KEY).is_empty());
    assert_eq!(
        env.mutations(ProviderKind::Statsig)
            .iter()
            .filter(|m| m.starts_with("POST"))
            .count(),
        1
    );
}

/// Resources read their credentials Secret once while the Secret watch sees no change, and a
/// config counts its users in the controllers' stores: neither reads nor lists per resource.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_and_a_configs_users_come_from_the_watches_not_a_read_per_resource() {
    let env = Env::start().await;
    env.statsig_account(NS).await;
    env.role(NS, "first", spec("First")).await;
    env.wait_role(NS, "first", "Ready", is_ready).await;
    // The config holds its Secret (a finalizer: a change the watch reports, after which the
    // next reconcile reads it again); then one more role reads it.
    let secrets: kube::Api<k8s_openapi::api::core::v1::Secret> =
        kube::Api::namespaced(env.client.clone(), NS);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !secrets
        .get("statsig-creds")
        .await
        .expect("secret")
        .metadata
        .finalizers
        .unwrap_or_default()
        .contains(&roleplane::crd::CREDENTIALS_FINALIZER.to_string())
    {
        assert!(tokio::time::Instant::now() < deadline, "Secret never held");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    env.role(NS, "second", spec("Second")).await;
    env.wait_role(NS, "second", "Ready", is_ready).await;
    let before = env.api.requests().len();
    for i in 0..10 {
        env.role(NS, &format!("r{i}"), spec(&format!("R{i}"))).await;
    }
    for i in 0..10 {
        env.wait_role(NS, &format!("r{i}"), "Ready", is_ready).await;
    }
    // The config is checked again (an annotation re-runs it) and counts its 12 users.
    let configs: kube::Api<ProviderConfig> = kube::Api::namespaced(env.client.clone(), NS);
    configs
        .patch(
            "statsig",
            &kube::api::PatchParams::default(),
            &kube::api::Patch::Merge(json!({"metadata": {"annotations": {"check": "again"}}})),
        )
        .await
        .expect("config annotated");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let users = configs
            .get("statsig")
            .await
            .expect("config")
            .status
            .and_then(|s| s.users);
        if users == Some(12) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "config users: {users:?}, want 12"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let since: Vec<_> = env.api.requests().into_iter().skip(before).collect();
    let secret_reads = since
        .iter()
        .filter(|r| r.method == "GET" && r.path.contains("/secrets/statsig-creds"))
        .count();
    // The config's own check reads it (it holds the Secret); the 10 creates do not.
    assert!(secret_reads <= 1, "{secret_reads} reads of the Secret");
    let role_lists: Vec<&str> = since
        .iter()
        .filter(|r| r.method == "GET" && r.path.contains("/roles?") && !r.path.contains("watch="))
        .map(|r| r.path.as_str())
        .collect();
    assert!(role_lists.is_empty(), "Roles listed: {role_lists:?}");
}
