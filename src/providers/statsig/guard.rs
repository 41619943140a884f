//! RoleplanePolicy checks for Statsig roles: at reconcile (`check`) and, as CEL, at admission
//! (`admission`). Both report the same breaches, in the same order and words.

use crate::crd::policy::{AdmissionRule, Breach, cel_list};
use crate::crd::{StatsigCeiling, StatsigRole};

const PERMISSION: &str = "statsig permission";
const ADDITIONAL: &str = "statsig additional permission";

/// What `role` grants beyond `ceiling`.
pub fn check(role: &StatsigRole, ceiling: &StatsigCeiling) -> Vec<Breach> {
    let denied = role
        .permissions
        .entries()
        .into_iter()
        .zip(StatsigCeiling::flag_names())
        .filter(|((_, value), name)| {
            *value == Some(true) && ceiling.denied_permissions.contains(name)
        })
        .map(|(_, name)| name)
        .collect();
    let additional = role
        .additional_permissions
        .iter()
        .filter(|f| {
            f.enabled
                && ceiling
                    .denied_additional_permissions
                    .iter()
                    .any(|d| d == "*" || *d == f.name)
        })
        .map(|f| f.name.clone())
        .collect();
    [
        Breach::of(PERMISSION, denied),
        Breach::of(ADDITIONAL, additional),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// The same checks in CEL, over `object.spec` (a Role) and `params.spec` (the policy).
pub fn admission() -> Vec<AdmissionRule> {
    let o = "object.spec.statsig";
    let p = "params.spec.statsig";
    let granted: Vec<String> = StatsigCeiling::flag_names()
        .iter()
        .map(|n| format!("(has({o}.permissions.{n}) && {o}.permissions.{n}) ? '{n}' : ''"))
        .collect();
    vec![
        AdmissionRule::new(
            PERMISSION,
            format!("has({o}) && has({o}.permissions) && has({p})"),
            format!(
                "[{}].filter(n, n != '' && n in {})",
                granted.join(", "),
                cel_list(&format!("{p}.deniedPermissions"))
            ),
        ),
        AdmissionRule::new(
            ADDITIONAL,
            format!("has({o}) && has({p})"),
            format!(
                "{}.filter(f, f.enabled && {}.exists(d, d == '*' || d == f.name)).map(f, f.name)",
                cel_list(&format!("{o}.additionalPermissions")),
                cel_list(&format!("{p}.deniedAdditionalPermissions"))
            ),
        ),
    ]
}
