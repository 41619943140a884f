//! The operator under test: `roleplane run` as a subprocess (so that its peak RSS is its own),
//! pointed at the counting proxy through a kubeconfig of its own.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use tokio::process::{Child, Command};

pub struct Operator {
    child: Child,
    pid: u32,
}

/// Memory figures of a running process, from `/proc/<pid>/status` (KiB).
#[derive(Clone, Copy, Debug, Default)]
pub struct Memory {
    /// Peak resident set size.
    pub hwm_kib: u64,
    pub rss_kib: u64,
    /// Anonymous memory (heap, stacks) of the RSS.
    pub anon_kib: u64,
    /// File-backed memory (the binary's pages) of the RSS.
    pub file_kib: u64,
}

impl Memory {
    pub fn mib(kib: u64) -> f64 {
        kib as f64 / 1024.0
    }
}

impl Operator {
    /// Starts `roleplane run` against `kubeconfig`, watching `namespaces`, with `extra_env`.
    pub fn start(
        kubeconfig: &PathBuf,
        namespaces: &[String],
        poll_interval: Duration,
        extra_env: &[(String, String)],
        log: &PathBuf,
    ) -> std::io::Result<Self> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)?;
        // `ROLEPLANE_BENCH_OPERATOR_WRAPPER="heaptrack -o /tmp/rp"`: run the operator under a
        // profiler (its memory figures are then the wrapper's, not the operator's).
        let wrapper = std::env::var("ROLEPLANE_BENCH_OPERATOR_WRAPPER").unwrap_or_default();
        let mut wrapper = wrapper.split_whitespace();
        let mut command = match wrapper.next() {
            Some(program) => {
                let mut c = Command::new(program);
                c.args(wrapper).arg(env!("CARGO_BIN_EXE_roleplane"));
                c
            }
            None => Command::new(env!("CARGO_BIN_EXE_roleplane")),
        };
        command
            .arg("run")
            .arg("--namespaces")
            .arg(namespaces.join(","))
            .arg("--poll-interval")
            .arg(format!("{}ms", poll_interval.as_millis()))
            .arg("--http-addr")
            .arg("127.0.0.1:0")
            .env("KUBECONFIG", kubeconfig)
            .env_remove("KUBERNETES_SERVICE_HOST")
            .env_remove("ROLEPLANE_MAX_REQUESTS_PER_SECOND")
            .env("ROLEPLANE_LOG", "warn")
            .stdin(Stdio::null())
            // Logs go to standard output; panics to standard error.
            .stdout(log.try_clone()?)
            .stderr(log)
            .kill_on_drop(true);
        for (k, v) in extra_env {
            command.env(k, v);
        }
        let child = command.spawn()?;
        let pid = child.id().expect("just started");
        Ok(Self { child, pid })
    }

    pub fn memory(&self) -> Memory {
        let text =
            std::fs::read_to_string(format!("/proc/{}/status", self.pid)).unwrap_or_default();
        let field = |name: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
                .unwrap_or(0)
        };
        Memory {
            hwm_kib: field("VmHWM:"),
            rss_kib: field("VmRSS:"),
            anon_kib: field("RssAnon:"),
            file_kib: field("RssFile:"),
        }
    }

    /// Whether it is still running (it exits on a fatal error).
    pub fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Sends `signal` to the process started and to the operator among its children: a wrapper
    /// (heaptrack is a shell script) does not pass SIGTERM on, and killing the wrapper alone
    /// left the operator running. (No process group of its own: Ctrl-C on the bench still
    /// reaches the operator.)
    fn signal_operator(&self, signal: &str) {
        let pid = self.pid.to_string();
        let _ = std::process::Command::new("pkill")
            .args([signal, "-P", &pid, "-f", env!("CARGO_BIN_EXE_roleplane")])
            .status();
        let _ = std::process::Command::new("kill")
            .args([signal, &pid])
            .stderr(Stdio::null())
            .status();
    }

    /// SIGTERM, as Kubernetes stops a pod; returns its memory figures read just before.
    pub async fn stop(mut self) -> Memory {
        let memory = self.memory();
        self.signal_operator("-TERM");
        if tokio::time::timeout(Duration::from_secs(15), self.child.wait())
            .await
            .is_err()
        {
            self.signal_operator("-KILL");
            let _ = self.child.kill().await;
        }
        memory
    }
}

impl Drop for Operator {
    /// A bench that ends early (a panic, a failed run) leaves no operator behind.
    fn drop(&mut self) {
        if self.running() {
            self.signal_operator("-KILL");
        }
    }
}
