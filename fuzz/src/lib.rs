//! The harness shared by the fuzz targets: dry-run settings that set every default,
//! one runtime and one app for the whole run, a log sink, a generator of JSON that
//! looks like our events, and the checks every target makes.
//!
//! The checks are those of `tests/properties.rs`: nothing panics (libFuzzer's panic
//! hook aborts on any panic, even one the handler contains), every error stays under
//! 64 KiB, every log line is JSON, each invocation writes one metrics line, and a tag
//! value of the input never appears in an answer, an error, a log or a metrics line.
//! Tag values are recognised by a marker, [`SECRET`]: when the marker appears in the
//! input only as the value of a `RecoveryPointTags` entry of a request, it must
//! appear nowhere in what the function says.

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use arbitrary::{Arbitrary, Unstructured};
use backup_trigger::answer::HandlerError;
use backup_trigger::event::{self, Incoming, Origin};
use backup_trigger::handler::{self, App, Invocation};
use backup_trigger::inventory::ResourceFile;
use backup_trigger::metrics::Sink;
use backup_trigger::request::{rules, Job};
use backup_trigger::resolve::Sources;
use backup_trigger::send::{Deadline, DryRun};
use backup_trigger::settings::Settings;
use serde_json::{Map, Value};

/// The marker tag value. Also in `fuzz/event.dict`, so libFuzzer inserts it.
pub const SECRET: &str = "tag-secret-0451";

/// The largest error message allowed, as in the property tests.
pub const MAX_ERROR: usize = 64 * 1024;

pub const VAULT_ARN: &str = "arn:aws:backup:eu-central-1:123456789012:backup-vault:Far";

/// Every default set, so that requests that leave fields out reach the deep paths.
pub fn settings() -> Settings {
    Settings {
        backup_vault_name: Some("Default".into()),
        backup_iam_role_arn: Some("arn:aws:iam::123456789012:role/Backup".into()),
        copy_destination_vault_arn: Some(VAULT_ARN.into()),
        allowed_destination_vault_arns: Some(vec![VAULT_ARN.into()]),
        dry_run: true,
        ..Settings::default()
    }
}

fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a current-thread runtime")
    })
}

fn app() -> &'static Arc<App<DryRun>> {
    static APP: OnceLock<Arc<App<DryRun>>> = OnceLock::new();
    APP.get_or_init(|| {
        // The function's own log set-up (JSON lines), writing into LOGS.
        backup_trigger::logging::init(|| LogSink);
        Arc::new(
            App::new(settings(), DryRun)
                .with_metrics_sink(Sink::Memory(Arc::clone(metrics())))
                .with_sources(Sources {
                    inventory: Arc::new(inventory()),
                    queue: None,
                }),
        )
    })
}

/// Where selections find resources: the dry run's sample resources, and one whose
/// tag value is the marker (a resource's tag values are never shown either).
fn inventory() -> ResourceFile {
    let mut listing: Value =
        serde_json::from_str(include_str!("../../events/local/resources.json")).expect("the sample resources are JSON");
    if let Some(Value::Array(resources)) = listing.get_mut("ResourceTagMappingList") {
        resources.push(serde_json::json!({
            "ResourceARN": "arn:aws:ec2:eu-west-1:123456789012:volume/vol-0fuzz",
            "Tags": [{ "Key": "stage", "Value": "prod" }, { "Key": "backup", "Value": SECRET }],
        }));
    }
    ResourceFile::parse(&listing.to_string()).expect("the sample resources read")
}

/// The metrics lines written during one run.
fn metrics() -> &'static Arc<Mutex<Vec<String>>> {
    static METRICS: OnceLock<Arc<Mutex<Vec<String>>>> = OnceLock::new();
    METRICS.get_or_init(Arc::default)
}

/// What the function logged during one run. libFuzzer runs one input at a time and
/// the runtime has one thread, so one buffer is enough.
static LOGS: Mutex<Vec<u8>> = Mutex::new(Vec::new());

struct LogSink;

impl Write for LogSink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        LOGS.lock().unwrap_or_else(|e| e.into_inner()).extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// What the handler said of one event: its answer, its log lines and its metrics lines.
pub struct Said {
    pub answer: Result<Value, HandlerError>,
    pub logs: String,
    pub metrics: Vec<String>,
}

