//! One record per exchange — what left the machine (masked), what was found, how it went —
//! kept in a bounded ring for the live view and broadcast as it changes. The proxy's tap never
//! waits: the lock is held only to copy a record in or out, and broadcasting drops events
//! for a listener that falls behind instead of slowing a request.
//!
//! Originals (the token table, the restored answer) live only in these in-memory records;
//! [`RecordSummary`], the audit log and the metrics (`metrics`) carry masked data only.

mod export;
mod metrics;

pub use export::{export, Export, ExportFormat};

use std::collections::{BTreeMap, VecDeque};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use serde::Serialize;
use tokio::sync::broadcast;

use crate::mask::MintedTokens;
use crate::restore::Usage;

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

/// What went wrong with an exchange: what a notification or a filter goes by, never the
/// wording of a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Failure {
    /// maskgate refused the request; nothing was forwarded.
    Refused,
    /// The upstream could not be reached.
    Unreachable,
    /// The gateway rejected maskgate's credentials.
    GatewayRejected,
    /// The upstream answered with an error of its own.
    UpstreamError,
    /// The answer broke off on the way.
    StreamCut,
    /// The client left before the answer ended.
    ClientGone,
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
    /// Reading and masking the body.
    pub masking: Option<Duration>,
    pub first_byte: Option<Duration>,
    pub latency: Option<Duration>,
    pub request_bytes: usize,
    pub response_bytes: usize,
    /// Identifiers masked, per rule id.
    pub counts: BTreeMap<String, usize>,
    /// Images and PDFs in the request, which could not be read.
    pub attachments: usize,
    /// The token usage the answer reported.
    pub usage: Option<Usage>,
    /// The request body exactly as it left the machine.
    pub masked_request: Bytes,
    /// Token → original of this request.
    pub tokens: Arc<MintedTokens>,
    /// The answer as the client received it (restored), up to [`RESPONSE_KEEP`] bytes.
    pub response: String,
    /// The answer as the upstream sent it, before restoring (masked: what crossed the
    /// network; maskgate's own error in place of a gateway's non-API one), up to
    /// [`RESPONSE_KEEP`] bytes. What an export holds.
    pub masked_response: Vec<u8>,
    pub error: Option<String>,
    pub failure: Option<Failure>,
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
    pub masking_ms: Option<f64>,
    pub first_byte_ms: Option<f64>,
    pub latency_ms: Option<f64>,
    pub request_bytes: usize,
    pub response_bytes: usize,
    pub counts: BTreeMap<String, usize>,
    pub masked_total: usize,
    pub attachments: usize,
    pub usage: Option<Usage>,
    pub error: Option<String>,
    pub failure: Option<Failure>,
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
            masking_ms: self.masking.map(|d| d.as_secs_f64() * 1000.0),
            first_byte_ms: self.first_byte.map(|d| d.as_secs_f64() * 1000.0),
            latency_ms: self.latency.map(|d| d.as_secs_f64() * 1000.0),
            request_bytes: self.request_bytes,
            response_bytes: self.response_bytes,
            counts: self.counts.clone(),
            masked_total: self.counts.values().sum(),
            attachments: self.attachments,
            usage: self.usage,
            error: self.error.clone(),
            failure: self.failure,
        }
    }
}

/// What this session did so far (the tray's line), masked only.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SessionCounts {
    pub exchanges: u64,
    /// Identifiers masked.
    pub masked: u64,
    pub refused: u64,
    /// The newest error an exchange ended with.
    pub last_error: Option<String>,
}

/// How the program hands freed memory back to the system at once, when it can (the
/// binary's allocator keeps freed pages for a while for the next requests; after a clear,
/// the user expects the memory back).
static MEMORY_RELEASE: std::sync::OnceLock<fn()> = std::sync::OnceLock::new();

/// Sets what [`release_memory`] calls; the first call wins.
pub fn set_memory_release(release: fn()) {
    let _ = MEMORY_RELEASE.set(release);
}

/// Hands the memory the allocator keeps back to the system, if the program said how: after
/// [`Journal::clear`], and when the proxy is quiet.
pub fn release_memory() {
    if let Some(release) = MEMORY_RELEASE.get() {
        release();
    }
}

/// What listeners hear.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum JournalEvent {
    /// A record was added or changed.
    Record(Box<RecordSummary>),
    /// More of a streamed answer arrived (restored text, for the live view).
    ResponseChunk { id: u64, text: String },
    /// The records were cleared (the session's totals stay).
    Cleared,
}

