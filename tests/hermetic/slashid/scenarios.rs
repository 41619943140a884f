//! SlashID roles through the real controller loop: create with permissions made on demand,
//! permission changes, drift, delete/orphan, observe-only, adoption, 408 on create and update.

use roleplane::crd::{ConditionStatus, ProviderKind, Role};
use roleplane::sim::slashid::Switches;
use serde_json::{Value, json};

use crate::harness::*;

const ORG: &str = "sim-org";
const KEY: &str = "sim-slashid-key";
const ID: &str = "sim-org/billing-viewer";

fn spec(permissions: &[&str]) -> Value {
    json!({
        "providerConfigRef": {"name": "slashid"},
        "name": "billing-viewer",
        "slashid": {"description": "Billing viewers", "permissions": permissions},
    })
}

/// Secret + ProviderConfig `slashid` for the simulator's organisation.
async fn account(env: &Env, key: &str, org: &str) {
    env.secret(NS, "slashid-creds", &[("apiKey", key)]).await;
    env.provider_config(
        NS,
        "slashid",
        "slashid",
        "slashid-creds",
        json!({"slashid": {"orgId": org}}),
    )
    .await;
}

fn calls(env: &Env) -> Vec<String> {
    env.sim
        .traffic(ProviderKind::SlashId)
        .requests()
        .into_iter()
        .map(|r| format!("{} {} {}", r.method, r.path, r.status))
        .collect()
}

fn mutations(env: &Env) -> Vec<String> {
    calls(env)
        .into_iter()
        .filter(|c| !c.starts_with("GET"))
        .collect()
}

