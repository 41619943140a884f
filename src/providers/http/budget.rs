//! One request budget per credential: the product's windows as GCRA limiters (all must admit),
//! bounded concurrency, and pauses from `Retry-After` / `X-Rate-Limit-*`.

use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use tokio::sync::Semaphore;

/// A product's request budget per credential: windows that all apply at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// `requests` per `seconds`, e.g. Statsig's 100 per 10 s and 900 per 15 min.
    pub windows: &'static [Window],
    /// Whether the product publishes these numbers (false: a conservative default of ours).
    pub published: bool,
}

impl Limits {
    /// For a product that publishes no numbers: a conservative 100 requests per 20 s (it still
    /// pauses on 429 with `Retry-After` and on exhausted `X-Rate-Limit-*` windows).
    pub const UNPUBLISHED: Limits = Limits {
        windows: &[Window {
            requests: 100,
            seconds: 20,
        }],
        published: false,
    };
}

/// At most `requests` in any `seconds`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    pub requests: u32,
    pub seconds: u64,
}

impl Window {
    /// The GCRA quota kept below this window: a steady 90 % of its rate, and a burst of a tenth
    /// of it, so that burst plus refill never exceed `requests` in any `seconds`.
    fn quota(self) -> Quota {
        let requests = self.requests.max(1);
        let period =
            Duration::from_secs(self.seconds.max(1)).mul_f64(1.0 / (0.9 * requests as f64));
        let burst = NonZeroU32::new((requests / 10).max(1)).expect("at least one");
        Quota::with_period(period)
            .expect("a non-zero period")
            .allow_burst(burst)
    }
}

pub(super) struct Budget {
    limiters: Vec<DefaultDirectRateLimiter>,
    paused_until: Mutex<Option<Instant>>,
    pub(super) permits: Semaphore,
}

impl Budget {
    /// A budget for `limits`, or for a flat `override_rps` (operator flag) instead.
    pub(super) fn new(
        limits: &Limits,
        override_rps: Option<NonZeroU32>,
        concurrency: usize,
    ) -> Self {
        let limiters = match override_rps {
            Some(rps) => vec![RateLimiter::direct(Quota::per_second(rps).allow_burst(rps))],
            None => limits
                .windows
                .iter()
                .map(|w| RateLimiter::direct(w.quota()))
                .collect(),
        };
        Self {
            limiters,
            paused_until: Mutex::new(None),
            permits: Semaphore::new(concurrency.max(1)),
        }
    }

    /// Waits until every window admits one more request.
    pub(super) async fn until_ready(&self) {
        for limiter in &self.limiters {
            limiter.until_ready().await;
        }
    }

    pub(super) fn pause_until(&self, until: Instant) {
        let mut p = self.paused_until.lock().expect("budget lock poisoned");
        if p.is_none_or(|cur| cur < until) {
            *p = Some(until);
        }
    }

    pub(super) fn paused_until(&self) -> Option<Instant> {
        let p = self.paused_until.lock().expect("budget lock poisoned");
        p.filter(|t| *t > Instant::now())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_quota_stays_under_the_window() {
        // Statsig's long window: 900 per 15 minutes gives about 0.9 per second, burst 90.
        let q = Window {
            requests: 900,
            seconds: 900,
        }
        .quota();
        assert_eq!(q.burst_size().get(), 90);
        let per_request = q.replenish_interval().as_secs_f64();
        assert!((per_request - 1.0 / 0.9).abs() < 0.01, "{per_request}");
        // Burst plus refill over a whole window stays within it.
        assert!(90.0 + 900.0 / per_request <= 900.0 + 0.5);
    }
}
