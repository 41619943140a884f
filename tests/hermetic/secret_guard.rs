//! The chart's secret guard (a ValidatingAdmissionPolicy in `deploy/`): the operator's
//! ServiceAccount may add or remove its credentials finalizer on a Secret and change nothing
//! else; nobody else is affected. Runs the shipped policy's CEL on the cases that matter.

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kube_cel::{AdmissionRequest, VapEvaluator, VapExpression};
use roleplane::crd::CREDENTIALS_FINALIZER;
use serde_json::{Value, json};

const OPERATOR: &str = "system:serviceaccount:roleplane-system:roleplane";

/// The secret guard policy as `deploy/roleplane.yaml` ships it.
fn policy() -> Value {
    crate::harness::shipped_admission_policy("roleplane-secret-guard")
}

fn request(username: &str) -> AdmissionRequest {
    AdmissionRequest {
        operation: "UPDATE".into(),
        username: username.into(),
        namespace: "tenant-x".into(),
        name: "creds".into(),
        ..Default::default()
    }
}

/// Whether the policy applies to `username` (its matchConditions).
fn applies_to(username: &str) -> bool {
    let policy = policy();
    let conditions: Vec<VapExpression> = policy["spec"]["matchConditions"]
        .as_array()
        .expect("matchConditions")
        .iter()
        .map(|c| VapExpression {
            expression: c["expression"].as_str().expect("expression").into(),
            message: None,
            message_expression: None,
        })
        .collect();
    let results = VapEvaluator::builder()
        .object(json!({}))
        .old_object(json!({}))
        .request(request(username))
        .build()
        .evaluate(&conditions);
    results.iter().all(|r| r.passed)
}

/// The messages of the validations an update from `old` to `new` fails.
fn refusals(old: &Secret, new: &Secret) -> Vec<String> {
    let policy = policy();
    let validations: Vec<VapExpression> =
        serde_json::from_value(policy["spec"]["validations"].clone()).expect("validations");
    let results = VapEvaluator::builder()
        .object(serde_json::to_value(new).expect("json"))
        .old_object(serde_json::to_value(old).expect("json"))
        .request(request(OPERATOR))
        .build()
        .evaluate(&validations);
    results
        .into_iter()
        .filter(|r| !r.passed)
        .map(|r| r.message.unwrap_or_else(|| r.expression.clone()))
        .collect()
}

fn secret(finalizers: &[&str]) -> Secret {
    Secret {
        metadata: ObjectMeta {
            name: Some("creds".into()),
            namespace: Some("tenant-x".into()),
            labels: Some([("team".to_string(), "a".to_string())].into()),
            finalizers: (!finalizers.is_empty())
                .then(|| finalizers.iter().map(|f| f.to_string()).collect()),
            ..Default::default()
        },
        data: Some([("apiKey".to_string(), ByteString(b"console-1".to_vec()))].into()),
        type_: Some("Opaque".into()),
        ..Default::default()
    }
}

#[test]
fn the_guard_applies_to_the_operator_only() {
    assert!(applies_to(OPERATOR));
    assert!(!applies_to("kubernetes-admin"));
    assert!(!applies_to("system:serviceaccount:other:roleplane"));
}

#[test]
fn adding_and_removing_the_credentials_finalizer_is_allowed() {
    let cases = [
        (secret(&[]), secret(&[CREDENTIALS_FINALIZER])),
        (
            secret(&["other"]),
            secret(&["other", CREDENTIALS_FINALIZER]),
        ),
        (secret(&[CREDENTIALS_FINALIZER]), secret(&[])),
        (
            secret(&["a", CREDENTIALS_FINALIZER, "b"]),
            secret(&["a", "b"]),
        ),
    ];
    for (old, new) in &cases {
        assert_eq!(
            refusals(old, new),
            Vec::<String>::new(),
            "{old:?} -> {new:?}"
        );
    }
}

#[test]
fn any_other_change_is_refused_with_a_message() {
    let old = secret(&[CREDENTIALS_FINALIZER]);
    let mut changes: Vec<(&str, Secret)> = Vec::new();
    let mut s = old.clone();
    s.data = Some([("apiKey".to_string(), ByteString(b"console-2".to_vec()))].into());
    changes.push(("data", s));
    let mut s = old.clone();
    s.data = None;
    changes.push(("data", s));
    let mut s = old.clone();
    s.string_data = None;
    s.type_ = Some("kubernetes.io/basic-auth".into());
    changes.push(("type", s));
    let mut s = old.clone();
    s.immutable = Some(true);
    changes.push(("immutability", s));
    let mut s = old.clone();
    s.metadata.labels = Some([("team".to_string(), "b".to_string())].into());
    changes.push(("labels", s));
    let mut s = old.clone();
    s.metadata.annotations = Some([("x".to_string(), "y".to_string())].into());
    changes.push(("annotations", s));
    let mut s = old.clone();
    s.metadata.owner_references = Some(vec![OwnerReference {
        api_version: "v1".into(),
        kind: "ConfigMap".into(),
        name: "x".into(),
        uid: "1".into(),
        ..Default::default()
    }]);
    changes.push(("owners", s));
    changes.push(("finalizer", secret(&[CREDENTIALS_FINALIZER, "other"])));
    for (what, new) in &changes {
        let refused = refusals(&old, new);
        assert_eq!(refused.len(), 1, "{what}: {refused:?}");
        assert!(refused[0].contains(what), "{what}: {refused:?}");
    }
    // Removing someone else's finalizer.
    let refused = refusals(
        &secret(&["other", CREDENTIALS_FINALIZER]),
        &secret(&[CREDENTIALS_FINALIZER]),
    );
    assert_eq!(refused.len(), 1, "{refused:?}");
}

/// Every field the policy reads exists on a Secret (the API server type-checks against it).
#[test]
fn the_guard_reads_only_fields_a_secret_has() {
    let policy = policy();
    let text = policy["spec"]["validations"].to_string();
    let full = Secret {
        metadata: ObjectMeta {
            labels: Some([("a".to_string(), "b".to_string())].into()),
            annotations: Some([("a".to_string(), "b".to_string())].into()),
            finalizers: Some(vec!["x".into()]),
            owner_references: Some(vec![OwnerReference::default()]),
            ..Default::default()
        },
        data: Some(Default::default()),
        immutable: Some(false),
        type_: Some("Opaque".into()),
        ..Default::default()
    };
    let full = serde_json::to_value(&full).expect("json");
    let paths = regex::Regex::new(r"\b(?:oldObject|object)((?:\.[A-Za-z]+)+)").expect("regex");
    let mut seen = 0;
    for found in paths.captures_iter(&text) {
        let mut at = &full;
        for part in found[1].trim_start_matches('.').split('.') {
            at = at
                .get(part)
                .unwrap_or_else(|| panic!("a Secret has no {}", &found[0]));
        }
        seen += 1;
    }
    assert!(seen >= 14, "{seen} paths");
}
