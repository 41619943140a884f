//! A circuit per credential: repeated 401s (the key is revoked or wrong) or an unbroken run of
//! 429s open it, and while it is open calls fail at once without reaching the product. After a
//! cool-down one probe call goes through (half-open): any other answer closes the circuit, a
//! further 401 / 429 opens it again for twice as long. New credentials (a changed Secret) start
//! closed.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::crd::ProviderKind;
use crate::providers::CircuitCause;

/// When a credential's circuit opens and how long it stays open.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CircuitConfig {
    /// Consecutive 401 answers that open the circuit.
    pub unauthorized: u32,
    /// Consecutive 429 answers that open the circuit.
    pub rate_limited: u32,
    /// The first cool-down before a probe; doubled after each failed probe.
    pub cool_down: Duration,
    /// The longest cool-down.
    pub max_cool_down: Duration,
}

impl Default for CircuitConfig {
    fn default() -> Self {
        Self {
            unauthorized: 3,
            rate_limited: 8,
            cool_down: Duration::from_secs(60),
            max_cool_down: Duration::from_secs(900),
        }
    }
}

/// A refused call: why the circuit is open and when it lets a probe through.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Tripped {
    pub cause: CircuitCause,
    pub failures: u32,
    pub retry_in: Duration,
    /// What the product said in the last of those answers (redacted).
    pub said: String,
}

/// How a call passed the circuit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Pass {
    Closed,
    /// The one call let through after the cool-down.
    Probe,
}

/// What a call that passed got back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Outcome {
    Unauthorized,
    RateLimited {
        retry_after: Option<Duration>,
    },
    /// Any other answer: the credential works.
    Answered,
    /// No answer (transport failure, timeout, or the call was dropped): proves nothing.
    NoAnswer,
    /// A 429 to a call sent alongside the one whose 429 already paused the credential: the same
    /// burst, so it neither counts again nor breaks the run. A probe that gets it failed, though.
    RateLimitEcho {
        retry_after: Option<Duration>,
    },
}

#[derive(Clone, Debug)]
struct Open {
    cause: CircuitCause,
    said: String,
    failures: u32,
    retry_at: Instant,
    cool_down: Duration,
    probing: bool,
}

#[derive(Debug, Default)]
struct State {
    /// Fingerprint of the credentials the state is about.
    credential: u64,
    unauthorized: u32,
    rate_limited: u32,
    open: Option<Open>,
}

#[derive(Debug, Default)]
pub(super) struct Circuit {
    config: CircuitConfig,
    state: Mutex<State>,
}

/// Asked of the calls that wait for an open circuit's probe.
const WHILE_PROBING: Duration = Duration::from_secs(5);

impl Circuit {
    pub(super) fn new(config: CircuitConfig) -> Self {
        Self {
            config,
            state: Mutex::default(),
        }
    }

    fn state(&self, credential: u64) -> std::sync::MutexGuard<'_, State> {
        let mut state = self.state.lock().expect("circuit lock poisoned");
        if state.credential != credential {
            *state = State {
                credential,
                ..State::default()
            };
        }
        state
    }

    /// Lets a call with `credential` through (claiming the probe when one is due), or refuses it.
    pub(super) fn enter(&self, credential: u64, now: Instant) -> Result<Pass, Tripped> {
        let mut state = self.state(credential);
        let Some(open) = state.open.as_mut() else {
            return Ok(Pass::Closed);
        };
        let tripped = |retry_in| Tripped {
            cause: open.cause,
            failures: open.failures,
            retry_in,
            said: open.said.clone(),
        };
        if open.probing {
            return Err(tripped(WHILE_PROBING));
        }
        if now < open.retry_at {
            return Err(tripped(open.retry_at - now));
        }
        open.probing = true;
        Ok(Pass::Probe)
    }

    /// Whether a call would be refused now, without claiming a probe.
    pub(super) fn check(&self, credential: u64, now: Instant) -> Result<(), Tripped> {
        let state = self.state(credential);
        match &state.open {
            Some(open) if open.probing || now < open.retry_at => Err(Tripped {
                cause: open.cause,
                failures: open.failures,
                said: open.said.clone(),
                retry_in: if open.probing {
                    WHILE_PROBING
                } else {
                    open.retry_at - now
                },
            }),
            _ => Ok(()),
        }
    }

    /// [`Circuit::record_said`] without the product's words.
    #[cfg(test)]
    fn record(
        &self,
        credential: u64,
        pass: Pass,
        outcome: Outcome,
        now: Instant,
    ) -> Option<CircuitCause> {
        self.record_said(credential, pass, outcome, String::new(), now)
    }

    /// Records what a call that passed as `pass` got back, with what the product said (redacted,
    /// kept for the refusals); returns the cause when this opened the circuit (for the log).
    pub(super) fn record_said(
        &self,
        credential: u64,
        pass: Pass,
        outcome: Outcome,
        said: String,
        now: Instant,
    ) -> Option<CircuitCause> {
        let config = &self.config;
        let mut state = self.state.lock().expect("circuit lock poisoned");
        // An answer to credentials replaced meanwhile says nothing about the new ones.
        if state.credential != credential {
            return None;
        }
        let (cause, retry_after) = match outcome {
            Outcome::RateLimitEcho { .. } if pass == Pass::Closed => return None,
            Outcome::RateLimitEcho { retry_after } | Outcome::RateLimited { retry_after } => {
                state.rate_limited += 1;
                state.unauthorized = 0;
                (CircuitCause::RateLimited, retry_after)
            }
            Outcome::Answered => {
                *state = State {
                    credential,
                    ..State::default()
                };
                return None;
            }
            Outcome::NoAnswer => {
                if let (Pass::Probe, Some(open)) = (pass, state.open.as_mut()) {
                    open.probing = false;
                    open.retry_at = now + open.cool_down;
                }
                return None;
            }
            Outcome::Unauthorized => {
                state.unauthorized += 1;
                state.rate_limited = 0;
                (CircuitCause::Unauthorized, None)
            }
        };
        let failures = match cause {
            CircuitCause::Unauthorized => state.unauthorized,
            CircuitCause::RateLimited => state.rate_limited,
        };
        let cool_down = match (pass, &state.open) {
            // A failed probe: open again, for longer.
            (Pass::Probe, Some(open)) => (open.cool_down * 2).min(config.max_cool_down),
            // Calls that were in flight when it opened change nothing.
            (Pass::Closed, Some(_)) => return None,
            (_, None) => {
                let threshold = match cause {
                    CircuitCause::Unauthorized => config.unauthorized,
                    CircuitCause::RateLimited => config.rate_limited,
                };
                if failures < threshold.max(1) {
                    return None;
                }
                config.cool_down
            }
        };
        let wait = retry_after.map_or(cool_down, |r| r.max(cool_down));
        state.open = Some(Open {
            cause,
            said,
            failures,
            retry_at: now + wait,
            cool_down,
            probing: false,
        });
        Some(cause)
    }
}

