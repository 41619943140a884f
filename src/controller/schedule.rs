//! When resources are polled: a credential's resources together, at that credential's tick.
//!
//! An in-sync resource waits for its tick in its controller's [`Roster`], not in kube-runtime's
//! scheduler: the scheduler keeps two copies of an object reference per requeued object (in a
//! map and a delay queue, about 1 KiB each with uid and resourceVersion), which at 10,000
//! resources was a sixth of the heap (docs/performance.md). The roster keeps one namespace and
//! name per resource, under its tick, and hands a tick's resources to the controller when it
//! comes.
//!
//! The roster also hands over what is asked for in bulk ([`Roster::hand_over`]): the first
//! reconcile of every resource the controller found at start, one credential after another in
//! turn, every user of a config or Secret that changed, and every resource when a policy
//! changed. A few at a time, as reconciles
//! start, instead of thousands at once into kube-runtime's scheduler (whose map and queue keep
//! that size for as long as the process runs).

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::{Stream, StreamExt};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Resource, ResourceExt};
use tokio::sync::Notify;
use tokio::time::Instant;

/// A resource's own poll interval (annotation `roleplane.dev/poll-interval`), if it has one.
pub(super) fn own_poll_interval<K: Resource>(obj: &K) -> Option<Duration> {
    obj.annotations()
        .get(crate::crd::POLL_INTERVAL_ANNOTATION)
        .and_then(|v| humantime::parse_duration(v.trim()).ok())
        .filter(|d| *d >= Duration::from_secs(1))
}

/// The time from `now` (since the epoch) to the next tick of `key` at least half an `interval`
/// away; ticks are `interval` apart, offset by a hash of `key`.
pub(super) fn next_tick(now: Duration, interval: Duration, key: &str) -> Duration {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    key.hash(&mut h);
    let period = interval.as_millis().max(1) as u64;
    let phase = h.finish() % period;
    let now = now.as_millis() as u64;
    let earliest = now + period / 2;
    let mut tick = earliest - earliest % period + phase;
    if tick < earliest {
        tick += period;
    }
    Duration::from_millis(tick - now)
}

/// The in-sync resources of one controller (a product's lane of a kind, see `lanes`,
/// in one namespace or all), by the tick at which they are polled next.
#[derive(Default)]
pub(super) struct Roster {
    ticks: Mutex<BTreeMap<u64, Tick>>,
    /// A tick earlier than all before was added.
    earlier: Notify,
    /// Resources handed over in bulk whose reconcile has not started yet, by [`resource_key`].
    handed: Mutex<HashMap<u64, (String, String)>>,
    /// A reconcile of a handed resource started.
    started: Notify,
}

/// How long the bulk hand-over waits for a handed resource's reconcile to start before it checks
/// whether the resource is still there (one deleted meanwhile is never reconciled).
const HANDED_RECHECK: Duration = Duration::from_secs(1);

/// The resources polled at one tick (`namespace/name`, one allocation each: neither part can
/// contain a `/`), and when it comes.
struct Tick {
    at: Instant,
    due: HashSet<Box<str>>,
}

impl Roster {
    /// Polls the resource at the tick `tick` (milliseconds since the epoch), `after` from now.
    /// A resource added twice under one tick is polled once.
    fn add(&self, tick: u64, after: Duration, namespace: &str, name: &str) {
        let mut ticks = self.ticks.lock().expect("roster poisoned");
        let earliest = ticks
            .first_key_value()
            .is_none_or(|(first, _)| tick < *first);
        ticks
            .entry(tick)
            .or_insert_with(|| Tick {
                at: Instant::now() + after,
                due: HashSet::new(),
            })
            .due
            .insert(format!("{namespace}/{name}").into_boxed_str());
        drop(ticks);
        if earliest {
            self.earlier.notify_one();
        }
    }

