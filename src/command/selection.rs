//! Resolving a selection (docs/reference.md, "Selections"): pages of resources in, selected
//! requests out, to the request queue ([`FanOut`]) or, without `REQUEST_QUEUE_URL`,
//! started here like a list of at most 1,000. Streams: memory holds the page being
//! sent and the next one, fetched meanwhile, and one batch of messages (or the
//! 1,000 jobs of a selection started here).

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::{timeout_at, Instant};
use tracing::{info, warn};

use crate::answer::{self, Answer, HandlerError, JobAnswer, SelectionAnswer, SelectionCounts};
use crate::enqueue::{Enqueuer, FanOut, SqsQueue};
use crate::event::direct::MAX_JOBS;
use crate::event::selection::{Pushdown, Resource, Selection, Verdict};
use crate::event::{Origin, Plan, Shape};
use crate::inventory::{Inventory, Page, TaggingApi};
use crate::logging::{self, EventSummary};
use crate::metrics::Tally;
use crate::request::Job;
use crate::send::{self, Code, Deadline, Failure, JobResult, JobStarter, Limits, Outcome};
use crate::settings::Settings;

/// A dry run answers with this many requests at most.
pub const DRY_RUN_SHOWN: usize = 100;
/// Unsupported resources logged one by one; the rest are counted only.
const UNSUPPORTED_LOGGED: usize = 20;

/// Where a selection's resources come from and where its requests go.
#[derive(Clone)]
pub struct Sources {
    pub inventory: Arc<dyn Inventory>,
    /// The request queue (`REQUEST_QUEUE_URL`), when set.
    pub queue: Option<Arc<dyn Enqueuer>>,
}

impl Sources {
    /// The Tagging API of the function's Region and, when `REQUEST_QUEUE_URL` is
    /// set, the request queue: clients built once, at start, from one configuration.
    pub fn aws(config: &aws_config::SdkConfig, settings: &Settings) -> Sources {
        let inventory = TaggingApi::new(aws_sdk_resourcegroupstagging::Client::new(config));
        let queue = settings
            .request_queue_url
            .as_ref()
            .map(|url| Arc::new(SqsQueue::new(aws_sdk_sqs::Client::new(config), url.clone())) as Arc<dyn Enqueuer>);
        Sources {
            inventory: Arc::new(inventory),
            queue,
        }
    }
}

/// The counts of the answer's `"Selection"` object.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Resources the inventory listed (it depends on the filters passed).
    pub found: usize,
    /// Those the selection matches.
    pub matched: usize,
    /// Those of `matched` AWS Backup cannot back up: counted, never sent.
    pub unsupported: usize,
    /// Requests sent to the queue (in a dry run: that would have been).
    pub enqueued: usize,
    /// Messages sent to the queue (in a dry run: that would have been).
    pub messages: usize,
}

/// What one invocation (or one SQS message) needs to resolve a selection.
pub struct Context<'a, S> {
    pub starter: &'a Arc<S>,
    pub settings: &'a Settings,
    pub sources: Option<&'a Sources>,
    pub limits: &'a Limits,
    pub deadline: Deadline,
    pub at: Origin<'a>,
    pub began: Instant,
    pub cold_start: Option<bool>,
    /// This invocation's metrics.
    pub tally: &'a Tally,
}

