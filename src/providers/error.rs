//! Provider errors: the product's HTTP status, message and Retry-After kept as data, and a class
//! that tells the controller how to report and when to retry.

use std::time::{Duration, SystemTime};

use crate::crd::ProviderKind;

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A failed product call. `message` is already redacted.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{provider} {operation}: {}{message}", status.map(|s| format!("HTTP {s}: ")).unwrap_or_default())]
pub struct ApiError {
    pub provider: ProviderKind,
    pub operation: &'static str,
    /// HTTP status; None for transport failures and timeouts.
    pub status: Option<u16>,
    pub message: String,
    pub retry_after: Option<Duration>,
}

/// Why a credential's circuit is open.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CircuitCause {
    /// The product answered 401 again and again: the credentials are rejected.
    Unauthorized,
    /// The product answered 429 again and again.
    RateLimited,
}

impl std::fmt::Display for CircuitCause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            CircuitCause::Unauthorized => "HTTP 401 (credentials rejected)",
            CircuitCause::RateLimited => "HTTP 429 (rate limited)",
        })
    }
}

/// A call not sent: the credential's circuit is open (see `http::CircuitConfig`).
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error(
    "{provider} {operation}: not sent: the circuit for these credentials is open after \
     {failures} consecutive {cause} answers{}; one probe call is let through at {}, or at once \
     when the credentials Secret changes",
    said_text(said),
    retry_at_text(*retry_at)
)]
pub struct CircuitOpen {
    pub provider: ProviderKind,
    pub operation: &'static str,
    pub cause: CircuitCause,
    pub failures: u32,
    /// When the probe is let through, as wall-clock time (stable across reconciles).
    pub retry_at: SystemTime,
    /// What the product said in the last of those answers (redacted).
    pub said: String,
}

impl CircuitOpen {
    /// The time left until the probe (zero when due).
    pub fn retry_in(&self) -> Duration {
        self.retry_at
            .duration_since(SystemTime::now())
            .unwrap_or_default()
    }
}

/// The product's last words, when it said any.
fn said_text(said: &str) -> String {
    if said.is_empty() {
        String::new()
    } else {
        format!(" (the last said: {said})")
    }
}

/// `retry_at` in RFC 3339 UTC, to the second.
fn retry_at_text(at: SystemTime) -> String {
    let secs = at
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    k8s_openapi::jiff::Timestamp::from_second(secs)
        .map(|t| t.to_string())
        .unwrap_or_default()
}

/// A call not sent yet: the credential's budget (its windows, or a pause after a 429) has no
/// room for longer than a call waits inline. The caller retries after `wait`.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error(
    "{provider} {operation}: not sent yet: the request budget of these credentials has room \
     again in {}s",
    wait.as_secs().max(1)
)]
pub struct BudgetWait {
    pub provider: ProviderKind,
    pub operation: &'static str,
    pub wait: Duration,
}

