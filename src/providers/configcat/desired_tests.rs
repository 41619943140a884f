use serde_json::json;

use super::*;
use crate::providers::ErrorClass;
use crate::providers::configcat::model;

const PRODUCT: &str = "c0ffee00-0000-4000-8000-000000000001";
const TEST: &str = "c0ffee00-0000-4000-8000-000000000011";
const PROD: &str = "c0ffee00-0000-4000-8000-000000000012";
const STAGING: &str = "c0ffee00-0000-4000-8000-000000000013";

fn spec(extra: serde_json::Value) -> PermissionGroupSpec {
    let mut base = json!({
        "providerConfigRef": {"name": "configcat"},
        "name": "Developers",
        "productId": PRODUCT,
    });
    base.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    serde_json::from_value(base).unwrap()
}

fn envs() -> Vec<String> {
    vec![TEST.into(), PROD.into(), STAGING.into()]
}

fn custom() -> PermissionGroupSpec {
    spec(json!({
        "accessType": "custom",
        "canCreateOrUpdateConfig": true,
        "canDisable2FA": false,
        "environmentAccesses": [
            {"environmentId": TEST, "environmentAccessType": "full"},
            {"environmentId": PROD, "environmentAccessType": "readOnly"},
        ],
    }))
}

/// What ConfigCat would answer after applying `body`.
fn observed_from(body: &PermissionGroupRequest) -> PermissionGroup {
    let mut v = serde_json::to_value(body).unwrap();
    v["permissionGroupId"] = json!(7);
    v["product"] = json!({"productId": PRODUCT});
    serde_json::from_value(v).unwrap()
}

#[test]
fn request_sends_every_flag_with_unset_ones_false_and_default_access_types() {
    let body = request("Developers", &spec(json!({"canManageMembers": true})), &[]).unwrap();
    let v = serde_json::to_value(&body).unwrap();
    assert_eq!(v["name"], "Developers");
    assert_eq!(v["canManageMembers"], true);
    assert_eq!(v["canDisable2FA"], false);
    for flag in crate::crd::ConfigCatPermissions::NAMES {
        assert!(v[flag].is_boolean(), "{flag} missing from {v}");
    }
    assert_eq!(v["accessType"], "custom");
    assert_eq!(v["newEnvironmentAccessType"], "none");
    assert_eq!(v["environmentAccesses"], json!([]));
    // Unset approval fields are not managed: not sent at all.
    for f in [
        "approvalPermissionType",
        "newEnvironmentApprovalPermissionType",
        "environmentApprovalPermissions",
    ] {
        assert!(v.get(f).is_none(), "{f} sent: {v}");
    }
}

#[test]
fn request_covers_every_product_environment_and_unlisted_ones_get_new_environment_access() {
    let body = request("Developers", &custom(), &envs()).unwrap();
    let v = serde_json::to_value(&body).unwrap();
    assert_eq!(
        v["environmentAccesses"],
        json!([
            {"environmentId": TEST, "environmentAccessType": "full"},
            {"environmentId": PROD, "environmentAccessType": "readOnly"},
            {"environmentId": STAGING, "environmentAccessType": "none"},
        ])
    );
    let mut s = custom();
    s.new_environment_access_type = Some(EnvironmentAccessType::ReadOnly);
    s.environment_accesses.remove(1); // production left the manifest
    let v = serde_json::to_value(request("Developers", &s, &envs()).unwrap()).unwrap();
    assert_eq!(v["newEnvironmentAccessType"], "readOnly");
    assert_eq!(
        v["environmentAccesses"][1],
        json!({"environmentId": PROD, "environmentAccessType": "readOnly"})
    );
}

#[test]
fn request_leaves_environment_accesses_out_unless_access_is_custom() {
    let v = serde_json::to_value(
        request("Developers", &spec(json!({"accessType": "full"})), &envs()).unwrap(),
    )
    .unwrap();
    assert_eq!(v["accessType"], "full");
    assert!(v.get("environmentAccesses").is_none(), "{v}");
    assert!(!needs_environments(&spec(
        json!({"accessType": "readOnly"})
    )));
    assert!(needs_environments(&spec(json!({}))));
}

#[test]
fn request_names_a_listed_environment_the_product_lacks_as_a_missing_dependency() {
    let err = request("Developers", &custom(), &[TEST.to_string()]).unwrap_err();
    assert_eq!(err.class(), ErrorClass::DependencyNotReady);
    let text = err.to_string();
    assert!(text.contains(PROD) && text.contains(PRODUCT), "{text}");
}

