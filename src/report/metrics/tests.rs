//! The tally's counting rules (docs/reference.md, "Metrics") and the line's shape,
//! checked against the embedded metric format specification.

use std::sync::Arc;

use serde_json::{json, Value};

use super::*;
use crate::core::audit::{Finding, Verdict};
use crate::core::error::Error;
use crate::core::fixtures::{defaults, RESOURCE};
use crate::core::job::{Failure, JobResult, Started};
use crate::core::outcome::FinalState;
use crate::core::request::validate;
use crate::core::time::Timestamp;
use crate::core::token::{SourceId, SourceKind};
use crate::report::{Audited, Resolved};

const NOW_MS: u64 = 1_795_316_400_123;

fn result(outcome: Outcome) -> JobResult {
    let request = json!({ "ResourceArn": RESOURCE });
    JobResult::unsent(
        validate(&request, &[], &defaults(), "token-1").expect("a valid request"),
        outcome,
    )
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
    Outcome::Failed(Failure::aws("InvalidParameterValueException", "no", false))
}

fn report(kind: Kind) -> Report {
    Report::new(
        kind,
        SourceId {
            kind: SourceKind::EventBridgeId,
            value: "event-1".into(),
        },
    )
}

fn with_jobs(kind: Kind, jobs: Vec<JobResult>) -> Report {
    Report { jobs, ..report(kind) }
}

fn outcome(kind: JobKind, state: FinalState) -> Report {
    let shape = match kind {
        JobKind::Backup => Kind::BackupStateChange,
        JobKind::Copy => Kind::CopyStateChange,
    };
    Report {
        outcome: Some(JobOutcome {
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
        }),
        ..report(shape)
    }
}

fn selection(matched: usize, enqueued: usize, sent: bool) -> Report {
    Report {
        selection: Some(Resolved {
            matched,
            enqueued,
            sent,
            fan_out: true,
            ..Resolved::default()
        }),
        ..report(Kind::Selection)
    }
}

fn finding(remediate: bool) -> Finding {
    Finding {
        arn: RESOURCE.into(),
        resource_type: "EBS",
        last_backup: None,
        in_progress: false,
        last_job: None,
        remediate,
    }
}

fn audit(verdict: Verdict, remediated: usize, sent: bool) -> Report {
    Report {
        audit: Some(Audited {
            at: Timestamp::from_millis(NOW_MS as i64),
            verdict,
            remediated,
        }),
        selection: Some(Resolved {
            sent,
            ..Resolved::default()
        }),
        ..report(Kind::Audit)
    }
}

fn emitter() -> Emitter {
    Emitter::new(
        DEFAULT_NAMESPACE,
        DEFAULT_FUNCTION_NAME,
        "INFO",
        Sink::Memory(Arc::default()),
    )
}

fn names(tally: &Tally) -> Vec<&'static str> {
    tally.metrics().into_iter().map(|(name, _, _)| name).collect()
}

fn value(tally: &Tally, name: &str) -> Option<u64> {
    tally
        .metrics()
        .into_iter()
        .find(|(n, _, _)| *n == name)
        .map(|(_, v, _)| v)
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
            let unit = if name == "OldestBackupAge" { "Seconds" } else { "Count" };
            assert_eq!(m["Unit"], unit, "{name}");
        }
    }
}

#[test]
fn an_empty_invocation_counts_zero_jobs_and_events() {
    assert_eq!(
        names(&Tally::default()),
        ["JobsStarted", "JobsFailed", "EventsRejected"]
    );
    assert_eq!(value(&Tally::default(), "JobsStarted"), Some(0));
}

#[test]
fn results_count_started_and_failed_jobs_and_a_dry_run_neither() {
    let tally = Tally::default();
    let late = Outcome::Failed(Failure::not_started("too late"));
    tally.record(&with_jobs(
        Kind::List,
        vec![
            result(started()),
            result(started()),
            result(failed()),
            result(late),
            result(Outcome::WouldStart),
        ],
    ));
    assert_eq!(value(&tally, "JobsStarted"), Some(2));
    assert_eq!(
        value(&tally, "JobsFailed"),
        Some(2),
        "an AWS error and a job not started in time"
    );
}

