//! The fuzz property every product shares, over its real client: each operation of the contract
//! runs against the scripted server answering with valid recorded answers, one route's answer
//! mutated (body, status, a header, or the connection cut mid-body). Whatever comes back, the
//! call must return (no panic, no hang) and:
//!
//! - an error's text stays short (it ends up in a status condition);
//! - an object it returns has an id its own `check_external_id` accepts (the controller stores
//!   it as `externalId`), the id asked for when one was asked for, and reads as drift unless it
//!   really is in line with the manifest (`in_sync`, stated per product);
//! - a listing entry carrying its object agrees with it on id and name, and `find_named` only
//!   returns entries of that name.

use std::time::Duration;

use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::TestCaseError;
use serde_json::Value;

use super::mutate::{self, Mutation};
use super::server::{Answer, Req};
use super::{Harness, runner};
use crate::providers::{Account, Desired, Listed, Provider};

/// A route of a product's API with its valid recorded answer.
pub struct Route {
    pub name: &'static str,
    pub matches: fn(&Req) -> bool,
    pub answer: Answer,
}

/// Everything the shared property needs to know about one product.
pub struct Product<P: Provider> {
    /// An account of the product at `base`, with credential key `key`.
    pub account: fn(base: &str, key: &str) -> Account,
    pub name: &'static str,
    pub spec: P::Spec,
    /// The external id of the recorded object, and that object as read (for `update`).
    pub id: &'static str,
    pub current: P::Object,
    /// Routes in matching order; an unmatched request is answered 404.
    pub routes: Vec<Route>,
    /// The product's recorded error body.
    pub error_body: Value,
    /// Whether an object is in line with `spec`, stated plainly (the oracle for drift).
    pub in_sync: fn(&P::Object) -> bool,
}

/// The contract's operations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    CheckAccess,
    List,
    FindNamed,
    Observe,
    Create,
    Update,
    Delete,
}

pub const OPS: [Op; 7] = [
    Op::CheckAccess,
    Op::List,
    Op::FindNamed,
    Op::Observe,
    Op::Create,
    Op::Update,
    Op::Delete,
];

/// How the targeted route's answer is changed.
#[derive(Clone, Debug)]
pub enum Change {
    Body(Mutation),
    /// Another status, with the product's error body (mutated when given) or the valid body.
    Status(u16, Option<Mutation>, bool),
    Header(&'static str, Vec<u8>),
    /// The connection closes after this part of the body.
    Cut(Index),
}

fn change() -> BoxedStrategy<Change> {
    let statuses = prop_oneof![
        prop::sample::select(vec![
            200, 201, 204, 400, 401, 403, 404, 405, 408, 409, 412, 422, 429, 500, 502, 503,
        ]),
        200u16..600,
    ];
    // Rate-limit headers pause the credential's budget (minutes): they are fuzzed in the HTTP
    // stack's own tests, where one request is made.
    let headers = prop::sample::select(vec!["etag", "retry-after", "content-type", "x-unknown"]);
    prop_oneof![
        6 => mutate::mutation().prop_map(Change::Body),
        3 => (statuses, prop::option::of(mutate::mutation()), any::<bool>())
            .prop_map(|(s, m, error_body)| Change::Status(s, m, error_body)),
        1 => (headers, mutate::header_value()).prop_map(|(h, v)| Change::Header(h, v)),
        1 => any::<Index>().prop_map(Change::Cut),
    ]
    .boxed()
}

fn mutated(valid: &Answer, error_body: &Value, change: &Change) -> Answer {
    let body = || serde_json::from_slice(&valid.body).unwrap_or(Value::Null);
    let mut answer = valid.clone();
    match change {
        Change::Body(m) => answer.body = mutate::apply(&body(), m),
        Change::Status(status, m, error) => {
            answer.status = *status;
            let base = if *error { error_body.clone() } else { body() };
            answer.body = match m {
                Some(m) => mutate::apply(&base, m),
                None => serde_json::to_vec(&base).expect("JSON serialises"),
            };
        }
        Change::Header(name, value) => answer = answer.with_header(name, value),
        Change::Cut(at) => answer.cut = Some(at.index(valid.body.len().max(1))),
    }
    answer
}

/// What one operation gave.
#[derive(Debug)]
pub enum Outcome<O> {
    Done,
    Object(Option<O>),
    Listing(Vec<Listed<O>>),
}

impl<P: Provider> Product<P> {
    fn answer(&self, req: &Req, target: Option<(usize, &Answer)>) -> Answer {
        match self.routes.iter().position(|r| (r.matches)(req)) {
            Some(i) => match target {
                Some((t, answer)) if t == i => answer.clone(),
                _ => self.routes[i].answer.clone(),
            },
            None => Answer::json(404, serde_json::json!({"message": "unscripted"})),
        }
    }

