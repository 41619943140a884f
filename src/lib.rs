//! Roleplane: a Kubernetes operator that keeps SaaS access roles in line with manifests.

// `providers` first: its registry macro (`products!`) is used by `crd` as well.
#[macro_use]
pub mod providers;
pub mod cli;
pub mod controller;
pub mod crd;
pub mod kube_client;
pub mod leader;
pub mod memory;
pub mod metrics;
pub mod plan;
mod pool;
pub mod server;
pub mod sim;
pub mod telemetry;

/// Installs ring as the process-wide rustls crypto provider (kube and the product client share it).
/// Idempotent.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Resolves on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}
