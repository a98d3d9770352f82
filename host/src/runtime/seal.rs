//! The seal on what the host caches: a keyed blake3 MAC binding each cached
//! file (compiled code, a remembered offline script) to the component and
//! cache key it was made for, under a key kept outside every project.
//!
//! The cache lives in the project (`.host/cache`), where a checkout or a
//! restored CI cache can place any file. A hash stored beside a file proves
//! nothing to whoever writes both; a MAC does, as long as its key is where
//! they cannot reach: 32 random bytes in the user's state folder
//! (`HOST_STATE_DIR`, else `$XDG_STATE_HOME/host`, else
//! `~/.local/state/host`), made on first use, readable by its owner only. An
//! entry sealed elsewhere, with another key, or for another component is
//! simply not in the cache.

use crate::hex::{hex, unhex};
use std::fs::{DirBuilder, File, OpenOptions};
use std::io::{self, Read as _, Write as _};
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The variable naming the folder of the host's own state (its cache key).
pub const STATE_DIR_ENV: &str = "HOST_STATE_DIR";

/// Name of the key file in the state folder.
pub const KEY_FILE: &str = "cache.key";

/// Why there is no key to seal the cache with.
#[derive(Debug, thiserror::Error)]
pub enum SealError {
    /// No variable says where the user's state lives.
    #[error(
        "no folder for the cache key: none of {STATE_DIR_ENV}, XDG_STATE_HOME and HOME is set; set {STATE_DIR_ENV} to a folder of your own, outside the project"
    )]
    NoStateDir,
    /// The key file exists but cannot be read.
    #[error(
        "cannot read the cache key {path}: {source}; fix its permissions, or set {STATE_DIR_ENV} to a folder of your own, outside the project"
    )]
    Read {
        /// The key file.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// The key file holds something other than a key.
    #[error(
        "the cache key {path} is not 64 hex digits; delete it and the next run makes a new one"
    )]
    Malformed {
        /// The key file.
        path: PathBuf,
    },
    /// The state folder or the key file cannot be created.
    #[error(
        "cannot create the cache key in {dir}: {source}; set {STATE_DIR_ENV} to a folder of your own, outside the project"
    )]
    Create {
        /// The state folder.
        dir: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// The system gave no random bytes.
    #[error("cannot draw a random cache key: {0}")]
    Random(String),
}

/// What a sealed file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// A compiled component (`<key>.cwasm`).
    Compiled,
    /// A remembered offline script.
    Script,
}

impl Purpose {
    fn domain(self) -> &'static str {
        match self {
            Purpose::Compiled => "host compile cache: compiled component v1",
            Purpose::Script => "host compile cache: offline script v1",
        }
    }
}

/// What a seal holds for: a file of one purpose, made from one component,
/// stored under one cache key. Any other binding does not verify.
#[derive(Debug, Clone, Copy)]
pub struct Binding<'a> {
    /// What the file is.
    pub purpose: Purpose,
    /// blake3 of the component it was made from, as the lock records it.
    pub component: &'a str,
    /// The cache key it is stored under.
    pub key: &'a str,
}

/// The key cache entries are sealed with on this machine.
#[derive(Clone)]
pub struct SealKey([u8; 32]);

impl std::fmt::Debug for SealKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // A key is never printed, not even in a debug line.
        f.write_str("SealKey(..)")
    }
}

impl SealKey {
    /// A key of the given bytes.
    pub fn new(bytes: [u8; 32]) -> SealKey {
        SealKey(bytes)
    }

