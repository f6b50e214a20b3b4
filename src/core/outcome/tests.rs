//! Every state of both job state changes, in the shapes AWS Backup's EventBridge
//! documentation shows them: numbers as strings in backup events and as numbers in
//! copy events, `destinationRecoveryPointArn` as `{}` before a copy exists, a
//! status message wrapped in quotes, a date that is not ISO 8601, and members this
//! function never reads.

use serde_json::{json, Map, Value};

use super::*;
use crate::core::fixtures::{defaults, DESTINATION, ROLE};

const EVENT_ID: &str = "5f1c9a3e-8d2b-4e61-a7c4-0b9e3d2f6a18";
const BACKUP_JOB: &str = "4C7A2E91-3B5D-4F08-9A6E-1D2C3B4A5F60";
const COPY_JOB: &str = "8E3F1B27-6C4D-5A09-B8E7-2F3A4C5D6E71";
const RESOURCE: &str = "arn:aws:ec2:eu-west-1:123456789012:volume/vol-0d1e2f3a4b5c6d7e8";
const RECOVERY_POINT: &str = "arn:aws:ec2:eu-west-1::snapshot/snap-0f1e2d3c4b5a69788";
const COPIED_RECOVERY_POINT: &str = "arn:aws:ec2:eu-central-1::snapshot/snap-0a9b8c7d6e5f40312";
const VAULT_ARN: &str = "arn:aws:backup:eu-west-1:123456789012:backup-vault:Main";
const PLAN_ID: &str = "2b7e4c1a-9f3d-4e58-b6a2-7c1d0e9f8a34";

const BACKUP_STATES: [&str; 9] = [
    "CREATED",
    "PENDING",
    "RUNNING",
    "ABORTING",
    "COMPLETED",
    "FAILED",
    "ABORTED",
    "EXPIRED",
    "PARTIAL",
];
const COPY_STATES: [&str; 7] = [
    "CREATED",
    "RUNNING",
    "COMPLETED",
    "FAILED",
    "ABORTED",
    "PARTIAL",
    "EXPIRED",
];

/// A backup job's state change, shaped as AWS documents it: sizes as strings, the
/// recovery point in `resources` once there is one, `createdBy` only for a plan's job.
fn backup_event(state: &str) -> Value {
    let resources = if state == "COMPLETED" {
        json!([RECOVERY_POINT])
    } else {
        json!([])
    };
    let mut detail = json!({
        "backupJobId": BACKUP_JOB,
        "backupSizeInBytes": "3221225472",
        "backupVaultArn": VAULT_ARN,
        "backupVaultName": "Main",
        "bytesTransferred": "0",
        "creationDate": "2026-11-22T03:00:12.392Z",
        "iamRoleArn": ROLE,
        "resourceArn": RESOURCE,
        "resourceType": "EBS",
        "state": state,
        "startBy": "2026-11-22T11:00:12.392Z",
        "expectedCompletionDate": "Nov 22, 2026 3:14:07 AM",
        "percentDone": 0,
        "retryCount": 3
    });
    match state {
        "COMPLETED" => {
            detail["completionDate"] = json!("2026-11-22T03:14:02.921Z");
            detail["percentDone"] = json!(100);
        }
        "FAILED" => {
            detail["statusMessage"] =
                json!("\"Backup job failed because backup vault arn:aws:backup:eu-west-1:123456789012:backup-vault:Main does not exist.\"");
        }
        "EXPIRED" => {
            detail["statusMessage"] =
                json!("\"Backup job failed because there was a running job for the same resource.\"");
            detail["completionDate"] = json!("2026-11-22T11:02:15.234Z");
        }
        "ABORTED" => detail["statusMessage"] = json!("\"Backup job was stopped by user.\""),
        "PENDING" => detail["statusMessage"] = json!(""),
        _ => {}
    }
    json!({
        "version": "0",
        "id": EVENT_ID,
        "detail-type": "Backup Job State Change",
        "source": "aws.backup",
        "account": "123456789012",
        "time": "2026-11-22T03:14:07Z",
        "region": "eu-west-1",
        "resources": resources,
        "detail": detail,
    })
}