/// Runs the whole handler in dry run on an event's text, as Lambda delivers it.
pub fn handle_text(text: &str) -> Said {
    let app = app();
    LOGS.lock().unwrap_or_else(|e| e.into_inner()).clear();
    metrics().lock().unwrap_or_else(|e| e.into_inner()).clear();
    let answer = runtime().block_on(async {
        let invocation = Invocation::new(REQUEST_ID, Deadline::after(Duration::from_secs(60)));
        handler::handle_text(app, text, &invocation).await
    });
    // An answer that cannot be serialised would be a bug: the panic reports it.
    let answer = answer.map(|a| serde_json::to_value(a).expect("an answer serialises"));
    let logs = String::from_utf8_lossy(&LOGS.lock().unwrap_or_else(|e| e.into_inner())).into_owned();
    let metrics = std::mem::take(&mut *metrics().lock().unwrap_or_else(|e| e.into_inner()));
    Said { answer, logs, metrics }
}

/// The checks of every handler run. `input` is the event's text.
pub fn check_said(input: &str, said: &Said) {
    let parsed: Option<Value> = serde_json::from_str(input).ok();
    match &said.answer {
        Ok(answer) => {
            if let Some(failures) = answer.get("batchItemFailures") {
                let ids = message_ids(parsed.as_ref());
                let failures = failures.as_array().expect("batchItemFailures is an array");
                assert!(failures.len() <= ids.len(), "more failures than messages");
                for failure in failures {
                    let id = failure["itemIdentifier"].as_str().expect("itemIdentifier is a string");
                    assert!(ids.contains(&id), "an unknown id in batchItemFailures");
                }
            } else {
                assert!(
                    !parsed.as_ref().is_some_and(|p| p.get("Records").is_some()),
                    "an SQS event answered without batchItemFailures"
                );
            }
        }
        Err(error) => {
            // A panic is caught by the handler and reported as InternalError; libFuzzer's
            // hook aborts first, but a contained failure must not pass unnoticed either.
            assert!(
                error.error_type == "ValidationError" || error.error_type == "ConfigError",
                "error type {}",
                error.error_type
            );
            assert!(
                error.message.len() < MAX_ERROR,
                "an error of {} bytes",
                error.message.len()
            );
        }
    }
    for line in said.logs.lines() {
        let line: Value = serde_json::from_str(line).expect("every log line is JSON");
        assert!(line.is_object(), "a log line is a JSON object");
    }
    assert_eq!(
        said.metrics.len(),
        1,
        "one metrics line per invocation, whatever the event"
    );
    let metrics: Value = serde_json::from_str(&said.metrics[0]).expect("the metrics line is JSON");
    assert_eq!(metrics["JobsStarted"], 0, "a dry run starts nothing");
    let hidden = match &parsed {
        Some(event) => secret_hidden(event),
        None => !input.contains(SECRET),
    };
    if hidden {
        let shown = match &said.answer {
            Ok(answer) => answer.to_string(),
            Err(error) => format!("{} {}", error.error_type, error.message),
        };
        assert!(!shown.contains(SECRET), "a tag value in the answer: {shown}");
        assert!(!said.logs.contains(SECRET), "a tag value in the log");
        assert!(!said.metrics[0].contains(SECRET), "a tag value in the metrics line");
    }
}

/// The request id the handler is given; tokens derive from it.
pub const REQUEST_ID: &str = "fuzz-request";

