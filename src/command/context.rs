//! What every command shares: the [`Context`] it runs in, and what an event that
//! could not be read into a command comes to ([`Rejected`]).

use crate::core::error::Error;
use crate::core::time::Timestamp;
use crate::core::token::Origin;
use crate::io::send::{Deadline, Limits};
use crate::io::Io;
use crate::report::{Kind, Report};

/// What a command runs with: the adapters, the invocation's limits and deadline,
/// and the time it runs at.
pub struct Context<'a> {
    pub io: &'a Io,
    pub limits: &'a Limits,
    pub deadline: Deadline,
    pub now: Timestamp,
}

/// An event that could not be read into a command: it starts nothing.
#[derive(Debug)]
pub struct Rejected {
    /// What the event was, as far as it could be read.
    pub kind: Kind,
    pub error: Error,
}

impl Rejected {
    pub fn new(kind: Kind, error: Error) -> Rejected {
        Rejected { kind, error }
    }

    /// The report of the rejected event: it started nothing. Its source id is the
    /// message id, else the request id.
    pub fn report(self, origin: &Origin) -> Report {
        Report::refused(self.kind, origin.fallback_source_id(), self.error)
    }
}
