//! The on-disk credential cache of the one-shot front doors (docker's credential helper runs
//! kubecred once per image pull; a warm entry answers without any network call).
//!
//! - Where: `$XDG_CACHE_HOME/kubecred/` (an absolute `XDG_CACHE_HOME` only, as the XDG spec
//!   says), else `$HOME/.cache/kubecred/`; no cache when neither is usable.
//! - One file per entry, `<key>.json`, the key being the hex [`CacheKey`] over every input that
//!   changes the credential (the front door builds it).
//! - The directory is mode 0700 (created so, or fixed) and must be owned by the current user; the
//!   files are mode 0600, written atomically (a temporary file in the same directory, then a
//!   rename over the entry).
//! - An entry is served until its refresh point: 80% of the credential's remaining lifetime when
//!   it was written ([`kubecred::cache::refresh_point`]). Credentials with no life left are
//!   never written.
//! - A file that is corrupt, not a regular file, owned by another user, or has any group/other
//!   permission bit set is never trusted: a warning goes to stderr, the file is removed, and the
//!   credential is fetched (and written) afresh.
//!
//! Cache trouble never fails a front door: it is reported as a warning and the call goes on
//! without the cache. The files hold secrets; nothing here logs or prints their content.

use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use kubecred::{CacheKey, Secret};
use serde::{Deserialize, Serialize};

/// The format of the files; another version is a miss (and overwritten).
const FORMAT_VERSION: u32 = 1;
/// An entry is a few hundred bytes; anything larger is not one of ours.
const MAX_FILE_BYTES: u64 = 64 * 1024;
/// Permission bits an entry or the directory must not have: anything for group and others.
const GROUP_OTHER_BITS: u32 = 0o077;

/// A cached credential: a username (may be empty) and a secret, for one label (e.g. a registry
/// server URL).
#[derive(Clone, Debug)]
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

/// The file format. No `Debug`: it holds the secret in clear.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Stored {
    version: u32,
    kind: String,
    label: String,
    username: String,
    secret: String,
    /// Unix seconds.
    expires_at: u64,
    /// Unix seconds: served until then.
    refresh_at: u64,
}

