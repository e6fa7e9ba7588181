//! [`TokenCache`]: the one caching layer, outside every provider.
//!
//! - Keyed by [`CacheKey`] (every input that changes the credential).
//! - An entry is fresh until 80% of the credential's remaining lifetime at insertion (the
//!   kubelet's ServiceAccount-token rotation point), capped by [`CacheConfig::max_duration`].
//! - Bounded, least-recently-used eviction.
//! - Per-key single flight: concurrent callers of one key share one exchange, and no lock is
//!   held while an exchange runs, so a slow exchange for one key never delays another key.
//! - Errors are never cached. When a refresh fails transiently while the old credential is still
//!   valid, the old credential is served and the failure logged.
//! - The clock is injected.
//!
//! Hand-written rather than `moka`: the entries need an injected clock, a refresh point distinct
//! from expiry, and "serve the old value on a transient failure", none of which moka offers.

use std::collections::HashMap;
use std::future::Future;
use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::{Duration, SystemTime};

use lru::LruCache;
use prometheus_client::registry::Registry;
use tokio::sync::watch;

use crate::CacheKey;
use crate::cache_metrics::{InvolvedObject, MetricsOptions, Recorder};
use crate::clock::{SharedClock, SystemClock};
use crate::credential::Credential;
use crate::error::{Error, Result};

/// The default maximum time a credential is served from the cache.
pub const DEFAULT_MAX_DURATION: Duration = Duration::from_secs(3600);

/// Something with an expiry that the cache can hold.
pub trait Expiring: Clone + Send + Sync + 'static {
    /// When it stops being valid; `None` means it is never cached.
    fn expires_at(&self) -> Option<SystemTime>;
}

impl Expiring for Credential {
    fn expires_at(&self) -> Option<SystemTime> {
        Credential::expires_at(self)
    }
}

/// Cache settings (controller flags `--token-cache-max-size`, `--token-cache-max-duration`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CacheConfig {
    /// The most entries kept; the least recently used goes first.
    pub capacity: NonZeroUsize,
    /// The longest time an entry is served, whatever the credential's lifetime.
    pub max_duration: Duration,
}

impl Default for CacheConfig {
    fn default() -> Self {
        CacheConfig {
            capacity: NonZeroUsize::new(1024).unwrap_or(NonZeroUsize::MIN),
            max_duration: DEFAULT_MAX_DURATION,
        }
    }
}

/// When an entry inserted at `now` for a credential expiring at `expires_at` stops being fresh:
/// 80% of the remaining lifetime, at most `max_duration`. `None` when it is not worth caching.
pub fn refresh_point(
    now: SystemTime,
    expires_at: SystemTime,
    max_duration: Duration,
) -> Option<SystemTime> {
    let remaining = expires_at.duration_since(now).ok()?;
    let fresh_for = (remaining.mul_f64(0.8)).min(max_duration);
    (!fresh_for.is_zero()).then(|| now + fresh_for)
}

/// A point-in-time copy of the cache's counters (for tests and logs; for a controller's
/// `/metrics`, register the cache with [`TokenCache::register_metrics`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CacheMetrics {
    /// Calls answered from a fresh entry.
    pub hits: u64,
    /// Calls that found no fresh entry (including those that waited on another caller's exchange).
    pub misses: u64,
    /// Exchanges run.
    pub exchanges: u64,
    /// Exchanges that failed.
    pub errors: u64,
    /// Entries dropped to make room.
    pub evictions: u64,
    /// Entries held now.
    pub entries: u64,
}

/// A keyed, bounded, single-flight cache of expiring credentials. Clones share the cache.
#[derive(Clone)]
pub struct TokenCache<T: Expiring = Credential> {
    shared: Arc<Shared<T>>,
}

struct Shared<T> {
    state: Mutex<State<T>>,
    config: CacheConfig,
    clock: SharedClock,
    counters: Counters,
    /// The Prometheus metrics, once registered.
    recorder: OnceLock<Recorder>,
}

struct State<T> {
    entries: LruCache<CacheKey, Entry<T>>,
    in_flight: HashMap<CacheKey, watch::Receiver<Option<Result<T>>>>,
}

struct Entry<T> {
    value: T,
    refresh_at: SystemTime,
    expires_at: SystemTime,
}

