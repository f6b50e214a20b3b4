//! The tally's counting rules (the README, "Job outcomes, metrics and alarms") and the line's shape, checked
//! against the embedded metric format specification.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};

use super::*;
use crate::event::outcome::FinalState;
use crate::event::{Plan, Shape};
use crate::fixtures::{settings, RESOURCE};
use crate::request::{validate, Job};
use crate::send::{Code, Failure, Started};
use crate::token::{SourceId, SourceKind};

const NOW_MS: u64 = 1_795_316_400_123;

fn job() -> Arc<Job> {
    let request = json!({ "ResourceArn": RESOURCE });
    Arc::new(validate(&request, &[], &settings(), "token-1").expect("a valid request"))
}

fn result(outcome: Outcome) -> JobResult {
    JobResult {
        job: job(),
        outcome,
        duration: Duration::ZERO,
    }
}

fn started() -> Outcome {
    Outcome::Started(Started {
        job_id: "job-1".into(),
        is_parent: false,
        creation_date: None,
        recovery_point_arn: None,
    })
}

fn failed() -> Outcome {
    Outcome::Failed(Failure {
        code: Code::Aws("InvalidParameterValueException".into()),
        message: "no".into(),
        retryable: false,
    })
}

fn plan(shape: Shape, outcome: Option<JobOutcome>) -> Plan {
    Plan {
        shape,
        source: SourceId {
            kind: SourceKind::EventBridgeId,
            value: "event-1".into(),
        },
        jobs: Vec::new(),
        skipped: None,
        outcome,
        refused: None,
    }
}

fn outcome(kind: JobKind, state: FinalState) -> JobOutcome {
    JobOutcome {
        kind,
        state,
        job_id: Some("job-9".into()),
        status_message: None,
        resource_arn: None,
        resource_type: None,
        vault: None,
        source_vault_arn: None,
        recovery_point_arn: None,
        source_recovery_point_arn: None,
        backup_size_bytes: None,
        completion_date: None,
    }
}

fn emitter() -> Emitter {
    Emitter::new(&settings(), Sink::Memory(Arc::default()))
}

fn names(tally: &Tally) -> Vec<&'static str> {
    tally.metrics().into_iter().map(|(name, _)| name).collect()
}

fn value(tally: &Tally, name: &str) -> Option<u64> {
    tally.metrics().into_iter().find(|(n, _)| *n == name).map(|(_, v)| v)
}

/// The rules of the embedded metric format specification that a document can break.
fn assert_emf(document: &Value) {
    let root = document.as_object().expect("MUST be a JSON object");
    let aws = root["_aws"].as_object().expect("_aws MUST be an object");
    assert!(aws["Timestamp"].is_u64(), "Timestamp MUST be a number of milliseconds");
    let directives = aws["CloudWatchMetrics"]
        .as_array()
        .expect("CloudWatchMetrics MUST be an array");
    assert!(!directives.is_empty());
    for directive in directives {
        let d = directive.as_object().unwrap();
        let mut keys: Vec<&str> = d.keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(keys, ["Dimensions", "Metrics", "Namespace"], "no other members");
        let namespace = d["Namespace"].as_str().unwrap();
        assert!((1..=1024).contains(&namespace.len()));
        for set in d["Dimensions"].as_array().unwrap() {
            let set = set.as_array().unwrap();
            assert!(set.len() <= 30);
            for key in set {
                let target = &root[key.as_str().unwrap()];
                assert!(
                    target.as_str().is_some_and(|v| v.chars().count() <= 1024),
                    "a dimension target MUST be a string of at most 1024 characters: {key}"
                );
            }
        }
        let metrics = d["Metrics"].as_array().unwrap();
        assert!(metrics.len() <= 100);
        for m in metrics {
            let name = m["Name"].as_str().unwrap();
            assert!(root[name].is_number(), "a metric target MUST be a number: {name}");
            assert_eq!(m["Unit"], "Count");
        }
    }
}

#[test]
fn an_empty_invocation_counts_zero_jobs_and_events() {
    let tally = Tally::default();
    assert_eq!(
        tally.metrics(),
        [("JobsStarted", 0), ("JobsFailed", 0), ("EventsRejected", 0)]
    );
}

#[test]
fn results_count_started_and_failed_jobs_and_a_dry_run_neither() {
    let tally = Tally::default();
    let deadline = Outcome::Failed(Failure::not_started("too late"));
    tally.ran(
        &plan(Shape::List, None),
        &[
            result(started()),
            result(started()),
            result(failed()),
            result(deadline),
            result(Outcome::WouldStart),
        ],
    );
    assert_eq!(value(&tally, "JobsStarted"), Some(2));
    assert_eq!(
        value(&tally, "JobsFailed"),
        Some(2),
        "an AWS error and a job not started in time"
    );
}

#[test]
fn a_refused_event_is_counted_once() {
    let tally = Tally::default();
    tally.rejected();
    tally.rejected();
    assert_eq!(value(&tally, "EventsRejected"), Some(2));
    assert_eq!(value(&tally, "JobsFailed"), Some(0), "its requests are not failed jobs");
}

#[test]
fn messages_failed_appears_for_an_sqs_batch_only() {
    let tally = Tally::default();
    assert_eq!(value(&tally, "MessagesFailed"), None);
    tally.batch(0);
    assert_eq!(
        value(&tally, "MessagesFailed"),
        Some(0),
        "a batch without failures says 0"
    );
    tally.batch(3);
    assert_eq!(value(&tally, "MessagesFailed"), Some(3));
}

