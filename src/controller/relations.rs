//! How kinds trigger each other, with kube-runtime's relation tools (`watches_stream`,
//! `reconcile_on`, shared reflectors): a changed Secret re-runs the configs and resources that use
//! it; a config whose generation or Ready state changes re-runs the resources that use it (these
//! go through the resource controller's roster, a few at a time: see `schedule`); a resource
//! whose cleanup finished re-runs its config (which may be waiting to be released).
//!
//! Secrets are watched once per watched namespace (once in all), metadata only: only their
//! namespace, name, finalizers and deletion time travel on, and every change first drops the
//! Secret from the reconciles' [`SecretCache`]. Configs are watched once and shared by every
//! controller that needs them.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use futures::channel::mpsc::{UnboundedReceiver, UnboundedSender, unbounded};
use futures::{Stream, StreamExt};
use k8s_openapi::api::core::v1::Secret;
use kube::core::{DeserializeGuard, ObjectMeta, PartialObjectMeta};
use kube::runtime::reflector::{self, ObjectRef, ReflectHandle, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client, Resource, ResourceExt};

use super::account::{ConfigKind, SecretCache};
use super::status::READY;
use crate::crd::{ClusterProviderConfig, FINALIZER, Managed, ProviderConfig, ProviderConfigKind};

/// How many changes a shared config watch buffers for a slow subscriber.
const SHARED_BUFFER: usize = 1024;

pub type SecretChanges = UnboundedReceiver<PartialObjectMeta<Secret>>;

/// One metadata-only Secret watch per scope (a namespace, or all), fanned out to subscribers.
#[derive(Default)]
pub struct Secrets {
    subscribers: HashMap<Option<String>, Vec<UnboundedSender<PartialObjectMeta<Secret>>>>,
}

impl Secrets {
    /// Changes (after the initial listing) of the Secrets in `scope`.
    pub fn subscribe(&mut self, scope: Option<String>) -> SecretChanges {
        let (tx, rx) = unbounded();
        self.subscribers.entry(scope).or_default().push(tx);
        rx
    }

    /// Starts the watches; they end when every subscriber is gone or the task is aborted.
    /// `cache` hears of every change first.
    pub fn start(
        self,
        client: &Client,
        cache: &Arc<SecretCache>,
    ) -> Vec<tokio::task::JoinHandle<()>> {
        self.subscribers
            .into_iter()
            .map(|(scope, subscribers)| {
                let api: Api<PartialObjectMeta<Secret>> = match &scope {
                    Some(ns) => Api::namespaced(client.clone(), ns),
                    None => Api::all(client.clone()),
                };
                tokio::spawn(fan_out(api, scope, subscribers, cache.clone()))
            })
            .collect()
    }
}

async fn fan_out(
    api: Api<PartialObjectMeta<Secret>>,
    scope: Option<String>,
    mut subscribers: Vec<UnboundedSender<PartialObjectMeta<Secret>>>,
    cache: Arc<SecretCache>,
) {
    let mut events = watcher(api, super::watch_config())
        .default_backoff()
        .boxed();
    while let Some(event) = events.next().await {
        // The initial listing is the state everything was just reconciled with: only later
        // changes are news.
        let meta = match event {
            Ok(watcher::Event::Apply(m) | watcher::Event::Delete(m)) => m,
            Ok(watcher::Event::InitDone) => {
                cache.watching(scope.as_deref(), true);
                continue;
            }
            // A (re)listing: what changed while the watch was away is not known yet.
            Ok(watcher::Event::Init) => {
                cache.watching(scope.as_deref(), false);
                continue;
            }
            Ok(watcher::Event::InitApply(_)) => continue,
            Err(e) => {
                cache.watching(scope.as_deref(), false);
                tracing::debug!(error = %e, "secret watch error");
                continue;
            }
        };
        cache.changed(
            meta.metadata.namespace.as_deref().unwrap_or_default(),
            meta.metadata.name.as_deref().unwrap_or_default(),
        );
        let name_only = PartialObjectMeta::<Secret> {
            types: meta.types.clone(),
            metadata: ObjectMeta {
                name: meta.metadata.name.clone(),
                namespace: meta.metadata.namespace.clone(),
                finalizers: meta.metadata.finalizers.clone(),
                deletion_timestamp: meta.metadata.deletion_timestamp.clone(),
                ..Default::default()
            },
            _phantom: Default::default(),
        };
        tracing::debug!(namespace = ?name_only.metadata.namespace, secret = ?name_only.metadata.name, "secret changed");
        subscribers.retain(|s| s.unbounded_send(name_only.clone()).is_ok());
        if subscribers.is_empty() {
            return;
        }
    }
}

