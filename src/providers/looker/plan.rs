//! Pure mapping between a `looker` block and what Looker holds: the owned set names, the desired
//! set per kind, drift in manifest terms, and the status summary.

use super::model::{Role, Set, SetKind};
use crate::crd::{LookerRole, LookerSetRef};
use crate::providers::{Error, Result};

/// Prefix of the sets Roleplane owns. An owned set is named `roleplane:<role name>`, one
/// permission set and one model set per role (the two kinds have separate namespaces).
pub const OWNED_PREFIX: &str = "roleplane:";

/// Name of the sets owned by the role named `role`.
pub fn owned_name(role: &str) -> String {
    format!("{OWNED_PREFIX}{role}")
}

/// Whether `set` is owned by a role that is, or was until a rename, called one of `role_names`.
/// Built-in sets are never owned.
pub fn is_owned(set: &Set, role_names: &[&str]) -> bool {
    !set.built_in
        && role_names
            .iter()
            .any(|n| !n.is_empty() && set.name() == owned_name(n))
}

/// What the manifest wants for one set kind.
#[derive(Clone, Debug, PartialEq)]
pub enum Want<'a> {
    /// An owned set with exactly these members (sorted, without duplicates).
    Owned(Vec<String>),
    /// An existing set, never modified.
    Ref(&'a LookerSetRef),
}

impl Want<'_> {
    /// Whether the set `have` (embedded in the role) is the one referenced.
    pub fn refers_to(&self, have: &Set) -> bool {
        match self {
            Want::Ref(r) => match (&r.id, &r.name) {
                (Some(id), _) => &have.id == id,
                (None, Some(name)) => have.name() == name,
                (None, None) => false,
            },
            Want::Owned(_) => false,
        }
    }
}

/// Members as a set: sorted and deduplicated (Looker does not keep order).
pub fn normalise(items: &[String]) -> Vec<String> {
    let mut out: Vec<String> = items.iter().map(|s| s.trim().to_string()).collect();
    out.sort();
    out.dedup();
    out
}

/// The desired set of `kind`; exactly one of the inline block and the reference must be given.
pub fn want(role: &LookerRole, kind: SetKind) -> Result<Want<'_>> {
    let (inline, reference) = match kind {
        SetKind::Permission => (
            role.permission_set.as_ref().map(|p| &p.permissions),
            role.permission_set_ref.as_ref(),
        ),
        SetKind::Model => (
            role.model_set.as_ref().map(|m| &m.models),
            role.model_set_ref.as_ref(),
        ),
    };
    match (inline, reference) {
        (Some(items), None) => {
            let items = normalise(items);
            if items.is_empty() || items.iter().any(String::is_empty) {
                return Err(Error::InvalidSpec(format!(
                    "{}: list at least one non-empty name",
                    kind.items_path()
                )));
            }
            Ok(Want::Owned(items))
        }
        (None, Some(r)) => {
            let blank = |v: &Option<String>| v.as_deref().is_some_and(|s| s.trim().is_empty());
            if r.id.is_some() == r.name.is_some() || blank(&r.id) || blank(&r.name) {
                return Err(Error::InvalidSpec(format!(
                    "{}: set exactly one of id or name",
                    kind.ref_field()
                )));
            }
            Ok(Want::Ref(r))
        }
        _ => Err(Error::InvalidSpec(format!(
            "looker: set exactly one of {} or {}",
            kind.inline_field(),
            kind.ref_field()
        ))),
    }
}

/// The manifest field of `kind` whose Looker value differs, if any. `role_names` are the names
/// the role's owned set may carry (the manifest name and, during a rename, Looker's current one).
pub fn set_drift(
    kind: SetKind,
    want: &Want<'_>,
    role_names: &[&str],
    have: Option<&Set>,
) -> Option<&'static str> {
    match want {
        Want::Owned(items) => match have {
            Some(set) if is_owned(set, role_names) => {
                let have = normalise(set.items.as_deref().unwrap_or_default());
                (&have != items).then(|| kind.items_path())
            }
            _ => Some(kind.inline_field()),
        },
        Want::Ref(_) => match have {
            Some(set) if want.refers_to(set) => None,
            _ => Some(kind.ref_field()),
        },
    }
}

