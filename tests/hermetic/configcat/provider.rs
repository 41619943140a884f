//! The ConfigCat provider against the in-process ConfigCat simulator: lifecycle, drift,
//! environment access rules, errors, rate limits, and every request body checked against
//! ConfigCat's OpenAPI description.

use std::time::{Duration, Instant};

use roleplane::crd::{PermissionGroupSpec, ProviderKind, ProviderSettings};
use roleplane::metrics::Metrics;
use roleplane::providers::http::{Http, HttpConfig};
use roleplane::providers::{Account, Credentials, ErrorClass, Providers, Spec, Target};
use roleplane::sim::{Faults, RateLimit, SimCredentials, Simulator};
use serde_json::{Value, json};

use crate::openapi::OpenApi;

const USER: &str = "sim-user";
const PASSWORD: &str = "sim-password";

struct Fixture {
    sim: Simulator,
    base: String,
    providers: Providers,
    account: Account,
    product: String,
    test: String,
    prod: String,
    staging: String,
}

fn account(base: &str, user: &str, password: &str) -> Account {
    Account {
        provider: ProviderKind::ConfigCat,
        base_url: format!("{base}/configcat"),
        settings: ProviderSettings::default(),
        credentials: Credentials::new([
            ("username".to_string(), user.to_string()),
            ("password".to_string(), password.to_string()),
        ]),
        key: format!("configcat/{user}"),
    }
}

fn providers() -> Providers {
    Providers::new(Http::new(
        HttpConfig {
            requests_per_second: Some(100.try_into().unwrap()),
            ..Default::default()
        },
        Metrics::new(),
    ))
}

async fn fixture() -> Fixture {
    let (sim, base) = Simulator::start(SimCredentials::default()).await.unwrap();
    let cc = &sim.configcat;
    let product = cc.add_product("Roleplane tests");
    let test = cc.add_environment(&product, "Test").unwrap();
    let prod = cc.add_environment(&product, "Production").unwrap();
    let staging = cc.add_environment(&product, "Staging").unwrap();
    Fixture {
        account: account(&base, USER, PASSWORD),
        providers: providers(),
        sim,
        base,
        product,
        test,
        prod,
        staging,
    }
}

impl Fixture {
    fn spec(&self, extra: Value) -> PermissionGroupSpec {
        let mut base = json!({
            "providerConfigRef": {"name": "configcat"},
            "name": "Developers",
            "productId": self.product,
        });
        base.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        serde_json::from_value(base).unwrap()
    }

    /// Custom access: full on test, readOnly on production, staging unlisted.
    fn custom(&self) -> PermissionGroupSpec {
        self.spec(json!({
            "accessType": "custom",
            "canCreateOrUpdateConfig": true,
            "canViewSdkKey": true,
            "environmentAccesses": [
                {"environmentId": self.test, "accessType": "full"},
                {"environmentId": self.prod, "accessType": "readOnly"},
            ],
        }))
    }

    fn group(&self, id: &str) -> roleplane::sim::configcat::Group {
        self.sim
            .configcat
            .group(id.parse().unwrap())
            .expect("group exists")
    }

    fn assert_bodies(&self) {
        OpenApi::load("configcat-publicapi.yaml")
            .assert_bodies(&self.sim.configcat.traffic.requests(), "");
    }

    fn statuses(&self) -> Vec<u16> {
        self.sim
            .configcat
            .traffic
            .requests()
            .iter()
            .map(|r| r.status)
            .collect()
    }
}

fn target<'a>(name: &'a str, spec: &'a PermissionGroupSpec) -> Target<'a> {
    Target {
        name,
        spec: Spec::ConfigCat(spec),
    }
}

/// Drift paths in a stable order (environment ids are random).
fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

fn access<'a>(g: &'a roleplane::sim::configcat::Group, env: &str) -> &'a str {
    g.environment_accesses
        .get(env)
        .map_or("none", String::as_str)
}

