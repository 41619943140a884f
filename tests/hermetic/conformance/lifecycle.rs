//! The lifecycle scenarios, each generic over a product's [`Fixture`].

use std::time::Duration;

use kube::Resource;
use roleplane::crd::{
    CREATE_PENDING_ANNOTATION, ConditionStatus, FINALIZER, Managed, ManagedStatus, ProviderConfig,
};
use roleplane::sim::{Faults, RateLimit, RecordedRequest};
use serde_json::{Value, json};

use super::Fixture;
use super::calls::{Operation, documented};
use crate::harness::*;
use crate::openapi::OpenApi;

/// The object's name in the product, and the resource's name in Kubernetes.
const NAME: &str = "Conformance";
const RESOURCE: &str = "conformance";
/// A poll interval no test outlives: only what the test does triggers a reconcile.
const NEVER: Duration = Duration::from_secs(3600);

/// A cluster with the product's account in `NS`, its config Ready.
async fn start<F: Fixture>(poll: Duration) -> Env {
    let env = Env::start_with(|c| c.poll_interval = poll).await;
    F::account(&env, NS, true).await;
    env.wait_managed::<ProviderConfig>(NS, F::PRODUCT.as_str(), "config Ready", |p| {
        p.status.as_ref().is_some_and(|s| {
            s.conditions
                .iter()
                .any(|c| c.r#type == "Ready" && c.status == ConditionStatus::True)
        })
    })
    .await;
    settle::<F>(&env).await;
    env
}

/// Waits until the product has seen no request for half a second: the config checks its
/// credentials again after writing its own Ready status, and that read must not land among the
/// calls a scenario counts (nor take a fault meant for the resource).
async fn settle<F: Fixture>(env: &Env) {
    let deadline = tokio::time::Instant::now() + WAIT;
    let mut seen = F::traffic(env).requests().len();
    loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let now = F::traffic(env).requests().len();
        if now == seen || tokio::time::Instant::now() > deadline {
            return;
        }
        seen = now;
    }
}

fn with(mut spec: Value, extra: Value) -> Value {
    if let (Value::Object(s), Value::Object(e)) = (&mut spec, extra) {
        s.extend(e);
    }
    spec
}

async fn create<F: Fixture>(env: &Env, spec: Value, annotations: Value) -> F::Kind {
    env.apply::<F::Kind>(
        NS,
        json!({"metadata": {"name": RESOURCE, "annotations": annotations}, "spec": spec}),
    )
    .await
}

fn status<K: Managed>(obj: &K) -> &ManagedStatus {
    obj.managed_status().expect("a status")
}

fn external_id<K: Managed>(obj: &K) -> String {
    status(obj).external_id.clone().expect("an externalId")
}

async fn wait<F: Fixture>(
    env: &Env,
    what: &str,
    check: impl Fn(&ManagedStatus) -> bool,
) -> F::Kind {
    env.wait_managed::<F::Kind>(NS, RESOURCE, what, |o| {
        o.managed_status().is_some_and(&check)
    })
    .await
}

async fn ready<F: Fixture>(env: &Env) -> F::Kind {
    wait::<F>(env, "Ready", is_ready).await
}

fn requests<F: Fixture>(env: &Env) -> Vec<RecordedRequest> {
    let mut log = F::traffic(env).requests();
    log.sort_by_key(|r| r.at_ms);
    log
}

/// Every call, as `METHOD path`.
fn calls<F: Fixture>(env: &Env) -> Vec<String> {
    requests::<F>(env)
        .into_iter()
        .map(|r| format!("{} {}", r.method, r.path))
        .collect()
}

/// Calls that change the product (a login does not).
fn writes<F: Fixture>(env: &Env) -> Vec<String> {
    calls::<F>(env)
        .into_iter()
        .filter(|c| !c.starts_with("GET ") && !c.ends_with("/login"))
        .collect()
}

fn assert_documented<F: Fixture>(env: &Env, op: Operation, id: &str) {
    let expected = documented(F::PRODUCT, op, &F::placeholders(env, NAME, id));
    assert_eq!(
        calls::<F>(env),
        expected,
        "{} {op:?}: the calls differ from docs/provider-calls.md",
        F::PRODUCT
    );
}

fn assert_official_bodies<F: Fixture>(env: &Env) {
    if let Some((file, prefix)) = F::OPENAPI {
        OpenApi::load(file).assert_bodies(&F::traffic(env).requests(), prefix);
    }
}

