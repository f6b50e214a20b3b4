//! The log lines of a report (docs/reference.md, "Logs"), one JSON object each, for
//! CloudWatch Logs Insights: a line per request, per job outcome, per unsupported
//! resource a selection matched, per resource an audit found unprotected, per
//! selection or audit, and per event (or SQS message); and a line per SQS batch.
//! Tag values never appear: requests are logged field by field, never whole.

use std::time::Duration;

use tracing::{error, info, warn, Level};

use crate::core::audit::Finding;
use crate::core::error::Error;
use crate::core::job::{JobResult, Outcome};
use crate::core::outcome::JobOutcome;
use crate::core::request::Job;
use crate::core::token::{Origin, SourceId};
use crate::report::{At, Audited, Kind, Report, Resolved};

/// One line at a level chosen at run time: `tracing` fixes an event's level at
/// compile time, so each level gets its own expansion of the same line.
macro_rules! line {
    ($level:expr, $($line:tt)*) => {
        match $level {
            Level::ERROR => tracing::event!(Level::ERROR, $($line)*),
            Level::WARN => tracing::event!(Level::WARN, $($line)*),
            _ => tracing::event!(Level::INFO, $($line)*),
        }
    };
}

/// Writes every line of `report`, in order: the job's outcome, the unsupported
/// resources, the requests, the unprotected resources, the selection or audit,
/// and last the event.
pub fn report(report: &Report, at: At<'_>) {
    let origin = at.origin;
    if let Some(recorded) = &report.outcome {
        outcome(recorded, &report.source, origin);
    }
    if let Some(resolved) = &report.selection {
        for arn in &resolved.unsupported_shown {
            unsupported(arn, &report.source, origin);
        }
    }
    for (position, result) in report.jobs.iter().enumerate() {
        request(result, position, origin);
    }
    match (report.kind, &report.selection, &report.audit) {
        (Kind::Audit, selection, Some(audited)) => {
            for finding in &audited.verdict.findings {
                unprotected(finding, audited, &report.source, origin);
            }
            audit(audited, selection.as_ref(), &report.source, origin);
        }
        (Kind::Selection, Some(resolved), _) => selection(resolved, report.error.as_ref(), origin),
        _ => {}
    }
    let fan_out = report.selection.as_ref().is_some_and(|s| s.fan_out);
    event(
        &EventSummary {
            kind: report.kind.as_str(),
            source: &report.source,
            requests: if fan_out { 0 } else { report.jobs.len() },
            failed: report.failed_jobs(),
            skipped: report.skipped.as_deref(),
            error: report.error.as_ref().map(|e| (e.error_type(), e.to_string())),
            duration: at.duration,
            cold_start: at.cold_start,
        },
        origin,
    );
}

/// A resource the selection matched whose type AWS Backup cannot back up.
fn unsupported(arn: &str, source: &SourceId, at: Origin) {
    info!(
        resource_arn = arn,
        source_id = source.value.as_str(),
        request_id = at.request_id,
        message_id = at.message_id,
        "matched but not a type AWS Backup can back up: counted, not sent"
    );
}

/// The selection's counts. One that matches nothing is a success, and a warning:
/// its tags or patterns may be wrong.
fn selection(resolved: &Resolved, error: Option<&Error>, at: Origin) {
    let name = resolved.name.as_deref();
    if resolved.matched == 0 && error.is_none() {
        warn!(
            selection_name = name,
            found = resolved.found,
            matched = 0,
            request_id = at.request_id,
            message_id = at.message_id,
            "the selection matched no resource; check its tags and patterns (untagged resources are never found)"
        );
    } else {
        info!(
            selection_name = name,
            found = resolved.found,
            matched = resolved.matched,
            unsupported = resolved.unsupported,
            enqueued = resolved.enqueued,
            messages = resolved.messages,
            fan_out = resolved.fan_out,
            dry_run = !resolved.sent,
            request_id = at.request_id,
            message_id = at.message_id,
            "selection"
        );
    }
}