#[tokio::test]
async fn configcat_group_is_created_observed_updated_listed_and_deleted() {
    let f = fixture().await;
    let spec = f.custom();
    let t = target("Developers", &spec);
    f.providers.validate(&t).unwrap();
    let id = f.providers.create(&f.account, &t).await.unwrap();
    assert!(id.parse::<i64>().is_ok(), "numeric id, got {id}");

    let g = f.group(&id);
    assert_eq!(g.name, "Developers");
    assert_eq!(g.product_id, f.product);
    assert!(g.flags["canCreateOrUpdateConfig"] && g.flags["canViewSdkKey"]);
    assert!(
        !g.flags["canManageMembers"],
        "unset flags are sent as false"
    );
    assert_eq!(g.access_type, "custom");
    assert_eq!(g.new_environment_access_type, "none");
    assert_eq!(access(&g, &f.test), "full");
    assert_eq!(access(&g, &f.prod), "readOnly");
    assert_eq!(access(&g, &f.staging), "none");
    assert_eq!(
        g.approval_permission_type, "cannotApprove",
        "approvals untouched"
    );

    let seen = f
        .providers
        .observe(&f.account, &t, &id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(seen.external_id, id);
    assert!(seen.drift.is_empty(), "{:?}", seen.drift);
    assert_eq!(
        seen.summary,
        "2 of 21 flags, accessType custom, access to 2 environments"
    );

    let listed = f.providers.list(&f.account, &t).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(
        (listed[0].external_id.as_str(), listed[0].name.as_str()),
        (id.as_str(), "Developers")
    );

    let mut renamed = f.custom();
    renamed.managed.name = "Developers (EU)".into();
    renamed.permissions.canDeleteConfig = Some(true);
    renamed.permissions.canViewSdkKey = None;
    let t2 = target("Developers (EU)", &renamed);
    let before = f
        .providers
        .observe(&f.account, &t2, &id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        before.drift,
        vec!["name", "canDeleteConfig", "canViewSdkKey"]
    );
    f.providers.update(&f.account, &t2, &id).await.unwrap();
    let g = f.group(&id);
    assert_eq!(g.name, "Developers (EU)");
    assert!(g.flags["canDeleteConfig"] && !g.flags["canViewSdkKey"]);
    let after = f
        .providers
        .observe(&f.account, &t2, &id)
        .await
        .unwrap()
        .unwrap();
    assert!(after.drift.is_empty(), "{:?}", after.drift);

    f.providers.delete(&f.account, &t2, &id).await.unwrap();
    assert!(f.sim.configcat.groups().is_empty());
    assert_eq!(
        f.providers.observe(&f.account, &t2, &id).await.unwrap(),
        None
    );
    f.providers.delete(&f.account, &t2, &id).await.unwrap();
    let last = f.sim.configcat.traffic.requests().pop().unwrap();
    assert_eq!((last.method.as_str(), last.status), ("DELETE", 404));
    f.assert_bodies();
}

#[tokio::test]
async fn configcat_out_of_band_edits_show_as_drift_and_update_corrects_them() {
    let f = fixture().await;
    let spec = f.custom();
    let t = target("Developers", &spec);
    let id = f.providers.create(&f.account, &t).await.unwrap();
    // An admin in ConfigCat grants production full access, staging readOnly, and a flag.
    let edit = json!({
        "canManageMembers": true,
        "environmentAccesses": [
            {"environmentId": f.prod, "environmentAccessType": "full"},
            {"environmentId": f.staging, "environmentAccessType": "readOnly"},
        ],
    });
    let r = reqwest::Client::new()
        .put(format!("{}/configcat/_admin/permissions/{id}", f.base))
        .json(&edit)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let seen = f
        .providers
        .observe(&f.account, &t, &id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        sorted(seen.drift),
        sorted(vec![
            "canManageMembers".to_string(),
            format!("environmentAccesses[{}]", f.prod),
            format!("environmentAccesses[{}]", f.staging),
        ])
    );
    f.providers.update(&f.account, &t, &id).await.unwrap();
    let g = f.group(&id);
    assert!(!g.flags["canManageMembers"]);
    assert_eq!(access(&g, &f.prod), "readOnly");
    assert_eq!(access(&g, &f.staging), "none");
    assert!(
        f.providers
            .observe(&f.account, &t, &id)
            .await
            .unwrap()
            .unwrap()
            .drift
            .is_empty()
    );
    f.assert_bodies();
}

#[tokio::test]
async fn configcat_environment_that_leaves_the_spec_gets_the_new_environment_access() {
    let f = fixture().await;
    let spec = f.custom();
    let id = f
        .providers
        .create(&f.account, &target("Developers", &spec))
        .await
        .unwrap();

    // Production leaves the manifest: it is revoked (newEnvironmentAccessType defaults to none).
    let mut fewer = f.custom();
    fewer
        .environment_accesses
        .retain(|e| e.environment_id == f.test);
    let t = target("Developers", &fewer);
    let seen = f
        .providers
        .observe(&f.account, &t, &id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(seen.drift, vec![format!("environmentAccesses[{}]", f.prod)]);
    f.providers.update(&f.account, &t, &id).await.unwrap();
    let put = f.sim.configcat.traffic.requests().pop().unwrap();
    assert_eq!(put.method, "PUT");
    let sent = put.body.unwrap()["environmentAccesses"].clone();
    assert!(
        sent.as_array()
            .unwrap()
            .contains(&json!({"environmentId": f.prod, "environmentAccessType": "none"})),
        "{sent}"
    );
    assert_eq!(access(&f.group(&id), &f.prod), "none");

    // With newEnvironmentAccessType readOnly, unlisted environments are expected readOnly.
    let mut read_only = fewer.clone();
    read_only.new_environment_access_type = Some(roleplane::crd::EnvironmentAccessType::ReadOnly);
    let t = target("Developers", &read_only);
    let seen = f
        .providers
        .observe(&f.account, &t, &id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        sorted(seen.drift),
        sorted(vec![
            "newEnvironmentAccessType".to_string(),
            format!("environmentAccesses[{}]", f.prod),
            format!("environmentAccesses[{}]", f.staging),
        ])
    );
    f.providers.update(&f.account, &t, &id).await.unwrap();
    let g = f.group(&id);
    assert_eq!(
        (
            access(&g, &f.test),
            access(&g, &f.prod),
            access(&g, &f.staging)
        ),
        ("full", "readOnly", "readOnly")
    );

    // An environment created later gets newEnvironmentAccessType from ConfigCat: no drift.
    let later = f
        .sim
        .configcat
        .add_environment(&f.product, "Canary")
        .unwrap();
    assert_eq!(access(&f.group(&id), &later), "readOnly");
    assert!(
        f.providers
            .observe(&f.account, &t, &id)
            .await
            .unwrap()
            .unwrap()
            .drift
            .is_empty()
    );

    // Switching to full access drops per-environment management.
    let mut full = f.spec(json!({"accessType": "full"}));
    full.permissions = fewer.permissions.clone();
    let t = target("Developers", &full);
    assert_eq!(
        f.providers
            .observe(&f.account, &t, &id)
            .await
            .unwrap()
            .unwrap()
            .drift,
        vec!["accessType", "newEnvironmentAccessType"]
    );
    f.providers.update(&f.account, &t, &id).await.unwrap();
    assert!(
        f.sim
            .configcat
            .traffic
            .requests()
            .pop()
            .unwrap()
            .body
            .unwrap()
            .get("environmentAccesses")
            .is_none()
    );
    assert!(
        f.providers
            .observe(&f.account, &t, &id)
            .await
            .unwrap()
            .unwrap()
            .drift
            .is_empty()
    );
    f.assert_bodies();
}

#[tokio::test]
async fn configcat_approval_fields_are_managed_only_when_set() {
    let f = fixture().await;
    let spec = f.custom();
    let t = target("Developers", &spec);
    let id = f.providers.create(&f.account, &t).await.unwrap();
    assert!(f.sim.configcat.edit_group(id.parse().unwrap(), |g| {
        g.approval_permission_type = "canBypassApproval".into();
    }));
    assert!(
        f.providers
            .observe(&f.account, &t, &id)
            .await
            .unwrap()
            .unwrap()
            .drift
            .is_empty()
    );

    let mut managed = f.custom();
    managed.approval_permission_type = Some(roleplane::crd::ApprovalPermissionType::Custom);
    managed.environment_approval_permissions = vec![roleplane::crd::EnvironmentApproval {
        environment_id: f.prod.clone(),
        approval_permission_type:
            roleplane::crd::EnvironmentApprovalPermissionType::CanApproveOthers,
    }];
    let t = target("Developers", &managed);
    assert_eq!(
        f.providers
            .observe(&f.account, &t, &id)
            .await
            .unwrap()
            .unwrap()
            .drift,
        vec![
            "approvalPermissionType".to_string(),
            format!("environmentApprovalPermissions[{}]", f.prod)
        ]
    );
    f.providers.update(&f.account, &t, &id).await.unwrap();
    let g = f.group(&id);
    assert_eq!(g.approval_permission_type, "custom");
    assert_eq!(
        g.environment_approval_permissions[&f.prod],
        "canApproveOthers"
    );
    assert!(
        f.providers
            .observe(&f.account, &t, &id)
            .await
            .unwrap()
            .unwrap()
            .drift
            .is_empty()
    );
    f.assert_bodies();
}

#[tokio::test]
async fn configcat_list_returns_every_group_of_the_product_including_duplicate_names() {
    let f = fixture().await;
    let other = f.sim.configcat.add_product("Other product");
    for product in [&f.product, &f.product, &other] {
        f.sim
            .configcat
            .create_group(product, &json!({"name": "Developers"}))
            .unwrap();
    }
    let spec = f.custom();
    let listed = f
        .providers
        .list(&f.account, &target("Developers", &spec))
        .await
        .unwrap();
    assert_eq!(listed.len(), 2, "{listed:?}");
    assert!(listed.iter().all(|l| l.name == "Developers"));
    assert_ne!(listed[0].external_id, listed[1].external_id);
}

#[tokio::test]
async fn configcat_adopted_group_of_another_product_is_rejected() {
    let f = fixture().await;
    let other = f.sim.configcat.add_product("Other product");
    let g = f
        .sim
        .configcat
        .create_group(&other, &json!({"name": "Developers"}))
        .unwrap();
    let spec = f.custom();
    let err = f
        .providers
        .observe(
            &f.account,
            &target("Developers", &spec),
            &g.permission_group_id.to_string(),
        )
        .await
        .unwrap_err();
    assert_eq!(err.class(), ErrorClass::InvalidSpec);
    assert!(err.to_string().contains(&other), "{err}");
}

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

#[tokio::test]
async fn configcat_sim_sends_rate_limit_headers_on_every_api_response() {
    let f = fixture().await;
    let raw = reqwest::Client::new();
    let url = |p: &str| format!("{}/configcat{p}", f.base);
    let check = |r: &reqwest::Response, remaining: Option<&str>| {
        let h = r.headers();
        let reset = h["x-rate-limit-reset"].to_str().unwrap();
        assert!(reset.ends_with('Z') && reset.contains('T'), "{reset}");
        if let Some(want) = remaining {
            assert_eq!(h["x-rate-limit-remaining"], want);
        }
    };
    let ok = raw
        .get(url("/v1/me"))
        .basic_auth(USER, Some(PASSWORD))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    check(&ok, Some("1000"));
    let unauthorized = raw.get(url("/v1/me")).send().await.unwrap();
    assert_eq!(unauthorized.status(), 401);
    check(&unauthorized, None);
    let missing = raw
        .get(url("/v1/permissions/999"))
        .basic_auth(USER, Some(PASSWORD))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    check(&missing, None);
    f.sim.configcat.traffic.set_faults(Faults {
        rate_limit: Some(RateLimit {
            requests: 1,
            window_seconds: 30,
            retry_after_seconds: None,
        }),
        ..Default::default()
    });
    let first = raw
        .get(url("/v1/me"))
        .basic_auth(USER, Some(PASSWORD))
        .send()
        .await
        .unwrap();
    check(&first, Some("0"));
    let limited = raw
        .get(url("/v1/me"))
        .basic_auth(USER, Some(PASSWORD))
        .send()
        .await
        .unwrap();
    assert_eq!(limited.status(), 429);
    assert!(limited.headers().contains_key("retry-after"));
    check(&limited, Some("0"));
}

#[tokio::test]
async fn configcat_sim_validates_like_configcat_and_answers_the_documented_model() {
    let f = fixture().await;
    let raw = reqwest::Client::new();
    let post = |body: Value| {
        raw.post(format!(
            "{}/configcat/v1/products/{}/permissions",
            f.base, f.product
        ))
        .basic_auth(USER, Some(PASSWORD))
        .json(&body)
        .send()
    };
    for bad in [
        json!({}),
        json!({"name": ""}),
        json!({"name": "x".repeat(256)}),
        json!({"name": "g", "accessType": "everything"}),
        json!({"name": "g", "canManageMembers": "yes"}),
        json!({"name": "g", "environmentAccesses": [{"environmentId": "0badc0de-0000-4000-8000-000000000000", "environmentAccessType": "full"}]}),
    ] {
        assert_eq!(post(bad.clone()).await.unwrap().status(), 400, "{bad}");
    }
    let created = post(json!({"name": "g"})).await.unwrap();
    assert_eq!(created.status(), 201);
    let model: Value = created.json().await.unwrap();
    let spec: Value = serde_yaml_ng::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/openapi/configcat-publicapi.yaml"
        ))
        .unwrap(),
    )
    .unwrap();
    for field in spec["components"]["schemas"]["PermissionGroupModel"]["required"]
        .as_array()
        .unwrap()
    {
        assert!(
            model.get(field.as_str().unwrap()).is_some(),
            "{field} missing from {model}"
        );
    }
    assert_eq!(
        model["environmentAccesses"].as_array().unwrap().len(),
        3,
        "one entry per environment"
    );
    let id = model["permissionGroupId"].as_i64().unwrap();
    let group = format!("{}/configcat/v1/permissions/{id}", f.base);
    // PUT keeps absent and null fields.
    let put = raw
        .put(&group)
        .basic_auth(USER, Some(PASSWORD))
        .json(&json!({"name": null, "canDeleteTag": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 200);
    let g = f.sim.configcat.group(id).unwrap();
    assert_eq!((g.name.as_str(), g.flags["canDeleteTag"]), ("g", true));
    let put = raw
        .put(format!("{}/configcat/v1/permissions/{}", f.base, id + 1))
        .basic_auth(USER, Some(PASSWORD))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 404);
    let del = || raw.delete(&group).basic_auth(USER, Some(PASSWORD)).send();
    assert_eq!(del().await.unwrap().status(), 204);
    assert_eq!(del().await.unwrap().status(), 404);
    let unknown = raw
        .get(format!(
            "{}/configcat/v1/products/0badc0de-0000-4000-8000-000000000000/permissions",
            f.base
        ))
        .basic_auth(USER, Some(PASSWORD))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
}

