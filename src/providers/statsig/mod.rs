//! Statsig console roles: keyed by name, flags changed by PATCH, observed by GET (list as
//! fallback). The create and PATCH answers carry the role, so no read follows a write.

mod client;
#[cfg(test)]
mod fuzz;
pub mod guard;
pub mod model;
pub mod sim;

use std::collections::BTreeMap;

use crate::crd::policy::camel;
use crate::crd::{ProviderKind, ProviderSettings, StatsigPermissions, StatsigRole};
use crate::providers::http::Http;
use crate::providers::{
    Account, Auth, Calls, Desired, Error, Identity, Limits, Listed, Provider, Result, Window,
    bad_external_id, name_problem, segment_problem,
};
pub use client::role_path;
use model::{RoleDto, RoleUpdateDto};

pub const DEFAULT_BASE_URL: &str = "https://statsigapi.net";

/// Statsig documents no length limit for role names: the CRD's bound.
const MAX_NAME_CHARS: usize = 255;

base_url_flag!(
    "statsig-url",
    "ROLEPLANE_STATSIG_URL",
    "Default Statsig base URL for configs without an endpoint."
);

#[derive(Clone)]
pub struct Statsig {
    http: Http,
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

impl Provider for Statsig {
    type Spec = StatsigRole;
    type Object = RoleDto;

    const KIND: ProviderKind = ProviderKind::Statsig;
    const IDENTITY: Identity = Identity::Name;
    const SECRET_KEYS: &'static [&'static str] = &["apiKey"];
    const AUTH: Auth = Auth::Header {
        header: "statsig-api-key",
        key: "apiKey",
    };
    const HEADERS: &'static [(&'static str, &'static str)] = &[("statsig-api-version", "20240601")];
    /// Mutations: about 100 per 10 s and 900 per 15 min per project (Statsig's Console API docs,
    /// `providers/statsig.md` "Rate limits"). Reads are not documented as limited: they get a
    /// generous window of ours, apart from the mutations, so polling never spends write budget.
    const LIMITS: Limits = Limits {
        windows: &[
            Window::published(100, 10, Calls::Writes),
            Window::published(900, 900, Calls::Writes),
            Window::ours(300, 10, Calls::Reads),
        ],
    };

    fn new(http: Http) -> Self {
        Self { http }
    }

    fn default_base_url(_: &ProviderSettings) -> Option<String> {
        Some(DEFAULT_BASE_URL.to_string())
    }

    fn validate(&self, desired: Desired<'_, StatsigRole>) -> Result<()> {
        let role = desired.spec;
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
        // The name is the role's key and its URL path segment (`/console/v1/roles/{name}`).
        let name = desired.name;
        if let Some(problem) =
            name_problem(name, MAX_NAME_CHARS).or_else(|| segment_problem(name).map(str::to_string))
        {
            return Err(Error::InvalidSpec(format!(
                "name {name:?} {problem}: Statsig keys roles on their name"
            )));
        }
        Ok(())
    }

    fn check_external_id(
        &self,
        _: &Account,
        desired: Desired<'_, StatsigRole>,
        id: &str,
    ) -> Result<()> {
        if id == desired.name {
            return Ok(());
        }
        Err(bad_external_id(
            Self::KIND,
            id,
            &format!(
                "Statsig keys roles on their name, so it must be {:?}",
                desired.name
            ),
        ))
    }

    fn id_of(&self, role: &RoleDto) -> String {
        role.name.clone()
    }

    fn name_of(&self, role: &RoleDto) -> String {
        role.name.clone()
    }

    fn drift(&self, desired: Desired<'_, StatsigRole>, role: &RoleDto) -> Vec<String> {
        drift(desired.spec, &role.permissions)
    }

    fn summary(&self, desired: Desired<'_, StatsigRole>, role: &RoleDto) -> String {
        let managed = desired_flags(desired.spec).len();
        let granted = role.permissions.values().filter(|v| **v).count();
        format!("{granted} flags granted, {managed} managed")
    }

