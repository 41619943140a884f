//! The simulated instance's starting point: a realistic permission catalogue (names, parents and
//! descriptions modelled on Looker's; not the full list) and the LookML models the "All" set holds.

/// `(permission, parent, description)`.
pub const PERMISSIONS: &[(&str, Option<&str>, &str)] = &[
    (
        "access_data",
        None,
        "Access data from models in the role's model set",
    ),
    (
        "see_lookml_dashboards",
        Some("access_data"),
        "See LookML dashboards",
    ),
    ("see_looks", Some("access_data"), "See saved Looks"),
    (
        "see_user_dashboards",
        Some("see_looks"),
        "See user-defined dashboards",
    ),
    ("explore", Some("see_looks"), "Use Explores"),
    (
        "create_table_calculations",
        Some("explore"),
        "Create table calculations",
    ),
    (
        "create_custom_fields",
        Some("explore"),
        "Create custom fields",
    ),
    (
        "save_content",
        Some("see_user_dashboards"),
        "Save Looks and dashboards (grants save_looks and save_dashboards)",
    ),
    (
        "create_public_looks",
        Some("see_looks"),
        "Make Looks public",
    ),
    (
        "download_with_limit",
        Some("see_looks"),
        "Download results up to the row limit",
    ),
    (
        "download_without_limit",
        Some("see_looks"),
        "Download all results",
    ),
    (
        "schedule_look_emails",
        Some("see_looks"),
        "Schedule deliveries to users",
    ),
    (
        "schedule_external_look_emails",
        Some("schedule_look_emails"),
        "Schedule deliveries to any address",
    ),
    (
        "send_to_integration",
        Some("see_looks"),
        "Send content through integrations",
    ),
    ("see_drill_overlay", Some("access_data"), "See drill menus"),
    ("see_sql", Some("see_looks"), "See the SQL of queries"),
    ("see_lookml", Some("access_data"), "See LookML"),
    (
        "develop",
        Some("see_lookml"),
        "Edit LookML in development mode",
    ),
    ("deploy", Some("develop"), "Deploy LookML to production"),
    ("use_sql_runner", Some("see_sql"), "Use SQL Runner"),
    (
        "clear_cache_refresh",
        Some("access_data"),
        "Clear the cache and refresh",
    ),
    (
        "manage_spaces",
        None,
        "Create, edit, move and delete folders",
    ),
    ("manage_homepage", None, "Manage the homepage"),
    ("manage_models", None, "Manage LookML model configurations"),
    ("create_prefetches", None, "Create prefetches"),
    (
        "login_special_email",
        None,
        "Log in with email when other methods are on",
    ),
    (
        "embed_browse_spaces",
        None,
        "Browse folders in embedded Looker",
    ),
    ("see_queries", None, "See the Queries admin page"),
    ("see_logs", None, "See the Log admin page"),
    ("see_users", None, "See the Users admin page"),
    ("sudo", Some("see_users"), "Act as another user"),
    ("see_schedules", None, "See the Schedules admin page"),
    ("see_pdts", None, "See the PDTs admin page"),
    ("see_datagroups", None, "See the Datagroups admin page"),
    ("see_system_activity", None, "See System Activity"),
    ("mobile_app_access", None, "Use the Looker mobile app"),
];

/// LookML models of the instance (members of the built-in "All" model set).
pub const MODELS: &[&str] = &["thelook", "ecommerce", "marketing"];
