//! SlashID cases for the end-to-end suite: a role goes Ready under its `{orgId}/{name}` id with
//! its permissions created, drift is reverted, deletion keeps permission objects; the real API
//! server enforces the CRD's name rules; a 408 on create ends with one adopted role.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use kube::api::{Api, DeleteParams};
use roleplane::crd::{ProviderKind, Role};

use super::{Suite, kubectl};

const KEY: &str = "sim-slashid-key";
const ORG: &str = "sim-org";

fn account(s: &Suite) -> Result<(), String> {
    s.apply(&format!(
        "apiVersion: v1\nkind: Secret\nmetadata: {{name: slashid-creds}}\nstringData: {{apiKey: {KEY}}}\n---\n\
         apiVersion: roleplane.dev/v1alpha1\nkind: ProviderConfig\nmetadata: {{name: slashid}}\n\
         spec: {{provider: slashid, credentialsSecretRef: {{name: slashid-creds}}, endpoint: \"{}/slashid\", \
         slashid: {{orgId: {ORG}}}}}\n",
        s.sim_base
    ))
}

fn role_yaml(name: &str, product_name: &str, permissions: &str) -> String {
    format!(
        "apiVersion: roleplane.dev/v1alpha1\nkind: Role\nmetadata: {{name: {name}}}\n\
         spec:\n  providerConfigRef: {{name: slashid}}\n  name: \"{product_name}\"\n  slashid:\n    \
         description: E2E\n    permissions: {permissions}\n"
    )
}

async fn poll(what: &str, mut check: impl FnMut() -> bool) -> Result<(), String> {
    for _ in 0..120 {
        if check() {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    Err(format!("timed out waiting for {what}"))
}

async fn external_id(s: &Suite, name: &str) -> Result<String, String> {
    let api: Api<Role> = Api::namespaced(s.client.clone(), &s.ns);
    let role = api.get(name).await.map_err(|e| e.to_string())?;
    role.status
        .and_then(|st| st.external_id)
        .ok_or_else(|| "no externalId in status".to_string())
}

pub fn ready_drift_and_delete(s: &Suite) -> Pin<Box<dyn Future<Output = Result<(), String>> + '_>> {
    Box::pin(async move {
        account(s)?;
        s.apply(&role_yaml(
            "sid-billing",
            "e2e-billing",
            "[e2e.billing.read, e2e.audit.read]",
        ))?;
        kubectl(
            &[
                "wait",
                "-n",
                &s.ns,
                "--for=condition=Ready",
                "role.roleplane.dev/sid-billing",
                "--timeout=90s",
            ],
            None,
        )?;
        let full = "sim-org/e2e-billing";
        let id = external_id(s, "sid-billing").await?;
        if id != full {
            return Err(format!("externalId {id}, expected {full}"));
        }
        let perms = s.sim.slashid.permissions(ORG);
        if !perms.contains(&"e2e.billing.read".to_string())
            || !perms.contains(&"e2e.audit.read".to_string())
        {
            return Err(format!("permissions not created: {perms:?}"));
        }
        s.sim
            .slashid
            .put_role(full, Some("hand edited"), &["e2e.audit.read"]);
        poll("the out-of-band edit to be reverted", || {
            s.sim.slashid.role(full).is_some_and(|r| {
                r.permissions.len() == 2 && r.description.as_deref() == Some("E2E")
            })
        })
        .await?;
        let api: Api<Role> = Api::namespaced(s.client.clone(), &s.ns);
        api.delete("sid-billing", &DeleteParams::default())
            .await
            .map_err(|e| e.to_string())?;
        poll("the role to be deleted in SlashID", || {
            s.sim.slashid.role(full).is_none()
        })
        .await?;
        if !s
            .sim
            .slashid
            .permissions(ORG)
            .contains(&"e2e.billing.read".to_string())
        {
            return Err("a permission object was deleted".into());
        }
        Ok(())
    })
}

pub fn crd_enforces_name_rules(
    s: &Suite,
) -> Pin<Box<dyn Future<Output = Result<(), String>> + '_>> {
    Box::pin(async move {
        account(s)?;
        for bad in ["sim-org/with-prefix", "-dash-start", "x"] {
            match s.apply(&role_yaml("sid-bad", bad, "[]")) {
                Err(e) if e.contains("SlashID role names") => {}
                Err(e) => return Err(format!("{bad:?} rejected for another reason: {e}")),
                Ok(()) => return Err(format!("the API server accepted SlashID role name {bad:?}")),
            }
        }
        s.apply(&role_yaml("sid-fixed", "e2e-fixed", "[]"))?;
        match s.apply(&role_yaml("sid-fixed", "e2e-renamed", "[]")) {
            Err(e) if e.contains("name is immutable") => Ok(()),
            Err(e) => Err(format!("rename rejected for another reason: {e}")),
            Ok(()) => Err("the API server accepted a rename of a SlashID role".into()),
        }
    })
}

pub fn timeout_408_on_create_is_adopted_once(
    s: &Suite,
) -> Pin<Box<dyn Future<Output = Result<(), String>> + '_>> {
    Box::pin(async move {
        account(s)?;
        s.sim.slashid.put_permission(ORG, "e2e.slow");
        s.sim.slashid.set_apply_then_408_next(1);
        s.apply(&role_yaml("sid-slow", "e2e-slow", "[e2e.slow]"))?;
        kubectl(
            &[
                "wait",
                "-n",
                &s.ns,
                "--for=condition=Ready",
                "role.roleplane.dev/sid-slow",
                "--timeout=90s",
            ],
            None,
        )?;
        let id = external_id(s, "sid-slow").await?;
        if id != "sim-org/e2e-slow" {
            return Err(format!("externalId {id}"));
        }
        let creates: Vec<u16> = s
            .sim
            .traffic(ProviderKind::SlashId)
            .requests()
            .iter()
            .filter(|r| r.method == "POST" && r.path == "/rbac/roles")
            .filter(|r| {
                r.body
                    .as_ref()
                    .is_some_and(|b| b["name"] == "sim-org/e2e-slow")
            })
            .map(|r| r.status)
            .collect();
        if creates != [408] {
            return Err(format!(
                "creates of sim-org/e2e-slow answered {creates:?}; expected one (408)"
            ));
        }
        Ok(())
    })
}