/// An audited resource without a recent enough backup, and why.
fn unprotected(finding: &Finding, audited: &Audited, source: &SourceId, at: Origin) {
    let last_backup_time = finding.last_backup.as_ref().map(|b| b.at.to_string());
    let last_job = finding.last_job.as_ref();
    warn!(
        resource_arn = finding.arn.as_str(),
        resource_type = finding.resource_type,
        last_backup_time = last_backup_time.as_deref(),
        age_hours = finding.age_hours(audited.at),
        last_vault = finding.last_backup.as_ref().and_then(|b| b.vault.as_deref()),
        in_progress = finding.in_progress,
        remediated = finding.remediate,
        last_job_state = last_job.map(|j| j.state.as_str()),
        last_job_message = last_job.and_then(|j| j.message.as_deref()),
        source_id = source.value.as_str(),
        request_id = at.request_id,
        message_id = at.message_id,
        "unprotected"
    );
}

/// The audit's counts: the answer's.
fn audit(audited: &Audited, selection: Option<&Resolved>, source: &SourceId, at: Origin) {
    let verdict = &audited.verdict;
    let none = Resolved::default();
    let resolved = selection.unwrap_or(&none);
    // A warning when something is unprotected, or when the selection audits nothing
    // (its tags or patterns may be wrong: an audit of nothing finds nothing).
    let level = if verdict.unprotected > 0 || verdict.audited == 0 {
        Level::WARN
    } else {
        Level::INFO
    };
    line!(
        level,
        selection_name = resolved.name.as_deref(),
        found = resolved.found,
        matched = resolved.matched,
        unsupported = resolved.unsupported,
        audited = verdict.audited,
        protected = verdict.protected,
        in_progress = verdict.in_progress,
        unprotected = verdict.unprotected,
        remediated = audited.remediated,
        enqueued = resolved.enqueued,
        messages = resolved.messages,
        oldest_backup_age_seconds = verdict.oldest_backup_age,
        source_id = source.value.as_str(),
        request_id = at.request_id,
        message_id = at.message_id,
        "audit"
    );
}

/// One line per request: what was asked, what AWS answered, how long it took.
fn request(result: &JobResult, position: usize, at: Origin) {
    let job: &Job = &result.job;
    let (resource_arn, recovery_point_arn, destination) = match job {
        Job::StartBackupJob(b) => (
            Some(b.resource_arn()),
            match &result.outcome {
                Outcome::Started(s) => s.recovery_point_arn.as_deref(),
                _ => None,
            },
            None,
        ),
        Job::StartCopyJob(c) => (
            None,
            Some(c.recovery_point_arn()),
            Some(c.destination_backup_vault_arn()),
        ),
    };
    let (outcome, job_id, is_parent, failure) = match &result.outcome {
        Outcome::Started(s) => ("started", Some(s.job_id.as_str()), Some(s.is_parent), None),
        Outcome::WouldStart => ("dry_run", None, None, None),
        Outcome::Failed(f) => (
            if matches!(f.error, Error::NotStarted(_)) {
                "not_started"
            } else {
                "failed"
            },
            None,
            None,
            Some(f),
        ),
    };
    let duration_ms = millis(result.duration);
    let action = job.action().as_str();
    let token = job.idempotency_token();
    let vault = job.vault();
    match failure {
        None => info!(
            action,
            resource_arn,
            recovery_point_arn,
            vault,
            destination_vault_arn = destination,
            idempotency_token = token,
            job_id,
            is_parent,
            request_id = at.request_id,
            message_id = at.message_id,
            position,
            outcome,
            duration_ms,
            "request"
        ),
        Some(f) => error!(
            action,
            resource_arn,
            recovery_point_arn,
            vault,
            destination_vault_arn = destination,
            idempotency_token = token,
            request_id = at.request_id,
            message_id = at.message_id,
            position,
            outcome,
            error_code = f.code(),
            error_message = %f.error,
            retryable = f.retryable,
            duration_ms,
            "request"
        ),
    }
}

