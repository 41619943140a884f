//! Where `diff` and `import` find configs, credentials and what the cluster already knows.
//!
//! A config in the files given wins (it is what is about to be applied); otherwise the cluster's
//! (with the controller's own namespace rules). Secret values come from, in order: environment
//! variables `ROLEPLANE_SECRET_<SECRET>_<KEY>`, the cluster's Secret, a Secret in the files. The
//! values only ever reach the product's client: never the output or an error.

use std::collections::BTreeMap;
use std::sync::Arc;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{Namespace, Secret};
use kube::{Api, ResourceExt};

use super::load::Loaded;
use crate::controller::account::{self, ConfigView};
use crate::controller::decide::Found;
use crate::controller::execute;
use crate::controller::listings::Listings;
use crate::controller::{Context, ControllerConfig, Error};
use crate::crd::{
    ClusterProviderConfig, Managed, ManagedStatus, PermissionGroup, ProviderConfig,
    ProviderConfigKind, ProviderConfigReference, Role,
};
use crate::providers::{Account, BaseUrls, Desired, Provider, Providers, named};

/// What a plan may read.
pub struct Sources {
    pub loaded: Loaded,
    /// The cluster, when one is used.
    pub cluster: Option<Arc<Context>>,
    pub providers: Providers,
    pub base_urls: BaseUrls,
    /// Environment variables (a snapshot: tests pass their own).
    pub env: BTreeMap<String, String>,
    /// Listings already taken, by account and scope: one listing serves every resource of a
    /// plan that is looked up by name there.
    listings: Listings,
}

/// The environment variable holding key `key` of Secret `secret`: `ROLEPLANE_SECRET_`, the
/// Secret's name and the key, upper-cased, camelCase split and other characters as `_`
/// (`statsig-creds` / `apiKey` → `ROLEPLANE_SECRET_STATSIG_CREDS_API_KEY`).
pub fn env_name(secret: &str, key: &str) -> String {
    format!("ROLEPLANE_SECRET_{}_{}", env_part(secret), env_part(key))
}

fn env_part(s: &str) -> String {
    let mut out = String::new();
    let mut prev_lower = false;
    for c in s.chars() {
        if c.is_ascii_uppercase() && prev_lower {
            out.push('_');
        }
        prev_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
        out.push(if c.is_ascii_alphanumeric() {
            c.to_ascii_uppercase()
        } else {
            '_'
        });
    }
    out
}

impl Sources {
    /// Sources over `loaded`; `client` is the cluster, if one is used.
    pub fn new(
        loaded: Loaded,
        client: Option<kube::Client>,
        providers: Providers,
        base_urls: BaseUrls,
        env: BTreeMap<String, String>,
    ) -> Self {
        let cluster = client.map(|client| {
            Context::new(
                client,
                providers.clone(),
                ControllerConfig {
                    base_urls: base_urls.clone(),
                    instance: "roleplane-diff".into(),
                    ..Default::default()
                },
            )
        });
        Self {
            loaded,
            cluster,
            providers,
            base_urls,
            env,
            listings: Default::default(),
        }
    }

    /// The config a resource in `namespace` refers to, with the controller's namespace rules.
    pub async fn config(
        &self,
        namespace: &str,
        reference: &ProviderConfigReference,
    ) -> Result<ConfigView, Error> {
        let name = &reference.name;
        match reference.kind {
            ProviderConfigKind::ProviderConfig => {
                if let Some(pc) = self
                    .loaded
                    .provider_configs
                    .get(&format!("{namespace}/{name}"))
                {
                    return Ok(ConfigView::from_namespaced(pc, namespace, name));
                }
            }
            ProviderConfigKind::ClusterProviderConfig => {
                if let Some(cpc) = self.loaded.cluster_provider_configs.get(name) {
                    let labels = self.namespace_labels(namespace).await?;
                    if !account::admits(&cpc.spec.allowed_namespaces, namespace, &labels) {
                        return Err(Error::NamespaceNotAllowed(format!(
                            "ClusterProviderConfig {name} does not admit namespace {namespace} (see its spec.allowedNamespaces)"
                        )));
                    }
                    return Ok(ConfigView::from_cluster(cpc, name));
                }
            }
        }
        match &self.cluster {
            Some(ctx) => account::config(ctx, namespace, reference).await,
            None => Err(Error::ProviderConfigNotFound(format!(
                "{} {} not found in the files given (no cluster is used: pass its manifest with -f)",
                kind_name(reference.kind),
                match reference.kind {
                    ProviderConfigKind::ProviderConfig => format!("{namespace}/{name}"),
                    ProviderConfigKind::ClusterProviderConfig => name.clone(),
                }
            ))),
        }
    }

