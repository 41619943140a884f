//! Roleplane: a Kubernetes operator that keeps SaaS access roles in line with manifests.

pub mod crd;
pub mod metrics;
pub mod providers;
pub mod sim;

/// Installs ring as the process-wide rustls crypto provider (kube and reqwest share it).
/// Idempotent.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
