//! The `diff` and `import` commands: flags, the cluster connection (or none), and the output.
//! stdout carries the plan or the manifests; notes and errors go to stderr.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, ValueEnum};

use super::import::{ImportRequest, render_json as manifests_json, render_yaml};
use super::sources::Sources;
use super::{diff as plan_diff, load};
use crate::crd::{ManagementPolicy, ProviderConfigKind};
use crate::metrics::Metrics;
use crate::providers::http::{Http, HttpConfig};
use crate::providers::{BaseUrls, Providers};

/// How to reach the cluster and the products.
#[derive(Debug, Args)]
pub struct Connection {
    /// Use no cluster: configs come from the files given, Secret values from the environment
    /// (`ROLEPLANE_SECRET_<SECRET>_<KEY>`) or Secret manifests in the files. Also the fallback
    /// when no cluster is reachable.
    #[arg(long, env = "ROLEPLANE_NO_CLUSTER", default_value_t = false, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub no_cluster: bool,
    /// Kubeconfig file (default: KUBECONFIG, then ~/.kube/config, then in-cluster).
    #[arg(long, env = "ROLEPLANE_KUBECONFIG")]
    pub kubeconfig: Option<PathBuf>,
    /// Kubeconfig context (default: the current one).
    #[arg(long, env = "ROLEPLANE_KUBE_CONTEXT")]
    pub context: Option<String>,
    /// Namespace of objects that name none (default: the context's namespace, else `default`).
    #[arg(short = 'n', long, env = "ROLEPLANE_NAMESPACE")]
    pub namespace: Option<String>,
    /// Timeout of one product API request.
    #[arg(long, env = "ROLEPLANE_REQUEST_TIMEOUT", default_value = "30s", value_parser = duration)]
    pub request_timeout: Duration,
    /// Default base URLs per product, for configs without an endpoint.
    #[command(flatten)]
    pub base_urls: BaseUrls,
}

fn duration(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s).map_err(|e| format!("{e} (try 30s, 10m, 1h)"))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum PlanFormat {
    Text,
    Json,
}

#[derive(Debug, Args)]
pub struct DiffArgs {
    /// Manifest files or folders (recursively: .yaml, .yml, .json); `-` reads stdin.
    #[arg(short = 'f', long = "filename", env = "ROLEPLANE_DIFF_FILES", value_delimiter = ',', required = true, num_args = 1..)]
    pub files: Vec<String>,
    /// Output format.
    #[arg(short = 'o', long, env = "ROLEPLANE_DIFF_OUTPUT", value_enum, default_value_t = PlanFormat::Text)]
    pub output: PlanFormat,
    #[command(flatten)]
    pub connection: Connection,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ManifestFormat {
    Yaml,
    Json,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Policy {
    Manage,
    #[value(name = "ObserveOnly", alias = "observe-only")]
    ObserveOnly,
}

#[derive(Debug, Args)]
#[group(id = "config", required = true, multiple = false, args = ["provider_config", "cluster_provider_config"])]
pub struct ImportArgs {
    /// The ProviderConfig whose account to import, as NAMESPACE/NAME.
    #[arg(
        long,
        env = "ROLEPLANE_IMPORT_PROVIDER_CONFIG",
        value_name = "NAMESPACE/NAME"
    )]
    pub provider_config: Option<String>,
    /// The ClusterProviderConfig whose account to import (manifests go to --namespace).
    #[arg(
        long,
        env = "ROLEPLANE_IMPORT_CLUSTER_PROVIDER_CONFIG",
        value_name = "NAME"
    )]
    pub cluster_provider_config: Option<String>,
    /// Listing scopes for products listed per scope (ConfigCat: product ids). Default: those the
    /// config's resources use.
    #[arg(long, env = "ROLEPLANE_IMPORT_SCOPE", value_delimiter = ',')]
    pub scope: Vec<String>,
    /// Management policy of the manifests (built-in objects are always ObserveOnly).
    #[arg(long, env = "ROLEPLANE_IMPORT_MANAGEMENT_POLICY", value_enum, default_value_t = Policy::Manage)]
    pub management_policy: Policy,
    /// Output format.
    #[arg(short = 'o', long, env = "ROLEPLANE_IMPORT_OUTPUT", value_enum, default_value_t = ManifestFormat::Yaml)]
    pub output: ManifestFormat,
    /// Write one file per manifest into this folder instead of printing them.
    #[arg(long, env = "ROLEPLANE_IMPORT_OUTPUT_DIR")]
    pub output_dir: Option<PathBuf>,
    /// Manifests (configs, Secrets, resources) to read besides the cluster: needed with
    /// --no-cluster; resources in them count as managed.
    #[arg(
        short = 'f',
        long = "filename",
        env = "ROLEPLANE_IMPORT_FILES",
        value_delimiter = ','
    )]
    pub files: Vec<String>,
    #[command(flatten)]
    pub connection: Connection,
}

