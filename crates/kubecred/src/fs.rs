//! Private files: the one writer and the one reader of every file kubecred keeps (kubeconfigs it
//! generates, the front doors' disk cache), and their private directory.
//!
//! - [`write_private`] never writes through an existing name: a temporary file is created next
//!   to the target with a random name, `O_CREAT | O_EXCL | O_NOFOLLOW` and mode 0600 (a planted
//!   symlink or a pre-created world-readable file at a temporary name is refused, never
//!   reused), written, `fsync`ed, renamed over the target (replacing a symlink there, never
//!   following it) and the directory is `fsync`ed. On failure the temporary file is removed.
//! - [`read_private`] opens with `O_NOFOLLOW | O_NONBLOCK` (a symlink is refused, a FIFO does
//!   not block) and checks the handle itself (`fstat`): a regular file of the current user, no
//!   group or other permission bit, at most the given size.
//! - [`private_dir`] creates a directory 0700 (or sets it so) and refuses one that is not the
//!   current user's.
//!
//! Unix only, as kubecred is.

use std::fs::{DirBuilder, File, OpenOptions};
use std::io::{Read as _, Write as _};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

use rustix::fs::OFlags;

use crate::{Error, Result};

/// The largest credential file [`read_bounded`] reads (keys, certificates, configurations).
pub(crate) const MAX_FILE_LEN: usize = 64 * 1024;

/// Permission bits a private file or directory must not have: anything for group and others.
const GROUP_OTHER_BITS: u32 = 0o077;

/// Writes `bytes` to `path`, mode 0600, atomically (see the [module](self) for how).
///
/// The error names `path` and the step that failed; it is [`Error::is_not_found`] when the
/// directory does not exist.
pub fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    let (dir, name) = split(path)?;
    let mut temporary = tempfile::Builder::new()
        .prefix(&format!(".{}.", name.to_string_lossy()))
        .suffix(".tmp")
        .make_in(dir, create_new_private)
        .map_err(|e| io_error(e, "creating a temporary file next to", path))?;
    let file = temporary.as_file_mut();
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(|e| io_error(e, "writing", path))?;
    // On failure the temporary file is dropped, which removes it.
    temporary
        .persist(path)
        .map_err(|e| io_error(e.error, "renaming the temporary file over", path))?;
    File::open(dir)
        .and_then(|dir| dir.sync_all())
        .map_err(|e| io_error(e, "syncing the directory of", path))
}

/// The directory (`.` for a bare name) and the file name of `path`.
fn split(path: &Path) -> Result<(&Path, &std::ffi::OsStr)> {
    let name = path
        .file_name()
        .ok_or_else(|| Error::invalid(format!("{} does not name a file", path.display())))?;
    let dir = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    Ok((dir, name))
}

/// A new file (never an existing name, never through a symlink), mode 0600.
fn create_new_private(path: &Path) -> std::io::Result<File> {
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(flags(OFlags::NOFOLLOW | OFlags::CLOEXEC))
        .open(path)
}

/// The content of the private file `path`, at most `max_bytes` long (see the [module](self)).
///
/// [`Error::is_not_found`] when nothing is at `path`; any other error names `path` and says why
/// the file is not trusted (a symlink, not a regular file, another owner, group or other
/// permission bits, too large) or could not be read.
pub fn read_private(path: &Path, max_bytes: u64) -> Result<Vec<u8>> {
    let untrusted = |reason: String| Error::invalid(format!("{}: {reason}", path.display()));
    let file = open_no_follow(path)?;
    check_private_file(&file, max_bytes).map_err(untrusted)?;
    let mut bytes = Vec::new();
    file.take(max_bytes.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| io_error(e, "reading", path))?;
    if bytes.len() as u64 > max_bytes {
        return Err(untrusted(format!("larger than {max_bytes} bytes")));
    }
    Ok(bytes)
}

/// Opens `path` for reading without following a final symlink and without blocking on a FIFO.
fn open_no_follow(path: &Path) -> Result<File> {
    OpenOptions::new()
        .read(true)
        .custom_flags(flags(OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC))
        .open(path)
        .map_err(|e| match rustix::io::Errno::from_io_error(&e) {
            Some(rustix::io::Errno::LOOP) => Error::invalid(format!(
                "{}: a symbolic link, not a regular file",
                path.display()
            )),
            _ => io_error(e, "opening", path),
        })
}

