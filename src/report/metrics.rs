//! What one invocation did, counted as CloudWatch metrics (docs/reference.md,
//! "Metrics"): a [`Tally`] that every report is recorded in (and the SQS answer),
//! written once, at the end of the invocation, as one line of CloudWatch's embedded
//! metric format (EMF). CloudWatch Logs turns that line into metrics: no API call,
//! no extra permission.
//!
//! The line is written directly, not as a tracing event, so that no log level or
//! format setting can drop it. It also carries `level` and `timestamp`: with Lambda's
//! JSON log format and an application log level, Lambda itself drops every line whose
//! level is below the one set, and takes a line without a valid `level` and
//! `timestamp` for INFO. The metrics line therefore states the level Lambda filters
//! at (INFO, or WARN, ERROR or FATAL when `AWS_LAMBDA_LOG_LEVEL` is one of those).

use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{json, Map, Value};

use crate::core::job::Outcome;
use crate::core::outcome::{JobKind, JobOutcome};
use crate::core::time::Timestamp;
use crate::report::{Kind, Report};

/// `METRICS_NAMESPACE` when unset.
pub const DEFAULT_NAMESPACE: &str = "BackupTrigger";
/// The `FunctionName` dimension outside Lambda (`AWS_LAMBDA_FUNCTION_NAME` unset).
pub const DEFAULT_FUNCTION_NAME: &str = "backup-trigger";
/// The one dimension of every metric.
pub const DIMENSION: &str = "FunctionName";

/// The counts of one invocation. Shared by the tasks of an SQS batch, hence atomic.
#[derive(Debug, Default)]
pub struct Tally {
    jobs_started: AtomicU64,
    jobs_failed: AtomicU64,
    events_rejected: AtomicU64,
    sqs: AtomicBool,
    messages_failed: AtomicU64,
    selection: AtomicBool,
    resources_matched: AtomicU64,
    resources_enqueued: AtomicU64,
    job_state_changes: AtomicBool,
    backup_jobs_completed: AtomicU64,
    backup_jobs_failed: AtomicU64,
    copy_jobs_completed: AtomicU64,
    copy_jobs_failed: AtomicU64,
    audit: AtomicBool,
    resources_audited: AtomicU64,
    resources_unprotected: AtomicU64,
    resources_in_progress: AtomicU64,
    resources_remediated: AtomicU64,
    /// `OldestBackupAge` in seconds, plus one (0: no audited resource had a backup).
    oldest_backup_age: AtomicU64,
}

/// The CloudWatch unit of a metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Count,
    Seconds,
}

impl Unit {
    pub fn as_str(self) -> &'static str {
        match self {
            Unit::Count => "Count",
            Unit::Seconds => "Seconds",
        }
    }
}

impl Tally {
    /// Counts what one event (or SQS message) came to: its jobs that started, and
    /// those due to be sent that did not (an AWS error, too little time; a dry run's
    /// are neither); a refused event, once whatever the number of its requests (not
    /// counted as failed jobs); a job's outcome; what a selection matched and
    /// enqueued; what an audit found (only when it completed).
    pub fn record(&self, report: &Report) {
        for result in &report.jobs {
            match result.outcome {
                Outcome::Started(_) => add(&self.jobs_started, 1),
                Outcome::Failed(_) => add(&self.jobs_failed, 1),
                Outcome::WouldStart => {}
            }
        }
        if report.error.as_ref().is_some_and(|e| e.is_refusal()) {
            add(&self.events_rejected, 1);
        }
        if matches!(report.kind, Kind::BackupStateChange | Kind::CopyStateChange) {
            self.job_state_change(report.outcome.as_ref());
        }
        if let (Kind::Selection, Some(resolved)) = (report.kind, &report.selection) {
            self.selection.store(true, Ordering::Relaxed);
            add(&self.resources_matched, resolved.matched as u64);
            // A dry run enqueues nothing; a failed fan-out counts what SQS took.
            if resolved.sent {
                add(&self.resources_enqueued, resolved.enqueued as u64);
            }
        }
        if let Some(audited) = &report.audit {
            let verdict = &audited.verdict;
            self.audit.store(true, Ordering::Relaxed);
            add(&self.resources_audited, verdict.audited as u64);
            add(&self.resources_unprotected, verdict.unprotected as u64);
            add(&self.resources_in_progress, verdict.in_progress as u64);
            // A dry run remediates nothing: what it would have is in the answer only.
            if report.selection.as_ref().is_some_and(|s| s.sent) {
                add(&self.resources_remediated, audited.remediated as u64);
            }
            if let Some(age) = verdict.oldest_backup_age {
                self.oldest_backup_age
                    .fetch_max(u64::try_from(age).unwrap_or(0).saturating_add(1), Ordering::Relaxed);
            }
        }
    }

    /// The invocation was an SQS batch, of which `failed` messages are reported failed.
    pub fn batch(&self, failed: usize) {
        self.sqs.store(true, Ordering::Relaxed);
        add(&self.messages_failed, failed as u64);
    }

    /// A job state change was handled; `outcome` is its final state, if it had one.
    fn job_state_change(&self, outcome: Option<&JobOutcome>) {
        self.job_state_changes.store(true, Ordering::Relaxed);
        let Some(outcome) = outcome else { return };
        let counter = match (outcome.kind, outcome.state.succeeded()) {
            (JobKind::Backup, true) => &self.backup_jobs_completed,
            (JobKind::Backup, false) => &self.backup_jobs_failed,
            (JobKind::Copy, true) => &self.copy_jobs_completed,
            (JobKind::Copy, false) => &self.copy_jobs_failed,
        };
        add(counter, 1);
    }

