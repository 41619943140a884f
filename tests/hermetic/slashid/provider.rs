//! SlashID provider against the in-process simulator: create (204, read back), observe and
//! drift, update with If-Match, list, delete, permissions created on demand, 408 as an unknown
//! outcome, 402/400/409 answers, credentials, 429 and 5xx, request bodies against the spec.

use crate::harness::test_providers;
use std::time::Duration;

use roleplane::crd::{ProviderKind, ProviderSettings, SlashIdRole, SlashIdSettings};
use roleplane::providers::{Account, Credentials, ErrorClass, Listed, Providers, Spec, Target};
use roleplane::sim::slashid::Switches;
use roleplane::sim::{Faults, RateLimit, RecordedRequest, SimCredentials, Simulator};
use serde_json::{Value, json};

use crate::openapi::OpenApi;

const ORG: &str = "sim-org";
const KEY: &str = "sim-slashid-key";

struct Env {
    sim: Simulator,
    base: String,
    providers: Providers,
    account: Account,
}

async fn env() -> Env {
    let (sim, base) = Simulator::start(SimCredentials::default()).await.unwrap();
    let account = account(&base, KEY, ORG);
    Env {
        sim,
        base,
        providers: test_providers(),
        account,
    }
}

fn account(base: &str, key: &str, org: &str) -> Account {
    Account {
        provider: ProviderKind::SlashId,
        base_url: format!("{base}/slashid"),
        settings: ProviderSettings {
            slashid: Some(SlashIdSettings {
                org_id: org.into(),
                consistency: None,
                consistency_timeout_seconds: None,
            }),
            ..Default::default()
        },
        credentials: Credentials::new([("apiKey".to_string(), key.to_string())]),
        key: format!("slashid/{key}"),
    }
}

fn role(description: &str, permissions: &[&str]) -> SlashIdRole {
    SlashIdRole {
        description: Some(description.into()),
        permissions: permissions.iter().map(|p| p.to_string()).collect(),
    }
}

