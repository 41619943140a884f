//! The controllers: one generic reconciler for every managed kind (it names no product), one for
//! the config kinds, the relations that let a change of one kind re-run another, and the glue
//! that runs them.
//!
//! A reconcile goes: `reconcile` (loop, finalizer) → `execute` (account, lookup) → `decide` (pure:
//! the step) → `intent` (crash-safe create) or the provider → `report` (Events, then status).

pub(crate) mod account;
mod config;
mod credentials;
pub(crate) mod decide;
mod error;
mod events;
pub(crate) mod execute;
mod guardrails;
mod intent;
mod lanes;
pub(crate) mod listings;
mod reconcile;
mod relations;
mod report;
mod schedule;
pub mod status;

pub use error::{Error, Retry, reason};

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use events::Events;
use futures::StreamExt;
use futures::channel::mpsc::unbounded;
use kube::runtime::controller::Action;
use kube::{Api, Client, Resource, ResourceExt};

use crate::crd::{ClusterProviderConfig, PermissionGroup, ProviderConfig, Role};
use crate::metrics::Metrics;
use crate::providers::{BaseUrls, Providers};
use relations::{ConfigFeed, Relations, ReleaseTo, Released, Secrets, SharedConfigs};

/// Operator settings.
#[derive(Clone, Debug)]
pub struct ControllerConfig {
    /// Namespaces to watch; empty means all (and enables ClusterProviderConfig).
    pub namespaces: Vec<String>,
    /// Drift poll interval (±10 % jitter; per-object annotation override).
    pub poll_interval: Duration,
    /// Concurrent reconciles per lane, in each watched namespace (see `lanes`).
    pub concurrency: u16,
    /// Base URL overrides per product (used when a config sets no endpoint).
    pub base_urls: BaseUrls,
    /// Name reported on Events.
    pub instance: String,
}

impl Default for ControllerConfig {
    fn default() -> Self {
        Self {
            namespaces: Vec::new(),
            poll_interval: Duration::from_secs(600),
            concurrency: 16,
            base_urls: BaseUrls::default(),
            instance: "roleplane".into(),
        }
    }
}

/// Shared state of every reconcile.
pub struct Context {
    pub client: Client,
    pub providers: Providers,
    pub metrics: Metrics,
    pub events: Events,
    pub config: ControllerConfig,
    /// RoleplanePolicies (tenant guardrails), checked before any product write.
    pub guardrails: guardrails::Policies,
    failures: Mutex<HashMap<String, u32>>,
    /// The credentials' listings, shared by the resources polled together.
    listings: listings::Listings,
    /// The configs as watched (set when the controllers start).
    stores: account::ConfigStores,
    /// Resources changed since they were first seen (spec, annotations, ...): their next
    /// reconcile reads the product object itself, never a shared listing.
    changed: Mutex<std::collections::HashSet<String>>,
    /// The in-sync resources waiting for their poll, by controller.
    polls: schedule::Polls,
    /// The Role and PermissionGroup controllers' stores (a config's users are counted there).
    resources: config::ResourceStores,
    /// The credentials Secrets read by reconciles, while their watch sees no change.
    secrets: Arc<account::SecretCache>,
}

impl Context {
    pub fn new(client: Client, providers: Providers, config: ControllerConfig) -> Arc<Self> {
        let events = Events::new(client.clone(), "roleplane", &config.instance);
        Arc::new(Self {
            metrics: providers.http.metrics().clone(),
            client,
            providers,
            events,
            config,
            guardrails: Default::default(),
            failures: Mutex::default(),
            listings: listings::Listings::default(),
            stores: account::ConfigStores::default(),
            changed: Mutex::default(),
            polls: schedule::Polls::default(),
            resources: config::ResourceStores::default(),
            secrets: Arc::default(),
        })
    }

    /// Notes that the resource `key` changed: its next reconcile reads afresh.
    fn note_changed(&self, key: String) {
        self.changed
            .lock()
            .expect("changed set poisoned")
            .insert(key);
    }

    /// Whether the resource `key` changed since its last reconcile (and forgets it).
    fn take_changed(&self, key: &str) -> bool {
        self.changed
            .lock()
            .expect("changed set poisoned")
            .remove(key)
    }

