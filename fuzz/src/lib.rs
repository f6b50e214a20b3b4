//! The harness shared by the fuzz targets: dry-run settings that set every default,
//! one runtime and one app for the whole run, a log sink, a generator of JSON that
//! looks like our events, and the checks every target makes.
//!
//! The checks are those of `tests/properties.rs` (the job invariants are the same
//! file, `tests/support/invariants.rs`): nothing panics (libFuzzer's panic hook
//! aborts on any panic, even one the handler contains), no error is an
//! `InternalError`, every error stays under 64 KiB, every log line is JSON, each
//! invocation writes one metrics line, and a tag value of the input never appears
//! in an answer, an error, a log or a metrics line. Tag values are recognised by a
//! marker, [`SECRET`]: when the marker appears in the input only as the value of a
//! `RecoveryPointTags` entry of a request, it must appear nowhere in what the
//! function says. Audits are checked against the harness's own model of the
//! listings the app reads ([`audits::Expected`]).

mod audits;

#[path = "../../tests/support/invariants.rs"]
mod invariants;

use std::collections::HashSet;
use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use arbitrary::{Arbitrary, Unstructured};
use backup_trigger::command::Command;
use backup_trigger::core::error::Error;
use backup_trigger::core::request::Job;
use backup_trigger::core::selection::{Selection, Verdict};
use backup_trigger::core::token::Origin;
use backup_trigger::handler::{self, App, Clock, Invocation};
use backup_trigger::io::send::Deadline;
use backup_trigger::report::metrics::Sink;
use backup_trigger::settings::Settings;
use backup_trigger::wiring;
use serde_json::{Map, Value};

use audits::NOW;
use invariants::assert_valid;

/// The marker tag value. Also in `fuzz/event.dict`, so libFuzzer inserts it.
pub const SECRET: &str = "tag-secret-0451";

/// The largest error message allowed, as in the property tests.
pub const MAX_ERROR: usize = 64 * 1024;

pub const VAULT_ARN: &str = "arn:aws:backup:eu-central-1:123456789012:backup-vault:Far";

/// An audit's answer lists at most this many findings, and a selection's or an
/// audit's answer at most this many of the requests a dry run would send.
pub const SHOWN: usize = 100;

/// `MaxAgeHours`: an hour to a year.
const MAX_AGE_HOURS: (i64, i64) = (1, 8_760);
/// `MaxRemediations`, and its value when absent.
const MAX_REMEDIATIONS: (i64, i64) = (1, 100_000);
const DEFAULT_MAX_REMEDIATIONS: usize = 1_000;

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

/// The function in a dry run, as `wiring::dry_run_io` makes one, reading files instead
/// of AWS: it starts and sends nothing, selections find the sample resources (and
/// the marker's, and the fleet's), audits read the sample listings (and the
/// fleet's); no request queue; its clock stands at [`NOW`].
fn app() -> &'static Arc<App> {
    static APP: OnceLock<Arc<App>> = OnceLock::new();
    APP.get_or_init(|| {
        // The function's own log set-up (JSON lines), writing into LOGS.
        backup_trigger::logging::init(|| LogSink);
        let settings = settings();
        assert!(settings.request_queue_url.is_none(), "the harness has no request queue");
        let io = wiring::dry_run_io(
            &settings,
            Arc::new(audits::inventory()),
            Arc::new(audits::listings()),
        );
        Arc::new(
            wiring::app(&settings, io)
                .with_metrics_sink(Sink::Memory(Arc::clone(metrics())))
                .with_clock(Clock::Fixed(NOW)),
        )
    })
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

/// What the handler said of one event: its answer (as JSON), its log lines and its
/// metrics lines.
pub struct Said {
    pub answer: Result<Value, Error>,
    pub logs: String,
    pub metrics: Vec<String>,
}

