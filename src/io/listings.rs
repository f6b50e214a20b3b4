//! What an audit reads from AWS Backup (docs/reference.md, "Audits"), a page at a
//! time: `ListProtectedResources` (every resource with a recovery point, and when
//! its last backup was made) and `ListBackupJobs` (the jobs created since a time).
//! [`crate::io::backup::AwsBackup`] reads them from AWS; [`ListingFiles`] from what
//! `aws backup list-protected-resources` and `aws backup list-backup-jobs` print,
//! for dry runs without an AWS account.

use std::path::Path;
use std::sync::Arc;

use serde::Deserialize;
use serde_json::Value;

use crate::core::audit::LastJob;
use crate::core::job::Failure;
use crate::core::time::Timestamp;
use crate::io::future::BoxFuture;
use crate::io::pages::Page;

/// Items a page: the largest page both listings give.
pub const PAGE_SIZE: i32 = 1_000;

/// A resource `ListProtectedResources` lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Protected {
    pub arn: String,
    /// `LastBackupTime`.
    pub last_backup: Timestamp,
    /// `LastBackupVaultArn`.
    pub vault: Option<String>,
}

/// A job `ListBackupJobs` lists, and its resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedJob {
    pub resource_arn: String,
    pub job: LastJob,
}

/// The two listings of an audit.
pub trait Listings: Send + Sync + 'static {
    /// A page of `ListProtectedResources`, starting at `token` (None: the first).
    fn protected(&self, token: Option<String>) -> BoxFuture<'static, Result<Page<Protected>, Failure>>;
    /// A page of `ListBackupJobs` with `ByCreatedAfter` `created_after`.
    fn jobs(
        &self,
        created_after: Timestamp,
        token: Option<String>,
    ) -> BoxFuture<'static, Result<Page<ListedJob>, Failure>>;
}

/// The listings read from files, filtered and paged as AWS would.
#[derive(Debug, Default)]
pub struct ListingFiles {
    protected: Arc<Vec<Protected>>,
    jobs: Arc<Vec<ListedJob>>,
}

/// What `aws backup list-protected-resources` prints.
#[derive(Deserialize)]
struct ProtectedListing {
    #[serde(rename = "Results")]
    results: Vec<ProtectedItem>,
}

#[derive(Deserialize)]
struct ProtectedItem {
    #[serde(rename = "ResourceArn")]
    resource_arn: String,
    #[serde(rename = "LastBackupTime")]
    last_backup_time: Value,
    #[serde(rename = "LastBackupVaultArn", default)]
    last_backup_vault_arn: Option<String>,
}

/// What `aws backup list-backup-jobs` prints.
#[derive(Deserialize)]
struct JobListing {
    #[serde(rename = "BackupJobs")]
    backup_jobs: Vec<JobItem>,
}

#[derive(Deserialize)]
struct JobItem {
    #[serde(rename = "BackupJobId")]
    backup_job_id: String,
    #[serde(rename = "ResourceArn")]
    resource_arn: String,
    #[serde(rename = "CreationDate")]
    creation_date: Value,
    #[serde(rename = "State")]
    state: String,
    #[serde(rename = "StatusMessage", default)]
    status_message: Option<String>,
}