/// One line per job outcome: how an AWS Backup job ended, at INFO when it completed
/// and at ERROR otherwise. `job_id` is the name the request line gives the job it
/// started, so that the two join.
fn outcome(outcome: &JobOutcome, source: &SourceId, at: Origin) {
    let kind = outcome.kind.as_str();
    let state = outcome.state.as_str();
    let job_id = outcome.job_id.as_deref();
    let status_message = outcome.status_message.as_deref();
    let resource_arn = outcome.resource_arn.as_deref();
    let resource_type = outcome.resource_type.as_deref();
    let vault = outcome.vault.as_deref();
    let source_vault_arn = outcome.source_vault_arn.as_deref();
    let recovery_point_arn = outcome.recovery_point_arn.as_deref();
    let source_recovery_point_arn = outcome.source_recovery_point_arn.as_deref();
    let backup_size_bytes = outcome.backup_size_bytes;
    let completion_date = outcome.completion_date.as_deref();
    let source_id = source.value.as_str();
    let level = if outcome.state.succeeded() {
        Level::INFO
    } else {
        Level::ERROR
    };
    line!(
        level,
        kind,
        job_id,
        state,
        status_message,
        resource_arn,
        resource_type,
        vault,
        source_vault_arn,
        recovery_point_arn,
        source_recovery_point_arn,
        backup_size_bytes,
        completion_date,
        source_id,
        request_id = at.request_id,
        message_id = at.message_id,
        "outcome"
    );
}

/// What became of one event (or one SQS message), for its event line.
struct EventSummary<'a> {
    kind: &'a str,
    source: &'a SourceId,
    requests: usize,
    failed: usize,
    skipped: Option<&'a str>,
    /// Why the event failed as a whole: the `errorType` and the message.
    error: Option<(&'a str, String)>,
    duration: Duration,
    cold_start: Option<bool>,
}

/// One line per event, or per SQS message.
fn event(summary: &EventSummary, at: Origin) {
    let source_id = summary.source.value.as_str();
    let source_kind = summary.source.kind.as_str();
    let duration_ms = millis(summary.duration);
    match &summary.error {
        None => {
            let outcome = if summary.skipped.is_some() {
                "skipped"
            } else if summary.failed > 0 {
                "failed"
            } else {
                "succeeded"
            };
            let level = if summary.failed > 0 { Level::WARN } else { Level::INFO };
            line!(
                level,
                kind = summary.kind,
                source_id,
                source_kind,
                requests = summary.requests,
                failed = summary.failed,
                outcome,
                skipped = summary.skipped,
                request_id = at.request_id,
                message_id = at.message_id,
                cold_start = summary.cold_start,
                duration_ms,
                "event"
            )
        }
        Some((error_type, message)) => error!(
            kind = summary.kind,
            source_id,
            source_kind,
            requests = summary.requests,
            outcome = "rejected",
            error_type = *error_type,
            error_message = message.as_str(),
            request_id = at.request_id,
            message_id = at.message_id,
            cold_start = summary.cold_start,
            duration_ms,
            "event"
        ),
    }
}

/// One line per SQS batch.
pub fn batch(messages: usize, failed: usize, fifo: bool, duration: Duration, cold_start: bool, request_id: &str) {
    let duration_ms = millis(duration);
    let level = if failed > 0 { Level::WARN } else { Level::INFO };
    line!(
        level,
        kind = "sqs",
        messages,
        failed,
        fifo,
        request_id,
        cold_start,
        duration_ms,
        "batch"
    );
}

fn millis(duration: Duration) -> f64 {
    (duration.as_secs_f64() * 1000.0 * 1000.0).round() / 1000.0
}
