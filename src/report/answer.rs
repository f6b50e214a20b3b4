//! What Lambda gets back (docs/reference.md, "Answers and errors"): results, SQS partial-batch answers,
//! and errors whose `errorType` names the kind of failure. Every answer is a typed
//! struct serialised by serde, so no key is spelt by hand and nothing can be dropped.

use std::sync::Arc;

use aws_lambda_events::sqs::SqsBatchResponse;
use lambda_runtime::Diagnostic;
use serde::Serialize;

use crate::error::PlanError;
use crate::event::{Plan, Shape};
use crate::request::Job;
use crate::send::{JobResult, Outcome};

/// An invocation that failed: `errorType` and `errorMessage` of the Lambda error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{error_type}: {message}")]
pub struct HandlerError {
    pub error_type: String,
    pub message: String,
}

impl From<HandlerError> for Diagnostic {
    fn from(error: HandlerError) -> Diagnostic {
        Diagnostic {
            error_type: error.error_type,
            error_message: error.message,
        }
    }
}

impl From<PlanError> for HandlerError {
    fn from(error: PlanError) -> HandlerError {
        HandlerError {
            error_type: error.error_type().to_owned(),
            message: format!("nothing was started: {error}"),
        }
    }
}

/// The answer of an invocation that succeeded.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum Answer {
    /// A bare request: its one result.
    One(Box<JobAnswer>),
    /// A list or an EventBridge event.
    Jobs(Jobs),
    /// An SQS batch: exactly `{"batchItemFailures": [{"itemIdentifier": ...}]}`.
    Sqs(SqsBatchResponse),
    /// A selection: `{"Selection": {...counts...}, "Jobs": [...]}`.
    Selection(SelectionAnswer),
}

/// `{"Selection": {"Name", "Found", "Matched", "Unsupported", "Enqueued",
/// "Messages"}, "Jobs": [...]}` (docs/reference.md, "Selections").
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct SelectionAnswer {
    pub selection: SelectionCounts,
    pub jobs: Vec<JobAnswer>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct SelectionCounts {
    /// `SelectionName`, null when it has none.
    pub name: Option<String>,
    /// Resources the Tagging API listed (it depends on the filters passed).
    pub found: usize,
    /// Those the selection matches.
    pub matched: usize,
    /// Those of `matched` that AWS Backup cannot back up: never sent.
    pub unsupported: usize,
    /// Requests sent to the request queue (a dry run: that would be sent).
    pub enqueued: usize,
    /// Messages sent to the request queue (a dry run: that would be sent).
    pub messages: usize,
}

/// `{"Jobs": [...], "Skipped": "why"}`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Jobs {
    pub jobs: Vec<JobAnswer>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
}

