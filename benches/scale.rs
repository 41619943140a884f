//! Scale benchmark (issue 11): N resources over the five products and several credentials,
//! the operator as a subprocess, the product simulators in-process at a set latency with their
//! published rate limits on, and the Kubernetes API double served over loopback, or a real
//! cluster when `KUBECONFIG` is set. It prints figures; it times nothing it asserts.
//!
//! `cargo bench --bench scale` runs the full sizes (`ROLEPLANE_BENCH_N`, default 1000). Under
//! `cargo test` (no `--bench` argument) it runs a smoke size against the double and fails only
//! when the objects do not all go Ready or the operator dies. See `docs/performance.md`.

#[path = "scale/crds.rs"]
mod crds;
#[path = "scale/operator.rs"]
mod operator;
#[path = "scale/products.rs"]
mod products;
#[path = "scale/proxy.rs"]
mod proxy;
#[path = "scale/ready.rs"]
mod ready;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::{Namespace, Secret};
use kube::api::{Api, ApiResource, DynamicObject, ListParams, Patch, PatchParams, PostParams};
use kube_double::ApiServer;
use roleplane::crd::{PermissionGroup, ProviderConfig, ProviderKind, Role};
use roleplane::providers::Simulator;
use serde_json::json;

use operator::{Memory, Operator};

struct Settings {
    sizes: Vec<usize>,
    credentials: usize,
    latency_ms: u64,
    poll: Duration,
    samples: usize,
    timeout: Duration,
    operator_env: Vec<(String, String)>,
    /// The smoke size of `cargo test`: always against the double.
    smoke: bool,
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    match std::env::var(name) {
        Ok(v) if !v.trim().is_empty() => v
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v} does not parse")),
        _ => default,
    }
}

impl Settings {
    fn from_env(smoke: bool) -> Self {
        let (sizes, credentials, poll, samples, timeout) = if smoke {
            ("50", 2, "5s", 3, "45s")
        } else {
            ("1000", 4, "30s", 20, "2h")
        };
        let sizes: String = env_or("ROLEPLANE_BENCH_N", sizes.to_string());
        let duration = |name: &str, default: &str| {
            let text: String = env_or(name, default.to_string());
            humantime::parse_duration(&text).unwrap_or_else(|e| panic!("{name}={text}: {e}"))
        };
        let operator_env = std::env::var("ROLEPLANE_BENCH_OPERATOR_ENV")
            .unwrap_or_default()
            .split_whitespace()
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Self {
            sizes: sizes
                .split(',')
                .map(|s| {
                    s.trim()
                        .replace('_', "")
                        .parse()
                        .expect("ROLEPLANE_BENCH_N: numbers")
                })
                .collect(),
            credentials: env_or("ROLEPLANE_BENCH_CREDENTIALS", credentials).max(1),
            latency_ms: env_or("ROLEPLANE_BENCH_LATENCY_MS", 50),
            poll: duration("ROLEPLANE_BENCH_POLL_INTERVAL", poll),
            samples: env_or("ROLEPLANE_BENCH_SAMPLES", samples),
            timeout: duration("ROLEPLANE_BENCH_TIMEOUT", timeout),
            operator_env,
            smoke,
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let smoke = !args.iter().any(|a| a == "--bench");
    // `cargo test <filter>`: run only when the filter names this benchmark.
    let filters: Vec<&String> = args.iter().filter(|a| !a.starts_with('-')).collect();
    if smoke && !filters.is_empty() && !filters.iter().any(|f| "scale".contains(f.as_str())) {
        return;
    }
    let settings = Settings::from_env(smoke);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let ok = runtime.block_on(async {
        let mut ok = true;
        for &n in &settings.sizes {
            ok &= run(&settings, n).await;
        }
        ok
    });
    if !ok {
        eprintln!("bench: FAILED (see above)");
        std::process::exit(1);
    }
}

/// Where the Kubernetes API is: the double (in this process) or the cluster of `KUBECONFIG`.
struct Cluster {
    client: kube::Client,
    name: String,
    /// CRDs this run created in a real cluster (removed at the end).
    created_crds: Vec<String>,
    real: bool,
}

async fn cluster(smoke: bool) -> Cluster {
    roleplane::install_crypto_provider();
    let real = !smoke && std::env::var("KUBECONFIG").is_ok_and(|k| !k.is_empty());
    if !real {
        let api = ApiServer::new(roleplane::crd::all());
        return Cluster {
            client: api.client(),
            name: "kube API double (in the bench process, over loopback HTTP)".into(),
            created_crds: vec![],
            real,
        };
    }
    let client = kube::Client::try_default()
        .await
        .expect("a client from KUBECONFIG");
    let created_crds = crds::install(&client, roleplane::crd::all()).await;
    Cluster {
        client,
        name: format!(
            "real cluster from KUBECONFIG={}",
            std::env::var("KUBECONFIG").unwrap_or_default()
        ),
        created_crds,
        real,
    }
}

/// One benchmark object.
#[derive(Clone)]
struct Object {
    kind: ProviderKind,
    credential: usize,
    namespace: String,
    name: String,
}

fn resource(kind: ProviderKind) -> ApiResource {
    match kind {
        ProviderKind::ConfigCat => ApiResource::erase::<PermissionGroup>(&()),
        _ => ApiResource::erase::<Role>(&()),
    }
}

async fn create(client: &kube::Client, o: &Object) -> Result<(), kube::Error> {
    let (kind, spec) = products::manifest(o.kind, &o.name);
    let body: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "roleplane.dev/v1alpha1", "kind": kind,
        "metadata": {"name": o.name, "namespace": o.namespace},
        "spec": spec,
    }))
    .expect("object");
    let api: Api<DynamicObject> =
        Api::namespaced_with(client.clone(), &o.namespace, &resource(o.kind));
    api.create(&PostParams::default(), &body).await.map(|_| ())
}

