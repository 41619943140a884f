//! A config's hold on its credentials Secret, so that deleting a namespace never strands product
//! objects: the namespace controller deletes a Secret at once, but Roles deleted with it still
//! need the credentials to delete their product objects. Roleplane keeps a finalizer
//! (`roleplane.dev/credentials`) on every Secret a config uses:
//!
//! - while the Secret's namespace terminates and resources still use the config, the Secret is
//!   kept (readable, with a deletionTimestamp) until their cleanup is done;
//! - when the last config using it goes, the finalizer goes with it;
//! - a Secret deleted outside a namespace deletion is let go at once: deleting credentials stays
//!   the user's decision (resources then report what blocks them, see `reconcile::cleanup`).
//!
//! See `docs/deletion.md`.

use k8s_openapi::api::core::v1::{Namespace, Secret};
use kube::api::{Patch, PatchParams};
use kube::{Api, Resource, ResourceExt};
use serde_json::json;

use super::Context;
use super::account::ConfigView;
use super::error::{Error, Result};
use crate::crd::{CREDENTIALS_FINALIZER, ClusterProviderConfig, ProviderConfig};

/// What became of the Secret.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hold {
    /// Held.
    Kept,
    /// Being deleted with its namespace, and kept until the config's users there are cleaned
    /// up: re-check soon, since nothing else says when they are done.
    Draining,
    /// Let go: it is being deleted and nothing needs it any more.
    Released,
}

/// Holds `secret` for the config of `view`, or lets it go if it is being deleted outside a
/// namespace deletion or when no user of the config has cleanup left to do with it
/// (`cleanup_pending`).
pub async fn keep(
    ctx: &Context,
    view: &ConfigView,
    secret: &Secret,
    cleanup_pending: bool,
) -> Result<Hold> {
    let held = secret
        .finalizers()
        .iter()
        .any(|f| f == CREDENTIALS_FINALIZER);
    if secret.meta().deletion_timestamp.is_none() {
        if !held {
            add(ctx, secret).await?;
        }
        return Ok(Hold::Kept);
    }
    if cleanup_pending && terminating(ctx, &view.secret_namespace).await? {
        return Ok(Hold::Draining);
    }
    if held {
        remove(ctx, secret).await?;
    }
    Ok(Hold::Released)
}

/// Lets go of the Secret of a config that is going away, unless another config still uses it.
pub async fn release(ctx: &Context, view: &ConfigView) -> Result<()> {
    let api: Api<Secret> = Api::namespaced(ctx.client.clone(), &view.secret_namespace);
    let Some(secret) = api.get_opt(&view.secret_name).await? else {
        return Ok(());
    };
    if !secret
        .finalizers()
        .iter()
        .any(|f| f == CREDENTIALS_FINALIZER)
        || used_elsewhere(ctx, view).await?
    {
        return Ok(());
    }
    remove(ctx, &secret).await
}

/// Lets go of a Secret being deleted that no config uses any more (a config repointed, or gone
/// while Roleplane was down).
pub async fn sweep(ctx: &Context, namespace: &str, name: &str) -> Result<()> {
    let api: Api<Secret> = Api::namespaced(ctx.client.clone(), namespace);
    let Some(secret) = api.get_opt(name).await? else {
        return Ok(());
    };
    let held = secret
        .finalizers()
        .iter()
        .any(|f| f == CREDENTIALS_FINALIZER);
    if !held || secret.meta().deletion_timestamp.is_none() {
        return Ok(());
    }
    if users_of_secret(ctx, namespace, name).await?.is_empty() {
        remove(ctx, &secret).await?;
    }
    Ok(())
}

/// Whether a config other than `view`'s uses its Secret (one being deleted too: it may still
/// have resources to clean up, and lets go itself when done).
async fn used_elsewhere(ctx: &Context, view: &ConfigView) -> Result<bool> {
    Ok(
        users_of_secret(ctx, &view.secret_namespace, &view.secret_name)
            .await?
            .iter()
            .any(|describe| describe != &view.describe),
    )
}

/// The configs that use the Secret `namespace/name`, described.
async fn users_of_secret(ctx: &Context, namespace: &str, name: &str) -> Result<Vec<String>> {
    let mut found = Vec::new();
    let configs: Api<ProviderConfig> = Api::namespaced(ctx.client.clone(), namespace);
    super::for_each_listed(&configs, |pc| {
        let v = ConfigView::from_namespaced(&pc, namespace, &pc.name_any());
        if v.secret_name == name {
            found.push(v.describe);
        }
    })
    .await?;
    if ctx.config.namespaces.is_empty() {
        let cluster: Api<ClusterProviderConfig> = Api::all(ctx.client.clone());
        super::for_each_listed(&cluster, |cpc| {
            let v = ConfigView::from_cluster(&cpc, &cpc.name_any());
            if v.secret_namespace == namespace && v.secret_name == name {
                found.push(v.describe);
            }
        })
        .await?;
    }
    Ok(found)
}

async fn terminating(ctx: &Context, namespace: &str) -> Result<bool> {
    let api: Api<Namespace> = Api::all(ctx.client.clone());
    Ok(api
        .get_opt(namespace)
        .await?
        .is_some_and(|ns| ns.meta().deletion_timestamp.is_some()))
}

async fn add(ctx: &Context, secret: &Secret) -> Result<()> {
    let patch = if secret.finalizers().is_empty() {
        json!([
            {"op": "test", "path": "/metadata/finalizers", "value": null},
            {"op": "add", "path": "/metadata/finalizers", "value": [CREDENTIALS_FINALIZER]},
        ])
    } else {
        json!([
            {"op": "test", "path": "/metadata/finalizers", "value": secret.finalizers()},
            {"op": "add", "path": "/metadata/finalizers/-", "value": CREDENTIALS_FINALIZER},
        ])
    };
    patch_finalizers(ctx, secret, patch).await
}

async fn remove(ctx: &Context, secret: &Secret) -> Result<()> {
    let Some(at) = secret
        .finalizers()
        .iter()
        .position(|f| f == CREDENTIALS_FINALIZER)
    else {
        return Ok(());
    };
    let path = format!("/metadata/finalizers/{at}");
    let patch = json!([
        {"op": "test", "path": path, "value": CREDENTIALS_FINALIZER},
        {"op": "remove", "path": path},
    ]);
    patch_finalizers(ctx, secret, patch).await
}

async fn patch_finalizers(ctx: &Context, secret: &Secret, patch: serde_json::Value) -> Result<()> {
    let api: Api<Secret> =
        Api::namespaced(ctx.client.clone(), &secret.namespace().unwrap_or_default());
    let patch: json_patch::Patch = serde_json::from_value(patch)
        .map_err(|e| Error::InvalidSpec(format!("a finalizer patch: {e}")))?;
    match api
        .patch(
            &secret.name_any(),
            &PatchParams::default(),
            &Patch::Json::<()>(patch),
        )
        .await
    {
        Ok(_) => Ok(()),
        // Gone already, or changed since it was read: the next event settles it.
        Err(kube::Error::Api(e)) if matches!(e.code, 404 | 409 | 422) => Ok(()),
        Err(e) => Err(e.into()),
    }
}