    /// Consecutive failures of one object, counted up (Some) or reset (None).
    fn failures(&self, key: &str, failed: bool) -> u32 {
        let mut map = self.failures.lock().expect("failure map poisoned");
        if failed {
            let n = map.entry(key.to_string()).or_default();
            *n += 1;
            *n - 1
        } else {
            map.remove(key);
            0
        }
    }

    /// The poll interval for `obj`: its annotation override, else the default; ±10 % jitter.
    pub fn poll_interval<K: Resource>(&self, obj: &K) -> Duration {
        schedule::own_poll_interval(obj)
            .unwrap_or(self.config.poll_interval)
            .mul_f64(rand::random_range(0.9..1.1))
    }

    /// When an in-sync resource of the credential `key` is polled next: at the credential's
    /// next tick, at least half an interval away, so that the resources of one credential are
    /// polled together and one listing serves them all. Ticks are `poll_interval` apart, offset
    /// per credential by a hash of its key (credentials spread over the interval, and keep
    /// their offset across restarts). A resource with its own interval (annotation) keeps it.
    pub fn next_poll<K: Resource>(&self, obj: &K, key: &str) -> Duration {
        match self.poll_tick(obj, key) {
            Some((_, after)) => after,
            None => self.poll_interval(obj),
        }
    }

    /// The credential's tick [`Context::next_poll`] polls at (milliseconds since the epoch) and
    /// how long until it comes; None for a resource with its own interval.
    fn poll_tick<K: Resource>(&self, obj: &K, key: &str) -> Option<(u64, Duration)> {
        if schedule::own_poll_interval(obj).is_some() {
            return None;
        }
        let interval = self.config.poll_interval.max(Duration::from_secs(1));
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        let after = schedule::next_tick(now, interval, key);
        Some(((now + after).as_millis() as u64, after))
    }

    /// Has an in-sync resource of the credential `key` polled next as [`Context::next_poll`]
    /// says: at its credential's tick, from its controller's roster (see `schedule`), or with
    /// its own interval (or when no controller of its kind runs here) by requeueing it.
    fn poll_next<K: crate::crd::Managed>(&self, obj: &K, key: &str) -> Action {
        let Some(tick) = self.poll_tick(obj, key) else {
            return Action::requeue(self.poll_interval(obj));
        };
        let namespace = obj.meta().namespace.as_deref().unwrap_or_default();
        let name = obj.meta().name.as_deref().unwrap_or_default();
        match self
            .polls
            .add(lanes::name(Some(obj)), namespace, name, tick)
        {
            true => Action::await_change(),
            false => Action::requeue(tick.1),
        }
    }

    /// How long one credential's listing serves the resources polled with it.
    fn listing_freshness(&self) -> Duration {
        (self.config.poll_interval / 4).clamp(Duration::from_secs(1), Duration::from_secs(60))
    }
}

/// What a cached object does not need: `managedFields` and kubectl's last-applied copy of the
/// manifest (together often larger than the object itself).
fn lean(meta: &mut kube::core::ObjectMeta) {
    meta.managed_fields = None;
    if let Some(annotations) = &mut meta.annotations {
        annotations.remove("kubectl.kubernetes.io/last-applied-configuration");
    }
}

/// Objects per page when Roleplane lists or watches Kubernetes resources. A page's response
/// body and its decoded objects are held at once (with `managedFields`, which are dropped only
/// after decoding): 100 keeps that to a few hundred KiB per list in flight, where the watcher's
/// default of 500, and an unpaged list of a namespace's resources, grow with the namespace.
pub(crate) const LIST_PAGE: u32 = 100;

/// Every object `api` lists, page by page ([`LIST_PAGE`]), handed to `each`.
pub(crate) async fn for_each_listed<K>(
    api: &kube::Api<K>,
    mut each: impl FnMut(K),
) -> kube::Result<()>
where
    K: Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let mut params = kube::api::ListParams::default().limit(LIST_PAGE);
    loop {
        let page = api.list(&params).await?;
        let next = page.metadata.continue_.filter(|c| !c.is_empty());
        page.items.into_iter().for_each(&mut each);
        match next {
            Some(token) => params = params.continue_token(&token),
            None => return Ok(()),
        }
    }
}

