//! Finding and converging the product object: validate, resolve credentials, locate the object
//! (status id, `externalId`, or by name guarded by the create intent), create it or correct drift.

use k8s_openapi::jiff::Timestamp;
use kube::api::{Patch, PatchParams};
use kube::runtime::events::EventType;
use kube::{Api, ResourceExt};

use super::error::{Error, Result};
use super::report::write_external_id;
use super::status::{self, READY};
use super::{Context, Managed, resolve};
use crate::crd::{CREATE_PENDING_ANNOTATION, ConditionStatus, ManagementPolicy, ProviderKind};
use crate::providers::{self, Account, Observed, Target};

/// What a successful sync found.
pub(super) struct Outcome {
    pub provider: ProviderKind,
    pub external_id: String,
    pub observed: Observed,
    /// Drift left in place (ObserveOnly).
    pub unmanaged_drift: Vec<String>,
    pub events: Vec<(EventType, &'static str, String)>,
}

/// The Secret watch entry for `obj`.
fn user<K: Managed>(obj: &K) -> super::secrets::Dependent {
    (K::KIND, obj.namespace().unwrap_or_default(), obj.name_any())
}

/// Validation and credentials: everything before the first product call. Cleanup passes
/// `validate: false`: deleting must not depend on the spec validating (a spec broken after the
/// object was created must still be deletable).
pub(super) async fn prepare<'a, K: Managed>(
    obj: &'a K,
    ctx: &Context,
    validate: bool,
) -> Result<(Target<'a>, Account)> {
    let m = obj.managed();
    let spec = obj.product_spec().map_err(Error::InvalidSpec)?;
    let target = Target {
        name: &m.name,
        spec,
    };
    if validate {
        ctx.providers.validate(&target)?;
    }
    let namespace = obj.namespace().unwrap_or_default();
    let view = resolve::config(ctx, &namespace, &m.provider_config_ref).await?;
    if view.provider != spec.provider() {
        return Err(Error::InvalidSpec(format!(
            "the spec has a {} block but {} is for {}",
            spec.provider(),
            view.describe,
            view.provider
        )));
    }
    let account = resolve::account(ctx, &view, user(obj)).await?;
    Ok((target, account))
}

