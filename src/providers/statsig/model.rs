//! Statsig Console API wire types (`RoleContractDto` and its envelopes).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A role as sent and returned: name plus flags. Flags Statsig leaves out are "not reported".
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RoleDto {
    pub name: String,
    #[serde(default)]
    pub permissions: BTreeMap<String, bool>,
}

/// `PATCH /roles/{id}` body: permissions only (the name cannot change).
#[derive(Clone, Debug, Serialize)]
pub struct RoleUpdateDto<'a> {
    pub permissions: &'a BTreeMap<String, bool>,
}

/// `{message, data}` envelope of single-object responses.
#[derive(Clone, Debug, Deserialize)]
pub struct Envelope<T> {
    pub data: T,
}

/// List response with pagination metadata.
#[derive(Clone, Debug, Deserialize)]
pub struct Page {
    #[serde(default)]
    pub data: Vec<RoleDto>,
    pub pagination: Pagination,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Pagination {
    #[serde(default)]
    pub next_page: Option<String>,
}
