//! Lanes: the resources of each product that publishes rate limits are reconciled by a
//! controller of their own, with reconcile slots of their own, over the kind's one watch and
//! cache; the kind's products that publish none share one more. So the resources of a product
//! budgeted to its published windows (Statsig's 100 writes per 10 s), which come back at their
//! own places in those windows, never wait for a slot behind hundreds of another product's
//! coming back together when its default budget reopens. The products without published limits
//! share their lane (and its slots) as all products did before: with slots of their own each,
//! their reconciles spent their small budgets on reads (a BigPanda create lists the roles, and
//! every create makes that listing stale; Looker's creates of shared sets conflict), and memory
//! went over its target (docs/performance.md, fourteenth session).
//!
//! The watch is shared through a [`Pump`]: whichever lane's controller polls its trigger stream
//! drives the watch, which updates the cache and hands each change to its lane. So a
//! controller, when it looks for the next reconcile to start, has first taken in every change
//! received so far, as a controller driving its own watch does: a reconcile that starts right
//! after another of the same resource sees the status the first one wrote.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use futures::Stream;
use futures::stream::BoxStream;
use futures::task::{ArcWake, AtomicWaker};
use kube::core::DeserializeGuard;

use crate::crd::{Managed, ProviderKind};

/// A lane: the resources of one product that publishes rate limits, or (`None`) those of the
/// kind's products that publish none.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Lane(Option<ProviderKind>);

impl Lane {
    /// The name its roster is known by (see `schedule`): the product's, or the kind's.
    pub(super) fn name<K: Managed>(self) -> &'static str {
        self.0.map_or(K::KIND, ProviderKind::as_str)
    }

    /// The shortest write window of its product's published limits, as (seconds, calls); None
    /// for the shared lane.
    pub(super) fn window(self) -> Option<(u64, u32)> {
        self.0
            .and_then(|p| crate::providers::limits(p).shortest_write_window())
    }
}

/// Whether `product` has a lane of its own.
fn own(product: ProviderKind) -> bool {
    crate::providers::limits(product).published()
}

fn of_kind<K: Managed>() -> impl Iterator<Item = ProviderKind> {
    ProviderKind::ALL
        .iter()
        .copied()
        .filter(|p| p.managed_kind() == K::KIND)
}

/// The lanes of kind `K`: the products with lanes of their own, shortest write windows first,
/// then the shared lane (when any product of `K` publishes no limits).
pub(super) fn lanes<K: Managed>() -> Vec<Lane> {
    let mut lanes: Vec<Lane> = of_kind::<K>()
        .filter(|p| own(*p))
        .map(|p| Lane(Some(p)))
        .collect();
    lanes.sort_by_key(|l| l.window().map_or((u64::MAX, 0), |(s, c)| (s, c)));
    if of_kind::<K>().any(|p| !own(p)) {
        lanes.push(Lane(None));
    }
    lanes
}

/// The lane that reconciles `obj` (of kind `K`): its product's; one that names no usable
/// product (or cannot be read) goes to the shared lane, or where there is none, the first.
fn lane<K: Managed>(obj: Option<&K>) -> Lane {
    match obj.and_then(|o| o.product().ok()).map(|p| p.kind()) {
        Some(p) if own(p) => Lane(Some(p)),
        Some(_) => Lane(None),
        None if of_kind::<K>().any(|p| !own(p)) => Lane(None),
        None => Lane(of_kind::<K>().next()),
    }
}

/// The name of the lane that reconciles `obj`, which its roster is known by (see `schedule`).
pub(super) fn name<K: Managed>(obj: Option<&K>) -> &'static str {
    lane(obj).name::<K>()
}

/// The place of `guard`'s lane in `lanes` (those of [`lanes`]).
pub(super) fn index<K: Managed>(lanes: &[Lane], guard: &DeserializeGuard<K>) -> usize {
    let lane = lane(guard.0.as_ref().ok());
    lanes.iter().position(|l| *l == lane).unwrap_or(0)
}

/// One stream shared by several lanes, each taking the items routed to it. Whichever lane is
/// polled drives the source (see the module's comment).
pub(super) struct Pump<T> {
    shared: Arc<Mutex<Shared<T>>>,
    wakers: Arc<Wakers>,
    lane: usize,
}

/// Which lane an item goes to.
type Route<T> = Box<dyn Fn(&T) -> usize + Send>;

struct Shared<T> {
    source: BoxStream<'static, T>,
    route: Route<T>,
    queues: Vec<VecDeque<T>>,
    done: bool,
}

/// The lanes' wakers: the source's waker wakes them all (any of them drives it).
struct Wakers(Vec<AtomicWaker>);

impl ArcWake for Wakers {
    fn wake_by_ref(arc_self: &Arc<Self>) {
        arc_self.0.iter().for_each(AtomicWaker::wake);
    }
}

