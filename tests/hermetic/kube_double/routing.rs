//! URL parsing: query parameters and the kube-apiserver path shapes
//! (`/api/v1/...`, `/apis/{group}/{version}/...`, namespaced and cluster-wide forms).

use std::collections::HashMap;

use percent_encoding::percent_decode_str;

use super::registry::Registry;
use super::status::ApiError;

pub struct Query(HashMap<String, String>);

impl Query {
    pub fn parse(q: Option<&str>) -> Self {
        let mut m = HashMap::new();
        for pair in q.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let dec = |s: &str| {
                percent_decode_str(&s.replace('+', " "))
                    .decode_utf8_lossy()
                    .into_owned()
            };
            m.insert(dec(k), dec(v));
        }
        Self(m)
    }
    pub fn get(&self, k: &str) -> Option<&str> {
        self.0.get(k).map(String::as_str)
    }
    pub fn flag(&self, k: &str) -> bool {
        matches!(self.get(k), Some("true" | "1"))
    }
}

/// A request aimed at a resource type.
#[derive(Debug, Clone)]
pub struct Route {
    pub ty: usize,
    pub version: String,
    pub namespace: Option<String>,
    pub name: Option<String>,
    /// `true` for the `/status` subresource.
    pub status: bool,
}

pub enum Target {
    Resource(Route),
    Version,
    CoreVersions,
    Groups,
    ResourceList { group: String, version: String },
}

/// Maps a path to what it addresses, or 404 like kube-apiserver.
pub fn route(reg: &Registry, path: &str) -> Result<Target, ApiError> {
    let segs: Vec<String> = path
        .trim_matches('/')
        .split('/')
        .map(|s| percent_decode_str(s).decode_utf8_lossy().into_owned())
        .collect();
    let s: Vec<&str> = segs.iter().map(String::as_str).collect();
    let (group, version, rest): (&str, &str, &[&str]) = match s.as_slice() {
        ["version"] => return Ok(Target::Version),
        ["api"] => return Ok(Target::CoreVersions),
        ["apis"] => return Ok(Target::Groups),
        ["api", v, rest @ ..] => ("", v, rest),
        ["apis", g, v, rest @ ..] => (g, v, rest),
        _ => return Err(ApiError::no_route()),
    };
    if !reg.serves_group_version(group, version) {
        return Err(ApiError::no_route());
    }
    if rest.is_empty() {
        return Ok(Target::ResourceList {
            group: group.into(),
            version: version.into(),
        });
    }
    let namespaced_form = rest[0] == "namespaces"
        && rest.len() >= 3
        && !(group.is_empty() && matches!(rest[2], "status" | "finalize"));
    let (namespace, rest) = if namespaced_form {
        (Some(rest[1].to_string()), &rest[2..])
    } else {
        (None, rest)
    };
    let (plural, name, sub) = match rest {
        [p] => (*p, None, None),
        [p, n] => (*p, Some(*n), None),
        [p, n, sub] => (*p, Some(*n), Some(*sub)),
        _ => return Err(ApiError::no_route()),
    };
    let ty = reg
        .find(group, version, plural)
        .ok_or_else(ApiError::no_route)?;
    let rt = &reg.types[ty];
    let v = rt.version(version).expect("found version");
    // Namespaced objects are addressed inside a namespace; cluster objects never are.
    if namespace.is_some() && !rt.namespaced
        || rt.namespaced && namespace.is_none() && name.is_some()
    {
        return Err(ApiError::no_route());
    }
    let status = match sub {
        None => false,
        Some("status") if v.status_subresource => true,
        Some(_) => return Err(ApiError::no_route()),
    };
    if name.is_some_and(str::is_empty) {
        return Err(ApiError::no_route());
    }
    Ok(Target::Resource(Route {
        ty,
        version: version.to_string(),
        namespace,
        name: name.map(String::from),
        status,
    }))
}
