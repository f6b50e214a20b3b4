//! AWS Backup through `aws-sdk-backup`: a validated [`Job`] becomes a
//! `StartBackupJob` or `StartCopyJob` call, and an audit's listings are read with
//! `ListProtectedResources` and `ListBackupJobs`.

use std::collections::HashMap;

use aws_sdk_backup::error::SdkError;
use aws_sdk_backup::primitives::{DateTime, DateTimeFormat};
use aws_sdk_backup::types;
use aws_sdk_backup::Client;

use crate::core::audit::LastJob;
use crate::core::job::{Failure, Outcome, Started};
use crate::core::request::{BackupJob, CopyJob, Index, Job, Lifecycle};
use crate::core::time::Timestamp;
use crate::io::future::BoxFuture;
use crate::io::listings::{ListedJob, Listings, Protected, PAGE_SIZE};
use crate::io::pages::Page;
use crate::io::sdk::failure;
use crate::io::send::JobStarter;

/// Starts jobs with the AWS SDK (a client paced by the process's limiter: see
/// `io::sdk::backup_client`).
pub struct AwsBackup {
    client: Client,
}

impl AwsBackup {
    pub fn new(client: Client) -> Self {
        AwsBackup { client }
    }
}

impl JobStarter for AwsBackup {
    fn start<'a>(&'a self, job: &'a Job) -> BoxFuture<'a, Outcome> {
        Box::pin(self.start_job(job))
    }
}

impl AwsBackup {
    async fn start_job(&self, job: &Job) -> Outcome {
        match job {
            Job::StartBackupJob(backup) => match start_backup_job(&self.client, backup).await {
                Ok(output) => Outcome::Started(Started {
                    job_id: output.backup_job_id().unwrap_or_default().to_owned(),
                    is_parent: output.is_parent(),
                    creation_date: output.creation_date().and_then(rfc3339),
                    recovery_point_arn: output.recovery_point_arn().map(str::to_owned),
                }),
                Err(error) => Outcome::Failed(failure(&error)),
            },
            Job::StartCopyJob(copy) => match start_copy_job(&self.client, copy).await {
                Ok(output) => Outcome::Started(Started {
                    job_id: output.copy_job_id().unwrap_or_default().to_owned(),
                    is_parent: output.is_parent(),
                    creation_date: output.creation_date().and_then(rfc3339),
                    recovery_point_arn: None,
                }),
                Err(error) => Outcome::Failed(failure(&error)),
            },
        }
    }
}

/// Reads an audit's listings with the AWS SDK: a client of its own, not the paced
/// one, since AWS counts each operation's calls apart and a throttled listing must
/// not slow the starting of jobs.
pub struct AwsListings {
    client: Client,
}

impl AwsListings {
    pub fn new(client: Client) -> Self {
        AwsListings { client }
    }
}

impl Listings for AwsListings {
    fn protected(&self, token: Option<String>) -> BoxFuture<'static, Result<Page<Protected>, Failure>> {
        let request = self
            .client
            .list_protected_resources()
            .max_results(PAGE_SIZE)
            .set_next_token(token);
        Box::pin(async move {
            let output = request.send().await.map_err(|e| failure(&e))?;
            // An entry without an ARN or a time names nothing that could protect a
            // resource: left out, the resource counts as never backed up, and said.
            let items: Vec<Protected> = output
                .results()
                .iter()
                .filter_map(|r| {
                    Some(Protected {
                        arn: r.resource_arn()?.to_owned(),
                        last_backup: timestamp(r.last_backup_time()?)?,
                        vault: r.last_backup_vault_arn().map(str::to_owned),
                    })
                })
                .collect();
            left_out(
                "ListProtectedResources",
                output.results().len() - items.len(),
                "ResourceArn or LastBackupTime",
            );
            Ok(Page {
                items,
                next: next_token(output.next_token()),
            })
        })
    }

    fn jobs(
        &self,
        created_after: Timestamp,
        token: Option<String>,
    ) -> BoxFuture<'static, Result<Page<ListedJob>, Failure>> {
        let request = self
            .client
            .list_backup_jobs()
            .by_created_after(DateTime::from_millis(created_after.millis()))
            .max_results(PAGE_SIZE)
            .set_next_token(token);
        Box::pin(async move {
            let output = request.send().await.map_err(|e| failure(&e))?;
            let items: Vec<ListedJob> = output
                .backup_jobs()
                .iter()
                .filter_map(|j| {
                    Some(ListedJob {
                        resource_arn: j.resource_arn()?.to_owned(),
                        job: LastJob {
                            id: j.backup_job_id()?.to_owned(),
                            created: timestamp(j.creation_date()?)?,
                            state: j.state()?.as_str().to_owned(),
                            message: j.status_message().filter(|m| !m.is_empty()).map(str::to_owned),
                        },
                    })
                })
                .collect();
            left_out(
                "ListBackupJobs",
                output.backup_jobs().len() - items.len(),
                "ResourceArn, BackupJobId, CreationDate or State",
            );
            Ok(Page {
                items,
                next: next_token(output.next_token()),
            })
        })
    }
}

