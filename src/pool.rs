//! hyper's connection pool as Roleplane's clients use it, the API server's
//! (`kube_client`) and the products' (`providers::http`): each connection's read buffer
//! capped (hyper's default lets it grow to about 400 KiB and stay that size), idle connections
//! bounded and closed after a while.

use std::time::Duration;

use hyper_util::client::legacy::Builder;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};

/// How long an idle connection is kept.
const IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// The largest read buffer of one connection (hyper's least is 8 KiB). Larger answers (list
/// pages) are read in several reads. A connection keeps the largest buffer it grew to, and at
/// 10,000 resources about a hundred connections are open (the API server's and four per
/// product credential): 64 KiB held 6.4 MB of heap at the peak (heaptrack).
const MAX_READ_BUFFER: usize = 16 * 1024;

/// The TCP connector TLS is layered on (it connects to `https` URLs too).
pub(crate) fn connector(connect_timeout: Option<Duration>) -> HttpConnector {
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    http.set_connect_timeout(connect_timeout);
    http
}

/// A pool that keeps at most `max_idle_per_host` idle connections per host.
pub(crate) fn builder(max_idle_per_host: usize) -> Builder {
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .pool_timer(TokioTimer::new())
        .pool_idle_timeout(IDLE_TIMEOUT)
        .pool_max_idle_per_host(max_idle_per_host)
        .http1_max_buf_size(MAX_READ_BUFFER);
    builder
}