#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum Error {
    /// The desired state cannot be sent (found before or by the product's own catalogue).
    #[error("{0}")]
    InvalidSpec(String),
    /// Something the object needs does not exist yet (a product, a permission set, ...).
    #[error("{0}")]
    DependencyNotReady(String),
    /// A same-named object exists that Roleplane did not create.
    #[error("{0}")]
    AlreadyExists(String),
    /// The product may or may not have applied a write (SlashID 408): re-observe before acting.
    #[error("{0} (outcome unknown; will re-read)")]
    UnknownOutcome(ApiError),
    /// Not sent: the credential's circuit is open.
    #[error(transparent)]
    CircuitOpen(#[from] CircuitOpen),
    /// Not sent yet: the credential's budget has no room for a while.
    #[error(transparent)]
    BudgetWait(#[from] BudgetWait),
    /// Any other product answer, classified by status.
    #[error(transparent)]
    Api(#[from] ApiError),
}

/// How the controller treats an error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorClass {
    InvalidSpec,
    DependencyNotReady,
    AlreadyExists,
    CredentialsRejected,
    RateLimited(Option<Duration>),
    ProviderUnavailable,
    ProviderRejected,
    UnknownOutcome,
    /// Not sent: the credential's circuit is open for `cause`; a probe is due in `retry_in`.
    CircuitOpen {
        cause: CircuitCause,
        retry_in: Duration,
    },
}

impl Error {
    pub fn class(&self) -> ErrorClass {
        match self {
            Error::InvalidSpec(_) => ErrorClass::InvalidSpec,
            Error::DependencyNotReady(_) => ErrorClass::DependencyNotReady,
            Error::AlreadyExists(_) => ErrorClass::AlreadyExists,
            Error::UnknownOutcome(_) => ErrorClass::UnknownOutcome,
            Error::CircuitOpen(e) => ErrorClass::CircuitOpen {
                cause: e.cause,
                retry_in: e.retry_in(),
            },
            Error::BudgetWait(e) => ErrorClass::RateLimited(Some(e.wait)),
            Error::Api(e) => match e.status {
                Some(401 | 403) => ErrorClass::CredentialsRejected,
                Some(429) => ErrorClass::RateLimited(e.retry_after),
                // 2xx: a success whose answer could not be used (after a read; see
                // `http::Response::unexpected`): the product's fault, and it may pass.
                Some(408) | Some(200..=299) | Some(500..) | None => ErrorClass::ProviderUnavailable,
                Some(_) => ErrorClass::ProviderRejected,
            },
        }
    }

    /// The error of a call made after the product accepted a create (a read-back, a lookup of
    /// the new id): the object exists whatever this says, so the create must not read as
    /// certainly failed. A product answer becomes an unknown outcome (the controller keeps its
    /// create intent and adopts the object at its next look); a wait for the budget stays one.
    pub fn after_create(self, provider: ProviderKind, operation: &'static str) -> Error {
        match self {
            Error::Api(api) => Error::UnknownOutcome(api),
            Error::CircuitOpen(e) => Error::UnknownOutcome(ApiError {
                provider,
                operation,
                status: None,
                message: e.to_string(),
                retry_after: None,
            }),
            other => other,
        }
    }

    /// The product's HTTP status, when there is one.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Api(e) | Error::UnknownOutcome(e) => e.status,
            _ => None,
        }
    }

    pub fn is_not_found(&self) -> bool {
        self.status() == Some(404)
    }
}

/// A read's result with "not found" (404) as `None`: the object does not exist.
pub fn found<T>(result: Result<T>) -> Result<Option<T>> {
    match result {
        Ok(object) => Ok(Some(object)),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e),
    }
}

/// A delete's result with "not found" (404) as done: the object is gone either way.
pub fn gone(result: Result<()>) -> Result<()> {
    match result {
        Err(e) if e.is_not_found() => Ok(()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(status: Option<u16>) -> Error {
        Error::Api(ApiError {
            provider: ProviderKind::Statsig,
            operation: "create role",
            status,
            message: "nope".into(),
            retry_after: Some(Duration::from_secs(3)),
        })
    }

    #[test]
    fn statuses_map_to_classes() {
        assert_eq!(api(Some(401)).class(), ErrorClass::CredentialsRejected);
        assert_eq!(api(Some(403)).class(), ErrorClass::CredentialsRejected);
        assert_eq!(
            api(Some(429)).class(),
            ErrorClass::RateLimited(Some(Duration::from_secs(3)))
        );
        assert_eq!(api(Some(503)).class(), ErrorClass::ProviderUnavailable);
        assert_eq!(api(None).class(), ErrorClass::ProviderUnavailable);
        assert_eq!(api(Some(400)).class(), ErrorClass::ProviderRejected);
        assert_eq!(api(Some(422)).class(), ErrorClass::ProviderRejected);
    }

    #[test]
    fn message_names_product_operation_and_status() {
        assert_eq!(
            api(Some(400)).to_string(),
            "statsig create role: HTTP 400: nope"
        );
        assert_eq!(api(None).to_string(), "statsig create role: nope");
    }
}
