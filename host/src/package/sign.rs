//! ed25519 keys and signatures over a package index digest, and the trust
//! policy that says which keys may sign for which namespace (fail closed).

use super::{hex, unhex};
use crate::project::settings::TrustPolicy;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Prefix of a public key in its text form.
pub use crate::project::settings::PUBLIC_KEY_PREFIX as PUBLIC_PREFIX;
/// Prefix of a private key file's content.
const PRIVATE_PREFIX: &str = "ed25519-private:";
/// File, under a package's dist folder, holding the signature.
pub const SIGNATURE_FILE: &str = "signature.json";

/// A detached signature of a package index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IndexSignature {
    /// The signer's public key, `ed25519:<hex>`.
    pub key: String,
    /// The signature, hex.
    pub signature: String,
}

/// Why signing or verifying failed.
#[derive(Debug, thiserror::Error)]
pub enum SignError {
    /// A key file cannot be read or written.
    #[error("{path}: {detail}")]
    KeyFile {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        detail: String,
    },
    /// No system randomness for a new key.
    #[error("cannot get random bytes for a new key: {0}")]
    Random(String),
    /// A public key is not `ed25519:<64 hex>`.
    #[error(
        "{0:?} is not an ed25519 public key (expected ed25519:<64 hex digits>, as `host keygen` prints)"
    )]
    BadKey(String),
    /// The signature does not verify.
    #[error(
        "the signature of {package} does not verify with key {key}: the index was changed after it was signed, or the signature is corrupt. Nothing was installed; ask the publisher to re-sign and republish"
    )]
    BadSignature {
        /// `ns/name@version`.
        package: String,
        /// The key the signature names.
        key: String,
    },
    /// The package carries no signature.
    #[error(
        "{package} is not signed; this host installs only signed packages. Nothing was installed; the publisher signs with `host package sign`"
    )]
    Unsigned {
        /// `ns/name@version`.
        package: String,
    },
    /// No trusted key for the namespace.
    #[error(
        "no key is trusted for namespace {namespace:?} (signed by {key}); nothing was installed. If you trust this publisher, add to host.toml:\n[trust]\n\"{namespace}\" = [\"{key}\"]"
    )]
    UntrustedNamespace {
        /// The package namespace.
        namespace: String,
        /// The key that signed.
        key: String,
    },
    /// The signing key is not one of the namespace's trusted keys.
    #[error(
        "{package} is signed by {key}, which is not a trusted key for namespace {namespace:?} (trusted: {}); nothing was installed. Check with the publisher before adding this key to [trust] in host.toml",
        trusted.join(", ")
    )]
    UnknownKey {
        /// `ns/name@version`.
        package: String,
        /// The namespace.
        namespace: String,
        /// The key that signed.
        key: String,
        /// The keys the policy allows.
        trusted: Vec<String>,
    },
}

/// The bytes signed for an index digest: a domain tag keeps the signature
/// from meaning anything in another protocol.
fn message(index_digest: &str) -> Vec<u8> {
    format!("pgwasm-host migration package index v1\n{index_digest}").into_bytes()
}

/// The text form of a public key.
pub fn public_text(key: &VerifyingKey) -> String {
    format!("{PUBLIC_PREFIX}{}", hex(key.as_bytes()))
}

/// Parses `ed25519:<hex>`.
pub fn parse_public(text: &str) -> Result<VerifyingKey, SignError> {
    crate::project::settings::public_key(text).ok_or_else(|| SignError::BadKey(text.to_string()))
}

/// A new random signing key.
pub fn generate() -> Result<SigningKey, SignError> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| SignError::Random(e.to_string()))?;
    Ok(SigningKey::from_bytes(&seed))
}

/// Writes a private key file readable only by its owner; never overwrites one.
pub fn write_private(path: &Path, key: &SigningKey) -> Result<(), SignError> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let fail = |e: std::io::Error| SignError::KeyFile {
        path: path.to_path_buf(),
        detail: if e.kind() == std::io::ErrorKind::AlreadyExists {
            "already exists; choose another name (a key is never overwritten)".to_string()
        } else {
            e.to_string()
        },
    };
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(fail)?;
    writeln!(f, "{PRIVATE_PREFIX}{}", hex(&key.to_bytes())).map_err(fail)
}

