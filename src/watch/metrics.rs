//! Prometheus metrics for the daemon: how long reconciles and fetches take, how reconciles
//! end, how many agents drifted and which commit was last applied. Encoded in the
//! OpenMetrics text format for `GET /metrics`.

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// Histogram bounds in seconds, from a no-op reconcile (10 ms) to a long rollout (10 min).
const DURATION_BUCKETS: [f64; 15] = [
    0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0,
];

/// The label set of the outcome counter: `result="<outcome>"`.
type ResultLabel = [(&'static str, &'static str); 1];

/// The label set of the last-applied gauge: `commit="<sha>"`.
type CommitLabel = [(&'static str, String); 1];

/// How one reconcile ended; the `result` label of `clawops_reconcile_outcomes_total`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ReconcileResult {
    /// A new commit was applied.
    Applied,
    /// The commit was already applied and nothing had drifted.
    NoChange,
    /// The commit failed validation and was quarantined.
    Invalid,
    /// Applying the commit failed.
    Failed,
    /// Applying the commit failed and the last good commit was restored.
    RolledBack,
    /// The commit was already quarantined, or another apply held the lock.
    Skipped,
    /// The reconcile itself broke (fetch, backend unreachable) before deciding.
    Error,
}

impl ReconcileResult {
    /// Every outcome, in the order they are registered.
    pub const ALL: [ReconcileResult; 7] = [
        ReconcileResult::Applied,
        ReconcileResult::NoChange,
        ReconcileResult::Invalid,
        ReconcileResult::Failed,
        ReconcileResult::RolledBack,
        ReconcileResult::Skipped,
        ReconcileResult::Error,
    ];

    /// The label value: `applied`, `no_change`, `invalid`, `failed`, `rolled_back`,
    /// `skipped` or `error`.
    pub fn as_str(self) -> &'static str {
        match self {
            ReconcileResult::Applied => "applied",
            ReconcileResult::NoChange => "no_change",
            ReconcileResult::Invalid => "invalid",
            ReconcileResult::Failed => "failed",
            ReconcileResult::RolledBack => "rolled_back",
            ReconcileResult::Skipped => "skipped",
            ReconcileResult::Error => "error",
        }
    }
}

/// The daemon's metrics and the registry that exposes them. Cheap to share in an `Arc`:
/// every method takes `&self`.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    reconcile_duration: Histogram,
    reconcile_outcomes: Family<ResultLabel, Counter>,
    drifted_agents: Gauge,
    fetch_duration: Histogram,
    last_applied_commit: Family<CommitLabel, Gauge>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Registers every metric, each outcome counter at zero so that all series exist
    /// from the first scrape.
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let reconcile_duration = Histogram::new(DURATION_BUCKETS);
        registry.register(
            "clawops_reconcile_duration_seconds",
            "Time one reconcile took, fetch to outcome",
            reconcile_duration.clone(),
        );
        let reconcile_outcomes = Family::<ResultLabel, Counter>::default();
        // The client appends `_total` to counter names.
        registry.register(
            "clawops_reconcile_outcomes",
            "Reconciles by how they ended",
            reconcile_outcomes.clone(),
        );
        for result in ReconcileResult::ALL {
            reconcile_outcomes
                .get_or_create(&[("result", result.as_str())])
                .inc_by(0);
        }
        let drifted_agents = Gauge::default();
        registry.register(
            "clawops_drifted_agents",
            "Agents whose running state differs from the last applied commit",
            drifted_agents.clone(),
        );
        let fetch_duration = Histogram::new(DURATION_BUCKETS);
        registry.register(
            "clawops_git_fetch_duration_seconds",
            "Time one fetch of the watched branch took",
            fetch_duration.clone(),
        );
        let last_applied_commit = Family::<CommitLabel, Gauge>::default();
        registry.register(
            "clawops_last_applied_commit_info",
            "The commit last applied successfully, as its label; always 1",
            last_applied_commit.clone(),
        );
        Metrics {
            registry,
            reconcile_duration,
            reconcile_outcomes,
            drifted_agents,
            fetch_duration,
            last_applied_commit,
        }
    }

    /// Records one reconcile: its duration and how it ended.
    pub fn observe_reconcile(&self, seconds: f64, result: ReconcileResult) {
        self.reconcile_duration.observe(seconds);
        self.reconcile_outcomes
            .get_or_create(&[("result", result.as_str())])
            .inc();
    }

    /// Records the duration of one fetch.
    pub fn observe_fetch(&self, seconds: f64) {
        self.fetch_duration.observe(seconds);
    }

    /// Sets how many agents have drifted right now.
    pub fn set_drifted(&self, agents: i64) {
        self.drifted_agents.set(agents);
    }

    /// Makes `commit` the only series of `clawops_last_applied_commit_info`.
    pub fn set_last_applied(&self, commit: &str) {
        self.last_applied_commit.clear();
        self.last_applied_commit
            .get_or_create(&[("commit", commit.to_string())])
            .set(1);
    }

    /// The metrics in the OpenMetrics text format, ending in `# EOF`.
    pub fn encode(&self) -> String {
        let mut text = String::new();
        // Writing to a String cannot fail; an error here would come from a metric's own
        // encoder, and a partial page is more useful to a scraper than none.
        if let Err(error) = encode(&mut text, &self.registry) {
            tracing::warn!(%error, "encoding the metrics failed");
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn metrics_can_be_shared_between_threads() {
        assert_send_sync::<Metrics>();
    }

    #[test]
    fn result_labels_are_distinct_snake_case() {
        let labels: Vec<&str> = ReconcileResult::ALL.iter().map(|r| r.as_str()).collect();
        assert_eq!(
            labels,
            [
                "applied",
                "no_change",
                "invalid",
                "failed",
                "rolled_back",
                "skipped",
                "error"
            ]
        );
    }

    #[test]
    fn last_applied_keeps_only_the_current_commit() {
        let metrics = Metrics::new();
        metrics.set_last_applied("aaaa");
        metrics.set_last_applied("bbbb");
        let text = metrics.encode();
        assert!(
            text.contains("clawops_last_applied_commit_info{commit=\"bbbb\"} 1"),
            "{text}"
        );
        assert!(!text.contains("aaaa"), "{text}");
    }

    #[test]
    fn encoding_ends_with_eof_and_counts_outcomes() {
        let metrics = Metrics::new();
        metrics.observe_reconcile(0.2, ReconcileResult::Applied);
        metrics.observe_reconcile(0.3, ReconcileResult::Applied);
        let text = metrics.encode();
        assert!(text.ends_with("# EOF\n"), "{text}");
        assert!(
            text.contains("clawops_reconcile_outcomes_total{result=\"applied\"} 2"),
            "{text}"
        );
        assert!(
            text.contains("clawops_reconcile_outcomes_total{result=\"rolled_back\"} 0"),
            "{text}"
        );
    }
}
