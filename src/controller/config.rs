//! ProviderConfig and ClusterProviderConfig: `Ready` from a cheap authenticated read, a count of
//! users, and a finalizer that keeps a config in use from being deleted out from under them.

use std::sync::Arc;

use futures::StreamExt;
use futures::channel::mpsc::UnboundedReceiver;
use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::api::core::v1::Secret;
use kube::api::ListParams;
use kube::core::DeserializeGuard;
use kube::runtime::WatchStreamExt;
use kube::runtime::controller::{Action, Controller};
use kube::runtime::events::EventType;
use kube::runtime::finalizer::{self, Event as Finalizer};
use kube::runtime::reflector::ObjectRef;
use kube::{Api, Resource, ResourceExt};

use super::account::{self, ConfigKind, ConfigView};
use super::credentials::{self, Hold};
use super::error::{Error, Result, reason};
use super::relations::{self, ConfigFeed};
use super::status::{self, READY};
use super::{Context, object_key};
use crate::crd::{
    ConditionStatus, FINALIZER, Managed, PermissionGroup, ProviderConfigKind, ProviderConfigStatus,
    Role,
};
use crate::providers::{Provider, VisitKind};

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
        Ok(obj) => reconcile(Arc::new(obj.clone()), ctx).await,
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
}

/// The Roles and PermissionGroups that use this config.
async fn users<K: ConfigKind>(ctx: &Context, obj: &K) -> Result<Vec<User>> {
    let name = obj.name_any();
    let ns = obj.namespace();
    let mut found = Vec::new();
    collect::<Role, K>(ctx, ns.as_deref(), &name, &mut found).await?;
    collect::<PermissionGroup, K>(ctx, ns.as_deref(), &name, &mut found).await?;
    Ok(found)
}

async fn collect<M, K>(
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
        for m in api.list(&ListParams::default()).await? {
            let r = &m.managed().provider_config_ref;
            if r.kind == K::KIND && r.name == name {
                found.push(User {
                    key: object_key(&m),
                    namespace: m.namespace().unwrap_or_default(),
                    deleting: m.meta().deletion_timestamp.is_some(),
                });
            }
        }
    }
    Ok(())
}

/// A cheap authenticated read with the config's credentials, by its provider.
struct CheckAccess<'a> {
    ctx: &'a Context,
    view: &'a ConfigView,
    secret: Secret,
}

impl VisitKind for CheckAccess<'_> {
    type Output = Result<String>;

    async fn visit<P: Provider>(self, provider: &P) -> Self::Output {
        let account = account::account_from::<P>(self.ctx, self.view, self.secret)?;
        provider.check_access(&account).await?;
        Ok(account.base_url)
    }
}

/// How soon a config whose Secret is kept for a terminating namespace looks again.
const DRAINING_RECHECK: std::time::Duration = std::time::Duration::from_secs(5);

/// Holds the config's Secret (see `credentials`) and checks the credentials with the product.
/// The hold comes back too.
async fn check_credentials(
    ctx: &Context,
    view: &ConfigView,
    cleanup_pending: bool,
) -> (Hold, Result<String>) {
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
            let check = CheckAccess { ctx, view, secret };
            (hold, ctx.providers.visit_kind(view.provider, check).await)
        }
        Err(e) => (Hold::Kept, Err(e)),
    }
}

async fn check<K: ConfigKind>(obj: Arc<K>, ctx: &Context, api: &Api<K>) -> Result<Action> {
    let view = obj.view();
    let found = users(ctx, &*obj).await.ok();
    // Whether a Secret in a terminating namespace must be kept: some user still has cleanup
    // to do with it, i.e. it is being deleted or lives in that namespace (and will be). Users
    // elsewhere never hold a namespace's deletion up. Unknown users: keep, to be safe.
    let cleanup_pending = found.as_ref().is_none_or(|users| {
        users
            .iter()
            .any(|u| u.deleting || u.namespace == view.secret_namespace)
    });
    let users = found.map(|u| u.len() as u32);
    let (hold, outcome) = check_credentials(ctx, &view, cleanup_pending).await;
    let generation = obj.meta().generation;
    let previous = obj.config_status().cloned().unwrap_or_default();
    let (st, why, message) = match &outcome {
        Ok(url) => (
            ConditionStatus::True,
            reason::AVAILABLE,
            format!("{} accepted the credentials at {url}", view.provider),
        ),
        Err(e) => (ConditionStatus::False, e.reason(), e.to_string()),
    };
    let next = ProviderConfigStatus {
        observed_generation: generation,
        users,
        conditions: vec![status::condition(
            &previous.conditions,
            READY,
            st,
            why,
            &message,
            generation,
        )],
    };
    if next.users != previous.users || !status::same(&previous.conditions, &next.conditions) {
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
    outcome.map(|_| match hold {
        Hold::Draining => Action::requeue(DRAINING_RECHECK),
        _ => Action::requeue(ctx.poll_interval(&*obj)),
    })
}

async fn release<K: ConfigKind>(obj: Arc<K>, ctx: &Context, api: &Api<K>) -> Result<Action> {
    let users = users(ctx, &*obj).await?;
    if users.is_empty() {
        credentials::release(ctx, &obj.view()).await?;
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