/// The request id the handler is given; tokens derive from it.
pub const REQUEST_ID: &str = "fuzz-request";

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
            if let Some(jobs) = answer.get("Selection").and(answer.get("Jobs")) {
                let shown = jobs.as_array().expect("a selection's Jobs is an array").len();
                assert!(shown <= SHOWN, "a selection's answer shows {shown} requests");
            }
            if answer.get("Audit").is_some() {
                let event = parsed.as_ref().expect("an audit's answer comes from JSON");
                check_audit_answer(event, answer);
            }
        }
        Err(error) => {
            // A panic is caught by the handler and reported as InternalError; libFuzzer's
            // hook aborts first, but a contained failure must not pass unnoticed either.
            // In a dry run with every default set, an event is refused or it is not.
            let error_type = error.error_type();
            assert!(
                error_type == "ValidationError" || error_type == "ConfigError",
                "error type {error_type}: {error}"
            );
            let message = error.to_string();
            assert!(message.len() < MAX_ERROR, "an error of {} bytes", message.len());
        }
    }
    let mut lines = Vec::new();
    for line in said.logs.lines() {
        let line: Value = serde_json::from_str(line).expect("every log line is JSON");
        assert!(line.is_object(), "a log line is a JSON object");
        assert_ne!(line["error_type"], "InternalError", "a contained failure: {line}");
        lines.push(line);
    }
    check_audit_lines(parsed.as_ref(), &lines);
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
            Err(error) => format!("{} {error}", error.error_type()),
        };
        assert!(!shown.contains(SECRET), "a tag value in the answer: {shown}");
        assert!(!said.logs.contains(SECRET), "a tag value in the log");
        assert!(!said.metrics[0].contains(SECRET), "a tag value in the metrics line");
    }
}

/// The audit of an event read as the handler reads it (None: the event is no audit).
fn audit_of(event: &Value, message_id: Option<&str>) -> Option<backup_trigger::command::audit::Audit> {
    let origin = Origin {
        request_id: REQUEST_ID,
        message_id,
    };
    match Command::read(event, &origin, &settings().defaults()) {
        Ok(Command::Audit(audit)) => Some(audit),
        _ => None,
    }
}

/// An audit's counts, from its answer or its log line.
#[derive(Debug, PartialEq, Eq)]
struct Counts {
    found: u64,
    matched: u64,
    audited: u64,
    protected: u64,
    in_progress: u64,
    unprotected: u64,
    remediated: u64,
}

impl Counts {
    fn read(value: &Value, names: [&str; 7]) -> Counts {
        let n = |name: &str| {
            value[name]
                .as_u64()
                .unwrap_or_else(|| panic!("an audit's {name} is a count: {value}"))
        };
        Counts {
            found: n(names[0]),
            matched: n(names[1]),
            audited: n(names[2]),
            protected: n(names[3]),
            in_progress: n(names[4]),
            unprotected: n(names[5]),
            remediated: n(names[6]),
        }
    }

    /// What holds of every audit, whatever it read and whatever became of its
    /// remediation: each audited resource counted once, remediation only of
    /// unprotected ones and never more than asked, and the counts those of the
    /// harness's model of the listings.
    fn check(&self, audit: &backup_trigger::command::audit::Audit) -> audits::Expected {
        assert_eq!(
            self.audited,
            self.protected + self.in_progress + self.unprotected,
            "Audited = Protected + InProgress + Unprotected: {self:?}"
        );
        assert!(self.audited <= self.matched && self.matched <= self.found, "{self:?}");
        let rule = audit.audit();
        assert!(
            self.remediated <= self.unprotected,
            "Remediated beyond Unprotected: {self:?}"
        );
        assert!(
            self.remediated <= rule.max_remediations as u64,
            "Remediated beyond MaxRemediations {}: {self:?}",
            rule.max_remediations
        );
        if !rule.remediate {
            assert_eq!(self.remediated, 0, "remediated without Remediate");
        }
        let expected = audits::Expected::of(audit.selection(), rule);
        assert_eq!(
            (self.audited, self.protected, self.in_progress, self.unprotected),
            (
                expected.audited as u64,
                expected.protected as u64,
                expected.in_progress as u64,
                expected.unprotected as u64
            ),
            "the counts of an audit at MaxAgeHours {} (Audited, Protected, InProgress, Unprotected)",
            rule.max_age_hours
        );
        expected
    }
}

