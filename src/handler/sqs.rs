//! SQS batches: each message's body is an event of its own, handled and reported on
//! its own, concurrently; on a FIFO queue in order, the first failure failing that
//! message and every later one unstarted. A panic while handling one message fails
//! that message only.

use aws_lambda_events::sqs::SqsMessage;
use serde::Deserialize;
use serde_json::Value;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::Run;
use crate::command::context::Rejected;
use crate::command::EXPECTED;
use crate::core::error::Error;
use crate::core::job::Failure;
use crate::core::request::kind_of;
use crate::report::answer::{self, Answer};
use crate::report::{log, Kind, Report};

/// The largest message body read: SQS's own maximum message size (1 MiB).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// An SQS batch, its messages in the order SQS delivered them.
#[derive(Debug)]
pub struct Batch {
    /// A FIFO queue: messages are handled in order and the first failure stops the rest.
    pub fifo: bool,
    pub messages: Vec<Message>,
}

pub struct Message {
    pub id: String,
    /// The body read as JSON, or why it could not be. A body that cannot be read
    /// fails its message only.
    pub body: Result<Value, Error>,
}

/// Shows the id and whether the body was read, never the body: it may hold tag values.
impl std::fmt::Debug for Message {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Message")
            .field("id", &self.id)
            .field("body_read", &self.body.is_ok())
            .finish()
    }
}

impl Batch {
    /// Reads an SQS batch; None when the event is not one (it has no `Records`).
    pub fn read(event: &Value) -> Option<Result<Batch, Error>> {
        event.get("Records")?;
        Some(batch(event))
    }
}

/// Reads a batch. A record with no `messageId` fails the whole batch: it could not
/// be reported on its own, and failing the batch loses nothing (SQS redelivers it).
fn batch(event: &Value) -> Result<Batch, Error> {
    let records = match event.get("Records") {
        Some(Value::Array(records)) if !records.is_empty() => records,
        Some(Value::Array(_)) => return Err(Error::invalid("Records", "is empty")),
        Some(other) => {
            return Err(Error::invalid(
                "Records",
                format!("must be an array, not {}", kind_of(other)),
            ))
        }
        None => return Err(Error::invalid("Records", "is required")),
    };
    let mut messages = Vec::with_capacity(records.len());
    let mut fifo = false;
    for (position, record) in records.iter().enumerate() {
        let at = format!("Records[{position}]");
        let message = SqsMessage::deserialize(record).map_err(|e| {
            Error::invalid(
                &at,
                format!("is not an SQS message: {}", crate::core::error::cut(&e.to_string())),
            )
        })?;
        if message.event_source.as_deref() != Some("aws:sqs") {
            return Err(Error::invalid(
                format!("{at}.eventSource"),
                format!("is not \"aws:sqs\"; {EXPECTED}"),
            ));
        }
        let Some(id) = message.message_id.filter(|id| !id.is_empty()) else {
            return Err(Error::invalid(
                format!("{at}.messageId"),
                "is missing: the message could not be reported on its own",
            ));
        };
        if position == 0 {
            fifo = message
                .event_source_arn
                .as_deref()
                .is_some_and(|arn| arn.ends_with(".fifo"));
        }
        let body = read_body(message.body.as_deref());
        messages.push(Message { id, body });
    }
    Ok(Batch { fifo, messages })
}

fn read_body(body: Option<&str>) -> Result<Value, Error> {
    let body = body.ok_or_else(|| Error::invalid("body", "is missing"))?;
    if body.len() > MAX_BODY_BYTES {
        return Err(Error::invalid(
            "body",
            format!("is {} bytes; at most {MAX_BODY_BYTES} are read", body.len()),
        ));
    }
    serde_json::from_str(body).map_err(|e| {
        Error::invalid(
            "body",
            format!("is not JSON ({}); {EXPECTED}", crate::core::error::cut(&e.to_string())),
        )
    })
}

impl Run {
    /// Handles an SQS batch: messages concurrently, or in order on a FIFO queue
    /// where the first failure fails every later message unstarted.
    pub(super) async fn batch(self, batch: Batch) -> Answer {
        let count = batch.messages.len();
        let mut failed = Vec::new();
        if batch.fifo {
            let mut stopped = false;
            for message in batch.messages {
                if stopped {
                    self.not_started_fifo(&message.id);
                    failed.push(message.id);
                } else if !self
                    .spawn_message(message.id.clone(), message.body)
                    .await
                    .unwrap_or(false)
                {
                    stopped = true;
                    failed.push(message.id);
                }
            }
        } else {
            let ids: Vec<String> = batch.messages.iter().map(|m| m.id.clone()).collect();
            let tasks: Vec<_> = batch
                .messages
                .into_iter()
                .map(|m| self.spawn_message(m.id, m.body))
                .collect();
            for (id, task) in ids.into_iter().zip(tasks) {
                if !task.await.unwrap_or(false) {
                    failed.push(id);
                }
            }
        }
        self.invocation.tally.batch(failed.len());
        log::batch(
            count,
            failed.len(),
            batch.fifo,
            self.began.elapsed(),
            self.cold_start,
            &self.invocation.request_id,
        );
        answer::sqs(failed)
    }

    /// Handles one message in a task of its own; the task answers true when the
    /// message succeeded (every request started, or nothing was to be done).
    fn spawn_message(&self, id: String, body: Result<Value, Error>) -> JoinHandle<bool> {
        let run = self.clone();
        tokio::spawn(async move {
            match body {
                Ok(body) => run.event(body, Some(&id)).await.is_ok(),
                Err(error) => {
                    let began = Instant::now();
                    let origin = run.origin(Some(&id));
                    let report = Rejected::new(Kind::SqsMessage, error).report(&origin);
                    run.finish(report, origin, began).is_ok()
                }
            }
        })
    }

    /// Reports a FIFO message left unstarted after an earlier one failed: a failure,
    /// not a refusal of its content (it counts in `MessagesFailed` only).
    fn not_started_fifo(&self, message_id: &str) {
        let origin = self.origin(Some(message_id));
        let failure = Failure::not_started("an earlier message of this FIFO batch failed, and FIFO order must be kept");
        let mut report = Report::new(Kind::SqsMessage, origin.fallback_source_id());
        report.error = Some(failure.error);
        // The message's failure is in the batch's answer; this is its event line.
        let _ = self.finish(report, origin, Instant::now());
    }
}

#[cfg(test)]
mod tests;
