//! One HTTP stack for every product: timeouts, one rate budget per credential (the product's
//! windows, reads and writes apart where it separates them, bounded concurrency, pauses from
//! `Retry-After` / `X-Rate-Limit-*`), a circuit per credential that stops calls after repeated
//! 401s or 429s, metrics, and error mapping that keeps status, message and Retry-After as data
//! with secrets scrubbed.

mod budget;
mod circuit;
mod parse;
mod transport;
mod window;

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http::Method;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use serde::de::DeserializeOwned;

use super::{Account, ApiError, CircuitOpen, Error, Result};
use crate::crd::ProviderKind;
use crate::metrics::Metrics;
use budget::Budget;
pub use budget::{Calls, Limits, Priority, RESERVE, Window};
pub use circuit::CircuitConfig;
use circuit::{Circuit, Outcome, Tripped, Unanswered};
pub use parse::{MAX_RETRY_AFTER, error_message, parse_retry_after, path_segment};

/// Where a product's requests carry the credentials (Secret keys by name). Applied to every
/// request of the account, with secret values marked sensitive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Auth {
    /// The Secret key `key` as the value of header `header`.
    Header {
        header: &'static str,
        key: &'static str,
    },
    /// `Authorization: Bearer <key>`.
    Bearer { key: &'static str },
    /// HTTP Basic with the Secret keys `user` and `password`.
    Basic {
        user: &'static str,
        password: &'static str,
    },
    /// The product's client authenticates its requests itself (e.g. after a token exchange).
    Custom,
}

/// The reads a reconcile is taken to need, when it asks whether its credential's windows
/// counting reads have room (a create reads a name or a listing, Looker's also its sets): a
/// window's last places below this go to the next one, so it is kept at what a reconcile needs,
/// not at the calls a credential may have in flight.
pub const RECONCILE_READS: usize = 4;

/// Tunables of the HTTP stack.
#[derive(Clone, Debug)]
pub struct HttpConfig {
    /// Whole-request timeout.
    pub timeout: Duration,
    /// Overrides every product's steady request rate per credential (requests per second).
    pub requests_per_second: Option<NonZeroU32>,
    /// Concurrent requests per credential.
    pub concurrency_per_credential: usize,
    /// A 429 whose Retry-After is at most this long is waited out inside the call; longer ones
    /// are returned to the controller, which requeues at Retry-After. The same for a wait for
    /// the credential's budget: a longer one returns [`Error::BudgetWait`] without a call.
    pub max_inline_wait: Duration,
    /// When a credential's circuit opens, and for how long.
    pub circuit: CircuitConfig,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(30),
            requests_per_second: None,
            concurrency_per_credential: 16,
            max_inline_wait: Duration::from_secs(10),
            circuit: CircuitConfig::default(),
        }
    }
}

struct Inner {
    transport: transport::Transport,
    config: HttpConfig,
    metrics: Metrics,
    budgets: Mutex<HashMap<String, Arc<Budget>>>,
    /// Fingerprints credentials for their circuit (keyed per process, never shown).
    fingerprints: RandomState,
}

/// Shared HTTP client for all products. Cheap to clone.
#[derive(Clone)]
pub struct Http {
    inner: Arc<Inner>,
}

impl Http {
    pub fn new(config: HttpConfig, metrics: Metrics) -> Self {
        Self {
            inner: Arc::new(Inner {
                transport: transport::Transport::from_env(),
                config,
                metrics,
                budgets: Mutex::default(),
                fingerprints: RandomState::new(),
            }),
        }
    }

    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    fn budget(&self, account: &Account) -> Arc<Budget> {
        let mut budgets = self.inner.budgets.lock().expect("budget map poisoned");
        budgets
            .entry(account.key.clone())
            .or_insert_with(|| {
                Arc::new(Budget::new(
                    &account.limits,
                    self.inner.config.requests_per_second,
                    self.inner.config.concurrency_per_credential,
                    Circuit::new(self.inner.config.circuit.clone()),
                ))
            })
            .clone()
    }

