//! Shared state: objects per resource type, the global resourceVersion counter, the event
//! history kept for watch resumption, open watchers, list snapshots for `continue`, and the
//! request log. Every change goes through `commit_*`, which assigns the next resourceVersion
//! and fans the watch event out while the state lock is held (so watches never miss events).

use std::collections::{BTreeMap, HashMap, VecDeque};

use serde_json::{Value, json};
use tokio::sync::mpsc::UnboundedSender;

use super::managed::{self, Entry};
use super::read::FieldSelector;
use super::registry::{Registry, ResourceType};

/// One request served by the double.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedRequest {
    pub method: String,
    /// Path and query, as sent by the client.
    pub path: String,
    /// Response status code (None while the request is still being handled).
    pub status: Option<u16>,
}

#[derive(Debug, Clone)]
pub struct Stored {
    pub obj: Value,
    pub managed: Vec<Entry>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    Added,
    Modified,
    Deleted,
}

#[derive(Debug, Clone)]
pub struct HistEvent {
    pub rv: u64,
    pub ty: usize,
    pub kind: EventType,
    pub obj: Value,
}

pub struct Watcher {
    pub ty: usize,
    pub namespace: Option<String>,
    /// Only selects on metadata.name/namespace, which never change: no enter/leave events.
    pub fields: FieldSelector,
    pub meta_only: bool,
    pub tx: UnboundedSender<Value>,
}

/// Remaining items of a paginated list, served at the snapshot's resourceVersion.
pub struct Snapshot {
    pub rv: u64,
    pub items: Vec<Value>,
}

pub type Key = (String, String);

pub struct State {
    pub registry: Registry,
    pub objects: Vec<BTreeMap<Key, Stored>>,
    pub rv: u64,
    pub history: VecDeque<HistEvent>,
    pub history_limit: usize,
    /// Watches from a resourceVersion below this get 410 Expired.
    pub oldest_rv: u64,
    pub watchers: Vec<Watcher>,
    pub snapshots: HashMap<String, Snapshot>,
    pub requests: Vec<RecordedRequest>,
    pub next_token: u64,
}

impl State {
    pub fn new(registry: Registry) -> Self {
        let n = registry.types.len();
        Self {
            registry,
            objects: (0..n).map(|_| BTreeMap::new()).collect(),
            rv: 1,
            history: VecDeque::new(),
            history_limit: 10_000,
            oldest_rv: 1,
            watchers: vec![],
            snapshots: HashMap::new(),
            requests: vec![],
            next_token: 0,
        }
    }

    pub fn rt(&self, ty: usize) -> &ResourceType {
        &self.registry.types[ty]
    }

    fn next_rv(&mut self) -> u64 {
        self.rv += 1;
        self.rv
    }

    fn set_rv(obj: &mut Value, rv: u64) {
        obj["metadata"]["resourceVersion"] = Value::from(rv.to_string());
    }

    pub fn commit_create(
        &mut self,
        ty: usize,
        key: Key,
        mut obj: Value,
        managed: Vec<Entry>,
    ) -> Value {
        let rv = self.next_rv();
        Self::set_rv(&mut obj, rv);
        self.objects[ty].insert(
            key,
            Stored {
                obj: obj.clone(),
                managed,
            },
        );
        self.emit(rv, ty, EventType::Added, &obj);
        obj
    }

    pub fn commit_update(
        &mut self,
        ty: usize,
        key: Key,
        mut obj: Value,
        managed: Vec<Entry>,
    ) -> Value {
        let rv = self.next_rv();
        Self::set_rv(&mut obj, rv);
        let stored = Stored {
            obj: obj.clone(),
            managed,
        };
        self.objects[ty].insert(key, stored);
        self.emit(rv, ty, EventType::Modified, &obj);
        obj
    }

    /// Removes an object; the DELETED event carries its last state at the deletion revision.
    pub fn commit_delete(&mut self, ty: usize, key: &Key) -> Option<Value> {
        let mut stored = self.objects[ty].remove(key)?;
        let rv = self.next_rv();
        Self::set_rv(&mut stored.obj, rv);
        self.emit(rv, ty, EventType::Deleted, &stored.obj);
        Some(stored.obj)
    }

    fn emit(&mut self, rv: u64, ty: usize, kind: EventType, obj: &Value) {
        let ev = HistEvent {
            rv,
            ty,
            kind,
            obj: obj.clone(),
        };
        let registry = &self.registry;
        let objects = &self.objects;
        self.watchers
            .retain(|w| match watch_event_for(registry, objects, w, &ev) {
                Some(v) => w.tx.send(v).is_ok(),
                None => !w.tx.is_closed(),
            });
        self.history.push_back(ev);
        while self.history.len() > self.history_limit {
            if let Some(old) = self.history.pop_front() {
                self.oldest_rv = old.rv + 1;
            }
        }
    }

    /// Forgets the whole event history and the list snapshots (like an etcd compaction):
    /// watches resuming from an older resourceVersion, and `continue` tokens, then get 410.
    pub fn compact(&mut self) {
        self.history.clear();
        self.snapshots.clear();
        self.oldest_rv = self.rv + 1;
    }

    pub fn new_token(&mut self) -> String {
        self.next_token += 1;
        format!("dC{}x{}", self.rv, self.next_token)
    }
}

/// An object as served (apiVersion/kind set, managedFields rendered).
pub fn render(rt: &ResourceType, obj: &Value, managed: Option<&[Entry]>) -> Value {
    let mut out = obj.clone();
    out["apiVersion"] = Value::from(rt.api_version());
    out["kind"] = Value::from(rt.kind.as_str());
    if let Some(entries) = managed.filter(|e| !e.is_empty()) {
        out["metadata"]["managedFields"] = managed::render(entries);
    }
    out
}

/// `PartialObjectMetadata` form for `Accept: ...;as=PartialObjectMetadata` clients.
pub fn to_partial(obj: &Value) -> Value {
    json!({
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": obj["metadata"],
    })
}

/// The watch line (JSON) a watcher should see for a history event, if any.
pub fn watch_event_for(
    registry: &Registry,
    objects: &[BTreeMap<Key, Stored>],
    w: &Watcher,
    ev: &HistEvent,
) -> Option<Value> {
    if ev.ty != w.ty {
        return None;
    }
    if let Some(ns) = &w.namespace
        && ev.obj["metadata"]["namespace"].as_str() != Some(ns.as_str())
    {
        return None;
    }
    if !w.fields.matches(&ev.obj) {
        return None;
    }
    let ty = match ev.kind {
        EventType::Added => "ADDED",
        EventType::Modified => "MODIFIED",
        EventType::Deleted => "DELETED",
    };
    let rt = &registry.types[ev.ty];
    let key = (
        ev.obj["metadata"]["namespace"]
            .as_str()
            .unwrap_or("")
            .to_string(),
        ev.obj["metadata"]["name"]
            .as_str()
            .unwrap_or("")
            .to_string(),
    );
    let managed = objects[ev.ty]
        .get(&key)
        .filter(|s| s.obj["metadata"]["resourceVersion"] == ev.obj["metadata"]["resourceVersion"])
        .map(|s| s.managed.as_slice());
    let mut obj = render(rt, &ev.obj, managed);
    if w.meta_only {
        obj = to_partial(&obj);
    }
    Some(json!({"type": ty, "object": obj}))
}