    /// The resources of the earliest tick, once it has come.
    async fn next_due(&self) -> HashSet<Box<str>> {
        loop {
            let next = {
                let mut ticks = self.ticks.lock().expect("roster poisoned");
                match ticks.first_entry() {
                    Some(first) if first.get().at <= Instant::now() => return first.remove().due,
                    Some(first) => Some(first.get().at),
                    None => None,
                }
            };
            match next {
                Some(at) => {
                    tokio::select! {
                        () = tokio::time::sleep_until(at) => {}
                        () = self.earlier.notified() => {}
                    }
                }
                None => self.earlier.notified().await,
            }
        }
    }

    /// The resources as their ticks come, for `Controller::reconcile_on`.
    pub(super) fn due<K>(self: Arc<Self>) -> impl Stream<Item = ObjectRef<K>> + Send + 'static
    where
        K: Resource<DynamicType = ()> + 'static,
    {
        futures::stream::unfold(self, |roster| async move {
            let due = roster.next_due().await;
            Some((futures::stream::iter(due), roster))
        })
        .flatten()
        .map(|key| {
            let (namespace, name) = key.split_once('/').unwrap_or(("", &key));
            ObjectRef::new(name).within(namespace)
        })
    }

    /// Reconciles asked for in bulk, handed over at most `limit` at a time (a resource counts
    /// until its reconcile starts, see [`Polls::started`]): the first reconcile of every
    /// resource `first` brings (those of the first listing, once it is in), and every batch
    /// `batches` brings (the users of a changed config or Secret, everyone when a policy
    /// changed). Each batch takes credentials in turn (see [`turns`]); a resource already
    /// waiting here is not queued twice. `store` tells which are still there.
    pub(super) fn hand_over<K>(
        self: Arc<Self>,
        store: Store<K>,
        first: impl std::future::Future<Output = Vec<Arc<K>>> + Send + 'static,
        limit: usize,
        credential: fn(&K) -> Turn,
        batches: impl Stream<Item = Vec<Arc<K>>> + Send + 'static,
    ) -> impl Stream<Item = ObjectRef<K>> + Send + 'static
    where
        K: Resource<DynamicType = ()> + Clone + Send + Sync + 'static,
    {
        let limit = limit.max(1);
        let first = futures::stream::once(first);
        let state = Bulk {
            roster: self,
            store,
            credential,
            inputs: futures::stream::select(first, batches).boxed(),
            inputs_done: false,
            queue: VecDeque::new(),
            queued: HashSet::new(),
        };
        futures::stream::unfold(state, move |mut bulk| async move {
            let r = bulk.next(limit).await?;
            Some((r, bulk))
        })
    }

    /// Forgets handed resources that are gone: one deleted before its reconcile started never
    /// starts one.
    fn prune<K>(&self, store: &Store<K>)
    where
        K: Resource<DynamicType = ()> + Clone + 'static,
    {
        self.handed
            .lock()
            .expect("roster poisoned")
            .retain(|_, (namespace, name)| {
                store.get(&ObjectRef::new(name).within(namespace)).is_some()
            });
    }

    /// The reconcile of `namespace`/`name` started: a resource handed over in bulk no longer
    /// counts against its limit.
    fn started(&self, namespace: &str, name: &str) {
        let mut handed = self.handed.lock().expect("roster poisoned");
        if handed.is_empty() {
            return;
        }
        if handed.remove(&resource_key(namespace, name)).is_some() {
            drop(handed);
            self.started.notify_one();
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        let ticks = self.ticks.lock().expect("roster poisoned");
        ticks.values().map(|t| t.due.len()).sum()
    }
}

/// The state of [`Roster::hand_over`]: what waits to be handed over, in order.
struct Bulk<K: Resource<DynamicType = ()> + Clone + 'static> {
    roster: Arc<Roster>,
    store: Store<K>,
    credential: fn(&K) -> Turn,
    inputs: futures::stream::BoxStream<'static, Vec<Arc<K>>>,
    inputs_done: bool,
    queue: VecDeque<Arc<K>>,
    /// The [`resource_key`]s of what `queue` holds. A collision (odds of 2^-64) leaves a
    /// resource to its next poll, never without one.
    queued: HashSet<u64>,
}

