//! SlashID RBAC wire types (`PostRoleRequest`, `PatchRoleRequest`, `GetRoleResponse`, the
//! `{result}` envelope of successful reads).

use serde::{Deserialize, Serialize};

/// `POST /rbac/roles` body. `name` carries the `{orgId}/` prefix.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PostRoleRequest<'a> {
    pub name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<&'a str>,
    pub permissions: &'a [String],
}

/// `PATCH /rbac/roles/{role_name}` body: the name cannot change. `permissions` replaces the
/// whole list, so it is always sent in full.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PatchRoleRequest<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<&'a str>,
    pub permissions: &'a [String],
}

/// `POST /rbac/permissions` body.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PostPermissionRequest<'a> {
    pub name: &'a str,
}

/// `GET /rbac/roles/{role_name}` result.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
pub struct Role {
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub permissions: Vec<String>,
}

/// A role as read, with the ETag to send as `If-Match`.
#[derive(Clone, Debug, PartialEq)]
pub struct Tagged {
    pub role: Role,
    pub etag: Option<String>,
}

/// `{result: T}` envelope of successful reads (`meta` and `errors` are ignored).
#[derive(Clone, Debug, Deserialize)]
pub struct Envelope<T> {
    pub result: T,
}