fn timestamp(date: &DateTime) -> Option<Timestamp> {
    date.to_millis().ok().map(Timestamp::from_millis)
}

/// AWS ends a listing with no token, or with an empty one.
fn next_token(token: Option<&str>) -> Option<String> {
    token.filter(|t| !t.is_empty()).map(str::to_owned)
}

async fn start_backup_job(
    client: &Client,
    job: &BackupJob,
) -> Result<
    aws_sdk_backup::operation::start_backup_job::StartBackupJobOutput,
    SdkError<aws_sdk_backup::operation::start_backup_job::StartBackupJobError>,
> {
    client
        .start_backup_job()
        .resource_arn(job.resource_arn())
        .backup_vault_name(job.backup_vault_name())
        .set_logically_air_gapped_backup_vault_arn(job.logically_air_gapped_backup_vault_arn().map(str::to_owned))
        .iam_role_arn(job.iam_role_arn())
        .idempotency_token(job.idempotency_token())
        .set_start_window_minutes(job.start_window_minutes())
        .set_complete_window_minutes(job.complete_window_minutes())
        .set_lifecycle(job.lifecycle().map(lifecycle))
        .set_recovery_point_tags(job.recovery_point_tags().map(|tags| {
            tags.iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect::<HashMap<_, _>>()
        }))
        .set_backup_options(job.backup_options().map(|options| {
            options
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect::<HashMap<_, _>>()
        }))
        .set_index(job.index().map(|index| match index {
            Index::Enabled => types::Index::Enabled,
            Index::Disabled => types::Index::Disabled,
        }))
        .send()
        .await
}

async fn start_copy_job(
    client: &Client,
    job: &CopyJob,
) -> Result<
    aws_sdk_backup::operation::start_copy_job::StartCopyJobOutput,
    SdkError<aws_sdk_backup::operation::start_copy_job::StartCopyJobError>,
> {
    client
        .start_copy_job()
        .recovery_point_arn(job.recovery_point_arn())
        .source_backup_vault_name(job.source_backup_vault_name())
        .destination_backup_vault_arn(job.destination_backup_vault_arn())
        .iam_role_arn(job.iam_role_arn())
        .idempotency_token(job.idempotency_token())
        .set_lifecycle(job.lifecycle().map(lifecycle))
        .send()
        .await
}

fn lifecycle(l: &Lifecycle) -> types::Lifecycle {
    types::Lifecycle::builder()
        .set_move_to_cold_storage_after_days(l.move_to_cold_storage_after_days())
        .set_delete_after_days(l.delete_after_days())
        .set_opt_in_to_archive_for_supported_resources(l.opt_in_to_archive_for_supported_resources())
        .build()
}

/// RFC 3339 to the millisecond. AWS sends epoch seconds as a JSON float
/// (`1795316400.123`), which parses to `.122999…`: rounding gives back AWS's value.
fn rfc3339(date: &DateTime) -> Option<String> {
    let millis = (u64::from(date.subsec_nanos()) + 500_000) / 1_000_000;
    let (secs, millis) = if millis == 1000 {
        (date.secs() + 1, 0)
    } else {
        (date.secs(), millis)
    };
    DateTime::from_secs_and_nanos(secs, (millis * 1_000_000) as u32)
        .fmt(DateTimeFormat::DateTime)
        .ok()
}

/// Says that a page of `listing` held `count` entries without `fields`, which the
/// audit cannot use: AWS fills them, so this is a warning, not a failure.
fn left_out(listing: &str, count: usize, fields: &str) {
    if count > 0 {
        tracing::warn!(
            listing,
            count,
            "{listing} listed {count} entries without {fields}; the audit left them out"
        );
    }
}

#[cfg(test)]
mod tests;
