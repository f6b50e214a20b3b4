//! The fan-out of a selection (docs/reference.md, "Selections"): selected requests, each with
//! its derived token, go to `REQUEST_QUEUE_URL` as list messages of at most 10
//! requests, 10 messages a `SendMessageBatch`, and the queue's consumers start them.
//! [`FanOut`] holds one message and one batch at a time; failed entries are sent
//! again; a message that cannot be sent stops the fan-out, saying how many requests
//! SQS took. An ARN is never put twice into the open batch (the
//! Tagging API can list a resource twice, and a consumer refuses a message whose
//! requests share a token), and no call runs past the invocation's deadline.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_sqs::types::SendMessageBatchRequestEntry;
use aws_sdk_sqs::Client;

use crate::core::error::Error;
use crate::core::job::Failure;
use crate::core::request::Job;
use crate::core::selection::DRY_RUN_SHOWN;
use crate::io::future::BoxFuture;
use crate::io::sdk::failure;
use crate::io::send::Deadline;

/// Requests in one list message: a consumer's batch of 10 messages is then at most
/// 100 calls, 20 s at AWS Backup's default 5 calls a second.
pub const REQUESTS_PER_MESSAGE: usize = 10;
/// Messages in one `SendMessageBatch`: SQS's maximum.
pub const MESSAGES_PER_BATCH: usize = 10;
/// The payload of one `SendMessageBatch` stays under SQS's long-standing limit of
/// 256 KiB (every Region accepts it).
pub const MAX_BATCH_BYTES: usize = 256 * 1024;
/// Attempts for an entry SQS refused without blaming the sender, on top of the
/// SDK's own retries of the whole call.
pub const ENTRY_ATTEMPTS: u32 = 4;
const FIRST_BACKOFF: Duration = Duration::from_millis(100);

/// One message of a batch: its id within the batch and its body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub id: String,
    pub body: String,
}

/// An entry that SQS did not accept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryFailure {
    pub id: String,
    pub failure: Failure,
    /// SQS says the message itself is at fault: sending it again cannot help.
    pub sender_fault: bool,
}

/// Sends a batch of messages to the request queue.
pub trait Enqueuer: Send + Sync + 'static {
    /// Sends `entries` in one call; answers the entries that were not accepted, or
    /// the error of the call as a whole.
    fn send_batch<'a>(&'a self, entries: &'a [Entry]) -> BoxFuture<'a, Result<Vec<EntryFailure>, Failure>>;
}

/// The function's request queue, through `aws-sdk-sqs`.
pub struct SqsQueue {
    client: Client,
    url: String,
}

impl SqsQueue {
    pub fn new(client: Client, url: String) -> SqsQueue {
        SqsQueue { client, url }
    }
}

impl Enqueuer for SqsQueue {
    fn send_batch<'a>(&'a self, entries: &'a [Entry]) -> BoxFuture<'a, Result<Vec<EntryFailure>, Failure>> {
        Box::pin(async move {
            let mut request = self.client.send_message_batch().queue_url(&self.url);
            for entry in entries {
                let built = SendMessageBatchRequestEntry::builder()
                    .id(&entry.id)
                    .message_body(&entry.body)
                    .build()
                    .map_err(|e| Failure {
                        error: Error::EnqueueFailed(format!("cannot build the message: {e}")),
                        retryable: false,
                    })?;
                request = request.entries(built);
            }
            let output = request.send().await.map_err(|e| failure(&e))?;
            Ok(output
                .failed()
                .iter()
                .map(|f| EntryFailure {
                    id: f.id().to_owned(),
                    failure: Failure::aws(f.code(), f.message().unwrap_or("no message"), !f.sender_fault()),
                    sender_fault: f.sender_fault(),
                })
                .collect())
        })
    }
}

/// Where a selection's requests go: the request queue, or, in a dry run, nowhere
/// (the fan-out counts what it would send and keeps the first requests to show).
#[derive(Clone)]
pub enum Queue {
    Sqs(Arc<dyn Enqueuer>),
    DryRun,
}

/// What a closed message holds: its number of requests, and their ARNs when the
/// accepted ones are kept ([`FanOut::keep_accepted`]).
struct Closed {
    requests: usize,
    arns: Vec<String>,
}