/// Per-product call counts from the simulators' request logs.
#[derive(Clone, Copy, Default)]
struct Calls {
    reads: usize,
    writes: usize,
    /// Token requests (Looker's login).
    auth: usize,
    /// Answered 429 by the simulator's budget.
    throttled: usize,
}

impl Calls {
    fn total(&self) -> usize {
        self.reads + self.writes + self.auth + self.throttled
    }
    fn add(&mut self, o: Calls) {
        self.reads += o.reads;
        self.writes += o.writes;
        self.auth += o.auth;
        self.throttled += o.throttled;
    }
}

/// Every accepted product write so far: (product, credential, seconds since `t0`).
fn accepted_writes(sims: &[Simulator], t0: Instant) -> Vec<(&'static str, usize, f64)> {
    let mut writes = Vec::new();
    for (credential, sim) in sims.iter().enumerate() {
        for &kind in ProviderKind::ALL {
            let traffic = sim.traffic(kind);
            let base = traffic.started();
            for r in traffic.requests() {
                if r.method == "GET" || r.status >= 400 || r.path.ends_with("/login") {
                    continue;
                }
                let at = (base + Duration::from_millis(r.at_ms)).saturating_duration_since(t0);
                writes.push((kind.as_str(), credential, at.as_secs_f64()));
            }
        }
    }
    writes
}