/// An audit's answer: its counts, its findings (at most [`SHOWN`], those of the
/// model, oldest first), and, in a dry run where every request would start, the
/// remediations: exactly the oldest unprotected resources, up to `MaxRemediations`,
/// the first [`SHOWN`] of them shown as requests.
fn check_audit_answer(event: &Value, answer: &Value) {
    let audit = audit_of(event, None).expect("an audit's answer comes from an event read as an audit");
    let counts = Counts::read(
        &answer["Audit"],
        [
            "Found",
            "Matched",
            "Audited",
            "Protected",
            "InProgress",
            "Unprotected",
            "Remediated",
        ],
    );
    let expected = counts.check(&audit);
    let findings = answer["Findings"].as_array().expect("an audit's Findings is an array");
    assert!(findings.len() <= SHOWN, "{} findings shown", findings.len());
    assert_eq!(
        findings.len() as u64,
        (counts.in_progress + counts.unprotected).min(SHOWN as u64),
        "every resource not protected is a finding, up to {SHOWN}"
    );
    let shown: Vec<audits::Finding> = findings
        .iter()
        .map(|f| audits::Finding {
            arn: f["ResourceArn"].as_str().expect("a finding's ARN").to_owned(),
            last_backup: f["LastBackupTime"]
                .as_str()
                .map(|t| backup_trigger::core::time::Timestamp::parse_rfc3339(t).expect("RFC 3339")),
            in_progress: f["InProgress"].as_bool().expect("InProgress"),
            last_job_state: f["LastJobState"].as_str().map(str::to_owned),
        })
        .collect();
    let want: Vec<audits::Finding> = expected.findings.iter().take(SHOWN).cloned().collect();
    assert_eq!(shown, want, "the findings, oldest first");
    // Nothing fails in a dry run: every request chosen would start.
    assert_eq!(
        counts.remediated,
        expected.remediated.len() as u64,
        "Remediated: the unprotected ones up to MaxRemediations"
    );
    let jobs = answer["Jobs"].as_array().expect("an audit's Jobs is an array");
    assert!(jobs.len() <= SHOWN, "an audit's answer shows {} requests", jobs.len());
    let asked: Vec<&str> = jobs
        .iter()
        .map(|j| {
            assert_eq!(j["DryRun"], true, "a dry run's request: {j}");
            j["ResourceArn"].as_str().expect("a remediation is a backup")
        })
        .collect();
    let want: Vec<&str> = expected.remediated.iter().take(SHOWN).map(String::as_str).collect();
    assert_eq!(asked, want, "the remediation requests: the oldest unprotected first");
}

/// Every audit of the invocation, an SQS message's too, logs one line of counts:
/// those must hold of it whatever became of its remediation.
fn check_audit_lines(event: Option<&Value>, lines: &[Value]) {
    let Some(event) = event else {
        return;
    };
    for line in lines.iter().filter(|l| l["message"] == "audit") {
        let Some(body) = event_of(event, line["message_id"].as_str()) else {
            continue;
        };
        let audit = audit_of(&body, line["message_id"].as_str()).expect("an audit's line comes from an audit");
        Counts::read(
            line,
            [
                "found",
                "matched",
                "audited",
                "protected",
                "in_progress",
                "unprotected",
                "remediated",
            ],
        )
        .check(&audit);
    }
}

/// The event a log line is about: the invocation's, or the body of the SQS message
/// `message_id` (None when two messages share that id with different bodies).
fn event_of(event: &Value, message_id: Option<&str>) -> Option<Value> {
    let Some(id) = message_id else {
        return Some(event.clone());
    };
    let bodies: HashSet<&str> = event["Records"]
        .as_array()?
        .iter()
        .filter(|r| r["messageId"] == id)
        .filter_map(|r| r["body"].as_str())
        .collect();
    match bodies.len() {
        1 => serde_json::from_str(bodies.into_iter().next()?).ok(),
        _ => None,
    }
}

/// Reads an event as the handler does, without running it: a single event, or each
/// message of an SQS batch. Checks every accepted job and bounds every error.
pub fn check_plan(event: Value) {
    let hidden = secret_hidden(&event);
    let defaults = settings().defaults();
    let check = |body: &Value, message_id: Option<&str>| {
        let origin = Origin {
            request_id: REQUEST_ID,
            message_id,
        };
        let command = match Command::read(body, &origin, &defaults) {
            Ok(command) => command,
            Err(rejected) => return check_error(&rejected.error.to_string(), hidden),
        };
        let shown = format!("{command:?}");
        assert!(shown.len() < MAX_ERROR, "a command's Debug of {} bytes", shown.len());
        assert!(
            !(hidden && shown.contains(SECRET)),
            "a tag value in a command's Debug: {shown}"
        );
        match &command {
            Command::Jobs(jobs) => check_jobs(jobs.jobs(), hidden),
            Command::Outcome(outcome) => match outcome.copy() {
                Ok(copy) => check_jobs(&copy.into_iter().cloned().collect::<Vec<_>>(), hidden),
                Err(error) => check_error(&error.to_string(), hidden),
            },
            Command::Selection(selection) => check_selected(selection.selection(), hidden),
            Command::Audit(audit) => {
                check_audit_read(body, audit.audit());
                check_selected(audit.selection(), hidden);
            }
        }
    };
    match event.get("Records") {
        Some(Value::Array(records)) => {
            for record in records {
                let body = record["body"]
                    .as_str()
                    .and_then(|b| serde_json::from_str::<Value>(b).ok());
                if let (Some(id), Some(body)) = (record["messageId"].as_str(), body) {
                    check(&body, Some(id));
                }
            }
        }
        // Not an SQS batch the handler would split: read as it is (and refused).
        _ => check(&event, None),
    }
}

