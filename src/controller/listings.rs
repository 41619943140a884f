//! Observation batched per credential: one listing of a credential's scope serves the drift
//! check of every resource in it. Resources of one credential are polled together (see
//! `Context::next_poll`), the first to arrive lists the scope (paged, once: concurrent callers
//! wait for that listing), and the others compare against it while it is fresh. A listing
//! that fails is shared too, for a few seconds, so an outage costs one call, not one per
//! resource. Name lookups before a create (products without a name search) join a listing
//! being made at that moment, never one made before they asked, so creates that arrive
//! together list once and none misses an object someone else just gave its name. What
//! Roleplane creates is put into the listing held ([`Listings::insert`]). Listings are
//! dropped when they go stale or when Roleplane otherwise writes through that credential and
//! scope (an update, a delete, a create whose outcome is unknown), so nothing is held between
//! polls.

use std::any::Any;
use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::OnceCell;

use crate::providers::Listed;

/// How long a failed listing answers for everyone before the next caller tries again.
const FAILURE_TTL: Duration = Duration::from_secs(5);

/// How long a listing is held at most (the longest freshness a caller asks for): older ones
/// are dropped at the next call, so nothing is held between polls.
const KEEP: Duration = Duration::from_secs(60);

/// A listing, by id.
pub type Snapshot<O> = HashMap<String, Listed<O>>;

type Shared = Arc<dyn Any + Send + Sync>;
type Done = (Instant, Result<Shared, Shared>);

#[derive(Clone)]
struct Slot {
    cell: Arc<OnceCell<Done>>,
}

/// The listings of every credential and scope in use right now.
#[derive(Default)]
pub struct Listings {
    slots: Mutex<HashMap<(String, String), Slot>>,
}

impl Listings {
    /// The listing of `scope` under the credential `key`: a fresh one (younger than `fresh`)
    /// if there is one, one being made if one is, else the one `list` makes now (with
    /// `fresh` zero: one being made, else a new one). One credential
    /// and scope always list the same product's objects. Callers may report failures in their
    /// own error types (a config's check, its resources' poll): a failure made by a caller of
    /// another type is not shared, this caller lists for itself.
    pub async fn get<O, E, F, Fut>(
        &self,
        key: &str,
        scope: &str,
        fresh: Duration,
        list: F,
    ) -> Result<Arc<Snapshot<O>>, E>
    where
        O: Send + Sync + 'static,
        E: Clone + Send + Sync + 'static,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Vec<Listed<O>>, E>>,
    {
        let slot = {
            let mut slots = self.slots.lock().expect("listings lock poisoned");
            slots.retain(|_, s| s.cell.get().is_none_or(|d| usable(d, KEEP)));
            let at_key = (key.to_string(), scope.to_string());
            match slots.get(&at_key) {
                Some(s) if s.cell.get().is_none_or(|d| usable(d, fresh)) => s.clone(),
                _ => {
                    let s = Slot {
                        cell: Arc::new(OnceCell::new()),
                    };
                    slots.insert(at_key, s.clone());
                    s
                }
            }
        };
        let mut unused = Some(list);
        let (_, result) = slot
            .cell
            .get_or_init(|| {
                let list = unused.take().expect("initialised once");
                async move {
                    let listed = match list().await {
                        Ok(items) => Ok(Arc::new(by_id(items)) as Shared),
                        Err(e) => Err(Arc::new(e) as Shared),
                    };
                    (Instant::now(), listed)
                }
            })
            .await;
        match result {
            Ok(any) => Ok(any
                .clone()
                .downcast::<Snapshot<O>>()
                .expect("one product's objects per credential")),
            Err(any) => match (any.downcast_ref::<E>(), unused) {
                (Some(e), _) => Err(e.clone()),
                // Another kind of caller failed (it made the listing): list for ourselves.
                (None, Some(list)) => list().await.map(|items| Arc::new(by_id(items))),
                (None, None) => unreachable!("a listing this caller made fails in its type"),
            },
        }
    }

