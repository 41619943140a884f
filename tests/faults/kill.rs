//! The operator as a process (`roleplane run` against the API server double over loopback, or
//! in cluster mode against the cluster of the suite's kubeconfig, restricted to the scenario's
//! namespace), killed with SIGKILL at random points and started again, while a scenario runs.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use tokio::process::{Child, Command};

use crate::harness::Env;

/// The operator process, its kubeconfig and its log file.
pub struct Operator {
    /// `KUBECONFIG` for the process.
    kubeconfig: OsString,
    /// A kubeconfig file this suite wrote (removed on drop).
    written: Option<PathBuf>,
    /// `--namespaces` (cluster mode).
    namespaces: Option<String>,
    log: PathBuf,
}

fn log_path(tag: &str) -> PathBuf {
    std::env::temp_dir().join(format!("roleplane-faults-{}-{tag}.log", std::process::id()))
}

impl Operator {
    /// Serves `env`'s API server double on loopback for a `roleplane run` process.
    pub async fn new(env: &Env, tag: &str) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = env.api.listen(listener).expect("the double listens");
        let dir = std::env::temp_dir();
        let id = format!("roleplane-faults-{}-{tag}", std::process::id());
        let kubeconfig = dir.join(format!("{id}.kubeconfig"));
        std::fs::write(&kubeconfig, kube_double::ApiServer::kubeconfig(&url)).expect("kubeconfig");
        Self {
            kubeconfig: kubeconfig.clone().into(),
            written: Some(kubeconfig),
            namespaces: None,
            log: log_path(tag),
        }
    }

    /// `roleplane run` processes against the cluster of `kubeconfig`, watching `namespaces`.
    pub fn in_cluster(kubeconfig: OsString, namespaces: &[String], tag: &str) -> Self {
        Self {
            kubeconfig,
            written: None,
            namespaces: Some(namespaces.join(",")),
            log: log_path(tag),
        }
    }

    /// Starts `roleplane run`, logging at debug level (JSON) to the log file.
    pub fn spawn(&self) -> Child {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("log file");
        let mut command = Command::new(env!("CARGO_BIN_EXE_roleplane"));
        command.args([
            "run",
            "--http-addr",
            "127.0.0.1:0",
            "--poll-interval",
            "10m",
            "--request-timeout",
            "5s",
        ]);
        if let Some(namespaces) = &self.namespaces {
            command.args(["--namespaces", namespaces]);
        }
        command
            .env("KUBECONFIG", &self.kubeconfig)
            .env(
                "ROLEPLANE_LOG",
                "debug,hyper=info,hyper_util=info,h2=info,rustls=info,tower=info",
            )
            .env("ROLEPLANE_LOG_FORMAT", "json")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log file"))
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .expect("roleplane run starts")
    }

    /// What the processes logged.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Operator {
    fn drop(&mut self) {
        if let Some(written) = &self.written {
            let _ = std::fs::remove_file(written);
        }
        let _ = std::fs::remove_file(&self.log);
    }
}

/// Kills the operator with SIGKILL after a random 0.15-1 s, starts it again, `kills` times; then
/// leaves it running until `stop` is set, and ends it. Returns how many kills it made.
pub async fn chaos(
    operator: Arc<Operator>,
    kills: usize,
    stop: Arc<AtomicBool>,
    made: Arc<AtomicUsize>,
) {
    let mut child = operator.spawn();
    while made.load(Ordering::SeqCst) < kills && !stop.load(Ordering::SeqCst) {
        let wait = 150 + rand::random::<u64>() % 850;
        tokio::time::sleep(Duration::from_millis(wait)).await;
        // `kill` sends SIGKILL on Unix and waits for the process.
        child.kill().await.expect("SIGKILL");
        made.fetch_add(1, Ordering::SeqCst);
        child = operator.spawn();
    }
    while !stop.load(Ordering::SeqCst) {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = child.kill().await;
}