/// The watcher configuration of every watch Roleplane runs: pages of [`LIST_PAGE`].
fn watch_config() -> kube::runtime::watcher::Config {
    kube::runtime::watcher::Config::default().page_size(LIST_PAGE)
}

fn object_key<K: Resource>(obj: &K) -> String {
    format!("{}/{}", obj.namespace().unwrap_or_default(), obj.name_any())
}

/// Re-runs when generation, deletion, finalizers or annotations change; never for our own
/// status writes (so writing status cannot loop), nor for our own create intent (recorded and
/// dropped within the reconcile that creates).
fn meta_hash<K: Resource>(obj: &K) -> Option<u64> {
    hash_meta(obj, None)
}

/// [`meta_hash`] for Roles and PermissionGroups, whose cleanup finalizer is added by the
/// reconcile that creates (which has looked already), never by a reconcile of its own.
fn managed_meta_hash<K: Resource>(obj: &K) -> Option<u64> {
    hash_meta(obj, Some(crate::crd::FINALIZER))
}

/// A resource's key in the Ready gauges' table: its kind, namespace and name, hashed (no
/// string is built for it on every reconcile).
fn ready_key<K: crate::crd::Managed>(obj: &K) -> u64 {
    let meta = obj.meta();
    hash(&(K::KIND, meta.namespace.as_deref(), meta.name.as_deref()))
}

/// A 64-bit hash of `value` (keys of maps that would otherwise hold strings per resource).
pub(super) fn hash(value: &impl std::hash::Hash) -> u64 {
    use std::hash::Hasher;
    let mut h = std::collections::hash_map::DefaultHasher::new();
    value.hash(&mut h);
    h.finish()
}

fn hash_meta<K: Resource>(obj: &K, own_finalizer: Option<&str>) -> Option<u64> {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    let meta = obj.meta();
    meta.generation.hash(&mut h);
    meta.deletion_timestamp
        .as_ref()
        .map(|t| t.0.as_second())
        .hash(&mut h);
    for f in meta.finalizers.iter().flatten() {
        if Some(f.as_str()) != own_finalizer {
            f.hash(&mut h);
        }
    }
    for (k, v) in meta.annotations.iter().flatten() {
        if k != crate::crd::CREATE_PENDING_ANNOTATION {
            (k, v).hash(&mut h);
        }
    }
    meta.uid.hash(&mut h);
    Some(h.finish())
}

/// Reports an object that cannot be decoded (a CRD version skew, say) with a Warning Event on it.
async fn report_unreadable<K: Resource<DynamicType = ()>>(
    ctx: &Context,
    invalid: &kube::core::error_boundary::InvalidObject,
) -> Error {
    let message = format!(
        "Roleplane cannot read this {}: {}; fix the manifest and apply it again",
        K::kind(&()),
        invalid.error
    );
    let reference = k8s_openapi::api::core::v1::ObjectReference {
        api_version: Some(K::api_version(&()).into_owned()),
        kind: Some(K::kind(&()).into_owned()),
        name: invalid.metadata.name.clone(),
        namespace: invalid.metadata.namespace.clone(),
        uid: invalid.metadata.uid.clone(),
        ..Default::default()
    };
    ctx.events
        .publish(
            reference,
            kube::runtime::events::EventType::Warning,
            "InvalidObject",
            "Reconcile",
            &message,
        )
        .await;
    Error::InvalidSpec(message)
}

/// Runs a reconcile; a panic in it (a bug) becomes [`Error::Internal`] instead of ending the
/// controller that runs it (kube-runtime propagates a reconciler's panic into its stream, which
/// would stop every resource of that kind in its namespace until a restart).
async fn guarded(
    kind: &str,
    key: impl FnOnce() -> String,
    reconcile: impl std::future::Future<Output = error::Result<kube::runtime::controller::Action>>,
) -> error::Result<kube::runtime::controller::Action> {
    use futures::FutureExt;
    match std::panic::AssertUnwindSafe(reconcile).catch_unwind().await {
        Ok(result) => result,
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic".to_string());
            let object = key();
            tracing::error!(kind, object, panic = %what, "reconcile panicked; retrying with back-off");
            Err(Error::Internal(what))
        }
    }
}