#[test]
fn request_sends_approvals_only_when_managed() {
    let s = spec(json!({
        "approvalPermissionType": "custom",
        "environmentApprovalPermissions": [
            {"environmentId": PROD, "approvalPermissionType": "canApproveOthers"},
        ],
    }));
    let v = serde_json::to_value(request("Developers", &s, &envs()).unwrap()).unwrap();
    assert_eq!(v["approvalPermissionType"], "custom");
    assert!(v.get("newEnvironmentApprovalPermissionType").is_none());
    // Without newEnvironmentApprovalPermissionType, unlisted environments are left alone.
    assert_eq!(
        v["environmentApprovalPermissions"],
        json!([{"environmentId": PROD, "environmentApprovalPermissionType": "canApproveOthers"}])
    );
    let mut s = s;
    s.new_environment_approval_permission_type =
        Some(EnvironmentApprovalPermissionType::CannotApprove);
    let v = serde_json::to_value(request("Developers", &s, &envs()).unwrap()).unwrap();
    assert_eq!(v["newEnvironmentApprovalPermissionType"], "cannotApprove");
    assert_eq!(
        v["environmentApprovalPermissions"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
}

#[test]
fn drift_is_empty_when_configcat_holds_the_request_in_another_order_and_case() {
    let s = custom();
    let body = request("Developers", &s, &envs()).unwrap();
    let mut observed = observed_from(&body);
    let accesses = observed.environment_accesses.as_mut().unwrap();
    accesses.reverse();
    accesses[0].environment_id = accesses[0].environment_id.to_uppercase();
    assert_eq!(drift("Developers", &s, &observed), Vec::<String>::new());
}

#[test]
fn drift_names_flags_access_types_environments_and_name() {
    let s = custom();
    let body = request("Developers", &s, &envs()).unwrap();
    let mut observed = observed_from(&body);
    observed.name = "Devs".into();
    observed
        .flags
        .insert("canDeleteConfig".into(), model::Reported::Bool(true)); // unset in the spec → false
    observed.flags.insert(
        "canCreateOrUpdateConfig".into(),
        model::Reported::Bool(false),
    );
    observed.new_environment_access_type = Some("full".into());
    // Staging is not listed: it must have newEnvironmentAccessType (none), not full.
    observed.environment_accesses.as_mut().unwrap()[2].environment_access_type =
        Some("full".into());
    assert_eq!(
        drift("Developers", &s, &observed),
        vec![
            "name".to_string(),
            "canCreateOrUpdateConfig".into(),
            "canDeleteConfig".into(),
            "newEnvironmentAccessType".into(),
            format!("environmentAccesses[{STAGING}]"),
        ]
    );
}

#[test]
fn drift_ignores_unreported_flags_and_unmanaged_approvals_and_environments_outside_custom() {
    let s = spec(json!({"accessType": "full", "canViewSdkKey": true}));
    let body = request("Developers", &s, &envs()).unwrap();
    let mut observed = observed_from(&body);
    observed.flags.remove("canViewSdkKey");
    observed.approval_permission_type = Some("canBypassApproval".into());
    observed.environment_accesses = Some(vec![model::EnvironmentAccess {
        environment_id: TEST.into(),
        environment_access_type: Some("none".into()),
    }]);
    assert!(drift("Developers", &s, &observed).is_empty());
    observed.access_type = Some("readOnly".into());
    assert_eq!(drift("Developers", &s, &observed), vec!["accessType"]);
}

#[test]
fn drift_reports_a_listed_environment_configcat_does_not_report_and_managed_approvals() {
    let s = spec(json!({
        "accessType": "custom",
        "environmentAccesses": [{"environmentId": PROD, "environmentAccessType": "full"}],
        "approvalPermissionType": "custom",
        "environmentApprovalPermissions": [
            {"environmentId": PROD, "approvalPermissionType": "canBypassApproval"},
        ],
    }));
    // ConfigCat reports only the test environment (production was deleted out of band).
    let held = request("Developers", &spec(json!({})), &[TEST.into()]).unwrap();
    let mut observed = observed_from(&held);
    observed.approval_permission_type = Some("custom".into());
    assert_eq!(
        drift("Developers", &s, &observed),
        vec![
            format!("environmentAccesses[{PROD}]"),
            format!("environmentApprovalPermissions[{PROD}]"),
        ]
    );
}

#[test]
fn validate_rejects_environment_lists_without_custom_with_a_clear_message() {
    let mut s = custom();
    s.access_type = None;
    let err = validate("Developers", &s).unwrap_err();
    assert_eq!(err.class(), ErrorClass::InvalidSpec);
    assert!(
        err.to_string()
            .contains("environmentAccesses is only allowed with accessType: custom"),
        "{err}"
    );
    s.access_type = Some(AccessType::Full);
    assert!(validate("Developers", &s).is_err());
    let s = spec(json!({
        "approvalPermissionType": "canApproveOthers",
        "environmentApprovalPermissions": [
            {"environmentId": PROD, "approvalPermissionType": "canBypassApproval"},
        ],
    }));
    assert!(
        validate("Developers", &s)
            .unwrap_err()
            .to_string()
            .contains("approvalPermissionType: custom")
    );
    validate("Developers", &custom()).unwrap();
}

#[test]
fn validate_rejects_duplicates_and_bad_names_and_ids_must_be_numeric() {
    let mut s = custom();
    s.environment_accesses[1].environment_id = TEST.to_uppercase();
    assert!(
        validate("Developers", &s)
            .unwrap_err()
            .to_string()
            .contains("listed twice")
    );
    assert!(validate(" Developers", &custom()).is_err());
    assert!(validate("", &custom()).is_err());
    assert!(validate(&"x".repeat(256), &custom()).is_err());
    validate(&"é".repeat(255), &custom()).unwrap();
    assert!(
        group_id("group-7")
            .unwrap_err()
            .to_string()
            .contains("numeric permissionGroupId")
    );
    assert_eq!(group_id("7").unwrap(), 7);
    for bad in [
        " 7",
        "+7",
        "-7",
        "0",
        "7/../8",
        "%37",
        "99999999999999999999",
        "",
    ] {
        assert!(group_id(bad).is_err(), "{bad:?}");
    }
    assert!(validate("line1\nline2", &custom()).is_err());
}

#[test]
fn summary_counts_granted_flags_and_environments_with_access() {
    let body = request("Developers", &custom(), &envs()).unwrap();
    assert_eq!(
        summary(&observed_from(&body)),
        "1 of 21 flags, accessType custom, access to 2 environments"
    );
    let full = request("Developers", &spec(json!({"accessType": "full"})), &envs()).unwrap();
    assert_eq!(
        summary(&observed_from(&full)),
        "0 of 21 flags, accessType full"
    );
}
