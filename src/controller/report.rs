//! Reporting a reconcile: status through the status subresource, Events (published before the
//! status they explain), and Ready metrics.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::Api;
use kube::runtime::events::EventType;

use super::Context;
use super::error::{Error, Result, reason};
use super::status::{self, READY, SYNCED};
use crate::crd::{ConditionStatus, Managed, ManagedStatus, ProviderKind};

/// The Event reason of a create.
pub const CREATED: &str = "Created";

/// What a successful reconcile found, for status, Events and metrics.
pub struct Outcome {
    pub provider: ProviderKind,
    /// The credential's key (its resources are polled together).
    pub account_key: String,
    /// A create intent to drop once this outcome's status (carrying the id) is written.
    pub settle_intent: bool,
    pub external_id: String,
    /// The status summary of the object as last seen.
    pub summary: String,
    /// Differences left in place (ObserveOnly).
    pub unmanaged_drift: Vec<String>,
    /// Events to publish before the status that explains them.
    pub events: Vec<(EventType, &'static str, String)>,
}

pub(super) async fn write_success<K: Managed>(
    obj: &K,
    ctx: &Context,
    api: &Api<K>,
    outcome: Outcome,
) -> Result<()> {
    let previous = obj.managed_status().cloned().unwrap_or_default();
    let generation = obj.meta().generation;
    let provider = outcome.provider;
    let (ready_status, ready_reason, ready_message) = if outcome.unmanaged_drift.is_empty() {
        (
            ConditionStatus::True,
            reason::AVAILABLE,
            format!("{provider} object {} matches the spec", outcome.external_id),
        )
    } else {
        (
            ConditionStatus::False,
            reason::DRIFTED,
            format!(
                "observe-only: {provider} object {} differs from the spec in {}",
                outcome.external_id,
                outcome.unmanaged_drift.join(", ")
            ),
        )
    };
    let conditions = vec![
        status::condition(
            &previous.conditions,
            READY,
            ready_status,
            ready_reason,
            &ready_message,
            generation,
        ),
        status::condition(
            &previous.conditions,
            SYNCED,
            ConditionStatus::True,
            reason::RECONCILE_SUCCESS,
            "",
            generation,
        ),
    ];
    let next = ManagedStatus {
        external_id: Some(outcome.external_id.clone()),
        provider: Some(provider),
        observed_generation: generation,
        last_sync_time: Some(Time(Timestamp::now())),
        observed: Some(outcome.summary),
        conditions,
    };
    // A poll that finds everything as the status already says writes nothing: moving only
    // lastSyncTime would cost one API write per resource per poll.
    let unchanged = previous.external_id == next.external_id
        && previous.provider == next.provider
        && previous.observed_generation == next.observed_generation
        && previous.observed == next.observed
        && previous.last_sync_time.is_some()
        && status::same(&previous.conditions, &next.conditions)
        && outcome.events.is_empty();
    let ready_changed = !status::find(&previous.conditions, READY).is_some_and(|c| {
        c.status == ready_status && c.reason == ready_reason && c.message == ready_message
    });
    // A create says so in one Event: "Created" (naming the new object) stands for "Ready"
    // too, which spares an API write per create. A create that is not Ready still says why.
    let created_ready = ready_status == ConditionStatus::True
        && outcome
            .events
            .iter()
            .any(|(_, reason, _)| *reason == CREATED);
    // Events and metrics first: whoever sees the new status can also see why it changed.
    for (type_, event_reason, mut note) in outcome.events {
        if created_ready && event_reason == CREATED {
            note.push_str("; Ready");
        }
        status::event(&ctx.events, obj, type_, event_reason, "Reconcile", note).await;
    }
    if ready_changed && !created_ready {
        let type_ = if ready_status == ConditionStatus::True {
            EventType::Normal
        } else {
            EventType::Warning
        };
        let event_reason = if ready_status == ConditionStatus::True {
            "Ready"
        } else {
            "DriftDetected"
        };
        status::event(
            &ctx.events,
            obj,
            type_,
            event_reason,
            "Reconcile",
            ready_message,
        )
        .await;
    }
    ctx.metrics.set_ready(
        K::KIND,
        super::ready_key(obj),
        Some(ready_status == ConditionStatus::True),
    );
    if unchanged {
        return Ok(());
    }
    status::apply_status(api, obj, &next).await?;
    Ok(())
}

/// Writes a failure into Ready/Synced (unless nothing changed) and emits a Warning on a change.
/// `context` is set while deleting: the way out the message ends with.
pub(super) async fn write_failure<K: Managed>(
    obj: &K,
    ctx: &Context,
    api: &Api<K>,
    error: &Error,
    context: Option<&str>,
) {
    let previous = obj.managed_status().cloned().unwrap_or_default();
    let generation = obj.meta().generation;
    let message = match context {
        Some(way_out) => format!("cannot delete the product object: {error}; {way_out}"),
        None => error.to_string(),
    };
    let ready_reason = if context.is_some() {
        reason::DELETING
    } else {
        error.reason()
    };
    let conditions = vec![
        status::condition(
            &previous.conditions,
            READY,
            ConditionStatus::False,
            ready_reason,
            &message,
            generation,
        ),
        status::condition(
            &previous.conditions,
            SYNCED,
            ConditionStatus::False,
            error.reason(),
            &message,
            generation,
        ),
    ];
    ctx.metrics
        .set_ready(K::KIND, super::ready_key(obj), Some(false));
    if status::same(&previous.conditions, &conditions) {
        return;
    }
    let next = ManagedStatus {
        observed_generation: generation,
        conditions,
        ..previous
    };
    status::event(
        &ctx.events,
        obj,
        EventType::Warning,
        error.reason(),
        "Reconcile",
        message,
    )
    .await;
    if let Err(e) = status::apply_status(api, obj, &next).await {
        tracing::warn!(error = %e, "could not write status");
    }
}
