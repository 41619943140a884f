//! One request budget per credential, shaped like the product's published limits: sliding
//! windows (every one that counts a call must admit it; reads and writes counted apart where the
//! product separates them), bounded concurrency, pauses from `Retry-After` / `X-Rate-Limit-*`, and
//! the credential's circuit.

use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use tokio::sync::{Semaphore, SemaphorePermit};

use super::circuit::Circuit;
use super::window::SlidingWindow;

/// A product's request budget per credential: windows that all apply at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// E.g. Statsig's 100 mutations per 10 s and 900 per 15 min, and our own read window.
    pub windows: &'static [Window],
}

impl Limits {
    /// For a product that publishes no numbers: a conservative 100 calls per 20 s (it still
    /// pauses on 429 with `Retry-After` and on exhausted `X-Rate-Limit-*` windows).
    pub const UNPUBLISHED: Limits = Limits {
        windows: &[Window::ours(100, 20, Calls::All)],
    };

    /// The shortest window counting writes, as (seconds, calls): the one that is full first
    /// and frees first.
    pub fn shortest_write_window(&self) -> Option<(u64, u32)> {
        self.windows
            .iter()
            .filter(|w| w.calls.counts(true))
            .map(|w| (w.seconds, w.requests))
            .min()
    }

    /// Whether any of the windows is the product's own published figure.
    pub fn published(&self) -> bool {
        self.windows.iter().any(|w| w.published)
    }
}

/// Which calls a window counts. A write is any call whose method may change something (POST,
/// PUT, PATCH, DELETE), as products count "mutations".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Calls {
    All,
    Reads,
    Writes,
}

impl Calls {
    fn counts(self, write: bool) -> bool {
        match self {
            Calls::All => true,
            Calls::Reads => !write,
            Calls::Writes => write,
        }
    }
}

/// At most `requests` of `calls` in any `seconds`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    pub requests: u32,
    pub seconds: u64,
    pub calls: Calls,
    /// The product's published figure (false: a default of ours where it publishes none).
    pub published: bool,
}

impl Window {
    /// A window the product publishes.
    pub const fn published(requests: u32, seconds: u64, calls: Calls) -> Self {
        Self {
            requests,
            seconds,
            calls,
            published: true,
        }
    }

    /// A window of ours, where the product publishes none.
    pub const fn ours(requests: u32, seconds: u64, calls: Calls) -> Self {
        Self {
            requests,
            seconds,
            calls,
            published: false,
        }
    }

    /// How long an answered call keeps its place (see `window`: from its answer, not from
    /// when it was sent).
    fn length(self) -> Duration {
        Duration::from_secs(self.seconds.max(1))
    }
}

/// Whether a reconcile was asked for (a new, changed or deleted resource, or one that is not
/// in sync) or is a poll of a resource in sync, which can wait.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Priority {
    Foreground,
    Background,
}

/// A poll starts only while every window counting its calls keeps `1 / RESERVE` of itself free
/// on top of the poll's own room: where polls alone would fill a credential's budget (a product
/// read object by object, like SlashID), creates and changes never queue behind them.
pub const RESERVE: usize = 5;

/// How long a place told to a waiting reconcile is kept for it past its instant.
const TOLD_KEPT: Duration = Duration::from_secs(10);

/// How calls are paced: the product's windows, or a flat rate the operator asked for.
enum Pacing {
    Windows(Mutex<Vec<(Calls, SlidingWindow)>>),
    Flat(DefaultDirectRateLimiter),
}

pub(super) struct Budget {
    pacing: Pacing,
    paused_until: Mutex<Option<Instant>>,
    /// Reconciles told to come back later ([`Budget::reconcile_ready_at`]): when, who (a hash
    /// of the resource) and at which priority, earliest first. Each is told the instant of its
    /// own place, behind those told before it, so that they come back one place at a time as
    /// the windows free them, not all at the first place (and into the controller's slots to
    /// wait there, or into kube-runtime's scheduler, which starts them in no particular order).
    told: Mutex<std::collections::VecDeque<(Instant, u64, Priority)>>,
    permits: Semaphore,
    pub(super) circuit: Circuit,
}

