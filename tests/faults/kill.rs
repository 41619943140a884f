//! The operator as a process (`roleplane run` against the API server double over loopback),
//! killed with SIGKILL at random points and started again, while a scenario runs.

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use tokio::process::{Child, Command};

use crate::harness::Env;

/// The operator process, its kubeconfig and its log file.
pub struct Operator {
    kubeconfig: PathBuf,
    log: PathBuf,
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
            kubeconfig,
            log: dir.join(format!("{id}.log")),
        }
    }

    /// Starts `roleplane run`, logging at debug level (JSON) to the log file.
    pub fn spawn(&self) -> Child {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("log file");
        Command::new(env!("CARGO_BIN_EXE_roleplane"))
            .args([
                "run",
                "--http-addr",
                "127.0.0.1:0",
                "--poll-interval",
                "10m",
                "--request-timeout",
                "5s",
            ])
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
        let _ = std::fs::remove_file(&self.kubeconfig);
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
