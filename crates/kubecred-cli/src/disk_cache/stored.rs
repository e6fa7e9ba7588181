//! The format of an entry file, and the checks of every field read back: a file is only
//! trusted when it is one kubecred wrote for this very key.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{anyhow, bail};
use kubecred::Secret;
use serde::{Deserialize, Serialize};

use super::Entry;

/// The format of the files; another version is a miss (and overwritten). Version 2 stores the
/// key.
const FORMAT_VERSION: u32 = 2;
/// The front doors cache short-lived credentials (minutes to hours): an entry claiming to live
/// longer than this is not one of ours.
const MAX_LIFETIME: Duration = Duration::from_secs(7 * 24 * 3600);

/// The file format. No `Debug`: it holds the secret in clear.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Stored {
    version: u32,
    kind: String,
    /// The hex key the entry was written for: a copy under another key's name is refused.
    #[serde(default)]
    key: String,
    label: String,
    username: String,
    secret: String,
    /// Unix seconds.
    expires_at: u64,
    /// Unix seconds: served until then.
    refresh_at: u64,
}

/// What reading an entry found.
pub(super) enum Found {
    /// A fresh entry.
    Fresh(Entry),
    /// Past its refresh point (the file is removed).
    Stale,
    /// Of another kind or format version (left alone: overwritten on the next write).
    Other,
}

impl Stored {
    /// The file content for `entry`, stored under `key` at `now` and served until `refresh_at`.
    pub(super) fn encode(
        kind: &str,
        key: &str,
        entry: &Entry,
        (now, refresh_at): (SystemTime, SystemTime),
    ) -> anyhow::Result<Vec<u8>> {
        let stored = Stored {
            version: FORMAT_VERSION,
            kind: kind.to_owned(),
            key: key.to_owned(),
            label: entry.label.clone(),
            username: entry.username.clone(),
            secret: entry.secret.expose().to_owned(),
            expires_at: unix_seconds(entry.expires_at),
            refresh_at: unix_seconds(refresh_at),
        };
        stored.check_times(now)?;
        Ok(serde_json::to_vec(&stored)?)
    }

    /// The entry in `bytes`, read from the file of `key` for a cache of `kind`; `Err` for
    /// anything kubecred would not have written there.
    pub(super) fn decode(
        bytes: &[u8],
        kind: &str,
        key: &str,
        now: SystemTime,
    ) -> anyhow::Result<Found> {
        // The position only: serde_json's messages can quote the file's content.
        let stored: Stored = serde_json::from_slice(bytes).map_err(|e| {
            anyhow!(
                "corrupt entry ({:?} error at line {}, column {})",
                e.classify(),
                e.line(),
                e.column()
            )
        })?;
        if stored.version != FORMAT_VERSION {
            return Ok(Found::Other);
        }
        if stored.key != key {
            bail!("stored for another key: a copy of another entry");
        }
        if stored.kind != kind {
            return Ok(Found::Other);
        }
        stored.check_text()?;
        let (expires_at, refresh_at) = stored.check_times(now)?;
        if now >= refresh_at {
            return Ok(Found::Stale);
        }
        Ok(Found::Fresh(Entry {
            label: stored.label,
            username: stored.username,
            secret: Secret::new(stored.secret),
            expires_at,
        }))
    }

    /// The label, username and secret hold no control characters (they go into the git and
    /// docker protocols' lines), and there is a secret.
    fn check_text(&self) -> anyhow::Result<()> {
        for (field, value) in [
            ("label", &self.label),
            ("username", &self.username),
            ("secret", &self.secret),
        ] {
            if value.chars().any(char::is_control) {
                bail!("the {field} holds control characters");
            }
        }
        if self.secret.is_empty() {
            bail!("the secret is empty");
        }
        Ok(())
    }

    /// Expiry and refresh point as times: refreshed no later than it expires, expiring within
    /// [`MAX_LIFETIME`] of `now` (which also rules out any overflow).
    fn check_times(&self, now: SystemTime) -> anyhow::Result<(SystemTime, SystemTime)> {
        let latest = unix_seconds(now).saturating_add(MAX_LIFETIME.as_secs());
        if self.expires_at > latest {
            bail!(
                "expiresAt {} is more than {} days away",
                self.expires_at,
                MAX_LIFETIME.as_secs() / 86_400
            );
        }
        if self.refresh_at > self.expires_at {
            bail!(
                "refreshAt {} is after expiresAt {}",
                self.refresh_at,
                self.expires_at
            );
        }
        Ok((time(self.expires_at)?, time(self.refresh_at)?))
    }
}

/// Unix seconds as a time (checked: never an overflow).
fn time(seconds: u64) -> anyhow::Result<SystemTime> {
    UNIX_EPOCH
        .checked_add(Duration::from_secs(seconds))
        .ok_or_else(|| anyhow!("{seconds} is not a representable time"))
}

fn unix_seconds(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}
