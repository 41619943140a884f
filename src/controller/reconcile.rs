//! The generic reconciler for Role and PermissionGroup: the controller loop, finalizer handling,
//! apply (see `execute`, `report`) and cleanup, which deletes or orphans per `deletionPolicy`.
//! The product is chosen once per reconcile, by the registry, with its block already typed.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::channel::mpsc::unbounded;
use futures::{FutureExt, StreamExt};
use kube::core::DeserializeGuard;
use kube::runtime::controller::{Action, Controller};
use kube::runtime::events::EventType;
use kube::runtime::finalizer::{self, Event as Finalizer};
use kube::runtime::reflector;
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Resource, ResourceExt};

use super::decide::Lookup;
use super::error::{Error, Result};
use super::execute::{self, find};
use super::relations::{self, Relations};
use super::report::{write_failure, write_success};
use super::{Context, intent, lanes, object_key, status};
use crate::crd::{DeletionPolicy, FINALIZER, Managed, ManagementPolicy};
use crate::providers::{Desired, Identity, Provider, Visit};

/// Runs the controllers of kind `K` in one namespace (or all) until `stop` resolves: one
/// watch and cache of `K`, and a lane of reconcile slots for each product that publishes rate
/// limits and one for the others (see `lanes`).
pub async fn run<K: Managed>(
    ctx: Arc<Context>,
    namespace: Option<String>,
    relations: Relations,
    stop: impl std::future::Future<Output = ()> + Send + Sync + 'static,
) {
    let stop = stop.shared();
    // Objects are decoded behind a DeserializeGuard: one object Roleplane cannot read (say, after
    // a CRD version skew) is reported on itself and cannot stall the watch of every other one.
    let api: Api<DeserializeGuard<K>> = match &namespace {
        Some(ns) => Api::namespaced(ctx.client.clone(), ns),
        None => Api::all(ctx.client.clone()),
    };
    let (reader, writer) = reflector::store::<DeserializeGuard<K>>();
    let released = relations.released.clone();
    let (listed, listing_done) = tokio::sync::oneshot::channel();
    // A config counts its users in this store once it holds the first listing (not through
    // `Store::wait_until_ready`: of several waiters it wakes only the last, and kube-runtime's
    // runner is one of them).
    let (resources, scope, store) = (ctx.clone(), namespace.clone(), reader.clone());
    let mut changes = Changes {
        listed: Some(listed),
        ready: Some(Box::new(move || resources.resources.add::<K>(scope, store))),
        ..Changes::default()
    };
    let noting = ctx.clone();
    let stream = watcher(api, super::watch_config())
        .default_backoff()
        .modify(|guard| {
            if let Ok(obj) = &mut guard.0 {
                super::lean(obj.meta_mut());
            }
        })
        .reflect(writer)
        .filter_map(move |event| std::future::ready(event.map(|e| changes.pass(e)).transpose()))
        .filter_map(move |passed| {
            let handed_on = match passed {
                Ok(passed) => {
                    if let Ok(obj) = &passed.obj.0 {
                        // A resource whose cleanup finished no longer holds its config: let
                        // the config know.
                        released.resource_changed(obj);
                        if passed.changed_since_seen {
                            noting.note_changed(object_key(obj));
                        }
                    }
                    // The first listing's objects come through the roster's first pass.
                    (!passed.first_listing).then_some(Ok(passed.obj))
                }
                Err(e) => Some(Err(e)),
            };
            std::future::ready(handed_on)
        });
    // Each change goes to its lane; whichever lane is polled drives the watch.
    let lanes = lanes::lanes::<K>();
    let routes = lanes.clone();
    let watched = lanes::Pump::split(stream.boxed(), lanes.len(), move |item| match item {
        Ok(obj) => lanes::index::<K>(&routes, obj),
        Err(_) => 0,
    });
    // The lanes start once the first listing is in: each controller's runner waits for the
    // store to be ready, and the store wakes only the last of several waiters; a store ready
    // already answers every one at once. Until then the watch is driven here (what comes for a
    // lane meanwhile waits for it in the pump).
    let listed = match watched.first() {
        Some(pump) => tokio::select! {
            done = listing_done => done.is_ok(),
            () = stop.clone() => false,
            () = pump.drive() => false,
        },
        None => false,
    };
    if !listed {
        return;
    }
    let mut first: Vec<Vec<_>> = lanes.iter().map(|_| Vec::new()).collect();
    for obj in reader.state() {
        if let Some(part) = first.get_mut(lanes::index::<K>(&lanes, &obj)) {
            part.push(obj);
        }
    }
    // Users of a changed config or Secret, and everyone when a policy changed: each to its
    // own lane.
    let everyone = reader.clone();
    let policy_changes = ctx.guardrails.changes().map(move |()| everyone.state());
    let batches = futures::stream::select(
        relations::managed_triggers(reader.clone(), relations),
        policy_changes,
    );
    let (to_lanes, batched): (Vec<_>, Vec<_>) = lanes.iter().map(|_| unbounded()).unzip();
    let routes = lanes.clone();
    // Tasks in a JoinSet: aborted if this future is dropped.
    let mut fan = tokio::task::JoinSet::new();
    fan.spawn(async move {
        let mut batches = std::pin::pin!(batches);
        while let Some(batch) = batches.next().await {
            let mut parts: Vec<Vec<_>> = to_lanes.iter().map(|_| Vec::new()).collect();
            for obj in batch {
                if let Some(part) = parts.get_mut(lanes::index::<K>(&routes, &obj)) {
                    part.push(obj);
                }
            }
            for (to, part) in to_lanes.iter().zip(parts) {
                if !part.is_empty() {
                    let _ = to.unbounded_send(part);
                }
            }
        }
    });
    // One handed over at a time, the next as soon as it starts: while every reconcile slot is
    // taken, kube-runtime's scheduler keeps what is due in a hash set and starts the first in
    // its iteration order when a slot frees, so with many waiting some would wait until the
    // flow stops, whatever the hand-over's order (at 10,000 resources, a quarter of a Statsig
    // key's first window started 2 s late or in the next window). Without a limit on slots,
    // everything due starts at once, in order.
    let bulk_limit = match ctx.config.concurrency {
        0 => 256,
        _ => 1,
    };
    let mut running = tokio::task::JoinSet::new();
    // The first pass keeps its order across lanes (shortest windows first, see
    // `schedule::turns`): a lane's starts once every lane with a shorter window has handed over
    // its first window's worth (at the latest after that window's length).
    let mut handed: Vec<tokio::sync::watch::Receiver<bool>> = Vec::new();
    let parts = lanes.iter().zip(watched).zip(first).zip(batched);
    for (i, (((lane, watched), first), batches)) in parts.enumerate() {
        let name = lane.name::<K>();
        // In-sync resources wait for their credential's tick here (see `schedule`).
        let roster = ctx.polls.start(name, namespace.clone());
        let before: Vec<_> = lanes
            .iter()
            .zip(&handed)
            .take(i)
            .filter_map(|(earlier, rx)| match (earlier.window(), lane.window()) {
                (Some((s, _)), None) => Some((rx.clone(), s)),
                (Some((s, _)), Some((mine, _))) if s < mine => Some((rx.clone(), s)),
                _ => None,
            })
            .collect();
        let mut left = super::schedule::first_windows(&first, credential_of::<K>);
        let (told, tell) = tokio::sync::watch::channel(left == 0);
        handed.push(tell);
        // Everything this lane hands over in bulk waits: the first pass, and the users of
        // configs that became ready at start (as many as the first pass).
        let turn = async move {
            for (mut handed, seconds) in before {
                let waited = handed.wait_for(|h| *h);
                let _ = tokio::time::timeout(Duration::from_secs(seconds), waited).await;
            }
        }
        .shared();
        let batches = turn.clone().map(move |()| batches).flatten_stream();
        let bulk = roster
            .clone()
            .hand_over(
                reader.clone(),
                turn.map(move |()| first),
                bulk_limit,
                credential_of::<K>,
                batches,
            )
            .inspect(move |_| {
                if left > 0 {
                    left -= 1;
                    if left == 0 {
                        let _ = told.send(true);
                    }
                }
            });
        let config =
            kube::runtime::controller::Config::default().concurrency(ctx.config.concurrency);
        let out = Controller::for_stream(watched, reader.clone())
            .with_config(config)
            .reconcile_on(bulk)
            .reconcile_on(roster.clone().due())
            .graceful_shutdown_on(stop.clone())
            .run(reconcile_guarded::<K>, error_policy::<K>, ctx.clone());
        let (ctx, namespace) = (ctx.clone(), namespace.clone());
        running.spawn(async move {
            super::drain(out, K::KIND).await;
            ctx.polls.stop(name, namespace, &roster);
        });
    }
    while running.join_next().await.is_some() {}
    fan.abort_all();
}

