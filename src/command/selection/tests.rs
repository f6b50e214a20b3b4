//! Selections through the handler, with a fake inventory, queue and starter: what is
//! listed, matched, enqueued or started, and what is answered.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};

use crate::core::error::Error;
use crate::core::job::{Failure, Outcome, Started};
use crate::core::request::Job;
use crate::core::selection::{Pushdown, Resource};
use crate::core::token::{SourceId, SourceKind};
use crate::handler::App;
use crate::handler::{handle, Invocation};
use crate::io::enqueue::{Enqueuer, Entry, EntryFailure, Queue as QueueOf};
use crate::io::future::BoxFuture;
use crate::io::inventory::Inventory;
use crate::io::listings::ListingFiles;
use crate::io::pages::Page;
use crate::io::send::{Deadline, DryRun, JobStarter};
use crate::io::Io;
use crate::report::metrics::{Sink, Unit};
use crate::settings::Settings;
use crate::wiring::app;

const ROLE: &str = "arn:aws:iam::123456789012:role/Backup";
const QUEUE_URL: &str = "https://sqs.eu-west-1.amazonaws.com/123456789012/requests";

/// Resources served `per_page` at a time; remembers the filters and tokens asked.
struct Pages {
    resources: Vec<Resource>,
    per_page: usize,
    asked: Mutex<Vec<(Pushdown, Option<String>)>>,
    fail_at_page: Option<usize>,
    /// This page never comes: GetResources hangs.
    stall_at_page: Option<usize>,
}

impl Pages {
    fn new(resources: Vec<Resource>, per_page: usize) -> Pages {
        Pages {
            resources,
            per_page,
            asked: Mutex::default(),
            fail_at_page: None,
            stall_at_page: None,
        }
    }
}

/// The pages as the function's inventory.
struct Listed(Arc<Pages>);

impl Inventory for Listed {
    fn page(&self, filters: &Pushdown, token: Option<String>) -> BoxFuture<'static, Result<Page<Resource>, Failure>> {
        let (pages, filters) = (Arc::clone(&self.0), filters.clone());
        Box::pin(async move { pages.page(filters, token).await })
    }
}

impl Pages {
    async fn page(&self, filters: Pushdown, token: Option<String>) -> Result<Page<Resource>, Failure> {
        {
            self.asked.lock().unwrap().push((filters, token.clone()));
            let start: usize = token.map(|t| t.parse().unwrap()).unwrap_or(0);
            if self.stall_at_page == Some(start / self.per_page) {
                std::future::pending::<()>().await;
            }
            if self.fail_at_page == Some(start / self.per_page) {
                return Err(Failure::aws("ThrottledException", "slow down", true));
            }
            let end = (start + self.per_page).min(self.resources.len());
            Ok(Page {
                items: self.resources[start..end].to_vec(),
                next: (end < self.resources.len()).then(|| end.to_string()),
            })
        }
    }
}

#[derive(Default)]
struct Queue {
    batches: Mutex<Vec<Vec<Entry>>>,
    refuse_all: bool,
    /// From this batch on (1 is the first), SendMessageBatch hangs.
    stall_from: Option<usize>,
    /// The first entry of each call is refused, blamed on the sender (so never sent
    /// again); SQS takes the others.
    refuse_first_entry: bool,
}

impl Enqueuer for Queue {
    fn send_batch<'a>(&'a self, entries: &'a [Entry]) -> BoxFuture<'a, Result<Vec<EntryFailure>, Failure>> {
        Box::pin(async move {
            let n = {
                let mut batches = self.batches.lock().unwrap();
                batches.push(entries.to_vec());
                batches.len()
            };
            if self.stall_from.is_some_and(|from| n >= from) {
                std::future::pending::<()>().await;
            }
            if self.refuse_all && n > 1 {
                return Err(Failure::aws("AccessDenied", "not allowed", false));
            }
            if self.refuse_first_entry {
                return Ok(entries
                    .iter()
                    .take(1)
                    .map(|e| EntryFailure {
                        id: e.id.clone(),
                        failure: Failure::aws("InvalidParameterValue", "refused", false),
                        sender_fault: true,
                    })
                    .collect());
            }
            Ok(Vec::new())
        })
    }
}