/// Plans an event as the handler does, without running it: a single event, or each
/// message of an SQS batch. Checks every accepted job and bounds every error.
pub fn check_plan(event: Value) {
    let hidden = secret_hidden(&event);
    let settings = settings();
    let check = |planned: Planned| match planned {
        Planned::Plan(plan) => {
            assert!(plan.jobs.len() <= 1000, "{} jobs", plan.jobs.len());
            let mut tokens: Vec<&str> = plan.jobs.iter().map(Job::idempotency_token).collect();
            tokens.sort_unstable();
            tokens.dedup();
            assert_eq!(tokens.len(), plan.jobs.len(), "two requests of one event share a token");
            for job in &plan.jobs {
                assert_valid(job);
            }
            if hidden {
                let shown = format!(
                    "{plan:?} {}",
                    serde_json::to_string(&plan.jobs).expect("jobs serialise")
                );
                assert!(
                    !shown.contains(SECRET),
                    "a tag value in a plan's Debug or JSON: {shown}"
                );
            }
        }
        Planned::Selection(shown) => {
            assert!(shown.len() < MAX_ERROR, "a selection's Debug of {} bytes", shown.len());
            assert!(
                !(hidden && shown.contains(SECRET)),
                "a tag value in a selection's Debug: {shown}"
            );
        }
        Planned::Error(text) => {
            assert!(text.len() < MAX_ERROR, "an error of {} bytes", text.len());
            assert!(!(hidden && text.contains(SECRET)), "a tag value in an error: {text}");
        }
    };
    match event::classify(event) {
        Ok(Incoming::Single(single)) => check(plan_one(&single, None, &settings)),
        Ok(Incoming::Sqs(batch)) => {
            for message in batch.messages {
                match message.body {
                    Ok(body) => check(plan_one(&body, Some(&message.id), &settings)),
                    Err(error) => check(Planned::Error(error.to_string())),
                }
            }
        }
        Err(error) => check(Planned::Error(error.to_string())),
    }
}

/// What the handler makes of one event before any I/O.
enum Planned {
    Plan(event::Plan),
    /// A selection that reads, shown by its `Debug` (resolving it is I/O).
    Selection(String),
    Error(String),
}

/// Plans an event as the handler does: a selection is read, anything else planned;
/// a plan that carries a refusal is that error.
fn plan_one(event: &Value, message_id: Option<&str>, settings: &Settings) -> Planned {
    let origin = Origin {
        request_id: REQUEST_ID,
        message_id,
    };
    if let Some(selection) = event::selection(event, &origin, settings) {
        return match selection {
            Ok(selection) => Planned::Selection(format!("{selection:?}")),
            Err(error) => Planned::Error(error.to_string()),
        };
    }
    match event::plan(event, &origin, settings) {
        Ok(plan) => match plan.refused {
            Some(error) => Planned::Error(error.to_string()),
            None => Planned::Plan(plan),
        },
        Err(error) => Planned::Error(error.to_string()),
    }
}

/// Whether an SQS message's body succeeds, as the handler plans it: None for a
/// selection that reads, whose fate depends on what it finds.
pub fn body_plans(body: &str, message_id: &str) -> Option<bool> {
    let Ok(event) = serde_json::from_str::<Value>(body) else {
        return Some(false);
    };
    let origin = Origin {
        request_id: REQUEST_ID,
        message_id: Some(message_id),
    };
    if let Some(selection) = event::selection(&event, &origin, &settings()) {
        return selection.is_err().then_some(false);
    }
    Some(matches!(
        plan_one(&event, Some(message_id), &settings()),
        Planned::Plan(_)
    ))
}

/// What the property tests check of an accepted job: every field obeys its rule, and
/// a copy goes only to the allowed vault.
fn assert_valid(job: &Job) {
    match job {
        Job::StartBackupJob(b) => {
            assert!(rules::arn(b.resource_arn()).is_ok());
            assert!(rules::vault_name(b.backup_vault_name()).is_ok());
            assert!(rules::iam_role_arn(b.iam_role_arn()).is_ok());
            if let Some(w) = b.start_window_minutes() {
                assert!(rules::within(w, rules::START_WINDOW).is_ok());
            }
            if let Some(w) = b.complete_window_minutes() {
                assert!(rules::within(w, rules::COMPLETE_WINDOW).is_ok());
            }
            if let Some(tags) = b.recovery_point_tags() {
                assert!(tags.iter().count() <= rules::MAX_TAGS);
                assert!(tags
                    .iter()
                    .all(|(k, v)| rules::tag_key(k).is_ok() && rules::tag_value(v).is_ok()));
            }
        }
        Job::StartCopyJob(c) => {
            assert!(rules::arn(c.recovery_point_arn()).is_ok());
            assert!(rules::vault_name(c.source_backup_vault_name()).is_ok());
            assert_eq!(
                c.destination_backup_vault_arn(),
                VAULT_ARN,
                "only the allowed destination"
            );
            assert!(rules::iam_role_arn(c.iam_role_arn()).is_ok());
        }
    }
    assert!(!job.idempotency_token().is_empty());
}

