//! End-to-end suite against a real cluster from `KUBECONFIG`: applies `crds/` with kubectl, runs
//! the simulators on loopback and the operator in-process (scoped to the suite's namespaces, one
//! per test), and drives everything the way a user would (`kubectl apply`, `kubectl wait`).
//! Skipped, with the reason printed, when `KUBECONFIG` is not set.

mod bigpanda;
mod configcat;
mod deletion;
mod diff;
mod guardrails;
mod looker;
mod slashid;

use serde::Deserialize;
use std::future::Future;
use std::pin::Pin;
use std::process::Command;
use std::time::Duration;

use kube::api::{Api, DeleteParams};
use roleplane::controller::{Context, ControllerConfig};
use roleplane::crd::{ConditionStatus, ProviderKind, Role};
use roleplane::metrics::Metrics;
use roleplane::providers::http::{Http, HttpConfig};
use roleplane::providers::{Providers, Simulator};

const KEY: &str = "console-sim-key";

/// What a test case gets: its own namespace, the cluster and the simulators (shared).
struct Suite {
    ns: String,
    client: kube::Client,
    sim: Simulator,
    sim_base: String,
}

type Case = for<'a> fn(&'a Suite) -> Pin<Box<dyn Future<Output = Result<(), String>> + 'a>>;

fn kubectl(args: &[&str], stdin: Option<&str>) -> Result<String, String> {
    use std::io::Write;
    let mut child = Command::new("kubectl")
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| format!("kubectl: {e}"))?;
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(input.as_bytes())
            .map_err(|e| e.to_string())?;
    }
    let out = child.wait_with_output().map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "kubectl {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

impl Suite {
    fn apply(&self, yaml: &str) -> Result<(), String> {
        kubectl(&["apply", "-n", &self.ns, "-f", "-"], Some(yaml)).map(|_| ())
    }

    fn statsig_account(&self, secret_key: &str, config: &str) -> Result<(), String> {
        self.apply(&format!(
            "apiVersion: v1\nkind: Secret\nmetadata: {{name: {config}-creds}}\nstringData: {{apiKey: {secret_key}}}\n---\n\
             apiVersion: roleplane.dev/v1alpha1\nkind: ProviderConfig\nmetadata: {{name: {config}}}\n\
             spec: {{provider: statsig, credentialsSecretRef: {{name: {config}-creds}}, endpoint: \"{}/statsig\"}}\n",
            self.sim_base
        ))
    }

    fn role(&self, name: &str, product_name: &str, config: &str) -> Result<(), String> {
        self.apply(&format!(
            "apiVersion: roleplane.dev/v1alpha1\nkind: Role\nmetadata: {{name: {name}}}\n\
             spec:\n  providerConfigRef: {{name: {config}}}\n  name: {product_name}\n  statsig:\n    permissions: {{createConfigs: true, launchToProduction: false}}\n"
        ))
    }

