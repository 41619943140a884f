//! RoleplanePolicy checks for ConfigCat permission groups: at reconcile (`check`) and, as CEL, at
//! admission (`admission`). Both report the same breaches, in the same order and words.

use serde::Serialize;

use crate::crd::policy::{AdmissionRule, Breach, cel_list};
use crate::crd::{ConfigCatCeiling, PermissionGroupSpec};

const PERMISSION: &str = "configcat permission";
const ACCESS: &str = "configcat access type";
const ENVIRONMENT_ACCESS: &str = "configcat environment access type";
const APPROVAL: &str = "configcat approval permission type";

/// Access types that grant something, in the order breaches name them (`none` and
/// `cannotApprove` grant nothing).
const ACCESS_TYPES: [&str; 3] = ["readOnly", "full", "custom"];
const ENVIRONMENT_ACCESS_TYPES: [&str; 2] = ["full", "readOnly"];
const APPROVAL_TYPES: [&str; 3] = ["canApproveOthers", "canBypassApproval", "custom"];

fn wire<T: Serialize>(value: &T) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

fn allowed<T: Serialize>(list: &[T]) -> Vec<String> {
    list.iter().map(wire).collect()
}

/// What `group` grants beyond `ceiling`.
pub fn check(group: &PermissionGroupSpec, ceiling: &ConfigCatCeiling) -> Vec<Breach> {
    let granted: Vec<String> = group
        .permissions
        .entries()
        .into_iter()
        .filter(|(_, v)| *v == Some(true))
        .map(|(n, _)| n.to_string())
        .collect();
    let mut breaches = vec![Breach::of(
        PERMISSION,
        granted
            .iter()
            .filter(|n| ceiling.denied_permissions.contains(n))
            .cloned()
            .collect(),
    )];
    if let Some(ok) = &ceiling.allowed_permissions {
        breaches.push(Breach::of(
            PERMISSION,
            granted
                .iter()
                .filter(|n| !ok.contains(n))
                .cloned()
                .collect(),
        ));
    }
    if let Some(ok) = &ceiling.allowed_access_types {
        let ok = allowed(ok);
        let access = group
            .access_type
            .as_ref()
            .map_or_else(|| "custom".to_string(), wire);
        breaches.push(Breach::of(
            ACCESS,
            ACCESS_TYPES
                .iter()
                .filter(|t| !ok.iter().any(|a| a == *t) && access == **t)
                .map(|t| t.to_string())
                .collect(),
        ));
    }
    if let Some(ok) = &ceiling.allowed_environment_access_types {
        let ok = allowed(ok);
        let mut used: Vec<String> = group.new_environment_access_type.iter().map(wire).collect();
        used.extend(
            group
                .environment_accesses
                .iter()
                .map(|e| wire(&e.environment_access_type)),
        );
        breaches.push(Breach::of(
            ENVIRONMENT_ACCESS,
            ENVIRONMENT_ACCESS_TYPES
                .iter()
                .filter(|t| !ok.iter().any(|a| a == *t) && used.iter().any(|u| u == *t))
                .map(|t| t.to_string())
                .collect(),
        ));
    }
    if let Some(ok) = &ceiling.allowed_approval_permission_types {
        let ok = allowed(ok);
        let mut used: Vec<String> = group.approval_permission_type.iter().map(wire).collect();
        used.extend(
            group
                .new_environment_approval_permission_type
                .iter()
                .map(wire),
        );
        used.extend(
            group
                .environment_approval_permissions
                .iter()
                .map(|e| wire(&e.approval_permission_type)),
        );
        breaches.push(Breach::of(
            APPROVAL,
            APPROVAL_TYPES
                .iter()
                .filter(|t| !ok.iter().any(|a| a == *t) && used.iter().any(|u| u == *t))
                .map(|t| t.to_string())
                .collect(),
        ));
    }
    breaches.into_iter().flatten().collect()
}

fn cel_strings(names: &[&str]) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("'{n}'")).collect();
    format!("[{}]", quoted.join(", "))
}

/// The same checks in CEL, over `object.spec` (a PermissionGroup) and `params.spec`.
pub fn admission() -> Vec<AdmissionRule> {
    let o = "object.spec";
    let p = "params.spec.configcat";
    // Only a PermissionGroup has a productId.
    let group = format!("has({o}.productId) && has({p})");
    let granted: Vec<String> = crate::crd::ConfigCatPermissions::NAMES
        .iter()
        .map(|n| format!("(has({o}.{n}) && {o}.{n}) ? '{n}' : ''"))
        .collect();
    let granted = format!("[{}]", granted.join(", "));
    let used = |field: &str| format!("(has({o}.{field}) && {o}.{field} == t)");
    vec![
        AdmissionRule::new(
            PERMISSION,
            group.clone(),
            format!(
                "{granted}.filter(n, n != '' && n in {})",
                cel_list(&format!("{p}.deniedPermissions"))
            ),
        ),
        AdmissionRule::new(
            PERMISSION,
            format!("{group} && has({p}.allowedPermissions)"),
            format!("{granted}.filter(n, n != '' && !(n in {p}.allowedPermissions))"),
        ),
        AdmissionRule::new(
            ACCESS,
            format!("{group} && has({p}.allowedAccessTypes)"),
            format!(
                "{}.filter(t, !(t in {p}.allowedAccessTypes) && (has({o}.accessType) ? {o}.accessType : 'custom') == t)",
                cel_strings(&ACCESS_TYPES)
            ),
        ),
        AdmissionRule::new(
            ENVIRONMENT_ACCESS,
            format!("{group} && has({p}.allowedEnvironmentAccessTypes)"),
            format!(
                "{}.filter(t, !(t in {p}.allowedEnvironmentAccessTypes) && ({} || {}.exists(e, e.environmentAccessType == t)))",
                cel_strings(&ENVIRONMENT_ACCESS_TYPES),
                used("newEnvironmentAccessType"),
                cel_list(&format!("{o}.environmentAccesses"))
            ),
        ),
        AdmissionRule::new(
            APPROVAL,
            format!("{group} && has({p}.allowedApprovalPermissionTypes)"),
            format!(
                "{}.filter(t, !(t in {p}.allowedApprovalPermissionTypes) && ({} || {} || {}.exists(e, e.approvalPermissionType == t)))",
                cel_strings(&APPROVAL_TYPES),
                used("approvalPermissionType"),
                used("newEnvironmentApprovalPermissionType"),
                cel_list(&format!("{o}.environmentApprovalPermissions"))
            ),
        ),
    ]
}
