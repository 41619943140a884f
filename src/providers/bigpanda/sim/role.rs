//! A simulated BigPanda role: as stored, as read from a create or replace body (the rules the
//! Roles API applies), and as answered.

use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// Actions a permission may grant; `incident_actions` only on environments.
const ACTIONS: [&str; 3] = ["read", "full_access", "incident_actions"];

/// A role as the simulator stores it (actions always a list).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimRole {
    pub id: String,
    pub name: String,
    pub users: Vec<String>,
    pub permissions: Vec<SimPermission>,
    pub created_by: String,
    pub created_at: u64,
    pub updated_at: u64,
    /// Admin and User: out of the box, cannot be changed or deleted.
    pub built_in: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimPermission {
    pub resource_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_id: Option<String>,
    pub actions: Vec<String>,
}

impl SimPermission {
    pub fn new(resource_type: &str, resource_id: Option<&str>, actions: &[&str]) -> Self {
        Self {
            resource_type: resource_type.into(),
            resource_id: resource_id.map(str::to_string),
            actions: actions.iter().map(|a| a.to_string()).collect(),
        }
    }
}

pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
}

/// A Mongo-style id: 4 bytes of time, 5 random bytes, 3 bytes of counter.
pub fn new_id(counter: u32) -> String {
    let random: u64 = rand::random::<u64>() & 0xff_ffff_ffff;
    format!(
        "{:08x}{random:010x}{:06x}",
        now() as u32,
        counter & 0xff_ffff
    )
}

fn is_hex24(s: &str) -> bool {
    s.len() == 24
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// The writable part of a role, read from a request body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoleInput {
    pub name: String,
    pub users: Vec<String>,
    pub permissions: Vec<SimPermission>,
}

/// Reads a create or replace body the way the Roles API does: `name` and `permissions`
/// required, `users` optional (left out = none), system and unknown fields ignored,
/// `actions` a string or a list, `resource_id` null or absent except on environments.
fn parse_role(body: &Value) -> Result<RoleInput, String> {
    let obj = body.as_object().ok_or("body must be a JSON object")?;
    let name = match obj.get("name") {
        Some(Value::String(s)) if !s.trim().is_empty() => s.clone(),
        Some(Value::String(_)) => return Err("\"name\" is not allowed to be empty".into()),
        Some(_) => return Err("\"name\" must be a string".into()),
        None => return Err("\"name\" is required".into()),
    };
    let mut users: Vec<String> = Vec::new();
    match obj.get("users") {
        None | Some(Value::Null) => {}
        Some(Value::Array(items)) => {
            for (i, u) in items.iter().enumerate() {
                match u.as_str() {
                    Some(id) if is_hex24(id) => {
                        if !users.iter().any(|x| x == id) {
                            users.push(id.to_string());
                        }
                    }
                    _ => {
                        return Err(format!(
                            "\"users[{i}]\" with value {u} fails to match the required pattern: /^[a-f\\d]{{24}}$/"
                        ));
                    }
                }
            }
        }
        Some(_) => return Err("\"users\" must be an array".into()),
    }
    let items = match obj.get("permissions") {
        Some(Value::Array(items)) => items,
        Some(_) => return Err("\"permissions\" must be an array".into()),
        None => return Err("\"permissions\" is required".into()),
    };
    let permissions = items
        .iter()
        .enumerate()
        .map(|(i, p)| parse_permission(i, p))
        .collect::<Result<_, _>>()?;
    Ok(RoleInput {
        name,
        users,
        permissions,
    })
}

/// Reads a create or replace body from its bytes (see [`parse_role`]).
pub fn read_body(bytes: &[u8]) -> Result<RoleInput, String> {
    let body: Value =
        serde_json::from_slice(bytes).map_err(|e| format!("Invalid JSON body: {e}"))?;
    parse_role(&body)
}

