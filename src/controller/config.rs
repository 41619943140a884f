//! ProviderConfig and ClusterProviderConfig: `Ready` from a cheap authenticated read, a count of
//! users, the inventory of the account (objects in scope, how many are managed; from one listing
//! per poll interval at most), and a finalizer that keeps a config in use from being deleted out
//! from under them.

use std::any::Any;
use std::collections::BTreeSet;
use std::sync::Arc;

use futures::StreamExt;
use futures::channel::mpsc::UnboundedReceiver;
use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::core::DeserializeGuard;
use kube::runtime::WatchStreamExt;
use kube::runtime::controller::{Action, Controller};
use kube::runtime::events::EventType;
use kube::runtime::finalizer::{self, Event as Finalizer};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Api, Resource, ResourceExt};

use super::account::{self, ConfigKind, ConfigView};
use super::credentials::{self, Hold};
use super::error::{Error, Result, reason};
use super::relations::{self, ConfigFeed};
use super::status::{self, READY};
use super::{Context, object_key};
use crate::crd::{
    ConditionStatus, FINALIZER, Inventory, Managed, PermissionGroup, ProviderConfigKind,
    ProviderConfigStatus, ProviderKind, Role,
};
use crate::providers::{Account, Provider, VisitKind};

fn kind_name(kind: ProviderConfigKind) -> &'static str {
    match kind {
        ProviderConfigKind::ProviderConfig => "ProviderConfig",
        ProviderConfigKind::ClusterProviderConfig => "ClusterProviderConfig",
    }
}

/// Runs the controller of config kind `C` until `stop` resolves: its own changes, changes of the
/// Secrets configs use, and resources letting go of a config trigger it.
pub async fn run<C: ConfigKind>(
    ctx: Arc<Context>,
    feed: ConfigFeed<C>,
    secrets: relations::SecretChanges,
    released: UnboundedReceiver<ObjectRef<DeserializeGuard<C>>>,
    stop: impl std::future::Future<Output = ()> + Send + Sync + 'static,
) {
    let reader = feed.reader.clone();
    // Its own status writes do not re-run a config (they would re-check its credentials).
    let changes = feed
        .changes
        .map(|config| Ok::<_, kube::runtime::watcher::Error>((*config).clone()))
        .predicate_filter(super::meta_hash::<DeserializeGuard<C>>, Default::default());
    let out = Controller::for_stream(changes, feed.reader)
        .watches_stream(secrets.map(Ok), move |secret| {
            relations::configs_using(&reader, &secret)
        })
        .reconcile_on(released)
        .graceful_shutdown_on(stop)
        .run(reconcile_guarded::<C>, error_policy::<C>, ctx);
    super::drain(out, kind_name(C::KIND)).await;
}

async fn reconcile<K: ConfigKind>(obj: Arc<K>, ctx: Arc<Context>) -> Result<Action> {
    let api = K::api_for(&ctx, &obj);
    let key = config_key(&*obj);
    let result = finalizer::finalizer(&api, FINALIZER, obj, |event| async {
        match event {
            Finalizer::Apply(o) => check(o, &ctx, &api).await,
            Finalizer::Cleanup(o) => release(o, &ctx, &api).await,
        }
    })
    .await
    .map_err(super::finalizer_error);
    if result.is_ok() {
        ctx.failures(&key, false);
    }
    result
}

fn config_key<K: ConfigKind>(obj: &K) -> String {
    format!("{}/{}", kind_name(K::KIND), object_key(obj))
}

fn error_policy<K: ConfigKind>(
    obj: Arc<DeserializeGuard<K>>,
    error: &Error,
    ctx: Arc<Context>,
) -> Action {
    let key = format!("{}/{}", kind_name(K::KIND), object_key(&*obj));
    super::requeue_after(&ctx, &key, &*obj, error)
}

/// Checks a readable config; reports an unreadable one on itself.
async fn reconcile_guarded<K: ConfigKind>(
    guard: Arc<DeserializeGuard<K>>,
    ctx: Arc<Context>,
) -> Result<Action> {
    match &guard.0 {
        Ok(obj) => {
            let kind = kind_name(K::KIND);
            let key = || config_key(obj);
            super::guarded(kind, key, reconcile(Arc::new(obj.clone()), ctx)).await
        }
        Err(invalid) => Err(super::report_unreadable::<K>(&ctx, invalid).await),
    }
}

