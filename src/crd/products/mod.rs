//! The product blocks: one file per product, each plain data with a schema. The registry's list
//! (`products!`, in `providers/registry.rs`) turns them into what every product contributes to
//! the shared kinds: the `provider` value, the Role block field, the config settings field and
//! their CEL rules. Nothing here names a product; each file does, for itself.

use kube::core::{Message, Rule, validate};
use schemars::{JsonSchema, Schema};
use serde::{Deserialize, Serialize};

use super::{Managed, ManagedSpec, ManagedStatus};

/// CEL rules (rule, message) a product adds to the kinds it shares with other products.
pub struct Rules {
    /// On the Role spec; guard them with `has(self.<product>)`.
    pub role: &'static [(&'static str, &'static str)],
    /// On the ProviderConfig and ClusterProviderConfig specs; guard them with `self.provider`.
    pub config: &'static [(&'static str, &'static str)],
}

fn rule(schema: &mut Schema, rule: String, message: String) {
    validate(schema, Rule::new(rule).message(Message::Message(message)))
        .expect("a CEL rule serializes");
}

/// Every product's names: no spaces at either end, no control characters (newlines, tabs...).
const NAME_RULE: &str = r"!self.name.matches('\\p{Cc}|^\\s|\\s$')";

/// "a, b or c".
fn either(names: &[&str]) -> String {
    match names {
        [] => String::new(),
        [one] => (*one).to_string(),
        [rest @ .., last] => format!("{} or {last}", rest.join(", ")),
    }
}

