//! Reading product answers: path segments, `Retry-After`, `X-Rate-Limit-*`, and the product's own
//! error text from the common JSON shapes.

use std::time::{Duration, SystemTime};

use http::header::{HeaderMap, RETRY_AFTER};

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

/// The longest `Retry-After` kept: a longer one is read as this long (the call is tried again
/// then and answered anew). Keeps every `Instant + Retry-After` in the stack and the controller's
/// requeue far from overflow, whatever the product sends.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);

/// `Retry-After` as seconds or an HTTP date, at most [`MAX_RETRY_AFTER`].
pub fn parse_retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    let wait = if let Ok(secs) = value.parse::<u64>() {
        Duration::from_secs(secs)
    } else {
        until(httpdate(value)?)
    };
    Some(wait.min(MAX_RETRY_AFTER))
}

/// The time from now until `at` (zero when past).
fn until(at: SystemTime) -> Duration {
    at.duration_since(SystemTime::now()).unwrap_or_default()
}

/// `seconds` as a duration, at most [`MAX_RETRY_AFTER`]; None for NaN.
fn seconds(seconds: f64) -> Option<Duration> {
    if seconds.is_nan() {
        return None;
    }
    Some(Duration::from_secs_f64(
        seconds.clamp(0.0, MAX_RETRY_AFTER.as_secs_f64()),
    ))
}

fn httpdate(value: &str) -> Option<SystemTime> {
    // RFC 7231 IMF-fixdate, e.g. "Sun, 06 Nov 1994 08:49:37 GMT".
    let ts: k8s_openapi::jiff::Timestamp = k8s_openapi::jiff::fmt::rfc2822::parse(value)
        .ok()?
        .timestamp();
    Some(SystemTime::from(ts))
}

/// How long to pause when `X-Rate-Limit-Remaining` is at or below 0: until `X-Rate-Limit-Reset`,
/// seconds from now, a Unix time when large, or a timestamp (RFC 3339, as ASP.NET rate limiters
/// send, or an HTTP date); at most [`MAX_RETRY_AFTER`]. A remaining count that is not a number
/// (NaN included) pauses nothing.
pub(super) fn exhausted_window_wait(headers: &HeaderMap) -> Option<Duration> {
    let get = |n: &str| headers.get(n).and_then(|v| v.to_str().ok()).map(str::trim);
    let remaining = get("x-rate-limit-remaining")?.parse::<f64>().ok()?;
    if remaining.is_nan() || remaining > 0.0 {
        return None;
    }
    let reset = get("x-rate-limit-reset")?;
    if let Ok(reset) = reset.parse::<f64>() {
        return if reset > 1e9 {
            let now = SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .unwrap_or_default();
            seconds(reset - now.as_secs_f64())
        } else {
            seconds(reset)
        };
    }
    let at = reset
        .parse::<k8s_openapi::jiff::Timestamp>()
        .ok()
        .map(SystemTime::from)
        .or_else(|| httpdate(reset))?;
    Some(until(at).min(MAX_RETRY_AFTER))
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

/// `s` cut to at most 500 bytes (on a character boundary), `…` marking a cut.
pub(super) fn truncate(mut s: String) -> String {
    if s.len() > 500 {
        s.truncate(s.floor_char_boundary(500));
        s.push('…');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::header::HeaderValue;

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

    #[test]
    fn waits_stay_bounded_whatever_the_headers_say() {
        let mut h = HeaderMap::new();
        // Once `Instant + Retry-After` overflowed in `send`.
        h.insert(
            RETRY_AFTER,
            HeaderValue::from_static("18446744073709551615"),
        );
        assert_eq!(parse_retry_after(&h), Some(MAX_RETRY_AFTER));
        h.insert(
            RETRY_AFTER,
            HeaderValue::from_static("Fri, 01 Jan 2100 00:00:00 GMT"),
        );
        assert_eq!(parse_retry_after(&h), Some(MAX_RETRY_AFTER));
        // Once panicked in `Duration::from_secs_f64`.
        for reset in ["1e300", "inf", "-inf", "NaN", "1e20"] {
            let mut h = HeaderMap::new();
            h.insert("x-rate-limit-remaining", HeaderValue::from_static("0"));
            h.insert("x-rate-limit-reset", HeaderValue::from_str(reset).unwrap());
            assert!(
                exhausted_window_wait(&h).is_none_or(|d| d <= MAX_RETRY_AFTER),
                "{reset}"
            );
        }
    }

    mod fuzz {
        use super::*;
        use crate::providers::fuzz::mutate;
        use crate::providers::fuzz::runner;
        use proptest::prelude::*;

        fn header(name: &'static str, value: &[u8]) -> Option<(&'static str, HeaderValue)> {
            HeaderValue::from_bytes(value).ok().map(|v| (name, v))
        }

        #[test]
        fn any_rate_limit_headers_give_a_bounded_wait() {
            let values = (
                mutate::header_value(),
                mutate::header_value(),
                mutate::header_value(),
            );
            runner(500)
                .run(&values, |(retry, remaining, reset)| {
                    let mut h = HeaderMap::new();
                    for (name, v) in [
                        header("retry-after", &retry),
                        header("x-rate-limit-remaining", &remaining),
                        header("x-rate-limit-reset", &reset),
                    ]
                    .into_iter()
                    .flatten()
                    {
                        h.insert(name, v);
                    }
                    let bounded = |d: Option<Duration>| d.is_none_or(|d| d <= MAX_RETRY_AFTER);
                    prop_assert!(bounded(parse_retry_after(&h)));
                    prop_assert!(bounded(exhausted_window_wait(&h)));
                    Ok(())
                })
                .unwrap();
        }

        #[test]
        fn any_error_body_gives_a_short_message() {
            let recorded = serde_json::json!({"message": "Validation Failed", "errors": [
                {"field": "name", "code": "blank", "message": "can't be blank"}, "bad user id",
                {"httpcode": 402, "message": "tier"}]});
            runner(300)
                .run(&mutate::mutation(), |m| {
                    let text = error_message(&mutate::apply(&recorded, &m));
                    prop_assert!(!text.is_empty());
                    prop_assert!(text.len() <= 500 + '…'.len_utf8(), "{} bytes", text.len());
                    Ok(())
                })
                .unwrap();
        }
    }
}
