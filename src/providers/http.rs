//! One HTTP stack for every product: timeouts, one rate budget per credential (steady quota,
//! bounded concurrency, pauses from `Retry-After` / `X-Rate-Limit-*`), metrics, and error mapping
//! that keeps status, message and Retry-After as data with secrets scrubbed.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, RETRY_AFTER};
use reqwest::{Method, RequestBuilder};
use serde::de::DeserializeOwned;
use tokio::sync::Semaphore;

use super::{Account, ApiError, Error, Result};
use crate::crd::ProviderKind;
use crate::metrics::Metrics;

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
    /// are returned to the controller, which requeues at Retry-After.
    pub max_inline_wait: Duration,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(30),
            requests_per_second: None,
            concurrency_per_credential: 4,
            max_inline_wait: Duration::from_secs(10),
        }
    }
}

/// Steady quota per credential, below each product's published limits.
fn default_quota(provider: ProviderKind) -> Quota {
    let per = |ms: u64, burst: u32| {
        Quota::with_period(Duration::from_millis(ms))
            .expect("non-zero period")
            .allow_burst(NonZeroU32::new(burst).expect("non-zero burst"))
    };
    match provider {
        // Statsig: 100 per 10 s and 900 per 15 min per project; stay under both.
        ProviderKind::Statsig => per(1100, 10),
        ProviderKind::BigPanda => per(500, 5),
        ProviderKind::ConfigCat | ProviderKind::SlashId | ProviderKind::Looker => per(200, 10),
    }
}

struct Budget {
    limiter: DefaultDirectRateLimiter,
    paused_until: Mutex<Option<Instant>>,
    permits: Semaphore,
}

impl Budget {
    fn pause_until(&self, until: Instant) {
        let mut p = self.paused_until.lock().expect("budget lock poisoned");
        if p.is_none_or(|cur| cur < until) {
            *p = Some(until);
        }
    }

    fn paused_until(&self) -> Option<Instant> {
        let p = self.paused_until.lock().expect("budget lock poisoned");
        p.filter(|t| *t > Instant::now())
    }
}

struct Inner {
    client: reqwest::Client,
    config: HttpConfig,
    metrics: Metrics,
    budgets: Mutex<HashMap<String, Arc<Budget>>>,
}

/// Shared HTTP client for all products. Cheap to clone.
#[derive(Clone)]
pub struct Http {
    inner: Arc<Inner>,
}

impl Http {
    pub fn new(config: HttpConfig, metrics: Metrics) -> Self {
        crate::install_crypto_provider();
        let client = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(Duration::from_secs(10))
            .user_agent(concat!("roleplane/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("the TLS backend initialises");
        Self {
            inner: Arc::new(Inner {
                client,
                config,
                metrics,
                budgets: Mutex::default(),
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
                let quota = match self.inner.config.requests_per_second {
                    Some(rps) => Quota::per_second(rps).allow_burst(rps),
                    None => default_quota(account.provider),
                };
                Arc::new(Budget {
                    limiter: RateLimiter::direct(quota),
                    paused_until: Mutex::new(None),
                    permits: Semaphore::new(self.inner.config.concurrency_per_credential.max(1)),
                })
            })
            .clone()
    }

    /// Starts a request to `account.base_url` + `path`.
    pub fn request<'a>(
        &'a self,
        account: &'a Account,
        operation: &'static str,
        method: Method,
        path: &str,
    ) -> Request<'a> {
        let url = format!("{}{}", account.base_url, path);
        Request {
            http: self,
            account,
            operation,
            builder: self
                .inner
                .client
                .request(method, url)
                .header(reqwest::header::ACCEPT, "application/json"),
        }
    }
}

/// A request being built; `send` runs it through the credential's budget.
pub struct Request<'a> {
    http: &'a Http,
    account: &'a Account,
    operation: &'static str,
    builder: RequestBuilder,
}

/// A successful (2xx) response.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: bytes::Bytes,
    provider: ProviderKind,
    operation: &'static str,
}

impl Response {
    /// Decodes the body; an unexpected shape is a provider fault.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T> {
        serde_json::from_slice(&self.body).map_err(|e| {
            Error::Api(ApiError {
                provider: self.provider,
                operation: self.operation,
                status: Some(self.status),
                message: format!("unexpected response body: {e}"),
                retry_after: None,
            })
        })
    }

    /// A response header as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

