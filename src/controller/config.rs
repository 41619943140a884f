//! ProviderConfig and ClusterProviderConfig: `Ready` from a cheap authenticated read, a count of
//! users, and a finalizer that keeps a config in use from being deleted out from under them.

use std::sync::Arc;

use k8s_openapi::NamespaceResourceScope;
use kube::api::ListParams;
use kube::core::DeserializeGuard;
use kube::runtime::controller::{Action, Controller};
use kube::runtime::events::EventType;
use kube::runtime::finalizer::{self, Event as Finalizer};
use kube::runtime::reflector;
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::error::{Error, Result, reason};
use super::reconcile::FINALIZER;
use super::resolve::{self, ConfigView};
use super::status::{self, READY};
use super::{Context, Managed, object_key};
use crate::crd::{
    ClusterProviderConfig, ConditionStatus, PermissionGroup, ProviderConfig, ProviderConfigKind,
    ProviderConfigStatus, Role,
};

/// What the config controller needs from both config kinds.
trait ConfigKind:
    Resource<DynamicType = ()>
    + Clone
    + std::fmt::Debug
    + Serialize
    + DeserializeOwned
    + Send
    + Sync
    + 'static
{
    const KIND: ProviderConfigKind;
    fn view(&self) -> ConfigView;
    fn config_status(&self) -> Option<&ProviderConfigStatus>;
    fn api_for(ctx: &Context, obj: &Self) -> Api<Self>;
}

impl ConfigKind for ProviderConfig {
    const KIND: ProviderConfigKind = ProviderConfigKind::ProviderConfig;
    fn view(&self) -> ConfigView {
        ConfigView::from_namespaced(
            self,
            &self.namespace().unwrap_or_default(),
            &self.name_any(),
        )
    }
    fn config_status(&self) -> Option<&ProviderConfigStatus> {
        self.status.as_ref()
    }
    fn api_for(ctx: &Context, obj: &Self) -> Api<Self> {
        Api::namespaced(ctx.client.clone(), &obj.namespace().unwrap_or_default())
    }
}

impl ConfigKind for ClusterProviderConfig {
    const KIND: ProviderConfigKind = ProviderConfigKind::ClusterProviderConfig;
    fn view(&self) -> ConfigView {
        ConfigView::from_cluster(self, &self.name_any())
    }
    fn config_status(&self) -> Option<&ProviderConfigStatus> {
        self.status.as_ref()
    }
    fn api_for(ctx: &Context, _obj: &Self) -> Api<Self> {
        Api::all(ctx.client.clone())
    }
}

fn kind_name(kind: ProviderConfigKind) -> &'static str {
    match kind {
        ProviderConfigKind::ProviderConfig => "ProviderConfig",
        ProviderConfigKind::ClusterProviderConfig => "ClusterProviderConfig",
    }
}

pub async fn run_namespaced(
    ctx: Arc<Context>,
    namespace: Option<String>,
    stop: impl std::future::Future<Output = ()> + Send + Sync + 'static,
) {
    let api: Api<DeserializeGuard<ProviderConfig>> = match &namespace {
        Some(ns) => Api::namespaced(ctx.client.clone(), ns),
        None => Api::all(ctx.client.clone()),
    };
    run_kind(ctx, api, namespace, stop).await;
}

pub async fn run_cluster(
    ctx: Arc<Context>,
    stop: impl std::future::Future<Output = ()> + Send + Sync + 'static,
) {
    let api: Api<DeserializeGuard<ClusterProviderConfig>> = Api::all(ctx.client.clone());
    run_kind(ctx, api, None, stop).await;
}

async fn run_kind<K: ConfigKind>(
    ctx: Arc<Context>,
    api: Api<DeserializeGuard<K>>,
    namespace: Option<String>,
    stop: impl std::future::Future<Output = ()> + Send + Sync + 'static,
) {
    let (reader, writer) = reflector::store::<DeserializeGuard<K>>();
    let stream = watcher(api, watcher::Config::default())
        .default_backoff()
        .reflect(writer)
        .touched_objects()
        .predicate_filter(super::meta_hash::<DeserializeGuard<K>>, Default::default());
    let (tx, rx) = futures::channel::mpsc::unbounded();
    let kind = kind_name(K::KIND);
    ctx.secrets.register(
        kind,
        namespace,
        move |ns, name| {
            let r = kube::runtime::reflector::ObjectRef::<DeserializeGuard<K>>::new(name);
            let r = if ns.is_empty() { r } else { r.within(ns) };
            let _ = tx.unbounded_send(r);
        },
        |_, _, _| {},
    );
    let out = Controller::for_stream(stream, reader)
        .reconcile_on(rx)
        .graceful_shutdown_on(stop)
        .run(reconcile_guarded::<K>, error_policy::<K>, ctx);
    super::drain(out, kind).await;
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

/// The Roles and PermissionGroups that use this config, as `namespace/name`.
async fn users<K: ConfigKind>(ctx: &Context, obj: &K) -> Result<Vec<String>> {
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
    found: &mut Vec<String>,
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
                found.push(object_key(&m));
            }
        }
    }
    Ok(())
}

async fn check<K: ConfigKind>(obj: Arc<K>, ctx: &Context, api: &Api<K>) -> Result<Action> {
    let view = obj.view();
    let dependent = (
        kind_name(K::KIND),
        obj.namespace().unwrap_or_default(),
        obj.name_any(),
    );
    let outcome = async {
        let account = resolve::account(ctx, &view, dependent).await?;
        ctx.providers.check_access(&account).await?;
        Ok::<_, Error>(account.base_url)
    }
    .await;
    let users = users(ctx, &*obj).await.map(|u| u.len() as u32).ok();
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
            status::event(
                &ctx.recorder,
                &*obj,
                type_,
                why,
                "CheckCredentials",
                message,
            )
            .await;
        }
    }
    if previous.observed_generation != generation
        || previous.conditions.first().map(|c| c.status) != Some(st)
    {
        // A new or changed (or newly working) config: re-run the resources that use it.
        ctx.secrets.config_changed(
            K::KIND,
            &obj.namespace().unwrap_or_default(),
            &obj.name_any(),
        );
    }
    outcome.map(|_| Action::requeue(ctx.poll_interval(&*obj)))
}

async fn release<K: ConfigKind>(obj: Arc<K>, ctx: &Context, api: &Api<K>) -> Result<Action> {
    let users = users(ctx, &*obj).await?;
    if users.is_empty() {
        return Ok(Action::await_change());
    }
    let shown: Vec<&str> = users.iter().take(10).map(String::as_str).collect();
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
            &ctx.recorder,
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