/// Gathers requests into list messages and messages into batches, sending each
/// batch when it is full. In a dry run nothing is sent, and the counts say what
/// would have been.
pub struct FanOut {
    /// None: a dry run.
    queue: Option<Arc<dyn Enqueuer>>,
    /// A dry run's first requests, to show.
    shown: Vec<Job>,
    /// The requests of the message being filled, as JSON text, and their ARNs when
    /// they are kept.
    message: Vec<String>,
    message_arns: Vec<String>,
    message_bytes: usize,
    /// Closed messages waiting to be sent, and what each holds.
    batch: Vec<Entry>,
    closed: Vec<Closed>,
    batch_bytes: usize,
    /// The ARNs of the requests in the open message and batch: a second copy of one
    /// is left out. Cleared with each batch sent, so it holds at most a batch's.
    arns: HashSet<String>,
    /// No `SendMessageBatch` starts after its start cutoff, and none (with its
    /// retries and back-off) runs past its give-up time.
    deadline: Deadline,
    /// The ARNs of the requests SQS accepted, when asked for ([`FanOut::keep_accepted`]):
    /// SQS takes or refuses each message of a batch on its own, so after a failure
    /// these need not be the first ones pushed.
    accepted: Option<HashSet<String>>,
    /// Requests in messages SQS accepted.
    pub enqueued: usize,
    /// Messages SQS accepted.
    pub messages: usize,
}

impl FanOut {
    /// A fan-out to `queue` within `deadline`.
    pub fn new(queue: &Queue, deadline: Deadline) -> FanOut {
        FanOut {
            queue: match queue {
                Queue::Sqs(queue) => Some(Arc::clone(queue)),
                Queue::DryRun => None,
            },
            shown: Vec::new(),
            message: Vec::with_capacity(REQUESTS_PER_MESSAGE),
            message_arns: Vec::with_capacity(REQUESTS_PER_MESSAGE),
            message_bytes: 0,
            batch: Vec::with_capacity(MESSAGES_PER_BATCH),
            closed: Vec::with_capacity(MESSAGES_PER_BATCH),
            batch_bytes: 0,
            arns: HashSet::with_capacity(REQUESTS_PER_MESSAGE * MESSAGES_PER_BATCH),
            deadline,
            accepted: None,
            enqueued: 0,
            messages: 0,
        }
    }

    /// Keeps the ARN of every request SQS accepts (or, in a dry run, would), for a
    /// caller that must say which resources went out even after a failure: an
    /// audit's remediations, at most `MaxRemediations`. A selection's fan-out, of any
    /// size, keeps only counts.
    pub fn keep_accepted(&mut self) {
        self.accepted.get_or_insert_with(HashSet::new);
    }

    /// The ARNs SQS accepted so far; `None` unless [`FanOut::keep_accepted`] was called.
    pub fn accepted(&self) -> Option<&HashSet<String>> {
        self.accepted.as_ref()
    }

    /// Whether the requests really go to the queue (not a dry run).
    pub fn sends(&self) -> bool {
        self.queue.is_some()
    }

    /// A dry run's first requests (at most [`DRY_RUN_SHOWN`]); none otherwise.
    pub fn take_shown(&mut self) -> Vec<Job> {
        std::mem::take(&mut self.shown)
    }

    /// Adds one request; sends a batch when one is full. Answers false, adding
    /// nothing, when a request for the same resource waits in the open batch (the
    /// Tagging API can list a resource twice, and a consumer refuses a message
    /// whose requests share a token).
    pub async fn push(&mut self, job: &Job) -> Result<bool, Error> {
        if !self.arns.insert(job.subject_arn().to_owned()) {
            return Ok(false);
        }
        if self.queue.is_none() && self.shown.len() < DRY_RUN_SHOWN {
            self.shown.push(job.clone());
        }
        // A Job serialises as the request it is; the consumer validates it again.
        let text = serde_json::to_string(job).map_err(|e| Error::Internal(format!("cannot write a request: {e}")))?;
        // A message never outgrows a batch: "{\"Jobs\":[" + "]}" and the commas.
        if !self.message.is_empty() && self.message_bytes + text.len() + 32 > MAX_BATCH_BYTES {
            self.close_message().await?;
        }
        self.message_bytes += text.len() + 1;
        self.message.push(text);
        if self.accepted.is_some() {
            self.message_arns.push(job.subject_arn().to_owned());
        }
        if self.message.len() == REQUESTS_PER_MESSAGE {
            self.close_message().await?;
        }
        Ok(true)
    }

    /// Sends whatever is left.
    pub async fn finish(&mut self) -> Result<(), Error> {
        if !self.message.is_empty() {
            self.close_message().await?;
        }
        if !self.batch.is_empty() {
            self.flush().await?;
        }
        Ok(())
    }