fn count(env: &Env, prefix: &str) -> usize {
    calls(env).iter().filter(|c| c.starts_with(prefix)).count()
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn role_is_created_with_prefixed_external_id_and_missing_permissions() {
    let env = Env::start().await;
    account(&env, KEY, ORG).await;
    env.sim.slashid.put_permission(ORG, "audit.read");
    env.role(NS, "billing", spec(&["billing.read", "audit.read"]))
        .await;
    let role = env.wait_role(NS, "billing", "Ready", is_ready).await;
    let status = role.status.expect("status");
    assert_eq!(status.external_id.as_deref(), Some(ID));
    assert_eq!(status.provider, Some(ProviderKind::SlashId));
    let stored = env.sim.slashid.role(ID).expect("role in SlashID");
    assert_eq!(stored.description.as_deref(), Some("Billing viewers"));
    assert_eq!(
        sorted(stored.permissions),
        vec!["audit.read", "billing.read"]
    );
    assert_eq!(
        env.sim.slashid.permissions(ORG),
        vec!["audit.read", "billing.read"]
    );
    assert_eq!(
        count(&env, "POST /rbac/permissions"),
        1,
        "only the missing permission is created"
    );
    assert!(
        env.events(NS, "billing")
            .await
            .iter()
            .any(|(_, r, n)| r == "Created" && n.contains(ID))
    );
    super::assert_bodies(env.sim.traffic(ProviderKind::SlashId).requests());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn permission_added_then_removed_by_spec_change_keeps_permission_objects() {
    let env = Env::start().await;
    account(&env, KEY, ORG).await;
    env.role(NS, "billing", spec(&["billing.read"])).await;
    env.wait_role(NS, "billing", "Ready", is_ready).await;

    env.patch_spec::<Role>(
        NS,
        "billing",
        json!({"slashid": {"permissions": ["billing.read", "billing.write"]}}),
    )
    .await;
    env.wait_role(NS, "billing", "generation 2 Ready", |s| {
        s.observed_generation == Some(2) && is_ready(s)
    })
    .await;
    assert_eq!(
        sorted(env.sim.slashid.role(ID).expect("role").permissions),
        vec!["billing.read", "billing.write"]
    );
    let note = env.wait_event(NS, "billing", "Updated").await;
    assert!(note.contains("slashid.permissions"), "{note}");

    env.patch_spec::<Role>(
        NS,
        "billing",
        json!({"slashid": {"permissions": ["billing.write"]}}),
    )
    .await;
    env.wait_role(NS, "billing", "generation 3 Ready", |s| {
        s.observed_generation == Some(3) && is_ready(s)
    })
    .await;
    assert_eq!(
        env.sim.slashid.role(ID).expect("role").permissions,
        vec!["billing.write"]
    );
    assert_eq!(
        env.sim.slashid.permissions(ORG),
        vec!["billing.read", "billing.write"],
        "permission objects are never deleted"
    );
    assert_eq!(count(&env, "DELETE"), 0);
    super::assert_bodies(env.sim.traffic(ProviderKind::SlashId).requests());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn out_of_band_edit_is_corrected_on_the_next_poll_with_an_event() {
    let env = Env::start().await;
    account(&env, KEY, ORG).await;
    env.role(NS, "billing", spec(&["billing.read"])).await;
    env.wait_role(NS, "billing", "Ready", is_ready).await;
    env.sim
        .slashid
        .put_role(ID, Some("hand edited"), &["billing.read", "admin.all"]);
    let note = env.wait_event(NS, "billing", "DriftCorrected").await;
    assert!(
        note.contains("slashid.permissions") && note.contains("slashid.description"),
        "{note}"
    );
    let stored = env.sim.slashid.role(ID).expect("role");
    assert_eq!(stored.permissions, vec!["billing.read"]);
    assert_eq!(stored.description.as_deref(), Some("Billing viewers"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_the_role_deletes_it_in_slashid_but_not_its_permissions() {
    let env = Env::start().await;
    account(&env, KEY, ORG).await;
    env.role(NS, "billing", spec(&["billing.read"])).await;
    env.wait_role(NS, "billing", "Ready", is_ready).await;
    env.delete::<Role>(NS, "billing").await;
    env.wait_gone::<Role>(NS, "billing").await;
    assert_eq!(env.sim.slashid.role(ID), None);
    assert_eq!(env.sim.slashid.permissions(ORG), vec!["billing.read"]);
    assert!(calls(&env).contains(&"DELETE /rbac/roles/sim-org%2Fbilling-viewer 204".to_string()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orphan_policy_leaves_the_role_in_slashid() {
    let env = Env::start().await;
    account(&env, KEY, ORG).await;
    let mut s = spec(&["billing.read"]);
    s["deletionPolicy"] = "Orphan".into();
    env.role(NS, "billing", s).await;
    env.wait_role(NS, "billing", "Ready", is_ready).await;
    env.delete::<Role>(NS, "billing").await;
    env.wait_gone::<Role>(NS, "billing").await;
    assert!(env.sim.slashid.role(ID).is_some());
    assert_eq!(count(&env, "DELETE"), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn observe_only_reports_drift_and_never_writes() {
    let env = Env::start().await;
    account(&env, KEY, ORG).await;
    env.sim
        .slashid
        .put_role(ID, Some("Billing viewers"), &["admin.all"]);
    let mut s = spec(&["billing.read"]);
    s["managementPolicy"] = "ObserveOnly".into();
    env.role(NS, "billing", s).await;
    let role = env
        .wait_role(NS, "billing", "Drifted", |s| {
            matches!(condition(s, "Ready"), Some((ConditionStatus::False, r, _)) if r == "Drifted")
        })
        .await;
    let (_, _, message) = condition(role.status.as_ref().expect("status"), "Ready").expect("Ready");
    assert!(message.contains("slashid.permissions"), "{message}");
    env.delete::<Role>(NS, "billing").await;
    env.wait_gone::<Role>(NS, "billing").await;
    assert!(
        mutations(&env).is_empty(),
        "observe-only wrote: {:?}",
        mutations(&env)
    );
    assert_eq!(
        env.sim.slashid.role(ID).expect("role").permissions,
        vec!["admin.all"]
    );
    assert_eq!(
        env.sim.slashid.permissions(ORG),
        vec!["admin.all"],
        "observe-only creates no permission objects either"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn existing_role_is_adopted_by_its_full_name_and_corrected() {
    let env = Env::start().await;
    account(&env, KEY, ORG).await;
    env.sim.slashid.put_role(ID, Some("old"), &["admin.all"]);
    let mut s = spec(&["billing.read"]);
    s["externalId"] = ID.into();
    env.role(NS, "billing", s).await;
    let role = env.wait_role(NS, "billing", "Ready", is_ready).await;
    assert_eq!(
        role.status.expect("status").external_id.as_deref(),
        Some(ID)
    );
    env.wait_event(NS, "billing", "Adopted").await;
    let stored = env.sim.slashid.role(ID).expect("role");
    assert_eq!(stored.permissions, vec!["billing.read"]);
    assert_eq!(stored.description.as_deref(), Some("Billing viewers"));
    assert_eq!(count(&env, "POST /rbac/roles"), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn same_named_role_without_external_id_is_already_exists() {
    let env = Env::start().await;
    account(&env, KEY, ORG).await;
    env.sim.slashid.put_role(ID, Some("theirs"), &["admin.all"]);
    env.role(NS, "billing", spec(&["billing.read"])).await;
    let role = env
        .wait_role(NS, "billing", "AlreadyExists", failed_with("AlreadyExists"))
        .await;
    assert!(!is_ready(role.status.as_ref().expect("status")));
    assert!(synced_message(&role).contains("spec.externalId"));
    assert!(
        mutations(&env).is_empty(),
        "took over a role it did not create: {:?}",
        mutations(&env)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_408_on_create_is_re_observed_and_adopted_not_duplicated() {
    let env = Env::start().await;
    account(&env, KEY, ORG).await;
    env.sim.slashid.put_permission(ORG, "billing.read");
    env.sim.slashid.set_apply_then_408_next(1);
    env.role(NS, "billing", spec(&["billing.read"])).await;
    let role = env.wait_role(NS, "billing", "Ready", is_ready).await;
    assert_eq!(
        role.status.expect("status").external_id.as_deref(),
        Some(ID)
    );
    assert_eq!(
        count(&env, "POST /rbac/roles"),
        1,
        "the 408'd create landed; no second create: {:?}",
        calls(&env)
    );
    assert!(calls(&env).contains(&"POST /rbac/roles 408".to_string()));
    let note = env.wait_event(NS, "billing", "Adopted").await;
    assert!(note.contains(ID), "{note}");
    assert_eq!(env.sim.slashid.roles(ORG), vec![ID]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_408_while_creating_a_missing_permission_is_retried_to_ready() {
    let env = Env::start().await;
    account(&env, KEY, ORG).await;
    env.sim.slashid.set_apply_then_408_next(1);
    env.role(NS, "billing", spec(&["billing.read"])).await;
    env.wait_role(NS, "billing", "Ready", is_ready).await;
    assert!(calls(&env).contains(&"POST /rbac/permissions 408".to_string()));
    assert_eq!(
        count(&env, "POST /rbac/permissions"),
        1,
        "{:?}",
        calls(&env)
    );
    assert_eq!(count(&env, "POST /rbac/roles"), 1);
    assert_eq!(env.sim.slashid.permissions(ORG), vec!["billing.read"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_408_on_update_is_re_observed_and_not_written_twice() {
    let env = Env::start().await;
    account(&env, KEY, ORG).await;
    env.role(NS, "billing", spec(&["billing.read"])).await;
    env.wait_role(NS, "billing", "Ready", is_ready).await;
    env.sim.slashid.set_apply_then_408_next(1);
    env.patch_spec::<Role>(
        NS,
        "billing",
        json!({"slashid": {"description": "Invoices"}}),
    )
    .await;
    env.wait_role(NS, "billing", "generation 2 Ready", |s| {
        s.observed_generation == Some(2) && is_ready(s)
    })
    .await;
    assert_eq!(
        env.sim
            .slashid
            .role(ID)
            .expect("role")
            .description
            .as_deref(),
        Some("Invoices")
    );
    let patches: Vec<String> = calls(&env)
        .into_iter()
        .filter(|c| c.starts_with("PATCH"))
        .collect();
    assert_eq!(
        patches,
        vec!["PATCH /rbac/roles/sim-org%2Fbilling-viewer 408"],
        "the 408'd PATCH landed; re-observing found nothing left to write"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_name_is_refused_by_the_crd_rules_without_product_call() {
    let env = Env::start().await;
    account(&env, KEY, ORG).await;
    let mut s = spec(&["billing.read"]);
    s["name"] = "billing/viewer".into();
    let refused = env
        .try_role(NS, "billing", s)
        .await
        .expect_err("the API server refuses the name");
    let kube::Error::Api(status) = refused else {
        panic!("unexpected error {refused}")
    };
    assert_eq!(status.code, 422);
    assert!(
        status.message.contains("SlashID role names"),
        "{}",
        status.message
    );
    assert!(mutations(&env).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pricing_tier_402_is_provider_rejected_with_slashids_message() {
    let env = Env::start().await;
    account(&env, KEY, ORG).await;
    env.sim.slashid.set_switches(Switches {
        max_roles: Some(0),
        ..Default::default()
    });
    env.role(NS, "billing", spec(&[])).await;
    let role = env
        .wait_role(
            NS,
            "billing",
            "ProviderRejected",
            failed_with("ProviderRejected"),
        )
        .await;
    let message = synced_message(&role);
    assert!(
        message.contains("HTTP 402") && message.contains("pricing tier"),
        "{message}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_key_or_org_is_credentials_rejected_and_never_shown() {
    let env = Env::start().await;
    let secret_value = "slashid-WRONGKEY-0123456789";
    account(&env, secret_value, ORG).await;
    env.role(NS, "billing", spec(&[])).await;
    let role = env
        .wait_role(
            NS,
            "billing",
            "CredentialsRejected",
            failed_with("CredentialsRejected"),
        )
        .await;
    assert!(synced_message(&role).contains("HTTP 401"));
    let everything = format!("{:?}{:?}", role.status, env.events(NS, "billing").await);
    assert!(
        !everything.contains("WRONGKEY"),
        "secret leaked: {everything}"
    );

    // The right key for another organisation: 403.
    account(&env, KEY, "someone-elses-org").await;
    let role = env
        .wait_role(NS, "billing", "CredentialsRejected (403)", |s| {
            failed_with("CredentialsRejected")(s)
                && condition(s, "Synced").is_some_and(|c| c.2.contains("HTTP 403"))
        })
        .await;
    assert!(synced_message(&role).contains("someone-elses-org"));
}