/// Resolves a selection and answers `{"Selection": {...}, "Jobs": [...]}`, or fails
/// saying what was done before the failure.
pub async fn run<S: JobStarter>(context: &Context<'_, S>, selection: &Selection) -> Result<Answer, HandlerError> {
    let mut counts = Counts::default();
    let outcome = resolve(context, selection, &mut counts).await;
    let (results, error) = match outcome {
        Ok(results) => (results, None),
        Err(error) => (Vec::new(), Some(error)),
    };
    let failed_results = results.iter().filter(|r| r.outcome.is_failure()).count();
    log_selection(context, selection, &counts, error.as_ref(), failed_results);
    // A dry run enqueues nothing; a failed fan-out counts what it did enqueue.
    let enqueued = if context.settings.dry_run { 0 } else { counts.enqueued };
    context.tally.selection(counts.matched as u64, enqueued as u64);
    if let Some(error) = error {
        return Err(error);
    }
    let plan = Plan {
        shape: Shape::Selection,
        source: selection.source().clone(),
        jobs: Vec::new(),
        skipped: None,
        outcome: None,
        refused: None,
    };
    // Jobs started here count as a list's.
    context.tally.ran(&plan, &results);
    if let Some(error) = answer::failed(&plan, &results) {
        return Err(error);
    }
    let mut results = results;
    if context.settings.dry_run {
        results.truncate(DRY_RUN_SHOWN);
    }
    Ok(Answer::Selection(SelectionAnswer {
        selection: SelectionCounts {
            name: selection.name().map(str::to_owned),
            found: counts.found,
            matched: counts.matched,
            unsupported: counts.unsupported,
            enqueued: counts.enqueued,
            messages: counts.messages,
        },
        jobs: results.into_iter().map(JobAnswer::from).collect(),
    }))
}

async fn resolve<S: JobStarter>(
    context: &Context<'_, S>,
    selection: &Selection,
    counts: &mut Counts,
) -> Result<Vec<JobResult>, HandlerError> {
    let settings = context.settings;
    let Some(sources) = context.sources else {
        return Err(refused(
            context,
            HandlerError {
                error_type: "ConfigError".into(),
                message: "nothing was started: this function has no inventory to resolve selections with".into(),
            },
        ));
    };
    let mut fan_out = match (&settings.request_queue_url, &sources.queue, settings.dry_run) {
        (None, _, _) => None,
        (Some(_), _, true) => Some(FanOut::new(None)),
        (Some(_), Some(queue), false) => Some(FanOut::new(Some(queue.as_ref())).with_deadline(context.deadline)),
        (Some(_), None, false) => {
            return Err(refused(
                context,
                HandlerError {
                    error_type: "ConfigError".into(),
                    message: "nothing was started: REQUEST_QUEUE_URL is set but this function has no queue client"
                        .into(),
                },
            ))
        }
    };
    let walked = walk(context, sources, selection, counts, fan_out.as_mut()).await;
    // Whatever stopped the walk, the counts say what SQS accepted.
    if let Some(fan_out) = &fan_out {
        counts.enqueued = fan_out.enqueued;
        counts.messages = fan_out.messages;
    }
    walked
}

/// An event refused before any call to AWS Backup: counted in `EventsRejected`.
fn refused<S>(context: &Context<'_, S>, error: HandlerError) -> HandlerError {
    context.tally.rejected();
    error
}

/// The jobs of a selection started here, and their ARNs: a resource listed twice
/// is started once.
#[derive(Default)]
struct Here {
    jobs: Vec<Job>,
    arns: HashSet<String>,
}

/// ARNs of unsupported resources recently counted, so that a resource listed twice
/// on neighbouring pages is counted once; forgotten past this many.
const UNSUPPORTED_REMEMBERED: usize = 1_000;

/// What the walk keeps between pages.
struct Walk<'w, 'q> {
    counts: &'w mut Counts,
    /// None: the jobs start here.
    fan_out: Option<&'w mut FanOut<'q>>,
    /// Fan-out: the requests shown by a dry run. Here: unused.
    shown: Vec<JobResult>,
    here: Here,
    unsupported: HashSet<String>,
}

impl Walk<'_, '_> {
    /// Requests SQS accepted so far.
    fn enqueued(&self) -> usize {
        self.fan_out.as_ref().map_or(0, |f| f.enqueued)
    }
}

/// Why a page could not be had.
enum PageStop {
    Failed(Failure),
    /// GetResources did not answer before the invocation's deadline.
    Late,
}

