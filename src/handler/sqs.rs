//! SQS batches: each message's body is an event of its own (a request, a list or an
//! EventBridge event), planned and reported on its own.

use aws_lambda_events::sqs::SqsMessage;
use serde::Deserialize;
use serde_json::Value;

use crate::error::PlanError;
use crate::event::EXPECTED;
use crate::request::kind_of;

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
    pub body: Result<Value, PlanError>,
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

/// Reads a batch. A record with no `messageId` fails the whole batch: it could not
/// be reported on its own, and failing the batch loses nothing (SQS redelivers it).
pub fn batch(event: &Value) -> Result<Batch, PlanError> {
    let records = match event.get("Records") {
        Some(Value::Array(records)) if !records.is_empty() => records,
        Some(Value::Array(_)) => return Err(PlanError::invalid("Records", "is empty")),
        Some(other) => {
            return Err(PlanError::invalid(
                "Records",
                format!("must be an array, not {}", kind_of(other)),
            ))
        }
        None => return Err(PlanError::invalid("Records", "is required")),
    };
    let mut messages = Vec::with_capacity(records.len());
    let mut fifo = false;
    for (position, record) in records.iter().enumerate() {
        let at = format!("Records[{position}]");
        let message = SqsMessage::deserialize(record).map_err(|e| {
            PlanError::invalid(
                &at,
                format!("is not an SQS message: {}", crate::error::cut(&e.to_string())),
            )
        })?;
        if message.event_source.as_deref() != Some("aws:sqs") {
            return Err(PlanError::invalid(
                format!("{at}.eventSource"),
                format!("is not \"aws:sqs\"; {EXPECTED}"),
            ));
        }
        let Some(id) = message.message_id.filter(|id| !id.is_empty()) else {
            return Err(PlanError::invalid(
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

fn read_body(body: Option<&str>) -> Result<Value, PlanError> {
    let body = body.ok_or_else(|| PlanError::invalid("body", "is missing"))?;
    if body.len() > MAX_BODY_BYTES {
        return Err(PlanError::invalid(
            "body",
            format!("is {} bytes; at most {MAX_BODY_BYTES} are read", body.len()),
        ));
    }
    serde_json::from_str(body).map_err(|e| {
        PlanError::invalid(
            "body",
            format!("is not JSON ({}); {EXPECTED}", crate::error::cut(&e.to_string())),
        )
    })
}
