//! One invocation, from event to answer: plan (the pure core), send, log, count, answer.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::answer::{self, Answer, HandlerError};
use crate::error::{PlanError, INTERNAL_ERROR};
use crate::event::selection::Selection;
use crate::event::{self, sqs, Incoming, Origin, Plan, Shape};
use crate::logging::{self, EventSummary};
use crate::metrics::{Emitter, Sink, Tally};
use crate::rate::Limiter;
use crate::resolve::{self, Sources};
use crate::send::{self, Deadline, Failure, JobResult, JobStarter, Limits};
use crate::settings::Settings;

/// What the function holds between invocations: its settings, how it starts jobs,
/// and the pace of its calls (shared by every invocation of the process).
pub struct App<S> {
    pub settings: Settings,
    pub starter: Arc<S>,
    limiter: Option<Arc<Limiter>>,
    /// Where selections find resources and fan out to; None: selections fail.
    sources: Option<Sources>,
    /// Writes each invocation's metrics line (to stdout unless told otherwise).
    metrics: Emitter,
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
            metrics: Emitter::new(&settings, Sink::Stdout),
            settings,
            starter: Arc::new(starter),
            limiter,
            sources: None,
        }
    }

    /// Lets the function resolve selections (docs/reference.md, "Selections").
    pub fn with_sources(mut self, sources: Sources) -> App<S> {
        self.sources = Some(sources);
        self
    }

    /// Writes the metrics lines to `sink` instead of stdout.
    pub fn with_metrics_sink(mut self, sink: Sink) -> App<S> {
        self.metrics = self.metrics.with_sink(sink);
        self
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
    /// What this invocation did, for its metrics line.
    pub tally: Arc<Tally>,
}

impl Invocation {
    pub fn new(request_id: impl Into<String>, deadline: Deadline) -> Invocation {
        Invocation {
            request_id: request_id.into(),
            deadline,
            tally: Arc::default(),
        }
    }

    pub fn from_context(context: &lambda_runtime::Context) -> Invocation {
        Invocation::new(
            context.request_id.clone(),
            Deadline::from_epoch_millis(context.deadline),
        )
    }

    fn origin<'a>(&'a self, message_id: Option<&'a str>) -> Origin<'a> {
        Origin {
            request_id: &self.request_id,
            message_id,
        }
    }
}

/// The largest event text read by [`handle_text`]: Lambda's own limit for a
/// synchronous invocation.
pub const MAX_EVENT_BYTES: usize = 6 * 1024 * 1024;

/// Handles one event given as text (`bootstrap invoke`, where text really arrives;
/// under Lambda the runtime has already parsed the event, see [`handle`]). A hostile
/// text costs little: its size is checked before it is parsed, and serde_json
/// refuses nesting deeper than 128 levels.
pub async fn handle_text<S: JobStarter>(
    app: &Arc<App<S>>,
    text: &str,
    invocation: &Invocation,
) -> Result<Answer, HandlerError> {
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
            let error = Run::new(Arc::clone(app), invocation.clone()).rejected(UNKNOWN_KIND, None, error);
            app.metrics.write(&invocation.tally, &invocation.request_id);
            Err(error)
        }
    }
}

/// Handles one event and writes the invocation's metrics line. SQS batches always
/// answer (failures are in `batchItemFailures`); other events fail the invocation
/// when any request failed.
///
/// The work runs in a task of its own, so that a panic in our code becomes an
/// `InternalError` that says so, not the runtime's panic report (which quotes the
/// panic message). For an SQS batch that fails the whole invocation: SQS delivers
/// every message again, and nothing is lost.
pub async fn handle<S: JobStarter>(
    app: &Arc<App<S>>,
    event: Value,
    invocation: &Invocation,
) -> Result<Answer, HandlerError> {
    let run = Run::new(Arc::clone(app), invocation.clone());
    let answer = tokio::spawn(run.event(event)).await.unwrap_or_else(|_| {
        Err(HandlerError {
            error_type: INTERNAL_ERROR.into(),
            message: "backup-trigger failed while handling this event; requests that started are in the log, and retrying is safe: tokens do not change".into(),
        })
    });
    app.metrics.write(&invocation.tally, &invocation.request_id);
    answer
}

