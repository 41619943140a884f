//! How product requests travel: hyper's connection pool with capped read buffers, or reqwest
//! for a request that a configured proxy intercepts.
//!
//! reqwest lets each connection's read buffer grow to about 400 KiB (hyper's default) and stay
//! that size, and offers no setting for it. The operator keeps a connection per call in flight
//! per credential, and a listing page fills the buffer: at 10,000 resources over 20
//! credentials, 64 connections to the products held about 13 MiB of read buffers, a fifth of
//! the heap at its peak (docs/performance.md). Here the pool is the one the Kubernetes client
//! uses (`crate::pool`: read buffers capped at 64 KiB, idle connections closed after 30 s),
//! keeping at most [`MAX_IDLE_PER_HOST`] idle connections per product host. Proxies
//! (`HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY`, `NO_PROXY`, as reqwest reads them) still get
//! reqwest, which tunnels through them.

use std::sync::OnceLock;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Request};
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::proxy::matcher::Matcher;
use rustls_platform_verifier::ConfigVerifierExt;
use tokio::time::Instant;

/// Idle connections kept per product host; more are closed once their call is done. Calls in
/// flight per credential are bounded by its budget, so a burst opens what it needs.
const MAX_IDLE_PER_HOST: usize = 32;
/// The largest answer body read; a larger one fails the call (no product answer comes near).
const MAX_BODY: usize = 64 * 1024 * 1024;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Sends requests; cheap to share.
pub(super) struct Transport {
    pool: Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>,
    proxies: Matcher,
    /// reqwest, built for the first request a proxy intercepts.
    proxied: OnceLock<reqwest::Client>,
    /// Builds it (reading the same proxies from the environment, outside tests).
    build_proxied: Box<dyn Fn() -> reqwest::ClientBuilder + Send + Sync>,
}

/// Why a request got no answer.
#[derive(Debug)]
pub(super) enum Failure {
    /// The whole-request timeout passed.
    Timeout,
    /// No connection: the request was not sent.
    Connect(String),
    /// Anything else (the connection broke, an answer cut short or too large).
    Other(String),
}

impl Failure {
    /// Whether the request certainly did not reach the product.
    pub(super) fn unsent(&self) -> bool {
        matches!(self, Failure::Connect(_))
    }

    pub(super) fn is_timeout(&self) -> bool {
        matches!(self, Failure::Timeout)
    }

    pub(super) fn describe(&self) -> String {
        match self {
            Failure::Timeout => "request timed out".to_string(),
            Failure::Connect(why) => format!("could not connect: {why}"),
            Failure::Other(why) => format!("request failed: {why}"),
        }
    }

    fn from_reqwest(e: &reqwest::Error) -> Self {
        if e.is_timeout() {
            Failure::Timeout
        } else if e.is_connect() {
            Failure::Connect(chain(e))
        } else {
            Failure::Other(chain(e))
        }
    }
}

/// An answer whose status and headers have come; its body is read by [`Body::read`].
pub(super) struct Answer {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Body,
}

/// An answer's body, not read yet.
pub(super) enum Body {
    Pooled(hyper::body::Incoming),
    Proxied(reqwest::Response),
}

impl Body {
    /// Reads the whole body, by `deadline`.
    pub(super) async fn read(self, deadline: Instant) -> Result<Bytes, Failure> {
        let read = async {
            match self {
                Body::Pooled(body) => Limited::new(body, MAX_BODY)
                    .collect()
                    .await
                    .map(|all| all.to_bytes())
                    .map_err(|e| Failure::Other(chain(&*e))),
                Body::Proxied(response) => response
                    .bytes()
                    .await
                    .map_err(|e| Failure::from_reqwest(&e)),
            }
        };
        tokio::time::timeout_at(deadline, read)
            .await
            .unwrap_or(Err(Failure::Timeout))
    }
}

