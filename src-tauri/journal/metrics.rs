//! Prometheus metrics, read off the journal's records as they are published — one more
//! consumer of the one record per exchange, beside the live view and the audit log. Labels
//! are bounded: endpoints are the API's few (anything else is `other`), categories are the
//! engine's rule ids, statuses are numbers. No label ever holds request text.

use std::sync::atomic::{AtomicI64, Ordering};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};

use super::{Failure, Outcome, RecordSummary};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ExchangeLabels {
    endpoint: &'static str,
    status: String,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StatusLabel {
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CategoryLabel {
    category: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabel {
    kind: &'static str,
}

/// The metrics of one proxy, updated as its exchanges end.
pub struct Metrics {
    registry: Registry,
    exchanges: Family<ExchangeLabels, Counter>,
    refusals: Family<StatusLabel, Counter>,
    masked: Family<CategoryLabel, Counter>,
    upstream_errors: Family<KindLabel, Counter>,
    masking: Histogram,
    first_byte: Histogram,
    total: Histogram,
    bytes_in: Counter,
    bytes_out: Counter,
    open: Gauge,
    /// Exchanges started in flight and not yet final (kept beside the gauge to stay exact).
    open_count: AtomicI64,
    journal_records: Gauge,
    journal_bytes: Gauge,
}

/// Seconds: from 0.1 ms (masking a small body) to about 7 minutes (a long stream).
fn seconds_buckets() -> impl Iterator<Item = f64> {
    prometheus_client::metrics::histogram::exponential_buckets(0.0001, 2.5, 16)
}

impl Default for Metrics {
    fn default() -> Metrics {
        let mut registry = Registry::with_prefix("maskgate");
        let exchanges = Family::<ExchangeLabels, Counter>::default();
        let refusals = Family::<StatusLabel, Counter>::default();
        let masked = Family::<CategoryLabel, Counter>::default();
        let upstream_errors = Family::<KindLabel, Counter>::default();
        let masking = Histogram::new(seconds_buckets());
        let first_byte = Histogram::new(seconds_buckets());
        let total = Histogram::new(seconds_buckets());
        let bytes_in = Counter::default();
        let bytes_out = Counter::default();
        let open = Gauge::default();
        let journal_records = Gauge::default();
        let journal_bytes = Gauge::default();
        registry.register(
            "exchanges",
            "Exchanges that ended, by endpoint, HTTP status and outcome",
            exchanges.clone(),
        );
        registry.register(
            "refusals",
            "Requests refused before anything was forwarded, by HTTP status",
            refusals.clone(),
        );
        registry.register(
            "identifiers_masked",
            "Identifiers masked, by category",
            masked.clone(),
        );
        registry.register(
            "upstream_errors",
            "Exchanges that went wrong after forwarding, by kind",
            upstream_errors.clone(),
        );
        registry.register_with_unit(
            "masking",
            "Time to read and mask a request body",
            Unit::Seconds,
            masking.clone(),
        );
        registry.register_with_unit(
            "first_byte",
            "Time from a request's arrival to the answer's first byte",
            Unit::Seconds,
            first_byte.clone(),
        );
        registry.register_with_unit(
            "exchange",
            "Time from a request's arrival to the answer's end",
            Unit::Seconds,
            total.clone(),
        );
        registry.register_with_unit(
            "request",
            "Request bytes read from clients",
            Unit::Bytes,
            bytes_in.clone(),
        );
        registry.register_with_unit(
            "response",
            "Answer bytes sent to clients",
            Unit::Bytes,
            bytes_out.clone(),
        );
        registry.register("open_exchanges", "Exchanges in flight", open.clone());
        registry.register(
            "journal_records",
            "Records the live journal holds",
            journal_records.clone(),
        );
        registry.register_with_unit(
            "journal",
            "Bytes the live journal holds (masked requests and answers)",
            Unit::Bytes,
            journal_bytes.clone(),
        );
        Metrics {
            registry,
            exchanges,
            refusals,
            masked,
            upstream_errors,
            masking,
            first_byte,
            total,
            bytes_in,
            bytes_out,
            open,
            open_count: AtomicI64::new(0),
            journal_records,
            journal_bytes,
        }
    }
}

impl Metrics {
    /// An exchange was forwarded and its answer is on the way.
    pub(super) fn opened(&self) {
        let open = self.open_count.fetch_add(1, Ordering::Relaxed) + 1;
        self.open.set(open);
    }

    /// An exchange ended (`was_open`: it had been [`Metrics::opened`]).
    pub(super) fn ended(&self, summary: &RecordSummary, was_open: bool) {
        if was_open {
            let open = self.open_count.fetch_sub(1, Ordering::Relaxed) - 1;
            self.open.set(open);
        }
        let status = summary.status.map_or("none".to_owned(), |s| s.to_string());
        self.exchanges
            .get_or_create(&ExchangeLabels {
                endpoint: endpoint(&summary.path),
                status: status.clone(),
                outcome: match summary.outcome {
                    Outcome::InFlight => "in_flight",
                    Outcome::Completed => "completed",
                    Outcome::Refused => "refused",
                    Outcome::Failed => "failed",
                },
            })
            .inc();
        if summary.outcome == Outcome::Refused {
            self.refusals.get_or_create(&StatusLabel { status }).inc();
        }
        for (category, n) in &summary.counts {
            self.masked
                .get_or_create(&CategoryLabel {
                    category: category.clone(),
                })
                .inc_by(*n as u64);
        }
        let kind = match summary.failure {
            Some(Failure::Unreachable) => Some("unreachable"),
            Some(Failure::GatewayRejected) => Some("gateway_rejected"),
            Some(Failure::UpstreamError) => Some("upstream_error"),
            Some(Failure::StreamCut) => Some("stream_cut"),
            Some(Failure::ClientGone) => Some("client_gone"),
            Some(Failure::Refused) | None => None,
        };
        if let Some(kind) = kind {
            self.upstream_errors
                .get_or_create(&KindLabel { kind })
                .inc();
        }
        if let Some(ms) = summary.masking_ms {
            self.masking.observe(ms / 1000.0);
        }
        if let Some(ms) = summary.first_byte_ms {
            self.first_byte.observe(ms / 1000.0);
        }
        if let Some(ms) = summary.latency_ms {
            self.total.observe(ms / 1000.0);
        }
        self.bytes_in.inc_by(summary.request_bytes as u64);
        self.bytes_out.inc_by(summary.response_bytes as u64);
    }

    /// The metrics in Prometheus' text format, with the journal's size as of now.
    pub(super) fn render(&self, records: usize, bytes: usize) -> String {
        self.journal_records.set(records as i64);
        self.journal_bytes.set(bytes as i64);
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

/// The API endpoint of a (masked) path, from a short fixed list.
fn endpoint(path: &str) -> &'static str {
    let path = path.split('?').next().unwrap_or_default();
    let path = path.trim_end_matches('/');
    const KNOWN: &[&str] = &[
        "/v1/messages",
        "/v1/messages/count_tokens",
        "/v1/messages/batches",
        "/v1/models",
        "/v1/complete",
    ];
    KNOWN
        .iter()
        .find(|known| path.ends_with(*known))
        .copied()
        .unwrap_or("other")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_are_a_short_list_and_prefixes_are_kept_out() {
        assert_eq!(endpoint("/v1/messages?beta=true"), "/v1/messages");
        assert_eq!(
            endpoint("/kong/v1/messages/count_tokens"),
            "/v1/messages/count_tokens"
        );
        assert_eq!(endpoint("/anything/else"), "other");
    }
}