/// The `kind` of the event line of an event that could not be read.
const UNKNOWN_KIND: &str = "unknown";
/// The `kind` of the event line of an SQS message that started nothing.
const MESSAGE_KIND: &str = "sqs-message";

/// One invocation (or one SQS message of it) in progress: what every step needs.
struct Run<S> {
    app: Arc<App<S>>,
    invocation: Invocation,
    limits: Limits,
    began: Instant,
    cold_start: bool,
}

impl<S> Clone for Run<S> {
    fn clone(&self) -> Self {
        Run {
            app: Arc::clone(&self.app),
            invocation: self.invocation.clone(),
            limits: self.limits.clone(),
            began: self.began,
            cold_start: self.cold_start,
        }
    }
}

impl<S: JobStarter> Run<S> {
    fn new(app: Arc<App<S>>, invocation: Invocation) -> Run<S> {
        Run {
            limits: app.limits(),
            app,
            invocation,
            began: Instant::now(),
            cold_start: logging::take_cold_start(),
        }
    }

    async fn event(self, event: Value) -> Result<Answer, HandlerError> {
        match event::classify(event) {
            Err(error) => Err(self.rejected(UNKNOWN_KIND, None, error)),
            Ok(Incoming::Sqs(batch)) => Ok(self.batch(batch).await),
            Ok(Incoming::Single(event)) => self.single(event).await,
        }
    }

    async fn single(&self, event: Value) -> Result<Answer, HandlerError> {
        if let Some(selected) = event::selection(&event, &self.invocation.origin(None), &self.app.settings) {
            return self.selection(selected, None).await;
        }
        let plan = self
            .plan(&event, None)
            .map_err(|error| self.rejected(UNKNOWN_KIND, None, error))?;
        // The plan holds all it needs: the event's JSON need not stay while calls run.
        drop(event);
        let (plan, results) = self.send(plan, None).await;
        match answer::failed(&plan, &results) {
            Some(error) => Err(error),
            None => Ok(answer::single(plan.shape, plan.skipped, results)),
        }
    }

    /// Handles an SQS batch: messages concurrently, or in order on a FIFO queue
    /// where the first failure fails every later message unstarted. A panic while
    /// handling one message fails that message only.
    async fn batch(self, batch: sqs::Batch) -> Answer {
        let count = batch.messages.len();
        let mut failed = Vec::new();
        if batch.fifo {
            let mut stopped = false;
            for message in batch.messages {
                if stopped {
                    self.not_started_fifo(&message.id);
                    failed.push(message.id);
                } else if !self.spawn_message(&message).await.unwrap_or(false) {
                    stopped = true;
                    failed.push(message.id);
                }
            }
        } else {
            let tasks: Vec<_> = batch.messages.iter().map(|m| self.spawn_message(m)).collect();
            for (message, task) in batch.messages.into_iter().zip(tasks) {
                if !task.await.unwrap_or(false) {
                    failed.push(message.id);
                }
            }
        }
        self.invocation.tally.batch(failed.len());
        logging::batch(
            count,
            failed.len(),
            batch.fifo,
            self.began.elapsed(),
            self.cold_start,
            &self.invocation.request_id,
        );
        answer::sqs(failed)
    }

    /// Handles one message in a task of its own; the task answers true when every
    /// request in the message started (or was skipped).
    fn spawn_message(&self, message: &sqs::Message) -> JoinHandle<bool> {
        let run = Run {
            began: Instant::now(),
            ..self.clone()
        };
        let (id, body) = (message.id.clone(), message.body.clone());
        tokio::spawn(async move {
            let origin = run.invocation.origin(Some(&id));
            if let Ok(body) = &body {
                if let Some(selected) = event::selection(body, &origin, &run.app.settings) {
                    return run.selection(selected, Some(&id)).await.is_ok();
                }
            }
            let planned = body.and_then(|body| {
                catch_unwind(AssertUnwindSafe(|| run.plan(&body, Some(&id)))).unwrap_or_else(|_| {
                    Err(PlanError::Internal(
                        "backup-trigger failed while reading this message; nothing was started".into(),
                    ))
                })
            });
            match planned {
                Err(error) => {
                    run.rejected(MESSAGE_KIND, Some(&id), error);
                    false
                }
                Ok(plan) => {
                    let (_, results) = run.send(plan, Some(&id)).await;
                    !results.iter().any(|r| r.outcome.is_failure())
                }
            }
        })
    }