    /// Drops the listing of `scope` under `key`: Roleplane just changed something in it.
    pub fn forget(&self, key: &str, scope: &str) {
        self.slots
            .lock()
            .expect("listings lock poisoned")
            .remove(&(key.to_string(), scope.to_string()));
    }

    /// Puts `created` into the listing of `scope` under `key`: Roleplane just created it, and
    /// nothing else in the scope changed. The listing keeps its age, so it is made again when it
    /// would have been anyway. A listing still being made (it may or may not hold the object),
    /// or one that failed, is dropped instead.
    pub fn insert<O>(&self, key: &str, scope: &str, created: Listed<O>)
    where
        O: Clone + Send + Sync + 'static,
    {
        let mut slots = self.slots.lock().expect("listings lock poisoned");
        let at_key = (key.to_string(), scope.to_string());
        let Some(slot) = slots.remove(&at_key) else {
            return;
        };
        let Some((at, Ok(any))) = slot.cell.get().cloned() else {
            return;
        };
        // Dropping the slot leaves this the listing's only holder unless a caller still reads
        // it: then the listing is copied, else it is changed in place.
        drop(slot);
        let Ok(mut listing) = any.downcast::<Snapshot<O>>() else {
            return;
        };
        Arc::make_mut(&mut listing).insert(created.id.clone(), created);
        let done: Done = (at, Ok(listing as Shared));
        slots.insert(
            at_key,
            Slot {
                cell: Arc::new(OnceCell::new_with(Some(done))),
            },
        );
    }

    /// How many listings are held.
    #[cfg(test)]
    pub fn held(&self) -> usize {
        self.slots.lock().expect("listings lock poisoned").len()
    }
}

fn by_id<O>(items: Vec<Listed<O>>) -> Snapshot<O> {
    items.into_iter().map(|l| (l.id.clone(), l)).collect()
}

