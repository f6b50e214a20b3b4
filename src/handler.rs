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
use crate::rate::Limiter;
use crate::send::{self, Deadline, JobResult, JobStarter, Limits};
use crate::settings::Settings;
use crate::token::SourceId;

/// What the function holds between invocations: its settings, how it starts jobs,
/// and the pace of its calls (shared by every invocation of the process).
pub struct App<S> {
    pub settings: Settings,
    pub starter: Arc<S>,
    limiter: Option<Arc<Limiter>>,
}

impl<S> App<S> {
    /// An app with a pace of its own (at most `MAX_CALLS_PER_SECOND`).
    pub fn new(settings: Settings, starter: S) -> App<S> {
        let limiter = Arc::new(Limiter::new(settings.max_calls_per_second));
        App::sharing(settings, starter, limiter)
    }

    /// An app that paces its calls with `limiter`, which the AWS client reports its
    /// answers to.
    pub fn sharing(settings: Settings, starter: S, limiter: Arc<Limiter>) -> App<S> {
        // A dry run calls nothing, so it has nothing to pace.
        let limiter = (!settings.dry_run).then_some(limiter);
        App {
            settings,
            starter: Arc::new(starter),
            limiter,
        }
    }

    /// The limits of one invocation: `MAX_CONCURRENCY` calls at once, at the process's pace.
    fn limits(&self) -> Limits {
        Limits {
            permits: Arc::new(Semaphore::new(self.settings.max_concurrency)),
            limiter: self.limiter.clone(),
        }
    }
}

/// What Lambda says of one invocation.
#[derive(Debug, Clone)]
pub struct Invocation {
    pub request_id: String,
    pub deadline: Deadline,
}

impl Invocation {
    fn origin<'a>(&'a self, message_id: Option<&'a str>) -> Origin<'a> {
        Origin {
            request_id: &self.request_id,
            message_id,
        }
    }

    fn at<'a>(&'a self, message_id: Option<&'a str>) -> Correlation<'a> {
        Correlation {
            request_id: &self.request_id,
            message_id,
        }
    }

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
            let source = event::source_id(None, &invocation.origin(None), None);
            log_rejected(
                "unknown",
                &source,
                &error,
                Instant::now(),
                Some(logging::take_cold_start()),
                invocation.at(None),
            );
            Err(error.into())
        }
    }
}

/// Handles one event. SQS batches always answer (failures are in
/// `batchItemFailures`); other events fail the invocation when any request failed.
///
/// The work runs in a task of its own, so that a panic in our code becomes an
/// `InternalError` that says so, not the runtime's panic report (which quotes the
/// panic message). For an SQS batch that fails the whole invocation: SQS delivers
/// every message again, and nothing is lost.
pub async fn handle<S: JobStarter>(
    app: &Arc<App<S>>,
    event: Value,
    invocation: &Invocation,
) -> Result<Value, HandlerError> {
    let task = tokio::spawn(handle_contained(Arc::clone(app), event, invocation.clone()));
    task.await.unwrap_or_else(|_| {
        Err(HandlerError {
            error_type: "InternalError".into(),
            message: "backup-trigger failed while handling this event; requests that started are in the log, and retrying is safe: tokens do not change".into(),
        })
    })
}

async fn handle_contained<S: JobStarter>(
    app: Arc<App<S>>,
    event: Value,
    invocation: Invocation,
) -> Result<Value, HandlerError> {
    let began = Instant::now();
    let cold_start = logging::take_cold_start();
    let limits = app.limits();
    match event::classify(event) {
        Err(error) => {
            let source = event::source_id(None, &invocation.origin(None), None);
            log_rejected("unknown", &source, &error, began, Some(cold_start), invocation.at(None));
            Err(error.into())
        }
        Ok(Incoming::Sqs(batch)) => Ok(handle_batch(&app, batch, &invocation, &limits, began, cold_start).await),
        Ok(Incoming::Single(event)) => handle_single(app, event, invocation, limits, began, cold_start).await,
    }
}

