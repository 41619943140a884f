//! Test support for fuzzing what the products send back: a scripted loopback server, mutations
//! of recorded answers, and the property every product's client must hold (`contract`). Each
//! product's `fuzz` test module supplies its recorded answers and states when an object is in
//! line with its manifest.
//!
//! Cases per property default to a few hundred at most (seconds in CI); set
//! `ROLEPLANE_FUZZ_CASES=20000` for a longer run.

pub mod contract;
pub mod mutate;
pub mod server;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use proptest::prelude::ProptestConfig;
use proptest::test_runner::TestRunner;

use crate::providers::Http;
use crate::providers::http::HttpConfig;
use server::Server;

/// Cases per property: `ROLEPLANE_FUZZ_CASES`, else `default` (kept small for CI).
pub fn cases(default: u32) -> u32 {
    std::env::var("ROLEPLANE_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A runner with `cases(default)` cases and no failure files written into the source tree.
pub fn runner(default: u32) -> TestRunner {
    TestRunner::new(ProptestConfig {
        cases: cases(default),
        failure_persistence: None,
        max_shrink_iters: 256,
        ..ProptestConfig::default()
    })
}

/// The scripted server, the runtime it runs on and an HTTP stack without waits.
pub struct Harness {
    pub rt: tokio::runtime::Runtime,
    pub server: Server,
    pub http: Http,
    keys: AtomicUsize,
}

impl Harness {
    pub fn new() -> Self {
        Self::with(|_| {})
    }

    /// With the HTTP stack's settings changed by `tune`.
    pub fn with(tune: impl FnOnce(&mut HttpConfig)) -> Self {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        let server = rt.block_on(Server::start());
        let mut config = HttpConfig {
            timeout: Duration::from_secs(5),
            requests_per_second: std::num::NonZeroU32::new(1_000_000),
            concurrency_per_credential: 4,
            max_inline_wait: Duration::ZERO,
            ..Default::default()
        };
        tune(&mut config);
        let http = Http::new(config, Default::default());
        Self {
            rt,
            server,
            http,
            keys: AtomicUsize::new(0),
        }
    }

    /// A credential key of its own per case: budgets and token caches never carry over.
    pub fn key(&self) -> String {
        format!("fuzz-{}", self.keys.fetch_add(1, Ordering::Relaxed))
    }
}