/// The cluster to use, if any, and the default namespace.
async fn connect(c: &Connection) -> (Option<kube::Client>, String) {
    crate::install_crypto_provider();
    let fallback = c.namespace.clone().unwrap_or_else(|| "default".into());
    if c.no_cluster {
        return (None, fallback);
    }
    let options = kube::config::KubeConfigOptions {
        context: c.context.clone(),
        ..Default::default()
    };
    let config = match (&c.kubeconfig, &c.context) {
        (Some(path), _) => match kube::config::Kubeconfig::read_from(path) {
            Ok(kc) => kube::Config::from_custom_kubeconfig(kc, &options)
                .await
                .map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        },
        (None, Some(_)) => kube::Config::from_kubeconfig(&options)
            .await
            .map_err(|e| e.to_string()),
        (None, None) => kube::Config::infer().await.map_err(|e| e.to_string()),
    };
    let reached = match config {
        Ok(config) => {
            let namespace = c
                .namespace
                .clone()
                .unwrap_or_else(|| config.default_namespace.clone());
            match kube::Client::try_from(config) {
                Ok(client) => {
                    match tokio::time::timeout(Duration::from_secs(5), client.apiserver_version())
                        .await
                    {
                        Ok(Ok(_)) => Ok((client, namespace)),
                        Ok(Err(e)) => Err(e.to_string()),
                        Err(_) => Err("no answer within 5s".into()),
                    }
                }
                Err(e) => Err(e.to_string()),
            }
        }
        Err(e) => Err(e),
    };
    match reached {
        Ok((client, namespace)) => (Some(client), namespace),
        Err(e) => {
            eprintln!("note: no cluster reachable ({e}); using the files and the environment only");
            (None, fallback)
        }
    }
}

fn sources(c: &Connection, loaded: load::Loaded, client: Option<kube::Client>) -> Sources {
    let http = Http::new(
        HttpConfig {
            timeout: c.request_timeout,
            // No controller to requeue a call the budget holds back: a plan waits for its
            // credential's windows (and a 429's Retry-After) however long they say.
            max_inline_wait: Duration::from_secs(3600),
            ..Default::default()
        },
        Metrics::new(),
    );
    let env: BTreeMap<String, String> = std::env::vars()
        .filter(|(k, _)| k.starts_with("ROLEPLANE_SECRET_"))
        .collect();
    Sources::new(
        loaded,
        client,
        Providers::new(http),
        c.base_urls.clone(),
        env,
    )
}

/// `roleplane diff`; returns the exit code.
pub async fn diff(args: DiffArgs) -> i32 {
    let (client, namespace) = connect(&args.connection).await;
    let loaded = load::load(&args.files, &namespace, &mut std::io::stdin());
    let sources = sources(&args.connection, loaded, client);
    let report = plan_diff::diff(&sources).await;
    match args.output {
        PlanFormat::Json => println!("{}", super::render::render_json(&report)),
        PlanFormat::Text => {
            let colour = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
            print!("{}", super::render::render_text(&report, colour));
        }
    }
    report.exit_code()
}

/// `roleplane import`; returns the exit code (1 when anything could not be imported).
pub async fn import(args: ImportArgs) -> i32 {
    let (client, namespace) = connect(&args.connection).await;
    let (kind, config_namespace, name) =
        match (&args.provider_config, &args.cluster_provider_config) {
            (Some(pc), _) => match pc.split_once('/') {
                Some((ns, name)) if !ns.is_empty() && !name.is_empty() => (
                    ProviderConfigKind::ProviderConfig,
                    ns.to_string(),
                    name.to_string(),
                ),
                _ => {
                    eprintln!("error: --provider-config takes NAMESPACE/NAME, got {pc:?}");
                    return 1;
                }
            },
            (None, Some(name)) => (
                ProviderConfigKind::ClusterProviderConfig,
                namespace.clone(),
                name.clone(),
            ),
            (None, None) => {
                eprintln!("error: pass --provider-config or --cluster-provider-config");
                return 1;
            }
        };
    let loaded = load::load(&args.files, &config_namespace, &mut std::io::stdin());
    for p in &loaded.problems {
        eprintln!("warning: {}: {}", p.origin, p.error);
    }
    let sources = sources(&args.connection, loaded, client);
    let request = ImportRequest {
        config_kind: kind,
        config: name,
        namespace: config_namespace,
        scopes: args.scope.clone(),
        management_policy: match args.management_policy {
            Policy::Manage => ManagementPolicy::Manage,
            Policy::ObserveOnly => ManagementPolicy::ObserveOnly,
        },
    };
    let imported = match super::import(&sources, &request).await {
        Ok(i) => i,
        Err(e) => {
            eprintln!("error: {} ({})", e, e.reason());
            return 1;
        }
    };
    for (id, why) in &imported.skipped {
        eprintln!("warning: not imported: product object {id}: {why}");
    }
    let render = |m: &[serde_json::Value]| match args.output {
        ManifestFormat::Yaml => render_yaml(m),
        ManifestFormat::Json => manifests_json(m),
    };
    match &args.output_dir {
        Some(dir) => {
            if let Err(e) = std::fs::create_dir_all(dir) {
                eprintln!("error: cannot create {}: {e}", dir.display());
                return 1;
            }
            for m in &imported.manifests {
                let ext = match args.output {
                    ManifestFormat::Yaml => "yaml",
                    ManifestFormat::Json => "json",
                };
                let file = dir.join(format!(
                    "{}-{}.{ext}",
                    m["kind"].as_str().unwrap_or_default().to_ascii_lowercase(),
                    m["metadata"]["name"].as_str().unwrap_or_default()
                ));
                let text = match args.output {
                    ManifestFormat::Yaml => render_yaml(std::slice::from_ref(m)),
                    ManifestFormat::Json => {
                        serde_json::to_string_pretty(m).expect("a manifest serializes")
                    }
                };
                if let Err(e) = std::fs::write(&file, text) {
                    eprintln!("error: cannot write {}: {e}", file.display());
                    return 1;
                }
                println!("{}", file.display());
            }
        }
        None => println!("{}", render(&imported.manifests).trim_end()),
    }
    eprintln!(
        "imported {} object(s){}",
        imported.manifests.len(),
        if imported.skipped.is_empty() {
            String::new()
        } else {
            format!(", {} not imported", imported.skipped.len())
        }
    );
    i32::from(!imported.skipped.is_empty())
}