impl ListingFiles {
    /// Reads the files (a missing jobs file lists no job). `now` is the time of the
    /// run, against which a date such as `now-30h` is read (see [`time_of`]).
    pub fn open(protected: &Path, jobs: Option<&Path>, now: Timestamp) -> Result<ListingFiles, String> {
        let read =
            |path: &Path| std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()));
        let protected_text = read(protected)?;
        let jobs_text = jobs.map(read).transpose()?;
        ListingFiles::parse(&protected_text, jobs_text.as_deref(), now)
            .map_err(|e| format!("{e} (in {})", protected.display()))
    }

    pub fn parse(protected: &str, jobs: Option<&str>, now: Timestamp) -> Result<ListingFiles, String> {
        let listing: ProtectedListing = serde_json::from_str(protected).map_err(|e| {
            format!("the protected resources are not what `aws backup list-protected-resources` prints ({{\"Results\": [{{\"ResourceArn\": ..., \"LastBackupTime\": ...}}]}}): {e}")
        })?;
        let protected = listing
            .results
            .into_iter()
            .map(|item| {
                let last_backup = time_of(&item.last_backup_time, now).ok_or_else(|| {
                    format!(
                        "{}: LastBackupTime {} is not a time",
                        item.resource_arn, item.last_backup_time
                    )
                })?;
                Ok(Protected {
                    arn: item.resource_arn,
                    last_backup,
                    vault: item.last_backup_vault_arn,
                })
            })
            .collect::<Result<Vec<_>, String>>()?;
        let jobs = match jobs {
            None => Vec::new(),
            Some(text) => {
                let listing: JobListing = serde_json::from_str(text).map_err(|e| {
                    format!("the backup jobs are not what `aws backup list-backup-jobs` prints ({{\"BackupJobs\": [{{\"BackupJobId\": ..., \"ResourceArn\": ..., \"CreationDate\": ..., \"State\": ...}}]}}): {e}")
                })?;
                listing
                    .backup_jobs
                    .into_iter()
                    .map(|item| {
                        let created = time_of(&item.creation_date, now).ok_or_else(|| {
                            format!(
                                "job {}: CreationDate {} is not a time",
                                item.backup_job_id, item.creation_date
                            )
                        })?;
                        Ok(ListedJob {
                            resource_arn: item.resource_arn,
                            job: LastJob {
                                id: item.backup_job_id,
                                created,
                                state: item.state,
                                message: item.status_message,
                            },
                        })
                    })
                    .collect::<Result<Vec<_>, String>>()?
            }
        };
        Ok(ListingFiles {
            protected: Arc::new(protected),
            jobs: Arc::new(jobs),
        })
    }
}

/// A time as the AWS CLI prints it: RFC 3339 (its default), or seconds since the
/// epoch (`cli_timestamp_format = none`). The sample files also write times
/// relative to the run, such as `now-30h` or `now-2d` (minutes `m`, hours `h`,
/// days `d`), so that their ages stay the same whatever the day they are run.
pub fn time_of(value: &Value, now: Timestamp) -> Option<Timestamp> {
    match value {
        Value::Number(n) => Timestamp::from_epoch_seconds(n.as_f64()?),
        Value::String(text) => match text.strip_prefix("now") {
            None => Timestamp::parse_rfc3339(text),
            Some("") => Some(now),
            Some(offset) => {
                let ago = offset.strip_prefix('-')?;
                let unit = ago.chars().last()?;
                let count: i64 = ago[..ago.len() - unit.len_utf8()].parse().ok()?;
                let minutes = match unit {
                    'm' => count,
                    'h' => count.checked_mul(60)?,
                    'd' => count.checked_mul(24 * 60)?,
                    _ => return None,
                };
                Some(Timestamp::from_millis(
                    now.millis().checked_sub(minutes.checked_mul(60_000)?)?,
                ))
            }
        },
        _ => None,
    }
}

/// The page of the `items` that `keep` keeps, [`PAGE_SIZE`] at a time, from `token`:
/// the index in `items` where the page starts, so that each page is read from there,
/// not by filtering every item again.
fn page_of<T: Clone>(items: &[T], token: Option<&str>, keep: impl Fn(&T) -> bool) -> Result<Page<T>, Failure> {
    let start = match token.map(str::parse::<usize>) {
        None => 0,
        Some(Ok(start)) if start <= items.len() => start,
        Some(_) => {
            return Err(Failure::aws(
                "InvalidParameterValueException",
                "the next token is not one this file gave",
                false,
            ))
        }
    };
    let mut page = Vec::new();
    let mut end = start;
    while end < items.len() && page.len() < PAGE_SIZE as usize {
        if keep(&items[end]) {
            page.push(items[end].clone());
        }
        end += 1;
    }
    let more = items[end..].iter().any(&keep);
    Ok(Page {
        items: page,
        next: more.then(|| end.to_string()),
    })
}

impl Listings for ListingFiles {
    fn protected(&self, token: Option<String>) -> BoxFuture<'static, Result<Page<Protected>, Failure>> {
        let protected = Arc::clone(&self.protected);
        Box::pin(async move { page_of(&protected, token.as_deref(), |_| true) })
    }

    fn jobs(
        &self,
        created_after: Timestamp,
        token: Option<String>,
    ) -> BoxFuture<'static, Result<Page<ListedJob>, Failure>> {
        let jobs = Arc::clone(&self.jobs);
        Box::pin(async move { page_of(&jobs, token.as_deref(), |j| j.job.created >= created_after) })
    }
}

#[cfg(test)]
mod tests;
