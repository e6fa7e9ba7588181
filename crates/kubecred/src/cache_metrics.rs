//! Prometheus metrics of a [`TokenCache`](crate::TokenCache), with the names, help texts and
//! labels of the Flux reference, so existing dashboards and alerts keep working:
//!
//! | metric | type | labels |
//! |---|---|---|
//! | `cache_events_total` | counter | `event_type` (`cache_hit`/`cache_miss`), `kind`, `name`, `namespace` (renamable), `operation` |
//! | `cached_items` | gauge | |
//! | `cache_requests_total` | counter | `status` (`success`/`failure`) |
//! | `cache_evictions_total` | counter | |
//!
//! Names are prefixed as the registry given to [`TokenCache::register_metrics`](crate::TokenCache::register_metrics)
//! prefixes them (e.g. `Registry::with_prefix("gotk")` for Flux's `gotk_cache_events_total`).
//! Events are recorded for calls that name an [`InvolvedObject`]
//! ([`Engine::token_for`](crate::Engine::token_for)); `cached_items` is set from the cache's
//! size after every change, so it never drifts.

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
/// The registry type the metrics are registered in (`prometheus-client`'s).
pub use prometheus_client::registry::Registry;

/// The Kubernetes object a credential is fetched for: the labels of its cache events.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct InvolvedObject {
    /// The object's kind (e.g. `OCIRepository`).
    pub kind: String,
    /// The object's name.
    pub name: String,
    /// The object's namespace.
    pub namespace: String,
    /// What the credential is for (e.g. `reconcile`).
    pub operation: String,
}

/// How the metrics are labelled.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MetricsOptions {
    /// The name of the namespace label of cache events: `namespace`, or e.g.
    /// `exported_namespace` where the scrape already adds a `namespace` label.
    pub namespace_label: String,
}

impl Default for MetricsOptions {
    fn default() -> Self {
        MetricsOptions {
            namespace_label: "namespace".into(),
        }
    }
}

type Labels = Vec<(String, String)>;

/// The registered metrics of one cache.
#[derive(Clone, Debug)]
pub(crate) struct Recorder {
    events: Family<Labels, Counter>,
    items: Gauge,
    requests: Family<Labels, Counter>,
    evictions: Counter,
    namespace_label: String,
}

impl Recorder {
    /// Registers the four metrics in `registry`.
    pub(crate) fn register(registry: &mut Registry, options: &MetricsOptions) -> Recorder {
        let recorder = Recorder {
            events: Family::default(),
            items: Gauge::default(),
            requests: Family::default(),
            evictions: Counter::default(),
            namespace_label: options.namespace_label.clone(),
        };
        // Registered without `_total` and without the help's final period: the encoder adds
        // both, giving the reference's exact text.
        registry.register(
            "cache_events",
            "Total number of cache retrieval events for a Gitops Toolkit resource reconciliation",
            recorder.events.clone(),
        );
        registry.register(
            "cached_items",
            "Total number of items in the cache",
            recorder.items.clone(),
        );
        registry.register(
            "cache_requests",
            // Sic: the reference's help text, kept for compatibility.
            "Total number of cache requests partioned by success or failure",
            recorder.requests.clone(),
        );
        registry.register(
            "cache_evictions",
            "Total number of cache evictions",
            recorder.evictions.clone(),
        );
        recorder
    }

    /// A call finished: `cache_requests_total{status}`.
    pub(crate) fn request(&self, success: bool) {
        let status = if success { "success" } else { "failure" };
        self.requests
            .get_or_create(&vec![("status".to_owned(), status.to_owned())])
            .inc();
    }

    /// A call for `object` was answered from the cache (`hit`) or not.
    pub(crate) fn event(&self, hit: bool, object: &InvolvedObject) {
        let event_type = if hit { "cache_hit" } else { "cache_miss" };
        self.events
            .get_or_create(&self.labels(event_type, object))
            .inc();
    }

    /// Drops `object`'s event series (when the object is deleted).
    pub(crate) fn forget(&self, object: &InvolvedObject) {
        for event_type in ["cache_hit", "cache_miss"] {
            self.events.remove(&self.labels(event_type, object));
        }
    }

    pub(crate) fn items(&self, count: usize) {
        self.items.set(i64::try_from(count).unwrap_or(i64::MAX));
    }

    pub(crate) fn eviction(&self) {
        self.evictions.inc();
    }

    fn labels(&self, event_type: &str, object: &InvolvedObject) -> Labels {
        vec![
            ("event_type".to_owned(), event_type.to_owned()),
            ("kind".to_owned(), object.kind.clone()),
            ("name".to_owned(), object.name.clone()),
            (self.namespace_label.clone(), object.namespace.clone()),
            ("operation".to_owned(), object.operation.clone()),
        ]
    }
}