/// The error of a `finalizer()` run, unwrapped to ours.
fn finalizer_error(e: kube::runtime::finalizer::Error<Error>) -> Error {
    use kube::runtime::finalizer::Error as F;
    match e {
        F::ApplyFailed(e) | F::CleanupFailed(e) => e,
        F::AddFinalizer(e) | F::RemoveFinalizer(e) => Error::Kube(e),
        other => Error::InvalidSpec(other.to_string()),
    }
}

/// When to retry after `error`, counting consecutive failures under `key` for the back-off.
fn requeue_after<K: Resource>(
    ctx: &Context,
    key: &str,
    obj: &K,
    error: &Error,
) -> kube::runtime::controller::Action {
    let failures = ctx.failures(key, true);
    kube::runtime::controller::Action::requeue(match error.retry() {
        Retry::OnChange => ctx.poll_interval(obj),
        Retry::After(d) => d,
        Retry::Backoff => error::backoff(failures),
        Retry::Soon => Duration::from_secs(2),
    })
}

/// Runs every controller until `shutdown` resolves.
pub async fn run(
    ctx: Arc<Context>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) {
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let stop = move || {
        let mut rx = stop_rx.clone();
        async move {
            let _ = rx.wait_for(|s| *s).await;
        }
    };
    let client = &ctx.client;
    let mut secrets = Secrets::default();
    let mut tasks = Vec::new();
    let mut watches = Vec::new();
    // Policy status is written by a cluster-wide install only (namespaced installs just read).
    let cluster_wide = ctx.config.namespaces.is_empty();
    tasks.push(tokio::spawn(guardrails::run(
        ctx.clone(),
        cluster_wide,
        stop(),
    )));
    // ClusterProviderConfig only when every namespace is watched (a namespaced install must not
    // read other namespaces' Secrets).
    let cluster = ctx
        .config
        .namespaces
        .is_empty()
        .then(SharedConfigs::<ClusterProviderConfig>::new);
    let (cluster_released, cluster_released_rx) = unbounded();
    let cluster_released = cluster.as_ref().map(|c| ReleaseTo {
        configs: c.reader.clone(),
        trigger: cluster_released,
    });
    let mut config_stores = Vec::new();
    for ns in ctx.namespaces_to_watch() {
        let configs = SharedConfigs::<ProviderConfig>::new();
        config_stores.push((ns.clone(), configs.reader.clone()));
        let (released, released_rx) = unbounded();
        let released = Released {
            namespaced: ReleaseTo {
                configs: configs.reader.clone(),
                trigger: released,
            },
            cluster: cluster_released.clone(),
        };
        let relations = |secrets: &mut Secrets| Relations {
            configs: ConfigFeed::of(&configs),
            cluster_configs: cluster.as_ref().map(ConfigFeed::of),
            secrets: secrets.subscribe(ns.clone()),
            released: released.clone(),
        };
        let roles = relations(&mut secrets);
        let groups = relations(&mut secrets);
        tasks.push(tokio::spawn(reconcile::run::<Role>(
            ctx.clone(),
            ns.clone(),
            roles,
            stop(),
        )));
        tasks.push(tokio::spawn(reconcile::run::<PermissionGroup>(
            ctx.clone(),
            ns.clone(),
            groups,
            stop(),
        )));
        tasks.push(tokio::spawn(config::run(
            ctx.clone(),
            ConfigFeed::of(&configs),
            secrets.subscribe(ns.clone()),
            released_rx,
            stop(),
        )));
        let api = match &ns {
            Some(ns) => Api::namespaced(client.clone(), ns),
            None => Api::all(client.clone()),
        };
        watches.push(configs.start(api));
    }
    ctx.stores
        .set(config_stores, cluster.as_ref().map(|c| c.reader.clone()));
    if let Some(cluster) = cluster {
        tasks.push(tokio::spawn(config::run(
            ctx.clone(),
            ConfigFeed::of(&cluster),
            secrets.subscribe(None),
            cluster_released_rx,
            stop(),
        )));
        watches.push(cluster.start(Api::all(client.clone())));
    }
    for ns in ctx.namespaces_to_watch() {
        let changes = secrets.subscribe(ns);
        // Stopped with the watches (it ends only when its Secret watch does).
        watches.push(tokio::spawn(sweep_released_secrets(ctx.clone(), changes)));
    }
    watches.extend(secrets.start(client, &ctx.secrets));
    shutdown.await;
    tracing::info!("shutting down controllers");
    let _ = stop_tx.send(true);
    for t in tasks {
        let _ = t.await;
    }
    for w in watches {
        w.abort();
    }
}