/// A call that passed the circuit, until its outcome is recorded; a call dropped before that
/// (cancelled) counts as unanswered, so a probe never stays claimed.
pub(super) struct Unanswered<'a> {
    provider: ProviderKind,
    circuit: &'a Circuit,
    credential: u64,
    pass: Pass,
    done: bool,
}

impl<'a> Unanswered<'a> {
    pub(super) fn new(
        provider: ProviderKind,
        circuit: &'a Circuit,
        credential: u64,
        pass: Pass,
    ) -> Self {
        Self {
            provider,
            circuit,
            credential,
            pass,
            done: false,
        }
    }

    pub(super) fn record(&mut self, outcome: Outcome) {
        self.record_said(outcome, String::new());
    }

    /// Records the outcome with what the product said (redacted).
    pub(super) fn record_said(&mut self, outcome: Outcome, said: String) {
        self.done = true;
        let now = Instant::now();
        if let Some(cause) =
            self.circuit
                .record_said(self.credential, self.pass, outcome, said, now)
        {
            let why = match cause {
                CircuitCause::Unauthorized => "credentials rejected",
                CircuitCause::RateLimited => "rate limited",
            };
            tracing::warn!(provider = %self.provider, reason = why, "circuit opened for a credential: calls with it are refused until a probe succeeds");
        }
    }
}

