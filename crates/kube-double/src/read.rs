//! Reads: GET of one object, and LIST of the latest state with `limit`/`continue` pagination
//! over a snapshot and the two field selectors every kind supports.

use serde_json::{Value, json};

use super::routing::{Query, Route};
use super::select::FieldSelector;
use super::status::ApiError;
use super::status::Reply;
use super::store::{Key, Snapshot, State, render, to_partial};

pub fn get(st: &State, route: &Route) -> Result<Reply, ApiError> {
    let rt = st.rt(route.ty);
    let name = route.name.clone().unwrap_or_default();
    let key = (route.namespace.clone().unwrap_or_default(), name.clone());
    match st.objects[route.ty].get(&key) {
        Some(s) => Ok((200, render(rt, &s.obj, Some(&s.managed)))),
        None => Err(ApiError::not_found(&rt.group, &rt.plural, &name)),
    }
}

/// Keys of the objects a list or watch selects, in storage order.
pub fn select(st: &State, route: &Route, fields: &FieldSelector) -> Vec<Key> {
    st.objects[route.ty]
        .iter()
        .filter(|((ns, _), s)| {
            route.namespace.as_ref().is_none_or(|want| want == ns) && fields.matches(&s.obj)
        })
        .map(|(k, _)| k.clone())
        .collect()
}

/// LIST at the latest revision (no `resourceVersion`: kube-runtime's default watcher lists
/// "most recent"); a page's `continue` token serves the rest of the same snapshot.
pub fn list(st: &mut State, route: &Route, q: &Query, meta_only: bool) -> Result<Reply, ApiError> {
    let rt = st.rt(route.ty).clone();
    let limit: usize = match q.get("limit") {
        Some(l) => l
            .parse::<i64>()
            .map_err(|_| ApiError::bad_request(format!("invalid limit: {l}")))?
            .max(0) as usize,
        None => 0,
    };
    let (rv, mut items) = match q.get("continue").filter(|c| !c.is_empty()) {
        Some(token) => {
            let snap = st.snapshots.remove(token).ok_or_else(|| {
                ApiError::expired("The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.")
            })?;
            (snap.rv, snap.items)
        }
        None => {
            let fields = FieldSelector::parse(q)?;
            let items = select(st, route, &fields)
                .iter()
                .map(|k| {
                    let s = &st.objects[route.ty][k];
                    let mut v = render(&rt, &s.obj, Some(&s.managed));
                    if rt.builtin.is_some() {
                        // Typed lists of built-ins do not repeat apiVersion/kind per item.
                        let m = v.as_object_mut().expect("object");
                        m.remove("apiVersion");
                        m.remove("kind");
                    }
                    if meta_only { to_partial(&v) } else { v }
                })
                .collect();
            (st.rv, items)
        }
    };
    let mut list_meta = json!({"resourceVersion": rv.to_string()});
    if limit > 0 && items.len() > limit {
        let rest = items.split_off(limit);
        let token = st.new_token();
        list_meta["continue"] = Value::from(token.clone());
        list_meta["remainingItemCount"] = Value::from(rest.len());
        st.snapshots.insert(token, Snapshot { rv, items: rest });
    }
    let (api_version, kind) = if meta_only {
        (
            "meta.k8s.io/v1".to_string(),
            "PartialObjectMetadataList".to_string(),
        )
    } else {
        (rt.api_version(), rt.list_kind.clone())
    };
    let list =
        json!({"apiVersion": api_version, "kind": kind, "metadata": list_meta, "items": items});
    Ok((200, list))
}