/// A Role or PermissionGroup that uses a config.
struct User {
    /// `namespace/name`.
    key: String,
    namespace: String,
    /// Being deleted: it needs the credentials for its cleanup.
    deleting: bool,
    /// `status.externalId`: the product object it manages.
    external_id: Option<String>,
    /// Its product and listing scope ([`Provider::scope`], e.g. ConfigCat's product id); None
    /// when its spec names no usable product block.
    scope: Option<(ProviderKind, String)>,
}

/// The Role and PermissionGroup controllers' stores, by the namespace each watches (None: all),
/// so that a config's check counts its users in what the controllers already hold. Listing
/// them from the API server instead cost every check a listing of every resource of the
/// config's namespace (at 10,000 resources, most of the API server's work while they were
/// being created: five configs per namespace, each checked again as its status changed).
pub struct ResourceStores {
    stores: std::sync::Mutex<Vec<KindStore>>,
    /// Counts the stores offered (a check at start waits for them).
    offered: tokio::sync::watch::Sender<usize>,
}

impl Default for ResourceStores {
    fn default() -> Self {
        Self {
            stores: Default::default(),
            offered: tokio::sync::watch::Sender::new(0),
        }
    }
}

/// How long a config's check at start waits for the controllers' first listings before it
/// lists its users from the API server instead.
const STORES_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

