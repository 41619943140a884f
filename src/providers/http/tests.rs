//! The stack end to end against the scripted server: what `send` and `Response::json` make of
//! answers no product should send.

use std::time::Duration;

use http::Method;
use serde_json::json;

use super::{MAX_RETRY_AFTER, Response};
use crate::crd::ProviderSettings;
use crate::providers::fuzz::Harness;
use crate::providers::fuzz::server::Answer;
use crate::providers::{Account, CircuitCause, Credentials, ErrorClass, Result};

fn send(h: &Harness, method: Method, answer: Answer) -> Result<Response> {
    h.server.script(move |_| answer.clone());
    send_scripted(h, method)
}

#[test]
fn a_huge_retry_after_is_capped_not_an_overflow() {
    let h = Harness::new();
    // `Retry-After: 18446744073709551615` once overflowed `Instant::now() + delay`.
    let answer = Answer::json(429, json!({"message": "slow down"}))
        .with_header("retry-after", b"18446744073709551615");
    let err = send(&h, Method::GET, answer).unwrap_err();
    assert_eq!(err.class(), ErrorClass::RateLimited(Some(MAX_RETRY_AFTER)));
}

#[test]
fn a_huge_rate_limit_reset_pauses_within_bounds() {
    let h = Harness::new();
    // `X-Rate-Limit-Reset: 1e300` once panicked in `Duration::from_secs_f64`.
    let answer = Answer::json(200, json!({}))
        .with_header("x-rate-limit-remaining", b"0")
        .with_header("x-rate-limit-reset", b"1e300");
    send(&h, Method::GET, answer).expect("the answer itself is fine");
}

#[test]
fn a_success_cut_short_is_a_transport_failure_not_an_empty_body() {
    let h = Harness::new();
    let mut answer = Answer::json(200, json!({"data": {"name": "x"}}));
    answer.cut = Some(5);
    let err = send(&h, Method::GET, answer).unwrap_err();
    assert_eq!(err.status(), None, "{err}");
    assert_eq!(err.class(), ErrorClass::ProviderUnavailable, "{err}");
    // An error status keeps its status even when its text is cut.
    let mut answer = Answer::json(404, json!({"message": "not found"}));
    answer.cut = Some(3);
    assert!(send(&h, Method::GET, answer).unwrap_err().is_not_found());
}

#[test]
fn an_unreadable_success_is_an_unknown_outcome_after_a_write_only() {
    let h = Harness::new();
    let garbage = || Answer {
        body: b"<html>502</html>".to_vec(),
        ..Answer::empty(200)
    };
    let read = send(&h, Method::GET, garbage()).unwrap();
    let err = read.json::<serde_json::Value>().unwrap_err();
    assert_eq!(err.class(), ErrorClass::ProviderUnavailable, "{err}");
    assert!(err.to_string().contains("HTTP 200"), "{err}");
    let write = send(&h, Method::POST, garbage()).unwrap();
    let err = write.json::<serde_json::Value>().unwrap_err();
    assert_eq!(err.class(), ErrorClass::UnknownOutcome, "{err}");
}

#[test]
fn repeated_401s_open_the_circuit_of_those_credentials_only() {
    let h = Harness::new();
    h.server
        .script(|_| Answer::json(401, json!({"message": "invalid key revoked-key-1"})));
    let key = h.key();
    let call = |secret: &str| {
        let credentials = Credentials::new([("apiKey".to_string(), secret.to_string())]);
        let account = Account::of::<crate::providers::statsig::Statsig>(
            &h.server.base,
            ProviderSettings::default(),
            credentials,
            key.clone(),
        );
        h.rt.block_on(async {
            let call = h
                .http
                .request(&account, "get role", Method::GET, "/x")
                .send();
            tokio::time::timeout(Duration::from_secs(10), call)
                .await
                .expect("send returns")
                .unwrap_err()
        })
    };
    for _ in 0..3 {
        assert_eq!(
            call("revoked-key-1").class(),
            ErrorClass::CredentialsRejected
        );
    }
    let refused = call("revoked-key-1");
    assert!(
        matches!(refused.class(), ErrorClass::CircuitOpen { cause: CircuitCause::Unauthorized, retry_in }
            if retry_in > Duration::from_secs(50)),
        "{refused:?}"
    );
    let text = refused.to_string();
    assert!(
        text.contains("circuit") && !text.contains("revoked-key-1"),
        "{text}"
    );
    assert!(
        text.contains("the last said: invalid key <redacted>"),
        "{text}"
    );
    assert_eq!(h.server.requests().len(), 3, "the refused call never left");
    // A changed Secret is new credentials: its circuit starts closed.
    assert_eq!(
        call("rotated-key-2").class(),
        ErrorClass::CredentialsRejected
    );
    assert_eq!(h.server.requests().len(), 4);
}

