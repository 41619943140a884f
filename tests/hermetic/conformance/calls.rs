//! The minimum-calls table of `docs/provider-calls.md`, read as the suite's expectation.

use roleplane::crd::ProviderKind;

/// One row kind of the table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operation {
    Create,
    Update,
    Poll,
    /// The timed poll of every resource of a credential (per tick, not per resource).
    PollAll,
    Delete,
}

impl Operation {
    fn as_str(self) -> &'static str {
        match self {
            Operation::Create => "create",
            Operation::Update => "update",
            Operation::Poll => "poll",
            Operation::PollAll => "poll all",
            Operation::Delete => "delete",
        }
    }
}

/// The documented calls of `product` for `operation`, placeholders filled in.
pub fn documented(
    product: ProviderKind,
    operation: Operation,
    placeholders: &[(&str, String)],
) -> Vec<String> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/provider-calls.md");
    let table = std::fs::read_to_string(path).expect("docs/provider-calls.md exists");
    let row = table
        .lines()
        .find_map(|line| {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            (cells.len() >= 4 && cells[1] == product.as_str() && cells[2] == operation.as_str())
                .then(|| cells[3].to_string())
        })
        .unwrap_or_else(|| panic!("docs/provider-calls.md has no {product} {operation:?} row"));
    row.split('`')
        .skip(1)
        .step_by(2)
        .map(|call| {
            placeholders.iter().fold(call.to_string(), |c, (k, v)| {
                c.replace(&format!("{{{k}}}"), v)
            })
        })
        .collect()
}

#[test]
fn every_product_documents_every_operation() {
    for product in ProviderKind::ALL {
        for op in [
            Operation::Create,
            Operation::Update,
            Operation::Poll,
            Operation::PollAll,
            Operation::Delete,
        ] {
            let calls = documented(*product, op, &[]);
            assert!(!calls.is_empty(), "{product} {op:?}");
            assert!(
                calls.iter().all(|c| c.split_once(' ').is_some()),
                "{product} {op:?}: {calls:?}"
            );
        }
    }
}
