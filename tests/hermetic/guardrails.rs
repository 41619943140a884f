//! Tenant guardrails (RoleplanePolicy): the admission policy's CEL as the chart ships it, the
//! reconcile-time check, and that both give the same answer in the same words.

use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, Patch, PatchParams};
use kube_cel::{AdmissionRequest, VapEvaluator, VapExpression};
use roleplane::crd::{
    ConditionStatus, Managed, PermissionGroup, ProviderKind, Role, RoleplanePolicy,
};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::conformance::Fixture;
use crate::conformance::fixtures::{
    bigpanda::BigPanda, configcat::ConfigCat, looker::Looker, slashid::SlashId, statsig::Statsig,
};
use crate::harness::{Env, NEVER, NS, STATSIG_KEY, condition, failed_with, is_ready};

// --- the admission policy, evaluated as the API server would --------------------------------

/// The guardrails policy as `deploy/roleplane.yaml` ships it.
fn shipped() -> Value {
    crate::harness::shipped_admission_policy("roleplane-guardrails")
}

/// `text` with every `variables.<name>` replaced by its expression: kube-cel binds no variables;
/// the API server evaluates them lazily, as often as they are used, which inlining matches.
fn inline(text: &str, variables: &[(String, String)]) -> String {
    let pattern = regex::Regex::new(r"variables\.([A-Za-z]+)").expect("regex");
    let mut text = text.to_string();
    while pattern.is_match(&text) {
        text = pattern
            .replace_all(&text, |c: &regex::Captures<'_>| {
                let (_, expr) = variables
                    .iter()
                    .find(|(n, _)| *n == c[1])
                    .unwrap_or_else(|| panic!("no variable {}", &c[1]));
                format!("({expr})")
            })
            .into_owned();
    }
    text
}

fn validations() -> Vec<VapExpression> {
    let policy = shipped();
    let variables: Vec<(String, String)> = policy["spec"]["variables"]
        .as_array()
        .expect("variables")
        .iter()
        .map(|v| {
            (
                v["name"].as_str().expect("name").to_string(),
                v["expression"].as_str().expect("expression").to_string(),
            )
        })
        .collect();
    policy["spec"]["validations"]
        .as_array()
        .expect("validations")
        .iter()
        .map(|v| VapExpression {
            expression: inline(v["expression"].as_str().expect("expression"), &variables),
            message: v["message"].as_str().map(str::to_string),
            message_expression: v["messageExpression"]
                .as_str()
                .map(|m| inline(m, &variables)),
        })
        .collect()
}

/// A RoleplanePolicy named `name` selecting `namespaces`, with these product blocks.
fn policy(name: &str, namespaces: Value, ceilings: Value) -> Value {
    let mut spec = ceilings;
    spec["namespaces"] = namespaces;
    json!({"apiVersion": "roleplane.dev/v1alpha1", "kind": "RoleplanePolicy",
           "metadata": {"name": name}, "spec": spec})
}

fn role(spec: Value) -> Value {
    let mut spec = spec;
    spec["providerConfigRef"] = json!({"name": "c"});
    spec["name"] = json!("R");
    json!({"apiVersion": "roleplane.dev/v1alpha1", "kind": "Role",
           "metadata": {"name": "r", "namespace": NS}, "spec": spec})
}

fn group(extra: Value) -> Value {
    let mut spec = json!({"providerConfigRef": {"name": "c"}, "name": "G",
                          "productId": "08d8b1f6-7b32-4d2a-8f33-1c0a3f3b0c11"});
    for (k, v) in extra.as_object().expect("object") {
        spec[k] = v.clone();
    }
    json!({"apiVersion": "roleplane.dev/v1alpha1", "kind": "PermissionGroup",
           "metadata": {"name": "g", "namespace": NS}, "spec": spec})
}