async fn events(env: &Env) -> Vec<(String, String, String)> {
    env.events(NS, RESOURCE).await
}

pub async fn create_goes_ready_with_the_minimum_calls<F: Fixture>() {
    let env = start::<F>(NEVER).await;
    F::traffic(&env).clear_requests();
    let kube_from = env.api.requests().len();
    create::<F>(&env, F::spec(NAME), json!({})).await;
    let obj = ready::<F>(&env).await;
    settle::<F>(&env).await;
    // Roleplane's own writes to the resource: the create intent with the finalizer, the status
    // carrying the new id, and the intent dropped. (Events aside.)
    let writes: Vec<String> = kube_writes(&env, kube_from)
        .into_iter()
        .filter(|w| !w.contains("fieldManager=test") && !w.contains("/events"))
        .collect();
    assert_eq!(
        writes.len(),
        3,
        "Kubernetes writes for one create: {writes:#?}"
    );
    let id = external_id(&obj);
    assert_eq!(F::named(&env, NAME), vec![id.clone()]);
    assert!(F::holds(&env, &id, false), "the product object differs");
    assert_eq!(status(&obj).provider, Some(F::PRODUCT));
    assert_eq!(status(&obj).observed_generation, obj.meta().generation);
    assert!(
        obj.meta()
            .finalizers
            .iter()
            .flatten()
            .any(|f| f == FINALIZER)
    );
    // One Event for a create (it stands for Ready too: an Event is an API write as well).
    let events = events(&env).await;
    assert!(
        events
            .iter()
            .any(|(_, r, n)| r == "Created" && n.contains(&id)),
        "no Created event naming {id}: {events:?}"
    );
    assert_eq!(events.len(), 1, "{events:?}");
    assert_documented::<F>(&env, Operation::Create, &id);
    assert_official_bodies::<F>(&env);
}

