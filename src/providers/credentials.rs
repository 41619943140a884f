//! Credentials read from a Secret: values never print, and error text is scrubbed of them.

use std::collections::BTreeMap;
use std::fmt;

/// Secret values for one product account. `Debug` lists key names only.
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct Credentials {
    values: BTreeMap<String, String>,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.values.keys().map(|k| (k, "<redacted>")))
            .finish()
    }
}

impl Credentials {
    pub fn new(values: impl IntoIterator<Item = (String, String)>) -> Self {
        Self {
            values: values.into_iter().collect(),
        }
    }

    /// The value under `key`; callers check presence with [`Credentials::missing`] first.
    pub fn get(&self, key: &str) -> &str {
        self.values.get(key).map(String::as_str).unwrap_or_default()
    }

    /// Those of `keys` that are absent or empty.
    pub fn missing(&self, keys: &[&'static str]) -> Vec<&'static str> {
        keys.iter()
            .copied()
            .filter(|k| self.values.get(*k).is_none_or(|v| v.trim().is_empty()))
            .collect()
    }

    /// Replaces every credential value (and any run of text starting with a value's first 8
    /// characters, which products echo as a key prefix) with `<redacted>`.
    pub fn redact(&self, text: &str) -> String {
        let mut out = text.to_string();
        for value in self.values.values().filter(|v| v.len() >= 4) {
            out = out.replace(value.as_str(), "<redacted>");
            if value.len() >= 8 {
                let prefix = &value[..value.floor_char_boundary(8)];
                while let Some(start) = out.find(prefix) {
                    let end = out[start..]
                        .find(|c: char| c.is_whitespace() || c == '"' || c == ',')
                        .map_or(out.len(), |i| start + i);
                    out.replace_range(start..end, "<redacted>");
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn creds() -> Credentials {
        Credentials::new([("apiKey".to_string(), "console-s3cr3tvalue123".to_string())])
    }

    #[test]
    fn debug_never_prints_values() {
        let text = format!("{:?}", creds());
        assert!(text.contains("apiKey"));
        assert!(!text.contains("s3cr3t"));
    }

    #[test]
    fn redact_removes_full_values_and_echoed_prefixes() {
        let c = creds();
        assert_eq!(
            c.redact("bad key console-s3cr3tvalue123 sent"),
            "bad key <redacted> sent"
        );
        assert_eq!(c.redact("Key: console-s3cr…"), "Key: <redacted>");
        assert_eq!(c.redact("nothing secret"), "nothing secret");
    }

    #[test]
    fn missing_lists_absent_and_blank_keys() {
        let c = Credentials::new([("username".to_string(), " ".to_string())]);
        assert_eq!(
            c.missing(&["username", "password"]),
            vec!["username", "password"]
        );
        assert!(creds().missing(&["apiKey"]).is_empty());
    }
}