impl Drop for Unanswered<'_> {
    fn drop(&mut self) {
        if !self.done {
            self.record(Outcome::NoAnswer);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: u64 = 7;

    fn circuit() -> Circuit {
        Circuit::new(CircuitConfig {
            unauthorized: 3,
            rate_limited: 4,
            cool_down: Duration::from_secs(60),
            max_cool_down: Duration::from_secs(150),
        })
    }

    fn fail(c: &Circuit, now: Instant, outcome: Outcome) -> Option<CircuitCause> {
        let pass = c.enter(KEY, now).expect("passes");
        c.record(KEY, pass, outcome, now)
    }

    #[test]
    fn three_401s_open_it_and_calls_fail_fast_until_the_cool_down() {
        let c = circuit();
        let t0 = Instant::now();
        assert_eq!(fail(&c, t0, Outcome::Unauthorized), None);
        assert_eq!(fail(&c, t0, Outcome::Unauthorized), None);
        assert_eq!(
            fail(&c, t0, Outcome::Unauthorized),
            Some(CircuitCause::Unauthorized)
        );
        let tripped = c.enter(KEY, t0 + Duration::from_secs(10)).unwrap_err();
        assert_eq!(
            tripped,
            Tripped {
                cause: CircuitCause::Unauthorized,
                failures: 3,
                retry_in: Duration::from_secs(50),
                said: String::new(),
            }
        );
        assert!(c.check(KEY, t0 + Duration::from_secs(59)).is_err());
    }

    #[test]
    fn any_other_answer_breaks_the_run() {
        let c = circuit();
        let t0 = Instant::now();
        fail(&c, t0, Outcome::Unauthorized);
        fail(&c, t0, Outcome::Unauthorized);
        fail(&c, t0, Outcome::Answered);
        fail(&c, t0, Outcome::Unauthorized);
        fail(&c, t0, Outcome::NoAnswer);
        assert_eq!(fail(&c, t0, Outcome::Unauthorized), None);
        assert_eq!(c.enter(KEY, t0), Ok(Pass::Closed));
    }

    #[test]
    fn half_open_lets_one_probe_through_and_success_closes() {
        let c = circuit();
        let t0 = Instant::now();
        for _ in 0..3 {
            fail(&c, t0, Outcome::Unauthorized);
        }
        let later = t0 + Duration::from_secs(60);
        assert_eq!(c.enter(KEY, later), Ok(Pass::Probe));
        // Only one probe at a time.
        assert_eq!(c.enter(KEY, later).unwrap_err().retry_in, WHILE_PROBING);
        assert_eq!(c.record(KEY, Pass::Probe, Outcome::Answered, later), None);
        assert_eq!(c.enter(KEY, later), Ok(Pass::Closed));
    }

    #[test]
    fn a_failed_probe_reopens_for_longer_up_to_the_cap() {
        let c = circuit();
        let mut now = Instant::now();
        for _ in 0..3 {
            fail(&c, now, Outcome::Unauthorized);
        }
        let mut waits = Vec::new();
        for _ in 0..3 {
            let retry_in = c.enter(KEY, now).unwrap_err().retry_in;
            waits.push(retry_in.as_secs());
            now += retry_in;
            assert_eq!(c.enter(KEY, now), Ok(Pass::Probe));
            c.record(KEY, Pass::Probe, Outcome::Unauthorized, now);
        }
        assert_eq!(waits, [60, 120, 150]);
    }

    #[test]
    fn a_probe_without_answer_is_tried_again_after_the_same_cool_down() {
        let c = circuit();
        let t0 = Instant::now();
        for _ in 0..3 {
            fail(&c, t0, Outcome::Unauthorized);
        }
        let t1 = t0 + Duration::from_secs(60);
        assert_eq!(c.enter(KEY, t1), Ok(Pass::Probe));
        c.record(KEY, Pass::Probe, Outcome::NoAnswer, t1);
        assert_eq!(
            c.enter(KEY, t1).unwrap_err().retry_in,
            Duration::from_secs(60)
        );
    }

    #[test]
    fn a_run_of_429s_opens_it_for_at_least_retry_after() {
        let c = circuit();
        let t0 = Instant::now();
        let limited = Outcome::RateLimited {
            retry_after: Some(Duration::from_secs(90)),
        };
        for _ in 0..3 {
            assert_eq!(fail(&c, t0, limited), None);
        }
        assert_eq!(fail(&c, t0, limited), Some(CircuitCause::RateLimited));
        let tripped = c.enter(KEY, t0).unwrap_err();
        assert_eq!(tripped.cause, CircuitCause::RateLimited);
        assert_eq!(tripped.retry_in, Duration::from_secs(90));
    }

    #[test]
    fn the_echoes_of_one_burst_count_once_and_do_not_break_the_run() {
        let c = circuit();
        let t0 = Instant::now();
        let limited = Outcome::RateLimited { retry_after: None };
        let echo = Outcome::RateLimitEcho { retry_after: None };
        // Four bursts of 429s, each seen by ten calls: four counted, so it opens on the fourth.
        for burst in 1..=4 {
            let opened = fail(&c, t0, limited);
            for _ in 0..9 {
                // Sent before the burst's first answer paused the credential.
                assert_eq!(c.record(KEY, Pass::Closed, echo, t0), None, "burst {burst}");
            }
            assert_eq!(opened, (burst == 4).then_some(CircuitCause::RateLimited));
        }
        assert_eq!(c.enter(KEY, t0).unwrap_err().failures, 4);
    }

    #[test]
    fn a_probe_answered_by_an_echo_failed() {
        let c = circuit();
        let t0 = Instant::now();
        for _ in 0..4 {
            fail(&c, t0, Outcome::RateLimited { retry_after: None });
        }
        let t1 = t0 + Duration::from_secs(60);
        assert_eq!(c.enter(KEY, t1), Ok(Pass::Probe));
        let echo = Outcome::RateLimitEcho { retry_after: None };
        assert_eq!(
            c.record(KEY, Pass::Probe, echo, t1),
            Some(CircuitCause::RateLimited)
        );
        assert_eq!(
            c.enter(KEY, t1).unwrap_err().retry_in,
            Duration::from_secs(120)
        );
    }

    #[test]
    fn new_credentials_start_closed_and_stale_answers_change_nothing() {
        let c = circuit();
        let t0 = Instant::now();
        for _ in 0..3 {
            fail(&c, t0, Outcome::Unauthorized);
        }
        assert!(c.enter(KEY, t0).is_err());
        // The Secret changed: a new fingerprint.
        assert_eq!(c.enter(KEY + 1, t0), Ok(Pass::Closed));
        // Answers to calls still in flight with the old credentials change nothing.
        for _ in 0..3 {
            assert_eq!(c.record(KEY, Pass::Closed, Outcome::Unauthorized, t0), None);
        }
        assert_eq!(c.enter(KEY + 1, t0), Ok(Pass::Closed));
    }
}
