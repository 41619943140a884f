//! The bad-input corpus (`tests/hermetic/bad_input/*.yaml`): every manifest is applied through the
//! API server double, which validates it against the generated CRD schema and runs its CEL rules
//! as kube-apiserver does. Each file says what is wrong (`# why:`) and what must happen
//! (`# expect:`): `refused` at admission, or a Synced=False reason with a Warning Event of that
//! reason. Whatever the outcome, no product sees a write and nothing in the operator panics.
//!
//! Files are multi-document: the documents before the last one set the case up (a Secret, a
//! config) and must be accepted; the last one is the case. `${ID}` is the file's stem (the case's
//! object names), `${NS}` and `${OTHER_NS}` the namespaces, `${SIM}` the simulators' base URL.
//! Five valid accounts (Secret + ProviderConfig named after the product) exist in `${NS}`, and a
//! ProviderConfig and a Secret exist only in `${OTHER_NS}`.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use kube::api::{Api, DynamicObject, PostParams};
use kube::core::{ApiResource, GroupVersionKind};
use roleplane::crd::ProviderKind;
use serde_json::{Value, json};

use crate::conformance::Fixture;
use crate::conformance::fixtures::{bigpanda, configcat, looker, slashid, statsig};
use crate::harness::*;

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/hermetic/bad_input");
const NS: &str = "bad-input";
const OTHER_NS: &str = "bad-input-other";

/// What a case must lead to.
#[derive(Debug, PartialEq)]
enum Expect {
    /// The API server refuses the last document.
    Refused,
    /// Synced=False with this reason, and a Warning Event with it.
    Condition(String),
}

#[derive(Debug)]
struct Case {
    id: String,
    why: String,
    expect: Expect,
    /// Documents, placeholders filled in.
    docs: Vec<Value>,
}

fn header<'a>(text: &'a str, key: &str, file: &str) -> &'a str {
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("# {key}: ")))
        .unwrap_or_else(|| panic!("{file}: no `# {key}:` line"))
        .trim()
}

/// Every case of the corpus, sorted by file name.
fn corpus(sim: &str) -> Vec<Case> {
    let mut files: Vec<_> = std::fs::read_dir(DIR)
        .expect("the corpus directory")
        .map(|e| e.expect("a directory entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    files.sort();
    files
        .iter()
        .map(|path| {
            let file = path.display().to_string();
            let id = path.file_stem().unwrap().to_string_lossy().to_string();
            let text = std::fs::read_to_string(path).expect("a corpus file");
            let why = header(&text, "why", &file).to_string();
            let expect = match header(&text, "expect", &file) {
                "refused" => Expect::Refused,
                reason => Expect::Condition(reason.to_string()),
            };
            let text = text
                .replace("${ID}", &id)
                .replace("${NS}", NS)
                .replace("${OTHER_NS}", OTHER_NS)
                .replace("${OTHER_NS_CONFIG}", "only-in-other")
                .replace("${OTHER_NS_SECRET}", "only-in-other-creds")
                .replace("${SIM}", sim);
            let docs = serde_yaml_ng::Deserializer::from_str(&text)
                .map(|d| {
                    let v: serde_yaml_ng::Value = serde::Deserialize::deserialize(d)
                        .unwrap_or_else(|e| panic!("{file}: {e}"));
                    serde_json::to_value(v).unwrap_or_else(|e| panic!("{file}: {e}"))
                })
                .collect();
            Case {
                id,
                why,
                expect,
                docs,
            }
        })
        .collect()
}

/// The API for `doc`'s kind, in `NS` unless cluster-scoped.
fn api_for(env: &Env, doc: &Value) -> Api<DynamicObject> {
    let (group, version) = match doc["apiVersion"]
        .as_str()
        .expect("apiVersion")
        .split_once('/')
    {
        Some((g, v)) => (g, v),
        None => ("", doc["apiVersion"].as_str().unwrap()),
    };
    let kind = doc["kind"].as_str().expect("kind");
    let ar = ApiResource::from_gvk(&GroupVersionKind::gvk(group, version, kind));
    match kind {
        "ClusterProviderConfig" | "Namespace" => Api::all_with(env.client.clone(), &ar),
        _ => Api::namespaced_with(env.client.clone(), NS, &ar),
    }
}

/// Creates `doc` as sent (no client-side typing, so wrong types reach the server).
async fn create(env: &Env, doc: &Value) -> Result<DynamicObject, kube::Error> {
    let obj: DynamicObject = serde_json::from_value(doc.clone()).expect("an object");
    api_for(env, doc).create(&PostParams::default(), &obj).await
}

/// Panics raised in the operator's own code (`src/`), counted by a hook installed once.
static OPERATOR_PANICS: AtomicUsize = AtomicUsize::new(0);

fn count_operator_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if info
                .location()
                .is_some_and(|l| l.file().starts_with("src/"))
            {
                OPERATOR_PANICS.fetch_add(1, Ordering::SeqCst);
            }
            previous(info);
        }));
    });
}

