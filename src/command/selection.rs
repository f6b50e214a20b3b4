//! A selection (docs/reference.md, "Selections"): pages of resources in from the
//! Tagging API, the selected resources' requests out, to the request queue or,
//! without `REQUEST_QUEUE_URL`, started here like a list of at most 1,000. Memory
//! holds the page being read and the next one, fetched meanwhile, and one batch of
//! messages (or the 1,000 jobs of a selection started here).

use serde_json::{Map, Value};

use crate::command::context::{Context, Rejected};
use crate::command::jobs::idempotency_key;
use crate::command::resolve::{listing_stopped, tagging_pages, Destination, Tally, TAGGING};
use crate::core::defaults::Defaults;
use crate::core::error::Error;
use crate::core::selection::{self as core_selection, parse};
use crate::core::token::Origin;
use crate::report::{Kind, Report};

/// A validated selection, to back up what it matches.
#[derive(Debug)]
pub struct Selection {
    selection: core_selection::Selection,
}

impl Selection {
    pub fn selection(&self) -> &core_selection::Selection {
        &self.selection
    }

    /// Resolves the selection and sends (or starts) one request per selected resource.
    pub async fn run(self, context: &Context<'_>) -> Report {
        let selection = &self.selection;
        let mut report = Report::new(Kind::Selection, selection.source().clone());
        let mut tally = Tally::new(selection);
        let mut destination = Destination::of(context);
        let walked = walk(context, selection, &mut tally, &mut destination).await;
        let finished = match walked {
            Ok(()) => destination.finish(context, &mut tally.resolved).await,
            Err(error) => {
                destination.stopped(&mut tally.resolved);
                Err(error)
            }
        };
        match finished {
            Ok(results) => report.jobs = results,
            Err(error) => report.error = Some(error),
        }
        report.selection = Some(tally.resolved);
        report
    }
}

/// Reads a selection. `event_id` is the enclosing EventBridge event's id.
pub fn read(
    map: &Map<String, Value>,
    origin: &Origin,
    event_id: Option<&str>,
    defaults: &Defaults,
) -> Result<Selection, Rejected> {
    let rejected = |error: Error| Rejected::new(Kind::Selection, error);
    let key = idempotency_key(map).map_err(rejected)?;
    let selection = parse(map, origin.source_id(key, event_id), defaults).map_err(rejected)?;
    Ok(Selection { selection })
}

/// Reads every page, the next one fetched while a page's requests are sent.
async fn walk(
    context: &Context<'_>,
    selection: &core_selection::Selection,
    tally: &mut Tally,
    destination: &mut Destination,
) -> Result<(), Error> {
    let mut pages = tagging_pages(context, selection);
    while let Some(page) = pages.next().await {
        let resources =
            page.map_err(|stop| listing_stopped(TAGGING, stop, tally.resolved.found, destination.enqueued()))?;
        for resource in resources {
            let Some((arn, _)) = tally.sort(selection, resource) else {
                continue;
            };
            let job = match selection.job_for(&arn) {
                Ok(job) => job,
                // An ARN the Tagging API listed that is not one: refused, unless
                // requests were already enqueued.
                Err(problem) if destination.enqueued() == 0 => {
                    return Err(Error::invalid("", format!("the request for {arn} is invalid: {problem}")).refused())
                }
                Err(problem) => {
                    return Err(Error::invalid(
                        "",
                        format!("nothing more was started or enqueued: the request for {arn} is invalid: {problem}"),
                    ))
                }
            };
            if destination.take(job).await? {
                tally.matched();
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