/// A controller's kind, the namespace it watches (None: all), and its store (a
/// `Store<DeserializeGuard<K>>` of that kind).
type KindStore = (&'static str, Option<String>, Box<dyn Any + Send + Sync>);

impl ResourceStores {
    /// The store of the `K` controller watching `namespace` (None: all namespaces), once it
    /// holds the controller's first listing.
    pub fn add<K: Managed>(&self, namespace: Option<String>, store: Store<DeserializeGuard<K>>) {
        let mut stores = self.stores.lock().expect("stores lock");
        // A controller started again (same kind and namespace) replaces the one before.
        stores.retain(|(kind, ns, _)| !(*kind == K::KIND && *ns == namespace));
        stores.push((K::KIND, namespace, Box::new(store)));
        self.offered.send_modify(|n| *n += 1);
    }

    /// [`Self::covering`], waiting up to [`STORES_WAIT`] for the controllers' first listings
    /// (at start, every config is checked while they are still listing).
    async fn covering_soon<K: Managed>(
        &self,
        namespace: Option<&str>,
        watched: &[String],
    ) -> Option<Vec<Store<DeserializeGuard<K>>>> {
        let mut offered = self.offered.subscribe();
        let wait = async {
            loop {
                if let Some(stores) = self.covering::<K>(namespace, watched) {
                    return Some(stores);
                }
                offered.changed().await.ok()?;
            }
        };
        tokio::time::timeout(STORES_WAIT, wait).await.ok().flatten()
    }

    /// The stores of `K` that hold every resource of `namespace` (None: of every watched
    /// namespace, `watched`; empty: all), or None while one of them has no listing yet.
    fn covering<K: Managed>(
        &self,
        namespace: Option<&str>,
        watched: &[String],
    ) -> Option<Vec<Store<DeserializeGuard<K>>>> {
        let stores = self.stores.lock().expect("stores lock");
        let of = |scope: Option<&str>| {
            stores.iter().find_map(|(kind, ns, store)| {
                (*kind == K::KIND && ns.as_deref() == scope)
                    .then(|| store.downcast_ref::<Store<DeserializeGuard<K>>>())
                    .flatten()
                    .cloned()
            })
        };
        if let Some(all) = of(None) {
            return Some(vec![all]);
        }
        match namespace {
            Some(ns) => of(Some(ns)).map(|s| vec![s]),
            None if watched.is_empty() => None,
            None => watched.iter().map(|ns| of(Some(ns))).collect(),
        }
    }
}

/// The Roles and PermissionGroups that use this config: as their controllers' stores hold
/// them, or (`listed`) as the API server has them now, which is what counts before a config
/// lets go of its Secret.
async fn users<K: ConfigKind>(ctx: &Context, obj: &K, listed: bool) -> Result<Vec<User>> {
    let name = obj.name_any();
    let ns = obj.namespace();
    let mut found = Vec::new();
    collect::<Role, K>(ctx, ns.as_deref(), &name, listed, &mut found).await?;
    collect::<PermissionGroup, K>(ctx, ns.as_deref(), &name, listed, &mut found).await?;
    Ok(found)
}

/// A resource of `namespace` (None: any) that uses the config `K`/`name`, as a user.
fn user_of<M: Managed, K: ConfigKind>(
    ctx: &Context,
    m: &M,
    namespace: Option<&str>,
    name: &str,
) -> Option<User> {
    let r = &m.managed().provider_config_ref;
    let here = namespace.is_none_or(|ns| m.namespace().as_deref() == Some(ns));
    (here && r.kind == K::KIND && r.name == name).then(|| User {
        key: object_key(m),
        namespace: m.namespace().unwrap_or_default(),
        deleting: m.meta().deletion_timestamp.is_some(),
        external_id: m.managed_status().and_then(|s| s.external_id.clone()),
        scope: m
            .product()
            .ok()
            .map(|spec| (spec.kind(), ctx.providers.scope(spec))),
    })
}

async fn collect<M, K>(
    ctx: &Context,
    ns: Option<&str>,
    name: &str,
    listed: bool,
    found: &mut Vec<User>,
) -> Result<()>
where
    M: Managed + Resource<Scope = NamespaceResourceScope>,
    K: ConfigKind,
{
    // From the API server when asked, or when the controllers have no listing in time.
    let stores = match listed {
        true => None,
        false => {
            let covering = ctx.resources.covering_soon::<M>(ns, &ctx.config.namespaces);
            covering.await
        }
    };
    let Some(stores) = stores else {
        return list::<M, K>(ctx, ns, name, found).await;
    };
    for store in stores {
        found.extend(
            store
                .state()
                .iter()
                .filter_map(|guard| guard.0.as_ref().ok())
                .filter_map(|m| user_of::<M, K>(ctx, m, ns, name)),
        );
    }
    Ok(())
}

async fn list<M, K>(
    ctx: &Context,
    ns: Option<&str>,
    name: &str,
    found: &mut Vec<User>,
) -> Result<()>
where
    M: Managed + Resource<Scope = NamespaceResourceScope>,
    K: ConfigKind,
{
    let lists: Vec<Api<M>> = match ns {
        Some(ns) => vec![Api::namespaced(ctx.client.clone(), ns)],
        None if ctx.config.namespaces.is_empty() => vec![Api::all(ctx.client.clone())],
        None => ctx
            .config
            .namespaces
            .iter()
            .map(|n| Api::namespaced(ctx.client.clone(), n))
            .collect(),
    };
    for api in lists {
        // Page by page: a namespace of thousands of resources is never held at once.
        super::for_each_listed(&api, |m| found.extend(user_of::<M, K>(ctx, &m, ns, name))).await?;
    }
    Ok(())
}

/// A cheap authenticated read with the config's credentials, by its provider; then, when `list`
/// gives the config's users, the inventory.
struct CheckAccess<'a> {
    ctx: &'a Context,
    view: &'a ConfigView,
    secret: Secret,
    list: Option<&'a [User]>,
}

/// What a check found.
struct Checked {
    /// The base URL reached.
    base_url: String,
    /// The credential's key: the config is checked at its credential's tick, with its users.
    key: String,
    /// The inventory (objects, managed), when one was taken.
    counts: Option<Result<(u32, u32)>>,
}

impl VisitKind for CheckAccess<'_> {
    type Output = Result<Checked>;

    async fn visit<P: Provider>(self, provider: &P) -> Self::Output {
        let account = account::account_from::<P>(self.ctx, self.view, self.secret)?;
        let counts = match self.list {
            Some(users) => Some(count(self.ctx, provider, &account, users).await),
            None => None,
        };
        // A listing made with these credentials (now, or by their resources' poll a moment
        // ago) was an authenticated read already: the check would be a second one.
        if !matches!(counts, Some(Ok(Some(_)))) {
            provider.check_access(&account).await?;
        }
        let counts = counts.map(|c| c.map(|listed| listed.unwrap_or_default()));
        Ok(Checked {
            base_url: account.base_url,
            key: account.key,
            counts,
        })
    }
}