/// An open cache directory for one kind of entry (e.g. `registry`).
#[derive(Debug)]
pub struct DiskCache {
    dir: PathBuf,
    kind: &'static str,
    uid: u32,
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
        let shown = dir.display();
        DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .with_context(|| format!("creating the cache directory {shown}"))?;
        let metadata = fs::symlink_metadata(dir)
            .with_context(|| format!("reading the cache directory {shown}"))?;
        let uid = current_uid(dir)?;
        if !metadata.is_dir() || metadata.uid() != uid {
            bail!("{shown} is not a directory of the current user (uid {uid})");
        }
        if metadata.mode() & 0o777 != 0o700 {
            fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
                .with_context(|| format!("setting mode 0700 on {shown}"))?;
        }
        Ok(DiskCache {
            dir: dir.to_owned(),
            kind,
            uid,
        })
    }

    /// The fresh entry for `key`, if any; an untrustworthy file is reported and removed.
    pub fn get(&self, key: &CacheKey, now: SystemTime) -> Option<Entry> {
        self.read_path(&self.path(key), now)
    }

    /// Writes `entry` for `key`, fresh until its refresh point. An entry with no life left is
    /// not written; failures are reported as warnings.
    pub fn put(&self, key: &CacheKey, entry: &Entry, now: SystemTime) {
        let Some(refresh_at) = kubecred::cache::refresh_point(now, entry.expires_at, Duration::MAX)
        else {
            tracing::debug!(label = %entry.label, "credential already expired: not cached");
            return;
        };
        if let Err(error) = self.write(key, entry, refresh_at) {
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
            .filter(|path| is_entry_name(path))
            .filter_map(|path| self.read_path(&path, now))
            .collect()
    }

    fn path(&self, key: &CacheKey) -> PathBuf {
        self.dir.join(format!("{}.json", key.hex()))
    }

    fn read_path(&self, path: &Path, now: SystemTime) -> Option<Entry> {
        match self.read(path, now) {
            Ok(entry) => entry,
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

    /// `Ok(None)` for a missing or stale entry, or one of another kind or format version (it is
    /// overwritten on the next write); `Err` for one that is not trusted.
    fn read(&self, path: &Path, now: SystemTime) -> anyhow::Result<Option<Entry>> {
        let mut file = match File::open(path) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e).context("cannot open it"),
        };
        self.check_file(path, &file)?;
        let mut text = String::new();
        file.read_to_string(&mut text)
            .context("cannot read it as text")?;
        // The position only: serde_json's messages can quote the file's content.
        let stored: Stored = serde_json::from_str(&text).map_err(|e| {
            anyhow::anyhow!(
                "corrupt entry ({:?} error at line {}, column {})",
                e.classify(),
                e.line(),
                e.column()
            )
        })?;
        if stored.version != FORMAT_VERSION || stored.kind != self.kind {
            return Ok(None);
        }
        if unix_seconds(now) >= stored.refresh_at {
            let _ = fs::remove_file(path);
            return Ok(None);
        }
        Ok(Some(Entry {
            label: stored.label,
            username: stored.username,
            secret: Secret::new(stored.secret),
            expires_at: UNIX_EPOCH + Duration::from_secs(stored.expires_at),
        }))
    }

    /// A regular file of the current user, no group/other bits, of a sane size.
    fn check_file(&self, path: &Path, file: &File) -> anyhow::Result<()> {
        let link = fs::symlink_metadata(path).context("cannot inspect it")?;
        let metadata = file.metadata().context("cannot inspect it")?;
        if link.file_type().is_symlink() || !metadata.is_file() {
            bail!("not a regular file");
        }
        if metadata.uid() != self.uid {
            bail!(
                "owned by uid {}, not the current user (uid {})",
                metadata.uid(),
                self.uid
            );
        }
        let mode = metadata.mode() & 0o777;
        if mode & GROUP_OTHER_BITS != 0 {
            bail!("mode {mode:04o} gives group or others access (must be 0600)");
        }
        if metadata.len() > MAX_FILE_BYTES {
            bail!("larger than {MAX_FILE_BYTES} bytes");
        }
        Ok(())
    }

    fn write(&self, key: &CacheKey, entry: &Entry, refresh_at: SystemTime) -> anyhow::Result<()> {
        let stored = Stored {
            version: FORMAT_VERSION,
            kind: self.kind.to_owned(),
            label: entry.label.clone(),
            username: entry.username.clone(),
            secret: entry.secret.expose().to_owned(),
            expires_at: unix_seconds(entry.expires_at),
            refresh_at: unix_seconds(refresh_at),
        };
        let text = serde_json::to_vec(&stored).context("encoding the entry")?;
        let target = self.path(key);
        let temporary = self
            .dir
            .join(format!(".{}.{}.tmp", key.hex(), std::process::id()));
        let written = write_new(&temporary, &text)
            .and_then(|()| fs::rename(&temporary, &target).context("renaming it into place"));
        if written.is_err() {
            let _ = fs::remove_file(&temporary);
        }
        written.with_context(|| format!("writing {}", target.display()))
    }
}

/// Creates `path` (mode 0600, never an existing file) with `bytes`, flushed to disk.
fn write_new(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .with_context(|| format!("writing {}", path.display()))
}

/// The current user's uid, without libc: the owner of `/proc/self`, or else of a file just
/// created in `dir`.
fn current_uid(dir: &Path) -> anyhow::Result<u32> {
    if let Ok(metadata) = fs::metadata("/proc/self") {
        return Ok(metadata.uid());
    }
    let probe = dir.join(format!(".uid-probe.{}", std::process::id()));
    let created = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&probe)
        .and_then(|file| file.metadata());
    let _ = fs::remove_file(&probe);
    Ok(created
        .with_context(|| format!("finding the current user's uid in {}", dir.display()))?
        .uid())
}