/// The message ids of an SQS event.
pub fn message_ids(event: Option<&Value>) -> Vec<&str> {
    event
        .and_then(|e| e.get("Records"))
        .and_then(Value::as_array)
        .map(|records| records.iter().filter_map(|r| r.get("messageId")?.as_str()).collect())
        .unwrap_or_default()
}

/// True when [`SECRET`] is in the event only as a tag value of a request (in
/// `RecoveryPointTags` of the event itself, of a request of its `Jobs`, of its
/// `detail` or of a request of `detail.Jobs`, at the top level or in an SQS message's
/// body) or not at all: then it must not be shown, for it is a tag value of the
/// input or of a resource of the inventory. Anywhere else in the input the marker is
/// an ordinary value, which errors may quote.
pub fn secret_hidden(event: &Value) -> bool {
    let mut stripped = event.clone();
    if let Some(Value::Array(records)) = stripped.get_mut("Records") {
        for record in records {
            if let Some(body) = record.get_mut("body") {
                if let Some(Ok(mut inner)) = body.as_str().map(serde_json::from_str::<Value>) {
                    strip_tags(&mut inner);
                    *body = Value::String(inner.to_string());
                }
            }
        }
    }
    strip_tags(&mut stripped);
    !stripped.to_string().contains(SECRET)
}

/// Replaces the tag values of an event's requests by null (their keys stay: keys
/// are not secret, and errors quote them).
fn strip_tags(event: &mut Value) {
    fn request(request: &mut Value) {
        if let Some(Value::Object(tags)) = request.get_mut("RecoveryPointTags") {
            for value in tags.values_mut() {
                *value = Value::Null;
            }
        }
    }
    fn list_or_request(value: &mut Value) {
        request(value);
        if let Some(Value::Array(jobs)) = value.get_mut("Jobs") {
            jobs.iter_mut().for_each(request);
        }
    }
    list_or_request(event);
    if let Some(detail) = event.get_mut("detail") {
        list_or_request(detail);
    }
}

/// Field names the readers look for, so that generated objects often look like events.
pub const KEYS: &[&str] = &[
    "Action",
    "ResourceArn",
    "BackupVaultName",
    "LogicallyAirGappedBackupVaultArn",
    "RecoveryPointArn",
    "SourceBackupVaultName",
    "DestinationBackupVaultArn",
    "IamRoleArn",
    "IdempotencyToken",
    "StartWindowMinutes",
    "CompleteWindowMinutes",
    "Lifecycle",
    "MoveToColdStorageAfterDays",
    "DeleteAfterDays",
    "OptInToArchiveForSupportedResources",
    "DeleteAfterEvent",
    "RecoveryPointTags",
    "BackupOptions",
    "WindowsVSS",
    "Index",
    "Jobs",
    "IdempotencyKey",
    "version",
    "detail-type",
    "source",
    "detail",
    "id",
    "account",
    "region",
    "resources",
    "state",
    "backupVaultName",
    "backupVaultArn",
    "recoveryPointArn",
    "Records",
    "messageId",
    "receiptHandle",
    "body",
    "attributes",
    "messageAttributes",
    "md5OfBody",
    "eventSource",
    "eventSourceARN",
    "awsRegion",
    "time",
    "Selection",
    "SelectionName",
    "Resources",
    "NotResources",
    "ListOfTags",
    "ConditionType",
    "ConditionKey",
    "ConditionValue",
    "Conditions",
    "StringEquals",
    "StringNotEquals",
    "StringLike",
    "StringNotLike",
];

/// Values the readers look for.
pub const STRINGS: &[&str] = &[
    "StartBackupJob",
    "StartCopyJob",
    "COMPLETED",
    "RUNNING",
    "aws.backup",
    "Backup Job State Change",
    "Backup Request",
    "aws:sqs",
    "ENABLED",
    "DISABLED",
    "enabled",
    "Default",
    "arn:aws:ec2:eu-west-1:123456789012:volume/vol-1",
    "arn:aws:rds:eu-west-1:123456789012:db:orders",
    "arn:aws:s3:::bucket",
    "arn:aws:ec2:eu-west-1::snapshot/snap-1",
    "arn:aws:backup:eu-west-1:123456789012:recovery-point:1EB3B5E7-9EB0-435A-A80B-108B488B0D45",
    "arn:aws:iam::123456789012:role/Backup",
    VAULT_ARN,
    "arn:aws:backup:eu-central-1:999999999999:backup-vault:Evil",
    "arn:aws:backup:eu-west-1:123456789012:backup-vault:Default",
    "arn:aws:sqs:eu-west-1:123456789012:q.fifo",
    "arn:aws:sqs:eu-west-1:123456789012:q",
    "arn:aws:",
    "arn:aws-cn:",
    "",
    " ",
    "é",
    "\u{0}",
    "aws:x",
    "aws:owner",
    "0",
    "2026-11-22T03:00:00Z",
    "m-1",
    "STRINGEQUALS",
    "aws:ResourceTag/stage",
    "aws:ResourceTag/backup",
    "stage",
    "prod",
    "test-*",
    "*",
    "arn:aws:dynamodb:*:*:table/*",
    "arn:aws:ec2:*:*:volume/*",
    SECRET,
];

