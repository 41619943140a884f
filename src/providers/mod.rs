//! The provider contract: observe / create / update / delete over a typed desired state, one
//! module per product, dispatched by [`ProviderKind`]. Providers know nothing of Kubernetes beyond
//! the plain values they are handed.

pub mod bigpanda;
pub mod configcat;
pub mod credentials;
mod error;
pub mod http;
pub mod looker;
pub mod slashid;
pub mod statsig;

pub use credentials::Credentials;
pub use error::{ApiError, Error, ErrorClass, Result};

use crate::crd::{
    BigPandaRole, LookerRole, PermissionGroupSpec, ProviderKind, ProviderSettings, SlashIdRole,
    StatsigRole,
};

/// Everything needed to reach one product account.
#[derive(Clone, Debug)]
pub struct Account {
    pub provider: ProviderKind,
    /// Base URL without a trailing slash (endpoint override, region or product default).
    pub base_url: String,
    pub settings: ProviderSettings,
    pub credentials: Credentials,
    /// Identity of the credential: one rate budget and token cache per key.
    pub key: String,
}

/// The product-specific part of a resource's desired state.
#[derive(Clone, Copy, Debug)]
pub enum Spec<'a> {
    Statsig(&'a StatsigRole),
    SlashId(&'a SlashIdRole),
    Looker(&'a LookerRole),
    BigPanda(&'a BigPandaRole),
    ConfigCat(&'a PermissionGroupSpec),
}

impl Spec<'_> {
    /// The product this block belongs to.
    pub fn provider(&self) -> ProviderKind {
        match self {
            Spec::Statsig(_) => ProviderKind::Statsig,
            Spec::SlashId(_) => ProviderKind::SlashId,
            Spec::Looker(_) => ProviderKind::Looker,
            Spec::BigPanda(_) => ProviderKind::BigPanda,
            Spec::ConfigCat(_) => ProviderKind::ConfigCat,
        }
    }
}

/// What a resource wants to exist in the product.
#[derive(Clone, Copy, Debug)]
pub struct Target<'a> {
    /// Name of the object in the product.
    pub name: &'a str,
    pub spec: Spec<'a>,
}

/// A product object as last read.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Observed {
    pub external_id: String,
    /// Manifest fields whose product value differs from the spec, e.g. `statsig.permissions.createConfigs`.
    pub drift: Vec<String>,
    /// A short summary for status, e.g. `5 permissions`.
    pub summary: String,
}

/// One object in a product listing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listed {
    pub external_id: String,
    pub name: String,
}

