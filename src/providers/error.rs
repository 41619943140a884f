//! Provider errors: the product's HTTP status, message and Retry-After kept as data, and a class
//! that tells the controller how to report and when to retry.

use std::time::Duration;

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
}

impl Error {
    pub fn class(&self) -> ErrorClass {
        match self {
            Error::InvalidSpec(_) => ErrorClass::InvalidSpec,
            Error::DependencyNotReady(_) => ErrorClass::DependencyNotReady,
            Error::AlreadyExists(_) => ErrorClass::AlreadyExists,
            Error::UnknownOutcome(_) => ErrorClass::UnknownOutcome,
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
