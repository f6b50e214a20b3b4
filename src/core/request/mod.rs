//! A backup request as users write it (the AWS API's own field names) and the
//! validated [`Job`] it becomes. Only [`validate`] makes a `Job` (and
//! [`BackupJob::for_resource`] one like another, for a selected resource), so
//! nothing unvalidated can reach AWS. A `Job` serialises as the request it is, which
//! [`validate`] reads back to the same `Job`: that is how a selection's requests
//! travel through the request queue.

pub mod rules;
mod validate;

pub use validate::{validate, validate_map};

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;
use serde_json::Value;

use crate::core::error::Invalid;

/// Fields of StartBackupJob only.
const BACKUP_FIELDS: &[&str] = &[
    "ResourceArn",
    "BackupVaultName",
    "LogicallyAirGappedBackupVaultArn",
    "StartWindowMinutes",
    "CompleteWindowMinutes",
    "RecoveryPointTags",
    "BackupOptions",
    "Index",
];
/// Fields of StartCopyJob only.
const COPY_FIELDS: &[&str] = &["RecoveryPointArn", "SourceBackupVaultName", "DestinationBackupVaultArn"];
/// Fields of both.
const SHARED_FIELDS: &[&str] = &["Action", "IamRoleArn", "IdempotencyToken", "Lifecycle"];
const LIFECYCLE_FIELDS: &[&str] = &[
    "MoveToColdStorageAfterDays",
    "DeleteAfterDays",
    "OptInToArchiveForSupportedResources",
];

/// Every field a request may have, for "did you mean" hints.
pub fn request_fields() -> impl Iterator<Item = &'static str> {
    SHARED_FIELDS.iter().chain(BACKUP_FIELDS).chain(COPY_FIELDS).copied()
}

/// The AWS Backup call a request becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Action {
    StartBackupJob,
    StartCopyJob,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::StartBackupJob => "StartBackupJob",
            Action::StartCopyJob => "StartCopyJob",
        }
    }
}

/// A validated request: exactly what one AWS call will carry. Its JSON is the
/// request with every default filled in, tag values included (they go to the
/// request queue, never to a log line or an answer: see `Tags`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "Action")]
pub enum Job {
    StartBackupJob(BackupJob),
    StartCopyJob(CopyJob),
}

impl Job {
    pub fn action(&self) -> Action {
        match self {
            Job::StartBackupJob(_) => Action::StartBackupJob,
            Job::StartCopyJob(_) => Action::StartCopyJob,
        }
    }

    pub fn idempotency_token(&self) -> &str {
        match self {
            Job::StartBackupJob(j) => &j.idempotency_token,
            Job::StartCopyJob(j) => &j.idempotency_token,
        }
    }

    /// The ARN the job is about: the resource of a backup, the recovery point of a copy.
    pub fn subject_arn(&self) -> &str {
        match self {
            Job::StartBackupJob(j) => &j.resource_arn,
            Job::StartCopyJob(j) => &j.recovery_point_arn,
        }
    }

    /// The same job with every tag value replaced by [`REDACTED`]: what a dry run
    /// shows of it.
    pub fn redacted(&self) -> Job {
        match self {
            Job::StartBackupJob(job) => Job::StartBackupJob(BackupJob {
                recovery_point_tags: job
                    .recovery_point_tags
                    .as_ref()
                    .map(|tags| Tags(tags.0.keys().map(|k| (k.clone(), REDACTED.to_owned())).collect())),
                ..job.clone()
            }),
            Job::StartCopyJob(_) => self.clone(),
        }
    }