pub(super) async fn sync<K: Managed>(obj: &K, ctx: &Context, api: &Api<K>) -> Result<Outcome> {
    let (target, account) = prepare(obj, ctx, true).await?;
    let m = obj.managed();
    let provider = account.provider;
    let observe_only = m.management_policy == ManagementPolicy::ObserveOnly;
    let status = obj.managed_status();
    let status_id = status.and_then(|s| s.external_id.clone());
    if let (Some(wanted), true) = (&m.external_id, ctx.providers.name_is_key(provider))
        && wanted != &m.name
        && !wanted.ends_with(&format!("/{}", m.name))
    {
        {
            return Err(Error::InvalidSpec(format!(
                "{provider} keys objects on their name: externalId {wanted:?} must name {:?}",
                m.name
            )));
        }
    }
    let mut events = Vec::new();
    let mut external_id = m.external_id.clone().or(status_id.clone());
    let mut observed = None;
    if let Some(id) = external_id.clone() {
        observed = ctx.providers.observe(&account, &target, &id).await?;
        match &observed {
            None if m.external_id.is_some() => {
                return Err(providers::Error::DependencyNotReady(format!(
                    "{provider} has no object with externalId {id} to adopt"
                ))
                .into());
            }
            None if observe_only => {
                return Err(providers::Error::DependencyNotReady(format!(
                    "observe-only: the {provider} object {id} no longer exists"
                ))
                .into());
            }
            None => {
                events.push((
                    EventType::Warning,
                    "Recreating",
                    format!("the {provider} object {id} was deleted outside Roleplane; creating it again"),
                ));
                external_id = None;
            }
            Some(_) if m.external_id.is_some() && status_id.as_deref() != Some(id.as_str()) => {
                events.push((
                    EventType::Normal,
                    "Adopted",
                    format!("adopted the existing {provider} object {id} (spec.externalId)"),
                ));
            }
            Some(_) => {}
        }
    }
    if external_id.is_none() {
        let intent = obj.annotations().contains_key(CREATE_PENDING_ANNOTATION);
        let matches: Vec<_> = ctx
            .providers
            .list(&account, &target)
            .await?
            .into_iter()
            .filter(|l| l.name == m.name)
            .collect();
        let ids = || {
            matches
                .iter()
                .map(|l| l.external_id.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        match matches.as_slice() {
            [] if observe_only => {
                return Err(providers::Error::DependencyNotReady(format!(
                    "observe-only: no {provider} object named {:?} exists",
                    m.name
                ))
                .into());
            }
            [] => {
                let id = create(obj, ctx, api, &account, &target).await?;
                events.push((
                    EventType::Normal,
                    "Created",
                    format!("created {provider} object {id}"),
                ));
                observed = ctx.providers.observe(&account, &target, &id).await?;
                if observed.is_none() {
                    return Err(providers::Error::DependencyNotReady(format!(
                        "created {provider} object {id} but cannot read it back yet"
                    ))
                    .into());
                }
                external_id = Some(id);
            }
            [one] if intent || observe_only => {
                let why = if intent {
                    "left by an interrupted create"
                } else {
                    "observe-only, matched by name"
                };
                events.push((
                    EventType::Normal,
                    "Adopted",
                    format!("adopted {provider} object {} ({why})", one.external_id),
                ));
                if intent {
                    write_external_id(obj, api, provider, &one.external_id).await?;
                    clear_intent(obj, api).await?;
                }
                observed = ctx
                    .providers
                    .observe(&account, &target, &one.external_id)
                    .await?;
                external_id = Some(one.external_id.clone());
            }
            [_] => {
                return Err(providers::Error::AlreadyExists(format!(
                    "a {provider} object named {:?} already exists (id {}) and Roleplane did not create it; set spec.externalId to adopt it",
                    m.name,
                    ids()
                ))
                .into());
            }
            _ if intent => {
                return Err(Error::AmbiguousExternalObject(format!(
                    "{} {provider} objects are named {:?} ({}); set spec.externalId to the one this resource manages",
                    matches.len(),
                    m.name,
                    ids()
                )));
            }
            _ => {
                return Err(providers::Error::AlreadyExists(format!(
                    "{} {provider} objects named {:?} already exist ({}); set spec.externalId to adopt one",
                    matches.len(),
                    m.name,
                    ids()
                ))
                .into());
            }
        }
    }
    let external_id = external_id.expect("set on every path above");
    let mut observed = observed.ok_or_else(|| {
        providers::Error::DependencyNotReady(format!(
            "the {provider} object {external_id} disappeared while reconciling"
        ))
    })?;
    let mut unmanaged_drift = Vec::new();
    if !observed.drift.is_empty() {
        let fields = observed.drift.join(", ");
        if observe_only {
            unmanaged_drift = observed.drift.clone();
        } else {
            let out_of_band = status.is_some_and(|s| {
                s.observed_generation == obj.meta().generation
                    && status::find(&s.conditions, READY)
                        .is_some_and(|c| c.status == ConditionStatus::True)
            });
            ctx.providers
                .update(&account, &target, &external_id)
                .await?;
            let after = ctx
                .providers
                .observe(&account, &target, &external_id)
                .await?
                .ok_or_else(|| {
                    providers::Error::DependencyNotReady(format!(
                        "the {provider} object {external_id} disappeared during the update"
                    ))
                })?;
            if !after.drift.is_empty() {
                return Err(providers::Error::Api(providers::ApiError {
                    provider,
                    operation: "update",
                    status: None,
                    message: format!(
                        "the update was accepted but these fields still differ: {}",
                        after.drift.join(", ")
                    ),
                    retry_after: None,
                })
                .into());
            }
            if out_of_band {
                events.push((
                    EventType::Warning,
                    "DriftCorrected",
                    format!("{provider} object {external_id} was changed outside Roleplane; corrected {fields}"),
                ));
            } else {
                events.push((
                    EventType::Normal,
                    "Updated",
                    format!("updated {provider} object {external_id}: {fields}"),
                ));
            }
            observed = after;
        }
    }
    Ok(Outcome {
        provider,
        external_id,
        observed,
        unmanaged_drift,
        events,
    })
}

/// Records the create intent (guarded by resourceVersion), creates, then stores the id.
async fn create<K: Managed>(
    obj: &K,
    ctx: &Context,
    api: &Api<K>,
    account: &Account,
    target: &Target<'_>,
) -> Result<String> {
    let patch = serde_json::json!({
        "metadata": {
            "resourceVersion": obj.resource_version(),
            "annotations": { CREATE_PENDING_ANNOTATION: Timestamp::now().to_string() },
        }
    });
    api.patch(
        &obj.name_any(),
        &PatchParams::default(),
        &Patch::Merge(&patch),
    )
    .await?;
    match ctx.providers.create(account, target).await {
        Ok(id) => {
            write_external_id(obj, api, account.provider, &id).await?;
            clear_intent(obj, api).await?;
            Ok(id)
        }
        Err(e) => {
            let e = Error::from(e);
            if e.create_certainly_failed() {
                let _ = clear_intent(obj, api).await;
            }
            Err(e)
        }
    }
}

async fn clear_intent<K: Managed>(obj: &K, api: &Api<K>) -> Result<()> {
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
