//! JSON log lines for CloudWatch Logs Insights (docs/reference.md, "Logs"): one per
//! request, one per job outcome and one per event. Tag values and credentials never
//! appear: requests are logged field by field, never whole, and the AWS SDK's own logs are capped at INFO
//! (at DEBUG and TRACE the SDK logs signing details).

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tracing::{error, info, warn};
use tracing_subscriber::filter::{EnvFilter, FilterExt, LevelFilter, Targets};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::Layer;

use crate::event::outcome::JobOutcome;
use crate::event::{Origin, Plan};
use crate::request::Job;
use crate::send::{Code, JobResult, Outcome};
use crate::token::SourceId;

/// Crates whose logs are never let through below INFO, whatever the level asked:
/// at DEBUG and TRACE they log request signing, headers and payload details.
const CAPPED: &[&str] = &[
    "aws_sigv4",
    "aws_smithy_runtime",
    "aws_smithy_runtime_api",
    "aws_smithy_http_client",
    "aws_smithy_http",
    "aws_runtime",
    "aws_config",
    "aws_credential_types",
    "aws_sdk_backup",
    "aws_sdk_sqs",
    "aws_sdk_resourcegroupstagging",
    "hyper",
    "hyper_util",
    "h2",
    "rustls",
    "lambda_runtime",
    "lambda_runtime_api_client",
];

/// Starts logging to `writer`: JSON lines unless `AWS_LAMBDA_LOG_FORMAT` is `Text`;
/// the level from `AWS_LAMBDA_LOG_LEVEL`, else `RUST_LOG`, else INFO.
pub fn init<W>(writer: W)
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let format = std::env::var("AWS_LAMBDA_LOG_FORMAT").unwrap_or_default();
    let level = filter(
        std::env::var("AWS_LAMBDA_LOG_LEVEL").ok().as_deref(),
        std::env::var("RUST_LOG").ok().as_deref(),
    );
    // Both must let a line through: no directive, however specific, lifts a cap.
    let filter = level.and(caps());
    let layer = tracing_subscriber::fmt::layer()
        .with_writer(writer)
        .with_ansi(false)
        .with_target(false);
    let installed = if format.eq_ignore_ascii_case("text") {
        tracing_subscriber::registry()
            .with(layer.with_filter(filter))
            .try_init()
    } else {
        let json = layer
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false);
        tracing_subscriber::registry().with(json.with_filter(filter)).try_init()
    };
    // A second init (tests) keeps the first subscriber; nothing to report.
    drop(installed);
}

/// The level asked for: a Lambda log level (TRACE ... FATAL) or a `RUST_LOG` directive.
pub fn filter(lambda_level: Option<&str>, rust_log: Option<&str>) -> EnvFilter {
    match (lambda_level, rust_log) {
        (Some(level), _) if !level.trim().is_empty() => {
            let level = match level.trim().to_ascii_lowercase().as_str() {
                "fatal" => LevelFilter::ERROR,
                other => other.parse().unwrap_or(LevelFilter::INFO),
            };
            EnvFilter::default().add_directive(level.into())
        }
        (_, Some(directives)) if !directives.trim().is_empty() => EnvFilter::builder()
            .with_default_directive(LevelFilter::INFO.into())
            .parse_lossy(directives),
        _ => EnvFilter::default().add_directive(LevelFilter::INFO.into()),
    }
}

/// The crates whose logs never go below INFO, as a filter of their own.
pub fn caps() -> Targets {
    Targets::new()
        .with_default(LevelFilter::TRACE)
        .with_targets(CAPPED.iter().map(|target| (*target, LevelFilter::INFO)))
}

/// Logs a panic as one JSON line with its location only, instead of Rust's default
/// message on stderr: a panic message can quote input, and input may hold tag values.
pub fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let location = info
            .location()
            .map(|l| format!("{}:{}", l.file(), l.line()))
            .unwrap_or_default();
        error!(
            location,
            error_type = crate::error::INTERNAL_ERROR,
            "panic in backup-trigger"
        );
    }));
}

static COLD: AtomicBool = AtomicBool::new(true);

/// True for the first invocation of this process, false after.
pub fn take_cold_start() -> bool {
    COLD.swap(false, Ordering::Relaxed)
}

/// One line per request: what was asked, what AWS answered, how long it took.
pub fn request(result: &JobResult, position: usize, at: Origin) {
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
            if f.code == Code::NotStarted {
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
            error_code = f.code.as_str(),
            error_message = f.message.as_str(),
            retryable = f.retryable,
            duration_ms,
            "request"
        ),
    }
}

