//! The ConfigCat provider against the in-process ConfigCat simulator: lifecycle, drift and the
//! environment access rules, with every request body checked against ConfigCat's OpenAPI
//! description. The fixture here is shared by `provider_errors` and `sim`.

use crate::harness::test_providers;
use roleplane::crd::{PermissionGroupSpec, ProviderKind, ProviderSettings};
use roleplane::providers::{Account, Credentials, ErrorClass, Providers, Spec, Target};
use roleplane::sim::{SimCredentials, Simulator};
use serde_json::{Value, json};

use crate::openapi::OpenApi;

pub(super) const USER: &str = "sim-user";
pub(super) const PASSWORD: &str = "sim-password";

pub(super) struct Fixture {
    pub(super) sim: Simulator,
    pub(super) base: String,
    pub(super) providers: Providers,
    pub(super) account: Account,
    pub(super) product: String,
    pub(super) test: String,
    pub(super) prod: String,
    pub(super) staging: String,
}

pub(super) fn account(base: &str, user: &str, password: &str) -> Account {
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

pub(super) async fn fixture() -> Fixture {
    let (sim, base) = Simulator::start(SimCredentials::default()).await.unwrap();
    let cc = &sim.configcat;
    let product = cc.add_product("Roleplane tests");
    let test = cc.add_environment(&product, "Test").unwrap();
    let prod = cc.add_environment(&product, "Production").unwrap();
    let staging = cc.add_environment(&product, "Staging").unwrap();
    Fixture {
        account: account(&base, USER, PASSWORD),
        providers: test_providers(),
        sim,
        base,
        product,
        test,
        prod,
        staging,
    }
}

impl Fixture {
    pub(super) fn spec(&self, extra: Value) -> PermissionGroupSpec {
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
    pub(super) fn custom(&self) -> PermissionGroupSpec {
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

    pub(super) fn group(&self, id: &str) -> roleplane::sim::configcat::Group {
        self.sim
            .configcat
            .group(id.parse().unwrap())
            .expect("group exists")
    }

    pub(super) fn assert_bodies(&self) {
        OpenApi::load("configcat-publicapi.yaml")
            .assert_bodies(&self.sim.configcat.traffic.requests(), "");
    }

    pub(super) fn statuses(&self) -> Vec<u16> {
        self.sim
            .configcat
            .traffic
            .requests()
            .iter()
            .map(|r| r.status)
            .collect()
    }
}

pub(super) fn target<'a>(name: &'a str, spec: &'a PermissionGroupSpec) -> Target<'a> {
    Target {
        name,
        spec: Spec::ConfigCat(spec),
    }
}

/// Drift paths in a stable order (environment ids are random).
pub(super) fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

pub(super) fn access<'a>(g: &'a roleplane::sim::configcat::Group, env: &str) -> &'a str {
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
