//! The package index: the signed list of a package version's revisions. It is
//! the OCI config blob of the package's index artifact, and its sha256 is
//! what the publisher signs.

use super::spec::ParamSpec;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Format version of the index this host writes and reads.
pub const INDEX_FORMAT: u32 = 1;

/// One package version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PackageIndex {
    /// Format version ([`INDEX_FORMAT`]).
    pub format: u32,
    /// Namespace (the repository path before the name).
    pub namespace: String,
    /// Package name.
    pub name: String,
    /// Semantic version.
    pub version: String,
    /// One line for `host search`.
    pub description: String,
    /// WIT package every revision was built against.
    pub wit: String,
    /// Revisions or labels of the installing project the package's root needs.
    pub depends_on: Vec<String>,
    /// Parameters the revisions read through `context.config`.
    pub params: BTreeMap<String, ParamSpec>,
    /// The revisions, parents first.
    pub revisions: Vec<IndexedRevision>,
}

/// One revision of a package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IndexedRevision {
    /// Revision id.
    pub id: String,
    /// Parents inside the package; none for the package's root.
    pub down_revisions: Vec<String>,
    /// Branch labels starting here.
    pub branch_labels: Vec<String>,
    /// Dependencies inside the package.
    pub depends_on: Vec<String>,
    /// The revision's message.
    pub message: String,
    /// Whether it runs in a transaction.
    pub transactional: bool,
    /// blake3 of the component, lowercase hex.
    pub blake3: String,
    /// OCI digest of the component (the artifact's one layer).
    pub layer_digest: String,
    /// OCI digest of the revision's artifact manifest.
    pub manifest_digest: String,
    /// What the component imports, as the CNCF wasm config lists it.
    pub imports: Vec<String>,
}

impl PackageIndex {
    /// `namespace/name`: the repository path and the key of its settings in host.toml.
    pub fn full_name(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }

    /// The bytes that are published, hashed and signed.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut v = serde_json::to_vec_pretty(self).expect("an index always serialises");
        v.push(b'\n');
        v
    }

    /// Parses index bytes; the error says what is wrong.
    pub fn from_bytes(bytes: &[u8]) -> Result<PackageIndex, String> {
        let index: PackageIndex = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
        if index.format != INDEX_FORMAT {
            return Err(format!(
                "index format {} (this host reads format {INDEX_FORMAT})",
                index.format
            ));
        }
        Ok(index)
    }

    /// Revisions with no parent inside the package: they attach to the project.
    pub fn roots(&self) -> impl Iterator<Item = &IndexedRevision> {
        self.revisions
            .iter()
            .filter(|r| r.down_revisions.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_other_formats() {
        let index = PackageIndex {
            format: INDEX_FORMAT,
            namespace: "pgwasm".into(),
            name: "x".into(),
            version: "1.0.0".into(),
            description: "d".into(),
            wit: "pgwasm:migration@0.1.0".into(),
            depends_on: vec![],
            params: BTreeMap::new(),
            revisions: vec![],
        };
        let bytes = index.to_bytes();
        assert_eq!(PackageIndex::from_bytes(&bytes).unwrap(), index);
        let other = String::from_utf8(bytes)
            .unwrap()
            .replace("\"format\": 1", "\"format\": 2");
        assert!(
            PackageIndex::from_bytes(other.as_bytes())
                .unwrap_err()
                .contains("format 2")
        );
    }
}
