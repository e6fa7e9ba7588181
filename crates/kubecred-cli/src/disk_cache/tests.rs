use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::time::UNIX_EPOCH;

use super::*;

type TestResult = Result<(), Box<dyn std::error::Error>>;

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

fn at(seconds: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(seconds)
}

/// Writes `json` as the (0600) file of `key`.
fn plant(cache: &DiskCache, key: &CacheKey, json: &serde_json::Value) -> TestResult {
    kubecred::fs::write_private(&cache.path(key), json.to_string().as_bytes())?;
    Ok(())
}

/// A well-formed stored entry for `key`, with `changes` applied.
fn stored(key: &CacheKey, changes: serde_json::Value) -> serde_json::Value {
    let mut json = serde_json::json!({
        "version": 2, "kind": "registry", "key": key.hex(), "label": "public.ecr.aws",
        "username": "AWS", "secret": "registry-password",
        "expiresAt": 1_700_001_000u64, "refreshAt": 1_700_000_800u64,
    });
    if let (Some(json), Some(changes)) = (json.as_object_mut(), changes.as_object()) {
        json.extend(changes.clone());
    }
    json
}

#[test]
fn entries_are_served_until_the_refresh_point() -> TestResult {
    let (_base, cache) = cache()?;
    let now = at(1_700_000_000);
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
fn expired_credentials_are_never_written() -> TestResult {
    let (_base, cache) = cache()?;
    let now = at(1_700_000_000);
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
fn files_and_directory_are_private() -> TestResult {
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
fn untrusted_files_are_ignored_and_removed() -> TestResult {
    let (_base, cache) = cache()?;
    let now = SystemTime::now();
    let key = CacheKey::from_parts(&["d"]);
    cache.put(&key, &entry(3600, now), now);
    fs::set_permissions(cache.path(&key), fs::Permissions::from_mode(0o620))?;
    assert!(cache.get(&key, now).is_none());
    assert!(!cache.path(&key).exists());
    kubecred::fs::write_private(&cache.path(&key), b"{not json")?;
    assert!(cache.get(&key, now).is_none());
    assert!(!cache.path(&key).exists());
    Ok(())
}

#[test]
fn times_near_the_end_of_time_are_refused_and_removed() -> TestResult {
    let (_base, cache) = cache()?;
    let now = at(1_700_000_000);
    let key = CacheKey::from_parts(&["end of time"]);
    for (what, times) in [
        (
            "u64::MAX",
            serde_json::json!({"expiresAt": u64::MAX, "refreshAt": u64::MAX}),
        ),
        (
            "next to it",
            serde_json::json!({"expiresAt": u64::MAX - 1, "refreshAt": 1_700_000_800u64}),
        ),
        (
            "a year away",
            serde_json::json!({"expiresAt": 1_731_536_000u64}),
        ),
        (
            "refreshed after expiry",
            serde_json::json!({"refreshAt": 1_700_002_000u64}),
        ),
    ] {
        plant(&cache, &key, &stored(&key, times))?;
        assert!(cache.get(&key, now).is_none(), "{what}");
        assert!(!cache.path(&key).exists(), "{what}: removed");
    }
    // Within range, the same file is served.
    plant(&cache, &key, &stored(&key, serde_json::json!({})))?;
    assert!(cache.get(&key, now).is_some());
    Ok(())
}

#[test]
fn an_entry_copied_under_another_key_is_refused_and_removed() -> TestResult {
    let (_base, cache) = cache()?;
    let now = SystemTime::now();
    let (ours, theirs) = (
        CacheKey::from_parts(&["host a"]),
        CacheKey::from_parts(&["host b"]),
    );
    cache.put(&ours, &entry(3600, now), now);
    fs::copy(cache.path(&ours), cache.path(&theirs))?;
    assert!(cache.get(&theirs, now).is_none());
    assert!(!cache.path(&theirs).exists(), "removed");
    assert!(cache.get(&ours, now).is_some(), "the original still serves");
    // Listing checks each file against its own name.
    fs::copy(cache.path(&ours), cache.path(&theirs))?;
    assert_eq!(cache.entries(now).len(), 1);
    assert!(!cache.path(&theirs).exists());
    Ok(())
}

#[test]
fn fields_with_control_characters_or_no_secret_are_refused() -> TestResult {
    let (_base, cache) = cache()?;
    let now = at(1_700_000_000);
    let key = CacheKey::from_parts(&["fields"]);
    for changes in [
        serde_json::json!({"username": "AWS\npassword=injected"}),
        serde_json::json!({"label": "a\u{7}b"}),
        serde_json::json!({"secret": ""}),
    ] {
        plant(&cache, &key, &stored(&key, changes.clone()))?;
        assert!(cache.get(&key, now).is_none(), "{changes}");
        assert!(!cache.path(&key).exists(), "{changes}: removed");
    }
    Ok(())
}

#[test]
fn another_format_version_is_a_miss_and_kept_for_overwriting() -> TestResult {
    let (_base, cache) = cache()?;
    let now = at(1_700_000_000);
    let key = CacheKey::from_parts(&["v1"]);
    // Version 1 had no key.
    let mut v1 = stored(&key, serde_json::json!({"version": 1}));
    v1.as_object_mut().map(|fields| fields.remove("key"));
    plant(&cache, &key, &v1)?;
    assert!(cache.get(&key, now).is_none());
    assert!(cache.path(&key).exists());
    Ok(())
}

#[test]
fn entries_list_only_fresh_ones_of_the_kind() -> TestResult {
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
fn debug_shows_neither_the_secret_nor_the_username() {
    // CodeCommit's username embeds the session token.
    let entry = Entry {
        username: "ASIAEXAMPLE%session-token-value".into(),
        ..entry(1, SystemTime::now())
    };
    let shown = format!("{entry:?}");
    assert!(!shown.contains("registry-password"), "{shown}");
    assert!(!shown.contains("session-token-value"), "{shown}");
    assert!(shown.contains("public.ecr.aws"), "{shown}");
}