/// The bounded store of recent exchanges: at most `capacity` records, and at most
/// `bytes_at_most` of what they hold (masked requests and restored answers together; Claude
/// Code sends the whole conversation again every turn, so the records of one long session
/// could otherwise hold gigabytes). The oldest records go first.
///
/// Each record is shared with the exchange that writes it ([`JournalEntry`]): an exchange
/// changes its own record under its own lock, never searching the ring.
pub struct Journal {
    ring: Mutex<VecDeque<Arc<Entry>>>,
    capacity: AtomicUsize,
    bytes_at_most: AtomicUsize,
    /// What the records in the ring hold, in bytes.
    held: AtomicUsize,
    next_id: AtomicU64,
    events: broadcast::Sender<JournalEvent>,
    totals: Mutex<BTreeMap<String, u64>>,
    session: Mutex<SessionCounts>,
    audit: Option<AuditLog>,
    metrics: metrics::Metrics,
}

/// One record, shared by the ring and its exchange.
struct Entry {
    id: u64,
    record: Mutex<ExchangeRecord>,
    /// Still in the ring: what the exchange adds counts against the journal's bound. Once
    /// pushed out, the answer's text is no longer kept.
    kept: AtomicBool,
    /// Already final once: audited and counted in the metrics.
    ended: AtomicBool,
}

impl ExchangeRecord {
    /// What this record counts against the journal's byte bound: the masked request, the
    /// answer, and the token table (a long session's thousands of identifiers weigh as much
    /// as its text), as the memory they take (a growing answer's room included).
    fn held_bytes(&self) -> usize {
        self.masked_request.len() + self.answer_bytes() + self.tokens.held_bytes()
    }

    /// The memory the kept answer takes, both forms.
    fn answer_bytes(&self) -> usize {
        self.response.capacity() + self.masked_response.capacity()
    }
}

/// An exchange's handle on its own record.
pub struct JournalEntry {
    journal: Arc<Journal>,
    entry: Arc<Entry>,
}

