//! One invocation, from event to answer: plan (the pure core), send, log, answer.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use serde_json::Value;
use tokio::sync::Semaphore;
use tokio::time::Instant;

use crate::answer::{self, HandlerError};
use crate::error::PlanError;
use crate::event::{self, sqs, Incoming, Origin, Plan};
use crate::logging::{self, Correlation, EventSummary};
use crate::send::{self, Deadline, JobResult, JobStarter};
use crate::settings::Settings;

/// What the function holds between invocations: its settings and how it starts jobs.
pub struct App<S> {
    pub settings: Settings,
    pub starter: Arc<S>,
}

/// What Lambda says of one invocation.
#[derive(Debug, Clone)]
pub struct Invocation {
    pub request_id: String,
    pub deadline: Deadline,
}

impl Invocation {
    pub fn from_context(context: &lambda_runtime::Context) -> Invocation {
        Invocation {
            request_id: context.request_id.clone(),
            deadline: Deadline::from_epoch_millis(context.deadline),
        }
    }
}

/// The largest event read: Lambda's own limit for a synchronous invocation.
pub const MAX_EVENT_BYTES: usize = 6 * 1024 * 1024;

/// Handles one event as Lambda delivers it, JSON text. A hostile event costs little:
/// its size is checked before it is parsed, and serde_json refuses nesting deeper
/// than 128 levels.
pub async fn handle_text<S: JobStarter>(
    app: &Arc<App<S>>,
    text: &str,
    invocation: &Invocation,
) -> Result<Value, HandlerError> {
    let event = if text.len() > MAX_EVENT_BYTES {
        Err(PlanError::invalid(
            "",
            format!("the event is {} bytes; at most {MAX_EVENT_BYTES} are read", text.len()),
        ))
    } else {
        serde_json::from_str(text)
            .map_err(|e| PlanError::invalid("", format!("the event is not JSON ({e}); {}", event::EXPECTED)))
    };
    match event {
        Ok(event) => handle(app, event, invocation).await,
        Err(error) => {
            let at = Correlation {
                request_id: &invocation.request_id,
                message_id: None,
            };
            log_rejected("unknown", &error, Instant::now(), Some(logging::take_cold_start()), at);
            Err(error.into())
        }
    }
}

/// Handles one event. SQS batches always answer (failures are in
/// `batchItemFailures`); other events fail the invocation when any request failed.
pub async fn handle<S: JobStarter>(
    app: &Arc<App<S>>,
    event: Value,
    invocation: &Invocation,
) -> Result<Value, HandlerError> {
    let began = Instant::now();
    let cold_start = logging::take_cold_start();
    let at = Correlation {
        request_id: &invocation.request_id,
        message_id: None,
    };
    let permits = Arc::new(Semaphore::new(app.settings.max_concurrency));
    match event::classify(event) {
        Err(error) => {
            log_rejected("unknown", &error, began, Some(cold_start), at);
            Err(error.into())
        }
        Ok(Incoming::Sqs(batch)) => Ok(handle_batch(app, batch, invocation, &permits, began, cold_start).await),
        Ok(Incoming::Single(event)) => {
            let origin = Origin {
                request_id: &invocation.request_id,
                message_id: None,
            };
            let plan = match event::plan(&event, &origin, &app.settings) {
                Ok(plan) => plan,
                Err(error) => {
                    log_rejected("single", &error, began, Some(cold_start), at);
                    return Err(error.into());
                }
            };
            let (plan, results) = run_plan(app, plan, &permits, invocation.deadline, at, began, Some(cold_start)).await;
            match answer::failed(&plan, &results) {
                Some(error) => Err(error),
                None => Ok(answer::single(plan.shape, plan.skipped.as_deref(), &results)),
            }
        }
    }
}

