//! Tests of the token cache (a file of their own: they outweigh the cache).

use std::sync::atomic::AtomicUsize;
use std::time::Duration;

use super::*;
use crate::clock::{Clock, ManualClock};
use crate::error::Error;

#[derive(Clone, Debug, PartialEq)]
struct Tok {
    id: usize,
    expires_at: Option<SystemTime>,
}

impl Expiring for Tok {
    fn expires_at(&self) -> Option<SystemTime> {
        self.expires_at
    }
}

const START: Duration = Duration::from_secs(1_800_000_000);

fn setup(capacity: usize, max: Duration) -> (TokenCache<Tok>, ManualClock) {
    let clock = ManualClock::new(SystemTime::UNIX_EPOCH + START);
    let config = CacheConfig {
        capacity: NonZeroUsize::new(capacity).unwrap_or(NonZeroUsize::MIN),
        max_duration: max,
    };
    (
        TokenCache::with_clock(config, Arc::new(clock.clone())),
        clock,
    )
}

fn key(name: &str) -> CacheKey {
    CacheKey::from_parts(&[name])
}

/// An exchange that counts its calls and returns a token living `lifetime` from `clock`'s now.
fn minting(calls: &AtomicUsize, clock: &ManualClock, lifetime: Duration) -> Result<Tok> {
    let id = calls.fetch_add(1, Ordering::SeqCst) + 1;
    Ok(Tok {
        id,
        expires_at: Some(clock.now() + lifetime),
    })
}