impl Journal {
    /// A journal of at most `capacity` records and `bytes_at_most` of their bodies and
    /// answers; final records are appended to `audit_log` (masked summaries only).
    pub fn new(capacity: usize, bytes_at_most: usize, audit_log: Option<PathBuf>) -> Journal {
        let (events, _) = broadcast::channel(1024);
        Journal {
            ring: Mutex::new(VecDeque::with_capacity(capacity.min(4096))),
            capacity: AtomicUsize::new(capacity.max(1)),
            bytes_at_most: AtomicUsize::new(bytes_at_most),
            held: AtomicUsize::new(0),
            next_id: AtomicU64::new(1),
            events,
            totals: Mutex::new(BTreeMap::new()),
            session: Mutex::new(SessionCounts::default()),
            audit: audit_log.map(AuditLog::open),
            metrics: metrics::Metrics::default(),
        }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<JournalEvent> {
        self.events.subscribe()
    }

    /// Adds a record (its `id` is assigned here) and returns the handle its exchange writes
    /// through. A record that is already final (a refusal) is audited at once.
    pub fn start(self: &Arc<Self>, mut record: ExchangeRecord) -> JournalEntry {
        record.id = self.next_id.fetch_add(1, Ordering::Relaxed);
        record.started_unix_ms = unix_ms(SystemTime::now());
        {
            let mut totals = lock(&self.totals);
            for (kind, n) in &record.counts {
                *totals.entry(kind.clone()).or_insert(0) += *n as u64;
            }
        }
        {
            let mut session = lock(&self.session);
            session.exchanges += 1;
            session.masked += record.counts.values().sum::<usize>() as u64;
        }
        let summary = record.summary();
        if record.outcome == Outcome::InFlight {
            self.metrics.opened();
        }
        self.held.fetch_add(record.held_bytes(), Ordering::Relaxed);
        let entry = Arc::new(Entry {
            id: record.id,
            record: Mutex::new(record),
            kept: AtomicBool::new(true),
            ended: AtomicBool::new(false),
        });
        lock(&self.ring).push_back(Arc::clone(&entry));
        self.trim(entry.id);
        self.published(&entry, summary, false);
        JournalEntry {
            journal: Arc::clone(self),
            entry,
        }
    }

    /// Pushes out the oldest records (never `keep`; ids start at 1, so 0 spares none) until
    /// the ring is within its bounds.
    /// Their memory (masked bodies included, back to their pool) goes with their last holder.
    fn trim(&self, keep: u64) {
        let over = |ring: &VecDeque<Arc<Entry>>| {
            ring.len() > self.capacity.load(Ordering::Relaxed)
                || self.held.load(Ordering::Relaxed) > self.bytes_at_most.load(Ordering::Relaxed)
        };
        let mut ring = lock(&self.ring);
        while over(&ring) {
            match ring.front() {
                Some(oldest) if oldest.id != keep => {}
                _ => break,
            }
            let oldest = ring.pop_front().expect("looked at just now");
            let record = lock(&oldest.record);
            oldest.kept.store(false, Ordering::Relaxed);
            self.held.fetch_sub(record.held_bytes(), Ordering::Relaxed);
        }
    }

    /// Keeps at most `capacity` records and `bytes_at_most` of what they hold from now on;
    /// the oldest records beyond the new bounds go at once.
    pub fn set_bounds(&self, capacity: usize, bytes_at_most: usize) {
        self.capacity.store(capacity.max(1), Ordering::Relaxed);
        self.bytes_at_most.store(bytes_at_most, Ordering::Relaxed);
        self.trim(0);
    }

    /// Lets go of every record and what it holds (masked requests, restored answers,
    /// originals); exchanges still running keep writing their own records, uncounted and
    /// unkept. The session's totals per kind stay.
    pub fn clear(&self) {
        let cleared: Vec<Arc<Entry>> = lock(&self.ring).drain(..).collect();
        for entry in &cleared {
            let record = lock(&entry.record);
            entry.kept.store(false, Ordering::Relaxed);
            self.held.fetch_sub(record.held_bytes(), Ordering::Relaxed);
        }
        drop(cleared);
        release_memory();
        let _ = self.events.send(JournalEvent::Cleared);
    }

    /// Tells listeners of a change; the first time the record is final, writes its audit
    /// line and counts it in the metrics (`was_open`: it started in flight).
    fn published(&self, entry: &Entry, summary: RecordSummary, was_open: bool) {
        if summary.outcome != Outcome::InFlight && !entry.ended.swap(true, Ordering::Relaxed) {
            {
                let mut session = lock(&self.session);
                session.refused += u64::from(summary.outcome == Outcome::Refused);
                if summary.error.is_some() {
                    session.last_error.clone_from(&summary.error);
                }
            }
            self.write_audit(&summary);
            self.metrics.ended(&summary, was_open);
        }
        let _ = self.events.send(JournalEvent::Record(Box::new(summary)));
    }

    /// The newest records first, masked summaries only.
    pub fn summaries(&self) -> Vec<RecordSummary> {
        let entries: Vec<Arc<Entry>> = lock(&self.ring).iter().rev().cloned().collect();
        entries.iter().map(|e| lock(&e.record).summary()).collect()
    }

    pub fn record(&self, id: u64) -> Option<ExchangeRecord> {
        let entry = lock(&self.ring)
            .iter()
            .rev()
            .find(|e| e.id == id)
            .cloned()?;
        let record = lock(&entry.record).clone();
        Some(record)
    }

    /// How many records the ring holds, and how many bytes they hold.
    pub fn held(&self) -> (usize, usize) {
        (lock(&self.ring).len(), self.held.load(Ordering::Relaxed))
    }

    /// The masked requests (with their ids) of up to `at_most` exchanges on `path` started
    /// before `id` that the journal still holds, newest first.
    pub fn requests_before(&self, id: u64, path: &str, at_most: usize) -> Vec<(u64, Bytes)> {
        let entries: Vec<Arc<Entry>> = (lock(&self.ring).iter().rev())
            .filter(|e| e.id < id)
            .cloned()
            .collect();
        (entries.iter())
            .filter_map(|e| {
                let record = lock(&e.record);
                (record.path == path).then(|| (record.id, record.masked_request.clone()))
            })
            .take(at_most)
            .collect()
    }

    /// The records of `ids` that the journal still holds, oldest first.
    pub fn records(&self, ids: &[u64]) -> Vec<ExchangeRecord> {
        let entries: Vec<Arc<Entry>> = (lock(&self.ring).iter())
            .filter(|e| ids.contains(&e.id))
            .cloned()
            .collect();
        entries.iter().map(|e| lock(&e.record).clone()).collect()
    }

    /// What this session did so far.
    pub fn session(&self) -> SessionCounts {
        lock(&self.session).clone()
    }

    /// Identifiers masked per rule id since start.
    pub fn totals(&self) -> BTreeMap<String, u64> {
        lock(&self.totals).clone()
    }

    /// The metrics in Prometheus' text format.
    pub fn metrics_text(&self) -> String {
        let (records, bytes) = self.held();
        self.metrics.render(records, bytes)
    }

    fn write_audit(&self, summary: &RecordSummary) {
        if let Some(audit) = &self.audit {
            audit.append(summary);
        }
    }
}

impl JournalEntry {
    pub fn id(&self) -> u64 {
        self.entry.id
    }