impl Request<'_> {
    pub fn header(mut self, name: &'static str, value: &str) -> Self {
        if let Ok(v) = HeaderValue::from_str(value) {
            self.builder = self.builder.header(HeaderName::from_static(name), v);
        }
        self
    }

    /// A header carrying a secret: marked sensitive so it never shows in debug output.
    pub fn secret_header(mut self, name: &'static str, value: &str) -> Self {
        if let Ok(mut v) = HeaderValue::from_str(value) {
            v.set_sensitive(true);
            self.builder = self.builder.header(HeaderName::from_static(name), v);
        }
        self
    }

    /// Overrides the whole-request timeout for this request (e.g. a write the product may hold
    /// longer than usual while it waits for replication).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.builder = self.builder.timeout(timeout);
        self
    }

    pub fn basic_auth(mut self, user: &str, password: &str) -> Self {
        self.builder = self.builder.basic_auth(user, Some(password));
        self
    }

    pub fn json<T: serde::Serialize + ?Sized>(mut self, body: &T) -> Self {
        self.builder = self.builder.json(body);
        self
    }

    pub fn form<T: serde::Serialize + ?Sized>(mut self, body: &T) -> Self {
        self.builder = self.builder.form(body);
        self
    }

    pub fn query<T: serde::Serialize + ?Sized>(mut self, query: &T) -> Self {
        self.builder = self.builder.query(query);
        self
    }

    /// Sends the request. Non-2xx answers become [`Error::Api`]; 429s are waited out inside the
    /// call when short, and always pause the credential's budget for every caller.
    pub async fn send(self) -> Result<Response> {
        let provider = self.account.provider;
        let metrics = self.http.metrics();
        let budget = self.http.budget(self.account);
        let max_inline = self.http.inner.config.max_inline_wait;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let waited = Instant::now();
            if let Some(until) = budget.paused_until() {
                tokio::time::sleep_until(until.into()).await;
            }
            let _permit = budget
                .permits
                .acquire()
                .await
                .expect("budget semaphore never closes");
            budget.limiter.until_ready().await;
            let wait = waited.elapsed();
            if wait > Duration::from_millis(50) {
                metrics.rate_limit_wait(provider.as_str(), wait.as_secs_f64());
            }
            let request = self
                .builder
                .try_clone()
                .expect("request bodies are buffered");
            let started = Instant::now();
            let outcome = request.send().await;
            let seconds = started.elapsed().as_secs_f64();
            let response = match outcome {
                Ok(r) => r,
                Err(e) => {
                    let kind = if e.is_timeout() {
                        "timeout"
                    } else {
                        "transport"
                    };
                    metrics.provider_request(provider.as_str(), self.operation, kind, seconds);
                    return Err(self.error(None, describe_transport(&e), None));
                }
            };
            let status = response.status().as_u16();
            metrics.provider_request(
                provider.as_str(),
                self.operation,
                &status.to_string(),
                seconds,
            );
            let headers = response.headers().clone();
            pause_on_exhausted_window(&budget, &headers);
            let body = response.bytes().await.unwrap_or_default();
            if (200..300).contains(&status) {
                return Ok(Response {
                    status,
                    headers,
                    body,
                    provider,
                    operation: self.operation,
                });
            }
            let retry_after = parse_retry_after(&headers);
            if status == 429 {
                let delay = retry_after.unwrap_or(Duration::from_secs(1 << attempt.min(5)));
                budget.pause_until(Instant::now() + delay);
                if delay <= max_inline && attempt < 4 {
                    continue;
                }
                return Err(self.error(Some(status), error_message(&body), Some(delay)));
            }
            return Err(self.error(Some(status), error_message(&body), retry_after));
        }
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

fn describe_transport(e: &reqwest::Error) -> String {
    use std::error::Error as _;
    let mut text = if e.is_timeout() {
        "request timed out".to_string()
    } else if e.is_connect() {
        "could not connect".to_string()
    } else {
        "request failed".to_string()
    };
    let mut source = e.source();
    while let Some(s) = source {
        text = format!("{text}: {s}");
        source = s.source();
    }
    text
}

/// Characters escaped in a path segment (RFC 3986 unreserved ones stay).
const SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// `value` percent-encoded as one URL path segment (`/` becomes `%2F`, space `%20`).
pub fn path_segment(value: &str) -> String {
    percent_encoding::utf8_percent_encode(value, SEGMENT).to_string()
}

/// `Retry-After` as seconds or an HTTP date.
pub fn parse_retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = httpdate(value)?;
    Some(at.duration_since(SystemTime::now()).unwrap_or_default())
}

fn httpdate(value: &str) -> Option<SystemTime> {
    // RFC 7231 IMF-fixdate, e.g. "Sun, 06 Nov 1994 08:49:37 GMT".
    let ts: k8s_openapi::jiff::Timestamp = k8s_openapi::jiff::fmt::rfc2822::parse(value)
        .ok()?
        .timestamp();
    Some(SystemTime::from(ts))
}

/// `X-Rate-Limit-Remaining` at or below 0 with `X-Rate-Limit-Reset` pauses the budget until the
/// reset: seconds from now, a Unix time when large, or a timestamp (RFC 3339, as ASP.NET rate
/// limiters send, or an HTTP date).
fn pause_on_exhausted_window(budget: &Budget, headers: &HeaderMap) {
    if let Some(wait) = exhausted_window_wait(headers) {
        budget.pause_until(Instant::now() + wait.min(Duration::from_secs(900)));
    }
}