fn check_error(text: &str, hidden: bool) {
    assert!(text.len() < MAX_ERROR, "an error of {} bytes", text.len());
    assert!(!(hidden && text.contains(SECRET)), "a tag value in an error: {text}");
}

/// Accepted jobs: at most 1,000, one token each, every rule kept, and no tag value
/// in what a dry run shows of them.
fn check_jobs(jobs: &[Job], hidden: bool) {
    assert!(jobs.len() <= 1000, "{} jobs", jobs.len());
    let mut tokens: Vec<&str> = jobs.iter().map(Job::idempotency_token).collect();
    tokens.sort_unstable();
    tokens.dedup();
    assert_eq!(tokens.len(), jobs.len(), "two requests of one event share a token");
    for job in jobs {
        assert_valid(job, VAULT_ARN);
        if hidden {
            // A job's own JSON carries its tag values: it is what the request queue
            // is sent. What a dry run shows is the redacted job.
            let shown = format!(
                "{job:?} {}",
                serde_json::to_string(&job.redacted()).expect("a job serialises")
            );
            assert!(!shown.contains(SECRET), "a tag value in a job's Debug or JSON: {shown}");
        }
    }
}

/// A selection's (or an audit's) request for every resource of the file it selects:
/// made, for that resource, with the resource's own token. Every request is the
/// selection's one template with the ARN and token changed, so the rules and the
/// marker are checked on the first few only (the fleet would make every selection
/// that matches it check a hundred identical requests).
fn check_selected(selection: &Selection, hidden: bool) {
    let jobs: Vec<Job> = audits::resources()
        .iter()
        .filter(|r| matches!(selection.verdict(r), Verdict::Selected(_)))
        .map(|r| {
            let job = selection
                .job_for(&r.arn)
                .unwrap_or_else(|problem| panic!("a selection's request for {} is invalid: {problem}", r.arn));
            assert_eq!(job.subject_arn(), r.arn, "a request for the resource selected");
            assert_eq!(job.idempotency_token(), selection.source().resource_token(&r.arn));
            job
        })
        .collect();
    let mut tokens: Vec<&str> = jobs.iter().map(Job::idempotency_token).collect();
    tokens.sort_unstable();
    tokens.dedup();
    assert_eq!(tokens.len(), jobs.len(), "two resources of one selection share a token");
    check_jobs(&jobs[..jobs.len().min(3)], hidden);
}

/// An audit read: its fields within their bounds, and those the event gave.
fn check_audit_read(event: &Value, audit: &backup_trigger::core::audit::Audit) {
    let within = |n: i64, (low, high): (i64, i64)| low <= n && n <= high;
    assert!(within(audit.max_age_hours, MAX_AGE_HOURS), "{audit:?}");
    assert!(within(audit.max_remediations as i64, MAX_REMEDIATIONS), "{audit:?}");
    let detail = if event.get("detail-type").is_some() {
        &event["detail"]
    } else {
        event
    };
    let given = &detail["Audit"];
    assert_eq!(Some(audit.max_age_hours), given["MaxAgeHours"].as_i64(), "{audit:?}");
    let max_remediations = given["MaxRemediations"]
        .as_i64()
        .map_or(DEFAULT_MAX_REMEDIATIONS, |n| n as usize);
    assert_eq!(audit.max_remediations, max_remediations, "{audit:?}");
    assert_eq!(
        audit.remediate,
        given["Remediate"].as_bool().unwrap_or(false),
        "{audit:?}"
    );
}

/// Whether an SQS message's body succeeds, as the handler reads it: None for a
/// selection or an audit, which read listings and whose fate depends on what they
/// find.
pub fn body_plans(body: &str, message_id: &str) -> Option<bool> {
    let Ok(event) = serde_json::from_str::<Value>(body) else {
        return Some(false);
    };
    let origin = Origin {
        request_id: REQUEST_ID,
        message_id: Some(message_id),
    };
    match Command::read(&event, &origin, &settings().defaults()) {
        Err(_) => Some(false),
        // Every request of a dry run would start.
        Ok(Command::Jobs(_)) => Some(true),
        Ok(Command::Outcome(outcome)) => Some(outcome.copy().is_ok()),
        Ok(Command::Selection(_) | Command::Audit(_)) => None,
    }
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
    "Audit",
    "MaxAgeHours",
    "Remediate",
    "MaxRemediations",
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
    "fleet",
    "aws:ResourceTag/owner",
    "arn:aws:dynamodb:eu-west-1:123456789012:table/fleet-*",
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
    // MaxAgeHours, MaxRemediations
    26,
    8_760,
    8_761,
    1_000,
    1_001,
    100_000,
    100_001,
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