    /// Plans an event (or a message's body). A job state change whose copy cannot be
    /// made still has its outcome recorded and counted before it is refused.
    fn plan(&self, event: &Value, message_id: Option<&str>) -> Result<Plan, PlanError> {
        let mut plan = event::plan(event, &self.invocation.origin(message_id), &self.app.settings)?;
        match plan.refused.take() {
            None => Ok(plan),
            Some(error) => {
                if let Some(outcome) = &plan.outcome {
                    logging::outcome(outcome, &plan.source, self.invocation.origin(message_id));
                }
                // No job was sent: this counts the outcome only.
                self.invocation.tally.ran(&plan, &[]);
                Err(error)
            }
        }
    }

    /// Records the job outcome the plan carries, sends its jobs, logs each request
    /// and the event (or message), and counts them.
    async fn send(&self, mut plan: Plan, message_id: Option<&str>) -> (Plan, Vec<JobResult>) {
        let origin = self.invocation.origin(message_id);
        if let Some(outcome) = &plan.outcome {
            logging::outcome(outcome, &plan.source, origin);
        }
        let jobs = std::mem::take(&mut plan.jobs);
        let results = send::send_all(&self.app.starter, jobs, &self.limits, self.invocation.deadline).await;
        for (position, result) in results.iter().enumerate() {
            logging::request(result, position, origin);
        }
        self.invocation.tally.ran(&plan, &results);
        let cold_start = self.cold_start_of(message_id);
        logging::event(
            &EventSummary::sent(&plan, &results, self.began.elapsed(), cold_start),
            origin,
        );
        (plan, results)
    }

    /// Resolves a selection (or logs why it is invalid) and answers for it.
    async fn selection(
        &self,
        selected: Result<Selection, PlanError>,
        message_id: Option<&str>,
    ) -> Result<Answer, HandlerError> {
        let selection = selected.map_err(|error| self.rejected(Shape::Selection.as_str(), message_id, error))?;
        let context = resolve::Context {
            starter: &self.app.starter,
            settings: &self.app.settings,
            sources: self.app.sources.as_ref(),
            limits: &self.limits,
            deadline: self.invocation.deadline,
            at: self.invocation.origin(message_id),
            began: self.began,
            cold_start: self.cold_start_of(message_id),
            tally: &self.invocation.tally,
        };
        resolve::run(&context, &selection).await
    }

    /// Logs the event line of an event (or message) refused before any call, counts
    /// it, and turns its error into the invocation's.
    fn rejected(&self, kind: &str, message_id: Option<&str>, error: PlanError) -> HandlerError {
        self.invocation.tally.rejected();
        let origin = self.invocation.origin(message_id);
        let message = error.to_string();
        logging::event(
            &EventSummary::rejected(
                kind,
                &origin.source_id(),
                (error.error_type(), &message),
                self.began.elapsed(),
                self.cold_start_of(message_id),
            ),
            origin,
        );
        error.into()
    }

    fn not_started_fifo(&self, message_id: &str) {
        let origin = self.invocation.origin(Some(message_id));
        let failure = Failure::not_started("an earlier message of this FIFO batch failed, and FIFO order must be kept");
        logging::event(
            &EventSummary::rejected(
                MESSAGE_KIND,
                &origin.source_id(),
                (failure.code.as_str(), &failure.message),
                Duration::ZERO,
                None,
            ),
            origin,
        );
    }

    /// The cold-start flag goes on the line of a whole event, not on a message's.
    fn cold_start_of(&self, message_id: Option<&str>) -> Option<bool> {
        message_id.is_none().then_some(self.cold_start)
    }
}

#[cfg(test)]
mod tests;
