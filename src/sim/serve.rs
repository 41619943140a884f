//! How the kit serves a product: the traits a simulator implements, its router (the API wrapped
//! by fault injection and recording, plus the shared admin routes), and the answer to paths no
//! simulator serves.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};

use super::published::PublishedLimits;
use super::traffic::{Faults, RecordedRequest, Traffic};

/// One simulated product, as the registry assembles them (`providers::Simulator`). A product with
/// one API gets this from [`SingleApi`]; BigPanda, with one API per region, implements it itself.
pub trait Simulated: Send + Sync + 'static {
    /// What it accepts (credentials, token lifetimes), as `roleplane sim` flags.
    type Args;
    fn new(args: Self::Args) -> Self;
    /// Its APIs by path prefix (e.g. `/statsig`; several where the product has regions), each
    /// already wrapped by [`product_router`].
    fn mounts(self: &Arc<Self>) -> Vec<(&'static str, Router)>;
    /// Request log and faults of its default API.
    fn main_traffic(&self) -> &Traffic;
    /// Request logs and faults of all its APIs (more than one where it has regions).
    fn all_traffic(&self) -> Vec<&Traffic> {
        vec![self.main_traffic()]
    }
}

/// One simulated API, as [`product_router`] serves it.
pub trait ProductSim: Send + Sync + 'static {
    /// The rate limits its contract publishes, enforced when switched on.
    const PUBLISHED_LIMITS: PublishedLimits;
    fn traffic(&self) -> &Traffic;
    /// JSON snapshot of the product's state for `GET _admin/state`.
    fn state(&self) -> Value;
    /// Its API and its own admin edits.
    fn routes(self: &Arc<Self>) -> Routes;
}

/// A product served as one [`ProductSim`] under one prefix: it states its flags, prefix and
/// constructor, and the kit makes it [`Simulated`].
pub trait SingleApi: ProductSim + Sized {
    /// Its `roleplane sim` flags.
    type Args;
    /// Where it is served, e.g. `/statsig`.
    const PREFIX: &'static str;
    fn from_args(args: Self::Args) -> Self;
    /// Layers around its whole router, admin routes included (none unless the product adds some).
    fn layer(self: &Arc<Self>, router: Router) -> Router {
        router
    }
}

impl<T: SingleApi> Simulated for T {
    type Args = T::Args;

    fn new(args: T::Args) -> Self {
        T::from_args(args)
    }

    fn mounts(self: &Arc<Self>) -> Vec<(&'static str, Router)> {
        vec![(T::PREFIX, self.layer(product_router(self)))]
    }

    fn main_traffic(&self) -> &Traffic {
        self.traffic()
    }
}

/// A product's routes: its API (faults and recording apply) and its own admin edits (they do not).
pub struct Routes {
    pub api: Router,
    pub admin: Router,
}

/// The product's API wrapped with fault injection and recording, and the shared admin routes.
pub fn product_router<S: ProductSim>(sim: &Arc<S>) -> Router {
    let Routes {
        api,
        admin: own_admin,
    } = sim.routes();
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
    let api = api.layer(middleware::from_fn_with_state(
        sim.clone(),
        record_and_inject::<S>,
    ));
    admin.merge(own_admin).merge(api)
}

async fn record_and_inject<S: ProductSim>(
    State(sim): State<Arc<S>>,
    request: Request,
    next: Next,
) -> Response {
    let traffic = sim.traffic();
    let arrived_ms = traffic.now_ms();
    let method = request.method().to_string();
    let path = request.uri().path().to_string();
    let query = request.uri().query().map(str::to_string);
    let (parts, body) = request.into_parts();
    let bytes = axum::body::to_bytes(body, 4 << 20)
        .await
        .unwrap_or_default();
    let body_json = serde_json::from_slice(&bytes).ok();
    let delay = traffic.faults().delay();
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let response = match traffic.intercept(&S::PUBLISHED_LIMITS, &parts.headers, &method) {
        Some((429, retry)) => {
            let mut r = (
                StatusCode::TOO_MANY_REQUESTS,
                axum::Json(
                    json!({"status": 429, "message": "Too many requests. Please try again later."}),
                ),
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
                axum::Json(json!({"status": status, "message": "injected fault"})),
            )
                .into_response()
        }
        None => {
            next.run(Request::from_parts(parts, Body::from(bytes)))
                .await
        }
    };
    let retry_after_s = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    traffic.record(RecordedRequest {
        method,
        path,
        query,
        body: body_json,
        status: response.status().as_u16(),
        at_ms: arrived_ms,
        done_ms: traffic.now_ms(),
        retry_after_s,
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