/// The operations every product implements. Deletion treats 404 as done. None of them loops
/// on errors: the controller owns retries.
#[allow(async_fn_in_trait)] // dispatched on concrete types only, so Send is inferred
pub trait Provider {
    /// Checks the desired state without calling the product (bad input never reaches it).
    fn validate(&self, target: &Target<'_>) -> Result<()>;
    /// True where the product keys objects on their name: then `externalId` follows from `name`
    /// (equal to it, or `{orgId}/{name}` for SlashID; `observe` accepts either form), and no
    /// create intent is needed to find the object again.
    fn name_is_key(&self) -> bool {
        false
    }
    /// A cheap authenticated read proving the credentials work.
    async fn check_access(&self, account: &Account) -> Result<()>;
    /// Every object in the scope the target lives in (paged through).
    async fn list(&self, account: &Account, target: &Target<'_>) -> Result<Vec<Listed>>;
    /// The object with this id compared with the target, or None when it does not exist.
    async fn observe(
        &self,
        account: &Account,
        target: &Target<'_>,
        external_id: &str,
    ) -> Result<Option<Observed>>;
    /// Creates the object, returning its external id.
    async fn create(&self, account: &Account, target: &Target<'_>) -> Result<String>;
    /// Brings an existing object in line with the target.
    async fn update(&self, account: &Account, target: &Target<'_>, external_id: &str)
    -> Result<()>;
    /// Deletes the object (and anything it owns). Already gone is success.
    async fn delete(&self, account: &Account, target: &Target<'_>, external_id: &str)
    -> Result<()>;
}

/// All product clients, sharing one HTTP stack.
#[derive(Clone)]
pub struct Providers {
    pub http: http::Http,
    statsig: statsig::Statsig,
    configcat: configcat::ConfigCat,
    looker: looker::Looker,
    slashid: slashid::SlashId,
    bigpanda: bigpanda::BigPanda,
}

macro_rules! dispatch {
    ($self:ident, $kind:expr, $p:ident => $body:expr) => {
        match $kind {
            ProviderKind::Statsig => {
                let $p = &$self.statsig;
                $body
            }
            ProviderKind::ConfigCat => {
                let $p = &$self.configcat;
                $body
            }
            ProviderKind::Looker => {
                let $p = &$self.looker;
                $body
            }
            ProviderKind::SlashId => {
                let $p = &$self.slashid;
                $body
            }
            ProviderKind::BigPanda => {
                let $p = &$self.bigpanda;
                $body
            }
        }
    };
}

impl Providers {
    pub fn new(http: http::Http) -> Self {
        Self {
            statsig: statsig::Statsig::new(http.clone()),
            configcat: configcat::ConfigCat::new(http.clone()),
            looker: looker::Looker::new(http.clone()),
            slashid: slashid::SlashId::new(http.clone()),
            bigpanda: bigpanda::BigPanda::new(http.clone()),
            http,
        }
    }

    /// The product's public base URL, used when a config names no endpoint.
    pub fn default_base_url(kind: ProviderKind, settings: &ProviderSettings) -> Option<String> {
        match kind {
            ProviderKind::Statsig => Some(statsig::DEFAULT_BASE_URL.to_string()),
            ProviderKind::ConfigCat => Some("https://api.configcat.com".to_string()),
            ProviderKind::SlashId => Some(slashid::DEFAULT_BASE_URL.to_string()),
            ProviderKind::Looker => None,
            ProviderKind::BigPanda => Some(
                match settings
                    .bigpanda
                    .as_ref()
                    .map(|b| b.region)
                    .unwrap_or_default()
                {
                    crate::crd::BigPandaRegion::Us => "https://api.bigpanda.io",
                    crate::crd::BigPandaRegion::Eu => "https://eu-api.bigpanda.io",
                }
                .to_string(),
            ),
        }
    }

    pub fn name_is_key(&self, kind: ProviderKind) -> bool {
        dispatch!(self, kind, p => p.name_is_key())
    }

    pub fn validate(&self, target: &Target<'_>) -> Result<()> {
        dispatch!(self, target.spec.provider(), p => p.validate(target))
    }

    pub async fn check_access(&self, account: &Account) -> Result<()> {
        dispatch!(self, account.provider, p => p.check_access(account).await)
    }

    pub async fn list(&self, account: &Account, target: &Target<'_>) -> Result<Vec<Listed>> {
        dispatch!(self, account.provider, p => p.list(account, target).await)
    }

    pub async fn observe(
        &self,
        account: &Account,
        target: &Target<'_>,
        id: &str,
    ) -> Result<Option<Observed>> {
        dispatch!(self, account.provider, p => p.observe(account, target, id).await)
    }

    pub async fn create(&self, account: &Account, target: &Target<'_>) -> Result<String> {
        dispatch!(self, account.provider, p => p.create(account, target).await)
    }

    pub async fn update(&self, account: &Account, target: &Target<'_>, id: &str) -> Result<()> {
        dispatch!(self, account.provider, p => p.update(account, target, id).await)
    }

    pub async fn delete(&self, account: &Account, target: &Target<'_>, id: &str) -> Result<()> {
        dispatch!(self, account.provider, p => p.delete(account, target, id).await)
    }
}