    /// A config named directly (`import`): from the files, else the cluster.
    pub async fn config_by_name(
        &self,
        kind: ProviderConfigKind,
        namespace: &str,
        name: &str,
    ) -> Result<ConfigView, Error> {
        let describe = match kind {
            ProviderConfigKind::ProviderConfig => format!("ProviderConfig {namespace}/{name}"),
            ProviderConfigKind::ClusterProviderConfig => format!("ClusterProviderConfig {name}"),
        };
        match kind {
            ProviderConfigKind::ProviderConfig => {
                if let Some(pc) = self
                    .loaded
                    .provider_configs
                    .get(&format!("{namespace}/{name}"))
                {
                    return Ok(ConfigView::from_namespaced(pc, namespace, name));
                }
                if let Some(ctx) = &self.cluster {
                    let api: Api<ProviderConfig> = Api::namespaced(ctx.client.clone(), namespace);
                    if let Some(pc) = api.get_opt(name).await? {
                        return Ok(ConfigView::from_namespaced(&pc, namespace, name));
                    }
                }
            }
            ProviderConfigKind::ClusterProviderConfig => {
                if let Some(cpc) = self.loaded.cluster_provider_configs.get(name) {
                    return Ok(ConfigView::from_cluster(cpc, name));
                }
                if let Some(ctx) = &self.cluster {
                    let api: Api<ClusterProviderConfig> = Api::all(ctx.client.clone());
                    if let Some(cpc) = api.get_opt(name).await? {
                        return Ok(ConfigView::from_cluster(&cpc, name));
                    }
                }
            }
        }
        Err(Error::ProviderConfigNotFound(format!(
            "{describe} not found{}",
            if self.cluster.is_some() {
                " in the files given or in the cluster"
            } else {
                " in the files given (no cluster is used: pass its manifest with -f)"
            }
        )))
    }

    async fn namespace_labels(&self, namespace: &str) -> Result<BTreeMap<String, String>, Error> {
        if let Some(labels) = self.loaded.namespaces.get(namespace) {
            return Ok(labels.clone());
        }
        Ok(match &self.cluster {
            Some(ctx) => {
                let api: Api<Namespace> = Api::all(ctx.client.clone());
                api.get_opt(namespace)
                    .await?
                    .and_then(|n| n.metadata.labels)
                    .unwrap_or_default()
            }
            None => BTreeMap::new(),
        })
    }

