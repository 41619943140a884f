//! ConfigCat Public Management API wire types: the permission-group request body (the same for
//! POST and PUT) and the `PermissionGroupModel` / `EnvironmentModel` answers.
//!
//! Enum values ConfigCat returns are read as plain strings, so a value newer than this release
//! shows up as drift instead of failing the whole read.

use std::borrow::{Borrow, Cow};
use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

use crate::crd::{
    AccessType, ApprovalPermissionType, EnvironmentAccessType, EnvironmentApprovalPermissionType,
};

/// `CreatePermissionGroupRequest` / `UpdatePermissionGroupRequest`. Roleplane always sends the
/// whole desired state; the approval fields are left out when the manifest does not manage them.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PermissionGroupRequest {
    pub name: String,
    /// Every typed flag by wire name, unset ones as `false`.
    #[serde(flatten)]
    pub flags: BTreeMap<&'static str, bool>,
    pub access_type: AccessType,
    pub new_environment_access_type: EnvironmentAccessType,
    /// Sent only with `accessType: custom`: one entry per environment of the product.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub environment_accesses: Option<Vec<EnvironmentAccessRequest>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approval_permission_type: Option<ApprovalPermissionType>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new_environment_approval_permission_type: Option<EnvironmentApprovalPermissionType>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub environment_approval_permissions: Option<Vec<EnvironmentApprovalRequest>>,
}

/// `CreateOrUpdateEnvironmentAccessModel`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EnvironmentAccessRequest {
    pub environment_id: String,
    pub environment_access_type: EnvironmentAccessType,
}

/// `CreateOrUpdateEnvironmentApprovalPermissionModel`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EnvironmentApprovalRequest {
    pub environment_id: String,
    pub environment_approval_permission_type: EnvironmentApprovalPermissionType,
}

/// `PermissionGroupModel`, as far as Roleplane reads it. Flags ConfigCat leaves out are unknown,
/// not false.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PermissionGroup {
    pub permission_group_id: i64,
    pub name: String,
    #[serde(flatten)]
    pub flags: BTreeMap<FlagName, Reported>,
    #[serde(default)]
    pub access_type: Option<String>,
    #[serde(default)]
    pub new_environment_access_type: Option<String>,
    #[serde(default)]
    pub environment_accesses: Option<Vec<EnvironmentAccess>>,
    #[serde(default)]
    pub approval_permission_type: Option<String>,
    #[serde(default)]
    pub new_environment_approval_permission_type: Option<String>,
    #[serde(default)]
    pub environment_approval_permissions: Option<Vec<EnvironmentApproval>>,
    #[serde(default)]
    pub product: Option<Product>,
}

impl PermissionGroup {
    /// A typed flag's reported value; None when ConfigCat did not report it (or not as a bool).
    pub fn flag(&self, name: &str) -> Option<bool> {
        match self.flags.get(name) {
            Some(Reported::Bool(b)) => Some(*b),
            _ => None,
        }
    }

    /// Whether ConfigCat reports the flag as anything but `want`. Absent or null is unknown, not
    /// a difference; a value that is not a boolean (`"true"`, `1`) is one.
    pub fn flag_differs(&self, name: &str, want: bool) -> bool {
        match self.flags.get(name) {
            None | Some(Reported::Null) => false,
            Some(Reported::Bool(have)) => *have != want,
            Some(Reported::Other) => true,
        }
    }
}

/// The name of a field ConfigCat reported beside the ones read by name (the flags). A name
/// Roleplane types (`ConfigCatPermissions::NAMES`) is kept as that static string: a listing
/// holds every group of a product with the same two dozen names, and a heap profile at 10,000
/// objects put the listings held for polls at a fifth of the operator's peak heap.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FlagName(Cow<'static, str>);

impl FlagName {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<&str> for FlagName {
    fn from(name: &str) -> Self {
        let known = crate::crd::ConfigCatPermissions::NAMES
            .iter()
            .find(|known| **known == name);
        FlagName(match known {
            Some(known) => Cow::Borrowed(known),
            None => Cow::Owned(name.to_string()),
        })
    }
}

impl Borrow<str> for FlagName {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for FlagName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Name;
        impl Visitor<'_> for Name {
            type Value = FlagName;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a field name")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<FlagName, E> {
                Ok(FlagName::from(v))
            }
        }
        d.deserialize_str(Name)
    }
}