/// One line per job outcome (the README, "Job outcomes, metrics and alarms"): how an AWS Backup job ended,
/// at INFO when it completed and at ERROR otherwise. `job_id` is the name the request
/// line gives the job it started, so that the two join.
pub fn outcome(outcome: &JobOutcome, source: &SourceId, at: Origin) {
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
    if outcome.state.succeeded() {
        info!(
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
        )
    } else {
        error!(
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
        )
    }
}

/// What became of one event (or one SQS message).
pub struct EventSummary<'a> {
    pub kind: &'a str,
    pub source: &'a SourceId,
    pub requests: usize,
    pub failed: usize,
    pub skipped: Option<&'a str>,
    /// Why the event started nothing, when it was refused as a whole: the
    /// `errorType` and the message.
    pub error: Option<(&'a str, &'a str)>,
    pub duration: Duration,
    /// Set on the line of a whole event; none on a message's line.
    pub cold_start: Option<bool>,
}

impl<'a> EventSummary<'a> {
    /// An event whose jobs were sent (or that asked for nothing).
    pub fn sent(plan: &'a Plan, results: &[JobResult], duration: Duration, cold_start: Option<bool>) -> Self {
        EventSummary {
            kind: plan.shape.as_str(),
            source: &plan.source,
            requests: results.len(),
            failed: results.iter().filter(|r| r.outcome.is_failure()).count(),
            skipped: plan.skipped.as_deref(),
            error: None,
            duration,
            cold_start,
        }
    }

    /// An event refused before any call: it started nothing.
    pub fn rejected(
        kind: &'a str,
        source: &'a SourceId,
        error: (&'a str, &'a str),
        duration: Duration,
        cold_start: Option<bool>,
    ) -> Self {
        EventSummary {
            kind,
            source,
            requests: 0,
            failed: 0,
            skipped: None,
            error: Some(error),
            duration,
            cold_start,
        }
    }
}

/// One line per event, or per SQS message.
pub fn event(summary: &EventSummary, at: Origin) {
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
            if summary.failed > 0 {
                warn!(
                    kind = summary.kind,
                    source_id,
                    source_kind,
                    requests = summary.requests,
                    failed = summary.failed,
                    outcome,
                    request_id = at.request_id,
                    message_id = at.message_id,
                    cold_start = summary.cold_start,
                    duration_ms,
                    "event"
                )
            } else {
                info!(
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
        }
        Some((error_type, message)) => error!(
            kind = summary.kind,
            source_id,
            source_kind,
            requests = summary.requests,
            outcome = "rejected",
            error_type = *error_type,
            error_message = *message,
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
    if failed > 0 {
        warn!(
            kind = "sqs",
            messages, failed, fifo, request_id, cold_start, duration_ms, "batch"
        )
    } else {
        info!(
            kind = "sqs",
            messages, failed, fifo, request_id, cold_start, duration_ms, "batch"
        )
    }
}

fn millis(duration: Duration) -> f64 {
    (duration.as_secs_f64() * 1000.0 * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lambda_levels_map_to_filters() {
        assert_eq!(filter(Some("DEBUG"), None).max_level_hint(), Some(LevelFilter::DEBUG));
        assert_eq!(
            filter(Some("FATAL"), Some("trace")).max_level_hint(),
            Some(LevelFilter::ERROR),
            "AWS_LAMBDA_LOG_LEVEL wins over RUST_LOG"
        );
        assert_eq!(filter(None, Some("debug")).max_level_hint(), Some(LevelFilter::DEBUG));
        assert_eq!(filter(None, None).max_level_hint(), Some(LevelFilter::INFO));
    }

    #[test]
    fn sdk_crates_are_capped_at_info_whatever_the_directive() {
        let caps = caps();
        for target in [
            "aws_sigv4",
            "aws_smithy_runtime::client::orchestrator",
            "hyper_util::client",
            "lambda_runtime",
            "aws_sdk_sqs::operation::send_message_batch",
            "aws_sdk_resourcegroupstagging::operation::get_resources",
        ] {
            assert!(!caps.would_enable(target, &tracing::Level::DEBUG), "{target}");
            assert!(caps.would_enable(target, &tracing::Level::INFO), "{target}");
        }
        assert!(caps.would_enable("backup_trigger::handler", &tracing::Level::TRACE));
    }
}
