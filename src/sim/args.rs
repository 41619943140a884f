//! How a product declares its simulator's `roleplane sim` flags ([`sim_args!`]): each flag's name,
//! environment variable and default stated once, for the command line and for `Default` alike.

/// Declares a product simulator's flags, `pub struct Args`: per field, its doc, type, default, flag and environment
/// variable, and any further `clap` settings; `Default` gives the declared defaults.
macro_rules! sim_args {
    ($(
        $(#[$field_meta:meta])*
        $field:ident: $ty:ty = $default:literal, flag $flag:literal, env $env:literal
            $(, $setting:ident = $value:expr)*;
    )*) => {
        /// What the product's simulator accepts (credentials, token lifetimes), as
        /// `roleplane sim` flags.
        #[derive(Clone, Debug, clap::Args)]
        #[group(skip)]
        pub struct Args {
            $(
                $(#[$field_meta])*
                #[arg(
                    id = $flag, long = $flag, env = $env, default_value = $default
                    $(, $setting = $value)*
                )]
                pub $field: $ty,
            )*
        }

        impl Default for Args {
            fn default() -> Self {
                $crate::sim::declared_defaults()
            }
        }
    };
}
pub(crate) use sim_args;

/// Flags at their declared defaults, the environment ignored (`Default` of [`sim_args!`]'s `Args`).
pub fn declared_defaults<A: clap::Args + clap::FromArgMatches>() -> A {
    let command = A::augment_args(clap::Command::new("defaults")).mut_args(|a| a.env(None::<&str>));
    let matches = command
        .try_get_matches_from(["defaults"])
        .expect("declared defaults parse");
    A::from_arg_matches(&matches).expect("declared defaults parse")
}
