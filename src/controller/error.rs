//! Controller errors: each knows its `Synced` reason and how soon to retry.

use std::time::Duration;

use super::decide::Failure;
use crate::providers::{self, CircuitCause, ErrorClass};

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Reasons written to `Synced` (and `Ready` when False) and used as Event reasons.
pub mod reason {
    pub const RECONCILE_SUCCESS: &str = "ReconcileSuccess";
    pub const AVAILABLE: &str = "Available";
    pub const CREATING: &str = "Creating";
    pub const DELETING: &str = "Deleting";
    pub const DRIFTED: &str = "Drifted";
    pub const IN_USE: &str = "InUse";
    pub const INVALID_SPEC: &str = "InvalidSpec";
    pub const PROVIDER_CONFIG_NOT_FOUND: &str = "ProviderConfigNotFound";
    pub const NAMESPACE_NOT_ALLOWED: &str = "NamespaceNotAllowed";
    pub const CREDENTIALS_MISSING: &str = "CredentialsMissing";
    pub const CREDENTIALS_REJECTED: &str = "CredentialsRejected";
    pub const ALREADY_EXISTS: &str = "AlreadyExists";
    pub const AMBIGUOUS_EXTERNAL_OBJECT: &str = "AmbiguousExternalObject";
    pub const DEPENDENCY_NOT_READY: &str = "DependencyNotReady";
    pub const RATE_LIMITED: &str = "RateLimited";
    pub const PROVIDER_UNAVAILABLE: &str = "ProviderUnavailable";
    pub const PROVIDER_REJECTED: &str = "ProviderRejected";
    pub const KUBERNETES_ERROR: &str = "KubernetesError";
    pub const POLICY_DENIED: &str = "PolicyDenied";
    pub const INTERNAL_ERROR: &str = "InternalError";
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    InvalidSpec(String),
    #[error("{0}")]
    ProviderConfigNotFound(String),
    #[error("{0}")]
    NamespaceNotAllowed(String),
    #[error("{0}")]
    CredentialsMissing(String),
    #[error("{0}")]
    AmbiguousExternalObject(String),
    #[error("{0}")]
    InUse(String),
    /// The spec grants more than a RoleplanePolicy of its namespace allows.
    #[error("{0}")]
    PolicyDenied(String),
    #[error(transparent)]
    Provider(#[from] providers::Error),
    #[error("kubernetes API: {0}")]
    Kube(#[from] kube::Error),
    /// A reconcile panicked (a bug in Roleplane): reported, retried with back-off, and never
    /// the end of the controller that ran it.
    #[error("internal error in Roleplane (please report it): {0}; retrying with back-off")]
    Internal(String),
}

impl From<Failure> for Error {
    fn from(failure: Failure) -> Self {
        match failure {
            Failure::Missing(m) => Error::Provider(providers::Error::DependencyNotReady(m)),
            Failure::AlreadyExists(m) => Error::Provider(providers::Error::AlreadyExists(m)),
            Failure::Ambiguous(m) => Error::AmbiguousExternalObject(m),
        }
    }
}

/// When to try again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Retry {
    /// Only on a change (spec, config, Secret) or at the poll interval.
    OnChange,
    /// After a fixed delay (Retry-After, credential back-off).
    After(Duration),
    /// Exponential back-off with jitter.
    Backoff,
    /// Soon: the outcome of a write is unknown.
    Soon,
}

/// Credentials the product rejected are retried after this long (or on a Secret change).
pub const CREDENTIALS_BACKOFF: Duration = Duration::from_secs(300);

impl Error {
    /// How long the credential's budget has no room, when that is all that stopped the
    /// reconcile: it is requeued for then, not reported (no status write, no back-off).
    pub fn budget_wait(&self) -> Option<Duration> {
        match self {
            Error::Provider(providers::Error::BudgetWait(b)) => Some(b.wait),
            _ => None,
        }
    }

