//! Namespace deletion end to end: a tenant namespace holding its credentials Secret, a config
//! and Roles is deleted with `kubectl delete namespace`; it must be gone within a minute, with
//! the product objects deleted and no finalizer removed by hand.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use k8s_openapi::api::core::v1::Namespace;
use kube::api::Api;

use crate::{Case, KEY, Suite, kubectl};

type Outcome<'a> = Pin<Box<dyn Future<Output = Result<(), String>> + 'a>>;

const ROLES: usize = 5;

/// The cases; the cluster-config one needs a cluster-wide operator
/// (`ROLEPLANE_E2E_ALL_NAMESPACES=1`), since ClusterProviderConfigs are watched only then.
pub fn cases(all_namespaces: bool) -> Vec<(&'static str, Case)> {
    let mut cases: Vec<(&'static str, Case)> = vec![(
        "namespace_deletion_with_a_namespaced_config_ends_and_cleans_up",
        with_namespaced_config,
    )];
    if all_namespaces {
        cases.push((
            "namespace_deletion_with_a_cluster_config_ends_and_cleans_up",
            with_cluster_config,
        ));
    } else {
        println!(
            "e2e: skipped namespace_deletion_with_a_cluster_config_ends_and_cleans_up: \
             ClusterProviderConfigs are watched only cluster-wide (set ROLEPLANE_E2E_ALL_NAMESPACES=1)"
        );
    }
    cases
}

fn product_name(s: &Suite, i: usize) -> String {
    format!("E2E-{}-{i}", s.ns)
}

fn tenant_roles(s: &Suite, config: &str) -> Result<(), String> {
    for i in 0..ROLES {
        s.apply(&format!(
            "apiVersion: roleplane.dev/v1alpha1\nkind: Role\nmetadata: {{name: tenant-{i}}}\n\
             spec:\n  providerConfigRef: {config}\n  name: {}\n  statsig:\n    permissions: {{createConfigs: true}}\n",
            product_name(s, i)
        ))?;
    }
    kubectl(
        &[
            "wait",
            "-n",
            &s.ns,
            "--for=condition=Ready",
            "roles.roleplane.dev",
            "--all",
            "--timeout=120s",
        ],
        None,
    )?;
    let made = in_product(s);
    if made != ROLES {
        return Err(format!(
            "{made} of {ROLES} roles in the product before deletion"
        ));
    }
    Ok(())
}

fn in_product(s: &Suite) -> usize {
    (0..ROLES)
        .filter(|i| s.sim.statsig.role(KEY, &product_name(s, *i)).is_some())
        .count()
}

/// Deletes the suite's namespace and waits (at most a minute) for it to be gone.
async fn delete_namespace_and_wait(s: &Suite) -> Result<(), String> {
    kubectl(&["delete", "namespace", &s.ns, "--wait=false"], None)?;
    let api: Api<Namespace> = Api::all(s.client.clone());
    let started = tokio::time::Instant::now();
    while started.elapsed() < Duration::from_secs(60) {
        if api
            .get_opt(&s.ns)
            .await
            .map_err(|e| e.to_string())?
            .is_none()
        {
            println!(
                "e2e: namespace {} gone {:.1}s after kubectl delete",
                s.ns,
                started.elapsed().as_secs_f64()
            );
            let left = in_product(s);
            return if left == 0 {
                Ok(())
            } else {
                Err(format!("{left} product roles left behind"))
            };
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let stuck = kubectl(
        &[
            "get",
            "roles.roleplane.dev,providerconfigs.roleplane.dev,secrets",
            "-n",
            &s.ns,
            "-o",
            "yaml",
        ],
        None,
    )
    .unwrap_or_default();
    Err(format!(
        "namespace {} still there after a minute:\n{stuck}",
        s.ns
    ))
}

fn with_namespaced_config(s: &Suite) -> Outcome<'_> {
    Box::pin(async move {
        s.statsig_account(KEY, "statsig")?;
        tenant_roles(s, "{name: statsig}")?;
        delete_namespace_and_wait(s).await
    })
}

fn with_cluster_config(s: &Suite) -> Outcome<'_> {
    Box::pin(async move {
        // The tenant's own key, in the tenant namespace, shared through a cluster config.
        s.apply(&format!(
            "apiVersion: v1\nkind: Secret\nmetadata: {{name: tenant-creds}}\nstringData: {{apiKey: {KEY}}}\n"
        ))?;
        let config = format!("{}-cluster", s.ns);
        kubectl(
            &["apply", "-f", "-"],
            Some(&format!(
                "apiVersion: roleplane.dev/v1alpha1\nkind: ClusterProviderConfig\nmetadata: {{name: {config}}}\n\
                 spec:\n  provider: statsig\n  endpoint: \"{}/statsig\"\n  \
                 credentialsSecretRef: {{name: tenant-creds, namespace: {}}}\n  allowedNamespaces: {{names: [{}]}}\n",
                s.sim_base, s.ns, s.ns
            )),
        )?;
        let result = async {
            tenant_roles(
                s,
                &format!("{{kind: ClusterProviderConfig, name: {config}}}"),
            )?;
            delete_namespace_and_wait(s).await
        }
        .await;
        let cleanup = kubectl(
            &[
                "delete",
                "clusterproviderconfig",
                &config,
                "--wait=true",
                "--timeout=60s",
            ],
            None,
        );
        result.and(cleanup.map(|_| ()))
    })
}
