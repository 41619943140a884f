//! Sliding-window admission: at most `requests` calls in any span of `length`, bursts up to the
//! whole window allowed. It keeps the instants of the last `requests` answers, so the check is
//! exact (a GCRA / token bucket holding the full rate with a burst of `requests` admits up to
//! `2 × requests − 1` in one window; see the test `gcra_with_a_full_burst_overshoots_the_window`).
//!
//! A call holds its place from the moment it is admitted until `length` after its answer came
//! back. The product counts a call when it arrives, which is after we sent it and before its
//! answer: so however long the network holds one call and not the next, no span of `length` at
//! the product ever sees more than `requests` of them, with no margin to guess.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// One window's admissions.
#[derive(Debug)]
pub(super) struct SlidingWindow {
    requests: usize,
    length: Duration,
    /// Calls admitted whose answer has not come back yet: each holds its place until it does.
    pending: usize,
    /// When the answers of the last `requests` calls came back, oldest first.
    admitted: VecDeque<Instant>,
}

/// How soon to look again when every place is held by a call still waiting for its answer (only
/// a window smaller than the calls a credential may have in flight can be full of them).
const PENDING_RECHECK: Duration = Duration::from_millis(50);

impl SlidingWindow {
    pub(super) fn new(requests: u32, length: Duration) -> Self {
        let requests = requests.max(1) as usize;
        Self {
            requests,
            length,
            pending: 0,
            admitted: VecDeque::with_capacity(requests.min(1024)),
        }
    }

    /// How many calls the window admits.
    pub(super) fn requests(&self) -> usize {
        self.requests
    }

    /// None when one more call at `now` keeps the window; else the earliest instant it would.
    pub(super) fn blocked_until(&self, now: Instant) -> Option<Instant> {
        self.room_at(now, 1)
    }

    /// None when `room` more calls at `now` keep the window (at most the whole window); else
    /// the earliest instant they would.
    pub(super) fn room_at(&self, now: Instant, room: usize) -> Option<Instant> {
        let room = room.clamp(1, self.requests);
        if self.pending + room > self.requests {
            // Only an answer frees a place now: its time is not known.
            return Some(now + PENDING_RECHECK);
        }
        // The answer `requests - pending - room + 1` back must have left the window.
        let back = self.requests - self.pending - room + 1;
        if self.admitted.len() < back {
            return None;
        }
        let free_at = self.admitted[self.admitted.len() - back] + self.length;
        (free_at > now).then_some(free_at)
    }

    /// [`SlidingWindow::room_at`] for a caller behind others, who needs `room` places counting
    /// theirs: at the earliest a window from now when that takes places held by calls still
    /// out (they free a window after their answers), never sooner.
    pub(super) fn room_behind(&self, now: Instant, room: usize) -> Option<Instant> {
        if self.pending + room.min(self.requests) > self.requests {
            return Some(now + self.length);
        }
        self.room_at(now, room)
    }

    /// Counts a call sent now whose answer is still to come (see [`SlidingWindow::answered`]).
    pub(super) fn begin(&mut self) {
        self.pending += 1;
    }

    /// The answer to a call counted by [`SlidingWindow::begin`] came back at `now` (or the call
    /// ended without one): it holds its place for `length` from now.
    pub(super) fn answered(&mut self, now: Instant) {
        self.pending = self.pending.saturating_sub(1);
        self.admit(now);
    }

