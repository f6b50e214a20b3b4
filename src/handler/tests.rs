//! The handler with a fake starter: answers, isolation and FIFO order, in process.

use std::time::Duration;

use serde_json::json;

use super::*;
use crate::core::fixtures::{DESTINATION, ROLE};
use crate::core::job::{Failure, Outcome, Started};
use crate::core::request::Job;
use crate::io::future::BoxFuture;
use crate::io::inventory::ResourceFile;
use crate::io::listings::ListingFiles;
use crate::io::rate::{CallsPerSecond, Limiter};
use crate::io::send::{DryRun, JobStarter};
use crate::io::Io;
use crate::report::metrics::Sink;
use crate::settings::Settings;

/// The handler's answer as the JSON Lambda gets.
async fn handled(app: &Arc<App>, event: Value, invocation: &Invocation) -> Result<Value, Error> {
    handle(app, event, invocation).await.map(json)
}

async fn handled_text(app: &Arc<App>, text: &str, invocation: &Invocation) -> Result<Value, Error> {
    handle_text(app, text, invocation).await.map(json)
}

fn settings() -> Settings {
    Settings {
        backup_vault_name: Some("Main".into()),
        backup_iam_role_arn: Some(ROLE.into()),
        copy_destination_vault_arn: Some(DESTINATION.into()),
        ..Settings::default()
    }
}

