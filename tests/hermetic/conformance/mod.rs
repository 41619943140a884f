//! The conformance suite: the lifecycle every product must show, written once against a
//! [`Fixture`] per product, and run for all of them. Product-only behaviour (Looker sets, SlashID
//! 408s, BigPanda regions, ConfigCat environments) lives in the per-product test files.
//!
//! The minimum product calls per operation are read from `docs/provider-calls.md`, so the
//! documented table and the code cannot disagree.

mod calls;
mod fixture;
pub(crate) mod fixtures;
mod lifecycle;

pub use fixture::Fixture;

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
        timed_polls_list_once_per_credential_and_write_nothing,
        restart_with_everything_in_sync_lists_and_writes_nothing,
        a_burst_of_creates_lists_once,
    }
}

/// One test per product outside the lifecycle: `per_product!(test => scenario)` makes
/// `super::scenario::<Fixture>()` the test `<product>::test` of the calling module.
macro_rules! per_product {
    ($test:ident => $scenario:ident) => {
        crate::conformance::per_product!(@one statsig Statsig $test $scenario);
        crate::conformance::per_product!(@one configcat ConfigCat $test $scenario);
        crate::conformance::per_product!(@one slashid SlashId $test $scenario);
        crate::conformance::per_product!(@one looker Looker $test $scenario);
        crate::conformance::per_product!(@one bigpanda BigPanda $test $scenario);
    };
    (@one $product:ident $fixture:ident $test:ident $scenario:ident) => {
        mod $product {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $test() {
                super::$scenario::<crate::conformance::fixtures::$product::$fixture>().await;
            }
        }
    };
}
pub(crate) use per_product;