impl<T: Send + 'static> Pump<T> {
    /// `source` split into `lanes` streams; `route` says which one an item goes to (one out of
    /// range goes to the first).
    pub(super) fn split(
        source: BoxStream<'static, T>,
        lanes: usize,
        route: impl Fn(&T) -> usize + Send + 'static,
    ) -> Vec<Self> {
        let lanes = lanes.max(1);
        let shared = Arc::new(Mutex::new(Shared {
            source,
            route: Box::new(route),
            queues: (0..lanes).map(|_| VecDeque::new()).collect(),
            done: false,
        }));
        let wakers = Arc::new(Wakers((0..lanes).map(|_| AtomicWaker::new()).collect()));
        (0..lanes)
            .map(|lane| Pump {
                shared: shared.clone(),
                wakers: wakers.clone(),
                lane,
            })
            .collect()
    }
}

impl<T> Pump<T> {
    /// Drives the source as far as it goes, each item to its lane's queue, with this lane
    /// woken when any lane may have more; true once the source has ended.
    fn fill(&self, cx: &mut Context<'_>, shared: &mut Shared<T>) -> bool {
        self.wakers.0[self.lane].register(cx.waker());
        let all: Waker = futures::task::waker(self.wakers.clone());
        let mut source_cx = Context::from_waker(&all);
        while !shared.done {
            match shared.source.as_mut().poll_next(&mut source_cx) {
                Poll::Ready(Some(item)) => {
                    let to = Some((shared.route)(&item))
                        .filter(|&to| to < shared.queues.len())
                        .unwrap_or(0);
                    shared.queues[to].push_back(item);
                    if to != self.lane {
                        self.wakers.0[to].wake();
                    }
                }
                Poll::Ready(None) => {
                    shared.done = true;
                    futures::task::ArcWake::wake_by_ref(&self.wakers);
                }
                Poll::Pending => break,
            }
        }
        shared.done
    }

    /// Drives the source until it ends, leaving every lane's items queued for it (this one's
    /// too): for before the lanes' controllers run.
    pub(super) async fn drive(&self) {
        std::future::poll_fn(|cx| {
            let mut shared = self.shared.lock().expect("pump poisoned");
            match self.fill(cx, &mut shared) {
                true => Poll::Ready(()),
                false => Poll::Pending,
            }
        })
        .await
    }
}

impl<T> Stream for Pump<T> {
    type Item = T;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let mut shared = self.shared.lock().expect("pump poisoned");
        let done = self.fill(cx, &mut shared);
        let queue = &mut shared.queues[self.lane];
        match queue.pop_front() {
            Some(item) => {
                if queue.is_empty() {
                    // The room a burst took is not kept.
                    queue.shrink_to_fit();
                }
                Poll::Ready(Some(item))
            }
            None if done => Poll::Ready(None),
            None => Poll::Pending,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::StreamExt;
    use std::time::Duration;

    #[test]
    fn products_that_publish_limits_have_lanes_of_their_own_the_others_share_one() {
        use crate::crd::{PermissionGroup, Role};
        let roles = lanes::<Role>();
        // Statsig publishes its windows; SlashID, Looker and BigPanda publish none.
        assert_eq!(roles, [Lane(Some(ProviderKind::Statsig)), Lane(None)]);
        assert_eq!(roles[0].name::<Role>(), "statsig");
        assert_eq!(roles[1].name::<Role>(), "Role");
        assert_eq!(roles[0].window(), Some((10, 100)));
        assert_eq!(lanes::<PermissionGroup>(), [Lane(None)]);
        // One naming no product goes to the last lane.
        assert_eq!(name::<Role>(None), "Role");
    }

    #[tokio::test]
    async fn each_lane_gets_its_own_items_in_order_whichever_lane_drives_the_source() {
        // A lane that is never woken would hang: bounded.
        tokio::time::timeout(Duration::from_secs(10), async {
            let (tx, rx) = futures::channel::mpsc::unbounded::<u32>();
            let mut lanes = Pump::split(rx.boxed(), 3, |n| (*n % 4) as usize);
            let mut third = lanes.pop().unwrap();
            let mut second = lanes.pop().unwrap();
            let mut first = lanes.pop().unwrap();
            // The second lane waits in a task of its own.
            let waiting = tokio::spawn(async move {
                let mut got = Vec::new();
                while let Some(n) = second.next().await {
                    got.push(n);
                }
                got
            });
            // It waits first: it drives the source, and the first lane's items come through it.
            tokio::task::yield_now().await;
            for n in 0..12 {
                tx.unbounded_send(n).unwrap();
            }
            let mut firsts = Vec::new();
            for _ in 0..6 {
                firsts.push(first.next().await.unwrap());
            }
            // 3 and 7 and 11 (n % 4 == 3) are out of range: the first lane's.
            assert_eq!(firsts, [0, 3, 4, 7, 8, 11]);
            assert_eq!(third.next().await, Some(2));
            assert_eq!(third.next().await, Some(6));
            assert_eq!(third.next().await, Some(10));
            // An item sent later wakes a lane that waits, though no other lane is polled.
            tx.unbounded_send(13).unwrap();
            drop(tx);
            let got = tokio::time::timeout(Duration::from_secs(5), waiting)
                .await
                .expect("the waiting lane was woken")
                .unwrap();
            assert_eq!(got, [1, 5, 9, 13]);
            assert_eq!(first.next().await, None);
        })
        .await
        .expect("no lane waits for ever");
    }
}