/// Manifest paths that differ between the block and the role as read.
pub fn drift(block: &LookerRole, name: &str, role: &Role) -> Result<Vec<String>> {
    let looker_name = role.name.as_deref().unwrap_or_default();
    let names = [name, looker_name];
    let mut out = Vec::new();
    if looker_name != name {
        out.push("name".to_string());
    }
    for (kind, have) in [
        (SetKind::Permission, role.permission_set.as_ref()),
        (SetKind::Model, role.model_set.as_ref()),
    ] {
        if let Some(field) = set_drift(kind, &want(block, kind)?, &names, have) {
            out.push(field.to_string());
        }
    }
    Ok(out)
}

/// The `looker` block matching `role` (what `roleplane import` writes): a set owned by the role
/// (`roleplane:<name>`) inline, any other set by its id. None without both sets.
pub fn manifest(role: &Role) -> Option<serde_json::Value> {
    let name = role.name.as_deref().unwrap_or_default();
    let mut block = serde_json::Map::new();
    for (kind, set) in [
        (SetKind::Permission, role.permission_set.as_ref()?),
        (SetKind::Model, role.model_set.as_ref()?),
    ] {
        let (inline, reference, items) = match kind {
            SetKind::Permission => ("permissionSet", "permissionSetRef", "permissions"),
            SetKind::Model => ("modelSet", "modelSetRef", "models"),
        };
        let members = normalise(set.items.as_deref().unwrap_or_default());
        if is_owned(set, &[name]) && !members.is_empty() {
            block.insert(inline.into(), serde_json::json!({ items: members }));
        } else {
            block.insert(reference.into(), serde_json::json!({"id": set.id}));
        }
    }
    Some(serde_json::json!({ "looker": block }))
}

