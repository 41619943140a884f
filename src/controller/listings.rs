//! Observation batched per credential: one listing of a credential's scope serves the drift
//! check of every resource in it. Resources of one credential are polled together (see
//! `Context::next_poll`), the first to arrive lists the scope (paged, once: concurrent callers
//! wait for that listing), and the others compare against it while it is fresh. A listing
//! that fails is shared too, for a few seconds, so an outage costs one call, not one per
//! resource. Listings are dropped when they go stale or when Roleplane writes through that
//! credential and scope, so nothing is held between polls.

use std::any::Any;
use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::OnceCell;

use crate::providers::Listed;

/// How long a failed listing answers for everyone before the next caller tries again.
const FAILURE_TTL: Duration = Duration::from_secs(5);

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
    /// if there is one, one being made if one is, else the one `list` makes now. One credential
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
            slots.retain(|_, s| s.cell.get().is_none_or(|d| usable(d, fresh)));
            slots
                .entry((key.to_string(), scope.to_string()))
                .or_insert_with(|| Slot {
                    cell: Arc::new(OnceCell::new()),
                })
                .clone()
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
    let ttl = if result.is_ok() { fresh } else { FAILURE_TTL };
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
            listings.get("k", "", Duration::from_secs(60), list),
            listings.get("k", "", Duration::from_secs(60), list),
        );
        assert_eq!(x.unwrap().len(), 2);
        assert_eq!(y.unwrap().len(), 2);
        let again = listings
            .get("k", "", Duration::from_secs(60), list)
            .await
            .unwrap();
        assert!(again.contains_key("b"));
        assert_eq!(
            calls.load(Ordering::SeqCst),
            1,
            "one listing for three callers"
        );
        // Another scope or credential lists on its own; a write drops the listing.
        listings
            .get("k", "other", Duration::from_secs(60), list)
            .await
            .unwrap();
        listings.forget("k", "");
        listings
            .get("k", "", Duration::from_secs(60), list)
            .await
            .unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn a_stale_listing_is_made_again_and_dropped() {
        let listings = Listings::default();
        let calls = AtomicUsize::new(0);
        let list = || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Ok::<_, providers::Error>(vec![listed("a")])
        };
        listings.get("k", "", Duration::ZERO, list).await.unwrap();
        listings.get("k", "", Duration::ZERO, list).await.unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 2);
        listings.get("j", "", Duration::ZERO, list).await.unwrap();
        assert_eq!(listings.held(), 1, "stale listings are not kept");
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
        let e = listings
            .get("k", "", Duration::from_secs(60), failing)
            .await
            .unwrap_err();
        assert_eq!(e.to_string(), "down");
        let polled = listings
            .get("k", "", Duration::from_secs(60), || async {
                Err::<Vec<Listed<u32>>, _>(PollFailure)
            })
            .await;
        assert_eq!(polled.unwrap_err(), PollFailure);
        let recovered = listings
            .get("k", "", Duration::from_secs(60), || async {
                Ok::<_, PollFailure>(vec![listed("a")])
            })
            .await
            .expect("listed for itself");
        assert!(recovered.contains_key("a"));
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
            let e = listings
                .get("k", "", Duration::from_secs(60), failing)
                .await
                .unwrap_err();
            assert_eq!(e.to_string(), "down");
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }
}