/// A JSON value built from fuzzer bytes: shaped like our events more often than
/// random text is, with the marker as a likely tag value.
#[derive(Debug, Arbitrary)]
pub enum Node {
    Null,
    Bool(bool),
    Number(Number),
    Text(Text),
    Array(Vec<Node>),
    Object(Vec<(Key, Node)>),
    /// `RecoveryPointTags`-like: an object of strings.
    Tags(Vec<(Text, Text)>),
    /// JSON text inside a string, as an SQS body is.
    Json(Box<Node>),
}

#[derive(Debug, Arbitrary)]
pub enum Number {
    Interesting(u8),
    Int(i64),
    Float(f64),
}

const NUMBERS: &[i64] = &[
    -1,
    0,
    1,
    59,
    60,
    89,
    90,
    91,
    36_500,
    36_501,
    52_560_000,
    52_560_001,
    i64::MAX,
    i64::MIN,
];

#[derive(Debug, Arbitrary)]
pub enum Text {
    Known(u8),
    Key(u8),
    Secret,
    Free(String),
}

#[derive(Debug, Arbitrary)]
pub enum Key {
    Known(u8),
    Free(String),
}

/// Deeper nodes become null: the readers' depth is bounded by serde_json's 128
/// levels when text is parsed, and nothing here needs more.
const MAX_DEPTH: usize = 12;

impl Text {
    pub fn text(&self) -> String {
        match self {
            Text::Known(i) => STRINGS[usize::from(*i) % STRINGS.len()].to_owned(),
            Text::Key(i) => KEYS[usize::from(*i) % KEYS.len()].to_owned(),
            Text::Secret => SECRET.to_owned(),
            Text::Free(s) => s.clone(),
        }
    }
}

impl Key {
    pub fn text(&self) -> String {
        match self {
            Key::Known(i) => KEYS[usize::from(*i) % KEYS.len()].to_owned(),
            Key::Free(s) => s.clone(),
        }
    }
}

impl Node {
    pub fn to_value(&self) -> Value {
        self.at_depth(0)
    }

    fn at_depth(&self, depth: usize) -> Value {
        if depth > MAX_DEPTH {
            return Value::Null;
        }
        match self {
            Node::Null => Value::Null,
            Node::Bool(b) => Value::Bool(*b),
            Node::Number(Number::Interesting(i)) => Value::from(NUMBERS[usize::from(*i) % NUMBERS.len()]),
            Node::Number(Number::Int(i)) => Value::from(*i),
            Node::Number(Number::Float(f)) => serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number),
            Node::Text(t) => Value::String(t.text()),
            Node::Array(items) => Value::Array(items.iter().map(|n| n.at_depth(depth + 1)).collect()),
            Node::Object(pairs) => Value::Object(
                pairs
                    .iter()
                    .map(|(k, v)| (k.text(), v.at_depth(depth + 1)))
                    .collect::<Map<String, Value>>(),
            ),
            Node::Tags(pairs) => {
                Value::Object(pairs.iter().map(|(k, v)| (k.text(), Value::String(v.text()))).collect())
            }
            Node::Json(inner) => Value::String(inner.at_depth(depth + 1).to_string()),
        }
    }
}

/// A generated JSON value from the rest of the fuzzer's bytes.
pub fn generated(data: &[u8]) -> Option<Value> {
    Node::arbitrary_take_rest(Unstructured::new(data))
        .ok()
        .map(|n| n.to_value())
}
