//! Spec ⇄ wire mapping for BigPanda roles: the PUT/POST body, and drift after normalisation
//! (users and actions are sets, permissions are keyed by resource type and id). Input checks are
//! in `validate`.

use std::collections::{BTreeMap, BTreeSet};

use super::model::{PermissionBody, PermissionDto, RoleBody, RoleDto};
use crate::crd::{BigPandaAction, BigPandaRole};

/// The only resource type whose grants may name one resource (an environment id).
pub const ENVIRONMENTS: &str = "environments";

/// A permission's identity: resource type plus the environment id of scoped grants.
pub type PermissionKey = (String, Option<String>);
/// Permissions normalised for comparison: key → set of actions.
pub type Permissions = BTreeMap<PermissionKey, BTreeSet<String>>;

pub fn action_name(action: BigPandaAction) -> &'static str {
    match action {
        BigPandaAction::Read => "read",
        BigPandaAction::FullAccess => "full_access",
        BigPandaAction::IncidentActions => "incident_actions",
    }
}

pub fn desired_permissions(role: &BigPandaRole) -> Permissions {
    let mut out = Permissions::new();
    for p in &role.permissions {
        out.entry((p.resource_type.clone(), p.resource_id.clone()))
            .or_default()
            .extend(p.actions.iter().map(|a| action_name(*a).to_string()));
    }
    out
}

/// Observed permissions; repeated keys are merged.
pub fn observed_permissions(permissions: &[PermissionDto]) -> Permissions {
    let mut out = Permissions::new();
    for p in permissions {
        out.entry((p.resource_type.clone(), p.resource_id.clone()))
            .or_default()
            .extend(p.actions.iter().cloned());
    }
    out
}

/// The full body for POST or PUT. `current_users` are the role's members in BigPanda, kept when
/// the spec does not manage `users` (PUT replaces membership with whatever it is sent).
pub fn body(name: &str, role: &BigPandaRole, current_users: &[String]) -> RoleBody {
    let users = match &role.users {
        Some(users) => sorted_unique(users),
        None => current_users.to_vec(),
    };
    let permissions = desired_permissions(role)
        .into_iter()
        .map(|((resource_type, resource_id), actions)| PermissionBody {
            resource_type,
            resource_id,
            actions: actions.into_iter().collect(),
        })
        .collect();
    RoleBody {
        name: name.to_string(),
        users,
        permissions,
    }
}

fn sorted_unique(items: &[String]) -> Vec<String> {
    items
        .iter()
        .cloned()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect()
}

pub fn label((resource_type, resource_id): &PermissionKey) -> String {
    match resource_id {
        Some(id) => format!("bigpanda.permissions[{resource_type}/{id}]"),
        None => format!("bigpanda.permissions[{resource_type}]"),
    }
}

/// Manifest paths that differ: `name`, `bigpanda.users` (only when managed), and one
/// `bigpanda.permissions[type]` / `bigpanda.permissions[type/id]` per permission that is
/// missing, extra, or grants other actions. Order never matters.
pub fn drift(name: &str, role: &BigPandaRole, observed: &RoleDto) -> Vec<String> {
    let mut out = Vec::new();
    if observed.name != name {
        out.push("name".to_string());
    }
    if let Some(users) = &role.users
        && sorted_unique(users) != sorted_unique(&observed.users)
    {
        out.push("bigpanda.users".to_string());
    }
    let want = desired_permissions(role);
    let have = observed_permissions(&observed.permissions);
    let keys: BTreeSet<&PermissionKey> = want.keys().chain(have.keys()).collect();
    out.extend(
        keys.into_iter()
            .filter(|k| want.get(*k) != have.get(*k))
            .map(label),
    );
    out
}

/// The `bigpanda` block matching `observed` (what `roleplane import` writes): users and
/// permissions sorted, so the manifest is the same on every run.
pub fn manifest(observed: &RoleDto) -> Option<serde_json::Value> {
    let permissions: Vec<serde_json::Value> = observed_permissions(&observed.permissions)
        .into_iter()
        .map(|((resource_type, resource_id), actions)| {
            let mut p = serde_json::json!({"resourceType": resource_type, "actions": actions});
            if let Some(id) = resource_id {
                p["resourceId"] = id.into();
            }
            p
        })
        .collect();
    Some(serde_json::json!({"bigpanda": {
        "users": sorted_unique(&observed.users),
        "permissions": permissions,
    }}))
}

