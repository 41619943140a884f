//! The chart's guardrails admission policy (a ValidatingAdmissionPolicy with RoleplanePolicy as
//! its `paramKind`), generated from every product's checks so that admission and reconcile say
//! the same thing. `crdgen --guardrails <file>` writes it to the chart; a test fails on drift.
//!
//! The binding selects every RoleplanePolicy as a parameter: the API server runs the validations
//! once per policy and refuses the request if any policy refuses it (the most restrictive
//! result). Each validation first checks that the policy selects the request's namespace, by
//! name or by the Namespace's labels (`namespaceObject`).

use serde::Serialize;

use super::policy::cel_list;

/// Where the generated template lives in the repository.
pub const TEMPLATE_PATH: &str = "charts/roleplane/templates/guardrails.yaml";

/// A named CEL expression the validations share (`variables.<name>`); later ones may use
/// earlier ones.
#[derive(Clone, Debug, Serialize)]
pub struct Variable {
    pub name: &'static str,
    pub expression: String,
}

/// The policy's variables; `applies` says whether `params` (a RoleplanePolicy) selects the
/// request's namespace: the CEL twin of `controller::account::admits` (a name, or a non-empty
/// selector that matches the Namespace's labels).
pub fn variables() -> Vec<Variable> {
    let s = "params.spec.namespaces.selector";
    let var = |name, expression: String| Variable { name, expression };
    vec![
        var(
            "labels",
            "has(namespaceObject.metadata.labels) ? namespaceObject.metadata.labels : {}".into(),
        ),
        var(
            "matchLabels",
            format!("has({s}) && has({s}.matchLabels) ? {s}.matchLabels : {{}}"),
        ),
        var(
            "matchExpressions",
            format!("has({s}) && has({s}.matchExpressions) ? {s}.matchExpressions : []"),
        ),
        var(
            "applies",
            format!(
                "request.namespace in {names} || (size(variables.matchLabels) + size(variables.matchExpressions) > 0 \
                 && variables.matchLabels.all(k, k in variables.labels && variables.labels[k] == variables.matchLabels[k]) \
                 && variables.matchExpressions.all(e, e.operator == 'In' ? (e.key in variables.labels && variables.labels[e.key] in {values}) \
                 : e.operator == 'NotIn' ? (!(e.key in variables.labels) || !(variables.labels[e.key] in {values})) \
                 : e.operator == 'Exists' ? e.key in variables.labels : !(e.key in variables.labels)))",
                names = cel_list("params.spec.namespaces.names"),
                values = cel_list("e.values"),
            ),
        ),
    ]
}

/// One validation of the admission policy.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Validation {
    pub expression: String,
    pub message_expression: String,
    /// Shown if the message expression cannot be evaluated.
    pub message: String,
    pub reason: &'static str,
}

/// Every validation: one per product rule, each only for the namespaces the policy selects.
pub fn validations() -> Vec<Validation> {
    crate::providers::admission_rules()
        .into_iter()
        .map(|r| Validation {
            expression: format!(
                "!variables.applies || !({}) || size({}) == 0",
                r.when, r.offending
            ),
            message_expression: format!(
                "'RoleplanePolicy ' + params.metadata.name + ' does not allow {}: ' + {}.join(', ')",
                r.what, r.offending
            ),
            message: format!("a RoleplanePolicy selecting this namespace does not allow a {} this spec grants", r.what),
            reason: "Forbidden",
        })
        .collect()
}

/// Re-checks only requests that write a spec: metadata-only updates (finalizers, annotations)
/// pass, so a resource made non-compliant by a later policy can still be cleaned up and deleted.
pub const MATCH_CONDITION: &str = "request.operation == 'CREATE' || object.spec != oldObject.spec";

/// The chart template (Helm), gated on the chart value and on Kubernetes 1.30+.
pub fn chart_template() -> String {
    let indent = |yaml: String| -> String { yaml.lines().map(|l| format!("    {l}\n")).collect() };
    let variables =
        indent(serde_yaml_ng::to_string(&variables()).expect("variables serialize to YAML"));
    let validations =
        indent(serde_yaml_ng::to_string(&validations()).expect("validations serialize to YAML"));
    format!(
        r#"{{{{- /* Generated from the Rust types by `cargo run --bin crdgen -- --guardrails {TEMPLATE_PATH}`; do not edit. */}}}}
{{{{- if and .Values.admissionPolicies.guardrails (semverCompare ">=1.30.0-0" .Capabilities.KubeVersion.Version) }}}}
# Tenant guardrails (docs/guardrails.md): a Role or PermissionGroup that grants more than a
# RoleplanePolicy selecting its namespace allows is refused, with a message naming the policy
# and the permission. The operator checks the same again before any product write.
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata:
  name: {{{{ include "roleplane.fullname" . }}}}-guardrails
  labels:
    {{{{- include "roleplane.labels" . | nindent 4 }}}}
spec:
  failurePolicy: Fail
  paramKind:
    apiVersion: roleplane.dev/v1alpha1
    kind: RoleplanePolicy
  matchConstraints:
    resourceRules:
      - apiGroups: ["roleplane.dev"]
        apiVersions: ["v1alpha1"]
        operations: ["CREATE", "UPDATE"]
        resources: ["roles", "permissiongroups"]
  matchConditions:
    - name: spec-written
      expression: "{MATCH_CONDITION}"
  variables:
{variables}  validations:
{validations}---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata:
  name: {{{{ include "roleplane.fullname" . }}}}-guardrails
  labels:
    {{{{- include "roleplane.labels" . | nindent 4 }}}}
spec:
  policyName: {{{{ include "roleplane.fullname" . }}}}-guardrails
  # Every RoleplanePolicy is a parameter; none at all admits everything.
  paramRef:
    selector: {{}}
    parameterNotFoundAction: Allow
  validationActions: [Deny]
{{{{- end }}}}
"#
    )
}