macro_rules! define_api {
    (
        roles { $( $name:ident : $Variant:ident ( $Block:ident ) ceiling $Ceiling:ident $( settings $Settings:ident )? , )* }
        kinds { $( $kname:ident : $KVariant:ident ( $KSpec:ident ) kind $Kind:ident ceiling $KCeiling:ident $( settings $KSettings:ident )? , )* }
    ) => {
        $( pub mod $name; pub use $name::*; )*
        $( pub mod $kname; pub use $kname::*; )*

        /// The product a config points at.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
        #[serde(rename_all = "lowercase")]
        pub enum ProviderKind {
            $( $Variant, )*
            $( $KVariant, )*
        }

        impl ProviderKind {
            /// Every product, in registry order.
            pub const ALL: &'static [ProviderKind] = &[$( Self::$Variant, )* $( Self::$KVariant, )*];

            /// The kind whose resources manage this product's objects.
            pub fn managed_kind(self) -> &'static str {
                match self {
                    $( Self::$Variant => "Role", )*
                    $( Self::$KVariant => stringify!($Kind), )*
                }
            }

            /// The name used in manifests, metrics and the simulator's path prefix.
            pub fn as_str(self) -> &'static str {
                match self {
                    $( Self::$Variant => stringify!($name), )*
                    $( Self::$KVariant => stringify!($kname), )*
                }
            }
        }

        /// The product block of a Role: exactly one is set. Each is boxed: a Role in the
        /// controller's cache holds one block, not room for all of them (the largest is over
        /// a hundred bytes, and a cache holds every Role).
        #[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
        pub struct RoleBlocks {
            $(
                #[serde(default, skip_serializing_if = "Option::is_none")]
                pub $name: Option<Box<$Block>>,
            )*
        }

        impl RoleBlocks {
            /// Names of the Role blocks, in registry order.
            pub const NAMES: &'static [&'static str] = &[$( stringify!($name), )*];

            /// The one block that is set, or why there is none usable.
            pub fn product(&self) -> Result<ProductSpec<'_>, String> {
                let set: Vec<ProductSpec<'_>> = [$( self.$name.as_deref().map(ProductSpec::$Variant), )*]
                    .into_iter()
                    .flatten()
                    .collect();
                match set.as_slice() {
                    [one] => Ok(*one),
                    [] => Err(format!("set exactly one product block: {} (none is set)", either(Self::NAMES))),
                    _ => Err(format!("set exactly one product block: {} (several are set)", either(Self::NAMES))),
                }
            }
        }

        /// Per-product settings of a config (only the products that have any).
        #[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
        pub struct ProductSettings {
            $( $(
                #[serde(default, skip_serializing_if = "Option::is_none")]
                pub $name: Option<$Settings>,
            )? )*
            $( $(
                #[serde(default, skip_serializing_if = "Option::is_none")]
                pub $kname: Option<$KSettings>,
            )? )*
        }

        impl ProductSettings {
            /// Products with a settings field, by name.
            pub const NAMES: &'static [&'static str] = &[
                $( $( (stringify!($name), stringify!($Settings)).0, )? )*
                $( $( (stringify!($kname), stringify!($KSettings)).0, )? )*
            ];
        }

        /// The per-product blocks of a RoleplanePolicy (each only limits its own product).
        #[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
        pub struct ProductCeilings {
            $(
                #[serde(default, skip_serializing_if = "Option::is_none")]
                pub $name: Option<$Ceiling>,
            )*
            $(
                #[serde(default, skip_serializing_if = "Option::is_none")]
                pub $kname: Option<$KCeiling>,
            )*
        }

        /// The product-specific part of a managed resource, typed.
        #[derive(Clone, Copy, Debug)]
        pub enum ProductSpec<'a> {
            $( $Variant(&'a $Block), )*
            $( $KVariant(&'a $KSpec), )*
        }

        impl ProductSpec<'_> {
            /// The product this block belongs to.
            pub fn kind(&self) -> ProviderKind {
                match self {
                    $( Self::$Variant(_) => ProviderKind::$Variant, )*
                    $( Self::$KVariant(_) => ProviderKind::$KVariant, )*
                }
            }
        }

        $(
            impl Managed for $Kind {
                const KIND: &'static str = stringify!($Kind);

                fn managed(&self) -> &ManagedSpec {
                    &self.spec.managed
                }

                fn managed_status(&self) -> Option<&ManagedStatus> {
                    self.status.as_ref()
                }

                fn product(&self) -> Result<ProductSpec<'_>, String> {
                    Ok(ProductSpec::$KVariant(&self.spec))
                }
            }
        )*

        /// The Role spec's CEL rules: exactly one block, the block cannot switch, and each
        /// product's own rules.
        pub fn role_rules(schema: &mut Schema) {
            let names = RoleBlocks::NAMES;
            let has: Vec<String> = names.iter().map(|n| format!("has(self.{n})")).collect();
            rule(
                schema,
                format!("[{}].filter(x, x).size() == 1", has.join(", ")),
                format!("set exactly one product block: {}", either(names)),
            );
            let same: Vec<String> = names
                .iter()
                .map(|n| format!("has(self.{n}) == has(oldSelf.{n})"))
                .collect();
            rule(
                schema,
                same.join(" && "),
                "the product block cannot change; create a new Role instead".into(),
            );
            rule(
                schema,
                NAME_RULE.into(),
                "name must not start or end with spaces or contain control characters".into(),
            );
            $( for (r, m) in $name::RULES.role {
                rule(schema, (*r).into(), (*m).into());
            } )*
        }

        /// The config specs' CEL rules: settings only for their own product, and each product's
        /// own rules.
        pub fn config_rules(schema: &mut Schema) {
            for name in ProductSettings::NAMES {
                rule(
                    schema,
                    format!("self.provider == '{name}' || !has(self.{name})"),
                    format!("spec.{name} is only valid with provider {name}"),
                );
            }
            $( for (r, m) in $name::RULES.config {
                rule(schema, (*r).into(), (*m).into());
            } )*
            $( for (r, m) in $kname::RULES.config {
                rule(schema, (*r).into(), (*m).into());
            } )*
        }
    };
}

products!(define_api);

impl std::fmt::Display for ProviderKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod name_rules_tests;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_names_agree_with_serde_and_the_role_blocks() {
        for kind in ProviderKind::ALL {
            let wire = serde_json::to_value(kind).unwrap();
            assert_eq!(wire, kind.as_str(), "{kind:?}");
        }
        for name in RoleBlocks::NAMES.iter().chain(ProductSettings::NAMES) {
            assert!(
                ProviderKind::ALL.iter().any(|k| k.as_str() == *name),
                "{name} is not a provider"
            );
        }
        assert_eq!(either(&["a", "b", "c"]), "a, b or c");
        assert_eq!(either(&["a"]), "a");
    }
}