/// Sends a plan's jobs and logs each request and the event.
async fn run_plan<S: JobStarter>(
    app: &Arc<App<S>>,
    mut plan: Plan,
    permits: &Arc<Semaphore>,
    deadline: Deadline,
    at: Correlation<'_>,
    began: Instant,
    cold_start: Option<bool>,
) -> (Plan, Vec<JobResult>) {
    let jobs = std::mem::take(&mut plan.jobs);
    let results = send::send_all(&app.starter, jobs, permits, deadline).await;
    for (position, result) in results.iter().enumerate() {
        logging::request(result, position, at);
    }
    let failed = results.iter().filter(|r| r.outcome.is_failure()).count();
    logging::event(
        &EventSummary {
            kind: plan.shape.as_str(),
            source: Some(&plan.source),
            requests: results.len(),
            failed,
            skipped: plan.skipped.as_deref(),
            error: None,
            duration: began.elapsed(),
            cold_start,
        },
        at,
    );
    (plan, results)
}

fn log_rejected(kind: &str, error: &PlanError, began: Instant, cold_start: Option<bool>, at: Correlation) {
    logging::event(
        &EventSummary {
            kind,
            source: None,
            requests: 0,
            failed: 0,
            skipped: None,
            error: Some((error.error_type(), error.to_string())),
            duration: began.elapsed(),
            cold_start,
        },
        at,
    );
}

/// Handles an SQS batch: messages concurrently, or in order on a FIFO queue where
/// the first failure fails every later message unstarted. A panic while handling
/// one message fails that message only.
async fn handle_batch<S: JobStarter>(
    app: &Arc<App<S>>,
    batch: sqs::Batch,
    invocation: &Invocation,
    permits: &Arc<Semaphore>,
    began: Instant,
    cold_start: bool,
) -> Value {
    let count = batch.messages.len();
    let mut failed_ids = Vec::new();
    let spawn = |message: sqs::Message| {
        let id = message.id.clone();
        let handle = tokio::spawn(handle_message(
            Arc::clone(app),
            message,
            invocation.request_id.clone(),
            Arc::clone(permits),
            invocation.deadline,
        ));
        (id, handle)
    };
    if batch.fifo {
        let mut stopped = false;
        for message in batch.messages {
            if stopped {
                log_skipped_fifo(&message.id, &invocation.request_id);
                failed_ids.push(message.id);
                continue;
            }
            let (id, handle) = spawn(message);
            if !handle.await.unwrap_or(false) {
                stopped = true;
                failed_ids.push(id);
            }
        }
    } else {
        let handles: Vec<_> = batch.messages.into_iter().map(spawn).collect();
        for (id, handle) in handles {
            if !handle.await.unwrap_or(false) {
                failed_ids.push(id);
            }
        }
    }
    logging::batch(
        count,
        failed_ids.len(),
        batch.fifo,
        began.elapsed(),
        cold_start,
        &invocation.request_id,
    );
    answer::sqs(&failed_ids)
}

/// Handles one message; true when every request in it started (or was skipped).
async fn handle_message<S: JobStarter>(
    app: Arc<App<S>>,
    message: sqs::Message,
    request_id: String,
    permits: Arc<Semaphore>,
    deadline: Deadline,
) -> bool {
    let began = Instant::now();
    let at = Correlation {
        request_id: &request_id,
        message_id: Some(&message.id),
    };
    let origin = Origin {
        request_id: &request_id,
        message_id: Some(&message.id),
    };
    let planned = message.body.and_then(|body| {
        catch_unwind(AssertUnwindSafe(|| event::plan(&body, &origin, &app.settings))).unwrap_or_else(|_| {
            Err(PlanError::Internal(
                "backup-trigger failed while reading this message; nothing was started".into(),
            ))
        })
    });
    let plan = match planned {
        Ok(plan) => plan,
        Err(error) => {
            log_rejected("message", &error, began, None, at);
            return false;
        }
    };
    let (_, results) = run_plan(&app, plan, &permits, deadline, at, began, None).await;
    !results.iter().any(|r| r.outcome.is_failure())
}

fn log_skipped_fifo(message_id: &str, request_id: &str) {
    let failure = send::not_started("an earlier message of this FIFO batch failed, and FIFO order must be kept");
    tracing::warn!(
        request_id,
        message_id,
        outcome = "not_started",
        error_code = failure.code.as_str(),
        error_message = failure.message.as_str(),
        "event"
    );
}

#[cfg(test)]
mod tests;
