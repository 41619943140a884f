//! Statsig: the `statsig` block of a Role (permission flags, typed and documented).

use kube::KubeSchema;
use serde::{Deserialize, Serialize};

use super::Rules;

/// Statsig keys roles on their name, so a Role's `name` cannot change, is a URL path segment
/// (`/console/v1/roles/{name}`), and is the only `externalId` a Statsig Role can have.
pub(super) const RULES: Rules = Rules {
    role: &[
        (
            "!has(self.statsig) || self.name == oldSelf.name",
            "name is immutable: Statsig keys roles on their name",
        ),
        (
            r#"!has(self.statsig) || !self.name.matches('[/%\\\\\\p{Cc}]|[.][.]')"#,
            r"Statsig role names are URL path segments: no /, \, %, .. or control characters",
        ),
        (
            "!has(self.statsig) || !has(self.externalId) || self.externalId == self.name",
            "externalId must equal name: Statsig keys roles on their name",
        ),
    ],
    config: &[],
};

flags! {
    /// Statsig permission flags. A flag left out is not managed: Roleplane neither sends nor
    /// compares it, and Statsig keeps whatever value it has.
    StatsigPermissions {
        /// Invite users to the project.
        invitation_access,
        /// Create feature gates, experiments and dynamic configs.
        create_configs,
        /// Edit or delete configs.
        edit_or_delete_configs,
        /// Delete configs.
        delete_configs,
        /// Launch configs to production.
        launch_to_production,
        /// Launch or disable configs.
        launch_or_disable_configs,
        /// Start experiments.
        start_experiments,
        /// Create or edit templates.
        create_or_edit_templates,
        /// Create or edit dashboards.
        create_or_edit_dashboards,
        /// Create teams.
        create_teams,
        /// Edit dynamic config schemas.
        edit_dynamic_config_schemas,
        /// Create release pipelines.
        create_release_pipelines,
        /// Approve a release pipeline phase that requires review.
        approve_required_review_release_pipeline_phase,
        /// Approve one's own reviews.
        self_approve_review,
        /// Approve reviews.
        approve_reviews,
        /// Bypass reviews for overrides.
        bypass_reviews_for_overrides,
        /// Bypass the pre-commit webhook.
        bypass_precommit_webhook,
        /// Manage metrics.
        metric_management,
        /// Access event dimensions.
        event_dimensions_access,
        /// Verify metrics.
        verify_metrics,
        /// Use the metrics explorer.
        use_metrics_explorer,
        /// Create local metrics.
        local_metrics,
        /// Manage alerts.
        manage_alerts,
        /// Edit integrations.
        integrations_edit_access,
        /// Create and use source connections.
        source_connection_and_creation,
        /// Manage warehouse-native connections.
        whn_connection,
        /// Edit data warehouse ingestion and exports.
        data_warehouse_ingestion_and_exports_edit_access,
        /// Edit configs tagged with the core tag, and tag configs with it.
        edit_and_tag_configs_with_core_tag,
        /// Reset experiments.
        reset_experiments,
        /// Manually reload warehouse-native results.
        manual_whn_reload,
    }
}

/// A flag by name, for Statsig flags newer than this release.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct NamedFlag {
    /// Flag name exactly as the product API spells it (e.g. `some_new_flag`).
    #[schemars(length(min = 1, max = 128), regex(pattern = r"^[a-z][a-z0-9_]*$"))]
    pub name: String,
    /// Whether the flag is granted.
    pub enabled: bool,
}

/// Statsig console role: permission flags.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct StatsigRole {
    /// Typed permission flags (the 30 Statsig documents today).
    #[serde(default)]
    pub permissions: StatsigPermissions,
    /// Flags newer than this release, by their Statsig name (snake_case). A name that is also a
    /// typed flag is rejected.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 64))]
    #[x_kube(merge_strategy = kube::core::ListMerge::Map(vec!["name".into()]))]
    pub additional_permissions: Vec<NamedFlag>,
}

#[cfg(test)]
mod tests {
    use crate::crd::tests::cel::{errors, role, schema};
    use serde_json::json;

    #[test]
    fn name_is_immutable_but_other_products_may_rename() {
        let old = role(json!({"providerConfigRef": {"name": "c"}, "name": "A", "statsig": {}}));
        let new = role(json!({"providerConfigRef": {"name": "c"}, "name": "B", "statsig": {}}));
        assert!(
            errors(schema::<crate::crd::Role>(), new, Some(old))
                .iter()
                .any(|m| m.contains("name is immutable"))
        );
        let bp = |n: &str| {
            role(json!({"providerConfigRef": {"name": "c"}, "name": n,
            "bigpanda": {"permissions": [{"resourceType": "roles", "actions": ["read"]}]}}))
        };
        assert_eq!(
            errors(schema::<crate::crd::Role>(), bp("B"), Some(bp("A"))),
            Vec::<String>::new()
        );
    }
}

/// What a RoleplanePolicy lets Statsig roles grant.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct StatsigCeiling {
    /// Typed permission flags (their names under `statsig.permissions`, e.g.
    /// `launchToProduction`) a Role may not set to true.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(schema_with = "denied_flags_schema")]
    pub denied_permissions: Vec<String>,
    /// Flags under `statsig.additionalPermissions` (Statsig's snake_case names) a Role may not
    /// enable; `*` denies every flag newer than this release.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(
        length(max = 64),
        inner(length(min = 1, max = 128), regex(pattern = r"^(\*|[a-z][a-z0-9_]*)$"))
    )]
    pub denied_additional_permissions: Vec<String>,
}

impl StatsigCeiling {
    /// The manifest names of the typed flags, in declaration order.
    pub fn flag_names() -> Vec<String> {
        StatsigPermissions::NAMES
            .iter()
            .map(|n| crate::crd::policy::camel(n))
            .collect()
    }
}

fn denied_flags_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    crate::crd::policy::name_list(&StatsigCeiling::flag_names(), 64)
}
