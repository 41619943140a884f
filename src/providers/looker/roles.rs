//! Creating, updating and deleting a role together with the sets behind it: references are
//! resolved and owned sets made before the role, and owned sets are deleted after it stops using
//! them. The permission catalogue is read only when an owned permission set's members are about
//! to be written.

use super::model::{Role, RoleWrite, Set, SetKind};
use super::plan::{self, Want};
use super::{Looker, catalogue, sets, wants};
use crate::crd::LookerRole;
use crate::providers::{Account, ApiError, Desired, Error, Result};

/// Looker answers 405 for built-in roles (such as Admin): say so plainly.
fn built_in(e: Error, role: &str) -> Error {
    match e {
        Error::Api(api) if api.status == Some(405) => Error::Api(ApiError {
            message: format!(
                "role {role:?} is built-in and cannot be modified or deleted ({})",
                api.message
            ),
            ..api
        }),
        other => other,
    }
}

/// A failed role create that certainly did not create the role.
fn definitely_failed(e: &Error) -> bool {
    matches!(e.status(), Some(400 | 404 | 405 | 409 | 422))
}

impl Looker {
    /// Checks inline permission names against the instance's catalogue (one read per
    /// credential a minute, no write). A name unknown to a kept catalogue is checked against a
    /// fresh one before it is refused (the instance may have been upgraded since).
    async fn check_permissions(&self, account: &Account, want: &Want<'_>) -> Result<()> {
        let Want::Owned(items) = want else {
            return Ok(());
        };
        let read = || self.client.permissions(account);
        let kept = self.catalogue.kept(&account.key).is_some();
        let catalogue = self.catalogue.get(&account.key, read).await?;
        match catalogue::check(items, &catalogue) {
            Err(_) if kept => {
                let fresh = self.catalogue.fresh(&account.key, read).await?;
                catalogue::check(items, &fresh)
            }
            checked => checked,
        }
    }

    /// The set the role should use for `kind`: a resolved reference or a (created) owned set.
    async fn target_set(
        &self,
        account: &Account,
        kind: SetKind,
        want: &Want<'_>,
        role_name: &str,
        current: Option<&Set>,
        old_name: Option<&str>,
    ) -> Result<sets::Ensured> {
        match want {
            Want::Ref(_) => Ok(sets::Ensured {
                id: self.resolve_ref(account, kind, want, current).await?,
                created: false,
                written: None,
            }),
            Want::Owned(items) => {
                self.ensure_owned(account, kind, items, role_name, current, old_name)
                    .await
            }
        }
    }

    /// Best-effort removal of sets this call created, after the role could not be created.
    async fn discard(&self, account: &Account, created: &[(SetKind, String)]) {
        for (kind, id) in created {
            if let Err(e) = self.delete_owned(account, *kind, id).await {
                tracing::warn!(provider = "looker", set = %id, error = %e, "could not remove an unused owned {}", kind.noun());
            }
        }
    }

    pub(super) async fn create_role(
        &self,
        account: &Account,
        desired: Desired<'_, LookerRole>,
    ) -> Result<Role> {
        let (perms, models) = wants(desired.spec)?;
        self.check_permissions(account, &perms).await?;
        // References first: a missing one must not leave freshly created owned sets behind.
        let mut order = [(SetKind::Permission, &perms), (SetKind::Model, &models)];
        order.sort_by_key(|(_, w)| matches!(w, Want::Owned(_)));
        let mut ids = (String::new(), String::new());
        let mut created: Vec<(SetKind, String)> = Vec::new();
        for (kind, want) in order {
            let ensured = match self
                .target_set(account, kind, want, desired.name, None, None)
                .await
            {
                Ok(e) => e,
                // A set not sent for want of budget is sent again later: the sets made so far
                // are kept for it (found by name, as the 409 of a create again says), not
                // deleted with calls the same budget has no room for.
                Err(e @ Error::BudgetWait(_)) => return Err(e),
                Err(e) => {
                    self.discard(account, &created).await;
                    return Err(e);
                }
            };
            if ensured.created {
                created.push((kind, ensured.id.clone()));
            }
            match kind {
                SetKind::Permission => ids.0 = ensured.id,
                SetKind::Model => ids.1 = ensured.id,
            }
        }
        let body = RoleWrite {
            name: Some(desired.name),
            permission_set_id: Some(&ids.0),
            model_set_id: Some(&ids.1),
        };
        match self.client.create_role(account, &body).await {
            Ok(role) => Ok(role),
            Err(e) => {
                if definitely_failed(&e) {
                    self.discard(account, &created).await;
                }
                if e.status() == Some(409) {
                    return Err(Error::AlreadyExists(format!(
                        "looker create role: a role named {:?} already exists and Roleplane did not create it ({e}); set spec.externalId to adopt it",
                        desired.name
                    )));
                }
                Err(e)
            }
        }
    }

