//! Input checks for a BigPanda role, before any call (the CRD schema says the same; this covers
//! objects that bypassed it and keeps `validate` the single source of the rules).

use std::collections::BTreeSet;

use super::mapping::{ENVIRONMENTS, label};
use crate::crd::{BigPandaAction, BigPandaRole};
use crate::providers::{Error, Result, is_plain_id, name_problem};

/// BigPanda documents no length limit for role names: the CRD's bound.
const MAX_NAME_CHARS: usize = 255;

fn is_user_id(id: &str) -> bool {
    id.len() == 24
        && id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn is_resource_type(t: &str) -> bool {
    let mut bytes = t.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_lowercase())
        && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// Checks the role: its name, user ids, and one entry per permission with valid actions.
pub fn check(name: &str, role: &BigPandaRole) -> Result<()> {
    let invalid = |m: String| Err(Error::InvalidSpec(format!("bigpanda: {m}")));
    if let Some(problem) = name_problem(name, MAX_NAME_CHARS) {
        return invalid(format!("name {name:?} {problem}"));
    }
    if let Some(users) = &role.users {
        let mut seen = BTreeSet::new();
        for (i, id) in users.iter().enumerate() {
            if !is_user_id(id) {
                return invalid(format!(
                    "bigpanda.users[{i}]: {id:?} is not a BigPanda user id (24 lower-case hex characters)"
                ));
            }
            if !seen.insert(id) {
                return invalid(format!("bigpanda.users[{i}]: {id} is listed twice"));
            }
        }
    }
    if role.permissions.is_empty() {
        return invalid("bigpanda.permissions: a role needs at least one permission".into());
    }
    let mut keys = BTreeSet::new();
    for (i, p) in role.permissions.iter().enumerate() {
        let at = format!("bigpanda.permissions[{i}]");
        if !is_resource_type(&p.resource_type) {
            return invalid(format!(
                "{at}.resourceType: {:?} is not a permission name (e.g. roles, users, environments)",
                p.resource_type
            ));
        }
        let environments = p.resource_type == ENVIRONMENTS;
        if let Some(id) = &p.resource_id {
            if !environments {
                return invalid(format!(
                    "{at}.resourceId: only environments permissions name a resource; remove it for {}",
                    p.resource_type
                ));
            }
            if !is_plain_id(id) {
                return invalid(format!(
                    "{at}.resourceId: {id:?} is not an environment id (letters, digits, - _ and single dots)"
                ));
            }
        }
        if p.actions.is_empty() {
            return invalid(format!("{at}.actions: grant at least one action"));
        }
        if !environments && p.actions.contains(&BigPandaAction::IncidentActions) {
            return invalid(format!(
                "{at}.actions: incident_actions is only valid for environments"
            ));
        }
        if !keys.insert((&p.resource_type, &p.resource_id)) {
            return invalid(format!(
                "{at}: {} is listed twice; put all its actions in one entry",
                label(&(p.resource_type.clone(), p.resource_id.clone()))
                    .trim_start_matches("bigpanda.permissions")
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crd::BigPandaPermission;

    const ALICE: &str = "60c5238222fa63633d935555";
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
            users: Some(vec![ALICE.into()]),
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

    #[test]
    fn check_accepts_the_seed_role() {
        check("Test Role", &role()).unwrap();
    }

    #[test]
    fn check_rejects_bad_input_with_the_field_path() {
        let cases: Vec<(BigPandaRole, &str)> = vec![
            (
                BigPandaRole {
                    users: Some(vec!["not-a-user".into()]),
                    ..role()
                },
                "bigpanda.users[0]",
            ),
            (
                BigPandaRole {
                    users: Some(vec![ALICE.into(), ALICE.into()]),
                    ..role()
                },
                "listed twice",
            ),
            (
                BigPandaRole {
                    permissions: vec![perm("users", Some(ENV), &[BigPandaAction::Read])],
                    ..role()
                },
                "bigpanda.permissions[0].resourceId",
            ),
            (
                BigPandaRole {
                    permissions: vec![perm("users", None, &[BigPandaAction::IncidentActions])],
                    ..role()
                },
                "incident_actions",
            ),
            (
                BigPandaRole {
                    permissions: vec![perm("users", None, &[])],
                    ..role()
                },
                "bigpanda.permissions[0].actions",
            ),
            (
                BigPandaRole {
                    permissions: vec![
                        perm("users", None, &[BigPandaAction::Read]),
                        perm("users", None, &[BigPandaAction::FullAccess]),
                    ],
                    ..role()
                },
                "bigpanda.permissions[1]: [users] is listed twice",
            ),
            (
                BigPandaRole {
                    permissions: vec![],
                    ..role()
                },
                "at least one permission",
            ),
            (
                BigPandaRole {
                    permissions: vec![perm("Users", None, &[BigPandaAction::Read])],
                    ..role()
                },
                "resourceType",
            ),
        ];
        for (r, want) in cases {
            let err = check("Ops", &r).unwrap_err();
            assert!(matches!(err, Error::InvalidSpec(_)), "{err:?}");
            assert!(
                err.to_string().contains(want),
                "{err} should mention {want}"
            );
        }
        for bad in [" Ops", "", "line1\nline2", &"x".repeat(256)] {
            assert!(check(bad, &role()).is_err(), "{bad:?}");
        }
        let traversal = BigPandaRole {
            permissions: vec![perm(ENVIRONMENTS, Some("../x"), &[BigPandaAction::Read])],
            ..role()
        };
        assert!(check("Ops", &traversal).is_err());
    }
}