fn target<'a>(name: &'a str, role: &'a SlashIdRole) -> Target<'a> {
    Target {
        name,
        spec: Spec::SlashId(role),
    }
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

impl Env {
    fn requests(&self) -> Vec<RecordedRequest> {
        self.sim.traffic(ProviderKind::SlashId).requests()
    }

    fn calls(&self) -> Vec<String> {
        self.requests()
            .iter()
            .map(|r| format!("{} {} {}", r.method, r.path, r.status))
            .collect()
    }

    fn assert_bodies(&self) {
        super::assert_bodies(self.requests());
    }
}

#[tokio::test]
async fn create_sends_prefixed_name_and_reads_it_back_without_drift() {
    let e = env().await;
    let r = role("Billing viewers", &["billing.read", "audit.read"]);
    let t = target("billing-viewer", &r);
    e.providers.validate(&t).unwrap();
    let id = e.providers.create(&e.account, &t).await.unwrap();
    assert_eq!(id, "sim-org/billing-viewer");

    let stored = e.sim.slashid.role("sim-org/billing-viewer").unwrap();
    assert_eq!(stored.description.as_deref(), Some("Billing viewers"));
    assert_eq!(
        sorted(stored.permissions),
        vec!["audit.read", "billing.read"]
    );

    let observed = e
        .providers
        .observe(&e.account, &t, &id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(observed.external_id, "sim-org/billing-viewer");
    assert!(observed.drift.is_empty(), "{:?}", observed.drift);
    assert_eq!(observed.summary, "2 permissions");
    assert!(
        e.calls()
            .contains(&"GET /rbac/roles/sim-org%2Fbilling-viewer 200".to_string()),
        "{:?}",
        e.calls()
    );
    e.assert_bodies();
}

#[tokio::test]
async fn writes_carry_the_configured_consistency_level_and_timeout() {
    let mut e = env().await;
    let r = role("d", &[]);
    e.providers
        .create(&e.account, &target("a1", &r))
        .await
        .unwrap();
    assert_eq!(
        e.sim.slashid.last_consistency(),
        (Some("all_regions".into()), Some("30".into()))
    );
    let settings = e.account.settings.slashid.as_mut().unwrap();
    settings.consistency = Some(roleplane::crd::SlashIdConsistency::LocalRegion);
    settings.consistency_timeout_seconds = Some(7);
    e.providers
        .delete(&e.account, &target("a1", &r), "sim-org/a1")
        .await
        .unwrap();
    assert_eq!(
        e.sim.slashid.last_consistency(),
        (Some("local_region".into()), Some("7".into()))
    );
}

#[tokio::test]
async fn missing_permission_objects_are_created_before_the_role() {
    let e = env().await;
    e.sim.slashid.put_permission(ORG, "existing.perm");
    let r = role("d", &["existing.perm", "new.one", r"path/like\perm"]);
    let t = target("writer", &r);
    e.providers.create(&e.account, &t).await.unwrap();
    assert_eq!(
        e.sim.slashid.permissions(ORG),
        vec!["existing.perm", "new.one", r"path/like\perm"]
    );
    let calls = e.calls();
    let created: Vec<&String> = calls
        .iter()
        .filter(|c| c.starts_with("POST /rbac/permissions"))
        .collect();
    assert_eq!(created.len(), 2, "only the missing ones: {calls:?}");
    let role_post = calls
        .iter()
        .position(|c| c.starts_with("POST /rbac/roles"))
        .unwrap();
    let last_perm = calls
        .iter()
        .rposition(|c| c.starts_with("POST /rbac/permissions"))
        .unwrap();
    assert!(last_perm < role_post, "permissions first: {calls:?}");
    e.assert_bodies();
}

#[tokio::test]
async fn permission_added_and_removed_by_update_and_permission_objects_are_kept() {
    let e = env().await;
    let r = role("d", &["a.read"]);
    let id = e
        .providers
        .create(&e.account, &target("ops", &r))
        .await
        .unwrap();

    let added = role("d", &["a.read", "b.write"]);
    let t = target("ops", &added);
    let o = e
        .providers
        .observe(&e.account, &t, &id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(o.drift, vec!["slashid.permissions"]);
    e.providers.update(&e.account, &t, &id).await.unwrap();
    assert_eq!(
        sorted(e.sim.slashid.role(&id).unwrap().permissions),
        vec!["a.read", "b.write"]
    );

    let removed = role("d", &["b.write"]);
    let t = target("ops", &removed);
    e.providers.update(&e.account, &t, &id).await.unwrap();
    assert_eq!(
        e.sim.slashid.role(&id).unwrap().permissions,
        vec!["b.write"]
    );
    assert!(
        e.providers
            .observe(&e.account, &t, &id)
            .await
            .unwrap()
            .unwrap()
            .drift
            .is_empty()
    );
    assert_eq!(e.sim.slashid.permissions(ORG), vec!["a.read", "b.write"]);
    assert!(
        !e.calls()
            .iter()
            .any(|c| c.starts_with("DELETE /rbac/permissions")),
        "Roleplane never deletes permission objects"
    );
    e.assert_bodies();
}

#[tokio::test]
async fn out_of_band_edit_is_drift_and_update_restores_it_with_if_match() {
    let e = env().await;
    let r = role("Support", &["tickets.read"]);
    let t = target("support", &r);
    let id = e.providers.create(&e.account, &t).await.unwrap();
    e.sim.slashid.put_role(
        &id,
        Some("edited by hand"),
        &["tickets.read", "tickets.delete"],
    );

    let o = e
        .providers
        .observe(&e.account, &t, &id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(o.drift, vec!["slashid.description", "slashid.permissions"]);

    e.sim.slashid.set_switches(Switches {
        concurrent_edit_next: 1,
        ..Default::default()
    });
    e.providers.update(&e.account, &t, &id).await.unwrap();
    let stored = e.sim.slashid.role(&id).unwrap();
    assert_eq!(stored.description.as_deref(), Some("Support"));
    assert_eq!(stored.permissions, vec!["tickets.read"]);
    let patches: Vec<u16> = e
        .requests()
        .iter()
        .filter(|r| r.method == "PATCH")
        .map(|r| r.status)
        .collect();
    assert_eq!(patches, vec![412, 204], "412 → re-read → retried once");
    let o = e
        .providers
        .observe(&e.account, &t, &id)
        .await
        .unwrap()
        .unwrap();
    assert!(o.drift.is_empty());
    e.assert_bodies();
}

#[tokio::test]
async fn a_second_412_is_reported_not_retried_forever() {
    let e = env().await;
    let r = role("x", &[]);
    let t = target("busy", &r);
    let id = e.providers.create(&e.account, &t).await.unwrap();
    e.sim.slashid.put_role(&id, Some("other"), &[]);
    e.sim.slashid.set_switches(Switches {
        concurrent_edit_next: 5,
        ..Default::default()
    });
    let err = e.providers.update(&e.account, &t, &id).await.unwrap_err();
    assert_eq!(err.status(), Some(412));
    let patches = e.requests().iter().filter(|r| r.method == "PATCH").count();
    assert_eq!(patches, 2);
}

#[tokio::test]
async fn list_returns_this_orgs_roles_with_names_after_the_prefix() {
    let e = env().await;
    e.sim.slashid.put_role("sim-org/alpha", None, &[]);
    e.sim.slashid.put_role("sim-org/beta", Some("b"), &["p.q"]);
    let r = role("d", &[]);
    let listed = e
        .providers
        .list(&e.account, &target("alpha", &r))
        .await
        .unwrap();
    assert_eq!(
        listed,
        vec![
            Listed {
                external_id: "sim-org/alpha".into(),
                name: "alpha".into()
            },
            Listed {
                external_id: "sim-org/beta".into(),
                name: "beta".into()
            },
        ]
    );
}

#[tokio::test]
async fn observe_accepts_a_bare_name_and_reports_absence_as_none() {
    let e = env().await;
    let r = role("d", &[]);
    let t = target("bare", &r);
    assert_eq!(
        e.providers.observe(&e.account, &t, "bare").await.unwrap(),
        None
    );
    e.sim.slashid.put_role("sim-org/bare", Some("d"), &[]);
    let o = e
        .providers
        .observe(&e.account, &t, "bare")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(o.external_id, "sim-org/bare");
}

#[tokio::test]
async fn delete_removes_the_role_keeps_permissions_and_404_is_done() {
    let e = env().await;
    let r = role("d", &["keep.me"]);
    let t = target("temp", &r);
    let id = e.providers.create(&e.account, &t).await.unwrap();
    e.providers.delete(&e.account, &t, &id).await.unwrap();
    assert!(e.sim.slashid.role(&id).is_none());
    assert_eq!(e.sim.slashid.permissions(ORG), vec!["keep.me"]);
    e.providers.delete(&e.account, &t, &id).await.unwrap();
    assert!(
        e.calls()
            .contains(&"DELETE /rbac/roles/sim-org%2Ftemp 404".to_string())
    );
}

#[tokio::test]
async fn status_408_on_create_is_unknown_outcome_and_the_role_exists_afterwards() {
    let e = env().await;
    e.sim.slashid.put_permission(ORG, "p.one");
    let r = role("late", &["p.one"]);
    let t = target("slow", &r);
    e.sim.slashid.set_apply_then_408_next(1);
    let err = e.providers.create(&e.account, &t).await.unwrap_err();
    assert_eq!(err.class(), ErrorClass::UnknownOutcome);
    assert!(err.to_string().contains("HTTP 408"), "{err}");
    // The write landed despite the 408: re-observing finds it in line.
    let o = e
        .providers
        .observe(&e.account, &t, "sim-org/slow")
        .await
        .unwrap()
        .expect("the role was created");
    assert!(o.drift.is_empty());
    // Creating again meets the identical role: SlashID answers 204, and it is ours.
    assert_eq!(
        e.providers.create(&e.account, &t).await.unwrap(),
        "sim-org/slow"
    );
}

#[tokio::test]
async fn status_408_on_update_is_unknown_outcome_and_reobserving_shows_it_applied() {
    let e = env().await;
    let r = role("v1", &["a.b"]);
    let id = e
        .providers
        .create(&e.account, &target("upd", &r))
        .await
        .unwrap();
    let r2 = role("v2", &["a.b"]);
    let t = target("upd", &r2);
    e.sim.slashid.set_apply_then_408_next(1);
    let err = e.providers.update(&e.account, &t, &id).await.unwrap_err();
    assert_eq!(err.class(), ErrorClass::UnknownOutcome);
    let o = e
        .providers
        .observe(&e.account, &t, &id)
        .await
        .unwrap()
        .unwrap();
    assert!(o.drift.is_empty(), "the 408'd PATCH was applied");
    // A second update finds nothing to do and writes nothing.
    e.sim.traffic(ProviderKind::SlashId).clear_requests();
    e.providers.update(&e.account, &t, &id).await.unwrap();
    assert!(!e.requests().iter().any(|r| r.method == "PATCH"));
}

#[tokio::test]
async fn status_408_on_delete_is_unknown_outcome_then_404_is_done() {
    let e = env().await;
    let r = role("d", &[]);
    let t = target("gone", &r);
    let id = e.providers.create(&e.account, &t).await.unwrap();
    e.sim.slashid.set_apply_then_408_next(1);
    let err = e.providers.delete(&e.account, &t, &id).await.unwrap_err();
    assert_eq!(err.class(), ErrorClass::UnknownOutcome);
    assert!(e.sim.slashid.role(&id).is_none());
    e.providers.delete(&e.account, &t, &id).await.unwrap();
}

#[tokio::test]
async fn existing_role_with_other_content_is_already_exists_on_204_and_on_409() {
    let e = env().await;
    e.sim
        .slashid
        .put_role("sim-org/taken", Some("someone else's"), &["x.y"]);
    let r = role("mine", &["x.y"]);
    let t = target("taken", &r);
    let err = e.providers.create(&e.account, &t).await.unwrap_err();
    assert_eq!(err.class(), ErrorClass::AlreadyExists);
    assert!(err.to_string().contains("slashid.description"), "{err}");
    assert_eq!(
        e.sim
            .slashid
            .role("sim-org/taken")
            .unwrap()
            .description
            .as_deref(),
        Some("someone else's"),
        "left untouched"
    );

    e.sim.slashid.set_switches(Switches {
        conflict_on_changed_create: true,
        ..Default::default()
    });
    let err = e.providers.create(&e.account, &t).await.unwrap_err();
    assert_eq!(err.class(), ErrorClass::AlreadyExists);
    assert!(e.calls().contains(&"POST /rbac/roles 409".to_string()));

    // The same name with the manifest's content is indistinguishable from ours: adopted.
    let same = role("someone else's", &["x.y"]);
    assert_eq!(
        e.providers
            .create(&e.account, &target("taken", &same))
            .await
            .unwrap(),
        "sim-org/taken"
    );
}

#[tokio::test]
async fn pricing_tier_402_is_rejected_with_slashids_message() {
    let e = env().await;
    e.sim.slashid.set_switches(Switches {
        max_roles: Some(0),
        ..Default::default()
    });
    let r = role("d", &[]);
    let err = e
        .providers
        .create(&e.account, &target("extra", &r))
        .await
        .unwrap_err();
    assert_eq!(err.class(), ErrorClass::ProviderRejected);
    assert_eq!(err.status(), Some(402));
    let text = err.to_string();
    assert!(
        text.starts_with("slashid create role: HTTP 402: "),
        "{text}"
    );
    assert!(text.contains("pricing tier"), "{text}");
}

#[tokio::test]
async fn a_name_slashid_refuses_is_rejected_with_its_message() {
    let e = env().await;
    let r = role("d", &[]);
    // validate() would stop this; the product's own check still answers 400.
    let err = e
        .providers
        .create(&e.account, &target("-bad-", &r))
        .await
        .unwrap_err();
    assert_eq!(err.class(), ErrorClass::ProviderRejected);
    assert!(
        err.to_string().contains("HTTP 400: invalid role name"),
        "{err}"
    );
}

#[tokio::test]
async fn wrong_api_key_is_credentials_rejected_without_the_key_in_the_message() {
    let e = env().await;
    let secret = "sk-wrong-slashid-secret-0123456789";
    let bad = account(&e.base, secret, ORG);
    let r = role("d", &[]);
    for err in [
        e.providers.check_access(&bad).await.unwrap_err(),
        e.providers
            .create(&bad, &target("x1", &r))
            .await
            .unwrap_err(),
    ] {
        assert_eq!(err.class(), ErrorClass::CredentialsRejected);
        assert!(!err.to_string().contains(secret), "{err}");
        assert!(!err.to_string().contains("sk-wrong"), "{err}");
    }
}

#[tokio::test]
async fn an_org_the_key_does_not_belong_to_is_credentials_rejected() {
    let e = env().await;
    let other = account(&e.base, KEY, "another-org");
    let err = e.providers.check_access(&other).await.unwrap_err();
    assert_eq!(err.class(), ErrorClass::CredentialsRejected);
    assert_eq!(err.status(), Some(403));
    e.providers.check_access(&e.account).await.unwrap();
}

#[tokio::test]
async fn rate_limit_429_with_retry_after_is_waited_out() {
    let e = env().await;
    e.sim.traffic(ProviderKind::SlashId).set_faults(Faults {
        rate_limit: Some(RateLimit {
            requests: 1,
            window_seconds: 1,
            retry_after_seconds: Some(1),
        }),
        ..Default::default()
    });
    let started = std::time::Instant::now();
    e.providers.check_access(&e.account).await.unwrap();
    e.providers.check_access(&e.account).await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(900));
    let statuses: Vec<u16> = e.requests().iter().map(|r| r.status).collect();
    assert!(statuses.contains(&429), "{statuses:?}");
    assert_eq!(statuses.last(), Some(&200));
}

#[tokio::test]
async fn server_errors_are_provider_unavailable() {
    let e = env().await;
    e.sim.traffic(ProviderKind::SlashId).set_faults(Faults {
        fail_next: [503].into(),
        ..Default::default()
    });
    let r = role("d", &[]);
    let err = e
        .providers
        .observe(&e.account, &target("any", &r), "sim-org/any")
        .await
        .unwrap_err();
    assert_eq!(err.class(), ErrorClass::ProviderUnavailable);
}

// --- the simulator itself, over raw HTTP ---

async fn raw(
    e: &Env,
    method: reqwest::Method,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<Value>,
) -> (u16, Option<String>, Value) {
    let mut req = reqwest::Client::new().request(method, format!("{}/slashid{path}", e.base));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let etag = resp
        .headers()
        .get("etag")
        .map(|v| v.to_str().unwrap().to_string());
    let body = resp.json().await.unwrap_or(Value::Null);
    (status, etag, body)
}

const AUTH: [(&str, &str); 2] = [("SlashID-API-Key", KEY), ("SlashID-OrgID", ORG)];

#[tokio::test]
async fn sim_checks_org_prefix_names_and_permissions_in_slashids_error_shape() {
    let e = env().await;
    let post = |name: &str, perms: Value| json!({"name": name, "permissions": perms});
    let (s, _, body) = raw(
        &e,
        reqwest::Method::POST,
        "/rbac/roles",
        &AUTH,
        Some(post("no-prefix", json!([]))),
    )
    .await;
    assert_eq!(s, 400);
    assert_eq!(body["errors"][0]["httpcode"], 400);
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("sim-org/")
    );
    for name in ["other-org/r1", "sim-org/-x", "sim-org/a"] {
        let (s, _, _) = raw(
            &e,
            reqwest::Method::POST,
            "/rbac/roles",
            &AUTH,
            Some(post(name, json!([]))),
        )
        .await;
        assert_eq!(s, 400, "{name}");
    }
    let (s, _, body) = raw(
        &e,
        reqwest::Method::POST,
        "/rbac/roles",
        &AUTH,
        Some(post("sim-org/r1", json!(["not.there"]))),
    )
    .await;
    assert_eq!(s, 400);
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("does not exist")
    );
    let (s, _, _) = raw(
        &e,
        reqwest::Method::GET,
        "/rbac/roles",
        &[("SlashID-API-Key", KEY)],
        None,
    )
    .await;
    assert_eq!(s, 400, "SlashID-OrgID is required");
    let (s, _, _) = raw(
        &e,
        reqwest::Method::GET,
        "/rbac/roles",
        &[("SlashID-OrgID", ORG)],
        None,
    )
    .await;
    assert_eq!(s, 401);
    let (s, _, _) = raw(
        &e,
        reqwest::Method::GET,
        "/rbac/roles/sim-org%2Fnope",
        &AUTH,
        None,
    )
    .await;
    assert_eq!(s, 404);
}

#[tokio::test]
async fn sim_etag_changes_on_every_write_and_a_stale_if_match_gets_412() {
    let e = env().await;
    e.sim.slashid.put_permission(ORG, "p.a");
    let (s, _, _) = raw(
        &e,
        reqwest::Method::POST,
        "/rbac/roles",
        &AUTH,
        Some(json!({"name": "sim-org/rr", "permissions": ["p.a"]})),
    )
    .await;
    assert_eq!(s, 204);
    let path = "/rbac/roles/sim-org%2Frr";
    let (_, first, body) = raw(&e, reqwest::Method::GET, path, &AUTH, None).await;
    let first = first.expect("GET role sends an ETag");
    assert_eq!(body["result"]["name"], "sim-org/rr");
    let mut with_match = AUTH.to_vec();
    with_match.push(("If-Match", &first));
    let (s, _, _) = raw(
        &e,
        reqwest::Method::PATCH,
        path,
        &with_match,
        Some(json!({"description": "one"})),
    )
    .await;
    assert_eq!(s, 204);
    let (_, second, body) = raw(&e, reqwest::Method::GET, path, &AUTH, None).await;
    assert_ne!(second.as_deref(), Some(first.as_str()));
    assert_eq!(
        body["result"]["permissions"],
        json!(["p.a"]),
        "absent list is kept"
    );
    let (s, _, body) = raw(
        &e,
        reqwest::Method::PATCH,
        path,
        &with_match,
        Some(json!({"description": "two"})),
    )
    .await;
    assert_eq!(s, 412);
    assert_eq!(body["errors"][0]["httpcode"], 412);
    let (s, _, body) = raw(
        &e,
        reqwest::Method::DELETE,
        "/rbac/permissions/p.a",
        &AUTH,
        None,
    )
    .await;
    assert_eq!(s, 400, "a permission in use cannot be deleted: {body}");
}

#[test]
fn slashid_spec_accepts_role_and_permission_bodies_and_rejects_bad_ones() {
    let spec = OpenApi::load("slashid.yaml");
    spec.validate_request(
        "POST",
        "/rbac/roles",
        &json!({"name": "billing-viewer", "description": "d", "permissions": ["billing.read"]}),
    )
    .unwrap();
    spec.validate_request(
        "PATCH",
        "/rbac/roles/sim-org%2Fbilling-viewer",
        &json!({"description": "d", "permissions": []}),
    )
    .unwrap();
    spec.validate_request("POST", "/rbac/permissions", &json!({"name": r"a/b\c"}))
        .unwrap();
    assert!(
        spec.validate_request("POST", "/rbac/roles", &json!({"permissions": ["bad perm"]}))
            .is_err()
    );
    assert!(
        spec.validate_request("POST", "/rbac/permissions", &json!({"name": "x"}))
            .is_err()
    );
}