    pub fn reason(&self) -> &'static str {
        use reason::*;
        match self {
            Error::InvalidSpec(_) => INVALID_SPEC,
            Error::ProviderConfigNotFound(_) => PROVIDER_CONFIG_NOT_FOUND,
            Error::NamespaceNotAllowed(_) => NAMESPACE_NOT_ALLOWED,
            Error::CredentialsMissing(_) => CREDENTIALS_MISSING,
            Error::AmbiguousExternalObject(_) => AMBIGUOUS_EXTERNAL_OBJECT,
            Error::InUse(_) => IN_USE,
            Error::PolicyDenied(_) => POLICY_DENIED,
            Error::Kube(_) => KUBERNETES_ERROR,
            Error::Internal(_) => INTERNAL_ERROR,
            Error::Provider(e) => match e.class() {
                ErrorClass::InvalidSpec => INVALID_SPEC,
                ErrorClass::DependencyNotReady => DEPENDENCY_NOT_READY,
                ErrorClass::AlreadyExists => ALREADY_EXISTS,
                ErrorClass::CredentialsRejected => CREDENTIALS_REJECTED,
                ErrorClass::RateLimited(_) => RATE_LIMITED,
                ErrorClass::ProviderUnavailable | ErrorClass::UnknownOutcome => {
                    PROVIDER_UNAVAILABLE
                }
                ErrorClass::ProviderRejected => PROVIDER_REJECTED,
                // The cause's own reason; the message says the circuit is open.
                ErrorClass::CircuitOpen { cause, .. } => match cause {
                    CircuitCause::Unauthorized => CREDENTIALS_REJECTED,
                    CircuitCause::RateLimited => RATE_LIMITED,
                },
            },
        }
    }

    pub fn retry(&self) -> Retry {
        match self {
            Error::InvalidSpec(_)
            | Error::ProviderConfigNotFound(_)
            | Error::NamespaceNotAllowed(_)
            | Error::CredentialsMissing(_)
            | Error::AmbiguousExternalObject(_)
            | Error::PolicyDenied(_) => Retry::OnChange,
            Error::InUse(_) => Retry::After(Duration::from_secs(10)),
            Error::Kube(_) | Error::Internal(_) => Retry::Backoff,
            Error::Provider(e) => match e.class() {
                ErrorClass::InvalidSpec
                | ErrorClass::AlreadyExists
                | ErrorClass::ProviderRejected => Retry::OnChange,
                ErrorClass::CredentialsRejected => Retry::After(CREDENTIALS_BACKOFF),
                ErrorClass::RateLimited(after) => {
                    Retry::After(after.unwrap_or(Duration::from_secs(30)))
                }
                ErrorClass::DependencyNotReady | ErrorClass::ProviderUnavailable => Retry::Backoff,
                ErrorClass::UnknownOutcome => Retry::Soon,
                // When the probe is due (a changed Secret reconciles at once anyway).
                ErrorClass::CircuitOpen { retry_in, .. } => {
                    Retry::After(retry_in.max(Duration::from_secs(1)))
                }
            },
        }
    }

    /// Whether a failed create certainly did not happen (so the create intent can be dropped).
    /// A wait for the budget never says so: a product's create may make several calls, and the
    /// wait may come after the one that created (keeping the intent is always safe: the next
    /// look finds the object, or nothing, and goes on from there).
    pub fn create_certainly_failed(&self) -> bool {
        match self {
            Error::Provider(providers::Error::BudgetWait(_)) => false,
            Error::Provider(e) => matches!(
                e.class(),
                ErrorClass::InvalidSpec
                    | ErrorClass::AlreadyExists
                    | ErrorClass::ProviderRejected
                    | ErrorClass::CredentialsRejected
                    | ErrorClass::RateLimited(_)
                    | ErrorClass::DependencyNotReady
                    | ErrorClass::CircuitOpen { .. }
            ),
            _ => false,
        }
    }
}

