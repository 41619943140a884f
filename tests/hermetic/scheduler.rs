//! The per-credential scheduler end to end: budgets shaped like the products' published limits
//! (checked against a simulator enforcing them, from its own request log), and the circuit that
//! stops calls with revoked credentials while other credentials keep working.

use std::time::Duration;

use roleplane::crd::{ConditionStatus, ProviderKind, Role, StatsigRole};
use roleplane::metrics::Metrics;
use roleplane::providers::http::{CircuitConfig, Http, HttpConfig};
use roleplane::providers::statsig::Statsig;
use roleplane::providers::{Account, Credentials, Desired, Provider, Simulator};
use serde_json::{Value, json};

use crate::harness::*;

fn role_spec(config: &str, name: &str) -> Value {
    json!({
        "providerConfigRef": {"name": config},
        "name": name,
        "statsig": {"permissions": {"createConfigs": true}},
    })
}

/// The most of `times` (ms) in any span of `span_ms`.
fn densest(times: &[u64], span_ms: u64) -> usize {
    times
        .iter()
        .map(|&from| {
            times
                .iter()
                .filter(|&&t| t >= from && t < from + span_ms)
                .count()
        })
        .max()
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn published_limits_make_the_statsig_sim_refuse_mutations_past_its_window() {
    let (sim, base) = Simulator::start(Default::default())
        .await
        .expect("simulator");
    sim.statsig.add_key("console-other-project");
    sim.set_published_limits(true);
    roleplane::install_crypto_provider();
    let client = reqwest::Client::new();
    let roles = format!("{base}/statsig/console/v1/roles");
    let post = |key: &'static str, name: String| {
        client
            .post(&roles)
            .header("statsig-api-key", key)
            .json(&json!({"name": name, "permissions": {}}))
            .send()
    };
    // All at once, so that they arrive well within one window however loaded the machine is.
    let burst = (0..100).map(|i| post(STATSIG_KEY, format!("r{i}")));
    for r in futures::future::join_all(burst).await {
        assert_eq!(r.expect("answer").status(), 201, "within 100 per 10 s");
    }
    let refused = post(STATSIG_KEY, "r100".into()).await.expect("answer");
    assert_eq!(refused.status(), 429);
    let retry: u64 = refused.headers()["retry-after"]
        .to_str()
        .expect("text")
        .parse()
        .expect("seconds");
    assert!((1..=10).contains(&retry), "Retry-After {retry}");
    // Reads are not limited; another project has its own windows.
    let read = client
        .get(&roles)
        .header("statsig-api-key", STATSIG_KEY)
        .send()
        .await
        .expect("answer");
    assert_eq!(read.status(), 200);
    let other = post("console-other-project", "r0".into())
        .await
        .expect("answer");
    assert_eq!(other.status(), 201);
    // Off again (the default): no limit.
    sim.set_published_limits(false);
    let r = post(STATSIG_KEY, "r101".into()).await.expect("answer");
    assert_eq!(r.status(), 201);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn creates_under_one_key_stay_within_statsig_windows_and_never_get_a_429() {
    // The product budgets as shipped (no rate override), against a simulator enforcing
    // Statsig's published 100 mutations per 10 s.
    let http = HttpConfig {
        timeout: Duration::from_secs(5),
        ..Default::default()
    };
    // Polls off: the roles past the first window come back from their wait for the budget
    // (in the controller's roster), not from a poll.
    let env = Env::start_custom(roleplane::crd::all(), Default::default(), http, |c| {
        c.poll_interval = NEVER;
    })
    .await;
    env.sim.set_published_limits(true);
    env.statsig_account(NS).await;
    const N: usize = 110;
    for i in 0..N {
        env.role(NS, &format!("r{i}"), role_spec("statsig", &format!("R{i}")))
            .await;
    }
    for i in 0..N {
        env.wait_role(NS, &format!("r{i}"), "Ready", is_ready).await;
    }
    let log = env.sim.traffic(ProviderKind::Statsig).requests();
    let limited: Vec<_> = log.iter().filter(|r| r.status == 429).collect();
    assert!(limited.is_empty(), "429s: {limited:#?}");
    let mutations: Vec<u64> = log
        .iter()
        .filter(|r| r.method != "GET")
        .map(|r| r.at_ms)
        .collect();
    assert_eq!(mutations.len(), N, "one write per create");
    assert!(densest(&mutations, 10_000) <= 100);
    assert!(densest(&mutations, 900_000) <= 900);
    assert_eq!(env.sim.statsig.roles(STATSIG_KEY).len(), N);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_creates_burst_a_whole_window_and_wait_for_the_next() {
    // More creates at once than Statsig's short window holds, straight through the client.
    let (sim, base) = Simulator::start(Default::default())
        .await
        .expect("simulator");
    sim.set_published_limits(true);
    let http = HttpConfig {
        timeout: Duration::from_secs(5),
        concurrency_per_credential: 16,
        // Calls wait for the next window here (in the controller, longer waits are requeued).
        max_inline_wait: Duration::from_secs(30),
        ..Default::default()
    };
    let statsig = Statsig::new(Http::new(http, Metrics::new()));
    let account = Account::of::<Statsig>(
        format!("{base}/statsig"),
        Default::default(),
        Credentials::new([("apiKey".to_string(), STATSIG_KEY.to_string())]),
        "burst",
    );
    let spec = StatsigRole::default();
    let names: Vec<String> = (0..130).map(|i| format!("R{i}")).collect();
    let creates = names
        .iter()
        .map(|name| statsig.create(&account, Desired { name, spec: &spec }));
    for result in futures::future::join_all(creates).await {
        result.expect("created without a 429");
    }
    let log = sim.traffic(ProviderKind::Statsig).requests();
    assert!(log.iter().all(|r| r.status == 201), "{log:#?}");
    let at: Vec<u64> = log.iter().map(|r| r.at_ms).collect();
    assert_eq!(at.len(), 130);
    assert_eq!(densest(&at, 10_000), 100, "a whole window at once, no more");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_key_opens_its_circuit_while_another_key_keeps_working() {
    let circuit = CircuitConfig::default();
    let concurrency = HttpConfig::default().concurrency_per_credential as u32;
    let http = HttpConfig {
        circuit: circuit.clone(),
        ..test_http()
    };
    let env = Env::start_custom(roleplane::crd::all(), Default::default(), http, |_| {}).await;
    env.statsig_account(NS).await;
    env.sim.statsig.add_key("console-key-b");
    env.secret(NS, "statsig-b", &[("apiKey", "console-key-b")])
        .await;
    env.provider_config(NS, "statsig-b", "statsig", "statsig-b", json!({}))
        .await;
    const N: usize = 8;
    for i in 0..N {
        env.role(NS, &format!("a{i}"), role_spec("statsig", &format!("A{i}")))
            .await;
    }
    env.role(NS, "b0", role_spec("statsig-b", "B0")).await;
    for i in 0..N {
        env.wait_role(NS, &format!("a{i}"), "Ready", is_ready).await;
    }
    env.wait_role(NS, "b0", "Ready", is_ready).await;

    // The key is revoked: Statsig answers 401 to it. A timed poll would find out with one
    // shared listing (one 401 for all eight); each role is changed instead, so each reads the
    // product on its own and the 401s add up.
    env.sim.statsig.revoke_key(STATSIG_KEY);
    for i in 0..N {
        env.poke::<Role>(NS, &format!("a{i}"), "revoked").await;
    }
    let mut circuit_messages = 0;
    for i in 0..N {
        let role = env
            .wait_role(
                NS,
                &format!("a{i}"),
                "CredentialsRejected",
                failed_with("CredentialsRejected"),
            )
            .await;
        let message = synced_message(&role);
        assert!(!message.contains(STATSIG_KEY), "{message}");
        let ready = condition(role.status.as_ref().expect("status"), "Ready").expect("Ready");
        assert_eq!(ready.0, ConditionStatus::False, "{ready:?}");
        if message.contains("circuit for these credentials is open") {
            assert!(message.contains("consecutive HTTP 401"), "{message}");
            assert!(
                message.contains("probe call is let through at"),
                "{message}"
            );
            let events = env.events(NS, &format!("a{i}")).await;
            assert!(
                events.iter().any(|(kind, reason, note)| kind == "Warning"
                    && reason == "CredentialsRejected"
                    && note.contains("circuit")
                    && !note.contains(STATSIG_KEY)),
                "{events:#?}"
            );
            circuit_messages += 1;
        }
    }
    assert!(circuit_messages > 0, "no resource reports the open circuit");
    // The product saw the 401s that opened it and those already in flight, no more (no probe is
    // due within the cool-down).
    let rejected = || {
        env.sim
            .traffic(ProviderKind::Statsig)
            .requests()
            .iter()
            .filter(|r| r.status == 401)
            .count() as u32
    };
    let bound = circuit.unauthorized + concurrency - 1;
    assert!(rejected() <= bound, "{} > {bound}", rejected());

    // The other key is untouched: a new role under it goes Ready.
    env.role(NS, "b1", role_spec("statsig-b", "B1")).await;
    env.wait_role(NS, "b1", "Ready", is_ready).await;
    assert!(is_ready(
        env.get::<Role>(NS, "b0")
            .await
            .expect("b0")
            .status
            .as_ref()
            .expect("status")
    ));
    assert!(rejected() <= bound, "{} > {bound}", rejected());

    // Fixing the Secret is a new credential: its circuit starts closed and the roles recover.
    env.sim.statsig.add_key("console-key-rotated");
    env.secret(NS, "statsig-creds", &[("apiKey", "console-key-rotated")])
        .await;
    for i in 0..N {
        env.wait_role(NS, &format!("a{i}"), "Ready again", is_ready)
            .await;
    }
    assert_eq!(env.sim.statsig.roles("console-key-rotated").len(), N);
    assert!(rejected() <= bound, "{} > {bound}", rejected());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_open_circuit_probes_after_its_cool_down_and_closes_when_the_key_works_again() {
    let circuit = CircuitConfig {
        cool_down: Duration::from_secs(1),
        max_cool_down: Duration::from_secs(2),
        ..CircuitConfig::default()
    };
    let concurrency = HttpConfig::default().concurrency_per_credential as u32;
    let http = HttpConfig {
        circuit: circuit.clone(),
        ..test_http()
    };
    let env = Env::start_custom(roleplane::crd::all(), Default::default(), http, |_| {}).await;
    env.statsig_account(NS).await;
    const N: usize = 5;
    for i in 0..N {
        env.role(NS, &format!("p{i}"), role_spec("statsig", &format!("P{i}")))
            .await;
    }
    for i in 0..N {
        env.wait_role(NS, &format!("p{i}"), "Ready", is_ready).await;
    }
    let revoked = std::time::Instant::now();
    env.sim.statsig.revoke_key(STATSIG_KEY);
    // Each role reads on its own (a timed poll would share one listing, one 401 for all).
    for i in 0..N {
        env.poke::<Role>(NS, &format!("p{i}"), "revoked").await;
    }
    // Wait for a resource that reports the open circuit (the others got the 401s themselves).
    let open = |s: &roleplane::crd::ManagedStatus| matches!(condition(s, "Synced"), Some((ConditionStatus::False, _, m)) if m.contains("circuit"));
    let deadline = tokio::time::Instant::now() + WAIT;
    let name = loop {
        let mut found = None;
        for i in 0..N {
            let name = format!("p{i}");
            let role = env.get::<Role>(NS, &name).await.expect("role");
            if role.status.as_ref().is_some_and(open) {
                found = Some(name);
                break;
            }
        }
        if let Some(name) = found {
            break name;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no resource reports the circuit"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    // The same key works again (its project restored): the next probe succeeds, the circuit
    // closes and the resource, retried when the probe is due, goes Ready with no Secret change.
    env.sim.statsig.add_key(STATSIG_KEY);
    env.wait_role(NS, &name, "Ready after the probe", is_ready)
        .await;
    let rejected = env
        .sim
        .traffic(ProviderKind::Statsig)
        .requests()
        .iter()
        .filter(|r| r.status == 401)
        .count() as u64;
    // The opening 401s, those in flight, and at most one probe per second of cool-down since.
    let bound = u64::from(circuit.unauthorized + concurrency - 1) + revoked.elapsed().as_secs() + 1;
    assert!(rejected <= bound, "{rejected} > {bound}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_credential_waiting_for_its_budget_holds_up_no_other_product() {
    use crate::conformance::Fixture;
    use crate::conformance::fixtures::slashid::SlashId;
    // One reconcile at a time; Statsig answers a 429 with a Retry-After of a minute once two
    // calls are spent, which pauses that credential's budget.
    let env = Env::start_with(|c| {
        c.concurrency = 1;
        c.poll_interval = Duration::from_secs(600);
    })
    .await;
    env.sim
        .traffic(ProviderKind::Statsig)
        .set_faults(roleplane::sim::Faults {
            rate_limit: Some(roleplane::sim::RateLimit {
                requests: 2,
                window_seconds: 60,
                retry_after_seconds: Some(60),
            }),
            ..Default::default()
        });
    env.statsig_account(NS).await;
    SlashId::account(&env, NS, true).await;
    for i in 0..4 {
        env.role(NS, &format!("s{i}"), role_spec("statsig", &format!("S{i}")))
            .await;
    }
    // Until the pause has begun.
    let statsig = env.sim.traffic(ProviderKind::Statsig);
    for _ in 0..100 {
        if statsig.requests().iter().any(|r| r.status == 429) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let started = std::time::Instant::now();
    env.role(NS, "other", SlashId::spec("other")).await;
    env.wait_role(NS, "other", "Ready", is_ready).await;
    // The Statsig roles wait outside the only slot: a reconcile sleeping until the pause ends
    // would have held the SlashID role up for a minute.
    let waited = started.elapsed();
    assert!(
        waited < Duration::from_secs(20),
        "SlashID waited {waited:?}"
    );
    // And no call was spent while the credential was paused (beyond those already on the way).
    let log = statsig.requests();
    let limited = log.iter().find(|r| r.status == 429).expect("a 429");
    // The log keeps the Retry-After it answered with (the fault suite measures pauses by it).
    assert_eq!(limited.retry_after_s, Some(60));
    let paused_at = limited.at_ms;
    let during: Vec<_> = log.iter().filter(|r| r.at_ms > paused_at + 1000).collect();
    assert!(during.is_empty(), "sent while paused: {during:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_pass_starts_reconciles_in_its_own_order() {
    // Two reconcile slots: nearly all of the first pass waits for one.
    let mut env = Env::start_with(|c| {
        c.concurrency = 2;
        c.poll_interval = NEVER;
    })
    .await;
    env.stop_controllers().await;
    env.statsig_account(NS).await;
    const N: usize = 120;
    for i in 0..N {
        env.role(
            NS,
            &format!("r{i:03}"),
            role_spec("statsig", &format!("R{i:03}")),
        )
        .await;
    }
    // A new process finds them all: its first pass hands them over by name (one credential,
    // its first window's worth and more), and they must start in that order, give or take
    // the slots (kube-runtime starts waiting reconciles in hash order, whatever came first).
    env.restart().await;
    for i in 0..N {
        env.wait_role(NS, &format!("r{i:03}"), "Ready", is_ready)
            .await;
    }
    let mut looked: Vec<usize> = Vec::new();
    for r in env.sim.traffic(ProviderKind::Statsig).requests() {
        let Some(i) = r.path.strip_prefix("/console/v1/roles/R") else {
            continue;
        };
        let i: usize = i.parse().expect("a role's number");
        if r.method == "GET" && !looked.contains(&i) {
            looked.push(i);
        }
    }
    assert_eq!(looked.len(), N, "each role looked up before its create");
    // Two slots let neighbours swap; none may start more than a few places after its own
    // (with a hand-over of twice the slots, some started 5 to 112 places late in every try).
    let late: Vec<(usize, usize)> = looked
        .iter()
        .enumerate()
        .filter(|&(at, &i)| at > i + 4)
        .map(|(at, &i)| (at, i))
        .collect();
    assert!(
        late.is_empty(),
        "started well after their place (position, role): {late:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_product_holds_up_no_other_products_reconcile_slots() {
    use crate::conformance::Fixture;
    use crate::conformance::fixtures::slashid::SlashId;
    // One reconcile slot per lane (Statsig has its own), and every SlashID call takes a second.
    let env = Env::start_with(|c| {
        c.concurrency = 1;
        c.poll_interval = NEVER;
    })
    .await;
    env.statsig_account(NS).await;
    SlashId::account(&env, NS, true).await;
    let slashid = env.sim.traffic(ProviderKind::SlashId);
    slashid.set_faults(roleplane::sim::Faults {
        latency_ms: 1_000,
        ..Default::default()
    });
    env.role(NS, "slow-1", SlashId::spec("slow-1")).await;
    env.role(NS, "slow-2", SlashId::spec("slow-2")).await;
    // Until a SlashID reconcile holds its slot (its first call answered, more to come).
    for _ in 0..100 {
        if slashid
            .requests()
            .iter()
            .any(|r| r.path.starts_with("/rbac/"))
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    env.role(NS, "quick", role_spec("statsig", "Quick")).await;
    env.wait_role(NS, "quick", "Ready", is_ready).await;
    // The Statsig role did not wait for that slot: both SlashID roles are still on their way.
    let roles: kube::Api<Role> = kube::Api::namespaced(env.client.clone(), NS);
    for name in ["slow-1", "slow-2"] {
        let role = roles.get(name).await.expect("role");
        assert!(
            !role.status.as_ref().is_some_and(is_ready),
            "{name} went Ready before the Statsig role: it waited for SlashID's slot"
        );
    }
    env.wait_role(NS, "slow-1", "Ready", is_ready).await;
    env.wait_role(NS, "slow-2", "Ready", is_ready).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_pass_gives_statsigs_first_window_its_turn_before_the_shared_lane() {
    use crate::conformance::Fixture;
    use crate::conformance::fixtures::slashid::SlashId;
    let mut env = Env::start_with(|c| c.poll_interval = NEVER).await;
    env.stop_controllers().await;
    env.statsig_account(NS).await;
    SlashId::account(&env, NS, true).await;
    // A Statsig key's first window is 100 creates.
    for i in 0..100 {
        env.role(
            NS,
            &format!("s{i:03}"),
            role_spec("statsig", &format!("S{i:03}")),
        )
        .await;
    }
    for i in 0..3 {
        env.role(NS, &format!("o{i}"), SlashId::spec(&format!("o{i}")))
            .await;
    }
    // A new process finds them all: Statsig's lane hands its first window over first, and the
    // shared lane's first pass starts once it has (the lanes run side by side from then on).
    let before = env.api.requests().len();
    env.restart().await;
    for i in 0..3 {
        env.wait_role(NS, &format!("o{i}"), "Ready", is_ready).await;
    }
    for i in 0..100 {
        env.wait_role(NS, &format!("s{i:03}"), "Ready", is_ready)
            .await;
    }
    // Each reconcile that creates writes to its Role first (the create intent, the finalizer).
    let written: Vec<String> = env
        .api
        .requests()
        .into_iter()
        .skip(before)
        .filter(|r| r.method == "PATCH" && !r.path.contains("/status"))
        .filter_map(|r| {
            let (_, name) = r.path.split_once("/roles/")?;
            Some(name.split(['?', '/']).next()?.to_string())
        })
        .collect();
    let first_other = written
        .iter()
        .position(|n| n.starts_with('o'))
        .expect("a SlashID role written");
    let statsig_before: std::collections::BTreeSet<_> = written[..first_other]
        .iter()
        .filter(|n| n.starts_with('s'))
        .collect();
    // The 100th is handed over as it starts; without the wait, SlashID's lane starts with the
    // first of them.
    assert!(
        statsig_before.len() >= 90,
        "only {} Statsig roles written before the first SlashID role: {written:?}",
        statsig_before.len()
    );
}