/// A copy job's state change, shaped as AWS documents it: sizes as numbers, the
/// source recovery point in `resources`, `destinationRecoveryPointArn` `{}` until the
/// copy exists.
fn copy_event(state: &str) -> Value {
    let destination_point = if state == "COMPLETED" {
        json!(COPIED_RECOVERY_POINT)
    } else {
        json!({})
    };
    let mut detail = json!({
        "copyJobId": COPY_JOB,
        "backupSizeInBytes": 3221225472_u64,
        "creationDate": "2026-11-22T03:20:27.234Z",
        "iamRoleArn": ROLE,
        "resourceArn": RESOURCE,
        "resourceType": "EBS",
        "sourceBackupVaultArn": VAULT_ARN,
        "state": state,
        "destinationBackupVaultArn": DESTINATION,
        "destinationRecoveryPointArn": destination_point,
        "createdBy": {
            "backupPlanId": PLAN_ID,
            "backupPlanArn": format!("arn:aws:backup:eu-west-1:123456789012:backup-plan:{PLAN_ID}"),
            "backupPlanVersion": "Mjc4ZTRhMzUtMGE5Ni00NmQ5LWE1YmMtOWMwY2IwMTY4NWQ4",
            "backupPlanRuleId": "78e356d3-1a11-4f61-8585-af5d6b69bb18"
        }
    });
    match state {
        "COMPLETED" => detail["completionDate"] = json!("2026-11-22T03:27:58.111Z"),
        "FAILED" => {
            detail["statusMessage"] = json!("Access denied exception while trying to list tags");
            detail["completionDate"] = json!("2026-11-22T03:21:28.704Z");
        }
        _ => {}
    }
    json!({
        "version": "0",
        "id": EVENT_ID,
        "detail-type": "Copy Job State Change",
        "source": "aws.backup",
        "account": "123456789012",
        "time": "2026-11-22T03:28:04Z",
        "region": "eu-west-1",
        "resources": [RECOVERY_POINT],
        "detail": detail,
    })
}

fn on_demand(mut event: Value) -> Value {
    event["detail"].as_object_mut().unwrap().remove("createdBy");
    event
}

fn of_a_plan(mut event: Value) -> Value {
    event["detail"]["createdBy"] = json!({
        "backupPlanId": PLAN_ID,
        "backupPlanArn": format!("arn:aws:backup:eu-west-1:123456789012:backup-plan:{PLAN_ID}"),
        "backupPlanVersion": "YTkzNmM0MmUtMWRhNS00Y2RkLThmZGUtNjA5NTc4NGM1YTc5",
        "backupPlanRuleId": "1f97bafa-14d6-4f39-94fd-94b51bd6d0d5"
    });
    event
}

fn decided(kind: JobKind, event: &Value, copy_destination_set: bool) -> Decision {
    let resources: Vec<String> = event["resources"]
        .as_array()
        .map(|r| r.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect())
        .unwrap_or_default();
    let detail: &Map<String, Value> = event["detail"].as_object().unwrap();
    decide(kind, &resources, detail, copy_destination_set)
}

fn recorded(decision: Decision) -> (JobOutcome, Option<CopySource>) {
    match decision {
        Decision::Record { outcome, copy, .. } => (*outcome, copy),
        Decision::Skip(why) => panic!("expected an outcome, got a skip: {why}"),
    }
}

// ---- Backup Job State Change ----

#[test]
fn every_backup_state_is_recorded_or_skipped_as_documented() {
    for state in BACKUP_STATES {
        let decision = decided(JobKind::Backup, &of_a_plan(backup_event(state)), true);
        match (state, decision) {
            ("CREATED" | "PENDING" | "RUNNING" | "ABORTING", Decision::Skip(why)) => {
                assert!(why.contains(&format!("\"{state}\"")), "{why}");
                assert!(why.contains("not a final state"), "{why}");
            }
            ("COMPLETED" | "FAILED" | "ABORTED" | "EXPIRED" | "PARTIAL", Decision::Record { outcome, copy, .. }) => {
                assert_eq!(outcome.kind, JobKind::Backup);
                assert_eq!(outcome.state.as_str(), state);
                assert_eq!(outcome.state.succeeded(), state == "COMPLETED", "{state}");
                assert_eq!(outcome.job_id.as_deref(), Some(BACKUP_JOB));
                assert_eq!(copy, None, "{state}: a plan's job is never copied here");
            }
            (state, other) => panic!("{state}: unexpected {other:?}"),
        }
    }
}

