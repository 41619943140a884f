//! One scenario for one product: N resources created, changed and deleted under a fault profile,
//! then counted against the simulator (duplicates, lost objects, leftovers) and its request log
//! (calls per resource, retries, the credential's budget).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use kube::api::{Api, Patch, PatchParams};
use roleplane::crd::{Managed, ProviderKind};
use roleplane::providers::Limits;
use roleplane::sim::RecordedRequest;
use serde_json::{Value, json};

use crate::conformance::Fixture;
use crate::harness::Env;

/// How long one phase (create, change, delete) may take before the run counts as not converged.
pub const PHASE: Duration = Duration::from_secs(150);

/// What one (scenario, product) run found.
#[derive(Debug)]
pub struct Row {
    pub scenario: &'static str,
    pub kind: ProviderKind,
    pub product: &'static str,
    pub n: usize,
    /// Seconds until every resource was Ready, changed, and gone (None: a phase timed out).
    pub converged: Option<f64>,
    /// Seconds each phase took: create, change, delete.
    pub phases: [f64; 3],
    pub duplicates: usize,
    pub lost: usize,
    pub leftovers: usize,
    /// Product API requests of the run (the config's access checks included).
    pub calls: usize,
    /// Faults the product answered (5xx, 408, 429, and requests cut by the client's timeout).
    pub faulted: usize,
    /// The most requests naming one resource within any 60 s.
    pub max_per_resource_minute: usize,
    /// The shortest wait before a resource's next request after a fault answered it (ms).
    pub min_retry_gap_ms: Option<u64>,
    /// Requests sent before a 429's Retry-After had passed.
    pub early_after_429: usize,
    /// The most requests in any window of the product's budget, as (sent, allowed, seconds).
    pub budget: Vec<(usize, u32, u64)>,
    /// What went wrong, for the report.
    pub notes: Vec<String>,
    /// The resources' statuses after the change, for the secret canary.
    pub statuses: String,
}

impl Row {
    fn new(scenario: &'static str, kind: ProviderKind, n: usize) -> Self {
        Row {
            scenario,
            kind,
            product: kind.as_str(),
            n,
            converged: None,
            phases: [0.0; 3],
            duplicates: 0,
            lost: 0,
            leftovers: 0,
            calls: 0,
            faulted: 0,
            max_per_resource_minute: 0,
            min_retry_gap_ms: None,
            early_after_429: 0,
            budget: Vec::new(),
            notes: Vec::new(),
            statuses: String::new(),
        }
    }

    /// What failed, in a few words (empty when the row is ok), for the one-line summary.
    pub fn failures(&self) -> String {
        let mut why = Vec::new();
        if self.converged.is_none() {
            why.push("timeout".to_string());
        }
        for (count, what) in [
            (self.duplicates, "duplicate"),
            (self.lost, "lost"),
            (self.leftovers, "left over"),
            (self.early_after_429, "early after 429"),
        ] {
            if count > 0 {
                why.push(format!("{count} {what}"));
            }
        }
        for (sent, allowed, secs) in &self.budget {
            if *sent > *allowed as usize {
                why.push(format!("{sent} calls in {secs} s, {allowed} allowed"));
            }
        }
        why.extend(self.notes.iter().cloned());
        why.join("; ")
    }

    pub fn ok(&self) -> bool {
        self.converged.is_some()
            && self.duplicates == 0
            && self.lost == 0
            && self.leftovers == 0
            && self.early_after_429 == 0
            && self
                .budget
                .iter()
                .all(|(sent, allowed, _)| *sent <= *allowed as usize)
    }
}

/// The product's published (or default) budget per credential.
pub fn limits(product: ProviderKind) -> Limits {
    use roleplane::providers::*;
    match product {
        ProviderKind::Statsig => statsig::Statsig::LIMITS,
        ProviderKind::ConfigCat => configcat::ConfigCat::LIMITS,
        ProviderKind::SlashId => slashid::SlashId::LIMITS,
        ProviderKind::Looker => looker::Looker::LIMITS,
        ProviderKind::BigPanda => bigpanda::BigPanda::LIMITS,
    }
}

fn resource(product: ProviderKind, i: usize) -> String {
    format!("{}-{i:03}", product.as_str())
}

/// The product name of resource `i`: unique, so requests can be told apart by it.
fn product_name(i: usize) -> String {
    format!("Faults-{i:03}")
}

