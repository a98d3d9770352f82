//! Package references: `<registry>/<namespace>/<name>[:<tag>|@sha256:<hex>]`.

use std::fmt;

/// A parsed package reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// Registry host, with a port if given.
    pub registry: String,
    /// Namespace: the repository path before the name.
    pub namespace: String,
    /// Package name: the repository's last segment.
    pub name: String,
    /// A tag (a version), if given.
    pub tag: Option<String>,
    /// A manifest digest, if given.
    pub digest: Option<String>,
}

impl Reference {
    /// Parses a reference; the error says what form is expected.
    pub fn parse(text: &str) -> Result<Reference, String> {
        let usage = || {
            format!(
                "{text:?} is not a package reference; expected <registry>/<namespace>/<name>:<version> or <registry>/<namespace>/<name>@sha256:<digest>, e.g. 127.0.0.1:5000/pgwasm/updated-at:1.0.0"
            )
        };
        let (registry, rest) = text.split_once('/').ok_or_else(usage)?;
        let (path, digest) = match rest.split_once('@') {
            Some((p, d)) if super::artifact::is_digest(d) => (p, Some(d.to_string())),
            Some(_) => return Err(usage()),
            None => (rest, None),
        };
        let (path, tag) = match path.rsplit_once(':') {
            Some((p, t)) if digest.is_none() => (p, Some(t.to_string())),
            Some(_) => return Err(usage()),
            None => (path, None),
        };
        let (namespace, name) = path.rsplit_once('/').ok_or_else(usage)?;
        let segments_ok = namespace
            .split('/')
            .chain([name])
            .all(super::spec::valid_segment);
        let tag_ok = tag.as_ref().is_none_or(|t| {
            !t.is_empty()
                && t.len() <= 128
                && t.bytes()
                    .all(|c| c.is_ascii_alphanumeric() || b"_.-".contains(&c))
        });
        if registry.is_empty() || !segments_ok || !tag_ok {
            return Err(usage());
        }
        Ok(Reference {
            registry: registry.to_string(),
            namespace: namespace.to_string(),
            name: name.to_string(),
            tag,
            digest,
        })
    }

    /// The repository path in the registry: `namespace/name`.
    pub fn repository(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }

    /// The tag or digest to fetch; `latest` when neither is given.
    pub fn reference(&self) -> &str {
        self.digest
            .as_deref()
            .or(self.tag.as_deref())
            .unwrap_or("latest")
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository())?;
        match (&self.digest, &self.tag) {
            (Some(d), _) => write!(f, "@{d}"),
            (None, Some(t)) => write!(f, ":{t}"),
            (None, None) => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_tags_digests_and_ports() {
        let r = Reference::parse("127.0.0.1:5000/pgwasm/updated-at:1.0.0").unwrap();
        assert_eq!(r.registry, "127.0.0.1:5000");
        assert_eq!(r.repository(), "pgwasm/updated-at");
        assert_eq!(r.reference(), "1.0.0");
        assert_eq!(r.to_string(), "127.0.0.1:5000/pgwasm/updated-at:1.0.0");
        let d = format!("sha256:{}", "a".repeat(64));
        let r = Reference::parse(&format!("ghcr.io/acme/team/audit@{d}")).unwrap();
        assert_eq!(r.namespace, "acme/team");
        assert_eq!(r.digest.as_deref(), Some(d.as_str()));
    }

    #[test]
    fn refuses_malformed_references() {
        for bad in [
            "updated-at",
            "reg/name:1.0.0",
            "reg/ns/Name:1",
            "reg/ns/name@sha256:xyz",
            "reg/ns/name:1.0+b",
        ] {
            assert!(
                Reference::parse(bad).unwrap_err().contains("expected"),
                "{bad}"
            );
        }
    }
}
