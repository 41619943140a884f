//! The generic reconciler for Role and PermissionGroup: the controller loop, finalizer handling,
//! apply (see `sync` and `report`) and cleanup, which deletes or orphans per `deletionPolicy`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use kube::core::DeserializeGuard;
use kube::runtime::controller::{Action, Controller};
use kube::runtime::events::EventType;
use kube::runtime::finalizer::{self, Event as Finalizer};
use kube::runtime::reflector::{self, ObjectRef};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, ResourceExt};

use super::error::{Error, Result};
use super::report::{write_failure, write_success};
use super::status::{self};
use super::sync::{prepare, sync};
use super::{Context, Managed, object_key};
use crate::crd::{CREATE_PENDING_ANNOTATION, DeletionPolicy, ManagementPolicy, ProviderConfigKind};

/// Finalizer that guards product objects (and configs in use).
pub const FINALIZER: &str = "roleplane.dev/cleanup";

/// Runs the controller of kind `K` in one namespace (or all) until `stop` resolves.
pub async fn run<K: Managed>(
    ctx: Arc<Context>,
    namespace: Option<String>,
    stop: impl std::future::Future<Output = ()> + Send + Sync + 'static,
) {
    // Objects are decoded behind a DeserializeGuard: one object Roleplane cannot read (say, after
    // a CRD version skew) is reported on itself and cannot stall the watch of every other one.
    let api: Api<DeserializeGuard<K>> = match &namespace {
        Some(ns) => Api::namespaced(ctx.client.clone(), ns),
        None => Api::all(ctx.client.clone()),
    };
    let (reader, writer) = reflector::store::<DeserializeGuard<K>>();
    let stream = watcher(api, watcher::Config::default())
        .default_backoff()
        .reflect(writer)
        .touched_objects()
        .predicate_filter(super::meta_hash::<DeserializeGuard<K>>, Default::default());
    let (tx, rx) = futures::channel::mpsc::unbounded::<ObjectRef<DeserializeGuard<K>>>();
    let by_name = tx.clone();
    let store = reader.clone();
    ctx.secrets.register(
        K::KIND,
        namespace.clone(),
        move |ns, name| {
            let _ = by_name.unbounded_send(ObjectRef::new(name).within(ns));
        },
        move |kind, ns, name| {
            for guard in store.state() {
                let Ok(obj) = &guard.0 else { continue };
                let r = &obj.managed().provider_config_ref;
                let same_ns = kind == ProviderConfigKind::ClusterProviderConfig
                    || obj.namespace().as_deref() == Some(ns);
                if r.kind == kind && r.name == name && same_ns {
                    let _ = tx.unbounded_send(ObjectRef::from_obj(&*guard));
                }
            }
        },
    );
    let config = kube::runtime::controller::Config::default().concurrency(ctx.config.concurrency);
    let out = Controller::for_stream(stream, reader)
        .with_config(config)
        .reconcile_on(rx)
        .graceful_shutdown_on(stop)
        .run(reconcile_guarded::<K>, error_policy::<K>, ctx);
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

fn error_policy<K: Managed>(
    obj: Arc<DeserializeGuard<K>>,
    error: &Error,
    ctx: Arc<Context>,
) -> Action {
    super::requeue_after(&ctx, &object_key(&*obj), &*obj, error)
}

/// Reconciles a readable object; reports an unreadable one with a Warning Event on it and
/// retries at the poll interval (a fix or re-apply triggers sooner).
async fn reconcile_guarded<K: Managed>(
    guard: Arc<DeserializeGuard<K>>,
    ctx: Arc<Context>,
) -> Result<Action> {
    let invalid = match &guard.0 {
        Ok(obj) => return reconcile(Arc::new(obj.clone()), ctx).await,
        Err(invalid) => invalid,
    };
    Err(super::report_unreadable::<K>(&ctx, invalid).await)
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
