//! Statsig console roles: keyed by name, flags changed by PATCH, observed by GET (list as fallback).

mod client;
pub mod model;

use std::collections::BTreeMap;

use crate::crd::{StatsigPermissions, StatsigRole};
use crate::providers::http::Http;
use crate::providers::{Account, Error, Listed, Observed, Provider, Result, Spec, Target};
pub use client::role_path;
use model::{RoleDto, RoleUpdateDto};

pub const DEFAULT_BASE_URL: &str = "https://statsigapi.net";

#[derive(Clone)]
pub struct Statsig {
    client: client::Client,
}

impl Statsig {
    pub fn new(http: Http) -> Self {
        Self {
            client: client::Client::new(http),
        }
    }
}

fn block<'a>(target: &Target<'a>) -> Result<&'a StatsigRole> {
    match target.spec {
        Spec::Statsig(s) => Ok(s),
        _ => Err(Error::InvalidSpec(
            "the statsig provider needs a statsig block".into(),
        )),
    }
}

/// The flags the manifest manages, by Statsig wire name.
pub fn desired_flags(role: &StatsigRole) -> BTreeMap<String, bool> {
    let mut flags: BTreeMap<String, bool> = role
        .permissions
        .entries()
        .into_iter()
        .filter_map(|(name, v)| v.map(|v| (name.to_string(), v)))
        .collect();
    for extra in &role.additional_permissions {
        flags.insert(extra.name.clone(), extra.enabled);
    }
    flags
}

/// Manifest paths of managed flags whose reported value differs. A flag Statsig does not report
/// is unknown, not false, so it is not drift.
pub fn drift(role: &StatsigRole, observed: &BTreeMap<String, bool>) -> Vec<String> {
    let typed = role
        .permissions
        .entries()
        .into_iter()
        .filter_map(|(name, want)| {
            let want = want?;
            let have = *observed.get(name)?;
            (have != want).then(|| format!("statsig.permissions.{}", camel(name)))
        });
    let extra = role.additional_permissions.iter().filter_map(|f| {
        let have = *observed.get(&f.name)?;
        (have != f.enabled).then(|| format!("statsig.additionalPermissions[{}]", f.name))
    });
    typed.chain(extra).collect()
}

