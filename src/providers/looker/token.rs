//! Access tokens from `POST /login`, cached per credential: one slot per `Account.key`, tagged
//! with a keyed hash of endpoint, client id and secret so a rotated Secret (or a moved endpoint)
//! logs in again. Tokens are refreshed before they expire and never printed.

use std::collections::HashMap;
use std::fmt;
use std::hash::{BuildHasher, RandomState};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::providers::Account;

/// A bearer token. `Debug` never prints it.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(pub(super) String);

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

impl Token {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A token with the moment it should be replaced.
#[derive(Clone, Debug)]
pub struct Cached {
    pub token: Token,
    pub refresh_at: Instant,
}

/// The longest a token is kept, whatever `expires_in` says (Looker's own last an hour): a
/// lifetime past it is read as this long, far from any `Instant` overflow.
const MAX_LIFETIME: Duration = Duration::from_secs(24 * 3600);

impl Cached {
    /// A token valid for `lifetime` (at most a day), replaced a tenth of its lifetime (at most
    /// 5 min) early.
    pub fn new(token: Token, lifetime: Duration) -> Self {
        let lifetime = lifetime.min(MAX_LIFETIME);
        let margin = (lifetime / 10).min(Duration::from_secs(300));
        Self {
            token,
            refresh_at: Instant::now() + lifetime.saturating_sub(margin),
        }
    }

    pub fn fresh(&self) -> bool {
        Instant::now() < self.refresh_at
    }
}

/// The cached token of one credential, if any. Held across a login so concurrent callers wait
/// for one login instead of each making their own.
pub type Slot = Arc<tokio::sync::Mutex<Option<Cached>>>;

/// Token slots by account key, each tagged with its credential's fingerprint.
#[derive(Debug, Default)]
pub struct Tokens {
    hasher: RandomState,
    slots: Mutex<HashMap<String, (u64, Slot)>>,
}

impl Tokens {
    /// Keyed hash of what a token depends on; the random key makes it useless outside the process.
    fn fingerprint(&self, account: &Account) -> u64 {
        self.hasher.hash_one((
            account.base_url.as_str(),
            account.credentials.get("clientId"),
            account.credentials.get("clientSecret"),
        ))
    }

    /// The slot of `account`'s current credential. A changed credential replaces the slot, so its
    /// first call logs in again (a login still running for the old one fills the dropped slot).
    pub fn slot(&self, account: &Account) -> Slot {
        let fingerprint = self.fingerprint(account);
        let mut slots = self.slots.lock().expect("token cache poisoned");
        let entry = slots
            .entry(account.key.clone())
            .or_insert_with(|| (fingerprint, Slot::default()));
        if entry.0 != fingerprint {
            *entry = (fingerprint, Slot::default());
        }
        entry.1.clone()
    }

    /// Forgets `token` if it is still the cached one (a 401 proved it dead).
    pub async fn invalidate(&self, account: &Account, token: &Token) {
        let slot = self.slot(account);
        let mut cached = slot.lock().await;
        if cached.as_ref().is_some_and(|c| &c.token == token) {
            *cached = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crd::ProviderSettings;
    use crate::providers::Credentials;

    fn account(secret: &str) -> Account {
        Account::of::<crate::providers::looker::Looker>(
            "http://looker.test",
            ProviderSettings::default(),
            Credentials::new([
                ("clientId".to_string(), "id".to_string()),
                ("clientSecret".to_string(), secret.to_string()),
            ]),
            "ns/looker",
        )
    }

    #[tokio::test]
    async fn a_rotated_secret_gets_an_empty_slot() {
        let tokens = Tokens::default();
        let slot = tokens.slot(&account("one"));
        *slot.lock().await = Some(Cached::new(Token("t1".into()), Duration::from_secs(3600)));
        let same = tokens.slot(&account("one"));
        assert!(same.lock().await.is_some());
        let rotated = tokens.slot(&account("two"));
        assert!(rotated.lock().await.is_none());
    }

    #[tokio::test]
    async fn invalidate_only_drops_the_token_that_failed() {
        let tokens = Tokens::default();
        let a = account("one");
        *tokens.slot(&a).lock().await =
            Some(Cached::new(Token("new".into()), Duration::from_secs(3600)));
        tokens.invalidate(&a, &Token("old".into())).await;
        assert!(tokens.slot(&a).lock().await.is_some());
        tokens.invalidate(&a, &Token("new".into())).await;
        assert!(tokens.slot(&a).lock().await.is_none());
    }

    #[test]
    fn tokens_are_refreshed_before_expiry_and_never_printed() {
        let c = Cached::new(Token("secret-token".into()), Duration::from_secs(3600));
        assert!(c.fresh());
        assert!(c.refresh_at < Instant::now() + Duration::from_secs(3600 - 299));
        assert!(!Cached::new(Token("x".into()), Duration::ZERO).fresh());
        // `expires_in: 9223372036854766566` once overflowed `Instant`.
        let forever = Cached::new(Token("x".into()), Duration::from_secs(u64::MAX));
        assert!(forever.refresh_at <= Instant::now() + MAX_LIFETIME);
        assert!(!format!("{c:?}").contains("secret-token"));
    }
}
