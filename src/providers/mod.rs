//! The provider contract: what every product implements, typed per product (its manifest block and
//! the object as the product returns it) and dispatched once, by the registry. Providers know
//! nothing of Kubernetes beyond the plain values they are handed.

#[macro_use]
mod registry;
pub mod credentials;
mod error;
#[cfg(test)]
mod fuzz;
pub mod http;
pub mod memo;

/// A product's operator flags: `--<name>-url` (env `ROLEPLANE_<NAME>_URL`), the base URL of its
/// configs without an endpoint; none for a product without a public default.
macro_rules! base_url_flag {
    () => {
        /// Operator flags for this product: none.
        #[derive(Clone, Debug, Default, clap::Args)]
        #[group(skip)]
        pub struct Flags {}

        impl Flags {
            pub fn base_url(&self) -> Option<&str> {
                None
            }
        }
    };
    ($id:literal, $env:literal, $doc:literal) => {
        /// Operator flags for this product.
        #[derive(Clone, Debug, Default, clap::Args)]
        #[group(skip)]
        pub struct Flags {
            #[doc = $doc]
            #[arg(id = $id, long = $id, env = $env, value_name = "URL")]
            pub url: Option<String>,
        }

        impl Flags {
            pub fn base_url(&self) -> Option<&str> {
                self.url.as_deref()
            }
        }
    };
}

macro_rules! declare_modules {
    ($( $name:ident $Variant:ident, )*) => {
        $( pub mod $name; )*
    };
}
products!(flat declare_modules);

pub use credentials::Credentials;
pub use error::{
    ApiError, BudgetWait, CircuitCause, CircuitOpen, Error, ErrorClass, Result, found, gone,
};
pub use http::{Auth, Calls, Http, Limits, Window};
pub use registry::{BaseUrls, Providers, SimArgs, Simulator, admission_rules, breaches, limits};

use std::future::Future;

use crate::crd::{ProviderKind, ProviderSettings};

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
    /// The product's request budget.
    pub limits: Limits,
    /// How the product's requests carry the credentials.
    pub auth: Auth,
    /// Headers every request of the product carries.
    pub headers: &'static [(&'static str, &'static str)],
}

impl Account {
    /// An account of `P`'s product at `base_url`: its budget and authentication come with it.
    /// `key` names the credential (one budget and token cache per key).
    pub fn of<P: Provider>(
        base_url: impl Into<String>,
        settings: ProviderSettings,
        credentials: Credentials,
        key: impl Into<String>,
    ) -> Self {
        Self {
            provider: P::KIND,
            base_url: base_url.into().trim_end_matches('/').to_string(),
            settings,
            credentials,
            key: key.into(),
            limits: P::LIMITS,
            auth: P::AUTH,
            headers: P::HEADERS,
        }
    }
}

/// How a product identifies its objects, which decides how Roleplane finds one again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Identity {
    /// The name is the key: `externalId` follows from `name`, and a read by that key finds the
    /// object (no listing is needed).
    Name,
    /// Ids are assigned by the product: objects carrying the name are looked up (see
    /// [`Provider::find_named`]) before a create, so that an object Roleplane did not create is
    /// never taken over.
    Id,
}

/// A resource's desired state, as a product sees it.
#[derive(Debug)]
pub struct Desired<'a, S> {
    /// Name of the object in the product.
    pub name: &'a str,
    /// The product block.
    pub spec: &'a S,
}

impl<S> Clone for Desired<'_, S> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<S> Copy for Desired<'_, S> {}

/// One object of a product listing. `object` is None where the listing lacks fields the drift
/// check needs; the object is then read on its own.
#[derive(Clone, Debug, PartialEq)]
pub struct Listed<O> {
    pub id: String,
    pub name: String,
    pub object: Option<O>,
}

/// The entries of a listing that carry `name`, by id (a lookup by name in a listing, for
/// products without a search by name).
pub fn named<'a, O: Clone + 'a>(
    listing: impl IntoIterator<Item = &'a Listed<O>>,
    name: &str,
) -> Vec<Listed<O>> {
    let mut found: Vec<Listed<O>> = listing
        .into_iter()
        .filter(|l| l.name == name)
        .cloned()
        .collect();
    found.sort_by(|a, b| a.id.cmp(&b.id));
    found
}

