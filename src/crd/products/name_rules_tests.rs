//! The CRD rules on names and external ids, product by product: what a real apiserver refuses
//! before Roleplane sees the object (the providers' `validate` says the same for the rest).

use serde_json::{Value, json};

use crate::crd::tests::cel::{errors, role, schema};
use crate::crd::{PermissionGroup, Role};
use crate::providers::PLAIN_ID_PATTERN;

fn block(product: &str) -> Value {
    match product {
        "statsig" => json!({}),
        "slashid" => json!({"permissions": []}),
        "looker" => json!({"permissionSetRef": {"id": "1"}, "modelSetRef": {"id": "1"}}),
        "bigpanda" => json!({"permissions": [{"resourceType": "roles", "actions": ["read"]}]}),
        other => panic!("{other}"),
    }
}

/// The rule messages a Role of `product` named `name` (with `externalId` when given) breaks.
fn role_errors(product: &str, name: &str, external_id: Option<&str>) -> Vec<String> {
    let mut spec =
        json!({"providerConfigRef": {"name": "c"}, "name": name, product: block(product)});
    if let Some(id) = external_id {
        spec["externalId"] = id.into();
    }
    errors(schema::<Role>(), role(spec), None)
}

fn group_errors(name: &str, external_id: Option<&str>) -> Vec<String> {
    let mut spec = json!({
        "providerConfigRef": {"name": "c"}, "name": name,
        "productId": "7a5e6cbd-0000-4000-8000-000000000001",
    });
    if let Some(id) = external_id {
        spec["externalId"] = id.into();
    }
    let obj = json!({"apiVersion": "roleplane.dev/v1alpha1", "kind": "PermissionGroup",
        "metadata": {"name": "g"}, "spec": spec});
    errors(schema::<PermissionGroup>(), obj, None)
}

#[test]
fn every_product_refuses_control_characters_and_padded_names() {
    for product in ["statsig", "slashid", "looker", "bigpanda"] {
        let good = if product == "slashid" {
            "billing-viewer"
        } else {
            "Billing Viewer"
        };
        assert_eq!(
            role_errors(product, good, None),
            Vec::<String>::new(),
            "{product}"
        );
        for bad in [
            "line1\nline2",
            " padded",
            "padded ",
            "tab\there",
            "nul\u{0}",
        ] {
            assert!(
                !role_errors(product, bad, None).is_empty(),
                "{product}: {bad:?}"
            );
        }
    }
    assert_eq!(group_errors("Developers", None), Vec::<String>::new());
    for bad in ["line1\nline2", " Developers", "bell\u{7}"] {
        assert!(!group_errors(bad, None).is_empty(), "{bad:?}");
    }
}

#[test]
fn statsig_names_are_one_clean_path_segment() {
    for bad in [
        "line1\nline2/../x",
        "a/b",
        "..",
        "x..y",
        "100%",
        r"back\slash",
        "%2F",
    ] {
        let errs = role_errors("statsig", bad, None);
        assert!(
            errs.iter().any(|m| m.contains("URL path segments")),
            "{bad:?}: {errs:?}"
        );
    }
    assert_eq!(
        role_errors("statsig", "Custom Role.v2", None),
        Vec::<String>::new()
    );
    assert!(!role_errors("statsig", "Custom Role", Some("Other")).is_empty());
    assert_eq!(
        role_errors("statsig", "Custom Role", Some("Custom Role")),
        Vec::<String>::new()
    );
}

#[test]
fn external_ids_have_each_products_form() {
    let plain_ok = ["42", "60c5238222fa55553d93d52f", "role-1_a.b"];
    let plain_bad = [
        "../../admin",
        "a/b",
        "a%2Fb",
        "..",
        ".x",
        "x.",
        "a b",
        "id\n",
        &"x".repeat(129),
    ];
    for product in ["looker", "bigpanda"] {
        for ok in plain_ok {
            assert_eq!(
                role_errors(product, "R", Some(ok)),
                Vec::<String>::new(),
                "{product}: {ok}"
            );
        }
        for bad in plain_bad {
            let errs = role_errors(product, "R", Some(bad));
            assert!(
                errs.iter().any(|m| m.contains("externalId")),
                "{product}: {bad:?}: {errs:?}"
            );
        }
    }
    for ok in [
        "billing",
        "sim-org/billing",
        "064b7b63-ea43-76e5-b208-1900795bc5b7/billing",
    ] {
        assert_eq!(
            role_errors("slashid", "billing", Some(ok)),
            Vec::<String>::new(),
            "{ok}"
        );
    }
    for bad in [
        "other",
        "../billing",
        "a/b/billing",
        "%2e%2e/billing",
        "/billing",
        "org/other",
    ] {
        assert!(
            !role_errors("slashid", "billing", Some(bad)).is_empty(),
            "{bad:?}"
        );
    }
    for ok in ["1", "42", "9223372036854775807"] {
        assert_eq!(group_errors("G", Some(ok)), Vec::<String>::new(), "{ok}");
    }
    for bad in [
        "0",
        "007",
        "-1",
        "+1",
        " 1",
        "1/../2",
        "12345678901234567890",
        "abc",
    ] {
        assert!(!group_errors("G", Some(bad)).is_empty(), "{bad:?}");
    }
}

#[test]
fn the_rules_use_the_providers_plain_id_form() {
    let s = serde_json::to_string(&schema::<Role>()).unwrap();
    let pattern = serde_json::to_string(PLAIN_ID_PATTERN).unwrap();
    let pattern = pattern.trim_matches('"');
    assert!(s.matches(pattern).count() >= 4, "{pattern} in {s}");
}