    async fn close_message(&mut self) -> Result<(), Error> {
        let requests = std::mem::take(&mut self.message);
        let closed = Closed {
            requests: requests.len(),
            arns: std::mem::take(&mut self.message_arns),
        };
        self.message_bytes = 0;
        let body = format!("{{\"Jobs\":[{}]}}", requests.join(","));
        if !self.batch.is_empty() && self.batch_bytes + body.len() > MAX_BATCH_BYTES {
            self.flush().await?;
        }
        self.batch_bytes += body.len();
        let id = self.batch.len().to_string();
        self.batch.push(Entry { id, body });
        self.closed.push(closed);
        if self.batch.len() == MESSAGES_PER_BATCH {
            self.flush().await?;
        }
        Ok(())
    }

    /// Sends the batch; entries SQS refused are sent again with back-off, up to
    /// [`ENTRY_ATTEMPTS`] times in all, all within the deadline.
    async fn flush(&mut self) -> Result<(), Error> {
        let entries = std::mem::take(&mut self.batch);
        let closed = std::mem::take(&mut self.closed);
        self.batch_bytes = 0;
        self.arns.clear();
        let Some(queue) = self.queue.clone() else {
            self.took(closed);
            return Ok(());
        };
        let deadline = self.deadline;
        let unsent = entries.len();
        if deadline.too_late_to_start() {
            return Err(self.out_of_time(unsent, "too little time was left to send"));
        }
        match tokio::time::timeout_at(deadline.give_up_at(), self.send(queue.as_ref(), entries, closed)).await {
            Ok(sent) => sent,
            Err(_) => Err(self.out_of_time(
                unsent,
                "SQS did not accept them before the invocation's deadline (they may have been enqueued; a consumer then starts them with the same tokens)",
            )),
        }
    }

    /// Counts messages SQS accepted (or a dry run would send).
    fn took(&mut self, accepted: Vec<Closed>) {
        self.messages += accepted.len();
        self.enqueued += accepted.iter().map(|c| c.requests).sum::<usize>();
        if let Some(kept) = &mut self.accepted {
            kept.extend(accepted.into_iter().flat_map(|c| c.arns));
        }
    }

    async fn send(
        &mut self,
        queue: &dyn Enqueuer,
        mut entries: Vec<Entry>,
        mut closed: Vec<Closed>,
    ) -> Result<(), Error> {
        let mut backoff = FIRST_BACKOFF;
        for attempt in 1..=ENTRY_ATTEMPTS {
            let failed = match queue.send_batch(&entries).await {
                Ok(failed) => failed,
                Err(failure) => return Err(self.stopped(&failure, entries.len())),
            };
            let refused_ids: HashSet<&str> = failed.iter().map(|f| f.id.as_str()).collect();
            let (mut refused, mut refused_closed, mut accepted) = (Vec::new(), Vec::new(), Vec::new());
            for (entry, message) in entries.into_iter().zip(closed) {
                if refused_ids.contains(entry.id.as_str()) {
                    refused.push(entry);
                    refused_closed.push(message);
                } else {
                    accepted.push(message);
                }
            }
            self.took(accepted);
            if refused.is_empty() {
                return Ok(());
            }
            let hopeless = failed.iter().find(|f| f.sender_fault);
            if let Some(fault) = hopeless.or((attempt == ENTRY_ATTEMPTS).then(|| &failed[0])) {
                return Err(self.stopped(&fault.failure, refused.len()));
            }
            tracing::warn!(
                refused = refused.len(),
                attempt,
                error_code = failed[0].failure.code(),
                "SQS refused messages of a batch; sending them again"
            );
            tokio::time::sleep(backoff).await;
            backoff *= 2;
            entries = refused;
            closed = refused_closed;
        }
        Ok(())
    }

    /// The deadline stopped the fan-out with `unsent` messages of a batch not known
    /// to be enqueued.
    fn out_of_time(&self, unsent: usize, why: &str) -> Error {
        Error::DeadlineExceeded(format!(
            "the invocation's deadline stopped the fan-out: {unsent} message(s) of a batch not sent to REQUEST_QUEUE_URL: {why}; {} request(s) in {} message(s) were enqueued; sending the selection again is safe: every resource keeps its token",
            self.enqueued, self.messages
        ))
    }

    /// The fan-out's error: SQS's own code (an empty one is `EnqueueFailed`), and
    /// what SQS took.
    fn stopped(&self, failure: &Failure, unsent: usize) -> Error {
        let message = format!(
            "{unsent} message(s) could not be sent to REQUEST_QUEUE_URL ({}: {}); {} request(s) in {} message(s) were enqueued; sending the selection again is safe: every resource keeps its token",
            failure.code(),
            failure.error,
            self.enqueued,
            self.messages
        );
        match failure.code() {
            "" => Error::EnqueueFailed(message),
            _ => failure.error.with_message(message),
        }
    }
}

#[cfg(test)]
mod tests;