/// An app that starts jobs with `starter`, paced by `limiter`, with no resources
/// to select and no queue; its metrics lines go to memory.
fn app_with(settings: &Settings, starter: Arc<dyn JobStarter>, limiter: Option<Arc<Limiter>>) -> App {
    let io = Io {
        starter,
        inventory: Arc::new(ResourceFile::parse(r#"{"ResourceTagMappingList": []}"#).unwrap()),
        listings: Arc::new(ListingFiles::default()),
        queue: None,
        limiter,
    };
    crate::wiring::app(settings, io).with_metrics_sink(Sink::Memory(Arc::default()))
}

fn json(answer: Answer) -> Value {
    serde_json::to_value(answer).expect("an answer serialises")
}

/// Starts every job, except: resources ending `vol-panic` panic (a bug in our
/// code), and resources ending `vol-fail` get an AWS error.
struct Fake;

impl JobStarter for Fake {
    fn start<'a>(&'a self, job: &'a Job) -> BoxFuture<'a, Outcome> {
        let arn = job.subject_arn();
        if arn.ends_with("vol-panic") {
            panic!("bug while starting {arn}");
        }
        let outcome = if arn.ends_with("vol-fail") {
            Outcome::Failed(Failure::aws("ResourceNotFoundException", "no such volume", false))
        } else {
            Outcome::Started(Started {
                job_id: format!("job-{}", job.idempotency_token()),
                is_parent: false,
                creation_date: None,
                recovery_point_arn: None,
            })
        };
        Box::pin(std::future::ready(outcome))
    }
}

fn app() -> Arc<App> {
    Arc::new(app_with(&settings(), Arc::new(Fake), None))
}

fn invocation() -> Invocation {
    Invocation::new("req-1", Deadline::after(Duration::from_secs(60)))
}

fn request(volume: &str) -> Value {
    json!({ "ResourceArn": format!("arn:aws:ec2:eu-west-1:123456789012:volume/{volume}") })
}

fn sqs(queue: &str, bodies: &[(&str, Value)]) -> Value {
    let records: Vec<Value> = bodies
        .iter()
        .map(|(id, body)| json!({ "messageId": id, "body": body.to_string(), "eventSource": "aws:sqs", "eventSourceARN": format!("arn:aws:sqs:eu-west-1:123456789012:{queue}") }))
        .collect();
    json!({ "Records": records })
}

fn failures(answer: &Value) -> Vec<&str> {
    answer["batchItemFailures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["itemIdentifier"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn a_panic_while_handling_one_message_fails_that_message_only() {
    let event = sqs(
        "q",
        &[
            ("a", request("vol-1")),
            ("b", json!({ "Jobs": [request("vol-2"), request("vol-panic")] })),
            ("c", request("vol-3")),
        ],
    );
    let answer = handled(&app(), event, &invocation()).await.unwrap();
    assert_eq!(answer, json!({ "batchItemFailures": [{ "itemIdentifier": "b" }] }));
}

#[tokio::test]
async fn every_kind_of_message_failure_is_reported_and_nothing_else() {
    let event = sqs(
        "q",
        &[
            ("ok", request("vol-1")),
            ("aws", request("vol-fail")),
            ("invalid", json!({ "ResourceArn": "x" })),
            ("panic", request("vol-panic")),
            (
                "skipped",
                json!({ "detail-type": "Backup Job State Change", "source": "aws.backup", "detail": { "state": "RUNNING" } }),
            ),
        ],
    );
    let answer = handled(&app(), event, &invocation()).await.unwrap();
    assert_eq!(
        failures(&answer),
        ["aws", "invalid", "panic"],
        "a skipped event is a success"
    );
}

#[tokio::test]
async fn a_fifo_batch_fails_the_failed_message_and_every_later_one() {
    let event = sqs(
        "q.fifo",
        &[
            ("1", request("vol-1")),
            ("2", request("vol-panic")),
            ("3", request("vol-3")),
        ],
    );
    let answer = handled(&app(), event, &invocation()).await.unwrap();
    assert_eq!(failures(&answer), ["2", "3"]);
}

#[tokio::test]
async fn a_list_with_one_failed_request_fails_the_invocation_naming_it() {
    let event = json!({ "Jobs": [request("vol-1"), request("vol-fail"), request("vol-panic")] });
    let error = handled(&app(), event, &invocation()).await.unwrap_err();
    assert_eq!(
        error.error_type(),
        "ResourceNotFoundException",
        "the first failure's kind"
    );
    assert!(
        error.to_string().starts_with("2 of 3 requests failed"),
        "{}",
        error.to_string()
    );
    assert!(
        error.to_string().contains("Jobs[1]")
            && error.to_string().contains("vol-fail")
            && error.to_string().contains("no such volume")
    );
    assert!(error.to_string().contains("Jobs[2]") && error.to_string().contains("InternalError"));
    assert!(error.to_string().contains("1 started"));
}

#[tokio::test]
async fn a_bare_request_answers_one_result_and_a_list_answers_jobs() {
    let bare = handled(&app(), request("vol-1"), &invocation()).await.unwrap();
    assert_eq!(bare["Action"], "StartBackupJob");
    assert!(bare["BackupJobId"].as_str().unwrap().starts_with("job-"));
    assert_eq!(bare["IsParent"], false);
    assert!(bare.get("RecoveryPointArn").is_none(), "only when AWS returned one");
    let list = handled(
        &app(),
        json!({ "Jobs": [request("vol-1"), request("vol-2")] }),
        &invocation(),
    )
    .await
    .unwrap();
    assert_eq!(list["Jobs"].as_array().unwrap().len(), 2);
    assert_eq!(list.as_object().unwrap().len(), 1);
}

#[tokio::test]
async fn events_too_large_or_not_json_are_refused_before_parsing() {
    let big = format!("{{\"ResourceArn\": \"{}\"}}", "a".repeat(MAX_EVENT_BYTES));
    let error = handled_text(&app(), &big, &invocation()).await.unwrap_err();
    assert_eq!(error.error_type(), "ValidationError");
    assert!(error.to_string().contains("bytes"), "{}", error.to_string());
    let error = handled_text(&app(), "{", &invocation()).await.unwrap_err();
    assert!(error.to_string().contains("not JSON"));
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let error = handled_text(&app(), &deep, &invocation()).await.unwrap_err();
    assert_eq!(
        error.error_type(),
        "ValidationError",
        "nesting is refused, not a stack overflow"
    );
}

#[tokio::test]
async fn near_the_deadline_a_single_event_fails_naming_what_was_not_started() {
    let invocation = Invocation::new("req-2", Deadline::after(Duration::from_millis(500)));
    let error = handled(
        &app(),
        json!({ "Jobs": [request("vol-1"), request("vol-2")] }),
        &invocation,
    )
    .await
    .unwrap_err();
    assert_eq!(error.error_type(), "NotStarted");
    assert!(
        error.to_string().contains("Jobs[0]")
            && error.to_string().contains("Jobs[1]")
            && error.to_string().contains("not started"),
        "{}",
        error.to_string()
    );
}

/// Counts the most calls in flight at once, each taking 50 ms.
#[derive(Default)]
struct Counting {
    in_flight: std::sync::atomic::AtomicUsize,
    most: std::sync::atomic::AtomicUsize,
}

impl JobStarter for Counting {
    fn start<'a>(&'a self, _job: &'a Job) -> BoxFuture<'a, Outcome> {
        Box::pin(self.counted())
    }
}

impl Counting {
    async fn counted(&self) -> Outcome {
        use std::sync::atomic::Ordering::SeqCst;
        let now = self.in_flight.fetch_add(1, SeqCst) + 1;
        self.most.fetch_max(now, SeqCst);
        tokio::time::sleep(Duration::from_millis(50)).await;
        self.in_flight.fetch_sub(1, SeqCst);
        Outcome::Started(Started {
            job_id: "j".into(),
            is_parent: false,
            creation_date: None,
            recovery_point_arn: None,
        })
    }
}

#[tokio::test(start_paused = true)]
async fn max_concurrency_holds_across_the_messages_of_a_batch() {
    let settings = Settings {
        max_concurrency: 2,
        ..settings()
    };
    let counting = Arc::new(Counting::default());
    let app = Arc::new(app_with(&settings, Arc::clone(&counting) as Arc<dyn JobStarter>, None));
    let lists: Vec<(String, Value)> = (0..3)
        .map(|m| {
            (
                format!("m{m}"),
                json!({ "Jobs": (0..5).map(|j| request(&format!("vol-{m}-{j}"))).collect::<Vec<_>>() }),
            )
        })
        .collect();
    let bodies: Vec<(&str, Value)> = lists.iter().map(|(id, body)| (id.as_str(), body.clone())).collect();
    let answer = handled(&app, sqs("q", &bodies), &invocation()).await.unwrap();
    assert_eq!(failures(&answer), Vec::<&str>::new());
    assert_eq!(
        counting.most.load(std::sync::atomic::Ordering::SeqCst),
        2,
        "2 calls at once in the whole batch, not 2 per message"
    );
}

#[tokio::test(start_paused = true)]
async fn a_fifo_message_left_unstarted_at_the_deadline_fails_every_later_one() {
    let limiter = Arc::new(Limiter::new(CallsPerSecond::new(1.0)));
    let app = Arc::new(app_with(&settings(), Arc::new(Counting::default()), Some(limiter)));
    // One call a second and 4.5 s to the deadline: calls may start until 2.5 s, so
    // messages 1 to 3 start and message 4, in order, cannot.
    let bodies: Vec<(String, Value)> = (1..=6).map(|m| (m.to_string(), request(&format!("vol-{m}")))).collect();
    let bodies: Vec<(&str, Value)> = bodies.iter().map(|(id, body)| (id.as_str(), body.clone())).collect();
    let invocation = Invocation::new("req-3", Deadline::after(Duration::from_millis(4500)));
    let answer = handled(&app, sqs("q.fifo", &bodies), &invocation).await.unwrap();
    assert_eq!(failures(&answer), ["4", "5", "6"]);
}

#[tokio::test]
async fn a_skipped_state_change_answers_with_no_jobs_and_the_reason() {
    let event = json!({ "id": "e", "detail-type": "Backup Job State Change", "source": "aws.backup", "detail": { "state": "FAILED" } });
    let answer = handled(&app(), event, &invocation()).await.unwrap();
    assert_eq!(answer["Jobs"], json!([]));
    assert!(answer["Skipped"].as_str().unwrap().contains("FAILED"));
}

#[tokio::test(start_paused = true)]
async fn a_dry_run_is_not_paced() {
    // As app::aws_io makes a dry run: no limiter, whatever MAX_CALLS_PER_SECOND says.
    let app = Arc::new(app_with(&settings(), Arc::new(DryRun), None));
    let began = tokio::time::Instant::now();
    let jobs: Vec<Value> = (0..50).map(|i| request(&format!("vol-{i}"))).collect();
    let answer = handled(&app, json!({ "Jobs": jobs }), &invocation()).await.unwrap();
    assert_eq!(answer["Jobs"].as_array().unwrap().len(), 50);
    assert!(began.elapsed() < Duration::from_secs(1), "paced: {:?}", began.elapsed());
}

/// The metrics lines `handle_text` wrote for `event`, parsed.
async fn metrics_of(event: &Value) -> Vec<Value> {
    let lines = Arc::new(std::sync::Mutex::new(Vec::new()));
    let app = Arc::new(app_with(&settings(), Arc::new(Fake), None).with_metrics_sink(Sink::Memory(Arc::clone(&lines))));
    let _ = handle_text(&app, &event.to_string(), &invocation()).await;
    let lines = lines.lock().unwrap();
    lines.iter().map(|l| serde_json::from_str(l).unwrap()).collect()
}

#[tokio::test]
async fn each_invocation_writes_one_metrics_line_counting_what_it_did() {
    let batch = sqs(
        "q",
        &[
            ("ok", json!({ "Jobs": [request("vol-1"), request("vol-2")] })),
            ("aws-error", request("vol-fail")),
            ("invalid", json!({ "ResourceArn": "nope" })),
            ("panics", request("vol-panic")),
        ],
    );
    let lines = metrics_of(&batch).await;
    assert_eq!(lines.len(), 1);
    let m = &lines[0];
    assert_eq!(
        (
            &m["JobsStarted"],
            &m["JobsFailed"],
            &m["EventsRejected"],
            &m["MessagesFailed"]
        ),
        (&json!(2), &json!(2), &json!(1), &json!(3)),
        "{m}"
    );

    let lines = metrics_of(&json!({ "Jobs": [request("vol-1"), { "ResourceARN": "typo" }] })).await;
    assert_eq!(
        (&lines[0]["JobsStarted"], &lines[0]["EventsRejected"]),
        (&json!(0), &json!(1))
    );
    assert!(lines[0].get("MessagesFailed").is_none(), "not an SQS batch");

    let lines = metrics_of(&Value::String("not an object".into())).await;
    assert_eq!(lines.len(), 1, "a refused event still gets its line");
    assert_eq!(lines[0]["EventsRejected"], 1);
}