pub async fn in_sync_poll_reads_and_never_writes<F: Fixture>() {
    let env = start::<F>(NEVER).await;
    create::<F>(&env, F::spec(NAME), json!({})).await;
    let id = external_id(&ready::<F>(&env).await);
    F::traffic(&env).clear_requests();
    env.poke::<F::Kind>(NS, RESOURCE, "1").await;
    let expected = documented(
        F::PRODUCT,
        Operation::Poll,
        &F::placeholders(&env, NAME, &id),
    );
    let deadline = tokio::time::Instant::now() + WAIT;
    while calls::<F>(&env).len() < expected.len() {
        assert!(tokio::time::Instant::now() < deadline, "no poll happened");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Anything beyond the documented calls would arrive now.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_documented::<F>(&env, Operation::Poll, &id);
    assert!(is_ready(status(&ready::<F>(&env).await)));
}

pub async fn spec_change_is_applied_with_the_minimum_calls<F: Fixture>() {
    let env = start::<F>(NEVER).await;
    create::<F>(&env, F::spec(NAME), json!({})).await;
    let id = external_id(&ready::<F>(&env).await);
    F::traffic(&env).clear_requests();
    env.patch_spec::<F::Kind>(NS, RESOURCE, F::change()).await;
    wait::<F>(&env, "generation 2 Ready", |s| {
        s.observed_generation == Some(2) && is_ready(s)
    })
    .await;
    assert!(
        F::holds(&env, &id, true),
        "the change did not reach the product"
    );
    assert!(
        events(&env)
            .await
            .iter()
            .any(|(_, r, n)| r == "Updated" && n.contains(&id)),
        "no Updated event"
    );
    assert_documented::<F>(&env, Operation::Update, &id);
    assert_official_bodies::<F>(&env);
}

pub async fn out_of_band_edit_is_corrected_with_an_event<F: Fixture>() {
    let env = start::<F>(Duration::from_secs(2)).await;
    create::<F>(&env, F::spec(NAME), json!({})).await;
    let id = external_id(&ready::<F>(&env).await);
    F::edit(&env, &id);
    assert!(!F::holds(&env, &id, false), "the edit changed nothing");
    let note = env.wait_event(NS, RESOURCE, "DriftCorrected").await;
    assert!(note.contains(F::EDITED_FIELD), "{note}");
    assert!(F::holds(&env, &id, false), "the drift was not corrected");
}

pub async fn observe_only_reports_drift_and_never_writes<F: Fixture>() {
    let env = start::<F>(NEVER).await;
    let id = F::seed(&env, NAME);
    F::traffic(&env).clear_requests();
    create::<F>(
        &env,
        with(F::spec(NAME), json!({"managementPolicy": "ObserveOnly"})),
        json!({}),
    )
    .await;
    let obj = wait::<F>(
        &env,
        "Drifted",
        |s| matches!(condition(s, "Ready"), Some((ConditionStatus::False, r, _)) if r == "Drifted"),
    )
    .await;
    assert_eq!(external_id(&obj), id);
    env.delete::<F::Kind>(NS, RESOURCE).await;
    env.wait_gone::<F::Kind>(NS, RESOURCE).await;
    assert_eq!(
        writes::<F>(&env),
        Vec::<String>::new(),
        "observe-only wrote"
    );
    assert_eq!(F::named(&env, NAME), vec![id.clone()]);
    assert!(
        !F::holds(&env, &id, false),
        "observe-only changed the object"
    );
}

pub async fn existing_object_is_adopted_by_external_id<F: Fixture>() {
    let env = start::<F>(NEVER).await;
    let id = F::seed(&env, NAME);
    create::<F>(
        &env,
        with(F::spec(NAME), json!({"externalId": id})),
        json!({}),
    )
    .await;
    let obj = ready::<F>(&env).await;
    assert_eq!(external_id(&obj), id);
    let note = env.wait_event(NS, RESOURCE, "Adopted").await;
    assert!(note.contains("spec.externalId"), "{note}");
    assert!(
        F::holds(&env, &id, false),
        "the adopted object was not corrected"
    );
    assert_eq!(F::named(&env, NAME), vec![id]);
}

pub async fn same_named_object_without_external_id_is_already_exists<F: Fixture>() {
    let env = start::<F>(NEVER).await;
    let id = F::seed(&env, NAME);
    F::traffic(&env).clear_requests();
    create::<F>(&env, F::spec(NAME), json!({})).await;
    let obj = wait::<F>(&env, "AlreadyExists", failed_with("AlreadyExists")).await;
    assert!(!is_ready(status(&obj)));
    assert!(
        synced_message(&obj).contains("spec.externalId"),
        "{}",
        synced_message(&obj)
    );
    env.wait_event(NS, RESOURCE, "AlreadyExists").await;
    assert_eq!(
        writes::<F>(&env),
        Vec::<String>::new(),
        "took over an object"
    );
    assert_eq!(F::named(&env, NAME), vec![id]);
}

pub async fn interrupted_create_is_adopted_not_duplicated<F: Fixture>() {
    let env = start::<F>(NEVER).await;
    // What a crash between the product's create and the status write leaves behind.
    let id = F::seed(&env, NAME);
    create::<F>(
        &env,
        F::spec(NAME),
        json!({CREATE_PENDING_ANNOTATION: "2026-11-22T10:00:00Z"}),
    )
    .await;
    let obj = ready::<F>(&env).await;
    assert_eq!(external_id(&obj), id);
    assert!(
        !obj.meta()
            .annotations
            .iter()
            .flatten()
            .any(|(k, _)| k == CREATE_PENDING_ANNOTATION)
    );
    assert_eq!(F::named(&env, NAME), vec![id.clone()], "duplicated");
    assert!(F::holds(&env, &id, false));
    let note = env.wait_event(NS, RESOURCE, "Adopted").await;
    assert!(note.contains("interrupted create"), "{note}");
}

pub async fn deletion_deletes_with_the_minimum_calls<F: Fixture>() {
    let env = start::<F>(NEVER).await;
    create::<F>(&env, F::spec(NAME), json!({})).await;
    let id = external_id(&ready::<F>(&env).await);
    let placeholders = F::placeholders(&env, NAME, &id);
    F::traffic(&env).clear_requests();
    env.delete::<F::Kind>(NS, RESOURCE).await;
    env.wait_gone::<F::Kind>(NS, RESOURCE).await;
    assert!(F::named(&env, NAME).is_empty(), "the object is still there");
    let expected = documented(F::PRODUCT, Operation::Delete, &placeholders);
    assert_eq!(calls::<F>(&env), expected, "{} delete calls", F::PRODUCT);
    assert!(
        events(&env)
            .await
            .iter()
            .any(|(_, r, n)| r == "Deleted" && n.contains(&id)),
        "no Deleted event"
    );
}

pub async fn orphan_policy_leaves_the_object<F: Fixture>() {
    let env = start::<F>(NEVER).await;
    create::<F>(
        &env,
        with(F::spec(NAME), json!({"deletionPolicy": "Orphan"})),
        json!({}),
    )
    .await;
    let id = external_id(&ready::<F>(&env).await);
    F::traffic(&env).clear_requests();
    env.delete::<F::Kind>(NS, RESOURCE).await;
    env.wait_gone::<F::Kind>(NS, RESOURCE).await;
    assert_eq!(F::named(&env, NAME), vec![id]);
    assert_eq!(
        calls::<F>(&env),
        Vec::<String>::new(),
        "orphaning called the product"
    );
    env.wait_event(NS, RESOURCE, "Orphaned").await;
}

pub async fn object_already_gone_does_not_block_deletion<F: Fixture>() {
    let env = start::<F>(NEVER).await;
    create::<F>(&env, F::spec(NAME), json!({})).await;
    let id = external_id(&ready::<F>(&env).await);
    F::remove(&env, &id);
    env.delete::<F::Kind>(NS, RESOURCE).await;
    env.wait_gone::<F::Kind>(NS, RESOURCE).await;
    assert!(F::named(&env, NAME).is_empty());
}

pub async fn wrong_credentials_are_rejected_without_writes_or_leaks<F: Fixture>() {
    let env = Env::start_with(|c| c.poll_interval = NEVER).await;
    F::account(&env, NS, false).await;
    create::<F>(&env, F::spec(NAME), json!({})).await;
    let obj = wait::<F>(
        &env,
        "CredentialsRejected",
        failed_with("CredentialsRejected"),
    )
    .await;
    assert!(!is_ready(status(&obj)));
    let message = synced_message(&obj);
    assert!(message.contains("HTTP 401"), "{message}");
    let config = env
        .wait_managed::<ProviderConfig>(NS, F::PRODUCT.as_str(), "config rejected", |p| {
            p.status.as_ref().is_some_and(|s| {
                s.conditions
                    .iter()
                    .any(|c| c.reason == "CredentialsRejected")
            })
        })
        .await;
    let everything = format!(
        "{:?}{:?}{:?}",
        obj.managed_status(),
        events(&env).await,
        config.status
    );
    assert!(
        !everything.contains("WRONG-SECRET"),
        "a secret leaked: {everything}"
    );
    assert_eq!(writes::<F>(&env), Vec::<String>::new());
}

pub async fn rate_limit_waits_for_retry_after<F: Fixture>() {
    let env = start::<F>(NEVER).await;
    F::traffic(&env).set_faults(Faults {
        rate_limit: Some(RateLimit {
            requests: 1,
            window_seconds: 2,
            retry_after_seconds: Some(2),
        }),
        ..Default::default()
    });
    create::<F>(&env, F::spec(NAME), json!({})).await;
    ready::<F>(&env).await;
    let log = requests::<F>(&env);
    if F::ADVERTISES_BUDGET {
        // The simulator admits one call per window: without a 429, each call waited for one.
        let statuses: Vec<u16> = log.iter().map(|r| r.status).collect();
        assert!(
            !statuses.contains(&429),
            "a 429 despite the headers: {statuses:?}"
        );
        assert_eq!(F::named(&env, NAME).len(), 1);
        return;
    }
    let first = log
        .iter()
        .position(|r| r.status == 429)
        .expect("the simulator throttled");
    let next = log[first + 1..]
        .iter()
        .find(|r| r.status != 429)
        .expect("a later call succeeded");
    let waited = next.at_ms - log[first].at_ms;
    assert!(
        waited >= 1900,
        "retried {waited} ms after a 429 with Retry-After: 2"
    );
    assert_eq!(F::named(&env, NAME).len(), 1);
}

pub async fn server_errors_back_off_and_recover<F: Fixture>() {
    let env = start::<F>(NEVER).await;
    // The first call (a read) fails three times: sent again twice inside the call, then the
    // reconcile fails and backs off.
    F::traffic(&env).set_faults(Faults {
        fail_next: [503, 503, 503].into(),
        ..Default::default()
    });
    create::<F>(&env, F::spec(NAME), json!({})).await;
    ready::<F>(&env).await;
    let note = env.wait_event(NS, RESOURCE, "ProviderUnavailable").await;
    assert!(note.contains("HTTP 503"), "{note}");
    let log = requests::<F>(&env);
    let failed = log.iter().position(|r| r.status == 503).expect("a 503");
    let gaps: Vec<u64> = (failed..failed + 3)
        .map(|i| log.get(i + 1).expect("a retry").at_ms - log[i].at_ms)
        .collect();
    assert!(
        log[failed..failed + 3].iter().all(|r| r.status == 503),
        "{log:#?}"
    );
    // Inside the call: 0.2 s, then 0.4 s (each up to twice that with jitter); then the
    // reconcile's back-off, 1 s (±20 %). No hot retry anywhere.
    assert!(
        gaps[0] >= 190 && gaps[1] >= 390,
        "retried after {gaps:?} ms"
    );
    assert!(
        gaps[2] >= 790,
        "retried {} ms after the reconcile failed",
        gaps[2]
    );
    assert_eq!(F::named(&env, NAME).len(), 1);
}

/// Four resources of one credential, all Ready.
async fn several<F: Fixture>(env: &Env) -> Vec<String> {
    let mut ids = Vec::new();
    for i in 0..4 {
        env.apply::<F::Kind>(
            NS,
            json!({"metadata": {"name": format!("{RESOURCE}-{i}")}, "spec": F::spec(&format!("{NAME}{i}"))}),
        )
        .await;
    }
    for i in 0..4 {
        let obj = env
            .wait_managed::<F::Kind>(NS, &format!("{RESOURCE}-{i}"), "Ready", |o| {
                o.managed_status().is_some_and(is_ready)
            })
            .await;
        ids.push(external_id(&obj));
    }
    ids
}

/// Creates that arrive together look their names up in one listing (where the lookup is the
/// credential's listing, not a search), and write what the table documents, once per object.
pub async fn a_burst_of_creates_lists_once<F: Fixture>() {
    let env = start::<F>(NEVER).await;
    // Slow enough that every create arrives while the first lookup's listing is being made.
    F::traffic(&env).set_faults(roleplane::sim::Faults {
        latency_ms: 500,
        ..Default::default()
    });
    F::traffic(&env).clear_requests();
    futures::future::join_all((0..4).map(|i| {
        env.apply::<F::Kind>(
            NS,
            json!({"metadata": {"name": format!("{RESOURCE}-{i}")}, "spec": F::spec(&format!("{NAME}{i}"))}),
        )
    }))
    .await;
    let ids = several::<F>(&env).await;
    let per_object = documented_each::<F>(&env, &ids, Operation::Create);
    let calls = calls::<F>(&env);
    let listing = poll_all_calls::<F>(&env, &ids);
    let lookups = per_object[0]
        .iter()
        .filter(|c| F::LOOKS_NAMES_UP_IN_LISTING && listing.contains(*c));
    for call in lookups {
        let made = calls.iter().filter(|c| *c == call).count();
        assert_eq!(
            made, 1,
            "{call}: one listing for the burst of creates: {calls:#?}"
        );
    }
    let documented_writes = per_object
        .iter()
        .flatten()
        .filter(|c| !c.starts_with("GET ") && !c.ends_with("/login"))
        .count();
    assert_eq!(writes::<F>(&env).len(), documented_writes, "{calls:#?}");
}

/// Requests to the Kubernetes API that change a resource, from the `from`th on. (A config's
/// status may be written when its own check runs: it refreshes its count of users.)
fn kube_writes(env: &Env, from: usize) -> Vec<String> {
    env.api
        .requests()
        .into_iter()
        .skip(from)
        .filter(|r| r.method != "GET" && !r.path.contains("providerconfigs/"))
        .map(|r| format!("{} {}", r.method, r.path))
        .collect()
}

/// How polls look to the product: once per credential and tick, the listing (paged) where it
/// carries whole objects, else one read per resource; never a write, to the product or to
/// Kubernetes.
fn assert_polls_only<F: Fixture>(env: &Env, ids: &[String], kube_from: usize) {
    let calls = calls::<F>(env);
    let written = writes::<F>(env);
    assert!(written.is_empty(), "polls must not write: {calls:#?}");
    let per_resource: Vec<&String> = calls
        .iter()
        .filter(|c| {
            ids.iter()
                .any(|id| c.ends_with(&format!("/{}", encoded(id))))
        })
        .collect();
    if F::LISTS_OBJECTS {
        assert!(
            per_resource.is_empty(),
            "resources were read one by one: {per_resource:#?}"
        );
    } else {
        assert!(!per_resource.is_empty(), "{calls:#?}");
    }
    let writes = kube_writes(env, kube_from);
    assert!(
        writes.is_empty(),
        "Kubernetes writes during polls: {writes:#?}"
    );
}

fn encoded(id: &str) -> String {
    id.replace('/', "%2F")
}

/// The documented calls of `op` for each of the resources `ids` (named `{NAME}{i}`).
fn documented_each<F: Fixture>(env: &Env, ids: &[String], op: Operation) -> Vec<Vec<String>> {
    ids.iter()
        .enumerate()
        .map(|(i, id)| {
            documented(
                F::PRODUCT,
                op,
                &F::placeholders(env, &format!("{NAME}{i}"), id),
            )
        })
        .collect()
}

/// The documented calls of a timed poll of the resources `ids` (named `{NAME}{i}`).
fn poll_all_calls<F: Fixture>(env: &Env, ids: &[String]) -> std::collections::HashSet<String> {
    documented_each::<F>(env, ids, Operation::PollAll)
        .into_iter()
        .flatten()
        .collect()
}

/// The calls of the timed polls of the resources `ids` (named `{NAME}{i}`), as documented: the
/// credential's listing where it serves them all, else each resource's read.
fn listing_calls<F: Fixture>(env: &Env, ids: &[String]) -> usize {
    let documented = poll_all_calls::<F>(env, ids);
    calls::<F>(env)
        .iter()
        .filter(|c| documented.contains(*c))
        .count()
}

/// The config's own check comes at its credential's tick and shares the resources' listing:
/// every call is a listing page (or Looker's login), and each page is listed once per tick.
fn assert_one_listing_per_tick<F: Fixture>(env: &Env, ids: &[String], interval: Duration) {
    let documented = poll_all_calls::<F>(env, ids);
    let mut at: std::collections::BTreeMap<String, Vec<u64>> = Default::default();
    for r in requests::<F>(env) {
        if r.path.ends_with("/login") {
            continue;
        }
        let call = format!("{} {}", r.method, r.path);
        assert!(
            documented.contains(&call),
            "only the listing is called at a tick (the config's check shares it): {:#?}",
            calls::<F>(env)
        );
        at.entry(call).or_default().push(r.at_ms);
    }
    let half = interval.as_millis() as u64 / 2;
    for (call, times) in at {
        assert!(
            times.windows(2).all(|w| w[1] - w[0] >= half),
            "{call} listed twice at one tick (the config and its resources apart): {times:?}"
        );
    }
}

pub async fn timed_polls_list_once_per_credential_and_write_nothing<F: Fixture>() {
    // Long enough that a listing is fresh for a quarter of it only (1 s), as in production.
    let interval = Duration::from_secs(4);
    let env = start::<F>(interval).await;
    let ids = several::<F>(&env).await;
    // Past the first aligned poll after the creates.
    tokio::time::sleep(interval * 3 / 2).await;
    F::traffic(&env).clear_requests();
    let kube_from = env.api.requests().len();
    let deadline = tokio::time::Instant::now() + WAIT;
    // Three ticks of the credential.
    while listing_calls::<F>(&env, &ids) < 3 * if F::LISTS_OBJECTS { 1 } else { ids.len() } {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no polls happened: {:#?}",
            calls::<F>(&env)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_polls_only::<F>(&env, &ids, kube_from);
    if F::LISTS_OBJECTS {
        assert_one_listing_per_tick::<F>(&env, &ids, interval);
    }
    for i in 0..4 {
        let obj = env
            .get::<F::Kind>(NS, &format!("{RESOURCE}-{i}"))
            .await
            .expect("resource");
        assert!(is_ready(status(&obj)));
    }
}

pub async fn restart_with_everything_in_sync_lists_and_writes_nothing<F: Fixture>() {
    let mut env = start::<F>(NEVER).await;
    let ids = several::<F>(&env).await;
    settle::<F>(&env).await;
    env.stop_controllers().await;
    F::traffic(&env).clear_requests();
    let kube_from = env.api.requests().len();
    env.restart().await;
    let deadline = tokio::time::Instant::now() + WAIT;
    let seen =
        |env: &Env| listing_calls::<F>(env, &ids) >= if F::LISTS_OBJECTS { 1 } else { ids.len() };
    while !seen(&env) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the restart never looked at the product"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    settle::<F>(&env).await;
    assert_polls_only::<F>(&env, &ids, kube_from);
    if F::LISTS_OBJECTS {
        // One listing serves every resource; the config's own credentials check after the
        // restart may read a one-item page of the same endpoint (Statsig, BigPanda).
        let listings = listing_calls::<F>(&env, &ids);
        assert!(
            listings <= 2,
            "one listing serves every resource after a restart: {:#?}",
            calls::<F>(&env)
        );
    }
}
