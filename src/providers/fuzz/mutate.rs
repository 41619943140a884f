//! Inputs for the fuzz tests: mutations of a valid recorded JSON answer (a node replaced by a
//! value of the wrong type, an odd string or number, raw text serde cannot take, removed or
//! repeated many times; the document truncated or a byte flipped) and plain garbage.

use proptest::prelude::*;
use proptest::sample::Index;
use serde_json::{Value, json};

/// A step into a JSON document.
#[derive(Clone, Debug)]
enum Step {
    Key(String),
    At(usize),
}

/// What replaces one node of the document.
#[derive(Clone, Debug)]
pub enum Change {
    /// A well-formed value of another type or content.
    Value(Value),
    /// Raw text in place of the node: numbers out of range, lone surrogates, deep nesting,
    /// invalid UTF-8.
    Raw(Vec<u8>),
    /// The node left out (the member of an object, the element of an array).
    Remove,
    /// An array of this many copies of the node.
    Repeat(usize),
}

/// One mutation of a valid document.
#[derive(Clone, Debug)]
pub enum Mutation {
    At(Index, Change),
    Truncate(Index),
    Flip(Index, u8),
    Garbage(Vec<u8>),
}

fn paths(v: &Value, prefix: &mut Vec<Step>, out: &mut Vec<Vec<Step>>) {
    out.push(prefix.clone());
    match v {
        Value::Object(map) => {
            for (k, child) in map {
                prefix.push(Step::Key(k.clone()));
                paths(child, prefix, out);
                prefix.pop();
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                prefix.push(Step::At(i));
                paths(child, prefix, out);
                prefix.pop();
            }
        }
        _ => {}
    }
}

fn node<'a>(v: &'a mut Value, path: &[Step]) -> &'a mut Value {
    path.iter().fold(v, |v, step| match step {
        Step::Key(k) => &mut v[k.as_str()],
        Step::At(i) => &mut v[*i],
    })
}

/// Marks the node replaced by raw text; swapped for it after serialisation.
const HOLE: &str = "\u{1}roleplane-fuzz-hole\u{1}";

/// The bytes of `valid` after `mutation`.
pub fn apply(valid: &Value, mutation: &Mutation) -> Vec<u8> {
    let text = || serde_json::to_vec(valid).expect("JSON serialises");
    match mutation {
        Mutation::Garbage(bytes) => bytes.clone(),
        Mutation::Truncate(at) => {
            let mut t = text();
            t.truncate(at.index(t.len().max(1)));
            t
        }
        Mutation::Flip(at, byte) => {
            let mut t = text();
            let i = at.index(t.len().max(1));
            if let Some(b) = t.get_mut(i) {
                *b = *byte;
            }
            t
        }
        Mutation::At(at, change) => {
            let mut all = Vec::new();
            paths(valid, &mut Vec::new(), &mut all);
            let path = &all[at.index(all.len())];
            let mut doc = valid.clone();
            let mut raw = None;
            match change {
                Change::Value(v) => *node(&mut doc, path) = v.clone(),
                Change::Repeat(n) => {
                    let n = *n;
                    let target = node(&mut doc, path);
                    *target = Value::Array(vec![target.clone(); n]);
                }
                Change::Raw(bytes) => {
                    *node(&mut doc, path) = Value::from(HOLE);
                    raw = Some(bytes);
                }
                Change::Remove => match path.split_last() {
                    None => doc = Value::Null,
                    Some((last, parent)) => match (node(&mut doc, parent), last) {
                        (Value::Object(map), Step::Key(k)) => drop(map.remove(k)),
                        (Value::Array(items), Step::At(i)) => drop(items.remove(*i)),
                        _ => {}
                    },
                },
            }
            let mut t = serde_json::to_vec(&doc).expect("JSON serialises");
            if let Some(raw) = raw {
                let hole = serde_json::to_vec(HOLE).expect("JSON serialises");
                if let Some(i) = t.windows(hole.len()).position(|w| w == hole) {
                    t.splice(i..i + hole.len(), raw.iter().copied());
                }
            }
            t
        }
    }
}

/// Scalars, including the edges of each type.
pub fn scalar() -> BoxedStrategy<Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_filter_map("finite", |f| serde_json::Number::from_f64(f)
            .map(Value::Number)),
        odd_string().prop_map(Value::from),
    ]
    .boxed()
}

