//! `roleplane import`: per product, the objects no resource manages come out as manifests that,
//! applied with the operator running, go Ready without a single product write (the round trip);
//! managed objects are left out, built-ins come out observe-only, and the output is the same on
//! every run. Then the binary, without a cluster.

use kube::Resource;
use roleplane::crd::{
    ConditionStatus, Managed, ManagementPolicy, ProviderConfigKind, ProviderKind,
};
use roleplane::plan::{ImportRequest, import};
use serde_json::{Value, json};

use crate::conformance::Fixture;
use crate::conformance::fixtures::{
    bigpanda::BigPanda, configcat::ConfigCat, looker::Looker, statsig::Statsig,
};
use crate::diff::{manifest, run_cli, sources, stream};
use crate::harness::*;

fn request<F: Fixture>(policy: ManagementPolicy) -> ImportRequest {
    ImportRequest {
        config_kind: ProviderConfigKind::ProviderConfig,
        config: F::PRODUCT.as_str().to_string(),
        namespace: NS.to_string(),
        scopes: Vec::new(),
        management_policy: policy,
    }
}

/// Calls that change a product (a Looker login does not).
fn writes(env: &Env) -> Vec<String> {
    ProviderKind::ALL
        .iter()
        .flat_map(|p| env.mutations(*p))
        .filter(|c| !c.ends_with("/login"))
        .collect()
}

/// Ready, or for observe-only resources, Synced (an observe-only resource reports, never fixes).
fn settled<K: Managed>(obj: &K) -> bool {
    obj.managed_status().is_some_and(|s| {
        is_ready(s)
            || (obj.managed().management_policy == ManagementPolicy::ObserveOnly
                && matches!(condition(s, "Synced"), Some((ConditionStatus::True, _, _))))
    })
}

async fn round_trip<F: Fixture>() {
    let env = Env::start().await;
    F::account(&env, NS, true).await;
    env.apply::<F::Kind>(
        NS,
        json!({"metadata": {"name": "kept"}, "spec": F::spec("Kept")}),
    )
    .await;
    let kept = env
        .wait_managed::<F::Kind>(NS, "kept", "Ready", |o| {
            o.managed_status().is_some_and(is_ready)
        })
        .await;
    let kept_id = kept
        .managed_status()
        .and_then(|s| s.external_id.clone())
        .expect("externalId");
    let seeded = F::seed(&env, "Hand-Made");

    let req = request::<F>(ManagementPolicy::Manage);
    let imported = import(&sources(&env, &[], true, &[]), &req)
        .await
        .expect("imported");
    assert!(imported.skipped.is_empty(), "{:?}", imported.skipped);
    let ids: Vec<&str> = imported
        .manifests
        .iter()
        .map(|m| m["spec"]["externalId"].as_str().expect("externalId"))
        .collect();
    assert!(ids.contains(&seeded.as_str()), "{ids:?}");
    assert!(
        !ids.contains(&kept_id.as_str()),
        "a managed object was imported: {ids:?}"
    );
    for m in &imported.manifests {
        assert_eq!(m["kind"], <F::Kind as Resource>::kind(&()).as_ref());
        let name = m["metadata"]["name"].as_str().expect("name");
        assert!(
            name.len() <= 63
                && name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'),
            "{name}"
        );
    }
    let again = import(&sources(&env, &[], true, &[]), &req)
        .await
        .expect("imported");
    assert_eq!(
        again.manifests, imported.manifests,
        "not stable across runs"
    );

    // Apply them with the operator running: every one settles, nothing is written.
    F::traffic(&env).clear_requests();
    for m in &imported.manifests {
        env.apply::<F::Kind>(NS, m.clone()).await;
    }
    for m in &imported.manifests {
        let name = m["metadata"]["name"].as_str().expect("name");
        let obj = env
            .wait_managed::<F::Kind>(NS, name, "imported resource settled", settled)
            .await;
        let status = obj.managed_status().expect("status");
        assert_eq!(
            status.external_id.as_deref(),
            m["spec"]["externalId"].as_str()
        );
        if obj.managed().management_policy == ManagementPolicy::Manage {
            assert!(is_ready(status), "{name}: {status:#?}");
        }
    }
    // A poll later, still nothing written.
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    assert_eq!(
        writes(&env),
        Vec::<String>::new(),
        "applying the import wrote"
    );

    // Now everything is managed: nothing left to import.
    let after = import(&sources(&env, &[], true, &[]), &req)
        .await
        .expect("imported");
    assert_eq!(after.manifests, Vec::<Value>::new());
}

