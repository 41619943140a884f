//! SlashID's name rules as its API description states them (`providers/slashid.md`):
//! `RoleName` `^[A-Za-z0-9]{1}[\w.\-:]*[A-Za-z0-9]$`, at most 100 characters (after the
//! `{org_id}/` prefix); `PermissionName` `^[A-Za-z0-9]{1}[\w./\\\-:]*[A-Za-z0-9]$`, at most 1024.

/// Whether `name` matches `^[A-Za-z0-9][\w<extra>]*[A-Za-z0-9]$` (`\w` = letters, digits, `_`).
fn matches(name: &str, extra: &str, max: usize) -> bool {
    let bytes = name.as_bytes();
    let body = |b: &u8| b.is_ascii_alphanumeric() || *b == b'_' || extra.as_bytes().contains(b);
    match bytes {
        [first, middle @ .., last] => {
            name.len() <= max
                && first.is_ascii_alphanumeric()
                && last.is_ascii_alphanumeric()
                && middle.iter().all(body)
        }
        _ => false,
    }
}

/// A role name without its `{org_id}/` prefix.
pub fn is_role_name(name: &str) -> bool {
    matches(name, ".-:", 100)
}

pub fn is_permission_name(name: &str) -> bool {
    matches(name, "./\\-:", 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_published_patterns() {
        assert!(is_role_name("ab") && is_role_name("a_b.c:d-9"));
        assert!(!is_role_name("a") && !is_role_name("a/b") && !is_role_name("-ab"));
        assert!(!is_role_name(&"x".repeat(101)));
        assert!(is_permission_name(r"billing/invoices\list"));
        assert!(!is_permission_name("billing/") && !is_permission_name("a b"));
    }
}
