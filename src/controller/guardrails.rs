//! Tenant guardrails at reconcile: before any product write, a Role or PermissionGroup is checked
//! against every RoleplanePolicy that selects its namespace (read from a reflector store). A
//! resource over the ceiling gets `Synced=False` with reason `PolicyDenied` and an Event naming
//! the policy and the permission; the product object is left as it is. The same checks run at
//! admission (`crd::admission`), so this catches resources created before a policy, a policy
//! tightened later, and clusters without the admission policy.
//!
//! Also keeps each policy's status: how many namespaces it selects, or that it selects none. A
//! policy change, or (cluster-wide) a Namespace label change while a policy selects by label,
//! re-checks every resource at once.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::{Stream, StreamExt};
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{ListParams, Patch, PatchParams};
use kube::core::PartialObjectMeta;
use kube::runtime::reflector::{self, Store, store::Writer};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, ResourceExt};

use super::Context;
use super::account::admits;
use super::error::{Error, Result};
use super::status::{self, FIELD_MANAGER, READY};
use crate::crd::{ConditionStatus, Managed, RoleplanePolicy, RoleplanePolicyStatus};
use crate::providers;

/// How long a reconcile waits for the first listing of policies before giving up (and retrying
/// later): no product write happens before the policies are known.
const READY_WAIT: Duration = Duration::from_secs(20);
/// How often policy status is refreshed besides policy changes (Namespaces come and go).
const STATUS_REFRESH: Duration = Duration::from_secs(60);

/// The policies, as a reflector store, and a signal when one changes what it allows.
pub struct Policies {
    reader: Store<RoleplanePolicy>,
    writer: Mutex<Option<Writer<RoleplanePolicy>>>,
    changed: tokio::sync::watch::Sender<u64>,
    /// The API server does not know the kind (its CRD is not installed): no policy can exist.
    kind_absent: AtomicBool,
    /// Namespace labels from the cluster-wide Namespace watch, once listed (None before, and in
    /// namespaced installs, which read their Namespace when a policy selects by label).
    namespace_labels: Mutex<Option<HashMap<String, BTreeMap<String, String>>>>,
}

impl Default for Policies {
    fn default() -> Self {
        let (reader, writer) = reflector::store();
        Self {
            reader,
            writer: Mutex::new(Some(writer)),
            changed: tokio::sync::watch::Sender::new(0),
            kind_absent: AtomicBool::new(false),
            namespace_labels: Mutex::new(None),
        }
    }
}

impl Policies {
    /// Ticks whenever a policy's spec changes or a policy is deleted (never for status writes):
    /// every resource is then checked again.
    pub fn changes(&self) -> impl Stream<Item = ()> + Send + 'static {
        futures::stream::unfold(self.changed.subscribe(), |mut rx| async move {
            rx.changed().await.ok()?;
            Some(((), rx))
        })
    }
}

/// Watches the policies into the store until `stop`; with `write_status`, also keeps their status.
pub async fn run(
    ctx: Arc<Context>,
    write_status: bool,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) {
    let Some(writer) = ctx.guardrails.writer.lock().expect("policy writer").take() else {
        return;
    };
    let api: Api<RoleplanePolicy> = Api::all(ctx.client.clone());
    let generations = Mutex::new(HashMap::<String, Option<i64>>::new());
    let changed = &ctx.guardrails.changed;
    let absent = &ctx.guardrails.kind_absent;
    let watch = watcher(api, super::watch_config())
        .default_backoff()
        .reflect(writer)
        .for_each(|event| {
            let not_found = matches!(
                &event,
                Err(watcher::Error::InitialListFailed(kube::Error::Api(s))) if s.code == 404
            );
            absent.store(not_found, Ordering::Relaxed);
            let mut seen = generations.lock().expect("generations");
            let news = match event {
                Ok(watcher::Event::Apply(p)) => {
                    seen.insert(p.name_any(), p.metadata.generation) != Some(p.metadata.generation)
                }
                // A re-listing (after a watch gap) reports what changed meanwhile; the first
                // listing is what every resource is about to be checked against anyway.
                Ok(watcher::Event::InitApply(p)) => seen
                    .insert(p.name_any(), p.metadata.generation)
                    .is_some_and(|old| old != p.metadata.generation),
                Ok(watcher::Event::Delete(p)) => seen.remove(&p.name_any()).is_some(),
                _ => false,
            };
            if news {
                changed.send_modify(|n| *n += 1);
            }
            std::future::ready(())
        });
    // A cluster-wide install may list Namespaces: it keeps policy status, and re-checks every
    // resource when a Namespace's labels change what a selector picks.
    let cluster_wide = async {
        if write_status {
            tokio::join!(keep_status(&ctx), watch_namespace_labels(&ctx));
        } else {
            std::future::pending::<()>().await;
        }
    };
    tokio::select! {
        _ = watch => {}
        _ = cluster_wide => {}
        _ = stop => {}
    }
}