/// Lists the config's scope (the whole account, or for products listed per scope, the scopes its
/// users name): the objects there, and how many a user manages; None when there is no scope to
/// list (no users of a product listed per scope). The listing is the one the credential's
/// resources are polled against (shared while fresh, either way round).
async fn count<P: Provider>(
    ctx: &Context,
    provider: &P,
    account: &Account,
    users: &[User],
) -> Result<Option<(u32, u32)>> {
    let scopes: BTreeSet<String> = match P::SCOPE_FIELD {
        Some(_) => users
            .iter()
            .filter_map(|u| match &u.scope {
                // A user naming another product's block is that product's, not in this scope.
                Some((kind, scope)) if *kind == P::KIND => Some(scope.clone()),
                _ => None,
            })
            .collect(),
        None => BTreeSet::from([String::new()]),
    };
    let managed: BTreeSet<&str> = users
        .iter()
        .filter_map(|u| u.external_id.as_deref())
        .collect();
    let (mut objects, mut with_user) = (0u32, 0u32);
    for scope in &scopes {
        let listing = ctx
            .listings
            .get(&account.key, scope, ctx.listing_freshness(), || {
                provider.list(account, scope)
            })
            .await?;
        for id in listing.keys() {
            objects += 1;
            with_user += u32::from(managed.contains(id.as_str()));
        }
    }
    Ok((!scopes.is_empty()).then_some((objects, with_user)))
}

/// How long until the inventory is due again (zero: list now). It is taken once per poll
/// interval, and again when the config's generation changes. (Its time moves only when its
/// numbers change, so once they have held for an interval every check lists; checks come once
/// per poll interval, and share the listing their resources' poll made.)
fn inventory_due_in(
    previous: &ProviderConfigStatus,
    generation: Option<i64>,
    interval: std::time::Duration,
) -> std::time::Duration {
    let Some(inventory) = &previous.inventory else {
        return std::time::Duration::ZERO;
    };
    if previous.observed_generation != generation {
        return std::time::Duration::ZERO;
    }
    let age = Timestamp::now().duration_since(inventory.last_listed_time.0);
    let age = std::time::Duration::try_from(age).unwrap_or_default();
    interval.saturating_sub(age)
}

/// How soon a config whose Secret is kept for a terminating namespace looks again.
const DRAINING_RECHECK: std::time::Duration = std::time::Duration::from_secs(5);

/// Holds the config's Secret (see `credentials`) and checks the credentials with the product.
/// The hold comes back too.
async fn check_credentials(
    ctx: &Context,
    view: &ConfigView,
    cleanup_pending: bool,
    list: Option<&[User]>,
) -> (Hold, Result<Checked>) {
    let secret = match account::secret(ctx, view).await {
        Ok(secret) => secret,
        Err(e) => return (Hold::Kept, Err(e)),
    };
    match credentials::keep(ctx, view, &secret, cleanup_pending).await {
        Ok(Hold::Released) => (
            Hold::Released,
            Err(Error::CredentialsMissing(format!(
                "Secret {}/{} referenced by {} is being deleted",
                view.secret_namespace, view.secret_name, view.describe
            ))),
        ),
        Ok(hold) => {
            let check = CheckAccess {
                ctx,
                view,
                secret,
                list,
            };
            (hold, ctx.providers.visit_kind(view.provider, check).await)
        }
        Err(e) => (Hold::Kept, Err(e)),
    }
}

