//! Shared state: objects per resource type, the global resourceVersion counter, the event
//! history kept for watch resumption, open watchers, list snapshots for `continue`, and the
//! request log. Every change goes through `commit_*`, which assigns the next resourceVersion
//! and fans the watch event out while the state lock is held (so watches never miss events).

use std::collections::{BTreeMap, HashMap, VecDeque};

use serde_json::{Value, json};
use tokio::sync::mpsc::UnboundedSender;

use super::managed::{self, Entry};
use super::registry::{Registry, ResourceType};
use super::select::FieldSelector;

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

/// One change, kept for watch replay: `kind` is the watch event type, `obj` the object as
/// served at that revision.
#[derive(Debug, Clone)]
pub struct HistEvent {
    pub rv: u64,
    pub ty: usize,
    pub kind: &'static str,
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

impl Watcher {
    /// The watch line (JSON) this watcher gets for a history event, if any.
    pub fn line(&self, ev: &HistEvent) -> Option<Value> {
        let ns = ev.obj["metadata"]["namespace"].as_str();
        if ev.ty != self.ty
            || self
                .namespace
                .as_deref()
                .is_some_and(|want| ns != Some(want))
            || !self.fields.matches(&ev.obj)
        {
            return None;
        }
        let obj = if self.meta_only {
            to_partial(&ev.obj)
        } else {
            ev.obj.clone()
        };
        Some(json!({"type": ev.kind, "object": obj}))
    }
}

/// The finalizer kube-apiserver puts on a CRD being deleted, until its custom resources are gone.
pub const CRD_CLEANUP: &str = "customresourcecleanup.apiextensions.k8s.io";

/// Watch history kept for resumption; older revisions answer 410 Expired.
const HISTORY_LIMIT: usize = 10_000;

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

    /// Serves a new resource type (a CRD just created); returns its index.
    pub fn register(&mut self, rt: ResourceType) -> usize {
        self.registry.types.push(rt);
        self.objects.push(BTreeMap::new());
        self.registry.types.len() - 1
    }

    /// The index of the served type a stored CRD object defines, if any.
    pub fn crd_type(&self, crd: &Value) -> Option<usize> {
        let spec = &crd["spec"];
        let group = spec["group"].as_str()?;
        let plural = spec["names"]["plural"].as_str()?;
        self.registry
            .types
            .iter()
            .position(|t| t.served && t.is_crd() && t.group == group && t.plural == plural)
    }

    /// Removes what deletions finished: terminating namespaces and CRDs nothing is left in.
    pub fn settle(&mut self) {
        self.settle_namespaces();
        self.settle_crds();
    }

    /// Removes every terminating CRD none of whose custom resources is left (the finalizer of
    /// kube-apiserver's CRD cleanup controller goes), and stops serving its type.
    fn settle_crds(&mut self) {
        let crd_ty = self
            .registry
            .builtin(super::registry::Builtin::CustomResourceDefinition);
        let terminating: Vec<Key> = self.objects[crd_ty]
            .iter()
            .filter(|(_, s)| s.obj["metadata"]["deletionTimestamp"].is_string())
            .map(|(k, _)| k.clone())
            .collect();
        for key in terminating {
            let obj = self.objects[crd_ty][&key].obj.clone();
            let ty = self.crd_type(&obj);
            if ty.is_some_and(|ty| !self.objects[ty].is_empty()) {
                continue;
            }
            let finalizers = super::meta::finalizers(&obj);
            let others: Vec<&String> = finalizers
                .iter()
                .filter(|f| f.as_str() != CRD_CLEANUP)
                .collect();
            if let Some(ty) = ty {
                self.registry.types[ty].served = false;
            }
            if others.is_empty() {
                self.commit_delete(crd_ty, &key);
            } else if others.len() != finalizers.len() {
                let mut obj = obj;
                obj["metadata"]["finalizers"] = Value::from(
                    others
                        .iter()
                        .map(|f| Value::from(f.as_str()))
                        .collect::<Vec<_>>(),
                );
                let managed = self.objects[crd_ty][&key].managed.clone();
                self.commit_update(crd_ty, key, obj, managed);
            }
        }
    }

