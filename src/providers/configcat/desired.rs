//! Pure spec ⇄ wire mapping for ConfigCat permission groups: validation, the full request body,
//! and drift after normalisation.
//!
//! Environment access rule (one rule for update and drift): with `accessType: custom`, every
//! environment of the product is managed. A listed environment gets its listed access; an
//! environment the manifest does not list gets `newEnvironmentAccessType` (default `none`), the
//! same access ConfigCat gives an environment created later. So an environment that leaves the
//! manifest is sent `none` (or the `newEnvironmentAccessType` value), never left as it was.
//!
//! Approvals are managed only when set: with `approvalPermissionType: custom`, listed environments
//! get their listed right, and unlisted ones get `newEnvironmentApprovalPermissionType` when that
//! is set, and are left alone otherwise.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::model::{
    EnvironmentAccessRequest, EnvironmentApprovalRequest, PermissionGroup, PermissionGroupRequest,
};
use crate::crd::{
    AccessType, ApprovalPermissionType, EnvironmentAccessType, EnvironmentApprovalPermissionType,
    PermissionGroupSpec,
};
use crate::providers::{Error, Result, name_problem};

/// ConfigCat's limit on group names.
pub const MAX_NAME_CHARS: usize = 255;

/// `accessType`, custom when unset.
pub fn access_type(spec: &PermissionGroupSpec) -> AccessType {
    spec.access_type.unwrap_or(AccessType::Custom)
}

/// `newEnvironmentAccessType`, none when unset.
pub fn new_environment_access(spec: &PermissionGroupSpec) -> EnvironmentAccessType {
    spec.new_environment_access_type
        .unwrap_or(EnvironmentAccessType::None)
}

/// Every typed flag by wire name; unset flags are `false` (the group grants exactly what the
/// manifest lists).
pub fn desired_flags(spec: &PermissionGroupSpec) -> BTreeMap<&'static str, bool> {
    spec.permissions
        .entries()
        .into_iter()
        .map(|(name, v)| (name, v.unwrap_or(false)))
        .collect()
}

/// Whether the request needs the product's environment list (to send one entry per environment).
pub fn needs_environments(spec: &PermissionGroupSpec) -> bool {
    access_type(spec) == AccessType::Custom
        || spec.approval_permission_type == Some(ApprovalPermissionType::Custom)
}

/// Environment ids are uuids: compared without regard to case.
fn key(id: &str) -> String {
    id.to_ascii_lowercase()
}

fn listed_access(spec: &PermissionGroupSpec) -> BTreeMap<String, EnvironmentAccessType> {
    spec.environment_accesses
        .iter()
        .map(|e| (key(&e.environment_id), e.environment_access_type))
        .collect()
}

fn listed_approval(
    spec: &PermissionGroupSpec,
) -> BTreeMap<String, EnvironmentApprovalPermissionType> {
    spec.environment_approval_permissions
        .iter()
        .map(|e| (key(&e.environment_id), e.approval_permission_type))
        .collect()
}

/// The value's wire spelling (`readOnly`, `canApproveOthers`, ...).
pub fn wire<T: Serialize>(value: T) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