impl Budget {
    /// A budget for `limits`, or for a flat `override_rps` (operator flag) instead.
    pub(super) fn new(
        limits: &Limits,
        override_rps: Option<NonZeroU32>,
        concurrency: usize,
        circuit: Circuit,
    ) -> Self {
        let pacing = match override_rps {
            Some(rps) => Pacing::Flat(RateLimiter::direct(Quota::per_second(rps).allow_burst(rps))),
            None => Pacing::Windows(Mutex::new(
                limits
                    .windows
                    .iter()
                    .map(|w| (w.calls, SlidingWindow::new(w.requests, w.length())))
                    .collect(),
            )),
        };
        Self {
            pacing,
            paused_until: Mutex::new(None),
            told: Mutex::new(Default::default()),
            permits: Semaphore::new(concurrency.max(1)),
            circuit,
        }
    }

    /// Waits for a concurrency permit and for every window counting this call (a write or a
    /// read) to admit it, and counts it: the call is to be sent at once, and holds its places
    /// until the returned [`Admission`] is dropped (when its answer is in) and a window's length
    /// after. A call waiting for its window holds no permit, so reads held by their window never
    /// hold up writes. A window with no room for longer than `max_wait` returns that wait
    /// instead, counting nothing.
    pub(super) async fn admit(
        &self,
        write: bool,
        max_wait: Duration,
    ) -> Result<Admission<'_>, Duration> {
        loop {
            let permit = self
                .permits
                .acquire()
                .await
                .expect("budget semaphore never closes");
            let blocked = match &self.pacing {
                Pacing::Flat(limiter) => {
                    limiter.until_ready().await;
                    return Ok(Admission {
                        _permit: permit,
                        budget: self,
                        write,
                        counted: false,
                    });
                }
                Pacing::Windows(windows) => {
                    let mut windows = windows.lock().expect("budget lock poisoned");
                    // Tokio's clock (the same as the system's, but paused in tests).
                    let now = tokio::time::Instant::now().into_std();
                    match try_admit(&mut windows, write, now) {
                        None => {
                            return Ok(Admission {
                                _permit: permit,
                                budget: self,
                                write,
                                counted: true,
                            });
                        }
                        Some(until) if until.saturating_duration_since(now) > max_wait => {
                            return Err(until.saturating_duration_since(now));
                        }
                        Some(until) => until,
                    }
                }
            };
            drop(permit);
            tokio::time::sleep_until(blocked.into()).await;
        }
    }

    /// When `room` calls (writes if `write`) would be admitted, if not now: the end of a pause
    /// after a 429, or when the windows counting them have that much room (for
    /// [`Priority::Background`], that much beyond each window's [`RESERVE`]). Counts nothing.
    #[cfg(test)]
    pub(super) fn ready_at(&self, write: bool, room: usize, priority: Priority) -> Option<Instant> {
        self.ready_behind(write, room, 0, priority)
    }

    /// [`Budget::ready_at`] for a caller with `ahead` others before it, each to take a place
    /// of every window.
    fn ready_behind(
        &self,
        write: bool,
        room: usize,
        ahead: usize,
        priority: Priority,
    ) -> Option<Instant> {
        let now = tokio::time::Instant::now().into_std();
        let windows = match &self.pacing {
            Pacing::Windows(windows) => windows
                .lock()
                .expect("budget lock poisoned")
                .iter()
                .filter(|(calls, _)| calls.counts(write))
                .filter_map(|(_, w)| {
                    let reserve = match priority {
                        Priority::Foreground => 0,
                        Priority::Background => w.requests() / RESERVE,
                    };
                    // Each waiter ahead takes a place: one write a reconcile, and at least one
                    // call of a window that counts reads too (those most reconciles make).
                    match ahead {
                        0 => w.room_at(now, room + reserve),
                        _ => w.room_behind(now, room + reserve + ahead),
                    }
                })
                .max(),
            // A flat rate set by the operator paces smoothly: never long.
            Pacing::Flat(_) => None,
        };
        windows.max(self.paused_until())
    }

    /// When a reconcile may start on this budget (None: now): when every window counting its
    /// reads has `room` places (a reconcile's worth, as many as the credential's calls in
    /// flight) and every window counting its writes has one. A reconcile writes one call at a
    /// time, and most write once (a create, an update); asking write-only windows for `room`
    /// writes would leave the last `room - 1` places of a window unused by any reconcile (none
    /// would start, and the waiting ones would sleep until the next window), which every later
    /// window of a sliding log inherits. Windows counting all calls still ask for `room`.
    ///
    /// `who` (a hash of the resource) waits in line: behind the reconciles told before it to
    /// come back and not back yet, or, coming back, behind those told an earlier instant. One
    /// told to wait longer than `in_slot` is told the instant of its own place; a shorter wait
    /// is spent in the controller's slot, at the window's gate, and promises no place. A
    /// [`Priority::Foreground`] reconcile (a create, a change) waits behind foreground ones
    /// only: polls waiting for a budget they would fill (SlashID's, read object by object) must
    /// leave the windows' [`RESERVE`] anyway, and never hold up a new resource.
    pub(super) fn reconcile_ready_at(
        &self,
        room: usize,
        priority: Priority,
        who: u64,
        in_slot: Duration,
    ) -> Option<Instant> {
        if matches!(self.pacing, Pacing::Flat(_)) {
            // A flat rate keeps no line (see `ready_behind`).
            return self
                .ready_behind(true, 1, 0, priority)
                .max(self.ready_behind(false, room, 0, priority));
        }
        let now = tokio::time::Instant::now().into_std();
        let mut told = self.told.lock().expect("budget lock poisoned");
        let mine = told
            .iter()
            .position(|&(_, w, _)| w == who)
            .and_then(|at| told.remove(at))
            .map(|(t, _, _)| t);
        // A place not come back for (the resource went, or was reconciled another way) is
        // not held for ever.
        told.retain(|&(t, _, _)| t + TOLD_KEPT > now);
        let ahead = told
            .iter()
            .take_while(|&&(t, _, _)| mine.is_none_or(|mine| t < mine))
            .filter(|&&(_, _, p)| priority == Priority::Background || p == Priority::Foreground)
            .count();
        let ready = self
            .ready_behind(true, 1, ahead, priority)
            .max(self.ready_behind(false, room, ahead, priority));
        if let Some(at) = ready
            && at.saturating_duration_since(now) > in_slot
        {
            let i = told.partition_point(|&(t, _, _)| t <= at);
            told.insert(i, (at, who, priority));
        }
        ready
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

/// A call admitted by [`Budget::admit`]: its concurrency permit, and its places in the windows,
/// which it holds from now until a window's length after it is dropped (its answer is in).
pub(super) struct Admission<'a> {
    _permit: SemaphorePermit<'a>,
    budget: &'a Budget,
    write: bool,
    /// Counted in the windows (not under a flat rate).
    counted: bool,
}

