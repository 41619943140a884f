//! The crash-safe create protocol. Before creating an object whose id the product assigns,
//! Roleplane records the intent on the resource (annotation, guarded by resourceVersion so two
//! writers cannot both proceed); after the create the id goes into status, then the intent is
//! dropped. Where nothing but pure checks follow the create, the id is stored by the reconcile's
//! own final status write (one write fewer); before any further product call it is stored at
//! once (`settle`). A crash in between leaves the intent, and the next reconcile finds the
//! object by name and adopts exactly one match (see `decide`).
//!
//! A resource seen for the first time gets its finalizer with the first write that needs it
//! ([`Finalizer`]): the intent, when the next step is a create, so a create costs one object
//! write fewer. The finalizer is on the resource before any product object is created, updated
//! or named in its status, as before.

use std::sync::atomic::{AtomicBool, Ordering};

use k8s_openapi::jiff::Timestamp;
use kube::api::{Patch, PatchParams};
use kube::{Api, Resource, ResourceExt};

use super::error::{Error, Result, reason};
use super::status::{self, READY, SYNCED};
use crate::crd::{CREATE_PENDING_ANNOTATION, ConditionStatus, FINALIZER, Managed, ProviderKind};
use crate::providers::{Account, Desired, Provider};

/// The cleanup finalizer of a resource that does not carry it yet (a new one): added by the
/// first write of this reconcile that needs it, or by [`Finalizer::ensure`] on its own.
pub struct Finalizer {
    missing: AtomicBool,
}

impl Finalizer {
    pub fn new(missing: bool) -> Self {
        Self {
            missing: AtomicBool::new(missing),
        }
    }

    /// The finalizers `obj` must carry, when ours is still to be added.
    fn wanted<K: Resource>(&self, obj: &K) -> Option<Vec<String>> {
        self.missing.load(Ordering::SeqCst).then(|| {
            let mut all = obj.finalizers().to_vec();
            all.push(FINALIZER.to_string());
            all
        })
    }

    /// Adds the finalizer now, unless it is on already: before an existing product object is
    /// updated or named in the resource's status. Guarded by resourceVersion (the list is
    /// written whole).
    pub async fn ensure<K: Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug>(
        &self,
        obj: &K,
        api: &Api<K>,
    ) -> Result<()> {
        let Some(finalizers) = self.wanted(obj) else {
            return Ok(());
        };
        let patch = serde_json::json!({
            "metadata": { "resourceVersion": obj.resource_version(), "finalizers": finalizers }
        });
        api.patch(
            &obj.name_any(),
            &PatchParams::default(),
            &Patch::Merge(&patch),
        )
        .await?;
        self.missing.store(false, Ordering::SeqCst);
        Ok(())
    }
}

/// Whether `obj` carries a create intent.
pub fn pending<K: Resource>(obj: &K) -> bool {
    obj.annotations().contains_key(CREATE_PENDING_ANNOTATION)
}

/// Records the intent (with the finalizer, when it is still missing) and creates. Returns the
/// created object; the caller stores its id and then drops the intent (`settle`, or the final
/// status write followed by `clear`).
pub async fn create<K: Managed, P: Provider>(
    obj: &K,
    api: &Api<K>,
    finalizer: &Finalizer,
    provider: &P,
    account: &Account,
    desired: Desired<'_, P::Spec>,
) -> Result<P::Object> {
    let mut metadata = serde_json::json!({
        "resourceVersion": obj.resource_version(),
        "annotations": { CREATE_PENDING_ANNOTATION: Timestamp::now().to_string() },
    });
    let finalizers = finalizer.wanted(obj);
    if let Some(finalizers) = &finalizers {
        metadata["finalizers"] = serde_json::json!(finalizers);
    }
    api.patch(
        &obj.name_any(),
        &PatchParams::default(),
        &Patch::Merge(&serde_json::json!({ "metadata": metadata })),
    )
    .await?;
    if finalizers.is_some() {
        finalizer.missing.store(false, Ordering::SeqCst);
    }
    match provider.create(account, desired).await {
        Ok(created) => Ok(created),
        Err(e) => {
            let e = Error::from(e);
            if e.create_certainly_failed() {
                let _ = clear(obj, api).await;
            }
            Err(e)
        }
    }
}

/// Stores the id of a created (or an interrupted create's) object, then drops the intent.
pub async fn settle<K: Managed>(obj: &K, api: &Api<K>, kind: ProviderKind, id: &str) -> Result<()> {
    store_id(obj, api, kind, id).await?;
    clear(obj, api).await
}

/// Drops the intent (once the id is in status).
pub async fn clear<K: Managed>(obj: &K, api: &Api<K>) -> Result<()> {
    let patch =
        serde_json::json!({ "metadata": { "annotations": { CREATE_PENDING_ANNOTATION: null } } });
    api.patch(
        &obj.name_any(),
        &PatchParams::default(),
        &Patch::Merge(&patch),
    )
    .await?;
    Ok(())
}

/// Stores the id right after create, before anything else can fail.
async fn store_id<K: Managed>(obj: &K, api: &Api<K>, kind: ProviderKind, id: &str) -> Result<()> {
    let mut s = obj.managed_status().cloned().unwrap_or_default();
    s.external_id = Some(id.to_string());
    s.provider = Some(kind);
    let message = format!("created {kind} object {id}; checking it");
    s.conditions = vec![
        status::condition(
            &s.conditions,
            READY,
            ConditionStatus::False,
            reason::CREATING,
            &message,
            obj.meta().generation,
        ),
        status::condition(
            &s.conditions,
            SYNCED,
            ConditionStatus::True,
            reason::RECONCILE_SUCCESS,
            "",
            obj.meta().generation,
        ),
    ];
    status::apply_status(api, obj, &s).await?;
    Ok(())
}