async fn reconcile<K: Managed>(obj: Arc<K>, ctx: Arc<Context>) -> Result<Action> {
    let started = Instant::now();
    let namespace = obj.namespace().unwrap_or_default();
    let api: Api<K> = Api::namespaced(ctx.client.clone(), &namespace);
    // Without the finalizer (new): it goes on with the first write that needs it (see
    // `intent`), not in a write and a reconcile of its own; the finalizer helper below only
    // ever sees resources that carry it (or are being deleted). A resource that lost it while
    // naming a product object gets it back before anything else.
    let missing = !obj.finalizers().iter().any(|f| f == FINALIZER);
    let result = if missing && obj.meta().deletion_timestamp.is_none() {
        let finalizer = intent::Finalizer::new(true);
        let names_object = obj
            .managed_status()
            .is_some_and(|s| s.external_id.is_some())
            || intent::pending(&*obj);
        let ensured = match names_object {
            true => finalizer.ensure(&*obj, &api).await,
            false => Ok(()),
        };
        match ensured {
            Ok(()) => apply(obj.clone(), &ctx, &api, finalizer).await,
            Err(e) => Err(e),
        }
    } else {
        finalizer::finalizer(&api, FINALIZER, obj.clone(), |event| async {
            match event {
                Finalizer::Apply(o) => apply(o, &ctx, &api, intent::Finalizer::new(false)).await,
                Finalizer::Cleanup(o) => cleanup(o, &ctx, &api).await,
            }
        })
        .await
        .map_err(super::finalizer_error)
    };
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

/// What a controller's watch hands on: objects whose managed metadata changed (see
/// `managed_meta_hash`: never our own status writes). Kept by uid as two integers an object,
/// where kube-runtime's predicate filter keeps name, namespace and uid strings.
#[derive(Default)]
struct Changes {
    /// The hash of each object as last handed on, by a hash of its uid.
    seen: HashMap<u64, u64>,
    /// During a listing (at start, or again when the watch lost its place): the objects in it,
    /// so that those deleted meanwhile (of which no event comes) are forgotten at its end.
    listing: Option<std::collections::HashSet<u64>>,
    /// Told when the first listing has ended (None since then): the first pass starts.
    listed: Option<tokio::sync::oneshot::Sender<()>>,
    /// Called when the first listing has ended (the store holds it).
    ready: Option<Box<dyn FnOnce() + Send>>,
}

/// An object [`Changes`] hands on.
struct Passed<K> {
    obj: K,
    /// It changed since it was last seen (not its first sight, nor its deletion).
    changed_since_seen: bool,
    /// It came with the first listing.
    first_listing: bool,
}

impl Changes {
    fn pass<K: Resource>(&mut self, event: watcher::Event<K>) -> Option<Passed<K>> {
        match event {
            watcher::Event::Init => {
                self.listing = Some(Default::default());
                None
            }
            watcher::Event::InitApply(obj) => {
                if let Some(listing) = &mut self.listing {
                    listing.insert(super::hash(&obj.meta().uid));
                }
                self.changed(obj, false)
            }
            watcher::Event::InitDone => {
                if let Some(listing) = self.listing.take() {
                    self.seen.retain(|uid, _| listing.contains(uid));
                }
                if let Some(listed) = self.listed.take() {
                    // The reflector before us has the listing in its store by now.
                    let _ = listed.send(());
                }
                if let Some(ready) = self.ready.take() {
                    ready();
                }
                None
            }
            watcher::Event::Apply(obj) => self.changed(obj, false),
            watcher::Event::Delete(obj) => self.changed(obj, true),
        }
    }

    fn changed<K: Resource>(&mut self, obj: K, deleted: bool) -> Option<Passed<K>> {
        let uid = super::hash(&obj.meta().uid);
        let now = super::managed_meta_hash(&obj)?;
        let before = match deleted {
            true => self.seen.remove(&uid),
            false => self.seen.insert(uid, now),
        };
        (before != Some(now)).then(|| Passed {
            changed_since_seen: before.is_some() && obj.meta().deletion_timestamp.is_none(),
            first_listing: self.listed.is_some(),
            obj,
        })
    }
}

/// The credential a resource uses, as far as its manifest tells: the first pass takes
/// credentials in turn.
fn credential_of<K: Managed>(guard: &DeserializeGuard<K>) -> super::schedule::Turn {
    let namespace = guard.meta().namespace.as_deref().unwrap_or_default();
    match &guard.0 {
        Ok(obj) => {
            let config = &obj.managed().provider_config_ref;
            let product = obj.product().ok().map(|p| p.kind());
            super::schedule::Turn {
                key: format!(
                    "{:?}/{namespace}/{}/{}",
                    config.kind,
                    config.name,
                    product.map(|p| p.as_str()).unwrap_or_default()
                ),
                window: product.and_then(|p| crate::providers::limits(p).shortest_write_window()),
            }
        }
        Err(_) => super::schedule::Turn {
            key: String::new(),
            window: None,
        },
    }
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
    ctx.polls.started(
        lanes::name(guard.0.as_ref().ok()),
        guard.meta().namespace.as_deref().unwrap_or_default(),
        guard.meta().name.as_deref().unwrap_or_default(),
    );
    let invalid = match &guard.0 {
        Ok(obj) => {
            let obj = Arc::new(obj.clone());
            // The key is made only if the reconcile panics (this runs for every reconcile).
            let key = || object_key(&*obj);
            let result = super::guarded(K::KIND, key, reconcile(obj.clone(), ctx.clone())).await;
            if let Err(e @ Error::Internal(_)) = &result {
                // Said on the resource too: Synced=False, reason InternalError, and an Event.
                let api: Api<K> =
                    Api::namespaced(ctx.client.clone(), &obj.namespace().unwrap_or_default());
                write_failure(&*obj, &ctx, &api, e, None).await;
            }
            return result;
        }
        Err(invalid) => invalid,
    };
    Err(super::report_unreadable::<K>(&ctx, invalid).await)
}

async fn apply<K: Managed>(
    obj: Arc<K>,
    ctx: &Context,
    api: &Api<K>,
    finalizer: intent::Finalizer,
) -> Result<Action> {
    let result = match obj.product() {
        Ok(product) => {
            let apply = Apply {
                obj: &*obj,
                ctx,
                api,
                finalizer: &finalizer,
            };
            ctx.providers.visit(product, apply).await
        }
        Err(message) => Err(Error::InvalidSpec(message)),
    };
    match result {
        Ok(outcome) => {
            // Its status is about to name a product object.
            finalizer.ensure(&*obj, api).await?;
            let key = outcome.account_key.clone();
            let settle_intent = outcome.settle_intent;
            write_success(&*obj, ctx, api, outcome).await?;
            if settle_intent {
                // The id is in status now: the create is settled.
                super::intent::clear(&*obj, api).await?;
            }
            Ok(ctx.poll_next(&*obj, &key))
        }
        // Not a failure: nothing to report, and no back-off.
        Err(e) => match e.budget_wait() {
            Some(wait) => Ok(Action::requeue(wait)),
            None => {
                write_failure(&*obj, ctx, api, &e, None).await;
                Err(e)
            }
        },
    }
}

/// Convergence with the resource's provider.
struct Apply<'a, K> {
    obj: &'a K,
    ctx: &'a Context,
    api: &'a Api<K>,
    finalizer: &'a intent::Finalizer,
}

