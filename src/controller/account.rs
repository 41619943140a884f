//! From a resource's `providerConfigRef` to an [`Account`]: the config (namespace rules: a
//! ProviderConfig in the same namespace, or a ClusterProviderConfig whose `allowedNamespaces`
//! admits it; default deny), the referenced Secret (read when first needed, kept while its
//! watch sees no change: see [`SecretCache`]) and the endpoint.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Namespace, Secret};
use kube::core::DeserializeGuard;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Api, Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::Context;
use super::error::{Error, Result};
use crate::crd::{
    AllowedNamespaces, ClusterProviderConfig, LabelSelectorOperator, ProviderConfig,
    ProviderConfigKind, ProviderConfigReference, ProviderConfigStatus, ProviderKind,
    ProviderSettings,
};
use crate::providers::{Account, Credentials, Provider};

/// A config resolved to the pieces an [`Account`] needs.
#[derive(Clone, Debug)]
pub struct ConfigView {
    pub provider: ProviderKind,
    pub settings: ProviderSettings,
    pub secret_namespace: String,
    pub secret_name: String,
    /// `ProviderConfig ns/name` or `ClusterProviderConfig name`, for messages.
    pub describe: String,
}

impl ConfigView {
    pub fn from_namespaced(pc: &ProviderConfig, namespace: &str, name: &str) -> Self {
        Self {
            provider: pc.spec.provider,
            settings: pc.spec.settings.clone(),
            secret_namespace: namespace.to_string(),
            secret_name: pc.spec.credentials_secret_ref.name.clone(),
            describe: format!("ProviderConfig {namespace}/{name}"),
        }
    }

    pub fn from_cluster(cpc: &ClusterProviderConfig, name: &str) -> Self {
        Self {
            provider: cpc.spec.provider,
            settings: cpc.spec.settings.clone(),
            secret_namespace: cpc.spec.credentials_secret_ref.namespace.clone(),
            secret_name: cpc.spec.credentials_secret_ref.name.clone(),
            describe: format!("ClusterProviderConfig {name}"),
        }
    }
}

/// What the config controller needs from both config kinds.
pub trait ConfigKind:
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

/// The configs as the shared watches see them, so that a reconcile finds its config without a
/// request; a config not (yet) seen there is read from the API server instead.
#[derive(Default)]
pub struct ConfigStores {
    stores: std::sync::OnceLock<Stores>,
}

struct Stores {
    /// Per watched namespace (`None`: all).
    namespaced: Vec<(Option<String>, Store<DeserializeGuard<ProviderConfig>>)>,
    cluster: Option<Store<DeserializeGuard<ClusterProviderConfig>>>,
}

impl ConfigStores {
    /// Set once, when the watches start.
    pub fn set(
        &self,
        namespaced: Vec<(Option<String>, Store<DeserializeGuard<ProviderConfig>>)>,
        cluster: Option<Store<DeserializeGuard<ClusterProviderConfig>>>,
    ) {
        let _ = self.stores.set(Stores {
            namespaced,
            cluster,
        });
    }

    fn provider_config(&self, namespace: &str, name: &str) -> Option<ProviderConfig> {
        let stores = self.stores.get()?;
        let (_, store) = stores
            .namespaced
            .iter()
            .find(|(scope, _)| scope.as_deref().is_none_or(|s| s == namespace))?;
        let guard = store.get(&ObjectRef::new(name).within(namespace))?;
        guard.0.as_ref().ok().cloned()
    }

    fn cluster_provider_config(&self, name: &str) -> Option<ClusterProviderConfig> {
        let store = self.stores.get()?.cluster.as_ref()?;
        let guard = store.get(&ObjectRef::new(name))?;
        guard.0.as_ref().ok().cloned()
    }
}