    /// The key in `dir`, made there first if there is none. Two processes
    /// making it at once end with the same key: each links a whole file into
    /// place, only one link succeeds, and both read back the one that did.
    pub fn open_or_create(dir: &Path) -> Result<SealKey, SealError> {
        let path = dir.join(KEY_FILE);
        // No key yet, or no folder for it yet (or a file in its way, which
        // creating the folder then reports).
        match read_key(&path) {
            Err(SealError::Read { source, .. })
                if matches!(
                    source.kind(),
                    io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
                ) => {}
            found => return found,
        }
        let create = |source| SealError::Create {
            dir: dir.to_path_buf(),
            source,
        };
        DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(create)?;
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).map_err(|e| SealError::Random(e.to_string()))?;
        let mut tag = [0u8; 8];
        getrandom::fill(&mut tag).map_err(|e| SealError::Random(e.to_string()))?;
        let tmp = dir.join(format!("{KEY_FILE}.{}.tmp", hex(&tag)));
        let linked = write_new(&tmp, format!("{}\n", hex(&bytes)).as_bytes()).and_then(|()| {
            match std::fs::hard_link(&tmp, &path) {
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
                other => other,
            }
        });
        let _ = std::fs::remove_file(&tmp);
        linked.map_err(create)?;
        read_key(&path)
    }

    /// Starts the seal of a file for `binding`; its bytes follow through
    /// [`Sealer::update`], in one pass with reading them.
    pub fn sealer(&self, binding: &Binding) -> Sealer {
        // A key of the binding's own, derived from the machine's, then the
        // bytes alone under it: with the binding prefixed to the bytes
        // instead, they no longer start on a blake3 chunk and a 400 KiB
        // artifact hashed 1.8 times slower (measured).
        let mut derive = blake3::Hasher::new_keyed(&self.0);
        // Each field is length-prefixed, so no two bindings hash alike.
        for field in [binding.purpose.domain(), binding.component, binding.key] {
            derive.update(&(field.len() as u64).to_le_bytes());
            derive.update(field.as_bytes());
        }
        Sealer(blake3::Hasher::new_keyed(derive.finalize().as_bytes()))
    }

    /// The seal of `bytes` for `binding`, as hex.
    pub fn seal(&self, binding: &Binding, bytes: &[u8]) -> String {
        let mut s = self.sealer(binding);
        s.update(bytes);
        s.finish()
    }

    /// Whether `recorded` is the seal of `bytes` for `binding`.
    pub fn verifies(&self, binding: &Binding, bytes: &[u8], recorded: &str) -> bool {
        let mut s = self.sealer(binding);
        s.update(bytes);
        s.matches(recorded)
    }
}

/// A seal being computed.
pub struct Sealer(blake3::Hasher);

