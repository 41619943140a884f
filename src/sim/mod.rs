//! The simulator kit: what every product simulator shares. It records requests, injects faults
//! (latency, forced statuses, a request budget answering 429 + Retry-After) and serves the admin
//! routes. Each product's simulator lives in its own folder (`providers/<name>/sim`), modelled on
//! the product's contract; the registry assembles them (`providers::Simulator`), which
//! `roleplane sim` serves under one path prefix per product and the tests run in-process.
//!
//! Admin endpoints (never rate limited or recorded), per product prefix `P`:
//! `GET P/_admin/state` (and product-specific edits), `GET P/_admin/requests`,
//! `DELETE P/_admin/requests`, `PUT P/_admin/faults` with a [`Faults`] body.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::{Deserialize, Serialize};

/// Faults injected into one product's API.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Faults {
    /// At most this many API requests per window; more get 429 with Retry-After.
    pub rate_limit: Option<RateLimit>,
    /// Statuses answered to the next requests, in order, instead of serving them.
    pub fail_next: VecDeque<u16>,
    /// Added to every API request.
    pub latency_ms: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RateLimit {
    pub requests: u32,
    pub window_seconds: u64,
    /// Retry-After sent with each 429 (defaults to what is left of the window).
    #[serde(default)]
    pub retry_after_seconds: Option<u64>,
}

/// One API request as the simulator saw it.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RecordedRequest {
    pub method: String,
    /// Path below the product prefix, percent-encoded as sent.
    pub path: String,
    pub query: Option<String>,
    pub body: Option<serde_json::Value>,
    pub status: u16,
    /// When the request arrived, in milliseconds since the simulator started (the log itself is
    /// in completion order).
    pub at_ms: u64,
}

/// Faults, budget window and request log of one product.
pub struct Traffic {
    started: Instant,
    faults: Mutex<Faults>,
    window: Mutex<(Instant, u32)>,
    log: Mutex<Vec<RecordedRequest>>,
}

impl Default for Traffic {
    fn default() -> Self {
        Self::new()
    }
}

impl Traffic {
    pub fn new() -> Self {
        Self {
            started: Instant::now(),
            faults: Mutex::default(),
            window: Mutex::new((Instant::now(), 0)),
            log: Mutex::default(),
        }
    }

    pub fn set_faults(&self, faults: Faults) {
        *self.faults.lock().expect("sim lock") = faults;
        *self.window.lock().expect("sim lock") = (Instant::now(), 0);
    }

    pub fn faults(&self) -> Faults {
        self.faults.lock().expect("sim lock").clone()
    }

    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.log.lock().expect("sim lock").clone()
    }

    pub fn clear_requests(&self) {
        self.log.lock().expect("sim lock").clear();
    }

    /// Requests left in the current rate-limit window and the time until it resets, when a
    /// rate limit is set (for products that advertise their budget in headers).
    pub fn budget_left(&self) -> Option<(u32, Duration)> {
        let limit = self.faults.lock().expect("sim lock").rate_limit.clone()?;
        let window = self.window.lock().expect("sim lock");
        let length = Duration::from_secs(limit.window_seconds.max(1));
        let left = length.saturating_sub(window.0.elapsed());
        if left.is_zero() {
            return Some((limit.requests, length));
        }
        Some((limit.requests.saturating_sub(window.1), left))
    }

    /// The fault to answer instead of serving, if any.
    fn intercept(&self) -> Option<(u16, Option<u64>)> {
        let mut faults = self.faults.lock().expect("sim lock");
        if let Some(status) = faults.fail_next.pop_front() {
            return Some((status, None));
        }
        let limit = faults.rate_limit.clone()?;
        let mut window = self.window.lock().expect("sim lock");
        let length = Duration::from_secs(limit.window_seconds.max(1));
        if window.0.elapsed() >= length {
            *window = (Instant::now(), 0);
        }
        if window.1 >= limit.requests {
            let left = length.saturating_sub(window.0.elapsed()).as_secs().max(1);
            return Some((429, Some(limit.retry_after_seconds.unwrap_or(left))));
        }
        window.1 += 1;
        None
    }
}

