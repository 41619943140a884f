//! Looker cases of the end-to-end suite: inline sets (drift reverted, deletion order), switching
//! to a referenced set and back, and a token expiring while the operator runs.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use kube::api::{Api, DeleteParams};
use roleplane::crd::{ProviderKind, Role};
use roleplane::providers::looker::sim::SetKind;

use crate::{Case, Suite, kubectl};

type Outcome<'a> = Pin<Box<dyn Future<Output = Result<(), String>> + 'a>>;

pub fn cases() -> [(&'static str, Case); 3] {
    [
        (
            "looker_inline_role_is_reverted_and_deleted_before_its_sets",
            inline_role,
        ),
        (
            "looker_switches_between_inline_and_referenced_sets",
            switching,
        ),
        ("looker_token_expiry_mid_run_is_survived", token_expiry),
    ]
}

fn account(s: &Suite) -> Result<(), String> {
    s.apply(&format!(
        "apiVersion: v1\nkind: Secret\nmetadata: {{name: looker-creds}}\n\
         stringData: {{clientId: sim-client-id, clientSecret: sim-client-secret}}\n---\n\
         apiVersion: roleplane.dev/v1alpha1\nkind: ProviderConfig\nmetadata: {{name: looker}}\n\
         spec: {{provider: looker, credentialsSecretRef: {{name: looker-creds}}, endpoint: \"{}/looker\"}}\n",
        s.sim_base
    ))
}

fn inline(name: &str, product_name: &str, permissions: &str) -> String {
    format!(
        "apiVersion: roleplane.dev/v1alpha1\nkind: Role\nmetadata: {{name: {name}}}\n\
         spec:\n  providerConfigRef: {{name: looker}}\n  name: {product_name}\n  looker:\n\
         \x20   permissionSet: {{permissions: [{permissions}]}}\n    modelSet: {{models: [thelook]}}\n"
    )
}

async fn ready_id(s: &Suite, name: &str, generation: i64) -> Result<String, String> {
    let api: Api<Role> = Api::namespaced(s.client.clone(), &s.ns);
    for _ in 0..120 {
        if let Ok(r) = api.get(name).await
            && let Some(st) = &r.status
            && st.observed_generation == Some(generation)
            && st
                .conditions
                .iter()
                .any(|c| c.r#type == "Ready" && c.status == roleplane::crd::ConditionStatus::True)
            && let Some(id) = &st.external_id
        {
            return Ok(id.clone());
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    Err(format!(
        "{name} never became Ready at generation {generation}"
    ))
}

async fn eventually(what: &str, check: impl Fn() -> bool) -> Result<(), String> {
    for _ in 0..120 {
        if check() {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    Err(format!("timed out waiting for {what}"))
}

fn inline_role(s: &Suite) -> Outcome<'_> {
    Box::pin(async move {
        account(s)?;
        s.apply(&inline(
            "looker-analysts",
            "E2E-Analyst",
            "access_data, see_looks",
        ))?;
        kubectl(
            &[
                "wait",
                "-n",
                &s.ns,
                "--for=condition=Ready",
                "role.roleplane.dev/looker-analysts",
                "--timeout=90s",
            ],
            None,
        )?;
        let id = ready_id(s, "looker-analysts", 1).await?;
        let role = s
            .sim
            .looker
            .role(&id)
            .ok_or("role missing in the simulator")?;
        let ps = s
            .sim
            .looker
            .set(SetKind::Permission, &role.permission_set_id)
            .ok_or("no permission set")?;
        if ps.name != "roleplane:E2E-Analyst" {
            return Err(format!("owned set named {:?}", ps.name));
        }
        s.sim
            .looker
            .edit_set(SetKind::Permission, &ps.id, None, Some(&["access_data"]));
        eventually("the owned set to be reverted", || {
            s.sim
                .looker
                .set(SetKind::Permission, &ps.id)
                .is_some_and(|p| p.items.len() == 2)
        })
        .await?;
        let api: Api<Role> = Api::namespaced(s.client.clone(), &s.ns);
        api.delete("looker-analysts", &DeleteParams::default())
            .await
            .map_err(|e| e.to_string())?;
        eventually("the role and its sets to go", || {
            s.sim.looker.role(&id).is_none()
                && s.sim.looker.set(SetKind::Permission, &ps.id).is_none()
        })
        .await?;
        let deletes: Vec<String> = s
            .sim
            .traffic(ProviderKind::Looker)
            .requests()
            .into_iter()
            .filter(|r| r.method == "DELETE")
            .map(|r| r.path)
            .collect();
        let role_at = deletes
            .iter()
            .position(|p| p.ends_with(&format!("/roles/{id}")));
        let set_at = deletes
            .iter()
            .position(|p| p.ends_with(&format!("/permission_sets/{}", ps.id)));
        match (role_at, set_at) {
            (Some(r), Some(p)) if r < p => Ok(()),
            _ => Err(format!("deletion order: {deletes:?}")),
        }
    })
}

fn switching(s: &Suite) -> Outcome<'_> {
    Box::pin(async move {
        account(s)?;
        let viewer = s.sim.looker.insert_set(
            SetKind::Permission,
            "E2E-Viewer",
            &["access_data", "see_looks"],
        );
        s.apply(&inline("looker-switch", "E2E-Switch", "access_data"))?;
        let id = ready_id(s, "looker-switch", 1).await?;
        let owned = s
            .sim
            .looker
            .role(&id)
            .ok_or("role missing")?
            .permission_set_id;
        s.apply(
            "apiVersion: roleplane.dev/v1alpha1\nkind: Role\nmetadata: {name: looker-switch}\n\
             spec:\n  providerConfigRef: {name: looker}\n  name: E2E-Switch\n  looker:\n\
             \x20   permissionSetRef: {name: E2E-Viewer}\n    modelSet: {models: [thelook]}\n",
        )?;
        ready_id(s, "looker-switch", 2).await?;
        if s.sim.looker.role(&id).map(|r| r.permission_set_id) != Some(viewer.clone()) {
            return Err("the role does not use the referenced set".into());
        }
        if s.sim.looker.set(SetKind::Permission, &owned).is_some() {
            return Err("the unused owned set was kept".into());
        }
        s.apply(&inline(
            "looker-switch",
            "E2E-Switch",
            "access_data, see_looks",
        ))?;
        ready_id(s, "looker-switch", 3).await?;
        let now = s
            .sim
            .looker
            .role(&id)
            .ok_or("role missing")?
            .permission_set_id;
        let set = s
            .sim
            .looker
            .set(SetKind::Permission, &now)
            .ok_or("no set")?;
        if set.name != "roleplane:E2E-Switch"
            || s.sim.looker.set(SetKind::Permission, &viewer).is_none()
        {
            return Err(format!("after switching back the role uses {:?}", set.name));
        }
        Ok(())
    })
}

fn token_expiry(s: &Suite) -> Outcome<'_> {
    Box::pin(async move {
        account(s)?;
        s.apply(&inline("looker-tokens", "E2E-Tokens", "access_data"))?;
        let id = ready_id(s, "looker-tokens", 1).await?;
        s.sim.looker.expire_tokens();
        s.apply(&inline(
            "looker-tokens",
            "E2E-Tokens",
            "access_data, see_looks",
        ))?;
        ready_id(s, "looker-tokens", 2).await?;
        let ps = s
            .sim
            .looker
            .role(&id)
            .ok_or("role missing")?
            .permission_set_id;
        match s.sim.looker.set(SetKind::Permission, &ps) {
            Some(set) if set.items.len() == 2 => Ok(()),
            other => Err(format!(
                "the change after token expiry was not applied: {other:?}"
            )),
        }
    })
}
