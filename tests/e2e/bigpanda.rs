//! BigPanda end to end: a role in each region through `kubectl apply`, drift reverted, deletion,
//! and a US key used against the EU region.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use kube::api::{Api, DeleteParams};
use roleplane::crd::Role;
use roleplane::providers::bigpanda::sim::BigPandaSim;

use super::{Suite, kubectl};

const US_KEY: &str = "sim-bigpanda-key";
const EU_KEY: &str = "sim-bigpanda-eu-key";
const ALICE: &str = "60c5238222fa63633d935555";
const BOB: &str = "5555238222fa63633d93560c";

impl Suite {
    /// Secret + ProviderConfig `config` for `region`, at the simulator's regional prefix.
    fn bigpanda_account(&self, config: &str, region: &str, key: &str) -> Result<(), String> {
        let prefix = if region == "eu" {
            "bigpanda-eu"
        } else {
            "bigpanda"
        };
        self.apply(&format!(
            "apiVersion: v1\nkind: Secret\nmetadata: {{name: {config}-creds}}\nstringData: {{apiKey: {key}}}\n---\n\
             apiVersion: roleplane.dev/v1alpha1\nkind: ProviderConfig\nmetadata: {{name: {config}}}\n\
             spec: {{provider: bigpanda, credentialsSecretRef: {{name: {config}-creds}}, bigpanda: {{region: {region}}}, endpoint: \"{}/{prefix}\"}}\n",
            self.sim_base
        ))
    }

    fn bigpanda_role(&self, name: &str, product_name: &str, config: &str) -> Result<(), String> {
        self.apply(&format!(
            "apiVersion: roleplane.dev/v1alpha1\nkind: Role\nmetadata: {{name: {name}}}\n\
             spec:\n  providerConfigRef: {{name: {config}}}\n  name: {product_name}\n  bigpanda:\n    users: [\"{ALICE}\"]\n    \
             permissions:\n      - {{resourceType: users, actions: [read]}}\n      - {{resourceType: environments, resourceId: 624e114fb4d7581100179111, actions: [read, incident_actions]}}\n"
        ))
    }

    async fn external_id(&self, name: &str) -> Result<String, String> {
        let api: Api<Role> = Api::namespaced(self.client.clone(), &self.ns);
        let role = api.get(name).await.map_err(|e| e.to_string())?;
        role.status
            .and_then(|s| s.external_id)
            .ok_or_else(|| format!("{name}: no externalId"))
    }
}

async fn eventually(what: &str, check: impl Fn() -> bool) -> Result<(), String> {
    for _ in 0..120 {
        if check() {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    Err(format!("timed out waiting until {what}"))
}

fn has_users(sim: &BigPandaSim, id: &str, users: &[&str]) -> bool {
    sim.role(id).is_some_and(|r| r.users == users)
}

pub fn regions_drift_and_deletion(
    s: &Suite,
) -> Pin<Box<dyn Future<Output = Result<(), String>> + '_>> {
    Box::pin(async move {
        s.bigpanda_account("bigpanda-us", "us", US_KEY)?;
        s.bigpanda_account("bigpanda-eu", "eu", EU_KEY)?;
        s.bigpanda_role("noc-us", "E2E NOC", "bigpanda-us")?;
        s.bigpanda_role("noc-eu", "E2E NOC", "bigpanda-eu")?;
        for name in ["noc-us", "noc-eu"] {
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
        }
        let us_id = s.external_id("noc-us").await?;
        let eu_id = s.external_id("noc-eu").await?;
        if s.sim.bigpanda.us.role(&us_id).is_none() || s.sim.bigpanda.eu.role(&eu_id).is_none() {
            return Err("roles are not in their regions".into());
        }
        if s.sim.bigpanda.us.role(&eu_id).is_some() || s.sim.bigpanda.eu.role(&us_id).is_some() {
            return Err("a role leaked into the other region".into());
        }
        s.sim
            .bigpanda
            .us
            .edit_role(&us_id, |r| r.users = vec![BOB.into()]);
        eventually("the out-of-band member change is reverted", || {
            has_users(&s.sim.bigpanda.us, &us_id, &[ALICE])
        })
        .await?;
        let api: Api<Role> = Api::namespaced(s.client.clone(), &s.ns);
        api.delete("noc-us", &DeleteParams::default())
            .await
            .map_err(|e| e.to_string())?;
        eventually("the US role is deleted in BigPanda", || {
            s.sim.bigpanda.us.role(&us_id).is_none()
        })
        .await?;
        Ok(())
    })
}

pub fn wrong_region_key(s: &Suite) -> Pin<Box<dyn Future<Output = Result<(), String>> + '_>> {
    Box::pin(async move {
        s.bigpanda_account("bigpanda-wrong", "eu", US_KEY)?;
        s.bigpanda_role("wrong-region", "E2E Wrong Region", "bigpanda-wrong")?;
        let r = s.wait_reason("wrong-region", "CredentialsRejected").await?;
        let status = format!("{:?}", r.status);
        if status.contains(US_KEY) {
            return Err("the key appears in status".into());
        }
        if !status.contains("region") {
            return Err(format!(
                "the message does not point at the region: {status}"
            ));
        }
        if !s.sim.bigpanda.eu.roles_named("E2E Wrong Region").is_empty() {
            return Err("a role was created with a rejected key".into());
        }
        Ok(())
    })
}
