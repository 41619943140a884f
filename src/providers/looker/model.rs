//! Looker API 4.0 wire types: roles, permission sets, model sets, the permission catalogue and
//! the login answer. Ids are strings. `permission_set_id` / `model_set_id` are write-only: reads
//! carry the embedded sets instead.

use serde::{Deserialize, Serialize};

/// `POST /login` answer. Only the token and its lifetime are used.
#[derive(Clone, Deserialize)]
pub struct AccessToken {
    pub access_token: String,
    /// Seconds until the token expires.
    #[serde(default)]
    pub expires_in: Option<u64>,
}

/// A role as read (`GET /roles/{id}`, `/roles/search`).
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
pub struct Role {
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub permission_set: Option<Set>,
    #[serde(default)]
    pub model_set: Option<Set>,
}

/// A permission set or a model set as read; `items` is `permissions` or `models`.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
pub struct Set {
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default, alias = "permissions", alias = "models")]
    pub items: Option<Vec<String>>,
    #[serde(default)]
    pub built_in: bool,
}

impl Set {
    pub fn name(&self) -> &str {
        self.name.as_deref().unwrap_or_default()
    }
}

/// `POST /roles` and `PATCH /roles/{id}` body: only the writable fields, unset ones left out so
/// a PATCH keeps them.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct RoleWrite<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub permission_set_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model_set_id: Option<&'a str>,
}

impl RoleWrite<'_> {
    pub fn is_empty(&self) -> bool {
        self.name.is_none() && self.permission_set_id.is_none() && self.model_set_id.is_none()
    }
}

/// One entry of the permission catalogue (`GET /permissions`).
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
pub struct Permission {
    #[serde(default)]
    pub permission: Option<String>,
    #[serde(default)]
    pub parent: Option<String>,
}

/// Which of the two set kinds a call is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SetKind {
    Permission,
    Model,
}

impl SetKind {
    /// Collection path below `/api/4.0`.
    pub fn path(self) -> &'static str {
        match self {
            SetKind::Permission => "/permission_sets",
            SetKind::Model => "/model_sets",
        }
    }

    /// Field holding the members on the wire.
    pub fn items_field(self) -> &'static str {
        match self {
            SetKind::Permission => "permissions",
            SetKind::Model => "models",
        }
    }

    /// Human name for messages.
    pub fn noun(self) -> &'static str {
        match self {
            SetKind::Permission => "permission set",
            SetKind::Model => "model set",
        }
    }

    /// Manifest path of the inline block.
    pub fn inline_field(self) -> &'static str {
        match self {
            SetKind::Permission => "looker.permissionSet",
            SetKind::Model => "looker.modelSet",
        }
    }

    /// Manifest path of the members of the inline block.
    pub fn items_path(self) -> &'static str {
        match self {
            SetKind::Permission => "looker.permissionSet.permissions",
            SetKind::Model => "looker.modelSet.models",
        }
    }

    /// Manifest path of the reference.
    pub fn ref_field(self) -> &'static str {
        match self {
            SetKind::Permission => "looker.permissionSetRef",
            SetKind::Model => "looker.modelSetRef",
        }
    }

    /// `POST`/`PATCH` body of a set: name and/or members.
    pub fn body(self, name: Option<&str>, items: Option<&[String]>) -> serde_json::Value {
        let mut body = serde_json::Map::new();
        if let Some(name) = name {
            body.insert("name".into(), name.into());
        }
        if let Some(items) = items {
            body.insert(self.items_field().into(), items.into());
        }
        serde_json::Value::Object(body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_reads_ids_from_embedded_sets() {
        let role: Role = serde_json::from_value(serde_json::json!({
            "id": "7", "name": "Analyst", "internal": false,
            "permission_set": {"id": "3", "name": "roleplane:Analyst", "permissions": ["access_data"], "built_in": false, "all_access": false},
            "model_set": {"id": "4", "name": "All", "models": ["thelook"], "built_in": true, "all_access": true},
            "can": {"show": true}, "url": null, "users_url": null
        }))
        .unwrap();
        let ps = role.permission_set.unwrap();
        assert_eq!((ps.id.as_str(), ps.name()), ("3", "roleplane:Analyst"));
        assert_eq!(ps.items, Some(vec!["access_data".to_string()]));
        let ms = role.model_set.unwrap();
        assert!(ms.built_in);
        assert_eq!(ms.items, Some(vec!["thelook".to_string()]));
    }

    #[test]
    fn role_write_leaves_out_unset_fields_and_embedded_sets() {
        let body = RoleWrite {
            model_set_id: Some("4"),
            ..Default::default()
        };
        assert_eq!(
            serde_json::to_value(&body).unwrap(),
            serde_json::json!({"model_set_id": "4"})
        );
    }

    #[test]
    fn set_bodies_use_the_kind_specific_member_field() {
        let items = vec!["a".to_string()];
        assert_eq!(
            SetKind::Permission.body(Some("n"), Some(&items)),
            serde_json::json!({"name": "n", "permissions": ["a"]})
        );
        assert_eq!(
            SetKind::Model.body(None, Some(&items)),
            serde_json::json!({"models": ["a"]})
        );
    }
}