async fn handle_single<S: JobStarter>(
    app: Arc<App<S>>,
    event: Value,
    invocation: Invocation,
    limits: Limits,
    began: Instant,
    cold_start: bool,
) -> Result<Value, HandlerError> {
    let at = invocation.at(None);
    let plan = match event::plan(&event, &invocation.origin(None), &app.settings) {
        Ok(plan) => plan,
        Err(error) => {
            let source = event::source_id(None, &invocation.origin(None), None);
            log_rejected("unknown", &source, &error, began, Some(cold_start), at);
            return Err(error.into());
        }
    };
    // The plan holds all it needs: the event's JSON need not stay while calls run.
    drop(event);
    let (plan, results) = run_plan(&app, plan, &limits, invocation.deadline, at, began, Some(cold_start)).await;
    match answer::failed(&plan, &results) {
        Some(error) => Err(error),
        None => Ok(answer::single(plan.shape, plan.skipped.as_deref(), &results)),
    }
}

/// Sends a plan's jobs and logs each request and the event.
async fn run_plan<S: JobStarter>(
    app: &Arc<App<S>>,
    mut plan: Plan,
    limits: &Limits,
    deadline: Deadline,
    at: Correlation<'_>,
    began: Instant,
    cold_start: Option<bool>,
) -> (Plan, Vec<JobResult>) {
    let jobs = std::mem::take(&mut plan.jobs);
    let results = send::send_all(&app.starter, jobs, limits, deadline).await;
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

/// The event line of an event (or message) that started nothing.
fn log_rejected(
    kind: &str,
    source: &SourceId,
    error: &PlanError,
    began: Instant,
    cold_start: Option<bool>,
    at: Correlation,
) {
    logging::event(
        &EventSummary {
            kind,
            source: Some(source),
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
    limits: &Limits,
    began: Instant,
    cold_start: bool,
) -> Value {
    let count = batch.messages.len();
    let mut failed_ids = Vec::new();
    let spawn = |message: sqs::Message| {
        let id = message.id.clone();
        let task = tokio::spawn(handle_message(
            Arc::clone(app),
            message,
            invocation.clone(),
            limits.clone(),
        ));
        (id, task)
    };
    if batch.fifo {
        let mut stopped = false;
        for message in batch.messages {
            if stopped {
                log_not_started_fifo(&message.id, invocation);
                failed_ids.push(message.id);
                continue;
            }
            let (id, task) = spawn(message);
            if !task.await.unwrap_or(false) {
                stopped = true;
                failed_ids.push(id);
            }
        }
    } else {
        let tasks: Vec<_> = batch.messages.into_iter().map(spawn).collect();
        for (id, task) in tasks {
            if !task.await.unwrap_or(false) {
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
    invocation: Invocation,
    limits: Limits,
) -> bool {
    let began = Instant::now();
    let at = invocation.at(Some(&message.id));
    let origin = invocation.origin(Some(&message.id));
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
            log_rejected(
                MESSAGE_KIND,
                &event::source_id(None, &origin, None),
                &error,
                began,
                None,
                at,
            );
            return false;
        }
    };
    let (_, results) = run_plan(&app, plan, &limits, invocation.deadline, at, began, None).await;
    !results.iter().any(|r| r.outcome.is_failure())
}

/// The `kind` of the event line of an SQS message that started nothing.
const MESSAGE_KIND: &str = "sqs-message";

fn log_not_started_fifo(message_id: &str, invocation: &Invocation) {
    let failure = send::not_started("an earlier message of this FIFO batch failed, and FIFO order must be kept");
    let origin = invocation.origin(Some(message_id));
    let error = PlanError::Internal(failure.message);
    logging::event(
        &EventSummary {
            kind: MESSAGE_KIND,
            source: Some(&event::source_id(None, &origin, None)),
            requests: 0,
            failed: 0,
            skipped: None,
            error: Some((failure.code.as_str(), error.to_string())),
            duration: std::time::Duration::ZERO,
            cold_start: None,
        },
        invocation.at(Some(message_id)),
    );
}

#[cfg(test)]
mod tests;
