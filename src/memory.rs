//! Giving freed heap back to the system. glibc's malloc keeps pages freed in the middle of its
//! heaps resident until it is asked to return them (it trims only the top of a heap on its own),
//! so after a burst (the first listing, a credential's poll) the process keeps the burst's
//! size in RSS. [`trim_every`] asks it every so often; elsewhere (musl, other systems) it does
//! nothing. The choice of allocator and the figures: docs/performance.md.

use std::time::Duration;

/// How often freed heap is returned: rare enough to cost nothing (one walk of the free lists).
pub const TRIM_EVERY: Duration = Duration::from_secs(2);

/// Blocks at least this large are mapped on their own and unmapped when freed (list pages,
/// answer bodies, large tables), never left in a heap.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const MMAP_THRESHOLD: std::ffi::c_int = 64 * 1024;

#[cfg(all(target_os = "linux", target_env = "gnu"))]
unsafe extern "C" {
    /// glibc: returns free memory at the top of each heap, and whole free pages elsewhere.
    fn malloc_trim(pad: usize) -> std::ffi::c_int;
    /// glibc: sets an allocator parameter.
    fn mallopt(param: std::ffi::c_int, value: std::ffi::c_int) -> std::ffi::c_int;
}

/// glibc's `M_MMAP_THRESHOLD`.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const M_MMAP_THRESHOLD: std::ffi::c_int = -3;

/// Fixes the size from which blocks are mapped on their own ([`MMAP_THRESHOLD`]). By default
/// glibc raises it each time such a block is freed (up to 32 MiB), after which large transient
/// buffers are carved from the heaps and their pages stay resident. Called once at start.
pub fn fix_mmap_threshold() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt takes no pointers and takes the allocator's lock itself.
    unsafe {
        mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD);
    }
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
