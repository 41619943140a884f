//! `roleplane diff`: for every product, the plan names create / update (field by field, product
//! value → manifest value) / in sync / blocked as the controller would decide, and never writes
//! to the product (the simulator's request log proves it). Then the bad-input and no-cluster
//! paths, and the binary's exit codes.

use std::collections::BTreeMap;

use kube::Resource;
use roleplane::crd::{Managed, ProviderKind};
use roleplane::plan::diff::{Entry, Report};
use roleplane::plan::{Action, Sources, load};
use roleplane::providers::BaseUrls;
use serde_json::{Value, json};

use crate::conformance::Fixture;
use crate::conformance::fixtures::{bigpanda::BigPanda, statsig::Statsig};
use crate::harness::*;

/// A manifest of `F`'s kind.
pub fn manifest<F: Fixture>(name: &str, spec: Value) -> Value {
    json!({
        "apiVersion": "roleplane.dev/v1alpha1",
        "kind": <F::Kind as Resource>::kind(&()),
        "metadata": {"name": name, "namespace": NS},
        "spec": spec,
    })
}

/// JSON merge patch (RFC 7386), enough for spec changes.
pub fn merged(mut base: Value, patch: Value) -> Value {
    fn apply(base: &mut Value, patch: Value) {
        match (base, patch) {
            (Value::Object(b), Value::Object(p)) => {
                for (k, v) in p {
                    if v.is_null() {
                        b.remove(&k);
                    } else {
                        apply(b.entry(k).or_insert(Value::Null), v);
                    }
                }
            }
            (b, p) => *b = p,
        }
    }
    apply(&mut base, patch);
    base
}

/// The documents as one YAML stream (JSON is YAML).
pub fn stream(docs: &[Value]) -> String {
    docs.iter()
        .map(Value::to_string)
        .collect::<Vec<_>>()
        .join("\n---\n")
}

/// Sources over `docs` (read as stdin), with the cluster of `env` or none, and `vars` as the
/// environment.
pub fn sources(env: &Env, docs: &[Value], cluster: bool, vars: &[(&str, &str)]) -> Sources {
    let text = stream(docs);
    let loaded = load(&["-".to_string()], NS, &mut text.as_bytes());
    Sources::new(
        loaded,
        cluster.then(|| env.client.clone()),
        test_providers(),
        BaseUrls::default(),
        vars.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<BTreeMap<_, _>>(),
    )
}

fn entry<'a>(report: &'a Report, name: &str) -> &'a Entry {
    report
        .resources
        .iter()
        .find(|e| e.name == name)
        .unwrap_or_else(|| panic!("no plan for {name}: {report:#?}"))
}

/// Calls that change a product (a Looker login does not).
fn writes(env: &Env) -> Vec<String> {
    ProviderKind::ALL
        .iter()
        .flat_map(|p| env.mutations(*p))
        .filter(|c| !c.ends_with("/login"))
        .collect()
}

