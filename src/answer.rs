//! What Lambda gets back (CONTRACT.md section 5): results, SQS partial-batch answers,
//! and errors whose `errorType` names the kind of failure.

use lambda_runtime::Diagnostic;
use serde_json::{json, Map, Value};

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

/// One result object: what was started (or, in a dry run, what would be sent).
pub fn result(result: &JobResult) -> Value {
    // Room for the most fields a result has (8), so that it is not grown twice.
    let mut object = Map::with_capacity(8);
    match &result.outcome {
        Outcome::WouldStart => {
            if let Ok(Value::Object(request)) = serde_json::to_value(&*result.job) {
                object = request;
            }
            object.insert("DryRun".into(), Value::Bool(true));
        }
        Outcome::Started(started) => {
            object.insert("Action".into(), json!(result.job.action().as_str()));
            match &*result.job {
                Job::StartBackupJob(job) => {
                    object.insert("ResourceArn".into(), json!(job.resource_arn()));
                    object.insert("BackupVaultName".into(), json!(job.backup_vault_name()));
                    object.insert("IdempotencyToken".into(), json!(job.idempotency_token()));
                    object.insert("BackupJobId".into(), json!(started.job_id));
                }
                Job::StartCopyJob(job) => {
                    object.insert("RecoveryPointArn".into(), json!(job.recovery_point_arn()));
                    object.insert("SourceBackupVaultName".into(), json!(job.source_backup_vault_name()));
                    object.insert(
                        "DestinationBackupVaultArn".into(),
                        json!(job.destination_backup_vault_arn()),
                    );
                    object.insert("IdempotencyToken".into(), json!(job.idempotency_token()));
                    object.insert("CopyJobId".into(), json!(started.job_id));
                }
            }
            object.insert("IsParent".into(), json!(started.is_parent));
            if let Some(date) = &started.creation_date {
                object.insert("CreationDate".into(), json!(date));
            }
            if let Some(arn) = &started.recovery_point_arn {
                object.insert("RecoveryPointArn".into(), json!(arn));
            }
        }
        Outcome::Failed(failure) => {
            object.insert("Action".into(), json!(result.job.action().as_str()));
            object.insert("IdempotencyToken".into(), json!(result.job.idempotency_token()));
            object.insert("ErrorCode".into(), json!(failure.code));
            object.insert("ErrorMessage".into(), json!(failure.message));
        }
    }
    Value::Object(object)
}

/// The answer to a single event whose jobs all started: one result for a bare
/// request, `{"Jobs": [...]}` for a list or an EventBridge event.
pub fn single(plan_shape: Shape, skipped: Option<&str>, results: &[JobResult]) -> Value {
    match (plan_shape, results) {
        (Shape::Bare, [only]) => result(only),
        _ => {
            // Built in place: `json!` would copy every result once more, and a list of
            // 1,000 results is the largest thing the function holds.
            let mut answer = Map::new();
            answer.insert("Jobs".into(), Value::Array(results.iter().map(result).collect()));
            if let Some(reason) = skipped {
                answer.insert("Skipped".into(), json!(reason));
            }
            Value::Object(answer)
        }
    }
}

/// The SQS partial-batch answer, exactly as Lambda's SQS poller reads it.
pub fn sqs(failed_message_ids: &[String]) -> Value {
    json!({ "batchItemFailures": failed_message_ids.iter().map(|id| json!({ "itemIdentifier": id })).collect::<Vec<_>>() })
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
                f.code,
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
        error_type: first.code.clone(),
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
        Shape::Bare | Shape::BackupStateChange => "the request".to_owned(),
        Shape::List => format!("Jobs[{position}]"),
        Shape::EventBridge => format!("detail request {position}"),
    }
}
