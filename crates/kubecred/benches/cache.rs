//! Token cache benchmarks (`cargo bench -p kubecred --bench cache`).
//!
//! Prints three figures, each beside a baseline measured in the same run:
//! 1. hit latency with 10,000 entries, against a bare `Mutex<HashMap>` lookup;
//! 2. exchanges caused by 64 concurrent callers of one cold key, against no cache;
//! 3. hit latency on other keys while one key's exchange stalls for 2 s, against the same hits
//!    with no stall, and against a cache that holds one lock across fetches (the reference's
//!    design).

// Benchmarks measure wall time; the library's injected-clock rule is for the library.
#![allow(clippy::disallowed_methods, missing_docs)]

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use kubecred::{CacheConfig, CacheKey, Credential, KubernetesToken, Secret, TokenCache};

const ENTRIES: usize = 10_000;
const SAMPLES: usize = 200_000;
const STALL: Duration = Duration::from_secs(2);

fn token() -> Credential {
    Credential::KubernetesToken(KubernetesToken {
        token: Secret::new("eyJhbGciOiJSUzI1NiJ9.bench.sig"),
        expires_at: SystemTime::now() + Duration::from_secs(3600),
    })
}

fn keys(n: usize) -> Vec<CacheKey> {
    (0..n)
        .map(|i| {
            CacheKey::from_parts(&[
                "provider=generic".to_string(),
                format!("serviceAccountName=sa-{i}"),
            ])
        })
        .collect()
}

fn cache(capacity: usize) -> TokenCache {
    let capacity = std::num::NonZeroUsize::new(capacity).unwrap_or(std::num::NonZeroUsize::MIN);
    TokenCache::new(CacheConfig {
        capacity,
        ..CacheConfig::default()
    })
}

/// A fixed pseudo-random order of key indexes, so both sides see the same access pattern.
fn order(n: usize, len: usize) -> Vec<usize> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x % n as u64) as usize
        })
        .collect()
}

fn percentile(samples: &mut [Duration], p: f64) -> Duration {
    samples.sort_unstable();
    samples[((samples.len() - 1) as f64 * p) as usize]
}

fn ns(d: Duration) -> f64 {
    d.as_nanos() as f64
}

async fn hit_latency(rt_cache: &TokenCache, keys: &[CacheKey], order: &[usize]) -> Vec<Duration> {
    let mut samples = Vec::with_capacity(order.len());
    for &i in order {
        let start = Instant::now();
        let hit = rt_cache
            .get_or_fetch(&keys[i], || async { Ok(token()) })
            .await;
        samples.push(start.elapsed());
        std::hint::black_box(hit.ok());
    }
    samples
}

async fn bench_hits() {
    let keys = keys(ENTRIES);
    let cache = cache(ENTRIES);
    for key in &keys {
        let _ = cache.get_or_fetch(key, || async { Ok(token()) }).await;
    }
    let order = order(ENTRIES, SAMPLES);
    let _warm = hit_latency(&cache, &keys, &order[..10_000]).await;
    let mut ours = hit_latency(&cache, &keys, &order).await;

    let baseline: Mutex<HashMap<CacheKey, Credential>> =
        Mutex::new(keys.iter().map(|k| (*k, token())).collect());
    let mut theirs = Vec::with_capacity(SAMPLES);
    for &i in &order {
        let start = Instant::now();
        let hit = baseline
            .lock()
            .ok()
            .and_then(|map| map.get(&keys[i]).cloned());
        theirs.push(start.elapsed());
        std::hint::black_box(hit);
    }
    let (p50, p99) = (percentile(&mut ours, 0.5), percentile(&mut ours, 0.99));
    let base50 = percentile(&mut theirs, 0.5);
    let metrics = cache.metrics();
    println!(
        "cache hit, {ENTRIES} entries: p50 {:.0} ns, p99 {:.0} ns | baseline Mutex<HashMap> lookup p50 {:.0} ns | ratio {:.2}x | {}",
        ns(p50),
        ns(p99),
        ns(base50),
        ns(p50) / ns(base50).max(1.0),
        if p50 < Duration::from_micros(1) {
            "target p50 < 1 µs: met"
        } else {
            "target p50 < 1 µs: MISSED"
        }
    );
    assert_eq!(
        metrics.entries as usize, ENTRIES,
        "every entry must still be cached"
    );
}