/// `<64 hex digits>.json`.
fn is_entry_name(path: &Path) -> bool {
    let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("");
    path.extension().is_some_and(|e| e == "json")
        && stem.len() == 64
        && stem.bytes().all(|b| b.is_ascii_hexdigit())
}

fn unix_seconds(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}

/// A cache problem, on stderr whatever the log level: the user should fix it.
fn warn(message: &str) {
    eprintln!("warning: kubecred cache: {message}");
}

/// Environment variables whose values are secrets: never part of the cache key.
const SECRET_VARIABLES: &[&str] = &[
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN",
];
/// Prefixes of the variables that change a credential (cloud SDK settings, endpoints).
const KEYED_PREFIXES: &[&str] = &["AWS_", "KUBECONFIG"];

/// The key of an entry: the front door's format tag, its own inputs and the environment's
/// ([`environment_key_parts`]), as one JSON array of `[name, value]` pairs, so that every value
/// stays unambiguous whatever separators it holds.
pub fn key(format: &str, parts: impl IntoIterator<Item = (String, String)>) -> CacheKey {
    let pairs: Vec<serde_json::Value> = [("format".to_owned(), format.to_owned())]
        .into_iter()
        .chain(parts)
        .chain(environment_key_parts())
        .map(|(name, value)| serde_json::json!([name, value]))
        .collect();
    CacheKey::from_parts(&[serde_json::Value::from(pairs).to_string()])
}

/// The command line after the program name, without `--no-cache`: for front doors whose
/// arguments name everything that decides the credential (provider, cluster, identity flags).
pub fn argv_key_part() -> (String, String) {
    let argv: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--no-cache")
        .collect();
    ("argv".to_owned(), serde_json::Value::from(argv).to_string())
}

/// What, beyond a command's own arguments, changes the credential it gets: the environment the
/// SDKs read (secret values left out: they never leave memory) and the AWS profile files' state.
pub fn environment_key_parts() -> Vec<(String, String)> {
    let mut parts = keyed_environment();
    parts.extend(keyed_files());
    parts
}

/// The environment variables that name an identity or endpoint, sorted, secrets left out.
fn keyed_environment() -> Vec<(String, String)> {
    let mut variables: Vec<(String, String)> = std::env::vars_os()
        .filter_map(|(name, value)| Some((name.into_string().ok()?, value)))
        .filter(|(name, _)| KEYED_PREFIXES.iter().any(|p| name.starts_with(p)))
        .filter(|(name, _)| !SECRET_VARIABLES.contains(&name.as_str()))
        .map(|(name, value)| (format!("env:{name}"), value.to_string_lossy().into_owned()))
        .collect();
    variables.sort();
    variables
}