async fn plans_every_step_without_writing<F: Fixture>() {
    let mut env = Env::start().await;
    F::account(&env, NS, true).await;
    env.apply::<F::Kind>(
        NS,
        json!({"metadata": {"name": "synced"}, "spec": F::spec("Synced")}),
    )
    .await;
    let synced = env
        .wait_managed::<F::Kind>(NS, "synced", "Ready", |o| {
            o.managed_status().is_some_and(is_ready)
        })
        .await;
    let synced_id = synced
        .managed_status()
        .and_then(|s| s.external_id.clone())
        .expect("externalId");
    env.stop_controllers().await;
    let taken = F::seed(&env, "Taken");
    F::traffic(&env).clear_requests();

    let adopt = merged(F::spec("Taken"), json!({"externalId": taken}));
    let docs = [
        manifest::<F>("synced", F::spec("Synced")),
        manifest::<F>("fresh", F::spec("Fresh")),
        manifest::<F>("taken", F::spec("Taken")),
        manifest::<F>("adopt", adopt),
    ];
    let report = roleplane::plan::diff(&sources(&env, &docs, true, &[])).await;
    let synced = entry(&report, "synced");
    assert_eq!(synced.action, Action::InSync, "{synced:#?}");
    assert_eq!(synced.external_id.as_deref(), Some(synced_id.as_str()));
    assert_eq!(entry(&report, "fresh").action, Action::Create);
    let blocked = entry(&report, "taken");
    assert_eq!(blocked.action, Action::Blocked, "{blocked:#?}");
    assert_eq!(blocked.reason, Some("AlreadyExists"));
    assert!(
        blocked
            .message
            .as_deref()
            .unwrap_or_default()
            .contains("spec.externalId"),
        "{blocked:#?}"
    );
    let adopted = entry(&report, "adopt");
    assert_eq!(adopted.action, Action::Update, "{adopted:#?}");
    assert_eq!(adopted.adopt, Some("externalId"));
    assert_eq!(adopted.external_id.as_deref(), Some(taken.as_str()));
    assert!(!adopted.fields.is_empty());
    assert_eq!(report.exit_code(), 1, "a blocked resource is an error");

    // A spec change: update, each field with the product's value and the manifest's.
    let changed = merged(F::spec("Synced"), F::change());
    let docs = [manifest::<F>("synced", changed)];
    let report = roleplane::plan::diff(&sources(&env, &docs, true, &[])).await;
    let update = entry(&report, "synced");
    assert_eq!(update.action, Action::Update, "{update:#?}");
    assert!(!update.fields.is_empty());
    for f in &update.fields {
        assert_ne!(f.product, f.manifest, "{f:?} is not a difference");
        assert!(!f.manifest.is_null(), "{f:?}: the manifest sets the field");
    }
    assert_eq!(report.exit_code(), 2);
    let text = roleplane::plan::render::render_text(&report, false);
    assert!(
        text.contains(&format!("{}: ", update.fields[0].field)) && text.contains(" -> "),
        "{text}"
    );

    // Nothing was written, and the product was read.
    assert_eq!(
        writes(&env),
        Vec::<String>::new(),
        "diff wrote to a product"
    );
    assert!(!F::traffic(&env).requests().is_empty(), "diff read nothing");
}