    /// Brings `role` (as just read) in line: owned sets are corrected on the sets themselves,
    /// the role is PATCHed only where its name or set ids differ, and an owned set the role
    /// stopped using (a switch to a reference) is deleted afterwards.
    pub(super) async fn update_role(
        &self,
        account: &Account,
        desired: Desired<'_, LookerRole>,
        role: &Role,
    ) -> Result<Role> {
        let (perms, models) = wants(desired.spec)?;
        let target = desired.name;
        let looker_name = role.name.clone().unwrap_or_default();
        let names = [target, looker_name.as_str()];
        let (have_ps, have_ms) = (role.permission_set.as_ref(), role.model_set.as_ref());
        if plan::set_drift(SetKind::Permission, &perms, &names, have_ps).is_some() {
            self.check_permissions(account, &perms).await?;
        }
        let old = Some(looker_name.as_str());
        let ps = self
            .target_set(account, SetKind::Permission, &perms, target, have_ps, old)
            .await?;
        let ms = self
            .target_set(account, SetKind::Model, &models, target, have_ms, old)
            .await?;
        let moved = |have: Option<&Set>, now: &str| have.is_none_or(|s| s.id != now);
        let body = RoleWrite {
            name: (looker_name != target).then_some(target),
            permission_set_id: moved(have_ps, &ps.id).then_some(ps.id.as_str()),
            model_set_id: moved(have_ms, &ms.id).then_some(ms.id.as_str()),
        };
        let updated = if body.is_empty() {
            // Only owned members changed: the role is as read, with the sets as written.
            Role {
                permission_set: ps.written.clone().or(role.permission_set.clone()),
                model_set: ms.written.clone().or(role.model_set.clone()),
                ..role.clone()
            }
        } else {
            self.client
                .update_role(account, &role.id, &body)
                .await
                .map_err(|e| built_in(e, &looker_name))?
        };
        // A switch to a reference leaves the owned set unused: delete it after the role moved.
        for (kind, want, before, now) in [
            (SetKind::Permission, &perms, have_ps, &ps.id),
            (SetKind::Model, &models, have_ms, &ms.id),
        ] {
            if matches!(want, Want::Ref(_)) && moved(before, now) {
                let keep = |s: &Set| &s.id == now || want.refers_to(s);
                for set in self
                    .owned_leftovers(account, kind, before, &names, &keep)
                    .await?
                {
                    self.delete_owned(account, kind, &set).await?;
                }
            }
        }
        Ok(updated)
    }

    /// Deletes the role, then its owned sets (Looker refuses to delete a set a role uses).
    pub(super) async fn delete_role(
        &self,
        account: &Account,
        desired: Desired<'_, LookerRole>,
        id: &str,
    ) -> Result<()> {
        let role = match self.client.get_role(account, id).await {
            Ok(r) => Some(r),
            Err(e) if e.is_not_found() => None,
            Err(e) => return Err(e),
        };
        if let Some(role) = &role {
            let name = role.name.as_deref().unwrap_or(desired.name);
            match self.client.delete_role(account, id).await {
                Ok(()) => {}
                Err(e) if e.is_not_found() => {}
                Err(e) => return Err(built_in(e, name)),
            }
        }
        // The spec may not validate any more: spare referenced sets only when it still says
        // which they are.
        let (perms, models) = match wants(desired.spec) {
            Ok((p, m)) => (Some(p), Some(m)),
            Err(_) => (None, None),
        };
        let looker_name = role
            .as_ref()
            .and_then(|r| r.name.clone())
            .unwrap_or_default();
        let names = [desired.name, looker_name.as_str()];
        let embedded = |kind| {
            role.as_ref().and_then(|r| match kind {
                SetKind::Permission => r.permission_set.as_ref(),
                SetKind::Model => r.model_set.as_ref(),
            })
        };
        for (kind, want) in [
            (SetKind::Permission, perms.as_ref()),
            (SetKind::Model, models.as_ref()),
        ] {
            let keep = |s: &Set| want.is_some_and(|w| w.refers_to(s));
            for set in self
                .owned_leftovers(account, kind, embedded(kind), &names, &keep)
                .await?
            {
                self.delete_owned(account, kind, &set).await?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crd::ProviderKind;

    fn api(status: u16) -> Error {
        Error::Api(ApiError {
            provider: ProviderKind::Looker,
            operation: "delete role",
            status: Some(status),
            message: "Resource Can't Be Modified".into(),
            retry_after: None,
        })
    }

    #[test]
    fn built_in_roles_get_a_plain_terminal_reason() {
        let e = built_in(api(405), "Admin");
        assert_eq!(e.class(), crate::providers::ErrorClass::ProviderRejected);
        assert_eq!(
            e.to_string(),
            "looker delete role: HTTP 405: role \"Admin\" is built-in and cannot be modified or deleted (Resource Can't Be Modified)"
        );
        assert_eq!(built_in(api(404), "x"), api(404));
    }

    #[test]
    fn only_refusals_certainly_created_nothing() {
        for status in [400, 404, 405, 409, 422] {
            assert!(definitely_failed(&api(status)), "{status}");
        }
        assert!(!definitely_failed(&api(500)));
        assert!(!definitely_failed(&api(429)));
    }
}
