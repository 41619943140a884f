//! ConfigCat only: environment access and approval rules, product and environment dependencies,
//! same-named groups, the `X-Rate-Limit-*` headers, and the simulator's own promises. The
//! lifecycle every product shares is the conformance suite's.

use std::time::{Duration, Instant};

use roleplane::crd::{
    CREATE_PENDING_ANNOTATION, ConditionStatus, PermissionGroup, ProviderConfig, ProviderKind,
};
use roleplane::providers::configcat::ConfigCat;
use roleplane::providers::configcat::sim::Group;
use roleplane::providers::{Account, Credentials, Provider, Simulator};
use roleplane::sim::{Faults, RateLimit, RecordedRequest};
use serde_json::{Value, json};

use crate::harness::*;
use crate::openapi::OpenApi;

const USER: &str = "sim-user";
const PASSWORD: &str = "sim-password";
/// The PermissionGroup's name in Kubernetes.
const GROUP: &str = "developers";
const MISSING: &str = "0badc0de-0000-4000-8000-000000000000";

/// A product with three environments.
struct Product {
    id: String,
    test: String,
    prod: String,
    staging: String,
}

/// A cluster with a ConfigCat account (config Ready), a product, and an empty request log; only
/// what a test does triggers a reconcile.
async fn start() -> (Env, Product) {
    let env = Env::start_with(|c| c.poll_interval = Duration::from_secs(3600)).await;
    let cc = &env.sim.configcat;
    let id = cc.add_product("Product tests");
    let environment = |name| cc.add_environment(&id, name).expect("product exists");
    let p = Product {
        test: environment("Test"),
        prod: environment("Production"),
        staging: environment("Staging"),
        id,
    };
    env.secret(
        NS,
        "configcat-creds",
        &[("username", USER), ("password", PASSWORD)],
    )
    .await;
    env.provider_config(NS, "configcat", "configcat", "configcat-creds", json!({}))
        .await;
    env.wait_managed::<ProviderConfig>(NS, "configcat", "config Ready", |c| {
        c.status.as_ref().is_some_and(|s| {
            s.conditions
                .iter()
                .any(|c| c.r#type == "Ready" && c.status == ConditionStatus::True)
        })
    })
    .await;
    env.sim.configcat.traffic.clear_requests();
    (env, p)
}

/// Custom access: full on Test, readOnly on Production, Staging unlisted.
fn spec(p: &Product) -> Value {
    json!({
        "providerConfigRef": {"name": "configcat"},
        "name": "Developers",
        "productId": p.id,
        "accessType": "custom",
        "canCreateOrUpdateConfig": true,
        "environmentAccesses": [
            {"environmentId": p.test, "environmentAccessType": "full"},
            {"environmentId": p.prod, "environmentAccessType": "readOnly"},
        ],
    })
}

async fn create(env: &Env, spec: Value, annotations: Value) {
    env.apply::<PermissionGroup>(
        NS,
        json!({"metadata": {"name": GROUP, "annotations": annotations}, "spec": spec}),
    )
    .await;
}

async fn wait_status(
    env: &Env,
    what: &str,
    check: impl Fn(&roleplane::crd::ManagedStatus) -> bool,
) -> PermissionGroup {
    env.wait_managed::<PermissionGroup>(NS, GROUP, what, |g| g.status.as_ref().is_some_and(&check))
        .await
}

/// Waits until generation `generation` is Ready; returns the group's id.
async fn ready(env: &Env, generation: i64) -> String {
    let g = wait_status(env, &format!("generation {generation} Ready"), |s| {
        s.observed_generation == Some(generation) && is_ready(s)
    })
    .await;
    g.status.and_then(|s| s.external_id).expect("an externalId")
}

fn group(env: &Env, id: &str) -> Group {
    env.sim
        .configcat
        .group(id.parse().expect("numeric id"))
        .expect("the group exists")
}

/// The group's access on Test, Production and Staging.
fn accesses(env: &Env, id: &str, p: &Product) -> [String; 3] {
    let g = group(env, id);
    [&p.test, &p.prod, &p.staging]
        .map(|e| g.environment_accesses.get(e).cloned().unwrap_or_default())
}

fn requests(env: &Env) -> Vec<RecordedRequest> {
    env.sim.configcat.traffic.requests()
}

/// The group's calls, as `METHOD path` (the config's credential check, `GET /v1/me`, is not one).
fn calls(env: &Env) -> Vec<String> {
    requests(env)
        .iter()
        .map(|r| format!("{} {}", r.method, r.path))
        .filter(|c| c != "GET /v1/me")
        .collect()
}

/// Makes the controller look at the group once (as a poll would); returns the calls it made.
async fn poll(env: &Env) -> Vec<String> {
    let before = calls(env).len();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
    let value = format!("{:?}", now.expect("after 1970"));
    env.poke::<PermissionGroup>(NS, GROUP, &value).await;
    let deadline = tokio::time::Instant::now() + WAIT;
    while calls(env).len() == before {
        assert!(tokio::time::Instant::now() < deadline, "no poll happened");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Anything beyond the read would arrive now.
    tokio::time::sleep(Duration::from_millis(500)).await;
    calls(env).split_off(before)
}

/// The body of the last PUT.
fn last_put(env: &Env) -> Value {
    requests(env)
        .into_iter()
        .rev()
        .find(|r| r.method == "PUT")
        .and_then(|r| r.body)
        .expect("a PUT with a body")
}

fn assert_official_bodies(env: &Env) {
    OpenApi::load("configcat-publicapi.yaml").assert_bodies(&requests(env), "");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unlisted_environments_get_the_new_environment_access_and_a_dropped_one_is_revoked() {
    let (env, p) = start().await;
    create(&env, spec(&p), json!({})).await;
    let id = ready(&env, 1).await;
    assert_eq!(accesses(&env, &id, &p), ["full", "readOnly", "none"]);

    // Production leaves the manifest, and the group is renamed: Production is sent `none`.
    env.patch_spec::<PermissionGroup>(
        NS,
        GROUP,
        json!({
            "name": "Developers (EU)",
            "environmentAccesses": [{"environmentId": p.test, "environmentAccessType": "full"}],
        }),
    )
    .await;
    ready(&env, 2).await;
    assert_eq!(accesses(&env, &id, &p), ["full", "none", "none"]);
    assert_eq!(group(&env, &id).name, "Developers (EU)");
    let sent = last_put(&env)["environmentAccesses"].clone();
    assert!(
        sent.as_array()
            .expect("a list")
            .contains(&json!({"environmentId": p.prod, "environmentAccessType": "none"})),
        "{sent}"
    );
    let note = format!(
        "updated configcat object {id}: name, environmentAccesses[{}]",
        p.prod
    );
    let events = env.events(NS, GROUP).await;
    assert!(
        events.iter().any(|(_, r, n)| r == "Updated" && *n == note),
        "{events:#?}"
    );

    // newEnvironmentAccessType: every unlisted environment gets it.
    env.patch_spec::<PermissionGroup>(NS, GROUP, json!({"newEnvironmentAccessType": "readOnly"}))
        .await;
    ready(&env, 3).await;
    assert_eq!(accesses(&env, &id, &p), ["full", "readOnly", "readOnly"]);

    // ConfigCat gives an environment created later that same access: it is not drift.
    let canary = env
        .sim
        .configcat
        .add_environment(&p.id, "Canary")
        .expect("product exists");
    assert_eq!(group(&env, &id).environment_accesses[&canary], "readOnly");
    assert_eq!(poll(&env).await, [format!("GET /v1/permissions/{id}")]);

    // With accessType full, environments are neither read nor sent.
    let before = calls(&env).len();
    env.patch_spec::<PermissionGroup>(
        NS,
        GROUP,
        json!({"accessType": "full", "environmentAccesses": null}),
    )
    .await;
    ready(&env, 4).await;
    assert_eq!(group(&env, &id).access_type, "full");
    assert_eq!(
        calls(&env).split_off(before),
        [
            format!("GET /v1/permissions/{id}"),
            format!("PUT /v1/permissions/{id}")
        ]
    );
    assert!(last_put(&env).get("environmentAccesses").is_none());
    assert_official_bodies(&env);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approval_rights_are_managed_only_when_the_manifest_sets_them() {
    let (env, p) = start().await;
    create(&env, spec(&p), json!({})).await;
    let id = ready(&env, 1).await;
    assert!(
        requests(&env)
            .iter()
            .filter_map(|r| r.body.as_ref())
            .all(|b| b.get("approvalPermissionType").is_none()),
        "unset approval fields were sent"
    );
    // Rights granted in ConfigCat are not Roleplane's while the manifest sets none.
    assert!(
        env.sim
            .configcat
            .edit_group(id.parse().expect("numeric id"), |g| {
                g.approval_permission_type = "canBypassApproval".into();
                g.environment_approval_permissions
                    .insert(p.test.clone(), "canBypassApproval".into());
            })
    );
    assert_eq!(poll(&env).await, [format!("GET /v1/permissions/{id}")]);

    // Managed: a listed environment gets its right; an unlisted one is left as it is.
    env.patch_spec::<PermissionGroup>(
        NS,
        GROUP,
        json!({
            "approvalPermissionType": "custom",
            "environmentApprovalPermissions": [
                {"environmentId": p.prod, "approvalPermissionType": "canApproveOthers"},
            ],
        }),
    )
    .await;
    ready(&env, 2).await;
    let g = group(&env, &id);
    assert_eq!(g.approval_permission_type, "custom");
    assert_eq!(
        g.environment_approval_permissions[&p.prod],
        "canApproveOthers"
    );
    assert_eq!(
        g.environment_approval_permissions[&p.test],
        "canBypassApproval"
    );

    // newEnvironmentApprovalPermissionType covers every unlisted environment.
    env.patch_spec::<PermissionGroup>(
        NS,
        GROUP,
        json!({"newEnvironmentApprovalPermissionType": "cannotApprove"}),
    )
    .await;
    ready(&env, 3).await;
    let g = group(&env, &id);
    assert_eq!(g.environment_approval_permissions[&p.test], "cannotApprove");
    assert_eq!(
        g.environment_approval_permissions[&p.prod],
        "canApproveOthers"
    );
    assert_official_bodies(&env);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn environment_deleted_in_configcat_is_dependency_not_ready_naming_it() {
    let (env, p) = start().await;
    create(&env, spec(&p), json!({})).await;
    let id = ready(&env, 1).await;
    assert!(env.sim.configcat.remove_environment(&p.prod));
    env.sim.configcat.traffic.clear_requests();
    env.poke::<PermissionGroup>(NS, GROUP, "1").await;
    let g = wait_status(
        &env,
        "DependencyNotReady",
        failed_with("DependencyNotReady"),
    )
    .await;
    assert!(!is_ready(g.status.as_ref().expect("status")));
    let message = synced_message(&g);
    assert!(message.contains(&p.prod), "{message}");
    assert_eq!(
        calls(&env),
        [
            format!("GET /v1/permissions/{id}"),
            format!("GET /v1/products/{}/environments", p.id)
        ],
        "nothing is written"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_product_is_dependency_not_ready_after_one_call() {
    let (env, p) = start().await;
    let mut s = spec(&p);
    s["productId"] = MISSING.into();
    create(&env, s, json!({})).await;
    let g = wait_status(
        &env,
        "DependencyNotReady",
        failed_with("DependencyNotReady"),
    )
    .await;
    let message = synced_message(&g);
    assert!(
        message.contains(MISSING) && message.contains("HTTP 404"),
        "{message}"
    );
    assert_eq!(
        calls(&env),
        [format!("GET /v1/products/{MISSING}/permissions")]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interrupted_create_with_two_same_named_groups_is_ambiguous_and_writes_nothing() {
    let (env, p) = start().await;
    let cc = &env.sim.configcat;
    let other = cc.add_product("Other product");
    let seed = |product: &str| {
        cc.create_group(product, &json!({"name": "Developers"}))
            .expect("seeded")
            .permission_group_id
            .to_string()
    };
    let (first, second) = (seed(&p.id), seed(&p.id));
    seed(&other);
    create(
        &env,
        spec(&p),
        json!({CREATE_PENDING_ANNOTATION: "2026-11-22T10:00:00Z"}),
    )
    .await;
    let g = wait_status(
        &env,
        "AmbiguousExternalObject",
        failed_with("AmbiguousExternalObject"),
    )
    .await;
    let message = synced_message(&g);
    assert!(
        message.contains(&format!("({first}, {second})")) && message.contains("spec.externalId"),
        "{message}"
    );
    assert_eq!(env.mutations(ProviderKind::ConfigCat), Vec::<String>::new());
    assert_eq!(cc.groups().len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn adopting_a_group_of_another_product_is_invalid_spec() {
    let (env, p) = start().await;
    let other = env.sim.configcat.add_product("Other product");
    let theirs = env
        .sim
        .configcat
        .create_group(&other, &json!({"name": "Developers"}))
        .expect("seeded");
    let mut s = spec(&p);
    s["externalId"] = theirs.permission_group_id.to_string().into();
    create(&env, s, json!({})).await;
    let g = wait_status(&env, "InvalidSpec", failed_with("InvalidSpec")).await;
    let message = synced_message(&g);
    assert!(message.contains(&other), "{message}");
    assert_eq!(env.mutations(ProviderKind::ConfigCat), Vec::<String>::new());
    assert_eq!(
        env.sim.configcat.group(theirs.permission_group_id),
        Some(theirs)
    );
}

/// A ConfigCat client with a budget of its own, and the account it uses.
fn client(base: &str) -> (ConfigCat, Account) {
    let account = Account::of::<ConfigCat>(
        format!("{base}/configcat"),
        Default::default(),
        Credentials::new([
            ("username".to_string(), USER.to_string()),
            ("password".to_string(), PASSWORD.to_string()),
        ]),
        "configcat/test",
    );
    (ConfigCat::new(test_providers().http), account)
}

fn rate_limit(requests: u32, retry_after_seconds: Option<u64>) -> Faults {
    Faults {
        rate_limit: Some(RateLimit {
            requests,
            window_seconds: 2,
            retry_after_seconds,
        }),
        ..Default::default()
    }
}

#[tokio::test]
async fn rate_limit_headers_pause_the_credential_and_a_429_waits_for_retry_after() {
    let (sim, base) = Simulator::start(Default::default())
        .await
        .expect("simulator");
    let traffic = &sim.configcat.traffic;
    let statuses = || {
        traffic
            .requests()
            .iter()
            .map(|r| r.status)
            .collect::<Vec<_>>()
    };

    // Two calls per 2 s: the headers of the second pause the third until the window resets.
    traffic.set_faults(rate_limit(2, None));
    let (cc, account) = client(&base);
    let started = Instant::now();
    for _ in 0..4 {
        cc.check_access(&account).await.expect("admitted");
    }
    assert!(
        started.elapsed() >= Duration::from_millis(1500),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(statuses(), [200; 4]);

    // Another client spent the window: the 429 is waited out (Retry-After: 1) inside the call.
    traffic.clear_requests();
    traffic.set_faults(rate_limit(1, Some(1)));
    let spent = reqwest::Client::new()
        .get(format!("{base}/configcat/v1/me"))
        .basic_auth(USER, Some(PASSWORD))
        .send()
        .await
        .expect("answered");
    assert_eq!(spent.status(), 200);
    let (cc, account) = client(&base);
    let started = Instant::now();
    cc.check_access(&account)
        .await
        .expect("admitted after the wait");
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(statuses(), [200, 429, 200]);
}

async fn raw(method: reqwest::Method, url: String, body: Option<Value>) -> reqwest::Response {
    let mut request = reqwest::Client::new()
        .request(method, url)
        .basic_auth(USER, Some(PASSWORD));
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.expect("answered")
}

#[tokio::test]
async fn simulator_validates_like_configcat_and_answers_the_documented_model() {
    use reqwest::Method;
    let (sim, base) = Simulator::start(Default::default())
        .await
        .expect("simulator");
    let cc = &sim.configcat;
    let product = cc.add_product("Sim");
    let test = cc
        .add_environment(&product, "Test")
        .expect("product exists");
    cc.add_environment(&product, "Production")
        .expect("product exists");
    let groups = format!("{base}/configcat/v1/products/{product}/permissions");
    for bad in [
        json!({}),
        json!({"name": ""}),
        json!({"name": "x".repeat(256)}),
        json!({"name": "g", "accessType": "everything"}),
        json!({"name": "g", "canManageMembers": "yes"}),
        json!({"name": "g", "environmentAccesses": [{"environmentId": MISSING, "environmentAccessType": "full"}]}),
    ] {
        let r = raw(Method::POST, groups.clone(), Some(bad.clone())).await;
        assert_eq!(r.status(), 400, "{bad}");
    }
    let created = raw(Method::POST, groups.clone(), Some(json!({"name": "g"}))).await;
    assert_eq!(created.status(), 201);
    let model: Value = created.json().await.expect("JSON");
    let openapi: Value = serde_yaml_ng::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/openapi/configcat-publicapi.yaml"
        ))
        .expect("the description"),
    )
    .expect("YAML");
    let required = openapi["components"]["schemas"]["PermissionGroupModel"]["required"]
        .as_array()
        .expect("required fields");
    for field in required {
        let field = field.as_str().expect("a name");
        assert!(model.get(field).is_some(), "{field} missing from {model}");
    }
    let accesses = model["environmentAccesses"].as_array().expect("a list");
    assert_eq!(accesses.len(), 2, "one entry per environment: {model}");
    assert!(
        accesses
            .iter()
            .all(|a| a["environmentAccessType"] == "none")
    );

    // PUT keeps absent and null fields and merges environment entries by id.
    let id = model["permissionGroupId"].as_i64().expect("an int64 id");
    let url = format!("{base}/configcat/v1/permissions/{id}");
    let body = json!({"name": null, "canDeleteTag": true,
        "environmentAccesses": [{"environmentId": test, "environmentAccessType": "full"}]});
    assert_eq!(
        raw(Method::PUT, url.clone(), Some(body)).await.status(),
        200
    );
    let g = cc.group(id).expect("the group");
    assert_eq!((g.name.as_str(), g.flags["canDeleteTag"]), ("g", true));
    assert_eq!(g.environment_accesses[&test], "full");
    let body = json!({"environmentAccesses": []});
    assert_eq!(
        raw(Method::PUT, url.clone(), Some(body)).await.status(),
        200
    );
    assert_eq!(
        cc.group(id).expect("the group").environment_accesses[&test],
        "full"
    );

    let elsewhere = format!("{base}/configcat/v1/permissions/{}", id + 1);
    assert_eq!(
        raw(Method::PUT, elsewhere, Some(json!({}))).await.status(),
        404
    );
    assert_eq!(raw(Method::DELETE, url.clone(), None).await.status(), 204);
    assert_eq!(raw(Method::DELETE, url, None).await.status(), 404);
    let unknown = format!("{base}/configcat/v1/products/{MISSING}/permissions");
    assert_eq!(raw(Method::GET, unknown, None).await.status(), 404);
    let anonymous = reqwest::get(format!("{base}/configcat/v1/me"))
        .await
        .expect("answered");
    assert_eq!(anonymous.status(), 401);
}

#[tokio::test]
async fn simulator_sends_rate_limit_headers_on_every_api_answer() {
    use reqwest::Method;
    let (sim, base) = Simulator::start(Default::default())
        .await
        .expect("simulator");
    let url = |p: &str| format!("{base}/configcat{p}");
    let headers = |r: &reqwest::Response| {
        let h = r.headers();
        let reset = h["x-rate-limit-reset"].to_str().expect("text").to_string();
        assert!(
            reset.contains('T') && reset.ends_with('Z'),
            "ISO 8601 UTC: {reset}"
        );
        let remaining = h["x-rate-limit-remaining"].to_str().expect("text");
        (r.status().as_u16(), remaining.to_string())
    };
    let me = raw(Method::GET, url("/v1/me"), None).await;
    assert_eq!(headers(&me), (200, "1000".into()));
    let anonymous = reqwest::get(url("/v1/me")).await.expect("answered");
    assert_eq!(headers(&anonymous).0, 401);
    let missing = raw(Method::GET, url("/v1/permissions/999"), None).await;
    assert_eq!(headers(&missing).0, 404);

    sim.configcat.traffic.set_faults(rate_limit(1, None));
    let last = raw(Method::GET, url("/v1/me"), None).await;
    assert_eq!(headers(&last), (200, "0".into()));
    let limited = raw(Method::GET, url("/v1/me"), None).await;
    assert_eq!(headers(&limited), (429, "0".into()));
    assert!(limited.headers().contains_key("retry-after"));
}