    /// Counts a call answered at once, at `now` (instants passed in never decrease).
    pub(super) fn admit(&mut self, now: Instant) {
        // Answers can come back a little out of order (two threads): keep the deque sorted.
        let at = self.admitted.partition_point(|&t| t <= now);
        self.admitted.insert(at, now);
        while self.admitted.len() > self.requests {
            self.admitted.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Admits as fast as the window allows from `start` for `span`, each call at the earliest
    /// instant allowed; returns the admission instants.
    fn greedy(window: &mut SlidingWindow, start: Instant, span: Duration) -> Vec<Instant> {
        let mut now = start;
        let mut out = Vec::new();
        while now < start + span {
            match window.blocked_until(now) {
                None => {
                    window.admit(now);
                    out.push(now);
                }
                Some(t) => now = t,
            }
        }
        out
    }

    /// The most admissions in any half-open span of `length`.
    fn densest(admitted: &[Instant], length: Duration) -> usize {
        admitted
            .iter()
            .map(|&from| {
                admitted
                    .iter()
                    .filter(|&&t| t >= from && t < from + length)
                    .count()
            })
            .max()
            .unwrap_or(0)
    }

    #[test]
    fn a_whole_window_bursts_at_once_and_no_more() {
        let t0 = Instant::now();
        let mut w = SlidingWindow::new(100, Duration::from_secs(10));
        for _ in 0..100 {
            assert_eq!(w.blocked_until(t0), None);
            w.admit(t0);
        }
        // The 101st waits for the first to leave the window, not a moment less.
        assert_eq!(w.blocked_until(t0), Some(t0 + Duration::from_secs(10)));
        assert_eq!(
            w.blocked_until(t0 + Duration::from_millis(9_999)),
            Some(t0 + Duration::from_secs(10))
        );
        assert_eq!(w.blocked_until(t0 + Duration::from_secs(10)), None);
    }

    #[test]
    fn room_for_several_calls_waits_for_as_many_to_leave() {
        let t0 = Instant::now();
        let second = Duration::from_secs(1);
        let mut w = SlidingWindow::new(5, Duration::from_secs(10));
        for i in 0..4 {
            w.admit(t0 + second * i);
        }
        // One left now; room for 3 once the first two have left the window.
        assert_eq!(w.room_at(t0 + second * 4, 1), None);
        assert_eq!(
            w.room_at(t0 + second * 4, 3),
            Some(t0 + Duration::from_secs(11))
        );
        assert_eq!(w.room_at(t0 + Duration::from_secs(11), 3), None);
        // More than the window holds is the whole window.
        assert_eq!(
            w.room_at(t0 + second * 4, 50),
            Some(t0 + Duration::from_secs(13))
        );
    }

    #[test]
    fn a_call_holds_its_place_until_a_window_after_its_answer() {
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        let mut w = SlidingWindow::new(2, Duration::from_secs(1));
        w.begin();
        w.begin();
        // Both places held by calls still out: no time is known, look again soon.
        assert_eq!(w.blocked_until(at(0)), Some(at(0) + PENDING_RECHECK));
        // Answered 5 s later (a slow network): the place is held for a whole window from then,
        // not from when the call was sent.
        w.answered(at(5_000));
        assert_eq!(w.blocked_until(at(5_000)), Some(at(6_000)));
        w.answered(at(5_200));
        assert_eq!(w.blocked_until(at(5_999)), Some(at(6_000)));
        assert_eq!(w.blocked_until(at(6_000)), None);
        assert_eq!(w.room_at(at(6_000), 2), Some(at(6_200)));
        // Answers out of order are kept in order.
        let mut w = SlidingWindow::new(2, Duration::from_secs(1));
        w.admit(at(300));
        w.admit(at(100));
        assert_eq!(w.blocked_until(at(300)), Some(at(1_100)));
    }

    #[test]
    fn greedy_callers_never_exceed_the_window_and_keep_its_rate() {
        let t0 = Instant::now();
        let length = Duration::from_secs(10);
        let mut w = SlidingWindow::new(100, length);
        let admitted = greedy(&mut w, t0, Duration::from_secs(95));
        assert_eq!(densest(&admitted, length), 100);
        // 10 whole windows (t0, t0+10 s, ..., t0+90 s): the full published rate.
        assert_eq!(admitted.len(), 1000);
    }

    #[test]
    fn spread_callers_never_exceed_the_window() {
        // Calls arriving every 37 ms with a window of 30 per 1 s: whatever the arrival pattern,
        // admitted calls never crowd a window.
        let t0 = Instant::now();
        let length = Duration::from_secs(1);
        let mut w = SlidingWindow::new(30, length);
        let mut admitted = Vec::new();
        let mut now = t0;
        for i in 0..400u64 {
            let arrival = t0 + Duration::from_millis(37 * i);
            now = now.max(arrival);
            if let Some(t) = w.blocked_until(now) {
                now = t;
            }
            w.admit(now);
            admitted.push(now);
        }
        assert!(densest(&admitted, length) <= 30);
    }

    #[test]
    fn gcra_with_a_full_burst_overshoots_the_window() {
        use governor::clock::FakeRelativeClock;
        use governor::{Quota, RateLimiter};
        use std::num::NonZeroU32;
        // burst = requests, period = seconds / requests: the obvious governor quota for
        // "100 per 10 s". Driven with a simulated clock, it admits 199 calls within 10 s, which
        // is why the budget keeps a sliding window instead.
        let clock = FakeRelativeClock::default();
        let quota = Quota::with_period(Duration::from_millis(100))
            .expect("non-zero")
            .allow_burst(NonZeroU32::new(100).expect("non-zero"));
        let limiter = RateLimiter::direct_with_clock(quota, clock.clone());
        let mut admitted = 0;
        let mut elapsed = Duration::ZERO;
        while elapsed < Duration::from_secs(10) {
            while limiter.check().is_ok() {
                admitted += 1;
            }
            clock.advance(Duration::from_millis(1));
            elapsed += Duration::from_millis(1);
        }
        assert_eq!(admitted, 199);
    }
}