/// Strings a product should never send where a name or a flag goes: empty, look-alikes of other
/// types, any Unicode, control characters, and long ones (up to a MiB).
pub fn odd_string() -> BoxedStrategy<String> {
    prop_oneof![
        3 => prop::sample::select(vec!["", " ", "true", "false", "0", "1", "null", "[]", "{}",
            "read,full_access", " , ", "%", "..", "a/b", "roleplane:", "\u{feff}", "é"])
            .prop_map(str::to_string),
        3 => "\\PC{0,24}",
        3 => prop::collection::vec(any::<char>(), 0..24).prop_map(String::from_iter),
        1 => "[\\x00-\\x1f\\x7f]{1,8}",
        1 => (8u32..=20).prop_map(|k| "ü".repeat(1 << (k - 1))),
    ]
    .boxed()
}

/// A well-formed JSON value of any shape, a few levels deep.
pub fn any_json() -> BoxedStrategy<Value> {
    scalar()
        .prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
                prop::collection::btree_map("[a-zA-Z_]{0,12}", inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
        .boxed()
}

/// Raw JSON text serde must refuse or read with care.
fn raw() -> BoxedStrategy<Vec<u8>> {
    prop_oneof![
        prop::sample::select(vec![
            "1e400",
            "-1e400",
            "18446744073709551616",
            "-9223372036854775809",
            "1.5",
            "-0",
            "1e-400",
            "NaN",
            "Infinity",
            "\"\\ud800\"",
            "\"\\udc00x\"",
            "\"\\u0000\"",
            "\"\\\"",
            "tru",
            "",
        ])
        .prop_map(|s| s.as_bytes().to_vec()),
        (1usize..3000).prop_map(|d| format!("{}{}", "[".repeat(d), "]".repeat(d)).into_bytes()),
        (1usize..3000)
            .prop_map(|d| format!("{}1{}", "{\"a\":".repeat(d), "}".repeat(d)).into_bytes()),
        Just(b"\"\xff\xfe invalid utf-8\"".to_vec()),
        Just(json!({"name": "dup", "name": 1}).to_string().into_bytes()),
        Just(b"{\"id\":\"1\",\"id\":\"2\"}".to_vec()),
    ]
    .boxed()
}

fn change() -> BoxedStrategy<Change> {
    prop_oneof![
        6 => scalar().prop_map(Change::Value),
        2 => any_json().prop_map(Change::Value),
        2 => Just(Change::Value(json!([]))),
        2 => Just(Change::Value(json!({}))),
        3 => raw().prop_map(Change::Raw),
        3 => Just(Change::Remove),
        2 => (0usize..4).prop_map(Change::Repeat),
        1 => (100usize..20_000).prop_map(Change::Repeat),
    ]
    .boxed()
}

/// Bytes that are no answer at all.
pub fn garbage() -> BoxedStrategy<Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..256),
        "\\PC{0,64}".prop_map(String::into_bytes),
        any_json().prop_map(|v| serde_json::to_vec(&v).expect("JSON serialises")),
        prop::sample::select(vec![
            "",
            " ",
            "null",
            "<html><body>502 Bad Gateway</body></html>",
            "\u{feff}{}",
        ])
        .prop_map(|s| s.as_bytes().to_vec()),
    ]
    .boxed()
}

/// A mutation of a valid document, or garbage.
pub fn mutation() -> BoxedStrategy<Mutation> {
    prop_oneof![
        8 => (any::<Index>(), change()).prop_map(|(at, c)| Mutation::At(at, c)),
        1 => any::<Index>().prop_map(Mutation::Truncate),
        1 => (any::<Index>(), any::<u8>()).prop_map(|(at, b)| Mutation::Flip(at, b)),
        2 => garbage().prop_map(Mutation::Garbage),
    ]
    .boxed()
}

/// Header values: numbers at every edge, dates far away, any visible bytes.
pub fn header_value() -> BoxedStrategy<Vec<u8>> {
    prop_oneof![
        prop::sample::select(vec![
            "0",
            "-1",
            "1",
            "30",
            "1e300",
            "-1e300",
            "inf",
            "-inf",
            "NaN",
            "18446744073709551615",
            "99999999999999999999999",
            "4102444800",
            "Sun, 06 Nov 1994 08:49:37 GMT",
            "Fri, 31 Dec 9999 23:59:59 GMT",
            "9999-12-31T23:59:59Z",
            "-009999-01-01T00:00:00Z",
            "\"v1\"",
            "W/\"x\"",
            "",
        ])
        .prop_map(|s| s.as_bytes().to_vec()),
        any::<u64>().prop_map(|n| n.to_string().into_bytes()),
        any::<f64>().prop_map(|n| n.to_string().into_bytes()),
        prop::collection::vec(0x20u8..0x7f, 0..40),
        prop::collection::vec(0x80u8..=0xff, 1..8),
    ]
    .boxed()
}
