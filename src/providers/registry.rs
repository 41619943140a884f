//! The one list of products, and everything built from it: the clients, their dispatch, the
//! operator's per-product flags and the simulators. Adding a product is one line in `products!`,
//! one folder `src/providers/<name>/` and one block file `src/crd/products/<name>.rs`.
//!
//! A product folder provides, by convention: the provider type named in its line (implementing
//! [`Provider`](super::Provider)), `Flags` (its operator flags, with `base_url()`), and `sim::Sim`
//! with `sim::Args` (its simulator, implementing [`crate::sim::Simulated`]). Its block file provides
//! the block type named in its line, any settings type, and `RULES`.

use std::sync::Arc;

use axum::Router;

use super::{Http, Provider, Visit, VisitKind};
use crate::crd::policy::{AdmissionRule, Breach};
use crate::crd::{ProductCeilings, ProductSpec, ProviderKind};
use crate::sim::{Simulated, Traffic};

/// The products. `roles` add a block to `Role` (`name: Provider(Block) ceiling Ceiling [settings
/// Settings]`); `kinds` own a kind of their own (`name: Provider(Spec) kind Kind ceiling Ceiling
/// [settings Settings]`). `Ceiling` is the product's block in a RoleplanePolicy.
/// The name is the manifest name (`provider: statsig`, `spec.statsig`), the module name and the
/// simulator prefix; the provider type, lower-cased, must equal it.
macro_rules! products {
    (@list $shape:ident $then:ident) => {
        products!(@expand $shape $then
            roles {
                statsig: Statsig(StatsigRole) ceiling StatsigCeiling,
                slashid: SlashId(SlashIdRole) ceiling SlashIdCeiling settings SlashIdSettings,
                looker: Looker(LookerRole) ceiling LookerCeiling,
                bigpanda: BigPanda(BigPandaRole) ceiling BigPandaCeiling settings BigPandaSettings,
            }
            kinds {
                configcat: ConfigCat(PermissionGroupSpec) kind PermissionGroup ceiling ConfigCatCeiling,
            }
        );
    };
    (@expand full $then:ident $($list:tt)*) => {
        $then! { $($list)* }
    };
    (@expand flat $then:ident
        roles { $( $name:ident : $Variant:ident ( $Block:ident ) ceiling $Ceiling:ident $( settings $Settings:ident )? , )* }
        kinds { $( $kname:ident : $KVariant:ident ( $KSpec:ident ) kind $Kind:ident ceiling $KCeiling:ident $( settings $KSettings:ident )? , )* }
    ) => {
        $then! { $( $name $Variant, )* $( $kname $KVariant, )* }
    };
    // The whole list, grouped by kind.
    ($then:ident) => {
        products!(@list full $then);
    };
    // `name Provider,` per product.
    (flat $then:ident) => {
        products!(@list flat $then);
    };
}