/// A config kind watched once and shared: its store, and the subscriptions handed out.
pub struct SharedConfigs<C: ConfigKind> {
    pub reader: Store<DeserializeGuard<C>>,
    writer: reflector::store::Writer<DeserializeGuard<C>>,
}

impl<C: ConfigKind> SharedConfigs<C> {
    pub fn new() -> Self {
        let (reader, writer) = reflector::store_shared(SHARED_BUFFER);
        Self { reader, writer }
    }

    /// Every change of every config, for one more controller.
    pub fn subscribe(&self) -> ReflectHandle<DeserializeGuard<C>> {
        self.writer
            .subscribe()
            .expect("shared stores hand out subscriptions")
    }

    /// Starts the watch that feeds the store and every subscription.
    pub fn start(self, api: Api<DeserializeGuard<C>>) -> tokio::task::JoinHandle<()> {
        let stream = watcher(api, super::watch_config())
            .default_backoff()
            .modify(|guard| {
                if let Ok(config) = &mut guard.0 {
                    super::lean(config.meta_mut());
                }
            })
            .reflect_shared(self.writer)
            .for_each(|_| std::future::ready(()));
        tokio::spawn(stream)
    }
}

/// A config's store and a subscription to its changes, for a managed controller.
pub struct ConfigFeed<C: ConfigKind> {
    pub reader: Store<DeserializeGuard<C>>,
    pub changes: ReflectHandle<DeserializeGuard<C>>,
}

impl<C: ConfigKind> ConfigFeed<C> {
    pub fn of(shared: &SharedConfigs<C>) -> Self {
        Self {
            reader: shared.reader.clone(),
            changes: shared.subscribe(),
        }
    }
}

/// Where to tell a config controller that a resource let go of one of its configs.
pub struct ReleaseTo<C: ConfigKind> {
    pub configs: Store<DeserializeGuard<C>>,
    pub trigger: UnboundedSender<ObjectRef<DeserializeGuard<C>>>,
}

impl<C: ConfigKind> Clone for ReleaseTo<C> {
    fn clone(&self) -> Self {
        Self {
            configs: self.configs.clone(),
            trigger: self.trigger.clone(),
        }
    }
}

impl<C: ConfigKind> ReleaseTo<C> {
    /// Re-runs the config `target` if it is being deleted (it waits for its resources to go).
    fn release(&self, target: ObjectRef<DeserializeGuard<C>>) {
        let deleting = self
            .configs
            .get(&target)
            .is_some_and(|c| c.meta().deletion_timestamp.is_some());
        if deleting {
            let _ = self.trigger.unbounded_send(target);
        }
    }
}

/// Tells config controllers that a resource let go of its config.
#[derive(Clone)]
pub struct Released {
    pub namespaced: ReleaseTo<ProviderConfig>,
    pub cluster: Option<ReleaseTo<ClusterProviderConfig>>,
}

impl Released {
    /// Notes a resource change: once its cleanup finished, a config waiting for its resources
    /// to go may be released.
    pub fn resource_changed<K: Managed>(&self, obj: &K) {
        let gone = obj.meta().deletion_timestamp.is_some()
            && !obj.finalizers().iter().any(|f| f == FINALIZER);
        if !gone {
            return;
        }
        let r = &obj.managed().provider_config_ref;
        match r.kind {
            ProviderConfigKind::ProviderConfig => {
                let ns = obj.namespace().unwrap_or_default();
                self.namespaced.release(ObjectRef::new(&r.name).within(&ns));
            }
            ProviderConfigKind::ClusterProviderConfig => {
                if let Some(cluster) = &self.cluster {
                    cluster.release(ObjectRef::new(&r.name));
                }
            }
        }
    }
}

/// What a managed controller is triggered by besides its own kind.
pub struct Relations {
    pub configs: ConfigFeed<ProviderConfig>,
    pub cluster_configs: Option<ConfigFeed<ClusterProviderConfig>>,
    pub secrets: SecretChanges,
    pub released: Released,
}