    /// How long the budget of the credential `key` (an [`Account::key`]) will not admit a
    /// reconcile's worth of reads ([`RECONCILE_READS`]) and a write
    /// (see [`Budget::reconcile_ready_at`]);
    /// None when it would now. Lets a reconcile wait for its credential's budget without
    /// holding one of its controller's slots (which would hold up resources of other
    /// credentials and products), and start only when it is likely to finish without waiting.
    /// A [`Priority::Background`] reconcile (a poll) also leaves the windows' [`RESERVE`]
    /// free for foreground ones.
    ///
    /// `who` (a hash of the resource) waits in line (see [`Budget::reconcile_ready_at`]): a
    /// wait longer than `in_slot` is the instant of its own place.
    pub fn busy_for(
        &self,
        key: &str,
        priority: Priority,
        who: u64,
        in_slot: Duration,
    ) -> Option<Duration> {
        let budget = self
            .inner
            .budgets
            .lock()
            .expect("budget map poisoned")
            .get(key)
            .cloned()?;
        let ready = budget.reconcile_ready_at(RECONCILE_READS, priority, who, in_slot)?;
        Some(ready.saturating_duration_since(tokio::time::Instant::now().into_std()))
    }

    /// Starts a request to `account.base_url` + `path`, authenticated as `account.auth` says.
    pub fn request<'a>(
        &'a self,
        account: &'a Account,
        operation: &'static str,
        method: Method,
        path: &str,
    ) -> Request<'a> {
        let url = format!("{}{}", account.base_url, path);
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT, HeaderValue::from_static("application/json"));
        headers.insert(
            header::USER_AGENT,
            HeaderValue::from_static(concat!("roleplane/", env!("CARGO_PKG_VERSION"))),
        );
        let write = !matches!(method, Method::GET | Method::HEAD);
        let resend = if !write {
            Resend::Read
        } else if method == Method::POST {
            Resend::Never
        } else {
            // Every PUT, PATCH and DELETE Roleplane sends sets values (never "add to a list").
            Resend::Write
        };
        let credential = self.inner.fingerprints.hash_one(&account.credentials);
        let mut request = Request {
            http: self,
            account,
            operation,
            write,
            mutation: write,
            resend,
            session: false,
            credential,
            method,
            url,
            headers,
            body: bytes::Bytes::new(),
            timeout: self.inner.config.timeout,
            unbuildable: None,
        };
        for (name, value) in account.headers {
            request = request.header(name, value);
        }
        let secret = |key| account.credentials.get(key);
        match account.auth {
            Auth::Header { header, key } => request.secret_header(header, secret(key)),
            Auth::Bearer { key } => {
                request.secret_header("authorization", &format!("Bearer {}", secret(key)))
            }
            Auth::Basic { user, password } => request.basic_auth(secret(user), secret(password)),
            Auth::Custom => request,
        }
    }
}

/// A request being built; `send` runs it through the credential's budget.
pub struct Request<'a> {
    http: &'a Http,
    account: &'a Account,
    operation: &'static str,
    method: Method,
    url: String,
    headers: HeaderMap,
    body: bytes::Bytes,
    /// The whole request's, answer read included.
    timeout: Duration,
    /// Why the request cannot be sent (a body or query that does not serialise), if so.
    unbuildable: Option<String>,
    write: bool,
    /// Whether the product counts it as a mutation (by method, whatever [`Request::reads_only`]
    /// says): the budget's windows count reads and writes by this.
    mutation: bool,
    /// Whether it is sent again after a transient failure, and after which.
    resend: Resend,
    /// Authenticated with a session token (see [`Request::session_token`]): a 401 says the token
    /// expired, not that the credentials were rejected.
    session: bool,
    /// Fingerprint of the credentials, for the circuit.
    credential: u64,
}

/// A successful (2xx) response.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: bytes::Bytes,
    provider: ProviderKind,
    operation: &'static str,
    /// Whether the request may have changed something (see [`Request::reads_only`]).
    write: bool,
}

impl Response {
    /// Decodes the body; an unexpected shape is a provider fault (see [`Response::unexpected`]).
    pub fn json<T: DeserializeOwned>(&self) -> Result<T> {
        serde_json::from_slice(&self.body)
            .map_err(|e| self.unexpected(format!("unexpected response body: {e}")))
    }

