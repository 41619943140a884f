//! Request-body checks and the merge rules of POST and PUT: names 1–255 characters, booleans,
//! enum values, environments of the group's product; on PUT null or absent keeps a value and
//! environment entries are merged by id.

use std::collections::BTreeMap;

use axum::http::StatusCode;
use serde_json::{Map, Value};

use super::wire::{Failure, bad_request, fail};
use super::{Group, Product};

/// The boolean flags of `PermissionGroupModel` / `CreatePermissionGroupRequest`, as ConfigCat's
/// API description lists them (`providers/configcat.md`).
pub(super) const FLAGS: &[&str] = &[
    "canManageMembers",
    "canCreateOrUpdateConfig",
    "canDeleteConfig",
    "canCreateOrUpdateEnvironment",
    "canDeleteEnvironment",
    "canCreateOrUpdateSetting",
    "canTagSetting",
    "canDeleteSetting",
    "canCreateOrUpdateTag",
    "canDeleteTag",
    "canManageWebhook",
    "canUseExportImport",
    "canManageProductPreferences",
    "canManageIntegrations",
    "canViewSdkKey",
    "canRotateSdkKey",
    "canCreateOrUpdateSegments",
    "canDeleteSegments",
    "canViewProductAuditLog",
    "canViewProductStatistics",
    "canDisable2FA",
];

const ACCESS_TYPES: &[&str] = &["readOnly", "full", "custom"];
const ENVIRONMENT_ACCESS_TYPES: &[&str] = &["full", "readOnly", "none"];
const APPROVAL_TYPES: &[&str] = &[
    "cannotApprove",
    "canApproveOthers",
    "canBypassApproval",
    "custom",
];
const ENVIRONMENT_APPROVAL_TYPES: &[&str] =
    &["cannotApprove", "canApproveOthers", "canBypassApproval"];

/// Reads an optional field. On create a present field may not be null; on update null means keep.
fn field<'a>(
    body: &'a Map<String, Value>,
    name: &str,
    create: bool,
) -> Result<Option<&'a Value>, Failure> {
    match body.get(name) {
        None => Ok(None),
        Some(Value::Null) if !create => Ok(None),
        Some(Value::Null) => Err(fail(
            StatusCode::BAD_REQUEST,
            format!("{name} cannot be null."),
        )),
        Some(v) => Ok(Some(v)),
    }
}

fn enum_field(
    body: &Map<String, Value>,
    name: &str,
    allowed: &[&str],
    create: bool,
) -> Result<Option<String>, Failure> {
    match field(body, name, create)? {
        None => Ok(None),
        Some(Value::String(s)) if allowed.contains(&s.as_str()) => Ok(Some(s.clone())),
        Some(other) => Err(fail(
            StatusCode::BAD_REQUEST,
            format!("{name}: {other} is not one of {}.", allowed.join(", ")),
        )),
    }
}

/// `[{environmentId, <type_field>}]` against the product's environments.
fn environment_list(
    body: &Map<String, Value>,
    name: &str,
    type_field: &str,
    allowed: &[&str],
    product: &Product,
) -> Result<Option<Vec<(String, String)>>, Failure> {
    let Some(items) = field(body, name, false)? else {
        return Ok(None);
    };
    let items = items
        .as_array()
        .ok_or_else(|| fail(StatusCode::BAD_REQUEST, format!("{name} must be an array.")))?;
    let mut out = Vec::new();
    for item in items {
        let id = item["environmentId"]
            .as_str()
            .unwrap_or_default()
            .to_ascii_lowercase();
        if !product.environments.iter().any(|e| e.environment_id == id) {
            return Err(fail(
                StatusCode::BAD_REQUEST,
                format!("{name}: environment '{id}' is not found in the product."),
            ));
        }
        match item[type_field].as_str() {
            Some(t) if allowed.contains(&t) => out.push((id, t.to_string())),
            _ => {
                return Err(fail(
                    StatusCode::BAD_REQUEST,
                    format!(
                        "{name}: {type_field} must be one of {}.",
                        allowed.join(", ")
                    ),
                ));
            }
        }
    }
    Ok(Some(out))
}

/// Applies a create or update body to `g`: absent (and, on update, null) fields keep their value;
/// environment entries are merged by id.
pub(super) fn apply(
    g: &mut Group,
    body: &Value,
    product: &Product,
    create: bool,
) -> Result<(), Failure> {
    let body = body.as_object().ok_or_else(bad_request)?;
    match field(body, "name", create)? {
        Some(Value::String(n)) if (1..=255).contains(&n.chars().count()) => g.name = n.clone(),
        None if !create => {}
        _ => {
            return Err(fail(
                StatusCode::BAD_REQUEST,
                "Name: the length must be between 1 and 255 characters.",
            ));
        }
    }
    let mut flags = BTreeMap::new();
    for flag in FLAGS {
        match field(body, flag, create)? {
            None => {}
            Some(Value::Bool(b)) => {
                flags.insert(flag.to_string(), *b);
            }
            Some(_) => {
                return Err(fail(
                    StatusCode::BAD_REQUEST,
                    format!("{flag} must be a boolean."),
                ));
            }
        }
    }
    let mut enums = Vec::new();
    for (name, allowed) in [
        ("accessType", ACCESS_TYPES),
        ("newEnvironmentAccessType", ENVIRONMENT_ACCESS_TYPES),
        ("approvalPermissionType", APPROVAL_TYPES),
        (
            "newEnvironmentApprovalPermissionType",
            ENVIRONMENT_APPROVAL_TYPES,
        ),
    ] {
        enums.push(enum_field(body, name, allowed, create)?);
    }
    let accesses = environment_list(
        body,
        "environmentAccesses",
        "environmentAccessType",
        ENVIRONMENT_ACCESS_TYPES,
        product,
    )?;
    let approvals = environment_list(
        body,
        "environmentApprovalPermissions",
        "environmentApprovalPermissionType",
        ENVIRONMENT_APPROVAL_TYPES,
        product,
    )?;
    g.flags.extend(flags);
    let slots = [
        &mut g.access_type,
        &mut g.new_environment_access_type,
        &mut g.approval_permission_type,
        &mut g.new_environment_approval_permission_type,
    ];
    for (slot, value) in slots.into_iter().zip(enums) {
        if let Some(v) = value {
            *slot = v;
        }
    }
    g.environment_accesses
        .extend(accesses.into_iter().flatten());
    g.environment_approval_permissions
        .extend(approvals.into_iter().flatten());
    Ok(())
}