#[test]
fn selection_counts_appear_once_a_selection_is_handled() {
    let tally = Tally::default();
    assert!(!names(&tally).contains(&"ResourcesMatched"));
    tally.selection(12, 10);
    tally.selection(3, 0);
    assert_eq!(value(&tally, "ResourcesMatched"), Some(15));
    assert_eq!(value(&tally, "ResourcesEnqueued"), Some(10));
}

#[test]
fn outcomes_are_counted_by_kind_and_success_and_all_four_appear_together() {
    let tally = Tally::default();
    tally.ran(&plan(Shape::List, None), &[]);
    assert!(
        !names(&tally).contains(&"BackupJobsCompleted"),
        "no outcome event, no outcome metrics"
    );

    let tally = Tally::default();
    tally.ran(&plan(Shape::CopyStateChange, None), &[]);
    assert_eq!(
        tally.metrics()[3..],
        [
            ("BackupJobsCompleted", 0),
            ("BackupJobsFailed", 0),
            ("CopyJobsCompleted", 0),
            ("CopyJobsFailed", 0)
        ],
        "a skipped state change still reports the four, at 0"
    );

    let tally = Tally::default();
    for (kind, state) in [
        (JobKind::Backup, FinalState::Completed),
        (JobKind::Backup, FinalState::Failed),
        (JobKind::Backup, FinalState::Aborted),
        (JobKind::Backup, FinalState::Expired),
        (JobKind::Backup, FinalState::Partial),
        (JobKind::Copy, FinalState::Completed),
        (JobKind::Copy, FinalState::Completed),
        (JobKind::Copy, FinalState::Partial),
    ] {
        let shape = if kind == JobKind::Backup {
            Shape::BackupStateChange
        } else {
            Shape::CopyStateChange
        };
        tally.ran(&plan(shape, Some(outcome(kind, state))), &[]);
    }
    assert_eq!(value(&tally, "BackupJobsCompleted"), Some(1));
    assert_eq!(
        value(&tally, "BackupJobsFailed"),
        Some(4),
        "FAILED, ABORTED, EXPIRED and PARTIAL"
    );
    assert_eq!(value(&tally, "CopyJobsCompleted"), Some(2));
    assert_eq!(value(&tally, "CopyJobsFailed"), Some(1));
}

#[test]
fn a_completed_backup_that_starts_its_copy_counts_both() {
    let tally = Tally::default();
    tally.ran(
        &plan(
            Shape::BackupStateChange,
            Some(outcome(JobKind::Backup, FinalState::Completed)),
        ),
        &[result(started())],
    );
    assert_eq!(value(&tally, "JobsStarted"), Some(1));
    assert_eq!(value(&tally, "BackupJobsCompleted"), Some(1));
}

#[test]
fn the_document_follows_the_embedded_metric_format() {
    let tally = Tally::default();
    tally.batch(1);
    tally.selection(4, 4);
    tally.ran(
        &plan(
            Shape::BackupStateChange,
            Some(outcome(JobKind::Backup, FinalState::Failed)),
        ),
        &[result(started())],
    );
    let document = emitter().document(&tally, "req-1", NOW_MS);
    assert_emf(&document);
    assert_eq!(document["_aws"]["Timestamp"], NOW_MS);
    let directive = &document["_aws"]["CloudWatchMetrics"][0];
    assert_eq!(directive["Namespace"], "BackupTrigger");
    assert_eq!(directive["Dimensions"], json!([["FunctionName"]]));
    let declared: Vec<&str> = directive["Metrics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["Name"].as_str().unwrap())
        .collect();
    assert_eq!(
        declared,
        names(&tally),
        "every metric of the tally is declared, in order"
    );
    assert_eq!(document["FunctionName"], "backup-trigger");
    assert_eq!(document["JobsStarted"], 1);
    assert_eq!(document["MessagesFailed"], 1);
    assert_eq!(document["BackupJobsFailed"], 1);
    assert_eq!(document["message"], "metrics");
    assert_eq!(document["level"], "INFO");
    assert_eq!(document["timestamp"], "2026-11-22T03:00:00.123Z");
    assert_eq!(document["request_id"], "req-1");
}

#[test]
fn the_namespace_function_name_and_level_come_from_the_settings() {
    let settings = Settings {
        metrics_namespace: "Team/Backups".into(),
        function_name: "prod-trigger".into(),
        metrics_level: "ERROR",
        ..settings()
    };
    let document = Emitter::new(&settings, Sink::Stdout).document(&Tally::default(), "r", NOW_MS);
    assert_eq!(document["_aws"]["CloudWatchMetrics"][0]["Namespace"], "Team/Backups");
    assert_eq!(document["FunctionName"], "prod-trigger");
    assert_eq!(document["level"], "ERROR");
}

#[test]
fn the_line_level_is_the_level_lambda_filters_at() {
    for (asked, level) in [
        (None, "INFO"),
        (Some("TRACE"), "INFO"),
        (Some("debug"), "INFO"),
        (Some("INFO"), "INFO"),
        (Some("warn"), "WARN"),
        (Some("ERROR"), "ERROR"),
        (Some("FATAL"), "FATAL"),
        (Some("nonsense"), "INFO"),
    ] {
        assert_eq!(line_level(asked), level, "{asked:?}");
    }
}

#[test]
fn a_written_line_is_one_json_line() {
    let lines = Arc::new(std::sync::Mutex::new(Vec::new()));
    let emitter = emitter().with_sink(Sink::Memory(Arc::clone(&lines)));
    emitter.write(&Tally::default(), "req-1");
    let lines = lines.lock().unwrap();
    assert_eq!(lines.len(), 1);
    assert!(lines[0].ends_with('\n') && lines[0].matches('\n').count() == 1);
    let document: Value = serde_json::from_str(&lines[0]).unwrap();
    assert_emf(&document);
}