fn parse_permission(i: usize, p: &Value) -> Result<SimPermission, String> {
    let at = format!("permissions[{i}]");
    let obj = p.as_object().ok_or(format!("\"{at}\" must be an object"))?;
    let resource_type = match obj.get("resource_type") {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        _ => return Err(format!("\"{at}.resource_type\" is required")),
    };
    let environments = resource_type == "environments";
    let resource_id = match obj.get("resource_id") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.is_empty() => None,
        Some(Value::String(s)) if environments => Some(s.clone()),
        Some(Value::String(_)) => {
            return Err(format!(
                "\"{at}.resource_id\" is only allowed for resource_type environments"
            ));
        }
        Some(_) => return Err(format!("\"{at}.resource_id\" must be a string")),
    };
    let actions: Vec<String> = match obj.get("actions") {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(a)) => a
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_string)
                    .ok_or(format!("\"{at}.actions\" must contain strings"))
            })
            .collect::<Result<_, _>>()?,
        _ => return Err(format!("\"{at}.actions\" is required")),
    };
    if actions.is_empty() {
        return Err(format!("\"{at}.actions\" must contain at least 1 item"));
    }
    for a in &actions {
        if !ACTIONS.contains(&a.as_str()) {
            return Err(format!(
                "\"{at}.actions\" value {a:?} must be one of [read, full_access, incident_actions]"
            ));
        }
        if a == "incident_actions" && !environments {
            return Err(format!(
                "\"{at}.actions\" incident_actions is only allowed for resource_type environments"
            ));
        }
    }
    let mut unique = Vec::new();
    for a in actions {
        if !unique.contains(&a) {
            unique.push(a);
        }
    }
    Ok(SimPermission {
        resource_type,
        resource_id,
        actions: unique,
    })
}

/// How `actions` is written in answers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ActionsForm {
    /// A bare string for single-action permissions (as in BigPanda's sample objects), a list
    /// otherwise. The default, so clients must read both.
    #[default]
    Mixed,
    /// Always a list.
    Array,
}

/// A role as the API answers it.
pub fn render(role: &SimRole, form: ActionsForm) -> Value {
    let permissions: Vec<Value> = role
        .permissions
        .iter()
        .map(|p| {
            let actions = match (form, p.actions.as_slice()) {
                (ActionsForm::Mixed, [one]) => json!(one),
                _ => json!(p.actions),
            };
            let mut v = json!({"resource_type": p.resource_type, "actions": actions});
            if let Some(id) = &p.resource_id {
                v["resource_id"] = json!(id);
            }
            v
        })
        .collect();
    json!({
        "id": role.id,
        "name": role.name,
        "users": role.users,
        "permissions": permissions,
        "created_by": role.created_by,
        "created_at": role.created_at,
        "updated_at": role.updated_at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_body_with_string_actions_is_accepted() {
        let body = json!({"name": "Test Role", "users": ["60c5238222fa63633d935555"],
            "id": "ignored", "created_at": 1,
            "permissions": [
                {"resource_type": "environments", "resource_id": "624e114fb4d7581100179111", "actions": "read"},
                {"resource_type": "users", "resource_id": null, "actions": ["read"]}]});
        let role = parse_role(&body).unwrap();
        assert_eq!(role.permissions[0].actions, vec!["read"]);
        assert_eq!(role.permissions[1].resource_id, None);
    }

    #[test]
    fn bad_bodies_are_rejected() {
        for body in [
            json!({"permissions": []}),
            json!({"name": "r"}),
            json!({"name": "r", "users": ["nope"], "permissions": []}),
            json!({"name": "r", "permissions": [{"resource_type": "users", "resource_id": "x", "actions": "read"}]}),
            json!({"name": "r", "permissions": [{"resource_type": "users", "actions": "incident_actions"}]}),
            json!({"name": "r", "permissions": [{"resource_type": "users", "actions": []}]}),
            json!({"name": "r", "permissions": [{"resource_type": "users", "actions": "write"}]}),
        ] {
            assert!(parse_role(&body).is_err(), "{body}");
        }
    }

    #[test]
    fn single_actions_render_as_strings_in_mixed_form() {
        let role = SimRole {
            id: new_id(1),
            name: "r".into(),
            users: vec![],
            permissions: vec![
                SimPermission::new("users", None, &["read"]),
                SimPermission::new("roles", None, &["read", "full_access"]),
            ],
            created_by: new_id(2),
            created_at: 1,
            updated_at: 1,
            built_in: false,
        };
        assert!(is_hex24(&role.id));
        let v = render(&role, ActionsForm::Mixed);
        assert_eq!(v["permissions"][0]["actions"], json!("read"));
        assert_eq!(
            v["permissions"][1]["actions"],
            json!(["read", "full_access"])
        );
        let v = render(&role, ActionsForm::Array);
        assert_eq!(v["permissions"][0]["actions"], json!(["read"]));
    }
}