crate::conformance::per_product!(plans_create_update_in_sync_and_blocked_without_writing => plans_every_step_without_writing);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocked_reasons_are_the_controllers_and_bad_documents_do_not_stop_the_plan() {
    let env = Env::start().await;
    Statsig::account(&env, NS, true).await;
    env.apply::<roleplane::crd::Role>(
        NS,
        json!({"metadata": {"name": "renamed"}, "spec": Statsig::spec("Old")}),
    )
    .await;
    env.wait_role(NS, "renamed", "Ready", is_ready).await;
    env.sim.statsig.traffic.clear_requests();
    let cluster_config = json!({
        "apiVersion": "roleplane.dev/v1alpha1", "kind": "ClusterProviderConfig",
        "metadata": {"name": "shared"},
        "spec": {"provider": "statsig", "credentialsSecretRef": {"name": "statsig-creds", "namespace": NS},
                 "endpoint": env.endpoint("statsig"), "allowedNamespaces": {"names": ["other"]}},
    });
    let docs = [
        cluster_config,
        manifest::<Statsig>(
            "not-allowed",
            merged(
                Statsig::spec("A"),
                json!({"providerConfigRef": {"kind": "ClusterProviderConfig", "name": "shared"}}),
            ),
        ),
        manifest::<Statsig>(
            "no-config",
            merged(
                Statsig::spec("B"),
                json!({"providerConfigRef": {"name": "missing"}}),
            ),
        ),
        manifest::<Statsig>(
            "wrong-block",
            json!({"providerConfigRef": {"name": "statsig"}, "name": "Wrong-Block",
                   "slashid": {"permissions": ["a.b"]}}),
        ),
        manifest::<Statsig>(
            "bad-extra",
            merged(
                Statsig::spec("D"),
                json!({"statsig": {"additionalPermissions": [{"name": "create_configs", "enabled": true}]}}),
            ),
        ),
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}}),
        manifest::<Statsig>(
            "too-long",
            merged(Statsig::spec("E"), json!({"name": "x".repeat(300)})),
        ),
        manifest::<Statsig>("fine", Statsig::spec("F")),
        manifest::<Statsig>("renamed", Statsig::spec("New")),
        manifest::<Statsig>("fine-again", Statsig::spec("F")),
    ];
    let report = roleplane::plan::diff(&sources(&env, &docs, true, &[])).await;
    let reason = |name: &str| entry(&report, name).reason;
    assert_eq!(reason("not-allowed"), Some("NamespaceNotAllowed"));
    assert_eq!(reason("no-config"), Some("ProviderConfigNotFound"));
    assert_eq!(reason("wrong-block"), Some("InvalidSpec"));
    assert_eq!(reason("bad-extra"), Some("InvalidSpec"));
    assert_eq!(entry(&report, "fine").action, Action::Create);
    let twice = entry(&report, "fine-again");
    assert_eq!(twice.reason, Some("AlreadyExists"), "{twice:#?}");
    assert!(
        twice
            .message
            .as_deref()
            .unwrap_or_default()
            .contains("Role team-a/fine in this plan"),
        "{twice:#?}"
    );
    let renamed = entry(&report, "renamed");
    assert_eq!(renamed.reason, Some("InvalidSpec"));
    assert!(
        renamed
            .message
            .as_deref()
            .unwrap_or_default()
            .contains("name is immutable"),
        "{renamed:#?}"
    );
    let invalid: Vec<(usize, &str)> = report
        .invalid
        .iter()
        .map(|p| (p.origin.document, p.error.as_str()))
        .collect();
    assert_eq!(invalid.len(), 2, "{invalid:?}");
    assert_eq!(invalid[0].0, 6);
    assert!(invalid[0].1.contains("unknown kind Deployment"));
    assert_eq!(invalid[1].0, 7);
    assert!(
        invalid[1].1.contains("spec.name") && invalid[1].1.contains("CRD schema"),
        "{}",
        invalid[1].1
    );
    assert_eq!(report.exit_code(), 1);
    assert!(writes(&env).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_cluster_configs_come_from_the_files_and_secrets_from_the_environment() {
    let env = Env::start().await;
    let config = json!({
        "apiVersion": "roleplane.dev/v1alpha1", "kind": "ProviderConfig",
        "metadata": {"name": "statsig", "namespace": NS},
        "spec": {"provider": "statsig", "credentialsSecretRef": {"name": "statsig-creds"},
                 "endpoint": env.endpoint("statsig")},
    });
    let role = manifest::<Statsig>("release", Statsig::spec("Release"));
    let docs = [config.clone(), role.clone()];

    // No Secret anywhere: the missing values are named by their variables, never guessed.
    let report = roleplane::plan::diff(&sources(&env, &docs, false, &[])).await;
    let missing = entry(&report, "release");
    assert_eq!(missing.reason, Some("CredentialsMissing"), "{missing:#?}");
    assert!(
        missing
            .message
            .as_deref()
            .unwrap_or_default()
            .contains("ROLEPLANE_SECRET_STATSIG_CREDS_API_KEY")
    );

    let vars = [("ROLEPLANE_SECRET_STATSIG_CREDS_API_KEY", STATSIG_KEY)];
    let report = roleplane::plan::diff(&sources(&env, &docs, false, &vars)).await;
    assert_eq!(entry(&report, "release").action, Action::Create);

    // The object exists and matches: with no cluster it is assumed to be the resource's.
    env.sim.statsig.put_role(
        STATSIG_KEY,
        "Release",
        [
            ("create_configs".to_string(), true),
            ("launch_to_production".to_string(), false),
        ]
        .into_iter()
        .collect(),
    );
    let report = roleplane::plan::diff(&sources(&env, &docs, false, &vars)).await;
    let in_sync = entry(&report, "release");
    assert_eq!(in_sync.action, Action::InSync, "{in_sync:#?}");
    assert_eq!(in_sync.adopt, Some("assumedByName"));
    assert_eq!(report.exit_code(), 0);

    // A wrong key: rejected, and the key is nowhere in the plan.
    let wrong = [(
        "ROLEPLANE_SECRET_STATSIG_CREDS_API_KEY",
        "console-WRONG-SECRET-42",
    )];
    let report = roleplane::plan::diff(&sources(&env, &docs, false, &wrong)).await;
    assert_eq!(
        entry(&report, "release").reason,
        Some("CredentialsRejected")
    );
    let json = roleplane::plan::render::render_json(&report);
    assert!(!json.contains("WRONG-SECRET"), "{json}");
    assert!(writes(&env).is_empty());
}

/// Runs the binary; returns (exit code, stdout, stderr).
pub async fn run_cli(args: &[&str], stdin: &str, vars: &[(&str, &str)]) -> (i32, String, String) {
    use tokio::io::AsyncWriteExt;
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_roleplane"));
    cmd.args(args)
        .env_remove("KUBECONFIG")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    for (k, v) in vars {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("roleplane starts");
    let mut input = child.stdin.take().expect("stdin");
    input
        .write_all(stdin.as_bytes())
        .await
        .expect("stdin written");
    drop(input);
    let out = tokio::time::timeout(WAIT, child.wait_with_output())
        .await
        .expect("roleplane finishes")
        .expect("output");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_exits_0_in_sync_2_changes_1_errors() {
    let env = Env::start().await;
    let dir = std::env::temp_dir().join(format!("roleplane-diff-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let config = json!({
        "apiVersion": "roleplane.dev/v1alpha1", "kind": "ProviderConfig",
        "metadata": {"name": "statsig", "namespace": NS},
        "spec": {"provider": "statsig", "credentialsSecretRef": {"name": "statsig-creds"},
                 "endpoint": env.endpoint("statsig")},
    });
    std::fs::write(dir.join("config.yaml"), stream(&[config])).expect("written");
    let role = stream(&[manifest::<Statsig>("release", Statsig::spec("Release"))]);
    let folder = dir.display().to_string();
    let args = [
        "diff",
        "--no-cluster",
        "-f",
        &folder,
        "-f",
        "-",
        "-o",
        "json",
    ];
    let vars = [("ROLEPLANE_SECRET_STATSIG_CREDS_API_KEY", STATSIG_KEY)];

    let (code, out, err) = run_cli(&args, &role, &vars).await;
    assert_eq!(code, 2, "{out}{err}");
    let plan: Value = serde_json::from_str(&out).expect("JSON plan");
    assert_eq!(plan["resources"][0]["action"], "create");
    assert_eq!(plan["resources"][0]["file"], "-");
    assert!(!out.contains(STATSIG_KEY) && !err.contains(STATSIG_KEY));

    env.sim.statsig.put_role(
        STATSIG_KEY,
        "Release",
        [
            ("create_configs".to_string(), true),
            ("launch_to_production".to_string(), false),
        ]
        .into_iter()
        .collect(),
    );
    let (code, out, err) = run_cli(&args, &role, &vars).await;
    assert_eq!(code, 0, "{out}{err}");

    let broken = format!("{role}\n---\nkind: Nope\napiVersion: x/v1\nmetadata: {{name: n}}\n");
    let (code, out, err) = run_cli(
        &["diff", "--no-cluster", "-f", &folder, "-f", "-"],
        &broken,
        &vars,
    )
    .await;
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.contains("- (document 2): unknown kind Nope"), "{out}");
    assert!(
        out.contains("in sync"),
        "the good document is still planned: {out}"
    );
    assert!(
        !out.contains('\x1b'),
        "no colour when stdout is not a terminal: {out}"
    );
    let _ = std::fs::remove_dir_all(&dir);
    assert!(writes(&env).is_empty());
}

/// The README's quick start without a cluster: `roleplane diff -f deploy/examples/` and
/// `roleplane import` against the simulators (at the test's address instead of :8090).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readme_quick_start_without_a_cluster() {
    let env = Env::start().await;
    let dir = std::env::temp_dir().join(format!("roleplane-quick-start-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let examples = concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/examples");
    let mut roles = 0;
    for entry in std::fs::read_dir(examples).expect("examples") {
        let path = entry.expect("entry").path();
        let text = std::fs::read_to_string(&path).expect("example");
        roles += text.matches("\nkind: Role\n").count()
            + text.matches("\nkind: PermissionGroup\n").count();
        let text = text.replace("http://127.0.0.1:8090", &env.sim_base);
        std::fs::write(dir.join(path.file_name().expect("name")), text).expect("copied");
    }
    let folder = dir.display().to_string();
    // No cluster reachable (whatever the machine's kubeconfig): the files and the environment.
    let no_cluster = [("KUBECONFIG", "/nonexistent/roleplane-test-kubeconfig")];
    let (code, out, err) = run_cli(&["diff", "-f", &folder], "", &no_cluster).await;
    assert_eq!(code, 2, "{out}{err}");
    assert!(err.contains("no cluster reachable"), "{err}");
    let summary = out.lines().last().expect("summary");
    // Every example role would be created, except the one that adopts BigPanda's built-in Admin.
    assert_eq!(
        summary,
        format!(
            "Plan: {} to create, 0 to update, 1 in sync, 0 drifted (observe-only), 0 blocked, 0 invalid document(s).",
            roles - 1
        ),
        "{out}"
    );
    let looker = dir.join("looker-inline.yaml").display().to_string();
    let (code, out, err) = run_cli(
        &[
            "import",
            "--no-cluster",
            "-f",
            &looker,
            "--provider-config",
            "default/looker",
        ],
        "",
        &[],
    )
    .await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("name: Admin") && out.contains("managementPolicy: ObserveOnly"),
        "{out}"
    );
    let _ = std::fs::remove_dir_all(&dir);
    assert!(writes(&env).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_listing_serves_every_resource_looked_up_by_name() {
    let env = Env::start().await;
    let config = json!({
        "apiVersion": "roleplane.dev/v1alpha1", "kind": "ProviderConfig",
        "metadata": {"name": "bigpanda", "namespace": NS},
        "spec": {"provider": "bigpanda", "credentialsSecretRef": {"name": "bigpanda-creds"},
                 "endpoint": env.endpoint("bigpanda"), "bigpanda": {"region": "us"}},
    });
    let taken = BigPanda::seed(&env, "Taken");
    let mut docs = vec![config];
    for n in 0..4 {
        let name = format!("Role {n}");
        docs.push(manifest::<BigPanda>(
            &format!("role-{n}"),
            BigPanda::spec(&name),
        ));
    }
    docs.push(manifest::<BigPanda>("taken", BigPanda::spec("Taken")));
    let vars = [(
        "ROLEPLANE_SECRET_BIGPANDA_CREDS_API_KEY",
        "sim-bigpanda-key",
    )];
    let report = roleplane::plan::diff(&sources(&env, &docs, false, &vars)).await;
    assert_eq!(report.summary.create, 4, "{report:#?}");
    let taken_entry = entry(&report, "taken");
    assert_eq!(taken_entry.external_id.as_deref(), Some(taken.as_str()));
    let listings = BigPanda::traffic(&env)
        .requests()
        .iter()
        .filter(|r| r.method == "GET" && r.path.ends_with("/roles"))
        .count();
    assert_eq!(listings, 1, "{:#?}", BigPanda::traffic(&env).requests());
}
