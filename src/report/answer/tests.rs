//! What each kind of report answers, and the error of one that failed.

use serde_json::{json, Value};

use super::*;
use crate::core::audit::{LastBackup, LastJob, Verdict};
use crate::core::fixtures::defaults;
use crate::core::job::{Failure, Started};
use crate::core::request::validate;
use crate::core::time::Timestamp;
use crate::core::token::{SourceId, SourceKind};
use crate::report::{Audited, Resolved};

const SECRET: &str = "s3cr3t-tag-value";

fn job(n: usize) -> Job {
    let request = json!({
        "ResourceArn": format!("arn:aws:ec2:eu-west-1:123456789012:volume/vol-{n}"),
        "RecoveryPointTags": { "Owner": SECRET },
    });
    validate(&request, &[], &defaults(), &format!("token-{n}")).unwrap()
}

fn started(n: usize) -> JobResult {
    JobResult::unsent(
        job(n),
        Outcome::Started(Started {
            job_id: format!("job-{n}"),
            is_parent: false,
            creation_date: Some("2026-11-22T03:00:00.123Z".into()),
            recovery_point_arn: None,
        }),
    )
}

fn report(kind: Kind, jobs: Vec<JobResult>) -> Report {
    Report {
        jobs,
        ..Report::new(
            kind,
            SourceId {
                kind: SourceKind::LambdaRequestId,
                value: "req-1".into(),
            },
        )
    }
}

fn answered(report: Report) -> Value {
    serde_json::to_value(of(report).expect("an answer")).unwrap()
}

#[test]
fn a_bare_request_answers_its_one_result_and_a_list_its_results() {
    let one = answered(report(Kind::Bare, vec![started(1)]));
    assert_eq!(one["BackupJobId"], "job-1");
    assert_eq!(one["Action"], "StartBackupJob");
    assert_eq!(one["ResourceArn"], "arn:aws:ec2:eu-west-1:123456789012:volume/vol-1");
    assert_eq!(one["IsParent"], false);
    assert!(one.get("RecoveryPointArn").is_none(), "only when AWS returned one");
    let list = answered(report(Kind::List, vec![started(1), started(2)]));
    assert_eq!(list["Jobs"].as_array().unwrap().len(), 2);
    assert!(list.get("Skipped").is_none());
}

#[test]
fn a_dry_run_answers_the_whole_request_without_tag_values() {
    let one = answered(report(Kind::Bare, vec![JobResult::unsent(job(1), Outcome::WouldStart)]));
    assert_eq!(one["DryRun"], true);
    assert_eq!(one["IdempotencyToken"], "token-1");
    assert_eq!(one["RecoveryPointTags"]["Owner"], "*** redacted ***");
    assert!(!one.to_string().contains(SECRET));
}

#[test]
fn a_selection_shows_at_most_100_requests_a_dry_run_would_send_and_every_job_started() {
    let would: Vec<JobResult> = (0..150)
        .map(|n| JobResult::unsent(job(n), Outcome::WouldStart))
        .collect();
    let mut dry = report(Kind::Selection, would);
    dry.selection = Some(Resolved {
        name: Some("nightly".into()),
        found: 200,
        matched: 150,
        ..Resolved::default()
    });
    let answer = answered(dry);
    assert_eq!(answer["Jobs"].as_array().unwrap().len(), 100);
    assert_eq!(answer["Selection"]["Matched"], 150);
    assert_eq!(answer["Selection"]["Name"], "nightly");
    let mut real = report(Kind::Selection, (0..150).map(started).collect());
    real.selection = Some(Resolved::default());
    assert_eq!(answered(real)["Jobs"].as_array().unwrap().len(), 150);
}

