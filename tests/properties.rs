//! Property tests of everything that reads input: no input may panic, hang or cost
//! without bound, and what is accepted is valid. A fixed seed keeps CI repeatable;
//! `PROPTEST_CASES=100000 cargo test --test properties` runs a longer search (see
//! docs/reference.md, "Hostile input and limits").

use std::sync::{Arc, Mutex};
use std::time::Duration;

use backup_trigger::command::Command;
use backup_trigger::core::request::Job;
use backup_trigger::core::token::Origin;
use backup_trigger::handler::App;
use backup_trigger::handler::{self, Invocation};
use backup_trigger::io::inventory::ResourceFile;
use backup_trigger::io::listings::ListingFiles;
use backup_trigger::io::send::{Deadline, DryRun};
use backup_trigger::io::Io;
use backup_trigger::report::metrics::Sink;
use backup_trigger::settings::Settings;
use backup_trigger::wiring::app;
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};
use serde_json::{json, Map, Value};

#[path = "support/invariants.rs"]
mod invariants;
use invariants::assert_valid;

#[path = "properties/audits.rs"]
mod audits;

const TAG_SECRET: &str = "tag-secret-0451";
const ALLOWED: &str = "arn:aws:backup:eu-central-1:123456789012:backup-vault:Far";

fn config() -> Config {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(256);
    let seed = std::env::var("PROPTEST_SEED")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(0x0bac_0b7e);
    Config {
        cases,
        rng_seed: RngSeed::Fixed(seed),
        failure_persistence: None,
        ..Config::default()
    }
}

fn settings() -> Settings {
    Settings {
        backup_vault_name: Some("Default".into()),
        backup_iam_role_arn: Some("arn:aws:iam::123456789012:role/Backup".into()),
        copy_destination_vault_arn: Some(ALLOWED.into()),
        allowed_destination_vault_arns: Some(vec![ALLOWED.into()]),
        ..Settings::default()
    }
}

/// The function in a dry run, as `app::aws_io` makes one: nothing started or sent,
/// no resource to select, no listing to read; its metrics lines go to `lines`.
fn dry_app(lines: &Arc<Mutex<Vec<String>>>) -> Arc<App> {
    let io = Io {
        starter: Arc::new(DryRun),
        inventory: Arc::new(ResourceFile::parse(r#"{"ResourceTagMappingList": []}"#).unwrap()),
        listings: Arc::new(ListingFiles::default()),
        queue: None,
        limiter: None,
    };
    Arc::new(app(&settings(), io).with_metrics_sink(Sink::Memory(Arc::clone(lines))))
}

/// Names the parsers look for, so that random objects often look like events.
const KEYS: &[&str] = &[
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
    "Index",
    "Jobs",
    "IdempotencyKey",
    "detail-type",
    "source",
    "detail",
    "id",
    "resources",
    "state",
    "backupVaultName",
    "backupVaultArn",
    "recoveryPointArn",
    "Records",
    "messageId",
    "body",
    "eventSource",
    "eventSourceARN",
    "time",
    "Selection",
    "Audit",
    "MaxAgeHours",
    "Remediate",
    "MaxRemediations",
    "Resources",
    "ListOfTags",
];

const STRINGS: &[&str] = &[
    "StartBackupJob",
    "StartCopyJob",
    "COMPLETED",
    "RUNNING",
    "aws.backup",
    "Backup Job State Change",
    "aws:sqs",
    "ENABLED",
    "DISABLED",
    "Default",
    "arn:aws:ec2:eu-west-1:123456789012:volume/vol-1",
    "arn:aws:iam::123456789012:role/Backup",
    "arn:aws:backup:eu-central-1:123456789012:backup-vault:Far",
    "arn:aws:backup:eu-central-1:999999999999:backup-vault:Evil",
    "arn:aws:sqs:eu-west-1:123456789012:q.fifo",
    "arn:aws:",
    "",
    "é",
    "aws:x",
    TAG_SECRET,
    "2026-11-22T03:00:00Z",
];

fn arb_string() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => proptest::sample::select(STRINGS).prop_map(str::to_owned),
        1 => ".{0,40}",
        1 => proptest::sample::select(KEYS).prop_map(str::to_owned),
    ]
}

fn arb_number() -> impl Strategy<Value = Value> {
    prop_oneof![
        proptest::sample::select(
            &[
                -1i64,
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
                i64::MIN
            ][..]
        )
        .prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        Just(json!(u64::MAX)),
    ]
}

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        arb_number(),
        arb_string().prop_map(Value::String)
    ];
    leaf.prop_recursive(5, 64, 8, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            proptest::collection::vec(
                (
                    prop_oneof![3 => proptest::sample::select(KEYS).prop_map(str::to_owned), 1 => arb_string()],
                    inner.clone()
                ),
                0..8
            )
            .prop_map(|pairs| Value::Object(pairs.into_iter().collect())),
            // An SQS body is JSON text inside JSON.
            inner.prop_map(|v| Value::String(v.to_string())),
        ]
    })
}