impl Transport {
    /// `proxies` says which requests go through a proxy; `build_proxied` builds the client that
    /// sends them, with those proxies.
    fn new(
        proxies: Matcher,
        build_proxied: impl Fn() -> reqwest::ClientBuilder + Send + Sync + 'static,
    ) -> Self {
        crate::install_crypto_provider();
        let tls =
            rustls::ClientConfig::with_platform_verifier().expect("the TLS backend initialises");
        let mut http = crate::pool::connector(Some(CONNECT_TIMEOUT));
        http.set_nodelay(true);
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        let pool = crate::pool::builder(MAX_IDLE_PER_HOST).build(https);
        Self {
            pool,
            proxies,
            proxied: OnceLock::new(),
            build_proxied: Box::new(build_proxied),
        }
    }

    /// The proxies of the process environment, which reqwest reads too.
    pub(super) fn from_env() -> Self {
        Self::new(Matcher::from_env(), reqwest::Client::builder)
    }

    /// Sends `request`; its answer's status and headers by `deadline`.
    pub(super) async fn send(
        &self,
        request: Request<Bytes>,
        deadline: Instant,
    ) -> Result<Answer, Failure> {
        if self.proxies.intercept(request.uri()).is_some() {
            return self.send_proxied(request, deadline).await;
        }
        let sent = self.pool.request(request.map(Full::new));
        match tokio::time::timeout_at(deadline, sent).await {
            Err(_) => Err(Failure::Timeout),
            Ok(Err(e)) if e.is_connect() => Err(Failure::Connect(chain(&e))),
            Ok(Err(e)) => Err(Failure::Other(chain(&e))),
            Ok(Ok(response)) => {
                let (parts, body) = response.into_parts();
                Ok(Answer {
                    status: parts.status.as_u16(),
                    headers: parts.headers,
                    body: Body::Pooled(body),
                })
            }
        }
    }

    async fn send_proxied(
        &self,
        request: Request<Bytes>,
        deadline: Instant,
    ) -> Result<Answer, Failure> {
        let client = self.proxied.get_or_init(|| {
            (self.build_proxied)()
                .connect_timeout(CONNECT_TIMEOUT)
                .build()
                .expect("the TLS backend initialises")
        });
        let request = reqwest::Request::try_from(request.map(reqwest::Body::from))
            .map_err(|e| Failure::Other(chain(&e)))?;
        match tokio::time::timeout_at(deadline, client.execute(request)).await {
            Err(_) => Err(Failure::Timeout),
            Ok(Err(e)) => Err(Failure::from_reqwest(&e)),
            Ok(Ok(response)) => Ok(Answer {
                status: response.status().as_u16(),
                headers: response.headers().clone(),
                body: Body::Proxied(response),
            }),
        }
    }
}

/// The URI of `url`, read by the URL standard's rules as reqwest read it: characters a URI may
/// not hold (non-ASCII, `{`, `"`, ...) percent-encoded, an international host name in punycode.
/// An endpoint the CRD admits (`https?://` and no white space) may hold them.
pub(super) fn uri(url: &str) -> Result<http::Uri, String> {
    let parsed = url::Url::parse(url).map_err(|e| format!("the request URL: {e}"))?;
    http::Uri::try_from(parsed.as_str()).map_err(|e| format!("the request URL: {e}"))
}