/// The messages the admission policy refuses `object` with, for one RoleplanePolicy, in a
/// namespace with these labels.
fn admission(policy: &Value, object: &Value, labels: Value) -> Vec<String> {
    let request = AdmissionRequest {
        operation: "CREATE".into(),
        username: "tenant".into(),
        namespace: NS.into(),
        name: object["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .into(),
        ..Default::default()
    };
    VapEvaluator::builder()
        .object(object.clone())
        .request(request)
        .params(policy.clone())
        .namespace_object(json!({"apiVersion": "v1", "kind": "Namespace",
                                 "metadata": {"name": NS, "labels": labels}}))
        .build()
        .evaluate(&validations())
        .into_iter()
        .filter(|r| !r.passed)
        .map(|r| r.message.unwrap_or(r.expression))
        .collect()
}

/// The messages the reconciler refuses `object` with, for one policy that selects its namespace.
fn reconcile(policy: &Value, object: &Value) -> Vec<String> {
    let policy: RoleplanePolicy = serde_json::from_value(policy.clone()).expect("a policy");
    let name = policy.metadata.name.clone().expect("named");
    let breaches = if object["kind"] == "Role" {
        let role: Role = serde_json::from_value(object.clone()).expect("a Role");
        roleplane::providers::breaches(role.product().expect("a block"), &policy.spec.ceilings)
    } else {
        let group: PermissionGroup = serde_json::from_value(object.clone()).expect("a group");
        roleplane::providers::breaches(group.product().expect("a block"), &policy.spec.ceilings)
    };
    breaches.iter().map(|b| b.message(&name)).collect()
}

/// (ceilings, object, the refusals expected) for every product.
fn cases() -> Vec<(Value, Value, Vec<&'static str>)> {
    let statsig = |flags: Value| role(json!({"statsig": {"permissions": flags}}));
    let bp = |perms: Value| role(json!({"bigpanda": {"permissions": perms}}));
    let looker = |perms: Value, models: Value| {
        role(
            json!({"looker": {"permissionSet": {"permissions": perms}, "modelSet": {"models": models}}}),
        )
    };
    vec![
        (
            json!({"statsig": {"deniedPermissions": ["launchToProduction", "bypassReviewsForOverrides"]}}),
            statsig(
                json!({"createConfigs": true, "launchToProduction": true, "bypassReviewsForOverrides": false}),
            ),
            vec!["RoleplanePolicy p does not allow statsig permission: launchToProduction"],
        ),
        (
            json!({"statsig": {"deniedPermissions": ["launchToProduction"]}}),
            statsig(json!({"createConfigs": true, "launchToProduction": false})),
            vec![],
        ),
        (
            json!({"statsig": {"deniedAdditionalPermissions": ["*"]}}),
            role(json!({"statsig": {"additionalPermissions": [
                {"name": "new_flag", "enabled": true}, {"name": "off_flag", "enabled": false}]}})),
            vec!["RoleplanePolicy p does not allow statsig additional permission: new_flag"],
        ),
        (
            json!({"configcat": {"deniedPermissions": ["canManageMembers"],
                                 "allowedPermissions": ["canManageMembers", "canCreateOrUpdateConfig"],
                                 "allowedAccessTypes": ["readOnly", "custom"],
                                 "allowedEnvironmentAccessTypes": ["readOnly"]}}),
            group(
                json!({"canManageMembers": true, "canDeleteConfig": true, "canCreateOrUpdateConfig": true,
                         "accessType": "custom", "newEnvironmentAccessType": "none",
                         "environmentAccesses": [{"environmentId": "08d8b1f6-7b32-4d2a-8f33-1c0a3f3b0c12", "environmentAccessType": "full"}]}),
            ),
            vec![
                "RoleplanePolicy p does not allow configcat permission: canManageMembers",
                "RoleplanePolicy p does not allow configcat permission: canDeleteConfig",
                "RoleplanePolicy p does not allow configcat environment access type: full",
            ],
        ),
        (
            json!({"configcat": {"allowedAccessTypes": ["readOnly", "custom"],
                                 "allowedApprovalPermissionTypes": ["cannotApprove", "canApproveOthers"]}}),
            group(json!({"accessType": "full", "approvalPermissionType": "canBypassApproval"})),
            vec![
                "RoleplanePolicy p does not allow configcat access type: full",
                "RoleplanePolicy p does not allow configcat approval permission type: canBypassApproval",
            ],
        ),
        (
            json!({"configcat": {"allowedAccessTypes": ["readOnly"]}}),
            // No accessType means custom.
            group(json!({"canViewSdkKey": true})),
            vec!["RoleplanePolicy p does not allow configcat access type: custom"],
        ),
        (
            json!({"slashid": {"deniedPermissions": ["admin*", "billing.write"],
                               "allowedPermissions": ["billing.*", "reports.read"]}}),
            role(
                json!({"slashid": {"permissions": ["billing.read", "billing.write", "admin.all", "reports.read", "users.read"]}}),
            ),
            vec![
                "RoleplanePolicy p does not allow slashid permission: billing.write, admin.all",
                "RoleplanePolicy p does not allow slashid permission: admin.all, users.read",
            ],
        ),
        (
            json!({"looker": {"deniedPermissions": ["sudo", "develop"], "allowedModels": ["ecommerce"]}}),
            looker(
                json!(["access_data", "develop", "sudo"]),
                json!(["ecommerce", "finance"]),
            ),
            vec![
                "RoleplanePolicy p does not allow looker permission: develop, sudo",
                "RoleplanePolicy p does not allow looker model: finance",
            ],
        ),
        (
            json!({"looker": {"allowedPermissions": ["access_data", "see_looks"], "deniedModels": ["finance"]}}),
            role(
                json!({"looker": {"permissionSetRef": {"name": "Admin"}, "modelSetRef": {"name": "All"}}}),
            ),
            vec![
                "RoleplanePolicy p does not allow looker set reference: permissionSetRef, modelSetRef",
            ],
        ),
        (
            json!({"looker": {"allowedPermissions": ["access_data"], "allowSetReferences": true}}),
            role(
                json!({"looker": {"permissionSetRef": {"name": "Admin"}, "modelSet": {"models": ["x"]}}}),
            ),
            vec![],
        ),
        (
            json!({"bigpanda": {"deniedResourceTypes": ["roles"], "allowedResourceTypes": ["users", "environments", "roles"],
                                "deniedActions": [{"resourceType": "users", "actions": ["full_access"]},
                                                  {"actions": ["incident_actions"]}]}}),
            bp(json!([
                {"resourceType": "roles", "actions": ["read"]},
                {"resourceType": "users", "actions": ["read", "full_access"]},
                {"resourceType": "environments", "resourceId": "e1", "actions": ["read", "incident_actions"]},
                {"resourceType": "maintenance_plans", "actions": ["read"]},
            ])),
            vec![
                "RoleplanePolicy p does not allow bigpanda resource type: roles",
                "RoleplanePolicy p does not allow bigpanda resource type: maintenance_plans",
                "RoleplanePolicy p does not allow bigpanda action: users:full_access, environments:incident_actions",
            ],
        ),
        (
            // A policy limits only its own product.
            json!({"bigpanda": {"deniedResourceTypes": ["roles"]}, "statsig": {"deniedPermissions": ["createConfigs"]}}),
            group(json!({"canManageMembers": true})),
            vec![],
        ),
    ]
}

#[test]
fn admission_and_reconcile_refuse_the_same_grants_in_the_same_words() {
    for (ceilings, object, expected) in cases() {
        let policy = policy("p", json!({"names": [NS]}), ceilings.clone());
        let mut at_admission = admission(&policy, &object, json!({}));
        let mut at_reconcile = reconcile(&policy, &object);
        at_admission.sort();
        at_reconcile.sort();
        let mut expected: Vec<String> = expected.into_iter().map(String::from).collect();
        expected.sort();
        assert_eq!(
            at_admission, expected,
            "admission, {ceilings} over {object}"
        );
        assert_eq!(
            at_reconcile, expected,
            "reconcile, {ceilings} over {object}"
        );
    }
}

#[test]
fn a_policy_applies_only_to_the_namespaces_it_selects() {
    let object = role(json!({"statsig": {"permissions": {"launchToProduction": true}}}));
    let ceilings = json!({"statsig": {"deniedPermissions": ["launchToProduction"]}});
    let refused = |namespaces: Value, labels: Value| {
        !admission(&policy("p", namespaces, ceilings.clone()), &object, labels).is_empty()
    };
    assert!(refused(json!({"names": ["other", NS]}), json!({})));
    assert!(!refused(json!({"names": ["other"]}), json!({})));
    assert!(
        !refused(json!({}), json!({"tier": "tenant"})),
        "empty selects none"
    );
    assert!(
        !refused(json!({"selector": {}}), json!({"tier": "tenant"})),
        "an empty selector selects none"
    );
    let by_label = json!({"selector": {"matchLabels": {"tier": "tenant"}}});
    assert!(refused(by_label.clone(), json!({"tier": "tenant"})));
    assert!(!refused(by_label, json!({"tier": "platform"})));
    let expressions = json!({"selector": {"matchExpressions": [
        {"key": "tier", "operator": "In", "values": ["tenant", "sandbox"]},
        {"key": "legacy", "operator": "DoesNotExist"}]}});
    assert!(refused(expressions.clone(), json!({"tier": "sandbox"})));
    assert!(!refused(
        expressions.clone(),
        json!({"tier": "sandbox", "legacy": "1"})
    ));
    assert!(!refused(expressions, json!({})));
    // kube-cel escapes dots and slashes in map keys (the API server does not), so the test
    // uses a plain key where docs/guardrails.md suggests `kubernetes.io/metadata.name`.
    let every = json!({"selector": {"matchExpressions": [
        {"key": "name", "operator": "Exists"}]}});
    assert!(refused(every.clone(), json!({"name": NS})));
    assert!(!refused(every, json!({})));
    let not_in = json!({"selector": {"matchExpressions": [
        {"key": "tier", "operator": "NotIn", "values": ["platform"]}]}});
    assert!(refused(not_in.clone(), json!({})));
    assert!(!refused(not_in, json!({"tier": "platform"})));
}

#[test]
fn metadata_only_updates_pass_so_a_denied_resource_can_still_be_deleted() {
    let policy = shipped();
    let condition: Vec<VapExpression> = vec![VapExpression {
        expression: policy["spec"]["matchConditions"][0]["expression"]
            .as_str()
            .expect("a match condition")
            .into(),
        message: None,
        message_expression: None,
    }];
    let old = role(json!({"statsig": {"permissions": {"launchToProduction": true}}}));
    let mut finalizer_removed = old.clone();
    finalizer_removed["metadata"]["deletionTimestamp"] = json!("2026-01-01T00:00:00Z");
    let mut spec_changed = old.clone();
    spec_changed["spec"]["statsig"]["permissions"]["createConfigs"] = json!(true);
    let applies = |operation: &str, new: &Value| {
        VapEvaluator::builder()
            .object(new.clone())
            .old_object(old.clone())
            .request(AdmissionRequest {
                operation: operation.into(),
                namespace: NS.into(),
                ..Default::default()
            })
            .build()
            .evaluate(&condition)
            .iter()
            .all(|r| r.passed)
    };
    assert!(!applies("UPDATE", &finalizer_removed));
    assert!(applies("UPDATE", &spec_changed));
    assert!(applies("CREATE", &old));
}

#[test]
fn the_chart_template_is_generated_from_the_types() {
    let path = format!(
        "{}/{}",
        env!("CARGO_MANIFEST_DIR"),
        roleplane::crd::admission::TEMPLATE_PATH
    );
    let on_disk = std::fs::read_to_string(&path).expect("the guardrails template");
    assert!(
        on_disk == roleplane::crd::admission::chart_template(),
        "{path} is stale: run `cargo run --bin crdgen -- --guardrails {}` and \
         `.ci/venv/bin/python ci/chart_check.py --write`",
        roleplane::crd::admission::TEMPLATE_PATH
    );
}

// --- at reconcile: the real controller against the API double and the simulators ------------

async fn apply_policy(env: &Env, body: Value) {
    let api: Api<RoleplanePolicy> = Api::all(env.client.clone());
    let name = body["metadata"]["name"].as_str().expect("name").to_string();
    api.patch(
        &name,
        &PatchParams::apply("test").force(),
        &Patch::Apply(&body),
    )
    .await
    .expect("policy applied");
}

async fn label_namespace(env: &Env, name: &str, labels: Value) {
    let api: Api<Namespace> = Api::all(env.client.clone());
    let body = json!({"apiVersion": "v1", "kind": "Namespace",
                      "metadata": {"name": name, "labels": labels}});
    api.patch(
        name,
        &PatchParams::apply("test").force(),
        &Patch::Apply(&body),
    )
    .await
    .expect("namespace applied");
}

/// A resource over its namespace's ceiling: `PolicyDenied`, a Warning Event naming the policy
/// and the permission, and not one request to the product.
async fn denied_before_any_product_call<F: Fixture>(ceilings: Value, breach: &str) {
    let env = Env::start().await;
    apply_policy(&env, policy("tenants", json!({"names": [NS]}), ceilings)).await;
    F::account(&env, NS, true).await;
    env.apply::<F::Kind>(
        NS,
        json!({"metadata": {"name": "tenant-role"}, "spec": F::spec("tenant-role")}),
    )
    .await;
    let denied = env
        .wait_managed::<F::Kind>(NS, "tenant-role", "PolicyDenied", |o| {
            o.managed_status().is_some_and(failed_with("PolicyDenied"))
        })
        .await;
    let status = denied.managed_status().expect("status");
    let (_, _, message) = condition(status, "Synced").expect("Synced");
    let want = format!("RoleplanePolicy tenants does not allow {breach}");
    assert!(message.contains(&want), "{message}");
    assert!(message.contains("nothing is created"), "{message}");
    assert!(matches!(
        condition(status, "Ready"),
        Some((ConditionStatus::False, _, _))
    ));
    let event = env.wait_event(NS, "tenant-role", "PolicyDenied").await;
    assert!(event.contains(&want), "{event}");
    // The only calls are the config's own credential check (reads); nothing about the role.
    let calls: Vec<String> = F::traffic(&env)
        .requests()
        .into_iter()
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert!(
        calls
            .iter()
            .all(|c| c.starts_with("GET ") || (c.starts_with("POST ") && c.ends_with("/login"))),
        "{}: {calls:?}",
        F::PRODUCT
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statsig_role_over_the_ceiling_is_denied_without_product_calls() {
    denied_before_any_product_call::<Statsig>(
        json!({"statsig": {"deniedPermissions": ["createConfigs"]}}),
        "statsig permission: createConfigs",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configcat_group_over_the_ceiling_is_denied_without_product_calls() {
    denied_before_any_product_call::<ConfigCat>(
        json!({"configcat": {"allowedEnvironmentAccessTypes": ["readOnly"]}}),
        "configcat environment access type: full",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slashid_role_over_the_ceiling_is_denied_without_product_calls() {
    denied_before_any_product_call::<SlashId>(
        json!({"slashid": {"deniedPermissions": ["billing.*"]}}),
        "slashid permission: billing.read",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn looker_role_over_the_ceiling_is_denied_without_product_calls() {
    denied_before_any_product_call::<Looker>(
        json!({"looker": {"allowedModels": ["ecommerce"]}}),
        "looker model: thelook",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bigpanda_role_over_the_ceiling_is_denied_without_product_calls() {
    denied_before_any_product_call::<BigPanda>(
        json!({"bigpanda": {"deniedResourceTypes": ["roles"]}}),
        "bigpanda resource type: roles",
    )
    .await;
}

fn statsig_spec(flags: Value) -> Value {
    json!({"providerConfigRef": {"name": "statsig"}, "name": "Tenant",
           "statsig": {"permissions": flags}})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_policies_combine_to_the_most_restrictive_and_report_their_status() {
    let env = Env::start().await;
    label_namespace(&env, NS, json!({"tier": "tenant"})).await;
    label_namespace(&env, "platform", json!({"tier": "platform"})).await;
    apply_policy(
        &env,
        policy(
            "by-name",
            json!({"names": [NS]}),
            json!({"statsig": {"deniedPermissions": ["launchToProduction"]}}),
        ),
    )
    .await;
    apply_policy(
        &env,
        policy(
            "by-label",
            json!({"selector": {"matchLabels": {"tier": "tenant"}}}),
            json!({"statsig": {"deniedPermissions": ["createConfigs"]}}),
        ),
    )
    .await;
    apply_policy(
        &env,
        policy(
            "elsewhere",
            json!({"names": ["platform"]}),
            json!({"statsig": {"deniedPermissions": ["invitationAccess"]}}),
        ),
    )
    .await;
    apply_policy(
        &env,
        policy(
            "nowhere",
            json!({"names": ["no-such-namespace"]}),
            json!({"statsig": {"deniedPermissions": ["invitationAccess"]}}),
        ),
    )
    .await;
    env.statsig_account(NS).await;
    env.role(
        NS,
        "tenant",
        statsig_spec(json!({
        "createConfigs": true, "launchToProduction": true, "invitationAccess": true})),
    )
    .await;
    let denied = env
        .wait_role(NS, "tenant", "PolicyDenied", failed_with("PolicyDenied"))
        .await;
    let message = condition(denied.status.as_ref().expect("status"), "Synced")
        .expect("Synced")
        .2;
    assert!(
        message
            .contains("RoleplanePolicy by-label does not allow statsig permission: createConfigs"),
        "{message}"
    );
    assert!(
        message.contains(
            "RoleplanePolicy by-name does not allow statsig permission: launchToProduction"
        ),
        "{message}"
    );
    assert!(
        !message.contains("elsewhere") && !message.contains("nowhere"),
        "{message}"
    );
    assert!(env.mutations(ProviderKind::Statsig).is_empty());
    // Under every ceiling: created.
    env.patch_spec::<Role>(
        NS,
        "tenant",
        json!({"statsig": {"permissions": {
        "createConfigs": false, "launchToProduction": false}}}),
    )
    .await;
    env.wait_role(NS, "tenant", "Ready", is_ready).await;
    let role = env
        .sim
        .statsig
        .role(STATSIG_KEY, "Tenant")
        .expect("created");
    assert_eq!(role.get("invitation_access"), Some(&true));
    // Status: which policies select something.
    let api: Api<RoleplanePolicy> = Api::all(env.client.clone());
    for (name, ready, reason) in [
        ("by-label", ConditionStatus::True, "Active"),
        ("elsewhere", ConditionStatus::True, "Active"),
        ("nowhere", ConditionStatus::False, "NoNamespaceSelected"),
    ] {
        let deadline = tokio::time::Instant::now() + crate::harness::WAIT;
        loop {
            let p = api.get(name).await.expect("policy");
            let found = p.status.as_ref().and_then(|s| {
                s.conditions
                    .iter()
                    .find(|c| c.r#type == "Ready")
                    .map(|c| (c.status, c.reason.clone(), s.namespaces))
            });
            if let Some((status, r, count)) = &found
                && *status == ready
                && r == reason
            {
                assert_eq!(
                    *count,
                    Some(u32::from(ready == ConditionStatus::True)),
                    "{name}"
                );
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{name}: status {found:?}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tightened_policy_leaves_the_product_object_alone_and_deletion_still_works() {
    // No polls: only the policy change can bring the resource to be checked again.
    let env = Env::start_with(|c| c.poll_interval = NEVER).await;
    env.statsig_account(NS).await;
    env.role(NS, "tenant", statsig_spec(json!({"createConfigs": true})))
        .await;
    env.wait_role(NS, "tenant", "Ready", is_ready).await;
    let writes = env.mutations(ProviderKind::Statsig).len();
    // The platform team tightens the ceiling: the resource is checked again at once.
    apply_policy(
        &env,
        policy(
            "tenants",
            json!({"names": [NS]}),
            json!({"statsig": {"deniedPermissions": ["createConfigs"]}}),
        ),
    )
    .await;
    let denied = env
        .wait_role(NS, "tenant", "PolicyDenied", failed_with("PolicyDenied"))
        .await;
    let message = condition(denied.status.as_ref().expect("status"), "Synced")
        .expect("Synced")
        .2;
    assert!(
        message
            .contains("RoleplanePolicy tenants does not allow statsig permission: createConfigs"),
        "{message}"
    );
    assert!(
        message.contains("the statsig object Tenant is left as it is"),
        "{message}"
    );
    let note = env.wait_event(NS, "tenant", "PolicyDenied").await;
    assert!(note.contains("RoleplanePolicy tenants"), "{note}");
    // An out-of-band change is not corrected either: no write while denied.
    let mut role = env
        .sim
        .statsig
        .role(STATSIG_KEY, "Tenant")
        .expect("still there");
    assert_eq!(role.get("create_configs"), Some(&true));
    role.insert("create_configs".into(), false);
    env.sim.statsig.put_role(STATSIG_KEY, "Tenant", role);
    env.poke::<Role>(NS, "tenant", "1").await;
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    assert_eq!(env.mutations(ProviderKind::Statsig).len(), writes);
    // Deletion does not depend on the ceiling.
    env.delete::<Role>(NS, "tenant").await;
    env.wait_gone::<Role>(NS, "tenant").await;
    assert!(env.sim.statsig.role(STATSIG_KEY, "Tenant").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_namespace_labelled_into_a_policy_is_checked_at_once() {
    // A long poll: only the label change can bring the check this soon.
    let env = Env::start_with(|c| c.poll_interval = std::time::Duration::from_secs(600)).await;
    label_namespace(&env, NS, json!({"tier": "sandbox"})).await;
    apply_policy(
        &env,
        policy(
            "tenants",
            json!({"selector": {"matchLabels": {"tier": "tenant"}}}),
            json!({"statsig": {"deniedPermissions": ["createConfigs"]}}),
        ),
    )
    .await;
    env.statsig_account(NS).await;
    env.role(NS, "tenant", statsig_spec(json!({"createConfigs": true})))
        .await;
    env.wait_role(NS, "tenant", "Ready", is_ready).await;
    label_namespace(&env, NS, json!({"tier": "tenant"})).await;
    let denied = env
        .wait_role(NS, "tenant", "PolicyDenied", failed_with("PolicyDenied"))
        .await;
    let message = condition(denied.status.as_ref().expect("status"), "Synced")
        .expect("Synced")
        .2;
    assert!(
        message
            .contains("RoleplanePolicy tenants does not allow statsig permission: createConfigs"),
        "{message}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_policy_crd_no_policy_exists_and_resources_still_sync() {
    // An install upgraded before this release's CRDs were applied: the kind is unknown (404).
    let crds: Vec<_> = roleplane::crd::all()
        .into_iter()
        .filter(|c| c.spec.names.kind != "RoleplanePolicy")
        .collect();
    let env = Env::start_with_crds(crds, |_| {}).await;
    env.statsig_account(NS).await;
    env.role(NS, "tenant", statsig_spec(json!({"createConfigs": true})))
        .await;
    env.wait_role(NS, "tenant", "Ready", is_ready).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_policies_in_the_docs_apply_and_unknown_names_are_refused() {
    let env = Env::start().await;
    let docs = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/guardrails.md"))
        .expect("docs/guardrails.md");
    let mut applied = 0;
    for block in docs.split("```yaml").skip(1) {
        let block = block.split("```").next().expect("a fenced block");
        for doc in serde_yaml_ng::Deserializer::from_str(block) {
            let body = Value::deserialize(doc).expect("valid YAML");
            if body["kind"] == "RoleplanePolicy" {
                apply_policy(&env, body).await;
                applied += 1;
            }
        }
    }
    assert!(applied >= 3, "{applied} policies in the docs");
    // Typed names: a misspelt flag is refused when the policy is applied.
    let api: Api<RoleplanePolicy> = Api::all(env.client.clone());
    let typo = policy(
        "typo",
        json!({"names": [NS]}),
        json!({"statsig": {"deniedPermissions": ["launchToProd"]}}),
    );
    let refused = api
        .patch("typo", &PatchParams::apply("test"), &Patch::Apply(&typo))
        .await
        .expect_err("an unknown flag name is refused");
    assert!(
        refused.to_string().contains("launchToProduction"),
        "{refused}"
    );
}

/// Every `object.spec…` and `params.spec…` path the admission policy reads exists in the CRD
/// schemas (the API server type-checks the policy against them; kube-cel does not).
#[test]
fn the_admission_policy_reads_only_fields_the_kinds_have() {
    let schema_of = |kind: &str| -> Value {
        let crd = roleplane::crd::all()
            .into_iter()
            .find(|c| c.spec.names.kind == kind)
            .expect("a CRD");
        serde_json::to_value(&crd.spec.versions[0].schema).expect("json")["openAPIV3Schema"]
            ["properties"]["spec"]
            .clone()
    };
    let has = |schema: &Value, path: &str| -> bool {
        let mut at = schema.clone();
        for part in path.trim_start_matches('.').split('.') {
            while at["type"] == "array" {
                at = at["items"].clone();
            }
            match at["properties"].get(part) {
                Some(next) => at = next.clone(),
                None => return false,
            }
        }
        true
    };
    let policy = shipped();
    let text = format!(
        "{} {}",
        policy["spec"]["variables"], policy["spec"]["validations"]
    );
    let paths = regex::Regex::new(r"\b(params|object)\.spec((?:\.[A-Za-z0-9]+)+)").expect("regex");
    let (params, role, group) = (
        schema_of("RoleplanePolicy"),
        schema_of("Role"),
        schema_of("PermissionGroup"),
    );
    let mut seen = 0;
    for found in paths.captures_iter(&text) {
        // A last segment followed by `(` is a method (`.exists(`), not a field.
        let mut path = found[2].to_string();
        if text[found.get(0).expect("match").end()..].starts_with('(') {
            path.truncate(path.rfind('.').expect("a segment"));
        }
        let ok = if &found[1] == "params" {
            has(&params, &path)
        } else {
            has(&role, &path) || has(&group, &path)
        };
        assert!(ok, "no field {}", &found[0]);
        seen += 1;
    }
    assert!(seen > 100, "{seen} paths");
}
