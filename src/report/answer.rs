//! What Lambda gets back (docs/reference.md, "Answers and errors"): results, the
//! answers of selections and audits, SQS partial-batch answers, and errors whose
//! `errorType` names the kind of failure. Every answer is a typed struct serialised
//! by serde, so no key is spelt by hand and nothing can be dropped.

use aws_lambda_events::sqs::SqsBatchResponse;
use lambda_runtime::Diagnostic;
use serde::Serialize;

use crate::core::audit::{Finding, FINDINGS_SHOWN};
use crate::core::error::Error;
use crate::core::job::{JobResult, Outcome};
use crate::core::request::Job;
use crate::core::selection::DRY_RUN_SHOWN;
use crate::report::{Kind, Report};

/// The Lambda error of an invocation that failed: the one place a failure class
/// becomes an `errorType`.
pub fn diagnostic(error: &Error) -> Diagnostic {
    Diagnostic {
        error_type: error.error_type().to_owned(),
        error_message: error.to_string(),
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
    /// An audit: `{"Audit": {...counts...}, "Findings": [...], "Jobs": [...]}`.
    Audit(AuditAnswer),
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
    pub found: usize,
    pub matched: usize,
    pub unsupported: usize,
    pub enqueued: usize,
    pub messages: usize,
}

/// `{"Audit": {...}, "Findings": [...], "Jobs": [...]}` (docs/reference.md, "Audits").
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AuditAnswer {
    pub audit: AuditCounts,
    /// At most 100 of the resources not protected, oldest first.
    pub findings: Vec<FindingAnswer>,
    /// The remediation requests started here (a dry run: the first 100 that would be).
    pub jobs: Vec<JobAnswer>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AuditCounts {
    pub name: Option<String>,
    pub found: usize,
    pub matched: usize,
    pub unsupported: usize,
    pub audited: usize,
    pub protected: usize,
    pub in_progress: usize,
    pub unprotected: usize,
    pub remediated: usize,
    pub enqueued: usize,
    pub messages: usize,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct FindingAnswer {
    pub resource_arn: String,
    pub resource_type: &'static str,
    /// RFC 3339; null when never backed up.
    pub last_backup_time: Option<String>,
    pub in_progress: bool,
    pub last_job_state: Option<String>,
    pub last_job_message: Option<String>,
}

impl From<&Finding> for FindingAnswer {
    fn from(finding: &Finding) -> FindingAnswer {
        FindingAnswer {
            resource_arn: finding.arn.clone(),
            resource_type: finding.resource_type,
            last_backup_time: finding.last_backup.as_ref().map(|b| b.at.to_string()),
            in_progress: finding.in_progress,
            last_job_state: finding.last_job.as_ref().map(|j| j.state.clone()),
            last_job_message: finding.last_job.as_ref().and_then(|j| j.message.clone()),
        }
    }
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
    /// The whole request as it would be sent, tag values redacted, and `"DryRun": true`.
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
            // Tag values are sent to AWS and shown nowhere.
            Outcome::WouldStart => JobAnswer::DryRun {
                job: result.job.redacted(),
                dry_run: true,
            },
            Outcome::Failed(failure) => JobAnswer::Failed(JobFailed {
                action,
                idempotency_token: result.job.idempotency_token().to_owned(),
                error_code: failure.code().to_owned(),
                error_message: failure.error.to_string(),
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

/// The answer of a report, or the error of the event: its own, or, when a job did
/// not start, one naming every failed request.
pub fn of(mut report: Report) -> Result<Answer, Error> {
    if let Some(error) = report.error.take() {
        return Err(error);
    }
    if let Some(error) = failed(report.kind, &report.jobs) {
        return Err(error);
    }
    let Report {
        kind,
        mut jobs,
        skipped,
        selection,
        audit,
        ..
    } = report;
    Ok(match (kind, selection, audit) {
        (Kind::Audit, selection, Some(audit)) => {
            let selection = selection.unwrap_or_default();
            let verdict = &audit.verdict;
            Answer::Audit(AuditAnswer {
                audit: AuditCounts {
                    name: selection.name,
                    found: selection.found,
                    matched: selection.matched,
                    unsupported: selection.unsupported,
                    audited: verdict.audited,
                    protected: verdict.protected,
                    in_progress: verdict.in_progress,
                    unprotected: verdict.unprotected,
                    remediated: audit.remediated,
                    enqueued: selection.enqueued,
                    messages: selection.messages,
                },
                findings: verdict
                    .findings
                    .iter()
                    .take(FINDINGS_SHOWN)
                    .map(FindingAnswer::from)
                    .collect(),
                jobs: shown(jobs),
            })
        }
        (Kind::Selection, Some(selection), _) => Answer::Selection(SelectionAnswer {
            selection: SelectionCounts {
                name: selection.name,
                found: selection.found,
                matched: selection.matched,
                unsupported: selection.unsupported,
                enqueued: selection.enqueued,
                messages: selection.messages,
            },
            jobs: shown(jobs),
        }),
        (Kind::Bare, _, _) if jobs.len() == 1 => Answer::One(Box::new(JobAnswer::from(jobs.remove(0)))),
        _ => Answer::Jobs(Jobs {
            jobs: jobs.into_iter().map(JobAnswer::from).collect(),
            skipped,
        }),
    })
}

/// The results a selection or an audit shows: every job started here, but only the
/// first requests a dry run would send.
fn shown(jobs: Vec<JobResult>) -> Vec<JobAnswer> {
    let mut dry = 0;
    jobs.into_iter()
        .filter(|r| {
            let would = matches!(r.outcome, Outcome::WouldStart);
            dry += usize::from(would);
            !would || dry <= DRY_RUN_SHOWN
        })
        .map(JobAnswer::from)
        .collect()
}

/// The SQS partial-batch answer, exactly as Lambda's SQS poller reads it.
pub fn sqs(failed_message_ids: Vec<String>) -> Answer {
    let mut answer = SqsBatchResponse::default();
    answer.set_failures(failed_message_ids);
    Answer::Sqs(answer)
}

/// The error of an event in which some jobs failed: `errorType` is the first
/// failure's; the message names every failed request and why.
fn failed(kind: Kind, results: &[JobResult]) -> Option<Error> {
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
                label(kind, *position),
                r.job.action().as_str(),
                r.job.subject_arn(),
                r.job.idempotency_token(),
                f.code(),
                f.error
            )),
            _ => None,
        })
        .collect();
    let more = if failures.len() > 20 {
        format!("; and {} more", failures.len() - 20)
    } else {
        String::new()
    };
    Some(first.error.with_message(format!(
        "{} of {} requests failed: {}{more}. {started} started (listed in the log); retrying the event is safe, its tokens do not change",
        failures.len(),
        results.len(),
        lines.join("; ")
    )))
}

fn label(kind: Kind, position: usize) -> String {
    match kind {
        Kind::List | Kind::Selection | Kind::Audit => format!("Jobs[{position}]"),
        Kind::EventBridge => format!("detail request {position}"),
        _ => "the request".to_owned(),
    }
}

#[cfg(test)]
mod tests;