#[test]
fn an_audit_answers_its_counts_and_at_most_100_findings_oldest_first() {
    let findings: Vec<Finding> = (0..120)
        .map(|n| Finding {
            arn: format!("arn:aws:dynamodb:eu-west-1:123456789012:table/t{n:03}"),
            resource_type: "DynamoDB",
            last_backup: (n > 0).then(|| LastBackup {
                at: Timestamp::from_millis(1_795_000_000_000 + n),
                vault: None,
            }),
            in_progress: n == 1,
            last_job: (n == 1).then(|| LastJob {
                id: "j".into(),
                created: Timestamp::from_millis(1_795_300_000_000),
                state: "RUNNING".into(),
                message: None,
            }),
            remediate: false,
        })
        .collect();
    let mut audit = report(Kind::Audit, vec![]);
    audit.selection = Some(Resolved {
        found: 500,
        matched: 400,
        unsupported: 10,
        ..Resolved::default()
    });
    audit.audit = Some(Audited {
        at: Timestamp::from_millis(1_795_338_000_000),
        verdict: Verdict {
            audited: 390,
            protected: 270,
            in_progress: 1,
            unprotected: 119,
            oldest_backup_age: Some(1),
            findings,
        },
        remediated: 0,
    });
    let answer = answered(audit);
    assert_eq!(
        answer["Audit"],
        json!({ "Name": null, "Found": 500, "Matched": 400, "Unsupported": 10, "Audited": 390,
                "Protected": 270, "InProgress": 1, "Unprotected": 119, "Remediated": 0,
                "Enqueued": 0, "Messages": 0 })
    );
    let findings = answer["Findings"].as_array().unwrap();
    assert_eq!(findings.len(), 100);
    assert_eq!(
        findings[0],
        json!({ "ResourceArn": "arn:aws:dynamodb:eu-west-1:123456789012:table/t000", "ResourceType": "DynamoDB",
                "LastBackupTime": null, "InProgress": false, "LastJobState": null, "LastJobMessage": null })
    );
    assert_eq!(findings[1]["InProgress"], true);
    assert_eq!(findings[1]["LastJobState"], "RUNNING");
    assert_eq!(findings[1]["LastBackupTime"], "2026-11-18T11:06:40.001Z");
    assert_eq!(answer["Jobs"], json!([]));
}

#[test]
fn a_failed_job_fails_the_event_with_the_first_failures_code_naming_every_failed_request() {
    let failed = |n, code: &str| JobResult::unsent(job(n), Outcome::Failed(Failure::aws(code, "no", false)));
    let error = of(report(
        Kind::List,
        vec![
            started(0),
            failed(1, "ResourceNotFoundException"),
            failed(2, "AccessDeniedException"),
        ],
    ))
    .unwrap_err();
    assert_eq!(error.error_type(), "ResourceNotFoundException");
    let text = error.to_string();
    assert!(text.starts_with("2 of 3 requests failed: Jobs[1]"), "{text}");
    assert!(
        text.contains("Jobs[2]") && text.contains("token-2") && text.contains("1 started"),
        "{text}"
    );
    assert!(!text.contains(SECRET));
    let error = of(report(Kind::EventBridge, vec![failed(0, "ThrottlingException")])).unwrap_err();
    assert!(error.to_string().contains("detail request 0"), "{error}");
}

#[test]
fn a_refused_event_says_nothing_was_started_and_keeps_its_class() {
    let refused = Report {
        error: Some(Error::invalid("Jobs", "is empty").refused()),
        ..report(Kind::List, vec![])
    };
    let error = of(refused).unwrap_err();
    let diagnostic = diagnostic(&error);
    assert_eq!(diagnostic.error_type, "ValidationError");
    assert_eq!(diagnostic.error_message, "nothing was started: Jobs: is empty");
}

#[test]
fn the_sqs_answer_is_exactly_the_partial_batch_answer() {
    let answer = serde_json::to_value(sqs(vec!["m-2".into()])).unwrap();
    assert_eq!(answer, json!({ "batchItemFailures": [{ "itemIdentifier": "m-2" }] }));
    let answer = serde_json::to_value(sqs(vec![])).unwrap();
    assert_eq!(answer, json!({ "batchItemFailures": [] }));
}