/// Signals a policy change when a Namespace appears or its labels change while some policy
/// selects namespaces by label (a namespace may have just come under, or out from, a ceiling).
async fn watch_namespace_labels(ctx: &Context) {
    let api: Api<PartialObjectMeta<Namespace>> = Api::all(ctx.client.clone());
    let mut listing = HashMap::<String, BTreeMap<String, String>>::new();
    let mut events = watcher(api, super::watch_config())
        .default_backoff()
        .boxed();
    let shared = &ctx.guardrails.namespace_labels;
    while let Some(event) = events.next().await {
        let news = match event {
            Ok(watcher::Event::Init) => {
                listing.clear();
                false
            }
            Ok(watcher::Event::InitApply(n)) => {
                listing.insert(n.name_any(), n.metadata.labels.unwrap_or_default());
                false
            }
            Ok(watcher::Event::InitDone) => {
                let mut shared = shared.lock().expect("namespace labels");
                let news = shared.as_ref().is_some_and(|old| *old != listing);
                *shared = Some(std::mem::take(&mut listing));
                news
            }
            Ok(watcher::Event::Apply(n)) => {
                let now = n.metadata.labels.clone().unwrap_or_default();
                let mut shared = shared.lock().expect("namespace labels");
                shared
                    .get_or_insert_default()
                    .insert(n.name_any(), now.clone())
                    != Some(now)
            }
            Ok(watcher::Event::Delete(n)) => {
                let mut shared = shared.lock().expect("namespace labels");
                shared
                    .get_or_insert_default()
                    .remove(&n.name_any())
                    .is_some()
            }
            Err(_) => false,
        };
        let by_label = ctx
            .guardrails
            .reader
            .state()
            .iter()
            .any(|p| p.spec.namespaces.selector.is_some());
        if news && by_label {
            ctx.guardrails.changed.send_modify(|n| *n += 1);
        }
    }
}

