//! Plan before apply, and bring existing objects under management: `roleplane diff` (what
//! applying manifests would do in each product, never writing) and `roleplane import` (manifests
//! for the objects no resource manages yet). Both reuse the controller's pieces: its config and
//! credential resolution, its lookup and decision (`decide`), and each provider's listing and
//! drift comparison.

pub mod diff;
pub mod import;
pub mod load;
pub mod render;
pub mod run;
pub mod sources;

pub use diff::{Action, Report, diff};
pub use import::{ImportRequest, Imported, import};
pub use load::{Loaded, load};
pub use sources::{Sources, env_name};

/// The API version of Roleplane's kinds.
pub const API_VERSION: &str = "roleplane.dev/v1alpha1";
