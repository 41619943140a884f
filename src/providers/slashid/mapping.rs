//! Spec ⇄ SlashID mapping, pure: name rules, the `{orgId}/{name}` key, the permission list as sent,
//! and drift (permissions compare as sets; the description only when the manifest sets it).

use super::model::Role;
use crate::crd::SlashIdRole;
use crate::providers::{Error, Result};

/// Checks the role name (without the `{orgId}/` prefix) and the permission names against
/// SlashID's rules, so that bad input never reaches SlashID.
pub(super) fn check_names(name: &str, role: &SlashIdRole) -> Result<()> {
    if !is_role_name(name) {
        return Err(Error::InvalidSpec(format!(
            "name {name:?}: SlashID role names (without the orgId/ prefix Roleplane adds) are 2-100 \
             characters of A-Z a-z 0-9 _ . : - and start and end with a letter or digit"
        )));
    }
    if let Some(bad) = role.permissions.iter().find(|p| !is_permission_name(p)) {
        return Err(Error::InvalidSpec(format!(
            "slashid.permissions: {bad:?} is not a SlashID permission name (2-1024 characters \
             of A-Z a-z 0-9 _ . : - / \\, starting and ending with a letter or digit)"
        )));
    }
    Ok(())
}

/// SlashID's `RoleName` rule, applied to the part after `{orgId}/`: 2-100 characters of
/// `A-Z a-z 0-9 _ . : -`, starting and ending with a letter or digit.
fn is_role_name(name: &str) -> bool {
    name_rule(name, 100, |c| {
        c.is_ascii_alphanumeric() || "_.:-".contains(c)
    })
}

/// SlashID's `PermissionName` rule: 2-1024 characters of `A-Z a-z 0-9 _ . : - / \`, starting
/// and ending with a letter or digit.
fn is_permission_name(name: &str) -> bool {
    name_rule(name, 1024, |c| {
        c.is_ascii_alphanumeric() || "_.:-/\\".contains(c)
    })
}

fn name_rule(name: &str, max: usize, allowed: impl Fn(char) -> bool) -> bool {
    let edge = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    (2..=max).contains(&name.len())
        && edge(name.chars().next())
        && edge(name.chars().next_back())
        && name.chars().all(allowed)
}

/// The role's key in SlashID. An external id that already holds a `/` is used as is (it names
/// its organisation); a bare name gets the account's `{orgId}/` prefix.
pub(super) fn full_name(org_id: &str, id_or_name: &str) -> String {
    if id_or_name.contains('/') {
        id_or_name.to_string()
    } else {
        format!("{org_id}/{id_or_name}")
    }
}

/// The role name an external id stands for: `name` or `{org}/name` with an organisation id of
/// the form `orgId` has (None for any other form, so no `..`, `%` or control character in the
/// prefix reaches the URL).
pub(super) fn named_by(external_id: &str) -> Option<&str> {
    match external_id.split_once('/') {
        Some((org, name)) if is_org_id(org) && !name.contains('/') => Some(name),
        Some(_) => None,
        None => Some(external_id),
    }
}