async fn status_of<K: Managed>(
    env: &Env,
    ns: &str,
    name: &str,
) -> Option<(bool, Option<i64>, Option<String>)> {
    let obj = env.get::<K>(ns, name).await?;
    let generation = obj.meta().generation;
    let status = obj.managed_status()?;
    let ready = status.observed_generation == generation
        && status
            .conditions
            .iter()
            .any(|c| c.r#type == "Ready" && c.status == roleplane::crd::ConditionStatus::True);
    Some((
        ready,
        status.observed_generation,
        status.external_id.clone(),
    ))
}

/// Waits until `done` holds for every resource, or the phase times out (false).
async fn phase<F>(n: usize, mut done: F) -> bool
where
    F: AsyncFnMut(usize) -> bool,
{
    let deadline = Instant::now() + PHASE;
    let mut pending: Vec<usize> = (0..n).collect();
    while !pending.is_empty() {
        let mut still = Vec::new();
        for i in pending {
            if !done(i).await {
                still.push(i);
            }
        }
        pending = still;
        if pending.is_empty() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    true
}

/// Creates, changes and deletes `n` resources of `F`'s product in namespace `ns` under whatever
/// faults `env`'s simulator has been given, and counts.
pub async fn run<F: Fixture>(env: &Env, ns: &str, scenario: &'static str, n: usize) -> Row {
    let product = F::PRODUCT;
    let mut row = Row::new(scenario, product, n);
    let started = Instant::now();
    let api: Api<F::Kind> = Api::namespaced(env.client.clone(), ns);
    for i in 0..n {
        env.apply::<F::Kind>(
            ns,
            json!({"metadata": {"name": resource(product, i)}, "spec": F::spec(&product_name(i))}),
        )
        .await;
    }
    let mut ids: BTreeMap<usize, String> = BTreeMap::new();
    let mut mark = Instant::now();
    let created = phase(n, async |i| {
        match status_of::<F::Kind>(env, ns, &resource(product, i)).await {
            Some((true, _, Some(id))) => {
                ids.insert(i, id);
                true
            }
            _ => false,
        }
    })
    .await;
    row.phases[0] = mark.elapsed().as_secs_f64();
    if !created {
        row.notes
            .push(format!("create: {} of {n} Ready in time", ids.len()));
    }
    for i in 0..n {
        let named = F::named(env, &product_name(i));
        row.duplicates += named.len().saturating_sub(1);
        if ids.contains_key(&i) && named.is_empty() {
            row.lost += 1;
        }
    }
    for i in 0..n {
        api.patch(
            &resource(product, i),
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": F::change()})),
        )
        .await
        .expect("spec changed");
    }
    mark = Instant::now();
    let changed = phase(n, async |i| {
        match status_of::<F::Kind>(env, ns, &resource(product, i)).await {
            Some((true, Some(2), Some(id))) => F::holds(env, &id, true),
            _ => false,
        }
    })
    .await;
    row.phases[1] = mark.elapsed().as_secs_f64();
    if !changed {
        row.notes
            .push("change: not every object holds the change in time".into());
    }
    for i in 0..n {
        if let Some(obj) = env.get::<F::Kind>(ns, &resource(product, i)).await {
            row.statuses
                .push_str(&serde_json::to_string(&obj.managed_status()).unwrap_or_default());
        }
    }
    for i in 0..n {
        let id = ids.get(&i).cloned().unwrap_or_default();
        if ids.contains_key(&i) && F::named(env, &product_name(i)).is_empty() {
            row.notes.push(format!("{id} lost after the change"));
            row.lost += 1;
        }
        env.delete::<F::Kind>(ns, &resource(product, i)).await;
    }
    mark = Instant::now();
    let deleted = phase(n, async |i| {
        env.get::<F::Kind>(ns, &resource(product, i))
            .await
            .is_none()
    })
    .await;
    row.phases[2] = mark.elapsed().as_secs_f64();
    if !deleted {
        row.notes
            .push("delete: not every resource gone in time".into());
    }
    for i in 0..n {
        row.leftovers += F::named(env, &product_name(i)).len();
    }
    if created && changed && deleted {
        row.converged = Some(started.elapsed().as_secs_f64());
    }
    let traffic = F::traffic(env);
    count(
        &mut row,
        traffic.requests(),
        traffic.started(),
        &ids,
        product,
    );
    row
}

/// Whether `request` names resource `i` (its product name in the path or body, or its id as a
/// path segment).
fn names(request: &RecordedRequest, i: usize, id: Option<&String>) -> bool {
    let name = product_name(i);
    let path = percent_encoding::percent_decode_str(&request.path).decode_utf8_lossy();
    path.contains(&name)
        || id.is_some_and(|id| path.split('/').any(|segment| segment == id.as_str()))
        || request
            .body
            .as_ref()
            .is_some_and(|b| b.to_string().contains(&name))
}

/// How long a 429 pauses its credential: its recorded Retry-After, at least 1 s.
fn pause_ms(answer: &RecordedRequest) -> u64 {
    answer.retry_after_s.unwrap_or(1).max(1) * 1000
}

fn faulted(status: u16) -> bool {
    status >= 500 || status == 408 || status == 429
}

fn count(
    row: &mut Row,
    requests: Vec<RecordedRequest>,
    clock: Instant,
    ids: &BTreeMap<usize, String>,
    product: ProviderKind,
) {
    let mut requests = requests;
    requests.sort_by_key(|r| r.at_ms);
    row.calls = requests.len();
    row.faulted = requests.iter().filter(|r| faulted(r.status)).count();
    // Retry-After is per credential: nothing sent after a 429 came back may reach the product
    // before it has passed (the Retry-After the simulator answered with; at least 1 s, the
    // operator's shortest wait, when there was none), less 100 ms of rounding between the
    // simulator's clock and the operator's. Requests already on their way are not counted:
    // those arriving within 250 ms of the first 429 of the pause (two busy cores), plus however
    // long this process's runtime stalled meanwhile (the operator cannot heed a 429 it has not
    // been scheduled to read). 429s answering requests that arrived within the pause extend it
    // but do not move its start: a client sending again at once after each 429 is early from
    // the 250th ms on.
    let at = |ms: u64| clock + Duration::from_millis(ms);
    let (mut quiet_from, mut quiet_until) = (0, 0);
    for r in &requests {
        let on_its_way =
            || 250 + crate::lag::longest_within(at(quiet_from), at(r.at_ms)).as_millis() as u64;
        let inside = r.at_ms + 100 < quiet_until;
        if inside && r.at_ms > quiet_from + on_its_way() {
            row.early_after_429 += 1;
            if row.early_after_429 <= 2 {
                row.notes.push(format!(
                    "{} {} at {} ms, {} ms before Retry-After passed ({} ms after the pause's \
                     first 429, {} ms allowed for requests already on their way)",
                    r.method,
                    r.path,
                    r.at_ms,
                    quiet_until - r.at_ms,
                    r.at_ms - quiet_from,
                    on_its_way(),
                ));
            }
        }
        if r.status == 429 {
            // A request that arrived once the pause was over (within the rounding) starts a new
            // pause, with its own allowance for what is on its way.
            if !inside {
                quiet_from = r.done_ms;
            }
            quiet_until = quiet_until.max(r.done_ms + pause_ms(r));
        }
    }
    for i in 0..row.n {
        let mine: Vec<&RecordedRequest> = requests
            .iter()
            .filter(|r| names(r, i, ids.get(&i)))
            .collect();
        for (k, r) in mine.iter().enumerate() {
            let within = mine[k..]
                .iter()
                .take_while(|later| later.at_ms < r.at_ms + 60_000)
                .count();
            row.max_per_resource_minute = row.max_per_resource_minute.max(within);
        }
        for pair in mine.windows(2) {
            if faulted(pair[0].status) {
                let gap = pair[1].at_ms.saturating_sub(pair[0].at_ms);
                row.min_retry_gap_ms = Some(row.min_retry_gap_ms.map_or(gap, |g| g.min(gap)));
            }
            // A resource's own next request, sent once its 429 was answered (its reconcile read
            // it), is never on its way: it waits out all of Retry-After.
            let (answered, next) = (pair[0], pair[1]);
            if answered.status == 429
                && next.at_ms >= answered.done_ms
                && next.at_ms + 100 < answered.done_ms + pause_ms(answered)
            {
                row.early_after_429 += 1;
                if row.early_after_429 <= 2 {
                    row.notes.push(format!(
                        "{} {} at {} ms, {} ms after a 429 to {} {} for the same resource",
                        next.method,
                        next.path,
                        next.at_ms,
                        next.at_ms - answered.done_ms,
                        answered.method,
                        answered.path,
                    ));
                }
            }
        }
    }
    for window in limits(product).windows {
        let span = window.seconds * 1000;
        let most = (0..requests.len())
            .map(|k| {
                requests[k..]
                    .iter()
                    .take_while(|r| r.at_ms < requests[k].at_ms + span)
                    .count()
            })
            .max()
            .unwrap_or(0);
        row.budget.push((most, window.requests, window.seconds));
    }
}

/// Whether `value` shows up anywhere in `haystack`, raw or as the base64 the API stores.
pub fn leaks(haystack: &str, value: &str) -> bool {
    use base64::Engine;
    let encoded = base64::engine::general_purpose::STANDARD.encode(value);
    haystack.contains(value) || haystack.contains(&encoded)
}

/// Everything the operator wrote where people look: Events, statuses, and the metrics text.
/// `scope`: only in that namespace (cluster mode: the suite's own); `None`: everywhere (the
/// hermetic run's double holds nothing else), ClusterProviderConfigs included.
pub async fn visible_text(env: &Env, scope: Option<&str>) -> String {
    use k8s_openapi::api::events::v1::Event;
    use kube::api::ListParams;
    use roleplane::crd::{ClusterProviderConfig, PermissionGroup, ProviderConfig, Role};
    fn api<K>(env: &Env, scope: Option<&str>) -> Api<K>
    where
        K: kube::Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>,
    {
        match scope {
            Some(ns) => Api::namespaced(env.client.clone(), ns),
            None => Api::all(env.client.clone()),
        }
    }
    let mut out = String::new();
    let all = ListParams::default();
    let events: Api<Event> = api(env, scope);
    for e in events.list(&all).await.expect("events").items {
        out.push_str(&serde_json::to_string(&e).unwrap_or_default());
    }
    let text = |v: Value| serde_json::to_string(&v).unwrap_or_default();
    for r in api::<Role>(env, scope)
        .list(&all)
        .await
        .expect("roles")
        .items
    {
        out.push_str(&text(json!(r.status)));
    }
    for g in api::<PermissionGroup>(env, scope)
        .list(&all)
        .await
        .expect("groups")
        .items
    {
        out.push_str(&text(json!(g.status)));
    }
    for c in api::<ProviderConfig>(env, scope)
        .list(&all)
        .await
        .expect("configs")
        .items
    {
        out.push_str(&text(json!(c.status)));
    }
    // Cluster mode creates none (its operator watches namespaces, where they cannot be used).
    if scope.is_none() {
        for c in Api::<ClusterProviderConfig>::all(env.client.clone())
            .list(&all)
            .await
            .expect("cluster configs")
            .items
        {
            out.push_str(&text(json!(c.status)));
        }
    }
    out.push_str(&env.ctx.metrics.encode());
    out
}

/// The early-after-429 count, on request logs made up for it (the suite fails at once when it
/// is off): a count that cannot fail would let every scenario pass.
pub fn check_the_early_count() {
    fn request(path: &str, status: u16, at_ms: u64, retry_after_s: Option<u64>) -> RecordedRequest {
        RecordedRequest {
            method: "POST".into(),
            path: path.into(),
            query: None,
            body: None,
            status,
            at_ms,
            done_ms: at_ms + 2,
            retry_after_s,
        }
    }
    let early = |log: Vec<RecordedRequest>| {
        let mut row = Row::new("self-check", ProviderKind::Statsig, 2);
        // Before the runtime's ticker starts: no stalls widen the allowance.
        count(
            &mut row,
            log,
            Instant::now(),
            &BTreeMap::new(),
            ProviderKind::Statsig,
        );
        row.early_after_429
    };
    let limited = || request("/roles/Faults-000", 429, 0, Some(2));
    // On its way (within 250 ms), after the 2 s pause, or after a 429 without Retry-After's 1 s.
    let fine = vec![
        limited(),
        request("/roles/other", 200, 100, None),
        request("/roles/Faults-000", 200, 2_100, None),
        request("/roles/other", 429, 3_000, None),
        request("/roles/other", 200, 4_050, None),
    ];
    assert_eq!(early(fine), 0, "nothing early");
    // Another request of the credential 600 ms into the 2 s pause.
    assert_eq!(
        early(vec![limited(), request("/roles/other", 200, 600, None)]),
        1,
        "600 ms into the pause"
    );
    // The resource's own next request, however soon: its reconcile read the 429.
    assert_eq!(
        early(vec![limited(), request("/roles/Faults-000", 200, 10, None)]),
        1,
        "the resource's own retry"
    );
    // A client sending again at once after each 429: early from the 250th ms of the pause on.
    let hammering: Vec<RecordedRequest> = (0..40)
        .map(|k| request(&format!("/roles/o{k}"), 429, k * 10, Some(1)))
        .collect();
    assert_eq!(early(hammering), 14, "immediate retries after each 429");
}
