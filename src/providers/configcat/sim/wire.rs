//! How the simulated ConfigCat talks HTTP: Basic auth against the configured credentials (401
//! otherwise), failures as status and plain text, and the `X-Rate-Limit-Remaining` /
//! `X-Rate-Limit-Reset` headers on every API answer.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::Response;

use super::ConfigCatSim;
use crate::sim::authorization;

/// Reported as the remaining budget when no rate-limit fault is set (nothing is enforced then).
const NOMINAL_REMAINING: u32 = 1000;
const NOMINAL_WINDOW: Duration = Duration::from_secs(60);

/// A failed call: status and ConfigCat's plain-text message.
pub(super) type Failure = (StatusCode, String);

pub(super) fn fail(status: StatusCode, text: impl Into<String>) -> Failure {
    (status, text.into())
}

pub(super) fn bad_request() -> Failure {
    fail(StatusCode::BAD_REQUEST, "Bad request.")
}

fn base64(input: &[u8]) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in input.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ABC[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Basic auth against the configured credentials; 401 names neither.
pub(super) fn authorize(sim: &ConfigCatSim, headers: &HeaderMap) -> Result<(), Failure> {
    let (user, password) = &sim.credentials;
    let expected = base64(format!("{user}:{password}").as_bytes());
    match authorization(headers) {
        Some((scheme, sent)) if scheme.eq_ignore_ascii_case("basic") && sent == expected => Ok(()),
        _ => Err(fail(
            StatusCode::UNAUTHORIZED,
            "Unauthorized. Check your Public API credentials.",
        )),
    }
}

/// What the rate-limit headers say now: requests left and when the window resets.
fn rate_window(sim: &ConfigCatSim) -> (u32, SystemTime) {
    match sim.traffic.budget_left() {
        Some((remaining, left)) => (remaining, SystemTime::now() + left),
        None => (NOMINAL_REMAINING, SystemTime::now() + NOMINAL_WINDOW),
    }
}

/// `X-Rate-Limit-Reset` text: the reset time rounded up to the millisecond, in ISO 8601 UTC.
fn reset_header(at: SystemTime) -> String {
    let since = at
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    let millis = since.as_nanos().div_ceil(1_000_000) as i64;
    k8s_openapi::jiff::Timestamp::from_millisecond(millis)
        .map(|t| format!("{t:.7}"))
        .unwrap_or_default()
}

/// Adds the rate-limit headers to every answer but the admin routes'.
pub(super) async fn rate_limit_headers(
    State(sim): State<Arc<ConfigCatSim>>,
    request: Request,
    next: Next,
) -> Response {
    let admin = request.uri().path().starts_with("/_admin");
    let mut response = next.run(request).await;
    if !admin {
        let (remaining, reset) = rate_window(&sim);
        let headers = response.headers_mut();
        headers.insert("x-rate-limit-remaining", remaining.into());
        if let Ok(v) = reset_header(reset).parse() {
            headers.insert("x-rate-limit-reset", v);
        }
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc_4648_vectors() {
        for (plain, encoded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(plain.as_bytes()), encoded);
        }
    }

    #[test]
    fn reset_header_is_iso_8601_rounded_up_to_the_millisecond() {
        let at = SystemTime::UNIX_EPOCH + Duration::from_nanos(1_700_000_000_123_000_001);
        assert_eq!(reset_header(at), "2023-11-14T22:13:20.1240000Z");
    }
}