/// Lets go of the Secrets being deleted that Roleplane still holds but no config uses (see
/// `credentials::sweep`); ends when the Secret watch does.
async fn sweep_released_secrets(ctx: Arc<Context>, mut changes: relations::SecretChanges) {
    while let Some(secret) = changes.next().await {
        let held = secret
            .finalizers()
            .iter()
            .any(|f| f == crate::crd::CREDENTIALS_FINALIZER);
        if !held || secret.metadata.deletion_timestamp.is_none() {
            continue;
        }
        let (ns, name) = (secret.namespace().unwrap_or_default(), secret.name_any());
        if let Err(e) = credentials::sweep(&ctx, &ns, &name).await {
            tracing::warn!(namespace = %ns, secret = %name, error = %e, "could not release a Secret");
        }
    }
}

impl Context {
    /// `None` means all namespaces.
    fn namespaces_to_watch(&self) -> Vec<Option<String>> {
        if self.config.namespaces.is_empty() {
            vec![None]
        } else {
            self.config.namespaces.iter().cloned().map(Some).collect()
        }
    }
}

/// Drains a controller's output, logging failures (never silently dropping them).
pub(crate) async fn drain<S, T, E>(stream: S, kind: &'static str)
where
    S: futures::Stream<Item = Result<T, E>>,
    E: std::fmt::Display,
{
    stream
        .for_each(|r| async move {
            if let Err(e) = r {
                tracing::debug!(kind, error = %e, "reconcile failed");
            }
        })
        .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panicking_reconcile_is_an_internal_error_not_the_end_of_the_controller() {
        let failed = guarded("Role", || "ns/a".into(), async {
            if true {
                panic!("one error type per credential");
            }
            Ok(kube::runtime::controller::Action::await_change())
        })
        .await
        .unwrap_err();
        assert_eq!(failed.reason(), reason::INTERNAL_ERROR);
        assert_eq!(failed.retry(), Retry::Backoff);
        assert!(
            failed.to_string().contains("one error type per credential"),
            "{failed}"
        );
        let fine = guarded("Role", || "ns/a".into(), async {
            Ok(kube::runtime::controller::Action::await_change())
        })
        .await;
        assert!(fine.is_ok());
    }

    #[tokio::test]
    async fn a_list_goes_page_by_page_and_misses_nothing() {
        use k8s_openapi::api::core::v1::Secret;
        let api = kube_double::ApiServer::new(Vec::new());
        let secrets: kube::Api<Secret> = kube::Api::namespaced(api.client(), "t");
        let n = 2 * LIST_PAGE as usize + 17;
        for i in 0..n {
            let mut s = Secret::default();
            s.metadata.name = Some(format!("s{i:03}"));
            secrets
                .create(&Default::default(), &s)
                .await
                .expect("created");
        }
        let mut seen = std::collections::BTreeSet::new();
        for_each_listed(&secrets, |s| {
            seen.insert(s.name_any());
        })
        .await
        .expect("listed");
        assert_eq!(seen.len(), n, "every object, once");
        let lists: Vec<_> = api
            .requests()
            .into_iter()
            .filter(|r| r.method == "GET")
            .map(|r| r.path)
            .collect();
        assert_eq!(lists.len(), 3, "{lists:#?}");
        assert!(
            lists
                .iter()
                .all(|p| p.contains(&format!("limit={LIST_PAGE}"))),
            "{lists:#?}"
        );
    }
}
