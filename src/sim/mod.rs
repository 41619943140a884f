//! Stateful simulators of the product APIs, served by `roleplane sim` under one path prefix per
//! product and used in-process by the tests. The framework here records requests and injects
//! faults (latency, forced statuses, a request budget answering 429 + Retry-After); each product
//! module implements the API itself and its admin view.
//!
//! Admin endpoints (never rate limited or recorded), per product prefix `P`:
//! `GET P/_admin/state` (and product-specific edits), `GET P/_admin/requests`,
//! `DELETE P/_admin/requests`, `PUT P/_admin/faults` with a [`Faults`] body.

pub mod bigpanda;
pub mod configcat;
pub mod looker;
pub mod slashid;
pub mod statsig;

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

use crate::crd::ProviderKind;

/// Credentials each simulated product accepts.
#[derive(Clone, Debug, clap::Args)]
pub struct SimCredentials {
    /// Statsig console API keys accepted by /statsig (comma-separated; each key is its own project).
    #[arg(
        long = "statsig-api-keys",
        env = "ROLEPLANE_SIM_STATSIG_API_KEYS",
        value_delimiter = ',',
        default_value = "console-sim-key"
    )]
    pub statsig_api_keys: Vec<String>,
    /// ConfigCat Public API username accepted by /configcat (HTTP Basic).
    #[arg(
        long = "configcat-username",
        env = "ROLEPLANE_SIM_CONFIGCAT_USERNAME",
        default_value = "sim-user"
    )]
    pub configcat_username: String,
    /// ConfigCat Public API password accepted by /configcat (HTTP Basic).
    #[arg(
        long = "configcat-password",
        env = "ROLEPLANE_SIM_CONFIGCAT_PASSWORD",
        default_value = "sim-password",
        hide_env_values = true
    )]
    pub configcat_password: String,
    /// Looker API client id accepted by /looker/api/4.0/login.
    #[arg(
        long = "looker-client-id",
        env = "ROLEPLANE_SIM_LOOKER_CLIENT_ID",
        default_value = "sim-client-id"
    )]
    pub looker_client_id: String,
    /// Looker API client secret accepted by /looker/api/4.0/login.
    #[arg(
        long = "looker-client-secret",
        env = "ROLEPLANE_SIM_LOOKER_CLIENT_SECRET",
        default_value = "sim-client-secret"
    )]
    pub looker_client_secret: String,
    /// Lifetime of Looker access tokens in seconds (`expires_in`; 401 afterwards).
    #[arg(
        long = "looker-token-ttl-seconds",
        env = "ROLEPLANE_SIM_LOOKER_TOKEN_TTL_SECONDS",
        default_value_t = 3600
    )]
    pub looker_token_ttl_seconds: u64,
    /// SlashID API key accepted by /slashid (it belongs to the organisation below).
    #[arg(
        long = "slashid-api-key",
        env = "ROLEPLANE_SIM_SLASHID_API_KEY",
        default_value = "sim-slashid-key"
    )]
    pub slashid_api_key: String,
    /// SlashID organisation id the key belongs to (`SlashID-OrgID`, and the role name prefix).
    #[arg(
        long = "slashid-org-id",
        env = "ROLEPLANE_SIM_SLASHID_ORG_ID",
        default_value = "sim-org"
    )]
    pub slashid_org_id: String,
    /// BigPanda user API key accepted by /bigpanda (the US region).
    #[arg(
        long = "bigpanda-api-key",
        env = "ROLEPLANE_SIM_BIGPANDA_API_KEY",
        default_value = "sim-bigpanda-key"
    )]
    pub bigpanda_api_key: String,
    /// BigPanda user API key accepted by /bigpanda-eu (the EU region; US keys get 401 there).
    #[arg(
        long = "bigpanda-eu-api-key",
        env = "ROLEPLANE_SIM_BIGPANDA_EU_API_KEY",
        default_value = "sim-bigpanda-eu-key"
    )]
    pub bigpanda_eu_api_key: String,
}

impl Default for SimCredentials {
    fn default() -> Self {
        Self {
            statsig_api_keys: vec!["console-sim-key".into()],
            configcat_username: "sim-user".into(),
            configcat_password: "sim-password".into(),
            looker_client_id: "sim-client-id".into(),
            looker_client_secret: "sim-client-secret".into(),
            looker_token_ttl_seconds: 3600,
            slashid_api_key: "sim-slashid-key".into(),
            slashid_org_id: "sim-org".into(),
            bigpanda_api_key: "sim-bigpanda-key".into(),
            bigpanda_eu_api_key: "sim-bigpanda-eu-key".into(),
        }
    }
}

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