/// The form of `spec.slashid.orgId` (the CRD's pattern): letters, digits and `-`, starting with
/// a letter or digit, at most 128 characters.
fn is_org_id(org: &str) -> bool {
    (1..=128).contains(&org.len())
        && org.starts_with(|c: char| c.is_ascii_alphanumeric())
        && org.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// The permission list as sent: sorted and without duplicates (SlashID treats it as a set).
pub(super) fn desired_permissions(role: &SlashIdRole) -> Vec<String> {
    let mut permissions = role.permissions.clone();
    permissions.sort();
    permissions.dedup();
    permissions
}

/// Manifest paths whose SlashID value differs. Permissions compare as sets; the description is
/// only compared when the manifest sets it (an absent and an empty description are equal).
pub(super) fn drift(role: &SlashIdRole, observed: &Role) -> Vec<String> {
    let mut drift = Vec::new();
    if let Some(want) = &role.description
        && observed.description.as_deref().unwrap_or_default() != want
    {
        drift.push("slashid.description".to_string());
    }
    let mut have = observed.permissions.clone();
    have.sort();
    have.dedup();
    if have != desired_permissions(role) {
        drift.push("slashid.permissions".to_string());
    }
    drift
}

/// The status summary: the permission count.
pub(super) fn summary(observed: &Role) -> String {
    match observed.permissions.len() {
        1 => "1 permission".to_string(),
        n => format!("{n} permissions"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::slashid::model::{PatchRoleRequest, PostRoleRequest};

    fn role() -> SlashIdRole {
        SlashIdRole {
            description: Some("Billing viewers".into()),
            permissions: vec![
                "billing.read".into(),
                "audit.read".into(),
                "billing.read".into(),
            ],
        }
    }

    fn observed(description: Option<&str>, permissions: &[&str]) -> Role {
        Role {
            name: "sim-org/billing".into(),
            description: description.map(str::to_string),
            permissions: permissions.iter().map(|p| p.to_string()).collect(),
        }
    }

    #[test]
    fn permissions_are_sent_sorted_without_duplicates() {
        assert_eq!(
            desired_permissions(&role()),
            vec!["audit.read", "billing.read"]
        );
        let body = PostRoleRequest {
            name: "sim-org/billing",
            description: Some("d"),
            permissions: &desired_permissions(&role()),
        };
        assert_eq!(
            serde_json::to_value(&body).unwrap(),
            serde_json::json!({"name": "sim-org/billing", "description": "d",
                "permissions": ["audit.read", "billing.read"]})
        );
        let patch = PatchRoleRequest {
            description: None,
            permissions: &[],
        };
        assert_eq!(
            serde_json::to_value(&patch).unwrap(),
            serde_json::json!({"permissions": []})
        );
    }

    #[test]
    fn drift_compares_permissions_as_sets() {
        let same = observed(Some("Billing viewers"), &["billing.read", "audit.read"]);
        assert!(drift(&role(), &same).is_empty());
        let extra = observed(
            Some("Billing viewers"),
            &["billing.read", "audit.read", "x.y"],
        );
        assert_eq!(drift(&role(), &extra), vec!["slashid.permissions"]);
        let both = observed(None, &["billing.read"]);
        assert_eq!(
            drift(&role(), &both),
            vec!["slashid.description", "slashid.permissions"]
        );
        assert_eq!(summary(&both), "1 permission");
        assert_eq!(summary(&same), "2 permissions");
    }

    #[test]
    fn unset_description_is_not_managed_and_empty_equals_absent() {
        let mut r = role();
        r.description = None;
        let both = observed(Some("anything"), &["audit.read", "billing.read"]);
        assert!(drift(&r, &both).is_empty());
        r.description = Some(String::new());
        assert!(drift(&r, &observed(None, &["audit.read", "billing.read"])).is_empty());
    }

    #[test]
    fn external_ids_carry_the_org_prefix() {
        assert_eq!(full_name("sim-org", "billing"), "sim-org/billing");
        assert_eq!(full_name("sim-org", "sim-org/billing"), "sim-org/billing");
        assert_eq!(full_name("sim-org", "parent/shared"), "parent/shared");
        assert_eq!(named_by("sim-org/billing"), Some("billing"));
        assert_eq!(named_by("billing"), Some("billing"));
        for bad in [
            "/billing",
            "a/b/c",
            "../billing",
            "%2e%2e/billing",
            "org\n/billing",
        ] {
            assert_eq!(named_by(bad), None, "{bad}");
        }
    }

    #[test]
    fn name_rules_follow_slashid() {
        for ok in ["ab", "billing-viewer", "a.b:c_d-9", &"x".repeat(100)] {
            assert!(is_role_name(ok), "{ok}");
        }
        for bad in ["a", "-ab", "ab-", "a/b", "a b", "é1", &"x".repeat(101)] {
            assert!(!is_role_name(bad), "{bad}");
        }
        assert!(is_permission_name(r"billing/invoices\list"));
        assert!(!is_permission_name("billing/"));
        assert!(!is_permission_name(&"p".repeat(1025)));
    }

    #[test]
    fn bad_names_and_permissions_are_invalid_spec() {
        check_names("billing", &role()).unwrap();
        let err = check_names("org/billing", &role()).unwrap_err();
        assert!(matches!(err, Error::InvalidSpec(_)), "{err}");
        let mut bad = role();
        bad.permissions.push("bad perm".into());
        let err = check_names("billing", &bad).unwrap_err();
        assert!(matches!(err, Error::InvalidSpec(_)), "{err}");
        assert!(err.to_string().contains("\"bad perm\""), "{err}");
    }
}
