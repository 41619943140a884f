//! When each benchmark object first went Ready, seen through a watch (the benchmark's own
//! client, not the counting proxy).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use kube::api::{Api, ApiResource, DynamicObject};
use kube::runtime::watcher;
use tokio::sync::Notify;

#[derive(Clone, Default)]
pub struct Tracker {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    /// (namespace, name) → when first seen Ready.
    ready: Mutex<HashMap<(String, String), Instant>>,
    /// (namespace, name) → a failure reason seen on `Synced` (not Ready), the latest.
    failing: Mutex<HashMap<(String, String), String>>,
    changed: Notify,
}

fn condition<'a>(obj: &'a DynamicObject, kind: &str) -> Option<&'a serde_json::Value> {
    obj.data["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == kind)
}

impl Tracker {
    /// Watches `resources` in every namespace starting with `prefix`.
    pub fn start(client: kube::Client, resources: Vec<ApiResource>, prefix: String) -> Self {
        let tracker = Self::default();
        for ar in resources {
            let api: Api<DynamicObject> = Api::all_with(client.clone(), &ar);
            let t = tracker.clone();
            let prefix = prefix.clone();
            tokio::spawn(async move {
                let mut events = watcher(api, watcher::Config::default()).boxed();
                while let Some(event) = events.next().await {
                    let obj = match event {
                        Ok(watcher::Event::Apply(o) | watcher::Event::InitApply(o)) => o,
                        Ok(_) => continue,
                        Err(e) => {
                            eprintln!("bench: watch error: {e}");
                            tokio::time::sleep(Duration::from_secs(1)).await;
                            continue;
                        }
                    };
                    let ns = obj.metadata.namespace.clone().unwrap_or_default();
                    if !ns.starts_with(&prefix) {
                        continue;
                    }
                    let key = (ns, obj.metadata.name.clone().unwrap_or_default());
                    if condition(&obj, "Ready").is_some_and(|c| c["status"] == "True") {
                        t.inner
                            .ready
                            .lock()
                            .expect("lock")
                            .entry(key)
                            .or_insert_with(Instant::now);
                        t.inner.changed.notify_waiters();
                    } else if let Some(c) =
                        condition(&obj, "Synced").filter(|c| c["status"] == "False")
                    {
                        let reason = c["reason"].as_str().unwrap_or("?").to_string();
                        t.inner.failing.lock().expect("lock").insert(key, reason);
                    }
                }
            });
        }
        tracker
    }

    pub fn ready_at(&self, ns: &str, name: &str) -> Option<Instant> {
        let key = (ns.to_string(), name.to_string());
        self.inner.ready.lock().expect("lock").get(&key).copied()
    }

    pub fn ready_count(&self) -> usize {
        self.inner.ready.lock().expect("lock").len()
    }

    /// Failure reasons seen on objects not (yet) Ready, with how many objects had each.
    pub fn failures(&self) -> Vec<(String, usize)> {
        let ready = self.inner.ready.lock().expect("lock");
        let mut counts: HashMap<String, usize> = HashMap::new();
        for (key, reason) in self.inner.failing.lock().expect("lock").iter() {
            if !ready.contains_key(key) {
                *counts.entry(reason.clone()).or_default() += 1;
            }
        }
        let mut v: Vec<_> = counts.into_iter().collect();
        v.sort();
        v
    }

    /// Waits until `count` objects are Ready, or `deadline`; false on the deadline.
    pub async fn wait_count(&self, count: usize, deadline: Instant) -> bool {
        loop {
            let notified = self.inner.changed.notified();
            if self.ready_count() >= count {
                return true;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            let _ = tokio::time::timeout(left.min(Duration::from_secs(1)), notified).await;
        }
    }

    /// Waits until `ns/name` is Ready, or `deadline`.
    pub async fn wait_one(&self, ns: &str, name: &str, deadline: Instant) -> Option<Instant> {
        loop {
            let notified = self.inner.changed.notified();
            if let Some(at) = self.ready_at(ns, name) {
                return Some(at);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            let _ = tokio::time::timeout(left.min(Duration::from_millis(200)), notified).await;
        }
    }
}