    async fn wait_reason(&self, name: &str, reason: &str) -> Result<Role, String> {
        let api: Api<Role> = Api::namespaced(self.client.clone(), &self.ns);
        for _ in 0..120 {
            if let Ok(r) = api.get(name).await
                && r.status
                    .as_ref()
                    .is_some_and(|s| s.conditions.iter().any(|c| c.reason == reason))
            {
                return Ok(r);
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        Err(format!("{name} never reported {reason}"))
    }
}

fn ready_and_revert(s: &Suite) -> Pin<Box<dyn Future<Output = Result<(), String>> + '_>> {
    Box::pin(async move {
        s.statsig_account(KEY, "statsig")?;
        s.role("editors", "E2E-Editors", "statsig")?;
        kubectl(
            &[
                "wait",
                "-n",
                &s.ns,
                "--for=condition=Ready",
                "role.roleplane.dev/editors",
                "--timeout=90s",
            ],
            None,
        )?;
        let api: Api<Role> = Api::namespaced(s.client.clone(), &s.ns);
        let role = api.get("editors").await.map_err(|e| e.to_string())?;
        let id = role
            .status
            .and_then(|st| st.external_id)
            .ok_or("no externalId in status")?;
        if id != "E2E-Editors" {
            return Err(format!("externalId {id}"));
        }
        let listed = kubectl(&["get", "roleplane", "-n", &s.ns], None)?;
        if !listed.contains("editors") || !listed.contains("E2E-Editors") {
            return Err(format!("kubectl get roleplane shows:\n{listed}"));
        }
        s.sim.statsig.put_role(
            KEY,
            "E2E-Editors",
            [("create_configs".to_string(), false)].into(),
        );
        for _ in 0..60 {
            if s.sim
                .statsig
                .role(KEY, "E2E-Editors")
                .and_then(|r| r.get("create_configs").copied())
                == Some(true)
            {
                api.delete("editors", &DeleteParams::default())
                    .await
                    .map_err(|e| e.to_string())?;
                for _ in 0..60 {
                    if api
                        .get_opt("editors")
                        .await
                        .map_err(|e| e.to_string())?
                        .is_none()
                    {
                        return match s.sim.statsig.role(KEY, "E2E-Editors") {
                            None => Ok(()),
                            Some(_) => Err("role still in the simulator after deletion".into()),
                        };
                    }
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
                return Err("Role was not deleted".into());
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        Err("out-of-band edit was not reverted".into())
    })
}

fn failure_reasons(s: &Suite) -> Pin<Box<dyn Future<Output = Result<(), String>> + '_>> {
    Box::pin(async move {
        s.statsig_account("console-wrong-key-123456", "badkey")?;
        s.role("wrong-key", "E2E-Wrong", "badkey")?;
        s.role("no-config", "E2E-NoConfig", "missing")?;
        s.apply(&format!(
            "apiVersion: roleplane.dev/v1alpha1\nkind: ProviderConfig\nmetadata: {{name: nosecret}}\n\
             spec: {{provider: statsig, credentialsSecretRef: {{name: absent}}, endpoint: \"{}/statsig\"}}\n",
            s.sim_base
        ))?;
        s.role("no-secret", "E2E-NoSecret", "nosecret")?;
        let r = s.wait_reason("wrong-key", "CredentialsRejected").await?;
        if format!("{:?}", r.status).contains("wrong-key-123456") {
            return Err("the secret value appears in status".into());
        }
        s.wait_reason("no-config", "ProviderConfigNotFound").await?;
        s.wait_reason("no-secret", "CredentialsMissing").await?;
        let ready = r
            .status
            .iter()
            .flat_map(|st| &st.conditions)
            .any(|c| c.r#type == "Ready" && c.status == ConditionStatus::True);
        if ready {
            return Err("a failing role looks Ready".into());
        }
        let made = s
            .sim
            .traffic(ProviderKind::Statsig)
            .requests()
            .iter()
            .filter(|q| q.method == "POST")
            .count();
        if made > 1 {
            return Err(format!("{made} creates; failing roles must not create"));
        }
        Ok(())
    })
}

/// Installs the ServiceAccount and RBAC the chart renders (from `deploy/`, without the
/// Deployment) and returns a client authenticated as that ServiceAccount, so a permission the
/// chart lacks fails here instead of in a user's install.
async fn service_account_client() -> Result<kube::Client, String> {
    let root = env!("CARGO_MANIFEST_DIR");
    kubectl(
        &["apply", "-f", &format!("{root}/deploy/namespace.yaml")],
        None,
    )?;
    let rendered = std::fs::read_to_string(format!("{root}/deploy/roleplane.yaml"))
        .map_err(|e| e.to_string())?;
    let keep = [
        "ServiceAccount",
        "ClusterRole",
        "ClusterRoleBinding",
        "Role",
        "RoleBinding",
    ];
    let mut rbac = Vec::new();
    for doc in serde_yaml_ng::Deserializer::from_str(&rendered) {
        let value = serde_yaml_ng::Value::deserialize(doc).map_err(|e| e.to_string())?;
        if value
            .get("kind")
            .and_then(|k| k.as_str())
            .is_some_and(|k| keep.contains(&k))
        {
            rbac.push(serde_yaml_ng::to_string(&value).map_err(|e| e.to_string())?);
        }
    }
    kubectl(&["apply", "-f", "-"], Some(&rbac.join("---\n")))?;
    // The secret guard, so the operator's Secret patches meet it as in an install (1.30+).
    let mut guard = Vec::new();
    for doc in serde_yaml_ng::Deserializer::from_str(&rendered) {
        let value = serde_yaml_ng::Value::deserialize(doc).map_err(|e| e.to_string())?;
        if value
            .get("kind")
            .and_then(|k| k.as_str())
            .is_some_and(|k| k.starts_with("ValidatingAdmissionPolicy"))
        {
            guard.push(serde_yaml_ng::to_string(&value).map_err(|e| e.to_string())?);
        }
    }
    match kubectl(&["apply", "-f", "-"], Some(&guard.join("---\n"))) {
        Ok(_) => println!("e2e: the chart's secret guard (ValidatingAdmissionPolicy) is applied"),
        Err(e) if e.contains("no matches for kind") => {
            println!(
                "e2e: the cluster has no ValidatingAdmissionPolicy API (< 1.30); secret guard not applied"
            )
        }
        Err(e) => return Err(e),
    }
    let token = kubectl(
        &[
            "create",
            "token",
            "roleplane",
            "-n",
            "roleplane-system",
            "--duration=3600s",
        ],
        None,
    )?;
    let mut config = kube::Config::infer().await.map_err(|e| e.to_string())?;
    config.auth_info = serde_json::from_value(serde_json::json!({ "token": token.trim() }))
        .map_err(|e| e.to_string())?;
    kube::Client::try_from(config).map_err(|e| e.to_string())
}

#[tokio::main]
async fn main() {
    if std::env::var_os("KUBECONFIG").is_none_or(|v| v.is_empty()) {
        println!(
            "e2e: skipped: KUBECONFIG is not set (point it at a test cluster to run the end-to-end suite)"
        );
        return;
    }
    roleplane::install_crypto_provider();
    let crds = concat!(env!("CARGO_MANIFEST_DIR"), "/crds");
    if let Err(e) = kubectl(&["apply", "--server-side", "-f", crds], None) {
        eprintln!("e2e: cannot install CRDs: {e}");
        std::process::exit(1);
    }
    let _ = kubectl(
        &[
            "wait",
            "--for=condition=Established",
            "crd",
            "-l",
            "",
            "--all",
            "--timeout=60s",
        ],
        None,
    );
    let mut cases: Vec<(&str, Case)> = vec![
        (
            "statsig_role_goes_ready_is_reverted_and_deleted",
            ready_and_revert,
        ),
        (
            "failures_show_their_reasons_without_product_writes",
            failure_reasons,
        ),
        (
            "configcat_group_ready_reverted_deleted",
            configcat::ready_reverted_and_deleted,
        ),
        (
            "configcat_unknown_product_reported",
            configcat::unknown_product_is_reported,
        ),
        (
            "slashid_role_goes_ready_is_reverted_and_deleted",
            slashid::ready_drift_and_delete,
        ),
        (
            "slashid_crd_rejects_bad_and_changed_names",
            slashid::crd_enforces_name_rules,
        ),
        (
            "slashid_408_on_create_ends_with_one_adopted_role",
            slashid::timeout_408_on_create_is_adopted_once,
        ),
        (
            "bigpanda_roles_in_both_regions_are_reverted_and_deleted",
            bigpanda::regions_drift_and_deletion,
        ),
        (
            "bigpanda_us_key_against_eu_is_credentials_rejected",
            bigpanda::wrong_region_key,
        ),
    ];
    cases.extend(looker::cases());
    cases.extend(diff::cases());
    cases.extend(guardrails::cases());
    // ROLEPLANE_E2E_ALL_NAMESPACES=1 runs cluster-wide (ClusterProviderConfig, Namespace reads).
    let all_namespaces =
        std::env::var("ROLEPLANE_E2E_ALL_NAMESPACES").is_ok_and(|v| v == "1" || v == "true");
    cases.extend(deletion::cases(all_namespaces));
    // A namespace per test, all made before the operator starts (it watches exactly these).
    let namespaces: Vec<String> = (0..cases.len())
        .map(|i| format!("roleplane-e2e-{}-{i}", std::process::id()))
        .collect();
    for ns in &namespaces {
        if let Err(e) = kubectl(&["create", "namespace", ns], None) {
            eprintln!("e2e: {e}");
            std::process::exit(1);
        }
    }
    let client = kube::Client::try_default().await.expect("kubeconfig loads");
    let (sim, sim_base) = Simulator::start(Default::default())
        .await
        .expect("simulator starts");
    let http = Http::new(HttpConfig::default(), Metrics::new());
    // Scoped to the test namespaces so a shared cluster's other resources are never touched.
    let config = ControllerConfig {
        namespaces: if all_namespaces {
            vec![]
        } else {
            namespaces.clone()
        },
        poll_interval: Duration::from_secs(3),
        ..Default::default()
    };
    let operator_client = if std::env::var("ROLEPLANE_E2E_SERVICE_ACCOUNT")
        .is_ok_and(|v| v == "1" || v == "true")
    {
        match service_account_client().await {
            Ok(c) => {
                println!(
                    "e2e: the operator runs as ServiceAccount roleplane-system/roleplane (the chart's RBAC)"
                );
                c
            }
            Err(e) => {
                eprintln!("e2e: cannot set up the ServiceAccount identity: {e}");
                std::process::exit(1);
            }
        }
    } else {
        client.clone()
    };
    let ctx = Context::new(operator_client, Providers::new(http), config);
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let operator = tokio::spawn(roleplane::controller::run(ctx, async move {
        let _ = stop_rx.await;
    }));
    let (mut passed, mut failed) = (0, 0);
    for ((name, case), ns) in cases.into_iter().zip(&namespaces) {
        let suite = Suite {
            ns: ns.clone(),
            client: client.clone(),
            sim: sim.clone(),
            sim_base: sim_base.clone(),
        };
        match tokio::time::timeout(Duration::from_secs(180), case(&suite)).await {
            Ok(Ok(())) => {
                println!("test {name} ... ok");
                passed += 1;
            }
            Ok(Err(e)) => {
                println!("test {name} ... FAILED: {e}");
                failed += 1;
            }
            Err(_) => {
                println!("test {name} ... FAILED: timed out");
                failed += 1;
            }
        }
    }
    // Every test namespace is deleted with the operator running, as a user would: each must end
    // on its own (the namespace-deletion promise), with what it holds cleaned up.
    let remaining: Vec<&String> = namespaces
        .iter()
        .filter(|ns| kubectl(&["get", "namespace", ns], None).is_ok())
        .collect();
    for ns in &remaining {
        let _ = kubectl(&["delete", "namespace", ns, "--wait=false"], None);
    }
    for ns in &remaining {
        if let Err(e) = kubectl(
            &[
                "wait",
                "--for=delete",
                &format!("namespace/{ns}"),
                "--timeout=90s",
            ],
            None,
        ) {
            println!("e2e: namespace {ns} did not end after its tests: {e}");
            failed += 1;
        }
    }
    let _ = stop_tx.send(());
    let _ = operator.await;
    println!("e2e: {passed} passed, {failed} failed");
    if failed > 0 {
        std::process::exit(1);
    }
}