fn exhausted_window_wait(headers: &HeaderMap) -> Option<Duration> {
    let get = |n: &str| headers.get(n).and_then(|v| v.to_str().ok()).map(str::trim);
    let remaining = get("x-rate-limit-remaining")?.parse::<f64>().ok()?;
    if remaining > 0.0 {
        return None;
    }
    let reset = get("x-rate-limit-reset")?;
    if let Ok(reset) = reset.parse::<f64>() {
        return Some(if reset > 1e9 {
            let now = SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .unwrap_or_default();
            Duration::from_secs_f64((reset - now.as_secs_f64()).max(0.0))
        } else {
            Duration::from_secs_f64(reset.max(0.0))
        });
    }
    let at = reset
        .parse::<k8s_openapi::jiff::Timestamp>()
        .ok()
        .map(SystemTime::from)
        .or_else(|| httpdate(reset))?;
    Some(at.duration_since(SystemTime::now()).unwrap_or_default())
}

/// The product's own error text from common JSON shapes (`message`, `errors[]`, `error`),
/// falling back to raw text. Field errors (`errors[{field,message}]`) are kept.
pub fn error_message(body: &[u8]) -> String {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(body) else {
        let text = String::from_utf8_lossy(body).trim().to_string();
        return truncate(if text.is_empty() {
            "no error text".into()
        } else {
            text
        });
    };
    let mut parts = Vec::new();
    for key in ["message", "error", "detail", "title"] {
        if let Some(s) = value.get(key).and_then(|v| v.as_str()) {
            parts.push(s.to_string());
            break;
        }
    }
    if let Some(errors) = value.get("errors").and_then(|v| v.as_array()) {
        for e in errors {
            match e {
                serde_json::Value::String(s) => parts.push(s.clone()),
                serde_json::Value::Object(o) => {
                    let msg = o
                        .get("message")
                        .and_then(|m| m.as_str())
                        .unwrap_or_default();
                    match o.get("field").and_then(|f| f.as_str()) {
                        Some(field) => parts.push(format!("{field}: {msg}")),
                        None if !msg.is_empty() => parts.push(msg.to_string()),
                        None => {}
                    }
                }
                _ => {}
            }
        }
    }
    if parts.is_empty() {
        return truncate(value.to_string());
    }
    parts.dedup();
    truncate(parts.join("; "))
}

fn truncate(mut s: String) -> String {
    if s.len() > 500 {
        s.truncate(s.floor_char_boundary(500));
        s.push('…');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_message_reads_common_shapes() {
        assert_eq!(
            error_message(br#"{"status":400,"message":"Invalid request."}"#),
            "Invalid request."
        );
        assert_eq!(
            error_message(br#"{"message":"Validation Failed","errors":[{"field":"name","code":"blank","message":"can't be blank"}]}"#),
            "Validation Failed; name: can't be blank"
        );
        assert_eq!(
            error_message(br#"{"status":400,"errors":["bad user id"]}"#),
            "bad user id"
        );
        assert_eq!(
            error_message(br#"{"errors":[{"httpcode":402,"message":"tier"}]}"#),
            "tier"
        );
        assert_eq!(error_message(b"Bad request."), "Bad request.");
        assert_eq!(error_message(b""), "no error text");
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, HeaderValue::from_static("7"));
        assert_eq!(parse_retry_after(&h), Some(Duration::from_secs(7)));
        h.insert(
            RETRY_AFTER,
            HeaderValue::from_static("Sun, 06 Nov 1994 08:49:37 GMT"),
        );
        assert_eq!(parse_retry_after(&h), Some(Duration::ZERO));
        h.insert(RETRY_AFTER, HeaderValue::from_static("soon"));
        assert_eq!(parse_retry_after(&h), None);
    }

    #[test]
    fn exhausted_window_reads_seconds_unix_times_and_timestamps() {
        let headers = |remaining: &str, reset: &str| {
            let mut h = HeaderMap::new();
            h.insert(
                "x-rate-limit-remaining",
                HeaderValue::from_str(remaining).unwrap(),
            );
            h.insert("x-rate-limit-reset", HeaderValue::from_str(reset).unwrap());
            h
        };
        let near = |d: Option<Duration>, secs: u64| {
            d.is_some_and(|d| d <= Duration::from_secs(secs) && d > Duration::from_secs(secs - 2))
        };
        assert!(near(exhausted_window_wait(&headers("0", "30")), 30));
        let now = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        assert!(near(
            exhausted_window_wait(&headers("0", &(now + 20).to_string())),
            20
        ));
        let at =
            k8s_openapi::jiff::Timestamp::now() + k8s_openapi::jiff::SignedDuration::from_secs(40);
        let iso = format!("{at:.7}");
        assert!(
            near(exhausted_window_wait(&headers("-1", &iso)), 40),
            "{iso}"
        );
        assert_eq!(
            exhausted_window_wait(&headers("0", "2001-01-01T00:00:00Z")),
            Some(Duration::ZERO)
        );
        assert_eq!(exhausted_window_wait(&headers("3", "30")), None);
        assert_eq!(exhausted_window_wait(&headers("0", "later")), None);
    }
}