/// Reads every page, fetching the next one while the current one's requests are
/// sent, so that memory holds at most two pages and one batch.
async fn walk<S: JobStarter>(
    context: &Context<'_, S>,
    sources: &Sources,
    selection: &Selection,
    counts: &mut Counts,
    fan_out: Option<&mut FanOut<'_>>,
) -> Result<Vec<JobResult>, HandlerError> {
    let filters = selection.pushdown();
    let inventory = sources.inventory.as_ref();
    let deadline = context.deadline;
    let mut walk = Walk {
        counts,
        fan_out,
        shown: Vec::new(),
        here: Here::default(),
        unsupported: HashSet::new(),
    };
    if deadline.too_late_to_start() {
        return Err(too_late(&walk));
    }
    let mut fetched = fetch(inventory, &filters, None, deadline).await;
    loop {
        let page = fetched.map_err(|stop| listing_failed(stop, &walk))?;
        let Some(token) = page.next else {
            walk.take(context, selection, page.resources).await?;
            break;
        };
        if deadline.too_late_to_start() {
            walk.take(context, selection, page.resources).await?;
            return Err(too_late(&walk));
        }
        let (next, taken) = tokio::join!(
            fetch(inventory, &filters, Some(&token), deadline),
            walk.take(context, selection, page.resources)
        );
        taken?;
        fetched = next;
    }
    if let Some(fan_out) = walk.fan_out {
        fan_out.finish().await.map_err(|error| HandlerError {
            error_type: error.code,
            message: error.message,
        })?;
        return Ok(walk.shown);
    }
    let results = send::send_all(context.starter, walk.here.jobs, context.limits, deadline).await;
    for (position, result) in results.iter().enumerate() {
        logging::request(result, position, context.at);
    }
    Ok(results)
}

/// One page of GetResources, within the invocation's deadline.
async fn fetch(
    inventory: &dyn Inventory,
    filters: &Pushdown,
    token: Option<&str>,
    deadline: Deadline,
) -> Result<Page, PageStop> {
    match timeout_at(deadline.give_up_at(), inventory.page(filters, token)).await {
        Ok(Ok(page)) => Ok(page),
        Ok(Err(failure)) => Err(PageStop::Failed(failure)),
        Err(_) => Err(PageStop::Late),
    }
}

fn too_late(walk: &Walk) -> HandlerError {
    let (counts, enqueued) = (&walk.counts, walk.enqueued());
    HandlerError {
        error_type: Code::DeadlineExceeded.as_str().into(),
        message: format!(
            "too little time was left to list more resources: {} found, {enqueued} requests enqueued, nothing started here; sending the selection again is safe, every resource keeps its token",
            counts.found
        ),
    }
}

fn listing_failed(stop: PageStop, walk: &Walk) -> HandlerError {
    let (counts, enqueued) = (&walk.counts, walk.enqueued());
    match stop {
        PageStop::Failed(failure) => HandlerError {
            error_type: failure.code.as_str().to_owned(),
            message: format!(
                "listing resources (Resource Groups Tagging API GetResources) failed after {} found: {}: {}; {enqueued} requests were enqueued and nothing was started here; sending the selection again is safe, every resource keeps its token",
                counts.found,
                failure.code.as_str(),
                failure.message,
            ),
        },
        PageStop::Late => HandlerError {
            error_type: Code::DeadlineExceeded.as_str().into(),
            message: format!(
                "listing resources (Resource Groups Tagging API GetResources) did not answer before the invocation's deadline, after {} found; {enqueued} requests were enqueued and nothing was started here; sending the selection again is safe, every resource keeps its token",
                counts.found
            ),
        },
    }
}