#[derive(Default)]
struct Starter {
    started: Mutex<Vec<(String, String)>>,
}

impl JobStarter for Starter {
    fn start<'a>(&'a self, job: &'a Job) -> BoxFuture<'a, Outcome> {
        Box::pin(std::future::ready(self.started(job)))
    }
}

impl Starter {
    fn started(&self, job: &Job) -> Outcome {
        self.started
            .lock()
            .unwrap()
            .push((job.subject_arn().to_owned(), job.idempotency_token().to_owned()));
        Outcome::Started(Started {
            job_id: format!("job-{}", self.started.lock().unwrap().len()),
            is_parent: false,
            creation_date: None,
            recovery_point_arn: None,
        })
    }
}

fn table(n: usize, stage: &str) -> Resource {
    Resource {
        arn: format!("arn:aws:dynamodb:eu-west-1:123456789012:table/t{n}"),
        tags: vec![("stage".into(), stage.into())],
    }
}

fn topic() -> Resource {
    Resource {
        arn: "arn:aws:sns:eu-west-1:123456789012:alerts".into(),
        tags: vec![("stage".into(), "prod".into())],
    }
}

struct Setup {
    app: Arc<App>,
    pages: Arc<Pages>,
    queue: Arc<Queue>,
    starter: Arc<Starter>,
}

/// The function with `pages` to list; with a queue (`REQUEST_QUEUE_URL` set) or
/// without one; for real or as a dry run, as `app::aws_io` chooses its adapters.
fn setup(pages: Pages, queue: Queue, queue_url: Option<&str>, dry_run: bool) -> Setup {
    let settings = Settings {
        backup_vault_name: Some("Default".into()),
        backup_iam_role_arn: Some(ROLE.into()),
        ..Settings::default()
    };
    let pages = Arc::new(pages);
    let queue = Arc::new(queue);
    let starter = Arc::new(Starter::default());
    let io = Io {
        starter: if dry_run {
            Arc::new(DryRun)
        } else {
            Arc::clone(&starter) as Arc<dyn JobStarter>
        },
        inventory: Arc::new(Listed(Arc::clone(&pages))),
        listings: Arc::new(ListingFiles::default()),
        queue: queue_url.map(|_| {
            if dry_run {
                QueueOf::DryRun
            } else {
                QueueOf::Sqs(Arc::clone(&queue) as Arc<dyn Enqueuer>)
            }
        }),
        limiter: None,
    };
    Setup {
        app: Arc::new(app(&settings, io).with_metrics_sink(Sink::Memory(Arc::default()))),
        pages,
        queue,
        starter,
    }
}

/// The handler's answer as the JSON Lambda gets.
async fn call(app: &Arc<App>, event: Value) -> Result<Value, Error> {
    let answer = handle(app, event, &invocation()).await?;
    Ok(serde_json::to_value(answer).unwrap())
}

fn invocation() -> Invocation {
    Invocation::new("req-1", Deadline::after(Duration::from_secs(600)))
}

fn prod_tables() -> Value {
    json!({
        "Selection": {
            "SelectionName": "prod-tables",
            "Resources": ["arn:aws:dynamodb:*:*:table/*", "arn:aws:sns:*"],
            "Conditions": { "StringEquals": [{ "ConditionKey": "aws:ResourceTag/stage", "ConditionValue": "prod" }] }
        },
        "IdempotencyKey": "nightly/1",
        "StartWindowMinutes": 60
    })
}

fn key() -> SourceId {
    SourceId {
        kind: SourceKind::IdempotencyKey,
        value: "nightly/1".into(),
    }
}

