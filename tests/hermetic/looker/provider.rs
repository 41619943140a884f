//! Looker provider against the in-process simulator: login and token expiry, owned and
//! referenced sets, drift, switching between inline and referenced sets, deletion order,
//! catalogue checks, error classes, and every write body checked against the official spec.

use crate::harness::test_providers;
use std::time::Duration;

use roleplane::crd::{
    LookerModelSet, LookerPermissionSet, LookerRole, LookerSetRef, ProviderKind, ProviderSettings,
};
use roleplane::providers::{Account, Credentials, Error, ErrorClass, Providers, Spec, Target};
use roleplane::sim::looker::SetKind;
use roleplane::sim::{Faults, RateLimit, SimCredentials, Simulator};

use crate::openapi::OpenApi;

struct Env {
    sim: Simulator,
    base: String,
    providers: Providers,
    account: Account,
}

fn account(base: &str, id: &str, secret: &str) -> Account {
    Account {
        provider: ProviderKind::Looker,
        base_url: format!("{base}/looker"),
        settings: ProviderSettings::default(),
        credentials: Credentials::new([
            ("clientId".to_string(), id.to_string()),
            ("clientSecret".to_string(), secret.to_string()),
        ]),
        key: "default/looker".into(),
    }
}

async fn env() -> Env {
    let (sim, base) = Simulator::start(SimCredentials::default()).await.unwrap();
    Env {
        account: account(&base, "sim-client-id", "sim-client-secret"),
        providers: test_providers(),
        sim,
        base,
    }
}

impl Env {
    fn requests(&self) -> Vec<roleplane::sim::RecordedRequest> {
        self.sim.traffic(ProviderKind::Looker).requests()
    }

    /// `METHOD path` of every write the provider sent (login aside).
    fn writes(&self) -> Vec<String> {
        self.requests()
            .into_iter()
            .filter(|r| r.method != "GET" && !r.path.ends_with("/login"))
            .map(|r| format!("{} {}", r.method, r.path))
            .collect()
    }

    fn statuses(&self, status: u16) -> usize {
        self.requests()
            .iter()
            .filter(|r| r.status == status)
            .count()
    }

    fn clear(&self) {
        self.sim.traffic(ProviderKind::Looker).clear_requests();
    }

    fn assert_bodies(&self) {
        OpenApi::load("looker-4.0.oas.json").assert_bodies(&self.requests(), "/api/4.0");
    }

    async fn create(&self, name: &str, role: &LookerRole) -> Result<String, Error> {
        let t = target(name, role);
        self.providers.validate(&t)?;
        self.providers.create(&self.account, &t).await
    }

