//! Tenant guardrails end to end: the chart's admission policy (from `deploy/`) refuses
//! `kubectl apply` of a Role over its namespace's RoleplanePolicy with the policy's message
//! (Kubernetes 1.30+), and a Role created before its policy is denied at reconcile time.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use kube::api::Api;
use roleplane::crd::{ProviderKind, Role};
use serde::Deserialize;

use crate::{Case, KEY, Suite, kubectl};

type Outcome<'a> = Pin<Box<dyn Future<Output = Result<(), String>> + 'a>>;

pub fn cases() -> Vec<(&'static str, Case)> {
    vec![
        (
            "guardrails_kubectl_apply_over_the_ceiling_is_refused_with_the_policy_message",
            refused_at_admission,
        ),
        (
            "guardrails_role_made_before_its_policy_is_denied_at_reconcile",
            denied_at_reconcile,
        ),
    ]
}

/// Applies the guardrails ValidatingAdmissionPolicy and binding that `deploy/` ships; false
/// when the cluster has no ValidatingAdmissionPolicy API (older than 1.30).
fn apply_admission_policy() -> Result<bool, String> {
    let rendered = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/deploy/roleplane.yaml"
    ))
    .map_err(|e| e.to_string())?;
    let mut docs = Vec::new();
    for doc in serde_yaml_ng::Deserializer::from_str(&rendered) {
        let value = serde_yaml_ng::Value::deserialize(doc).map_err(|e| e.to_string())?;
        let kind = value.get("kind").and_then(|k| k.as_str()).unwrap_or("");
        let name = value
            .get("metadata")
            .and_then(|m| m.get("name"))
            .and_then(|n| n.as_str())
            .unwrap_or("");
        if kind.starts_with("ValidatingAdmissionPolicy") && name == "roleplane-guardrails" {
            docs.push(serde_yaml_ng::to_string(&value).map_err(|e| e.to_string())?);
        }
    }
    match kubectl(&["apply", "-f", "-"], Some(&docs.join("---\n"))) {
        Ok(_) => Ok(true),
        Err(e) if e.contains("no matches for kind") => Ok(false),
        Err(e) => Err(e),
    }
}

fn policy(s: &Suite, name: &str, denied: &str) -> Result<(), String> {
    kubectl(
        &["apply", "-f", "-"],
        Some(&format!(
            "apiVersion: roleplane.dev/v1alpha1\nkind: RoleplanePolicy\nmetadata: {{name: {name}}}\n\
             spec:\n  namespaces: {{names: [{}]}}\n  statsig: {{deniedPermissions: [{denied}]}}\n",
            s.ns
        )),
    )
    .map(|_| ())
}

fn role(flags: &str) -> String {
    format!(
        "apiVersion: roleplane.dev/v1alpha1\nkind: Role\nmetadata: {{name: tenant}}\n\
         spec:\n  providerConfigRef: {{name: statsig}}\n  name: E2E-Guarded\n  statsig:\n    permissions: {{{flags}}}\n"
    )
}

fn refused_at_admission(s: &Suite) -> Outcome<'_> {
    Box::pin(async move {
        if !apply_admission_policy()? {
            println!(
                "e2e: guardrails admission skipped: no ValidatingAdmissionPolicy API (< 1.30)"
            );
            return Ok(());
        }
        let name = format!("{}-admission", s.ns);
        policy(s, &name, "launchToProduction")?;
        s.statsig_account(KEY, "statsig")?;
        let want =
            format!("RoleplanePolicy {name} does not allow statsig permission: launchToProduction");
        // The API server picks up new policies and parameters within seconds.
        let mut last = String::new();
        for _ in 0..40 {
            match s.apply(&role("createConfigs: true, launchToProduction: true")) {
                Err(e) if e.contains(&want) => {
                    last.clear();
                    break;
                }
                Err(e) => last = e,
                Ok(_) => {
                    last = "kubectl apply was accepted".into();
                    let _ = kubectl(
                        &["delete", "role.roleplane.dev", "tenant", "-n", &s.ns],
                        None,
                    );
                }
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        let result = if last.is_empty() {
            // Under the ceiling: accepted, and created.
            s.apply(&role("createConfigs: true, launchToProduction: false"))
        } else {
            Err(format!("want a refusal naming {want:?}; last: {last}"))
        };
        let _ = kubectl(&["delete", "roleplanepolicy", &name], None);
        result
    })
}

fn denied_at_reconcile(s: &Suite) -> Outcome<'_> {
    Box::pin(async move {
        s.statsig_account(KEY, "statsig")?;
        s.apply(&role("createConfigs: true"))?;
        kubectl(
            &[
                "wait",
                "-n",
                &s.ns,
                "--for=condition=Ready",
                "role.roleplane.dev/tenant",
                "--timeout=90s",
            ],
            None,
        )?;
        let writes = || {
            s.sim
                .traffic(ProviderKind::Statsig)
                .requests()
                .iter()
                .filter(|q| q.method != "GET" && q.path.contains("E2E-Guarded"))
                .count()
        };
        let before = writes();
        // The policy comes after the Role: admission never saw it; the reconciler must.
        let name = format!("{}-reconcile", s.ns);
        policy(s, &name, "createConfigs")?;
        let result = async {
            let role = s.wait_reason("tenant", "PolicyDenied").await?;
            let message = format!("{:?}", role.status);
            if !message.contains(&format!(
                "RoleplanePolicy {name} does not allow statsig permission: createConfigs"
            )) {
                return Err(format!(
                    "status does not name the policy and permission: {message}"
                ));
            }
            let events = kubectl(
                &[
                    "get",
                    "events",
                    "-n",
                    &s.ns,
                    "--field-selector",
                    "reason=PolicyDenied",
                    "-o",
                    "name",
                ],
                None,
            )?;
            if events.trim().is_empty() {
                return Err("no PolicyDenied event".into());
            }
            if writes() != before {
                return Err("a product write happened while denied".into());
            }
            // Deletion still works and removes the product object.
            let api: Api<Role> = Api::namespaced(s.client.clone(), &s.ns);
            kubectl(
                &[
                    "delete",
                    "role.roleplane.dev",
                    "tenant",
                    "-n",
                    &s.ns,
                    "--timeout=60s",
                ],
                None,
            )?;
            if api
                .get_opt("tenant")
                .await
                .map_err(|e| e.to_string())?
                .is_some()
            {
                return Err("the Role was not deleted".into());
            }
            match s.sim.statsig.role(KEY, "E2E-Guarded") {
                None => Ok(()),
                Some(_) => Err("the product role is still there after deletion".into()),
            }
        }
        .await;
        let _ = kubectl(&["delete", "roleplanepolicy", &name], None);
        result
    })
}
