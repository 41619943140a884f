//! Prometheus metrics: reconciles, product requests, rate-limit waits, resources by Ready state
//! and each config's inventory (product objects, managed or not).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

type Labels = Vec<(&'static str, String)>;

fn histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.005, 2.0, 14))
}

/// Every metric Roleplane exports. Cheap to clone.
#[derive(Clone)]
pub struct Metrics {
    registry: Arc<Registry>,
    reconciles: Family<Labels, Counter>,
    reconcile_errors: Family<Labels, Counter>,
    reconcile_duration: Family<Labels, Histogram, fn() -> Histogram>,
    provider_requests: Family<Labels, Counter>,
    provider_duration: Family<Labels, Histogram, fn() -> Histogram>,
    rate_limit_waits: Family<Labels, Counter>,
    rate_limit_wait_seconds: Family<Labels, Counter<f64, std::sync::atomic::AtomicU64>>,
    resources: Family<Labels, Gauge>,
    config_objects: Family<Labels, Gauge>,
    /// Each resource's Ready state, by the caller's 64-bit key for it (a hash of kind, namespace
    /// and name; not the strings: 10,000 resources would hold 1 MiB of keys). A collision (odds
    /// of 2^-64 per pair) could miscount one resource in the gauges, nothing else.
    ready: Arc<Mutex<HashMap<u64, bool>>>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("roleplane");
        let m = Self {
            registry: Arc::default(),
            reconciles: Family::default(),
            reconcile_errors: Family::default(),
            reconcile_duration: Family::new_with_constructor(histogram),
            provider_requests: Family::default(),
            provider_duration: Family::new_with_constructor(histogram),
            rate_limit_waits: Family::default(),
            rate_limit_wait_seconds: Family::default(),
            resources: Family::default(),
            config_objects: Family::default(),
            ready: Arc::default(),
        };
        registry.register(
            "reconciles",
            "Reconciles by kind and result",
            m.reconciles.clone(),
        );
        registry.register(
            "reconcile_errors",
            "Failed reconciles by kind and reason",
            m.reconcile_errors.clone(),
        );
        registry.register(
            "reconcile_duration_seconds",
            "Reconcile duration by kind",
            m.reconcile_duration.clone(),
        );
        registry.register(
            "provider_requests",
            "Product API requests by provider, operation and status",
            m.provider_requests.clone(),
        );
        registry.register(
            "provider_request_duration_seconds",
            "Product API request latency",
            m.provider_duration.clone(),
        );
        registry.register(
            "rate_limit_waits",
            "Requests that waited for a credential's rate budget",
            m.rate_limit_waits.clone(),
        );
        registry.register(
            "rate_limit_wait_seconds",
            "Time spent waiting for rate budgets",
            m.rate_limit_wait_seconds.clone(),
        );
        registry.register(
            "resources",
            "Managed resources by kind and Ready state",
            m.resources.clone(),
        );
        registry.register(
            "config_objects",
            "Product objects in each config's scope at its last listing, managed by a resource or not",
            m.config_objects.clone(),
        );
        Self {
            registry: Arc::new(registry),
            ..m
        }
    }

    /// Text exposition for `/metrics`.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        encode(&mut out, &self.registry).expect("writing to a String cannot fail");
        out
    }

    pub fn reconciled(&self, kind: &'static str, error_reason: Option<&str>, seconds: f64) {
        let result = if error_reason.is_some() {
            "error"
        } else {
            "success"
        };
        self.reconciles
            .get_or_create(&vec![
                ("kind", kind.to_string()),
                ("result", result.to_string()),
            ])
            .inc();
        if let Some(reason) = error_reason {
            self.reconcile_errors
                .get_or_create(&vec![
                    ("kind", kind.to_string()),
                    ("reason", reason.to_string()),
                ])
                .inc();
        }
        self.reconcile_duration
            .get_or_create(&vec![("kind", kind.to_string())])
            .observe(seconds);
    }

    pub fn provider_request(&self, provider: &str, operation: &str, status: &str, seconds: f64) {
        self.provider_requests
            .get_or_create(&vec![
                ("provider", provider.to_string()),
                ("operation", operation.to_string()),
                ("status", status.to_string()),
            ])
            .inc();
        self.provider_duration
            .get_or_create(&vec![
                ("provider", provider.to_string()),
                ("operation", operation.to_string()),
            ])
            .observe(seconds);
    }

    pub fn rate_limit_wait(&self, provider: &str, seconds: f64) {
        let labels = vec![("provider", provider.to_string())];
        self.rate_limit_waits.get_or_create(&labels).inc();
        self.rate_limit_wait_seconds
            .get_or_create(&labels)
            .inc_by(seconds);
    }

    /// Records a config's inventory: product objects in its scope, and how many a resource
    /// manages (None: the config is gone).
    pub fn set_inventory(
        &self,
        kind: &'static str,
        config: &str,
        provider: &str,
        counts: Option<(u32, u32)>,
    ) {
        for managed in [true, false] {
            let labels = vec![
                ("kind", kind.to_string()),
                ("config", config.to_string()),
                ("provider", provider.to_string()),
                ("managed", managed.to_string()),
            ];
            match counts {
                Some((objects, with_resource)) => {
                    let n = if managed {
                        with_resource
                    } else {
                        objects.saturating_sub(with_resource)
                    };
                    self.config_objects.get_or_create(&labels).set(i64::from(n));
                }
                None => {
                    self.config_objects.remove(&labels);
                }
            }
        }
    }

    /// Records the Ready state of one resource of `kind`, by a key unique to it across kinds
    /// (None: the resource is gone).
    pub fn set_ready(&self, kind: &'static str, id: u64, ready: Option<bool>) {
        let mut map = self.ready.lock().expect("metrics lock poisoned");
        let before = match ready {
            Some(r) => map.insert(id, r),
            None => map.remove(&id),
        };
        // Counted as they change, not by a walk over every resource on every reconcile.
        let gauge = |state: bool| {
            self.resources.get_or_create(&vec![
                ("kind", kind.to_string()),
                ("ready", state.to_string()),
            ])
        };
        for state in [true, false] {
            // Both series exist from the first resource on (a zero, not a missing series).
            let g = gauge(state);
            if before == ready {
                continue;
            }
            if before == Some(state) {
                g.dec();
            }
            if ready == Some(state) {
                g.inc();
            }
        }
        drop(map);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(m: &Metrics, ready: bool) -> Option<String> {
        let prefix = format!("roleplane_resources{{kind=\"Role\",ready=\"{ready}\"}} ");
        m.encode()
            .lines()
            .find_map(|l| l.strip_prefix(prefix.as_str()).map(str::to_string))
    }

    #[test]
    fn resources_are_counted_by_ready_state_as_they_change() {
        let m = Metrics::new();
        m.set_ready("Role", 1, Some(false));
        m.set_ready("Role", 2, Some(true));
        m.set_ready("Role", 2, Some(true));
        assert_eq!(
            (count(&m, true), count(&m, false)),
            (Some("1".into()), Some("1".into()))
        );
        m.set_ready("Role", 1, Some(true));
        assert_eq!(
            (count(&m, true), count(&m, false)),
            (Some("2".into()), Some("0".into()))
        );
        m.set_ready("Role", 2, None);
        m.set_ready("Role", 3, None);
        m.set_ready("PermissionGroup", 4, Some(false));
        assert_eq!(
            (count(&m, true), count(&m, false)),
            (Some("1".into()), Some("0".into()))
        );
    }
}
