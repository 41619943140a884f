//! ConfigCat permission groups: the provider against its simulator (`provider`,
//! `provider_errors`, `sim`), and the PermissionGroup lifecycle through the real controller loop
//! (`scenarios`, `scenario_errors`).

mod provider;
mod provider_errors;
mod scenario_errors;
mod scenarios;
mod sim;
