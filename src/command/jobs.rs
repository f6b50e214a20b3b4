//! Bare requests and lists (`{"Jobs": [...]}`): direct invocations, EventBridge
//! Scheduler and rule targets with constant input, and an EventBridge event's detail.

use serde_json::{Map, Value};

use crate::error::{quote_str, Invalid, PlanError};
use crate::event::{source_id, Origin, Plan, Shape};
use crate::request::{kind_of, request_fields, rules, validate, Job};
use crate::settings::Settings;

/// At most this many requests in one list.
pub const MAX_JOBS: usize = 1000;

/// Plans a bare request or a list. `event_id` is the enclosing EventBridge event's id.
pub fn plan(event: &Value, origin: &Origin, event_id: Option<&str>, settings: &Settings) -> Result<Plan, PlanError> {
    let Value::Object(map) = event else {
        return Err(PlanError::invalid(
            "",
            format!("must be a request or a list (a JSON object), not {}", kind_of(event)),
        ));
    };
    if crate::event::selection::is_selection(map) {
        // The handler resolves selections before planning; one that reaches here
        // would otherwise be read as a request without a resource.
        return Err(PlanError::Internal(
            "a selection cannot be planned as a list; nothing was started".into(),
        ));
    }
    let key = idempotency_key(map)?;
    let source = source_id(key, origin, event_id);
    if map.contains_key("Jobs") {
        let jobs = list(map, settings, &|position| source.token(position))?;
        Ok(Plan {
            shape: Shape::List,
            source,
            jobs,
            skipped: None,
            outcome: None,
            refused: None,
        })
    } else {
        // "Jobs" is never present here (that makes a list); it is named so that a
        // misspelled "jobs" is hinted at.
        let job = validate(
            event,
            &["IdempotencyKey", "Jobs", "Selection"],
            settings,
            &source.token(0),
        )
        .map_err(PlanError::Validation)?;
        Ok(Plan {
            shape: Shape::Bare,
            source,
            jobs: vec![job],
            skipped: None,
            outcome: None,
            refused: None,
        })
    }
}

pub(crate) fn idempotency_key(map: &Map<String, Value>) -> Result<Option<&str>, PlanError> {
    match map.get("IdempotencyKey") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(key)) => match rules::non_empty_bounded(key) {
            Ok(()) => Ok(Some(key)),
            Err(problem) => Err(PlanError::invalid("IdempotencyKey", problem)),
        },
        Some(other) => Err(PlanError::invalid(
            "IdempotencyKey",
            format!("must be a string, not {}", kind_of(other)),
        )),
    }
}

fn list(map: &Map<String, Value>, settings: &Settings, token: &dyn Fn(usize) -> String) -> Result<Vec<Job>, PlanError> {
    let mut problems = Vec::new();
    for key in map.keys().filter(|k| *k != "Jobs" && *k != "IdempotencyKey").take(10) {
        let problem = if request_fields().any(|f| f == key) {
            "is a request field: put it in each request of \"Jobs\" (a list has only \"Jobs\" and \"IdempotencyKey\")"
                .to_owned()
        } else {
            match crate::suggest::closest(key, &["Jobs", "IdempotencyKey"]) {
                Some(hint) => format!("unknown field; did you mean \"{hint}\"?"),
                None => "unknown field; a list has only \"Jobs\" and \"IdempotencyKey\"".to_owned(),
            }
        };
        problems.push(Invalid::new(quote_str(key), problem));
    }
    let requests = match map.get("Jobs") {
        Some(Value::Array(requests)) => requests,
        Some(other) => {
            return Err(PlanError::invalid(
                "Jobs",
                format!("must be an array of requests, not {}", kind_of(other)),
            ))
        }
        None => return Err(PlanError::invalid("Jobs", "is required")),
    };
    if requests.is_empty() {
        problems.push(Invalid::new(
            "Jobs",
            format!("is empty; a list has 1 to {MAX_JOBS} requests"),
        ));
    }
    if requests.len() > MAX_JOBS {
        problems.push(Invalid::new(
            "Jobs",
            format!(
                "has {} requests; a list has at most {MAX_JOBS}: split it",
                requests.len()
            ),
        ));
    }
    if !problems.is_empty() {
        return Err(PlanError::Validation(problems));
    }

    let mut jobs = Vec::with_capacity(requests.len());
    for (position, request) in requests.iter().enumerate() {
        match validate(request, &[], settings, &token(position)) {
            Ok(job) => jobs.push(job),
            Err(found) => problems.extend(found.into_iter().map(|p| p.within(&format!("Jobs[{position}]")))),
        }
    }
    problems.extend(shared_tokens(&jobs));
    if problems.is_empty() {
        Ok(jobs)
    } else {
        Err(PlanError::Validation(problems))
    }
}

/// Two requests of one event never share a token: AWS Backup has been seen to treat
/// calls for different resources as the same call when their tokens match.
fn shared_tokens(jobs: &[Job]) -> Vec<Invalid> {
    let mut seen = std::collections::HashMap::with_capacity(jobs.len());
    let mut problems = Vec::new();
    for (position, job) in jobs.iter().enumerate() {
        if let Some(first) = seen.insert(job.idempotency_token(), position) {
            seen.insert(job.idempotency_token(), first);
            problems.push(Invalid::new(
                format!("Jobs[{position}].IdempotencyToken"),
                format!("is the same as that of Jobs[{first}]; two requests of one event must not share a token"),
            ));
        }
    }
    problems
}
