//! The generic reconciler for Role and PermissionGroup: validate → resolve credentials → find the
//! product object (status id, `externalId`, or by name guarded by the create intent) → create or
//! correct it → write status and Events. Cleanup deletes or orphans per `deletionPolicy`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Patch, PatchParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::events::EventType;
use kube::runtime::finalizer::{self, Event as Finalizer};
use kube::runtime::reflector::{self, ObjectRef};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, ResourceExt};

use super::error::{Error, Result, reason};
use super::status::{self, READY, SYNCED};
use super::{Context, Managed, object_key, resolve};
use crate::crd::{
    CREATE_PENDING_ANNOTATION, ConditionStatus, DeletionPolicy, ManagedStatus, ManagementPolicy,
    ProviderConfigKind, ProviderKind,
};
use crate::providers::{self, Account, Observed, Target};

/// Finalizer that guards product objects (and configs in use).
pub const FINALIZER: &str = "roleplane.dev/cleanup";

/// What a successful sync found.
struct Outcome {
    provider: ProviderKind,
    external_id: String,
    observed: Observed,
    /// Drift left in place (ObserveOnly).
    unmanaged_drift: Vec<String>,
    events: Vec<(EventType, &'static str, String)>,
}

/// Runs the controller of kind `K` in one namespace (or all) until `stop` resolves.
pub async fn run<K: Managed>(
    ctx: Arc<Context>,
    namespace: Option<String>,
    stop: impl std::future::Future<Output = ()> + Send + Sync + 'static,
) {
    let api: Api<K> = match &namespace {
        Some(ns) => Api::namespaced(ctx.client.clone(), ns),
        None => Api::all(ctx.client.clone()),
    };
    let (reader, writer) = reflector::store::<K>();
    let stream = watcher(api, watcher::Config::default())
        .default_backoff()
        .reflect(writer)
        .touched_objects()
        .predicate_filter(super::meta_hash::<K>, Default::default());
    let (tx, rx) = futures::channel::mpsc::unbounded::<ObjectRef<K>>();
    let by_name = tx.clone();
    let store = reader.clone();
    ctx.secrets.register(
        K::KIND,
        namespace.clone(),
        move |ns, name| {
            let _ = by_name.unbounded_send(ObjectRef::new(name).within(ns));
        },
        move |kind, ns, name| {
            for obj in store.state() {
                let r = &obj.managed().provider_config_ref;
                let same_ns = kind == ProviderConfigKind::ClusterProviderConfig
                    || obj.namespace().as_deref() == Some(ns);
                if r.kind == kind && r.name == name && same_ns {
                    let _ = tx.unbounded_send(ObjectRef::from_obj(&*obj));
                }
            }
        },
    );
    let config = kube::runtime::controller::Config::default().concurrency(ctx.config.concurrency);
    let out = Controller::for_stream(stream, reader)
        .with_config(config)
        .reconcile_on(rx)
        .graceful_shutdown_on(stop)
        .run(reconcile::<K>, error_policy::<K>, ctx);
    super::drain(out, K::KIND).await;
}

async fn reconcile<K: Managed>(obj: Arc<K>, ctx: Arc<Context>) -> Result<Action> {
    let started = Instant::now();
    let namespace = obj.namespace().unwrap_or_default();
    let api: Api<K> = Api::namespaced(ctx.client.clone(), &namespace);
    let result = finalizer::finalizer(&api, FINALIZER, obj.clone(), |event| async {
        match event {
            Finalizer::Apply(o) => apply(o, &ctx, &api).await,
            Finalizer::Cleanup(o) => cleanup(o, &ctx, &api).await,
        }
    })
    .await
    .map_err(super::finalizer_error);
    let reason = result.as_ref().err().map(Error::reason);
    ctx.metrics
        .reconciled(K::KIND, reason, started.elapsed().as_secs_f64());
    match &result {
        Ok(_) => {
            ctx.failures(&object_key(&*obj), false);
        }
        Err(e) => {
            tracing::warn!(kind = K::KIND, namespace = %namespace, name = %obj.name_any(), reason = e.reason(), error = %e, "reconcile failed")
        }
    }
    result
}

fn error_policy<K: Managed>(obj: Arc<K>, error: &Error, ctx: Arc<Context>) -> Action {
    super::requeue_after(&ctx, &object_key(&*obj), &*obj, error)
}

async fn apply<K: Managed>(obj: Arc<K>, ctx: &Context, api: &Api<K>) -> Result<Action> {
    match sync(&*obj, ctx, api).await {
        Ok(outcome) => {
            write_success(&*obj, ctx, api, outcome).await?;
            Ok(Action::requeue(ctx.poll_interval(&*obj)))
        }
        Err(e) => {
            write_failure(&*obj, ctx, api, &e, None).await;
            Err(e)
        }
    }
}

fn user<K: Managed>(obj: &K) -> super::secrets::Dependent {
    (K::KIND, obj.namespace().unwrap_or_default(), obj.name_any())
}

/// Validation and credentials: everything before the first product call. Cleanup passes
/// `validate: false`: deleting must not depend on the spec validating (a spec broken after the
/// object was created must still be deletable).
async fn prepare<'a, K: Managed>(
    obj: &'a K,
    ctx: &Context,
    validate: bool,
) -> Result<(Target<'a>, Account)> {
    let m = obj.managed();
    let spec = obj.product_spec().map_err(Error::InvalidSpec)?;
    let target = Target {
        name: &m.name,
        spec,
    };
    if validate {
        ctx.providers.validate(&target)?;
    }
    let namespace = obj.namespace().unwrap_or_default();
    let view = resolve::config(ctx, &namespace, &m.provider_config_ref).await?;
    if view.provider != spec.provider() {
        return Err(Error::InvalidSpec(format!(
            "the spec has a {} block but {} is for {}",
            spec.provider(),
            view.describe,
            view.provider
        )));
    }
    let account = resolve::account(ctx, &view, user(obj)).await?;
    Ok((target, account))
}

