//! RoleplanePolicy checks for BigPanda roles: at reconcile (`check`) and, as CEL, at admission
//! (`admission`). Both report the same breaches, in the same order and words.

use crate::crd::policy::{AdmissionRule, Breach, cel_list};
use crate::crd::{BigPandaAction, BigPandaCeiling, BigPandaPermission, BigPandaRole};

const RESOURCE_TYPE: &str = "bigpanda resource type";
const ACTION: &str = "bigpanda action";

fn wire(action: BigPandaAction) -> String {
    serde_json::to_value(action)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// The actions of `p` that `ceiling` denies, in the order `p` lists them.
fn denied_actions(p: &BigPandaPermission, ceiling: &BigPandaCeiling) -> Vec<String> {
    p.actions
        .iter()
        .filter(|a| {
            ceiling.denied_actions.iter().any(|d| {
                d.resource_type
                    .as_ref()
                    .is_none_or(|t| *t == p.resource_type)
                    && d.actions.contains(a)
            })
        })
        .map(|a| wire(*a))
        .collect()
}

/// What `role` grants beyond `ceiling`.
pub fn check(role: &BigPandaRole, ceiling: &BigPandaCeiling) -> Vec<Breach> {
    let types = |keep: &dyn Fn(&String) -> bool| -> Vec<String> {
        role.permissions
            .iter()
            .filter(|p| keep(&p.resource_type))
            .map(|p| p.resource_type.clone())
            .collect()
    };
    let mut breaches = vec![Breach::of(
        RESOURCE_TYPE,
        types(&|t| ceiling.denied_resource_types.contains(t)),
    )];
    if let Some(ok) = &ceiling.allowed_resource_types {
        breaches.push(Breach::of(RESOURCE_TYPE, types(&|t| !ok.contains(t))));
    }
    breaches.push(Breach::of(
        ACTION,
        role.permissions
            .iter()
            .filter_map(|p| {
                let denied = denied_actions(p, ceiling);
                (!denied.is_empty()).then(|| format!("{}:{}", p.resource_type, denied.join("+")))
            })
            .collect(),
    ));
    breaches.into_iter().flatten().collect()
}

/// The same checks in CEL, over `object.spec` (a Role) and `params.spec` (the policy).
pub fn admission() -> Vec<AdmissionRule> {
    let o = "object.spec.bigpanda";
    let p = "params.spec.bigpanda";
    let role = format!("has({o}) && has({p})");
    let denied = |x: &str, a: &str| {
        format!(
            "{}.exists(d, (!has(d.resourceType) || d.resourceType == {x}.resourceType) && {a} in d.actions)",
            cel_list(&format!("{p}.deniedActions"))
        )
    };
    vec![
        AdmissionRule::new(
            RESOURCE_TYPE,
            role.clone(),
            format!(
                "{o}.permissions.filter(x, x.resourceType in {}).map(x, x.resourceType)",
                cel_list(&format!("{p}.deniedResourceTypes"))
            ),
        ),
        AdmissionRule::new(
            RESOURCE_TYPE,
            format!("{role} && has({p}.allowedResourceTypes)"),
            format!(
                "{o}.permissions.filter(x, !(x.resourceType in {p}.allowedResourceTypes)).map(x, x.resourceType)"
            ),
        ),
        AdmissionRule::new(
            ACTION,
            role,
            format!(
                "{o}.permissions.filter(x, x.actions.exists(a, {})).map(x, x.resourceType + ':' + x.actions.filter(a, {}).join('+'))",
                denied("x", "a"),
                denied("x", "a")
            ),
        ),
    ]
}
