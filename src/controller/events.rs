//! Events (`events.k8s.io/v1`) on our objects. A repeat of the same Event (same object, type,
//! reason, action and note) within a few minutes becomes a series on the first one, as kube's
//! `Recorder` does; unlike it, a different note is a different Event (the `Recorder` groups by
//! reason alone and keeps showing the first note, so a second `DriftCorrected` would name the
//! first drift's fields).

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::Mutex;
use std::time::Duration;

use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::api::events::v1::{Event, EventSeries};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::runtime::events::EventType;
use kube::{Client, Resource};

/// How long a published Event can still be extended into a series.
const SERIES_WINDOW: Duration = Duration::from_secs(360);

/// An Event sent, by what names it: its name is the regarded object's name and the time it
/// was first sent (see [`Events::event_name`]), in the regarded object's namespace, so neither is kept
/// (thousands are sent while thousands of resources are created).
struct Sent {
    first: Timestamp,
    count: i32,
    last: Timestamp,
}

/// Publishes Events as one controller instance.
pub struct Events {
    client: Client,
    controller: String,
    instance: String,
    hasher: RandomState,
    sent: Mutex<SentCache>,
}

/// The Events sent within [`SERIES_WINDOW`], by key. Expired entries are ignored at once and
/// dropped every [`SWEEP_EVERY`]: a sweep on every send would scan every Event of the last
/// minutes each time (tens of thousands while thousands of resources are created).
#[derive(Default)]
struct SentCache {
    by_key: HashMap<u64, Sent>,
    next_sweep: Option<Timestamp>,
}

const SWEEP_EVERY: SignedDuration = SignedDuration::from_secs(30);

impl Events {
    pub fn new(client: Client, controller: &str, instance: &str) -> Self {
        Self {
            client,
            controller: controller.to_string(),
            instance: instance.to_string(),
            hasher: RandomState::new(),
            sent: Mutex::default(),
        }
    }

    /// Publishes an Event about `regarding`; failures are logged, never fatal.
    pub async fn publish(
        &self,
        regarding: ObjectReference,
        type_: EventType,
        reason: &str,
        action: &str,
        note: &str,
    ) {
        if let Err(e) = self.send(regarding, type_, reason, action, note).await {
            tracing::warn!(error = %e, reason, "could not publish event");
        }
    }

    /// Publishes an Event about `obj`.
    pub async fn on<K: Resource<DynamicType = ()>>(
        &self,
        obj: &K,
        type_: EventType,
        reason: &str,
        action: &str,
        note: &str,
    ) {
        self.publish(obj.object_ref(&()), type_, reason, action, note)
            .await;
    }

    /// The name of the Event about `regarding` first sent at `first`.
    fn event_name(&self, regarding: &ObjectReference, first: Timestamp) -> String {
        format!(
            "{}.{:x}",
            regarding.name.as_deref().unwrap_or(&self.controller),
            first.as_nanosecond()
        )
    }

    async fn send(
        &self,
        regarding: ObjectReference,
        type_: EventType,
        reason: &str,
        action: &str,
        note: &str,
    ) -> kube::Result<()> {
        let type_ = match type_ {
            EventType::Normal => "Normal",
            EventType::Warning => "Warning",
        };
        let key = self.hasher.hash_one((
            &regarding.uid,
            &regarding.namespace,
            &regarding.name,
            type_,
            reason,
            action,
            note,
        ));
        let now = Timestamp::now();
        let window = SignedDuration::try_from(SERIES_WINDOW).expect("a short window");
        let repeat = {
            let mut sent = self.sent.lock().expect("event cache poisoned");
            if sent.next_sweep.is_none_or(|t| t <= now) {
                sent.by_key.retain(|_, s| s.last + window > now);
                // The room a burst of creates took is not kept for as long as the process runs.
                if sent.by_key.capacity() > 4 * sent.by_key.len().max(64) {
                    sent.by_key.shrink_to_fit();
                }
                sent.next_sweep = Some(now + SWEEP_EVERY);
            }
            sent.by_key
                .get_mut(&key)
                .filter(|s| s.last + window > now)
                .map(|s| {
                    s.count += 1;
                    s.last = now;
                    (s.first, s.count)
                })
        };
        let namespace = regarding
            .namespace
            .clone()
            .unwrap_or_else(|| "default".to_string());
        if let Some((first, count)) = repeat {
            let name = self.event_name(&regarding, first);
            let series = serde_json::json!({"series": EventSeries {
                count,
                last_observed_time: MicroTime(now),
            }});
            let api: Api<Event> = Api::namespaced(self.client.clone(), &namespace);
            api.patch(&name, &PatchParams::default(), &Patch::Merge(&series))
                .await?;
            return Ok(());
        }
        let name = self.event_name(&regarding, now);
        let event = Event {
            metadata: ObjectMeta {
                name: Some(name),
                namespace: Some(namespace.clone()),
                ..Default::default()
            },
            event_time: Some(MicroTime(now)),
            type_: Some(type_.to_string()),
            reason: Some(reason.to_string()),
            action: Some(action.to_string()),
            note: Some(note.to_string()),
            regarding: Some(regarding),
            reporting_controller: Some(self.controller.clone()),
            reporting_instance: Some(self.instance.clone()),
            ..Default::default()
        };
        let api: Api<Event> = Api::namespaced(self.client.clone(), &namespace);
        api.create(&PostParams::default(), &event).await?;
        self.sent
            .lock()
            .expect("event cache poisoned")
            .by_key
            .insert(
                key,
                Sent {
                    first: now,
                    count: 1,
                    last: now,
                },
            );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::Secret;

    #[tokio::test]
    async fn a_repeated_event_is_counted_on_the_first_and_another_note_is_an_event_of_its_own() {
        let api = kube_double::ApiServer::new(Vec::new());
        let events = Events::new(api.client(), "roleplane.dev/test", "test-0");
        let mut on = Secret::default();
        on.metadata.name = Some("creds".into());
        on.metadata.namespace = Some("t".into());
        on.metadata.uid = Some("0b7c7a4e-0000-4000-8000-000000000001".into());
        let warn = |note: &'static str| events.on(&on, EventType::Warning, "Failed", "Check", note);
        warn("first").await;
        warn("first").await;
        warn("first").await;
        warn("second").await;
        let list = Api::<Event>::namespaced(api.client(), "t")
            .list(&Default::default())
            .await
            .expect("listed")
            .items;
        let mut seen: Vec<(String, Option<i32>)> = list
            .iter()
            .map(|e| {
                let name = e.metadata.name.clone().expect("named");
                assert!(name.starts_with("creds."), "{name}");
                (
                    e.note.clone().unwrap_or_default(),
                    e.series.as_ref().map(|s| s.count),
                )
            })
            .collect();
        seen.sort();
        assert_eq!(
            seen,
            [("first".to_string(), Some(3)), ("second".to_string(), None)]
        );
    }
}