impl Walk<'_, '_> {
    /// Counts one page's resources and sends (or keeps) the selected ones' requests.
    async fn take<S>(
        &mut self,
        context: &Context<'_, S>,
        selection: &Selection,
        resources: Vec<Resource>,
    ) -> Result<(), HandlerError> {
        let settings = context.settings;
        for resource in resources {
            self.counts.found += 1;
            match selection.verdict(&resource) {
                Verdict::Passed => continue,
                Verdict::Unsupported => {
                    if self.unsupported.contains(&resource.arn) {
                        continue;
                    }
                    if self.unsupported.len() == UNSUPPORTED_REMEMBERED {
                        self.unsupported.clear();
                    }
                    self.unsupported.insert(resource.arn.clone());
                    self.counts.matched += 1;
                    self.counts.unsupported += 1;
                    if self.counts.unsupported <= UNSUPPORTED_LOGGED {
                        info!(
                            resource_arn = resource.arn.as_str(),
                            source_id = selection.source().value.as_str(),
                            request_id = context.at.request_id,
                            message_id = context.at.message_id,
                            "matched but not a type AWS Backup can back up: counted, not sent"
                        );
                    }
                    continue;
                }
                Verdict::Selected(_) => {}
            }
            // A resource the API listed twice: its two requests would share a token.
            let listed_twice = match self.fan_out.as_deref() {
                Some(fan_out) => fan_out.holds(&resource.arn),
                None => self.here.arns.contains(&resource.arn),
            };
            if listed_twice {
                continue;
            }
            self.counts.matched += 1;
            let job = selection.job_for(&resource.arn, settings).map_err(|problems| {
                let error = HandlerError {
                    error_type: "ValidationError".into(),
                    message: format!(
                        "nothing more was started or enqueued: the request for {} is invalid: {}",
                        resource.arn,
                        crate::error::PlanError::Validation(problems)
                    ),
                };
                match self.fan_out.as_deref() {
                    Some(fan_out) if fan_out.enqueued > 0 => error,
                    _ => refused(context, error),
                }
            })?;
            match self.fan_out.as_deref_mut() {
                Some(fan_out) => {
                    if settings.dry_run && self.shown.len() < DRY_RUN_SHOWN {
                        self.shown.push(would_start(job));
                    }
                    fan_out
                        .push(selection.request_for(&resource.arn))
                        .await
                        .map_err(|error| HandlerError {
                            error_type: error.code,
                            message: error.message,
                        })?;
                }
                None if self.here.jobs.len() == MAX_JOBS => {
                    return Err(refused(
                    context,
                    HandlerError {
                        error_type: "SelectionTooLarge".into(),
                        message: format!(
                            "nothing was started: the selection matches more than {MAX_JOBS} resources, the most one invocation starts itself. Set REQUEST_QUEUE_URL to the function's request queue so that selections fan out through it (the template does), or narrow the selection"
                        ),
                    },
                ));
                }
                None => {
                    self.here.arns.insert(resource.arn);
                    self.here.jobs.push(job);
                }
            }
        }
        Ok(())
    }
}

fn would_start(job: Job) -> JobResult {
    JobResult {
        job: Arc::new(job),
        outcome: Outcome::WouldStart,
        duration: Duration::ZERO,
    }
}

/// One line for the selection, and the event line. A selection that matches
/// nothing is a success, and a warning: the tags or patterns may be wrong.
fn log_selection<S>(
    context: &Context<'_, S>,
    selection: &Selection,
    counts: &Counts,
    error: Option<&HandlerError>,
    failed: usize,
) {
    let name = selection.name();
    let fan_out = context.settings.request_queue_url.is_some();
    if counts.matched == 0 && error.is_none() {
        warn!(
            selection_name = name,
            found = counts.found,
            matched = 0,
            request_id = context.at.request_id,
            message_id = context.at.message_id,
            "the selection matched no resource; check its tags and patterns (untagged resources are never found)"
        );
    } else {
        info!(
            selection_name = name,
            found = counts.found,
            matched = counts.matched,
            unsupported = counts.unsupported,
            enqueued = counts.enqueued,
            messages = counts.messages,
            fan_out,
            dry_run = context.settings.dry_run,
            request_id = context.at.request_id,
            message_id = context.at.message_id,
            "selection"
        );
    }
    let jobs = counts.matched - counts.unsupported;
    logging::event(
        &EventSummary {
            kind: Shape::Selection.as_str(),
            source: selection.source(),
            requests: if fan_out { 0 } else { jobs },
            failed,
            skipped: None,
            error: error.map(|e| (e.error_type.as_str(), e.message.as_str())),
            duration: context.began.elapsed(),
            cold_start: context.cold_start,
        },
        context.at,
    );
}

#[cfg(test)]
mod tests;