macro_rules! define_registry {
    ($( $name:ident $Variant:ident, )*) => {
        /// Every product's client, sharing one HTTP stack. Cheap to clone.
        #[derive(Clone)]
        pub struct Providers {
            pub http: Http,
            $( $name: super::$name::$Variant, )*
        }

        impl Providers {
            pub fn new(http: Http) -> Self {
                Self {
                    $( $name: <super::$name::$Variant as Provider>::new(http.clone()), )*
                    http,
                }
            }

            /// Runs `visitor` with the provider of this product block: the one place a product
            /// is chosen, with its block already typed.
            pub async fn visit<V: Visit>(&self, spec: ProductSpec<'_>, visitor: V) -> V::Output {
                match spec {
                    $( ProductSpec::$Variant(s) => visitor.visit(&self.$name, s).await, )*
                }
            }

            /// The listing scope of this product block ([`Provider::scope`]).
            pub fn scope(&self, spec: ProductSpec<'_>) -> String {
                match spec {
                    $( ProductSpec::$Variant(s) => self.$name.scope(s), )*
                }
            }

            /// Runs `visitor` with the provider of `kind` (for what needs no block: configs).
            pub async fn visit_kind<V: VisitKind>(&self, kind: ProviderKind, visitor: V) -> V::Output {
                match kind {
                    $( ProviderKind::$Variant => visitor.visit(&self.$name).await, )*
                }
            }
        }

        /// What `spec` grants beyond one policy's `ceilings` (only its own product's block counts).
        pub fn breaches(spec: ProductSpec<'_>, ceilings: &ProductCeilings) -> Vec<Breach> {
            match spec {
                $( ProductSpec::$Variant(s) => ceilings
                    .$name
                    .as_ref()
                    .map(|c| super::$name::guard::check(s, c))
                    .unwrap_or_default(), )*
            }
        }

        /// The request budget of `kind` per credential ([`Provider::LIMITS`]).
        pub fn limits(kind: ProviderKind) -> super::Limits {
            match kind {
                $( ProviderKind::$Variant => <super::$name::$Variant as Provider>::LIMITS, )*
            }
        }

        /// Every product's admission checks (CEL), in registry order.
        pub fn admission_rules() -> Vec<AdmissionRule> {
            let mut rules = Vec::new();
            $( rules.extend(super::$name::guard::admission()); )*
            rules
        }

        /// Default base URLs per product, used by configs that set no endpoint.
        #[derive(Clone, Debug, Default, clap::Args)]
        #[group(skip)]
        pub struct BaseUrls {
            $(
                #[command(flatten)]
                pub $name: super::$name::Flags,
            )*
        }

        impl BaseUrls {
            /// The operator-wide override for `kind`, if one was given.
            pub fn get(&self, kind: ProviderKind) -> Option<&str> {
                match kind {
                    $( ProviderKind::$Variant => self.$name.base_url(), )*
                }
            }
        }

        /// What each simulated product accepts (credentials, token lifetimes).
        #[derive(Clone, Debug, Default, clap::Args)]
        #[group(skip)]
        pub struct SimArgs {
            $(
                #[command(flatten)]
                pub $name: super::$name::sim::Args,
            )*
        }

        /// Every simulated product, with state the tests can inspect. Cheap to clone.
        #[derive(Clone)]
        pub struct Simulator {
            $( pub $name: Arc<super::$name::sim::Sim>, )*
        }

        impl Simulator {
            pub fn new(args: SimArgs) -> Self {
                Self {
                    $( $name: Arc::new(<super::$name::sim::Sim as Simulated>::new(args.$name)), )*
                }
            }

            /// Request log and faults of one product (its default region where it has several).
            pub fn traffic(&self, kind: ProviderKind) -> &Traffic {
                match kind {
                    $( ProviderKind::$Variant => self.$name.main_traffic(), )*
                }
            }

            /// Makes every simulated product enforce (or stop enforcing) the rate limits its
            /// contract publishes (`roleplane sim --published-limits`).
            pub fn set_published_limits(&self, on: bool) {
                $( for traffic in self.$name.all_traffic() { traffic.set_published_limits(on); } )*
            }

            /// Every product's API under its prefix.
            pub fn router(&self) -> Router {
                let mut router = Router::new();
                $(
                    for (prefix, routes) in self.$name.mounts() {
                        router = router.nest(prefix, routes);
                    }
                )*
                router.fallback(crate::sim::unexpected)
            }

            /// The path prefixes served, for the startup log.
            pub fn prefixes(&self) -> Vec<&'static str> {
                let mut prefixes = Vec::new();
                $( prefixes.extend(self.$name.mounts().into_iter().map(|(p, _)| p)); )*
                prefixes
            }
        }
    };
}

products!(flat define_registry);

impl Simulator {
    /// Starts a simulator on `127.0.0.1` with an ephemeral port, serving until the runtime ends;
    /// returns it with its base address (`http://127.0.0.1:PORT`).
    pub async fn start(args: SimArgs) -> std::io::Result<(Self, String)> {
        let sim = Self::new(args);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let base = format!("http://{}", listener.local_addr()?);
        let serving = sim.clone();
        tokio::spawn(async move { serving.serve(listener, std::future::pending()).await });
        Ok((sim, base))
    }

    /// Serves on `listener` until `shutdown` resolves.
    pub async fn serve(
        &self,
        listener: tokio::net::TcpListener,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        axum::serve(listener, self.router())
            .with_graceful_shutdown(shutdown)
            .await
    }
}
