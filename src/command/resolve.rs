//! What selections and audits share: the walk over the Tagging API's pages, which
//! counts what is found, matched and unsupported, and where the requests of the
//! selected resources go ([`Destination`]: the request queue, or started in this
//! invocation).

use std::collections::HashSet;
use std::sync::Arc;

use crate::command::jobs::MAX_JOBS;
use crate::command::Context;
use crate::core::error::Error;
use crate::core::job::{JobResult, Outcome};
use crate::core::request::Job;
use crate::core::selection::{Resource, Selection, Verdict};
use crate::io::enqueue::FanOut;
use crate::io::pages::{Fetch, Pages, Stop};
use crate::io::send::send_all;
use crate::report::Resolved;

/// Unsupported resources logged one by one; the rest are counted only.
const UNSUPPORTED_SHOWN: usize = 20;
/// ARNs of unsupported resources recently counted, so that a resource listed twice
/// on neighbouring pages is counted once; forgotten past this many.
const UNSUPPORTED_REMEMBERED: usize = 1_000;

/// The pages of `GetResources`, with the filters the selection allows, read one
/// page ahead within the invocation's deadline.
pub fn tagging_pages(context: &Context<'_>, selection: &Selection) -> Pages<Resource> {
    let inventory = Arc::clone(&context.io.inventory);
    let filters = selection.pushdown();
    let fetch: Fetch<Resource> = Arc::new(move |token| inventory.page(&filters, token));
    Pages::new(fetch, context.deadline)
}

/// Counts the resources of a selection's walk.
#[derive(Debug)]
pub struct Tally {
    pub resolved: Resolved,
    unsupported: HashSet<String>,
}

impl Tally {
    pub fn new(selection: &Selection) -> Tally {
        Tally {
            resolved: Resolved {
                name: selection.name().map(str::to_owned),
                ..Resolved::default()
            },
            unsupported: HashSet::new(),
        }
    }

    /// Counts one listed resource; the ARN and AWS Backup type of a selected one.
    /// A selected resource is counted as matched by [`Tally::matched`], once the
    /// caller knows it is not one listed twice.
    pub fn sort(&mut self, selection: &Selection, resource: Resource) -> Option<(String, &'static str)> {
        self.resolved.found += 1;
        match selection.verdict(&resource) {
            Verdict::Passed => None,
            Verdict::Unsupported => {
                if !self.unsupported.contains(&resource.arn) {
                    if self.unsupported.len() == UNSUPPORTED_REMEMBERED {
                        self.unsupported.clear();
                    }
                    self.resolved.matched += 1;
                    self.resolved.unsupported += 1;
                    if self.resolved.unsupported_shown.len() < UNSUPPORTED_SHOWN {
                        self.resolved.unsupported_shown.push(resource.arn.clone());
                    }
                    self.unsupported.insert(resource.arn);
                }
                None
            }
            Verdict::Selected(kind) => Some((resource.arn, kind)),
        }
    }

    pub fn matched(&mut self) {
        self.resolved.matched += 1;
    }
}

/// Where a selection's requests go.
pub enum Destination {
    /// The request queue (`REQUEST_QUEUE_URL`), or a dry run of it.
    Queue(Box<FanOut>),
    /// Started in this invocation, like a list: at most 1,000; a resource listed
    /// twice is started once.
    Here { jobs: Vec<Job>, arns: HashSet<String> },
}

impl Destination {
    /// The request queue when there is one, else here.
    pub fn of(context: &Context<'_>) -> Destination {
        match &context.io.queue {
            Some(queue) => Destination::Queue(Box::new(FanOut::new(queue, context.deadline))),
            None => Destination::Here {
                jobs: Vec::new(),
                arns: HashSet::new(),
            },
        }
    }