/// Finds the config a resource in `namespace` refers to, enforcing the namespace rules.
pub async fn config(
    ctx: &Context,
    namespace: &str,
    reference: &ProviderConfigReference,
) -> Result<ConfigView> {
    match reference.kind {
        ProviderConfigKind::ProviderConfig => {
            let pc = match ctx.stores.provider_config(namespace, &reference.name) {
                Some(pc) => pc,
                None => {
                    let api: Api<ProviderConfig> = Api::namespaced(ctx.client.clone(), namespace);
                    api.get_opt(&reference.name).await?.ok_or_else(|| {
                        Error::ProviderConfigNotFound(format!(
                            "ProviderConfig {namespace}/{} not found",
                            reference.name
                        ))
                    })?
                }
            };
            Ok(ConfigView::from_namespaced(&pc, namespace, &reference.name))
        }
        ProviderConfigKind::ClusterProviderConfig => {
            if !ctx.config.namespaces.is_empty() {
                return Err(Error::ProviderConfigNotFound(format!(
                    "ClusterProviderConfig {} cannot be used: this Roleplane install watches only namespaces {}; use a ProviderConfig",
                    reference.name,
                    ctx.config.namespaces.join(", ")
                )));
            }
            let cpc = match ctx.stores.cluster_provider_config(&reference.name) {
                Some(cpc) => cpc,
                None => {
                    let api: Api<ClusterProviderConfig> = Api::all(ctx.client.clone());
                    api.get_opt(&reference.name).await?.ok_or_else(|| {
                        Error::ProviderConfigNotFound(format!(
                            "ClusterProviderConfig {} not found",
                            reference.name
                        ))
                    })?
                }
            };
            let labels = if cpc.spec.allowed_namespaces.selector.is_some() {
                let ns: Api<Namespace> = Api::all(ctx.client.clone());
                ns.get_opt(namespace)
                    .await?
                    .and_then(|n| n.metadata.labels)
                    .unwrap_or_default()
            } else {
                BTreeMap::new()
            };
            if !admits(&cpc.spec.allowed_namespaces, namespace, &labels) {
                return Err(Error::NamespaceNotAllowed(format!(
                    "ClusterProviderConfig {} does not admit namespace {namespace} (see its spec.allowedNamespaces)",
                    reference.name
                )));
            }
            Ok(ConfigView::from_cluster(&cpc, &reference.name))
        }
    }
}

/// Whether `allowed` admits a namespace with these labels. Empty admits none.
pub fn admits(
    allowed: &AllowedNamespaces,
    namespace: &str,
    labels: &BTreeMap<String, String>,
) -> bool {
    if allowed.names.iter().any(|n| n == namespace) {
        return true;
    }
    let Some(selector) = &allowed.selector else {
        return false;
    };
    if selector.match_labels.is_empty() && selector.match_expressions.is_empty() {
        // An empty selector would admit every namespace; require an explicit choice instead.
        return false;
    }
    selector
        .match_labels
        .iter()
        .all(|(k, v)| labels.get(k) == Some(v))
        && selector.match_expressions.iter().all(|e| {
            let value = labels.get(&e.key);
            match e.operator {
                LabelSelectorOperator::In => value.is_some_and(|v| e.values.contains(v)),
                LabelSelectorOperator::NotIn => value.is_none_or(|v| !e.values.contains(v)),
                LabelSelectorOperator::Exists => value.is_some(),
                LabelSelectorOperator::DoesNotExist => value.is_none(),
            }
        })
}

/// The base URL of the config's account and the key naming its credential (one rate budget and
/// one listing per key), known without reading the Secret.
pub fn base_url_and_key<P: Provider>(
    base_urls: &crate::providers::BaseUrls,
    view: &ConfigView,
) -> Result<(String, String)> {
    let base_url = view
        .settings
        .endpoint
        .clone()
        .or_else(|| base_urls.get(P::KIND).map(str::to_string))
        .or_else(|| P::default_base_url(&view.settings))
        .ok_or_else(|| {
            Error::InvalidSpec(format!(
                "{} sets no endpoint; {} needs one",
                view.describe, view.provider
            ))
        })?;
    let base_url = base_url.trim_end_matches('/').to_string();
    let key = format!(
        "{}|{}|{}/{}",
        view.provider, base_url, view.secret_namespace, view.secret_name
    );
    Ok((base_url, key))
}

