//! An audit (docs/reference.md, "Audits"): resolve the selection, read AWS Backup's
//! `ListProtectedResources` at the same time and, only when something is not
//! protected, `ListBackupJobs`; classify every audited resource (`core::audit`),
//! and, with `Remediate`, send a backup request for the oldest unprotected ones
//! through the selection's own way out (the request queue, or started here).

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::{Map, Value};

use crate::command::context::{Context, Rejected};
use crate::command::jobs::{idempotency_key, MAX_JOBS};
use crate::command::resolve::{listing_stopped, tagging_pages, Destination, Tally, TAGGING};
use crate::core::audit::{self as core_audit, Ledger};
use crate::core::defaults::Defaults;
use crate::core::error::{Error, Invalid};
use crate::core::selection::{self as core_selection, is_selection, parse};
use crate::core::time::Timestamp;
use crate::core::token::Origin;
use crate::io::listings::{ListedJob, Protected};
use crate::io::pages::{Fetch, Pages, Stop};
use crate::report::{Audited, Kind, Report};

const PROTECTED: &str = "listing protected resources (AWS Backup ListProtectedResources)";
const JOBS: &str = "listing backup jobs (AWS Backup ListBackupJobs)";

/// A validated audit: a selection, and what counts as protected.
#[derive(Debug)]
pub struct Audit {
    selection: core_selection::Selection,
    audit: core_audit::Audit,
}

/// Reads an audit: a selection with an `Audit` beside it. Every problem of both is
/// said at once.
pub fn read(
    map: &Map<String, Value>,
    origin: &Origin,
    event_id: Option<&str>,
    defaults: &Defaults,
) -> Result<Audit, Rejected> {
    let rejected = |error: Error| Rejected::new(Kind::Audit, error);
    if !is_selection(map) {
        return Err(rejected(Error::invalid(
            "Selection",
            "is required beside \"Audit\": an audit checks the resources a selection selects (a BackupSelection, as for a selection)",
        )));
    }
    let key = idempotency_key(map).map_err(rejected)?;
    let selection = parse(map, origin.source_id(key, event_id), defaults);
    let audit = core_audit::parse(map);
    match (selection, audit) {
        (Ok(selection), Ok(audit)) => Ok(Audit { selection, audit }),
        (selection, audit) => {
            let mut problems: Vec<Invalid> = Vec::new();
            match selection {
                Err(Error::Validation(found)) => problems.extend(found),
                Err(other) => return Err(rejected(other)),
                Ok(_) => {}
            }
            problems.extend(audit.err().unwrap_or_default());
            Err(rejected(Error::Validation(problems)))
        }
    }
}

impl Audit {
    pub fn selection(&self) -> &core_selection::Selection {
        &self.selection
    }

    pub fn audit(&self) -> &core_audit::Audit {
        &self.audit
    }

    pub async fn run(self, context: &Context<'_>) -> Report {
        let mut report = Report::new(Kind::Audit, self.selection.source().clone());
        if self.audit.remediate && context.io.queue.is_none() && self.audit.max_remediations > MAX_JOBS {
            report.error = Some(
                Error::invalid(
                    "Audit.MaxRemediations",
                    format!(
                        "{} is more than the {MAX_JOBS} backups one invocation starts itself: set REQUEST_QUEUE_URL to the function's request queue so that remediations fan out through it (the template does), or lower MaxRemediations",
                        self.audit.max_remediations
                    ),
                )
                .refused(),
            );
            return report;
        }
        let mut tally = Tally::new(&self.selection);
        match self.check(context, &mut tally).await {
            Ok(audited) => {
                let remediated = self.remediate(context, &mut tally, audited, &mut report).await;
                report.audit = Some(remediated);
            }
            Err(error) => report.error = Some(error),
        }
        report.selection = Some(tally.resolved);
        report
    }

    /// Reads the listings and classifies every audited resource.
    async fn check(&self, context: &Context<'_>, tally: &mut Tally) -> Result<Audited, Error> {
        let mut ledger = Ledger::default();
        self.read_listings(context, tally, &mut ledger).await?;
        Ok(Audited {
            at: context.now,
            verdict: ledger.verdict(context.now, &self.audit),
            remediated: 0,
        })
    }