impl std::fmt::Debug for Admission<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Admission")
            .field("write", &self.write)
            .finish_non_exhaustive()
    }
}

impl Drop for Admission<'_> {
    fn drop(&mut self) {
        if !self.counted {
            return;
        }
        if let Pacing::Windows(windows) = &self.budget.pacing {
            let mut windows = windows.lock().unwrap_or_else(|e| e.into_inner());
            answered(
                &mut windows,
                self.write,
                tokio::time::Instant::now().into_std(),
            );
        }
    }
}

/// Counts a call (still to be answered) in every window that counts it when all of them admit
/// it at `now` (None); otherwise counts nothing and says when the last of them would.
fn try_admit(windows: &mut [(Calls, SlidingWindow)], write: bool, now: Instant) -> Option<Instant> {
    let blocked = windows
        .iter()
        .filter(|(calls, _)| calls.counts(write))
        .filter_map(|(_, w)| w.blocked_until(now))
        .max();
    if blocked.is_none() {
        for (_, w) in windows.iter_mut().filter(|(calls, _)| calls.counts(write)) {
            w.begin();
        }
    }
    blocked
}

/// The answer to a call counted by [`try_admit`] came back at `now`.
fn answered(windows: &mut [(Calls, SlidingWindow)], write: bool, now: Instant) {
    for (_, w) in windows.iter_mut().filter(|(calls, _)| calls.counts(write)) {
        w.answered(now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STATSIG_LIKE: Limits = Limits {
        windows: &[
            Window::published(100, 10, Calls::Writes),
            Window::published(900, 900, Calls::Writes),
            Window::ours(300, 10, Calls::Reads),
        ],
    };

    fn windows(limits: &Limits) -> Vec<(Calls, SlidingWindow)> {
        limits
            .windows
            .iter()
            .map(|w| (w.calls, SlidingWindow::new(w.requests, w.length())))
            .collect()
    }

    /// Admits `write` calls as early as allowed from `t0` until `until`; returns their instants.
    fn drive(
        windows: &mut [(Calls, SlidingWindow)],
        write: bool,
        t0: Instant,
        until: Duration,
    ) -> Vec<Duration> {
        let mut now = t0;
        let mut out = Vec::new();
        while now < t0 + until {
            match try_admit(windows, write, now) {
                None => {
                    // Answered at once.
                    answered(windows, write, now);
                    out.push(now - t0);
                }
                Some(t) => now = t,
            }
        }
        out
    }

    fn in_span(admitted: &[Duration], from: Duration, length: Duration) -> usize {
        admitted
            .iter()
            .filter(|&&t| t >= from && t < from + length)
            .count()
    }

    #[test]
    fn writes_burst_to_the_short_window_and_hold_the_long_one() {
        let mut w = windows(&STATSIG_LIKE);
        let t0 = Instant::now();
        let admitted = drive(&mut w, true, t0, Duration::from_secs(1900));
        // A whole short window at once.
        assert_eq!(
            in_span(&admitted, Duration::ZERO, Duration::from_millis(1)),
            100
        );
        // Never more than 100 in any 10 s, nor 900 in any 15 min.
        for &from in &admitted {
            assert!(in_span(&admitted, from, Duration::from_secs(10)) <= 100);
            assert!(in_span(&admitted, from, Duration::from_secs(900)) <= 900);
        }
        // The long window's 900 go out in its first 90-odd seconds, then it waits for them to age.
        assert_eq!(
            in_span(&admitted, Duration::ZERO, Duration::from_secs(900)),
            900
        );
        assert_eq!(admitted.len(), 2700);
    }

    #[test]
    fn reads_have_their_own_window_and_do_not_spend_writes() {
        let mut w = windows(&STATSIG_LIKE);
        let t0 = Instant::now();
        let reads = drive(&mut w, false, t0, Duration::from_secs(5));
        assert_eq!(reads.len(), 300);
        // Writes are untouched by those reads.
        assert_eq!(try_admit(&mut w, true, t0), None);
        let writes = drive(&mut w, true, t0, Duration::from_secs(5));
        assert_eq!(writes.len(), 99);
        // And a read past its window waits for the read window only.
        let blocked = try_admit(&mut w, false, t0).expect("read window full");
        assert_eq!(blocked, t0 + Duration::from_secs(10));
    }

    #[test]
    fn a_window_for_all_calls_counts_reads_and_writes_together() {
        let mut w = windows(&Limits::UNPUBLISHED);
        let t0 = Instant::now();
        assert_eq!(drive(&mut w, false, t0, Duration::from_secs(1)).len(), 100);
        assert!(try_admit(&mut w, true, t0).is_some());
        assert!(!Limits::UNPUBLISHED.published());
        assert!(STATSIG_LIKE.published());
    }

    /// Longer than any wait in these tests.
    const LONG: Duration = Duration::from_secs(3600);

    #[tokio::test]
    async fn a_wait_longer_than_allowed_is_returned_without_counting() {
        let budget = Budget::new(&STATSIG_LIKE, None, 4, Circuit::default());
        for _ in 0..100 {
            drop(budget.admit(true, LONG).await.expect("within the window"));
        }
        let wait = budget
            .admit(true, Duration::from_secs(1))
            .await
            .expect_err("the 10 s window is full");
        assert!(
            wait > Duration::from_secs(9) && wait <= Duration::from_secs(11),
            "{wait:?}"
        );
        // Nothing was counted: reads still pass, and the writes' wait is unchanged.
        drop(
            budget
                .admit(false, Duration::ZERO)
                .await
                .expect("reads have room"),
        );
        assert!(budget.ready_at(true, 1, Priority::Foreground).is_some());
        assert!(budget.ready_at(false, 1, Priority::Foreground).is_none());
    }

    #[tokio::test]
    async fn polls_leave_a_reserve_that_creates_and_changes_may_use() {
        let budget = Budget::new(&Limits::UNPUBLISHED, None, 4, Circuit::default());
        // 100 per 20 s: polls have taken 76, so 24 are left.
        for _ in 0..76 {
            drop(budget.admit(false, LONG).await.expect("within the window"));
        }
        // A poll needs its room (4) and a fifth of the window (20) free: it may start.
        assert_eq!(budget.ready_at(false, 4, Priority::Background), None);
        drop(budget.admit(false, LONG).await.expect("within the window"));
        // 23 left: the next poll waits for the window, a create or a change does not.
        let poll = budget.ready_at(false, 4, Priority::Background);
        assert!(poll.is_some(), "a poll would eat into the reserve");
        assert!(poll.is_some_and(|t| t > Instant::now() + Duration::from_secs(19)));
        assert_eq!(budget.ready_at(true, 4, Priority::Foreground), None);
        assert_eq!(budget.ready_at(false, 4, Priority::Foreground), None);
        // The foreground may use the reserve to the last call; then it waits too.
        for _ in 0..23 {
            drop(budget.admit(true, LONG).await.expect("within the window"));
        }
        assert!(budget.ready_at(true, 1, Priority::Foreground).is_some());
    }

    #[tokio::test]
    async fn the_last_places_of_a_write_window_are_not_left_to_the_next_one() {
        let budget = Budget::new(&STATSIG_LIKE, None, 4, Circuit::default());
        for _ in 0..99 {
            drop(budget.admit(true, LONG).await.expect("within the window"));
        }
        // One write left: a reconcile (one create) may start now, not 10 s from now.
        assert_eq!(
            budget.reconcile_ready_at(4, Priority::Foreground, 1, Duration::ZERO),
            None
        );
        drop(budget.admit(true, LONG).await.expect("the 100th"));
        let next = budget.reconcile_ready_at(4, Priority::Foreground, 1, Duration::ZERO);
        assert!(next.is_some_and(|t| t > Instant::now() + Duration::from_secs(9)));
        // A window counting every call still waits for a reconcile's worth of room.
        const ALL: Limits = Limits {
            windows: &[Window::ours(100, 20, Calls::All)],
        };
        let budget = Budget::new(&ALL, None, 4, Circuit::default());
        for _ in 0..97 {
            drop(budget.admit(true, LONG).await.expect("within the window"));
        }
        assert!(
            budget
                .reconcile_ready_at(4, Priority::Foreground, 1, Duration::ZERO)
                .is_some()
        );
    }

    /// A budget whose one window (5 calls a second, counting writes only or every call) is
    /// full: 5 writes admitted `step` apart.
    async fn five_a_second_full(calls: Calls, step: Duration) -> Budget {
        const WRITES: Limits = Limits {
            windows: &[Window::published(5, 1, Calls::Writes)],
        };
        const ALL: Limits = Limits {
            windows: &[Window::published(5, 1, Calls::All)],
        };
        let limits = match calls {
            Calls::Writes => &WRITES,
            Calls::All => &ALL,
            Calls::Reads => unreachable!("a window of reads only is not what these tests fill"),
        };
        let budget = Budget::new(limits, None, 4, Circuit::default());
        for _ in 0..5 {
            drop(budget.admit(true, LONG).await.expect("within the window"));
            tokio::time::sleep(step).await;
        }
        budget
    }

    #[tokio::test]
    async fn waiting_reconciles_are_told_their_own_places_in_turn() {
        let step = Duration::from_millis(40);
        let start = Instant::now();
        let budget = five_a_second_full(Calls::Writes, step).await;
        let ready = |who| budget.reconcile_ready_at(4, Priority::Foreground, who, Duration::ZERO);
        // Three waiters: each told when its own place frees (a window after the write it
        // follows), not all when the first one does.
        let told: Vec<Instant> = (1..=3).map(|who| ready(who).expect("full")).collect();
        assert!(
            told[0] >= start + Duration::from_secs(1),
            "{:?}",
            told[0] - start
        );
        for pair in told.windows(2) {
            assert!(pair[1] >= pair[0] + step / 2, "{:?}", pair[1] - pair[0]);
        }
        // Asking again keeps one's place in line.
        assert_eq!(ready(2), Some(told[1]));
        // The first comes back at its instant and goes; one new then waits behind the rest.
        tokio::time::sleep_until(told[0].into()).await;
        assert_eq!(ready(1), None);
        drop(budget.admit(true, LONG).await.expect("its place"));
        assert!(ready(9).is_some_and(|at| at > told[2]));
    }

    #[tokio::test]
    async fn creates_wait_behind_creates_only_and_polls_behind_everyone() {
        // A window counting every call, full.
        let budget = five_a_second_full(Calls::All, Duration::from_millis(40)).await;
        let ready = |who, priority| {
            budget
                .reconcile_ready_at(1, priority, who, Duration::ZERO)
                .expect("full")
        };
        // Polls waiting: each is told a place of its own, in a window counting reads too.
        let polls: Vec<Instant> = (1..=3)
            .map(|who| ready(who, Priority::Background))
            .collect();
        for pair in polls.windows(2) {
            assert!(pair[1] > pair[0], "{:?}", pair[1] - pair[0]);
        }
        // A create is not put behind them: the first place that frees is its.
        let create = ready(10, Priority::Foreground);
        assert!(
            create < polls[0],
            "{:?}",
            create.saturating_duration_since(polls[0])
        );
        // A poll that comes later waits behind all of them.
        let late = ready(20, Priority::Background);
        assert!(
            late > polls[2],
            "{:?}",
            polls[2].saturating_duration_since(late)
        );
    }

    #[tokio::test]
    async fn until_ready_waits_out_the_window() {
        const LIMITS: Limits = Limits {
            windows: &[Window::published(3, 1, Calls::All)],
        };
        let budget = Budget::new(&LIMITS, None, 4, Circuit::default());
        let start = tokio::time::Instant::now();
        for _ in 0..3 {
            drop(budget.admit(true, LONG).await);
        }
        // The fourth call waits for the first to leave the window.
        drop(budget.admit(false, LONG).await);
        assert!(start.elapsed() >= Duration::from_secs(1));
    }

    #[tokio::test]
    async fn a_read_waiting_for_its_window_holds_no_permit() {
        // One permit; the read window full.
        let budget = std::sync::Arc::new(Budget::new(&STATSIG_LIKE, None, 1, Circuit::default()));
        for _ in 0..300 {
            drop(budget.admit(false, LONG).await);
        }
        let reader = budget.clone();
        let waiting_read = tokio::spawn(async move { drop(reader.admit(false, LONG).await) });
        tokio::task::yield_now().await;
        // The write gets the only permit while the read waits out its window (10 s).
        let write = tokio::time::timeout(Duration::from_secs(5), budget.admit(true, LONG)).await;
        drop(write.expect("the write is not held up by the waiting read"));
        waiting_read.abort();
    }

    #[tokio::test]
    async fn an_rps_override_replaces_the_windows() {
        let budget = Budget::new(
            &Limits::UNPUBLISHED,
            Some(NonZeroU32::new(500).expect("non-zero")),
            4,
            Circuit::default(),
        );
        // 400 at once: within the 500/s burst, where the default window would hold the 101st
        // for 20 s.
        let all = async {
            for _ in 0..400 {
                drop(budget.admit(false, LONG).await);
            }
        };
        tokio::time::timeout(Duration::from_secs(10), all)
            .await
            .expect("the override admits them at once");
    }
}
