//! The convergence decision, pure: from what the resource says (spec, status, create intent) and
//! what the product holds, where to look for the object and the one step to take next.

use crate::providers::Identity;
use crate::providers::http::Priority;

/// What the resource says, as far as the decision needs it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Facts {
    /// `spec.externalId`: adopt this object.
    pub wanted: Option<String>,
    /// `status.externalId`: the object Roleplane manages.
    pub known: Option<String>,
    /// The create intent: a create may have happened without its id being stored.
    pub intent: bool,
    /// `managementPolicy: ObserveOnly`.
    pub observe_only: bool,
    /// Ready=True at the current generation: a difference found now was made outside Roleplane.
    pub was_ready: bool,
}

impl Facts {
    /// A reconcile of a resource Ready at this generation, with its id known, no create
    /// pending and nothing about it `changed`, is a poll: it may use the credential's listing
    /// and waits while the budget keeps its reserve for the rest (`Background`).
    pub fn priority(&self, changed: bool) -> Priority {
        let settled = self.was_ready
            && !self.intent
            && self.known.is_some()
            && (self.wanted.is_none() || self.wanted == self.known);
        match settled && !changed {
            true => Priority::Background,
            false => Priority::Foreground,
        }
    }
}

/// Where to look for the object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Lookup {
    /// Read the object with this id (`spec.externalId`, else `status.externalId`).
    Id(String),
    /// Read the object whose key is the resource's name (name-keyed products).
    Key(String),
    /// Find the objects carrying the resource's name.
    Name,
}

/// Where to look, given how the product identifies objects. `key` is the name's key.
pub fn lookup(facts: &Facts, identity: Identity, key: impl FnOnce() -> String) -> Lookup {
    if let Some(id) = facts.wanted.as_ref().or(facts.known.as_ref()) {
        return Lookup::Id(id.clone());
    }
    match identity {
        Identity::Name => Lookup::Key(key()),
        Identity::Id => Lookup::Name,
    }
}

/// An object found, and the manifest fields in which it differs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Seen {
    pub id: String,
    pub drift: Vec<String>,
}

/// What the lookup found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Found {
    /// The object with the id looked up (None: it does not exist).
    Id(Option<Seen>),
    /// The objects carrying the resource's name (by key: at most one).
    Named(Vec<Seen>),
}

/// Why an existing object is taken on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Adoption {
    /// `spec.externalId` names it.
    ExternalId,
    /// Roleplane created it, but a crash kept the id from being stored.
    InterruptedCreate,
    /// Observe-only, matched by name (nothing is written, so nothing is taken over).
    ObserveOnlyByName,
}

/// What to do with a kept object's differences.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    /// In sync.
    None,
    /// Write the manifest's values; `out_of_band` when the object had been in sync.
    Update {
        fields: Vec<String>,
        out_of_band: bool,
    },
    /// Observe-only: report the differences, write nothing.
    Report { fields: Vec<String> },
}

/// A failure the decision itself finds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Failure {
    /// An object the resource relies on does not exist (reason DependencyNotReady).
    Missing(String),
    /// A same-named object exists that Roleplane did not create.
    AlreadyExists(String),
    /// Several objects could be the one an interrupted create made.
    Ambiguous(String),
}

/// The next step.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// Create the object; `recreating` names one that was deleted outside Roleplane.
    Create {
        recreating: Option<String>,
    },
    /// Keep the object `id`, adopting it first when `adopt` says so, then apply `change`.
    Keep {
        id: String,
        adopt: Option<Adoption>,
        change: Change,
    },
    Fail(Failure),
}

/// What to do with differences in `drift`.
pub fn change(facts: &Facts, drift: &[String]) -> Change {
    if drift.is_empty() {
        Change::None
    } else if facts.observe_only {
        Change::Report {
            fields: drift.to_vec(),
        }
    } else {
        Change::Update {
            fields: drift.to_vec(),
            out_of_band: facts.was_ready,
        }
    }
}

/// The step for what was found. `product` and `name` only word the failures.
pub fn step(facts: &Facts, product: &str, name: &str, found: &Found) -> Step {
    match found {
        Found::Id(None) => {
            let id = facts.wanted.as_ref().or(facts.known.as_ref());
            let id = id.map(String::as_str).unwrap_or_default();
            if facts.wanted.is_some() {
                Step::Fail(Failure::Missing(format!(
                    "{product} has no object with externalId {id} to adopt"
                )))
            } else if facts.observe_only {
                Step::Fail(Failure::Missing(format!(
                    "observe-only: the {product} object {id} no longer exists"
                )))
            } else {
                Step::Create {
                    recreating: Some(id.to_string()),
                }
            }
        }
        Found::Id(Some(seen)) => Step::Keep {
            id: seen.id.clone(),
            // Compared with the id found, not with `spec.externalId`: a product may accept
            // another spelling of the id (e.g. a bare name for an `{org}/{name}` key).
            adopt: (facts.wanted.is_some() && facts.known.as_deref() != Some(seen.id.as_str()))
                .then_some(Adoption::ExternalId),
            change: change(facts, &seen.drift),
        },
        Found::Named(named) => {
            let ids = || {
                named
                    .iter()
                    .map(|s| s.id.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            match named.as_slice() {
                [] if facts.observe_only => Step::Fail(Failure::Missing(format!(
                    "observe-only: no {product} object named {name:?} exists"
                ))),
                [] => Step::Create { recreating: None },
                [one] if facts.intent || facts.observe_only => Step::Keep {
                    id: one.id.clone(),
                    adopt: Some(if facts.intent {
                        Adoption::InterruptedCreate
                    } else {
                        Adoption::ObserveOnlyByName
                    }),
                    change: change(facts, &one.drift),
                },
                [_] => Step::Fail(Failure::AlreadyExists(format!(
                    "a {product} object named {name:?} already exists (id {}) and Roleplane did not create it; set spec.externalId to adopt it",
                    ids()
                ))),
                _ if facts.intent => Step::Fail(Failure::Ambiguous(format!(
                    "{} {product} objects are named {name:?} ({}); set spec.externalId to the one this resource manages",
                    named.len(),
                    ids()
                ))),
                _ => Step::Fail(Failure::AlreadyExists(format!(
                    "{} {product} objects named {name:?} already exist ({}); set spec.externalId to adopt one",
                    named.len(),
                    ids()
                ))),
            }
        }
    }
}

/// The Event note of an adoption.
pub fn adoption_note(adoption: Adoption, product: &str, id: &str) -> String {
    match adoption {
        Adoption::ExternalId => {
            format!("adopted the existing {product} object {id} (spec.externalId)")
        }
        Adoption::InterruptedCreate => {
            format!("adopted {product} object {id} (left by an interrupted create)")
        }
        Adoption::ObserveOnlyByName => {
            format!("adopted {product} object {id} (observe-only, matched by name)")
        }
    }
}

#[cfg(test)]
#[path = "decide_tests.rs"]
mod tests;
