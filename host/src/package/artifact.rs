//! The OCI documents of a package: each revision is a CNCF wasm artifact
//! (config `application/vnd.wasm.config.v0+json`, one `application/wasm`
//! layer); the index is an artifact whose config blob is the package index
//! and whose manifest annotations carry the signature. Every document is
//! built deterministically, so its digest is known before it is pushed.

use serde::{Deserialize, Serialize};
use sha2::Digest as _;
use std::collections::BTreeMap;

/// OCI image manifest media type.
pub const MANIFEST_MEDIA_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";
/// CNCF wasm artifact config media type.
pub const WASM_CONFIG_MEDIA_TYPE: &str = "application/vnd.wasm.config.v0+json";
/// CNCF wasm artifact layer media type.
pub const WASM_LAYER_MEDIA_TYPE: &str = "application/wasm";
/// Config media type (and artifact type) of a package index.
pub const INDEX_MEDIA_TYPE: &str = "application/vnd.pgwasm.migration-package.v1+json";
/// OCI's empty descriptor, the one layer of an index artifact.
pub const EMPTY_MEDIA_TYPE: &str = "application/vnd.oci.empty.v1+json";
/// The blob of the empty descriptor.
pub const EMPTY_BLOB: &[u8] = b"{}";
/// Annotation holding the signer's public key.
pub const SIGNER_ANNOTATION: &str = "dev.pgwasm.package.signer";
/// Annotation holding the ed25519 signature of the index digest.
pub const SIGNATURE_ANNOTATION: &str = "dev.pgwasm.package.signature";
/// Creation time written into wasm configs: fixed, so builds are reproducible.
const CREATED: &str = "1970-01-01T00:00:00Z";

/// `sha256:<hex>` of some bytes.
pub fn digest(bytes: &[u8]) -> String {
    format!("sha256:{}", super::hex(&sha2::Sha256::digest(bytes)))
}

/// Whether a string is a well-formed sha256 digest.
pub fn is_digest(s: &str) -> bool {
    s.strip_prefix("sha256:")
        .is_some_and(|h| h.len() == 64 && h.bytes().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f')))
}

/// An OCI content descriptor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    /// Media type of the content.
    pub media_type: String,
    /// sha256 digest.
    pub digest: String,
    /// Size in bytes.
    pub size: u64,
}

impl Descriptor {
    /// The descriptor of some bytes.
    pub fn of(media_type: &str, bytes: &[u8]) -> Descriptor {
        Descriptor {
            media_type: media_type.to_string(),
            digest: digest(bytes),
            size: bytes.len() as u64,
        }
    }
}

/// An OCI image manifest (the fields this host writes and reads).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    /// Always 2.
    pub schema_version: u32,
    /// [`MANIFEST_MEDIA_TYPE`].
    #[serde(default)]
    pub media_type: Option<String>,
    /// The artifact type, when set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    /// The config blob.
    pub config: Descriptor,
    /// The layers.
    pub layers: Vec<Descriptor>,
    /// Annotations.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

impl Manifest {
    /// The bytes pushed (and digested).
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a manifest always serialises")
    }
}

/// The CNCF wasm config of a component.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct WasmConfig<'a> {
    created: &'a str,
    architecture: &'a str,
    os: &'a str,
    layer_digests: Vec<String>,
    component: WasmComponent<'a>,
}

#[derive(Debug, Serialize)]
struct WasmComponent<'a> {
    exports: &'a [String],
    imports: &'a [String],
}

/// A revision's artifact, ready to push.
#[derive(Debug, Clone)]
pub struct RevisionArtifact {
    /// The config blob.
    pub config: Vec<u8>,
    /// The manifest.
    pub manifest: Vec<u8>,
}

/// The import and export names of a component, as its WIT world says.
pub fn world_names(component: &[u8]) -> Result<(Vec<String>, Vec<String>), String> {
    match wit_component::decode(component).map_err(|e| format!("{e:#}"))? {
        wit_component::DecodedWasm::Component(resolve, world) => {
            let w = &resolve.worlds[world];
            let imports = w.imports.keys().map(|k| resolve.name_world_key(k));
            let exports = w.exports.keys().map(|k| resolve.name_world_key(k));
            Ok((imports.collect(), exports.collect()))
        }
        wit_component::DecodedWasm::WitPackage(..) => {
            Err("it is a WIT package, not a component".to_string())
        }
    }
}

