//! One invocation, from event to answer: an SQS batch is split into its messages
//! (`sqs`); every event, or message body, is read into one command, run, and its
//! report finished into log lines, metrics and an answer; the invocation's metrics
//! line is written last.

mod app;
mod sqs;

pub use app::{App, Clock};

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use serde_json::Value;
use tokio::time::Instant;

use crate::command::context::{Context, Rejected};
use crate::command::{Command, EXPECTED};
use crate::core::error::Error;
use crate::core::time::Timestamp;
use crate::core::token::Origin;
use crate::io::send::{Deadline, Limits};
use crate::report::answer::Answer;
use crate::report::finish::finish;
use crate::report::metrics::Tally;
use crate::report::{At, Kind, Report};

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
}

/// The largest event text read by [`handle_text`]: Lambda's own limit for a
/// synchronous invocation.
pub const MAX_EVENT_BYTES: usize = 6 * 1024 * 1024;

/// Handles one event given as text (`bootstrap invoke`, where text really arrives;
/// under Lambda the runtime has already parsed the event, see [`handle`]). A hostile
/// text costs little: its size is checked before it is parsed, and serde_json
/// refuses nesting deeper than 128 levels.
pub async fn handle_text(app: &Arc<App>, text: &str, invocation: &Invocation) -> Result<Answer, Error> {
    let event = if text.len() > MAX_EVENT_BYTES {
        Err(format!(
            "the event is {} bytes; at most {MAX_EVENT_BYTES} are read",
            text.len()
        ))
    } else {
        serde_json::from_str(text).map_err(|e| format!("the event is not JSON ({e}); {EXPECTED}"))
    };
    match event {
        Ok(event) => handle(app, event, invocation).await,
        Err(problem) => {
            let run = Run::new(Arc::clone(app), invocation.clone());
            let origin = run.origin(None);
            let rejected = Rejected::new(Kind::Unknown, Error::invalid("", problem)).report(&origin);
            let answer = run.finish(rejected, origin, Instant::now());
            app.metrics.write(&invocation.tally, &invocation.request_id);
            answer
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
pub async fn handle(app: &Arc<App>, event: Value, invocation: &Invocation) -> Result<Answer, Error> {
    let run = Run::new(Arc::clone(app), invocation.clone());
    let answer = tokio::spawn(run.invocation_of(event)).await.unwrap_or_else(|_| {
        Err(Error::Internal(
            "backup-trigger failed while handling this event; requests that started are in the log, and retrying is safe: tokens do not change".into(),
        ))
    });
    app.metrics.write(&invocation.tally, &invocation.request_id);
    answer
}

static COLD: AtomicBool = AtomicBool::new(true);

/// True for the first invocation of this process, false after.
fn take_cold_start() -> bool {
    COLD.swap(false, Ordering::Relaxed)
}

/// One invocation (or one SQS message of it) in progress: what every step needs.
#[derive(Clone)]
struct Run {
    app: Arc<App>,
    invocation: Invocation,
    limits: Limits,
    began: Instant,
    now: Timestamp,
    cold_start: bool,
}

impl Run {
    fn new(app: Arc<App>, invocation: Invocation) -> Run {
        Run {
            limits: app.limits(),
            now: app.clock.now(),
            app,
            invocation,
            began: Instant::now(),
            cold_start: take_cold_start(),
        }
    }

    fn origin<'a>(&'a self, message_id: Option<&'a str>) -> Origin<'a> {
        Origin {
            request_id: &self.invocation.request_id,
            message_id,
        }
    }

    async fn invocation_of(self, event: Value) -> Result<Answer, Error> {
        let read = sqs::Batch::read(&event);
        match read {
            None => self.event(event, None).await,
            Some(Ok(batch)) => {
                // The batch holds what it needs: the event's text goes before the
                // messages run, rather than being held beside them.
                drop(event);
                Ok(self.batch(batch).await)
            }
            Some(Err(error)) => {
                let origin = self.origin(None);
                let report = Rejected::new(Kind::Unknown, error).report(&origin);
                self.finish(report, origin, self.began)
            }
        }
    }

    /// Reads one event (or a message's body) into a command, runs it, and finishes
    /// its report. A panic while reading fails the event (or message) only.
    async fn event(&self, event: Value, message_id: Option<&str>) -> Result<Answer, Error> {
        let began = if message_id.is_some() {
            Instant::now()
        } else {
            self.began
        };
        let origin = self.origin(message_id);
        let read = catch_unwind(AssertUnwindSafe(|| Command::read(&event, &origin, &self.app.defaults)))
            .unwrap_or_else(|_| {
                let kind = if message_id.is_some() {
                    Kind::SqsMessage
                } else {
                    Kind::Unknown
                };
                Err(Rejected::new(
                    kind,
                    Error::Internal("backup-trigger failed while reading this event".into()),
                ))
            });
        // The command holds all it needs: the event's JSON need not stay while calls run.
        drop(event);
        let report = match read {
            Ok(command) => {
                let context = Context {
                    io: &self.app.io,
                    limits: &self.limits,
                    deadline: self.invocation.deadline,
                    now: self.now,
                };
                command.run(&context).await
            }
            Err(rejected) => rejected.report(&origin),
        };
        self.finish(report, origin, began)
    }

    fn finish(&self, report: Report, origin: Origin<'_>, began: Instant) -> Result<Answer, Error> {
        let at = At {
            origin,
            duration: began.elapsed(),
            // The cold-start flag goes on the line of a whole event, not on a message's.
            cold_start: origin.message_id.is_none().then_some(self.cold_start),
        };
        finish(report, at, &self.invocation.tally)
    }
}

#[cfg(test)]
mod tests;
