//! Everything the operator logs during the suite, at debug level, kept in memory so the secret
//! canary can be looked for in it.

use std::io::Write;
use std::sync::{Arc, Mutex};

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

/// The captured log text (shared with the subscriber).
#[derive(Clone, Default)]
pub struct Captured(Arc<Mutex<Vec<u8>>>);

impl Captured {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().expect("log lock")).into_owned()
    }

    pub fn lines(&self) -> usize {
        self.0
            .lock()
            .expect("log lock")
            .iter()
            .filter(|b| **b == b'\n')
            .count()
    }
}

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log lock").extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Captured {
    type Writer = Captured;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

/// Installs a global subscriber: Roleplane and kube at debug (the level someone debugging would
/// turn on), the HTTP plumbing underneath at info; JSON lines, as `--log-format json` writes.
pub fn install() -> Captured {
    let captured = Captured::default();
    let filter = EnvFilter::new("debug,hyper=info,hyper_util=info,h2=info,rustls=info,tower=info");
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_writer(captured.clone())
        .init();
    captured
}
