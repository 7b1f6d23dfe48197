//! One record per exchange — what left the machine (masked), what was found, how it went —
//! kept in a bounded ring for the live view and broadcast as it changes. The proxy's tap never
//! waits: the lock is held only to copy a record in or out, and broadcasting drops events
//! for a listener that falls behind instead of slowing a request.
//!
//! Originals (the token table, the restored answer) live only in these in-memory records;
//! [`RecordSummary`] and the audit log carry masked data only.

use std::collections::{BTreeMap, VecDeque};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use serde::Serialize;
use tokio::sync::broadcast;

use crate::mask::TokenEntry;

/// How far an exchange got.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Forwarded; the answer is still arriving.
    InFlight,
    /// The answer arrived in full (whatever its status).
    Completed,
    /// maskgate refused the request; nothing was forwarded.
    Refused,
    /// Forwarded, but the upstream could not be reached or broke off.
    Failed,
}

/// Everything known about one exchange. Holds originals: memory only.
#[derive(Debug, Clone)]
pub struct ExchangeRecord {
    pub id: u64,
    pub started_unix_ms: u64,
    pub method: String,
    pub path: String,
    pub model: Option<String>,
    pub streaming: bool,
    pub status: Option<u16>,
    pub outcome: Outcome,
    pub first_byte: Option<Duration>,
    pub latency: Option<Duration>,
    pub request_bytes: usize,
    pub response_bytes: usize,
    /// Identifiers masked, per rule id.
    pub counts: BTreeMap<String, usize>,
    /// The request body exactly as it left the machine.
    pub masked_request: Bytes,
    /// Token → original of this request.
    pub tokens: Arc<[TokenEntry]>,
    /// The answer as the client received it (restored), up to [`RESPONSE_KEEP`] bytes.
    pub response: String,
    pub error: Option<String>,
}

/// How much of each answer the journal keeps for review.
pub const RESPONSE_KEEP: usize = 512 * 1024;

/// The masked-only view of a record: what the live list, metrics and the audit log use.
#[derive(Debug, Clone, Serialize)]
pub struct RecordSummary {
    pub id: u64,
    pub started_unix_ms: u64,
    pub method: String,
    pub path: String,
    pub model: Option<String>,
    pub streaming: bool,
    pub status: Option<u16>,
    pub outcome: Outcome,
    pub first_byte_ms: Option<f64>,
    pub latency_ms: Option<f64>,
    pub request_bytes: usize,
    pub response_bytes: usize,
    pub counts: BTreeMap<String, usize>,
    pub masked_total: usize,
    pub error: Option<String>,
}

impl ExchangeRecord {
    pub fn summary(&self) -> RecordSummary {
        RecordSummary {
            id: self.id,
            started_unix_ms: self.started_unix_ms,
            method: self.method.clone(),
            path: self.path.clone(),
            model: self.model.clone(),
            streaming: self.streaming,
            status: self.status,
            outcome: self.outcome,
            first_byte_ms: self.first_byte.map(|d| d.as_secs_f64() * 1000.0),
            latency_ms: self.latency.map(|d| d.as_secs_f64() * 1000.0),
            request_bytes: self.request_bytes,
            response_bytes: self.response_bytes,
            counts: self.counts.clone(),
            masked_total: self.counts.values().sum(),
            error: self.error.clone(),
        }
    }
}

/// What listeners hear.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum JournalEvent {
    /// A record was added or changed.
    Record(RecordSummary),
    /// More of a streamed answer arrived (restored text, for the live view).
    ResponseChunk { id: u64, text: String },
}

/// The masked request bodies the journal holds at most, in bytes: Claude Code sends the whole
/// conversation again every turn, so the last records of one long session could otherwise
/// hold gigabytes. The oldest records go first.
const BODY_BYTES_AT_MOST: usize = 128 << 20;

/// The bounded store of recent exchanges: at most `capacity` records, and at most
/// [`BODY_BYTES_AT_MOST`] of their masked bodies.
pub struct Journal {
    records: Mutex<VecDeque<ExchangeRecord>>,
    capacity: usize,
    next_id: AtomicU64,
    events: broadcast::Sender<JournalEvent>,
    totals: Mutex<BTreeMap<String, u64>>,
    audit_log: Option<PathBuf>,
}