    /// A success whose answer cannot be used (`message` says why). After a write the product
    /// said it acted, so the outcome is unknown and the object is read again; after a read it is
    /// a product fault, retried with back-off (see [`Error::class`]).
    pub fn unexpected(&self, message: String) -> Error {
        let api = ApiError {
            provider: self.provider,
            operation: self.operation,
            status: Some(self.status),
            message: parse::truncate(message),
            retry_after: None,
        };
        if self.write {
            Error::UnknownOutcome(api)
        } else {
            Error::Api(api)
        }
    }

    /// Checks that the answer is about the object asked for: an answer about another `what`
    /// (`got`, not `want`) is unusable (see [`Response::unexpected`]), never taken for it.
    pub fn expect_same(&self, what: &str, got: &str, want: &str) -> Result<()> {
        if got == want {
            return Ok(());
        }
        Err(self.unexpected(format!("the answer is about {what} {got:?}, not {want:?}")))
    }

    /// A response header as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

impl Request<'_> {
    /// Marks a request that changes nothing whatever its method (e.g. a login): an answer that
    /// cannot be read is then a product fault, not an unknown outcome.
    pub fn reads_only(mut self) -> Self {
        self.write = false;
        self.resend = Resend::Read;
        self
    }

    /// Marks a create the product refuses to repeat (a duplicate answers 409, which the caller
    /// handles as "already there"): it may then be sent again after a failure that shows the
    /// product did not act (502, 503, 504, no connection), like a `PUT`.
    pub fn refused_if_repeated(mut self) -> Self {
        if matches!(self.resend, Resend::Never) {
            self.resend = Resend::Write;
        }
        self
    }

    /// Marks a request authenticated with a short-lived session token the product's client
    /// obtained itself (Looker's login): its 401 means the token expired, which the client
    /// handles by logging in again, so it does not count towards the credential's circuit (a
    /// rejected login does).
    pub fn session_token(mut self) -> Self {
        self.session = true;
        self
    }

    pub fn header(mut self, name: &'static str, value: &str) -> Self {
        if let Ok(v) = HeaderValue::from_str(value) {
            self.headers.insert(HeaderName::from_static(name), v);
        }
        self
    }

    /// A header carrying a secret: marked sensitive so it never shows in debug output.
    pub fn secret_header(mut self, name: &'static str, value: &str) -> Self {
        if let Ok(mut v) = HeaderValue::from_str(value) {
            v.set_sensitive(true);
            self.headers.insert(HeaderName::from_static(name), v);
        }
        self
    }

