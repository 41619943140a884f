//! Field ownership (`metadata.managedFields`) and server-side apply.
//!
//! Ownership is tracked per leaf field path (objects are walked, lists are atomic). Apply
//! conflicts when another manager owns a field the applied configuration sets to a different
//! value (409 unless `force=true`, which takes ownership); fields a manager applied before and
//! now omits are removed unless someone else owns them. Updates (PUT/PATCH/POST) give the
//! writer ownership of the fields they changed.

use std::collections::BTreeSet;

use serde_json::{Map, Value, json};

use super::status::ApiError;

pub type Path = Vec<String>;

#[derive(Debug, Clone)]
pub struct Entry {
    pub manager: String,
    pub apply: bool,
    pub status: bool,
    pub api_version: String,
    pub time: String,
    pub fields: BTreeSet<Path>,
}

/// Who writes, when and where: what every ownership change records.
pub struct Actor {
    pub manager: String,
    pub api_version: String,
    pub time: String,
    /// `true` for a write through `/status`.
    pub status: bool,
    /// `true` when the kind has a status subresource (main-resource writes never own status).
    pub split_status: bool,
}

/// Metadata fields nobody owns.
const SYSTEM_META: &[&str] = &[
    "name",
    "namespace",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "managedFields",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "selfLink",
];

fn leaves(v: &Value, prefix: &mut Path, out: &mut BTreeSet<Path>) {
    match v {
        Value::Object(m) if !m.is_empty() => {
            for (k, c) in m {
                if c.is_null() {
                    continue;
                }
                prefix.push(k.clone());
                leaves(c, prefix, out);
                prefix.pop();
            }
        }
        _ if !prefix.is_empty() => {
            out.insert(prefix.clone());
        }
        _ => {}
    }
}

/// Owned-field set of an object for a writer on the main resource or `/status`.
fn field_set(obj: &Value, w: &Actor) -> BTreeSet<Path> {
    let mut all = BTreeSet::new();
    leaves(obj, &mut vec![], &mut all);
    all.retain(|p| {
        let top = p[0].as_str();
        if top == "apiVersion" || top == "kind" {
            return false;
        }
        if top == "metadata" && p.get(1).is_some_and(|k| SYSTEM_META.contains(&k.as_str())) {
            return false;
        }
        if w.status {
            top == "status"
        } else {
            !(w.split_status && top == "status")
        }
    });
    all
}

fn get<'a>(v: &'a Value, p: &[String]) -> Option<&'a Value> {
    p.iter().try_fold(v, |cur, k| cur.get(k))
}

fn overlap(a: &[String], b: &[String]) -> bool {
    a.starts_with(b) || b.starts_with(a)
}

/// Records an update (POST, PUT, non-apply PATCH): the writer owns what changed, others lose it.
pub fn record_update(entries: &mut Vec<Entry>, w: &Actor, old: Option<&Value>, new: &Value) {
    let (manager, status) = (w.manager.as_str(), w.status);
    let new_fields = field_set(new, w);
    let old_fields = old.map(|o| field_set(o, w)).unwrap_or_default();
    let changed: Vec<Path> = new_fields
        .iter()
        .filter(|p| old.is_none_or(|o| get(o, p) != get(new, p)))
        .cloned()
        .collect();
    let removed: Vec<&Path> = old_fields.difference(&new_fields).collect();
    for e in entries.iter_mut() {
        let other = e.manager != manager;
        e.fields.retain(|f| {
            let gone = removed.iter().any(|r| overlap(f, r));
            let taken = other && changed.iter().any(|c| overlap(f, c));
            !gone && !taken
        });
    }
    if !changed.is_empty() {
        let idx = entries
            .iter()
            .position(|e| e.manager == manager && !e.apply && e.status == status);
        let e = match idx {
            Some(i) => &mut entries[i],
            None => {
                entries.push(Entry {
                    manager: manager.to_string(),
                    apply: false,
                    status,
                    api_version: w.api_version.clone(),
                    time: w.time.clone(),
                    fields: BTreeSet::new(),
                });
                entries.last_mut().expect("just pushed")
            }
        };
        e.fields.extend(changed);
        e.time = w.time.clone();
        e.api_version = w.api_version.clone();
    }
    entries.retain(|e| !e.fields.is_empty());
}

