//! What the kit records and injects for one product API: the request log, the faults tests set
//! (latency, forced statuses, a request budget answering 429 + Retry-After), and the switch that
//! enforces the product's published rate limits.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use axum::http::HeaderMap;
use serde::{Deserialize, Serialize};

use super::published::{Admitted, PublishedLimits};

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
    /// Share of API requests (0.0 to 1.0), drawn at random, answered `failureStatus` instead of
    /// being served (a storm of server errors).
    pub failure_ratio: f64,
    /// The status of those random failures (503 when unset).
    pub failure_status: Option<u16>,
    /// Share of API requests (0.0 to 1.0), drawn at random, delayed by `spikeMs` on top of
    /// `latencyMs` before being served (spikes past a client's request timeout).
    pub spike_ratio: f64,
    pub spike_ms: u64,
}

impl Faults {
    /// The delay before serving one request: the latency, plus a spike when one is drawn.
    pub fn delay(&self) -> Duration {
        let spike = if draw(self.spike_ratio) {
            self.spike_ms
        } else {
            0
        };
        Duration::from_millis(self.latency_ms.saturating_add(spike))
    }
}

/// True with probability `ratio` (never for 0 or less, always for 1 or more).
fn draw(ratio: f64) -> bool {
    ratio > 0.0 && rand::random::<f64>() < ratio
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
    /// When its answer was ready, on the same clock.
    pub done_ms: u64,
    /// The answer's `Retry-After`, in seconds, when it carried one (a 429's).
    pub retry_after_s: Option<u64>,
}

/// Faults, budget window and request log of one product.
pub struct Traffic {
    started: Instant,
    faults: Mutex<Faults>,
    window: Mutex<(Instant, u32)>,
    log: Mutex<Vec<RecordedRequest>>,
    /// Whether the product's published rate limits are enforced.
    published: AtomicBool,
    admitted: Mutex<Admitted>,
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
            published: AtomicBool::new(false),
            admitted: Mutex::default(),
        }
    }

    /// Enforces (or stops enforcing) the product's published rate limits, from empty windows.
    pub fn set_published_limits(&self, on: bool) {
        *self.admitted.lock().expect("sim lock") = Admitted::default();
        self.published.store(on, Ordering::SeqCst);
    }

    /// Whether the product's published rate limits are enforced.
    pub fn published_limits(&self) -> bool {
        self.published.load(Ordering::SeqCst)
    }

    pub fn set_faults(&self, faults: Faults) {
        *self.faults.lock().expect("sim lock") = faults;
        *self.window.lock().expect("sim lock") = (Instant::now(), 0);
    }

    pub fn faults(&self) -> Faults {
        self.faults.lock().expect("sim lock").clone()
    }

    /// The instant `at_ms` and `done_ms` count from.
    pub fn started(&self) -> Instant {
        self.started
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

    /// Milliseconds since the simulator started.
    pub(super) fn now_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    pub(super) fn record(&self, request: RecordedRequest) {
        self.log.lock().expect("sim lock").push(request);
    }

    /// The fault to answer instead of serving, if any: a status, and Retry-After for a 429
    /// (injected faults first, then the published `limits` when they are enforced).
    pub(super) fn intercept(
        &self,
        limits: &PublishedLimits,
        headers: &HeaderMap,
        method: &str,
    ) -> Option<(u16, Option<u64>)> {
        let injected = self.injected();
        if injected.is_some() || !self.published_limits() {
            return injected;
        }
        let mut admitted = self.admitted.lock().expect("sim lock");
        admitted
            .check(limits, headers, method, Instant::now())
            .map(|retry| (429, Some(retry)))
    }

    fn injected(&self) -> Option<(u16, Option<u64>)> {
        let mut faults = self.faults.lock().expect("sim lock");
        if let Some(status) = faults.fail_next.pop_front() {
            return Some((status, None));
        }
        if draw(faults.failure_ratio) {
            return Some((faults.failure_status.unwrap_or(503), None));
        }
        let limit = faults.rate_limit.clone()?;
        let mut window = self.window.lock().expect("sim lock");
        let length = Duration::from_secs(limit.window_seconds.max(1));
        if window.0.elapsed() >= length {
            *window = (Instant::now(), 0);
        }
        if window.1 >= limit.requests {
            // What is left of the window in whole seconds, rounded up as a product would (a
            // client that honours it must not come back before the window has room).
            let left = length
                .saturating_sub(window.0.elapsed())
                .as_millis()
                .div_ceil(1000)
                .max(1) as u64;
            return Some((429, Some(limit.retry_after_seconds.unwrap_or(left))));
        }
        window.1 += 1;
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_failures_and_spikes_follow_their_ratio() {
        let traffic = Traffic::new();
        traffic.set_faults(Faults {
            failure_ratio: 0.3,
            failure_status: Some(502),
            ..Default::default()
        });
        let failed = (0..2000)
            .filter(|_| traffic.injected() == Some((502, None)))
            .count();
        assert!((450..750).contains(&failed), "{failed} of 2000");
        traffic.set_faults(Faults::default());
        assert!((0..100).all(|_| traffic.injected().is_none()));
        let spiky = Faults {
            latency_ms: 5,
            spike_ratio: 1.0,
            spike_ms: 100,
            ..Default::default()
        };
        assert_eq!(spiky.delay(), Duration::from_millis(105));
        assert_eq!(Faults::default().delay(), Duration::ZERO);
    }
}
