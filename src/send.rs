//! Runs a plan's jobs: at most `MAX_CONCURRENCY` calls at once, none started too
//! close to the invocation's deadline, and a panic in one job failing that job only.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::Semaphore;
use tokio::time::{timeout_at, Instant};

use crate::request::Job;

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
    /// The AWS error code (`InvalidParameterValueException`), or the kind of failure
    /// when AWS gave none (`TimeoutError`, `DeadlineExceeded`, `InternalError`).
    pub code: String,
    pub message: String,
    /// Whether trying again later may succeed.
    pub retryable: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Started(Started),
    /// `DRY_RUN`: the job would have been started.
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

/// Starts one job. The AWS SDK in production; a dry run, or a fake in tests.
pub trait JobStarter: Send + Sync + 'static {
    fn start(&self, job: &Job) -> impl Future<Output = Outcome> + Send;
}

/// `DRY_RUN=true`: calls nothing.
pub struct DryRun;

impl JobStarter for DryRun {
    async fn start(&self, _job: &Job) -> Outcome {
        Outcome::WouldStart
    }
}

/// When to stop starting calls, and when to stop waiting for them.
#[derive(Debug, Clone, Copy)]
pub struct Deadline {
    start_cutoff: Instant,
    give_up_at: Instant,
}

impl Deadline {
    /// No call starts with less than this left before the invocation's deadline:
    /// a call (with its retries) needs time, and the answer must reach Lambda.
    pub const START_RESERVE: Duration = Duration::from_millis(2000);
    /// Calls still running this long before the deadline are abandoned and reported,
    /// so that the answer reaches Lambda before it times the invocation out.
    pub const ANSWER_RESERVE: Duration = Duration::from_millis(500);

    /// The deadline `remaining` from now.
    pub fn after(remaining: Duration) -> Deadline {
        let end = Instant::now() + remaining;
        let before = |reserve: Duration| end.checked_sub(reserve).unwrap_or_else(Instant::now);
        Deadline {
            start_cutoff: before(Self::START_RESERVE),
            give_up_at: before(Self::ANSWER_RESERVE),
        }
    }

    /// The deadline Lambda gives, in milliseconds since the Unix epoch
    /// (`Lambda-Runtime-Deadline-Ms`).
    pub fn from_epoch_millis(deadline_ms: u64) -> Deadline {
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        Deadline::after(Duration::from_millis(deadline_ms.saturating_sub(now_ms)))
    }

    pub fn too_late_to_start(&self) -> bool {
        Instant::now() >= self.start_cutoff
    }
}

/// The failure of a job that was not started because too little time was left.
pub fn not_started(reason: &str) -> Failure {
    Failure {
        code: "NotStarted".into(),
        message: format!("not started: {reason}; retrying the event is safe, its tokens do not change"),
        retryable: true,
    }
}

const DEADLINE_REASON: &str = "too little time was left before the invocation's deadline";

/// Starts every job, at most `permits` at once, and returns their results in order.
pub async fn send_all<S: JobStarter>(
    starter: &Arc<S>,
    jobs: Vec<Job>,
    permits: &Arc<Semaphore>,
    deadline: Deadline,
) -> Vec<JobResult> {
    let jobs: Vec<Arc<Job>> = jobs.into_iter().map(Arc::new).collect();
    let handles: Vec<_> = jobs
        .iter()
        .map(|job| {
            tokio::spawn(send_one(
                Arc::clone(starter),
                Arc::clone(job),
                Arc::clone(permits),
                deadline,
            ))
        })
        .collect();
    let mut results = Vec::with_capacity(jobs.len());
    for (job, handle) in jobs.into_iter().zip(handles) {
        let result = handle.await.unwrap_or_else(|error| JobResult {
            job,
            outcome: Outcome::Failed(Failure {
                code: "InternalError".into(),
                message: format!(
                    "backup-trigger failed while starting this job ({}); the job may not have started",
                    if error.is_panic() { "panic" } else { "cancelled" }
                ),
                retryable: true,
            }),
            duration: Duration::ZERO,
        });
        results.push(result);
    }
    results
}

async fn send_one<S: JobStarter>(
    starter: Arc<S>,
    job: Arc<Job>,
    permits: Arc<Semaphore>,
    deadline: Deadline,
) -> JobResult {
    let not_started = |job| JobResult {
        job,
        outcome: Outcome::Failed(not_started(DEADLINE_REASON)),
        duration: Duration::ZERO,
    };
    let Ok(Ok(_permit)) = timeout_at(deadline.start_cutoff, permits.acquire_owned()).await else {
        return not_started(job);
    };
    if deadline.too_late_to_start() {
        return not_started(job);
    }
    let began = Instant::now();
    let outcome = match timeout_at(deadline.give_up_at, starter.start(&job)).await {
        Ok(outcome) => outcome,
        Err(_) => Outcome::Failed(Failure {
            code: "DeadlineExceeded".into(),
            message: "AWS Backup did not answer before the invocation's deadline; the job may have started, and retrying is safe: the token does not change".into(),
            retryable: true,
        }),
    };
    JobResult {
        job,
        outcome,
        duration: began.elapsed(),
    }
}

#[cfg(test)]
mod tests;