#[derive(Default)]
struct Counters {
    hits: AtomicU64,
    misses: AtomicU64,
    exchanges: AtomicU64,
    errors: AtomicU64,
    evictions: AtomicU64,
}

/// What a caller does after looking at the cache.
enum Claim<T> {
    Hit(T),
    Wait(watch::Receiver<Option<Result<T>>>),
    Lead(watch::Sender<Option<Result<T>>>),
}

impl<T: Expiring> TokenCache<T> {
    /// A cache with the system clock.
    pub fn new(config: CacheConfig) -> Self {
        Self::with_clock(config, Arc::new(SystemClock))
    }

    /// A cache reading time from `clock`.
    pub fn with_clock(config: CacheConfig, clock: SharedClock) -> Self {
        let state = State {
            entries: LruCache::new(config.capacity),
            in_flight: HashMap::new(),
        };
        TokenCache {
            shared: Arc::new(Shared {
                state: Mutex::new(state),
                config,
                clock,
                counters: Counters::default(),
                recorder: OnceLock::new(),
            }),
        }
    }

    /// The fresh value of `key`, or the result of `exchange`, run once however many callers ask
    /// at the same time.
    pub async fn get_or_fetch<F, Fut>(&self, key: &CacheKey, exchange: F) -> Result<T>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        self.get_or_fetch_for(key, None, exchange).await
    }

    /// [`TokenCache::get_or_fetch`] for `object`: its hit or miss is counted in
    /// `cache_events_total` once the metrics are registered.
    pub async fn get_or_fetch_for<F, Fut>(
        &self,
        key: &CacheKey,
        object: Option<&InvolvedObject>,
        exchange: F,
    ) -> Result<T>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let (outcome, hit) = self.fetch(key, exchange).await;
        if let Some(recorder) = self.shared.recorder.get() {
            recorder.request(outcome.is_ok());
            if let Some(object) = object {
                recorder.event(hit, object);
            }
        }
        outcome
    }

    /// Registers the cache's Prometheus metrics (see [`crate::cache_metrics`]) in `registry`;
    /// once per cache.
    ///
    /// ```
    /// use kubecred::cache_metrics::Registry;
    /// use kubecred::{MetricsOptions, TokenCache};
    ///
    /// let cache: TokenCache = TokenCache::new(Default::default());
    /// let mut registry = Registry::with_prefix("gotk");
    /// cache.register_metrics(&mut registry, &MetricsOptions::default())?;
    /// let mut text = String::new();
    /// prometheus_client::encoding::text::encode(&mut text, &registry)?;
    /// assert!(text.contains("gotk_cached_items 0"));
    /// assert!(cache.register_metrics(&mut registry, &MetricsOptions::default()).is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn register_metrics(
        &self,
        registry: &mut Registry,
        options: &MetricsOptions,
    ) -> Result<()> {
        if self.shared.recorder.get().is_some() {
            return Err(Error::invalid("the cache's metrics are already registered"));
        }
        let recorder = Recorder::register(registry, options);
        recorder.items(self.shared.lock().entries.len());
        self.shared
            .recorder
            .set(recorder)
            .map_err(|_| Error::invalid("the cache's metrics are already registered"))
    }

    /// Drops the cache-event series of `object`, e.g. when it is deleted.
    pub fn forget_object(&self, object: &InvolvedObject) {
        if let Some(recorder) = self.shared.recorder.get() {
            recorder.forget(object);
        }
    }

    /// The value and whether it came from a fresh entry.
    async fn fetch<F, Fut>(&self, key: &CacheKey, exchange: F) -> (Result<T>, bool)
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let leader = loop {
            match self.claim(key) {
                Claim::Hit(value) => return (Ok(value), true),
                Claim::Lead(sender) => break sender,
                Claim::Wait(mut receiver) => {
                    let shared = receiver
                        .wait_for(Option::is_some)
                        .await
                        .ok()
                        .and_then(|o| o.clone());
                    if let Some(outcome) = shared {
                        return (outcome, false);
                    }
                    // The leader was cancelled before it finished: claim again.
                }
            }
        };
        let guard = InFlight {
            shared: &self.shared,
            key: *key,
        };
        self.shared
            .counters
            .exchanges
            .fetch_add(1, Ordering::Relaxed);
        let outcome = self.settle(key, exchange().await);
        drop(guard);
        leader.send_replace(Some(outcome.clone()));
        (outcome, false)
    }

    fn claim(&self, key: &CacheKey) -> Claim<T> {
        let now = self.shared.clock.now();
        let mut state = self.shared.lock();
        if let Some(entry) = state.entries.get(key)
            && now < entry.refresh_at
        {
            self.shared.counters.hits.fetch_add(1, Ordering::Relaxed);
            return Claim::Hit(entry.value.clone());
        }
        self.shared.counters.misses.fetch_add(1, Ordering::Relaxed);
        if let Some(receiver) = state.in_flight.get(key) {
            return Claim::Wait(receiver.clone());
        }
        let (sender, receiver) = watch::channel(None);
        state.in_flight.insert(*key, receiver);
        Claim::Lead(sender)
    }

    /// Stores a fresh value, or decides what a failed exchange returns.
    fn settle(&self, key: &CacheKey, outcome: Result<T>) -> Result<T> {
        let now = self.shared.clock.now();
        let mut state = self.shared.lock();
        match outcome {
            Ok(value) => {
                self.insert(&mut state, key, value.clone(), now);
                Ok(value)
            }
            Err(error) => {
                self.shared.counters.errors.fetch_add(1, Ordering::Relaxed);
                let still_valid = state
                    .entries
                    .peek(key)
                    .filter(|entry| now < entry.expires_at);
                match still_valid {
                    Some(entry) if error.is_transient() => {
                        tracing::warn!(key = ?key, error = %error, "refresh failed; serving the still-valid credential");
                        Ok(entry.value.clone())
                    }
                    _ => {
                        state.entries.pop(key);
                        self.shared.count_items(&state);
                        Err(error)
                    }
                }
            }
        }
    }

    fn insert(&self, state: &mut State<T>, key: &CacheKey, value: T, now: SystemTime) {
        let refresh_at = value.expires_at().and_then(|expires_at| {
            refresh_point(now, expires_at, self.shared.config.max_duration)
                .map(|refresh_at| (refresh_at, expires_at))
        });
        let Some((refresh_at, expires_at)) = refresh_at else {
            state.entries.pop(key);
            self.shared.count_items(state);
            return;
        };
        let entry = Entry {
            value,
            refresh_at,
            expires_at,
        };
        if let Some((evicted, _)) = state.entries.push(*key, entry)
            && evicted != *key
        {
            self.shared
                .counters
                .evictions
                .fetch_add(1, Ordering::Relaxed);
            if let Some(recorder) = self.shared.recorder.get() {
                recorder.eviction();
            }
        }
        self.shared.count_items(state);
    }

    /// A snapshot of the counters.
    pub fn metrics(&self) -> CacheMetrics {
        let c = &self.shared.counters;
        CacheMetrics {
            hits: c.hits.load(Ordering::Relaxed),
            misses: c.misses.load(Ordering::Relaxed),
            exchanges: c.exchanges.load(Ordering::Relaxed),
            errors: c.errors.load(Ordering::Relaxed),
            evictions: c.evictions.load(Ordering::Relaxed),
            entries: self.shared.lock().entries.len() as u64,
        }
    }
}

impl<T> Shared<T> {
    /// Sets `cached_items` from the cache's size (called under the lock, after each change).
    fn count_items(&self, state: &State<T>) {
        if let Some(recorder) = self.recorder.get() {
            recorder.items(state.entries.len());
        }
    }

    fn lock(&self) -> MutexGuard<'_, State<T>> {
        // No code panics while holding the lock; recover the state anyway rather than spread a panic.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl<T: Expiring> std::fmt::Debug for TokenCache<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenCache")
            .field("config", &self.shared.config)
            .field("metrics", &self.metrics())
            .finish()
    }
}

/// Removes the in-flight marker when the leader finishes or is cancelled, so waiters never
/// wait on an exchange that no longer runs.
struct InFlight<'a, T> {
    shared: &'a Shared<T>,
    key: CacheKey,
}

impl<T> Drop for InFlight<'_, T> {
    fn drop(&mut self) {
        self.shared.lock().in_flight.remove(&self.key);
    }
}

#[cfg(test)]
#[path = "cache_tests.rs"]
mod tests;
