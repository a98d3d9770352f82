//! What a component may import: the project's own world, the WASI that gives
//! nothing away, and the packages a user granted. Pure string rules, shared by
//! the sandbox, the `host.toml` reader and `host package build`.

use crate::lock::WIT_PACKAGE;
use std::collections::BTreeSet;

/// The prefix of the project's own interfaces (`pgwasm:migration/sql@…`).
pub const OWN_PREFIX: &str = "pgwasm:migration/";

/// WASI interfaces every component may import: they give nothing away.
const ALWAYS: [&str; 4] = ["wasi:io/", "wasi:cli/", "wasi:clocks/", "wasi:random/"];

/// WASI packages a component may import only where the user granted them;
/// even then the guest gets no directory and no network, only the link.
pub const GRANTABLE: [&str; 2] = ["wasi:filesystem", "wasi:sockets"];

/// The package part of an import name: `wasi:sockets` of `wasi:sockets/tcp@0.2.3`.
fn package(import: &str) -> &str {
    import.split(['/', '@']).next().unwrap_or(import)
}

/// Imports a component may not have: everything outside the project's own
/// interfaces and the harmless WASI, unless `granted` names its package.
pub fn refused_imports<'a>(
    imports: impl IntoIterator<Item = &'a str>,
    own_prefix: &str,
    own_version: &str,
    granted: &BTreeSet<String>,
) -> Vec<String> {
    imports
        .into_iter()
        .filter(|name| {
            let own = name.starts_with(own_prefix) && name.ends_with(own_version);
            let harmless = ALWAYS.iter().any(|p| name.starts_with(p));
            let allowed = GRANTABLE.contains(&package(name)) && granted.contains(package(name));
            !(own || harmless || allowed)
        })
        .map(str::to_string)
        .collect()
}

/// The version of the WIT package this host serves (`0.1.0`).
pub fn wit_version() -> &'static str {
    WIT_PACKAGE.rsplit('@').next().unwrap_or("")
}

/// Imports a component may not have against this host's world, given the
/// packages `granted` to it.
pub fn refused<'a>(
    imports: impl IntoIterator<Item = &'a str>,
    granted: &BTreeSet<String>,
) -> Vec<String> {
    refused_imports(imports, OWN_PREFIX, &format!("@{}", wit_version()), granted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_harmless_or_granted_imports_pass() {
        let imports = [
            "pgwasm:migration/sql@0.1.0",
            "pgwasm:migration/sql@0.2.0",
            "wasi:cli/environment@0.2.6",
            "wasi:filesystem/preopens@0.2.6",
            "wasi:sockets/tcp@0.2.6",
            "wasi:http/outgoing-handler@0.2.6",
            "evil:thing/x",
        ];
        let none = BTreeSet::new();
        let refused = refused_imports(imports, "pgwasm:migration/", "@0.1.0", &none);
        assert_eq!(
            refused,
            vec![
                "pgwasm:migration/sql@0.2.0",
                "wasi:filesystem/preopens@0.2.6",
                "wasi:sockets/tcp@0.2.6",
                "wasi:http/outgoing-handler@0.2.6",
                "evil:thing/x"
            ]
        );
        let fs: BTreeSet<String> = ["wasi:filesystem".to_string()].into();
        let refused = refused_imports(imports, "pgwasm:migration/", "@0.1.0", &fs);
        assert!(!refused.iter().any(|i| i.starts_with("wasi:filesystem")));
        assert!(refused.iter().any(|i| i.starts_with("wasi:sockets")));
    }

    #[test]
    fn the_own_world_is_this_hosts_version() {
        let none = BTreeSet::new();
        assert!(refused(["pgwasm:migration/sql@0.1.0"], &none).is_empty());
        assert_eq!(refused(["pgwasm:migration/sql@9.9.9"], &none).len(), 1);
    }
}
