//! Permission names checked against Looker's catalogue (`GET /permissions`) before any write:
//! unknown names come back with the closest known ones, and a permission needs its parent.

use std::collections::{BTreeMap, BTreeSet};

use super::model::Permission;
use crate::providers::{Error, Result};

/// How many suggestions an unknown name gets.
const SUGGESTIONS: usize = 3;

/// Checks `wanted` (normalised) against `catalogue`; names every unknown permission with its
/// closest known names, and every permission whose parent is not granted too.
pub fn check(wanted: &[String], catalogue: &[Permission]) -> Result<()> {
    let known: BTreeMap<&str, Option<&str>> = catalogue
        .iter()
        .filter_map(|p| Some((p.permission.as_deref()?, p.parent.as_deref())))
        .collect();
    let granted: BTreeSet<&str> = wanted.iter().map(String::as_str).collect();
    let mut problems = Vec::new();
    for name in wanted {
        match known.get(name.as_str()) {
            None => {
                let near: Vec<String> = closest(name, known.keys().copied(), SUGGESTIONS)
                    .into_iter()
                    .map(shown)
                    .collect();
                problems.push(if near.is_empty() {
                    format!("unknown permission {name:?}")
                } else {
                    format!("unknown permission {name:?} (closest: {})", near.join(", "))
                });
            }
            Some(Some(parent)) if !parent.is_empty() && !granted.contains(parent) => {
                problems.push(format!(
                    "permission {name:?} needs its parent {:?}; add it",
                    shown(parent)
                ));
            }
            Some(_) => {}
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Error::InvalidSpec(format!(
            "looker.permissionSet.permissions: {}",
            problems.join("; ")
        )))
    }
}

/// A name from the catalogue as quoted in a message: at most 64 characters (Looker's own are
/// short; a longer one is not worth a status condition's room).
fn shown(name: &str) -> String {
    match name.char_indices().nth(64) {
        Some((cut, _)) => format!("{}…", &name[..cut]),
        None => name.to_string(),
    }
}

/// The `n` names nearest to `name` by edit distance (ties by name).
pub fn closest<'a>(name: &str, known: impl Iterator<Item = &'a str>, n: usize) -> Vec<&'a str> {
    let mut ranked: Vec<(usize, &str)> = known.map(|k| (levenshtein(name, k), k)).collect();
    ranked.sort();
    ranked.into_iter().take(n).map(|(_, k)| k).collect()
}

/// Levenshtein distance over characters.
pub fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitute = diagonal + usize::from(ca != *cb);
            diagonal = row[j + 1];
            row[j + 1] = substitute.min(row[j] + 1).min(diagonal + 1);
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalogue() -> Vec<Permission> {
        [
            ("access_data", None),
            ("see_looks", Some("access_data")),
            ("see_lookml", Some("access_data")),
            ("see_user_dashboards", Some("see_looks")),
            ("explore", Some("see_looks")),
            ("manage_spaces", None),
        ]
        .into_iter()
        .map(|(p, parent)| Permission {
            permission: Some(p.into()),
            parent: parent.map(Into::into),
        })
        .collect()
    }

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn edit_distance_counts_single_character_edits() {
        assert_eq!(levenshtein("see_look", "see_looks"), 1);
        assert_eq!(levenshtein("acess_data", "access_data"), 1);
        assert_eq!(levenshtein("kitten", "sitting"), 3);
        assert_eq!(levenshtein("", "abc"), 3);
        assert_eq!(levenshtein("same", "same"), 0);
    }

    #[test]
    fn known_permissions_with_their_parents_pass() {
        check(
            &names(&["access_data", "see_looks", "explore"]),
            &catalogue(),
        )
        .unwrap();
    }

    #[test]
    fn unknown_permission_names_it_and_the_closest_known_names() {
        let err = check(&names(&["access_data", "see_lokml"]), &catalogue()).unwrap_err();
        assert!(matches!(err, Error::InvalidSpec(_)));
        assert_eq!(
            err.to_string(),
            "looker.permissionSet.permissions: unknown permission \"see_lokml\" (closest: see_lookml, see_looks, explore)"
        );
    }

    #[test]
    fn a_permission_without_its_parent_is_invalid() {
        let err = check(&names(&["see_looks"]), &catalogue()).unwrap_err();
        assert!(
            err.to_string()
                .contains("permission \"see_looks\" needs its parent \"access_data\""),
            "{err}"
        );
    }
}
