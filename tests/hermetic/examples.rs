//! Every manifest in `deploy/examples/` works as documented against the simulators: applied
//! as-is (only the simulator address differs), each Role and PermissionGroup goes Ready.

use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, Patch, PatchParams};
use roleplane::crd::{ManagedStatus, PermissionGroup, ProviderConfig, Role};
use serde_json::Value;

use crate::harness::*;

/// Applies one example file into `NS`; returns the (kind, name) of its managed resources.
async fn apply_example(env: &Env, file: &str) -> Vec<(String, String, bool)> {
    let path = format!("{}/deploy/examples/{file}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).expect("example exists");
    let text = text.replace("http://127.0.0.1:8090", &env.sim_base);
    let mut managed = Vec::new();
    for doc in serde_yaml_ng::Deserializer::from_str(&text) {
        let mut body: Value = serde::Deserialize::deserialize(doc).expect("valid YAML");
        if body.is_null() {
            continue;
        }
        let kind = body["kind"].as_str().expect("kind").to_string();
        let name = body["metadata"]["name"].as_str().expect("name").to_string();
        body["metadata"]["namespace"] = NS.into();
        match kind.as_str() {
            "Secret" => {
                let api: Api<Secret> = Api::namespaced(env.client.clone(), NS);
                api.patch(
                    &name,
                    &PatchParams::apply("example").force(),
                    &Patch::Apply(&body),
                )
                .await
                .unwrap_or_else(|e| panic!("{file}: Secret {name}: {e}"));
            }
            "ProviderConfig" => {
                env.apply::<ProviderConfig>(NS, body).await;
            }
            "Role" | "PermissionGroup" => {
                let observe_only = body["spec"]["managementPolicy"] == "ObserveOnly";
                if kind == "Role" {
                    env.apply::<Role>(NS, body).await;
                } else {
                    env.apply::<PermissionGroup>(NS, body).await;
                }
                managed.push((kind, name, observe_only));
            }
            other => panic!("{file}: unexpected kind {other}"),
        }
    }
    assert!(!managed.is_empty(), "{file} manages nothing");
    managed
}

fn settled(status: Option<&ManagedStatus>, observe_only: bool) -> bool {
    status.is_some_and(|s| {
        is_ready(s)
            || (observe_only
                && matches!(
                    condition(s, "Synced"),
                    Some((roleplane::crd::ConditionStatus::True, _, _))
                ))
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_example_manifest_goes_ready_against_the_simulators() {
    let mut files: Vec<String> =
        std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/examples"))
            .expect("examples folder")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .filter(|f| f.ends_with(".yaml"))
            .collect();
    files.sort();
    assert!(files.len() >= 7, "an example per product: {files:?}");
    for file in files {
        let env = Env::start().await;
        for (kind, name, observe_only) in apply_example(&env, &file).await {
            let what = format!("{file}: {kind} {name} Ready");
            if kind == "Role" {
                env.wait_managed::<Role>(NS, &name, &what, |r| {
                    settled(r.status.as_ref(), observe_only)
                })
                .await;
            } else {
                env.wait_managed::<PermissionGroup>(NS, &name, &what, |g| {
                    settled(g.status.as_ref(), observe_only)
                })
                .await;
            }
        }
    }
}