/// What every product implements. Deletion treats 404 as done. No method loops on errors: the
/// controller owns retries. `create` and `update` return the object as the product has it
/// afterwards, from the product's own answer where it carries the object.
pub trait Provider: Clone + Send + Sync + 'static {
    /// The manifest block (the CRD type).
    type Spec: Send + Sync + 'static;
    /// The product object as read, enough to tell drift.
    type Object: Clone + std::fmt::Debug + Send + Sync + 'static;

    const KIND: ProviderKind;
    const IDENTITY: Identity;
    /// Secret keys the credentials need.
    const SECRET_KEYS: &'static [&'static str];
    /// How requests carry them.
    const AUTH: Auth;
    /// Headers every request carries (e.g. the API version Roleplane speaks).
    const HEADERS: &'static [(&'static str, &'static str)] = &[];
    /// The product's request budget per credential.
    const LIMITS: Limits;
    /// Whether [`Provider::list`] carries whole objects, enough for the drift check: then one
    /// listing per credential and poll serves every resource in it. Where it carries only ids
    /// and names, each resource is read on its own.
    const LISTS_OBJECTS: bool = true;
    /// Whether [`Provider::find_named`] searches the product by name. Where it does not (the
    /// default: it filters the scope's listing), the controller looks names up in the
    /// credential's shared listing instead, so a burst of creates lists once.
    const SEARCHES_BY_NAME: bool = false;
    /// The manifest field naming the listing scope, for products whose account is listed per
    /// scope (see [`Provider::scope`]); None where one listing covers the whole account.
    const SCOPE_FIELD: Option<&'static str> = None;

    fn new(http: Http) -> Self;
    /// The public base URL for a config without an endpoint (None: the config must name one).
    fn default_base_url(settings: &ProviderSettings) -> Option<String>;

    /// Checks the desired state without calling the product (bad input never reaches it).
    fn validate(&self, desired: Desired<'_, Self::Spec>) -> Result<()>;
    /// Checks that `spec.externalId` has the form the product's ids have, before any call.
    fn check_external_id(
        &self,
        account: &Account,
        desired: Desired<'_, Self::Spec>,
        id: &str,
    ) -> Result<()>;
    /// The key of `name` where the name is the key ([`Identity::Name`]), e.g. `org/name`.
    fn name_key(&self, _account: &Account, name: &str) -> String {
        name.to_string()
    }
    /// The listing scope `spec` lives in (empty where the whole account is one scope).
    fn scope(&self, _spec: &Self::Spec) -> String {
        String::new()
    }
    /// The id of an object as read.
    fn id_of(&self, object: &Self::Object) -> String;
    /// The name of an object as read.
    fn name_of(&self, object: &Self::Object) -> String;
    /// A listing entry that carries the whole object.
    fn listed(&self, object: Self::Object) -> Listed<Self::Object> {
        Listed {
            id: self.id_of(&object),
            name: self.name_of(&object),
            object: Some(object),
        }
    }
    /// Manifest fields whose product value differs, e.g. `statsig.permissions.createConfigs`.
    fn drift(&self, desired: Desired<'_, Self::Spec>, object: &Self::Object) -> Vec<String>;
    /// A short summary for status, e.g. `5 permissions`.
    fn summary(&self, desired: Desired<'_, Self::Spec>, object: &Self::Object) -> String;
    /// The manifest fields describing `object` as the product holds it, at `spec` level and
    /// without the fields every kind shares (`providerConfigRef`, `name`, `externalId`, the
    /// policies): what `roleplane import` writes (a manifest in sync with the object) and the
    /// product values `roleplane diff` shows. `scope` is the listing scope it was found in. None:
    /// no manifest can describe the object.
    fn manifest(&self, _object: &Self::Object, _scope: &str) -> Option<serde_json::Value> {
        None
    }
    /// Whether the object comes with the product and cannot be changed or deleted: it is
    /// imported observe-only.
    fn built_in(&self, _object: &Self::Object) -> bool {
        false
    }
    /// The whole object of a listing entry (read on its own where the listing lacks fields).
    fn read_listed(
        &self,
        _account: &Account,
        _scope: &str,
        listed: &Listed<Self::Object>,
    ) -> impl Future<Output = Result<Option<Self::Object>>> + Send {
        let object = listed.object.clone();
        async move { Ok(object) }
    }

    /// A cheap authenticated read proving the credentials work.
    fn check_access(&self, account: &Account) -> impl Future<Output = Result<()>> + Send;
    /// Every object in `scope`, paged through.
    fn list(
        &self,
        account: &Account,
        scope: &str,
    ) -> impl Future<Output = Result<Vec<Listed<Self::Object>>>> + Send;
    /// The objects carrying `desired.name` (default: the scope's listing, filtered). A product
    /// that can search by name overrides this, and sets [`Provider::SEARCHES_BY_NAME`].
    fn find_named(
        &self,
        account: &Account,
        desired: Desired<'_, Self::Spec>,
    ) -> impl Future<Output = Result<Vec<Listed<Self::Object>>>> + Send {
        async move {
            let scope = self.scope(desired.spec);
            Ok(named(&self.list(account, &scope).await?, desired.name))
        }
    }
    /// The object with this id, or None when it does not exist.
    fn observe(
        &self,
        account: &Account,
        desired: Desired<'_, Self::Spec>,
        id: &str,
    ) -> impl Future<Output = Result<Option<Self::Object>>> + Send;
    /// Creates the object.
    fn create(
        &self,
        account: &Account,
        desired: Desired<'_, Self::Spec>,
    ) -> impl Future<Output = Result<Self::Object>> + Send;
    /// Brings `current` (as just read) in line with the desired state.
    fn update(
        &self,
        account: &Account,
        desired: Desired<'_, Self::Spec>,
        current: &Self::Object,
    ) -> impl Future<Output = Result<Self::Object>> + Send;
    /// Deletes the object (and anything it owns). Already gone is success. The spec may no
    /// longer validate: deletion must not depend on it.
    fn delete(
        &self,
        account: &Account,
        desired: Desired<'_, Self::Spec>,
        id: &str,
    ) -> impl Future<Output = Result<()>> + Send;
}

/// Something to do with the provider of one product block (see [`Providers::visit`]).
pub trait Visit {
    type Output;
    fn visit<P: Provider>(
        self,
        provider: &P,
        spec: &P::Spec,
    ) -> impl Future<Output = Self::Output> + Send;
}

/// Something to do with the provider of one product (see [`Providers::visit_kind`]).
pub trait VisitKind {
    type Output;
    fn visit<P: Provider>(self, provider: &P) -> impl Future<Output = Self::Output> + Send;
}

/// Whether `id` is a plain identifier: 1 to 128 letters, digits, `-`, `_` and `.`, with dots
/// only between other characters (no `..`). The form of every product id that is not a name;
/// never a path trick, a percent-escape or a control character. The CRDs say the same with
/// [`PLAIN_ID_PATTERN`].
pub fn is_plain_id(id: &str) -> bool {
    (1..=128).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        && !id.starts_with('.')
        && !id.ends_with('.')
        && !id.contains("..")
}

/// [`is_plain_id`] as a regular expression (with a 128-character bound beside it), for the
/// CRDs' rules.
pub const PLAIN_ID_PATTERN: &str = r"^[A-Za-z0-9_-]+([.][A-Za-z0-9_-]+)*$";

/// What is wrong with `name` as the name of a product object, if anything: blank, spaces at
/// either end, a control character (newline, tab, NUL...), or longer than `max` characters.
pub fn name_problem(name: &str, max: usize) -> Option<String> {
    if name.trim().is_empty() {
        return Some("must not be blank".into());
    }
    if name.trim() != name {
        return Some("must not start or end with spaces".into());
    }
    if name.chars().any(char::is_control) {
        return Some("must not contain control characters (newlines, tabs, ...)".into());
    }
    let count = name.chars().count();
    (count > max).then(|| format!("must be at most {max} characters, not {count}"))
}

/// What keeps `value` from being one URL path segment as is, if anything: `/` or `\`, a `%`
/// (a percent-escape would be decoded again on the way), `..`, or a control character.
/// Segments are percent-encoded anyway; this refuses what a proxy or a product could still read
/// as another path.
pub fn segment_problem(value: &str) -> Option<&'static str> {
    if value.contains(['/', '\\']) {
        Some("must not contain / or \\ (it is a URL path segment)")
    } else if value.contains('%') {
        Some("must not contain % (it is a URL path segment; percent-escapes are not allowed)")
    } else if value.contains("..") {
        Some("must not contain .. (it is a URL path segment)")
    } else if value.chars().any(char::is_control) {
        Some("must not contain control characters")
    } else {
        None
    }
}

/// An `externalId` that does not have the product's form: invalid input, named as such.
pub fn bad_external_id(kind: ProviderKind, id: &str, form: &str) -> Error {
    Error::InvalidSpec(format!("spec.externalId {id:?} is not a {kind} id: {form}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_ids_exclude_path_tricks_and_control_characters() {
        let pattern = regex_lite(PLAIN_ID_PATTERN);
        for ok in ["42", "60c5238222fa55553d93d52f", "role-1_a.b"] {
            assert!(is_plain_id(ok), "{ok}");
            assert!(pattern(ok), "{ok}");
        }
        for bad in [
            "",
            "..",
            ".",
            "../../admin",
            "a..b",
            ".hidden",
            "trailing.",
            "a/b",
            "a%2Fb",
            "a b",
            "line\nbreak",
            &"x".repeat(129),
        ] {
            assert!(!is_plain_id(bad), "{bad:?}");
            if bad.len() <= 128 {
                assert!(!pattern(bad), "{bad:?}");
            }
        }
    }

    /// The pattern, as the CEL rules apply it (whole-string match).
    fn regex_lite(pattern: &'static str) -> impl Fn(&str) -> bool {
        let re = regex::Regex::new(pattern).unwrap();
        move |s| re.is_match(s)
    }

    #[test]
    fn names_and_segments_name_their_problem() {
        assert_eq!(name_problem("Analyst", 255), None);
        for bad in ["", "  ", " a", "a ", "line1\nline2", "tab\there", "nul\0"] {
            assert!(name_problem(bad, 255).is_some(), "{bad:?}");
        }
        assert!(
            name_problem(&"é".repeat(11), 10)
                .unwrap()
                .contains("at most 10")
        );
        assert_eq!(segment_problem("Custom Role"), None);
        for bad in ["a/b", "a\\b", "50%off", "%2e%2e", "..", "x/../y", "a\u{7f}"] {
            assert!(segment_problem(bad).is_some(), "{bad:?}");
        }
    }
}