#[test]
fn a_recorded_backup_carries_the_fields_of_the_outcome_line() {
    let (outcome, _) = recorded(decided(JobKind::Backup, &backup_event("COMPLETED"), false));
    assert_eq!(
        outcome,
        JobOutcome {
            kind: JobKind::Backup,
            state: FinalState::Completed,
            job_id: Some(BACKUP_JOB.into()),
            status_message: None,
            resource_arn: Some(RESOURCE.into()),
            resource_type: Some("EBS".into()),
            vault: Some("Main".into()),
            source_vault_arn: None,
            recovery_point_arn: Some(RECOVERY_POINT.into()),
            source_recovery_point_arn: None,
            backup_size_bytes: Some(3_221_225_472),
            completion_date: Some("2026-11-22T03:14:02.921Z".into()),
        }
    );
}

#[test]
fn a_failed_backup_has_no_recovery_point_and_its_message_loses_awss_quotes() {
    let (outcome, _) = recorded(decided(JobKind::Backup, &backup_event("FAILED"), true));
    assert_eq!(outcome.recovery_point_arn, None, "resources is empty");
    let message = outcome.status_message.unwrap();
    assert!(
        message.starts_with("Backup job failed because") && message.ends_with("does not exist."),
        "{message}"
    );
}

#[test]
fn an_empty_status_message_is_absent() {
    let mut event = backup_event("PARTIAL");
    event["detail"]["statusMessage"] = json!("");
    let (outcome, _) = recorded(decided(JobKind::Backup, &event, true));
    assert_eq!(outcome.status_message, None);
    event["detail"]["statusMessage"] = json!("\"\"");
    let (outcome, _) = recorded(decided(JobKind::Backup, &event, true));
    assert_eq!(
        outcome.status_message.as_deref(),
        Some("\"\""),
        "kept when nothing is inside the quotes"
    );
}

#[test]
fn the_recovery_point_of_a_backup_falls_back_to_the_detail() {
    let mut event = backup_event("COMPLETED");
    event["resources"] = json!([]);
    event["detail"]["recoveryPointArn"] = json!(COPIED_RECOVERY_POINT);
    let (outcome, _) = recorded(decided(JobKind::Backup, &event, true));
    assert_eq!(outcome.recovery_point_arn.as_deref(), Some(COPIED_RECOVERY_POINT));
}

#[test]
fn the_vault_comes_from_the_arn_when_the_name_is_absent() {
    let mut event = backup_event("FAILED");
    event["detail"].as_object_mut().unwrap().remove("backupVaultName");
    let (outcome, _) = recorded(decided(JobKind::Backup, &event, true));
    assert_eq!(outcome.vault.as_deref(), Some("Main"));
    // A vault ARN that is not one (AWS's own vaults have slashes in their names) is kept whole.
    event["detail"]["backupVaultArn"] =
        json!("arn:aws:backup:eu-west-1:123456789012:backup-vault:aws/efs/automatic-backup-vault");
    let (outcome, _) = recorded(decided(JobKind::Backup, &event, true));
    assert_eq!(
        outcome.vault.as_deref(),
        Some("arn:aws:backup:eu-west-1:123456789012:backup-vault:aws/efs/automatic-backup-vault")
    );
}