/// A regular file of the current user with no group/other bits, at most `max_bytes` long: checked
/// on the open handle, so that the name cannot be swapped between check and use.
fn check_private_file(file: &File, max_bytes: u64) -> std::result::Result<(), String> {
    let metadata = file
        .metadata()
        .map_err(|e| format!("cannot inspect it: {e}"))?;
    if !metadata.is_file() {
        return Err("not a regular file".into());
    }
    check_owner_and_mode(&metadata)?;
    if metadata.len() > max_bytes {
        return Err(format!("larger than {max_bytes} bytes"));
    }
    Ok(())
}

/// Owned by the current user, no group/other permission bit.
fn check_owner_and_mode(metadata: &std::fs::Metadata) -> std::result::Result<(), String> {
    let uid = current_uid();
    if metadata.uid() != uid {
        let owner = metadata.uid();
        return Err(format!(
            "owned by uid {owner}, not the current user (uid {uid})"
        ));
    }
    let mode = metadata.mode() & 0o777;
    if mode & GROUP_OTHER_BITS != 0 {
        return Err(format!(
            "mode {mode:04o} gives group or others access (must be 0600)"
        ));
    }
    Ok(())
}

/// Creates `dir` (and its parents) with mode 0700, or sets an existing one to 0700; refuses a
/// directory (or symlink) that is not the current user's.
pub fn private_dir(dir: &Path) -> Result<()> {
    DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| io_error(e, "creating the directory", dir))?;
    let metadata =
        std::fs::symlink_metadata(dir).map_err(|e| io_error(e, "inspecting the directory", dir))?;
    if !metadata.is_dir() || metadata.uid() != current_uid() {
        return Err(Error::invalid(format!(
            "{} is not a directory of the current user (uid {})",
            dir.display(),
            current_uid()
        )));
    }
    if metadata.mode() & 0o777 != 0o700 {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| io_error(e, "setting mode 0700 on", dir))?;
    }
    Ok(())
}

/// The effective user id of this process: the owner private files must have.
fn current_uid() -> u32 {
    rustix::process::geteuid().as_raw()
}

/// `OFlags` as the `custom_flags` of `OpenOptions` take them.
fn flags(flags: OFlags) -> i32 {
    // The bits of open(2) flags fit an int: that is open(2)'s own type for them.
    flags.bits() as i32
}

/// An I/O failure of `step` on `path`; a missing file or directory is [`Error::is_not_found`].
fn io_error(error: std::io::Error, step: &str, path: &Path) -> Error {
    let message = format!("{step} {}", path.display());
    match error.kind() {
        std::io::ErrorKind::NotFound => Error::not_found(message),
        _ => Error::invalid(message),
    }
    .with_source(error)
}

/// A credential file the operator or a workload mounted (a key, a certificate, a projected
/// token; symlinks followed, as Kubernetes' volumes are links): a regular file of at most
/// [`MAX_FILE_LEN`] bytes (never more is read, so
/// a device or a FIFO named by mistake cannot hang or exhaust memory); errors name the path.
pub(crate) async fn read_bounded(path: &Path) -> Result<String> {
    use tokio::io::AsyncReadExt;
    let shown = path.display();
    let unreadable = |e: std::io::Error| match e.kind() {
        std::io::ErrorKind::NotFound => Error::not_found(format!("{shown}: no such file")),
        kind => Error::invalid(format!("{shown}: cannot be read ({kind})")),
    };
    let metadata = tokio::fs::metadata(path).await.map_err(unreadable)?;
    if !metadata.is_file() {
        return Err(Error::invalid(format!("{shown}: not a regular file")));
    }
    let file = tokio::fs::File::open(path).await.map_err(unreadable)?;
    let mut bytes = Vec::new();
    let limit = u64::try_from(MAX_FILE_LEN).unwrap_or(u64::MAX);
    file.take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .await
        .map_err(unreadable)?;
    if bytes.len() > MAX_FILE_LEN {
        return Err(Error::invalid(format!(
            "{shown}: larger than {MAX_FILE_LEN} bytes"
        )));
    }
    String::from_utf8(bytes).map_err(|_| Error::invalid(format!("{shown}: not UTF-8")))
}

#[cfg(test)]
#[path = "fs_tests.rs"]
mod tests;
