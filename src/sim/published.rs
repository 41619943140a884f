//! A product's published rate limits, as its simulator enforces them when switched on
//! (`roleplane sim --published-limits`, or [`Traffic::set_published_limits`] in-process). Each
//! product declares its own from its contract (`providers/<name>.md`, "Rate limits"); the kit
//! keeps the sliding windows per credential and answers 429 with `Retry-After` past them.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use axum::http::HeaderMap;

/// The limits a product publishes (none for a product that publishes no numbers).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PublishedLimits {
    pub windows: &'static [PublishedWindow],
    /// The request header naming what the limits are kept per (a project's key); None: the
    /// whole API shares them.
    pub per_header: Option<&'static str>,
}

impl PublishedLimits {
    /// For a product whose contract publishes no numbers: nothing to enforce.
    pub const NONE: PublishedLimits = PublishedLimits {
        windows: &[],
        per_header: None,
    };
}

/// At most `requests` in any `seconds`, of mutations only or of every request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PublishedWindow {
    pub requests: u32,
    pub seconds: u64,
    /// Counts only POST, PUT, PATCH and DELETE.
    pub mutations_only: bool,
}

/// Requests admitted per credential and window, most recent last.
#[derive(Debug, Default)]
pub(super) struct Admitted {
    by_key: HashMap<String, Vec<VecDeque<Instant>>>,
}

impl Admitted {
    /// None when `limits` admit this request now (and it is counted); else the Retry-After in
    /// whole seconds.
    pub(super) fn check(
        &mut self,
        limits: &PublishedLimits,
        headers: &HeaderMap,
        method: &str,
        now: Instant,
    ) -> Option<u64> {
        if limits.windows.is_empty() {
            return None;
        }
        let key = limits
            .per_header
            .and_then(|h| headers.get(h))
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        let mutation = matches!(method, "POST" | "PUT" | "PATCH" | "DELETE");
        let logs = self
            .by_key
            .entry(key.to_string())
            .or_insert_with(|| vec![VecDeque::new(); limits.windows.len()]);
        let mut wait: Option<Duration> = None;
        for (window, log) in limits.windows.iter().zip(logs.iter_mut()) {
            if window.mutations_only && !mutation {
                continue;
            }
            let length = Duration::from_secs(window.seconds);
            while log
                .front()
                .is_some_and(|t| now.duration_since(*t) >= length)
            {
                log.pop_front();
            }
            if log.len() >= window.requests as usize {
                let oldest = log[log.len() - window.requests as usize];
                let left = length.saturating_sub(now.duration_since(oldest));
                wait = wait.max(Some(left));
            }
        }
        if let Some(wait) = wait {
            // Whole seconds, rounded up: a client waiting that long is admitted.
            return Some(wait.as_secs() + u64::from(wait.subsec_nanos() > 0));
        }
        for (window, log) in limits.windows.iter().zip(logs.iter_mut()) {
            if !window.mutations_only || mutation {
                log.push_back(now);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: PublishedLimits = PublishedLimits {
        windows: &[
            PublishedWindow {
                requests: 2,
                seconds: 10,
                mutations_only: true,
            },
            PublishedWindow {
                requests: 3,
                seconds: 60,
                mutations_only: true,
            },
        ],
        per_header: Some("x-key"),
    };

    fn key(k: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("x-key", k.parse().expect("header"));
        h
    }

    #[test]
    fn mutations_past_a_window_get_retry_after_per_key() {
        let mut a = Admitted::default();
        let t0 = Instant::now();
        assert_eq!(a.check(&LIMITS, &key("a"), "POST", t0), None);
        assert_eq!(a.check(&LIMITS, &key("a"), "PATCH", t0), None);
        assert_eq!(
            a.check(&LIMITS, &key("a"), "GET", t0),
            None,
            "reads are free"
        );
        assert_eq!(a.check(&LIMITS, &key("a"), "DELETE", t0), Some(10));
        assert_eq!(a.check(&LIMITS, &key("b"), "POST", t0), None, "per key");
        // The short window frees up; the long one (3 per minute) then holds.
        let t1 = t0 + Duration::from_secs(10);
        assert_eq!(a.check(&LIMITS, &key("a"), "POST", t1), None);
        assert_eq!(a.check(&LIMITS, &key("a"), "POST", t1), Some(50));
        assert_eq!(a.check(&PublishedLimits::NONE, &key("a"), "POST", t1), None);
    }
}
