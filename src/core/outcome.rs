//! How AWS Backup says a job ended: its `Backup Job State Change` and `Copy Job
//! State Change` events (docs/reference.md, "Job outcomes"). Each one is read into
//! "skip" (not a final state), or "record this outcome", and a completed on-demand
//! backup also asks for the copy of its recovery point.
//!
//! AWS's events are read as AWS sends them, not as a request is: unknown members are
//! ignored, numbers may arrive as strings (backup events) or as numbers (copy events),
//! an absent recovery point may be `{}`, dates are passed on as given (some are not
//! ISO 8601), and a value of an unexpected type counts as absent. Nothing here fails
//! on the shape of a member that is only recorded.

use serde_json::{Map, Value};

use crate::core::defaults::Defaults;
use crate::core::error::{cut_at, quote_str, Error, Invalid};
use crate::core::request::{rules, validate, Job};

pub const SOURCE: &str = "aws.backup";
pub const BACKUP_JOB_STATE_CHANGE: &str = "Backup Job State Change";
pub const COPY_JOB_STATE_CHANGE: &str = "Copy Job State Change";

/// At most this many characters of a recorded value are logged: the event comes from
/// AWS through EventBridge, but an SQS message can carry anything.
const FIELD_LIMIT: usize = 2048;

/// The kind of job whose end is recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobKind {
    Backup,
    Copy,
}

impl JobKind {
    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::Backup => "backup",
            JobKind::Copy => "copy",
        }
    }

    /// The kind of job an event's `detail-type` reports on, if it is one of ours.
    pub fn of(source: &str, detail_type: &str) -> Option<JobKind> {
        match (source, detail_type) {
            (SOURCE, BACKUP_JOB_STATE_CHANGE) => Some(JobKind::Backup),
            (SOURCE, COPY_JOB_STATE_CHANGE) => Some(JobKind::Copy),
            _ => None,
        }
    }
}

/// A final state of a job: the states that are recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FinalState {
    Completed,
    Failed,
    Aborted,
    Expired,
    Partial,
}

impl FinalState {
    pub fn as_str(self) -> &'static str {
        match self {
            FinalState::Completed => "COMPLETED",
            FinalState::Failed => "FAILED",
            FinalState::Aborted => "ABORTED",
            FinalState::Expired => "EXPIRED",
            FinalState::Partial => "PARTIAL",
        }
    }

    /// The final states of a job of `kind`, as docs/reference.md, "Job outcomes", lists them; every
    /// other state (`CREATED`, `PENDING`, `RUNNING`, `ABORTING`, and anything AWS adds)
    /// is not final. A copy job has no `EXPIRED`.
    pub fn of(kind: JobKind, state: &str) -> Option<FinalState> {
        match (kind, state) {
            (_, "COMPLETED") => Some(FinalState::Completed),
            (_, "FAILED") => Some(FinalState::Failed),
            (_, "ABORTED") => Some(FinalState::Aborted),
            (_, "PARTIAL") => Some(FinalState::Partial),
            (JobKind::Backup, "EXPIRED") => Some(FinalState::Expired),
            _ => None,
        }
    }

    /// Only `COMPLETED` is a success; a partial job lacks part of what was asked.
    pub fn succeeded(self) -> bool {
        self == FinalState::Completed
    }
}

/// How one job ended: the facts of its state change that the outcome line records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobOutcome {
    pub kind: JobKind,
    pub state: FinalState,
    /// `detail.backupJobId` or `detail.copyJobId`.
    pub job_id: Option<String>,
    /// AWS's `statusMessage`, without the quotes AWS sometimes wraps it in.
    pub status_message: Option<String>,
    pub resource_arn: Option<String>,
    pub resource_type: Option<String>,
    /// The backup's vault (its name), or the copy's destination vault (its ARN).
    pub vault: Option<String>,
    /// A copy's source vault ARN.
    pub source_vault_arn: Option<String>,
    /// The recovery point made: a backup's, or the copy's in its destination vault.
    pub recovery_point_arn: Option<String>,
    /// The recovery point a copy was made from.
    pub source_recovery_point_arn: Option<String>,
    pub backup_size_bytes: Option<u64>,
    /// As AWS wrote it.
    pub completion_date: Option<String>,
}

/// What a job state change asks of the function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Not a final state: nothing to record, nothing to start.
    Skip(String),
    /// A final state to record. `copy` is the copy to start (a completed on-demand
    /// backup with a copy destination set); otherwise `why_no_copy` says why none is.
    Record {
        outcome: Box<JobOutcome>,
        copy: Option<CopySource>,
        why_no_copy: String,
    },
}

/// Where the copy of a completed backup comes from, as the event says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopySource {
    pub recovery_point_arn: Option<String>,
    pub vault_name: Option<String>,
}

