//! The plan's two forms: text for people (colour only when asked, i.e. on a terminal) and JSON
//! for tools.

use serde_json::Value;

use super::diff::{Action, Report};

/// The plan for people: one block per resource, then the counts. `colour` adds ANSI colours.
pub fn render_text(report: &Report, colour: bool) -> String {
    let paint = |code: &str, text: &str| {
        if colour {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    };
    let show = |v: &Value| match v {
        Value::Null => "(not set)".to_string(),
        other => other.to_string(),
    };
    let mut out = String::new();
    for p in &report.invalid {
        out.push_str(&format!(
            "{} {}: {}\n",
            paint("31;1", "! invalid"),
            p.origin,
            p.error
        ));
    }
    for e in &report.resources {
        let what = format!(
            "{} {}/{} ({} {:?})",
            e.kind,
            e.namespace,
            e.name,
            e.provider.as_deref().unwrap_or("?"),
            e.product_name
        );
        let id = e
            .external_id
            .as_ref()
            .map(|id| format!(" (id {id})"))
            .unwrap_or_default();
        let adopt = match e.adopt {
            Some("assumedByName") => {
                ", matched by name (no cluster: assumed to be this resource's)".to_string()
            }
            Some(a) => format!(", adopting it ({a})"),
            None => String::new(),
        };
        match e.action {
            Action::Create => {
                let again = e
                    .recreating
                    .as_ref()
                    .map(|old| format!(" (replacing {old}, deleted outside Roleplane)"))
                    .unwrap_or_default();
                out.push_str(&format!("{} {what}: create{again}\n", paint("32", "+")));
            }
            Action::Update => {
                out.push_str(&format!("{} {what}: update{id}{adopt}\n", paint("33", "~")));
            }
            Action::InSync => {
                out.push_str(&format!("{} {what}: in sync{id}{adopt}\n", paint("2", "=")));
            }
            Action::Drifted => out.push_str(&format!(
                "{} {what}: differs{id}, observe-only: reported, not written{adopt}\n",
                paint("36", "?")
            )),
            Action::Blocked => out.push_str(&format!(
                "{} {what}: blocked, {}: {}\n",
                paint("31", "x"),
                e.reason.unwrap_or_default(),
                e.message.as_deref().unwrap_or_default()
            )),
        }
        for f in &e.fields {
            out.push_str(&format!(
                "    {}: {} {} {}\n",
                f.field,
                paint("31", &show(&f.product)),
                "->",
                paint("32", &show(&f.manifest))
            ));
        }
    }
    let s = &report.summary;
    out.push_str(&format!(
        "\nPlan: {} to create, {} to update, {} in sync, {} drifted (observe-only), {} blocked, {} invalid document(s).\n",
        s.create, s.update, s.in_sync, s.drifted, s.blocked, s.invalid
    ));
    out
}

/// The plan for tools.
pub fn render_json(report: &Report) -> String {
    serde_json::to_string_pretty(report).expect("a plan always serializes")
}
