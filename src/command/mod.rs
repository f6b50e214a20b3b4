//! One event (or one SQS message's body) is read once into one [`Command`], one
//! variant per kind of work, and run in one place ([`Command::run`]); every command
//! returns a [`Report`]. Reading is pure: it validates with [`Defaults`] and starts
//! nothing. A new kind of work is a new file here, a variant and two match arms.

pub mod audit;
pub mod context;
pub mod jobs;
pub mod outcome;
pub mod resolve;
pub mod selection;

use aws_lambda_events::eventbridge::EventBridgeEvent;
use serde::Deserialize;
use serde_json::Value;

use crate::command::context::{Context, Rejected};
use crate::core::audit::is_audit;
use crate::core::defaults::Defaults;
use crate::core::error::{cut, quote_str, Error};
use crate::core::outcome::JobKind;
use crate::core::request::{kind_of, request_fields};
use crate::core::selection::is_selection;
use crate::core::suggest::edit_distance;
use crate::core::token::Origin;
use crate::report::{Kind, Report};

/// What an event asks for.
#[derive(Debug)]
pub enum Command {
    /// A bare request, a list, or either in an EventBridge event's `detail`.
    Jobs(jobs::Jobs),
    /// AWS Backup says how a job ended.
    Outcome(outcome::Outcome),
    /// Back up what a selection matches.
    Selection(selection::Selection),
    /// Check that what a selection matches is protected, and mend it.
    Audit(audit::Audit),
}

/// What an event that is not one of ours is told.
pub const EXPECTED: &str = "expected a backup request, a list {\"Jobs\": [...]}, a selection {\"Selection\": {...}} (with an \"Audit\" for an audit), an EventBridge event with one of these in its detail, or an SQS event";

impl Command {
    /// Reads one event (an SQS message's body is one too).
    pub fn read(event: &Value, origin: &Origin, defaults: &Defaults) -> Result<Command, Rejected> {
        let unread = if origin.message_id.is_some() {
            Kind::SqsMessage
        } else {
            Kind::Unknown
        };
        let Value::Object(map) = event else {
            return Err(Rejected::new(
                unread,
                Error::invalid("", format!("the event is {}; {EXPECTED}", kind_of(event))),
            ));
        };
        if map.contains_key("Records") {
            return Err(Rejected::new(
                unread,
                Error::invalid(
                    "Records",
                    format!("an SQS event cannot be nested in another event; {EXPECTED}"),
                ),
            ));
        }
        if map.contains_key("detail-type") {
            return eventbridge(event, origin, defaults);
        }
        if is_selection(map) || is_audit(map) {
            return selection_or_audit(map, origin, None, defaults);
        }
        // An object with no field of ours, not even a misspelt one, is some other event.
        let names: Vec<&str> = request_fields()
            .chain(["Jobs", "IdempotencyKey", "Selection", "Audit"])
            .collect();
        let near = |key: &String| {
            let key = key.to_ascii_lowercase();
            key.len() <= 100
                && names
                    .iter()
                    .any(|name| edit_distance(&key, &name.to_ascii_lowercase()) <= 2)
        };
        if !map.is_empty() && !map.keys().any(near) {
            let seen: Vec<String> = map.keys().take(5).map(|k| quote_str(k)).collect();
            return Err(Rejected::new(
                unread,
                Error::invalid(
                    "",
                    format!(
                        "the event has none of the fields of a request or a list (it has {}); {EXPECTED}",
                        seen.join(", ")
                    ),
                ),
            ));
        }
        jobs::read(map, origin, jobs::Within::Event, defaults).map(Command::Jobs)
    }

    /// Runs the command: the one place where each kind of work is dispatched.
    pub async fn run(self, context: &Context<'_>) -> Report {
        match self {
            Command::Jobs(jobs) => jobs.run(context).await,
            Command::Outcome(outcome) => outcome.run(context).await,
            Command::Selection(selection) => selection.run(context).await,
            Command::Audit(audit) => audit.run(context).await,
        }
    }
}

/// An EventBridge event: AWS Backup's job state changes, or a rule's event whose
/// `detail` is a request, a list, a selection or an audit.
fn eventbridge(event: &Value, origin: &Origin, defaults: &Defaults) -> Result<Command, Rejected> {
    let parsed = EventBridgeEvent::<Value>::deserialize(event).map_err(|e| {
        Rejected::new(
            Kind::EventBridge,
            Error::invalid(
                "",
                format!(
                    "an EventBridge event needs \"detail-type\", \"source\" and \"detail\": {}",
                    cut(&e.to_string())
                ),
            ),
        )
    })?;
    if let Some(kind) = JobKind::of(&parsed.source, &parsed.detail_type) {
        return outcome::read(kind, &parsed, origin, defaults).map(Command::Outcome);
    }
    let detail = match &parsed.detail {
        Value::Object(map) if !map.is_empty() => map,
        Value::Null | Value::Object(_) => {
            return Err(Rejected::new(
                Kind::EventBridge,
                Error::invalid(
                    "detail",
                    format!(
                        "is empty: a {} event from {} carries no request. Set the target's input (Input, or an input transformer) to a backup request or a list",
                        quote_str(&parsed.detail_type),
                        quote_str(&parsed.source)
                    ),
                ),
            ))
        }
        other => {
            return Err(Rejected::new(
                Kind::EventBridge,
                Error::invalid(
                    "detail",
                    format!("must be a request or a list (a JSON object), not {}", kind_of(other)),
                ),
            ))
        }
    };
    let event_id = parsed.id.as_deref().filter(|id| !id.is_empty());
    let read = if is_selection(detail) || is_audit(detail) {
        selection_or_audit(detail, origin, event_id, defaults)
    } else {
        jobs::read(detail, origin, jobs::Within::Detail { event_id }, defaults).map(Command::Jobs)
    };
    read.map_err(|rejected| Rejected::new(rejected.kind, rejected.error.within("detail")))
}

/// A selection, or an audit (a selection with an `Audit` beside it).
fn selection_or_audit(
    map: &serde_json::Map<String, Value>,
    origin: &Origin,
    event_id: Option<&str>,
    defaults: &Defaults,
) -> Result<Command, Rejected> {
    if is_audit(map) {
        audit::read(map, origin, event_id, defaults).map(Command::Audit)
    } else {
        selection::read(map, origin, event_id, defaults).map(Command::Selection)
    }
}

#[cfg(test)]
mod tests;
