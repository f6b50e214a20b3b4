//! What one event (or one SQS message) came to, whatever the command: the
//! [`Report`] every command returns, and [`finish::finish`], the one place where a
//! report becomes its log lines ([`log`]), its share of the invocation's metrics
//! ([`metrics`]) and its answer ([`answer`]).

pub mod answer;
pub mod finish;
pub mod log;
pub mod metrics;

use std::time::Duration;

use crate::core::audit::Verdict;
use crate::core::error::Error;
use crate::core::job::JobResult;
use crate::core::outcome::JobOutcome;
use crate::core::time::Timestamp;
use crate::core::token::{Origin, SourceId};

/// The kind of an event: the `kind` of its event line, and the shape of its answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Bare,
    List,
    EventBridge,
    BackupStateChange,
    CopyStateChange,
    Selection,
    Audit,
    /// An SQS message whose body could not be read as an event.
    SqsMessage,
    /// An event that could not be read as one of ours.
    Unknown,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Bare => "bare",
            Kind::List => "list",
            Kind::EventBridge => "eventbridge",
            Kind::BackupStateChange => "backup-state-change",
            Kind::CopyStateChange => "copy-state-change",
            Kind::Selection => "selection",
            Kind::Audit => "audit",
            Kind::SqsMessage => "sqs-message",
            Kind::Unknown => "unknown",
        }
    }
}

/// What a selection's walk over the Tagging API found, and what it did with it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resolved {
    /// `SelectionName`.
    pub name: Option<String>,
    /// Resources the Tagging API listed (it depends on the filters passed).
    pub found: usize,
    /// Those the selection matches.
    pub matched: usize,
    /// Those of `matched` AWS Backup cannot back up: counted, never sent.
    pub unsupported: usize,
    /// The first unsupported ARNs, to log.
    pub unsupported_shown: Vec<String>,
    /// Whether the requests went (or, in a dry run, would go) to the request queue.
    pub fan_out: bool,
    /// Whether requests really went out, to the queue or to AWS Backup (false in a
    /// dry run).
    pub sent: bool,
    /// Requests sent to the queue (a dry run: that would be).
    pub enqueued: usize,
    /// Messages sent to the queue (a dry run: that would be).
    pub messages: usize,
}

/// What an audit found (docs/reference.md, "Audits").
#[derive(Debug, Default)]
pub struct Audited {
    /// The time of the audit, against which ages are reckoned.
    pub at: Timestamp,
    pub verdict: Verdict,
    /// Remediation requests started here or enqueued (a dry run: that would be;
    /// the selection's `sent` says which).
    pub remediated: usize,
}

/// What one event (or one SQS message) came to.
#[derive(Debug)]
pub struct Report {
    pub kind: Kind,
    pub source: SourceId,
    /// The jobs sent (or, in a dry run, that would be), in the event's order.
    pub jobs: Vec<JobResult>,
    /// Why nothing was to be done, when the event asked for nothing.
    pub skipped: Option<String>,
    /// How an AWS Backup job ended, when the event says so.
    pub outcome: Option<JobOutcome>,
    pub selection: Option<Resolved>,
    pub audit: Option<Audited>,
    /// Why the event failed as a whole; a refusal ([`Error::is_refusal`]) started nothing.
    pub error: Option<Error>,
}

impl Report {
    pub fn new(kind: Kind, source: SourceId) -> Report {
        Report {
            kind,
            source,
            jobs: Vec::new(),
            skipped: None,
            outcome: None,
            selection: None,
            audit: None,
            error: None,
        }
    }

    /// An event refused before any call: it started nothing.
    pub fn refused(kind: Kind, source: SourceId, error: Error) -> Report {
        Report {
            error: Some(error.refused()),
            ..Report::new(kind, source)
        }
    }

    pub fn failed_jobs(&self) -> usize {
        self.jobs.iter().filter(|r| r.outcome.is_failure()).count()
    }
}

/// Where and when a report's event was handled.
#[derive(Debug, Clone, Copy)]
pub struct At<'a> {
    pub origin: Origin<'a>,
    /// How long the event took.
    pub duration: Duration,
    /// On the line of a whole event; none on a message's line.
    pub cold_start: Option<bool>,
}