/// Config changes that matter to the resources using it: a new generation, or a new Ready state.
fn config_changes<C: ConfigKind>(
    changes: ReflectHandle<DeserializeGuard<C>>,
) -> impl Stream<Item = Result<DeserializeGuard<C>, watcher::Error>> + Send {
    changes
        .map(|config| Ok((*config).clone()))
        .predicate_filter(config_hash::<C>, Default::default())
}

fn config_hash<C: ConfigKind>(guard: &DeserializeGuard<C>) -> Option<u64> {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    guard.meta().generation.hash(&mut h);
    if let Ok(config) = &guard.0 {
        let ready = config
            .config_status()
            .and_then(|s| super::status::find(&s.conditions, READY))
            .map(|c| c.status);
        format!("{ready:?}").hash(&mut h);
    }
    Some(h.finish())
}

/// The resources in `store` that use a config, each time one of `changes` matters to them.
fn users_of_changed<C: ConfigKind, K: Managed>(
    changes: ReflectHandle<DeserializeGuard<C>>,
    store: Store<DeserializeGuard<K>>,
) -> futures::stream::BoxStream<'static, Vec<Arc<DeserializeGuard<K>>>> {
    config_changes(changes)
        .filter_map(|change| std::future::ready(change.ok()))
        .map(move |config| {
            // A cluster-scoped config has no namespace.
            users(
                &store,
                C::KIND,
                config.namespace().as_deref(),
                &config.name_any(),
            )
        })
        .boxed()
}

/// The resources in `store` that use the config `kind`/`name` (in `namespace` for namespaced
/// configs).
fn users<K: Managed>(
    store: &Store<DeserializeGuard<K>>,
    kind: ProviderConfigKind,
    namespace: Option<&str>,
    name: &str,
) -> Vec<Arc<DeserializeGuard<K>>> {
    store
        .state()
        .into_iter()
        .filter(|guard| {
            guard.0.as_ref().is_ok_and(|obj| {
                let r = &obj.managed().provider_config_ref;
                r.kind == kind
                    && r.name == name
                    && (kind == ProviderConfigKind::ClusterProviderConfig
                        || obj.namespace().as_deref() == namespace)
            })
        })
        .collect()
}

/// The configs in `store` whose credentials are the Secret `secret`.
pub fn configs_using<C: ConfigKind>(
    store: &Store<DeserializeGuard<C>>,
    secret: &PartialObjectMeta<Secret>,
) -> Vec<ObjectRef<DeserializeGuard<C>>> {
    let (ns, name) = (secret.namespace(), secret.name_any());
    store
        .state()
        .iter()
        .filter(|guard| {
            guard.0.as_ref().is_ok_and(|config| {
                let view = config.view();
                Some(&view.secret_namespace) == ns.as_ref() && view.secret_name == name
            })
        })
        .map(|guard| ObjectRef::from_obj(&**guard))
        .collect()
}

/// What a managed controller whose own store is `store` is asked to reconcile because of
/// other kinds: batches of the resources using a changed config or Secret. They go through its
/// roster's hand-over (see `schedule`), a few at a time, not all at once into kube-runtime's
/// scheduler.
pub fn managed_triggers<K: Managed>(
    store: Store<DeserializeGuard<K>>,
    relations: Relations,
) -> impl Stream<Item = Vec<Arc<DeserializeGuard<K>>>> + Send + 'static {
    let Relations {
        configs,
        cluster_configs,
        secrets,
        released: _,
    } = relations;
    let mut triggers = vec![users_of_changed(configs.changes, store.clone())];
    let cluster_reader = cluster_configs.as_ref().map(|c| c.reader.clone());
    if let Some(cluster) = cluster_configs {
        triggers.push(users_of_changed(cluster.changes, store.clone()));
    }
    let namespaced_reader = configs.reader;
    triggers.push(
        secrets
            .map(move |secret: PartialObjectMeta<Secret>| {
                let mut found = Vec::new();
                for config in configs_using(&namespaced_reader, &secret) {
                    found.extend(users(
                        &store,
                        ProviderConfigKind::ProviderConfig,
                        config.namespace.as_deref(),
                        &config.name,
                    ));
                }
                for config in cluster_reader
                    .as_ref()
                    .map(|r| configs_using(r, &secret))
                    .unwrap_or_default()
                {
                    found.extend(users(
                        &store,
                        ProviderConfigKind::ClusterProviderConfig,
                        None,
                        &config.name,
                    ));
                }
                found
            })
            .boxed(),
    );
    futures::stream::select_all(triggers)
}