    /// The vault the job reads from or writes to in this account.
    pub fn vault(&self) -> &str {
        match self {
            Job::StartBackupJob(j) => &j.backup_vault_name,
            Job::StartCopyJob(j) => &j.source_backup_vault_name,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct BackupJob {
    resource_arn: String,
    backup_vault_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    logically_air_gapped_backup_vault_arn: Option<String>,
    iam_role_arn: String,
    idempotency_token: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    start_window_minutes: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    complete_window_minutes: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    lifecycle: Option<Lifecycle>,
    #[serde(skip_serializing_if = "Option::is_none")]
    recovery_point_tags: Option<Tags>,
    #[serde(skip_serializing_if = "Option::is_none")]
    backup_options: Option<BTreeMap<String, String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    index: Option<Index>,
}

impl BackupJob {
    /// The same request for another resource, with its own token: a selection's
    /// request is validated once, then made for each resource it selects.
    pub fn for_resource(&self, resource_arn: &str, idempotency_token: String) -> Result<Job, Invalid> {
        rules::arn(resource_arn).map_err(|problem| {
            Invalid::new(
                "ResourceArn",
                format!("{} {problem}", crate::core::error::quote_str(resource_arn)),
            )
        })?;
        Ok(Job::StartBackupJob(BackupJob {
            resource_arn: resource_arn.to_owned(),
            idempotency_token,
            ..self.clone()
        }))
    }

    pub fn resource_arn(&self) -> &str {
        &self.resource_arn
    }
    pub fn backup_vault_name(&self) -> &str {
        &self.backup_vault_name
    }
    pub fn logically_air_gapped_backup_vault_arn(&self) -> Option<&str> {
        self.logically_air_gapped_backup_vault_arn.as_deref()
    }
    pub fn iam_role_arn(&self) -> &str {
        &self.iam_role_arn
    }
    pub fn idempotency_token(&self) -> &str {
        &self.idempotency_token
    }
    pub fn start_window_minutes(&self) -> Option<i64> {
        self.start_window_minutes
    }
    pub fn complete_window_minutes(&self) -> Option<i64> {
        self.complete_window_minutes
    }
    pub fn lifecycle(&self) -> Option<&Lifecycle> {
        self.lifecycle.as_ref()
    }
    pub fn recovery_point_tags(&self) -> Option<&Tags> {
        self.recovery_point_tags.as_ref()
    }
    pub fn backup_options(&self) -> Option<&BTreeMap<String, String>> {
        self.backup_options.as_ref()
    }
    pub fn index(&self) -> Option<Index> {
        self.index
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CopyJob {
    recovery_point_arn: String,
    source_backup_vault_name: String,
    destination_backup_vault_arn: String,
    iam_role_arn: String,
    idempotency_token: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    lifecycle: Option<Lifecycle>,
}

impl CopyJob {
    pub fn recovery_point_arn(&self) -> &str {
        &self.recovery_point_arn
    }
    pub fn source_backup_vault_name(&self) -> &str {
        &self.source_backup_vault_name
    }
    pub fn destination_backup_vault_arn(&self) -> &str {
        &self.destination_backup_vault_arn
    }
    pub fn iam_role_arn(&self) -> &str {
        &self.iam_role_arn
    }
    pub fn idempotency_token(&self) -> &str {
        &self.idempotency_token
    }
    pub fn lifecycle(&self) -> Option<&Lifecycle> {
        self.lifecycle.as_ref()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Lifecycle {
    #[serde(skip_serializing_if = "Option::is_none")]
    move_to_cold_storage_after_days: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    delete_after_days: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    opt_in_to_archive_for_supported_resources: Option<bool>,
}

impl Lifecycle {
    pub fn move_to_cold_storage_after_days(&self) -> Option<i64> {
        self.move_to_cold_storage_after_days
    }
    pub fn delete_after_days(&self) -> Option<i64> {
        self.delete_after_days
    }
    pub fn opt_in_to_archive_for_supported_resources(&self) -> Option<bool> {
        self.opt_in_to_archive_for_supported_resources
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Index {
    Enabled,
    Disabled,
}

/// `RecoveryPointTags`. Tag values are sensitive in the AWS API model: they are sent
/// to AWS (and, inside a request, to the request queue) and nowhere else. `Debug`
/// shows keys only; the answer layer redacts them from a dry run's requests.
#[derive(Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Tags(BTreeMap<String, String>);

impl Tags {
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

/// What stands for a tag value wherever it must not be shown.
pub const REDACTED: &str = "*** redacted ***";

impl fmt::Debug for Tags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.0.keys().map(|k| (k, REDACTED))).finish()
    }
}

/// "a string", "an array"... for messages about a value of the wrong type.
pub fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests;