fn usable((at, result): &Done, fresh: Duration) -> bool {
    // A failure answers for a few seconds, and never a caller that asked for a new listing
    // (its credentials may just have been fixed).
    let ttl = if result.is_ok() {
        fresh
    } else {
        FAILURE_TTL.min(fresh)
    };
    at.elapsed() < ttl
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn listed(id: &str) -> Listed<u32> {
        Listed {
            id: id.into(),
            name: id.into(),
            object: Some(1),
        }
    }

    /// A listing of `a` that counts its calls, and yields once on the way (so that another
    /// caller can arrive while it is being made).
    async fn list_a(calls: &AtomicUsize) -> Result<Vec<Listed<u32>>, providers::Error> {
        calls.fetch_add(1, Ordering::SeqCst);
        tokio::task::yield_now().await;
        Ok(vec![listed("a")])
    }

    #[tokio::test]
    async fn one_listing_serves_every_caller_while_fresh() {
        let listings = Listings::default();
        let calls = AtomicUsize::new(0);
        let list = || async {
            calls.fetch_add(1, Ordering::SeqCst);
            tokio::task::yield_now().await;
            Ok::<_, providers::Error>(vec![listed("a"), listed("b")])
        };
        let (x, y) = tokio::join!(
            listings.get("k", "", KEEP, list),
            listings.get("k", "", KEEP, list),
        );
        assert_eq!(x.unwrap().len(), 2);
        assert_eq!(y.unwrap().len(), 2);
        let again = listings.get("k", "", KEEP, list).await.unwrap();
        assert!(again.contains_key("b"));
        assert_eq!(
            calls.load(Ordering::SeqCst),
            1,
            "one listing for three callers"
        );
        // Another scope or credential lists on its own; a write drops the listing.
        listings.get("k", "other", KEEP, list).await.unwrap();
        listings.forget("k", "");
        listings.get("k", "", KEEP, list).await.unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn a_stale_listing_is_made_again_and_replaced() {
        let listings = Listings::default();
        let calls = AtomicUsize::new(0);
        let list = || list_a(&calls);
        listings.get("k", "", KEEP, list).await.unwrap();
        // Too old for a caller asking for a new one (a lookup before a create)...
        listings.get("k", "", Duration::ZERO, list).await.unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 2);
        // ...and that one replaced the old: a caller content with a minute's age reuses it,
        // and another credential's listing is its own.
        listings.get("k", "", KEEP, list).await.unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 2);
        listings.get("j", "", Duration::ZERO, list).await.unwrap();
        assert_eq!(listings.held(), 2);
    }

    #[tokio::test]
    async fn a_caller_wanting_a_new_listing_joins_one_being_made() {
        let listings = Listings::default();
        let calls = AtomicUsize::new(0);
        let list = || list_a(&calls);
        let (x, y) = tokio::join!(
            listings.get("k", "", KEEP, list),
            listings.get("k", "", Duration::ZERO, list),
        );
        assert!(x.is_ok() && y.is_ok());
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_failure_of_another_kind_of_caller_is_not_shared_and_never_panics() {
        // The config's check and its resources' poll share listings but report failures in
        // their own types: the second caller lists for itself.
        #[derive(Clone, Debug, PartialEq)]
        struct PollFailure;
        let listings = Listings::default();
        let failing = || async {
            Err::<Vec<Listed<u32>>, _>(providers::Error::DependencyNotReady("down".into()))
        };
        let e = listings.get("k", "", KEEP, failing).await.unwrap_err();
        assert_eq!(e.to_string(), "down");
        let polled = listings
            .get("k", "", KEEP, || async {
                Err::<Vec<Listed<u32>>, _>(PollFailure)
            })
            .await;
        assert_eq!(polled.unwrap_err(), PollFailure);
        let recovered = listings
            .get("k", "", KEEP, || async {
                Ok::<_, PollFailure>(vec![listed("a")])
            })
            .await
            .expect("listed for itself");
        assert!(recovered.contains_key("a"));
    }

    #[tokio::test]
    async fn what_roleplane_creates_joins_the_listing_and_a_listing_being_made_is_dropped() {
        let listings = Listings::default();
        let calls = AtomicUsize::new(0);
        let list = || list_a(&calls);
        let before = listings.get("k", "", KEEP, list).await.unwrap();
        listings.insert("k", "", listed("b"));
        assert!(
            !before.contains_key("b"),
            "a listing being read is copied, not changed under its reader"
        );
        // Another credential's or scope's insert touches nothing held.
        listings.insert("k", "other", listed("c"));
        let held = listings.get("k", "", KEEP, list).await.unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 1, "no listing after a create");
        assert!(held.contains_key("a") && held.contains_key("b") && !held.contains_key("c"));
        assert_eq!(listings.held(), 1);

        // A create that ends while the listing is being made: the listing may have been made
        // before the create landed, so it is dropped, and the next caller lists again.
        listings.forget("k", "");
        let (made, ()) = tokio::join!(listings.get("k", "", KEEP, list), async {
            listings.insert("k", "", listed("b"));
        });
        assert!(made.is_ok());
        assert_eq!(
            listings.held(),
            0,
            "a listing made across a create is not kept"
        );
        listings.get("k", "", KEEP, list).await.unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn a_failed_listing_answers_for_a_few_seconds() {
        let listings = Listings::default();
        let calls = AtomicUsize::new(0);
        let failing = || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err::<Vec<Listed<u32>>, _>(providers::Error::DependencyNotReady("down".into()))
        };
        for _ in 0..3 {
            let e = listings.get("k", "", KEEP, failing).await.unwrap_err();
            assert_eq!(e.to_string(), "down");
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        // A caller wanting a new listing does not take the failure.
        let _ = listings.get("k", "", Duration::ZERO, failing).await;
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }
}