    /// Runs `op` with route `target` answering `answer` (all routes valid when None).
    fn run(
        &'static self,
        h: &Harness,
        provider: &P,
        op: Op,
        target: Option<(usize, Answer)>,
    ) -> crate::providers::Result<Outcome<P::Object>> {
        h.server.script(move |req| {
            let target = target.as_ref().map(|(i, a)| (*i, a));
            self.answer(req, target)
        });
        let account = (self.account)(&h.server.base, &h.key());
        let desired = Desired {
            name: self.name,
            spec: &self.spec,
        };
        let call = async {
            Ok(match op {
                Op::CheckAccess => provider
                    .check_access(&account)
                    .await
                    .map(|_| Outcome::Done)?,
                Op::List => {
                    let scope = provider.scope(desired.spec);
                    Outcome::Listing(provider.list(&account, &scope).await?)
                }
                Op::FindNamed => Outcome::Listing(provider.find_named(&account, desired).await?),
                Op::Observe => Outcome::Object(provider.observe(&account, desired, self.id).await?),
                Op::Create => Outcome::Object(Some(provider.create(&account, desired).await?)),
                Op::Update => Outcome::Object(Some(
                    provider.update(&account, desired, &self.current).await?,
                )),
                Op::Delete => provider
                    .delete(&account, desired, self.id)
                    .await
                    .map(|_| Outcome::Done)?,
            })
        };
        h.rt.block_on(async { tokio::time::timeout(Duration::from_secs(20), call).await })
            .unwrap_or_else(|_| panic!("{op:?} hung"))
    }