async fn bench_single_flight() {
    let exchange = |calls: Arc<AtomicUsize>| async move {
        calls.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(50)).await;
        Ok(token())
    };
    let cache = cache(16);
    let key = keys(1)[0];
    let calls = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let tasks: Vec<_> = (0..64)
        .map(|_| {
            let (cache, calls) = (cache.clone(), calls.clone());
            tokio::spawn(async move { cache.get_or_fetch(&key, || exchange(calls)).await.is_ok() })
        })
        .collect();
    let mut ok = 0;
    for task in tasks {
        ok += usize::from(task.await.unwrap_or(false));
    }
    let ours = (calls.load(Ordering::SeqCst), start.elapsed());

    let uncached = Arc::new(AtomicUsize::new(0));
    let tasks: Vec<_> = (0..64)
        .map(|_| tokio::spawn(exchange(uncached.clone())))
        .collect();
    for task in tasks {
        let _ = task.await;
    }
    let baseline = uncached.load(Ordering::SeqCst);
    println!(
        "64 concurrent callers, one cold key: {} exchange(s), {ok}/64 served in {:.0} ms | baseline without cache: {baseline} exchanges | ratio {:.3}x",
        ours.0,
        ours.1.as_secs_f64() * 1000.0,
        ours.0 as f64 / baseline as f64
    );
}

/// The reference's design: one lock held across the fetch.
struct GlobalLockCache(tokio::sync::Mutex<HashMap<CacheKey, Credential>>);

impl GlobalLockCache {
    async fn get_or_fetch<F: std::future::Future<Output = Credential>>(
        &self,
        key: &CacheKey,
        fetch: F,
    ) -> Credential {
        let mut map = self.0.lock().await;
        if let Some(hit) = map.get(key) {
            return hit.clone();
        }
        let value = fetch.await;
        map.insert(*key, value.clone());
        value
    }
}

async fn other_key_hits(cache: &TokenCache, keys: &[CacheKey], window: Duration) -> Vec<Duration> {
    let order = order(keys.len(), usize::MAX >> 40);
    let mut samples = Vec::new();
    let start = Instant::now();
    for &i in order.iter().cycle() {
        if start.elapsed() > window {
            break;
        }
        let t = Instant::now();
        let hit = cache.get_or_fetch(&keys[i], || async { Ok(token()) }).await;
        samples.push(t.elapsed());
        std::hint::black_box(hit.ok());
        tokio::task::yield_now().await;
    }
    samples
}

async fn bench_stall() {
    let all = keys(101);
    let (stalled_key, others) = (all[0], &all[1..]);
    let cache = cache(1024);
    for key in others {
        let _ = cache.get_or_fetch(key, || async { Ok(token()) }).await;
    }
    let mut baseline = other_key_hits(&cache, others, Duration::from_millis(500)).await;

    let stalled = cache.clone();
    let stall = tokio::spawn(async move {
        stalled
            .get_or_fetch(&stalled_key, || async {
                tokio::time::sleep(STALL).await;
                Ok(token())
            })
            .await
            .is_ok()
    });
    tokio::time::sleep(Duration::from_millis(10)).await;
    let mut during = other_key_hits(&cache, others, Duration::from_millis(1500)).await;
    let stalled_ok = stall.await.unwrap_or(false);

    let global = Arc::new(GlobalLockCache(tokio::sync::Mutex::new(
        others.iter().map(|k| (*k, token())).collect(),
    )));
    let blocker = global.clone();
    let global_stall = tokio::spawn(async move {
        blocker
            .get_or_fetch(&stalled_key, async {
                tokio::time::sleep(STALL).await;
                token()
            })
            .await
    });
    tokio::time::sleep(Duration::from_millis(10)).await;
    let t = Instant::now();
    std::hint::black_box(global.get_or_fetch(&others[0], async { token() }).await);
    let global_hit = t.elapsed();
    let _ = global_stall.await;

    let (p50, p99, max) = (
        percentile(&mut during, 0.5),
        percentile(&mut during, 0.99),
        percentile(&mut during, 1.0),
    );
    let base50 = percentile(&mut baseline, 0.5);
    println!(
        "hits on other keys while one exchange stalls {} s: {} hits, p50 {:.0} ns, p99 {:.0} ns, max {:.1} µs | baseline without stall p50 {:.0} ns | ratio {:.2}x | global-lock cache (reference design): one hit took {:.0} ms ({:.0}x our max) | stalled exchange finished: {stalled_ok}",
        STALL.as_secs(),
        during.len(),
        ns(p50),
        ns(p99),
        ns(max) / 1000.0,
        ns(base50),
        ns(p50) / ns(base50).max(1.0),
        global_hit.as_secs_f64() * 1000.0,
        ns(global_hit) / ns(max).max(1.0),
    );
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build();
    let Ok(runtime) = runtime else {
        eprintln!("cannot start a tokio runtime");
        std::process::exit(1);
    };
    // `cargo test --benches` passes --bench too; run the figures only under `cargo bench`.
    if std::env::args().any(|a| a == "--test") {
        return;
    }
    runtime.block_on(async {
        bench_hits().await;
        bench_single_flight().await;
        bench_stall().await;
    });
}