#[tokio::test]
async fn configcat_example_manifest_applies_to_the_simulator_demo_product() {
    let (sim, base) = Simulator::start(SimCredentials::default()).await.unwrap();
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/deploy/examples/configcat.yaml"
    ))
    .unwrap();
    let docs: Vec<Value> = text
        .split("\n---\n")
        .map(|d| serde_yaml_ng::from_str(d).unwrap())
        .collect();
    let secret = docs.iter().find(|d| d["kind"] == "Secret").unwrap();
    assert_eq!(secret["stringData"]["username"], USER);
    assert_eq!(secret["stringData"]["password"], PASSWORD);
    let config = docs.iter().find(|d| d["kind"] == "ProviderConfig").unwrap();
    assert_eq!(
        config["spec"]["endpoint"],
        "http://127.0.0.1:8090/configcat"
    );
    let group = docs
        .iter()
        .find(|d| d["kind"] == "PermissionGroup")
        .unwrap();
    let spec: PermissionGroupSpec = serde_json::from_value(group["spec"].clone()).unwrap();
    let t = target(&spec.managed.name, &spec);
    let providers = providers();
    providers.validate(&t).unwrap();
    let acct = account(&base, USER, PASSWORD);
    let id = providers.create(&acct, &t).await.unwrap();
    let seen = providers.observe(&acct, &t, &id).await.unwrap().unwrap();
    assert!(seen.drift.is_empty(), "{:?}", seen.drift);
    let g = sim.configcat.group(id.parse().unwrap()).unwrap();
    assert_eq!(g.product_id, roleplane::sim::configcat::DEMO_PRODUCT_ID);
    assert_eq!(
        access(&g, roleplane::sim::configcat::DEMO_PRODUCT_ENVIRONMENT_ID),
        "readOnly"
    );
}