#[test]
fn refresh_point_is_eighty_percent_capped() {
    let now = SystemTime::UNIX_EPOCH + START;
    let hour = Duration::from_secs(3600);
    assert_eq!(
        refresh_point(now, now + Duration::from_secs(100), hour),
        Some(now + Duration::from_secs(80))
    );
    assert_eq!(refresh_point(now, now + 10 * hour, hour), Some(now + hour));
    assert_eq!(
        refresh_point(now, now + hour, Duration::from_secs(60)),
        Some(now + Duration::from_secs(60))
    );
    assert_eq!(refresh_point(now, now, hour), None);
    assert_eq!(refresh_point(now, now - hour, hour), None);
    assert_eq!(refresh_point(now, now + hour, Duration::ZERO), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixty_four_concurrent_callers_cause_one_exchange() {
    let (cache, clock) = setup(16, DEFAULT_MAX_DURATION);
    let calls = Arc::new(AtomicUsize::new(0));
    let barrier = Arc::new(tokio::sync::Barrier::new(64));
    let mut tasks = Vec::new();
    for _ in 0..64 {
        let (cache, clock, calls, barrier) =
            (cache.clone(), clock.clone(), calls.clone(), barrier.clone());
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            cache
                .get_or_fetch(&key("cold"), || async {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    minting(&calls, &clock, Duration::from_secs(3600))
                })
                .await
        }));
    }
    for task in tasks {
        let token = task.await.ok().and_then(Result::ok);
        assert_eq!(token.map(|t| t.id), Some(1));
    }
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    let metrics = cache.metrics();
    assert_eq!(
        (
            metrics.exchanges,
            metrics.hits + metrics.misses,
            metrics.entries
        ),
        (1, 64, 1)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_exchange_does_not_delay_other_keys() {
    let (cache, clock) = setup(16, DEFAULT_MAX_DURATION);
    let calls = AtomicUsize::new(0);
    cache
        .get_or_fetch(&key("warm"), || async {
            minting(&calls, &clock, Duration::from_secs(3600))
        })
        .await
        .ok();

    let stalled = cache.clone();
    let release = Arc::new(tokio::sync::Notify::new());
    let gate = release.clone();
    let stalled_task = tokio::spawn(async move {
        stalled
            .get_or_fetch(&key("stalled"), || async move {
                gate.notified().await;
                Err::<Tok, _>(Error::transient("released"))
            })
            .await
    });
    tokio::time::sleep(Duration::from_millis(20)).await; // the stalled exchange is running

    let other = tokio::time::timeout(Duration::from_millis(500), async {
        let hit = cache
            .get_or_fetch(&key("warm"), || async {
                Err(Error::upstream("must not run"))
            })
            .await;
        let cold = cache
            .get_or_fetch(&key("cold"), || async {
                minting(&calls, &clock, Duration::from_secs(3600))
            })
            .await;
        (hit.map(|t| t.id).ok(), cold.map(|t| t.id).ok())
    })
    .await;
    assert_eq!(
        other.ok(),
        Some((Some(1), Some(2))),
        "other keys were delayed by the stalled exchange"
    );
    assert!(!stalled_task.is_finished());
    release.notify_one();
    assert!(stalled_task.await.ok().is_some_and(|r| r.is_err()));
}

#[tokio::test]
async fn entries_refresh_at_eighty_percent_of_lifetime() {
    let (cache, clock) = setup(16, DEFAULT_MAX_DURATION);
    let calls = AtomicUsize::new(0);
    let fetch = || async { minting(&calls, &clock, Duration::from_secs(100)) };
    assert_eq!(
        cache
            .get_or_fetch(&key("k"), fetch)
            .await
            .ok()
            .map(|t| t.id),
        Some(1)
    );
    clock.advance(Duration::from_secs(79));
    assert_eq!(
        cache
            .get_or_fetch(&key("k"), fetch)
            .await
            .ok()
            .map(|t| t.id),
        Some(1)
    );
    clock.advance(Duration::from_secs(1));
    assert_eq!(
        cache
            .get_or_fetch(&key("k"), fetch)
            .await
            .ok()
            .map(|t| t.id),
        Some(2)
    );
}

#[tokio::test]
async fn entries_refresh_at_the_maximum_duration() {
    let (cache, clock) = setup(16, Duration::from_secs(3600));
    let calls = AtomicUsize::new(0);
    let fetch = || async { minting(&calls, &clock, Duration::from_secs(10 * 3600)) };
    cache.get_or_fetch(&key("k"), fetch).await.ok();
    clock.advance(Duration::from_secs(3599));
    assert_eq!(
        cache
            .get_or_fetch(&key("k"), fetch)
            .await
            .ok()
            .map(|t| t.id),
        Some(1)
    );
    clock.advance(Duration::from_secs(1));
    assert_eq!(
        cache
            .get_or_fetch(&key("k"), fetch)
            .await
            .ok()
            .map(|t| t.id),
        Some(2)
    );
}

#[tokio::test]
async fn a_transiently_failed_refresh_serves_the_still_valid_token() {
    let (cache, clock) = setup(16, DEFAULT_MAX_DURATION);
    let calls = AtomicUsize::new(0);
    cache
        .get_or_fetch(&key("k"), || async {
            minting(&calls, &clock, Duration::from_secs(100))
        })
        .await
        .ok();
    clock.advance(Duration::from_secs(90)); // past the refresh point, before expiry
    let failing = || async { Err::<Tok, _>(Error::transient("sts unavailable")) };
    assert_eq!(
        cache
            .get_or_fetch(&key("k"), failing)
            .await
            .ok()
            .map(|t| t.id),
        Some(1)
    );
    clock.advance(Duration::from_secs(10)); // now expired
    let error = cache.get_or_fetch(&key("k"), failing).await.err();
    assert!(error.is_some_and(|e| e.is_transient()));
    assert_eq!(cache.metrics().errors, 2);
}

#[tokio::test]
async fn a_permanent_refresh_failure_is_returned_and_drops_the_entry() {
    let (cache, clock) = setup(16, DEFAULT_MAX_DURATION);
    let calls = AtomicUsize::new(0);
    cache
        .get_or_fetch(&key("k"), || async {
            minting(&calls, &clock, Duration::from_secs(100))
        })
        .await
        .ok();
    clock.advance(Duration::from_secs(90));
    let denied = cache
        .get_or_fetch(&key("k"), || async {
            Err::<Tok, _>(Error::denied("access denied"))
        })
        .await;
    assert!(denied.is_err());
    assert_eq!(cache.metrics().entries, 0);
}

#[tokio::test]
async fn errors_are_never_cached() {
    let (cache, clock) = setup(16, DEFAULT_MAX_DURATION);
    let calls = AtomicUsize::new(0);
    let first = cache
        .get_or_fetch(&key("k"), || async {
            Err::<Tok, _>(Error::upstream("bad answer"))
        })
        .await;
    assert!(first.is_err());
    let second = cache
        .get_or_fetch(&key("k"), || async {
            minting(&calls, &clock, Duration::from_secs(100))
        })
        .await;
    assert_eq!(second.ok().map(|t| t.id), Some(1));
}

#[tokio::test]
async fn credentials_without_expiry_or_already_expired_are_not_cached() {
    let (cache, clock) = setup(16, DEFAULT_MAX_DURATION);
    let calls = AtomicUsize::new(0);
    for lifetime in [None, Some(Duration::ZERO)] {
        let fetch = || async {
            let id = calls.fetch_add(1, Ordering::SeqCst);
            Ok(Tok {
                id,
                expires_at: lifetime.map(|l| clock.now() + l),
            })
        };
        cache.get_or_fetch(&key("k"), fetch).await.ok();
        cache.get_or_fetch(&key("k"), fetch).await.ok();
    }
    assert_eq!(calls.load(Ordering::SeqCst), 4);
    assert_eq!(cache.metrics().entries, 0);
}

#[tokio::test]
async fn least_recently_used_entries_are_evicted() {
    let (cache, clock) = setup(2, DEFAULT_MAX_DURATION);
    let calls = AtomicUsize::new(0);
    let fetch = || async { minting(&calls, &clock, Duration::from_secs(100)) };
    for name in ["a", "b", "a", "c"] {
        cache.get_or_fetch(&key(name), fetch).await.ok();
    }
    // "b" was least recently used when "c" arrived.
    assert_eq!(
        cache
            .get_or_fetch(&key("a"), fetch)
            .await
            .ok()
            .map(|t| t.id),
        Some(1)
    );
    assert_eq!(
        cache
            .get_or_fetch(&key("b"), fetch)
            .await
            .ok()
            .map(|t| t.id),
        Some(4)
    );
    let metrics = cache.metrics();
    assert_eq!((metrics.evictions, metrics.entries), (2, 2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_leader_hands_over_to_a_waiter() {
    let (cache, clock) = setup(16, DEFAULT_MAX_DURATION);
    let leader = cache.clone();
    let task = tokio::spawn(async move {
        leader
            .get_or_fetch(&key("k"), std::future::pending::<Result<Tok>>)
            .await
    });
    tokio::time::sleep(Duration::from_millis(20)).await;
    let calls = AtomicUsize::new(0);
    let k = key("k");
    let waiter = cache.get_or_fetch(&k, || async {
        minting(&calls, &clock, Duration::from_secs(100))
    });
    let aborter = async {
        tokio::time::sleep(Duration::from_millis(20)).await;
        task.abort();
    };
    let (result, ()) = tokio::join!(
        tokio::time::timeout(Duration::from_secs(2), waiter),
        aborter
    );
    assert_eq!(result.ok().and_then(Result::ok).map(|t| t.id), Some(1));
}

fn object(name: &str) -> InvolvedObject {
    InvolvedObject {
        kind: "OCIRepository".into(),
        name: name.into(),
        namespace: "team-a".into(),
        operation: "reconcile".into(),
    }
}

fn encoded(registry: &Registry) -> String {
    let mut text = String::new();
    match prometheus_client::encoding::text::encode(&mut text, registry) {
        Ok(()) => text,
        Err(error) => format!("encoding failed: {error}"),
    }
}

#[tokio::test]
async fn prometheus_metrics_have_the_reference_names_labels_and_counts() {
    let (cache, clock) = setup(1, Duration::from_secs(3600));
    let calls = AtomicUsize::new(0);
    let mut registry = Registry::with_prefix("gotk");
    let options = MetricsOptions {
        namespace_label: "exported_namespace".into(),
    };
    assert!(cache.register_metrics(&mut registry, &options).is_ok());
    assert!(cache.register_metrics(&mut registry, &options).is_err());

    let app = object("app");
    let mint = || async { minting(&calls, &clock, Duration::from_secs(600)) };
    // miss, hit, then a failure (miss) for another key, then a third key evicts the first.
    assert!(
        cache
            .get_or_fetch_for(&key("a"), Some(&app), mint)
            .await
            .is_ok()
    );
    assert!(
        cache
            .get_or_fetch_for(&key("a"), Some(&app), mint)
            .await
            .is_ok()
    );
    let failing = || async { Err::<Tok, _>(Error::denied("no")) };
    assert!(
        cache
            .get_or_fetch_for(&key("b"), Some(&app), failing)
            .await
            .is_err()
    );
    assert!(cache.get_or_fetch(&key("c"), mint).await.is_ok());

    let text = encoded(&registry);
    let labels = |event: &str| {
        format!(
            "gotk_cache_events_total{{event_type=\"{event}\",kind=\"OCIRepository\",name=\"app\",exported_namespace=\"team-a\",operation=\"reconcile\"}}"
        )
    };
    for line in [
        "# HELP gotk_cache_events Total number of cache retrieval events for a Gitops Toolkit resource reconciliation.",
        "# TYPE gotk_cache_events counter",
        &format!("{} 1", labels("cache_hit")),
        &format!("{} 2", labels("cache_miss")),
        "# HELP gotk_cached_items Total number of items in the cache.",
        "gotk_cached_items 1",
        "gotk_cache_requests_total{status=\"success\"} 3",
        "gotk_cache_requests_total{status=\"failure\"} 1",
        "# HELP gotk_cache_evictions Total number of cache evictions.",
        "gotk_cache_evictions_total 1",
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "no line {line:?} in\n{text}"
        );
    }

    // A deleted object's series go; the others stay.
    cache.forget_object(&app);
    let text = encoded(&registry);
    assert!(!text.contains("name=\"app\""), "{text}");
    assert!(
        text.contains("gotk_cache_requests_total{status=\"success\"} 3"),
        "{text}"
    );
}