async fn check<K: ConfigKind>(obj: Arc<K>, ctx: &Context, api: &Api<K>) -> Result<Action> {
    let view = obj.view();
    let found = users(ctx, &*obj, false).await.ok();
    // Whether a Secret in a terminating namespace must be kept: some user still has cleanup
    // to do with it, i.e. it is being deleted or lives in that namespace (and will be). Users
    // elsewhere never hold a namespace's deletion up. Unknown users: keep, to be safe.
    let cleanup_pending = found.as_ref().is_none_or(|users| {
        users
            .iter()
            .any(|u| u.deleting || u.namespace == view.secret_namespace)
    });
    let generation = obj.meta().generation;
    let previous = obj.config_status().cloned().unwrap_or_default();
    let due_in = inventory_due_in(&previous, generation, ctx.config.poll_interval);
    // Due, or due before the listing the credential's resources make at this tick goes stale:
    // checks come at the ticks, so one a few ms short of an interval must list too.
    let list = found
        .as_deref()
        .filter(|_| due_in <= ctx.listing_freshness());
    let (hold, outcome) = check_credentials(ctx, &view, cleanup_pending, list).await;
    let users = found.as_ref().map(|u| u.len() as u32);
    let inventory = match outcome.as_ref().map(|c| &c.counts) {
        // The same numbers again: no status write just to move the time.
        Ok(Some(Ok((objects, managed))))
            if previous
                .inventory
                .as_ref()
                .is_some_and(|i| (i.objects, i.managed) == (*objects, *managed)) =>
        {
            previous.inventory.clone()
        }
        Ok(Some(Ok((objects, managed)))) => Some(Inventory {
            objects: *objects,
            managed: *managed,
            last_listed_time: Time(Timestamp::now()),
        }),
        Ok(Some(Err(e))) => {
            tracing::warn!(config = %view.describe, error = %e, "could not list the config's objects");
            previous.inventory.clone()
        }
        _ => previous.inventory.clone(),
    };
    if let Some(inv) = &inventory {
        ctx.metrics.set_inventory(
            kind_name(K::KIND),
            &object_key(&*obj),
            view.provider.as_str(),
            Some((inv.objects, inv.managed)),
        );
    }
    let (st, why, message) = match &outcome {
        Ok(checked) => (
            ConditionStatus::True,
            reason::AVAILABLE,
            format!(
                "{} accepted the credentials at {}",
                view.provider, checked.base_url
            ),
        ),
        Err(e) => (ConditionStatus::False, e.reason(), e.to_string()),
    };
    let next = ProviderConfigStatus {
        observed_generation: generation,
        users,
        inventory,
        conditions: vec![status::condition(
            &previous.conditions,
            READY,
            st,
            why,
            &message,
            generation,
        )],
    };
    if next.users != previous.users
        || next.inventory != previous.inventory
        || !status::same(&previous.conditions, &next.conditions)
    {
        status::apply_status(api, &*obj, &next).await?;
        if !status::same(&previous.conditions, &next.conditions) {
            let type_ = if st == ConditionStatus::True {
                EventType::Normal
            } else {
                EventType::Warning
            };
            status::event(&ctx.events, &*obj, type_, why, "CheckCredentials", message).await;
        }
    }
    outcome.map(|checked| match hold {
        Hold::Draining => Action::requeue(DRAINING_RECHECK),
        // Checked again at the credential's next tick, when its resources are polled: the
        // check and the inventory share their listing, one per credential per interval.
        _ => Action::requeue(ctx.next_poll(&*obj, &checked.key)),
    })
}

async fn release<K: ConfigKind>(obj: Arc<K>, ctx: &Context, api: &Api<K>) -> Result<Action> {
    let users = users(ctx, &*obj, true).await?;
    if users.is_empty() {
        credentials::release(ctx, &obj.view()).await?;
        let view = obj.view();
        ctx.metrics.set_inventory(
            kind_name(K::KIND),
            &object_key(&*obj),
            view.provider.as_str(),
            None,
        );
        return Ok(Action::await_change());
    }
    let shown: Vec<&str> = users.iter().take(10).map(|u| u.key.as_str()).collect();
    let message = format!(
        "still used by {} resource(s): {}{}; delete them or point them at another config first",
        users.len(),
        shown.join(", "),
        if users.len() > 10 { ", …" } else { "" }
    );
    let previous = obj.config_status().cloned().unwrap_or_default();
    let next = ProviderConfigStatus {
        observed_generation: obj.meta().generation,
        users: Some(users.len() as u32),
        inventory: previous.inventory.clone(),
        conditions: vec![status::condition(
            &previous.conditions,
            READY,
            ConditionStatus::False,
            reason::IN_USE,
            &message,
            obj.meta().generation,
        )],
    };
    if !status::same(&previous.conditions, &next.conditions) {
        status::apply_status(api, &*obj, &next).await?;
        status::event(
            &ctx.events,
            &*obj,
            EventType::Warning,
            reason::IN_USE,
            "Delete",
            message.clone(),
        )
        .await;
    }
    Err(Error::InUse(message))
}