crate::conformance::per_product!(imported_manifests_go_ready_with_no_product_writes => round_trip);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn built_ins_are_imported_observe_only() {
    for product in [ProviderKind::Looker, ProviderKind::BigPanda] {
        let env = Env::start().await;
        let req = match product {
            ProviderKind::Looker => {
                Looker::account(&env, NS, true).await;
                request::<Looker>(ManagementPolicy::Manage)
            }
            _ => {
                BigPanda::account(&env, NS, true).await;
                request::<BigPanda>(ManagementPolicy::Manage)
            }
        };
        let imported = import(&sources(&env, &[], true, &[]), &req)
            .await
            .expect("imported");
        let built_ins: Vec<&Value> = imported
            .manifests
            .iter()
            .filter(|m| matches!(m["spec"]["name"].as_str(), Some("Admin" | "User")))
            .collect();
        assert!(
            !built_ins.is_empty(),
            "{product}: {:#?}",
            imported.manifests
        );
        for m in built_ins {
            assert_eq!(m["spec"]["managementPolicy"], "ObserveOnly", "{m:#}");
            assert_eq!(m["spec"]["deletionPolicy"], "Orphan", "{m:#}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn observe_only_is_applied_to_every_manifest_on_request() {
    let env = Env::start().await;
    Statsig::account(&env, NS, true).await;
    Statsig::seed(&env, "By Hand");
    let imported = import(
        &sources(&env, &[], true, &[]),
        &request::<Statsig>(ManagementPolicy::ObserveOnly),
    )
    .await
    .expect("imported");
    assert_eq!(imported.manifests.len(), 1);
    assert_eq!(
        imported.manifests[0]["spec"]["managementPolicy"],
        "ObserveOnly"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configcat_needs_a_scope_when_no_resource_names_one() {
    let env = Env::start().await;
    ConfigCat::account(&env, NS, true).await;
    let err = import(
        &sources(&env, &[], true, &[]),
        &request::<ConfigCat>(ManagementPolicy::Manage),
    )
    .await
    .expect_err("no scope");
    assert!(err.to_string().contains("--scope"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_imports_without_a_cluster_to_stdout_and_a_folder() {
    let env = Env::start().await;
    Statsig::seed(&env, "By Hand");
    let config = json!({
        "apiVersion": "roleplane.dev/v1alpha1", "kind": "ProviderConfig",
        "metadata": {"name": "statsig", "namespace": NS},
        "spec": {"provider": "statsig", "credentialsSecretRef": {"name": "statsig-creds"},
                 "endpoint": env.endpoint("statsig")},
    });
    // A resource in the files manages "Kept": it is not imported.
    env.sim
        .statsig
        .put_role(STATSIG_KEY, "Kept", Default::default());
    let kept = manifest::<Statsig>("kept", Statsig::spec("Kept"));
    let input = stream(&[config, kept]);
    let vars = [("ROLEPLANE_SECRET_STATSIG_CREDS_API_KEY", STATSIG_KEY)];
    let base = [
        "import",
        "--no-cluster",
        "-f",
        "-",
        "--provider-config",
        "team-a/statsig",
    ];
    let (code, out, err) = run_cli(&base, &input, &vars).await;
    assert_eq!(code, 0, "{out}{err}");
    let docs: Vec<Value> = serde_yaml_ng::Deserializer::from_str(&out)
        .map(|d| serde::Deserialize::deserialize(d).expect("YAML"))
        .collect();
    assert_eq!(docs.len(), 1, "{out}");
    assert_eq!(docs[0]["spec"]["externalId"], "By Hand");
    assert_eq!(docs[0]["metadata"]["namespace"], NS);
    assert!(!out.contains(STATSIG_KEY) && !err.contains(STATSIG_KEY));

    let dir = std::env::temp_dir().join(format!("roleplane-import-{}", std::process::id()));
    let folder = dir.display().to_string();
    let mut args = base.to_vec();
    args.extend(["--output-dir", &folder, "-o", "json"]);
    let (code, out, err) = run_cli(&args, &input, &vars).await;
    assert_eq!(code, 0, "{out}{err}");
    let files: Vec<String> = std::fs::read_dir(&dir)
        .expect("folder written")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    assert!(files[0].starts_with("role-by-hand-") && files[0].ends_with(".json"));
    let _ = std::fs::remove_dir_all(&dir);
    assert!(writes(&env).is_empty());
}

/// Statsig listings (the cheap credential check reads one role: `limit=1`).
fn listings(env: &Env) -> usize {
    env.sim
        .statsig
        .traffic
        .requests()
        .iter()
        .filter(|r| {
            r.method == "GET"
                && r.path.ends_with("/roles")
                && r.query
                    .as_deref()
                    .is_some_and(|q| !q.split('&').any(|kv| kv == "limit=1"))
        })
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_status_and_metric_report_objects_and_managed_with_one_listing_per_interval() {
    use roleplane::crd::ProviderConfig;
    let env = Env::start_with(|c| c.poll_interval = std::time::Duration::from_secs(60)).await;
    Statsig::seed(&env, "By Hand");
    Statsig::seed(&env, "Also By Hand");
    Statsig::account(&env, NS, true).await;
    env.apply::<roleplane::crd::Role>(
        NS,
        json!({"metadata": {"name": "kept"}, "spec": Statsig::spec("Kept")}),
    )
    .await;
    env.wait_role(NS, "kept", "Ready", is_ready).await;
    // The config was checked before the role was Ready: a change of the config re-checks it,
    // but the inventory waits for the poll interval.
    let api: kube::Api<ProviderConfig> = kube::Api::namespaced(env.client.clone(), NS);
    let inventory = || async {
        api.get("statsig")
            .await
            .expect("config")
            .status
            .and_then(|s| s.inventory)
    };
    let deadline = tokio::time::Instant::now() + WAIT;
    let first = loop {
        if let Some(inv) = inventory().await {
            break inv;
        }
        assert!(tokio::time::Instant::now() < deadline, "no inventory");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert!(first.objects >= 2, "{first:?}");
    let listed = listings(&env);
    assert!(listed >= 1);
    for n in 0..3 {
        let patch =
            json!({"metadata": {"annotations": {"test.roleplane.dev/poke": n.to_string()}}});
        api.patch(
            "statsig",
            &kube::api::PatchParams::default(),
            &kube::api::Patch::Merge(patch),
        )
        .await
        .expect("poked");
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    }
    assert_eq!(
        listings(&env),
        listed,
        "listed again within the poll interval"
    );
    assert_eq!(inventory().await, Some(first.clone()));

    // A fresh listing (a new generation) counts the managed role.
    env.patch_spec::<ProviderConfig>(
        NS,
        "statsig",
        json!({"endpoint": format!("{}/", env.endpoint("statsig"))}),
    )
    .await;
    let deadline = tokio::time::Instant::now() + WAIT;
    let counted = loop {
        let inv = inventory().await.expect("inventory");
        if inv.managed == 1 {
            break inv;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "managed never counted: {inv:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert_eq!(counted.objects, 3, "{counted:?}");
    let text = env.ctx.metrics.encode();
    for (managed, n) in [("true", 1), ("false", 2)] {
        let line = format!(
            r#"roleplane_config_objects{{kind="ProviderConfig",config="{NS}/statsig",provider="statsig",managed="{managed}"}} {n}"#
        );
        assert!(text.contains(&line), "{line} missing from\n{text}");
    }
}

/// A product listed per scope (ConfigCat: per product) is counted in the scopes its users name.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_config_of_a_product_listed_per_scope_counts_the_scopes_its_users_name() {
    use roleplane::crd::{PermissionGroup, ProviderConfig};
    let env = Env::start_with(|c| c.poll_interval = std::time::Duration::from_secs(60)).await;
    ConfigCat::account(&env, NS, true).await;
    ConfigCat::seed(&env, "By Hand");
    // Another product of the same account, which no resource names: not listed, not counted.
    const OTHER: &str = "5d1c4b22-7d1f-4b0e-9a55-0c3e7b9f2a10";
    env.sim.configcat.add_product_with_id(OTHER, "Unrelated");
    env.sim
        .configcat
        .create_group(OTHER, &json!({"name": "Elsewhere"}))
        .expect("seeded");
    env.apply::<PermissionGroup>(
        NS,
        json!({"metadata": {"name": "kept"}, "spec": ConfigCat::spec("Kept")}),
    )
    .await;
    env.wait_managed::<PermissionGroup>(NS, "kept", "Ready", |g| {
        g.status.as_ref().is_some_and(is_ready)
    })
    .await;
    // A new generation of the config takes a fresh inventory.
    env.patch_spec::<ProviderConfig>(
        NS,
        "configcat",
        json!({"endpoint": format!("{}/", env.endpoint("configcat"))}),
    )
    .await;
    let api: kube::Api<ProviderConfig> = kube::Api::namespaced(env.client.clone(), NS);
    let deadline = tokio::time::Instant::now() + WAIT;
    let counted = loop {
        let inventory = api
            .get("configcat")
            .await
            .expect("config")
            .status
            .and_then(|s| s.inventory);
        if let Some(inv) = inventory.as_ref().filter(|i| i.managed == 1) {
            break inv.clone();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "managed never counted: {inventory:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert_eq!(counted.objects, 2, "{counted:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_config_imports_into_the_namespace_asked_for_and_counts_every_namespace() {
    use roleplane::crd::ClusterProviderConfig;
    let env = Env::start().await;
    env.secret(NS, "statsig-creds", &[("apiKey", STATSIG_KEY)])
        .await;
    let api: kube::Api<ClusterProviderConfig> = kube::Api::all(env.client.clone());
    let cpc: ClusterProviderConfig = serde_json::from_value(json!({
        "apiVersion": "roleplane.dev/v1alpha1", "kind": "ClusterProviderConfig",
        "metadata": {"name": "shared"},
        "spec": {"provider": "statsig", "credentialsSecretRef": {"name": "statsig-creds", "namespace": NS},
                 "endpoint": env.endpoint("statsig"), "allowedNamespaces": {"names": ["team-b"]}},
    }))
    .expect("valid");
    api.create(&Default::default(), &cpc)
        .await
        .expect("created");
    // A role in another namespace manages "Kept" through the cluster config.
    env.apply::<roleplane::crd::Role>(
        "team-b",
        json!({"metadata": {"name": "kept"}, "spec": merged_ref(Statsig::spec("Kept"))}),
    )
    .await;
    env.wait_role("team-b", "kept", "Ready", is_ready).await;
    Statsig::seed(&env, "By-Hand");
    let req = ImportRequest {
        config_kind: ProviderConfigKind::ClusterProviderConfig,
        config: "shared".into(),
        namespace: "team-b".into(),
        scopes: Vec::new(),
        management_policy: ManagementPolicy::Manage,
    };
    let imported = import(&sources(&env, &[], true, &[]), &req)
        .await
        .expect("imported");
    assert_eq!(imported.manifests.len(), 1, "{:#?}", imported.manifests);
    let m = &imported.manifests[0];
    assert_eq!(m["spec"]["externalId"], "By-Hand");
    assert_eq!(m["metadata"]["namespace"], "team-b");
    assert_eq!(
        m["spec"]["providerConfigRef"],
        json!({"kind": "ClusterProviderConfig", "name": "shared"})
    );
    env.apply::<roleplane::crd::Role>("team-b", m.clone()).await;
    let name = m["metadata"]["name"].as_str().expect("name");
    env.wait_role("team-b", name, "Ready", is_ready).await;
}

fn merged_ref(mut spec: Value) -> Value {
    spec["providerConfigRef"] = json!({"kind": "ClusterProviderConfig", "name": "shared"});
    spec
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resources_in_the_files_without_an_id_claim_their_named_objects() {
    let env = Env::start().await;
    let made = Looker::seed(&env, "Analyst");
    let other = Looker::seed(&env, "Viewer");
    let config = json!({
        "apiVersion": "roleplane.dev/v1alpha1", "kind": "ProviderConfig",
        "metadata": {"name": "looker", "namespace": NS},
        "spec": {"provider": "looker", "credentialsSecretRef": {"name": "looker-creds"},
                 "endpoint": env.endpoint("looker")},
    });
    let secret = json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "looker-creds", "namespace": NS},
        "stringData": {"clientId": "sim-client-id", "clientSecret": "sim-client-secret"},
    });
    let docs = [
        config,
        secret,
        manifest::<Looker>("analyst", Looker::spec("Analyst")),
    ];
    let imported = import(
        &sources(&env, &docs, false, &[]),
        &request::<Looker>(ManagementPolicy::Manage),
    )
    .await
    .expect("imported");
    let ids: Vec<&str> = imported
        .manifests
        .iter()
        .map(|m| m["spec"]["externalId"].as_str().expect("id"))
        .collect();
    assert!(ids.contains(&other.as_str()), "{ids:?}");
    assert!(
        !ids.contains(&made.as_str()),
        "the files' Analyst claims it: {ids:?}"
    );
}
