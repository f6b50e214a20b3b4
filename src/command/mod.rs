//! The pure core: an event in, a [`Plan`] of validated jobs out, with no I/O.
//!
//! [`classify`] tells an SQS batch (planned message by message, see [`sqs`]) from a
//! single event; [`plan`] turns a single event (a bare request, a list or an
//! EventBridge event) into a plan. Every request of an event is validated before
//! the plan exists, so an event with one bad request starts nothing.

pub mod direct;
pub mod eventbridge;
pub mod outcome;
pub mod selection;
pub mod sqs;

use serde_json::Value;

use crate::error::PlanError;
use crate::request::{kind_of, request_fields, Job};
use crate::settings::Settings;
use crate::token::{SourceId, SourceKind};

/// What is known of an event's delivery, beyond the event itself: where its tokens
/// come from when it has no key of its own, and what its log lines are correlated by.
#[derive(Debug, Clone, Copy)]
pub struct Origin<'a> {
    /// The Lambda request id (kept by AWS across retries of an asynchronous invocation).
    pub request_id: &'a str,
    /// The SQS message id, when the event is an SQS message's body.
    pub message_id: Option<&'a str>,
}

impl Origin<'_> {
    /// The source id of an event that could not be read: the message id, else the
    /// request id.
    pub fn source_id(&self) -> SourceId {
        source_id(None, self, None)
    }
}

/// The shape an event had, for the answer and the logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    Bare,
    List,
    EventBridge,
    BackupStateChange,
    Selection,
    CopyStateChange,
}

impl Shape {
    pub fn as_str(self) -> &'static str {
        match self {
            Shape::Bare => "bare",
            Shape::List => "list",
            Shape::EventBridge => "eventbridge",
            Shape::BackupStateChange => "backup-state-change",
            Shape::Selection => "selection",
            Shape::CopyStateChange => "copy-state-change",
        }
    }
}

/// The validated jobs of one event (or one SQS message), in the event's order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub shape: Shape,
    pub source: SourceId,
    pub jobs: Vec<Job>,
    /// Why nothing is to be done, when the event asks for nothing (a backup job
    /// that did not complete).
    pub skipped: Option<String>,
    /// How an AWS Backup job ended, when the event says so (docs/reference.md,
    /// "Job outcomes").
    pub outcome: Option<outcome::JobOutcome>,
    /// Why the copy a completed backup asks for cannot be made (a setting is
    /// missing, the event names no recovery point): the outcome is still recorded
    /// and counted, then the event fails, so that it is retried and, failing again,
    /// lands in the dead-letter queue.
    pub refused: Option<crate::error::PlanError>,
}

/// An invocation's event: one event, or an SQS batch of them.
pub enum Incoming {
    Single(Value),
    Sqs(sqs::Batch),
}

/// Never shows the event itself: it may hold tag values.
impl std::fmt::Debug for Incoming {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Incoming::Single(_) => f.write_str("Single(..)"),
            Incoming::Sqs(batch) => f.debug_tuple("Sqs").field(batch).finish(),
        }
    }
}

pub const EXPECTED: &str =
    "expected a backup request, a list {\"Jobs\": [...]}, an EventBridge event with a request or list in its detail, or an SQS event";

/// Tells an SQS batch from a single event.
pub fn classify(event: Value) -> Result<Incoming, PlanError> {
    match &event {
        Value::Object(map) if map.contains_key("Records") => sqs::batch(&event).map(Incoming::Sqs),
        Value::Object(_) => Ok(Incoming::Single(event)),
        other => Err(PlanError::invalid(
            "",
            format!("the event is {}; {EXPECTED}", kind_of(other)),
        )),
    }
}

/// Plans a single event: a bare request, a list or an EventBridge event.
pub fn plan(event: &Value, origin: &Origin, settings: &Settings) -> Result<Plan, PlanError> {
    let Value::Object(map) = event else {
        return Err(PlanError::invalid(
            "",
            format!("the event is {}; {EXPECTED}", kind_of(event)),
        ));
    };
    if map.contains_key("Records") {
        return Err(PlanError::invalid(
            "Records",
            format!("an SQS event cannot be nested in another event; {EXPECTED}"),
        ));
    }
    if map.contains_key("detail-type") {
        return eventbridge::plan(event, origin, settings);
    }
    // An object with no field of ours, not even a misspelt one, is some other event.
    let names: Vec<&str> = request_fields()
        .chain(["Jobs", "IdempotencyKey", "Selection"])
        .collect();
    let near = |key: &String| {
        let key = key.to_ascii_lowercase();
        key.len() <= 100
            && names
                .iter()
                .any(|name| crate::suggest::edit_distance(&key, &name.to_ascii_lowercase()) <= 2)
    };
    if !map.is_empty() && !map.keys().any(near) {
        let seen: Vec<String> = map.keys().take(5).map(|k| crate::error::quote_str(k)).collect();
        return Err(PlanError::invalid(
            "",
            format!(
                "the event has none of the fields of a request or a list (it has {}); {EXPECTED}",
                seen.join(", ")
            ),
        ));
    }
    direct::plan(event, origin, None, settings)
}

/// The selection an event holds, bare or in an EventBridge rule's `detail` (an SQS
/// body is either); None when the event holds none and is planned by [`plan`].
pub fn selection(
    event: &Value,
    origin: &Origin,
    settings: &Settings,
) -> Option<Result<selection::Selection, PlanError>> {
    let map = event.as_object()?;
    if selection::is_selection(map) {
        return Some(
            direct::idempotency_key(map).and_then(|key| selection::parse(map, source_id(key, origin, None), settings)),
        );
    }
    if !map.contains_key("detail-type") {
        return None;
    }
    let detail = map.get("detail")?.as_object()?;
    if !selection::is_selection(detail) {
        return None;
    }
    let event_id = map.get("id").and_then(Value::as_str).filter(|id| !id.is_empty());
    let parsed = direct::idempotency_key(detail)
        .and_then(|key| selection::parse(detail, source_id(key, origin, event_id), settings));
    Some(parsed.map_err(|error| match error {
        PlanError::Validation(problems) => {
            PlanError::Validation(problems.into_iter().map(|p| p.within("detail")).collect())
        }
        other => other,
    }))
}

/// The source id of an event: the first found of its `IdempotencyKey`, the SQS
/// message id, the EventBridge event id and the Lambda request id.
pub fn source_id(key: Option<&str>, origin: &Origin, event_id: Option<&str>) -> SourceId {
    let (kind, value) = match (key, origin.message_id, event_id) {
        (Some(key), _, _) => (SourceKind::IdempotencyKey, key),
        (None, Some(message_id), _) => (SourceKind::SqsMessageId, message_id),
        (None, None, Some(event_id)) => (SourceKind::EventBridgeId, event_id),
        (None, None, None) => (SourceKind::LambdaRequestId, origin.request_id),
    };
    SourceId {
        kind,
        value: value.to_owned(),
    }
}

#[cfg(test)]
mod tests;