    /// The account of `view` for `P`, its Secret's values from the environment, the cluster or
    /// the files.
    pub async fn account<P: Provider>(&self, view: &ConfigView) -> Result<Account, Error> {
        let mut data: BTreeMap<String, ByteString> = BTreeMap::new();
        let in_files = self
            .loaded
            .secrets
            .get(&format!("{}/{}", view.secret_namespace, view.secret_name));
        let from_cluster = match &self.cluster {
            Some(ctx) => match account::secret(ctx, view).await {
                Ok(secret) => Some(secret),
                Err(Error::CredentialsMissing(_)) if in_files.is_some() => None,
                Err(e) => return Err(e),
            },
            None => None,
        };
        for secret in in_files.into_iter().chain(from_cluster.as_ref()) {
            data.extend(secret.data.clone().unwrap_or_default());
            for (k, v) in secret.string_data.clone().unwrap_or_default() {
                data.insert(k, ByteString(v.into_bytes()));
            }
        }
        for key in P::SECRET_KEYS {
            if let Some(v) = self.env.get(&env_name(&view.secret_name, key)) {
                data.insert(key.to_string(), ByteString(v.clone().into_bytes()));
            }
        }
        if data.is_empty() && self.cluster.is_none() {
            return Err(Error::CredentialsMissing(format!(
                "no values for Secret {}/{} referenced by {}: set {} or pass the Secret's manifest with -f",
                view.secret_namespace,
                view.secret_name,
                view.describe,
                P::SECRET_KEYS
                    .iter()
                    .map(|k| env_name(&view.secret_name, k))
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        let secret = Secret {
            data: Some(data),
            ..Default::default()
        };
        account::account_with::<P>(&self.base_urls, view, secret)
    }

    /// The objects carrying `desired.name`, as the controller's lookup by name finds them, from
    /// one listing per account and scope for the whole plan.
    pub async fn find_named<P: Provider>(
        &self,
        provider: &P,
        account: &Account,
        desired: Desired<'_, P::Spec>,
    ) -> Result<(Found, Vec<P::Object>), Error> {
        let scope = provider.scope(desired.spec);
        // A plan is short: a listing serves it to the end (an hour at most).
        let listing = self
            .listings
            .get(
                &account.key,
                &scope,
                std::time::Duration::from_secs(3600),
                || provider.list(account, &scope),
            )
            .await?;
        let named = named(listing.values(), desired.name);
        execute::found_named(provider, account, desired, named).await
    }

    /// What the cluster says about a resource: its status and whether a create is pending.
    pub async fn live(&self, kind: &str, namespace: &str, name: &str) -> Result<Live, Error> {
        let Some(ctx) = &self.cluster else {
            return Ok(Live::default());
        };
        let client = ctx.client.clone();
        let found = match kind {
            "Role" => live_of::<Role>(client, namespace, name).await?,
            _ => live_of::<PermissionGroup>(client, namespace, name).await?,
        };
        Ok(found.unwrap_or_default())
    }
}

/// The resource `namespace/name` of kind `K` as the cluster has it, if it exists.
async fn live_of<K: Managed>(
    client: kube::Client,
    namespace: &str,
    name: &str,
) -> Result<Option<Live>, Error> {
    let Some(obj) = Api::<K>::namespaced(client, namespace)
        .get_opt(name)
        .await?
    else {
        return Ok(None);
    };
    Ok(Some(Live {
        status: obj.managed_status().cloned(),
        create_pending: obj
            .annotations()
            .contains_key(crate::crd::CREATE_PENDING_ANNOTATION),
        object: serde_json::to_value(&obj).ok(),
    }))
}

/// A resource as the cluster has it.
#[derive(Clone, Debug, Default)]
pub struct Live {
    pub status: Option<ManagedStatus>,
    pub create_pending: bool,
    /// The whole object, for the CRD rules that compare a change with it (immutable fields).
    pub object: Option<serde_json::Value>,
}

fn kind_name(kind: ProviderConfigKind) -> &'static str {
    match kind {
        ProviderConfigKind::ProviderConfig => "ProviderConfig",
        ProviderConfigKind::ClusterProviderConfig => "ClusterProviderConfig",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_names_follow_secret_and_key() {
        assert_eq!(
            env_name("statsig-creds", "apiKey"),
            "ROLEPLANE_SECRET_STATSIG_CREDS_API_KEY"
        );
        assert_eq!(
            env_name("looker.creds", "clientSecret"),
            "ROLEPLANE_SECRET_LOOKER_CREDS_CLIENT_SECRET"
        );
        assert_eq!(env_name("cc", "username"), "ROLEPLANE_SECRET_CC_USERNAME");
    }
}
