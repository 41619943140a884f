//! What the conformance suite needs to know about one product (also used by the fault suite,
//! `tests/faults`).

use std::future::Future;

use roleplane::crd::{Managed, ProviderKind};
use roleplane::sim::Traffic;
use serde_json::Value;

use crate::harness::Env;

/// What the conformance suite needs to know about one product.
pub trait Fixture: Send + Sync + 'static {
    /// The kind whose resources manage this product's objects.
    type Kind: Managed;
    const PRODUCT: ProviderKind;
    /// The official API description to check request bodies against (`tests/openapi/<file>`),
    /// and the prefix the simulator's paths carry beyond the description's.
    const OPENAPI: Option<(&'static str, &'static str)>;

    /// A Secret and a ProviderConfig named after the product in `ns`; with `valid: false` the
    /// credentials are wrong (and their value contains `WRONG-SECRET`).
    fn account(env: &Env, ns: &str, valid: bool) -> impl Future<Output = ()> + Send;
    /// The spec of a resource that manages the product object named `name`.
    fn spec(name: &str) -> Value;
    /// A merge patch to the spec that changes what the product must hold.
    fn change() -> Value;
    /// The manifest field `edit` changes, as drift Events name it.
    const EDITED_FIELD: &'static str;
    /// Whether the product's answers tell how much of its rate-limit window is left (ConfigCat's
    /// `X-Rate-Limit-*`): the client then waits for the window's reset and never earns a 429.
    const ADVERTISES_BUDGET: bool = false;
    /// Whether the product's listing carries whole objects (polls list once per credential),
    /// or only names (each resource is read on its own).
    const LISTS_OBJECTS: bool = true;
    /// Whether a create looks its name up in the credential's listing (ids assigned by the
    /// product, no search by name), rather than by a read or search of its own.
    const LOOKS_NAMES_UP_IN_LISTING: bool = false;

    /// Whether the product object `id` holds what `spec` (`changed`: with `change`) says.
    fn holds(env: &Env, id: &str, changed: bool) -> bool;
    /// Changes the object `id` out of band, in `EDITED_FIELD`.
    fn edit(env: &Env, id: &str);
    /// Creates an object named `name` out of band, differing from `spec(name)`; returns its id.
    fn seed(env: &Env, name: &str) -> String;
    /// The ids of the objects named `name`.
    fn named(env: &Env, name: &str) -> Vec<String>;
    /// Deletes the object `id` out of band.
    fn remove(env: &Env, id: &str);
    /// The request log and faults of the product's simulator.
    fn traffic(env: &Env) -> &Traffic;
    /// Values of the placeholders `docs/provider-calls.md` uses in this product's rows (`{id}`,
    /// `{name}` and product-specific ones), for the object `id` named `name`.
    fn placeholders(env: &Env, name: &str, id: &str) -> Vec<(&'static str, String)>;
}