impl<K> Bulk<K>
where
    K: Resource<DynamicType = ()> + Clone + Send + Sync + 'static,
{
    fn key(obj: &K) -> u64 {
        let meta = obj.meta();
        resource_key(
            meta.namespace.as_deref().unwrap_or_default(),
            meta.name.as_deref().unwrap_or_default(),
        )
    }

    /// Queues `batch`, credentials in turn, less what is queued already or handed over and not
    /// started yet (its reconcile is still to come, and will see the latest state).
    fn push(&mut self, batch: Vec<Arc<K>>) {
        let handed = self.roster.handed.lock().expect("roster poisoned");
        for obj in turns(batch, self.credential) {
            let key = Self::key(&obj);
            if !handed.contains_key(&key) && self.queued.insert(key) {
                self.queue.push_back(obj);
            }
        }
    }

    /// The next resource to hand over, once there is room; None when nothing more can come.
    async fn next(&mut self, limit: usize) -> Option<ObjectRef<K>> {
        loop {
            let room = self.roster.handed.lock().expect("roster poisoned").len() < limit;
            if room && let Some(obj) = self.queue.pop_front() {
                let key = Self::key(&obj);
                self.queued.remove(&key);
                if self.queue.is_empty() {
                    // The room a burst took is not kept for as long as the process runs.
                    self.queue.shrink_to_fit();
                    self.queued.shrink_to_fit();
                }
                let namespace = obj.namespace().unwrap_or_default();
                let name = obj.name_any();
                let r = ObjectRef::new(&name).within(&namespace);
                // Deleted since it was queued: nothing to reconcile.
                if self.store.get(&r).is_none() {
                    continue;
                }
                self.roster
                    .handed
                    .lock()
                    .expect("roster poisoned")
                    .insert(key, (namespace, name));
                return Some(r);
            }
            if self.queue.is_empty() {
                if self.inputs_done {
                    return None;
                }
                match self.inputs.next().await {
                    Some(batch) => self.push(batch),
                    None => self.inputs_done = true,
                }
                continue;
            }
            // Full: wait for a reconcile to start, taking in what comes meanwhile.
            let started = self.roster.started.notified();
            tokio::select! {
                batch = self.inputs.next(), if !self.inputs_done => match batch {
                    Some(batch) => self.push(batch),
                    None => self.inputs_done = true,
                },
                waited = tokio::time::timeout(HANDED_RECHECK, started) => {
                    if waited.is_err() {
                        self.roster.prune(&self.store);
                    }
                }
            }
        }
    }
}

/// The key of a resource in the roster's bulk hand-over.
fn resource_key(namespace: &str, name: &str) -> u64 {
    super::hash(&(namespace, name))
}

/// The credential a resource is reconciled with, for [`turns`].
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct Turn {
    /// The credential.
    pub key: String,
    /// Its budget's shortest write window, as (seconds, calls) (see
    /// [`crate::providers::Limits::shortest_write_window`]).
    pub window: Option<(u64, u32)>,
}

/// `found` in the order the bulk hand-over queues it. First, each credential's first window's
/// worth (as many resources as its shortest write window has calls), shortest windows first:
/// a window that frees sooner is filled sooner, or every later one starts late (Statsig's
/// 10-second window before the 20-second ones of products that publish no limits). Then the
/// rest. Within each part, one resource of each credential in turn (credentials in name order,
/// each one's resources by namespace and name), so that a tenant with thousands of resources
/// does not hold up the first reconcile of another's few.
fn turns<K: Resource>(found: Vec<Arc<K>>, credential: fn(&K) -> Turn) -> Vec<Arc<K>> {
    // The first windows, by window length, then the rest.
    let mut parts: BTreeMap<Option<u64>, Vec<Vec<Arc<K>>>> = BTreeMap::new();
    for (turn, mut objs) in by_credential(found, credential) {
        objs.sort_by(|a, b| {
            (a.meta().namespace.as_deref(), a.meta().name.as_deref())
                .cmp(&(b.meta().namespace.as_deref(), b.meta().name.as_deref()))
        });
        let rest = match turn.window {
            Some((seconds, calls)) => {
                let rest = objs.split_off((calls as usize).min(objs.len()));
                parts.entry(Some(seconds)).or_default().push(objs);
                rest
            }
            None => objs,
        };
        parts.entry(None).or_default().push(rest);
    }
    // `None` sorts first in a BTreeMap: the rest goes last.
    let rest = parts.remove(&None).unwrap_or_default();
    let mut out = Vec::new();
    for part in parts.into_values().chain([rest]) {
        let mut queues: Vec<_> = part.into_iter().map(Vec::into_iter).collect();
        while !queues.is_empty() {
            queues.retain_mut(|q| match q.next() {
                Some(obj) => {
                    out.push(obj);
                    true
                }
                None => false,
            });
        }
    }
    out
}

