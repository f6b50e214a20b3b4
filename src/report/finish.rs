//! The one place where a report becomes its log lines, its share of the
//! invocation's metrics and its answer, for a single event and for each SQS
//! message alike.

use crate::core::error::Error;
use crate::report::answer::{self, Answer};
use crate::report::metrics::Tally;
use crate::report::{log, At, Report};

/// Writes the report's log lines, counts it in `tally`, and answers: the answer of
/// a success, or the error of an event that failed (refused, stopped, or with a
/// job that did not start).
pub fn finish(report: Report, at: At<'_>, tally: &Tally) -> Result<Answer, Error> {
    log::report(&report, at);
    tally.record(&report);
    answer::of(report)
}