impl Sealer {
    /// Adds bytes of the sealed file.
    pub fn update(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    /// The seal, as hex.
    pub fn finish(&self) -> String {
        self.0.finalize().to_hex().to_string()
    }

    /// Whether `recorded` (hex) is this seal; compared in constant time.
    pub fn matches(&self, recorded: &str) -> bool {
        blake3::Hash::from_hex(recorded.trim()).is_ok_and(|r| r == self.0.finalize())
    }
}

/// The state folder named by the environment, if any: `HOST_STATE_DIR`,
/// else `$XDG_STATE_HOME/host` (only if absolute, as the XDG spec asks),
/// else `$HOME/.local/state/host`.
pub fn state_dir() -> Option<PathBuf> {
    state_dir_from(|name| std::env::var_os(name))
}

fn state_dir_from(var: impl Fn(&str) -> Option<std::ffi::OsString>) -> Option<PathBuf> {
    let set = |name| var(name).filter(|v| !v.is_empty()).map(PathBuf::from);
    if let Some(dir) = set(STATE_DIR_ENV) {
        return Some(dir);
    }
    if let Some(xdg) = set("XDG_STATE_HOME").filter(|p| p.is_absolute()) {
        return Some(xdg.join("host"));
    }
    set("HOME").map(|home| home.join(".local").join("state").join("host"))
}

/// This machine's key, read or made once per process; an error means the
/// cache is not used at all (everything is compiled and run afresh).
pub fn machine_key() -> Result<&'static SealKey, &'static SealError> {
    static KEY: OnceLock<Result<SealKey, SealError>> = OnceLock::new();
    KEY.get_or_init(|| SealKey::open_or_create(&state_dir().ok_or(SealError::NoStateDir)?))
        .as_ref()
}

fn read_key(path: &Path) -> Result<SealKey, SealError> {
    let mut text = String::new();
    File::open(path)
        .and_then(|mut f| f.read_to_string(&mut text))
        .map_err(|source| SealError::Read {
            path: path.to_path_buf(),
            source,
        })?;
    let bytes = unhex(&text, 32).ok_or_else(|| SealError::Malformed {
        path: path.to_path_buf(),
    })?;
    Ok(SealKey(bytes.try_into().expect("unhex gives 32 bytes")))
}

/// Writes a file that must not exist yet, readable by its owner only, to disk.
fn write_new(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt as _;

    const COMPILED: Binding = Binding {
        purpose: Purpose::Compiled,
        component: "c1",
        key: "c1-cranelift-00",
    };

    #[test]
    fn a_seal_verifies_for_its_bytes_key_and_binding_only() {
        let key = SealKey::new([7; 32]);
        let seal = key.seal(&COMPILED, b"native code");
        assert!(key.verifies(&COMPILED, b"native code", &seal));
        assert!(key.verifies(&COMPILED, b"native code", &format!("{seal}\n")));
        assert!(
            !key.verifies(&COMPILED, b"native codf", &seal),
            "tampered bytes"
        );
        assert!(
            !key.verifies(&COMPILED, b"native code\0", &seal),
            "appended bytes"
        );
        assert!(
            !SealKey::new([8; 32]).verifies(&COMPILED, b"native code", &seal),
            "another machine's key"
        );
        for other in [
            Binding {
                purpose: Purpose::Script,
                ..COMPILED
            },
            Binding {
                component: "c2",
                ..COMPILED
            },
            Binding {
                key: "c1-winch-00",
                ..COMPILED
            },
            // The same text split differently between fields.
            Binding {
                component: "c1c",
                key: "1-cranelift-00",
                ..COMPILED
            },
        ] {
            assert!(!key.verifies(&other, b"native code", &seal), "{other:?}");
        }
        // What an attacker computes without the key.
        assert!(!key.verifies(
            &COMPILED,
            b"native code",
            blake3::hash(b"native code").to_hex().as_str()
        ));
        assert!(!key.verifies(&COMPILED, b"native code", ""));
        assert!(!key.verifies(&COMPILED, b"native code", "not hex"));
    }

    #[test]
    fn a_sealer_fed_in_pieces_equals_one_seal() {
        let key = SealKey::new([1; 32]);
        let mut s = key.sealer(&COMPILED);
        s.update(b"native ");
        s.update(b"code");
        assert_eq!(s.finish(), key.seal(&COMPILED, b"native code"));
    }

    #[test]
    fn the_key_is_made_once_private_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state").join("host");
        let made = SealKey::open_or_create(&state).unwrap();
        let again = SealKey::open_or_create(&state).unwrap();
        assert_eq!(made.0, again.0);
        assert_ne!(made.0, [0; 32]);
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&state.join(KEY_FILE)), 0o600);
        assert_eq!(mode(&state), 0o700);
        let left: Vec<_> = std::fs::read_dir(&state).unwrap().collect();
        assert_eq!(left.len(), 1, "no temporary file is left");
        // Another folder is another machine: another key.
        let other = SealKey::open_or_create(&dir.path().join("other")).unwrap();
        assert_ne!(made.0, other.0);
    }

    #[test]
    fn makers_racing_for_the_key_end_with_one_key() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("host");
        let keys: Vec<[u8; 32]> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..8)
                .map(|_| s.spawn(|| SealKey::open_or_create(&state).unwrap().0))
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert!(keys.iter().all(|k| *k == keys[0]), "one key for all");
        assert_eq!(SealKey::open_or_create(&state).unwrap().0, keys[0]);
    }

    #[test]
    fn a_damaged_or_unmakeable_key_is_an_error_not_a_new_key() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(KEY_FILE), "short\n").unwrap();
        let err = SealKey::open_or_create(dir.path()).unwrap_err();
        assert!(matches!(err, SealError::Malformed { .. }), "{err}");
        assert!(err.to_string().contains("delete it"), "{err}");
        assert_eq!(
            std::fs::read_to_string(dir.path().join(KEY_FILE)).unwrap(),
            "short\n"
        );

        let file = dir.path().join("a-file");
        std::fs::write(&file, "").unwrap();
        let err = SealKey::open_or_create(&file.join("host")).unwrap_err();
        assert!(matches!(err, SealError::Create { .. }), "{err}");
        assert!(err.to_string().contains(STATE_DIR_ENV), "{err}");
    }

    #[test]
    fn the_state_folder_follows_the_environment() {
        let env = |vars: &'static [(&'static str, &'static str)]| {
            state_dir_from(move |n| vars.iter().find(|(k, _)| *k == n).map(|(_, v)| v.into()))
        };
        assert_eq!(
            env(&[
                ("HOST_STATE_DIR", "/s"),
                ("XDG_STATE_HOME", "/x"),
                ("HOME", "/h")
            ]),
            Some(PathBuf::from("/s"))
        );
        assert_eq!(
            env(&[("XDG_STATE_HOME", "/x"), ("HOME", "/h")]),
            Some(PathBuf::from("/x/host"))
        );
        assert_eq!(
            env(&[
                ("HOST_STATE_DIR", ""),
                ("XDG_STATE_HOME", "rel"),
                ("HOME", "/h")
            ]),
            Some(PathBuf::from("/h/.local/state/host"))
        );
        assert_eq!(env(&[]), None);
    }
}
