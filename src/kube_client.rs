//! The operator's Kubernetes client: kube's own request stack (base URL, retries, auth, extra
//! headers, TLS) over a connection pool sized for a controller.
//!
//! kube's default pool keeps every connection it ever opened, idle ones included, and lets each
//! connection's read buffer grow to about 400 KiB and stay that size. An operator runs one
//! controller per kind and namespace, so a burst of reconciles opens well over a hundred
//! connections to the API server; with a heap profile at 2,000 resources, their read buffers
//! were the largest share of the heap (see docs/performance.md). Here the requests in flight
//! are bounded, idle connections are closed, and read buffers are capped.

use std::time::Duration;

use hyper_util::client::legacy::Builder;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use kube::client::ConfigExt;
use kube::client::retry::RetryPolicy;
use kube::{Client, Config};
use tower::limit::ConcurrencyLimitLayer;
use tower::retry::RetryLayer;
use tower::{BoxError, ServiceBuilder};

/// Requests to the API server waiting for their answer's headers at once. A watch holds its
/// slot only until its answer starts: its stream does not count.
pub const MAX_IN_FLIGHT: usize = 32;
/// Idle connections kept for the next requests; more are closed.
const MAX_IDLE: usize = 8;
/// How long an idle connection is kept.
const IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// The largest read buffer of one connection (hyper's least is 8 KiB, its default about
/// 400 KiB). Larger answers (list pages) are read in several reads.
const MAX_READ_BUFFER: usize = 64 * 1024;

/// The client for `config`. With a proxy configured, kube's own client is used as it is.
pub fn client(config: Config) -> kube::Result<Client> {
    if config.proxy_url.is_some() {
        return Client::try_from(config);
    }
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    http.set_connect_timeout(config.connect_timeout);
    let https = config.rustls_https_connector_with_connector(http)?;
    let pool = Builder::new(TokioExecutor::new())
        .pool_timer(TokioTimer::new())
        .pool_idle_timeout(IDLE_TIMEOUT)
        .pool_max_idle_per_host(MAX_IDLE)
        .http1_max_buf_size(MAX_READ_BUFFER)
        .build(https);
    let service = ServiceBuilder::new()
        .layer(ConcurrencyLimitLayer::new(MAX_IN_FLIGHT))
        .layer(config.base_uri_layer())
        .option_layer(
            config
                .default_retry
                .then(|| RetryLayer::new(RetryPolicy::server_retry())),
        )
        .option_layer(config.auth_layer()?)
        .layer(config.extra_headers_layer()?)
        .map_err(BoxError::from)
        .service(pool);
    Ok(kube::client::ClientBuilder::new(service, config.default_namespace).build())
}

/// The client for the environment's configuration (in-cluster, or `KUBECONFIG`).
pub async fn infer() -> kube::Result<Client> {
    client(Config::infer().await.map_err(kube::Error::InferConfig)?)
}