/// An error and its sources, as one line.
fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text = format!("{text}: {s}");
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    /// A server that answers one request with 200 and "ok", and hands back the request's head.
    async fn one_answer() -> (String, tokio::task::JoinHandle<String>) {
        answering(b"ok".to_vec()).await
    }

    /// A server that answers one request with 200 and `body`, and hands back its head.
    async fn answering(body: Vec<u8>) -> (String, tokio::task::JoinHandle<String>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = format!("http://{}", listener.local_addr().unwrap());
        let served = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut head = Vec::new();
            let mut buf = [0u8; 1024];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                let n = socket.read(&mut buf).await.unwrap();
                assert!(n > 0, "the request ended early");
                head.extend_from_slice(&buf[..n]);
            }
            let head_of_answer = format!(
                "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                body.len()
            );
            socket.write_all(head_of_answer.as_bytes()).await.unwrap();
            socket.write_all(&body).await.unwrap();
            String::from_utf8(head).unwrap()
        });
        (address, served)
    }

    fn get(url: &str) -> Request<Bytes> {
        Request::get(url).body(Bytes::new()).unwrap()
    }

    fn direct() -> Transport {
        Transport::new(Matcher::builder().build(), || {
            panic!("no request goes through a proxy")
        })
    }

    fn soon() -> Instant {
        Instant::now() + Duration::from_secs(10)
    }

    #[tokio::test]
    async fn a_request_goes_straight_to_the_product_without_a_proxy() {
        let (server, served) = one_answer().await;
        let transport = direct();
        let answer = transport
            .send(get(&format!("{server}/roles?page=2")), soon())
            .await
            .expect("answered");
        assert_eq!(answer.status, 200);
        assert_eq!(answer.body.read(soon()).await.expect("read"), "ok");
        let head = served.await.unwrap();
        assert!(head.starts_with("GET /roles?page=2 HTTP/1.1\r\n"), "{head}");
    }

    #[tokio::test]
    async fn a_request_a_proxy_intercepts_goes_through_the_proxy() {
        let (proxy, served) = one_answer().await;
        let through = proxy.clone();
        let transport = Transport::new(Matcher::builder().all(proxy).build(), move || {
            reqwest::Client::builder().proxy(reqwest::Proxy::all(&through).unwrap())
        });
        let answer = transport
            .send(get("http://product.invalid/roles"), soon())
            .await
            .expect("answered by the proxy");
        assert_eq!(answer.status, 200);
        assert_eq!(answer.body.read(soon()).await.expect("read"), "ok");
        // The proxy was asked for the product's URL (the product's host does not resolve).
        let head = served.await.unwrap();
        assert!(
            head.starts_with("GET http://product.invalid/roles HTTP/1.1\r\n"),
            "{head}"
        );
    }

    #[tokio::test]
    async fn no_answer_by_the_deadline_is_a_timeout() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/roles", listener.local_addr().unwrap());
        let transport = direct();
        let deadline = Instant::now() + Duration::from_millis(200);
        let sent = transport.send(get(&url), deadline);
        // A deadline not kept would hang here: fail instead.
        let failure = tokio::time::timeout(Duration::from_secs(5), sent)
            .await
            .expect("the deadline ends the call")
            .err()
            .unwrap();
        assert!(failure.is_timeout(), "{failure:?}");
        assert!(!failure.unsent(), "it may have been sent: {failure:?}");
        drop(listener);
    }

    #[tokio::test]
    async fn no_connection_is_a_request_not_sent() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/roles", listener.local_addr().unwrap());
        drop(listener);
        let transport = direct();
        let failure = transport.send(get(&url), soon()).await.err().unwrap();
        assert!(failure.unsent(), "{failure:?}");
        assert!(
            failure.describe().starts_with("could not connect"),
            "{failure:?}"
        );
    }

    #[tokio::test]
    async fn an_answer_larger_than_a_read_buffer_is_read_whole() {
        // A listing page of 1 MiB, 16 times the read buffer's cap.
        let body: Vec<u8> = (0..1024 * 1024).map(|i| (i % 251) as u8).collect();
        let (server, _served) = answering(body.clone()).await;
        let answer = direct()
            .send(get(&format!("{server}/roles")), soon())
            .await
            .expect("answered");
        assert_eq!(answer.body.read(soon()).await.expect("read"), body);
    }

    #[test]
    fn urls_are_read_as_reqwest_read_them() {
        // Characters a URI may not hold are percent-encoded; host names go to punycode.
        assert_eq!(
            uri("https://bücher.example/api/{v}/ä?q=1").unwrap(),
            "https://xn--bcher-kva.example/api/%7Bv%7D/%C3%A4?q=1"
        );
        assert_eq!(
            uri("http://127.0.0.1:8090/statsig/console/v1/roles").unwrap(),
            "http://127.0.0.1:8090/statsig/console/v1/roles"
        );
        let bad = uri("https://[not-an-address]/x").unwrap_err();
        assert!(bad.starts_with("the request URL: "), "{bad}");
    }
}