    /// Typed flags under `permissions`, the others under `additionalPermissions`.
    fn manifest(&self, role: &RoleDto, _scope: &str) -> Option<serde_json::Value> {
        let mut typed = serde_json::Map::new();
        let mut additional = Vec::new();
        for (name, enabled) in &role.permissions {
            if StatsigPermissions::NAMES.contains(&name.as_str()) {
                typed.insert(camel(name), (*enabled).into());
            } else {
                additional.push(serde_json::json!({"name": name, "enabled": enabled}));
            }
        }
        let mut block = serde_json::json!({"permissions": typed});
        if !additional.is_empty() {
            block["additionalPermissions"] = additional.into();
        }
        Some(serde_json::json!({ "statsig": block }))
    }

    async fn check_access(&self, account: &Account) -> Result<()> {
        self.list_page(account, 1, 1).await.map(|_| ())
    }

    async fn list(&self, account: &Account, _scope: &str) -> Result<Vec<Listed<RoleDto>>> {
        Ok(self
            .list_all(account)
            .await?
            .into_iter()
            .map(|r| self.listed(r))
            .collect())
    }

    async fn observe(
        &self,
        account: &Account,
        _: Desired<'_, StatsigRole>,
        id: &str,
    ) -> Result<Option<RoleDto>> {
        match self.get_role(account, id).await {
            Ok(r) => Ok(Some(r)),
            Err(e) if e.is_not_found() => Ok(None),
            // Statsig may answer 400 for a name it cannot resolve: fall back to the listing.
            Err(e) if e.status() == Some(400) => Ok(self
                .list_all(account)
                .await?
                .into_iter()
                .find(|r| r.name == id)),
            Err(e) => Err(e),
        }
    }

    async fn create(
        &self,
        account: &Account,
        desired: Desired<'_, StatsigRole>,
    ) -> Result<RoleDto> {
        let body = RoleDto {
            name: desired.name.to_string(),
            permissions: desired_flags(desired.spec),
        };
        match self.post_role(account, &body).await {
            Ok(created) => Ok(created),
            Err(e) if matches!(e.status(), Some(400 | 409)) => {
                // A name clash is reported as 400 or 409: tell it apart from other bad input.
                match self.get_role(account, desired.name).await {
                    Ok(_) => Err(Error::AlreadyExists(format!(
                        "statsig create role: a role named {:?} already exists ({e})",
                        desired.name
                    ))),
                    Err(_) => Err(e),
                }
            }
            Err(e) => Err(e),
        }
    }

    async fn update(
        &self,
        account: &Account,
        desired: Desired<'_, StatsigRole>,
        current: &RoleDto,
    ) -> Result<RoleDto> {
        let flags = desired_flags(desired.spec);
        self.patch_role(
            account,
            &current.name,
            &RoleUpdateDto {
                permissions: &flags,
            },
        )
        .await
    }

    async fn delete(&self, account: &Account, _: Desired<'_, StatsigRole>, id: &str) -> Result<()> {
        match self.delete_role(account, id).await {
            Err(e) if e.is_not_found() => Ok(()),
            Err(e) if e.status() == Some(400) => match self.get_role(account, id).await {
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
            .validate(Desired {
                name: "r",
                spec: &r,
            })
            .unwrap_err();
        assert!(
            err.to_string()
                .contains("statsig.permissions.createConfigs"),
            "{err}"
        );
    }

    #[test]
    fn validate_refuses_names_that_are_not_one_clean_path_segment() {
        let s = Statsig::new(Http::new(Default::default(), Default::default()));
        let r = role();
        let check = |name| s.validate(Desired { name, spec: &r });
        check("Custom Role").unwrap();
        for bad in [
            "line1\nline2/../x",
            "a/b",
            "..",
            "x..y",
            "100%",
            "back\\slash",
            " padded",
            "",
        ] {
            let err = check(bad).unwrap_err();
            assert!(matches!(err, Error::InvalidSpec(_)), "{bad:?}: {err:?}");
            assert!(err.to_string().contains("name"), "{err}");
        }
    }
}
