//! ConfigCat permission groups end to end: kubectl apply, Ready, drift reverted, deletion, and an
//! unknown product reported as DependencyNotReady.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use kube::api::{Api, DeleteParams};
use roleplane::crd::PermissionGroup;

use super::{Suite, kubectl};

impl Suite {
    fn configcat_account(&self) -> Result<(), String> {
        self.apply(&format!(
            "apiVersion: v1\nkind: Secret\nmetadata: {{name: configcat-creds}}\nstringData: {{username: sim-user, password: sim-password}}\n---\n\
             apiVersion: roleplane.dev/v1alpha1\nkind: ProviderConfig\nmetadata: {{name: configcat}}\n\
             spec: {{provider: configcat, credentialsSecretRef: {{name: configcat-creds}}, endpoint: \"{}/configcat\"}}\n",
            self.sim_base
        ))
    }

    fn permission_group(&self, name: &str, product: &str, environment: &str) -> Result<(), String> {
        self.apply(&format!(
            "apiVersion: roleplane.dev/v1alpha1\nkind: PermissionGroup\nmetadata: {{name: {name}}}\n\
             spec:\n  providerConfigRef: {{name: configcat}}\n  name: E2E Developers\n  productId: {product}\n  \
             canCreateOrUpdateConfig: true\n  accessType: custom\n  environmentAccesses:\n  \
             - {{environmentId: {environment}, environmentAccessType: full}}\n"
        ))
    }
}

pub fn ready_reverted_and_deleted(
    s: &Suite,
) -> Pin<Box<dyn Future<Output = Result<(), String>> + '_>> {
    Box::pin(async move {
        let cc = &s.sim.configcat;
        let product = cc.add_product("E2E");
        let env = cc
            .add_environment(&product, "Production")
            .ok_or("no product")?;
        s.configcat_account()?;
        s.permission_group("developers", &product, &env)?;
        kubectl(
            &[
                "wait",
                "-n",
                &s.ns,
                "--for=condition=Ready",
                "permissiongroup/developers",
                "--timeout=90s",
            ],
            None,
        )?;
        let api: Api<PermissionGroup> = Api::namespaced(s.client.clone(), &s.ns);
        let g = api.get("developers").await.map_err(|e| e.to_string())?;
        let id: i64 = g
            .status
            .and_then(|st| st.external_id)
            .ok_or("no externalId in status")?
            .parse()
            .map_err(|_| "externalId is not numeric")?;
        cc.edit_group(id, |g| {
            g.environment_accesses.insert(env.clone(), "none".into());
        });
        for _ in 0..60 {
            let reverted = cc
                .group(id)
                .and_then(|g| g.environment_accesses.get(&env).cloned());
            if reverted.as_deref() == Some("full") {
                api.delete("developers", &DeleteParams::default())
                    .await
                    .map_err(|e| e.to_string())?;
                for _ in 0..60 {
                    if api
                        .get_opt("developers")
                        .await
                        .map_err(|e| e.to_string())?
                        .is_none()
                    {
                        return match cc.group(id) {
                            None => Ok(()),
                            Some(_) => Err("group still in the simulator after deletion".into()),
                        };
                    }
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
                return Err("PermissionGroup was not deleted".into());
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        Err("out-of-band edit was not reverted".into())
    })
}

pub fn unknown_product_is_reported(
    s: &Suite,
) -> Pin<Box<dyn Future<Output = Result<(), String>> + '_>> {
    Box::pin(async move {
        let missing = "0badc0de-0000-4000-8000-000000000000";
        let env = "0badc0de-0000-4000-8000-000000000001";
        s.configcat_account()?;
        s.permission_group("no-product", missing, env)?;
        let api: Api<PermissionGroup> = Api::namespaced(s.client.clone(), &s.ns);
        for _ in 0..120 {
            if let Ok(g) = api.get("no-product").await
                && let Some(c) = g
                    .status
                    .iter()
                    .flat_map(|st| &st.conditions)
                    .find(|c| c.reason == "DependencyNotReady")
            {
                return if c.message.contains(missing) {
                    Ok(())
                } else {
                    Err(format!("message does not name the product: {}", c.message))
                };
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        Err("no-product never reported DependencyNotReady".into())
    })
}