#[test]
fn a_run_of_429s_opens_the_circuit_without_spending_more_calls() {
    let plain = Answer::json(429, json!({"message": "slow down"})).with_header("retry-after", b"0");
    // ConfigCat's shape: the window's own headers say it is spent (and pause the credential).
    let window = plain
        .clone()
        .with_header("x-rate-limit-remaining", b"0")
        .with_header("x-rate-limit-reset", b"0.05");
    for answer in [plain, window] {
        a_run_of_429s_opens_the_circuit(answer);
    }
}

fn a_run_of_429s_opens_the_circuit(answer: Answer) {
    // Waits out the short pauses inside the call, so each call tries four times.
    let h = Harness::with(|c| c.max_inline_wait = Duration::from_secs(1));
    h.server.script(move |_| answer.clone());
    let account = Account::of::<crate::providers::statsig::Statsig>(
        &h.server.base,
        ProviderSettings::default(),
        Credentials::default(),
        h.key(),
    );
    let call = || {
        h.rt.block_on(async {
            let call = h
                .http
                .request(&account, "list roles", Method::GET, "/x")
                .send();
            tokio::time::timeout(Duration::from_secs(10), call)
                .await
                .expect("send returns")
                .unwrap_err()
        })
    };
    // Each call tries 4 times (Retry-After 0 is waited out inside it); two calls make 8 in a row.
    for _ in 0..2 {
        let err = call();
        assert!(matches!(err.class(), ErrorClass::RateLimited(_)), "{err}");
    }
    assert_eq!(h.server.requests().len(), 8);
    let err = call();
    assert!(
        matches!(
            err.class(),
            ErrorClass::CircuitOpen {
                cause: CircuitCause::RateLimited,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("8 consecutive HTTP 429"), "{err}");
    assert_eq!(h.server.requests().len(), 8, "refused without a call");
}

/// Answers 503 to the first `failures` requests and 200 after.
fn flaky(h: &Harness, failures: usize) {
    let seen = std::sync::atomic::AtomicUsize::new(0);
    h.server.script(move |_| {
        if seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst) < failures {
            Answer::json(503, json!({"message": "try again"}))
        } else {
            Answer::json(200, json!({}))
        }
    });
}

fn send_scripted(h: &Harness, method: Method) -> Result<Response> {
    send_built(h, method, |r| r)
}

/// Sends a request to the scripted server, as `build` finishes it.
fn send_built(
    h: &Harness,
    method: Method,
    build: impl FnOnce(super::Request<'_>) -> super::Request<'_>,
) -> Result<Response> {
    let account = Account::of::<crate::providers::statsig::Statsig>(
        &h.server.base,
        ProviderSettings::default(),
        Credentials::default(),
        h.key(),
    );
    h.rt.block_on(async {
        let call = build(h.http.request(&account, "op", method, "/x")).send();
        tokio::time::timeout(Duration::from_secs(10), call)
            .await
            .expect("send returns")
    })
}

#[test]
fn calls_are_sent_again_after_a_transient_failure_only_when_that_cannot_apply_twice() {
    let h = Harness::new();
    for method in [Method::GET, Method::PUT, Method::PATCH, Method::DELETE] {
        flaky(&h, 2);
        send_scripted(&h, method.clone()).expect("the third attempt succeeds");
        assert_eq!(h.server.requests().len(), 3, "{method}");
        // Two retries at most: a third failure is the caller's.
        flaky(&h, 3);
        let err = send_scripted(&h, method.clone()).unwrap_err();
        assert_eq!(err.status(), Some(503), "{method}");
        assert_eq!(h.server.requests().len(), 3, "{method}");
    }
    // A write the product may have applied (500, or SlashID's 408) is re-observed, not resent.
    for status in [500, 408] {
        h.server
            .script(move |_| Answer::json(status, json!({"message": "maybe"})));
        let err = send_scripted(&h, Method::PATCH).unwrap_err();
        assert_eq!(err.status(), Some(status));
        assert_eq!(h.server.requests().len(), 1, "PATCH after {status}");
    }
    // A create may have been applied: the controller's create protocol finds out, not a resend.
    flaky(&h, 1);
    let err = send_scripted(&h, Method::POST).unwrap_err();
    assert_eq!(err.class(), ErrorClass::ProviderUnavailable);
    assert_eq!(h.server.requests().len(), 1);
    // Unless the product refuses a repeat (409), which its caller handles.
    flaky(&h, 1);
    send_built(&h, Method::POST, |r| r.refused_if_repeated()).expect("sent again after the 503");
    assert_eq!(h.server.requests().len(), 2);
}