impl Journal {
    pub fn new(capacity: usize, audit_log: Option<PathBuf>) -> Journal {
        let (events, _) = broadcast::channel(1024);
        Journal {
            records: Mutex::new(VecDeque::with_capacity(capacity.min(4096))),
            capacity: capacity.max(1),
            next_id: AtomicU64::new(1),
            events,
            totals: Mutex::new(BTreeMap::new()),
            audit_log,
        }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<JournalEvent> {
        self.events.subscribe()
    }

    /// Adds a record (its `id` is assigned here). Returns the id, and the masked bodies of
    /// the records it pushed out, whose memory can serve again.
    pub fn start(&self, mut record: ExchangeRecord) -> (u64, Vec<Bytes>) {
        record.id = self.next_id.fetch_add(1, Ordering::Relaxed);
        record.started_unix_ms = unix_ms(SystemTime::now());
        {
            let mut totals = lock(&self.totals);
            for (kind, n) in &record.counts {
                *totals.entry(kind.clone()).or_insert(0) += *n as u64;
            }
        }
        let id = record.id;
        let summary = record.summary();
        let mut evicted = Vec::new();
        {
            let mut records = lock(&self.records);
            let mut body_bytes: usize = records.iter().map(|r| r.masked_request.len()).sum();
            body_bytes += record.masked_request.len();
            while records.len() >= self.capacity || body_bytes > BODY_BYTES_AT_MOST {
                let Some(oldest) = records.pop_front() else {
                    break;
                };
                body_bytes -= oldest.masked_request.len();
                evicted.push(oldest.masked_request);
            }
            records.push_back(record);
        }
        let _ = self.events.send(JournalEvent::Record(summary));
        (id, evicted)
    }

    /// Changes a record and tells listeners; writes the audit line once it is final.
    pub fn update(&self, id: u64, change: impl FnOnce(&mut ExchangeRecord)) {
        let summary = {
            let mut records = lock(&self.records);
            let Some(record) = records.iter_mut().rev().find(|r| r.id == id) else {
                return;
            };
            change(record);
            record.summary()
        };
        if summary.outcome != Outcome::InFlight {
            self.write_audit(&summary);
        }
        let _ = self.events.send(JournalEvent::Record(summary));
    }

    /// Adds a piece of the answer as sent to the client: counted, kept (up to
    /// [`RESPONSE_KEEP`] bytes) and passed to live listeners — without a full record update.
    pub fn response_chunk(&self, id: u64, sent: &[u8]) {
        let text = String::from_utf8_lossy(sent).into_owned();
        {
            let mut records = lock(&self.records);
            if let Some(r) = records.iter_mut().rev().find(|r| r.id == id) {
                r.response_bytes += sent.len();
                let room = RESPONSE_KEEP.saturating_sub(r.response.len());
                let cut = (0..=room.min(text.len()))
                    .rev()
                    .find(|&i| text.is_char_boundary(i))
                    .unwrap_or(0);
                r.response.push_str(&text[..cut]);
            }
        }
        if self.events.receiver_count() > 0 {
            let _ = self.events.send(JournalEvent::ResponseChunk { id, text });
        }
    }

    /// The newest records first, masked summaries only.
    pub fn summaries(&self) -> Vec<RecordSummary> {
        lock(&self.records)
            .iter()
            .rev()
            .map(ExchangeRecord::summary)
            .collect()
    }

    pub fn record(&self, id: u64) -> Option<ExchangeRecord> {
        lock(&self.records)
            .iter()
            .rev()
            .find(|r| r.id == id)
            .cloned()
    }

    /// Identifiers masked per rule id since start.
    pub fn totals(&self) -> BTreeMap<String, u64> {
        lock(&self.totals).clone()
    }

    fn write_audit(&self, summary: &RecordSummary) {
        use std::io::Write;
        let Some(path) = &self.audit_log else { return };
        let line = match serde_json::to_string(summary) {
            Ok(line) => line,
            Err(_) => return,
        };
        let written = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .and_then(|mut f| writeln!(f, "{line}"));
        if let Err(e) = written {
            tracing::warn!(path = %path.display(), error = %e, "cannot write the audit log");
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn unix_ms(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

impl ExchangeRecord {
    /// A fresh record for a request as it arrives.
    pub fn new(method: &str, path: &str) -> ExchangeRecord {
        ExchangeRecord {
            id: 0,
            started_unix_ms: 0,
            method: method.to_owned(),
            path: path.to_owned(),
            model: None,
            streaming: false,
            status: None,
            outcome: Outcome::InFlight,
            first_byte: None,
            latency: None,
            request_bytes: 0,
            response_bytes: 0,
            counts: BTreeMap::new(),
            masked_request: Bytes::new(),
            tokens: Arc::from(Vec::new()),
            response: String::new(),
            error: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ring_keeps_the_newest_and_totals_count_everything() {
        let journal = Journal::new(2, None);
        for n in 0..3 {
            let mut record = ExchangeRecord::new("POST", "/v1/messages");
            record.counts.insert("vpc".into(), n + 1);
            journal.start(record);
        }
        let ids: Vec<u64> = journal.summaries().iter().map(|s| s.id).collect();
        assert_eq!(ids, [3, 2]);
        assert_eq!(journal.totals()["vpc"], 6);
    }

    #[test]
    fn masked_bodies_past_the_byte_limit_push_out_the_oldest_and_come_back() {
        let journal = Journal::new(100, None);
        let body = BODY_BYTES_AT_MOST / 3 + 1;
        let mut evicted = Vec::new();
        for n in 0..4 {
            let mut record = ExchangeRecord::new("POST", "/v1/messages");
            record.masked_request = Bytes::from(vec![b'0' + n; body]);
            evicted.extend(journal.start(record).1);
        }
        let ids: Vec<u64> = journal.summaries().iter().map(|s| s.id).collect();
        assert_eq!(ids, [4, 3]);
        assert_eq!(evicted.len(), 2);
        assert!(evicted[0].iter().all(|&b| b == b'0'));
        assert!(evicted[1].iter().all(|&b| b == b'1'));
    }

    #[test]
    fn audit_log_gets_final_records_without_originals() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("audit.jsonl");
        let journal = Journal::new(8, Some(path.clone()));
        let mut record = ExchangeRecord::new("POST", "/v1/messages");
        record.tokens = Arc::from(vec![TokenEntry {
            token: "VPC_001".into(),
            original: "vpc-0123abcd".into(),
            kind: "vpc".into(),
        }]);
        let (id, _) = journal.start(record);
        journal.update(id, |r| {
            r.outcome = Outcome::Completed;
            r.status = Some(200);
            r.response = "in vpc-0123abcd".into();
        });
        let audit = std::fs::read_to_string(path).expect("audit written");
        assert_eq!(audit.lines().count(), 1);
        assert!(audit.contains("\"status\":200"));
        assert!(!audit.contains("vpc-0123abcd"));
    }
}