/// The AWS shared config and credentials files, by size and modification time: an edited
/// profile is another identity. (Their content is never read here.)
fn keyed_files() -> Vec<(String, String)> {
    let home = std::env::var_os("HOME").map(std::path::PathBuf::from);
    let file = |variable: &str, default: &str| {
        std::env::var_os(variable)
            .map(std::path::PathBuf::from)
            .or_else(|| home.as_ref().map(|home| home.join(".aws").join(default)))
    };
    [
        file("AWS_CONFIG_FILE", "config"),
        file("AWS_SHARED_CREDENTIALS_FILE", "credentials"),
    ]
    .into_iter()
    .flatten()
    .map(|path| {
        let stamp = std::fs::metadata(&path)
            .map(|m| format!("{}:{}.{}", m.len(), m.mtime(), m.mtime_nsec()))
            .unwrap_or_else(|_| "absent".into());
        (format!("file:{}", path.display()), stamp)
    })
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(expires_in: u64, now: SystemTime) -> Entry {
        Entry {
            label: "public.ecr.aws".into(),
            username: "AWS".into(),
            secret: Secret::new("registry-password"),
            expires_at: now + Duration::from_secs(expires_in),
        }
    }

    fn cache() -> Result<(tempfile::TempDir, DiskCache), Box<dyn std::error::Error>> {
        let base = tempfile::tempdir()?;
        let cache = DiskCache::open(&base.path().join("kubecred"), "registry")?;
        Ok((base, cache))
    }

    #[test]
    fn entries_are_served_until_the_refresh_point() -> Result<(), Box<dyn std::error::Error>> {
        let (_base, cache) = cache()?;
        let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let key = CacheKey::from_parts(&["a"]);
        cache.put(&key, &entry(1000, now), now);
        let hit = cache.get(&key, now + Duration::from_secs(799));
        assert_eq!(
            hit.map(|e| e.secret.expose().to_owned()).as_deref(),
            Some("registry-password")
        );
        assert!(cache.get(&key, now + Duration::from_secs(800)).is_none());
        assert!(!cache.path(&key).exists(), "stale entries are removed");
        Ok(())
    }

    #[test]
    fn expired_credentials_are_never_written() -> Result<(), Box<dyn std::error::Error>> {
        let (_base, cache) = cache()?;
        let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let key = CacheKey::from_parts(&["b"]);
        let expired = Entry {
            expires_at: now - Duration::from_secs(1),
            ..entry(0, now)
        };
        cache.put(&key, &expired, now);
        assert!(!cache.path(&key).exists());
        Ok(())
    }

    #[test]
    fn files_and_directory_are_private() -> Result<(), Box<dyn std::error::Error>> {
        let (base, cache) = cache()?;
        let now = SystemTime::now();
        let key = CacheKey::from_parts(&["c"]);
        cache.put(&key, &entry(3600, now), now);
        let mode = |path: &Path| fs::metadata(path).map(|m| m.mode() & 0o777);
        assert_eq!(mode(&cache.path(&key))?, 0o600);
        assert_eq!(mode(&base.path().join("kubecred"))?, 0o700);
        fs::set_permissions(&cache.dir, fs::Permissions::from_mode(0o755))?;
        DiskCache::open(&cache.dir, "registry")?;
        assert_eq!(mode(&base.path().join("kubecred"))?, 0o700, "fixed on open");
        Ok(())
    }

    #[test]
    fn untrusted_files_are_ignored_and_removed() -> Result<(), Box<dyn std::error::Error>> {
        let (_base, cache) = cache()?;
        let now = SystemTime::now();
        let key = CacheKey::from_parts(&["d"]);
        cache.put(&key, &entry(3600, now), now);
        fs::set_permissions(cache.path(&key), fs::Permissions::from_mode(0o620))?;
        assert!(cache.get(&key, now).is_none());
        assert!(!cache.path(&key).exists());
        fs::write(cache.path(&key), "{not json")?;
        fs::set_permissions(cache.path(&key), fs::Permissions::from_mode(0o600))?;
        assert!(cache.get(&key, now).is_none());
        assert!(!cache.path(&key).exists());
        Ok(())
    }

    #[test]
    fn entries_list_only_fresh_ones_of_the_kind() -> Result<(), Box<dyn std::error::Error>> {
        let (_base, cache) = cache()?;
        let now = SystemTime::now();
        cache.put(&CacheKey::from_parts(&["e"]), &entry(3600, now), now);
        let other = DiskCache::open(&cache.dir, "git")?;
        other.put(&CacheKey::from_parts(&["f"]), &entry(3600, now), now);
        let labels: Vec<String> = cache.entries(now).into_iter().map(|e| e.label).collect();
        assert_eq!(labels, ["public.ecr.aws"]);
        Ok(())
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let shown = format!("{:?}", entry(1, SystemTime::now()));
        assert!(!shown.contains("registry-password"), "{shown}");
    }
}