async fn sync<K: Managed>(obj: &K, ctx: &Context, api: &Api<K>) -> Result<Outcome> {
    let (target, account) = prepare(obj, ctx, true).await?;
    let m = obj.managed();
    let provider = account.provider;
    let observe_only = m.management_policy == ManagementPolicy::ObserveOnly;
    let status = obj.managed_status();
    let status_id = status.and_then(|s| s.external_id.clone());
    if let (Some(wanted), true) = (&m.external_id, ctx.providers.name_is_key(provider))
        && wanted != &m.name
        && !wanted.ends_with(&format!("/{}", m.name))
    {
        {
            return Err(Error::InvalidSpec(format!(
                "{provider} keys objects on their name: externalId {wanted:?} must name {:?}",
                m.name
            )));
        }
    }
    let mut events = Vec::new();
    let mut external_id = m.external_id.clone().or(status_id.clone());
    let mut observed = None;
    if let Some(id) = external_id.clone() {
        observed = ctx.providers.observe(&account, &target, &id).await?;
        match &observed {
            None if m.external_id.is_some() => {
                return Err(providers::Error::DependencyNotReady(format!(
                    "{provider} has no object with externalId {id} to adopt"
                ))
                .into());
            }
            None if observe_only => {
                return Err(providers::Error::DependencyNotReady(format!(
                    "observe-only: the {provider} object {id} no longer exists"
                ))
                .into());
            }
            None => {
                events.push((
                    EventType::Warning,
                    "Recreating",
                    format!("the {provider} object {id} was deleted outside Roleplane; creating it again"),
                ));
                external_id = None;
            }
            Some(_) if m.external_id.is_some() && status_id.as_deref() != Some(id.as_str()) => {
                events.push((
                    EventType::Normal,
                    "Adopted",
                    format!("adopted the existing {provider} object {id} (spec.externalId)"),
                ));
            }
            Some(_) => {}
        }
    }
    if external_id.is_none() {
        let intent = obj.annotations().contains_key(CREATE_PENDING_ANNOTATION);
        let matches: Vec<_> = ctx
            .providers
            .list(&account, &target)
            .await?
            .into_iter()
            .filter(|l| l.name == m.name)
            .collect();
        let ids = || {
            matches
                .iter()
                .map(|l| l.external_id.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        match matches.as_slice() {
            [] if observe_only => {
                return Err(providers::Error::DependencyNotReady(format!(
                    "observe-only: no {provider} object named {:?} exists",
                    m.name
                ))
                .into());
            }
            [] => {
                let id = create(obj, ctx, api, &account, &target).await?;
                events.push((
                    EventType::Normal,
                    "Created",
                    format!("created {provider} object {id}"),
                ));
                observed = ctx.providers.observe(&account, &target, &id).await?;
                if observed.is_none() {
                    return Err(providers::Error::DependencyNotReady(format!(
                        "created {provider} object {id} but cannot read it back yet"
                    ))
                    .into());
                }
                external_id = Some(id);
            }
            [one] if intent || observe_only => {
                let why = if intent {
                    "left by an interrupted create"
                } else {
                    "observe-only, matched by name"
                };
                events.push((
                    EventType::Normal,
                    "Adopted",
                    format!("adopted {provider} object {} ({why})", one.external_id),
                ));
                if intent {
                    write_external_id(obj, api, provider, &one.external_id).await?;
                    clear_intent(obj, api).await?;
                }
                observed = ctx
                    .providers
                    .observe(&account, &target, &one.external_id)
                    .await?;
                external_id = Some(one.external_id.clone());
            }
            [_] => {
                return Err(providers::Error::AlreadyExists(format!(
                    "a {provider} object named {:?} already exists (id {}) and Roleplane did not create it; set spec.externalId to adopt it",
                    m.name,
                    ids()
                ))
                .into());
            }
            _ if intent => {
                return Err(Error::AmbiguousExternalObject(format!(
                    "{} {provider} objects are named {:?} ({}); set spec.externalId to the one this resource manages",
                    matches.len(),
                    m.name,
                    ids()
                )));
            }
            _ => {
                return Err(providers::Error::AlreadyExists(format!(
                    "{} {provider} objects named {:?} already exist ({}); set spec.externalId to adopt one",
                    matches.len(),
                    m.name,
                    ids()
                ))
                .into());
            }
        }
    }
    let external_id = external_id.expect("set on every path above");
    let mut observed = observed.ok_or_else(|| {
        providers::Error::DependencyNotReady(format!(
            "the {provider} object {external_id} disappeared while reconciling"
        ))
    })?;
    let mut unmanaged_drift = Vec::new();
    if !observed.drift.is_empty() {
        let fields = observed.drift.join(", ");
        if observe_only {
            unmanaged_drift = observed.drift.clone();
        } else {
            let out_of_band = status.is_some_and(|s| {
                s.observed_generation == obj.meta().generation
                    && status::find(&s.conditions, READY)
                        .is_some_and(|c| c.status == ConditionStatus::True)
            });
            ctx.providers
                .update(&account, &target, &external_id)
                .await?;
            let after = ctx
                .providers
                .observe(&account, &target, &external_id)
                .await?
                .ok_or_else(|| {
                    providers::Error::DependencyNotReady(format!(
                        "the {provider} object {external_id} disappeared during the update"
                    ))
                })?;
            if !after.drift.is_empty() {
                return Err(providers::Error::Api(providers::ApiError {
                    provider,
                    operation: "update",
                    status: None,
                    message: format!(
                        "the update was accepted but these fields still differ: {}",
                        after.drift.join(", ")
                    ),
                    retry_after: None,
                })
                .into());
            }
            if out_of_band {
                events.push((
                    EventType::Warning,
                    "DriftCorrected",
                    format!("{provider} object {external_id} was changed outside Roleplane; corrected {fields}"),
                ));
            } else {
                events.push((
                    EventType::Normal,
                    "Updated",
                    format!("updated {provider} object {external_id}: {fields}"),
                ));
            }
            observed = after;
        }
    }
    Ok(Outcome {
        provider,
        external_id,
        observed,
        unmanaged_drift,
        events,
    })
}

/// Records the create intent (guarded by resourceVersion), creates, then stores the id.
async fn create<K: Managed>(
    obj: &K,
    ctx: &Context,
    api: &Api<K>,
    account: &Account,
    target: &Target<'_>,
) -> Result<String> {
    let patch = serde_json::json!({
        "metadata": {
            "resourceVersion": obj.resource_version(),
            "annotations": { CREATE_PENDING_ANNOTATION: Timestamp::now().to_string() },
        }
    });
    api.patch(
        &obj.name_any(),
        &PatchParams::default(),
        &Patch::Merge(&patch),
    )
    .await?;
    match ctx.providers.create(account, target).await {
        Ok(id) => {
            write_external_id(obj, api, account.provider, &id).await?;
            clear_intent(obj, api).await?;
            Ok(id)
        }
        Err(e) => {
            let e = Error::from(e);
            if e.create_certainly_failed() {
                let _ = clear_intent(obj, api).await;
            }
            Err(e)
        }
    }
}

async fn clear_intent<K: Managed>(obj: &K, api: &Api<K>) -> Result<()> {
    let patch =
        serde_json::json!({ "metadata": { "annotations": { CREATE_PENDING_ANNOTATION: null } } });
    api.patch(
        &obj.name_any(),
        &PatchParams::default(),
        &Patch::Merge(&patch),
    )
    .await?;
    Ok(())
}

/// Stores the id right after create, before anything else can fail.
async fn write_external_id<K: Managed>(
    obj: &K,
    api: &Api<K>,
    provider: ProviderKind,
    id: &str,
) -> Result<()> {
    let mut s = obj.managed_status().cloned().unwrap_or_default();
    s.external_id = Some(id.to_string());
    s.provider = Some(provider);
    let message = format!("created {provider} object {id}; checking it");
    s.conditions = vec![
        status::condition(
            &s.conditions,
            READY,
            ConditionStatus::False,
            reason::CREATING,
            &message,
            obj.meta().generation,
        ),
        status::condition(
            &s.conditions,
            SYNCED,
            ConditionStatus::True,
            reason::RECONCILE_SUCCESS,
            "",
            obj.meta().generation,
        ),
    ];
    status::apply_status(api, obj, &s).await?;
    Ok(())
}

async fn write_success<K: Managed>(
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
        observed: Some(outcome.observed.summary.clone()),
        conditions,
    };
    let ready_changed = !status::find(&previous.conditions, READY).is_some_and(|c| {
        c.status == ready_status && c.reason == ready_reason && c.message == ready_message
    });
    // Events and metrics first: whoever sees the new status can also see why it changed.
    for (type_, event_reason, note) in outcome.events {
        status::event(&ctx.recorder, obj, type_, event_reason, "Reconcile", note).await;
    }
    if ready_changed {
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
            &ctx.recorder,
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
        object_key(obj),
        Some(ready_status == ConditionStatus::True),
    );
    status::apply_status(api, obj, &next).await?;
    Ok(())
}

/// Writes a failure into Ready/Synced (unless nothing changed) and emits a Warning on a change.
async fn write_failure<K: Managed>(
    obj: &K,
    ctx: &Context,
    api: &Api<K>,
    error: &Error,
    context: Option<&str>,
) {
    let previous = obj.managed_status().cloned().unwrap_or_default();
    let generation = obj.meta().generation;
    let message = match context {
        Some(c) => format!("{c}: {error}"),
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
    ctx.metrics.set_ready(K::KIND, object_key(obj), Some(false));
    if status::same(&previous.conditions, &conditions) {
        return;
    }
    let next = ManagedStatus {
        observed_generation: generation,
        conditions,
        ..previous
    };
    status::event(
        &ctx.recorder,
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

/// Lets the config re-check whether it is still in use once this resource's finalizer is gone
/// (the finalizer is removed right after cleanup returns, hence the short delay).
fn release_config<K: Managed>(ctx: &Context, obj: &K) {
    let r = &obj.managed().provider_config_ref;
    let dependent = match r.kind {
        ProviderConfigKind::ProviderConfig => (
            "ProviderConfig",
            obj.namespace().unwrap_or_default(),
            r.name.clone(),
        ),
        ProviderConfigKind::ClusterProviderConfig => {
            ("ClusterProviderConfig", String::new(), r.name.clone())
        }
    };
    let secrets = ctx.secrets.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(500)).await;
        secrets.fire(&dependent);
    });
}

async fn cleanup<K: Managed>(obj: Arc<K>, ctx: &Context, api: &Api<K>) -> Result<Action> {
    let m = obj.managed();
    let status_id = obj.managed_status().and_then(|s| s.external_id.clone());
    let id = status_id.or_else(|| m.external_id.clone());
    let intent = obj.annotations().contains_key(CREATE_PENDING_ANNOTATION);
    let done = |ctx: &Context| {
        ctx.metrics.set_ready(K::KIND, object_key(&*obj), None);
        release_config(ctx, &*obj);
    };
    if m.deletion_policy == DeletionPolicy::Orphan
        || m.management_policy == ManagementPolicy::ObserveOnly
    {
        if let Some(id) = &id {
            let why = if m.deletion_policy == DeletionPolicy::Orphan {
                "deletionPolicy: Orphan"
            } else {
                "managementPolicy: ObserveOnly"
            };
            status::event(
                &ctx.recorder,
                &*obj,
                EventType::Normal,
                "Orphaned",
                "Delete",
                format!("left object {id} in the product ({why})"),
            )
            .await;
        }
        done(ctx);
        return Ok(Action::await_change());
    }
    if id.is_none() && !intent {
        done(ctx);
        return Ok(Action::await_change());
    }
    let result = async {
        let (target, account) = prepare(&*obj, ctx, false).await?;
        let ids = match &id {
            Some(id) => vec![id.clone()],
            // An interrupted create may have left an object: delete it only if exactly one matches.
            None => {
                let found: Vec<String> = ctx
                    .providers
                    .list(&account, &target)
                    .await?
                    .into_iter()
                    .filter(|l| l.name == m.name)
                    .map(|l| l.external_id)
                    .collect();
                if found.len() > 1 {
                    return Err(Error::AmbiguousExternalObject(format!(
                        "{} objects named {:?} exist ({}); cannot tell which one to delete",
                        found.len(),
                        m.name,
                        found.join(", ")
                    )));
                }
                found
            }
        };
        for id in &ids {
            ctx.providers.delete(&account, &target, id).await?;
        }
        Ok((account.provider, ids))
    }
    .await;
    match result {
        Ok((provider, ids)) => {
            for id in ids {
                status::event(
                    &ctx.recorder,
                    &*obj,
                    EventType::Normal,
                    "Deleted",
                    "Delete",
                    format!("deleted {provider} object {id}"),
                )
                .await;
            }
            done(ctx);
            Ok(Action::await_change())
        }
        Err(e) => {
            let context = format!(
                "cannot delete the product object yet (fix the cause, or remove finalizer {FINALIZER} to leave it behind)"
            );
            write_failure(&*obj, ctx, api, &e, Some(&context)).await;
            Err(e)
        }
    }
}