    /// Takes one request; false when one for the same resource was already taken
    /// (and, for the queue, is still in the open batch).
    pub async fn take(&mut self, job: Job) -> Result<bool, Error> {
        match self {
            Destination::Queue(fan_out) => fan_out.push(&job).await,
            Destination::Here { jobs, arns } => {
                if arns.contains(job.subject_arn()) {
                    return Ok(false);
                }
                if jobs.len() == MAX_JOBS {
                    return Err(Error::SelectionTooLarge(format!(
                        "the selection matches more than {MAX_JOBS} resources, the most one invocation starts itself. Set REQUEST_QUEUE_URL to the function's request queue so that selections fan out through it (the template does), or narrow the selection"
                    )).refused());
                }
                arns.insert(job.subject_arn().to_owned());
                jobs.push(job);
                Ok(true)
            }
        }
    }

    /// Keeps the ARN of each request the queue accepts ([`FanOut::keep_accepted`]).
    pub fn keep_accepted(&mut self) {
        if let Destination::Queue(fan_out) = self {
            fan_out.keep_accepted();
        }
    }

    /// The ARNs the queue accepted, when kept; `None` here, where each job's own
    /// result says.
    pub fn accepted(&self) -> Option<&HashSet<String>> {
        match self {
            Destination::Queue(fan_out) => fan_out.accepted(),
            Destination::Here { .. } => None,
        }
    }

    /// Requests SQS accepted so far (none here).
    pub fn enqueued(&self) -> usize {
        match self {
            Destination::Queue(fan_out) => fan_out.enqueued,
            Destination::Here { .. } => 0,
        }
    }

    /// Sends what is left (the queue) or starts the jobs (here), and puts the
    /// counts in `resolved`; the results of the jobs started here, or the requests
    /// a dry run would have sent to the queue.
    pub async fn finish(&mut self, context: &Context<'_>, resolved: &mut Resolved) -> Result<Vec<JobResult>, Error> {
        match self {
            Destination::Queue(fan_out) => {
                let finished = fan_out.finish().await;
                counted(fan_out, resolved);
                finished?;
                let shown = fan_out.take_shown();
                Ok(shown
                    .into_iter()
                    .map(|job| JobResult::unsent(job, Outcome::WouldStart))
                    .collect())
            }
            Destination::Here { jobs, .. } => {
                let jobs = std::mem::take(jobs);
                let results = send_all(&context.io.starter, jobs, context.limits, context.deadline).await;
                resolved.sent = !results.iter().any(|r| matches!(r.outcome, Outcome::WouldStart));
                Ok(results)
            }
        }
    }

    /// Counts what was sent before the walk stopped.
    pub fn stopped(&self, resolved: &mut Resolved) {
        if let Destination::Queue(fan_out) = self {
            counted(fan_out, resolved);
        }
    }
}

/// What the fan-out sent (or, in a dry run, would have), into `resolved`.
fn counted(fan_out: &FanOut, resolved: &mut Resolved) {
    resolved.fan_out = true;
    resolved.sent = fan_out.sends();
    resolved.enqueued = fan_out.enqueued;
    resolved.messages = fan_out.messages;
}

/// The error of a listing that stopped: its AWS code, or `DeadlineExceeded`, and
/// what was done before (`found` resources listed, `enqueued` requests enqueued).
pub fn listing_stopped(listing: &str, stop: Stop, found: usize, enqueued: usize) -> Error {
    match stop {
        Stop::Failed(failure) => failure.error.with_message(format!(
            "{listing} failed after {found} found: {}: {}; {enqueued} requests were enqueued and nothing was started here; sending the event again is safe, every resource keeps its token",
            failure.code(),
            failure.error,
        )),
        Stop::Late => Error::DeadlineExceeded(format!(
            "{listing} did not finish before the invocation's deadline, after {found} found; {enqueued} requests were enqueued and nothing was started here; sending the event again is safe, every resource keeps its token"
        )),
    }
}

/// `GetResources`, as errors name it.
pub const TAGGING: &str = "listing resources (Resource Groups Tagging API GetResources)";
