//! BigPanda Roles API v2.1 wire types. Writes follow one shape (`actions` as an array, no system
//! fields); reads are lenient where the published sources disagree: `actions` as a string or a
//! list, `resource_id` null or absent, and bodies bare or wrapped in `{status, data}`.

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

/// `POST /roles` and `PUT /roles/{id}` body: the role's complete state. System fields (`id`,
/// `created_by`, `created_at`, `updated_at`) are never sent; BigPanda would discard them anyway.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RoleBody {
    pub name: String,
    pub users: Vec<String>,
    pub permissions: Vec<PermissionBody>,
}

/// One permission as sent. `actions` is always an array: the attribute reference, the newest
/// create samples and the request schema BigPanda publishes all use arrays; the string form only
/// appears in older samples.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PermissionBody {
    pub resource_type: String,
    /// Only for environment-scoped grants; left out (not null) otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource_id: Option<String>,
    pub actions: Vec<String>,
}

/// A role as read. Unknown fields (system fields included) are ignored.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct RoleDto {
    #[serde(default, alias = "_id")]
    pub id: String,
    #[serde(default)]
    pub name: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub users: Vec<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub permissions: Vec<PermissionDto>,
}

/// A permission as read: `resource_id` null or empty means absent; `actions` a string or a list.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct PermissionDto {
    #[serde(default)]
    pub resource_type: String,
    #[serde(default, deserialize_with = "blank_as_none")]
    pub resource_id: Option<String>,
    #[serde(default, deserialize_with = "string_or_list")]
    pub actions: Vec<String>,
}

fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

fn blank_as_none<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(Option::<String>::deserialize(d)?.filter(|s| !s.trim().is_empty()))
}

/// `"read"`, `"read,full_access"`, `["read"]` or null.
fn string_or_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Actions {
        One(String),
        Many(Vec<String>),
    }
    let split = |s: &str| -> Vec<String> {
        s.split(',')
            .map(str::trim)
            .filter(|a| !a.is_empty())
            .map(str::to_string)
            .collect()
    };
    Ok(match Option::<Actions>::deserialize(d)? {
        None => Vec::new(),
        Some(Actions::One(s)) => split(&s),
        Some(Actions::Many(v)) => v.iter().flat_map(|s| split(s)).collect(),
    })
}

/// The payload of a response: the `data` member when the body is a `{status, data}` envelope,
/// else the body itself.
pub fn unwrap(body: Value) -> Value {
    match body {
        Value::Object(mut map) if map.contains_key("data") && !map.contains_key("name") => {
            map.remove("data").unwrap_or(Value::Null)
        }
        other => other,
    }
}

/// Roles from a list response: a bare array, a wrapped array, or a wrapped `{roles: [...]}`.
pub fn roles(body: Value) -> Result<Vec<RoleDto>, serde_json::Error> {
    match unwrap(body) {
        Value::Object(mut map) if map.contains_key("roles") => {
            serde_json::from_value(map.remove("roles").unwrap_or(Value::Null))
        }
        other => serde_json::from_value(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn actions_parse_from_a_string_a_list_or_null() {
        let p: PermissionDto =
            serde_json::from_value(json!({"resource_type": "users", "actions": "read"})).unwrap();
        assert_eq!(p.actions, vec!["read"]);
        let p: PermissionDto = serde_json::from_value(
            json!({"resource_type": "users", "actions": ["read", "full_access"]}),
        )
        .unwrap();
        assert_eq!(p.actions, vec!["read", "full_access"]);
        let p: PermissionDto = serde_json::from_value(
            json!({"resource_type": "users", "actions": "read, full_access"}),
        )
        .unwrap();
        assert_eq!(p.actions, vec!["read", "full_access"]);
        let p: PermissionDto =
            serde_json::from_value(json!({"resource_type": "users", "actions": null})).unwrap();
        assert!(p.actions.is_empty());
    }

    #[test]
    fn null_or_blank_resource_id_reads_as_absent() {
        for id in [json!(null), json!(""), json!("  ")] {
            let p: PermissionDto = serde_json::from_value(
                json!({"resource_type": "users", "resource_id": id, "actions": ["read"]}),
            )
            .unwrap();
            assert_eq!(p.resource_id, None);
        }
    }

    #[test]
    fn roles_are_read_bare_or_wrapped() {
        let role = json!({"id": "60c5238222fa55553d93d52f", "name": "Ops", "users": null,
            "permissions": [{"resource_type": "users", "actions": "read"}],
            "created_by": "x", "created_at": 1620000000, "updated_at": 1620500000});
        let bare: RoleDto = serde_json::from_value(unwrap(role.clone())).unwrap();
        let wrapped: RoleDto =
            serde_json::from_value(unwrap(json!({"status": 200, "data": role.clone()}))).unwrap();
        assert_eq!(bare, wrapped);
        assert_eq!(bare.id, "60c5238222fa55553d93d52f");
        assert!(bare.users.is_empty());
        assert_eq!(roles(json!([role.clone()])).unwrap(), vec![bare.clone()]);
        assert_eq!(
            roles(json!({"status": 200, "data": [role.clone()]})).unwrap(),
            vec![bare.clone()]
        );
        assert_eq!(
            roles(json!({"status": 200, "data": {"roles": [role]}})).unwrap(),
            vec![bare]
        );
    }

    #[test]
    fn bodies_send_actions_as_arrays_and_omit_absent_resource_ids() {
        let body = RoleBody {
            name: "Ops".into(),
            users: vec![],
            permissions: vec![PermissionBody {
                resource_type: "users".into(),
                resource_id: None,
                actions: vec!["read".into()],
            }],
        };
        assert_eq!(
            serde_json::to_value(&body).unwrap(),
            json!({"name": "Ops", "users": [],
                "permissions": [{"resource_type": "users", "actions": ["read"]}]})
        );
    }
}
