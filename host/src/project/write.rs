//! The host's one way of writing a file it may read back: a temporary sibling
//! renamed into place, so a reader (or a crash) sees the old file or the whole
//! new one, never a torn write.

use crate::lock::{LOCK_FILE, Lock};
use std::fs::File;
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};

/// Writes `path` atomically.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    write(path, bytes, false)
}

/// Writes `migrations.lock` under `root`, atomically and flushed to disk before
/// it replaces the old one: it is the file the host trusts most. Returns its path.
pub fn write_lock(root: &Path, lock: &Lock) -> io::Result<PathBuf> {
    let path = root.join(LOCK_FILE);
    write(&path, lock.to_toml().as_bytes(), true)?;
    Ok(path)
}

fn write(path: &Path, bytes: &[u8], durable: bool) -> io::Result<()> {
    let name = path
        .file_name()
        .map_or_else(Default::default, |n| n.to_os_string());
    let mut tmp_name = name;
    tmp_name.push(format!(".{}.tmp", std::process::id()));
    let tmp = path.with_file_name(tmp_name);
    let written = (|| {
        let mut file = File::create(&tmp)?;
        file.write_all(bytes)?;
        if durable {
            file.sync_all()?;
        }
        std::fs::rename(&tmp, path)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_the_whole_file_and_leaves_no_temporary() {
        let dir = std::env::temp_dir().join(format!("host-write-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("f");
        write_atomically(&path, b"old old old").unwrap();
        write_atomically(&path, b"new").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"new");
        let lock = write_lock(&dir, &Lock::new()).unwrap();
        assert_eq!(
            Lock::parse(&std::fs::read_to_string(&lock).unwrap(), &lock).unwrap(),
            Lock::new()
        );
        let names: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 2, "{names:?}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