/// Builds the CNCF wasm artifact of a component.
pub fn revision_artifact(
    component: &[u8],
    imports: &[String],
    exports: &[String],
    title: &str,
) -> RevisionArtifact {
    let layer = Descriptor::of(WASM_LAYER_MEDIA_TYPE, component);
    let config = serde_json::to_vec(&WasmConfig {
        created: CREATED,
        architecture: "wasm",
        os: "wasip2",
        layer_digests: vec![layer.digest.clone()],
        component: WasmComponent { exports, imports },
    })
    .expect("a config always serialises");
    let manifest = Manifest {
        schema_version: 2,
        media_type: Some(MANIFEST_MEDIA_TYPE.into()),
        artifact_type: None,
        config: Descriptor::of(WASM_CONFIG_MEDIA_TYPE, &config),
        layers: vec![layer],
        annotations: [(
            "org.opencontainers.image.title".to_string(),
            title.to_string(),
        )]
        .into(),
    };
    RevisionArtifact {
        config,
        manifest: manifest.to_bytes(),
    }
}

/// The manifest of a package's index artifact, with the signature in its annotations.
pub fn index_manifest(
    index: &[u8],
    version: &str,
    description: &str,
    signer: &str,
    signature: &str,
) -> Vec<u8> {
    let annotations = [
        ("org.opencontainers.image.version", version),
        ("org.opencontainers.image.description", description),
        (SIGNER_ANNOTATION, signer),
        (SIGNATURE_ANNOTATION, signature),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    Manifest {
        schema_version: 2,
        media_type: Some(MANIFEST_MEDIA_TYPE.into()),
        artifact_type: Some(INDEX_MEDIA_TYPE.into()),
        config: Descriptor::of(INDEX_MEDIA_TYPE, index),
        layers: vec![Descriptor::of(EMPTY_MEDIA_TYPE, EMPTY_BLOB)],
        annotations,
    }
    .to_bytes()
}

/// Parses a manifest, refusing anything but an OCI image manifest.
pub fn parse_manifest(bytes: &[u8]) -> Result<Manifest, String> {
    let m: Manifest =
        serde_json::from_slice(bytes).map_err(|e| format!("not an OCI manifest: {e}"))?;
    if m.schema_version != 2 {
        return Err(format!("manifest schemaVersion {}", m.schema_version));
    }
    if m.media_type
        .as_deref()
        .is_some_and(|t| t != MANIFEST_MEDIA_TYPE)
    {
        return Err(format!(
            "manifest media type {:?}",
            m.media_type.unwrap_or_default()
        ));
    }
    for d in std::iter::once(&m.config).chain(&m.layers) {
        if !is_digest(&d.digest) {
            return Err(format!("malformed digest {:?}", d.digest));
        }
    }
    Ok(m)
}

/// The one wasm layer of a revision artifact, checking the CNCF layout.
pub fn wasm_layer(m: &Manifest) -> Result<&Descriptor, String> {
    if m.config.media_type != WASM_CONFIG_MEDIA_TYPE {
        return Err(format!(
            "config media type is {:?}, not {WASM_CONFIG_MEDIA_TYPE:?}",
            m.config.media_type
        ));
    }
    match m.layers.as_slice() {
        [one] if one.media_type == WASM_LAYER_MEDIA_TYPE => Ok(one),
        [one] => Err(format!(
            "its layer has media type {:?}, not {WASM_LAYER_MEDIA_TYPE:?}",
            one.media_type
        )),
        more => Err(format!(
            "it has {} layers, the CNCF wasm layout has exactly one",
            more.len()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn revision_artifacts_are_deterministic_and_valid() {
        let a = revision_artifact(b"\0asm", &["x".into()], &["y".into()], "t");
        let b = revision_artifact(b"\0asm", &["x".into()], &["y".into()], "t");
        assert_eq!(digest(&a.manifest), digest(&b.manifest));
        let m = parse_manifest(&a.manifest).unwrap();
        assert_eq!(wasm_layer(&m).unwrap().digest, digest(b"\0asm"));
        assert_eq!(m.config.digest, digest(&a.config));
        let config: serde_json::Value = serde_json::from_slice(&a.config).unwrap();
        assert_eq!(config["component"]["imports"][0], "x");
        assert_eq!(config["layerDigests"][0], digest(b"\0asm"));
    }

    #[test]
    fn refuses_other_layouts() {
        let bytes = index_manifest(b"{}", "1.0.0", "d", "k", "s");
        let m = parse_manifest(&bytes).unwrap();
        assert!(wasm_layer(&m).unwrap_err().contains("config media type"));
        assert_eq!(m.annotations[SIGNATURE_ANNOTATION], "s");
        let mut two = parse_manifest(&revision_artifact(b"a", &[], &[], "t").manifest).unwrap();
        two.layers.push(two.layers[0].clone());
        assert!(wasm_layer(&two).unwrap_err().contains("2 layers"));
        assert!(parse_manifest(b"{\"schemaVersion\":1}").is_err());
    }

    #[test]
    fn digests_are_sha256() {
        assert_eq!(
            digest(b""),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert!(is_digest(&digest(b"x")));
        assert!(!is_digest("sha256:XYZ"));
    }
}
