//! `roleplane run | crds | sim | diff | import`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use clap::Parser;
use roleplane::cli::{Cli, Command, RunArgs, SimArgs};
use roleplane::controller::{Context, ControllerConfig};
use roleplane::providers::http::{Http, HttpConfig};
use roleplane::providers::{Providers, Simulator};
use roleplane::{leader, metrics::Metrics, server, telemetry};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let cli = Cli::parse();
    match cli.command {
        Command::Crds => {
            print!("{}", roleplane::crd::all_yaml());
            Ok(())
        }
        Command::Sim(args) => {
            telemetry::init(cli.log_format, &cli.log_filter);
            run_sim(*args).await
        }
        // No logging: stdout is the plan (or the manifests), stderr the notes.
        Command::Diff(args) => std::process::exit(roleplane::plan::run::diff(*args).await),
        Command::Import(args) => std::process::exit(roleplane::plan::run::import(*args).await),
        Command::Run(args) => {
            telemetry::init(cli.log_format, &cli.log_filter);
            run(*args).await
        }
    }
}

async fn run_sim(args: SimArgs) -> Result<(), Box<dyn std::error::Error>> {
    let listener = tokio::net::TcpListener::bind(args.listen).await?;
    let sim = Simulator::new(args.products);
    sim.set_published_limits(args.published_limits);
    tracing::info!(addr = %args.listen, prefixes = ?sim.prefixes(), published_limits = args.published_limits, "serving product simulators");
    sim.serve(listener, roleplane::shutdown_signal()).await?;
    Ok(())
}

async fn run(args: RunArgs) -> Result<(), Box<dyn std::error::Error>> {
    roleplane::memory::fix_mmap_threshold();
    roleplane::install_crypto_provider();
    let client = roleplane::kube_client::infer().await?;
    let identity = args
        .pod_name
        .clone()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "roleplane".into());
    let metrics = Metrics::new();
    let http = Http::new(
        HttpConfig {
            timeout: args.request_timeout,
            requests_per_second: args.max_requests_per_second,
            concurrency_per_credential: usize::from(args.calls_in_flight),
            ..Default::default()
        },
        metrics.clone(),
    );
    let config = ControllerConfig {
        namespaces: args
            .namespaces
            .iter()
            .filter(|n| !n.is_empty())
            .cloned()
            .collect(),
        poll_interval: args.poll_interval,
        concurrency: args.concurrency,
        base_urls: args.base_urls,
        instance: identity.clone(),
    };
    let ready = Arc::new(AtomicBool::new(false));
    let listener = tokio::net::TcpListener::bind(args.http_addr).await?;
    let http_server = tokio::spawn(server::serve(
        listener,
        metrics,
        ready.clone(),
        roleplane::shutdown_signal(),
    ));
    // Standby replicas are ready too: they serve probes and take over when the leader goes.
    ready.store(true, Ordering::Relaxed);
    let ctx = Context::new(client.clone(), Providers::new(http), config);
    tokio::spawn(roleplane::memory::trim_every(roleplane::memory::TRIM_EVERY));
    if args.leader_election {
        let namespace = args
            .leader_election_namespace
            .clone()
            .or_else(|| std::env::var("POD_NAMESPACE").ok())
            .unwrap_or_else(|| "default".into());
        let elector =
            leader::Elector::new(client, &namespace, &args.leader_election_lease, &identity);
        tokio::select! {
            _ = elector.acquire() => {}
            _ = roleplane::shutdown_signal() => return Ok(()),
        }
        let (lost_tx, lost_rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            elector.hold().await;
            tracing::error!("lost leadership; stopping");
            let _ = lost_tx.send(());
        });
        let stop = async move {
            tokio::select! {
                _ = roleplane::shutdown_signal() => {}
                _ = lost_rx => {}
            }
        };
        roleplane::controller::run(ctx, stop).await;
    } else {
        roleplane::controller::run(ctx, roleplane::shutdown_signal()).await;
    }
    http_server.abort();
    tracing::info!("stopped");
    Ok(())
}
