//! What one invocation did, counted as CloudWatch metrics (the README, "Job outcomes, metrics and alarms"):
//! a [`Tally`] filled where the facts are already known (the results of a plan, a
//! refused event, the SQS answer, a job's outcome) and written once, at the end of the
//! invocation, as one line of CloudWatch's embedded metric format (EMF). CloudWatch
//! Logs turns that line into metrics: no API call, no extra permission.
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

use aws_sdk_backup::primitives::{DateTime, DateTimeFormat};
use serde_json::{json, Map, Value};

use crate::event::outcome::{JobKind, JobOutcome};
use crate::event::{Plan, Shape};
use crate::send::{JobResult, Outcome};
use crate::settings::Settings;

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
}

impl Tally {
    /// A plan has run: its jobs that started and those due to be sent that did not (an
    /// AWS error, too little time); a dry run's jobs are neither. A job state change
    /// counts its outcome.
    pub fn ran(&self, plan: &Plan, results: &[JobResult]) {
        for result in results {
            match result.outcome {
                Outcome::Started(_) => add(&self.jobs_started, 1),
                Outcome::Failed(_) => add(&self.jobs_failed, 1),
                Outcome::WouldStart => {}
            }
        }
        if matches!(plan.shape, Shape::BackupStateChange | Shape::CopyStateChange) {
            self.job_state_change(plan.outcome.as_ref());
        }
    }

    /// An event, or an SQS message, refused before any call. Counted once, whatever
    /// the number of its requests (which are not counted as failed jobs).
    pub fn rejected(&self) {
        add(&self.events_rejected, 1);
    }

    /// The invocation was an SQS batch, of which `failed` messages are reported failed.
    pub fn batch(&self, failed: usize) {
        self.sqs.store(true, Ordering::Relaxed);
        add(&self.messages_failed, failed as u64);
    }

    /// A selection was handled (docs/reference.md, "Selections"): the resources it matched, and
    /// those sent to the request queue (0 in a dry run, or when started here).
    pub fn selection(&self, matched: u64, enqueued: u64) {
        self.selection.store(true, Ordering::Relaxed);
        add(&self.resources_matched, matched);
        add(&self.resources_enqueued, enqueued);
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
    pub fn metrics(&self) -> Vec<(&'static str, u64)> {
        let get = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        let mut out = vec![
            ("JobsStarted", get(&self.jobs_started)),
            ("JobsFailed", get(&self.jobs_failed)),
            ("EventsRejected", get(&self.events_rejected)),
        ];
        if self.sqs.load(Ordering::Relaxed) {
            out.push(("MessagesFailed", get(&self.messages_failed)));
        }
        if self.selection.load(Ordering::Relaxed) {
            out.push(("ResourcesMatched", get(&self.resources_matched)));
            out.push(("ResourcesEnqueued", get(&self.resources_enqueued)));
        }
        if self.job_state_changes.load(Ordering::Relaxed) {
            out.push(("BackupJobsCompleted", get(&self.backup_jobs_completed)));
            out.push(("BackupJobsFailed", get(&self.backup_jobs_failed)));
            out.push(("CopyJobsCompleted", get(&self.copy_jobs_completed)));
            out.push(("CopyJobsFailed", get(&self.copy_jobs_failed)));
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
    pub fn new(settings: &Settings, sink: Sink) -> Emitter {
        Emitter {
            namespace: settings.metrics_namespace.clone(),
            function_name: settings.function_name.clone(),
            level: settings.metrics_level,
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
                    "Metrics": metrics.iter().map(|(name, _)| json!({ "Name": name, "Unit": "Count" })).collect::<Vec<_>>(),
                }],
            }),
        );
        root.insert(DIMENSION.into(), json!(self.function_name));
        for (name, value) in &metrics {
            root.insert((*name).into(), json!(value));
        }
        // Not metrics: what makes the line a log line like the others.
        let timestamp = i64::try_from(timestamp_ms)
            .ok()
            .and_then(|ms| DateTime::from_millis(ms).fmt(DateTimeFormat::DateTime).ok());
        root.insert("timestamp".into(), json!(timestamp));
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
