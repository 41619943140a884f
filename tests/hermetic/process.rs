//! The operator process: leader election over a Lease, the probe and metrics endpoints, and a
//! clean exit on SIGTERM.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use roleplane::leader::Elector;
use roleplane::metrics::Metrics;

use kube_double::ApiServer;

fn elector(api: &ApiServer, who: &str) -> Elector {
    Elector::new(api.client(), "roleplane-system", "roleplane-leader", who).with_timing(
        Duration::from_secs(2),
        Duration::from_millis(300),
        Duration::from_millis(200),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_replica_leads_and_a_standby_takes_over_when_it_stops() {
    let api = ApiServer::new(roleplane::crd::all());
    let a = elector(&api, "replica-a");
    tokio::time::timeout(Duration::from_secs(5), a.acquire())
        .await
        .expect("the first replica leads");
    let b = elector(&api, "replica-b");
    let holding = tokio::spawn(async move { a.hold().await });
    assert!(
        tokio::time::timeout(Duration::from_secs(3), b.acquire())
            .await
            .is_err(),
        "a second replica took the Lease while the leader renewed it"
    );
    holding.abort();
    tokio::time::timeout(Duration::from_secs(6), b.acquire())
        .await
        .expect("the standby takes over after the Lease expires");
    let lease = api
        .object(
            "coordination.k8s.io/v1",
            "leases",
            Some("roleplane-system"),
            "roleplane-leader",
        )
        .expect("lease exists");
    assert_eq!(lease["spec"]["holderIdentity"], "replica-b");
    assert_eq!(lease["spec"]["leaseTransitions"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probes_and_metrics_are_served() {
    let metrics = Metrics::new();
    metrics.provider_request("statsig", "create role", "201", 0.01);
    metrics.reconciled("Role", Some("CredentialsRejected"), 0.02);
    let ready = Arc::new(AtomicBool::new(false));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(roleplane::server::serve(
        listener,
        metrics,
        ready.clone(),
        std::future::pending(),
    ));
    let client = reqwest::Client::new();
    let get = |path: &str| client.get(format!("{base}{path}")).send();
    assert_eq!(get("/healthz").await.expect("healthz").status(), 200);
    assert_eq!(get("/readyz").await.expect("readyz").status(), 503);
    ready.store(true, std::sync::atomic::Ordering::Relaxed);
    assert_eq!(get("/readyz").await.expect("readyz").status(), 200);
    let text = get("/metrics")
        .await
        .expect("metrics")
        .text()
        .await
        .expect("body");
    assert!(
        text.contains(r#"roleplane_provider_requests_total{provider="statsig",operation="create role",status="201"} 1"#),
        "{text}"
    );
    assert!(
        text.contains(
            r#"roleplane_reconcile_errors_total{kind="Role",reason="CredentialsRejected"} 1"#
        ),
        "{text}"
    );
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sim_exits_cleanly_on_sigterm() {
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_roleplane"))
        .args(["sim", "--listen", "127.0.0.1:0"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("roleplane sim starts");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let pid = child.id().expect("running").to_string();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill runs");
    assert!(killed.success());
    let status = tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .expect("exits after SIGTERM")
        .expect("wait");
    assert!(status.success(), "exit status {status}");
}