/// The config's Secret, from [`SecretCache`] or read, and the account for `P`, the config's
/// product, built from it.
pub async fn account<P: Provider>(ctx: &Context, view: &ConfigView) -> Result<Account> {
    let (ns, name) = (&view.secret_namespace, &view.secret_name);
    if let Some(secret) = ctx.secrets.get(ns, name) {
        return account_from::<P>(ctx, view, secret);
    }
    let seen = ctx.secrets.epoch();
    let secret = secret(ctx, view).await?;
    ctx.secrets.keep(ns, name, &secret, seen);
    account_from::<P>(ctx, view, secret)
}

/// The Secrets resources' reconciles have read, kept while the Secret watch of their namespace
/// is listed and running and has seen no change to them: a create then costs no read of its
/// credentials from the API server, and a rotated key is read again as soon as the watch sees
/// the change (before the resources using it are reconciled for it). Only the data is kept.
#[derive(Default)]
pub struct SecretCache {
    inner: std::sync::Mutex<SecretCacheInner>,
}

#[derive(Default)]
struct SecretCacheInner {
    /// Scopes (a namespace, or None: all) whose Secret watch is listed and running.
    live: std::collections::HashSet<Option<String>>,
    secrets: std::collections::HashMap<(String, String), Secret>,
    /// Counts the changes seen: a read that started before one is not kept.
    epoch: u64,
}

impl SecretCache {
    fn get(&self, namespace: &str, name: &str) -> Option<Secret> {
        let inner = self.inner.lock().expect("secret cache lock");
        inner
            .secrets
            .get(&(namespace.to_string(), name.to_string()))
            .cloned()
    }

    fn epoch(&self) -> u64 {
        self.inner.lock().expect("secret cache lock").epoch
    }

    /// Keeps `secret` as read, when no change was seen since `epoch` and a running watch covers
    /// its namespace.
    fn keep(&self, namespace: &str, name: &str, secret: &Secret, epoch: u64) {
        let mut inner = self.inner.lock().expect("secret cache lock");
        let covered = inner.live.contains(&None) || inner.live.contains(&Some(namespace.into()));
        if !covered || inner.epoch != epoch {
            return;
        }
        let data = Secret {
            metadata: Default::default(),
            data: secret.data.clone(),
            string_data: secret.string_data.clone(),
            ..Default::default()
        };
        inner
            .secrets
            .insert((namespace.to_string(), name.to_string()), data);
    }

    /// The Secret watch saw `namespace/name` change (or go).
    pub fn changed(&self, namespace: &str, name: &str) {
        let mut inner = self.inner.lock().expect("secret cache lock");
        inner.epoch += 1;
        inner
            .secrets
            .remove(&(namespace.to_string(), name.to_string()));
    }

    /// The Secret watch of `scope` is listed and running (`live`), or not (it lost its place:
    /// what it misses until it has listed again must not be served).
    pub fn watching(&self, scope: Option<&str>, live: bool) {
        let mut inner = self.inner.lock().expect("secret cache lock");
        let scope = scope.map(str::to_string);
        if live {
            inner.live.insert(scope);
            return;
        }
        inner.epoch += 1;
        inner.live.remove(&scope);
        match scope {
            None => inner.secrets.clear(),
            Some(ns) => inner.secrets.retain(|(n, _), _| *n != ns),
        }
    }
}

/// Reads the config's Secret.
pub async fn secret(ctx: &Context, view: &ConfigView) -> Result<Secret> {
    let api: Api<Secret> = Api::namespaced(ctx.client.clone(), &view.secret_namespace);
    match api.get_opt(&view.secret_name).await {
        Ok(Some(s)) => Ok(s),
        Ok(None) => Err(Error::CredentialsMissing(format!(
            "Secret {}/{} referenced by {} not found",
            view.secret_namespace, view.secret_name, view.describe
        ))),
        Err(kube::Error::Api(e)) if e.code == 403 => Err(Error::CredentialsMissing(format!(
            "Roleplane may not read Secret {}/{} referenced by {} (forbidden)",
            view.secret_namespace, view.secret_name, view.describe
        ))),
        Err(e) => Err(e.into()),
    }
}

/// The account for `P` from the config's Secret as read.
pub fn account_from<P: Provider>(
    ctx: &Context,
    view: &ConfigView,
    secret: Secret,
) -> Result<Account> {
    account_with::<P>(&ctx.config.base_urls, view, secret)
}

