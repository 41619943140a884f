//! The decision as a table: each row is a situation a resource can be in and the step it must
//! lead to.

use super::*;

fn seen(id: &str, drift: &[&str]) -> Seen {
    Seen {
        id: id.into(),
        drift: drift.iter().map(|d| d.to_string()).collect(),
    }
}

fn facts() -> Facts {
    Facts::default()
}

fn known(id: &str) -> Facts {
    Facts {
        known: Some(id.into()),
        ..facts()
    }
}

fn wanted(id: &str) -> Facts {
    Facts {
        wanted: Some(id.into()),
        ..facts()
    }
}

fn intent() -> Facts {
    Facts {
        intent: true,
        ..facts()
    }
}

fn observe_only() -> Facts {
    Facts {
        observe_only: true,
        ..facts()
    }
}

fn keep(id: &str, adopt: Option<Adoption>, change: Change) -> Step {
    Step::Keep {
        id: id.into(),
        adopt,
        change,
    }
}

fn update(fields: &[&str], out_of_band: bool) -> Change {
    Change::Update {
        fields: fields.iter().map(|f| f.to_string()).collect(),
        out_of_band,
    }
}

fn fails_with(step: &Step, part: &str) -> bool {
    match step {
        Step::Fail(Failure::Missing(m) | Failure::AlreadyExists(m) | Failure::Ambiguous(m)) => {
            m.contains(part)
        }
        _ => false,
    }
}

#[test]
fn lookup_prefers_the_spec_id_then_the_status_id_then_the_name() {
    let both = Facts {
        wanted: Some("w".into()),
        known: Some("k".into()),
        ..facts()
    };
    let key = || "org/R".to_string();
    assert_eq!(lookup(&both, Identity::Id, key), Lookup::Id("w".into()));
    assert_eq!(
        lookup(&known("k"), Identity::Name, key),
        Lookup::Id("k".into())
    );
    assert_eq!(
        lookup(&facts(), Identity::Name, key),
        Lookup::Key("org/R".into())
    );
    assert_eq!(lookup(&facts(), Identity::Id, key), Lookup::Name);
    assert_eq!(lookup(&intent(), Identity::Id, key), Lookup::Name);
}

#[test]
fn the_decision_table() {
    let p = "acme";
    let n = "Editors";
    let cases: Vec<(&str, Facts, Found, Step)> = vec![
        (
            "in sync",
            known("1"),
            Found::Id(Some(seen("1", &[]))),
            keep("1", None, Change::None),
        ),
        (
            "spec change",
            known("1"),
            Found::Id(Some(seen("1", &["a"]))),
            keep("1", None, update(&["a"], false)),
        ),
        (
            "out-of-band edit of a ready object",
            Facts {
                was_ready: true,
                ..known("1")
            },
            Found::Id(Some(seen("1", &["a"]))),
            keep("1", None, update(&["a"], true)),
        ),
        (
            "deleted outside Roleplane",
            known("1"),
            Found::Id(None),
            Step::Create {
                recreating: Some("1".into()),
            },
        ),
        (
            "adopt by externalId",
            wanted("7"),
            Found::Id(Some(seen("7", &["a"]))),
            keep("7", Some(Adoption::ExternalId), update(&["a"], false)),
        ),
        (
            "adopted before",
            Facts {
                known: Some("7".into()),
                ..wanted("7")
            },
            Found::Id(Some(seen("7", &[]))),
            keep("7", None, Change::None),
        ),
        (
            "adopted before under another spelling of its id",
            Facts {
                known: Some("org/7".into()),
                ..wanted("7")
            },
            Found::Id(Some(seen("org/7", &[]))),
            keep("org/7", None, Change::None),
        ),
        (
            "observe-only drift is reported",
            Facts {
                observe_only: true,
                ..known("1")
            },
            Found::Id(Some(seen("1", &["a"]))),
            keep(
                "1",
                None,
                Change::Report {
                    fields: vec!["a".into()],
                },
            ),
        ),
        (
            "nothing named: create",
            facts(),
            Found::Named(vec![]),
            Step::Create { recreating: None },
        ),
        (
            "interrupted create is adopted",
            intent(),
            Found::Named(vec![seen("9", &[])]),
            keep("9", Some(Adoption::InterruptedCreate), Change::None),
        ),
        (
            "observe-only matches by name",
            observe_only(),
            Found::Named(vec![seen("9", &["a"])]),
            keep(
                "9",
                Some(Adoption::ObserveOnlyByName),
                Change::Report {
                    fields: vec!["a".into()],
                },
            ),
        ),
    ];
    for (what, facts, found, expected) in cases {
        assert_eq!(step(&facts, p, n, &found), expected, "{what}");
    }
}

#[test]
fn failures_name_the_product_the_ids_and_the_way_out() {
    let p = "acme";
    let n = "Ops";
    let two = Found::Named(vec![seen("a1", &[]), seen("b2", &[])]);
    let one = Found::Named(vec![seen("a1", &[])]);
    let s = step(&facts(), p, n, &one);
    assert!(fails_with(&s, "already exists (id a1)"), "{s:?}");
    assert!(fails_with(&s, "set spec.externalId to adopt it"), "{s:?}");
    assert!(matches!(s, Step::Fail(Failure::AlreadyExists(_))));
    let s = step(&intent(), p, n, &two);
    assert!(matches!(s, Step::Fail(Failure::Ambiguous(_))), "{s:?}");
    assert!(
        fails_with(&s, "2 acme objects are named \"Ops\" (a1, b2)"),
        "{s:?}"
    );
    let s = step(&facts(), p, n, &two);
    assert!(matches!(s, Step::Fail(Failure::AlreadyExists(_))), "{s:?}");
    let s = step(&wanted("7"), p, n, &Found::Id(None));
    assert!(
        fails_with(&s, "no object with externalId 7 to adopt"),
        "{s:?}"
    );
    let s = step(
        &Facts {
            observe_only: true,
            ..known("1")
        },
        p,
        n,
        &Found::Id(None),
    );
    assert!(
        fails_with(&s, "observe-only: the acme object 1 no longer exists"),
        "{s:?}"
    );
    let s = step(&observe_only(), p, n, &Found::Named(vec![]));
    assert!(
        fails_with(&s, "observe-only: no acme object named \"Ops\""),
        "{s:?}"
    );
}

#[test]
fn adoption_notes_say_why() {
    assert_eq!(
        adoption_note(Adoption::ExternalId, "acme", "5"),
        "adopted the existing acme object 5 (spec.externalId)"
    );
    assert!(adoption_note(Adoption::InterruptedCreate, "acme", "5").contains("interrupted"));
}

#[test]
fn only_a_poll_of_a_settled_unchanged_resource_is_background() {
    use crate::providers::http::Priority::{Background, Foreground};
    let settled = Facts {
        was_ready: true,
        ..known("7")
    };
    assert_eq!(settled.priority(false), Background);
    // Whoever changed the resource expects a look now.
    assert_eq!(settled.priority(true), Foreground);
    // Not Ready at this generation, a create pending, no id yet, or another id asked for.
    let rows = [
        known("7"),
        Facts {
            intent: true,
            ..settled.clone()
        },
        Facts {
            known: None,
            ..settled.clone()
        },
        Facts {
            wanted: Some("8".into()),
            ..settled.clone()
        },
    ];
    for facts in rows {
        assert_eq!(facts.priority(false), Foreground, "{facts:?}");
    }
    let adopted = Facts {
        wanted: Some("7".into()),
        ..settled
    };
    assert_eq!(adopted.priority(false), Background);
}