/// Reads a private key file written by [`write_private`].
pub fn read_private(path: &Path) -> Result<SigningKey, SignError> {
    let text = std::fs::read_to_string(path).map_err(|e| SignError::KeyFile {
        path: path.to_path_buf(),
        detail: e.to_string(),
    })?;
    let seed = text
        .trim()
        .strip_prefix(PRIVATE_PREFIX)
        .and_then(|h| unhex(h, 32))
        .ok_or_else(|| SignError::KeyFile {
            path: path.to_path_buf(),
            detail: "not a private key written by `host keygen`".to_string(),
        })?;
    Ok(SigningKey::from_bytes(&seed.try_into().expect("32 bytes")))
}

/// Signs an index digest.
pub fn sign(key: &SigningKey, index_digest: &str) -> IndexSignature {
    IndexSignature {
        key: public_text(&key.verifying_key()),
        signature: hex(&key.sign(&message(index_digest)).to_bytes()),
    }
}

// The policy is host.toml's data; checking signatures against it is this module's.
impl TrustPolicy {
    /// Checks that `sig` is a valid signature of `index_digest` by a key the
    /// policy trusts for `namespace`. No entry, no trust.
    pub fn verify(
        &self,
        namespace: &str,
        package: &str,
        index_digest: &str,
        sig: &IndexSignature,
    ) -> Result<(), SignError> {
        let Some(trusted) = self.namespaces.get(namespace) else {
            return Err(SignError::UntrustedNamespace {
                namespace: namespace.to_string(),
                key: sig.key.clone(),
            });
        };
        let signer = parse_public(&sig.key)?;
        let listed = trusted
            .iter()
            .any(|k| parse_public(k).is_ok_and(|k| k == signer));
        if !listed {
            return Err(SignError::UnknownKey {
                package: package.to_string(),
                namespace: namespace.to_string(),
                key: sig.key.clone(),
                trusted: trusted.clone(),
            });
        }
        check(package, index_digest, sig)
    }
}

/// Checks that `sig` is a valid signature of `index_digest` by the key it
/// names, whoever that is (the trust policy decides whether it counts).
pub fn check(package: &str, index_digest: &str, sig: &IndexSignature) -> Result<(), SignError> {
    let signer = parse_public(&sig.key)?;
    let bad = || SignError::BadSignature {
        package: package.to_string(),
        key: sig.key.clone(),
    };
    let bytes = unhex(&sig.signature, 64).ok_or_else(bad)?;
    let signature = Signature::from_bytes(&bytes.try_into().expect("64 bytes"));
    signer
        .verify_strict(&message(index_digest), &signature)
        .map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(ns: &str, keys: &[&SigningKey]) -> TrustPolicy {
        TrustPolicy {
            namespaces: [(
                ns.to_string(),
                keys.iter()
                    .map(|k| public_text(&k.verifying_key()))
                    .collect(),
            )]
            .into(),
        }
    }

    #[test]
    fn signs_and_verifies_under_a_policy() {
        let key = generate().unwrap();
        let sig = sign(&key, "sha256:aa");
        let p = policy("acme", &[&key]);
        p.verify("acme", "acme/x@1.0.0", "sha256:aa", &sig).unwrap();
        let err = p
            .verify("acme", "acme/x@1.0.0", "sha256:ab", &sig)
            .unwrap_err();
        assert!(matches!(err, SignError::BadSignature { .. }), "{err}");
    }

    #[test]
    fn fails_closed_on_unknown_keys_and_namespaces() {
        let key = generate().unwrap();
        let other = generate().unwrap();
        let sig = sign(&key, "sha256:aa");
        let err = policy("acme", &[&other])
            .verify("acme", "p", "sha256:aa", &sig)
            .unwrap_err();
        assert!(matches!(err, SignError::UnknownKey { .. }), "{err}");
        let err = policy("other", &[&key])
            .verify("acme", "p", "sha256:aa", &sig)
            .unwrap_err();
        assert!(err.to_string().contains("[trust]"), "{err}");
        let mut corrupt = sig.clone();
        corrupt.signature = "00".repeat(64);
        let err = policy("acme", &[&key])
            .verify("acme", "p", "sha256:aa", &corrupt)
            .unwrap_err();
        assert!(matches!(err, SignError::BadSignature { .. }));
    }

    #[test]
    fn key_files_round_trip_and_are_private() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.key");
        let key = generate().unwrap();
        write_private(&path, &key).unwrap();
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(read_private(&path).unwrap().to_bytes(), key.to_bytes());
        assert!(
            write_private(&path, &key)
                .unwrap_err()
                .to_string()
                .contains("never overwritten")
        );
        let text = public_text(&key.verifying_key());
        assert_eq!(parse_public(&text).unwrap(), key.verifying_key());
        assert!(parse_public("ed25519:xyz").is_err());
    }
}