    /// Whether the type `ty` is a custom resource whose CRD is being deleted.
    pub fn crd_terminating(&self, ty: usize) -> bool {
        let rt = self.rt(ty);
        if !rt.is_crd() {
            return false;
        }
        let crd_ty = self
            .registry
            .builtin(super::registry::Builtin::CustomResourceDefinition);
        let name = format!("{}.{}", rt.plural, rt.group);
        self.objects[crd_ty]
            .get(&(String::new(), name))
            .is_some_and(|s| s.obj["metadata"]["deletionTimestamp"].is_string())
    }

    /// Stores (for DELETED: removes) the object stamped with the next resourceVersion and
    /// fans the watch event out; returns the object as stored.
    fn commit(
        &mut self,
        ty: usize,
        key: Key,
        kind: &'static str,
        mut obj: Value,
        managed: Vec<Entry>,
    ) -> Value {
        self.rv += 1;
        obj["metadata"]["resourceVersion"] = Value::from(self.rv.to_string());
        let ev = HistEvent {
            rv: self.rv,
            ty,
            kind,
            obj: render(self.rt(ty), &obj, Some(&managed)),
        };
        if kind == "DELETED" {
            self.objects[ty].remove(&key);
        } else {
            let stored = Stored {
                obj: obj.clone(),
                managed,
            };
            self.objects[ty].insert(key, stored);
        }
        self.watchers.retain(|w| match w.line(&ev) {
            Some(line) => w.tx.send(line).is_ok(),
            None => !w.tx.is_closed(),
        });
        self.history.push_back(ev);
        while self.history.len() > HISTORY_LIMIT {
            if let Some(old) = self.history.pop_front() {
                self.oldest_rv = old.rv + 1;
            }
        }
        obj
    }

    pub fn commit_create(&mut self, ty: usize, key: Key, obj: Value, managed: Vec<Entry>) -> Value {
        self.commit(ty, key, "ADDED", obj, managed)
    }

    pub fn commit_update(&mut self, ty: usize, key: Key, obj: Value, managed: Vec<Entry>) -> Value {
        self.commit(ty, key, "MODIFIED", obj, managed)
    }

    /// Removes an object; the DELETED event carries its last state at the deletion revision.
    pub fn commit_delete(&mut self, ty: usize, key: &Key) -> Option<Value> {
        let Stored { obj, managed } = self.objects[ty].get(key)?.clone();
        Some(self.commit(ty, key.clone(), "DELETED", obj, managed))
    }

    /// Removes every terminating namespace that nothing is left in (the namespace controller's
    /// last step).
    pub fn settle_namespaces(&mut self) {
        let Some(ns_ty) = (0..self.objects.len())
            .find(|ty| self.rt(*ty).builtin == Some(super::registry::Builtin::Namespace))
        else {
            return;
        };
        let terminating: Vec<Key> = self.objects[ns_ty]
            .iter()
            .filter(|(_, s)| s.obj["metadata"]["deletionTimestamp"].is_string())
            .map(|(k, _)| k.clone())
            .collect();
        for key in terminating {
            let name = &key.1;
            let empty = (0..self.objects.len())
                .filter(|ty| self.rt(*ty).namespaced)
                .all(|ty| self.objects[ty].keys().all(|(ns, _)| ns != name));
            if empty {
                self.commit_delete(ns_ty, &key);
            }
        }
    }

    /// Whether `namespace` exists and is being deleted (no new content may be created in it).
    pub fn terminating(&self, namespace: &str) -> bool {
        (0..self.objects.len())
            .filter(|ty| self.rt(*ty).builtin == Some(super::registry::Builtin::Namespace))
            .any(|ty| {
                self.objects[ty]
                    .get(&(String::new(), namespace.to_string()))
                    .is_some_and(|s| s.obj["metadata"]["deletionTimestamp"].is_string())
            })
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
