//! RoleplanePolicy checks for Looker roles: at reconcile (`check`) and, as CEL, at admission
//! (`admission`). Both report the same breaches, in the same order and words.

use crate::crd::policy::{AdmissionRule, Breach, cel_list};
use crate::crd::{LookerCeiling, LookerRole};

const PERMISSION: &str = "looker permission";
const MODEL: &str = "looker model";
const REFERENCE: &str = "looker set reference";

fn denied(listed: &[String], denied: &[String]) -> Vec<String> {
    listed
        .iter()
        .filter(|x| denied.contains(x))
        .cloned()
        .collect()
}

fn not_allowed(listed: &[String], allowed: &[String]) -> Vec<String> {
    listed
        .iter()
        .filter(|x| !allowed.contains(x))
        .cloned()
        .collect()
}

/// What `role` grants beyond `ceiling`.
pub fn check(role: &LookerRole, ceiling: &LookerCeiling) -> Vec<Breach> {
    let mut breaches = Vec::new();
    if let Some(set) = &role.permission_set {
        breaches.push(Breach::of(
            PERMISSION,
            denied(&set.permissions, &ceiling.denied_permissions),
        ));
        if let Some(ok) = &ceiling.allowed_permissions {
            breaches.push(Breach::of(PERMISSION, not_allowed(&set.permissions, ok)));
        }
    }
    if let Some(set) = &role.model_set {
        breaches.push(Breach::of(
            MODEL,
            denied(&set.models, &ceiling.denied_models),
        ));
        if let Some(ok) = &ceiling.allowed_models {
            breaches.push(Breach::of(MODEL, not_allowed(&set.models, ok)));
        }
    }
    if !ceiling.allow_set_references {
        let limits_permissions =
            ceiling.allowed_permissions.is_some() || !ceiling.denied_permissions.is_empty();
        let limits_models = ceiling.allowed_models.is_some() || !ceiling.denied_models.is_empty();
        let mut refs = Vec::new();
        if role.permission_set_ref.is_some() && limits_permissions {
            refs.push("permissionSetRef".to_string());
        }
        if role.model_set_ref.is_some() && limits_models {
            refs.push("modelSetRef".to_string());
        }
        breaches.push(Breach::of(REFERENCE, refs));
    }
    breaches.into_iter().flatten().collect()
}

/// The same checks in CEL, over `object.spec` (a Role) and `params.spec` (the policy).
pub fn admission() -> Vec<AdmissionRule> {
    let o = "object.spec.looker";
    let p = "params.spec.looker";
    let role = format!("has({o}) && has({p})");
    let limits = |allowed: &str, denied: &str| {
        format!(
            "(has({p}.{allowed}) || size({}) > 0)",
            cel_list(&format!("{p}.{denied}"))
        )
    };
    vec![
        AdmissionRule::new(
            PERMISSION,
            format!("{role} && has({o}.permissionSet)"),
            format!(
                "{o}.permissionSet.permissions.filter(x, x in {})",
                cel_list(&format!("{p}.deniedPermissions"))
            ),
        ),
        AdmissionRule::new(
            PERMISSION,
            format!("{role} && has({o}.permissionSet) && has({p}.allowedPermissions)"),
            format!("{o}.permissionSet.permissions.filter(x, !(x in {p}.allowedPermissions))"),
        ),
        AdmissionRule::new(
            MODEL,
            format!("{role} && has({o}.modelSet)"),
            format!(
                "{o}.modelSet.models.filter(x, x in {})",
                cel_list(&format!("{p}.deniedModels"))
            ),
        ),
        AdmissionRule::new(
            MODEL,
            format!("{role} && has({o}.modelSet) && has({p}.allowedModels)"),
            format!("{o}.modelSet.models.filter(x, !(x in {p}.allowedModels))"),
        ),
        AdmissionRule::new(
            REFERENCE,
            format!("{role} && !(has({p}.allowSetReferences) && {p}.allowSetReferences)"),
            format!(
                "[(has({o}.permissionSetRef) && {}) ? 'permissionSetRef' : '', (has({o}.modelSetRef) && {}) ? 'modelSetRef' : ''].filter(x, x != '')",
                limits("allowedPermissions", "deniedPermissions"),
                limits("allowedModels", "deniedModels")
            ),
        ),
    ]
}
