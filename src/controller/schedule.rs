//! When resources are polled: a credential's resources together, at that credential's tick.
//!
//! An in-sync resource waits for its tick in its controller's [`Roster`], not in kube-runtime's
//! scheduler: the scheduler keeps two copies of an object reference per requeued object (in a
//! map and a delay queue, about 1 KiB each with uid and resourceVersion), which at 10,000
//! resources was a sixth of the heap (docs/performance.md). The roster keeps one namespace and
//! name per resource, under its tick, and hands a tick's resources to the controller when it
//! comes.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::{Stream, StreamExt};
use kube::runtime::reflector::ObjectRef;
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

/// The in-sync resources of one controller (a kind, in one namespace or all), by the tick at
/// which they are polled next.
#[derive(Default)]
pub(super) struct Roster {
    ticks: Mutex<BTreeMap<u64, Tick>>,
    /// A tick earlier than all before was added.
    earlier: Notify,
}

/// The resources (namespace, name) polled at one tick, and when it comes.
struct Tick {
    at: Instant,
    due: HashSet<(String, String)>,
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
            .insert((namespace.to_string(), name.to_string()));
        drop(ticks);
        if earliest {
            self.earlier.notify_one();
        }
    }

    /// The resources of the earliest tick, once it has come.
    async fn next_due(&self) -> HashSet<(String, String)> {
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
        .map(|(namespace, name)| ObjectRef::new(&name).within(&namespace))
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        let ticks = self.ticks.lock().expect("roster poisoned");
        ticks.values().map(|t| t.due.len()).sum()
    }
}

/// The rosters of the running controllers, by kind and namespace (None: all namespaces).
#[derive(Default)]
pub(super) struct Polls {
    rosters: Mutex<HashMap<Controller, Arc<Roster>>>,
}

/// A controller: its kind, and its namespace (None: all namespaces).
type Controller = (&'static str, Option<String>);

impl Polls {
    /// A new roster for the controller of `kind` in `namespace` (or all), replacing any before.
    pub(super) fn start(&self, kind: &'static str, namespace: Option<String>) -> Arc<Roster> {
        let roster = Arc::new(Roster::default());
        let mut rosters = self.rosters.lock().expect("rosters poisoned");
        rosters.insert((kind, namespace), roster.clone());
        roster
    }

    /// Forgets `roster` (its controller stopped), unless another replaced it.
    pub(super) fn stop(&self, kind: &'static str, namespace: Option<String>, roster: &Arc<Roster>) {
        let mut rosters = self.rosters.lock().expect("rosters poisoned");
        let key = (kind, namespace);
        if rosters.get(&key).is_some_and(|r| Arc::ptr_eq(r, roster)) {
            rosters.remove(&key);
        }
    }

    /// Polls the resource `namespace`/`name` of `kind` at `tick`, `after` from now, through its
    /// controller's roster; false when no controller of it runs (the caller requeues it).
    pub(super) fn add(
        &self,
        kind: &'static str,
        namespace: &str,
        name: &str,
        (tick, after): (u64, Duration),
    ) -> bool {
        let rosters = self.rosters.lock().expect("rosters poisoned");
        let roster = rosters
            .get(&(kind, Some(namespace.to_string())))
            .or_else(|| rosters.get(&(kind, None)));
        match roster {
            Some(roster) => {
                roster.add(tick, after, namespace, name);
                true
            }
            None => false,
        }
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
