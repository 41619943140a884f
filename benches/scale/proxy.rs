//! A counting proxy between the operator and the Kubernetes API: it forwards every request
//! through a `kube::Client` (the API double's, or one built from `KUBECONFIG`, which adds the
//! credentials) and records method and path, so that Kubernetes writes are counted the same way
//! against the double and against a real cluster.

use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::Request;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt;

/// One request the operator sent to the Kubernetes API.
#[derive(Clone, Debug)]
pub struct Seen {
    pub method: String,
    /// Path without the query.
    pub path: String,
    /// The query's parameter names and the values of those that shape a read (`watch`,
    /// `limit`, ...), without resource versions, continue tokens or selectors' values.
    pub query: String,
    /// When it arrived.
    pub at: std::time::Instant,
    /// How long until the API's answer (its headers, for a watch) came back.
    pub took: std::time::Duration,
}

impl Seen {
    pub fn is_write(&self) -> bool {
        !matches!(self.method.as_str(), "GET" | "HEAD" | "OPTIONS")
    }

    /// What a write touched: `status`, `event`, `secret`, `lease` or `object` (the managed
    /// object itself: finalizer, intent annotation, spec).
    pub fn target(&self) -> &'static str {
        if self.path.ends_with("/status") {
            "status"
        } else if self.path.contains("/events") {
            "event"
        } else if self.path.contains("/secrets") {
            "secret"
        } else if self.path.contains("/leases") {
            "lease"
        } else {
            "object"
        }
    }
}

#[derive(Clone, Default)]
pub struct Log(Arc<Mutex<Vec<Seen>>>);

impl Log {
    /// Every request recorded since the last `take`, and a fresh log.
    pub fn take(&self) -> Vec<Seen> {
        std::mem::take(&mut *self.0.lock().expect("log lock"))
    }
}

/// Serves the proxy on `127.0.0.1`, forwarding to `upstream`; returns its URL and request log.
pub async fn start(upstream: kube::Client) -> std::io::Result<(String, Log)> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    let log = Log::default();
    let recorder = log.clone();
    let app = axum::Router::new().fallback(move |request: Request| {
        let upstream = upstream.clone();
        let log = recorder.clone();
        async move { forward(upstream, log, request).await }
    });
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok((url, log))
}

async fn forward(upstream: kube::Client, log: Log, request: Request) -> Response {
    let mut seen = Seen {
        method: request.method().to_string(),
        path: request.uri().path().to_string(),
        query: request.uri().query().map(shape).unwrap_or_default(),
        at: std::time::Instant::now(),
        took: std::time::Duration::ZERO,
    };
    let response = relay(upstream, request).await;
    seen.took = seen.at.elapsed();
    log.0.lock().expect("log lock").push(seen);
    response
}

async fn relay(upstream: kube::Client, request: Request) -> Response {
    let (mut parts, body) = request.into_parts();
    let bytes = match body.collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) => return (StatusCode::BAD_REQUEST, e.to_string()).into_response(),
    };
    // The upstream client adds its own host and credentials.
    parts.headers.remove(http::header::HOST);
    parts.headers.remove(http::header::AUTHORIZATION);
    let path = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "/".into());
    parts.uri = match path.parse() {
        Ok(uri) => uri,
        Err(_) => return (StatusCode::BAD_REQUEST, "bad path").into_response(),
    };
    let request = http::Request::from_parts(parts, kube::client::Body::from(bytes));
    match upstream.send(request).await {
        Ok(response) => response.map(Body::new),
        Err(e) => (StatusCode::BAD_GATEWAY, e.to_string()).into_response(),
    }
}

/// A query's shape: `limit=100&continue=*`.
fn shape(query: &str) -> String {
    query
        .split('&')
        .map(|kv| match kv.split_once('=') {
            Some((k, v)) if matches!(k, "watch" | "limit" | "allowWatchBookmarks") => {
                format!("{k}={v}")
            }
            Some((k, _)) => format!("{k}=*"),
            None => kv.to_string(),
        })
        .collect::<Vec<_>>()
        .join("&")
}
