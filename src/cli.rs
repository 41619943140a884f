//! Command line: every flag can also be set through the environment variable named in `--help`.

use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::providers::{BaseUrls, SimArgs as ProductSimArgs};

#[derive(Debug, Parser)]
#[command(
    name = "roleplane",
    version,
    about = "Keeps SaaS access roles in line with Kubernetes manifests"
)]
pub struct Cli {
    /// Log format.
    #[arg(long, env = "ROLEPLANE_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text, global = true)]
    pub log_format: LogFormat,
    /// Log filter (tracing EnvFilter syntax), e.g. `info` or `roleplane=debug,kube=info`.
    #[arg(long, env = "ROLEPLANE_LOG", default_value = "info", global = true)]
    pub log_filter: String,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the operator against the cluster of the current kubeconfig or service account.
    Run(Box<RunArgs>),
    /// Print every CRD as YAML (what `crds/` holds).
    Crds,
    /// Serve the product simulators on loopback (one path prefix per product), for trying
    /// Roleplane and for tests.
    Sim(Box<SimArgs>),
    /// Show what applying manifests would do in each product, without writing anything. Exit
    /// code: 0 no changes, 2 changes, 1 errors (invalid documents, blocked resources).
    Diff(Box<crate::plan::run::DiffArgs>),
    /// Print manifests for the product objects of one config's account that no resource manages
    /// yet (externalId set; built-ins observe-only).
    Import(Box<crate::plan::run::ImportArgs>),
}

fn duration(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s).map_err(|e| format!("{e} (try 30s, 10m, 1h)"))
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Namespaces to watch (comma-separated). Empty: all namespaces, and ClusterProviderConfig is
    /// enabled; when set, ClusterProviderConfig is neither watched nor usable.
    #[arg(long, env = "ROLEPLANE_NAMESPACES", value_delimiter = ',')]
    pub namespaces: Vec<String>,
    /// How often every resource is re-read to correct drift (±10 % jitter). Override per object
    /// with the annotation roleplane.dev/poll-interval.
    #[arg(long, env = "ROLEPLANE_POLL_INTERVAL", default_value = "10m", value_parser = duration)]
    pub poll_interval: Duration,
    /// Concurrent reconciles per lane in each watched namespace: each product that publishes rate
    /// limits (Statsig) has a lane of its own, the other products of a kind share one.
    #[arg(long, env = "ROLEPLANE_CONCURRENCY", default_value_t = 16)]
    pub concurrency: u16,
    /// Address of the HTTP server for /metrics, /healthz and /readyz.
    #[arg(long, env = "ROLEPLANE_HTTP_ADDR", default_value = "0.0.0.0:8080")]
    pub http_addr: SocketAddr,
    /// Elect one active replica through a Lease (needed when running more than one replica).
    #[arg(long, env = "ROLEPLANE_LEADER_ELECTION", default_value_t = false, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub leader_election: bool,
    /// Namespace of the leader-election Lease (default: POD_NAMESPACE, else `default`).
    #[arg(long, env = "ROLEPLANE_LEADER_ELECTION_NAMESPACE")]
    pub leader_election_namespace: Option<String>,
    /// Name of the leader-election Lease.
    #[arg(
        long,
        env = "ROLEPLANE_LEADER_ELECTION_LEASE",
        default_value = "roleplane-leader"
    )]
    pub leader_election_lease: String,
    /// This replica's identity (Events, Lease holder); defaults to the host name.
    #[arg(long, env = "POD_NAME")]
    pub pod_name: Option<String>,
    /// Timeout of one product API request.
    #[arg(long, env = "ROLEPLANE_REQUEST_TIMEOUT", default_value = "30s", value_parser = duration)]
    pub request_timeout: Duration,
    /// Override every product's request rate per credential (requests per second). By default
    /// each product gets a budget below its published limits.
    #[arg(long, env = "ROLEPLANE_MAX_REQUESTS_PER_SECOND")]
    pub max_requests_per_second: Option<NonZeroU32>,
    /// Product API calls in flight per credential, at most (no product publishes a figure).
    #[arg(long, env = "ROLEPLANE_CALLS_IN_FLIGHT", default_value_t = 16, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub calls_in_flight: u16,
    /// Default base URLs per product, for configs without an endpoint.
    #[command(flatten)]
    pub base_urls: BaseUrls,
}

#[derive(Debug, Args)]
pub struct SimArgs {
    /// Address to serve on. Keep it on loopback.
    #[arg(long, env = "ROLEPLANE_SIM_LISTEN", default_value = "127.0.0.1:8090")]
    pub listen: SocketAddr,
    /// Make every simulated product enforce the rate limits its contract publishes (429 with
    /// Retry-After past them); products that publish no numbers stay unlimited.
    #[arg(long, env = "ROLEPLANE_SIM_PUBLISHED_LIMITS", default_value_t = false, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub published_limits: bool,
    #[command(flatten)]
    pub products: ProductSimArgs,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn run_flags_parse() {
        let cli = Cli::try_parse_from([
            "roleplane",
            "run",
            "--namespaces",
            "a,b",
            "--poll-interval",
            "30s",
            "--leader-election",
        ])
        .unwrap();
        let Command::Run(args) = cli.command else {
            panic!("not run")
        };
        assert_eq!(args.namespaces, vec!["a", "b"]);
        assert_eq!(args.poll_interval, Duration::from_secs(30));
        assert!(args.leader_election);
        assert!(Cli::try_parse_from(["roleplane", "run", "--poll-interval", "soon"]).is_err());
    }

    #[test]
    fn diff_and_import_flags_parse() {
        let cli = Cli::try_parse_from([
            "roleplane",
            "diff",
            "-f",
            "a.yaml",
            "-f",
            "-",
            "-o",
            "json",
            "--no-cluster",
            "-n",
            "team-a",
        ])
        .unwrap();
        let Command::Diff(args) = cli.command else {
            panic!("not diff")
        };
        assert_eq!(args.files, vec!["a.yaml", "-"]);
        assert!(args.connection.no_cluster);
        assert_eq!(args.connection.namespace.as_deref(), Some("team-a"));
        assert!(
            Cli::try_parse_from(["roleplane", "diff"]).is_err(),
            "-f is required"
        );

        let cli = Cli::try_parse_from([
            "roleplane",
            "import",
            "--provider-config",
            "team-a/statsig",
            "--management-policy",
            "ObserveOnly",
            "--output-dir",
            "out",
        ])
        .unwrap();
        let Command::Import(args) = cli.command else {
            panic!("not import")
        };
        assert_eq!(args.provider_config.as_deref(), Some("team-a/statsig"));
        assert_eq!(
            args.management_policy,
            crate::plan::run::Policy::ObserveOnly
        );
        assert!(
            Cli::try_parse_from(["roleplane", "import"]).is_err(),
            "a config is required"
        );
        assert!(
            Cli::try_parse_from([
                "roleplane",
                "import",
                "--provider-config",
                "a/b",
                "--cluster-provider-config",
                "c"
            ])
            .is_err(),
            "one config only"
        );
    }

    #[test]
    fn sim_published_limits_is_off_unless_asked() {
        let parse = |args: &[&str]| {
            let Command::Sim(sim) = Cli::try_parse_from(args).unwrap().command else {
                panic!("not sim")
            };
            sim.published_limits
        };
        assert!(!parse(&["roleplane", "sim"]));
        assert!(parse(&["roleplane", "sim", "--published-limits"]));
        assert!(!parse(&["roleplane", "sim", "--published-limits=false"]));
    }
}
