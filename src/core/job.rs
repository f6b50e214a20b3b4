//! What became of a job: started (with AWS Backup's answer), would have started
//! (a dry run), or failed (and why). Made by the I/O layer, read by the report.

use std::sync::Arc;
use std::time::Duration;

use crate::core::error::Error;
use crate::core::request::Job;

/// What AWS Backup answered for a started job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Started {
    pub job_id: String,
    pub is_parent: bool,
    /// RFC 3339, as AWS returned it.
    pub creation_date: Option<String>,
    /// Returned by StartBackupJob for some resource types.
    pub recovery_point_arn: Option<String>,
}

/// Why a job did not start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub error: Error,
    /// Whether trying again later may succeed.
    pub retryable: bool,
}

impl Failure {
    /// The failure of a job that was not started, and why.
    pub fn not_started(reason: &str) -> Failure {
        Failure {
            error: Error::NotStarted(format!(
                "not started: {reason}; retrying the event is safe, its tokens do not change"
            )),
            retryable: true,
        }
    }

    /// An AWS error code and AWS's message.
    pub fn aws(code: impl Into<String>, message: impl Into<String>, retryable: bool) -> Failure {
        Failure {
            error: Error::Aws {
                code: code.into(),
                message: message.into(),
            },
            retryable,
        }
    }

    /// The `error_code` of the job's log line.
    pub fn code(&self) -> &str {
        self.error.error_type()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Started(Started),
    /// A dry run: the job would have been started.
    WouldStart,
    Failed(Failure),
}

impl Outcome {
    pub fn is_failure(&self) -> bool {
        matches!(self, Outcome::Failed(_))
    }
}

/// One job and what became of it.
#[derive(Debug, Clone)]
pub struct JobResult {
    pub job: Arc<Job>,
    pub outcome: Outcome,
    /// Time spent in the call to AWS (zero when none was made).
    pub duration: Duration,
}

impl JobResult {
    /// A job that was not sent, for the reason given.
    pub fn unsent(job: Job, outcome: Outcome) -> JobResult {
        JobResult {
            job: Arc::new(job),
            outcome,
            duration: Duration::ZERO,
        }
    }
}