/// When each product's first and last accepted write arrived (any credential), in seconds since
/// `t0`: how long the operator took to start writing, and how long the writing took.
fn write_spans(writes: &[(&'static str, usize, f64)]) -> BTreeMap<&'static str, (f64, f64)> {
    let mut spans: BTreeMap<&'static str, (f64, f64)> = BTreeMap::new();
    for &(product, _, at) in writes {
        let span = spans.entry(product).or_insert((at, at));
        span.0 = span.0.min(at);
        span.1 = span.1.max(at);
    }
    spans
}

/// `ROLEPLANE_BENCH_WRITES=<file>`: every accepted write of the convergence phase as
/// `product,credential,seconds since t0` lines, to see how a product's writes were spread.
fn dump_writes(writes: &[(&'static str, usize, f64)]) {
    let Ok(path) = std::env::var("ROLEPLANE_BENCH_WRITES") else {
        return;
    };
    let lines: String = writes
        .iter()
        .map(|(product, credential, at)| format!("{product},{credential},{at:.3}\n"))
        .collect();
    if let Err(e) = std::fs::write(&path, lines) {
        eprintln!("ROLEPLANE_BENCH_WRITES={path}: {e}");
    }
}

/// `ROLEPLANE_BENCH_TIMELINE=<file>`: every product and Kubernetes request of the convergence
/// phase, one line each, times in seconds since `t0`: `product,<kind>,<credential>,<method>,
/// <path>,<status>,<arrived>,<answered>` and `kubernetes,<method>,<path>,<query>,<arrived>,
/// <answered>` (what the operator was doing when, e.g. while a product's writes paused).
fn dump_timeline(sims: &[Simulator], seen: &[proxy::Seen], t0: Instant) {
    let Ok(path) = std::env::var("ROLEPLANE_BENCH_TIMELINE") else {
        return;
    };
    let mut lines = String::new();
    for (credential, sim) in sims.iter().enumerate() {
        for &kind in ProviderKind::ALL {
            let traffic = sim.traffic(kind);
            let base = traffic.started();
            let since = |ms: u64| {
                (base + Duration::from_millis(ms))
                    .saturating_duration_since(t0)
                    .as_secs_f64()
            };
            for r in traffic.requests() {
                lines.push_str(&format!(
                    "product,{},{credential},{},{},{},{:.3},{:.3}\n",
                    kind.as_str(),
                    r.method,
                    r.path,
                    r.status,
                    since(r.at_ms),
                    since(r.done_ms)
                ));
            }
        }
    }
    for r in seen {
        let at = r.at.saturating_duration_since(t0).as_secs_f64();
        lines.push_str(&format!(
            "kubernetes,{},{},{},{at:.3},{:.3}\n",
            r.method,
            r.path,
            r.query.replace(',', ";"),
            at + r.took.as_secs_f64()
        ));
    }
    if let Err(e) = std::fs::write(&path, lines) {
        eprintln!("ROLEPLANE_BENCH_TIMELINE={path}: {e}");
    }
}

/// `ROLEPLANE_BENCH_VERBOSE=1`: print the request shapes behind every count.
fn verbose() -> bool {
    std::env::var("ROLEPLANE_BENCH_VERBOSE").is_ok_and(|v| v == "1")
}

/// Calls per credential and product since the last take (the logs are cleared).
fn take_calls(sims: &[Simulator]) -> Vec<BTreeMap<&'static str, Calls>> {
    sims.iter()
        .map(|sim| {
            ProviderKind::ALL
                .iter()
                .map(|&kind| {
                    let traffic = sim.traffic(kind);
                    let mut c = Calls::default();
                    let requests = traffic.requests();
                    if verbose() {
                        // Shape (digits masked) → arrival times in seconds since the sim started.
                        let mut shapes: BTreeMap<String, Vec<f64>> = BTreeMap::new();
                        for r in &requests {
                            let path: String = r
                                .path
                                .chars()
                                .map(|ch| if ch.is_ascii_digit() { '9' } else { ch })
                                .collect();
                            shapes
                                .entry(format!("{} {} {}", r.method, path, r.status))
                                .or_default()
                                .push(r.at_ms as f64 / 1000.0);
                        }
                        for (shape, mut at) in shapes {
                            at.sort_by(f64::total_cmp);
                            let first: Vec<String> =
                                at.iter().take(6).map(|t| format!("{t:.1}")).collect();
                            println!(
                                "    [{}] {:>6} x {shape}  at {} s",
                                kind.as_str(),
                                at.len(),
                                first.join(", ")
                            );
                        }
                    }
                    for r in requests {
                        if r.status == 429 {
                            c.throttled += 1;
                        } else if r.path.ends_with("/login") {
                            c.auth += 1;
                        } else if r.method == "GET" {
                            c.reads += 1;
                        } else {
                            c.writes += 1;
                        }
                    }
                    traffic.clear_requests();
                    (kind.as_str(), c)
                })
                .collect()
        })
        .collect()
}

fn per_product(calls: &[BTreeMap<&'static str, Calls>]) -> BTreeMap<&'static str, Calls> {
    let mut sum: BTreeMap<&'static str, Calls> = BTreeMap::new();
    for m in calls {
        for (k, c) in m {
            sum.entry(k).or_default().add(*c);
        }
    }
    sum
}

/// Kubernetes writes by target (object, status, event, secret, lease).
fn k8s_writes(seen: &[proxy::Seen]) -> (usize, BTreeMap<&'static str, usize>, usize) {
    let mut by = BTreeMap::new();
    let mut total = 0;
    let mut shapes: BTreeMap<String, usize> = BTreeMap::new();
    for s in seen.iter().filter(|s| s.is_write()) {
        *by.entry(s.target()).or_default() += 1;
        total += 1;
        if verbose() && s.target() != "event" {
            *shapes
                .entry(format!("{} {}", s.method, s.path))
                .or_default() += 1;
        }
    }
    for (shape, count) in shapes.iter().take(40) {
        println!("    [kubernetes] {count:>4} x {shape}");
    }
    if verbose() {
        // Reads by shape, names' digits masked (objects are numbered).
        let mut reads: BTreeMap<String, usize> = BTreeMap::new();
        for s in seen.iter().filter(|s| !s.is_write()) {
            let path: String = s
                .path
                .chars()
                .map(|c| if c.is_ascii_digit() { '9' } else { c })
                .collect();
            *reads
                .entry(format!("{} {path}?{}", s.method, s.query))
                .or_default() += 1;
        }
        for (shape, count) in reads.iter().take(40) {
            println!("    [kubernetes] {count:>4} x {shape}");
        }
    }
    (total, by, seen.len() - total)
}

fn show_writes(by: &BTreeMap<&'static str, usize>, per: f64) -> String {
    by.iter()
        .map(|(k, v)| format!("{k} {:.2}", *v as f64 / per))
        .collect::<Vec<_>>()
        .join(", ")
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

async fn run(s: &Settings, n: usize) -> bool {
    let cluster = cluster(s.smoke).await;
    let client = cluster.client.clone();
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() % 100_000);
    let prefix = format!("rp-bench-{stamp}");
    let namespaces: Vec<String> = (0..s.credentials)
        .map(|c| format!("{prefix}-{c}"))
        .collect();
    println!("\n=== scale benchmark: N = {n} ===");
    println!(
        "api: {}; credentials: {} (one simulator set each); latency: {} ms; poll interval: {:?}; \
         operator concurrency: default; build: {}",
        cluster.name,
        s.credentials,
        s.latency_ms,
        s.poll,
        if cfg!(debug_assertions) {
            "debug (unoptimised)"
        } else {
            "optimised"
        }
    );
    for &kind in ProviderKind::ALL {
        let limit = match products::published(kind) {
            [] => "none published (429 only)".to_string(),
            windows => windows
                .iter()
                .map(|w| format!("{} writes per {} s", w.requests, w.seconds))
                .collect::<Vec<_>>()
                .join(", "),
        };
        println!(
            "  sim {:<9} rate limit per credential: {limit}",
            kind.as_str()
        );
    }

    // Products: one simulator set per credential.
    let mut sims = Vec::new();
    let mut bases = Vec::new();
    for _ in 0..s.credentials {
        let (sim, base) = Simulator::start(Default::default())
            .await
            .expect("simulators start");
        products::prepare(&sim, s.latency_ms);
        sims.push(sim);
        bases.push(base);
    }

    // Namespaces, Secrets and ProviderConfigs.
    let ns_api: Api<Namespace> = Api::all(client.clone());
    for (c, ns) in namespaces.iter().enumerate() {
        let namespace: Namespace =
            serde_json::from_value(json!({"metadata": {"name": ns}})).expect("namespace");
        ns_api
            .create(&PostParams::default(), &namespace)
            .await
            .expect("namespace created");
        let secrets: Api<Secret> = Api::namespaced(client.clone(), ns);
        let configs: Api<ProviderConfig> = Api::namespaced(client.clone(), ns);
        for &kind in ProviderKind::ALL {
            let (data, extra) = products::account(kind);
            let name = format!("{}-creds", kind.as_str());
            let string_data: serde_json::Map<String, serde_json::Value> = data
                .iter()
                .map(|(k, v)| (k.to_string(), json!(v)))
                .collect();
            let secret: Secret = serde_json::from_value(json!({
                "metadata": {"name": name, "namespace": ns}, "type": "Opaque",
                "stringData": string_data,
            }))
            .expect("secret");
            secrets
                .create(&PostParams::default(), &secret)
                .await
                .expect("secret created");
            let mut spec = json!({
                "provider": kind.as_str(),
                "credentialsSecretRef": {"name": name},
                "endpoint": format!("{}/{}", bases[c], kind.as_str()),
            });
            if let (Some(spec), Some(extra)) = (spec.as_object_mut(), extra.as_object()) {
                spec.extend(extra.clone());
            }
            let config: ProviderConfig = serde_json::from_value(json!({
                "apiVersion": "roleplane.dev/v1alpha1", "kind": "ProviderConfig",
                "metadata": {"name": kind.as_str(), "namespace": ns}, "spec": spec,
            }))
            .expect("config");
            configs
                .create(&PostParams::default(), &config)
                .await
                .expect("config created");
        }
    }

    // The N objects, created before the operator starts.
    let kinds = ProviderKind::ALL;
    let objects: Vec<Object> = (0..n)
        .map(|i| {
            let kind = kinds[i % kinds.len()];
            let credential = (i / kinds.len()) % s.credentials;
            Object {
                kind,
                credential,
                namespace: namespaces[credential].clone(),
                name: format!("{}-{i:05}", kind.as_str()),
            }
        })
        .collect();
    let started = Instant::now();
    futures::stream::iter(objects.iter().map(|o| create(&client, o)))
        .buffer_unordered(16)
        .try_collect::<Vec<_>>()
        .await
        .expect("objects created");
    println!(
        "created {n} objects in {:.1} s (not timed below)",
        started.elapsed().as_secs_f64()
    );

    let kinds_watched = vec![
        resource(ProviderKind::Statsig),
        resource(ProviderKind::ConfigCat),
    ];
    let tracker = ready::Tracker::start(client.clone(), kinds_watched, prefix.clone());
    let (proxy_url, k8s_log) = proxy::start(client.clone()).await.expect("proxy starts");
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let kubeconfig = dir.join(format!("{prefix}.kubeconfig"));
    std::fs::write(&kubeconfig, ApiServer::kubeconfig(&proxy_url)).expect("kubeconfig written");
    let op_log = dir.join(format!("{prefix}.operator.log"));
    let start_operator = || {
        Operator::start(&kubeconfig, &namespaces, s.poll, &s.operator_env, &op_log)
            .expect("roleplane run starts")
    };

    // 1. Convergence.
    let t0 = Instant::now();
    let mut op = start_operator();
    let converged = tracker.wait_count(n, t0 + s.timeout).await;
    let elapsed = t0.elapsed().as_secs_f64();
    let alive = op.running();
    let writes = accepted_writes(&sims, t0);
    let spans = write_spans(&writes);
    dump_writes(&writes);
    let seen = k8s_log.take();
    dump_timeline(&sims, &seen, t0);
    let calls = take_calls(&sims);
    let mem_converged = op.memory();
    println!("\n-- convergence (operator started with all {n} objects present)");
    if !converged {
        println!(
            "NOT CONVERGED: {} of {n} Ready after {elapsed:.1} s; operator running: {alive}; \
             failing reasons: {:?}; operator log: {}",
            tracker.ready_count(),
            tracker.failures(),
            op_log.display()
        );
    }
    let mut worst_bound: f64 = 0.0;
    println!(
        "{:<10} {:>6} {:>10} {:>10} {:>7}   {:>6} {:>6} {:>6} {:>6}   {:>13}",
        "product",
        "objs",
        "ready s",
        "bound s",
        "ratio",
        "reads",
        "writes",
        "auth",
        "429",
        "writes at s"
    );
    let summed = per_product(&calls);
    for &kind in kinds {
        let mine: Vec<&Object> = objects.iter().filter(|o| o.kind == kind).collect();
        let last = mine
            .iter()
            .filter_map(|o| tracker.ready_at(&o.namespace, &o.name))
            .max()
            .map_or(f64::NAN, |t| t.saturating_duration_since(t0).as_secs_f64());
        let bound = (0..s.credentials)
            .map(|c| {
                let count = mine.iter().filter(|o| o.credential == c).count();
                products::lower_bound_seconds(
                    kind,
                    count * products::writes_per_create(kind),
                    s.latency_ms,
                )
            })
            .fold(0.0, f64::max);
        worst_bound = worst_bound.max(bound);
        let c = summed[kind.as_str()];
        let per = mine.len().max(1) as f64;
        // Without published numbers the bound is one round trip: no ratio worth printing.
        let (bound, ratio) = if products::published(kind).is_empty() {
            ("none".to_string(), "-".to_string())
        } else {
            (format!("{bound:.1}"), format!("{:.2}", last / bound))
        };
        let span = spans
            .get(kind.as_str())
            .map_or("-".to_string(), |(a, b)| format!("{a:.1}-{b:.1}"));
        println!(
            "{:<10} {:>6} {:>10.1} {:>10} {:>7}   {:>6.2} {:>6.2} {:>6.2} {:>6.2}   {span:>13}",
            kind.as_str(),
            mine.len(),
            last,
            bound,
            ratio,
            c.reads as f64 / per,
            c.writes as f64 / per,
            c.auth as f64 / per,
            c.throttled as f64 / per,
        );
    }
    let mut all = Calls::default();
    summed.values().for_each(|c| all.add(*c));
    let (writes, by, reads) = k8s_writes(&seen);
    println!(
        "all        {n:>6} {elapsed:>10.1} {worst_bound:>10.1} {:>7.2}   {:>6.2} {:>6.2} {:>6.2} {:>6.2}   (per object)",
        elapsed / worst_bound,
        all.reads as f64 / n as f64,
        all.writes as f64 / n as f64,
        all.auth as f64 / n as f64,
        all.throttled as f64 / n as f64,
    );
    println!(
        "kubernetes writes per object: {:.2} ({}); reads/lists/watches: {reads}",
        writes as f64 / n as f64,
        show_writes(&by, n as f64)
    );
    println!(
        "operator memory after convergence: peak RSS {:.1} MiB (RSS {:.1}: anon {:.1}, file {:.1})",
        Memory::mib(mem_converged.hwm_kib),
        Memory::mib(mem_converged.rss_kib),
        Memory::mib(mem_converged.anon_kib),
        Memory::mib(mem_converged.file_kib),
    );

    // 2. Steady state: two poll intervals with nothing to change.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let _ = take_calls(&sims);
    let _ = k8s_log.take();
    let window = s.poll * 2;
    tokio::time::sleep(window).await;
    let calls = take_calls(&sims);
    let seen = k8s_log.take();
    println!(
        "\n-- steady state: {window:?} ({:.0} poll intervals), everything in sync",
        2.0
    );
    report_poll(&calls, &objects, s, Some(2.0), &seen);

    // 3. One new object at a time while N exist.
    let mut times = Vec::new();
    let mut missed = 0;
    for i in 0..s.samples {
        let kind = kinds[i % kinds.len()];
        let credential = i % s.credentials;
        let o = Object {
            kind,
            credential,
            namespace: namespaces[credential].clone(),
            name: format!("{}-new-{i:03}", kind.as_str()),
        };
        let at = Instant::now();
        create(&client, &o).await.expect("new object created");
        match tracker
            .wait_one(&o.namespace, &o.name, at + Duration::from_secs(120))
            .await
        {
            Some(ready) => times.push(ready.saturating_duration_since(at).as_secs_f64()),
            None => missed += 1,
        }
    }
    let calls = per_product(&take_calls(&sims));
    let seen = k8s_log.take();
    times.sort_by(f64::total_cmp);
    let mut c = Calls::default();
    calls.values().for_each(|x| c.add(*x));
    let per = s.samples.max(1) as f64;
    let (writes, by, _) = k8s_writes(&seen);
    println!(
        "\n-- one new object at a time while {n} exist ({} samples, round robin over products)",
        s.samples
    );
    println!(
        "time to Ready: p50 {:.2} s, p95 {:.2} s, max {:.2} s{}",
        percentile(&times, 0.5),
        percentile(&times, 0.95),
        times.last().copied().unwrap_or(f64::NAN),
        if missed > 0 {
            format!("; {missed} not Ready within 120 s")
        } else {
            String::new()
        }
    );
    println!(
        "per new object: product reads {:.2}, writes {:.2}, auth {:.2}, 429 {:.2}; kubernetes writes {:.2} ({}) (includes polls that fell in the window)",
        c.reads as f64 / per,
        c.writes as f64 / per,
        c.auth as f64 / per,
        c.throttled as f64 / per,
        writes as f64 / per,
        show_writes(&by, per),
    );

    // 4. Restart with everything in sync.
    let mem_first = op.stop().await;
    let _ = take_calls(&sims);
    let _ = k8s_log.take();
    let restarted = Instant::now();
    let op2 = start_operator();
    // Less than half an interval: the next credential tick is at least that far (controller
    // `next_poll`), so this window holds what the restart itself costs.
    let window = s.poll.mul_f64(0.45);
    tokio::time::sleep(window).await;
    let calls = take_calls(&sims);
    let seen = k8s_log.take();
    let total = n + s.samples;
    let mut all_objects = objects.clone();
    for i in 0..s.samples {
        let kind = kinds[i % kinds.len()];
        all_objects.push(Object {
            kind,
            credential: i % s.credentials,
            namespace: namespaces[i % s.credentials].clone(),
            name: String::new(),
        });
    }
    println!(
        "\n-- restart with {total} objects in sync: the first {:.1} s (0.45 poll interval) of a new operator process",
        restarted.elapsed().as_secs_f64()
    );
    report_poll(&calls, &all_objects, s, None, &seen);
    let mem_second = op2.stop().await;

    println!(
        "\n-- operator memory (VmHWM = peak RSS; RssAnon = heap, stacks; RssFile = binary pages)"
    );
    for (label, m) in [("first process", mem_first), ("after restart", mem_second)] {
        println!(
            "{label:<14} peak RSS {:.1} MiB; at stop RSS {:.1} MiB = anon {:.1} + file {:.1}; {:.1} KiB per object at peak",
            Memory::mib(m.hwm_kib),
            Memory::mib(m.rss_kib),
            Memory::mib(m.anon_kib),
            Memory::mib(m.file_kib),
            m.hwm_kib as f64 / total as f64,
        );
    }
    if !s.operator_env.is_empty() {
        println!("operator environment: {:?}", s.operator_env);
    }

    if cluster.real {
        cleanup(&cluster, &namespaces).await;
    }
    converged && alive
}

/// Calls and Kubernetes writes of a poll window, per credential, against the contract's floor.
fn report_poll(
    calls: &[BTreeMap<&'static str, Calls>],
    objects: &[Object],
    s: &Settings,
    intervals: Option<f64>,
    seen: &[proxy::Seen],
) {
    // `None`: a window shorter than a poll interval, counted as it is.
    let (label, intervals) = match intervals {
        Some(n) => ("calls/cred/poll", n),
        None => ("calls/cred", 1.0),
    };
    println!(
        "{:<10} {:>14} {:>16} {:>12}",
        "product", "objs/cred", label, "floor/cred"
    );
    let mut all = 0.0;
    let mut floor_all = 0;
    for &kind in ProviderKind::ALL {
        let mut objs = 0;
        let mut floor = 0;
        let mut sum = 0;
        for (c, per_cred) in calls.iter().enumerate() {
            let count = objects
                .iter()
                .filter(|o| o.kind == kind && o.credential == c)
                .count();
            objs += count;
            floor += products::poll_floor(kind, count);
            sum += per_cred[kind.as_str()].total();
        }
        let creds = s.credentials as f64;
        all += sum as f64 / intervals;
        floor_all += floor;
        println!(
            "{:<10} {:>14.0} {:>16.1} {:>12.1}",
            kind.as_str(),
            objs as f64 / creds,
            sum as f64 / intervals / creds,
            floor as f64 / creds
        );
    }
    let (writes, by, reads) = k8s_writes(seen);
    println!(
        "all: {:.1} product calls (floor: {floor_all} = credentials x pages, + SlashID reads); \
         kubernetes writes {:.1} ({}); kubernetes reads/lists/watches {}",
        all,
        writes as f64 / intervals,
        show_writes(&by, intervals),
        reads
    );
}

/// Removes what the run made in a real cluster: finalizers (the operator is stopped, and the
/// simulated products go with this process), namespaces, and the CRDs it installed.
async fn cleanup(cluster: &Cluster, namespaces: &[String]) {
    let client = &cluster.client;
    let unfinalize = json!({"metadata": {"finalizers": null}});
    for ns in namespaces {
        for ar in [
            resource(ProviderKind::Statsig),
            resource(ProviderKind::ConfigCat),
        ] {
            let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), ns, &ar);
            if let Ok(list) = api.list(&ListParams::default()).await {
                for o in list {
                    let name = o.metadata.name.unwrap_or_default();
                    let _ = api
                        .patch(&name, &PatchParams::default(), &Patch::Merge(&unfinalize))
                        .await;
                }
            }
        }
        let secrets: Api<Secret> = Api::namespaced(client.clone(), ns);
        if let Ok(list) = secrets.list(&ListParams::default()).await {
            for o in list {
                let name = o.metadata.name.unwrap_or_default();
                let _ = secrets
                    .patch(&name, &PatchParams::default(), &Patch::Merge(&unfinalize))
                    .await;
            }
        }
        let ns_api: Api<Namespace> = Api::all(client.clone());
        let _ = ns_api.delete(ns, &Default::default()).await;
    }
    crds::remove(client, &cluster.created_crds).await;
    println!(
        "cleaned up: namespaces {namespaces:?}, CRDs created here {:?}",
        cluster.created_crds
    );
}