#[test]
fn sizes_are_read_as_strings_or_numbers_and_anything_else_is_absent() {
    for (size, expected) in [
        (json!("3221225472"), Some(3_221_225_472)),
        (json!(3221225472_u64), Some(3_221_225_472)),
        (json!("about 3 GB"), None),
        (json!(-1), None),
        (json!({}), None),
    ] {
        let mut event = backup_event("COMPLETED");
        event["detail"]["backupSizeInBytes"] = size.clone();
        let (outcome, _) = recorded(decided(JobKind::Backup, &event, true));
        assert_eq!(outcome.backup_size_bytes, expected, "{size}");
    }
}

#[test]
fn members_of_an_unexpected_type_count_as_absent() {
    let mut event = backup_event("FAILED");
    event["detail"]["backupJobId"] = json!(12345);
    event["detail"]["resourceArn"] = json!(["not", "a", "string"]);
    event["detail"]["statusMessage"] = json!({ "nested": true });
    let (outcome, _) = recorded(decided(JobKind::Backup, &event, true));
    assert_eq!(
        (outcome.job_id, outcome.resource_arn, outcome.status_message),
        (None, None, None)
    );
}

#[test]
fn recorded_values_are_capped() {
    let mut event = backup_event("FAILED");
    event["detail"]["statusMessage"] = json!("x".repeat(100_000));
    let (outcome, _) = recorded(decided(JobKind::Backup, &event, true));
    assert!(outcome.status_message.unwrap().chars().count() <= FIELD_LIMIT + 1);
}

#[test]
fn a_backup_without_state_or_with_an_unknown_state_is_skipped() {
    let mut event = backup_event("COMPLETED");
    event["detail"].as_object_mut().unwrap().remove("state");
    match decided(JobKind::Backup, &event, true) {
        Decision::Skip(why) => assert!(why.contains("missing"), "{why}"),
        other => panic!("{other:?}"),
    }
    event["detail"]["state"] = json!("COMPLETED_WITH_ISSUES");
    match decided(JobKind::Backup, &event, true) {
        Decision::Skip(why) => assert!(why.contains("\"COMPLETED_WITH_ISSUES\""), "{why}"),
        other => panic!("{other:?}"),
    }
    // States are AWS's upper-case words; nothing else is taken for one.
    event["detail"]["state"] = json!("completed");
    assert!(matches!(decided(JobKind::Backup, &event, true), Decision::Skip(_)));
}

// ---- the copy of a completed on-demand backup ----

// ---- Copy Job State Change ----

#[test]
fn every_copy_state_is_recorded_or_skipped_as_documented() {
    for state in COPY_STATES {
        match (state, decided(JobKind::Copy, &copy_event(state), true)) {
            ("CREATED" | "RUNNING" | "EXPIRED", Decision::Skip(why)) => {
                assert!(
                    why.contains(&format!("\"{state}\"")) && why.starts_with("copy job"),
                    "{why}"
                );
            }
            ("COMPLETED" | "FAILED" | "ABORTED" | "PARTIAL", Decision::Record { outcome, copy, .. }) => {
                assert_eq!(outcome.kind, JobKind::Copy);
                assert_eq!(outcome.state.as_str(), state);
                assert_eq!(outcome.job_id.as_deref(), Some(COPY_JOB));
                assert_eq!(copy, None, "a copy job's end starts nothing");
            }
            (state, other) => panic!("{state}: unexpected {other:?}"),
        }
    }
}

#[test]
fn a_recorded_copy_names_its_destination_and_both_recovery_points() {
    let (outcome, _) = recorded(decided(JobKind::Copy, &copy_event("COMPLETED"), true));
    assert_eq!(
        outcome,
        JobOutcome {
            kind: JobKind::Copy,
            state: FinalState::Completed,
            job_id: Some(COPY_JOB.into()),
            status_message: None,
            resource_arn: Some(RESOURCE.into()),
            resource_type: Some("EBS".into()),
            vault: Some(DESTINATION.into()),
            source_vault_arn: Some(VAULT_ARN.into()),
            recovery_point_arn: Some(COPIED_RECOVERY_POINT.into()),
            source_recovery_point_arn: Some(RECOVERY_POINT.into()),
            backup_size_bytes: Some(3_221_225_472),
            completion_date: Some("2026-11-22T03:27:58.111Z".into()),
        }
    );
}

