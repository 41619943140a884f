//! Permission and model sets behind a role: owned sets (named `roleplane:<role>`) are created,
//! corrected, renamed and deleted with the role; referenced sets are only looked up.

use super::Looker;
use super::model::{Set, SetKind};
use super::plan::{Want, is_owned, normalise, owned_name};
use crate::providers::{Account, Error, Result};

/// The set a role should point at, whether this call created it, and the set as Looker answered
/// when this call wrote it (None: unchanged, or a reference).
#[derive(Clone, Debug, PartialEq)]
pub struct Ensured {
    pub id: String,
    pub created: bool,
    pub written: Option<Set>,
}

impl Looker {
    /// The id of an existing referenced set; a missing one is a dependency not ready yet.
    pub(super) async fn resolve_ref(
        &self,
        account: &Account,
        kind: SetKind,
        want: &Want<'_>,
        current: Option<&Set>,
    ) -> Result<String> {
        let Want::Ref(r) = want else {
            unreachable!("resolve_ref is called for references only")
        };
        if let Some(set) = current.filter(|s| want.refers_to(s)) {
            return Ok(set.id.clone());
        }
        if let Some(id) = &r.id {
            return match self.client.get_set(account, kind, id).await {
                Ok(set) => Ok(set.id),
                Err(e) if e.is_not_found() => Err(Error::DependencyNotReady(format!(
                    "looker: {} with id {id:?} ({}.id) does not exist",
                    kind.noun(),
                    kind.ref_field()
                ))),
                Err(e) => Err(e),
            };
        }
        let name = r.name.as_deref().unwrap_or_default();
        match self.client.find_set(account, kind, name).await? {
            Some(set) => Ok(set.id),
            None => Err(Error::DependencyNotReady(format!(
                "looker: no {} is named {name:?} ({}.name)",
                kind.noun(),
                kind.ref_field()
            ))),
        }
    }

    /// Makes the role's owned set of `kind` hold `items` under the owned name of `role_name`.
    /// `current` is the set the role points at now; `old_name` its Looker name during a rename.
    /// A set that already carries the owned name (left by a crash or an earlier switch) is
    /// reused rather than reported as a conflict.
    pub(super) async fn ensure_owned(
        &self,
        account: &Account,
        kind: SetKind,
        items: &[String],
        role_name: &str,
        current: Option<&Set>,
        old_name: Option<&str>,
    ) -> Result<Ensured> {
        let name = owned_name(role_name);
        let names: Vec<&str> = [Some(role_name), old_name].into_iter().flatten().collect();
        if let Some(set) = current.filter(|s| is_owned(s, &names)) {
            let written = self.correct(account, kind, set, &name, items).await?;
            return Ok(Ensured {
                id: set.id.clone(),
                created: false,
                written,
            });
        }
        match self.client.create_set(account, kind, &name, items).await {
            Ok(set) => Ok(Ensured {
                id: set.id.clone(),
                created: true,
                written: Some(set),
            }),
            Err(e) if e.status() == Some(409) => {
                match self.client.find_set(account, kind, &name).await? {
                    Some(set) if !set.built_in => {
                        let written = self.correct(account, kind, &set, &name, items).await?;
                        Ok(Ensured {
                            id: set.id.clone(),
                            created: false,
                            written: Some(written.unwrap_or(set)),
                        })
                    }
                    _ => Err(Error::AlreadyExists(format!(
                        "looker: cannot create the owned {} {name:?}: a conflicting one exists ({e})",
                        kind.noun()
                    ))),
                }
            }
            Err(e) => Err(e),
        }
    }

    /// PATCHes an owned set whose name or members differ; returns the set as Looker answered.
    async fn correct(
        &self,
        account: &Account,
        kind: SetKind,
        set: &Set,
        name: &str,
        items: &[String],
    ) -> Result<Option<Set>> {
        let rename = set.name() != name;
        let change = normalise(set.items.as_deref().unwrap_or_default()) != items;
        if !rename && !change {
            return Ok(None);
        }
        self.client
            .update_set(
                account,
                kind,
                &set.id,
                rename.then_some(name),
                change.then_some(items),
            )
            .await
            .map(Some)
    }

    /// Deletes an owned set; gone already is fine. A set another role still uses is refused by
    /// Looker (422 or 405): it is left in place, since it no longer belongs to this role alone.
    pub(super) async fn delete_owned(
        &self,
        account: &Account,
        kind: SetKind,
        id: &str,
    ) -> Result<()> {
        match self.client.delete_set(account, kind, id).await {
            Ok(()) => Ok(()),
            Err(e) if e.is_not_found() => Ok(()),
            Err(e) if matches!(e.status(), Some(405 | 422)) => {
                tracing::warn!(provider = "looker", set = id, error = %e, "owned {} left in place", kind.noun());
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    /// Owned sets of `kind` to delete: the one embedded in the role (if owned under any of
    /// `role_names`) and any set carrying one of their owned names, except those `keep` spares.
    /// Set names are unique per kind, so when the role embeds its owned set there is no other
    /// one to search for.
    pub(super) async fn owned_leftovers(
        &self,
        account: &Account,
        kind: SetKind,
        embedded: Option<&Set>,
        role_names: &[&str],
        keep: &(dyn Fn(&Set) -> bool + Sync),
    ) -> Result<Vec<String>> {
        let mut sets: Vec<Set> = embedded
            .filter(|s| is_owned(s, role_names))
            .cloned()
            .into_iter()
            .collect();
        let mut names: Vec<&str> = role_names
            .iter()
            .copied()
            .filter(|n| !n.is_empty() && sets.iter().all(|s| s.name() != owned_name(n)))
            .collect();
        names.sort();
        names.dedup();
        for name in names {
            if let Some(set) = self
                .client
                .find_set(account, kind, &owned_name(name))
                .await?
            {
                sets.push(set);
            }
        }
        let mut ids: Vec<String> = sets
            .into_iter()
            .filter(|s| !s.built_in && !keep(s))
            .map(|s| s.id)
            .collect();
        ids.sort();
        ids.dedup();
        Ok(ids)
    }
}