/// Status summary, e.g. `permission set roleplane:Analyst (3), model set All`.
pub fn summary(role: &Role) -> String {
    let describe = |kind: SetKind, set: Option<&Set>| match set {
        Some(s) => match (&s.items, kind) {
            (Some(items), SetKind::Permission) => {
                format!("{} {} ({})", kind.noun(), s.name(), items.len())
            }
            _ => format!("{} {}", kind.noun(), s.name()),
        },
        None => format!("no {}", kind.noun()),
    };
    format!(
        "{}, {}",
        describe(SetKind::Permission, role.permission_set.as_ref()),
        describe(SetKind::Model, role.model_set.as_ref())
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crd::{LookerModelSet, LookerPermissionSet};

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    fn inline(perms: &[&str], models: &[&str]) -> LookerRole {
        LookerRole {
            permission_set: Some(LookerPermissionSet {
                permissions: strings(perms),
            }),
            model_set: Some(LookerModelSet {
                models: strings(models),
            }),
            ..Default::default()
        }
    }

    fn set(id: &str, name: &str, items: &[&str]) -> Set {
        Set {
            id: id.into(),
            name: Some(name.into()),
            items: Some(strings(items)),
            built_in: false,
        }
    }

    fn role(name: &str, ps: Set, ms: Set) -> Role {
        Role {
            id: "9".into(),
            name: Some(name.into()),
            permission_set: Some(ps),
            model_set: Some(ms),
        }
    }

    #[test]
    fn owned_sets_are_named_after_the_role() {
        assert_eq!(owned_name("Analyst"), "roleplane:Analyst");
        assert!(is_owned(&set("1", "roleplane:Analyst", &[]), &["Analyst"]));
        assert!(!is_owned(&set("1", "Analyst", &[]), &["Analyst"]));
        assert!(!is_owned(&set("1", "roleplane:", &[]), &[""]));
        let mut builtin = set("1", "roleplane:Analyst", &[]);
        builtin.built_in = true;
        assert!(!is_owned(&builtin, &["Analyst"]));
    }

    #[test]
    fn inline_lists_compare_as_sets() {
        let block = inline(&["see_looks", "access_data", "access_data"], &["thelook"]);
        let have = role(
            "Analyst",
            set("1", "roleplane:Analyst", &["access_data", "see_looks"]),
            set("2", "roleplane:Analyst", &["thelook"]),
        );
        assert!(drift(&block, "Analyst", &have).unwrap().is_empty());
    }

    #[test]
    fn drift_names_changed_members_foreign_sets_and_the_name() {
        let block = inline(&["access_data", "see_looks"], &["thelook"]);
        let have = role(
            "Analyst",
            set("1", "roleplane:Analyst", &["access_data"]),
            set("2", "Marketing", &["thelook"]),
        );
        assert_eq!(
            drift(&block, "Analyst", &have).unwrap(),
            vec!["looker.permissionSet.permissions", "looker.modelSet"]
        );
        let renamed = role(
            "Old",
            set("1", "roleplane:Old", &["access_data", "see_looks"]),
            set("2", "roleplane:Old", &["thelook"]),
        );
        // During a rename the sets named after the old name are still the role's own.
        assert_eq!(drift(&block, "Analyst", &renamed).unwrap(), vec!["name"]);
    }

    #[test]
    fn references_match_by_id_or_exact_name() {
        let block = LookerRole {
            permission_set_ref: Some(LookerSetRef {
                id: Some("1".into()),
                name: None,
            }),
            model_set_ref: Some(LookerSetRef {
                id: None,
                name: Some("All".into()),
            }),
            ..Default::default()
        };
        let matching = role("R", set("1", "Admin", &[]), set("2", "All", &[]));
        assert!(drift(&block, "R", &matching).unwrap().is_empty());
        let other = role("R", set("5", "Admin", &[]), set("2", "all", &[]));
        assert_eq!(
            drift(&block, "R", &other).unwrap(),
            vec!["looker.permissionSetRef", "looker.modelSetRef"]
        );
    }

    #[test]
    fn a_role_without_embedded_sets_drifts() {
        let block = inline(&["access_data"], &["thelook"]);
        let bare = Role {
            id: "1".into(),
            name: Some("R".into()),
            ..Default::default()
        };
        assert_eq!(
            drift(&block, "R", &bare).unwrap(),
            vec!["looker.permissionSet", "looker.modelSet"]
        );
        assert_eq!(summary(&bare), "no permission set, no model set");
    }

    #[test]
    fn want_requires_exactly_one_form_per_kind() {
        let mut block = inline(&["access_data"], &["m"]);
        block.permission_set_ref = Some(LookerSetRef {
            id: Some("1".into()),
            name: None,
        });
        assert!(matches!(
            want(&block, SetKind::Permission),
            Err(Error::InvalidSpec(_))
        ));
        let empty = inline(&[], &["m"]);
        let err = want(&empty, SetKind::Permission).unwrap_err();
        assert!(err.to_string().contains("looker.permissionSet.permissions"));
        let both = LookerRole {
            model_set_ref: Some(LookerSetRef {
                id: Some("1".into()),
                name: Some("All".into()),
            }),
            ..inline(&["a"], &[])
        };
        let mut both = both;
        both.model_set = None;
        assert!(
            want(&both, SetKind::Model)
                .unwrap_err()
                .to_string()
                .contains("looker.modelSetRef")
        );
    }

    #[test]
    fn summary_names_both_sets() {
        let have = role(
            "R",
            set("1", "roleplane:R", &["a", "b"]),
            set("2", "All", &["x"]),
        );
        assert_eq!(
            summary(&have),
            "permission set roleplane:R (2), model set All"
        );
    }
}
