//! Runs a plan's jobs: at most `MAX_CONCURRENCY` calls at once, none started too
//! close to the invocation's deadline, and a panic in one job failing that job only.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tokio::time::{timeout_at, Instant};

use crate::core::error::Error;
use crate::core::job::{Failure, JobResult, Outcome};
use crate::core::request::Job;
use crate::io::future::BoxFuture;
use crate::io::rate::Limiter;

/// Starts one job. The AWS SDK in production; a dry run, or a fake in tests.
pub trait JobStarter: Send + Sync + 'static {
    fn start<'a>(&'a self, job: &'a Job) -> BoxFuture<'a, Outcome>;
}

/// A dry run: starts nothing, and says each job would have started.
pub struct DryRun;

impl JobStarter for DryRun {
    fn start<'a>(&'a self, _job: &'a Job) -> BoxFuture<'a, Outcome> {
        Box::pin(std::future::ready(Outcome::WouldStart))
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
        let now = Instant::now();
        // Lambda's longest deadline is 15 minutes; a day stands in for anything absurd.
        let end = now
            .checked_add(remaining)
            .unwrap_or_else(|| now + Duration::from_secs(86_400));
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

    /// When calls still running are abandoned, so that the answer reaches Lambda.
    pub fn give_up_at(&self) -> Instant {
        self.give_up_at
    }
}

/// The limits one invocation's calls share.
#[derive(Clone)]
pub struct Limits {
    /// `MAX_CONCURRENCY` permits: calls in flight at once.
    pub permits: Arc<Semaphore>,
    /// The process-wide pace of calls; none for a dry run.
    pub limiter: Option<Arc<Limiter>>,
}

impl Limits {
    /// At most `concurrency` calls at once, at no pace.
    pub fn concurrency(concurrency: usize) -> Limits {
        Limits {
            permits: Arc::new(Semaphore::new(concurrency)),
            limiter: None,
        }
    }
}

const DEADLINE_REASON: &str = "too little time was left before the invocation's deadline";

/// Starts every job within `limits` and returns their results in order.
///
/// A job's task is spawned only once it holds a permit, and finished tasks are
/// collected as they end, so at most `MAX_CONCURRENCY` calls' worth of state is alive
/// at once whatever the length of the list (a task with its SDK future is several
/// kilobytes; a result is small).
pub async fn send_all(
    starter: &Arc<dyn JobStarter>,
    jobs: Vec<Job>,
    limits: &Limits,
    deadline: Deadline,
) -> Vec<JobResult> {
    // Not `collect()`: collecting in place would keep the plan's buffer (a Job is 30
    // times the size of an Arc) alive for the whole list.
    let mut shared: Vec<Arc<Job>> = Vec::with_capacity(jobs.len());
    shared.extend(jobs.into_iter().map(Arc::new));
    let jobs = shared;
    let mut results: Vec<Option<JobResult>> = Vec::with_capacity(jobs.len());
    results.resize_with(jobs.len(), || None);
    let mut running = JoinSet::new();
    let mut positions: HashMap<tokio::task::Id, usize> = HashMap::new();
    let mut next = 0;
    while next < jobs.len() {
        let permit = tokio::select! {
            biased;
            Some(done) = running.join_next_with_id(), if !running.is_empty() => {
                collect(done, &mut positions, &mut results, &jobs);
                continue;
            }
            permit = timeout_at(deadline.start_cutoff, Arc::clone(&limits.permits).acquire_owned()) => permit,
        };
        let Ok(Ok(permit)) = permit else {
            // No permit before the cutoff: this job and every later one stay unstarted.
            break;
        };
        let job = Arc::clone(&jobs[next]);
        let task = running.spawn(send_one(Arc::clone(starter), job, limits.clone(), deadline, permit));
        positions.insert(task.id(), next);
        next += 1;
    }
    while let Some(done) = running.join_next_with_id().await {
        collect(done, &mut positions, &mut results, &jobs);
    }
    results
        .into_iter()
        .zip(jobs)
        .map(|(result, job)| {
            result.unwrap_or_else(|| JobResult {
                job,
                outcome: Outcome::Failed(Failure::not_started(DEADLINE_REASON)),
                duration: Duration::ZERO,
            })
        })
        .collect()
}

/// Puts a finished task's result at its job's position; a task that panicked fails its job.
fn collect(
    done: Result<(tokio::task::Id, JobResult), tokio::task::JoinError>,
    positions: &mut HashMap<tokio::task::Id, usize>,
    results: &mut [Option<JobResult>],
    jobs: &[Arc<Job>],
) {
    let (id, result) = match done {
        Ok((id, result)) => (id, Some(result)),
        Err(error) => (error.id(), {
            let failure = Failure {
                error: Error::Internal(format!(
                    "backup-trigger failed while starting this job ({}); the job may not have started",
                    if error.is_panic() { "panic" } else { "cancelled" }
                )),
                retryable: true,
            };
            positions.get(&error.id()).map(|&position| JobResult {
                job: Arc::clone(&jobs[position]),
                outcome: Outcome::Failed(failure),
                duration: Duration::ZERO,
            })
        }),
    };
    if let (Some(position), Some(result)) = (positions.remove(&id), result) {
        results[position] = Some(result);
    }
}

async fn send_one(
    starter: Arc<dyn JobStarter>,
    job: Arc<Job>,
    limits: Limits,
    deadline: Deadline,
    _permit: OwnedSemaphorePermit,
) -> JobResult {
    let not_started = |job| JobResult {
        job,
        outcome: Outcome::Failed(Failure::not_started(DEADLINE_REASON)),
        duration: Duration::ZERO,
    };
    if let Some(limiter) = &limits.limiter {
        if !limiter.wait_turn(deadline.start_cutoff).await {
            return not_started(job);
        }
    }
    if deadline.too_late_to_start() {
        return not_started(job);
    }
    let began = Instant::now();
    let outcome = match timeout_at(deadline.give_up_at, starter.start(&job)).await {
        Ok(outcome) => outcome,
        Err(_) => Outcome::Failed(Failure {
            error: Error::DeadlineExceeded(
                "AWS Backup did not answer before the invocation's deadline; the job may have started, and retrying is safe: the token does not change".into(),
            ),
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