fn merge_applied(target: &mut Value, cfg: &Value) {
    match (target, cfg) {
        (Value::Object(t), Value::Object(c)) => {
            for (k, v) in c {
                if v.is_null() {
                    continue;
                }
                match t.get_mut(k) {
                    Some(cur) if cur.is_object() && v.is_object() => merge_applied(cur, v),
                    _ => {
                        t.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (t, c) => *t = c.clone(),
    }
}

fn remove_path(v: &mut Value, p: &[String]) {
    let Some((last, parents)) = p.split_last() else {
        return;
    };
    let mut cur = &mut *v;
    for k in parents {
        match cur.get_mut(k) {
            Some(next) => cur = next,
            None => return,
        }
    }
    if let Some(m) = cur.as_object_mut() {
        m.remove(last);
    }
    // Drop parents left empty (below the top-level field).
    for depth in (2..p.len()).rev() {
        if get(v, &p[..depth]).is_some_and(|x| x.as_object().is_some_and(Map::is_empty)) {
            remove_path(v, &p[..depth]);
        }
    }
}

pub struct ApplyOutcome {
    pub object: Value,
    pub entries: Vec<Entry>,
}

/// Server-side apply of `config` onto `live` (an empty shell when creating).
pub fn apply(
    live: &Value,
    entries: &[Entry],
    config: &Value,
    w: &Actor,
    force: bool,
) -> Result<ApplyOutcome, ApiError> {
    let (manager, status) = (w.manager.as_str(), w.status);
    let cfg_fields = field_set(config, w);
    let mut entries = entries.to_vec();
    let mut conflicts: Vec<(String, String, Path)> = vec![];
    for e in entries.iter().filter(|e| e.manager != manager) {
        for p in &cfg_fields {
            let clash = e.fields.iter().any(|q| {
                if q.starts_with(p) {
                    get(live, p) != get(config, p)
                } else if p.starts_with(q) {
                    !get(live, q).is_some_and(Value::is_object)
                } else {
                    false
                }
            });
            if clash {
                conflicts.push((e.manager.clone(), e.api_version.clone(), p.clone()));
            }
        }
    }
    if !conflicts.is_empty() && !force {
        return Err(conflict_error(&conflicts));
    }
    for e in entries.iter_mut().filter(|e| e.manager != manager) {
        e.fields
            .retain(|q| !conflicts.iter().any(|(_, _, p)| overlap(p, q)));
    }
    let mut object = live.clone();
    let previous: BTreeSet<Path> = entries
        .iter()
        .filter(|e| e.manager == manager && e.apply && e.status == status)
        .flat_map(|e| e.fields.iter().cloned())
        .collect();
    for p in previous.difference(&cfg_fields) {
        let owned_elsewhere = entries
            .iter()
            .filter(|e| !(e.manager == manager && e.apply && e.status == status))
            .any(|e| e.fields.iter().any(|q| overlap(p, q)));
        if !owned_elsewhere && !cfg_fields.iter().any(|c| overlap(c, p)) {
            remove_path(&mut object, p);
        }
    }
    let mut cfg = config.clone();
    if let Value::Object(m) = &mut cfg {
        m.remove("apiVersion");
        m.remove("kind");
        if let Some(Value::Object(meta)) = m.get_mut("metadata") {
            meta.retain(|k, _| !SYSTEM_META.contains(&k.as_str()));
        }
        if status {
            m.retain(|k, _| k == "status");
        } else if w.split_status {
            m.remove("status");
        }
    }
    merge_applied(&mut object, &cfg);
    entries.retain(|e| !(e.manager == manager && e.apply && e.status == status));
    entries.push(Entry {
        manager: manager.to_string(),
        apply: true,
        status,
        api_version: w.api_version.clone(),
        time: w.time.clone(),
        fields: cfg_fields,
    });
    entries.retain(|e| !e.fields.is_empty());
    Ok(ApplyOutcome { object, entries })
}

fn dotted(p: &Path) -> String {
    p.iter().map(|k| format!(".{k}")).collect()
}

fn conflict_error(conflicts: &[(String, String, Path)]) -> ApiError {
    let n = conflicts.len();
    let msg = if n == 1 {
        let (m, v, p) = &conflicts[0];
        format!(
            "Apply failed with 1 conflict: conflict with \"{m}\" using {v}: {}",
            dotted(p)
        )
    } else {
        let mut groups: Vec<(String, String, Vec<String>)> = vec![];
        for (m, v, p) in conflicts {
            match groups.iter_mut().find(|g| &g.0 == m) {
                Some(g) => g.2.push(dotted(p)),
                None => groups.push((m.clone(), v.clone(), vec![dotted(p)])),
            }
        }
        let parts: Vec<String> = groups
            .iter()
            .map(|(m, v, ps)| {
                let word = if ps.len() == 1 {
                    "conflict"
                } else {
                    "conflicts"
                };
                format!("{word} with \"{m}\" using {v}:\n- {}", ps.join("\n- "))
            })
            .collect();
        format!("Apply failed with {n} conflicts: {}", parts.join("\n"))
    };
    let causes: Vec<Value> = conflicts
        .iter()
        .map(|(m, v, p)| {
            json!({"reason": "FieldManagerConflict",
                   "message": format!("conflict with \"{m}\" using {v}"), "field": dotted(p)})
        })
        .collect();
    ApiError::new(409, "Conflict", msg).with_causes(Value::Array(causes))
}

/// `metadata.managedFields` as the API shows it (FieldsV1 trie).
pub fn render(entries: &[Entry]) -> Value {
    let list: Vec<Value> = entries
        .iter()
        .map(|e| {
            let mut trie = json!({});
            for p in &e.fields {
                let mut cur = &mut trie;
                for k in p {
                    cur = cur
                        .as_object_mut()
                        .expect("trie node")
                        .entry(format!("f:{k}"))
                        .or_insert_with(|| json!({}));
                }
            }
            let mut v = json!({
                "manager": e.manager,
                "operation": if e.apply { "Apply" } else { "Update" },
                "apiVersion": e.api_version,
                "time": e.time,
                "fieldsType": "FieldsV1",
                "fieldsV1": trie,
            });
            if e.status {
                v["subresource"] = Value::from("status");
            }
            v
        })
        .collect();
    Value::Array(list)
}