#[test]
fn a_failed_copy_has_no_recovery_point_where_aws_sends_an_empty_object() {
    let (outcome, _) = recorded(decided(JobKind::Copy, &copy_event("FAILED"), true));
    assert_eq!(outcome.recovery_point_arn, None);
    assert_eq!(
        outcome.status_message.as_deref(),
        Some("Access denied exception while trying to list tags")
    );
}

#[test]
fn a_copy_created_event_without_a_job_id_is_skipped() {
    // AWS's CREATED copy event has neither copyJobId nor resourceArn.
    let mut event = copy_event("CREATED");
    let detail = event["detail"].as_object_mut().unwrap();
    for name in [
        "copyJobId",
        "resourceArn",
        "resourceType",
        "backupSizeInBytes",
        "iamRoleArn",
        "createdBy",
    ] {
        detail.remove(name);
    }
    assert!(matches!(decided(JobKind::Copy, &event, true), Decision::Skip(_)));
}

#[test]
fn only_aws_backups_job_state_changes_are_outcomes() {
    assert_eq!(
        JobKind::of("aws.backup", "Backup Job State Change"),
        Some(JobKind::Backup)
    );
    assert_eq!(JobKind::of("aws.backup", "Copy Job State Change"), Some(JobKind::Copy));
    assert_eq!(JobKind::of("aws.backup", "Restore Job State Change"), None);
    assert_eq!(JobKind::of("my.app", "Backup Job State Change"), None);
}

#[test]
fn dates_are_passed_on_as_aws_wrote_them() {
    // AWS has sent dates such as "Jul 15, 2020 9:39:07 PM": nothing is parsed.
    let mut event = backup_event("ABORTED");
    event["detail"]["completionDate"] = json!("Nov 22, 2026 3:33:01 AM");
    let (outcome, _) = recorded(decided(JobKind::Backup, &event, true));
    assert_eq!(outcome.completion_date.as_deref(), Some("Nov 22, 2026 3:33:01 AM"));
    event["detail"]["completionDate"] = json!(1795316400.123);
    let (outcome, _) = recorded(decided(JobKind::Backup, &event, true));
    assert_eq!(outcome.completion_date, None, "a date that is not text is absent");
}

// ---- the copy a completed on-demand backup asks for ----

#[test]
fn a_completed_on_demand_backup_asks_for_the_copy_of_its_recovery_point() {
    let (outcome, copy) = recorded(decided(JobKind::Backup, &on_demand(backup_event("COMPLETED")), true));
    assert_eq!(outcome.state, FinalState::Completed);
    let copy = copy.expect("a copy");
    assert_eq!(copy.recovery_point_arn.as_deref(), Some(RECOVERY_POINT));
    assert_eq!(copy.vault_name.as_deref(), Some("Main"));
    let (_, copy) = recorded(decided(JobKind::Backup, &on_demand(backup_event("COMPLETED")), false));
    assert_eq!(copy, None, "no copy destination set");
}

#[test]
fn the_copy_is_validated_like_any_request_with_the_defaults() {
    let source = CopySource {
        recovery_point_arn: Some(RECOVERY_POINT.into()),
        vault_name: Some("Main".into()),
    };
    let Job::StartCopyJob(copy) = copy_job(&source, &defaults(), "token-0").unwrap() else {
        panic!("a copy");
    };
    assert_eq!(
        (
            copy.destination_backup_vault_arn(),
            copy.iam_role_arn(),
            copy.idempotency_token()
        ),
        (DESTINATION, ROLE, "token-0")
    );
    let without_role = Defaults {
        role: None,
        ..defaults()
    };
    assert!(matches!(copy_job(&source, &without_role, "t"), Err(Error::Config(_))));
    let bad_vault = CopySource {
        vault_name: Some("not a vault".into()),
        ..source.clone()
    };
    let Err(Error::Validation(problems)) = copy_job(&bad_vault, &defaults(), "t") else {
        panic!("refused");
    };
    assert_eq!(problems[0].at, "copy.SourceBackupVaultName");
}