    /// Changes the record and tells listeners; writes the audit line once it is final.
    pub fn update(&self, change: impl FnOnce(&mut ExchangeRecord)) {
        let summary = {
            let mut record = lock(&self.entry.record);
            let before = record.held_bytes();
            change(&mut record);
            self.account(before, record.held_bytes());
            record.summary()
        };
        self.journal.trim(self.entry.id);
        self.journal.published(&self.entry, summary, true);
    }

    /// Adds a piece of the answer: `received` from the upstream (masked) and `sent` to the
    /// client (restored). Counted, kept (each up to [`RESPONSE_KEEP`] bytes, within the
    /// journal's byte bound, while the record is in the ring) and the restored text passed to
    /// live listeners — without a full record update.
    pub fn response_chunk(&self, received: &[u8], sent: &[u8]) {
        let text = String::from_utf8_lossy(sent).into_owned();
        let grew = {
            let mut record = lock(&self.entry.record);
            record.response_bytes += sent.len();
            let (kept_text, kept_masked) = if self.entry.kept.load(Ordering::Relaxed) {
                let text_room = RESPONSE_KEEP.saturating_sub(record.response.len());
                let cut = (0..=text_room.min(text.len()))
                    .rev()
                    .find(|&i| text.is_char_boundary(i))
                    .unwrap_or(0);
                let masked_room = RESPONSE_KEEP.saturating_sub(record.masked_response.len());
                (cut, masked_room.min(received.len()))
            } else {
                (0, 0)
            };
            let before = record.answer_bytes();
            record.response.push_str(&text[..kept_text]);
            record
                .masked_response
                .extend_from_slice(&received[..kept_masked]);
            let added = record.answer_bytes() - before;
            if added > 0 {
                self.journal.held.fetch_add(added, Ordering::Relaxed);
            }
            added > 0
        };
        let bound = self.journal.bytes_at_most.load(Ordering::Relaxed);
        if grew && self.journal.held.load(Ordering::Relaxed) > bound {
            self.journal.trim(self.entry.id);
        }
        if self.journal.events.receiver_count() > 0 && !text.is_empty() {
            let id = self.entry.id;
            let _ = self
                .journal
                .events
                .send(JournalEvent::ResponseChunk { id, text });
        }
    }

    /// Counts a change in the record's size, while it is in the ring (called under its lock).
    fn account(&self, before: usize, after: usize) {
        if !self.entry.kept.load(Ordering::Relaxed) {
            return;
        }
        if after >= before {
            self.journal
                .held
                .fetch_add(after - before, Ordering::Relaxed);
        } else {
            self.journal
                .held
                .fetch_sub(before - after, Ordering::Relaxed);
        }
    }
}

/// The audit log: masked summaries, one JSON line each, written by a thread of its own so
/// that no request waits on the disk. A line that finds the queue full is dropped, with a
/// warning: the log must not hold the proxy up.
struct AuditLog {
    lines: Option<std::sync::mpsc::SyncSender<String>>,
    writer: Option<std::thread::JoinHandle<()>>,
}

/// Lines waiting for the audit thread at most.
const AUDIT_QUEUE: usize = 4096;

impl AuditLog {
    fn open(path: PathBuf) -> AuditLog {
        let (lines, queued) = std::sync::mpsc::sync_channel::<String>(AUDIT_QUEUE);
        let spawned = std::thread::Builder::new()
            .name("maskgate-audit".into())
            .spawn(move || write_lines(&path, &queued));
        let writer = spawned
            .map_err(|e| tracing::warn!(error = %e, "cannot start the audit log's writer"))
            .ok();
        AuditLog {
            lines: Some(lines),
            writer,
        }
    }

