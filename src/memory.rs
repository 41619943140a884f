//! Giving freed heap back to the system. glibc's malloc keeps pages freed in the middle of its
//! heaps resident until it is asked to return them (it trims only the top of a heap on its own),
//! so after a burst (the first listing, a credential's poll) the process keeps the burst's
//! size in RSS. [`trim_every`] asks it every so often; elsewhere (musl, other systems) it does
//! nothing. The choice of allocator and the figures: docs/performance.md.

use std::time::Duration;

/// How often freed heap is returned: rare enough to cost nothing (one walk of the free lists).
pub const TRIM_EVERY: Duration = Duration::from_secs(10);

#[cfg(all(target_os = "linux", target_env = "gnu"))]
unsafe extern "C" {
    /// glibc: returns free memory at the top of each heap, and whole free pages elsewhere.
    fn malloc_trim(pad: usize) -> std::ffi::c_int;
}

/// Returns the heap's free pages to the system.
pub fn trim() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim takes no pointers and is safe to call from any thread at any time.
    unsafe {
        malloc_trim(0);
    }
}

/// Trims every `period`, off the async workers (it takes the allocator's locks briefly).
pub async fn trim_every(period: Duration) {
    let mut ticks = tokio::time::interval(period);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let _ = tokio::task::spawn_blocking(trim).await;
    }
}