/// One result object: what was started, what failed, or (dry run) what would be sent.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum JobAnswer {
    Backup(BackupStarted),
    Copy(CopyStarted),
    Failed(JobFailed),
    /// The whole request as it would be sent (tag values redacted), and `"DryRun": true`.
    DryRun {
        #[serde(flatten)]
        job: Job,
        #[serde(rename = "DryRun")]
        dry_run: bool,
    },
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct BackupStarted {
    pub action: &'static str,
    pub resource_arn: String,
    pub backup_vault_name: String,
    pub idempotency_token: String,
    pub backup_job_id: String,
    pub is_parent: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub creation_date: Option<String>,
    /// Only when AWS returned one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recovery_point_arn: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CopyStarted {
    pub action: &'static str,
    pub recovery_point_arn: String,
    pub source_backup_vault_name: String,
    pub destination_backup_vault_arn: String,
    pub idempotency_token: String,
    pub copy_job_id: String,
    pub is_parent: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub creation_date: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct JobFailed {
    pub action: &'static str,
    pub idempotency_token: String,
    pub error_code: String,
    pub error_message: String,
}

impl From<JobResult> for JobAnswer {
    fn from(result: JobResult) -> JobAnswer {
        let action = result.job.action().as_str();
        match result.outcome {
            Outcome::WouldStart => JobAnswer::DryRun {
                job: Arc::unwrap_or_clone(result.job),
                dry_run: true,
            },
            Outcome::Failed(failure) => JobAnswer::Failed(JobFailed {
                action,
                idempotency_token: result.job.idempotency_token().to_owned(),
                error_code: failure.code.as_str().to_owned(),
                error_message: failure.message,
            }),
            Outcome::Started(started) => match &*result.job {
                Job::StartBackupJob(job) => JobAnswer::Backup(BackupStarted {
                    action,
                    resource_arn: job.resource_arn().to_owned(),
                    backup_vault_name: job.backup_vault_name().to_owned(),
                    idempotency_token: job.idempotency_token().to_owned(),
                    backup_job_id: started.job_id,
                    is_parent: started.is_parent,
                    creation_date: started.creation_date,
                    recovery_point_arn: started.recovery_point_arn,
                }),
                Job::StartCopyJob(job) => JobAnswer::Copy(CopyStarted {
                    action,
                    recovery_point_arn: job.recovery_point_arn().to_owned(),
                    source_backup_vault_name: job.source_backup_vault_name().to_owned(),
                    destination_backup_vault_arn: job.destination_backup_vault_arn().to_owned(),
                    idempotency_token: job.idempotency_token().to_owned(),
                    copy_job_id: started.job_id,
                    is_parent: started.is_parent,
                    creation_date: started.creation_date,
                }),
            },
        }
    }
}

/// The answer to a single event whose jobs all started: one result for a bare
/// request, `{"Jobs": [...]}` for a list or an EventBridge event.
pub fn single(shape: Shape, skipped: Option<String>, mut results: Vec<JobResult>) -> Answer {
    if shape == Shape::Bare && results.len() == 1 {
        if let Some(only) = results.pop() {
            return Answer::One(Box::new(only.into()));
        }
    }
    Answer::Jobs(Jobs {
        jobs: results.into_iter().map(JobAnswer::from).collect(),
        skipped,
    })
}

/// The SQS partial-batch answer, exactly as Lambda's SQS poller reads it.
pub fn sqs(failed_message_ids: Vec<String>) -> Answer {
    let mut answer = SqsBatchResponse::default();
    answer.set_failures(failed_message_ids);
    Answer::Sqs(answer)
}

/// The error of an invocation in which some jobs failed: `errorType` is the first
/// failure's code; the message names every failed request and why.
pub fn failed(plan: &Plan, results: &[JobResult]) -> Option<HandlerError> {
    let failures: Vec<(usize, &JobResult)> = results
        .iter()
        .enumerate()
        .filter(|(_, r)| r.outcome.is_failure())
        .collect();
    let (_, first) = failures.first()?;
    let Outcome::Failed(first) = &first.outcome else {
        return None;
    };
    let started = results
        .iter()
        .filter(|r| matches!(r.outcome, Outcome::Started(_)))
        .count();
    let lines: Vec<String> = failures
        .iter()
        .take(20)
        .filter_map(|(position, r)| match &r.outcome {
            Outcome::Failed(f) => Some(format!(
                "{} ({} {}, token {}): {}: {}",
                label(plan.shape, *position),
                r.job.action().as_str(),
                r.job.subject_arn(),
                r.job.idempotency_token(),
                f.code.as_str(),
                f.message
            )),
            _ => None,
        })
        .collect();
    let more = if failures.len() > 20 {
        format!("; and {} more", failures.len() - 20)
    } else {
        String::new()
    };
    Some(HandlerError {
        error_type: first.code.as_str().to_owned(),
        message: format!(
            "{} of {} requests failed: {}{more}. {started} started (listed in the log); retrying the event is safe, its tokens do not change",
            failures.len(),
            results.len(),
            lines.join("; ")
        ),
    })
}

fn label(shape: Shape, position: usize) -> String {
    match shape {
        Shape::Bare | Shape::BackupStateChange | Shape::CopyStateChange => "the request".to_owned(),
        Shape::List | Shape::Selection => format!("Jobs[{position}]"),
        Shape::EventBridge => format!("detail request {position}"),
    }
}
