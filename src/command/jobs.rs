//! Requests as they are listed (docs/reference.md, "Events"): a bare request or a
//! list `{"Jobs": [...]}`, from a direct invocation, an EventBridge Scheduler or rule
//! target with constant input, or an EventBridge event's `detail`. Every request is
//! validated before the first call: one bad request refuses the whole event.

use serde_json::{Map, Value};

use crate::command::context::{Context, Rejected};
use crate::core::defaults::Defaults;
use crate::core::error::{quote_str, Error, Invalid};
use crate::core::request::{kind_of, request_fields, rules, validate, validate_map, Job};
use crate::core::suggest::unknown_field;
use crate::core::token::{Origin, SourceId};
use crate::io::send::send_all;
use crate::report::{Kind, Report};

/// At most this many requests in one list.
pub const MAX_JOBS: usize = 1000;

/// Validated requests, in the event's order.
#[derive(Debug)]
pub struct Jobs {
    kind: Kind,
    source: SourceId,
    jobs: Vec<Job>,
}

/// Where the requests were found: the event itself, or an EventBridge event's
/// `detail` (with the event's id, if it has one).
#[derive(Debug, Clone, Copy)]
pub enum Within<'a> {
    Event,
    Detail { event_id: Option<&'a str> },
}

impl Jobs {
    pub fn kind(&self) -> Kind {
        self.kind
    }

    pub fn source(&self) -> &SourceId {
        &self.source
    }

    pub fn jobs(&self) -> &[Job] {
        &self.jobs
    }

    /// Starts every job (at most `MAX_CONCURRENCY` at once, none too close to the
    /// deadline).
    pub async fn run(self, context: &Context<'_>) -> Report {
        let mut report = Report::new(self.kind, self.source);
        report.jobs = send_all(&context.io.starter, self.jobs, context.limits, context.deadline).await;
        report
    }
}

/// Reads a bare request or a list.
pub fn read(
    map: &Map<String, Value>,
    origin: &Origin,
    within: Within<'_>,
    defaults: &Defaults,
) -> Result<Jobs, Rejected> {
    let (kind, event_id) = match within {
        Within::Detail { event_id } => (Kind::EventBridge, event_id),
        Within::Event if map.contains_key("Jobs") => (Kind::List, None),
        Within::Event => (Kind::Bare, None),
    };
    let rejected = |error: Error| Rejected::new(kind, error);
    let key = idempotency_key(map).map_err(rejected)?;
    let source = origin.source_id(key, event_id);
    let jobs = if map.contains_key("Jobs") {
        list(map, defaults, &|position| source.token(position)).map_err(rejected)?
    } else {
        // "Jobs" is never present here (that makes a list); it is named so that a
        // misspelled "jobs" is hinted at.
        let job = validate_map(
            map,
            &["IdempotencyKey", "Jobs", "Selection"],
            defaults,
            &source.token(0),
        )
        .map_err(|problems| rejected(Error::Validation(problems)))?;
        vec![job]
    };
    Ok(Jobs { kind, source, jobs })
}

/// The event's `IdempotencyKey`, if it has one.
pub fn idempotency_key(map: &Map<String, Value>) -> Result<Option<&str>, Error> {
    match map.get("IdempotencyKey") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(key)) => match rules::non_empty_bounded(key) {
            Ok(()) => Ok(Some(key)),
            Err(problem) => Err(Error::invalid("IdempotencyKey", problem)),
        },
        Some(other) => Err(Error::invalid(
            "IdempotencyKey",
            format!("must be a string, not {}", kind_of(other)),
        )),
    }
}

fn list(map: &Map<String, Value>, defaults: &Defaults, token: &dyn Fn(usize) -> String) -> Result<Vec<Job>, Error> {
    let mut problems = Vec::new();
    for key in map.keys().filter(|k| *k != "Jobs" && *k != "IdempotencyKey").take(10) {
        let problem = if request_fields().any(|f| f == key) {
            "is a request field: put it in each request of \"Jobs\" (a list has only \"Jobs\" and \"IdempotencyKey\")"
                .to_owned()
        } else {
            unknown_field(
                key,
                &["Jobs", "IdempotencyKey"],
                "a list has only \"Jobs\" and \"IdempotencyKey\"",
            )
        };
        problems.push(Invalid::new(quote_str(key), problem));
    }
    let requests = match map.get("Jobs") {
        Some(Value::Array(requests)) => requests,
        Some(other) => {
            return Err(Error::invalid(
                "Jobs",
                format!("must be an array of requests, not {}", kind_of(other)),
            ))
        }
        None => return Err(Error::invalid("Jobs", "is required")),
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
        return Err(Error::Validation(problems));
    }

    let mut jobs = Vec::with_capacity(requests.len());
    for (position, request) in requests.iter().enumerate() {
        match validate(request, &[], defaults, &token(position)) {
            Ok(job) => jobs.push(job),
            Err(found) => problems.extend(found.into_iter().map(|p| p.within(&format!("Jobs[{position}]")))),
        }
    }
    problems.extend(shared_tokens(&jobs));
    if problems.is_empty() {
        Ok(jobs)
    } else {
        Err(Error::Validation(problems))
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
