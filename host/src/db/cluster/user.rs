//! Running as the server's OS user: postgres refuses to run as root, so a
//! root host runs initdb and the server as `postgres` (else `nobody`) and
//! hands their files over to that user.

use super::{ClusterError, io_error};
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// The OS user the server runs as.
#[derive(Debug, Clone)]
pub(super) struct RunAs {
    pub(super) name: String,
    pub(super) uid: u32,
    pub(super) gid: u32,
    /// Root host: children switch to `uid`/`gid` and the server's directories are chowned.
    pub(super) switch: bool,
}

impl RunAs {
    /// Who the server runs as: the host's own user, or `postgres` (else `nobody`) when root.
    pub(super) fn current() -> Result<Self, ClusterError> {
        // SAFETY: geteuid/getegid cannot fail and touch no memory.
        let (euid, egid) = unsafe { (libc::geteuid(), libc::getegid()) };
        if euid != 0 {
            let name = user_by_uid(euid)
                .map(|(name, _, _)| name)
                .unwrap_or_else(|| format!("uid {euid}"));
            return Ok(Self {
                name,
                uid: euid,
                gid: egid,
                switch: false,
            });
        }
        for name in ["postgres", "nobody"] {
            if let Some((name, uid, gid)) = user_by_name(name)
                && uid != 0
            {
                return Ok(Self {
                    name,
                    uid,
                    gid,
                    switch: true,
                });
            }
        }
        Err(ClusterError::NoUser)
    }
}

/// Name, uid and gid of the user called `name`.
fn user_by_name(name: &str) -> Option<(String, u32, u32)> {
    let name = std::ffi::CString::new(name).ok()?;
    passwd_entry(|pwd, buf, len, result| {
        // SAFETY: all pointers are valid for the call; `len` is the size of `buf`.
        unsafe { libc::getpwnam_r(name.as_ptr(), pwd, buf, len, result) }
    })
}

/// Name, uid and gid of the user with `uid`.
fn user_by_uid(uid: u32) -> Option<(String, u32, u32)> {
    passwd_entry(|pwd, buf, len, result| {
        // SAFETY: as in user_by_name.
        unsafe { libc::getpwuid_r(uid, pwd, buf, len, result) }
    })
}

/// Runs a reentrant passwd lookup, growing the string buffer until it fits.
fn passwd_entry(
    lookup: impl Fn(*mut libc::passwd, *mut libc::c_char, usize, *mut *mut libc::passwd) -> i32,
) -> Option<(String, u32, u32)> {
    let mut buf = vec![0u8; 1024];
    loop {
        // SAFETY: passwd is plain data; all-zero is a valid (empty) value.
        let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
        let mut result: *mut libc::passwd = std::ptr::null_mut();
        let rc = lookup(&mut pwd, buf.as_mut_ptr().cast(), buf.len(), &mut result);
        if rc == libc::ERANGE && buf.len() < 1 << 20 {
            buf.resize(buf.len() * 2, 0);
            continue;
        }
        if rc != 0 || result.is_null() {
            return None;
        }
        // SAFETY: on success pw_name points to a NUL-terminated string inside `buf`.
        let name = unsafe { std::ffi::CStr::from_ptr(pwd.pw_name) };
        return Some((name.to_string_lossy().into_owned(), pwd.pw_uid, pwd.pw_gid));
    }
}

/// A directory (or file) owned by the server's user with `mode`.
pub(super) fn hand_over(path: &Path, user: &RunAs, mode: u32) -> Result<(), ClusterError> {
    if user.switch {
        std::os::unix::fs::chown(path, Some(user.uid), Some(user.gid))
            .map_err(|e| io_error("change the owner of", path, e))?;
    }
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
        .map_err(|e| io_error("set permissions of", path, e))
}
