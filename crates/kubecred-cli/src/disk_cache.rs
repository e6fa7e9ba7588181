//! The on-disk credential cache of the one-shot front doors (docker's credential helper runs
//! kubecred once per image pull; a warm entry answers without any network call).
//!
//! - Where: `$XDG_CACHE_HOME/kubecred/` (an absolute `XDG_CACHE_HOME` only, as the XDG spec
//!   says), else `$HOME/.cache/kubecred/`; no cache when neither is usable.
//! - One file per entry, `<key>.json`, the key being the hex [`CacheKey`] over every input that
//!   changes the credential (the front door builds it).
//!   When the credential depends on the cluster (an identity read there, the generic provider),
//!   the key holds what the kubeconfig resolves to (server, CA, user, context, namespace:
//!   [`key::cluster_key_parts`]), not the kubeconfig's path.
//! - The directory is mode 0700 (created so, or fixed) and must be owned by the current user; the
//!   files are mode 0600, written by kubecred's one writer ([`kubecred::fs::write_private`]:
//!   a new temporary file in the same directory, fsync, rename over the entry).
//! - An entry is served until its refresh point: 80% of the credential's remaining lifetime when
//!   it was written ([`kubecred::cache::refresh_point`]). Credentials with no life left are
//!   never written.
//! - Files are read with [`kubecred::fs::read_private`] (no symlink followed, no blocking on a
//!   FIFO, type, owner and mode checked on the open handle). A file that is corrupt, not a
//!   regular file, owned by another user, has any group/other permission bit set, was stored
//!   for another key (a copy under another entry's name), or holds an out-of-range time or a
//!   control character is never trusted: a warning goes to stderr, the file is removed, and the
//!   credential is fetched (and written) afresh.
//!
//! Cache trouble never fails a front door: it is reported as a warning and the call goes on
//! without the cache. The files hold secrets; nothing here logs or prints their content.

mod key;
mod stored;

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use anyhow::Context;
use kubecred::{CacheKey, Secret};

pub use key::{argv_key_part, cluster_key_parts, depends_on_cluster, identity_cluster_parts, key};
use stored::{Found, Stored};

/// An entry is a few hundred bytes; anything larger is not one of ours.
const MAX_FILE_BYTES: u64 = 64 * 1024;

/// A cached credential: a username (may be empty) and a secret, for one label (e.g. a registry
/// server URL). `Debug` shows the label and the expiry only: usernames can embed a session
/// token (CodeCommit's do).
#[derive(Clone)]
pub struct Entry {
    /// What the entry is for, as `list` shows it (e.g. the registry's server URL).
    pub label: String,
    /// The username.
    pub username: String,
    /// The password or token.
    pub secret: Secret,
    /// When the credential stops working.
    pub expires_at: SystemTime,
}

impl std::fmt::Debug for Entry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Entry")
            .field("label", &self.label)
            .field("username", &"<redacted>")
            .field("secret", &self.secret)
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// An open cache directory for one kind of entry (e.g. `registry`).
#[derive(Debug)]
pub struct DiskCache {
    dir: PathBuf,
    kind: &'static str,
}

impl DiskCache {
    /// `$XDG_CACHE_HOME/kubecred` or `$HOME/.cache/kubecred`, if either is set.
    pub fn default_dir() -> Option<PathBuf> {
        let absolute = |name: &str| {
            std::env::var_os(name)
                .map(PathBuf::from)
                .filter(|path| path.is_absolute())
        };
        absolute("XDG_CACHE_HOME")
            .or_else(|| absolute("HOME").map(|home| home.join(".cache")))
            .map(|base| base.join("kubecred"))
    }

    /// Opens (creating or fixing) the default directory; `None` with `no_cache` (the front
    /// doors' `--no-cache`), and, after a warning, when the cache cannot be used.
    pub fn open_default(kind: &'static str, no_cache: bool) -> Option<DiskCache> {
        if no_cache {
            return None;
        }
        let dir = DiskCache::default_dir()?;
        DiskCache::open(&dir, kind)
            .map_err(|e| warn(&format!("not using the cache: {e:#}")))
            .ok()
    }