fn inventory(n: usize) -> Vec<Resource> {
    let mut resources: Vec<Resource> = (0..n)
        .map(|i| table(i, if i % 5 == 0 { "dev" } else { "prod" }))
        .collect();
    resources.push(topic());
    resources
}

fn enqueued(queue: &Queue) -> Vec<Value> {
    queue
        .batches
        .lock()
        .unwrap()
        .iter()
        .flatten()
        .flat_map(|e| {
            serde_json::from_str::<Value>(&e.body).unwrap()["Jobs"]
                .as_array()
                .unwrap()
                .clone()
        })
        .collect()
}

#[tokio::test]
async fn with_a_queue_the_selection_fans_out_and_starts_nothing() {
    let s = setup(
        Pages::new(inventory(250), 100),
        Queue::default(),
        Some(QUEUE_URL),
        false,
    );
    let answer = call(&s.app, prod_tables()).await.unwrap();
    assert_eq!(
        answer,
        json!({ "Selection": { "Name": "prod-tables", "Found": 251, "Matched": 201, "Unsupported": 1,
                "Enqueued": 200, "Messages": 20 }, "Jobs": [] })
    );
    assert!(s.starter.started.lock().unwrap().is_empty());
    let requests = enqueued(&s.queue);
    assert_eq!(requests.len(), 200);
    assert_eq!(s.queue.batches.lock().unwrap().len(), 2);
    for request in &requests {
        let arn = request["ResourceArn"].as_str().unwrap();
        assert_eq!(request["IdempotencyToken"], key().resource_token(arn));
        assert_eq!(request["StartWindowMinutes"], 60);
        assert!(!arn.contains(":sns:"), "an unsupported type is never sent");
    }
    // Every page was read, each with the selection's filters.
    let asked = s.pages.asked.lock().unwrap();
    let tokens: Vec<Option<String>> = asked.iter().map(|(_, t)| t.clone()).collect();
    assert_eq!(tokens, vec![None, Some("100".into()), Some("200".into())]);
    assert_eq!(
        asked[0].0.tag_filters,
        vec![("stage".to_string(), vec!["prod".to_string()])]
    );
    // sns is not a service of AWS Backup's types: no service filter at all.
    assert!(asked[0].0.resource_types.is_empty());
}