impl<K: Managed> Visit for Apply<'_, K> {
    type Output = Result<super::report::Outcome>;

    async fn visit<P: Provider>(self, provider: &P, spec: &P::Spec) -> Self::Output {
        let desired = Desired {
            name: &self.obj.managed().name,
            spec,
        };
        execute::converge(
            self.obj,
            self.ctx,
            self.api,
            self.finalizer,
            provider,
            desired,
        )
        .await
    }
}

async fn cleanup<K: Managed>(obj: Arc<K>, ctx: &Context, api: &Api<K>) -> Result<Action> {
    ctx.take_changed(&object_key(&*obj));
    let m = obj.managed();
    let status_id = obj.managed_status().and_then(|s| s.external_id.clone());
    let adopted_by_spec = status_id.is_none() && m.external_id.is_some();
    let id = status_id.or_else(|| m.external_id.clone());
    let intent = intent::pending(&*obj);
    let done = |ctx: &Context| {
        ctx.metrics
            .set_ready(K::KIND, super::ready_key(&*obj), None);
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
                &ctx.events,
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
    let result = match obj.product() {
        Ok(product) => {
            let delete = Delete {
                obj: &*obj,
                ctx,
                id: id.clone(),
                adopted_by_spec,
            };
            ctx.providers.visit(product, delete).await
        }
        Err(message) => Err(Error::InvalidSpec(message)),
    };
    match result {
        Ok((provider, ids)) => {
            for id in ids {
                status::event(
                    &ctx.events,
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
            write_failure(&*obj, ctx, api, &e, Some(way_out(&e))).await;
            Err(e)
        }
    }
}

/// What a user can do about a deletion that fails (see the README's troubleshooting).
fn way_out(error: &Error) -> &'static str {
    use super::reason::*;
    match error.reason() {
        CREDENTIALS_MISSING
        | CREDENTIALS_REJECTED
        | PROVIDER_CONFIG_NOT_FOUND
        | NAMESPACE_NOT_ALLOWED => {
            "restore the credentials (the Secret and its keys, or a working key), or set \
             spec.deletionPolicy: Orphan to leave the object in the product and finish deleting \
             at once"
        }
        _ => {
            "retrying; to finish deleting at once and leave the object in the product, set \
             spec.deletionPolicy: Orphan"
        }
    }
}

/// Deletion with the resource's provider: the object `id`, or the one an interrupted create left.
struct Delete<'a, K> {
    obj: &'a K,
    ctx: &'a Context,
    id: Option<String>,
    /// `id` is `spec.externalId`, never stored in status: if it does not have the product's id
    /// form, nothing was ever adopted under it.
    adopted_by_spec: bool,
}

impl<K: Managed> Visit for Delete<'_, K> {
    type Output = Result<(crate::crd::ProviderKind, Vec<String>)>;

    async fn visit<P: Provider>(self, provider: &P, spec: &P::Spec) -> Self::Output {
        let m = self.obj.managed();
        let desired = Desired {
            name: &m.name,
            spec,
        };
        let account = execute::prepare(self.obj, self.ctx, provider, desired, false).await?;
        let ids = match self.id {
            Some(id)
                if self.adopted_by_spec
                    && provider.check_external_id(&account, desired, &id).is_err() =>
            {
                Vec::new()
            }
            Some(id) => vec![id],
            // An interrupted create may have left an object: delete it only if exactly one matches.
            None => {
                let lookup = match P::IDENTITY {
                    Identity::Name => Lookup::Key(provider.name_key(&account, &m.name)),
                    Identity::Id => Lookup::Name,
                };
                let (_, found) = find(provider, &account, desired, &lookup, None).await?;
                let found: Vec<String> = found.iter().map(|o| provider.id_of(o)).collect();
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
            let deleted = provider.delete(&account, desired, id).await;
            self.ctx
                .listings
                .forget(&account.key, &provider.scope(spec));
            deleted?;
        }
        Ok((P::KIND, ids))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::ConfigMap;
    use watcher::Event;

    fn object(uid: &str, generation: i64, status_only: &str) -> ConfigMap {
        let mut cm = ConfigMap::default();
        cm.metadata.namespace = Some("a".into());
        cm.metadata.name = Some(uid.into());
        cm.metadata.uid = Some(uid.into());
        cm.metadata.generation = Some(generation);
        // Stands for what does not count (a status write of ours).
        cm.metadata.resource_version = Some(status_only.into());
        cm
    }

    /// (name, changed since seen, first listing) of what passes.
    fn pass(changes: &mut Changes, event: Event<ConfigMap>) -> Option<(String, bool, bool)> {
        changes
            .pass(event)
            .map(|p| (p.obj.name_any(), p.changed_since_seen, p.first_listing))
    }

    #[test]
    fn a_watch_hands_on_changes_only_and_marks_the_first_listing() {
        let (listed, mut listing_done) = tokio::sync::oneshot::channel();
        let mut changes = Changes {
            listed: Some(listed),
            ..Changes::default()
        };
        assert_eq!(pass(&mut changes, Event::Init), None);
        let first = pass(&mut changes, Event::InitApply(object("x", 1, "1")));
        assert_eq!(first, Some(("x".into(), false, true)));
        assert!(pass(&mut changes, Event::InitApply(object("y", 1, "2"))).is_some());
        assert!(
            listing_done.try_recv().is_err(),
            "told before the listing ended"
        );
        assert_eq!(pass(&mut changes, Event::InitDone), None);
        assert_eq!(listing_done.try_recv(), Ok(()));
        // A status write: nothing.
        assert_eq!(pass(&mut changes, Event::Apply(object("x", 1, "3"))), None);
        // A spec change: handed on, noted as a change.
        let edited = pass(&mut changes, Event::Apply(object("x", 2, "4")));
        assert_eq!(edited, Some(("x".into(), true, false)));
        // A new object after the listing: handed on, not a change.
        let new = pass(&mut changes, Event::Apply(object("z", 1, "5")));
        assert_eq!(new, Some(("z".into(), false, false)));
        // Being deleted: handed on, not noted as a change.
        let mut deleting = object("z", 1, "6");
        deleting.metadata.deletion_timestamp =
            Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
                k8s_openapi::jiff::Timestamp::now(),
            ));
        let marked = pass(&mut changes, Event::Apply(deleting.clone()));
        assert_eq!(marked, Some(("z".into(), false, false)));
        // Gone as last seen: nothing, and forgotten.
        assert_eq!(pass(&mut changes, Event::Delete(deleting)), None);
        assert_eq!(changes.seen.len(), 2);
        // The watch lists again: unchanged objects pass nothing, and y (deleted while the
        // watch had lost its place, so no event came) is forgotten.
        assert_eq!(pass(&mut changes, Event::Init), None);
        assert_eq!(
            pass(&mut changes, Event::InitApply(object("x", 2, "7"))),
            None
        );
        assert_eq!(pass(&mut changes, Event::InitDone), None);
        assert_eq!(changes.seen.len(), 1);
    }
}
