//! Looker only: the sets behind a role (owned `roleplane:<role>` sets, references, switching
//! between them, renames), the permission catalogue check, built-in roles, Looker's 409 and 422
//! answers, login tokens, and the simulator's own guards. The lifecycle every product shares
//! (including the owned sets' create and delete order) is the conformance suite's.

use std::time::Duration;

use roleplane::crd::{ConditionStatus, LookerRole, ProviderConfig, Role};
use roleplane::providers::looker::Looker;
use roleplane::providers::looker::sim::{SetKind, SimRole, SimSet};
use roleplane::providers::{Account, Credentials, Desired, ErrorClass, Provider, Simulator};
use serde_json::{Value, json};

use crate::harness::*;
use crate::openapi::OpenApi;

const ID: &str = "sim-client-id";
const SECRET: &str = "sim-client-secret";
const ANALYST: &[&str] = &["access_data", "explore", "see_looks"];

/// A cluster with a Looker config, checked (and so logged in), polling only when a test pokes.
async fn start() -> Env {
    let env = Env::start_with(|c| c.poll_interval = NEVER).await;
    env.secret(
        NS,
        "looker-creds",
        &[("clientId", ID), ("clientSecret", SECRET)],
    )
    .await;
    env.provider_config(NS, "looker", "looker", "looker-creds", json!({}))
        .await;
    env.wait_managed::<ProviderConfig>(NS, "looker", "config Ready", |p| {
        p.status.as_ref().is_some_and(|s| {
            s.conditions
                .iter()
                .any(|c| c.r#type == "Ready" && c.status == ConditionStatus::True)
        })
    })
    .await;
    env
}

fn spec(name: &str, looker: Value) -> Value {
    json!({"providerConfigRef": {"name": "looker"}, "name": name, "looker": looker})
}

fn inline(permissions: &[&str]) -> Value {
    json!({"permissionSet": {"permissions": permissions}, "modelSet": {"models": ["thelook"]}})
}

async fn ready_at(env: &Env, name: &str, generation: i64) -> String {
    let role = env
        .wait_role(NS, name, "Ready", |s| {
            s.observed_generation == Some(generation) && is_ready(s)
        })
        .await;
    role.status.and_then(|s| s.external_id).expect("externalId")
}

fn role(env: &Env, id: &str) -> SimRole {
    env.sim.looker.role(id).expect("role in Looker")
}

fn set(env: &Env, kind: SetKind, id: &str) -> Option<SimSet> {
    env.sim.looker.set(kind, id)
}

fn owned(env: &Env, kind: SetKind, role: &str) -> Vec<SimSet> {
    let name = format!("roleplane:{role}");
    let sets = env.sim.looker.sets(kind);
    sets.into_iter().filter(|s| s.name == name).collect()
}

/// The ids of the built-in "Admin" permission set and "All" model set.
fn builtins(sim: &Simulator) -> (String, String) {
    let looker = &sim.looker;
    let admin = looker.set_by_name(SetKind::Permission, "Admin");
    let all = looker.set_by_name(SetKind::Model, "All");
    (admin.expect("Admin").id, all.expect("All").id)
}

/// Every call Looker saw since the last clear, as `METHOD path` (logins aside).
fn calls(env: &Env) -> Vec<String> {
    let log = env.sim.looker.traffic.requests();
    log.into_iter()
        .filter(|r| !r.path.ends_with("/login"))
        .map(|r| format!("{} {}", r.method, r.path.trim_start_matches("/api/4.0")))
        .collect()
}

fn writes(env: &Env) -> Vec<String> {
    let calls = calls(env).into_iter();
    calls.filter(|c| !c.starts_with("GET ")).collect()
}

fn clear(env: &Env) {
    env.sim.looker.traffic.clear_requests();
}

fn assert_bodies(env: &Env) {
    OpenApi::load("looker-4.0.oas.json")
        .assert_bodies(&env.sim.looker.traffic.requests(), "/api/4.0");
}

/// Waits until `check` holds in Looker.
async fn eventually(what: &str, check: impl Fn() -> bool) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !check() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn referenced_sets_are_used_never_changed_and_only_owned_leftovers_are_deleted() {
    let env = start().await;
    let looker = &env.sim.looker;
    let viewer = looker.insert_set(SetKind::Permission, "Viewer", &["access_data", "see_looks"]);
    let (_, all) = builtins(&env.sim);
    clear(&env);
    let refs = json!({"permissionSetRef": {"name": "Viewer"}, "modelSetRef": {"id": all}});
    env.role(NS, "viewers", spec("Viewers", refs)).await;
    let id = ready_at(&env, "viewers", 1).await;
    let r = role(&env, &id);
    assert_eq!(
        (r.permission_set_id, r.model_set_id),
        (viewer.clone(), all.clone())
    );
    let status = env.get::<Role>(NS, "viewers").await.and_then(|r| r.status);
    let observed = status.and_then(|s| s.observed);
    assert_eq!(
        observed.as_deref(),
        Some("permission set Viewer (2), model set All")
    );
    // References are resolved, never written; no catalogue read without an inline set.
    assert_eq!(
        calls(&env),
        [
            "GET /roles/search".to_string(),
            "GET /permission_sets/search".into(),
            format!("GET /model_sets/{all}"),
            "POST /roles".into(),
        ]
    );
    // Unchanged references cost nothing on an update: no lookup, no search for owned sets.
    clear(&env);
    env.patch_spec::<Role>(NS, "viewers", json!({"name": "Readers"}))
        .await;
    ready_at(&env, "viewers", 2).await;
    assert_eq!(
        calls(&env),
        [format!("GET /roles/{id}"), format!("PATCH /roles/{id}")]
    );
    // What a crash during a switch to the reference would leave: a set with the owned name.
    let stray = looker.insert_set(SetKind::Permission, "roleplane:Readers", &["access_data"]);
    clear(&env);
    env.delete::<Role>(NS, "viewers").await;
    env.wait_gone::<Role>(NS, "viewers").await;
    assert_eq!(
        writes(&env),
        [
            format!("DELETE /roles/{id}"),
            format!("DELETE /permission_sets/{stray}")
        ]
    );
    let kept = set(&env, SetKind::Permission, &viewer).expect("Viewer kept");
    assert_eq!(kept.items, ["access_data", "see_looks"]);
    assert!(set(&env, SetKind::Model, &all).is_some());
    assert!(set(&env, SetKind::Permission, &stray).is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_reference_is_dependency_not_ready_until_it_exists() {
    let env = start().await;
    let looker =
        json!({"permissionSetRef": {"name": "Viewer"}, "modelSet": {"models": ["thelook"]}});
    env.role(NS, "viewers", spec("Viewers", looker)).await;
    let r = env
        .wait_role(
            NS,
            "viewers",
            "DependencyNotReady",
            failed_with("DependencyNotReady"),
        )
        .await;
    let message = synced_message(&r);
    assert!(
        message.contains("no permission set is named \"Viewer\""),
        "{message}"
    );
    assert_eq!(
        writes(&env),
        Vec::<String>::new(),
        "wrote before the reference existed"
    );
    let viewer = env
        .sim
        .looker
        .insert_set(SetKind::Permission, "Viewer", &["access_data"]);
    let id = ready_at(&env, "viewers", 1).await;
    assert_eq!(role(&env, &id).permission_set_id, viewer);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn switching_to_a_reference_deletes_the_owned_set_and_back_makes_a_new_one() {
    let env = start().await;
    env.role(NS, "analysts", spec("Analyst", inline(ANALYST)))
        .await;
    let id = ready_at(&env, "analysts", 1).await;
    let owned_ps = role(&env, &id).permission_set_id;
    let viewer = env
        .sim
        .looker
        .insert_set(SetKind::Permission, "Viewer", &["access_data"]);
    clear(&env);
    let to_ref = json!({"looker": {"permissionSet": null, "permissionSetRef": {"name": "Viewer"}}});
    env.patch_spec::<Role>(NS, "analysts", to_ref).await;
    ready_at(&env, "analysts", 2).await;
    assert_eq!(role(&env, &id).permission_set_id, viewer);
    assert_eq!(
        calls(&env),
        [
            format!("GET /roles/{id}"),
            "GET /permission_sets/search".into(),
            format!("PATCH /roles/{id}"),
            format!("DELETE /permission_sets/{owned_ps}"),
        ],
        "the owned set goes after the role stopped using it"
    );
    let note = env.wait_event(NS, "analysts", "Updated").await;
    assert!(note.contains("looker.permissionSetRef"), "{note}");

    let back = json!({"looker": {"permissionSetRef": null, "permissionSet": {"permissions": ["access_data", "see_looks"]}}});
    env.patch_spec::<Role>(NS, "analysts", back).await;
    ready_at(&env, "analysts", 3).await;
    let now = set(
        &env,
        SetKind::Permission,
        &role(&env, &id).permission_set_id,
    )
    .expect("set");
    assert_eq!(now.name, "roleplane:Analyst");
    assert_eq!(now.items, ["access_data", "see_looks"]);
    let untouched = set(&env, SetKind::Permission, &viewer).expect("Viewer kept");
    assert_eq!(untouched.items, ["access_data"]);
    assert_bodies(&env);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn renaming_the_role_renames_its_owned_sets_in_place() {
    let env = start().await;
    env.role(NS, "analysts", spec("Analyst", inline(ANALYST)))
        .await;
    let id = ready_at(&env, "analysts", 1).await;
    let before = role(&env, &id);
    clear(&env);
    env.patch_spec::<Role>(NS, "analysts", json!({"name": "Data Analyst"}))
        .await;
    ready_at(&env, "analysts", 2).await;
    let after = role(&env, &id);
    assert_eq!(after.name, "Data Analyst");
    assert_eq!(
        (&after.permission_set_id, &after.model_set_id),
        (&before.permission_set_id, &before.model_set_id),
        "renamed, not replaced"
    );
    for kind in [SetKind::Permission, SetKind::Model] {
        assert_eq!(owned(&env, kind, "Data Analyst").len(), 1, "{kind:?}");
        assert!(owned(&env, kind, "Analyst").is_empty(), "{kind:?}");
    }
    // A rename changes no members: no catalogue read.
    assert_eq!(
        calls(&env),
        [
            format!("GET /roles/{id}"),
            format!("PATCH /permission_sets/{}", before.permission_set_id),
            format!("PATCH /model_sets/{}", before.model_set_id),
            format!("PATCH /roles/{id}"),
        ]
    );
    assert_bodies(&env);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drift_in_an_owned_set_is_corrected_on_the_set_and_a_repointed_role_gets_it_back() {
    let env = start().await;
    env.role(NS, "analysts", spec("Analyst", inline(ANALYST)))
        .await;
    let id = ready_at(&env, "analysts", 1).await;
    let ms = role(&env, &id).model_set_id;
    let looker = &env.sim.looker;
    assert!(looker.edit_set(SetKind::Model, &ms, None, Some(&["thelook", "ecommerce"])));
    clear(&env);
    env.poke::<Role>(NS, "analysts", "1").await;
    let note = env.wait_event(NS, "analysts", "DriftCorrected").await;
    assert!(note.ends_with("corrected looker.modelSet.models"), "{note}");
    assert_eq!(
        set(&env, SetKind::Model, &ms).expect("set").items,
        ["thelook"]
    );
    assert_eq!(
        calls(&env),
        [
            format!("GET /roles/{id}"),
            format!("PATCH /model_sets/{ms}")
        ],
        "the set alone is corrected, without a catalogue read"
    );

    let (_, all) = builtins(&env.sim);
    assert!(looker.edit_role(&id, None, None, Some(&all)));
    env.poke::<Role>(NS, "analysts", "2").await;
    // The owned set is reused (Events of one reason are counted as a series, so the state tells).
    eventually("the role to use its owned set again", || {
        role(&env, &id).model_set_id == ms
    })
    .await;
    assert_eq!(owned(&env, SetKind::Model, "Analyst").len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_permissions_and_missing_parents_are_invalid_spec_before_any_write() {
    let env = start().await;
    let bad = ["access_data", "see_lokml", "explore"];
    let invalid = |generation| {
        move |s: &roleplane::crd::ManagedStatus| {
            s.observed_generation == Some(generation) && failed_with("InvalidSpec")(s)
        }
    };
    let explains = |r: &Role| {
        let message = synced_message(r);
        for part in [
            "unknown permission \"see_lokml\" (closest: see_lookml",
            "permission \"explore\" needs its parent \"see_looks\"",
        ] {
            assert!(message.contains(part), "{message}");
        }
    };
    clear(&env);
    env.role(NS, "analysts", spec("Analyst", inline(&bad)))
        .await;
    explains(
        &env.wait_role(NS, "analysts", "InvalidSpec", invalid(1))
            .await,
    );
    assert_eq!(calls(&env), ["GET /roles/search", "GET /permissions"]);
    // The same check guards a change to an existing role.
    let permissions = |p: &[&str]| json!({"looker": {"permissionSet": {"permissions": p}}});
    env.patch_spec::<Role>(NS, "analysts", permissions(ANALYST))
        .await;
    let id = ready_at(&env, "analysts", 2).await;
    clear(&env);
    env.patch_spec::<Role>(NS, "analysts", permissions(&bad))
        .await;
    explains(
        &env.wait_role(NS, "analysts", "InvalidSpec", invalid(3))
            .await,
    );
    // The catalogue kept since the last check refuses them, so it is read afresh before the
    // spec is called invalid (a kept catalogue never refuses on its own).
    assert_eq!(
        calls(&env),
        [format!("GET /roles/{id}"), "GET /permissions".into()]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_name_taken_in_another_case_is_already_exists_with_no_owned_sets_left() {
    // Whether Looker compares names ignoring case is not documented: both answers work.
    for ignore_case in [true, false] {
        let env = start().await;
        let looker = &env.sim.looker;
        looker.set_case_insensitive_names(ignore_case);
        let (admin_ps, all) = builtins(&env.sim);
        looker.insert_role("analyst", &admin_ps, &all);
        env.role(NS, "analysts", spec("Analyst", inline(ANALYST)))
            .await;
        if !ignore_case {
            ready_at(&env, "analysts", 1).await;
            assert_eq!(looker.roles().len(), 3);
            continue;
        }
        let r = env
            .wait_role(
                NS,
                "analysts",
                "AlreadyExists",
                failed_with("AlreadyExists"),
            )
            .await;
        let message = synced_message(&r);
        assert!(
            message.contains("HTTP 409") && message.contains("spec.externalId"),
            "{message}"
        );
        for kind in [SetKind::Permission, SetKind::Model] {
            assert!(
                owned(&env, kind, "Analyst").is_empty(),
                "{kind:?} set left behind"
            );
        }
        assert_eq!(looker.roles().len(), 2, "Admin and analyst");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owned_set_left_by_a_crash_is_reused_and_corrected() {
    let env = start().await;
    let stray =
        env.sim
            .looker
            .insert_set(SetKind::Permission, "roleplane:Analyst", &["access_data"]);
    env.role(NS, "analysts", spec("Analyst", inline(ANALYST)))
        .await;
    let id = ready_at(&env, "analysts", 1).await;
    assert_eq!(role(&env, &id).permission_set_id, stray);
    let sets = owned(&env, SetKind::Permission, "Analyst");
    assert_eq!(sets.len(), 1);
    assert_eq!(sets[0].items, ANALYST);
    assert_bodies(&env);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_built_in_admin_role_is_neither_changed_nor_deleted_and_says_why() {
    let env = start().await;
    let looker = &env.sim.looker;
    let admin = looker.role_by_name("Admin").expect("Admin").id;
    looker.insert_set(SetKind::Model, "Sales", &["ecommerce"]);
    let refs = json!({"permissionSetRef": {"name": "Admin"}, "modelSetRef": {"name": "Sales"}});
    let mut adopt = spec("Admin", refs);
    adopt["externalId"] = admin.clone().into();
    env.role(NS, "admin", adopt).await;
    let r = env
        .wait_role(
            NS,
            "admin",
            "ProviderRejected",
            failed_with("ProviderRejected"),
        )
        .await;
    let built_in = "role \"Admin\" is built-in and cannot be modified or deleted";
    assert!(
        synced_message(&r).contains(built_in),
        "{}",
        synced_message(&r)
    );
    env.patch_spec::<Role>(
        NS,
        "admin",
        json!({"looker": {"modelSetRef": {"name": "All"}}}),
    )
    .await;
    ready_at(&env, "admin", 2).await;

    env.delete::<Role>(NS, "admin").await;
    let r = env
        .wait_role(
            NS,
            "admin",
            "ProviderRejected",
            failed_with("ProviderRejected"),
        )
        .await;
    let message = synced_message(&r);
    assert!(
        message.contains("HTTP 405") && message.contains(built_in),
        "{message}"
    );
    assert_eq!(role(&env, &admin).model_set_id, builtins(&env.sim).1);
    assert!(
        env.get::<Role>(NS, "admin").await.is_some(),
        "the finalizer stays"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rename_onto_a_taken_name_reports_lookers_field_errors() {
    let env = start().await;
    let looker = &env.sim.looker;
    let (admin_ps, all) = builtins(&env.sim);
    looker.insert_role("Finance", &admin_ps, &all);
    let refs = json!({"permissionSetRef": {"id": admin_ps}, "modelSetRef": {"id": all}});
    env.role(NS, "analysts", spec("Analyst", refs)).await;
    let id = ready_at(&env, "analysts", 1).await;
    env.patch_spec::<Role>(NS, "analysts", json!({"name": "Finance"}))
        .await;
    let r = env
        .wait_role(
            NS,
            "analysts",
            "ProviderRejected",
            failed_with("ProviderRejected"),
        )
        .await;
    assert_eq!(
        synced_message(&r),
        "looker update role: HTTP 422: Validation Failed; name: Role with name 'Finance' already exists"
    );
    assert_eq!(role(&env, &id).name, "Analyst");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_expiring_mid_run_is_renewed_once_and_the_change_applied() {
    let env = start().await;
    env.role(NS, "analysts", spec("Analyst", inline(ANALYST)))
        .await;
    let id = ready_at(&env, "analysts", 1).await;
    let logins = env.sim.looker.logins();
    env.sim.looker.expire_tokens();
    clear(&env);
    env.patch_spec::<Role>(
        NS,
        "analysts",
        json!({"looker": {"modelSet": {"models": ["ecommerce"]}}}),
    )
    .await;
    ready_at(&env, "analysts", 2).await;
    let ms = set(&env, SetKind::Model, &role(&env, &id).model_set_id).expect("set");
    assert_eq!(ms.items, ["ecommerce"]);
    assert_eq!(env.sim.looker.logins(), logins + 1);
    let log = env.sim.looker.traffic.requests();
    assert_eq!(
        log.iter().filter(|r| r.status == 401).count(),
        1,
        "{log:#?}"
    );
}

/// The provider on its own against a simulator, for what a resource's status cannot show.
async fn direct() -> (Simulator, String, Looker, Account) {
    let (sim, base) = Simulator::start(Default::default())
        .await
        .expect("simulator");
    let account = looker_account(&base, ID, SECRET);
    (sim, base, Looker::new(test_providers().http), account)
}

fn looker_account(base: &str, id: &str, secret: &str) -> Account {
    Account::of::<Looker>(
        format!("{base}/looker"),
        Default::default(),
        Credentials::new([
            ("clientId".to_string(), id.to_string()),
            ("clientSecret".to_string(), secret.to_string()),
        ]),
        "team-a/looker",
    )
}

#[tokio::test]
async fn tokens_are_shared_refreshed_before_expiry_and_follow_a_rotated_secret() {
    let (sim, base, looker, account) = direct().await;
    sim.looker.set_token_ttl(Duration::from_secs(2));
    let checks = (0..6).map(|_| looker.check_access(&account));
    for r in futures::future::join_all(checks).await {
        r.expect("access");
    }
    assert_eq!(sim.looker.logins(), 1, "concurrent calls share one login");
    let login = &sim.looker.traffic.requests()[0];
    assert!(
        login.path.ends_with("/login") && login.query.is_none(),
        "{login:?}"
    );
    // Renewed a tenth of its lifetime early: Looker never refuses it.
    tokio::time::sleep(Duration::from_millis(1900)).await;
    looker.check_access(&account).await.expect("access");
    assert_eq!(sim.looker.logins(), 2);
    // A rotated Secret logs in with the new key at once, not after a 401.
    sim.looker.add_client("rotated-id", "rotated-secret");
    sim.looker.revoke_client(ID);
    let rotated = looker_account(&base, "rotated-id", "rotated-secret");
    looker.check_access(&rotated).await.expect("access");
    assert_eq!(sim.looker.logins(), 3);
    let log = sim.looker.traffic.requests();
    assert!(log.iter().all(|r| r.status != 401), "{log:#?}");
}

#[tokio::test]
async fn a_missing_set_id_is_dependency_not_ready_and_a_missing_role_is_none() {
    let (sim, _, looker, account) = direct().await;
    let block: LookerRole = serde_json::from_value(json!({
        "permissionSet": {"permissions": ["access_data"]}, "modelSetRef": {"id": "9999"},
    }))
    .expect("block");
    let desired = Desired {
        name: "Analyst",
        spec: &block,
    };
    let err = looker
        .create(&account, desired)
        .await
        .expect_err("no set 9999");
    assert_eq!(err.class(), ErrorClass::DependencyNotReady, "{err}");
    assert!(err.to_string().contains("\"9999\""), "{err}");
    let log = sim.looker.traffic.requests();
    assert!(
        log.iter()
            .all(|r| r.method == "GET" || r.path.ends_with("/login")),
        "{log:#?}"
    );
    let gone = looker
        .observe(&account, desired, "4242")
        .await
        .expect("read");
    assert!(gone.is_none());
}

#[tokio::test]
async fn name_lookups_page_through_and_keep_exact_matches_only() {
    let (sim, _, looker, account) = direct().await;
    let (admin_ps, all) = builtins(&sim);
    for i in 0..150 {
        sim.looker
            .insert_role(&format!("role-{i:03}"), &admin_ps, &all);
    }
    sim.looker.insert_role("ROLE-007", &admin_ps, &all);
    let listed = looker.list(&account, "").await.expect("list");
    assert_eq!(listed.len(), 152, "Admin, 150 roles and ROLE-007");
    let block = LookerRole::default();
    let named = |name| looker.find_named(&account, Desired { name, spec: &block });
    let found = named("role-007").await.expect("search");
    assert_eq!(
        found.iter().map(|l| l.name.as_str()).collect::<Vec<_>>(),
        ["role-007"]
    );
    // `_` is a wildcard in Looker's search: it matches role-007, which is not the name.
    assert!(named("role_007").await.expect("search").is_empty());
    let searches = sim.looker.traffic.requests();
    let pages = searches
        .iter()
        .filter(|r| r.path.ends_with("/roles/search"))
        .count();
    assert_eq!(pages, 4, "two pages for the listing, one per name");
}

#[tokio::test]
async fn the_simulator_guards_tokens_built_ins_and_sets_in_use() {
    use reqwest::Method;
    let (sim, base, _, _) = direct().await;
    let http = reqwest::Client::new();
    let api = |method, path: &str| http.request(method, format!("{base}/looker/api/4.0{path}"));
    let answer = |request: reqwest::RequestBuilder| async move {
        let response = request.send().await.expect("an answer");
        let status = response.status().as_u16();
        (status, response.json::<Value>().await.unwrap_or_default())
    };
    assert_eq!(answer(api(Method::GET, "/roles")).await.0, 401);
    let key = |secret| [("client_id", ID), ("client_secret", secret)];
    let refused = api(Method::POST, "/login").form(&key("nope"));
    assert_eq!(answer(refused).await.0, 404, "an unknown key is 404");
    let (_, login) = answer(api(Method::POST, "/login").form(&key(SECRET))).await;
    assert_eq!(login["token_type"], "Bearer");
    assert_eq!(login["expires_in"], 3600);
    let auth = format!("token {}", login["access_token"].as_str().expect("token"));
    let authed = |method, path: &str| api(method, path).header("authorization", &auth);

    let (admin_ps, all) = builtins(&sim);
    let admin = sim.looker.role_by_name("Admin").expect("Admin").id;
    let (_, role) = answer(authed(Method::GET, &format!("/roles/{admin}"))).await;
    assert_eq!(role["permission_set"]["name"], "Admin");
    assert!(
        role.get("permission_set_id").is_none(),
        "write-only ids are not read back"
    );
    let edit = authed(Method::PATCH, &format!("/permission_sets/{admin_ps}"));
    let edit = edit.json(&json!({"permissions": ["access_data"]}));
    assert_eq!(answer(edit).await.0, 405, "built-in sets cannot be changed");
    let used = sim.looker.insert_set(SetKind::Model, "Used", &["thelook"]);
    sim.looker.insert_role("User of Used", &admin_ps, &used);
    let delete = authed(Method::DELETE, &format!("/model_sets/{used}"));
    assert_eq!(answer(delete).await.0, 422, "a set in use stays");
    let role = json!({"name": "x", "permission_set_id": "9999", "model_set_id": all});
    let (status, missing) = answer(authed(Method::POST, "/roles").json(&role)).await;
    assert_eq!(
        (status, &missing["errors"][0]["field"]),
        (422, &json!("permission_set_id"))
    );
    let parentless = json!({"name": "p", "permissions": ["see_looks"]});
    let create = authed(Method::POST, "/permission_sets").json(&parentless);
    assert_eq!(answer(create).await.0, 422, "a permission needs its parent");

    let admin_api = format!("{base}/looker/_admin");
    let (_, state) = answer(http.get(format!("{admin_api}/state"))).await;
    assert_eq!(state["activeTokens"], 1);
    answer(http.post(format!("{admin_api}/tokens/expire"))).await;
    let expired = answer(authed(Method::GET, "/roles")).await.0;
    assert_eq!(expired, 401, "an expired token is refused");
}