    async fn drift(&self, name: &str, role: &LookerRole, id: &str) -> Vec<String> {
        self.providers
            .observe(&self.account, &target(name, role), id)
            .await
            .unwrap()
            .expect("role exists")
            .drift
    }
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

fn inline(perms: &[&str], models: &[&str]) -> LookerRole {
    LookerRole {
        permission_set: Some(LookerPermissionSet {
            permissions: strings(perms),
        }),
        model_set: Some(LookerModelSet {
            models: strings(models),
        }),
        ..Default::default()
    }
}

fn by_name(name: &str) -> Option<LookerSetRef> {
    Some(LookerSetRef {
        id: None,
        name: Some(name.into()),
    })
}

fn by_id(id: &str) -> Option<LookerSetRef> {
    Some(LookerSetRef {
        id: Some(id.into()),
        name: None,
    })
}

fn target<'a>(name: &'a str, role: &'a LookerRole) -> Target<'a> {
    Target {
        name,
        spec: Spec::Looker(role),
    }
}

const ANALYST: &[&str] = &["access_data", "see_looks", "explore"];

#[tokio::test]
async fn create_makes_owned_sets_before_the_role_and_observe_sees_no_drift() {
    let env = env().await;
    let spec = inline(ANALYST, &["thelook"]);
    let id = env.create("Analyst", &spec).await.unwrap();

    let role = env.sim.looker.role(&id).unwrap();
    assert_eq!(role.name, "Analyst");
    let ps = env
        .sim
        .looker
        .set(SetKind::Permission, &role.permission_set_id)
        .unwrap();
    assert_eq!(ps.name, "roleplane:Analyst");
    assert_eq!(ps.items, strings(&["access_data", "explore", "see_looks"]));
    let ms = env
        .sim
        .looker
        .set(SetKind::Model, &role.model_set_id)
        .unwrap();
    assert_eq!(
        (ms.name.as_str(), ms.items.clone()),
        ("roleplane:Analyst", strings(&["thelook"]))
    );
    assert_eq!(
        env.writes(),
        vec![
            "POST /api/4.0/permission_sets",
            "POST /api/4.0/model_sets",
            "POST /api/4.0/roles"
        ]
    );

    let observed = env
        .providers
        .observe(&env.account, &target("Analyst", &spec), &id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(observed.external_id, id);
    assert!(observed.drift.is_empty(), "{:?}", observed.drift);
    assert_eq!(
        observed.summary,
        "permission set roleplane:Analyst (3), model set roleplane:Analyst"
    );
    env.assert_bodies();
}

#[tokio::test]
async fn observe_of_an_unknown_role_is_none() {
    let env = env().await;
    let spec = inline(ANALYST, &["thelook"]);
    let seen = env
        .providers
        .observe(&env.account, &target("Analyst", &spec), "4242")
        .await
        .unwrap();
    assert_eq!(seen, None);
}

#[tokio::test]
async fn drift_in_an_owned_set_is_reported_and_corrected_without_touching_the_role() {
    let env = env().await;
    let spec = inline(ANALYST, &["thelook"]);
    let id = env.create("Analyst", &spec).await.unwrap();
    let ps = env.sim.looker.role(&id).unwrap().permission_set_id;
    env.sim.looker.edit_set(
        SetKind::Permission,
        &ps,
        None,
        Some(&["access_data", "see_looks", "see_sql"]),
    );

    assert_eq!(
        env.drift("Analyst", &spec, &id).await,
        vec!["looker.permissionSet.permissions"]
    );
    env.clear();
    env.providers
        .update(&env.account, &target("Analyst", &spec), &id)
        .await
        .unwrap();
    assert_eq!(
        env.writes(),
        vec![format!("PATCH /api/4.0/permission_sets/{ps}")]
    );
    assert_eq!(
        env.sim.looker.set(SetKind::Permission, &ps).unwrap().items,
        strings(&["access_data", "explore", "see_looks"])
    );
    assert!(env.drift("Analyst", &spec, &id).await.is_empty());
    env.assert_bodies();
}

#[tokio::test]
async fn drift_in_the_role_is_reported_and_pointed_back_at_the_owned_sets() {
    let env = env().await;
    let spec = inline(ANALYST, &["thelook"]);
    let id = env.create("Analyst", &spec).await.unwrap();
    let before = env.sim.looker.role(&id).unwrap();
    let all = env
        .sim
        .looker
        .set_by_name(SetKind::Model, "All")
        .unwrap()
        .id;
    env.sim
        .looker
        .edit_role(&id, Some("Renamed by hand"), None, Some(&all));

    assert_eq!(
        env.drift("Analyst", &spec, &id).await,
        vec!["name", "looker.modelSet"]
    );
    env.providers
        .update(&env.account, &target("Analyst", &spec), &id)
        .await
        .unwrap();
    let after = env.sim.looker.role(&id).unwrap();
    assert_eq!(after.name, "Analyst");
    assert_eq!(
        after.model_set_id, before.model_set_id,
        "the owned set is reused"
    );
    assert_eq!(
        env.sim.looker.sets(SetKind::Model).len(),
        2,
        "no duplicate owned set"
    );
    assert!(env.drift("Analyst", &spec, &id).await.is_empty());
    env.assert_bodies();
}

#[tokio::test]
async fn update_changes_the_owned_sets_members() {
    let env = env().await;
    let id = env
        .create("Analyst", &inline(ANALYST, &["thelook"]))
        .await
        .unwrap();
    let wider = inline(
        &[
            "access_data",
            "see_looks",
            "see_user_dashboards",
            "save_content",
        ],
        &["thelook", "ecommerce"],
    );
    assert_eq!(
        env.drift("Analyst", &wider, &id).await,
        vec!["looker.permissionSet.permissions", "looker.modelSet.models"]
    );
    env.clear();
    env.providers
        .update(&env.account, &target("Analyst", &wider), &id)
        .await
        .unwrap();
    assert!(
        env.writes().iter().all(|w| !w.contains("/roles")),
        "{:?}",
        env.writes()
    );
    let role = env.sim.looker.role(&id).unwrap();
    assert_eq!(
        env.sim
            .looker
            .set(SetKind::Model, &role.model_set_id)
            .unwrap()
            .items,
        strings(&["ecommerce", "thelook"])
    );
    assert!(env.drift("Analyst", &wider, &id).await.is_empty());
    env.assert_bodies();
}

#[tokio::test]
async fn renaming_the_role_renames_its_owned_sets() {
    let env = env().await;
    let spec = inline(ANALYST, &["thelook"]);
    let id = env.create("Analyst", &spec).await.unwrap();
    assert_eq!(env.drift("Data Analyst", &spec, &id).await, vec!["name"]);
    env.providers
        .update(&env.account, &target("Data Analyst", &spec), &id)
        .await
        .unwrap();
    let role = env.sim.looker.role(&id).unwrap();
    assert_eq!(role.name, "Data Analyst");
    for kind in [SetKind::Permission, SetKind::Model] {
        let id = match kind {
            SetKind::Permission => &role.permission_set_id,
            SetKind::Model => &role.model_set_id,
        };
        assert_eq!(
            env.sim.looker.set(kind, id).unwrap().name,
            "roleplane:Data Analyst"
        );
    }
    assert!(env.drift("Data Analyst", &spec, &id).await.is_empty());
    env.assert_bodies();
}

#[tokio::test]
async fn list_pages_through_every_role() {
    let env = env().await;
    let all_ps = env
        .sim
        .looker
        .set_by_name(SetKind::Permission, "Admin")
        .unwrap()
        .id;
    let all_ms = env
        .sim
        .looker
        .set_by_name(SetKind::Model, "All")
        .unwrap()
        .id;
    for i in 0..150 {
        env.sim
            .looker
            .insert_role(&format!("role-{i:03}"), &all_ps, &all_ms);
    }
    let spec = inline(ANALYST, &["thelook"]);
    let listed = env
        .providers
        .list(&env.account, &target("x", &spec))
        .await
        .unwrap();
    assert_eq!(listed.len(), 151);
    assert!(listed.iter().any(|l| l.name == "Admin"));
    let r = listed.iter().find(|l| l.name == "role-149").unwrap();
    assert_eq!(
        env.sim.looker.role(&r.external_id).unwrap().name,
        "role-149"
    );
    let searches = env
        .requests()
        .into_iter()
        .filter(|r| r.path.ends_with("/roles/search"))
        .count();
    assert_eq!(searches, 2, "two pages of 100");
}

#[tokio::test]
async fn delete_removes_the_role_before_its_owned_sets_and_a_second_delete_is_done() {
    let env = env().await;
    let spec = inline(ANALYST, &["thelook"]);
    let id = env.create("Analyst", &spec).await.unwrap();
    let role = env.sim.looker.role(&id).unwrap();
    env.clear();
    env.providers
        .delete(&env.account, &target("Analyst", &spec), &id)
        .await
        .unwrap();
    assert_eq!(
        env.writes(),
        vec![
            format!("DELETE /api/4.0/roles/{id}"),
            format!("DELETE /api/4.0/permission_sets/{}", role.permission_set_id),
            format!("DELETE /api/4.0/model_sets/{}", role.model_set_id),
        ]
    );
    assert!(env.sim.looker.role(&id).is_none());
    assert!(
        env.sim
            .looker
            .set_by_name(SetKind::Permission, "roleplane:Analyst")
            .is_none()
    );
    assert!(
        env.sim
            .looker
            .set_by_name(SetKind::Model, "roleplane:Analyst")
            .is_none()
    );
    assert!(env.sim.looker.set_by_name(SetKind::Model, "All").is_some());

    env.providers
        .delete(&env.account, &target("Analyst", &spec), &id)
        .await
        .unwrap();
}

#[tokio::test]
async fn delete_also_removes_an_owned_set_left_behind_by_a_crash() {
    let env = env().await;
    let spec = LookerRole {
        permission_set_ref: by_name("Admin"),
        model_set: Some(LookerModelSet {
            models: strings(&["thelook"]),
        }),
        ..Default::default()
    };
    let id = env.create("Analyst", &spec).await.unwrap();
    let stray =
        env.sim
            .looker
            .insert_set(SetKind::Permission, "roleplane:Analyst", &["access_data"]);
    env.providers
        .delete(&env.account, &target("Analyst", &spec), &id)
        .await
        .unwrap();
    assert!(env.sim.looker.set(SetKind::Permission, &stray).is_none());
    assert!(
        env.sim
            .looker
            .set_by_name(SetKind::Permission, "Admin")
            .is_some()
    );
}

#[tokio::test]
async fn referenced_sets_are_used_but_never_modified_or_deleted() {
    let env = env().await;
    let viewer =
        env.sim
            .looker
            .insert_set(SetKind::Permission, "Viewer", &["access_data", "see_looks"]);
    let all = env
        .sim
        .looker
        .set_by_name(SetKind::Model, "All")
        .unwrap()
        .id;
    let spec = LookerRole {
        permission_set_ref: by_name("Viewer"),
        model_set_ref: by_id(&all),
        ..Default::default()
    };
    let id = env.create("Viewer", &spec).await.unwrap();
    assert_eq!(env.writes(), vec!["POST /api/4.0/roles"]);
    let role = env.sim.looker.role(&id).unwrap();
    assert_eq!(
        (role.permission_set_id.as_str(), role.model_set_id.as_str()),
        (viewer.as_str(), all.as_str())
    );
    assert!(env.drift("Viewer", &spec, &id).await.is_empty());

    env.providers
        .delete(&env.account, &target("Viewer", &spec), &id)
        .await
        .unwrap();
    assert!(
        env.writes().iter().all(|w| !w.contains("_sets")),
        "{:?}",
        env.writes()
    );
    assert_eq!(
        env.sim
            .looker
            .set(SetKind::Permission, &viewer)
            .unwrap()
            .items,
        strings(&["access_data", "see_looks"])
    );
    assert!(env.sim.looker.set(SetKind::Model, &all).is_some());
    env.assert_bodies();
}

#[tokio::test]
async fn a_missing_referenced_set_is_dependency_not_ready_before_any_write() {
    let env = env().await;
    let by_missing_name = LookerRole {
        permission_set_ref: by_name("Nope"),
        model_set: Some(LookerModelSet {
            models: strings(&["thelook"]),
        }),
        ..Default::default()
    };
    let err = env.create("Analyst", &by_missing_name).await.unwrap_err();
    assert_eq!(err.class(), ErrorClass::DependencyNotReady);
    assert!(err.to_string().contains("\"Nope\""), "{err}");

    let by_missing_id = LookerRole {
        model_set_ref: by_id("9999"),
        permission_set: Some(LookerPermissionSet {
            permissions: strings(ANALYST),
        }),
        ..Default::default()
    };
    let err = env.create("Analyst", &by_missing_id).await.unwrap_err();
    assert_eq!(err.class(), ErrorClass::DependencyNotReady);
    assert!(err.to_string().contains("9999"), "{err}");
    assert!(env.writes().is_empty(), "{:?}", env.writes());
}

#[tokio::test]
async fn switching_from_inline_to_a_reference_and_back() {
    let env = env().await;
    let inline_spec = inline(ANALYST, &["thelook"]);
    let id = env.create("Analyst", &inline_spec).await.unwrap();
    let owned_ps = env.sim.looker.role(&id).unwrap().permission_set_id;
    let viewer =
        env.sim
            .looker
            .insert_set(SetKind::Permission, "Viewer", &["access_data", "see_looks"]);

    let referenced = LookerRole {
        permission_set: None,
        permission_set_ref: by_name("Viewer"),
        ..inline_spec.clone()
    };
    assert_eq!(
        env.drift("Analyst", &referenced, &id).await,
        vec!["looker.permissionSetRef"]
    );
    env.clear();
    env.providers
        .update(&env.account, &target("Analyst", &referenced), &id)
        .await
        .unwrap();
    let writes = env.writes();
    assert_eq!(
        writes,
        vec![
            format!("PATCH /api/4.0/roles/{id}"),
            format!("DELETE /api/4.0/permission_sets/{owned_ps}")
        ]
    );
    assert_eq!(env.sim.looker.role(&id).unwrap().permission_set_id, viewer);
    assert!(env.sim.looker.set(SetKind::Permission, &owned_ps).is_none());
    assert!(env.drift("Analyst", &referenced, &id).await.is_empty());

    assert_eq!(
        env.drift("Analyst", &inline_spec, &id).await,
        vec!["looker.permissionSet"]
    );
    env.providers
        .update(&env.account, &target("Analyst", &inline_spec), &id)
        .await
        .unwrap();
    let role = env.sim.looker.role(&id).unwrap();
    let back = env
        .sim
        .looker
        .set(SetKind::Permission, &role.permission_set_id)
        .unwrap();
    assert_eq!(back.name, "roleplane:Analyst");
    assert_eq!(
        back.items,
        strings(&["access_data", "explore", "see_looks"])
    );
    assert_eq!(
        env.sim
            .looker
            .set(SetKind::Permission, &viewer)
            .unwrap()
            .items,
        strings(&["access_data", "see_looks"]),
        "the referenced set is untouched"
    );
    assert!(env.drift("Analyst", &inline_spec, &id).await.is_empty());
    env.assert_bodies();
}

#[tokio::test]
async fn an_unknown_permission_is_invalid_spec_naming_the_closest_before_any_write() {
    let env = env().await;
    let spec = inline(&["access_data", "see_look"], &["thelook"]);
    let err = env.create("Analyst", &spec).await.unwrap_err();
    assert_eq!(err.class(), ErrorClass::InvalidSpec);
    let text = err.to_string();
    assert!(text.contains("unknown permission \"see_look\""), "{text}");
    assert!(text.contains("closest: see_looks"), "{text}");
    assert!(env.writes().is_empty(), "{:?}", env.writes());

    let id = env
        .create("Analyst", &inline(ANALYST, &["thelook"]))
        .await
        .unwrap();
    env.clear();
    let err = env
        .providers
        .update(&env.account, &target("Analyst", &spec), &id)
        .await
        .unwrap_err();
    assert_eq!(err.class(), ErrorClass::InvalidSpec);
    assert!(env.writes().is_empty(), "{:?}", env.writes());
}

#[tokio::test]
async fn a_permission_without_its_parent_is_invalid_spec() {
    let env = env().await;
    let err = env
        .create("Analyst", &inline(&["see_looks"], &["thelook"]))
        .await
        .unwrap_err();
    assert_eq!(err.class(), ErrorClass::InvalidSpec);
    assert!(
        err.to_string().contains("needs its parent \"access_data\""),
        "{err}"
    );
    assert!(env.writes().is_empty());
}

#[tokio::test]
async fn a_duplicate_role_name_is_already_exists_and_leaves_no_owned_sets() {
    let env = env().await;
    let admin_ps = env
        .sim
        .looker
        .set_by_name(SetKind::Permission, "Admin")
        .unwrap()
        .id;
    let all = env
        .sim
        .looker
        .set_by_name(SetKind::Model, "All")
        .unwrap()
        .id;
    env.sim.looker.insert_role("Taken", &admin_ps, &all);
    let err = env
        .create("taken", &inline(ANALYST, &["thelook"]))
        .await
        .unwrap_err();
    assert_eq!(err.class(), ErrorClass::AlreadyExists);
    assert!(err.to_string().contains("HTTP 409"), "{err}");
    assert!(
        env.sim
            .looker
            .set_by_name(SetKind::Permission, "roleplane:taken")
            .is_none()
    );
    assert!(
        env.sim
            .looker
            .set_by_name(SetKind::Model, "roleplane:taken")
            .is_none()
    );
    env.assert_bodies();
}

#[tokio::test]
async fn an_owned_set_left_by_a_crash_is_reused_not_a_conflict() {
    let env = env().await;
    let stray =
        env.sim
            .looker
            .insert_set(SetKind::Permission, "roleplane:Analyst", &["access_data"]);
    let spec = inline(ANALYST, &["thelook"]);
    let id = env.create("Analyst", &spec).await.unwrap();
    let role = env.sim.looker.role(&id).unwrap();
    assert_eq!(role.permission_set_id, stray);
    assert_eq!(
        env.sim
            .looker
            .set(SetKind::Permission, &stray)
            .unwrap()
            .items,
        strings(&["access_data", "explore", "see_looks"])
    );
    let named = env
        .sim
        .looker
        .sets(SetKind::Permission)
        .into_iter()
        .filter(|s| s.name == "roleplane:Analyst")
        .count();
    assert_eq!(named, 1);
    assert!(env.drift("Analyst", &spec, &id).await.is_empty());
    env.assert_bodies();
}

#[tokio::test]
async fn the_built_in_admin_role_cannot_be_modified_or_deleted() {
    let env = env().await;
    let admin = env.sim.looker.role_by_name("Admin").unwrap().id;
    let spec = inline(ANALYST, &["thelook"]);
    for err in [
        env.providers
            .update(&env.account, &target("Admin", &spec), &admin)
            .await
            .unwrap_err(),
        env.providers
            .delete(&env.account, &target("Admin", &spec), &admin)
            .await
            .unwrap_err(),
    ] {
        assert_eq!(err.class(), ErrorClass::ProviderRejected);
        assert_eq!(err.status(), Some(405));
        assert!(
            err.to_string()
                .contains("\"Admin\" is built-in and cannot be modified"),
            "{err}"
        );
    }
    assert!(env.sim.looker.role(&admin).is_some());
}

#[tokio::test]
async fn a_validation_error_lists_lookers_field_errors() {
    let env = env().await;
    let admin_ps = env
        .sim
        .looker
        .set_by_name(SetKind::Permission, "Admin")
        .unwrap()
        .id;
    let all = env
        .sim
        .looker
        .set_by_name(SetKind::Model, "All")
        .unwrap()
        .id;
    env.sim.looker.insert_role("Finance", &admin_ps, &all);
    let spec = LookerRole {
        permission_set_ref: by_name("Admin"),
        model_set_ref: by_name("All"),
        ..Default::default()
    };
    let id = env.create("Analyst", &spec).await.unwrap();
    let err = env
        .providers
        .update(&env.account, &target("Finance", &spec), &id)
        .await
        .unwrap_err();
    assert_eq!(err.class(), ErrorClass::ProviderRejected);
    assert_eq!(
        err.to_string(),
        "looker update role: HTTP 422: Validation Failed; name: Role with name 'Finance' already exists"
    );
}

#[tokio::test]
async fn wrong_credentials_are_rejected_without_the_secret_in_the_message() {
    let env = env().await;
    let bad = account(&env.base, "sim-client-id", "wrong-secret-value-123");
    let err = env.providers.check_access(&bad).await.unwrap_err();
    assert_eq!(err.class(), ErrorClass::CredentialsRejected);
    let text = err.to_string();
    assert!(text.contains("rejected"), "{text}");
    assert!(!text.contains("wrong-secret"), "{text}");
    env.providers.check_access(&env.account).await.unwrap();
    let login = env
        .requests()
        .into_iter()
        .find(|r| r.path.ends_with("/login"))
        .unwrap();
    assert!(
        login.query.is_none() && login.body.is_none(),
        "credentials travel in the form body"
    );
}

#[tokio::test]
async fn an_expired_token_is_renewed_once_after_a_401() {
    let env = env().await;
    let spec = inline(ANALYST, &["thelook"]);
    let id = env.create("Analyst", &spec).await.unwrap();
    assert_eq!(env.sim.looker.logins(), 1, "one token for the whole create");
    env.sim.looker.expire_tokens();
    assert!(env.drift("Analyst", &spec, &id).await.is_empty());
    assert_eq!(env.sim.looker.logins(), 2);
    assert_eq!(env.statuses(401), 1);
}

#[tokio::test]
async fn a_token_is_refreshed_before_it_expires() {
    let env = env().await;
    env.sim.looker.set_token_ttl(Duration::from_secs(2));
    env.providers.check_access(&env.account).await.unwrap();
    env.providers.check_access(&env.account).await.unwrap();
    assert_eq!(env.sim.looker.logins(), 1);
    tokio::time::sleep(Duration::from_millis(1900)).await;
    env.providers.check_access(&env.account).await.unwrap();
    assert_eq!(env.sim.looker.logins(), 2);
    assert_eq!(env.statuses(401), 0, "renewed before Looker refused it");
}

#[tokio::test]
async fn a_rotated_secret_logs_in_with_the_new_credentials() {
    let env = env().await;
    env.providers.check_access(&env.account).await.unwrap();
    env.sim.looker.add_client("rotated-id", "rotated-secret");
    env.sim.looker.revoke_client("sim-client-id");
    let rotated = account(&env.base, "rotated-id", "rotated-secret");
    env.providers.check_access(&rotated).await.unwrap();
    assert_eq!(env.sim.looker.logins(), 2);
    assert_eq!(env.statuses(401), 0, "no call went out with the old token");
}

#[tokio::test]
async fn concurrent_calls_share_one_login() {
    let env = env().await;
    let calls = (0..6).map(|_| env.providers.check_access(&env.account));
    for r in futures::future::join_all(calls).await {
        r.unwrap();
    }
    assert_eq!(env.sim.looker.logins(), 1);
}

#[tokio::test]
async fn a_429_with_retry_after_is_waited_out() {
    let env = env().await;
    env.providers.check_access(&env.account).await.unwrap();
    env.sim.traffic(ProviderKind::Looker).set_faults(Faults {
        rate_limit: Some(RateLimit {
            requests: 2,
            window_seconds: 1,
            retry_after_seconds: Some(1),
        }),
        ..Default::default()
    });
    let started = std::time::Instant::now();
    let id = env
        .create("Analyst", &inline(ANALYST, &["thelook"]))
        .await
        .unwrap();
    assert!(env.sim.looker.role(&id).is_some());
    assert!(env.statuses(429) >= 1);
    assert!(started.elapsed() >= Duration::from_millis(900));
}

#[tokio::test]
async fn server_errors_are_provider_unavailable() {
    let env = env().await;
    env.providers.check_access(&env.account).await.unwrap();
    env.sim.traffic(ProviderKind::Looker).set_faults(Faults {
        fail_next: [503].into(),
        ..Default::default()
    });
    let spec = inline(ANALYST, &["thelook"]);
    let err = env
        .providers
        .observe(&env.account, &target("Analyst", &spec), "1")
        .await
        .unwrap_err();
    assert_eq!(err.class(), ErrorClass::ProviderUnavailable);
    assert!(err.to_string().contains("HTTP 503"), "{err}");
}

#[tokio::test]
async fn the_simulator_guards_built_ins_sets_in_use_and_tokens() {
    let env = env().await;
    let api = format!("{}/looker/api/4.0", env.base);
    let http = reqwest::Client::new();
    let unauthenticated = http.get(format!("{api}/roles")).send().await.unwrap();
    assert_eq!(unauthenticated.status(), 401);
    let login: serde_json::Value = http
        .post(format!("{api}/login"))
        .form(&[
            ("client_id", "sim-client-id"),
            ("client_secret", "sim-client-secret"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(login["token_type"], "Bearer");
    assert_eq!(login["expires_in"], 3600);
    let auth = format!("token {}", login["access_token"].as_str().unwrap());
    let admin_ps = env
        .sim
        .looker
        .set_by_name(SetKind::Permission, "Admin")
        .unwrap()
        .id;
    let all = env
        .sim
        .looker
        .set_by_name(SetKind::Model, "All")
        .unwrap()
        .id;
    let patch = http
        .patch(format!("{api}/permission_sets/{admin_ps}"))
        .header("authorization", &auth)
        .json(&serde_json::json!({"permissions": ["access_data"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(patch.status(), 405);
    let delete = http
        .delete(format!("{api}/model_sets/{all}"))
        .header("authorization", &auth)
        .send()
        .await
        .unwrap();
    assert_eq!(delete.status(), 405);
    let used = env
        .sim
        .looker
        .insert_set(SetKind::Model, "Used", &["thelook"]);
    env.sim.looker.insert_role("User of Used", &admin_ps, &used);
    let in_use = http
        .delete(format!("{api}/model_sets/{used}"))
        .header("authorization", &auth)
        .send()
        .await
        .unwrap();
    assert_eq!(in_use.status(), 422);
    let missing_set = http
        .post(format!("{api}/roles"))
        .header("authorization", &auth)
        .json(&serde_json::json!({"name": "x", "permission_set_id": "9999", "model_set_id": all}))
        .send()
        .await
        .unwrap();
    assert_eq!(missing_set.status(), 422);
    let body: serde_json::Value = missing_set.json().await.unwrap();
    assert_eq!(body["errors"][0]["field"], "permission_set_id");
    let role: serde_json::Value = http
        .get(format!(
            "{api}/roles/{}",
            env.sim.looker.role_by_name("Admin").unwrap().id
        ))
        .header("authorization", &auth)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(role["permission_set"]["name"], "Admin");
    assert!(
        role.get("permission_set_id").is_none(),
        "write-only ids are not read back"
    );
    let admin = format!("{}/looker/_admin", env.base);
    let created: serde_json::Value = http
        .post(format!("{admin}/permission_sets"))
        .json(&serde_json::json!({"name": "Viewer", "permissions": ["access_data"]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let viewer = created["id"].as_str().unwrap();
    assert_eq!(
        env.sim
            .looker
            .set(SetKind::Permission, viewer)
            .unwrap()
            .name,
        "Viewer"
    );
    let state: serde_json::Value = http
        .get(format!("{admin}/state"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(state["activeTokens"], 1);
    let expire = http
        .post(format!("{admin}/tokens/expire"))
        .send()
        .await
        .unwrap();
    assert_eq!(expire.status(), 204);
    let expired = http
        .get(format!("{api}/roles"))
        .header("authorization", &auth)
        .send()
        .await
        .unwrap();
    assert_eq!(expired.status(), 401);
}