#[test]
fn a_refused_event_is_counted_once_and_a_stopped_one_not() {
    let tally = Tally::default();
    for _ in 0..2 {
        tally.record(&Report::refused(
            Kind::List,
            report(Kind::List).source,
            Error::invalid("Jobs", "is empty"),
        ));
    }
    assert_eq!(value(&tally, "EventsRejected"), Some(2));
    assert_eq!(value(&tally, "JobsFailed"), Some(0), "its requests are not failed jobs");
    let stopped = Report {
        error: Some(Error::DeadlineExceeded("late".into())),
        ..report(Kind::Selection)
    };
    tally.record(&stopped);
    assert_eq!(
        value(&tally, "EventsRejected"),
        Some(2),
        "a listing that failed is no refusal"
    );
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
fn selection_counts_appear_once_a_selection_is_handled_and_a_dry_run_enqueues_nothing() {
    let tally = Tally::default();
    tally.record(&with_jobs(Kind::List, vec![]));
    assert!(!names(&tally).contains(&"ResourcesMatched"));
    tally.record(&selection(12, 10, true));
    tally.record(&selection(3, 3, false));
    assert_eq!(value(&tally, "ResourcesMatched"), Some(15));
    assert_eq!(value(&tally, "ResourcesEnqueued"), Some(10));
}

#[test]
fn outcomes_are_counted_by_kind_and_success_and_all_four_appear_together() {
    let tally = Tally::default();
    tally.record(&with_jobs(Kind::List, vec![]));
    assert!(
        !names(&tally).contains(&"BackupJobsCompleted"),
        "no outcome event, no outcome metrics"
    );

    let tally = Tally::default();
    tally.record(&report(Kind::CopyStateChange));
    for name in [
        "BackupJobsCompleted",
        "BackupJobsFailed",
        "CopyJobsCompleted",
        "CopyJobsFailed",
    ] {
        assert_eq!(
            value(&tally, name),
            Some(0),
            "a skipped state change still reports {name}, at 0"
        );
    }

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
        tally.record(&outcome(kind, state));
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
    tally.record(&Report {
        jobs: vec![result(started())],
        ..outcome(JobKind::Backup, FinalState::Completed)
    });
    assert_eq!(value(&tally, "JobsStarted"), Some(1));
    assert_eq!(value(&tally, "BackupJobsCompleted"), Some(1));
}

#[test]
fn an_audit_reports_its_five_metrics_and_a_dry_run_remediates_nothing() {
    let tally = Tally::default();
    tally.record(&with_jobs(Kind::List, vec![]));
    assert!(
        !names(&tally).contains(&"ResourcesAudited"),
        "no audit, no audit metrics"
    );
    let verdict = Verdict {
        audited: 10,
        protected: 6,
        in_progress: 1,
        unprotected: 3,
        oldest_backup_age: Some(90_000),
        findings: vec![finding(true), finding(true), finding(false)],
    };
    tally.record(&audit(verdict, 2, true));
    assert_eq!(value(&tally, "ResourcesAudited"), Some(10));
    assert_eq!(value(&tally, "ResourcesUnprotected"), Some(3));
    assert_eq!(value(&tally, "ResourcesInProgress"), Some(1));
    assert_eq!(value(&tally, "ResourcesRemediated"), Some(2));
    assert_eq!(value(&tally, "OldestBackupAge"), Some(90_000));
    let unit = tally
        .metrics()
        .into_iter()
        .find(|(n, _, _)| *n == "OldestBackupAge")
        .map(|(_, _, u)| u);
    assert_eq!(unit, Some(Unit::Seconds));

    let dry = Tally::default();
    let verdict = Verdict {
        audited: 1,
        unprotected: 1,
        findings: vec![finding(true)],
        ..Verdict::default()
    };
    dry.record(&audit(verdict, 1, false));
    assert_eq!(
        value(&dry, "ResourcesRemediated"),
        Some(0),
        "a dry run starts and sends nothing"
    );
    assert_eq!(value(&dry, "OldestBackupAge"), None, "no audited resource had a backup");
    assert_eq!(value(&dry, "ResourcesAudited"), Some(1));
}

#[test]
fn the_oldest_backup_age_of_two_audits_is_the_older() {
    let tally = Tally::default();
    for age in [Some(50), None, Some(7_200), Some(0)] {
        let verdict = Verdict {
            audited: 1,
            protected: 1,
            oldest_backup_age: age,
            ..Verdict::default()
        };
        tally.record(&audit(verdict, 0, true));
    }
    assert_eq!(value(&tally, "OldestBackupAge"), Some(7_200));
    assert_eq!(value(&tally, "ResourcesAudited"), Some(4));
}

#[test]
fn a_failed_audit_writes_none_of_its_metrics() {
    let tally = Tally::default();
    tally.record(&Report {
        error: Some(Error::Aws {
            code: "AccessDeniedException".into(),
            message: "no".into(),
        }),
        selection: Some(Resolved::default()),
        ..report(Kind::Audit)
    });
    assert!(!names(&tally).contains(&"ResourcesAudited"), "{:?}", names(&tally));
}

#[test]
fn the_document_follows_the_embedded_metric_format() {
    let tally = Tally::default();
    tally.batch(1);
    tally.record(&selection(4, 4, true));
    tally.record(&Report {
        jobs: vec![result(started())],
        ..outcome(JobKind::Backup, FinalState::Failed)
    });
    tally.record(&audit(
        Verdict {
            audited: 2,
            protected: 2,
            oldest_backup_age: Some(3_600),
            ..Verdict::default()
        },
        0,
        true,
    ));
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
    assert_eq!(document["OldestBackupAge"], 3_600);
    assert_eq!(document["message"], "metrics");
    assert_eq!(document["level"], "INFO");
    assert_eq!(document["timestamp"], "2026-11-22T03:00:00.123Z");
    assert_eq!(document["request_id"], "req-1");
}

#[test]
fn the_namespace_function_name_and_level_are_the_emitters() {
    let document =
        Emitter::new("Team/Backups", "prod-trigger", "ERROR", Sink::Stdout).document(&Tally::default(), "r", NOW_MS);
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
