//! SlashID only: what the conformance suite and the controller tests do not already prove. Role
//! keys carry the `{orgId}/` prefix; writes carry consistency headers and wait longer than reads;
//! permission objects are created first and never deleted; PATCH is guarded by the ETag; 408 is an
//! unknown outcome (re-observed, never repeated); create is idempotent by name (204 or 409 for a
//! role that exists: ours only with the manifest's content); the CRD's name rules; the simulator's
//! own checks; request bodies against SlashID's OpenAPI description.

use std::time::Duration;

use k8s_openapi::api::events::v1::Event;
use kube::api::ListParams;
use roleplane::crd::{
    ProductSettings, ProviderConfig, ProviderKind, ProviderSettings, Role, SlashIdConsistency,
    SlashIdRole, SlashIdSettings,
};
use roleplane::metrics::Metrics;
use roleplane::providers::http::{Http, HttpConfig};
use roleplane::providers::slashid::SlashId;
use roleplane::providers::slashid::sim::Switches;
use roleplane::providers::{
    Account, Credentials, Desired, ErrorClass, Listed, Provider, Simulator,
};
use roleplane::sim::{Faults, RecordedRequest};
use serde_json::{Value, json};

use crate::harness::*;
use crate::openapi::OpenApi;

const ORG: &str = "sim-org";
const KEY: &str = "sim-slashid-key";
const NAME: &str = "billing-viewer";
const ID: &str = "sim-org/billing-viewer";
const PATH: &str = "/rbac/roles/sim-org%2Fbilling-viewer";

// --- through the controller ---

fn spec(permissions: &[&str]) -> Value {
    json!({
        "providerConfigRef": {"name": "slashid"},
        "name": NAME,
        "slashid": {"description": "Billing viewers", "permissions": permissions},
    })
}

/// Secret + ProviderConfig `slashid` for organisation `org`.
async fn account(env: &Env, org: &str) {
    env.secret(NS, "slashid-creds", &[("apiKey", KEY)]).await;
    let settings = json!({"slashid": {"orgId": org}});
    env.provider_config(NS, "slashid", "slashid", "slashid-creds", settings)
        .await;
}

/// Every call as `METHOD path status`, in arrival order.
fn calls(env: &Env) -> Vec<String> {
    let mut log = env.sim.slashid.traffic.requests();
    log.sort_by_key(|r| r.at_ms);
    log.iter()
        .map(|r| format!("{} {} {}", r.method, r.path, r.status))
        .collect()
}