    /// Overrides the whole-request timeout for this request (e.g. a write the product may hold
    /// longer than usual while it waits for replication).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    pub fn basic_auth(self, user: &str, password: &str) -> Self {
        use base64::Engine as _;
        let pair = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        self.secret_header("authorization", &format!("Basic {pair}"))
    }

    pub fn json<T: serde::Serialize + ?Sized>(mut self, body: &T) -> Self {
        match serde_json::to_vec(body) {
            Ok(body) => self.set_body(body, "application/json"),
            Err(e) => self.unbuildable = Some(format!("the request body: {e}")),
        }
        self
    }

    pub fn form<T: serde::Serialize + ?Sized>(mut self, body: &T) -> Self {
        match serde_urlencoded::to_string(body) {
            Ok(body) => self.set_body(body.into(), "application/x-www-form-urlencoded"),
            Err(e) => self.unbuildable = Some(format!("the request form: {e}")),
        }
        self
    }

    fn set_body(&mut self, body: Vec<u8>, content_type: &'static str) {
        self.body = body.into();
        self.headers
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    }

    /// Adds `query`'s pairs to the URL's query.
    pub fn query<T: serde::Serialize + ?Sized>(mut self, query: &T) -> Self {
        match serde_urlencoded::to_string(query) {
            Ok(pairs) if pairs.is_empty() => {}
            Ok(pairs) => {
                let joint = if self.url.contains('?') { '&' } else { '?' };
                self.url.push(joint);
                self.url.push_str(&pairs);
            }
            Err(e) => self.unbuildable = Some(format!("the request query: {e}")),
        }
        self
    }

    /// The request as it is sent (again, on each attempt).
    fn build(&self) -> std::result::Result<http::Request<bytes::Bytes>, String> {
        if let Some(why) = &self.unbuildable {
            return Err(why.clone());
        }
        let mut request = http::Request::builder()
            .method(self.method.clone())
            .uri(transport::uri(&self.url)?)
            .body(self.body.clone())
            .map_err(|e| format!("the request: {e}"))?;
        *request.headers_mut() = self.headers.clone();
        Ok(request)
    }

    /// Sends the request. Non-2xx answers become [`Error::Api`]; 429s are waited out inside the
    /// call when short, and always pause the credential's budget for every caller.
    pub async fn send(self) -> Result<Response> {
        let provider = self.account.provider;
        let metrics = self.http.metrics();
        let budget = self.http.budget(self.account);
        let max_inline = self.http.inner.config.max_inline_wait;
        let circuit = &budget.circuit;
        let mut attempt = 0;
        let mut transient_retries = transient_backoff();
        let transport = &self.http.inner.transport;
        loop {
            attempt += 1;
            let waited = Instant::now();
            // Fail fast while the circuit is open, before waiting for the budget.
            circuit
                .check(self.credential, waited)
                .map_err(|t| self.circuit_open(t))?;
            let _permit = loop {
                // A wait longer than a call waits inline is the caller's to schedule: a
                // reconcile must not hold its controller's slot for it.
                if let Some(until) = budget.paused_until() {
                    let wait = until.saturating_duration_since(Instant::now());
                    if wait > max_inline {
                        return Err(self.budget_wait(wait));
                    }
                    tokio::time::sleep_until(until.into()).await;
                }
                let permit = budget
                    .admit(self.mutation, max_inline)
                    .await
                    .map_err(|wait| self.budget_wait(wait))?;
                // A 429 may have come back (and paused the credential) while this call waited
                // for its permit: it waits for that pause too, never sent before Retry-After.
                if budget.paused_until().is_none() {
                    break permit;
                }
            };
            // It may have opened while this call waited.
            let pass = circuit
                .enter(self.credential, Instant::now())
                .map_err(|t| self.circuit_open(t))?;
            let mut probe = Unanswered::new(provider, circuit, self.credential, pass);
            let wait = waited.elapsed();
            if wait > Duration::from_millis(50) {
                metrics.rate_limit_wait(provider.as_str(), wait.as_secs_f64());
            }
            // Not sent (a URL or body that cannot be written): reported like a transport
            // failure, as reqwest reported it, and retried with back-off.
            let request = self.build().map_err(|why| {
                self.error(None, format!("could not build the request: {why}"), None)
            })?;
            let started = Instant::now();
            let deadline = tokio::time::Instant::now() + self.timeout;
            let outcome = transport.send(request, deadline).await;
            let seconds = started.elapsed().as_secs_f64();
            let answer = match outcome {
                Ok(r) => r,
                Err(failure) => {
                    let kind = if failure.is_timeout() {
                        "timeout"
                    } else {
                        "transport"
                    };
                    metrics.provider_request(provider.as_str(), self.operation, kind, seconds);
                    probe.record(Outcome::NoAnswer);
                    if let Some(delay) =
                        self.retry_transient(failure.unsent(), &mut transient_retries)
                    {
                        drop((probe, _permit));
                        tokio::time::sleep(delay).await;
                        continue;
                    }
                    return Err(self.error(None, failure.describe(), None));
                }
            };
            let transport::Answer {
                status,
                headers,
                body,
            } = answer;
            metrics.provider_request(
                provider.as_str(),
                self.operation,
                &status.to_string(),
                seconds,
            );
            let retry_after = parse_retry_after(&headers);
            // A call sent alongside one whose 429 already paused the credential: one burst, one
            // count (the circuit counts pauses that did not help, not their echoes). Asked before
            // this answer's own headers pause it.
            let echo = status == 429 && budget.paused_until().is_some();
            if let Some(wait) = parse::exhausted_window_wait(&headers) {
                budget.pause_until(Instant::now() + wait.min(Duration::from_secs(900)));
            }
            let pause = (status == 429)
                .then(|| retry_after.unwrap_or(Duration::from_secs(1 << attempt.min(5))));
            if let Some(delay) = pause {
                // At once, before the body is read: calls about to start must see it.
                budget.pause_until(Instant::now() + delay);
            }
            let body = match body.read(deadline).await {
                Ok(body) => body,
                // A success cut short is no answer: never read it as an empty or partial one.
                Err(failure) if (200..300).contains(&status) => {
                    return Err(self.error(None, failure.describe(), None));
                }
                // An error status stands on its own; its text is only a help.
                Err(_) => bytes::Bytes::new(),
            };
            match status {
                401 if self.session => probe.record(Outcome::Answered),
                429 if echo => probe.record(Outcome::RateLimitEcho { retry_after }),
                401 | 429 => probe.record_said(
                    match status {
                        401 => Outcome::Unauthorized,
                        _ => Outcome::RateLimited { retry_after },
                    },
                    self.account.credentials.redact(&error_message(&body)),
                ),
                _ => probe.record(Outcome::Answered),
            }
            if (200..300).contains(&status) {
                return Ok(Response {
                    status,
                    headers,
                    body,
                    provider,
                    operation: self.operation,
                    write: self.write,
                });
            }
            if let Some(delay) = pause {
                if delay <= max_inline && attempt < 4 {
                    continue;
                }
                return Err(self.error(Some(status), error_message(&body), Some(delay)));
            }
            if matches!(status, 408 | 500 | 502 | 503 | 504)
                && retry_after.is_none()
                && let Some(delay) =
                    self.retry_transient(matches!(status, 502..=504), &mut transient_retries)
            {
                drop((probe, _permit));
                tokio::time::sleep(delay).await;
                continue;
            }
            return Err(self.error(Some(status), error_message(&body), retry_after));
        }
    }

    /// The wait before sending this request again after a transient failure, or `None` when
    /// it is not sent again: `unapplied` says the failure shows the product did not act (a 502,
    /// 503 or 504 from in front of it, or no connection); a read is sent again after any 5xx,
    /// 408 or lost answer. A write that may have been applied (a 500, a 408 such as SlashID's,
    /// a timeout) is re-observed by the controller instead, and a create never resent (the
    /// create protocol finds out). Also `None` once the retries are spent. One failed call
    /// would otherwise fail the whole reconcile and put the resource into back-off, so a
    /// product failing a third of its calls at random would take minutes to converge.
    fn retry_transient(
        &self,
        unapplied: bool,
        retries: &mut impl Iterator<Item = Duration>,
    ) -> Option<Duration> {
        let resend = match self.resend {
            Resend::Read => true,
            Resend::Write => unapplied,
            Resend::Never => false,
        };
        if !resend {
            return None;
        }
        let delay = retries.next()?;
        tracing::debug!(
            provider = self.account.provider.as_str(),
            operation = self.operation,
            delay_ms = delay.as_millis() as u64,
            "transient product failure, sending the request again"
        );
        Some(delay)
    }

    /// The error of a call not sent because the budget has no room for `wait`.
    fn budget_wait(&self, wait: Duration) -> Error {
        Error::BudgetWait(super::BudgetWait {
            provider: self.account.provider,
            operation: self.operation,
            wait,
        })
    }

    /// The error of a call the open circuit refused.
    fn circuit_open(&self, tripped: Tripped) -> Error {
        Error::CircuitOpen(CircuitOpen {
            provider: self.account.provider,
            operation: self.operation,
            cause: tripped.cause,
            failures: tripped.failures,
            retry_at: std::time::SystemTime::now() + tripped.retry_in,
            said: tripped.said,
        })
    }

    fn error(&self, status: Option<u16>, message: String, retry_after: Option<Duration>) -> Error {
        Error::Api(ApiError {
            provider: self.account.provider,
            operation: self.operation,
            status,
            message: self.account.credentials.redact(&message),
            retry_after,
        })
    }
}

/// Which transient failures a request is sent again after (see [`Request::retry_transient`]).
#[derive(Clone, Copy, Debug)]
enum Resend {
    /// Changes nothing: after any 5xx, 408 or lost answer.
    Read,
    /// Sets values (PUT, PATCH, DELETE): only when the product certainly did not act.
    Write,
    /// A create: never.
    Never,
}

/// Retries of a request after transient failures: two more attempts, 0.2 s then
/// 0.4 s, with jitter (each attempt is admitted by the budget again).
fn transient_backoff() -> impl Iterator<Item = Duration> {
    use backon::BackoffBuilder;
    backon::ExponentialBuilder::default()
        .with_min_delay(Duration::from_millis(200))
        .with_max_delay(Duration::from_secs(2))
        .with_max_times(2)
        .with_jitter()
        .build()
}

#[cfg(test)]
mod tests;