/// One simulated product, as the registry assembles them (`providers::Simulator`).
pub trait Simulated: Send + Sync + 'static {
    /// What it accepts (credentials, token lifetimes), as `roleplane sim` flags.
    type Args;
    fn new(args: Self::Args) -> Self;
    /// Its APIs by path prefix (e.g. `/statsig`; several where the product has regions), each
    /// already wrapped by [`product_router`].
    fn mounts(self: &Arc<Self>) -> Vec<(&'static str, Router)>;
    /// Request log and faults of its default API.
    fn main_traffic(&self) -> &Traffic;
}

/// Implemented by each product simulator for the shared admin routes.
pub trait ProductSim: Send + Sync + 'static {
    fn traffic(&self) -> &Traffic;
    /// JSON snapshot of the product's state for `GET _admin/state`.
    fn state(&self) -> serde_json::Value;
}

/// A product's routes: its API (faults and recording apply) and its own admin edits (they do not).
pub struct Routes {
    pub api: Router,
    pub admin: Router,
}

/// Wraps a product's API with fault injection and recording, and adds the shared admin routes.
pub fn product_router<S: ProductSim>(routes: Routes, sim: Arc<S>) -> Router {
    let Routes {
        api,
        admin: own_admin,
    } = routes;
    let admin = Router::new()
        .route(
            "/_admin/state",
            get(|State(s): State<Arc<S>>| async move { axum::Json(s.state()) }),
        )
        .route(
            "/_admin/requests",
            get(|State(s): State<Arc<S>>| async move { axum::Json(s.traffic().requests()) })
                .delete(|State(s): State<Arc<S>>| async move {
                    s.traffic().clear_requests();
                    StatusCode::NO_CONTENT
                }),
        )
        .route(
            "/_admin/faults",
            get(|State(s): State<Arc<S>>| async move { axum::Json(s.traffic().faults()) }).put(
                |State(s): State<Arc<S>>, axum::Json(f): axum::Json<Faults>| async move {
                    s.traffic().set_faults(f);
                    StatusCode::NO_CONTENT
                },
            ),
        )
        .with_state(sim.clone());
    let api = api.layer(middleware::from_fn_with_state(sim, record_and_inject::<S>));
    admin.merge(own_admin).merge(api)
}

async fn record_and_inject<S: ProductSim>(
    State(sim): State<Arc<S>>,
    request: Request,
    next: Next,
) -> Response {
    let traffic = sim.traffic();
    let arrived_ms = traffic.started.elapsed().as_millis() as u64;
    let method = request.method().to_string();
    let path = request.uri().path().to_string();
    let query = request.uri().query().map(str::to_string);
    let (parts, body) = request.into_parts();
    let bytes = axum::body::to_bytes(body, 4 << 20)
        .await
        .unwrap_or_default();
    let body_json = serde_json::from_slice(&bytes).ok();
    let latency = traffic.faults().latency_ms;
    if latency > 0 {
        tokio::time::sleep(Duration::from_millis(latency)).await;
    }
    let response = match traffic.intercept() {
        Some((429, retry)) => {
            let mut r = (
                StatusCode::TOO_MANY_REQUESTS,
                axum::Json(serde_json::json!({"status": 429, "message": "Too many requests. Please try again later."})),
            )
                .into_response();
            if let Some(secs) = retry {
                r.headers_mut().insert("retry-after", secs.into());
            }
            r
        }
        Some((status, _)) => {
            let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            (
                code,
                axum::Json(serde_json::json!({"status": status, "message": "injected fault"})),
            )
                .into_response()
        }
        None => {
            next.run(Request::from_parts(parts, Body::from(bytes)))
                .await
        }
    };
    traffic.log.lock().expect("sim lock").push(RecordedRequest {
        method,
        path,
        query,
        body: body_json,
        status: response.status().as_u16(),
        at_ms: arrived_ms,
    });
    response
}

/// The answer to a path no simulator serves: 404 naming the request.
pub async fn unexpected(request: Request) -> Response {
    let text = format!(
        "roleplane sim: no simulated endpoint for {} {}",
        request.method(),
        request.uri()
    );
    tracing::warn!("{text}");
    (StatusCode::NOT_FOUND, text).into_response()
}