/// Checks `obj` against every policy selecting its namespace; `PolicyDenied` names each breach.
pub async fn check<K: Managed>(ctx: &Context, obj: &K) -> Result<()> {
    let Ok(product) = obj.product() else {
        return Ok(());
    };
    let policies = &ctx.guardrails.reader;
    let absent = async {
        while !ctx.guardrails.kind_absent.load(Ordering::Relaxed) {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    };
    let listed = tokio::time::timeout(READY_WAIT, async {
        tokio::select! {
            ready = policies.wait_until_ready() => ready.is_ok(),
            // Before the first listing only: no RoleplanePolicy CRD, no policy (an install that
            // has not applied this release's CRDs yet keeps working).
            () = absent => true,
        }
    })
    .await
    .unwrap_or(false);
    if !listed {
        return Err(providers::Error::DependencyNotReady(
            "RoleplanePolicies are not listed yet (is their CRD installed, and may Roleplane list them?); \
             no product write happens before they are known"
                .into(),
        )
        .into());
    }
    let mut policies = policies.state();
    if policies.is_empty() {
        return Ok(());
    }
    policies.sort_by_key(|p| p.name_any());
    let namespace = obj.namespace().unwrap_or_default();
    let watched = ctx
        .guardrails
        .namespace_labels
        .lock()
        .expect("namespace labels")
        .as_ref()
        .and_then(|all| all.get(&namespace).cloned());
    let labels = if !policies
        .iter()
        .any(|p| p.spec.namespaces.selector.is_some())
    {
        BTreeMap::new()
    } else if let Some(labels) = watched {
        labels
    } else {
        let api: Api<Namespace> = Api::all(ctx.client.clone());
        api.get_opt(&namespace)
            .await?
            .and_then(|n| n.metadata.labels)
            .unwrap_or_default()
    };
    let messages: Vec<String> = policies
        .iter()
        .filter(|p| admits(&p.spec.namespaces, &namespace, &labels))
        .flat_map(|p| {
            providers::breaches(product, &p.spec.ceilings)
                .into_iter()
                .map(|b| b.message(&p.name_any()))
        })
        .collect();
    if messages.is_empty() {
        return Ok(());
    }
    let kind = product.kind();
    let left = match obj.managed_status().and_then(|s| s.external_id.as_deref()) {
        Some(id) => format!(
            "the {kind} object {id} is left as it is until the spec is brought under the ceiling"
        ),
        None => format!("nothing is created in {kind} until the spec is brought under the ceiling"),
    };
    Err(Error::PolicyDenied(format!(
        "{}; {left}",
        messages.join("; ")
    )))
}

/// Refreshes every policy's status on each change and every [`STATUS_REFRESH`].
async fn keep_status(ctx: &Context) {
    let mut changes = ctx.guardrails.changed.subscribe();
    if ctx.guardrails.reader.wait_until_ready().await.is_err() {
        return;
    }
    loop {
        if let Err(e) = write_statuses(ctx).await {
            tracing::debug!(error = %e, "could not refresh policy status");
        }
        let _ = tokio::time::timeout(STATUS_REFRESH, changes.changed()).await;
    }
}

async fn write_statuses(ctx: &Context) -> Result<()> {
    let namespaces: Api<Namespace> = Api::all(ctx.client.clone());
    let namespaces = namespaces.list(&ListParams::default()).await?.items;
    let api: Api<RoleplanePolicy> = Api::all(ctx.client.clone());
    for policy in ctx.guardrails.reader.state() {
        let selected: Vec<String> = namespaces
            .iter()
            .filter(|n| {
                let labels = n.metadata.labels.clone().unwrap_or_default();
                admits(&policy.spec.namespaces, &n.name_any(), &labels)
            })
            .map(|n| n.name_any())
            .collect();
        let previous = policy.status.clone().unwrap_or_default();
        let generation = policy.metadata.generation;
        let (state, reason, message) = if selected.is_empty() {
            (
                ConditionStatus::False,
                "NoNamespaceSelected",
                "selects no existing namespace: no name in spec.namespaces.names exists and the selector (if any) matches none; the policy limits nothing".to_string(),
            )
        } else {
            let shown: Vec<&str> = selected.iter().take(10).map(String::as_str).collect();
            let more = selected.len().saturating_sub(shown.len());
            let more = if more > 0 {
                format!(" and {more} more")
            } else {
                String::new()
            };
            (
                ConditionStatus::True,
                "Active",
                format!("applies to {}{more}", shown.join(", ")),
            )
        };
        let conditions = vec![status::condition(
            &previous.conditions,
            READY,
            state,
            reason,
            &message,
            generation,
        )];
        let next = RoleplanePolicyStatus {
            observed_generation: generation,
            namespaces: Some(selected.len() as u32),
            conditions,
        };
        if previous.observed_generation == next.observed_generation
            && previous.namespaces == next.namespaces
            && status::same(&previous.conditions, &next.conditions)
        {
            continue;
        }
        let body = serde_json::json!({
            "apiVersion": "roleplane.dev/v1alpha1",
            "kind": "RoleplanePolicy",
            "status": next,
        });
        api.patch_status(
            &policy.name_any(),
            &PatchParams::apply(FIELD_MANAGER).force(),
            &Patch::Apply(&body),
        )
        .await?;
    }
    Ok(())
}
