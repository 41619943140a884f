//! Conditions and status writes: server-side apply on the status subresource (field manager
//! `roleplane`), `lastTransitionTime` kept unless the status flips, and Events on transitions.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Patch, PatchParams};
use kube::runtime::events::EventType;
use kube::{Api, Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::events::Events;
use crate::crd::{Condition, ConditionStatus};

pub const FIELD_MANAGER: &str = "roleplane";
pub const READY: &str = "Ready";
pub const SYNCED: &str = "Synced";

/// A condition for `generation`, keeping the previous `lastTransitionTime` when the status is unchanged.
pub fn condition(
    previous: &[Condition],
    type_: &str,
    status: ConditionStatus,
    reason: &str,
    message: &str,
    generation: Option<i64>,
) -> Condition {
    let last_transition_time = previous
        .iter()
        .find(|c| c.r#type == type_ && c.status == status)
        .map(|c| c.last_transition_time.clone())
        .unwrap_or_else(|| Time(Timestamp::now()));
    Condition {
        r#type: type_.to_string(),
        status,
        reason: reason.to_string(),
        message: truncate(message),
        last_transition_time,
        observed_generation: generation,
    }
}

fn truncate(message: &str) -> String {
    if message.len() <= 4096 {
        return message.to_string();
    }
    format!("{}…", &message[..message.floor_char_boundary(4096)])
}

pub fn find<'a>(conditions: &'a [Condition], type_: &str) -> Option<&'a Condition> {
    conditions.iter().find(|c| c.r#type == type_)
}

/// Whether two condition lists say the same thing (ignoring timestamps).
pub fn same(a: &[Condition], b: &[Condition]) -> bool {
    a.len() == b.len()
        && a.iter().all(|x| {
            find(b, &x.r#type).is_some_and(|y| {
                x.status == y.status
                    && x.reason == y.reason
                    && x.message == y.message
                    && x.observed_generation == y.observed_generation
            })
        })
}

/// Writes `status` through the status subresource with a complete server-side apply body.
pub async fn apply_status<K, S>(api: &Api<K>, obj: &K, status: &S) -> kube::Result<()>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + std::fmt::Debug,
    S: Serialize,
{
    let body = serde_json::json!({
        "apiVersion": K::api_version(&()),
        "kind": K::kind(&()),
        "status": status,
    });
    api.patch_status(
        &obj.name_any(),
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(&body),
    )
    .await?;
    Ok(())
}

/// Publishes an Event on `obj`; failures are logged, never fatal.
pub async fn event<K: Resource<DynamicType = ()>>(
    events: &Events,
    obj: &K,
    type_: EventType,
    reason: &str,
    action: &str,
    note: String,
) {
    events
        .on(obj, type_, reason, action, &truncate(&note))
        .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transition_time_kept_while_status_unchanged() {
        let first = condition(&[], READY, ConditionStatus::False, "Creating", "a", Some(1));
        let again = condition(
            std::slice::from_ref(&first),
            READY,
            ConditionStatus::False,
            "RateLimited",
            "b",
            Some(1),
        );
        assert_eq!(first.last_transition_time, again.last_transition_time);
        assert_eq!(again.reason, "RateLimited");
        std::thread::sleep(std::time::Duration::from_millis(2));
        let flipped = condition(
            std::slice::from_ref(&again),
            READY,
            ConditionStatus::True,
            "Available",
            "",
            Some(1),
        );
        assert_ne!(flipped.last_transition_time, again.last_transition_time);
    }

    #[test]
    fn same_ignores_timestamps_only() {
        let a = condition(
            &[],
            SYNCED,
            ConditionStatus::True,
            "ReconcileSuccess",
            "",
            Some(2),
        );
        let mut b = a.clone();
        b.last_transition_time = Time(Timestamp::UNIX_EPOCH);
        assert!(same(std::slice::from_ref(&a), std::slice::from_ref(&b)));
        b.observed_generation = Some(3);
        assert!(!same(&[a], &[b]));
    }

    #[test]
    fn long_messages_are_bounded() {
        let c = condition(
            &[],
            SYNCED,
            ConditionStatus::False,
            "X",
            &"x".repeat(10_000),
            None,
        );
        assert!(c.message.len() < 4200);
    }
}