/// `found` by credential.
fn by_credential<K, T>(
    found: impl IntoIterator<Item = T>,
    credential: fn(&K) -> Turn,
) -> BTreeMap<Turn, Vec<T>>
where
    T: std::ops::Deref<Target = K>,
{
    let mut by_credential: BTreeMap<Turn, Vec<T>> = BTreeMap::new();
    for obj in found {
        by_credential.entry(credential(&obj)).or_default().push(obj);
    }
    by_credential
}

/// How many of `found` [`turns`] puts in their credentials' first windows' worth.
pub(super) fn first_windows<K: Resource>(found: &[Arc<K>], credential: fn(&K) -> Turn) -> usize {
    by_credential(found.iter().cloned(), credential)
        .into_iter()
        .map(|(turn, objs)| {
            turn.window
                .map_or(0, |(_, calls)| (calls as usize).min(objs.len()))
        })
        .sum()
}

/// The rosters of the running controllers, by lane and namespace (None: all namespaces).
#[derive(Default)]
pub(super) struct Polls {
    rosters: Mutex<HashMap<Controller, Arc<Roster>>>,
}

/// A controller: its lane (a product's name, see `lanes::name`), and its namespace
/// (None: all namespaces).
type Controller = (&'static str, Option<String>);

impl Polls {
    /// A new roster for the controller of `lane` in `namespace` (or all), replacing any before.
    pub(super) fn start(&self, lane: &'static str, namespace: Option<String>) -> Arc<Roster> {
        let roster = Arc::new(Roster::default());
        let mut rosters = self.rosters.lock().expect("rosters poisoned");
        rosters.insert((lane, namespace), roster.clone());
        roster
    }

    /// Forgets `roster` (its controller stopped), unless another replaced it.
    pub(super) fn stop(&self, lane: &'static str, namespace: Option<String>, roster: &Arc<Roster>) {
        let mut rosters = self.rosters.lock().expect("rosters poisoned");
        let key = (lane, namespace);
        if rosters.get(&key).is_some_and(|r| Arc::ptr_eq(r, roster)) {
            rosters.remove(&key);
        }
    }

    /// The reconcile of `lane`'s resource `namespace`/`name` started (see [`Roster::hand_over`]).
    pub(super) fn started(&self, lane: &'static str, namespace: &str, name: &str) {
        if let Some(roster) = self.roster(lane, namespace) {
            roster.started(namespace, name);
        }
    }

    /// Polls the resource `namespace`/`name` of `lane` at `tick`, `after` from now, through its
    /// controller's roster; false when no controller of it runs (the caller requeues it).
    pub(super) fn add(
        &self,
        lane: &'static str,
        namespace: &str,
        name: &str,
        (tick, after): (u64, Duration),
    ) -> bool {
        match self.roster(lane, namespace) {
            Some(roster) => {
                roster.add(tick, after, namespace, name);
                true
            }
            None => false,
        }
    }

    /// The roster of the controller that runs `lane` in `namespace`: its namespace's own, else
    /// the all-namespaces one.
    fn roster(&self, lane: &'static str, namespace: &str) -> Option<Arc<Roster>> {
        let rosters = self.rosters.lock().expect("rosters poisoned");
        rosters
            .get(&(lane, Some(namespace.to_string())))
            .or_else(|| rosters.get(&(lane, None)))
            .cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_rosters_resources_come_at_their_ticks_once_each() {
        use k8s_openapi::api::core::v1::ConfigMap;
        let polls = Polls::default();
        let roster = polls.start("Role", None);
        let mut due = std::pin::pin!(roster.clone().due::<ConfigMap>());
        let ms = Duration::from_millis;
        let started = Instant::now();
        assert!(polls.add("Role", "a", "one", (2_000, ms(300))));
        assert!(polls.add("Role", "a", "two", (2_000, ms(300))));
        // Added again under the same tick: still polled once.
        assert!(polls.add("Role", "a", "one", (2_000, ms(300))));
        assert!(polls.add("Role", "b", "three", (3_000, ms(900))));
        assert_eq!(roster.len(), 3);
        let mut first = [due.next().await.unwrap(), due.next().await.unwrap()];
        // Not before their tick.
        assert!(started.elapsed() >= ms(300), "{:?}", started.elapsed());
        first.sort_by(|x, y| x.name.cmp(&y.name));
        assert_eq!(first[0], ObjectRef::new("one").within("a"));
        assert_eq!(first[1], ObjectRef::new("two").within("a"));
        // A tick earlier than the one waited for wakes the roster.
        assert!(polls.add("Role", "c", "four", (2_500, ms(100))));
        let next = tokio::time::timeout(ms(400), due.next()).await;
        assert_eq!(next, Ok(Some(ObjectRef::new("four").within("c"))));
        assert!(started.elapsed() < ms(900), "{:?}", started.elapsed());
        let last = due.next().await;
        assert_eq!(last, Some(ObjectRef::new("three").within("b")));
        assert!(started.elapsed() >= ms(900), "{:?}", started.elapsed());
        assert_eq!(roster.len(), 0);
    }

    fn config_map(namespace: &str, name: &str) -> k8s_openapi::api::core::v1::ConfigMap {
        let mut cm = k8s_openapi::api::core::v1::ConfigMap::default();
        cm.metadata.namespace = Some(namespace.into());
        cm.metadata.name = Some(name.into());
        cm
    }

    /// The credential here: the namespace.
    fn by_namespace(cm: &k8s_openapi::api::core::v1::ConfigMap) -> Turn {
        Turn {
            key: cm.namespace().unwrap(),
            window: None,
        }
    }

    /// The credential here: the namespace; `fast` has a 2-call window of 10 s, `slow` a
    /// 3-call window of 20 s, the others none.
    fn by_window(cm: &k8s_openapi::api::core::v1::ConfigMap) -> Turn {
        let key = cm.namespace().unwrap();
        let window = match key.as_str() {
            "fast" => Some((10, 2)),
            "slow" => Some((20, 3)),
            _ => None,
        };
        Turn { key, window }
    }

    /// The order [`turns`] gives `found` (`namespace/name` each).
    fn order(
        found: &[&str],
        credential: fn(&k8s_openapi::api::core::v1::ConfigMap) -> Turn,
    ) -> Vec<String> {
        let found = found
            .iter()
            .map(|key| {
                let (ns, name) = key.split_once('/').unwrap();
                Arc::new(config_map(ns, name))
            })
            .collect();
        turns(found, credential)
            .iter()
            .map(|cm| format!("{}/{}", cm.namespace().unwrap(), cm.name_any()))
            .collect()
    }

    #[test]
    fn the_first_pass_fills_shorter_windows_first() {
        let found = [
            "none/1", "slow/1", "slow/2", "slow/3", "slow/4", "fast/1", "fast/2", "fast/3",
            "fast/4", "none/2",
        ];
        assert_eq!(
            order(&found, by_window),
            [
                // Each one's first window, the shorter window first.
                "fast/1", "fast/2", "slow/1", "slow/2", "slow/3",
                // Then the rest, credentials in turn.
                "fast/3", "none/1", "slow/4", "fast/4", "none/2",
            ]
        );
        // The lanes' first passes wait for that count (see `reconcile::run`).
        let found: Vec<_> = found
            .iter()
            .map(|key| {
                let (ns, name) = key.split_once('/').unwrap();
                Arc::new(config_map(ns, name))
            })
            .collect();
        assert_eq!(first_windows(&found, by_window), 5);
    }

    #[test]
    fn the_first_pass_takes_credentials_in_turn() {
        let found = ["b/3", "a/2", "b/1", "c/1", "a/1", "a/3"];
        assert_eq!(
            order(&found, by_namespace),
            ["a/1", "b/1", "c/1", "a/2", "b/3", "a/3"]
        );
    }

    #[tokio::test]
    async fn bulk_reconciles_are_handed_over_a_few_at_a_time_as_reconciles_start() {
        use k8s_openapi::api::core::v1::ConfigMap;
        use kube::runtime::watcher::Event;
        let ms = Duration::from_millis;
        let (store, mut writer) = kube::runtime::reflector::store::<ConfigMap>();
        let (listed, listing_done) = tokio::sync::oneshot::channel();
        let polls = Polls::default();
        let roster = polls.start("ConfigMap", None);
        let (more, batches) = futures::channel::mpsc::unbounded::<Vec<Arc<ConfigMap>>>();
        // Only an error when the watch is gone (as in `reconcile::run`).
        let listing = store.clone();
        let first = async move {
            match listing_done.await {
                Ok(()) => listing.state(),
                Err(_) => Vec::new(),
            }
        };
        let pass = roster
            .clone()
            .hand_over(store.clone(), first, 2, by_namespace, batches);
        // The pass runs in a task of its own, polled only when woken, as a controller polls
        // its triggers: a lost wake-up shows as nothing handed over.
        let (tx, mut handed) = tokio::sync::mpsc::unbounded_channel();
        let forward = tokio::spawn(async move {
            let mut pass = std::pin::pin!(pass);
            while let Some(r) = pass.next().await {
                if tx.send(r).is_err() {
                    break;
                }
            }
        });
        macro_rules! next {
            ($within:expr) => {
                tokio::time::timeout($within, handed.recv()).await
            };
        }
        // Nothing before the first listing is in.
        assert!(next!(ms(100)).is_err());
        // Another task waits for the store after the pass did (as kube-runtime's runner does):
        // the pass must still start (the store's own readiness wakes only the last waiter).
        let runner = tokio::spawn(async move { store.wait_until_ready().await.is_ok() });
        tokio::time::sleep(ms(50)).await;
        writer.apply_watcher_event(&Event::Init);
        for (ns, name) in [("a", "1"), ("a", "2"), ("a", "3"), ("b", "1"), ("b", "2")] {
            writer.apply_watcher_event(&Event::InitApply(config_map(ns, name)));
        }
        writer.apply_watcher_event(&Event::InitDone);
        listed.send(()).unwrap();
        assert_eq!(next!(ms(300)), Ok(Some(ObjectRef::new("1").within("a"))));
        assert_eq!(next!(ms(300)), Ok(Some(ObjectRef::new("1").within("b"))));
        // Two handed, none started: the limit holds the rest back.
        assert!(next!(ms(300)).is_err());
        // A reconcile of something not handed (or of another kind) changes nothing.
        polls.started("ConfigMap", "a", "3");
        polls.started("Role", "a", "1");
        assert!(next!(ms(300)).is_err());
        polls.started("ConfigMap", "a", "1");
        assert_eq!(next!(ms(300)), Ok(Some(ObjectRef::new("2").within("a"))));
        // b/2 is deleted before its turn: skipped. b/1 is deleted after it was handed: its
        // reconcile never starts, and after the recheck it no longer counts.
        writer.apply_watcher_event(&Event::Delete(config_map("b", "2")));
        writer.apply_watcher_event(&Event::Delete(config_map("b", "1")));
        let started = Instant::now();
        assert_eq!(next!(ms(2_500)), Ok(Some(ObjectRef::new("3").within("a"))));
        assert!(started.elapsed() >= ms(900), "{:?}", started.elapsed());
        polls.started("ConfigMap", "a", "2");
        polls.started("ConfigMap", "a", "3");
        // Everything found was handed over; later batches (a config's users) come the same way,
        // each resource once however often it is asked for, and within the limit.
        assert!(next!(ms(300)).is_err());
        for (ns, name) in [("c", "1"), ("c", "2"), ("c", "3")] {
            writer.apply_watcher_event(&Event::Apply(config_map(ns, name)));
        }
        let c = |name: &str| Arc::new(config_map("c", name));
        more.unbounded_send(vec![c("1"), c("2"), c("1")]).unwrap();
        more.unbounded_send(vec![c("2"), c("3")]).unwrap();
        assert_eq!(next!(ms(300)), Ok(Some(ObjectRef::new("1").within("c"))));
        assert_eq!(next!(ms(300)), Ok(Some(ObjectRef::new("2").within("c"))));
        assert!(next!(ms(300)).is_err(), "two handed, none started");
        polls.started("ConfigMap", "c", "1");
        assert_eq!(next!(ms(300)), Ok(Some(ObjectRef::new("3").within("c"))));
        polls.started("ConfigMap", "c", "2");
        polls.started("ConfigMap", "c", "3");
        assert!(
            next!(ms(300)).is_err(),
            "c/1 and c/2 were asked for once each"
        );
        // Asked for again once its reconcile started: handed over again.
        more.unbounded_send(vec![c("1")]).unwrap();
        assert_eq!(next!(ms(300)), Ok(Some(ObjectRef::new("1").within("c"))));
        // Nothing more can come: it ends.
        drop(more);
        assert_eq!(next!(ms(300)), Ok(None));
        forward.await.expect("the pass ended");
        runner.abort();
    }

    #[test]
    fn a_resource_goes_to_its_namespaces_controller_else_to_the_all_namespaces_one() {
        let polls = Polls::default();
        let tick = (1, Duration::from_secs(1));
        assert!(!polls.add("Role", "a", "x", tick), "no controller runs");
        let tenant = polls.start("Role", Some("a".into()));
        let all = polls.start("Role", None);
        assert!(polls.add("Role", "a", "x", tick));
        assert!(polls.add("Role", "b", "y", tick));
        assert!(!polls.add("PermissionGroup", "a", "z", tick));
        assert_eq!((tenant.len(), all.len()), (1, 1));
        // A replaced roster's controller stopping leaves its successor registered.
        let successor = polls.start("Role", Some("a".into()));
        polls.stop("Role", Some("a".into()), &tenant);
        assert!(polls.add("Role", "a", "x", tick));
        assert_eq!(successor.len(), 1);
        polls.stop("Role", Some("a".into()), &successor);
        polls.stop("Role", None, &all);
        assert!(!polls.add("Role", "a", "x", tick));
    }

    #[test]
    fn a_credentials_resources_poll_at_its_ticks() {
        let interval = Duration::from_secs(600);
        let key = "statsig|https://statsigapi.net|ns/creds";
        // Wherever a resource starts, its next poll is the credential's tick, half an interval
        // to one and a half away; every resource of the credential lands on the same tick.
        let starts = [0u64, 1, 299_999, 300_000, 599_999, 1_234_567];
        let ticks: Vec<u64> = starts
            .iter()
            .map(|ms| {
                let now = Duration::from_millis(1_700_000_000_000 + ms);
                let next = next_tick(now, interval, key);
                assert!(next >= interval / 2 && next <= interval * 3 / 2, "{next:?}");
                ((now + next).as_millis() % interval.as_millis()) as u64
            })
            .collect();
        assert!(ticks.windows(2).all(|w| w[0] == w[1]), "{ticks:?}");
        // The next poll after a tick is the next tick.
        let at_tick = Duration::from_millis(1_700_000_000_000 + 5);
        let first = at_tick + next_tick(at_tick, interval, key);
        assert_eq!(next_tick(first, interval, key), interval);
        // Credentials are spread over the interval.
        let phases: std::collections::HashSet<u128> = (0..20)
            .map(|i| {
                let now = Duration::from_secs(1_700_000_000);
                (now + next_tick(now, interval, &format!("key-{i}"))).as_millis() % 600_000
            })
            .collect();
        assert!(phases.len() > 15, "{phases:?}");
    }
}
