//! A job state change from AWS Backup (docs/reference.md, "Job outcomes"): its
//! final state is recorded (a log line, a metric), and a completed on-demand backup
//! starts the copy of its recovery point. The decision is `core::outcome`'s.

use aws_lambda_events::eventbridge::EventBridgeEvent;
use serde_json::Value;

use crate::command::context::{Context, Rejected};
use crate::core::defaults::Defaults;
use crate::core::error::Error;
use crate::core::outcome::{copy_job, decide, Decision, JobKind, JobOutcome};
use crate::core::request::{kind_of, Job};
use crate::core::token::{Origin, SourceId};
use crate::io::send::send_all;
use crate::report::{Kind, Report};

/// What a job state change asks for.
#[derive(Debug)]
pub struct Outcome {
    kind: Kind,
    source: SourceId,
    /// The final state to record; none for a state that is not final.
    outcome: Option<JobOutcome>,
    skipped: Option<String>,
    /// The copy to start: none, one, or why it cannot be (a setting is missing,
    /// the event names no recovery point): the outcome is still recorded and
    /// counted, then the event fails, so that it is retried and, failing again,
    /// lands in the dead-letter queue.
    copy: Result<Option<Job>, Error>,
}

/// Reads a job state change.
pub fn read(
    kind: JobKind,
    event: &EventBridgeEvent<Value>,
    origin: &Origin,
    defaults: &Defaults,
) -> Result<Outcome, Rejected> {
    let source = origin.source_id(None, event.id.as_deref().filter(|id| !id.is_empty()));
    let job_kind = kind;
    let kind = match job_kind {
        JobKind::Backup => Kind::BackupStateChange,
        JobKind::Copy => Kind::CopyStateChange,
    };
    let Value::Object(detail) = &event.detail else {
        return Err(Rejected::new(
            kind,
            Error::invalid("detail", format!("must be an object, not {}", kind_of(&event.detail))),
        ));
    };
    let resources = event.resources.as_deref().unwrap_or_default();
    let mut read = Outcome {
        kind,
        source,
        outcome: None,
        skipped: None,
        copy: Ok(None),
    };
    match decide(job_kind, resources, detail, defaults.copy_destination.is_some()) {
        Decision::Skip(why) => read.skipped = Some(why),
        Decision::Record {
            outcome,
            copy: None,
            why_no_copy,
        } => {
            read.skipped = Some(format!(
                "{} job {}: recorded as an outcome; no copy: {why_no_copy}",
                job_kind.as_str(),
                outcome.state.as_str()
            ));
            read.outcome = Some(*outcome);
        }
        Decision::Record {
            outcome,
            copy: Some(copy),
            ..
        } => {
            read.copy = copy_job(&copy, defaults, &read.source.token(0)).map(Some);
            read.outcome = Some(*outcome);
        }
    }
    Ok(read)
}

impl Outcome {
    pub fn kind(&self) -> Kind {
        self.kind
    }

    pub fn source(&self) -> &SourceId {
        &self.source
    }

    /// The final state to record, if the state is one.
    pub fn outcome(&self) -> Option<&JobOutcome> {
        self.outcome.as_ref()
    }

    /// Why no copy starts.
    pub fn skipped(&self) -> Option<&str> {
        self.skipped.as_deref()
    }

    /// The copy to start, or why it cannot be.
    pub fn copy(&self) -> Result<Option<&Job>, &Error> {
        self.copy.as_ref().map(Option::as_ref)
    }

    /// Records the outcome and starts the copy, if any.
    pub async fn run(self, context: &Context<'_>) -> Report {
        let mut report = Report::new(self.kind, self.source);
        report.outcome = self.outcome;
        report.skipped = self.skipped;
        match self.copy {
            Err(error) => report.error = Some(error.refused()),
            Ok(copy) => {
                let jobs: Vec<Job> = copy.into_iter().collect();
                report.jobs = send_all(&context.io.starter, jobs, context.limits, context.deadline).await;
            }
        }
        report
    }
}