fn camel(snake: &str) -> String {
    let mut out = String::with_capacity(snake.len());
    let mut upper = false;
    for c in snake.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.push(c.to_ascii_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

fn summary(role: &StatsigRole, observed: &BTreeMap<String, bool>) -> String {
    let managed = desired_flags(role).len();
    let granted = observed.values().filter(|v| **v).count();
    format!("{granted} flags granted, {managed} managed")
}

impl Provider for Statsig {
    fn validate(&self, target: &Target<'_>) -> Result<()> {
        let role = block(target)?;
        let mut seen = std::collections::BTreeSet::new();
        for extra in &role.additional_permissions {
            if StatsigPermissions::NAMES.contains(&extra.name.as_str()) {
                return Err(Error::InvalidSpec(format!(
                    "statsig.additionalPermissions: {} is a typed flag; set statsig.permissions.{} instead",
                    extra.name,
                    camel(&extra.name)
                )));
            }
            if !seen.insert(&extra.name) {
                return Err(Error::InvalidSpec(format!(
                    "statsig.additionalPermissions: {} is listed twice",
                    extra.name
                )));
            }
        }
        if target.name.trim() != target.name {
            return Err(Error::InvalidSpec(
                "name must not start or end with spaces".into(),
            ));
        }
        Ok(())
    }

    fn name_is_key(&self) -> bool {
        true
    }

    async fn check_access(&self, account: &Account) -> Result<()> {
        self.client.list_page(account, 1, 1).await.map(|_| ())
    }

    async fn list(&self, account: &Account, _target: &Target<'_>) -> Result<Vec<Listed>> {
        Ok(self
            .client
            .list_all(account)
            .await?
            .into_iter()
            .map(|r| Listed {
                external_id: r.name.clone(),
                name: r.name,
            })
            .collect())
    }

    async fn observe(
        &self,
        account: &Account,
        target: &Target<'_>,
        id: &str,
    ) -> Result<Option<Observed>> {
        let role = block(target)?;
        let found = match self.client.get(account, id).await {
            Ok(r) => Some(r),
            Err(e) if e.is_not_found() => None,
            // Statsig may answer 400 for a name it cannot resolve: fall back to the listing.
            Err(e) if e.status() == Some(400) => self
                .client
                .list_all(account)
                .await?
                .into_iter()
                .find(|r| r.name == id),
            Err(e) => return Err(e),
        };
        Ok(found.map(|r| Observed {
            external_id: r.name.clone(),
            drift: drift(role, &r.permissions),
            summary: summary(role, &r.permissions),
        }))
    }

    async fn create(&self, account: &Account, target: &Target<'_>) -> Result<String> {
        let role = block(target)?;
        let body = RoleDto {
            name: target.name.to_string(),
            permissions: desired_flags(role),
        };
        match self.client.create(account, &body).await {
            Ok(created) => Ok(created.name),
            Err(e) if matches!(e.status(), Some(400 | 409)) => {
                // A name clash is reported as 400 or 409: tell it apart from other bad input.
                match self.client.get(account, target.name).await {
                    Ok(_) => Err(Error::AlreadyExists(format!(
                        "statsig create role: a role named {:?} already exists ({e})",
                        target.name
                    ))),
                    Err(_) => Err(e),
                }
            }
            Err(e) => Err(e),
        }
    }

    async fn update(&self, account: &Account, target: &Target<'_>, id: &str) -> Result<()> {
        let flags = desired_flags(block(target)?);
        self.client
            .update(
                account,
                id,
                &RoleUpdateDto {
                    permissions: &flags,
                },
            )
            .await
    }

    async fn delete(&self, account: &Account, _target: &Target<'_>, id: &str) -> Result<()> {
        match self.client.delete(account, id).await {
            Err(e) if e.is_not_found() => Ok(()),
            Err(e) if e.status() == Some(400) => match self.client.get(account, id).await {
                Err(g) if g.is_not_found() => Ok(()),
                _ => Err(e),
            },
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crd::NamedFlag;

    fn role() -> StatsigRole {
        StatsigRole {
            permissions: StatsigPermissions {
                create_configs: Some(true),
                launch_to_production: Some(false),
                ..Default::default()
            },
            additional_permissions: vec![NamedFlag {
                name: "brand_new_flag".into(),
                enabled: true,
            }],
        }
    }

    #[test]
    fn desired_flags_use_wire_names_and_skip_unset() {
        let flags = desired_flags(&role());
        assert_eq!(
            flags,
            BTreeMap::from([
                ("brand_new_flag".to_string(), true),
                ("create_configs".to_string(), true),
                ("launch_to_production".to_string(), false),
            ])
        );
    }

    #[test]
    fn drift_names_manifest_fields_and_ignores_unreported_flags() {
        let observed = BTreeMap::from([
            ("create_configs".to_string(), false),
            ("brand_new_flag".to_string(), false),
            ("invitation_access".to_string(), true),
        ]);
        assert_eq!(
            drift(&role(), &observed),
            vec![
                "statsig.permissions.createConfigs".to_string(),
                "statsig.additionalPermissions[brand_new_flag]".to_string()
            ]
        );
        let matching = desired_flags(&role());
        assert!(drift(&role(), &matching).is_empty());
    }

    #[test]
    fn validate_rejects_typed_names_in_additional_permissions() {
        let mut r = role();
        r.additional_permissions.push(NamedFlag {
            name: "create_configs".into(),
            enabled: false,
        });
        let s = Statsig::new(Http::new(Default::default(), Default::default()));
        let err = s
            .validate(&Target {
                name: "r",
                spec: Spec::Statsig(&r),
            })
            .unwrap_err();
        assert!(
            err.to_string()
                .contains("statsig.permissions.createConfigs"),
            "{err}"
        );
    }
}