/// Exponential back-off for the `n`th consecutive failure: 1 s doubling to 5 min, ±20 % jitter.
/// (Transient failures of idempotent calls are already retried inside the call; what reaches
/// here is a whole reconcile failing, often on a create, which a product failing at random
/// passes on the next try or the one after.)
pub fn backoff(failures: u32) -> Duration {
    let base = 2f64.powi(failures.min(10) as i32);
    let capped = base.min(300.0);
    Duration::from_secs_f64(capped * rand::random_range(0.8..1.2))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crd::ProviderKind;
    use crate::providers::ApiError;

    /// Any product will do: the handling of an answer does not depend on which one it is.
    fn product() -> ProviderKind {
        ProviderKind::ALL[0]
    }

    fn api(status: u16, retry_after: Option<Duration>) -> Error {
        Error::Provider(providers::Error::Api(ApiError {
            provider: product(),
            operation: "get role",
            status: Some(status),
            message: String::new(),
            retry_after,
        }))
    }

    #[test]
    fn a_budget_wait_never_says_a_create_failed() {
        // It may come after the call that created (a read-back): the intent must stay.
        let wait = Error::Provider(providers::Error::BudgetWait(providers::BudgetWait {
            provider: product(),
            operation: "get role",
            wait: Duration::from_secs(3),
        }));
        assert!(!wait.create_certainly_failed());
        assert!(api(429, None).create_certainly_failed());
        let after = providers::Error::Api(ApiError {
            provider: product(),
            operation: "get role",
            status: Some(429),
            message: String::new(),
            retry_after: None,
        })
        .after_create(product(), "create role");
        assert!(!Error::Provider(after).create_certainly_failed());
    }

    #[test]
    fn every_failure_has_a_reason_and_no_hot_retry() {
        assert_eq!(api(401, None).reason(), "CredentialsRejected");
        assert_eq!(api(401, None).retry(), Retry::After(CREDENTIALS_BACKOFF));
        assert_eq!(
            api(429, Some(Duration::from_secs(7))).retry(),
            Retry::After(Duration::from_secs(7))
        );
        assert_eq!(api(503, None).retry(), Retry::Backoff);
        assert_eq!(api(400, None).reason(), "ProviderRejected");
        assert_eq!(api(400, None).retry(), Retry::OnChange);
        assert_eq!(Error::InvalidSpec("x".into()).retry(), Retry::OnChange);
        assert_eq!(
            Error::NamespaceNotAllowed("x".into()).reason(),
            "NamespaceNotAllowed"
        );
    }

    #[test]
    fn an_open_circuit_keeps_its_cause_and_waits_for_the_probe() {
        let open = |cause| {
            Error::Provider(providers::Error::CircuitOpen(providers::CircuitOpen {
                provider: product(),
                operation: "get role",
                cause,
                failures: 3,
                retry_at: std::time::SystemTime::now() + Duration::from_secs(120),
                said: "invalid key".into(),
            }))
        };
        let revoked = open(CircuitCause::Unauthorized);
        assert_eq!(revoked.reason(), "CredentialsRejected");
        let Retry::After(wait) = revoked.retry() else {
            panic!("{:?}", revoked.retry())
        };
        assert!(wait > Duration::from_secs(110) && wait <= Duration::from_secs(120));
        assert!(revoked.create_certainly_failed(), "never sent");
        let text = revoked.to_string();
        assert!(
            text.contains("circuit for these credentials is open"),
            "{text}"
        );
        assert!(text.contains("3 consecutive HTTP 401"), "{text}");
        assert!(text.contains("(the last said: invalid key)"), "{text}");
        assert!(text.contains("probe call is let through at 20"), "{text}");
        assert_eq!(open(CircuitCause::RateLimited).reason(), "RateLimited");
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        assert!(
            backoff(0) >= Duration::from_millis(800) && backoff(0) <= Duration::from_millis(1200)
        );
        assert!(backoff(3) >= Duration::from_secs(6));
        assert!(backoff(30) <= Duration::from_secs(360));
    }

    #[test]
    fn unknown_outcome_keeps_the_create_intent() {
        let unknown = Error::Provider(providers::Error::UnknownOutcome(ApiError {
            provider: product(),
            operation: "create role",
            status: Some(408),
            message: String::new(),
            retry_after: None,
        }));
        assert!(!unknown.create_certainly_failed());
        assert!(!api(503, None).create_certainly_failed());
        assert!(api(400, None).create_certainly_failed());
    }
}