/// The account for `P` from the config's Secret as read, with these base URL overrides.
pub fn account_with<P: Provider>(
    base_urls: &crate::providers::BaseUrls,
    view: &ConfigView,
    secret: Secret,
) -> Result<Account> {
    let mut values: Vec<(String, String)> = secret
        .data
        .unwrap_or_default()
        .into_iter()
        .filter_map(|(k, v)| {
            String::from_utf8(v.0)
                .ok()
                .map(|v| (k, v.trim_end_matches(['\n', '\r']).to_string()))
        })
        .collect();
    values.extend(secret.string_data.unwrap_or_default());
    let credentials = Credentials::new(values);
    let missing = credentials.missing(P::SECRET_KEYS);
    if !missing.is_empty() {
        return Err(Error::CredentialsMissing(format!(
            "Secret {}/{} lacks key(s) {} needed for {} (expected keys: {})",
            view.secret_namespace,
            view.secret_name,
            missing.join(", "),
            view.provider,
            P::SECRET_KEYS.join(", ")
        )));
    }
    let (base_url, key) = base_url_and_key::<P>(base_urls, view)?;
    Ok(Account::of::<P>(
        base_url,
        view.settings.clone(),
        credentials,
        key,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crd::{LabelSelectorRequirement, NamespaceSelector};

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn empty_allowed_namespaces_admits_nobody() {
        assert!(!admits(
            &AllowedNamespaces::default(),
            "team-a",
            &labels(&[("a", "b")])
        ));
        let empty_selector = AllowedNamespaces {
            names: vec![],
            selector: Some(NamespaceSelector::default()),
        };
        assert!(!admits(&empty_selector, "team-a", &labels(&[])));
    }

    #[test]
    fn names_and_selectors_admit() {
        let allowed = AllowedNamespaces {
            names: vec!["team-a".into()],
            selector: Some(NamespaceSelector {
                match_labels: labels(&[("tenant", "yes")]),
                match_expressions: vec![LabelSelectorRequirement {
                    key: "tier".into(),
                    operator: LabelSelectorOperator::NotIn,
                    values: vec!["prod".into()],
                }],
            }),
        };
        assert!(admits(&allowed, "team-a", &labels(&[])));
        assert!(admits(&allowed, "team-b", &labels(&[("tenant", "yes")])));
        assert!(!admits(
            &allowed,
            "team-b",
            &labels(&[("tenant", "yes"), ("tier", "prod")])
        ));
        assert!(!admits(&allowed, "team-c", &labels(&[("tenant", "no")])));
    }
}

#[cfg(test)]
mod secret_cache_tests {
    use super::*;

    fn secret(key: &str) -> Secret {
        Secret {
            string_data: Some([("apiKey".to_string(), key.to_string())].into()),
            ..Default::default()
        }
    }

    fn key(cache: &SecretCache) -> Option<String> {
        cache
            .get("t", "creds")
            .and_then(|s| s.string_data)
            .and_then(|d| d.get("apiKey").cloned())
    }

    #[test]
    fn a_secret_is_kept_only_while_a_listed_watch_has_seen_no_change_to_it() {
        let cache = SecretCache::default();
        // No watch covers the namespace yet: nothing is kept.
        cache.keep("t", "creds", &secret("old"), cache.epoch());
        assert_eq!(key(&cache), None);
        cache.watching(Some("t"), true);
        cache.keep("t", "creds", &secret("old"), cache.epoch());
        assert_eq!(key(&cache), Some("old".into()));
        // A change drops it; a read that started before the change is not kept.
        let started = cache.epoch();
        cache.changed("t", "creds");
        assert_eq!(key(&cache), None);
        cache.keep("t", "creds", &secret("old"), started);
        assert_eq!(key(&cache), None);
        cache.keep("t", "creds", &secret("new"), cache.epoch());
        assert_eq!(key(&cache), Some("new".into()));
        // A watch that lost its place drops its namespace's Secrets and keeps none until it has
        // listed again.
        cache.watching(Some("t"), false);
        assert_eq!(key(&cache), None);
        cache.keep("t", "creds", &secret("new"), cache.epoch());
        assert_eq!(key(&cache), None);
    }
}
