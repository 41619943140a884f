//! ConfigCat permission groups: the provider against its simulator (`provider`), and the
//! PermissionGroup lifecycle through the real controller loop (`scenarios`).

mod provider;
mod scenarios;
