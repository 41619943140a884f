//! The operator's Kubernetes client: kube's own request stack (base URL, retries, auth, extra
//! headers, TLS) over a connection pool sized for a controller.
//!
//! kube's default pool keeps every connection it ever opened, idle ones included, and lets each
//! connection's read buffer grow to about 400 KiB and stay that size. An operator runs one
//! controller per kind and namespace, so a burst of reconciles opens well over a hundred
//! connections to the API server; with a heap profile at 2,000 resources, their read buffers
//! were the largest share of the heap (see docs/performance.md). Here the requests in flight
//! are bounded, no more connections are kept than may be busy at once (idle ones close after
//! 30 s), and read buffers are capped.

use kube::client::ConfigExt;
use kube::client::retry::RetryPolicy;
use kube::{Client, Config};
use tower::limit::ConcurrencyLimitLayer;
use tower::retry::RetryLayer;
use tower::{BoxError, ServiceBuilder};

/// Requests to the API server waiting for their answer's headers at once. A watch holds its
/// slot only until its answer starts: its stream does not count.
const MAX_IN_FLIGHT: usize = 32;
/// Idle connections kept for the next requests; more are closed. As many as may be busy at
/// once: fewer would close and reopen connections (a TLS handshake each) all through a burst.
const MAX_IDLE: usize = MAX_IN_FLIGHT;

/// The client for `config`. With a proxy configured, kube's own client is used as it is.
/// kube's read and write timeouts (unset unless a program sets them) are not applied here:
/// `Config::infer` leaves them unset.
pub fn client(config: Config) -> kube::Result<Client> {
    if config.proxy_url.is_some() {
        return Client::try_from(config);
    }
    let http = crate::pool::connector(config.connect_timeout);
    let https = config.rustls_https_connector_with_connector(http)?;
    let pool = crate::pool::builder(MAX_IDLE).build(https);
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// Connections to the test server: opened in all, open now, and the most open at once.
    #[derive(Default)]
    struct Connections {
        opened: AtomicUsize,
        open: AtomicUsize,
        most: AtomicUsize,
    }

    /// An API server that answers every request after 200 ms and counts the connections open
    /// to it.
    async fn slow_server() -> (String, Arc<Connections>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let connections = Arc::new(Connections::default());
        let counted = connections.clone();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                counted.opened.fetch_add(1, Ordering::SeqCst);
                let open = counted.open.fetch_add(1, Ordering::SeqCst) + 1;
                counted.most.fetch_max(open, Ordering::SeqCst);
                let counted = counted.clone();
                tokio::spawn(async move {
                    let mut request = Vec::new();
                    let mut buf = [0u8; 4096];
                    while let Ok(n) = socket.read(&mut buf).await {
                        if n == 0 {
                            break;
                        }
                        request.extend_from_slice(&buf[..n]);
                        while let Some(end) = request.windows(4).position(|w| w == b"\r\n\r\n") {
                            request.drain(..end + 4);
                            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                            let body = r#"{"major":"1","minor":"36"}"#;
                            let answer = format!(
                                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\
                                 content-length: {}\r\n\r\n{body}",
                                body.len()
                            );
                            if socket.write_all(answer.as_bytes()).await.is_err() {
                                break;
                            }
                        }
                    }
                    counted.open.fetch_sub(1, Ordering::SeqCst);
                });
            }
        });
        (url, connections)
    }

    /// 100 requests at once, each answered.
    async fn burst(client: &kube::Client) {
        let requests = (0..100).map(|_| async {
            let request = http::Request::get("/version").body(Vec::new()).unwrap();
            client.request_text(request).await
        });
        for answer in futures::future::join_all(requests).await {
            assert!(answer.unwrap().contains("36"));
        }
    }

    #[tokio::test]
    async fn a_burst_of_requests_opens_at_most_the_bounded_number_of_connections() {
        crate::install_crypto_provider();
        let (url, connections) = slow_server().await;
        let client = super::client(kube::Config::new(url.parse().unwrap())).unwrap();
        burst(&client).await;
        let most = connections.most.load(Ordering::SeqCst);
        let opened = connections.opened.load(Ordering::SeqCst);
        assert!(
            most <= super::MAX_IN_FLIGHT,
            "100 concurrent requests held {most} connections at once"
        );
        assert!(
            opened <= super::MAX_IN_FLIGHT,
            "100 requests opened {opened} connections: they were closed and opened again"
        );
        // The same again: the pool's connections are reused.
        burst(&client).await;
        assert_eq!(connections.opened.load(Ordering::SeqCst), opened);
    }
}