pub fn summary(observed: &RoleDto) -> String {
    let users = BTreeSet::from_iter(&observed.users).len();
    let permissions = observed_permissions(&observed.permissions).len();
    format!("{users} users, {permissions} permissions")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crd::BigPandaPermission;

    const ALICE: &str = "60c5238222fa63633d935555";
    const BOB: &str = "5555238222fa63633d93560c";
    const ENV: &str = "624e114fb4d7581100179111";

    fn perm(t: &str, id: Option<&str>, actions: &[BigPandaAction]) -> BigPandaPermission {
        BigPandaPermission {
            resource_type: t.into(),
            resource_id: id.map(str::to_string),
            actions: actions.to_vec(),
        }
    }

    fn role() -> BigPandaRole {
        BigPandaRole {
            users: Some(vec![BOB.into(), ALICE.into()]),
            permissions: vec![
                perm("users", None, &[BigPandaAction::Read]),
                perm(
                    ENVIRONMENTS,
                    Some(ENV),
                    &[BigPandaAction::IncidentActions, BigPandaAction::Read],
                ),
            ],
        }
    }

    fn observed(users: &[&str], perms: &[(&str, Option<&str>, &[&str])]) -> RoleDto {
        RoleDto {
            id: "60c5238222fa55553d93d52f".into(),
            name: "Ops".into(),
            users: users.iter().map(|u| u.to_string()).collect(),
            permissions: perms
                .iter()
                .map(|(t, id, actions)| PermissionDto {
                    resource_type: t.to_string(),
                    resource_id: id.map(str::to_string),
                    actions: actions.iter().map(|a| a.to_string()).collect(),
                })
                .collect(),
        }
    }

    #[test]
    fn body_sends_every_managed_field_in_a_stable_order() {
        let b = body("Ops", &role(), &[]);
        assert_eq!(b.name, "Ops");
        assert_eq!(b.users, vec![BOB.to_string(), ALICE.to_string()]);
        assert_eq!(
            serde_json::to_value(&b.permissions).unwrap(),
            serde_json::json!([
                {"resource_type": "environments", "resource_id": ENV, "actions": ["incident_actions", "read"]},
                {"resource_type": "users", "actions": ["read"]},
            ])
        );
    }

    #[test]
    fn body_keeps_current_members_when_users_are_not_managed() {
        let mut r = role();
        r.users = None;
        assert_eq!(body("Ops", &r, &[ALICE.to_string()]).users, vec![ALICE]);
        r.users = Some(vec![]);
        assert!(body("Ops", &r, &[ALICE.to_string()]).users.is_empty());
    }

    #[test]
    fn drift_ignores_order_and_the_string_form_of_actions() {
        let same = observed(
            &[ALICE, BOB],
            &[
                ("users", None, &["read"]),
                (ENVIRONMENTS, Some(ENV), &["read", "incident_actions"]),
            ],
        );
        assert!(drift("Ops", &role(), &same).is_empty());
    }

    #[test]
    fn drift_names_each_differing_field() {
        let changed = observed(
            &[ALICE],
            &[
                ("users", None, &["full_access"]),
                ("roles", None, &["read"]),
                (ENVIRONMENTS, Some(ENV), &["read", "incident_actions"]),
            ],
        );
        assert_eq!(
            drift("Renamed", &role(), &changed),
            vec![
                "name",
                "bigpanda.users",
                "bigpanda.permissions[roles]",
                "bigpanda.permissions[users]",
            ]
        );
        let scoped_elsewhere = observed(
            &[ALICE, BOB],
            &[
                ("users", None, &["read"]),
                (
                    ENVIRONMENTS,
                    Some("624e114fb4d7581100179999"),
                    &["read", "incident_actions"],
                ),
            ],
        );
        assert_eq!(
            drift("Ops", &role(), &scoped_elsewhere),
            vec![
                format!("bigpanda.permissions[environments/{ENV}]"),
                "bigpanda.permissions[environments/624e114fb4d7581100179999]".to_string(),
            ]
        );
    }

    #[test]
    fn unmanaged_users_are_not_drift() {
        let mut r = role();
        r.users = None;
        let other_members = observed(
            &[ALICE],
            &[
                ("users", None, &["read"]),
                (ENVIRONMENTS, Some(ENV), &["incident_actions", "read"]),
            ],
        );
        assert!(drift("Ops", &r, &other_members).is_empty());
    }
}