#[tokio::test]
async fn the_tokens_do_not_depend_on_the_order_of_the_pages() {
    let first = setup(Pages::new(inventory(30), 7), Queue::default(), Some(QUEUE_URL), false);
    call(&first.app, prod_tables()).await.unwrap();
    let mut reversed = inventory(30);
    reversed.reverse();
    let second = setup(Pages::new(reversed, 4), Queue::default(), Some(QUEUE_URL), false);
    call(&second.app, prod_tables()).await.unwrap();
    let tokens = |queue: &Queue| {
        let mut pairs: Vec<(String, String)> = enqueued(queue)
            .iter()
            .map(|r| {
                (
                    r["ResourceArn"].as_str().unwrap().to_owned(),
                    r["IdempotencyToken"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        pairs.sort();
        pairs
    };
    assert_eq!(tokens(&first.queue), tokens(&second.queue));
    assert_eq!(tokens(&first.queue).len(), 24);
}

#[tokio::test]
async fn a_dry_run_counts_and_shows_the_first_100_requests_and_sends_nothing() {
    let s = setup(Pages::new(inventory(300), 100), Queue::default(), Some(QUEUE_URL), true);
    let answer = call(&s.app, prod_tables()).await.unwrap();
    assert_eq!(answer["Selection"]["Matched"], 241);
    assert_eq!(answer["Selection"]["Enqueued"], 240);
    assert_eq!(answer["Selection"]["Messages"], 24);
    let jobs = answer["Jobs"].as_array().unwrap();
    assert_eq!(jobs.len(), 100);
    assert!(jobs
        .iter()
        .all(|j| j["DryRun"] == true && j["IdempotencyToken"].is_string()));
    assert!(s.queue.batches.lock().unwrap().is_empty());
    assert!(s.starter.started.lock().unwrap().is_empty());
}

#[tokio::test]
async fn without_a_queue_up_to_1000_start_here_like_a_list() {
    let s = setup(Pages::new(inventory(1250), 100), Queue::default(), None, false);
    let answer = call(&s.app, prod_tables()).await.unwrap();
    assert_eq!(answer["Selection"]["Matched"], 1001);
    assert_eq!(answer["Selection"]["Unsupported"], 1);
    assert_eq!(answer["Selection"]["Enqueued"], 0);
    let jobs = answer["Jobs"].as_array().unwrap();
    assert_eq!(jobs.len(), 1000);
    assert!(jobs.iter().all(|j| j["BackupJobId"].is_string()));
    let started = s.starter.started.lock().unwrap();
    assert_eq!(started.len(), 1000);
    assert!(started.iter().all(|(arn, token)| *token == key().resource_token(arn)));
    assert!(s.queue.batches.lock().unwrap().is_empty());
}

#[tokio::test]
async fn without_a_queue_more_than_1000_is_too_large_and_starts_nothing() {
    let s = setup(Pages::new(inventory(1252), 100), Queue::default(), None, false);
    let error = call(&s.app, prod_tables()).await.unwrap_err();
    assert_eq!(error.error_type(), "SelectionTooLarge");
    assert!(
        error.to_string().contains("REQUEST_QUEUE_URL") && error.to_string().contains("nothing was started"),
        "{}",
        error.to_string()
    );
    assert!(s.starter.started.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_selection_that_matches_nothing_is_a_success() {
    let s = setup(
        Pages::new(vec![table(0, "dev"), topic()], 100),
        Queue::default(),
        Some(QUEUE_URL),
        false,
    );
    let answer = call(&s.app, prod_tables()).await.unwrap();
    assert_eq!(answer["Selection"]["Found"], 2);
    assert_eq!(answer["Selection"]["Matched"], 1);
    assert_eq!(answer["Selection"]["Enqueued"], 0);
    let none = json!({ "Selection": { "Resources": ["arn:aws:rds:*:*:db:*"] } });
    let answer = call(&s.app, none).await.unwrap();
    assert_eq!(answer["Selection"]["Matched"], 0);
    assert!(s.queue.batches.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_listing_error_fails_with_its_aws_code_and_what_was_done() {
    let mut pages = Pages::new(inventory(250), 100);
    pages.fail_at_page = Some(1);
    let s = setup(pages, Queue::default(), Some(QUEUE_URL), false);
    let error = call(&s.app, prod_tables()).await.unwrap_err();
    assert_eq!(error.error_type(), "ThrottledException");
    assert!(
        error.to_string().contains("after 100 found") && error.to_string().contains("slow down"),
        "{}",
        error.to_string()
    );
    // A page's requests wait for a full batch: nothing was sent yet.
    assert!(
        error.to_string().contains("0 requests were enqueued"),
        "{}",
        error.to_string()
    );
}

#[tokio::test]
async fn an_enqueue_failure_fails_with_the_sqs_code_and_the_count_enqueued() {
    let queue = Queue {
        refuse_all: true,
        ..Queue::default()
    };
    let s = setup(Pages::new(inventory(300), 100), queue, Some(QUEUE_URL), false);
    let error = call(&s.app, prod_tables()).await.unwrap_err();
    assert_eq!(error.error_type(), "AccessDenied");
    assert!(
        error
            .to_string()
            .contains("100 request(s) in 10 message(s) were enqueued"),
        "{}",
        error.to_string()
    );
}

#[tokio::test]
async fn an_invalid_selection_lists_nothing() {
    let s = setup(Pages::new(inventory(3), 100), Queue::default(), Some(QUEUE_URL), false);
    let error = handle(
        &s.app,
        json!({ "Selection": { "Resources": ["*"] }, "IdempotencyToken": "t" }),
        &invocation(),
    )
    .await
    .unwrap_err();
    assert_eq!(error.error_type(), "ValidationError");
    assert!(s.pages.asked.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_selection_in_an_sqs_message_fails_that_message_only() {
    let mut pages = Pages::new(inventory(3), 100);
    pages.fail_at_page = Some(0);
    let s = setup(pages, Queue::default(), Some(QUEUE_URL), false);
    let record = |id: &str, body: Value| {
        json!({ "messageId": id, "body": body.to_string(), "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:eu-west-1:123456789012:requests" })
    };
    let event = json!({ "Records": [
        record("m-1", prod_tables()),
        record("m-2", json!({ "ResourceArn": "arn:aws:ec2:eu-west-1:123456789012:volume/vol-1" }))
    ] });
    let answer = call(&s.app, event).await.unwrap();
    assert_eq!(answer, json!({ "batchItemFailures": [{ "itemIdentifier": "m-1" }] }));
    assert_eq!(s.starter.started.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn the_metrics_count_what_was_matched_and_enqueued() {
    let s = setup(Pages::new(inventory(30), 7), Queue::default(), Some(QUEUE_URL), false);
    let invocation = invocation();
    handle(&s.app, prod_tables(), &invocation).await.unwrap();
    let metrics = counts(&invocation);
    assert!(metrics.contains(&("ResourcesMatched", 25)), "{metrics:?}");
    assert!(metrics.contains(&("ResourcesEnqueued", 24)), "{metrics:?}");
    assert!(metrics.contains(&("JobsStarted", 0)), "{metrics:?}");

    let dry = setup(Pages::new(inventory(30), 7), Queue::default(), Some(QUEUE_URL), true);
    let invocation = self::invocation();
    handle(&dry.app, prod_tables(), &invocation).await.unwrap();
    let metrics = counts(&invocation);
    assert!(metrics.contains(&("ResourcesMatched", 25)), "{metrics:?}");
    assert!(
        metrics.contains(&("ResourcesEnqueued", 0)),
        "a dry run enqueues nothing: {metrics:?}"
    );

    let here = setup(Pages::new(inventory(30), 7), Queue::default(), None, false);
    let invocation = self::invocation();
    handle(&here.app, prod_tables(), &invocation).await.unwrap();
    let metrics = counts(&invocation);
    assert!(metrics.contains(&("JobsStarted", 24)), "{metrics:?}");
    assert!(metrics.contains(&("ResourcesEnqueued", 0)), "{metrics:?}");
}

fn invocation_within(seconds: u64) -> Invocation {
    Invocation::new("req-1", Deadline::after(Duration::from_secs(seconds)))
}

/// Fails, instead of hanging, when a call runs past the invocation's deadline.
async fn within_an_hour<T>(future: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(3600), future)
        .await
        .expect("the handler answered before the invocation's deadline")
}

/// The tokens of each message sent, message by message.
fn tokens_by_message(queue: &Queue) -> Vec<Vec<String>> {
    queue
        .batches
        .lock()
        .unwrap()
        .iter()
        .flatten()
        .map(|e| {
            serde_json::from_str::<Value>(&e.body).unwrap()["Jobs"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["IdempotencyToken"].as_str().unwrap().to_owned())
                .collect()
        })
        .collect()
}

fn prod(n: usize) -> Resource {
    table(n, "prod")
}

#[tokio::test]
async fn a_resource_listed_twice_across_pages_is_enqueued_once() {
    // Pages of 4: t3 ends the first page and comes again on the second.
    let mut resources: Vec<Resource> = (0..4).map(prod).collect();
    resources.extend([prod(3), prod(4), prod(5)]);
    let s = setup(Pages::new(resources, 4), Queue::default(), Some(QUEUE_URL), false);
    let answer = call(&s.app, prod_tables()).await.unwrap();
    assert_eq!(answer["Selection"]["Found"], 7);
    assert_eq!(answer["Selection"]["Matched"], 6);
    assert_eq!(answer["Selection"]["Enqueued"], 6);
    for message in tokens_by_message(&s.queue) {
        let mut unique = message.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), message.len(), "a message repeats a token: {message:?}");
    }
    let arns: Vec<Value> = enqueued(&s.queue).iter().map(|r| r["ResourceArn"].clone()).collect();
    assert_eq!(arns.len(), 6);
}

#[tokio::test]
async fn a_resource_listed_twice_is_started_once_here() {
    let mut resources: Vec<Resource> = (0..4).map(prod).collect();
    resources.extend([prod(3), prod(0), prod(4)]);
    let s = setup(Pages::new(resources, 4), Queue::default(), None, false);
    let answer = call(&s.app, prod_tables()).await.unwrap();
    assert_eq!(answer["Selection"]["Found"], 7);
    assert_eq!(answer["Selection"]["Matched"], 5);
    assert_eq!(answer["Jobs"].as_array().unwrap().len(), 5);
    let started = s.starter.started.lock().unwrap();
    let mut arns: Vec<&str> = started.iter().map(|(arn, _)| arn.as_str()).collect();
    arns.sort();
    arns.dedup();
    assert_eq!(arns.len(), 5);
    assert_eq!(started.len(), 5);
}

#[tokio::test]
async fn an_unsupported_resource_listed_twice_is_counted_once() {
    let resources = vec![prod(0), topic(), topic(), prod(1)];
    let s = setup(Pages::new(resources, 2), Queue::default(), Some(QUEUE_URL), false);
    let answer = call(&s.app, prod_tables()).await.unwrap();
    assert_eq!(answer["Selection"]["Matched"], 3);
    assert_eq!(answer["Selection"]["Unsupported"], 1);
}

#[tokio::test]
async fn a_listing_error_after_a_batch_was_sent_counts_what_sqs_received() {
    // 80 selected a page: the second page fills the first batch of 100.
    let mut pages = Pages::new(inventory(400), 100);
    pages.fail_at_page = Some(2);
    let s = setup(pages, Queue::default(), Some(QUEUE_URL), false);
    let invocation = invocation();
    let error = handle(&s.app, prod_tables(), &invocation).await.unwrap_err();
    assert_eq!(error.error_type(), "ThrottledException");
    assert_eq!(enqueued(&s.queue).len(), 100);
    assert!(
        error.to_string().contains("100 requests were enqueued"),
        "{}",
        error.to_string()
    );
    let metrics = counts(&invocation);
    assert!(metrics.contains(&("ResourcesEnqueued", 100)), "{metrics:?}");
}

#[tokio::test]
async fn an_enqueue_failure_counts_what_sqs_received_in_the_metrics() {
    let queue = Queue {
        refuse_all: true,
        ..Queue::default()
    };
    let s = setup(Pages::new(inventory(300), 100), queue, Some(QUEUE_URL), false);
    let invocation = invocation();
    handle(&s.app, prod_tables(), &invocation).await.unwrap_err();
    let metrics = counts(&invocation);
    assert!(metrics.contains(&("ResourcesEnqueued", 100)), "{metrics:?}");
}

#[tokio::test(start_paused = true)]
async fn a_stalled_listing_stops_at_the_deadline_saying_what_was_enqueued() {
    let mut pages = Pages::new(inventory(400), 100);
    pages.stall_at_page = Some(2);
    let s = setup(pages, Queue::default(), Some(QUEUE_URL), false);
    let invocation = invocation_within(30);
    let error = within_an_hour(handle(&s.app, prod_tables(), &invocation))
        .await
        .unwrap_err();
    assert_eq!(error.error_type(), "DeadlineExceeded");
    assert!(
        error.to_string().contains("100 requests were enqueued"),
        "{}",
        error.to_string()
    );
    let metrics = counts(&invocation);
    assert!(metrics.contains(&("ResourcesEnqueued", 100)), "{metrics:?}");
}

#[tokio::test(start_paused = true)]
async fn a_stalled_send_message_batch_stops_at_the_deadline_saying_what_was_enqueued() {
    let queue = Queue {
        stall_from: Some(2),
        ..Queue::default()
    };
    let s = setup(Pages::new(inventory(400), 100), queue, Some(QUEUE_URL), false);
    let invocation = invocation_within(30);
    let error = within_an_hour(handle(&s.app, prod_tables(), &invocation))
        .await
        .unwrap_err();
    assert_eq!(error.error_type(), "DeadlineExceeded");
    assert!(
        error
            .to_string()
            .contains("100 request(s) in 10 message(s) were enqueued"),
        "{}",
        error.to_string()
    );
    let metrics = counts(&invocation);
    assert!(metrics.contains(&("ResourcesEnqueued", 100)), "{metrics:?}");
}

#[tokio::test]
async fn a_selection_too_large_to_start_here_starts_nothing_and_is_rejected() {
    let s = setup(Pages::new(inventory(1252), 100), Queue::default(), None, false);
    let invocation = self::invocation();
    let error = handle(&s.app, prod_tables(), &invocation).await.unwrap_err();
    assert_eq!(error.error_type(), "SelectionTooLarge");
    let metrics = counts(&invocation);
    assert!(metrics.contains(&("EventsRejected", 1)), "{metrics:?}");
    assert!(metrics.contains(&("JobsFailed", 0)), "{metrics:?}");
}

#[tokio::test]
async fn a_failed_selection_in_a_fifo_batch_fails_every_later_message_unstarted() {
    let mut pages = Pages::new(inventory(3), 100);
    pages.fail_at_page = Some(0);
    let s = setup(pages, Queue::default(), Some(QUEUE_URL), false);
    let record = |id: &str, body: Value| {
        json!({ "messageId": id, "body": body.to_string(), "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:eu-west-1:123456789012:requests.fifo" })
    };
    let event = json!({ "Records": [
        record("m-1", json!({ "ResourceArn": "arn:aws:ec2:eu-west-1:123456789012:volume/vol-0" })),
        record("m-2", prod_tables()),
        record("m-3", json!({ "ResourceArn": "arn:aws:ec2:eu-west-1:123456789012:volume/vol-1" }))
    ] });
    let answer = call(&s.app, event).await.unwrap();
    assert_eq!(
        answer,
        json!({ "batchItemFailures": [{ "itemIdentifier": "m-2" }, { "itemIdentifier": "m-3" }] })
    );
    let started = s.starter.started.lock().unwrap();
    assert_eq!(started.len(), 1, "only the message before the selection started");
    assert!(started[0].0.ends_with("vol-0"));
}

#[tokio::test]
async fn a_selection_in_an_eventbridge_detail_takes_its_tokens_from_the_event_id() {
    let s = setup(Pages::new(inventory(10), 100), Queue::default(), Some(QUEUE_URL), false);
    let mut detail = prod_tables();
    detail.as_object_mut().unwrap().remove("IdempotencyKey");
    let event = json!({ "version": "0", "id": "evt-7", "detail-type": "Nightly selection",
                        "source": "my.scheduler", "detail": detail });
    let answer = call(&s.app, event).await.unwrap();
    assert_eq!(answer["Selection"]["Enqueued"], 8);
    let source = SourceId {
        kind: SourceKind::EventBridgeId,
        value: "evt-7".into(),
    };
    let requests = enqueued(&s.queue);
    assert_eq!(requests.len(), 8);
    for request in &requests {
        let arn = request["ResourceArn"].as_str().unwrap();
        assert_eq!(request["IdempotencyToken"], source.resource_token(arn));
    }

    // An IdempotencyKey in the detail comes first.
    let s = setup(Pages::new(inventory(10), 100), Queue::default(), Some(QUEUE_URL), false);
    let event = json!({ "version": "0", "id": "evt-7", "detail-type": "Nightly selection",
                        "source": "my.scheduler", "detail": prod_tables() });
    call(&s.app, event).await.unwrap();
    for request in &enqueued(&s.queue) {
        let arn = request["ResourceArn"].as_str().unwrap();
        assert_eq!(request["IdempotencyToken"], key().resource_token(arn));
    }
}

/// The invocation's metrics, by name.
fn counts(invocation: &Invocation) -> Vec<(&'static str, u64)> {
    invocation
        .tally
        .metrics()
        .into_iter()
        .filter(|(_, _, unit)| *unit == Unit::Count)
        .map(|(name, value, _)| (name, value))
        .collect()
}

/// An audit whose remediation SQS partly refused says which resources went out: SQS
/// takes or refuses each message of a batch on its own, so those it took need not be
/// the first ones pushed.
#[tokio::test]
async fn an_audit_marks_remediated_exactly_the_resources_sqs_took() {
    use crate::command::{Command, Context};
    use crate::core::token::Origin;
    use crate::io::send::Limits;

    let s = setup(
        Pages::new((100..130).map(|n| table(n, "prod")).collect(), 100),
        Queue {
            refuse_first_entry: true,
            ..Queue::default()
        },
        Some(QUEUE_URL),
        false,
    );
    let event = json!({
        "Selection": { "Resources": ["arn:aws:dynamodb:*:*:table/*"] },
        "Audit": { "MaxAgeHours": 26, "Remediate": true },
        "IdempotencyKey": "audit/1"
    });
    let origin = Origin {
        request_id: "req-1",
        message_id: None,
    };
    let command = Command::read(&event, &origin, &s.app.defaults).unwrap();
    let context = Context {
        io: &s.app.io,
        limits: &Limits::concurrency(4),
        deadline: Deadline::after(Duration::from_secs(600)),
        now: crate::core::time::Timestamp::from_millis(1_795_338_000_000),
    };
    let report = command.run(&context).await;
    assert!(report.error.is_some(), "a refused message fails the audit");
    // Three messages of 10 in one call; the first is refused.
    let took: Vec<String> = enqueued(&s.queue)
        .iter()
        .map(|r| r["ResourceArn"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(took.len(), 30, "one call holds every message: {took:?}");
    let refused: Vec<String> = took[..10].to_vec();
    let audited = report.audit.expect("the listings completed");
    assert_eq!(audited.remediated, 20);
    let remediated: Vec<&str> = audited
        .verdict
        .findings
        .iter()
        .filter(|f| f.remediate)
        .map(|f| f.arn.as_str())
        .collect();
    assert_eq!(remediated.len(), 20, "{remediated:?}");
    for arn in &remediated {
        assert!(!refused.iter().any(|r| r == arn), "{arn} was refused by SQS");
    }
}

/// With a request queue, an audit may remediate more than the 1,000 an invocation
/// starts itself: MaxRemediations above 1,000 is refused only without one.
#[tokio::test]
async fn with_a_queue_an_audit_may_remediate_more_than_a_thousand() {
    let event = json!({
        "Selection": { "Resources": ["arn:aws:dynamodb:*:*:table/*"] },
        "Audit": { "MaxAgeHours": 26, "Remediate": true, "MaxRemediations": 100_000 },
        "IdempotencyKey": "audit/2"
    });
    let tables = || Pages::new((0..1_200).map(|n| table(n, "prod")).collect(), 100);
    let s = setup(tables(), Queue::default(), Some(QUEUE_URL), false);
    let answer = call(&s.app, event.clone()).await.unwrap();
    assert_eq!(answer["Audit"]["Remediated"], 1_200, "{answer}");
    assert_eq!(enqueued(&s.queue).len(), 1_200);

    let s = setup(tables(), Queue::default(), None, false);
    let error = call(&s.app, event).await.unwrap_err().to_string();
    assert!(
        error.contains("MaxRemediations") && error.contains("REQUEST_QUEUE_URL"),
        "{error}"
    );
    assert!(s.starter.started.lock().unwrap().is_empty());
}
