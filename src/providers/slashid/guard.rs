//! RoleplanePolicy checks for SlashID roles: at reconcile (`check`) and, as CEL, at admission
//! (`admission`). Both report the same breaches, in the same order and words. A pattern is a
//! name, or a prefix ending in `*`.

use crate::crd::policy::{AdmissionRule, Breach, cel_list};
use crate::crd::{SlashIdCeiling, SlashIdRole};

const PERMISSION: &str = "slashid permission";

fn matches(name: &str, pattern: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => name.starts_with(prefix),
        None => name == pattern,
    }
}

/// What `role` grants beyond `ceiling`.
pub fn check(role: &SlashIdRole, ceiling: &SlashIdCeiling) -> Vec<Breach> {
    let denied = role
        .permissions
        .iter()
        .filter(|n| ceiling.denied_permissions.iter().any(|d| matches(n, d)))
        .cloned()
        .collect();
    let mut breaches = vec![Breach::of(PERMISSION, denied)];
    if let Some(ok) = &ceiling.allowed_permissions {
        breaches.push(Breach::of(
            PERMISSION,
            role.permissions
                .iter()
                .filter(|n| !ok.iter().any(|a| matches(n, a)))
                .cloned()
                .collect(),
        ));
    }
    breaches.into_iter().flatten().collect()
}

/// CEL for `matches(name, pattern)`.
fn cel_matches(name: &str, pattern: &str) -> String {
    format!(
        "({pattern}.endsWith('*') ? {name}.startsWith({pattern}.substring(0, size({pattern}) - 1)) : {name} == {pattern})"
    )
}

/// The same checks in CEL, over `object.spec` (a Role) and `params.spec` (the policy).
pub fn admission() -> Vec<AdmissionRule> {
    let o = "object.spec.slashid";
    let p = "params.spec.slashid";
    let listed = cel_list(&format!("{o}.permissions"));
    vec![
        AdmissionRule::new(
            PERMISSION,
            format!("has({o}) && has({p})"),
            format!(
                "{listed}.filter(n, {}.exists(d, {}))",
                cel_list(&format!("{p}.deniedPermissions")),
                cel_matches("n", "d")
            ),
        ),
        AdmissionRule::new(
            PERMISSION,
            format!("has({o}) && has({p}) && has({p}.allowedPermissions)"),
            format!(
                "{listed}.filter(n, !{p}.allowedPermissions.exists(a, {}))",
                cel_matches("n", "a")
            ),
        ),
    ]
}