    /// Opens `dir`: created with mode 0700, or set to 0700; refused when another user owns it.
    pub fn open(dir: &Path, kind: &'static str) -> anyhow::Result<DiskCache> {
        kubecred::fs::private_dir(dir).context("opening the cache directory")?;
        Ok(DiskCache {
            dir: dir.to_owned(),
            kind,
        })
    }

    /// The fresh entry for `key`, if any; an untrustworthy file is reported and removed.
    pub fn get(&self, key: &CacheKey, now: SystemTime) -> Option<Entry> {
        self.read_path(&self.path(key), &key.hex(), now)
    }

    /// Writes `entry` for `key`, fresh until its refresh point. An entry with no life left is
    /// not written; failures are reported as warnings.
    pub fn put(&self, key: &CacheKey, entry: &Entry, now: SystemTime) {
        let Some(refresh_at) = kubecred::cache::refresh_point(now, entry.expires_at, Duration::MAX)
        else {
            tracing::debug!(label = %entry.label, "credential already expired: not cached");
            return;
        };
        if let Err(error) = self.write(key, entry, (now, refresh_at)) {
            warn(&format!("could not write a cache entry: {error:#}"));
        }
    }

    /// Every fresh entry of this kind.
    pub fn entries(&self, now: SystemTime) -> Vec<Entry> {
        let Ok(listing) = fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        listing
            .flatten()
            .map(|item| item.path())
            .filter_map(|path| Some((entry_key(&path)?, path)))
            .filter_map(|(key, path)| self.read_path(&path, &key, now))
            .collect()
    }

    fn path(&self, key: &CacheKey) -> PathBuf {
        self.dir.join(format!("{}.json", key.hex()))
    }

    fn read_path(&self, path: &Path, key: &str, now: SystemTime) -> Option<Entry> {
        match self.read(path, key, now) {
            Ok(Found::Fresh(entry)) => Some(entry),
            Ok(Found::Stale) => {
                let _ = fs::remove_file(path);
                None
            }
            Ok(Found::Other) => None,
            Err(problem) => {
                warn(&format!(
                    "ignoring {}: {problem:#}; it will be replaced",
                    path.display()
                ));
                let _ = fs::remove_file(path);
                None
            }
        }
    }

    /// A missing file is [`Found::Other`]; `Err` for one that is not trusted.
    fn read(&self, path: &Path, key: &str, now: SystemTime) -> anyhow::Result<Found> {
        let bytes = match kubecred::fs::read_private(path, MAX_FILE_BYTES) {
            Ok(bytes) => bytes,
            Err(e) if e.is_not_found() => return Ok(Found::Other),
            Err(e) => return Err(e.into()),
        };
        Stored::decode(&bytes, self.kind, key, now)
    }

    fn write(
        &self,
        key: &CacheKey,
        entry: &Entry,
        times: (SystemTime, SystemTime),
    ) -> anyhow::Result<()> {
        let bytes = Stored::encode(self.kind, &key.hex(), entry, times)?;
        kubecred::fs::write_private(&self.path(key), &bytes)?;
        Ok(())
    }
}

/// The hex key of an entry file, `<64 hex digits>.json`.
fn entry_key(path: &Path) -> Option<String> {
    let stem = path.file_stem()?.to_str()?;
    let named = path.extension().is_some_and(|e| e == "json")
        && stem.len() == 64
        && stem.bytes().all(|b| b.is_ascii_hexdigit());
    named.then(|| stem.to_owned())
}

/// A cache problem, on stderr whatever the log level: the user should fix it.
fn warn(message: &str) {
    eprintln!("warning: kubecred cache: {message}");
}

#[cfg(test)]
mod tests;
