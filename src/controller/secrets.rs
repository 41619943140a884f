//! Re-running what depends on a changed Secret or config. Secrets are watched one by one (a
//! metadata-only watch with a `metadata.name` field selector) and only once a config references
//! them, so there is no cluster-wide Secret cache; values are read on demand by the reconcilers.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use futures::StreamExt;
use k8s_openapi::api::core::v1::Secret;
use kube::core::PartialObjectMeta;
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client, ResourceExt};

use crate::crd::ProviderConfigKind;

/// A resource to re-run: (kind, namespace, name); cluster-scoped kinds use an empty namespace.
pub type Dependent = (&'static str, String, String);

type ByName = Box<dyn Fn(&str, &str) + Send + Sync>;
type ByConfig = Box<dyn Fn(ProviderConfigKind, &str, &str) + Send + Sync>;

struct Entry {
    kind: &'static str,
    namespace: Option<String>,
    by_name: ByName,
    by_config: ByConfig,
}

#[derive(Default)]
struct State {
    tasks: HashMap<(String, String), tokio::task::JoinHandle<()>>,
    dependents: HashMap<(String, String), HashSet<Dependent>>,
    triggers: Vec<Entry>,
}

/// The Secret watch and the trigger registry of every controller.
#[derive(Clone)]
pub struct SecretWatch {
    client: Client,
    state: Arc<Mutex<State>>,
}

impl SecretWatch {
    pub fn new(client: Client) -> Self {
        Self {
            client,
            state: Arc::default(),
        }
    }

    /// Registers a controller: `by_name` re-runs one of its objects, `by_config` re-runs every
    /// object using a config (kind, namespace, name).
    pub fn register(
        &self,
        kind: &'static str,
        namespace: Option<String>,
        by_name: impl Fn(&str, &str) + Send + Sync + 'static,
        by_config: impl Fn(ProviderConfigKind, &str, &str) + Send + Sync + 'static,
    ) {
        self.state
            .lock()
            .expect("secret watch poisoned")
            .triggers
            .push(Entry {
                kind,
                namespace,
                by_name: Box::new(by_name),
                by_config: Box::new(by_config),
            });
    }

    /// Re-runs one object.
    pub fn fire(&self, dependent: &Dependent) {
        let state = self.state.lock().expect("secret watch poisoned");
        let (kind, ns, name) = dependent;
        for e in state.triggers.iter().filter(|e| e.kind == *kind) {
            if e.namespace.as_deref().is_none_or(|n| n == ns) {
                (e.by_name)(ns, name);
            }
        }
    }

    /// Re-runs every managed object that uses this config.
    pub fn config_changed(&self, kind: ProviderConfigKind, namespace: &str, name: &str) {
        let state = self.state.lock().expect("secret watch poisoned");
        for e in &state.triggers {
            (e.by_config)(kind, namespace, name);
        }
    }

    /// Notes that `dependent` uses Secret `namespace/name`, starting a watch on it if needed.
    pub fn track(&self, namespace: &str, name: &str, dependent: Dependent) {
        let key = (namespace.to_string(), name.to_string());
        let mut state = self.state.lock().expect("secret watch poisoned");
        state
            .dependents
            .entry(key.clone())
            .or_default()
            .insert(dependent);
        if state.tasks.contains_key(&key) {
            return;
        }
        let api: Api<PartialObjectMeta<Secret>> = Api::namespaced(self.client.clone(), namespace);
        let config = watcher::Config::default().fields(&format!("metadata.name={name}"));
        let this = self.clone();
        let watched = key.clone();
        let task = tokio::spawn(async move {
            let mut last_version: Option<String> = None;
            let mut events = watcher(api, config).default_backoff().boxed();
            while let Some(event) = events.next().await {
                let changed = match event {
                    Ok(watcher::Event::Apply(m) | watcher::Event::InitApply(m)) => {
                        let rv = m.resource_version();
                        // The first sighting is the state the users were just reconciled with.
                        let changed = last_version.is_some() && last_version != rv;
                        last_version = rv;
                        changed
                    }
                    Ok(watcher::Event::Delete(_)) => {
                        last_version = Some(String::new());
                        true
                    }
                    Ok(_) => false,
                    Err(e) => {
                        tracing::debug!(error = %e, "secret watch error");
                        false
                    }
                };
                if changed {
                    tracing::info!(namespace = %watched.0, secret = %watched.1, "secret changed; re-running its users");
                    this.secret_changed(&watched);
                }
            }
        });
        state.tasks.insert(key, task);
    }

    fn secret_changed(&self, key: &(String, String)) {
        let dependents: Vec<Dependent> = {
            let state = self.state.lock().expect("secret watch poisoned");
            state
                .dependents
                .get(key)
                .map(|d| d.iter().cloned().collect())
                .unwrap_or_default()
        };
        for d in &dependents {
            self.fire(d);
        }
    }

    /// Stops every watch.
    pub fn stop(&self) {
        let mut state = self.state.lock().expect("secret watch poisoned");
        for (_, t) in state.tasks.drain() {
            t.abort();
        }
    }
}
