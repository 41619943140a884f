//! Answers that are the same for every resource of a credential and only checked, never
//! written as they are (Looker's permission catalogue, SlashID's permission names), kept for a
//! short while so that N creates under one credential read them once, not N times. (A
//! ConfigCat product's environments are not kept: every write body names them all.)
//!
//! A kept answer is a hint, never trusted to refuse or to omit: a caller that finds a name
//! missing from it reads afresh ([`Memo::fresh`]) before it reports the name unknown, and a
//! failed write drops it ([`Memo::forget`]).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::Result;

/// How long an answer is kept.
pub const KEPT_FOR: Duration = Duration::from_secs(60);

/// Answers by key (an account key, plus a scope where the answer depends on one). Clones
/// share the answers.
pub struct Memo<T> {
    kept: Arc<Mutex<HashMap<String, Kept<T>>>>,
}

/// An answer and when it was read.
type Kept<T> = (Instant, Arc<T>);

impl<T> Default for Memo<T> {
    fn default() -> Self {
        Self {
            kept: Arc::default(),
        }
    }
}

impl<T> Clone for Memo<T> {
    fn clone(&self) -> Self {
        Self {
            kept: self.kept.clone(),
        }
    }
}

impl<T> Memo<T> {
    /// The answer kept under `key` when younger than [`KEPT_FOR`], else `read`'s (then kept).
    pub async fn get<F>(&self, key: &str, read: impl FnOnce() -> F) -> Result<Arc<T>>
    where
        F: Future<Output = Result<T>>,
    {
        if let Some(kept) = self.kept(key) {
            return Ok(kept);
        }
        self.fresh(key, read).await
    }

    /// `read`'s answer, kept under `key` from now on.
    pub async fn fresh<F>(&self, key: &str, read: impl FnOnce() -> F) -> Result<Arc<T>>
    where
        F: Future<Output = Result<T>>,
    {
        let answer = Arc::new(read().await?);
        let mut kept = self.kept.lock().expect("memo lock poisoned");
        // Expired entries of other keys go too, so the map never outgrows the live credentials.
        kept.retain(|_, (at, _)| at.elapsed() < KEPT_FOR);
        kept.insert(key.to_string(), (Instant::now(), answer.clone()));
        Ok(answer)
    }

    /// Whether `key` has an answer kept (to tell a kept answer from a fresh one).
    pub fn kept(&self, key: &str) -> Option<Arc<T>> {
        let kept = self.kept.lock().expect("memo lock poisoned");
        kept.get(key)
            .filter(|(at, _)| at.elapsed() < KEPT_FOR)
            .map(|(_, answer)| answer.clone())
    }

    /// Drops the answer kept under `key`.
    pub fn forget(&self, key: &str) {
        self.kept.lock().expect("memo lock poisoned").remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test]
    async fn one_read_per_key_until_forgotten() {
        let memo = Memo::<usize>::default();
        let reads = AtomicUsize::new(0);
        let read = || async { Ok(reads.fetch_add(1, Ordering::SeqCst)) };
        assert_eq!(*memo.get("a", read).await.unwrap(), 0);
        assert_eq!(*memo.get("a", read).await.unwrap(), 0, "kept");
        assert_eq!(*memo.get("b", read).await.unwrap(), 1, "another credential");
        memo.forget("a");
        assert!(memo.kept("a").is_none());
        assert_eq!(*memo.get("a", read).await.unwrap(), 2, "read again");
        assert_eq!(
            *memo.fresh("a", read).await.unwrap(),
            3,
            "fresh reads anyway"
        );
        assert_eq!(*memo.get("a", read).await.unwrap(), 3);
    }

    #[tokio::test]
    async fn a_failed_read_keeps_nothing() {
        let memo = Memo::<usize>::default();
        let failed = memo
            .get("a", || async {
                Err(crate::providers::Error::InvalidSpec("no".into()))
            })
            .await;
        assert!(failed.is_err());
        assert!(memo.kept("a").is_none());
    }
}
