//! The ConfigCat provider's failures against the simulator: unknown products and environments,
//! wrong credentials, 5xx, 429 with Retry-After, and the rate-limit headers feeding the budget.

use std::time::{Duration, Instant};

use roleplane::providers::ErrorClass;
use roleplane::sim::{Faults, RateLimit};
use serde_json::json;

use super::provider::{PASSWORD, USER, account, fixture, target};

#[tokio::test]
async fn configcat_unknown_product_is_a_missing_dependency_naming_it_after_one_call() {
    let f = fixture().await;
    let missing = "0badc0de-0000-4000-8000-000000000000";
    for extra in [json!({}), json!({"accessType": "full"})] {
        f.sim.configcat.traffic.clear_requests();
        let mut spec = f.spec(extra);
        spec.product_id = missing.into();
        let t = target("Developers", &spec);
        let err = f.providers.create(&f.account, &t).await.unwrap_err();
        assert_eq!(err.class(), ErrorClass::DependencyNotReady, "{err}");
        let text = err.to_string();
        assert!(
            text.contains(missing) && text.contains("HTTP 404"),
            "{text}"
        );
        assert_eq!(f.statuses(), vec![404], "one call, no retries");
        let err = f.providers.list(&f.account, &t).await.unwrap_err();
        assert_eq!(err.class(), ErrorClass::DependencyNotReady);
    }
}

#[tokio::test]
async fn configcat_listed_environment_missing_from_the_product_is_a_missing_dependency() {
    let f = fixture().await;
    let spec = f.custom();
    assert!(f.sim.configcat.remove_environment(&f.prod));
    let err = f
        .providers
        .create(&f.account, &target("Developers", &spec))
        .await
        .unwrap_err();
    assert_eq!(err.class(), ErrorClass::DependencyNotReady);
    assert!(err.to_string().contains(&f.prod), "{err}");
    assert!(f.sim.configcat.groups().is_empty(), "nothing written");
}

#[tokio::test]
async fn configcat_wrong_credentials_are_rejected_without_the_secret_in_the_message() {
    let f = fixture().await;
    let password = "wrong-password-s3cr3t";
    let bad = account(&f.base, USER, password);
    let err = f.providers.check_access(&bad).await.unwrap_err();
    assert_eq!(err.class(), ErrorClass::CredentialsRejected);
    let text = err.to_string();
    assert!(
        text.contains("HTTP 401") && !text.contains(password),
        "{text}"
    );
    let spec = f.custom();
    let err = f
        .providers
        .create(&bad, &target("Developers", &spec))
        .await
        .unwrap_err();
    assert_eq!(err.class(), ErrorClass::CredentialsRejected);
    assert!(!err.to_string().contains(password));
    f.providers.check_access(&f.account).await.unwrap();
    // After a rotation the old password stops working.
    f.sim.configcat.set_credentials(USER, "rotated-password");
    assert_eq!(
        f.providers
            .check_access(&f.account)
            .await
            .unwrap_err()
            .class(),
        ErrorClass::CredentialsRejected
    );
}

#[tokio::test]
async fn configcat_5xx_is_provider_unavailable() {
    let f = fixture().await;
    f.sim.configcat.traffic.set_faults(Faults {
        fail_next: [503].into(),
        ..Default::default()
    });
    let spec = f.custom();
    let err = f
        .providers
        .observe(&f.account, &target("Developers", &spec), "1")
        .await
        .unwrap_err();
    assert_eq!(err.class(), ErrorClass::ProviderUnavailable);
}

#[tokio::test]
async fn configcat_429_with_retry_after_is_waited_out() {
    let f = fixture().await;
    f.sim.configcat.traffic.set_faults(Faults {
        rate_limit: Some(RateLimit {
            requests: 1,
            window_seconds: 2,
            retry_after_seconds: Some(1),
        }),
        ..Default::default()
    });
    // Another client spends the window without reading the headers.
    let raw = reqwest::Client::new();
    let r = raw
        .get(format!("{}/configcat/v1/me", f.base))
        .basic_auth(USER, Some(PASSWORD))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let started = Instant::now();
    f.providers.check_access(&f.account).await.unwrap();
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "{:?}",
        started.elapsed()
    );
    let statuses = f.statuses();
    assert_eq!(statuses[1], 429);
    assert_eq!(*statuses.last().unwrap(), 200);
}

#[tokio::test]
async fn configcat_rate_limit_headers_pause_the_credential_budget_before_a_429() {
    let f = fixture().await;
    f.sim.configcat.traffic.set_faults(Faults {
        rate_limit: Some(RateLimit {
            requests: 2,
            window_seconds: 2,
            retry_after_seconds: None,
        }),
        ..Default::default()
    });
    let started = Instant::now();
    for _ in 0..4 {
        f.providers.check_access(&f.account).await.unwrap();
    }
    assert!(!f.statuses().contains(&429), "{:?}", f.statuses());
    assert!(
        started.elapsed() >= Duration::from_millis(1500),
        "{:?}",
        started.elapsed()
    );
}