/// Synced of the managed object `doc` names: (status, reason, message), once written.
async fn synced(env: &Env, doc: &Value) -> Option<(String, String, String)> {
    let name = doc["metadata"]["name"].as_str().unwrap();
    let obj = api_for(env, doc).get_opt(name).await.expect("get")?;
    let conditions = obj.data["status"]["conditions"].as_array()?.clone();
    let ready = conditions.iter().find(|c| c["type"] == "Ready");
    assert!(
        ready.is_none_or(|c| c["status"] != "True"),
        "{name} is Ready: {conditions:?}"
    );
    conditions.iter().find(|c| c["type"] == "Synced").map(|c| {
        let s = |k: &str| c[k].as_str().unwrap_or_default().to_string();
        (s("status"), s("reason"), s("message"))
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_bad_manifest_is_refused_or_reported_without_a_product_write_or_a_panic() {
    count_operator_panics();
    let env = Env::start().await;
    statsig::Statsig::account(&env, NS, true).await;
    configcat::ConfigCat::account(&env, NS, true).await;
    slashid::SlashId::account(&env, NS, true).await;
    looker::Looker::account(&env, NS, true).await;
    bigpanda::BigPanda::account(&env, NS, true).await;
    env.secret(OTHER_NS, "only-in-other-creds", &[("apiKey", STATSIG_KEY)])
        .await;
    env.provider_config(
        OTHER_NS,
        "only-in-other",
        "statsig",
        "only-in-other-creds",
        json!({}),
    )
    .await;

    let cases = corpus(&env.sim_base);
    assert!(cases.len() >= 100, "only {} cases", cases.len());
    // Every mismatch is collected, so that one run names them all.
    let mut wrong = Vec::new();
    let mut refused = BTreeMap::new();
    let mut reported = Vec::new();
    for case in &cases {
        let (subject, setup) = case.docs.split_last().expect("a document");
        for doc in setup {
            create(&env, doc)
                .await
                .unwrap_or_else(|e| panic!("{}: setup document refused: {e}", case.id));
        }
        let result = create(&env, subject).await;
        match (&case.expect, result) {
            (Expect::Refused, Err(kube::Error::Api(status)))
                if matches!(status.code, 400 | 422) =>
            {
                refused.insert(case.id.clone(), status.message);
            }
            (Expect::Refused, other) => wrong.push(format!(
                "{} ({}): should be refused at admission, got {other:?}",
                case.id, case.why
            )),
            (Expect::Condition(_), Ok(_)) => reported.push((case, subject)),
            (Expect::Condition(reason), Err(e)) => wrong.push(format!(
                "{} ({}): should be accepted and reported as {reason}, was refused: {e}",
                case.id, case.why
            )),
        }
    }

    // Every accepted case reaches its condition and Event.
    let deadline = tokio::time::Instant::now() + WAIT;
    for (case, subject) in &reported {
        let Expect::Condition(reason) = &case.expect else {
            unreachable!()
        };
        loop {
            let now = synced(&env, subject).await;
            let events = env.events(NS, &case.id).await;
            let warned = events
                .iter()
                .any(|(t, r, note)| t == "Warning" && r == reason && !note.is_empty());
            if let Some((status, got, message)) = &now
                && status == "False"
                && got == reason
                && warned
                && !message.is_empty()
            {
                break;
            }
            if tokio::time::Instant::now() > deadline {
                wrong.push(format!(
                    "{} ({}): expected Synced=False {reason} and a Warning Event; \
                     Synced is {now:?}, events {events:?}",
                    case.id, case.why
                ));
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    assert!(
        wrong.is_empty(),
        "{} cases went wrong:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
    // A little longer, for any late write to show.
    tokio::time::sleep(Duration::from_secs(2)).await;
    for product in ProviderKind::ALL {
        // Looker's token request (`POST /login`) changes nothing in the product.
        let writes: Vec<String> = env
            .mutations(*product)
            .into_iter()
            .filter(|w| !w.ends_with("/login"))
            .collect();
        assert_eq!(writes, Vec::<String>::new(), "{product} saw writes");
    }
    assert_eq!(
        OPERATOR_PANICS.load(Ordering::SeqCst),
        0,
        "the operator panicked"
    );
    println!(
        "bad-input corpus: {} cases, {} refused at admission, {} reported by condition + Event",
        cases.len(),
        refused.len(),
        reported.len()
    );
}