    /// The property's checks on what `op` gave.
    fn check(
        &self,
        h: &Harness,
        provider: &P,
        op: Op,
        outcome: &crate::providers::Result<Outcome<P::Object>>,
    ) -> Result<(), TestCaseError> {
        let account = (self.account)(&h.server.base, "check");
        let desired = Desired {
            name: self.name,
            spec: &self.spec,
        };
        let object = |o: &P::Object, want_id: Option<String>| -> Result<(), TestCaseError> {
            let id = provider.id_of(o);
            prop_assert!(
                provider.check_external_id(&account, desired, &id).is_ok(),
                "{op:?} gave an object whose id {id:?} its own check refuses: {o:?}"
            );
            if let Some(want) = want_id {
                prop_assert_eq!(&id, &want, "{:?} gave another object: {:?}", op, o);
            }
            let drift = provider.drift(desired, o);
            let _ = provider.summary(desired, o);
            prop_assert!(
                !drift.is_empty() || (self.in_sync)(o),
                "{op:?} gave an object that is not in line but shows no drift: {o:?}"
            );
            Ok(())
        };
        match outcome {
            Err(e) => {
                let text = e.to_string();
                prop_assert!(
                    text.len() < 4096,
                    "{op:?}: error text of {} bytes",
                    text.len()
                );
                let _ = e.class();
            }
            Ok(Outcome::Done) | Ok(Outcome::Object(None)) => {}
            Ok(Outcome::Object(Some(o))) => {
                let want = match op {
                    Op::Observe => Some(provider.name_key(&account, self.id)),
                    Op::Update => Some(provider.id_of(&self.current)),
                    _ => None,
                };
                object(o, want)?;
            }
            Ok(Outcome::Listing(entries)) => {
                for entry in entries {
                    if let Some(o) = &entry.object {
                        prop_assert_eq!(&provider.id_of(o), &entry.id);
                        prop_assert_eq!(&provider.name_of(o), &entry.name);
                    }
                    if op == Op::FindNamed {
                        prop_assert_eq!(entry.name.as_str(), self.name);
                    }
                    if entry.name == self.name {
                        prop_assert!(
                            provider
                                .check_external_id(&account, desired, &entry.id)
                                .is_ok(),
                            "{op:?} listed {:?} under an id its own check refuses",
                            entry
                        );
                        if let Some(o) = &entry.object {
                            object(o, None)?;
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// What `op` gives when the route named `route` answers `answer` (the others as recorded).
    pub fn outcome(
        &'static self,
        op: Op,
        route: &str,
        answer: Answer,
    ) -> crate::providers::Result<Outcome<P::Object>> {
        let h = Harness::new();
        let provider = P::new(h.http.clone());
        let i = self.routes.iter().position(|r| r.name == route);
        let i = i.unwrap_or_else(|| panic!("no route {route}"));
        self.run(&h, &provider, op, Some((i, answer)))
    }

    /// The recorded answers are right: every operation succeeds and reads as in sync.
    pub fn assert_recorded_answers_work(&'static self) {
        let h = Harness::new();
        let provider = &P::new(h.http.clone());
        for op in OPS {
            let outcome = self.run(&h, provider, op, None);
            let unscripted: Vec<Req> = h
                .server
                .requests()
                .into_iter()
                .filter(|r| !self.routes.iter().any(|route| (route.matches)(r)))
                .collect();
            assert!(
                unscripted.is_empty(),
                "{op:?} made unscripted requests: {unscripted:?}"
            );
            let desired = Desired {
                name: self.name,
                spec: &self.spec,
            };
            match &outcome {
                Ok(Outcome::Object(Some(o))) => {
                    let drift = provider.drift(desired, o);
                    assert!(drift.is_empty(), "{op:?}: {drift:?}");
                    assert!((self.in_sync)(o), "{op:?}: the oracle rejects {o:?}");
                }
                Ok(Outcome::Object(None)) => panic!("{op:?} found nothing"),
                Ok(_) => {}
                Err(e) => panic!("{op:?} failed on recorded answers: {e}"),
            }
            self.check(&h, provider, op, &outcome)
                .unwrap_or_else(|e| panic!("{op:?}: {e}"));
        }
    }

    /// The drift oracle over decoding alone: any mutation of the recorded object `valid` that
    /// still decodes (`decode` gives the objects read from those bytes) shows drift unless it is
    /// really in line with the spec.
    pub fn mutations_drift_unless_in_line(
        &'static self,
        valid: Value,
        decode: fn(&[u8]) -> Vec<P::Object>,
    ) {
        let provider = P::new(crate::providers::Http::new(
            Default::default(),
            Default::default(),
        ));
        let desired = Desired {
            name: self.name,
            spec: &self.spec,
        };
        runner(500)
            .run(&mutate::mutation(), |m| {
                for o in decode(&mutate::apply(&valid, &m)) {
                    let drift = provider.drift(desired, &o);
                    let _ = provider.summary(desired, &o);
                    prop_assert!(!drift.is_empty() || (self.in_sync)(&o), "{:?}", o);
                }
                Ok(())
            })
            .unwrap();
    }

    /// The property: any one answer mutated, every operation.
    pub fn fuzz(&'static self, default_cases: u32) {
        let h = Harness::new();
        let provider = &P::new(h.http.clone());
        // The routes each operation calls when every answer is valid: the ones worth changing.
        let used: Vec<(Op, usize)> = OPS
            .into_iter()
            .flat_map(|op| {
                let _ = self.run(&h, provider, op, None);
                let mut routes: Vec<usize> = h
                    .server
                    .requests()
                    .iter()
                    .filter_map(|r| self.routes.iter().position(|route| (route.matches)(r)))
                    .collect();
                routes.sort();
                routes.dedup();
                routes.into_iter().map(move |route| (op, route))
            })
            .collect();
        let strategy = (prop::sample::select(used), change());
        runner(default_cases)
            .run(&strategy, |((op, route), change)| {
                let answer = mutated(&self.routes[route].answer, &self.error_body, &change);
                let name = self.routes[route].name;
                let outcome = self.run(&h, provider, op, Some((route, answer.clone())));
                self.check(&h, provider, op, &outcome).map_err(|e| {
                    let body = String::from_utf8_lossy(&answer.body);
                    let body: String = body.chars().take(600).collect();
                    TestCaseError::fail(format!(
                        "{e}\n  {name} answered {} {:?} {body}",
                        answer.status, answer.headers
                    ))
                })
            })
            .unwrap_or_else(|e| panic!("{}: {e}", std::any::type_name::<P>()));
    }
}

/// The three contract properties of one product, as tests: recorded answers read as in sync,
/// any mutated answer gives an error or a faithful object, and any decodable mutation of the
/// recorded object drifts unless in line (`$valid` and `$decode` as in
/// `Product::mutations_drift_unless_in_line`).
macro_rules! contract_tests {
    ($product:expr, $valid:expr, $decode:expr) => {
        #[test]
        fn recorded_answers_are_read_as_in_sync() {
            $product.assert_recorded_answers_work();
        }

        #[test]
        fn any_answer_gives_an_error_or_a_faithful_object() {
            $product.fuzz(200);
        }

        #[test]
        fn a_decodable_mutation_drifts_unless_in_line() {
            $product.mutations_drift_unless_in_line($valid, $decode);
        }
    };
}
pub(crate) use contract_tests;