    fn append(&self, summary: &RecordSummary) {
        let Ok(line) = serde_json::to_string(summary) else {
            return;
        };
        let Some(lines) = &self.lines else { return };
        if let Err(std::sync::mpsc::TrySendError::Full(_)) = lines.try_send(line) {
            tracing::warn!("the audit log is falling behind; a line was dropped");
        }
    }
}

impl Drop for AuditLog {
    /// Lets the writer finish the lines already queued.
    fn drop(&mut self) {
        self.lines = None;
        if let Some(writer) = self.writer.take() {
            let _ = writer.join();
        }
    }
}

/// Appends every line that arrives to `path`, until the journal is gone.
fn write_lines(path: &std::path::Path, lines: &std::sync::mpsc::Receiver<String>) {
    use std::io::Write;
    let open = || {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
    };
    let mut file = None;
    for line in lines {
        if file.is_none() {
            file = open()
                .map_err(|e| tracing::warn!(path = %path.display(), error = %e, "cannot open the audit log"))
                .ok();
        }
        let Some(f) = file.as_mut() else { continue };
        if let Err(e) = writeln!(f, "{line}") {
            tracing::warn!(path = %path.display(), error = %e, "cannot write the audit log");
            file = None;
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
            masking: None,
            first_byte: None,
            latency: None,
            request_bytes: 0,
            response_bytes: 0,
            counts: BTreeMap::new(),
            attachments: 0,
            usage: None,
            masked_request: Bytes::new(),
            tokens: Arc::default(),
            response: String::new(),
            masked_response: Vec::new(),
            error: None,
            failure: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mask::TokenTable;

    const MIB: usize = 1 << 20;

    fn new_journal(capacity: usize, bytes: usize, audit: Option<PathBuf>) -> Arc<Journal> {
        Arc::new(Journal::new(capacity, bytes, audit))
    }

    #[test]
    fn ring_keeps_the_newest_and_totals_count_everything() {
        let journal = new_journal(2, MIB, None);
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
    fn the_session_counts_exchanges_identifiers_refusals_and_the_last_error() {
        let journal = new_journal(1, MIB, None);
        let mut masked = ExchangeRecord::new("POST", "/v1/messages");
        masked.counts.insert("vpc".into(), 3);
        let running = journal.start(masked);
        let mut refused = ExchangeRecord::new("POST", "/v1/messages");
        refused.outcome = Outcome::Refused;
        refused.error = Some("maskgate: request refused: not JSON".into());
        journal.start(refused);
        running.update(|r| r.outcome = Outcome::Completed);
        running.update(|r| r.status = Some(200));
        let session = journal.session();
        assert_eq!(
            (session.exchanges, session.masked, session.refused),
            (2, 3, 1)
        );
        assert_eq!(
            session.last_error.as_deref(),
            Some("maskgate: request refused: not JSON")
        );
    }

    #[test]
    fn masked_bodies_past_the_byte_limit_push_out_the_oldest() {
        let journal = new_journal(100, 3 * MIB, None);
        for n in 0..4 {
            let mut record = ExchangeRecord::new("POST", "/v1/messages");
            record.masked_request = Bytes::from(vec![b'0' + n; MIB + 1]);
            journal.start(record);
        }
        let ids: Vec<u64> = journal.summaries().iter().map(|s| s.id).collect();
        assert_eq!(ids, [4, 3]);
        assert_eq!(journal.held.load(Ordering::Relaxed), 2 * (MIB + 1));
    }

    #[test]
    fn token_tables_count_against_the_same_byte_bound() {
        let journal = new_journal(100, MIB, None);
        let mut table = TokenTable::default();
        for n in 0..4000 {
            table.token_for("EC2_INSTANCE", "ec2_instance", &format!("i-{n:017x}"));
        }
        let tokens = Arc::new(table.into_entries());
        for _ in 0..8 {
            let mut record = ExchangeRecord::new("POST", "/v1/messages");
            record.tokens = Arc::clone(&tokens);
            journal.start(record);
        }
        // Each record holds about 0.25 MiB: at least the text of its tokens and originals.
        let mut record = ExchangeRecord::new("POST", "/v1/messages");
        record.tokens = tokens;
        let table = record.held_bytes();
        assert!(table >= 4000 * ("EC2_INSTANCE_0001".len() + 19), "{table}");
        assert_eq!(journal.summaries().len(), MIB / table);
        assert!(journal.held.load(Ordering::Relaxed) <= MIB);
    }

    #[test]
    fn answers_count_against_the_same_byte_bound() {
        let journal = new_journal(10_000, 4 * RESPONSE_KEEP, None);
        let answer = "x".repeat(RESPONSE_KEEP + 100);
        for _ in 0..50 {
            journal
                .start(ExchangeRecord::new("POST", "/v1/messages"))
                .response_chunk(b"", answer.as_bytes());
        }
        let held = journal.held.load(Ordering::Relaxed);
        let counted: usize = lock(&journal.ring)
            .iter()
            .map(|e| lock(&e.record).held_bytes())
            .sum();
        assert_eq!(held, counted);
        assert!(held <= 4 * RESPONSE_KEEP, "{held}");
        assert_eq!(journal.summaries().len(), 4);
        // The answer still arriving is never pushed out by its own bytes; once pushed out by
        // others, what it adds is counted in the record but not kept.
        let small = new_journal(10, 10, None);
        let first = small.start(ExchangeRecord::new("POST", "/v1/messages"));
        first.response_chunk(b"", b"longer than ten bytes");
        assert!(small.record(first.id()).is_some());
        let second = small.start(ExchangeRecord::new("POST", "/v1/messages"));
        assert!(small.record(first.id()).is_none());
        first.response_chunk(b"", b"more");
        assert_eq!(small.held.load(Ordering::Relaxed), 0);
        drop(second);
    }

    #[test]
    fn new_bounds_push_out_the_oldest_at_once() {
        let journal = new_journal(100, 64 * MIB, None);
        for _ in 0..10 {
            let mut record = ExchangeRecord::new("POST", "/v1/messages");
            record.masked_request = Bytes::from(vec![b'x'; MIB]);
            journal.start(record);
        }
        journal.set_bounds(5, 64 * MIB);
        let ids: Vec<u64> = journal.summaries().iter().map(|s| s.id).collect();
        assert_eq!(ids, [10, 9, 8, 7, 6]);
        journal.set_bounds(5, 2 * MIB);
        assert_eq!(journal.summaries().len(), 2);
        assert_eq!(journal.held.load(Ordering::Relaxed), 2 * MIB);
    }

    #[test]
    fn clearing_lets_go_of_every_record_and_keeps_the_totals() {
        let journal = new_journal(100, 64 * MIB, None);
        let mut record = ExchangeRecord::new("POST", "/v1/messages");
        record.counts.insert("vpc".into(), 2);
        record.masked_request = Bytes::from(vec![b'x'; MIB]);
        let running = journal.start(record);
        let mut events = journal.subscribe();
        journal.clear();
        assert!(journal.summaries().is_empty());
        assert_eq!(journal.held.load(Ordering::Relaxed), 0);
        assert_eq!(journal.totals()["vpc"], 2);
        assert!(matches!(events.try_recv(), Ok(JournalEvent::Cleared)));
        // The exchange still running writes on; nothing of it is kept or counted.
        running.response_chunk(b"late", b"late answer");
        assert_eq!(journal.held.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn audit_log_gets_final_records_and_refusals_without_originals() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("audit.jsonl");
        let journal = new_journal(8, MIB, Some(path.clone()));
        let mut record = ExchangeRecord::new("POST", "/v1/messages");
        let mut table = TokenTable::default();
        table.token_for("VPC", "vpc", "vpc-0123abcd");
        record.tokens = Arc::new(table.into_entries());
        let entry = journal.start(record);
        entry.update(|r| {
            r.outcome = Outcome::Completed;
            r.status = Some(200);
            r.response = "in vpc-0123abcd".into();
        });
        let mut refused = ExchangeRecord::new("POST", "/v1/messages");
        refused.outcome = Outcome::Refused;
        refused.status = Some(400);
        refused.error = Some("maskgate: request refused: not JSON".into());
        journal.start(refused);
        drop(entry);
        drop(journal);
        let audit = std::fs::read_to_string(path).expect("audit written");
        let lines: Vec<&str> = audit.lines().collect();
        assert_eq!(lines.len(), 2, "{audit}");
        assert!(lines[0].contains("\"status\":200"));
        assert!(lines[1].contains("\"outcome\":\"refused\"") && lines[1].contains("not JSON"));
        assert!(!audit.contains("vpc-0123abcd"));
    }
}