fn is_uuid(s: &str) -> bool {
    s.len() == 36
        && s.char_indices().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// The numeric `permissionGroupId` an external id names.
pub fn group_id(external_id: &str) -> Result<i64> {
    // Digits only: no sign, spaces or leading `+` that `parse` would accept, so the id is
    // sent exactly as written (it is the `/v1/permissions/{permissionGroupId}` segment).
    let digits = (1..=19).contains(&external_id.len())
        && !external_id.starts_with('0')
        && external_id.bytes().all(|b| b.is_ascii_digit());
    match external_id.parse::<i64>() {
        Ok(id) if digits && id > 0 => Ok(id),
        _ => Err(Error::InvalidSpec(format!(
            "configcat: externalId must be a numeric permissionGroupId (a positive integer), got {external_id:?}"
        ))),
    }
}

/// Checks the manifest without calling ConfigCat.
pub fn validate(name: &str, spec: &PermissionGroupSpec) -> Result<()> {
    let invalid = |m: String| Err(Error::InvalidSpec(format!("configcat: {m}")));
    if let Some(problem) = name_problem(name, MAX_NAME_CHARS) {
        return invalid(format!("name {name:?} {problem}"));
    }
    if !is_uuid(&spec.product_id) {
        return invalid(format!("productId {:?} is not a uuid", spec.product_id));
    }
    if !spec.environment_accesses.is_empty() && spec.access_type != Some(AccessType::Custom) {
        return invalid(
            "environmentAccesses is only allowed with accessType: custom (set it explicitly); \
             with readOnly or full the access applies to every environment"
                .into(),
        );
    }
    if !spec.environment_approval_permissions.is_empty()
        && spec.approval_permission_type != Some(ApprovalPermissionType::Custom)
    {
        return invalid(
            "environmentApprovalPermissions is only allowed with approvalPermissionType: custom"
                .into(),
        );
    }
    let lists = [
        (
            "environmentAccesses",
            spec.environment_accesses
                .iter()
                .map(|e| e.environment_id.as_str())
                .collect::<Vec<_>>(),
        ),
        (
            "environmentApprovalPermissions",
            spec.environment_approval_permissions
                .iter()
                .map(|e| e.environment_id.as_str())
                .collect(),
        ),
    ];
    for (field, ids) in lists {
        let mut seen = BTreeSet::new();
        for id in ids {
            if !is_uuid(id) {
                return invalid(format!("{field}: environmentId {id:?} is not a uuid"));
            }
            if !seen.insert(key(id)) {
                return invalid(format!("{field}: environment {id} is listed twice"));
            }
        }
    }
    Ok(())
}

/// The full desired state as a request body. `environments` (the product's environment ids) is
/// needed when [`needs_environments`]; a listed environment the product does not have is a
/// missing dependency.
pub fn request(
    name: &str,
    spec: &PermissionGroupSpec,
    environments: &[String],
) -> Result<PermissionGroupRequest> {
    let known: BTreeSet<String> = environments.iter().map(|e| key(e)).collect();
    let missing = spec
        .environment_accesses
        .iter()
        .map(|e| ("environmentAccesses", &e.environment_id))
        .chain(
            spec.environment_approval_permissions
                .iter()
                .map(|e| ("environmentApprovalPermissions", &e.environment_id)),
        )
        .find(|(_, id)| !known.contains(&key(id)));
    if let Some((field, id)) = missing {
        return Err(Error::DependencyNotReady(format!(
            "configcat: environment {id} ({field}) does not exist in product {}",
            spec.product_id
        )));
    }
    let environment_accesses = (access_type(spec) == AccessType::Custom).then(|| {
        let listed = listed_access(spec);
        environments
            .iter()
            .map(|env| EnvironmentAccessRequest {
                environment_id: env.clone(),
                environment_access_type: listed
                    .get(&key(env))
                    .copied()
                    .unwrap_or_else(|| new_environment_access(spec)),
            })
            .collect()
    });
    let environment_approval_permissions =
        (spec.approval_permission_type == Some(ApprovalPermissionType::Custom)).then(|| {
            let listed = listed_approval(spec);
            environments
                .iter()
                .filter_map(|env| {
                    let right = listed
                        .get(&key(env))
                        .copied()
                        .or(spec.new_environment_approval_permission_type)?;
                    Some(EnvironmentApprovalRequest {
                        environment_id: env.clone(),
                        environment_approval_permission_type: right,
                    })
                })
                .collect()
        });
    Ok(PermissionGroupRequest {
        name: name.to_string(),
        flags: desired_flags(spec),
        access_type: access_type(spec),
        new_environment_access_type: new_environment_access(spec),
        environment_accesses,
        approval_permission_type: spec.approval_permission_type,
        new_environment_approval_permission_type: spec.new_environment_approval_permission_type,
        environment_approval_permissions,
    })
}

/// Manifest field paths whose ConfigCat value differs. Values ConfigCat does not report are
/// unknown, not drift; environments are compared by id, in any order and case.
pub fn drift(name: &str, spec: &PermissionGroupSpec, observed: &PermissionGroup) -> Vec<String> {
    let mut out = Vec::new();
    if observed.name != name {
        out.push("name".to_string());
    }
    for (flag, want) in desired_flags(spec) {
        if observed.flag_differs(flag, want) {
            out.push(flag.to_string());
        }
    }
    let differs = |have: &Option<String>, want: String| have.as_ref().is_some_and(|h| *h != want);
    if differs(&observed.access_type, wire(access_type(spec))) {
        out.push("accessType".into());
    }
    if differs(
        &observed.new_environment_access_type,
        wire(new_environment_access(spec)),
    ) {
        out.push("newEnvironmentAccessType".into());
    }
    if access_type(spec) == AccessType::Custom {
        let have: BTreeMap<String, Option<String>> = observed
            .environment_accesses
            .iter()
            .flatten()
            .map(|e| (key(&e.environment_id), e.environment_access_type.clone()))
            .collect();
        let listed = listed_access(spec);
        let mut envs: BTreeSet<&String> = have.keys().collect();
        envs.extend(listed.keys());
        for env in envs {
            let want = listed
                .get(env)
                .copied()
                .unwrap_or_else(|| new_environment_access(spec));
            match have.get(env) {
                // A listed environment ConfigCat does not report: the update names it.
                None => out.push(format!("environmentAccesses[{env}]")),
                Some(h) if differs(h, wire(want)) => {
                    out.push(format!("environmentAccesses[{env}]"))
                }
                Some(_) => {}
            }
        }
    }
    if let Some(want) = spec.approval_permission_type
        && differs(&observed.approval_permission_type, wire(want))
    {
        out.push("approvalPermissionType".into());
    }
    if let Some(want) = spec.new_environment_approval_permission_type
        && differs(
            &observed.new_environment_approval_permission_type,
            wire(want),
        )
    {
        out.push("newEnvironmentApprovalPermissionType".into());
    }
    if spec.approval_permission_type == Some(ApprovalPermissionType::Custom) {
        let have: BTreeMap<String, Option<String>> = observed
            .environment_approval_permissions
            .iter()
            .flatten()
            .map(|e| {
                (
                    key(&e.environment_id),
                    e.environment_approval_permission_type.clone(),
                )
            })
            .collect();
        let listed = listed_approval(spec);
        let mut envs: BTreeSet<&String> = have.keys().collect();
        envs.extend(listed.keys());
        for env in envs {
            let Some(want) = listed
                .get(env)
                .copied()
                .or(spec.new_environment_approval_permission_type)
            else {
                continue;
            };
            match have.get(env) {
                None => out.push(format!("environmentApprovalPermissions[{env}]")),
                Some(h) if differs(h, wire(want)) => {
                    out.push(format!("environmentApprovalPermissions[{env}]"))
                }
                Some(_) => {}
            }
        }
    }
    out
}

/// The PermissionGroup spec fields matching `observed` in product `product_id` (what `roleplane
/// import` writes): every flag ConfigCat reports, the access types and the per-environment lists
/// where they are custom.
pub fn manifest(observed: &PermissionGroup, product_id: &str) -> Option<serde_json::Value> {
    use serde_json::{Value, json};
    let mut spec = json!({ "productId": product_id });
    for name in crate::crd::ConfigCatPermissions::NAMES {
        if let Some(v) = observed.flag(name) {
            spec[*name] = v.into();
        }
    }
    let text = |v: &Option<String>| v.clone().map(Value::String);
    if let Some(v) = text(&observed.access_type) {
        spec["accessType"] = v;
    }
    if let Some(v) = text(&observed.new_environment_access_type) {
        spec["newEnvironmentAccessType"] = v;
    }
    if observed.access_type.as_deref() == Some("custom") {
        let mut list: Vec<Value> = observed
            .environment_accesses
            .iter()
            .flatten()
            .filter_map(|e| {
                let t = e.environment_access_type.as_ref()?;
                Some(json!({"environmentId": key(&e.environment_id), "environmentAccessType": t}))
            })
            .collect();
        list.sort_by_key(|e| e["environmentId"].to_string());
        if !list.is_empty() {
            spec["environmentAccesses"] = list.into();
        }
    }
    if let Some(v) = text(&observed.approval_permission_type) {
        spec["approvalPermissionType"] = v;
    }
    if let Some(v) = text(&observed.new_environment_approval_permission_type) {
        spec["newEnvironmentApprovalPermissionType"] = v;
    }
    if observed.approval_permission_type.as_deref() == Some("custom") {
        let mut list: Vec<Value> = observed
            .environment_approval_permissions
            .iter()
            .flatten()
            .filter_map(|e| {
                let t = e.environment_approval_permission_type.as_ref()?;
                Some(json!({"environmentId": key(&e.environment_id), "environmentApprovalPermissionType": t}))
            })
            .collect();
        list.sort_by_key(|e| e["environmentId"].to_string());
        if !list.is_empty() {
            spec["environmentApprovalPermissions"] = list.into();
        }
    }
    Some(spec)
}

/// A short status summary, e.g. `3 of 21 flags, accessType custom, access to 2 environments`
/// (the environment count only with custom access, where it means something).
pub fn summary(observed: &PermissionGroup) -> String {
    let flags = crate::crd::ConfigCatPermissions::NAMES;
    let granted = flags
        .iter()
        .filter(|f| observed.flag(f) == Some(true))
        .count();
    let access = observed.access_type.as_deref().unwrap_or("unknown");
    let mut text = format!("{granted} of {} flags, accessType {access}", flags.len());
    if access == "custom" {
        let envs = observed
            .environment_accesses
            .iter()
            .flatten()
            .filter(|e| {
                matches!(
                    e.environment_access_type.as_deref(),
                    Some("full" | "readOnly")
                )
            })
            .count();
        text.push_str(&format!(", access to {envs} environments"));
    }
    text
}

#[cfg(test)]
#[path = "desired_tests.rs"]
mod tests;