    /// The Tagging API and `ListProtectedResources`, both at once, into one ledger;
    /// and `ListBackupJobs`, as soon as it is sure to be needed: once
    /// `ListProtectedResources` has ended (so that every last backup is known) and
    /// an audited resource is not protected. Usually that is long before the Tagging
    /// API's last page, so the jobs are read while the resources still are; when
    /// every audited resource is protected, the jobs are not listed at all.
    async fn read_listings(&self, context: &Context<'_>, tally: &mut Tally, ledger: &mut Ledger) -> Result<(), Error> {
        let selection = &self.selection;
        let cutoff = self.audit.cutoff(context.now);
        let mut tagging = tagging_pages(context, selection);
        let listings = Arc::clone(&context.io.listings);
        let fetch: Fetch<Protected> = Arc::new(move |token| listings.protected(token));
        let mut protected = Pages::new(fetch, context.deadline);
        let mut jobs: Option<Pages<ListedJob>> = None;
        let (mut tagging_done, mut protected_done, mut jobs_done) = (false, false, false);
        // Whether an audited resource is known not to be protected: known only once
        // ListProtectedResources has ended, then kept up to date as the selection
        // finds more.
        let mut stale = false;
        loop {
            if jobs.is_none() && stale {
                jobs = Some(jobs_pages(context, cutoff));
            }
            if tagging_done && protected_done && (jobs.is_none() || jobs_done) {
                return Ok(());
            }
            tokio::select! {
                page = tagging.next(), if !tagging_done => match page {
                    None => tagging_done = true,
                    Some(Err(stop)) => return Err(listing_stopped(TAGGING, stop, tally.resolved.found, 0)),
                    Some(Ok(resources)) => {
                        for resource in resources {
                            let Some((arn, kind)) = tally.sort(selection, resource) else {
                                continue;
                            };
                            if ledger.audit(&arn, kind) {
                                tally.matched();
                                stale |= protected_done && !ledger.is_fresh(&arn, cutoff);
                            }
                        }
                    }
                },
                page = protected.next(), if !protected_done => match page {
                    None => {
                        protected_done = true;
                        stale = ledger.any_stale(cutoff);
                    }
                    Some(Err(stop)) => return Err(stopped(PROTECTED, stop)),
                    Some(Ok(items)) => {
                        for item in items {
                            ledger.protected(&item.arn, item.last_backup, item.vault.as_deref());
                        }
                    }
                },
                page = next_page(&mut jobs), if jobs.is_some() && !jobs_done => match page {
                    None => jobs_done = true,
                    Some(Err(stop)) => return Err(stopped(JOBS, stop)),
                    Some(Ok(listed)) => {
                        for listed in listed {
                            ledger.job(cutoff, &listed.resource_arn, listed.job);
                        }
                    }
                },
            }
        }
    }

    /// Sends a backup request for each resource chosen for remediation, and marks
    /// those whose request went out.
    async fn remediate(
        &self,
        context: &Context<'_>,
        tally: &mut Tally,
        mut audited: Audited,
        report: &mut Report,
    ) -> Audited {
        let chosen: Vec<usize> = (0..audited.verdict.findings.len())
            .filter(|&i| audited.verdict.findings[i].remediate)
            .collect();
        if chosen.is_empty() {
            return audited;
        }
        let mut destination = Destination::of(context);
        destination.keep_accepted();
        let mut taken = Vec::with_capacity(chosen.len());
        let mut stopped = None;
        for &i in &chosen {
            let arn = &audited.verdict.findings[i].arn;
            let job = match self.selection.job_for(arn) {
                Ok(job) => job,
                Err(problem) => {
                    stopped = Some(Error::invalid(
                        "",
                        format!("the request for {arn} is invalid: {problem}"),
                    ));
                    break;
                }
            };
            match destination.take(job).await {
                Ok(_) => taken.push(i),
                Err(error) => {
                    stopped = Some(error);
                    break;
                }
            }
        }
        let finished = match stopped {
            None => destination.finish(context, &mut tally.resolved).await,
            Some(error) => {
                destination.stopped(&mut tally.resolved);
                Err(error)
            }
        };
        let went: HashMap<usize, bool> = match &finished {
            // Here: each job's own result; the queue (or a dry run of it): every one taken.
            Ok(results) if !tally.resolved.fan_out => taken
                .iter()
                .zip(results)
                .map(|(&i, r)| (i, !r.outcome.is_failure()))
                .collect(),
            Ok(_) => taken.iter().map(|&i| (i, true)).collect(),
            // The queue stopped: those SQS took, which need not be the first ones
            // (it takes or refuses each message of a batch on its own), and may
            // include the one whose push failed. Here, nothing started.
            Err(_) => {
                let accepted = destination.accepted();
                chosen
                    .iter()
                    .map(|&i| {
                        let arn = &audited.verdict.findings[i].arn;
                        (i, accepted.is_some_and(|a| a.contains(arn)))
                    })
                    .collect()
            }
        };
        for &i in &chosen {
            audited.verdict.findings[i].remediate = went.get(&i).copied().unwrap_or(false);
        }
        audited.remediated = went.values().filter(|&&w| w).count();
        match finished {
            Ok(results) => report.jobs = results,
            Err(error) => report.error = Some(error),
        }
        audited
    }
}

/// The pages of `ListBackupJobs` of the jobs created since `cutoff`.
fn jobs_pages(context: &Context<'_>, cutoff: Timestamp) -> Pages<ListedJob> {
    let listings = Arc::clone(&context.io.listings);
    let fetch: Fetch<ListedJob> = Arc::new(move |token| listings.jobs(cutoff, token));
    Pages::new(fetch, context.deadline)
}

/// The next page of a listing that may not have started.
async fn next_page<T: Send + 'static>(pages: &mut Option<Pages<T>>) -> Option<Result<Vec<T>, Stop>> {
    match pages {
        Some(pages) => pages.next().await,
        None => std::future::pending().await,
    }
}

/// The error of an audit whose AWS Backup listing stopped: the AWS code, or
/// `DeadlineExceeded`. The listings come before any remediation: nothing started.
fn stopped(listing: &str, stop: Stop) -> Error {
    match stop {
        Stop::Failed(failure) => failure.error.with_message(format!(
            "{listing} failed: {}: {}; the audit started nothing, and running it again is safe",
            failure.code(),
            failure.error
        )),
        Stop::Late => Error::DeadlineExceeded(format!(
            "{listing} did not finish before the invocation's deadline; the audit started nothing, and running it again is safe"
        )),
    }
}