fn count(env: &Env, prefix: &str) -> usize {
    calls(env).iter().filter(|c| c.starts_with(prefix)).count()
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

async fn generation_ready(env: &Env, generation: i64) {
    env.wait_role(
        NS,
        "billing",
        &format!("generation {generation} Ready"),
        |s| s.observed_generation == Some(generation) && is_ready(s),
    )
    .await;
}

/// Checks the recorded bodies against SlashID's OpenAPI description. `RoleName`'s pattern has no
/// `/` although the same schema says names carry an `{orgId}/` prefix that does not count: the
/// prefix is checked here and removed before validation.
fn assert_official_bodies(mut requests: Vec<RecordedRequest>) {
    for r in &mut requests {
        if let Some(name) = r.body.as_mut().and_then(|b| b.get_mut("name"))
            && r.path == "/rbac/roles"
        {
            let full = name.as_str().expect("name is a string");
            let short = full.strip_prefix("sim-org/").expect("prefixed name");
            *name = json!(short);
        }
    }
    OpenApi::load("slashid.yaml").assert_bodies(&requests, "");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_permissions_are_created_first_and_permission_objects_are_never_deleted() {
    let env = Env::start().await;
    account(&env, ORG).await;
    env.sim.slashid.put_permission(ORG, "audit.read");
    env.role(NS, "billing", spec(&["billing.read", "audit.read"]))
        .await;
    let role = env.wait_role(NS, "billing", "Ready", is_ready).await;
    assert_eq!(
        role.status.expect("status").external_id.as_deref(),
        Some(ID)
    );
    assert_eq!(
        count(&env, "POST /rbac/permissions"),
        1,
        "only the missing one: {:?}",
        calls(&env)
    );

    // One permission added and one removed by a spec change.
    let change = json!({"slashid": {"permissions": ["billing.read", "billing.write"]}});
    env.patch_spec::<Role>(NS, "billing", change).await;
    generation_ready(&env, 2).await;
    let stored = env.sim.slashid.role(ID).expect("role");
    assert_eq!(
        sorted(stored.permissions),
        ["billing.read", "billing.write"]
    );
    let note = env.wait_event(NS, "billing", "Updated").await;
    assert!(note.contains("slashid.permissions"), "{note}");

    env.delete::<Role>(NS, "billing").await;
    env.wait_gone::<Role>(NS, "billing").await;
    assert_eq!(env.sim.slashid.role(ID), None);
    assert_eq!(
        env.sim.slashid.permissions(ORG),
        ["audit.read", "billing.read", "billing.write"],
        "permission objects stay: other roles may use them"
    );
    assert_eq!(count(&env, "DELETE /rbac/permissions"), 0);
    assert_official_bodies(env.sim.slashid.traffic.requests());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bare_name_as_external_id_adopts_the_prefixed_role_once() {
    let env = Env::start_with(|c| c.poll_interval = Duration::from_secs(3600)).await;
    account(&env, ORG).await;
    env.sim.slashid.put_role(ID, Some("old"), &["billing.read"]);
    let mut s = spec(&["billing.read"]);
    s["externalId"] = NAME.into();
    env.role(NS, "billing", s).await;
    let role = env.wait_role(NS, "billing", "Ready", is_ready).await;
    assert_eq!(
        role.status.expect("status").external_id.as_deref(),
        Some(ID)
    );
    let note = env.wait_event(NS, "billing", "Adopted").await;
    assert!(note.contains(ID), "{note}");
    let stored = env.sim.slashid.role(ID).expect("role");
    assert_eq!(stored.description.as_deref(), Some("Billing viewers"));

    // Later reconciles keep the role they adopted: no second Adopted Event.
    let reads = count(&env, &format!("GET {PATH}"));
    env.poke::<Role>(NS, "billing", "1").await;
    while count(&env, &format!("GET {PATH}")) == reads {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let events: kube::Api<Event> = kube::Api::namespaced(env.client.clone(), NS);
    let adopted: Vec<Event> = events
        .list(&ListParams::default())
        .await
        .expect("events")
        .items
        .into_iter()
        .filter(|e| e.reason.as_deref() == Some("Adopted"))
        .collect();
    assert_eq!(adopted.len(), 1);
    assert_eq!(adopted[0].series, None, "adopted again: {adopted:?}");
    assert_eq!(count(&env, "POST /rbac/roles"), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_408_on_create_is_re_observed_and_nothing_is_created_twice() {
    let env = Env::start().await;
    account(&env, ORG).await;
    // The permission's create and then the role's are applied but answered 408.
    env.sim.slashid.set_apply_then_408_next(2);
    env.role(NS, "billing", spec(&["billing.read"])).await;
    env.wait_role(NS, "billing", "Ready", is_ready).await;
    let log = calls(&env);
    let writes: Vec<&String> = log.iter().filter(|c| c.starts_with("POST")).collect();
    assert_eq!(
        writes,
        ["POST /rbac/permissions 408", "POST /rbac/roles 408"],
        "{log:?}"
    );
    let note = env.wait_event(NS, "billing", "Adopted").await;
    assert!(
        note.contains(ID) && note.contains("interrupted create"),
        "{note}"
    );
    assert_eq!(env.sim.slashid.roles(ORG), [ID]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_back_refused_after_the_create_keeps_the_intent_and_adopts_the_role_once() {
    // No poll, and the config's own check done first: the create's calls are the only ones.
    let env = Env::start_with(|c| c.poll_interval = Duration::from_secs(600)).await;
    account(&env, ORG).await;
    env.sim.slashid.put_permission(ORG, "billing.read");
    env.wait_managed::<ProviderConfig>(NS, "slashid", "config Ready", |p| {
        p.status.as_ref().is_some_and(|s| {
            s.conditions
                .iter()
                .any(|c| c.status == roleplane::crd::ConditionStatus::True)
        })
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    env.sim.slashid.traffic.clear_requests();
    // Three calls go through (the lookup, the permission names, the create); the fourth, the
    // read-back of the new role, gets 429 with a Retry-After longer than a call waits inline.
    env.sim.slashid.traffic.set_faults(Faults {
        rate_limit: Some(roleplane::sim::RateLimit {
            requests: 3,
            window_seconds: 2,
            retry_after_seconds: Some(11),
        }),
        ..Default::default()
    });
    env.role(NS, "billing", spec(&["billing.read"])).await;
    let deadline = tokio::time::Instant::now() + WAIT;
    while count(&env, "GET /rbac/roles/sim-org%2Fbilling-viewer 429") == 0 {
        assert!(tokio::time::Instant::now() < deadline, "{:?}", calls(&env));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    env.sim.slashid.traffic.set_faults(Faults::default());
    // The role exists: it is this resource's (its create intent says so), never AlreadyExists.
    env.wait_role(NS, "billing", "Ready", is_ready).await;
    let log = calls(&env);
    assert_eq!(
        log[..4],
        [
            "GET /rbac/roles/sim-org%2Fbilling-viewer 404",
            "GET /rbac/permissions 200",
            "POST /rbac/roles 204",
            "GET /rbac/roles/sim-org%2Fbilling-viewer 429",
        ],
        "{log:?}"
    );
    assert_eq!(count(&env, "POST /rbac/roles"), 1, "{log:?}");
    assert_eq!(env.sim.slashid.roles(ORG), [ID]);
    let reasons: Vec<String> = env
        .events(NS, "billing")
        .await
        .into_iter()
        .map(|(_, reason, _)| reason)
        .collect();
    assert!(!reasons.iter().any(|r| r == "AlreadyExists"), "{reasons:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_408_on_update_and_delete_is_re_observed_and_not_written_twice() {
    let env = Env::start().await;
    account(&env, ORG).await;
    env.role(NS, "billing", spec(&["billing.read"])).await;
    env.wait_role(NS, "billing", "Ready", is_ready).await;
    env.sim.slashid.set_apply_then_408_next(1);
    let change = json!({"slashid": {"description": "Invoices"}});
    env.patch_spec::<Role>(NS, "billing", change).await;
    generation_ready(&env, 2).await;
    let stored = env.sim.slashid.role(ID).expect("role");
    assert_eq!(stored.description.as_deref(), Some("Invoices"));
    let patches: Vec<String> = calls(&env)
        .into_iter()
        .filter(|c| c.starts_with("PATCH"))
        .collect();
    assert_eq!(
        patches,
        [format!("PATCH {PATH} 408")],
        "the PATCH had landed"
    );

    env.sim.slashid.set_apply_then_408_next(1);
    env.delete::<Role>(NS, "billing").await;
    env.wait_gone::<Role>(NS, "billing").await;
    let deletes: Vec<String> = calls(&env)
        .into_iter()
        .filter(|c| c.starts_with("DELETE"))
        .collect();
    assert_eq!(
        deletes,
        [format!("DELETE {PATH} 408"), format!("DELETE {PATH} 404")]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pricing_tier_402_is_provider_rejected_with_slashids_message() {
    let env = Env::start().await;
    account(&env, ORG).await;
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
        message.starts_with("slashid create role: HTTP 402: pricing tier violation"),
        "{message}"
    );
    assert!(env.sim.slashid.roles(ORG).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_of_another_organisation_is_credentials_rejected() {
    let env = Env::start().await;
    account(&env, "someone-elses-org").await;
    env.role(NS, "billing", spec(&[])).await;
    let role = env
        .wait_role(
            NS,
            "billing",
            "CredentialsRejected",
            failed_with("CredentialsRejected"),
        )
        .await;
    let message = synced_message(&role);
    assert!(
        message.contains("HTTP 403") && message.contains("someone-elses-org"),
        "{message}"
    );
    env.wait_managed::<ProviderConfig>(NS, "slashid", "config rejected", |p| {
        p.status.as_ref().is_some_and(|s| {
            s.conditions
                .iter()
                .any(|c| c.reason == "CredentialsRejected")
        })
    })
    .await;
    assert!(env.mutations(ProviderKind::SlashId).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_crd_refuses_names_slashid_cannot_key_and_renames() {
    let env = Env::start().await;
    account(&env, ORG).await;
    for bad in ["sim-org/billing", "-billing", "b"] {
        let mut s = spec(&[]);
        s["name"] = bad.into();
        let refused = env.try_role(NS, "billing", s).await.expect_err("refused");
        let kube::Error::Api(status) = refused else {
            panic!("unexpected error {refused}")
        };
        assert_eq!(status.code, 422, "{bad}");
        assert!(
            status.message.contains("SlashID role names"),
            "{}",
            status.message
        );
    }
    env.role(NS, "billing", spec(&[])).await;
    let api: kube::Api<Role> = kube::Api::namespaced(env.client.clone(), NS);
    let rename = json!({"spec": {"name": "other-name"}});
    let refused = api
        .patch(
            "billing",
            &kube::api::PatchParams::default(),
            &kube::api::Patch::Merge(rename),
        )
        .await
        .expect_err("a rename is refused");
    assert!(
        refused.to_string().contains("name is immutable"),
        "{refused}"
    );
}

// --- the provider against the simulator ---

struct Direct {
    sim: Simulator,
    slashid: SlashId,
    account: Account,
}

/// The provider with a 1 s request timeout, against a fresh simulator.
async fn direct(settings: SlashIdSettings) -> Direct {
    let (sim, base) = Simulator::start(Default::default())
        .await
        .expect("simulator");
    let config = HttpConfig {
        timeout: Duration::from_secs(1),
        requests_per_second: Some(200.try_into().expect("non-zero")),
        ..Default::default()
    };
    let slashid = SlashId::new(Http::new(config, Metrics::new()));
    let account = Account::of::<SlashId>(
        format!("{base}/slashid"),
        ProviderSettings {
            products: ProductSettings {
                slashid: Some(settings),
                ..Default::default()
            },
            ..Default::default()
        },
        Credentials::new([("apiKey".to_string(), KEY.to_string())]),
        "test",
    );
    Direct {
        sim,
        slashid,
        account,
    }
}

fn settings() -> SlashIdSettings {
    SlashIdSettings {
        org_id: ORG.into(),
        consistency: None,
        consistency_timeout_seconds: None,
    }
}

fn role(description: &str, permissions: &[&str]) -> SlashIdRole {
    SlashIdRole {
        description: Some(description.into()),
        permissions: permissions.iter().map(|p| p.to_string()).collect(),
    }
}

fn desired(role: &SlashIdRole) -> Desired<'_, SlashIdRole> {
    Desired {
        name: NAME,
        spec: role,
    }
}

impl Direct {
    fn statuses(&self, method: &str) -> Vec<u16> {
        let log = self.sim.slashid.traffic.requests();
        log.iter()
            .filter(|r| r.method == method)
            .map(|r| r.status)
            .collect()
    }
}

#[tokio::test]
async fn writes_carry_the_consistency_settings_and_wait_longer_than_reads() {
    let d = direct(settings()).await;
    let r = role("d", &[]);
    d.slashid
        .create(&d.account, desired(&r))
        .await
        .expect("created");
    assert_eq!(
        d.sim.slashid.last_consistency(),
        (Some("all_regions".into()), Some("30".into()))
    );

    let d = direct(SlashIdSettings {
        consistency: Some(SlashIdConsistency::LocalRegion),
        consistency_timeout_seconds: Some(1),
        ..settings()
    })
    .await;
    d.sim.slashid.put_role(ID, None, &[]);
    d.sim.slashid.traffic.set_faults(Faults {
        latency_ms: 1500,
        ..Default::default()
    });
    // A read gives up after the request timeout (1 s); a write waits for SlashID's own answer
    // (the consistency timeout plus a margin), so a 408 is never mistaken for a lost connection.
    let err = d
        .slashid
        .check_access(&d.account)
        .await
        .expect_err("read timed out");
    assert_eq!(
        (err.class(), err.status()),
        (ErrorClass::ProviderUnavailable, None)
    );
    d.slashid
        .delete(&d.account, desired(&r), ID)
        .await
        .expect("deleted");
    assert_eq!(d.sim.slashid.role(ID), None);
    assert_eq!(
        d.sim.slashid.last_consistency(),
        (Some("local_region".into()), Some("1".into()))
    );
}

#[tokio::test]
async fn a_stale_etag_is_read_again_and_retried_once_and_a_second_412_is_reported() {
    let d = direct(settings()).await;
    let r = role("Support", &["tickets.read"]);
    d.slashid
        .create(&d.account, desired(&r))
        .await
        .expect("created");
    let listed = d.slashid.list(&d.account, "").await.expect("listed");
    let expected = Listed {
        id: ID.into(),
        name: NAME.into(),
        object: None,
    };
    assert_eq!(listed, [expected]);

    d.sim
        .slashid
        .put_role(ID, Some("edited"), &["tickets.read"]);
    let current = d
        .slashid
        .observe(&d.account, desired(&r), ID)
        .await
        .unwrap()
        .unwrap();
    d.sim.slashid.set_switches(Switches {
        concurrent_edit_next: 1,
        ..Default::default()
    });
    d.slashid
        .update(&d.account, desired(&r), &current)
        .await
        .expect("updated");
    assert_eq!(d.statuses("PATCH"), [412, 204]);
    let stored = d.sim.slashid.role(ID).expect("role");
    assert_eq!(stored.description.as_deref(), Some("Support"));

    d.sim
        .slashid
        .put_role(ID, Some("edited"), &["tickets.read"]);
    let current = d
        .slashid
        .observe(&d.account, desired(&r), ID)
        .await
        .unwrap()
        .unwrap();
    d.sim.slashid.set_switches(Switches {
        concurrent_edit_next: 5,
        ..Default::default()
    });
    let err = d
        .slashid
        .update(&d.account, desired(&r), &current)
        .await
        .unwrap_err();
    assert_eq!(
        (err.class(), err.status()),
        (ErrorClass::ProviderRejected, Some(412))
    );
    assert_eq!(d.statuses("PATCH"), [412, 204, 412, 412]);
}

#[tokio::test]
async fn a_role_that_exists_with_other_content_is_already_exists_on_204_and_on_409() {
    // What a create meets when another writer made the role after Roleplane found the name free.
    let d = direct(settings()).await;
    d.sim.slashid.put_role(ID, Some("someone else's"), &["x.y"]);
    let mine = role("mine", &["x.y"]);
    let err = d
        .slashid
        .create(&d.account, desired(&mine))
        .await
        .unwrap_err();
    assert_eq!(err.class(), ErrorClass::AlreadyExists);
    assert!(err.to_string().contains("slashid.description"), "{err}");
    d.sim.slashid.set_switches(Switches {
        conflict_on_changed_create: true,
        ..Default::default()
    });
    let err = d
        .slashid
        .create(&d.account, desired(&mine))
        .await
        .unwrap_err();
    assert_eq!(err.class(), ErrorClass::AlreadyExists);
    assert_eq!(d.statuses("POST"), [204, 409]);
    let stored = d.sim.slashid.role(ID).expect("role");
    assert_eq!(
        stored.description.as_deref(),
        Some("someone else's"),
        "left as it was"
    );

    // The manifest's content exactly: indistinguishable from Roleplane's own create, so ours.
    let same = role("someone else's", &["x.y"]);
    let created = d
        .slashid
        .create(&d.account, desired(&same))
        .await
        .expect("ours");
    assert_eq!(d.slashid.id_of(&created), ID);
}

// --- the simulator itself, over raw HTTP ---

const AUTH: [(&str, &str); 2] = [("SlashID-API-Key", KEY), ("SlashID-OrgID", ORG)];

async fn raw(
    d: &Direct,
    method: reqwest::Method,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<Value>,
) -> (u16, Option<String>, Value) {
    let url = format!("{}{path}", d.account.base_url);
    let mut request = reqwest::Client::new().request(method, url);
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    if let Some(b) = body {
        request = request.json(&b);
    }
    let response = request.send().await.expect("sent");
    let status = response.status().as_u16();
    let etag = response
        .headers()
        .get("etag")
        .map(|v| v.to_str().unwrap().to_string());
    (status, etag, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn sim_checks_headers_org_prefix_names_and_permissions_in_slashids_error_shape() {
    use reqwest::Method;
    let d = direct(settings()).await;
    let post =
        |name: &str, permissions: Value| Some(json!({"name": name, "permissions": permissions}));
    let (s, _, body) = raw(
        &d,
        Method::POST,
        "/rbac/roles",
        &AUTH,
        post("r1", json!([])),
    )
    .await;
    assert_eq!((s, &body["errors"][0]["httpcode"]), (400, &json!(400)));
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("(sim-org/)"),
        "{body}"
    );
    for name in ["other-org/r1", "sim-org/-x", "sim-org/a"] {
        let (s, _, _) = raw(
            &d,
            Method::POST,
            "/rbac/roles",
            &AUTH,
            post(name, json!([])),
        )
        .await;
        assert_eq!(s, 400, "{name}");
    }
    let (s, _, body) = raw(
        &d,
        Method::POST,
        "/rbac/roles",
        &AUTH,
        post("sim-org/r1", json!(["not.there"])),
    )
    .await;
    assert_eq!(s, 400);
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("does not exist")
    );
    let (s, _, _) = raw(&d, Method::GET, "/rbac/roles", &AUTH[..1], None).await;
    assert_eq!(s, 400, "SlashID-OrgID is required");
    let (s, _, _) = raw(&d, Method::GET, "/rbac/roles", &AUTH[1..], None).await;
    assert_eq!(s, 401);
    let other = [AUTH[0], ("SlashID-OrgID", "another-org")];
    let (s, _, _) = raw(&d, Method::GET, "/rbac/roles", &other, None).await;
    assert_eq!(s, 403);
    let (s, _, _) = raw(&d, Method::GET, "/rbac/roles/sim-org%2Fnope", &AUTH, None).await;
    assert_eq!(s, 404);
    let late = [
        AUTH[0],
        AUTH[1],
        ("SlashID-Required-Consistency-Timeout", "121"),
    ];
    let (s, _, _) = raw(&d, Method::DELETE, PATH, &late, None).await;
    assert_eq!(s, 400, "the timeout is 1-120 seconds");
}

#[tokio::test]
async fn sim_etag_changes_on_every_write_and_a_stale_if_match_gets_412() {
    use reqwest::Method;
    let d = direct(settings()).await;
    d.sim.slashid.put_permission(ORG, "p.a");
    let body = json!({"name": ID, "permissions": ["p.a"]});
    let (s, _, _) = raw(&d, Method::POST, "/rbac/roles", &AUTH, Some(body)).await;
    assert_eq!(s, 204);
    let (_, first, body) = raw(&d, Method::GET, PATH, &AUTH, None).await;
    let first = first.expect("GET role sends an ETag");
    assert_eq!(body["result"]["name"], ID);
    let matching = [AUTH[0], AUTH[1], ("If-Match", first.as_str())];
    let one = Some(json!({"description": "one"}));
    let (s, _, _) = raw(&d, Method::PATCH, PATH, &matching, one).await;
    assert_eq!(s, 204);
    let (_, second, body) = raw(&d, Method::GET, PATH, &AUTH, None).await;
    assert_ne!(second.as_deref(), Some(first.as_str()));
    assert_eq!(
        body["result"]["permissions"],
        json!(["p.a"]),
        "an absent list is kept"
    );
    let two = Some(json!({"description": "two"}));
    let (s, _, body) = raw(&d, Method::PATCH, PATH, &matching, two).await;
    assert_eq!((s, &body["errors"][0]["httpcode"]), (412, &json!(412)));
    let (s, _, _) = raw(&d, Method::DELETE, "/rbac/permissions/p.a", &AUTH, None).await;
    assert_eq!(s, 400, "a permission a role includes cannot be deleted");
}

#[test]
fn slashids_description_accepts_the_bodies_sent_and_rejects_bad_ones() {
    let spec = OpenApi::load("slashid.yaml");
    let post = json!({"name": "billing-viewer", "description": "d", "permissions": ["b.read"]});
    spec.validate_request("POST", "/rbac/roles", &post).unwrap();
    let patch = json!({"description": "d", "permissions": []});
    spec.validate_request("PATCH", PATH, &patch).unwrap();
    spec.validate_request("POST", "/rbac/permissions", &json!({"name": r"a/b\c"}))
        .unwrap();
    let prefixed = json!({"name": ID, "permissions": []});
    assert!(
        spec.validate_request("POST", "/rbac/roles", &prefixed)
            .is_err()
    );
    let bad = json!({"permissions": ["bad perm"]});
    assert!(spec.validate_request("POST", "/rbac/roles", &bad).is_err());
    assert!(
        spec.validate_request("POST", "/rbac/permissions", &json!({"name": "x"}))
            .is_err()
    );
}

/// The org's permission names are read once for many creates, and a kept list never decides
/// on its own: a name it lacks is looked up afresh (not created blindly), and a create that
/// fails drops it.
#[tokio::test]
async fn permission_names_are_kept_per_credential_but_never_trusted_alone() {
    let d = direct(settings()).await;
    let lists = |d: &Direct| {
        let log = d.sim.slashid.traffic.requests();
        log.iter()
            .filter(|r| r.method == "GET" && r.path == "/rbac/permissions")
            .count()
    };
    let create = |name: &'static str, permissions: &'static [&'static str]| {
        let r = role("kept", permissions);
        let slashid = &d.slashid;
        let account = &d.account;
        async move { slashid.create(account, Desired { name, spec: &r }).await }
    };
    create("first", &["p.one"]).await.expect("created");
    create("second", &["p.one"]).await.expect("created");
    assert_eq!(lists(&d), 1, "one read for both creates");
    assert_eq!(d.statuses("POST").len(), 3, "p.one once, two roles");

    // Created out of band: the kept list lacks it, so it is read afresh, not created again.
    d.sim.slashid.put_permission(ORG, "p.two");
    d.sim.slashid.put_permission(ORG, "p.three");
    create("third", &["p.two"]).await.expect("created");
    assert_eq!(lists(&d), 2);
    assert_eq!(d.statuses("POST").len(), 4, "only the role: p.two exists");

    // Deleted out of band: the kept list still names it, SlashID refuses the role, and the
    // list is dropped, so the next attempt reads it and creates the permission first.
    assert!(d.sim.slashid.remove_permission(ORG, "p.three"));
    create("fourth", &["p.three"])
        .await
        .expect_err("p.three is gone");
    assert_eq!(lists(&d), 2, "the refusal came from the kept list");
    create("fourth", &["p.three"]).await.expect("created");
    assert_eq!(lists(&d), 3);
    assert!(
        d.sim
            .slashid
            .permissions(ORG)
            .contains(&"p.three".to_string())
    );
}
