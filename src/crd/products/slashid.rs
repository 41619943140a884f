//! SlashID: the `slashid` block of a Role, and the organisation settings of a SlashID config.

use kube::KubeSchema;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::Rules;

/// SlashID keys roles on their name (`{orgId}/{name}`), which follows SlashID's `RoleName` rule;
/// a SlashID config needs the organisation.
pub(super) const RULES: Rules = Rules {
    role: &[
        (
            "!has(self.slashid) || self.name == oldSelf.name",
            "name is immutable: SlashID keys roles on their name",
        ),
        (
            "!has(self.slashid) || (size(self.name) >= 2 && size(self.name) <= 100 && self.name.matches('^[A-Za-z0-9][A-Za-z0-9_.:-]*[A-Za-z0-9]$'))",
            "SlashID role names are 2-100 characters of A-Z a-z 0-9 _ . : - and start and end with a letter or digit",
        ),
        (
            "!has(self.slashid) || !has(self.externalId) || self.externalId == self.name || (self.externalId.endsWith('/' + self.name) && self.externalId.matches('^[A-Za-z0-9][A-Za-z0-9-]{0,127}/[^/]+$'))",
            "externalId must be name or orgId/name: SlashID keys roles on their name",
        ),
    ],
    config: &[(
        "self.provider != 'slashid' || has(self.slashid)",
        "spec.slashid.orgId is required for provider slashid",
    )],
};

/// SlashID organisation role: description and permission names.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct SlashIdRole {
    /// Role description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 1024))]
    pub description: Option<String>,
    /// Permission names granted by the role. Missing permission objects are created; Roleplane
    /// never deletes a permission object (other roles may use it).
    #[serde(default)]
    #[schemars(
        length(max = 256),
        inner(
            length(min = 2, max = 1024),
            regex(pattern = r"^[A-Za-z0-9][\w./\\:-]*[A-Za-z0-9]$")
        )
    )]
    #[x_kube(merge_strategy = kube::core::ListMerge::Set)]
    pub permissions: Vec<String>,
}

/// SlashID settings; required when `provider` is `slashid`: the organisation and write consistency.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct SlashIdSettings {
    /// Organisation id, sent as `SlashID-OrgID` and used as the `{orgId}/` prefix of role names.
    #[schemars(
        length(min = 1, max = 128),
        regex(pattern = r"^[A-Za-z0-9][A-Za-z0-9\-]*$")
    )]
    pub org_id: String,
    /// `SlashID-Required-Consistency` sent on writes: `all_regions` (default) waits until every
    /// region stored the write; `local_region` returns sooner.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consistency: Option<SlashIdConsistency>,
    /// `SlashID-Required-Consistency-Timeout` in seconds (1-120, default 30).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 120), extend("format" = "int32"))]
    pub consistency_timeout_seconds: Option<u32>,
}

/// SlashID write consistency level.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SlashIdConsistency {
    LocalRegion,
    AllRegions,
}

#[cfg(test)]
mod tests {
    use crate::crd::tests::cel::{config, errors, schema};
    use serde_json::json;

    #[test]
    fn a_slashid_config_needs_its_organisation() {
        let slashid = config(json!({"provider": "slashid", "credentialsSecretRef": {"name": "s"}}));
        assert!(
            errors(schema::<crate::crd::ProviderConfig>(), slashid, None)
                .iter()
                .any(|m| m.contains("orgId is required"))
        );
    }
}

/// What a RoleplanePolicy lets SlashID roles grant. Patterns are a permission name, or a prefix
/// ending in `*` (`reports.*`; `*` alone matches every name).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct SlashIdCeiling {
    /// When set, every permission of a role must match one of these patterns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        length(max = 64),
        inner(
            length(min = 1, max = 256),
            regex(pattern = r"^(\*|[A-Za-z0-9][\w./\\:-]*\*?)$")
        )
    )]
    pub allowed_permissions: Option<Vec<String>>,
    /// No permission of a role may match one of these patterns.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(
        length(max = 64),
        inner(
            length(min = 1, max = 256),
            regex(pattern = r"^(\*|[A-Za-z0-9][\w./\\:-]*\*?)$")
        )
    )]
    pub denied_permissions: Vec<String>,
}