    /// The metrics of this invocation, by name, in a fixed order: always the job and
    /// event counts, and the others when the invocation had something to count them.
    pub fn metrics(&self) -> Vec<(&'static str, u64, Unit)> {
        let get = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        let count = |name, counter: &AtomicU64| (name, get(counter), Unit::Count);
        let mut out = vec![
            count("JobsStarted", &self.jobs_started),
            count("JobsFailed", &self.jobs_failed),
            count("EventsRejected", &self.events_rejected),
        ];
        if self.sqs.load(Ordering::Relaxed) {
            out.push(count("MessagesFailed", &self.messages_failed));
        }
        if self.selection.load(Ordering::Relaxed) {
            out.push(count("ResourcesMatched", &self.resources_matched));
            out.push(count("ResourcesEnqueued", &self.resources_enqueued));
        }
        if self.job_state_changes.load(Ordering::Relaxed) {
            out.push(count("BackupJobsCompleted", &self.backup_jobs_completed));
            out.push(count("BackupJobsFailed", &self.backup_jobs_failed));
            out.push(count("CopyJobsCompleted", &self.copy_jobs_completed));
            out.push(count("CopyJobsFailed", &self.copy_jobs_failed));
        }
        if self.audit.load(Ordering::Relaxed) {
            out.push(count("ResourcesAudited", &self.resources_audited));
            out.push(count("ResourcesUnprotected", &self.resources_unprotected));
            out.push(count("ResourcesInProgress", &self.resources_in_progress));
            out.push(count("ResourcesRemediated", &self.resources_remediated));
            if let Some(age) = get(&self.oldest_backup_age).checked_sub(1) {
                out.push(("OldestBackupAge", age, Unit::Seconds));
            }
        }
        out
    }
}

fn add(counter: &AtomicU64, n: u64) {
    counter.fetch_add(n, Ordering::Relaxed);
}

/// Where the metrics line goes: stdout in Lambda (with the log lines, which CloudWatch
/// Logs reads), stderr for `bootstrap invoke` (with its log lines), or memory in tests.
#[derive(Debug, Clone)]
pub enum Sink {
    Stdout,
    Stderr,
    Memory(Arc<Mutex<Vec<String>>>),
}

/// Writes the metrics line of each invocation.
#[derive(Debug, Clone)]
pub struct Emitter {
    namespace: String,
    function_name: String,
    level: &'static str,
    sink: Sink,
}

impl Emitter {
    /// Lines in `namespace`, with `function_name` as the one dimension, stating
    /// `level` (see [`line_level`]).
    pub fn new(namespace: &str, function_name: &str, level: &'static str, sink: Sink) -> Emitter {
        Emitter {
            namespace: namespace.to_owned(),
            function_name: function_name.to_owned(),
            level,
            sink,
        }
    }

    pub fn with_sink(self, sink: Sink) -> Emitter {
        Emitter { sink, ..self }
    }

    /// The EMF document of `tally`, stamped `timestamp_ms` (milliseconds since the
    /// Unix epoch).
    pub fn document(&self, tally: &Tally, request_id: &str, timestamp_ms: u64) -> Value {
        let metrics = tally.metrics();
        let mut root = Map::new();
        root.insert(
            "_aws".into(),
            json!({
                "Timestamp": timestamp_ms,
                "CloudWatchMetrics": [{
                    "Namespace": self.namespace,
                    "Dimensions": [[DIMENSION]],
                    "Metrics": metrics.iter().map(|(name, _, unit)| json!({ "Name": name, "Unit": unit.as_str() })).collect::<Vec<_>>(),
                }],
            }),
        );
        root.insert(DIMENSION.into(), json!(self.function_name));
        for (name, value, _) in &metrics {
            root.insert((*name).into(), json!(value));
        }
        // Not metrics: what makes the line a log line like the others.
        let timestamp = i64::try_from(timestamp_ms).map(|ms| Timestamp::from_millis(ms).to_string());
        root.insert("timestamp".into(), json!(timestamp.ok()));
        root.insert("level".into(), json!(self.level));
        root.insert("message".into(), json!("metrics"));
        root.insert("request_id".into(), json!(request_id));
        Value::Object(root)
    }

    /// Writes the line of `tally`, now, as one write. A failed write is reported on
    /// stderr: there is nowhere else to say it, and it must not fail the invocation.
    pub fn write(&self, tally: &Tally, request_id: &str) {
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        let mut line = self.document(tally, request_id, now_ms).to_string();
        line.push('\n');
        let written = match &self.sink {
            Sink::Stdout => std::io::stdout().lock().write_all(line.as_bytes()),
            Sink::Stderr => std::io::stderr().lock().write_all(line.as_bytes()),
            Sink::Memory(lines) => {
                lines
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .push(line);
                Ok(())
            }
        };
        if let Err(e) = written {
            eprintln!("backup-trigger could not write its metrics line: {e}");
        }
    }
}

/// The `level` of the metrics line for a Lambda application log level: the level
/// Lambda filters at, when it is above INFO, so that Lambda keeps the line.
pub fn line_level(lambda_log_level: Option<&str>) -> &'static str {
    match lambda_log_level.map(|l| l.trim().to_ascii_uppercase()).as_deref() {
        Some("WARN") => "WARN",
        Some("ERROR") => "ERROR",
        Some("FATAL") => "FATAL",
        _ => "INFO",
    }
}

#[cfg(test)]
mod tests;