impl Traffic {
    fn new() -> Self {
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

/// Every simulated product, with shared state the tests can inspect.
#[derive(Clone)]
pub struct Simulator {
    pub statsig: Arc<statsig::StatsigSim>,
    pub configcat: Arc<configcat::ConfigCatSim>,
    pub looker: Arc<looker::LookerSim>,
    pub slashid: Arc<slashid::SlashIdSim>,
    /// BigPanda US (`/bigpanda`) and EU (`/bigpanda-eu`): separate state and keys.
    pub bigpanda: Arc<bigpanda::BigPandaSim>,
    pub bigpanda_eu: Arc<bigpanda::BigPandaSim>,
}

impl Simulator {
    pub fn new(credentials: SimCredentials) -> Self {
        Self {
            statsig: Arc::new(statsig::StatsigSim::new(credentials.statsig_api_keys)),
            configcat: Arc::new(configcat::ConfigCatSim::new(
                credentials.configcat_username,
                credentials.configcat_password,
            )),
            looker: Arc::new(looker::LookerSim::new(
                &credentials.looker_client_id,
                &credentials.looker_client_secret,
                Duration::from_secs(credentials.looker_token_ttl_seconds),
            )),
            slashid: Arc::new(slashid::SlashIdSim::new(
                credentials.slashid_api_key,
                credentials.slashid_org_id,
            )),
            bigpanda: Arc::new(bigpanda::BigPandaSim::new(
                "us",
                credentials.bigpanda_api_key,
            )),
            bigpanda_eu: Arc::new(bigpanda::BigPandaSim::new(
                "eu",
                credentials.bigpanda_eu_api_key,
            )),
        }
    }

    /// Request log and faults of one product.
    pub fn traffic(&self, product: ProviderKind) -> &Traffic {
        match product {
            ProviderKind::Statsig => &self.statsig.traffic,
            ProviderKind::ConfigCat => &self.configcat.traffic,
            ProviderKind::Looker => &self.looker.traffic,
            ProviderKind::SlashId => &self.slashid.traffic,
            // The US region; the EU one is `self.bigpanda_eu.traffic`.
            ProviderKind::BigPanda => &self.bigpanda.traffic,
        }
    }

    /// The HTTP API of every product under its prefix.
    pub fn router(&self) -> Router {
        Router::new()
            .nest(
                "/statsig",
                product_router(statsig::routes(self.statsig.clone()), self.statsig.clone()),
            )
            .nest("/configcat", configcat::router(self.configcat.clone()))
            .nest(
                "/looker",
                product_router(looker::routes(self.looker.clone()), self.looker.clone()),
            )
            .nest(
                "/slashid",
                product_router(slashid::routes(self.slashid.clone()), self.slashid.clone()),
            )
            .nest(
                "/bigpanda",
                product_router(
                    bigpanda::routes(self.bigpanda.clone()),
                    self.bigpanda.clone(),
                ),
            )
            .nest(
                "/bigpanda-eu",
                product_router(
                    bigpanda::routes(self.bigpanda_eu.clone()),
                    self.bigpanda_eu.clone(),
                ),
            )
            .fallback(unexpected)
    }

    /// Starts a simulator on `127.0.0.1` with an ephemeral port, serving until the runtime ends;
    /// returns it with its base address (`http://127.0.0.1:PORT`).
    pub async fn start(credentials: SimCredentials) -> std::io::Result<(Self, String)> {
        let sim = Self::new(credentials);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let base = format!("http://{}", listener.local_addr()?);
        let serving = sim.clone();
        tokio::spawn(async move { serving.serve(listener, std::future::pending()).await });
        Ok((sim, base))
    }

    /// Serves on `listener` until `shutdown` resolves.
    pub async fn serve(
        &self,
        listener: tokio::net::TcpListener,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        axum::serve(listener, self.router())
            .with_graceful_shutdown(shutdown)
            .await
    }
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

async fn unexpected(request: Request) -> Response {
    let text = format!(
        "roleplane sim: no simulated endpoint for {} {}",
        request.method(),
        request.uri()
    );
    tracing::warn!("{text}");
    (StatusCode::NOT_FOUND, text).into_response()
}
