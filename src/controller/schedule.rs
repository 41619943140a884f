//! When resources are polled: a credential's resources together, at that credential's tick.

use std::time::Duration;

use kube::{Resource, ResourceExt};

/// A resource's own poll interval (annotation `roleplane.dev/poll-interval`), if it has one.
pub(super) fn own_poll_interval<K: Resource>(obj: &K) -> Option<Duration> {
    obj.annotations()
        .get(crate::crd::POLL_INTERVAL_ANNOTATION)
        .and_then(|v| humantime::parse_duration(v.trim()).ok())
        .filter(|d| *d >= Duration::from_secs(1))
}

/// The time from `now` (since the epoch) to the next tick of `key` at least half an `interval`
/// away; ticks are `interval` apart, offset by a hash of `key`.
pub(super) fn next_tick(now: Duration, interval: Duration, key: &str) -> Duration {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    key.hash(&mut h);
    let period = interval.as_millis().max(1) as u64;
    let phase = h.finish() % period;
    let now = now.as_millis() as u64;
    let earliest = now + period / 2;
    let mut tick = earliest - earliest % period + phase;
    if tick < earliest {
        tick += period;
    }
    Duration::from_millis(tick - now)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_credentials_resources_poll_at_its_ticks() {
        let interval = Duration::from_secs(600);
        let key = "statsig|https://statsigapi.net|ns/creds";
        // Wherever a resource starts, its next poll is the credential's tick, half an interval
        // to one and a half away; every resource of the credential lands on the same tick.
        let starts = [0u64, 1, 299_999, 300_000, 599_999, 1_234_567];
        let ticks: Vec<u64> = starts
            .iter()
            .map(|ms| {
                let now = Duration::from_millis(1_700_000_000_000 + ms);
                let next = next_tick(now, interval, key);
                assert!(next >= interval / 2 && next <= interval * 3 / 2, "{next:?}");
                ((now + next).as_millis() % interval.as_millis()) as u64
            })
            .collect();
        assert!(ticks.windows(2).all(|w| w[0] == w[1]), "{ticks:?}");
        // The next poll after a tick is the next tick.
        let at_tick = Duration::from_millis(1_700_000_000_000 + 5);
        let first = at_tick + next_tick(at_tick, interval, key);
        assert_eq!(next_tick(first, interval, key), interval);
        // Credentials are spread over the interval.
        let phases: std::collections::HashSet<u128> = (0..20)
            .map(|i| {
                let now = Duration::from_secs(1_700_000_000);
                (now + next_tick(now, interval, &format!("key-{i}"))).as_millis() % 600_000
            })
            .collect();
        assert!(phases.len() > 15, "{phases:?}");
    }
}