fn samples() -> Vec<Value> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("events");
    // The sample events; events/local/ holds the settings the samples need, not events.
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
        .iter()
        .map(|f| serde_json::from_str(&std::fs::read_to_string(f).unwrap()).unwrap())
        .collect()
}

/// Every node of a JSON tree, as a path of steps.
fn paths(value: &Value, prefix: &mut Vec<Step>, out: &mut Vec<Vec<Step>>) {
    out.push(prefix.clone());
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                prefix.push(Step::Key(k.clone()));
                paths(v, prefix, out);
                prefix.pop();
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                prefix.push(Step::Index(i));
                paths(v, prefix, out);
                prefix.pop();
            }
        }
        // SQS bodies: mutate inside the JSON text too.
        Value::String(text) => {
            if let Ok(inner @ (Value::Object(_) | Value::Array(_))) = serde_json::from_str::<Value>(text) {
                prefix.push(Step::Body);
                paths(&inner, prefix, out);
                prefix.pop();
            }
        }
        _ => {}
    }
}

#[derive(Clone, Debug)]
enum Step {
    Key(String),
    Index(usize),
    Body,
}

#[derive(Clone, Debug)]
enum Mutation {
    Replace(usize, Value),
    Remove(usize),
    Rename(usize, String),
    Duplicate(usize),
}

fn apply(value: &mut Value, path: &[Step], mutation: &Mutation) {
    match path.split_first() {
        None => match mutation {
            Mutation::Replace(_, new) => *value = new.clone(),
            Mutation::Duplicate(_) => {
                if let Value::Array(items) = value {
                    if let Some(first) = items.first().cloned() {
                        items.push(first);
                    }
                }
            }
            _ => {}
        },
        Some((Step::Key(k), rest))
            if rest.is_empty() && matches!(mutation, Mutation::Remove(_) | Mutation::Rename(..)) =>
        {
            if let Value::Object(map) = value {
                if let Some(v) = map.remove(k) {
                    if let Mutation::Rename(_, name) = mutation {
                        map.insert(name.clone(), v);
                    }
                }
            }
        }
        Some((Step::Key(k), rest)) => {
            if let Some(v) = value.get_mut(k.as_str()) {
                apply(v, rest, mutation);
            }
        }
        Some((Step::Index(i), rest)) => {
            if let Some(v) = value.get_mut(*i) {
                apply(v, rest, mutation);
            }
        }
        Some((Step::Body, rest)) => {
            if let Value::String(text) = value {
                if let Ok(mut inner) = serde_json::from_str::<Value>(text) {
                    apply(&mut inner, rest, mutation);
                    *text = inner.to_string();
                }
            }
        }
    }
}

fn arb_mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        3 => (any::<usize>(), arb_json()).prop_map(|(i, v)| Mutation::Replace(i, v)),
        1 => any::<usize>().prop_map(Mutation::Remove),
        1 => (any::<usize>(), arb_string()).prop_map(|(i, k)| Mutation::Rename(i, k)),
        1 => any::<usize>().prop_map(Mutation::Duplicate),
    ]
}

fn mutated_sample() -> impl Strategy<Value = Value> {
    let all = samples();
    (0..all.len(), proptest::collection::vec(arb_mutation(), 1..6)).prop_map(move |(which, mutations)| {
        let mut event = all[which].clone();
        for mutation in &mutations {
            let mut nodes = Vec::new();
            paths(&event, &mut Vec::new(), &mut nodes);
            let index = match mutation {
                Mutation::Replace(i, _) | Mutation::Remove(i) | Mutation::Rename(i, _) | Mutation::Duplicate(i) => *i,
            };
            let path = nodes[index % nodes.len()].clone();
            apply(&mut event, &path, mutation);
        }
        event
    })
}

