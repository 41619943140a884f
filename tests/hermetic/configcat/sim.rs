//! The ConfigCat simulator itself: validation like ConfigCat's, the documented response model,
//! rate-limit headers on every response, and the example manifest against its demo product.

use crate::harness::test_providers;
use roleplane::crd::PermissionGroupSpec;
use roleplane::sim::{Faults, RateLimit, SimCredentials, Simulator};
use serde_json::{Value, json};

use super::provider::{PASSWORD, USER, access, account, fixture, target};

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
    let providers = test_providers();
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