/// What ConfigCat reported for a flag. Roleplane asks only whether it is a given boolean: null
/// means not reported, and any other value (`"true"`, `1`) differs from every boolean. Two
/// bytes instead of a JSON value per flag and group held.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reported {
    Bool(bool),
    Null,
    Other,
}

impl<'de> Deserialize<'de> for Reported {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Any;
        impl<'de> Visitor<'de> for Any {
            type Value = Reported;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_bool<E>(self, v: bool) -> Result<Reported, E> {
                Ok(Reported::Bool(v))
            }
            fn visit_unit<E>(self) -> Result<Reported, E> {
                Ok(Reported::Null)
            }
            fn visit_none<E>(self) -> Result<Reported, E> {
                Ok(Reported::Null)
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Reported, D::Error> {
                Reported::deserialize(d)
            }
            fn visit_i64<E>(self, _: i64) -> Result<Reported, E> {
                Ok(Reported::Other)
            }
            fn visit_u64<E>(self, _: u64) -> Result<Reported, E> {
                Ok(Reported::Other)
            }
            fn visit_f64<E>(self, _: f64) -> Result<Reported, E> {
                Ok(Reported::Other)
            }
            fn visit_str<E>(self, _: &str) -> Result<Reported, E> {
                Ok(Reported::Other)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Reported, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Reported::Other)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Reported, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Reported::Other)
            }
        }
        d.deserialize_any(Any)
    }
}

/// `PermissionGroupEnvironmentAccessModel` (the environment's details are ignored).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EnvironmentAccess {
    pub environment_id: String,
    #[serde(default)]
    pub environment_access_type: Option<String>,
}

/// `PermissionGroupEnvironmentApprovalPermissionModel`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EnvironmentApproval {
    pub environment_id: String,
    #[serde(default)]
    pub environment_approval_permission_type: Option<String>,
}

/// The `product` of a group.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Product {
    pub product_id: String,
}

/// `EnvironmentModel`, as far as Roleplane reads it.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Environment {
    pub environment_id: String,
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use serde_json::json;

    use super::*;

    #[test]
    fn a_listed_group_keeps_known_flag_names_static_and_only_booleans_as_values() {
        let group: PermissionGroup = serde_json::from_value(json!({
            "permissionGroupId": 7,
            "name": "Developers",
            "canManageMembers": true,
            "canDeleteConfig": null,
            "canViewSdkKey": "true",
            "canCreateOrUpdateConfig": 1,
            "somethingNewer": {"nested": [1, 2]},
            "accessType": "full",
        }))
        .unwrap();
        // The typed names are not allocated per group; a name Roleplane does not know is kept.
        for name in group.flags.keys() {
            let known = crate::crd::ConfigCatPermissions::NAMES.contains(&name.as_str());
            assert_eq!(matches!(name.0, Cow::Borrowed(_)), known, "{name:?}");
        }
        assert!(group.flags.contains_key("somethingNewer"));
        assert_eq!(group.access_type.as_deref(), Some("full"));
        // Reported true is the boolean; null is not reported; anything else differs from both.
        assert_eq!(group.flag("canManageMembers"), Some(true));
        assert!(!group.flag_differs("canManageMembers", true));
        assert!(group.flag_differs("canManageMembers", false));
        assert_eq!(group.flag("canDeleteConfig"), None);
        assert!(!group.flag_differs("canDeleteConfig", true));
        assert!(!group.flag_differs("canDeleteConfig", false));
        for odd in ["canViewSdkKey", "canCreateOrUpdateConfig"] {
            assert_eq!(group.flag(odd), None);
            assert!(group.flag_differs(odd, true), "{odd}");
            assert!(group.flag_differs(odd, false), "{odd}");
        }
        assert!(!group.flag_differs("canManageIntegrations", true));
    }
}
