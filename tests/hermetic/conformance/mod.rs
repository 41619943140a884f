//! The conformance suite: the lifecycle every product must show, written once against a
//! [`Fixture`] per product, and run for all of them. Product-only behaviour (Looker sets, SlashID
//! 408s, BigPanda regions, ConfigCat environments) lives in the per-product test files.
//!
//! The minimum product calls per operation are read from `docs/provider-calls.md`, so the
//! documented table and the code cannot disagree.

mod calls;
pub(crate) mod fixtures;
mod lifecycle;

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

/// Runs every lifecycle scenario for every product: `scenario::<Fixture>()` becomes the test
/// `conformance::<product>::<scenario>`.
macro_rules! conformance {
    (products { $($product:ident: $fixture:ty),* $(,)? } scenarios $scenarios:tt) => {
        $( conformance!(@product $product $fixture $scenarios); )*
    };
    (@product $product:ident $fixture:ty { $($scenario:ident),* $(,)? }) => {
        mod $product {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    super::lifecycle::$scenario::<$fixture>().await;
                }
            )*
        }
    };
}

conformance! {
    products {
        statsig: super::fixtures::statsig::Statsig,
        configcat: super::fixtures::configcat::ConfigCat,
        slashid: super::fixtures::slashid::SlashId,
        looker: super::fixtures::looker::Looker,
        bigpanda: super::fixtures::bigpanda::BigPanda,
    }
    scenarios {
        create_goes_ready_with_the_minimum_calls,
        in_sync_poll_reads_and_never_writes,
        spec_change_is_applied_with_the_minimum_calls,
        out_of_band_edit_is_corrected_with_an_event,
        observe_only_reports_drift_and_never_writes,
        existing_object_is_adopted_by_external_id,
        same_named_object_without_external_id_is_already_exists,
        interrupted_create_is_adopted_not_duplicated,
        deletion_deletes_with_the_minimum_calls,
        orphan_policy_leaves_the_object,
        object_already_gone_does_not_block_deletion,
        wrong_credentials_are_rejected_without_writes_or_leaks,
        rate_limit_waits_for_retry_after,
        server_errors_back_off_and_recover,
    }
}
