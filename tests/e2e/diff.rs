//! `roleplane diff` and `roleplane import` against the real cluster, run as a user would (the
//! built binary with KUBECONFIG): the plan reads `status.externalId` from the cluster and writes
//! nothing; the imported manifests, applied with kubectl, go Ready without a product write.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use super::{Case, KEY, Suite, kubectl};

/// Runs the built binary; returns (exit code, stdout, stderr).
fn roleplane(args: &[&str], stdin: &str) -> Result<(i32, String, String), String> {
    use std::io::Write;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_roleplane"))
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| format!("roleplane: {e}"))?;
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .map_err(|e| e.to_string())?;
    let out = child.wait_with_output().map_err(|e| e.to_string())?;
    Ok((
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    ))
}

/// Statsig calls that change something about this test's roles (other tests share the
/// simulator's project).
fn writes(s: &Suite) -> usize {
    s.sim
        .statsig
        .traffic
        .requests()
        .iter()
        .filter(|r| r.method != "GET")
        .filter(|r| {
            r.path.contains(&s.ns)
                || r.body
                    .as_ref()
                    .is_some_and(|b| b.to_string().contains(&s.ns))
        })
        .count()
}

fn role(name: &str, product_name: &str, launch: bool) -> String {
    format!(
        "apiVersion: roleplane.dev/v1alpha1\nkind: Role\nmetadata: {{name: {name}}}\n\
         spec:\n  providerConfigRef: {{name: statsig}}\n  name: {product_name}\n  statsig:\n    permissions: {{createConfigs: true, launchToProduction: {launch}}}\n"
    )
}

fn diff_and_import(s: &Suite) -> Pin<Box<dyn Future<Output = Result<(), String>> + '_>> {
    Box::pin(async move {
        let product_name = format!("E2E-Plan-{}", s.ns);
        s.statsig_account(KEY, "statsig")?;
        s.role("planned", &product_name, "statsig")?;
        kubectl(
            &[
                "wait",
                "-n",
                &s.ns,
                "--for=condition=Ready",
                "role.roleplane.dev/planned",
                "--timeout=90s",
            ],
            None,
        )?;
        let before = writes(s);

        // The plan: the Ready role changes one flag; a new one is created.
        let fresh = format!("E2E-Fresh-{}", s.ns);
        let manifests = format!(
            "{}---\n{}",
            role("planned", &product_name, true),
            role("fresh", &fresh, false)
        );
        let (code, out, err) =
            roleplane(&["diff", "-n", &s.ns, "-f", "-", "-o", "json"], &manifests)?;
        if code != 2 {
            return Err(format!("diff exit {code}: {out}{err}"));
        }
        let plan: serde_json::Value =
            serde_json::from_str(&out).map_err(|e| format!("{e}: {out}"))?;
        let actions: Vec<(String, String)> = plan["resources"]
            .as_array()
            .ok_or("no resources")?
            .iter()
            .map(|r| {
                (
                    r["name"].as_str().unwrap_or_default().to_string(),
                    r["action"].as_str().unwrap_or_default().to_string(),
                )
            })
            .collect();
        let expected = vec![
            ("planned".to_string(), "update".to_string()),
            ("fresh".to_string(), "create".to_string()),
        ];
        if actions != expected {
            return Err(format!("plan {actions:?}: {out}"));
        }
        if plan["resources"][0]["fields"][0]["field"] != "statsig.permissions.launchToProduction" {
            return Err(format!("fields: {out}"));
        }

        // Import: the role made by hand comes out; the managed one does not.
        let by_hand = format!("E2E-ByHand-{}", s.ns);
        s.sim
            .statsig
            .put_role(KEY, &by_hand, [("create_configs".to_string(), true)].into());
        let config = format!("{}/statsig", s.ns);
        let (code, out, err) = roleplane(&["import", "--provider-config", &config], "")?;
        if code != 0 {
            return Err(format!("import exit {code}: {out}{err}"));
        }
        if !out.contains(&by_hand) || out.contains(&format!("externalId: {product_name}")) {
            return Err(format!("import printed:\n{out}"));
        }
        // Only this test's object: other tests share the simulator's Statsig project.
        let ours: Vec<&str> = out
            .split("---\n")
            .filter(|doc| doc.contains(&by_hand))
            .collect();
        let [manifest] = ours.as_slice() else {
            return Err(format!("import printed:\n{out}"));
        };
        s.apply(manifest)?;
        let name = manifest
            .lines()
            .find_map(|l| {
                l.trim()
                    .strip_prefix("name: ")
                    .filter(|n| n.starts_with("e2e-byhand"))
            })
            .ok_or_else(|| format!("no name in {manifest}"))?
            .to_string();
        kubectl(
            &[
                "wait",
                "-n",
                &s.ns,
                "--for=condition=Ready",
                &format!("role.roleplane.dev/{name}"),
                "--timeout=90s",
            ],
            None,
        )?;
        tokio::time::sleep(Duration::from_secs(4)).await;
        if writes(s) != before {
            return Err(format!(
                "diff or the imported role wrote to Statsig: {:?}",
                s.sim.statsig.traffic.requests()
            ));
        }
        Ok(())
    })
}

pub fn cases() -> Vec<(&'static str, Case)> {
    vec![(
        "diff_plans_from_the_cluster_and_import_round_trips_without_writes",
        diff_and_import,
    )]
}