/// Reads an event as the handler does (an SQS batch message by message); checks
/// every accepted request and bounds every error.
fn check_read(event: Value) {
    let defaults = settings().defaults();
    let check = |body: &Value, message_id: Option<&str>| {
        let origin = Origin {
            request_id: "req",
            message_id,
        };
        let jobs: Vec<Job> = match Command::read(body, &origin, &defaults) {
            Ok(Command::Jobs(jobs)) => jobs.jobs().to_vec(),
            Ok(Command::Outcome(outcome)) => outcome.copy().ok().flatten().into_iter().cloned().collect(),
            Ok(Command::Selection(_) | Command::Audit(_)) => Vec::new(),
            Err(rejected) => {
                let text = rejected.error.to_string();
                assert!(text.len() < 64 * 1024, "an error of {} bytes", text.len());
                return;
            }
        };
        assert!(jobs.len() <= 1000);
        let mut tokens: Vec<&str> = jobs.iter().map(Job::idempotency_token).collect();
        tokens.sort();
        tokens.dedup();
        assert_eq!(tokens.len(), jobs.len(), "two requests of one event share a token");
        for job in &jobs {
            assert_valid(job, ALLOWED);
        }
    };
    match event.get("Records").and_then(Value::as_array) {
        None => check(&event, None),
        Some(records) => {
            for record in records {
                let body = record
                    .get("body")
                    .and_then(Value::as_str)
                    .and_then(|b| serde_json::from_str(b).ok());
                if let (Some(id), Some(body)) = (record.get("messageId").and_then(Value::as_str), body) {
                    check(&body, Some(id));
                }
            }
        }
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Runs the whole handler in dry-run mode; checks the answer's shape.
fn check_handler(rt: &tokio::runtime::Runtime, text: &str) {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let app = dry_app(&lines);
    let invocation = Invocation::new("req", Deadline::after(Duration::from_secs(60)));
    let answer = rt.block_on(handler::handle_text(&app, text, &invocation));
    let lines = lines.lock().unwrap();
    assert_eq!(lines.len(), 1, "one metrics line per invocation, whatever the event");
    let metrics: Value = serde_json::from_str(&lines[0]).expect("the metrics line is JSON");
    assert_eq!(metrics["JobsStarted"], 0, "a dry run starts nothing");
    match answer.map(|a| serde_json::to_value(a).expect("an answer serialises")) {
        Ok(value) => {
            if let Some(failures) = value.get("batchItemFailures") {
                let input: Value = serde_json::from_str(text).unwrap();
                let ids: Vec<&str> = input["Records"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter_map(|r| r["messageId"].as_str())
                    .collect();
                for failure in failures.as_array().unwrap() {
                    assert!(
                        ids.contains(&failure["itemIdentifier"].as_str().unwrap()),
                        "an unknown id in batchItemFailures"
                    );
                }
            }
        }
        Err(error) => {
            assert!(!error.error_type().is_empty());
            assert!(error.to_string().len() < 64 * 1024);
        }
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn arbitrary_json_never_panics_the_reader(event in arb_json()) {
        check_read(event);
    }

    #[test]
    fn mutated_samples_never_panic_and_accepted_jobs_are_valid(event in mutated_sample()) {
        check_read(event);
    }

    #[test]
    fn arbitrary_bytes_never_panic_the_handler(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        check_handler(&runtime(), &String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn mutated_samples_never_panic_the_handler(event in mutated_sample()) {
        check_handler(&runtime(), &event.to_string());
    }

    #[test]
    fn tag_values_never_appear_in_errors_or_answers(
        // The secret goes in the tags only: elsewhere it is a user value, quoted in errors.
        request in proptest::collection::vec(
            (proptest::sample::select(KEYS), arb_json().prop_filter("secret outside tags", |v| !v.to_string().contains(TAG_SECRET))),
            0..6,
        ),
        bad_key in prop_oneof![Just("aws:owner".to_owned()), Just(String::new()), "k{130}", "[a-z]{1,10}"],
        long in any::<bool>(),
    ) {
        let mut map: Map<String, Value> = request.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
        let value = if long { TAG_SECRET.repeat(30) } else { TAG_SECRET.to_owned() };
        map.insert("RecoveryPointTags".into(), json!({ bad_key: value, "team": TAG_SECRET }));
        let text = Value::Object(map).to_string();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let app = dry_app(&lines);
        let invocation = Invocation::new("req", Deadline::after(Duration::from_secs(60)));
        let mut shown = match runtime().block_on(handler::handle_text(&app, &text, &invocation)) {
            Ok(answer) => serde_json::to_string(&answer).expect("an answer serialises"),
            Err(error) => error.to_string(),
        };
        shown.push_str(&lines.lock().unwrap().concat());
        prop_assert!(!shown.contains(TAG_SECRET), "{}", shown);
    }
}

#[test]
fn a_list_of_a_thousand_requests_is_read_and_one_more_is_refused() {
    let origin = Origin {
        request_id: "r",
        message_id: None,
    };
    let jobs: Vec<Value> = (0..1000)
        .map(|i| json!({ "ResourceArn": format!("arn:aws:ec2:eu-west-1:123456789012:volume/vol-{i}") }))
        .collect();
    let Ok(Command::Jobs(read)) = Command::read(&json!({ "Jobs": jobs }), &origin, &settings().defaults()) else {
        panic!("a list of 1000 is read");
    };
    assert_eq!(read.jobs().len(), 1000);
    let too_many: Vec<Value> = (0..1001).map(|_| json!({})).collect();
    let rejected = Command::read(&json!({ "Jobs": too_many }), &origin, &settings().defaults()).unwrap_err();
    assert!(rejected.error.to_string().contains("at most 1000"));
}