/// Reads a job state change (docs/reference.md, "Job outcomes").
/// `copy_destination_set` is whether `COPY_DESTINATION_VAULT_ARN` is set.
pub fn decide(
    kind: JobKind,
    resources: &[String],
    detail: &Map<String, Value>,
    copy_destination_set: bool,
) -> Decision {
    let text = |name: &str| text(detail, name);
    let Some(state) = text("state") else {
        return Decision::Skip(format!(
            "{} job state is missing: nothing to record{}",
            kind.as_str(),
            only_completed(kind)
        ));
    };
    let Some(final_state) = FinalState::of(kind, &state) else {
        return Decision::Skip(format!(
            "{} job state is {}, not a final state: nothing to record{}",
            kind.as_str(),
            quote_str(&state),
            only_completed(kind)
        ));
    };
    let first_resource = resources
        .first()
        .map(|r| cut_at(r, FIELD_LIMIT))
        .filter(|r| !r.is_empty());
    let outcome = match kind {
        JobKind::Backup => JobOutcome {
            kind,
            state: final_state,
            job_id: text("backupJobId"),
            status_message: text("statusMessage").map(|m| unquoted(&m)),
            resource_arn: text("resourceArn"),
            resource_type: text("resourceType"),
            vault: backup_vault(detail),
            source_vault_arn: None,
            // AWS puts the recovery point in resources[0]; the detail is the fallback.
            recovery_point_arn: first_resource.or_else(|| text("recoveryPointArn")),
            source_recovery_point_arn: None,
            backup_size_bytes: count(detail.get("backupSizeInBytes")),
            completion_date: text("completionDate"),
        },
        JobKind::Copy => JobOutcome {
            kind,
            state: final_state,
            job_id: text("copyJobId"),
            status_message: text("statusMessage").map(|m| unquoted(&m)),
            resource_arn: text("resourceArn"),
            resource_type: text("resourceType"),
            vault: text("destinationBackupVaultArn"),
            source_vault_arn: text("sourceBackupVaultArn"),
            // `{}` until the copy exists: not a string, so absent.
            recovery_point_arn: text("destinationRecoveryPointArn"),
            source_recovery_point_arn: first_resource,
            backup_size_bytes: count(detail.get("backupSizeInBytes")),
            completion_date: text("completionDate"),
        },
    };

    let why_no_copy = match (kind, final_state) {
        (JobKind::Copy, _) => "a copy job's end starts nothing".to_owned(),
        (JobKind::Backup, FinalState::Completed) => match backup_plan_of(detail) {
            Some(plan) => format!(
                "the job belongs to backup plan {}, which copies with its own copy rules",
                quote_str(&plan)
            ),
            None if !copy_destination_set => "COPY_DESTINATION_VAULT_ARN is not set".to_owned(),
            None => {
                let copy = CopySource {
                    recovery_point_arn: outcome.recovery_point_arn.clone(),
                    vault_name: outcome.vault.clone(),
                };
                return Decision::Record {
                    outcome: Box::new(outcome),
                    copy: Some(copy),
                    why_no_copy: String::new(),
                };
            }
        },
        (JobKind::Backup, _) => "only a COMPLETED backup starts a copy".to_owned(),
    };
    Decision::Record {
        outcome: Box::new(outcome),
        copy: None,
        why_no_copy,
    }
}

fn only_completed(kind: JobKind) -> &'static str {
    match kind {
        JobKind::Backup => "; only a COMPLETED on-demand backup starts a copy",
        JobKind::Copy => "",
    }
}

/// The copy a completed backup asks for, validated like any request: from the
/// event's recovery point and vault to the default copy destination, with the
/// default role, within the allow-list. `token` is the copy's idempotency token.
pub fn copy_job(copy: &CopySource, defaults: &Defaults, token: &str) -> Result<Job, Error> {
    if defaults.role.is_none() {
        return Err(Error::Config(
            "a completed backup asks for a copy, but BACKUP_IAM_ROLE_ARN is not set: the copy needs a role for AWS Backup; set it on the function".into(),
        ));
    }
    let mut problems = Vec::new();
    if copy.recovery_point_arn.is_none() {
        problems.push(Invalid::new(
            "resources",
            "is empty and detail.recoveryPointArn is missing: no recovery point to copy",
        ));
    }
    if copy.vault_name.is_none() {
        problems.push(Invalid::new(
            "detail",
            "has neither backupVaultName nor backupVaultArn: the source vault is unknown",
        ));
    }
    if !problems.is_empty() {
        return Err(Error::Validation(problems));
    }
    let mut request = Map::new();
    request.insert("Action".into(), Value::from("StartCopyJob"));
    request.insert("RecoveryPointArn".into(), Value::from(copy.recovery_point_arn.clone()));
    request.insert("SourceBackupVaultName".into(), Value::from(copy.vault_name.clone()));
    validate(&Value::Object(request), &[], defaults, token)
        .map_err(|problems| Error::Validation(problems.into_iter().map(|p| p.within("copy")).collect()))
}

/// A backup's vault: `backupVaultName`, or the name at the end of `backupVaultArn`
/// (the ARN itself when it is not a vault ARN, so that nothing is lost).
fn backup_vault(detail: &Map<String, Value>) -> Option<String> {
    text(detail, "backupVaultName").or_else(|| {
        text(detail, "backupVaultArn").map(|arn| rules::vault_name_of_arn(&arn).map(str::to_owned).unwrap_or(arn))
    })
}

/// The backup plan that started the job; none for an on-demand job, whose
/// `createdBy.backupPlanId` is absent or empty.
fn backup_plan_of(detail: &Map<String, Value>) -> Option<String> {
    match detail.get("createdBy") {
        Some(Value::Object(created_by)) => text(created_by, "backupPlanId"),
        _ => None,
    }
}

/// A non-empty string member, capped; any other value counts as absent.
fn text(map: &Map<String, Value>, name: &str) -> Option<String> {
    map.get(name)
        .and_then(Value::as_str)
        .filter(|s| !s.trim().is_empty())
        .map(|s| cut_at(s, FIELD_LIMIT))
}

/// AWS wraps some status messages in literal double quotes.
fn unquoted(message: &str) -> String {
    message
        .strip_prefix('"')
        .and_then(|m| m.strip_suffix('"'))
        .filter(|m| !m.is_empty())
        .unwrap_or(message)
        .to_owned()
}

/// A count, as a number (copy events) or a string of digits (backup events).
fn count(value: Option<&Value>) -> Option<u64> {
    match value? {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests;
