//! The events and tokens of docs/reference.md, as a user meets them through
//! `Command::read`: which command an event becomes, its requests, their tokens, and
//! what a refused event is told.

use serde_json::{json, Value};
use uuid::Uuid;

use super::*;
use crate::command::jobs::MAX_JOBS;
use crate::core::error::Invalid;
use crate::core::fixtures::{
    allowing, assert_says, at, defaults, DESTINATION, OTHER_DESTINATION, RECOVERY_POINT, RESOURCE, ROLE,
};
use crate::core::outcome::JobOutcome;
use crate::core::request::{Action, Job};
use crate::core::token::{SourceId, SourceKind};

const OTHER_RECOVERY_POINT: &str = "arn:aws:ec2:eu-west-1::snapshot/snap-fedcba9876543210f";
const REQUEST_ID: &str = "c6af9ac6-7b61-11e6-9a41-93e812345678";
const EVENT_ID: &str = "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa";
const MESSAGE_ID: &str = "059f36b4-87a3-44ab-83d2-661975830a7d";

/// A direct invocation.
fn direct() -> Origin<'static> {
    Origin {
        request_id: REQUEST_ID,
        message_id: None,
    }
}

/// An SQS message's body.
fn from_sqs(message_id: &str) -> Origin<'_> {
    Origin {
        request_id: REQUEST_ID,
        message_id: Some(message_id),
    }
}

fn backup(n: usize) -> Value {
    json!({ "ResourceArn": format!("arn:aws:ec2:eu-west-1:123456789012:volume/vol-{n}") })
}

fn list(n: usize) -> Value {
    json!({ "Jobs": (0..n).map(backup).collect::<Vec<_>>() })
}

fn eventbridge(detail: Value) -> Value {
    json!({
        "version": "0",
        "id": EVENT_ID,
        "detail-type": "Start backups",
        "source": "my.scheduler",
        "account": "123456789012",
        "time": "2026-11-22T03:00:00Z",
        "region": "eu-west-1",
        "resources": [],
        "detail": detail,
    })
}

/// AWS Backup's event, as AWS sends it: numbers as strings, many fields not read.
fn backup_state_change(state: &str) -> Value {
    json!({
        "version": "0",
        "id": EVENT_ID,
        "detail-type": "Backup Job State Change",
        "source": "aws.backup",
        "account": "123456789012",
        "time": "2026-11-22T03:12:00Z",
        "region": "eu-west-1",
        "resources": [RECOVERY_POINT],
        "detail": {
            "backupJobId": "a1b2c3d4-5678-90ab-cdef-EXAMPLE11111",
            "backupSizeInBytes": "2147483648",
            "bytesTransferred": "2147483648",
            "percentDone": "100.0",
            "backupVaultArn": "arn:aws:backup:eu-west-1:123456789012:backup-vault:Nightly",
            "backupVaultName": "Nightly",
            "creationDate": "2026-11-22T03:00:00.123Z",
            "completionDate": "2026-11-22T03:12:00.456Z",
            "iamRoleArn": "arn:aws:iam::123456789012:role/service-role/AWSBackupDefaultServiceRole",
            "resourceArn": RESOURCE,
            "resourceType": "EBS",
            "state": state,
            "isParent": false,
            // An on-demand job: AWS sends the plan's members empty.
            "createdBy": { "backupPlanId": "", "backupPlanVersion": "", "backupRuleId": "" },
            "someFieldAwsAddsLater": { "nested": ["anything", 1, 2.5] },
        }
    })
}

/// A copy job's state change, with its sizes as numbers as AWS sends them.
fn copy_state_change(state: &str) -> Value {
    json!({
        "version": "0",
        "id": EVENT_ID,
        "detail-type": "Copy Job State Change",
        "source": "aws.backup",
        "resources": [RECOVERY_POINT],
        "detail": {
            "copyJobId": "8E3F1B27-6C4D-5A09-B8E7-2F3A4C5D6E71",
            "backupSizeInBytes": 3221225472_u64,
            "resourceArn": RESOURCE,
            "sourceBackupVaultArn": "arn:aws:backup:eu-west-1:123456789012:backup-vault:Nightly",
            "destinationBackupVaultArn": DESTINATION,
            "destinationRecoveryPointArn": {},
            "state": state,
        }
    })
}

/// What the tests read of the command an event becomes.
#[derive(Debug, PartialEq)]
struct Plan {
    shape: Kind,
    source: SourceId,
    jobs: Vec<Job>,
    skipped: Option<String>,
    outcome: Option<JobOutcome>,
}

/// The event read as the handler reads it: a copy that cannot be made is the
/// event's error (and its outcome is still recorded: see `recorded_then_refused`).
fn plan(event: &Value, origin: &Origin, defaults: &Defaults) -> Result<Plan, Error> {
    match Command::read(event, origin, defaults) {
        Err(rejected) => Err(rejected.error),
        Ok(Command::Jobs(jobs)) => Ok(Plan {
            shape: jobs.kind(),
            source: jobs.source().clone(),
            jobs: jobs.jobs().to_vec(),
            skipped: None,
            outcome: None,
        }),
        Ok(Command::Outcome(outcome)) => {
            let jobs = outcome.copy().map_err(Clone::clone)?.into_iter().cloned().collect();
            Ok(Plan {
                shape: outcome.kind(),
                source: outcome.source().clone(),
                jobs,
                skipped: outcome.skipped().map(str::to_owned),
                outcome: outcome.outcome().cloned(),
            })
        }
        Ok(other) => panic!("expected requests or an outcome, got {other:?}"),
    }
}

/// A job state change whose copy is refused: its outcome, and the error.
fn recorded_then_refused(event: &Value, defaults: &Defaults) -> (JobOutcome, Error) {
    match Command::read(event, &direct(), defaults) {
        Ok(Command::Outcome(outcome)) => (
            outcome.outcome().cloned().expect("an outcome"),
            outcome.copy().expect_err("a refused copy").clone(),
        ),
        other => panic!("expected an outcome, got {other:?}"),
    }
}

fn planned_with(event: &Value, origin: &Origin, defaults: &Defaults) -> Plan {
    plan(event, origin, defaults).unwrap_or_else(|e| panic!("{event} should be read, but: {e}"))
}

fn planned(event: Value) -> Plan {
    planned_with(&event, &direct(), &defaults())
}

fn refused_with(event: &Value, origin: &Origin, defaults: &Defaults) -> Vec<Invalid> {
    match plan(event, origin, defaults) {
        Err(Error::Validation(problems)) => problems,
        other => panic!("expected a validation error, got {other:?}"),
    }
}

fn refused(event: Value) -> Vec<Invalid> {
    refused_with(&event, &direct(), &defaults())
}

/// The one problem of a refused event.
fn one(problems: Vec<Invalid>) -> Invalid {
    assert_eq!(problems.len(), 1, "expected one problem, got {problems:?}");
    problems.into_iter().next().unwrap()
}

fn tokens(plan: &Plan) -> Vec<String> {
    plan.jobs.iter().map(|j| j.idempotency_token().to_owned()).collect()
}

/// The token docs/reference.md ("Idempotency") promises: UUIDv5 of (source id, position).
fn token_of(kind: SourceKind, value: &str, position: usize) -> String {
    SourceId {
        kind,
        value: value.to_owned(),
    }
    .token(position)
}

fn copy_of(job: &Job) -> &crate::core::request::CopyJob {
    match job {
        Job::StartCopyJob(copy) => copy,
        other => panic!("expected a copy, got {other:?}"),
    }
}

// ---- A bare request ----

#[test]
fn a_bare_request_is_one_job() {
    let plan = planned(backup(1));
    assert_eq!(plan.shape, Kind::Bare);
    assert_eq!(plan.jobs.len(), 1);
    assert_eq!(plan.jobs[0].action(), Action::StartBackupJob);
    assert_eq!(plan.skipped, None);
}

#[test]
fn a_bare_request_may_carry_an_idempotency_key() {
    let plan = planned(json!({ "ResourceArn": RESOURCE, "IdempotencyKey": "nightly/2026-11-22" }));
    assert_eq!(plan.jobs[0].subject_arn(), RESOURCE);
    assert_eq!(plan.source.kind, SourceKind::IdempotencyKey);
}

#[test]
fn a_bare_requests_problems_are_at_the_field() {
    let problem = one(refused(json!({ "ResourceArn": RESOURCE, "StartWindowMinutes": 59 })));
    assert_says(&problem, "StartWindowMinutes", &["59 is below the minimum of 60"]);
}

#[test]
fn a_bare_request_with_a_misspelled_jobs_suggests_jobs() {
    let problems = refused(json!({ "jobs": [backup(0)] }));
    assert_says(at(&problems, "\"jobs\""), "\"jobs\"", &["did you mean \"Jobs\"?"]);
}

#[test]
fn a_bare_request_with_a_misspelled_idempotency_key_suggests_it() {
    let problems = refused(json!({ "ResourceArn": RESOURCE, "IdempotencyKy": "k" }));
    assert_says(
        at(&problems, "\"IdempotencyKy\""),
        "\"IdempotencyKy\"",
        &["did you mean \"IdempotencyKey\"?"],
    );
}

// ---- A list ----

#[test]
fn a_list_of_one_request_is_accepted() {
    let plan = planned(list(1));
    assert_eq!(plan.shape, Kind::List);
    assert_eq!(plan.jobs.len(), 1);
}

#[test]
fn a_list_of_1000_requests_is_accepted_in_order() {
    let plan = planned(list(MAX_JOBS));
    assert_eq!(MAX_JOBS, 1000);
    assert_eq!(plan.jobs.len(), 1000);
    assert!(plan.jobs[999].subject_arn().ends_with("vol-999"));
}

#[test]
fn a_list_of_1001_requests_is_refused() {
    let problem = one(refused(list(1001)));
    assert_says(&problem, "Jobs", &["has 1001 requests", "at most 1000", "split it"]);
}

#[test]
fn an_empty_list_is_refused() {
    let problem = one(refused(list(0)));
    assert_says(&problem, "Jobs", &["is empty", "1 to 1000 requests"]);
}

#[test]
fn jobs_must_be_an_array() {
    for (jobs, kind) in [
        (backup(0), "an object"),
        (json!("x"), "a string"),
        (json!(null), "null"),
    ] {
        let problem = one(refused(json!({ "Jobs": jobs })));
        assert_says(&problem, "Jobs", &["must be an array of requests", kind]);
    }
}

#[test]
fn a_list_mixes_backups_and_copies() {
    let plan = planned(json!({ "Jobs": [backup(0), { "RecoveryPointArn": RECOVERY_POINT }] }));
    let actions: Vec<Action> = plan.jobs.iter().map(Job::action).collect();
    assert_eq!(actions, [Action::StartBackupJob, Action::StartCopyJob]);
}

#[test]
fn a_problem_in_a_list_is_at_its_position() {
    let mut event = list(3);
    event["Jobs"][2]["Lifecycle"] = json!({ "MoveToColdStorageAfterDays": 30, "DeleteAfterDays": 100 });
    let problem = one(refused(event));
    assert_says(
        &problem,
        "Jobs[2].Lifecycle.DeleteAfterDays",
        &["Jobs[2].Lifecycle.DeleteAfterDays: 100 must be at least MoveToColdStorageAfterDays + 90 = 120"],
    );
}

#[test]
fn one_bad_request_refuses_the_whole_list_naming_each_bad_one() {
    let mut event = list(4);
    event["Jobs"][1] = json!({ "ResourceARN": RESOURCE });
    event["Jobs"][3] = json!("vol-3");
    let problems = refused(event);
    assert_says(
        at(&problems, "Jobs[1].\"ResourceARN\""),
        "Jobs[1].\"ResourceARN\"",
        &["did you mean \"ResourceArn\"?"],
    );
    assert_says(at(&problems, "Jobs[1]"), "Jobs[1]", &["neither ResourceArn"]);
    assert_says(
        at(&problems, "Jobs[3]"),
        "Jobs[3]",
        &["a request must be a JSON object, not a string"],
    );
    assert_eq!(problems.len(), 3, "{problems:?}");
}

#[test]
fn an_unknown_list_key_suggests_the_closest() {
    let mut event = list(1);
    event["IdempotencyKy"] = json!("k");
    let problem = one(refused(event));
    assert_says(
        &problem,
        "\"IdempotencyKy\"",
        &["unknown field", "did you mean \"IdempotencyKey\"?"],
    );
}

#[test]
fn an_unknown_list_key_with_nothing_close_names_the_list_keys() {
    let mut event = list(1);
    event["Colour"] = json!("blue");
    let problem = one(refused(event));
    assert_says(
        &problem,
        "\"Colour\"",
        &["unknown field", "only \"Jobs\" and \"IdempotencyKey\""],
    );
}

#[test]
fn a_request_field_at_list_level_says_to_put_it_in_each_request() {
    let mut event = list(2);
    event["BackupVaultName"] = json!("Main");
    let problem = one(refused(event));
    assert_says(
        &problem,
        "\"BackupVaultName\"",
        &["is a request field", "put it in each request of \"Jobs\""],
    );
}

#[test]
fn an_idempotency_key_inside_a_listed_request_says_to_move_it() {
    let mut event = list(2);
    event["Jobs"][1]["IdempotencyKey"] = json!("k");
    let problem = one(refused(event));
    assert_says(
        &problem,
        "Jobs[1].\"IdempotencyKey\"",
        &["is not a request field", "beside \"Jobs\""],
    );
}

// ---- IdempotencyKey ----

#[test]
fn an_idempotency_key_of_1_and_500_characters_is_accepted() {
    for key in ["k".to_owned(), "k".repeat(500)] {
        let mut event = list(1);
        event["IdempotencyKey"] = json!(key);
        assert_eq!(planned(event).source.value, key);
    }
}

#[test]
fn an_empty_idempotency_key_is_refused() {
    for event in [
        json!({ "Jobs": [backup(0)], "IdempotencyKey": "" }),
        json!({ "ResourceArn": RESOURCE, "IdempotencyKey": "" }),
    ] {
        let problem = one(refused(event));
        assert_says(&problem, "IdempotencyKey", &["must not be empty"]);
    }
}

#[test]
fn an_idempotency_key_of_501_characters_is_refused() {
    let mut event = list(1);
    event["IdempotencyKey"] = json!("k".repeat(501));
    let problem = one(refused(event));
    assert_says(&problem, "IdempotencyKey", &["at most 500 characters"]);
}

#[test]
fn an_idempotency_key_must_be_a_string() {
    let mut event = list(1);
    event["IdempotencyKey"] = json!(20261122);
    let problem = one(refused(event));
    assert_says(&problem, "IdempotencyKey", &["must be a string, not a number"]);
}

#[test]
fn a_null_idempotency_key_counts_as_absent() {
    let mut event = list(1);
    event["IdempotencyKey"] = Value::Null;
    assert_eq!(planned(event).source.kind, SourceKind::LambdaRequestId);
}

// ---- EventBridge ----

#[test]
fn an_eventbridge_detail_can_be_a_request() {
    let plan = planned(eventbridge(backup(7)));
    assert_eq!(plan.shape, Kind::EventBridge);
    assert_eq!(plan.jobs.len(), 1);
    assert!(plan.jobs[0].subject_arn().ends_with("vol-7"));
}

#[test]
fn an_eventbridge_detail_can_be_a_list() {
    let plan = planned(eventbridge(list(3)));
    assert_eq!(plan.shape, Kind::EventBridge);
    assert_eq!(plan.jobs.len(), 3);
}

#[test]
fn problems_in_an_eventbridge_detail_are_under_detail() {
    let mut detail = list(3);
    detail["Jobs"][1]["Index"] = json!("on");
    let problem = one(refused(eventbridge(detail)));
    assert_says(
        &problem,
        "detail.Jobs[1].Index",
        &["\"on\"", "\"ENABLED\" or \"DISABLED\""],
    );

    let problem = one(refused(eventbridge(json!({ "ResourceArn": "vol-1" }))));
    assert_says(&problem, "detail.ResourceArn", &["\"vol-1\"", "must be an ARN"]);
}

#[test]
fn an_empty_detail_tells_the_user_to_set_the_targets_input() {
    let mut event = eventbridge(json!({}));
    event["detail-type"] = json!("Scheduled Event");
    event["source"] = json!("aws.events");
    let problem = one(refused(event));
    assert_says(
        &problem,
        "detail",
        &[
            "is empty",
            "\"Scheduled Event\"",
            "\"aws.events\"",
            "Set the target's input",
        ],
    );
}

#[test]
fn a_null_detail_tells_the_user_to_set_the_targets_input() {
    let problem = one(refused(eventbridge(Value::Null)));
    assert_says(&problem, "detail", &["Set the target's input"]);
}

#[test]
fn an_eventbridge_detail_that_is_not_an_object_is_refused() {
    let problem = one(refused(eventbridge(json!([backup(0)]))));
    assert_says(&problem, "detail", &["a request or a list", "not an array"]);
}

#[test]
fn an_eventbridge_event_without_source_or_detail_is_refused() {
    let mut event = eventbridge(backup(0));
    event.as_object_mut().unwrap().remove("source");
    let problem = one(refused(event));
    assert_says(&problem, "", &["\"detail-type\", \"source\" and \"detail\""]);

    let mut event = eventbridge(backup(0));
    event.as_object_mut().unwrap().remove("detail");
    let problem = one(refused(event));
    assert_says(&problem, "", &["\"detail-type\", \"source\" and \"detail\""]);
}

// ---- aws.backup: Backup Job State Change ----

#[test]
fn the_recovery_point_comes_from_resources_before_the_detail() {
    let mut event = backup_state_change("COMPLETED");
    event["detail"]["recoveryPointArn"] = json!(OTHER_RECOVERY_POINT);
    let plan = planned(event);
    assert_eq!(plan.jobs[0].subject_arn(), RECOVERY_POINT);
}

#[test]
fn the_recovery_point_comes_from_the_detail_when_resources_is_empty() {
    let mut event = backup_state_change("COMPLETED");
    event["resources"] = json!([]);
    event["detail"]["recoveryPointArn"] = json!(OTHER_RECOVERY_POINT);
    let plan = planned(event);
    assert_eq!(plan.jobs[0].subject_arn(), OTHER_RECOVERY_POINT);
}

#[test]
fn the_recovery_point_comes_from_the_detail_when_resources_is_absent() {
    let mut event = backup_state_change("COMPLETED");
    event.as_object_mut().unwrap().remove("resources");
    event["detail"]["recoveryPointArn"] = json!(OTHER_RECOVERY_POINT);
    let plan = planned(event);
    assert_eq!(plan.jobs[0].subject_arn(), OTHER_RECOVERY_POINT);
}

#[test]
fn the_source_vault_comes_from_the_vault_arn_when_the_name_is_absent() {
    let mut event = backup_state_change("COMPLETED");
    event["detail"].as_object_mut().unwrap().remove("backupVaultName");
    event["detail"]["backupVaultArn"] = json!("arn:aws:backup:eu-west-1:123456789012:backup-vault:FromArn");
    let plan = planned(event);
    assert_eq!(plan.jobs[0].vault(), "FromArn");
}

#[test]
fn the_vault_name_wins_over_the_vault_arn() {
    let mut event = backup_state_change("COMPLETED");
    event["detail"]["backupVaultArn"] = json!("arn:aws:backup:eu-west-1:123456789012:backup-vault:FromArn");
    let plan = planned(event);
    assert_eq!(plan.jobs[0].vault(), "Nightly");
}

#[test]
fn a_completed_backup_without_a_vault_is_refused() {
    let mut event = backup_state_change("COMPLETED");
    let detail = event["detail"].as_object_mut().unwrap();
    detail.remove("backupVaultName");
    detail.remove("backupVaultArn");
    let problem = one(refused(event));
    assert_says(&problem, "detail", &["neither backupVaultName nor backupVaultArn"]);
}

#[test]
fn the_copy_of_a_completed_backup_is_validated_like_any_request() {
    let mut event = backup_state_change("COMPLETED");
    event["detail"]["backupVaultName"] = json!("not a vault");
    let problem = one(refused(event));
    assert!(problem.at.ends_with("SourceBackupVaultName"), "{problem}");
    assert!(problem.to_string().contains("\"not a vault\""), "{problem}");
}

#[test]
fn a_backup_state_change_without_state_is_skipped() {
    let mut event = backup_state_change("COMPLETED");
    event["detail"].as_object_mut().unwrap().remove("state");
    let plan = planned(event);
    assert!(plan.jobs.is_empty());
    assert!(plan.skipped.unwrap().contains("missing"));
}

#[test]
fn a_completed_backup_without_copy_destination_is_recorded_not_refused() {
    let defaults = Defaults {
        copy_destination: None,
        ..defaults()
    };
    let plan = planned_with(&backup_state_change("COMPLETED"), &direct(), &defaults);
    assert!(plan.jobs.is_empty());
    assert!(plan.outcome.is_some());
    assert!(
        plan.skipped.unwrap().contains("COPY_DESTINATION_VAULT_ARN is not set"),
        "says why no copy"
    );
}

#[test]
fn numbers_as_strings_and_unknown_detail_fields_are_ignored() {
    let mut event = backup_state_change("COMPLETED");
    event["detail"]["backupSizeInBytes"] = json!(2147483648_u64);
    event["detail"]["percentDone"] = json!(100.0);
    event["detail"]["BackupVault"] = json!("a typo in a request, but fine here");
    assert_eq!(planned(event).jobs.len(), 1);
    // The fixture itself has numbers as strings and a field AWS may add later.
    assert_eq!(planned(backup_state_change("COMPLETED")).jobs.len(), 1);
}

#[test]
fn a_completed_backup_is_copied_by_its_event_id() {
    let plan = planned(backup_state_change("COMPLETED"));
    assert_eq!(plan.source.kind, SourceKind::EventBridgeId);
    assert_eq!(plan.source.value, EVENT_ID);
    assert_eq!(tokens(&plan), [token_of(SourceKind::EventBridgeId, EVENT_ID, 0)]);
}

#[test]
fn a_completed_backup_to_a_destination_outside_the_allow_list_is_refused() {
    let problems = refused_with(
        &backup_state_change("COMPLETED"),
        &direct(),
        &allowing(&[OTHER_DESTINATION]),
    );
    let problem = one(problems);
    assert!(problem.at.ends_with("DestinationBackupVaultArn"), "{problem}");
    assert!(
        problem.to_string().contains("ALLOWED_DESTINATION_VAULT_ARNS"),
        "{problem}"
    );
}

#[test]
fn a_backup_event_of_another_type_is_an_ordinary_eventbridge_event() {
    let mut event = backup_state_change("COMPLETED");
    event["detail-type"] = json!("Restore Job State Change");
    let problems = refused(event);
    assert!(
        problems.iter().all(|p| p.at.starts_with("detail")),
        "the detail is read as a request: {problems:?}"
    );
}

// ---- The allow-list, for every kind of event ----

#[test]
fn the_allow_list_refuses_a_defaulted_destination() {
    let defaults = allowing(&[OTHER_DESTINATION]);
    let problem = one(refused_with(
        &json!({ "Jobs": [{ "RecoveryPointArn": RECOVERY_POINT }] }),
        &direct(),
        &defaults,
    ));
    assert_says(
        &problem,
        "Jobs[0].DestinationBackupVaultArn",
        &[&format!("\"{DESTINATION}\""), "ALLOWED_DESTINATION_VAULT_ARNS"],
    );
}

// ---- SQS ----

#[test]
fn an_sqs_event_nested_in_a_body_is_refused() {
    let inner =
        json!({ "Records": [{ "messageId": "m-inner", "eventSource": "aws:sqs", "body": backup(1).to_string() }] });
    let problem = one(refused_with(&inner, &from_sqs(MESSAGE_ID), &defaults()));
    assert_says(&problem, "Records", &["cannot be nested", EXPECTED]);
}

#[test]
fn a_skipped_backup_in_a_body_is_a_success() {
    let plan = planned_with(&backup_state_change("FAILED"), &from_sqs(MESSAGE_ID), &defaults());
    assert!(plan.jobs.is_empty() && plan.skipped.is_some());
}

// ---- Tokens (section 4) ----

#[test]
fn derived_tokens_are_uuid_v5_of_source_and_position() {
    let plan = planned(list(3));
    for (position, token) in tokens(&plan).iter().enumerate() {
        let uuid = Uuid::parse_str(token).unwrap();
        assert_eq!(uuid.get_version_num(), 5);
        assert_eq!(token, &token_of(SourceKind::LambdaRequestId, REQUEST_ID, position));
    }
}

#[test]
fn a_direct_invocation_is_known_by_its_lambda_request_id() {
    let plan = planned(backup(1));
    assert_eq!(plan.source.kind, SourceKind::LambdaRequestId);
    assert_eq!(plan.source.value, REQUEST_ID);
    assert_eq!(tokens(&plan), [token_of(SourceKind::LambdaRequestId, REQUEST_ID, 0)]);
}

#[test]
fn an_idempotency_key_wins_over_the_lambda_request_id() {
    let event = json!({ "Jobs": [backup(0), backup(1)], "IdempotencyKey": "nightly/2026-11-22" });
    let plan = planned(event.clone());
    assert_eq!(plan.source.kind, SourceKind::IdempotencyKey);
    assert_eq!(plan.source.value, "nightly/2026-11-22");
    assert_eq!(
        tokens(&plan),
        [
            token_of(SourceKind::IdempotencyKey, "nightly/2026-11-22", 0),
            token_of(SourceKind::IdempotencyKey, "nightly/2026-11-22", 1),
        ]
    );
    // Another invocation (another request id) of the same keyed event: the same tokens.
    let other = Origin {
        request_id: "another-request",
        message_id: None,
    };
    assert_eq!(tokens(&planned_with(&event, &other, &defaults())), tokens(&plan));
}

#[test]
fn a_bare_requests_idempotency_key_is_its_source() {
    let plan = planned(json!({ "ResourceArn": RESOURCE, "IdempotencyKey": "k-1" }));
    assert_eq!(tokens(&plan), [token_of(SourceKind::IdempotencyKey, "k-1", 0)]);
}

#[test]
fn an_idempotency_key_wins_over_the_sqs_message_id() {
    let event = json!({ "Jobs": [backup(0)], "IdempotencyKey": "k-1" });
    let plan = planned_with(&event, &from_sqs(MESSAGE_ID), &defaults());
    assert_eq!(plan.source.kind, SourceKind::IdempotencyKey);
    assert_eq!(tokens(&plan), [token_of(SourceKind::IdempotencyKey, "k-1", 0)]);
}

#[test]
fn an_idempotency_key_wins_over_the_eventbridge_id() {
    let plan = planned(eventbridge(json!({ "Jobs": [backup(0)], "IdempotencyKey": "k-1" })));
    assert_eq!(plan.source.kind, SourceKind::IdempotencyKey);
    assert_eq!(tokens(&plan), [token_of(SourceKind::IdempotencyKey, "k-1", 0)]);
}

#[test]
fn the_sqs_message_id_wins_over_the_lambda_request_id() {
    let plan = planned_with(&list(2), &from_sqs(MESSAGE_ID), &defaults());
    assert_eq!(plan.source.kind, SourceKind::SqsMessageId);
    assert_eq!(plan.source.value, MESSAGE_ID);
    assert_eq!(
        tokens(&plan),
        [
            token_of(SourceKind::SqsMessageId, MESSAGE_ID, 0),
            token_of(SourceKind::SqsMessageId, MESSAGE_ID, 1)
        ]
    );
}

#[test]
fn the_sqs_message_id_wins_over_the_eventbridge_id() {
    let plan = planned_with(&eventbridge(backup(0)), &from_sqs(MESSAGE_ID), &defaults());
    assert_eq!(plan.source.kind, SourceKind::SqsMessageId);
    assert_eq!(tokens(&plan), [token_of(SourceKind::SqsMessageId, MESSAGE_ID, 0)]);

    let plan = planned_with(&backup_state_change("COMPLETED"), &from_sqs(MESSAGE_ID), &defaults());
    assert_eq!(plan.source.kind, SourceKind::SqsMessageId);
}

#[test]
fn the_eventbridge_id_wins_over_the_lambda_request_id() {
    let plan = planned(eventbridge(list(2)));
    assert_eq!(plan.source.kind, SourceKind::EventBridgeId);
    assert_eq!(plan.source.value, EVENT_ID);
    assert_eq!(tokens(&plan)[1], token_of(SourceKind::EventBridgeId, EVENT_ID, 1));
}

#[test]
fn an_eventbridge_event_without_id_falls_back_to_the_lambda_request_id() {
    let mut event = eventbridge(backup(0));
    event.as_object_mut().unwrap().remove("id");
    let plan = planned(event);
    assert_eq!(plan.source.kind, SourceKind::LambdaRequestId);
    assert_eq!(tokens(&plan), [token_of(SourceKind::LambdaRequestId, REQUEST_ID, 0)]);
}

#[test]
fn the_same_event_planned_twice_gets_the_same_tokens() {
    for event in [
        backup(1),
        list(5),
        eventbridge(list(3)),
        backup_state_change("COMPLETED"),
    ] {
        let first = planned(event.clone());
        let second = planned(event);
        assert_eq!(tokens(&first), tokens(&second));
        assert_eq!(first, second);
    }
}

#[test]
fn a_different_invocation_gets_different_tokens() {
    let other = Origin {
        request_id: "another-request",
        message_id: None,
    };
    let first = planned(list(2));
    let second = planned_with(&list(2), &other, &defaults());
    assert_ne!(tokens(&first)[0], tokens(&second)[0]);
}

#[test]
fn the_requests_of_one_event_never_share_a_token() {
    let plan = planned(list(MAX_JOBS));
    let unique: std::collections::HashSet<&str> = plan.jobs.iter().map(Job::idempotency_token).collect();
    assert_eq!(unique.len(), MAX_JOBS);
}

#[test]
fn an_explicit_token_is_used_and_the_others_are_derived() {
    let mut event = list(3);
    event["Jobs"][1]["IdempotencyToken"] = json!("my-own-token");
    let plan = planned(event);
    assert_eq!(
        tokens(&plan),
        [
            token_of(SourceKind::LambdaRequestId, REQUEST_ID, 0),
            "my-own-token".to_owned(),
            token_of(SourceKind::LambdaRequestId, REQUEST_ID, 2),
        ]
    );
}

#[test]
fn two_equal_explicit_tokens_in_a_list_are_refused() {
    let mut event = list(3);
    event["Jobs"][0]["IdempotencyToken"] = json!("same");
    event["Jobs"][2]["IdempotencyToken"] = json!("same");
    let problem = one(refused(event));
    assert_says(
        &problem,
        "Jobs[2].IdempotencyToken",
        &["the same as that of Jobs[0]", "must not share a token"],
    );
}

#[test]
fn an_explicit_token_equal_to_a_derived_one_is_refused() {
    let mut event = list(2);
    event["Jobs"][1]["IdempotencyToken"] = json!(token_of(SourceKind::LambdaRequestId, REQUEST_ID, 0));
    let problem = one(refused(event));
    assert_says(&problem, "Jobs[1].IdempotencyToken", &["Jobs[0]"]);
}

#[test]
fn an_empty_explicit_token_in_a_list_is_refused_at_its_position() {
    let mut event = list(2);
    event["Jobs"][1]["IdempotencyToken"] = json!("");
    let problem = one(refused(event));
    assert_says(&problem, "Jobs[1].IdempotencyToken", &["must not be empty"]);
}

// ---- Tag values ----

#[test]
fn tag_values_never_appear_in_a_plan_or_its_errors() {
    const SECRET: &str = "s3cr3t-tag-value";
    let tagged = json!({ "ResourceArn": RESOURCE, "RecoveryPointTags": { "Owner": SECRET } });
    let planned_ok = planned(eventbridge(json!({ "Jobs": [tagged.clone(), backup(1)] })));
    assert!(!format!("{planned_ok:?}").contains(SECRET), "{planned_ok:?}");

    let mut bad_tag = tagged.clone();
    bad_tag["RecoveryPointTags"]["aws:owner"] = json!(SECRET);
    for event in [
        json!({ "Jobs": [tagged.clone(), { "ResourceArn": "vol-1" }] }),
        json!({ "Jobs": [bad_tag] }),
        json!({ "Jobs": [tagged.clone()], "RecoveryPointTags": { "Owner": SECRET } }),
        eventbridge(
            json!({ "Jobs": [tagged.clone(), { "RecoveryPointArn": RECOVERY_POINT, "RecoveryPointTags": { "Owner": SECRET } }] }),
        ),
    ] {
        let error = plan(&event, &direct(), &defaults()).unwrap_err();
        let shown = format!("{error} {error:?}");
        assert!(!shown.contains("s3cr3t"), "{shown}");
    }
}

#[test]
fn an_object_with_none_of_our_fields_is_told_what_was_expected() {
    let api_gateway = json!({ "httpMethod": "POST", "path": "/backup", "body": "{}", "headers": {} });
    let error = plan(&api_gateway, &direct(), &defaults()).unwrap_err();
    let text = error.to_string();
    assert!(text.contains(EXPECTED), "{text}");
    assert!(text.contains("\"httpMethod\""), "{text}");
}

// ---- aws.backup: what becomes of each state ----

#[test]
fn a_completed_on_demand_backup_starts_one_copy_and_is_recorded() {
    let mut plan_less = backup_state_change("COMPLETED");
    plan_less["detail"]["createdBy"] = json!({});
    let mut no_created_by = backup_state_change("COMPLETED");
    no_created_by["detail"].as_object_mut().unwrap().remove("createdBy");
    for event in [backup_state_change("COMPLETED"), plan_less, no_created_by] {
        let plan = planned(event);
        assert_eq!((plan.shape, plan.skipped.as_deref()), (Kind::BackupStateChange, None));
        assert_eq!(plan.jobs.len(), 1, "the copy");
        let copy = copy_of(&plan.jobs[0]);
        assert_eq!(copy.recovery_point_arn(), RECOVERY_POINT);
        assert_eq!(copy.source_backup_vault_name(), "Nightly");
        assert_eq!(copy.destination_backup_vault_arn(), DESTINATION);
        assert_eq!(copy.iam_role_arn(), ROLE);
        assert_eq!(copy.lifecycle(), None);
        let outcome = plan.outcome.expect("and its outcome");
        assert_eq!(outcome.state.as_str(), "COMPLETED");
    }
}

#[test]
fn a_backup_that_did_not_complete_is_recorded_or_skipped_and_never_copied() {
    let without_destination = Defaults {
        copy_destination: None,
        ..defaults()
    };
    for defaults in [defaults(), without_destination] {
        for state in ["FAILED", "ABORTED", "EXPIRED", "PARTIAL"] {
            let plan = planned_with(&backup_state_change(state), &direct(), &defaults);
            assert!(plan.jobs.is_empty(), "{state}");
            let why = plan.skipped.expect("a reason");
            assert!(
                why.contains(state) && why.contains("only a COMPLETED backup starts a copy"),
                "{why}"
            );
            assert_eq!(plan.outcome.map(|o| o.state.as_str()), Some(state));
        }
        for state in ["CREATED", "PENDING", "RUNNING", "ABORTING"] {
            let plan = planned_with(&backup_state_change(state), &direct(), &defaults);
            assert!(
                plan.jobs.is_empty() && plan.outcome.is_none(),
                "{state}: skipped, not recorded"
            );
            let why = plan.skipped.expect("a reason");
            assert!(why.contains(state) && why.contains("COMPLETED"), "{why}");
        }
    }
}

#[test]
fn a_completed_backup_of_a_backup_plan_is_recorded_and_not_copied() {
    let mut event = backup_state_change("COMPLETED");
    event["detail"]["createdBy"]["backupPlanId"] = json!("plan-1");
    let plan = planned(event);
    assert!(plan.jobs.is_empty());
    let why = plan.skipped.expect("a reason");
    assert!(
        why.contains("recorded as an outcome") && why.contains("backup plan \"plan-1\""),
        "{why}"
    );
    assert!(plan.outcome.is_some());
}

#[test]
fn a_copy_that_cannot_be_made_refuses_the_event_but_keeps_its_outcome() {
    let without_role = Defaults {
        role: None,
        ..defaults()
    };
    let (outcome, error) = recorded_then_refused(&backup_state_change("COMPLETED"), &without_role);
    assert_eq!(outcome.state.as_str(), "COMPLETED");
    assert!(
        matches!(&error, Error::Config(t) if t.contains("BACKUP_IAM_ROLE_ARN")),
        "{error:?}"
    );

    let mut no_point = backup_state_change("COMPLETED");
    no_point["resources"] = json!([]);
    let (outcome, error) = recorded_then_refused(&no_point, &defaults());
    assert_eq!(outcome.state.as_str(), "COMPLETED");
    let Error::Validation(problems) = error else {
        panic!("expected a validation error, got {error:?}");
    };
    assert_says(
        &one(problems),
        "resources",
        &["is empty", "detail.recoveryPointArn is missing"],
    );
}

#[test]
fn a_copy_state_change_starts_nothing_and_answers_why() {
    for state in [
        "CREATED",
        "RUNNING",
        "COMPLETED",
        "FAILED",
        "ABORTED",
        "PARTIAL",
        "EXPIRED",
    ] {
        let plan = planned(copy_state_change(state));
        assert_eq!(plan.shape, Kind::CopyStateChange);
        assert!(plan.jobs.is_empty(), "{state}");
        assert!(plan.skipped.is_some(), "{state}");
        assert_eq!(
            plan.outcome.is_some(),
            ["COMPLETED", "FAILED", "ABORTED", "PARTIAL"].contains(&state),
            "{state}"
        );
    }
}

#[test]
fn a_job_state_change_with_a_detail_that_is_not_an_object_is_refused() {
    let mut event = copy_state_change("COMPLETED");
    event["detail"] = json!("COMPLETED");
    let problem = one(refused(event));
    assert_says(&problem, "detail", &["must be an object", "a string"]);
}

// ---- The allow-list, for every kind of event ----

#[test]
fn the_allow_list_refuses_copies_in_every_kind_of_event() {
    let defaults = allowing(&[DESTINATION]);
    let outside = json!({ "RecoveryPointArn": RECOVERY_POINT, "DestinationBackupVaultArn": OTHER_DESTINATION });
    let inside = json!({ "RecoveryPointArn": RECOVERY_POINT, "DestinationBackupVaultArn": DESTINATION });
    for (event, origin, path) in [
        (outside.clone(), direct(), "DestinationBackupVaultArn"),
        (
            json!({ "Jobs": [inside.clone(), outside.clone()] }),
            direct(),
            "Jobs[1].DestinationBackupVaultArn",
        ),
        (
            eventbridge(outside.clone()),
            direct(),
            "detail.DestinationBackupVaultArn",
        ),
        (outside.clone(), from_sqs(MESSAGE_ID), "DestinationBackupVaultArn"),
    ] {
        let problem = one(refused_with(&event, &origin, &defaults));
        assert_says(
            &problem,
            path,
            &[&format!("\"{OTHER_DESTINATION}\""), "ALLOWED_DESTINATION_VAULT_ARNS"],
        );
    }
    assert_eq!(
        planned_with(&inside, &direct(), &defaults).jobs.len(),
        1,
        "the allowed one passes"
    );
    let problem = one(refused_with(
        &backup_state_change("COMPLETED"),
        &direct(),
        &allowing(&[OTHER_DESTINATION]),
    ));
    assert_says(
        &problem,
        "copy.DestinationBackupVaultArn",
        &["ALLOWED_DESTINATION_VAULT_ARNS"],
    );
}

// ---- What an event is ----

#[test]
fn a_message_body_can_be_any_event() {
    for (body, shape, jobs) in [
        (backup(1), Kind::Bare, 1),
        (list(3), Kind::List, 3),
        (eventbridge(list(2)), Kind::EventBridge, 2),
        (backup_state_change("COMPLETED"), Kind::BackupStateChange, 1),
    ] {
        let plan = planned_with(&body, &from_sqs(MESSAGE_ID), &defaults());
        assert_eq!((plan.shape, plan.jobs.len()), (shape, jobs));
    }
    let plan = planned_with(&backup_state_change("FAILED"), &from_sqs(MESSAGE_ID), &defaults());
    assert!(
        plan.jobs.is_empty() && plan.skipped.is_some(),
        "a skipped backup is a success"
    );
}

#[test]
fn an_event_that_is_not_an_object_says_what_was_expected_and_what_it_was() {
    for (event, kind) in [
        (json!("StartBackupJob"), "a string"),
        (json!([backup(1)]), "an array"),
        (json!(42), "a number"),
        (json!(null), "null"),
        (json!(true), "a boolean"),
    ] {
        for (origin, unread) in [(direct(), Kind::Unknown), (from_sqs(MESSAGE_ID), Kind::SqsMessage)] {
            let rejected = Command::read(&event, &origin, &defaults()).unwrap_err();
            assert_eq!(rejected.kind, unread);
            let Error::Validation(problems) = rejected.error else {
                panic!("a validation error");
            };
            assert_says(&one(problems), "", &[&format!("the event is {kind}"), EXPECTED]);
        }
    }
}

#[test]
fn a_refused_event_keeps_the_kind_it_was_read_as() {
    for (event, kind) in [
        (json!({ "ResourceArn": "vol-1" }), Kind::Bare),
        (json!({ "Jobs": [] }), Kind::List),
        (eventbridge(json!({ "ResourceArn": "vol-1" })), Kind::EventBridge),
        (json!({ "Selection": {} }), Kind::Selection),
        (json!({ "Selection": { "Resources": ["*"] }, "Audit": {} }), Kind::Audit),
        (json!({ "Audit": { "MaxAgeHours": 26 } }), Kind::Audit),
        (json!({ "httpMethod": "POST" }), Kind::Unknown),
    ] {
        let rejected = Command::read(&event, &direct(), &defaults()).unwrap_err();
        assert_eq!(rejected.kind, kind, "{event}");
        let report = rejected.report(&direct());
        assert_eq!(
            report.source.value, REQUEST_ID,
            "a refused event's source is the request id"
        );
        assert!(report.error.is_some_and(|e| e.is_refusal()));
    }
}

// ---- Selections and audits ----

fn read_selection(event: &Value, origin: &Origin) -> crate::core::selection::Selection {
    match Command::read(event, origin, &defaults()) {
        Ok(Command::Selection(selection)) => selection.selection().clone(),
        other => panic!("expected a selection, got {other:?}"),
    }
}

#[test]
fn a_selection_is_read_bare_in_a_detail_and_in_an_sqs_body() {
    let inner = json!({ "Resources": ["arn:aws:dynamodb:*:*:table/*"] });
    let arn = "arn:aws:dynamodb:eu-west-1:123456789012:table/orders";
    let bare = read_selection(&json!({ "Selection": inner }), &direct());
    assert_eq!(bare.source().kind, SourceKind::LambdaRequestId);
    let keyed = read_selection(&json!({ "Selection": inner, "IdempotencyKey": "k" }), &direct());
    assert_eq!(keyed.source().value, "k");
    let body = read_selection(&json!({ "Selection": inner }), &from_sqs(MESSAGE_ID));
    assert_eq!(body.source().value, MESSAGE_ID);
    let rule =
        json!({ "detail-type": "Nightly", "source": "my.app", "id": EVENT_ID, "detail": { "Selection": inner } });
    let in_detail = read_selection(&rule, &direct());
    assert_eq!(in_detail.source().value, EVENT_ID);
    assert_ne!(
        in_detail.job_for(arn).unwrap().idempotency_token(),
        bare.job_for(arn).unwrap().idempotency_token()
    );

    // Problems in a detail are named from the event.
    let bad =
        json!({ "detail-type": "Nightly", "source": "my.app", "detail": { "Selection": {} , "IdempotencyToken": "t"} });
    let rejected = Command::read(&bad, &direct(), &defaults()).unwrap_err();
    let error = rejected.error.to_string();
    assert_eq!(rejected.kind, Kind::Selection);
    assert!(
        error.contains("detail.\"IdempotencyToken\"") && error.contains("detail.Selection"),
        "{error}"
    );
    // A misspelt "Selection" is hinted at, not taken for some other event.
    let error = plan(&json!({ "selection": inner }), &direct(), &defaults())
        .unwrap_err()
        .to_string();
    assert!(error.contains("did you mean \"Selection\""), "{error}");
}

fn read_audit(event: &Value) -> Result<audit::Audit, Rejected> {
    match Command::read(event, &direct(), &defaults()) {
        Ok(Command::Audit(audit)) => Ok(audit),
        Ok(other) => panic!("expected an audit, got {other:?}"),
        Err(rejected) => Err(rejected),
    }
}

#[test]
fn an_audit_is_a_selection_with_an_audit_beside_it() {
    let event = json!({
        "Selection": { "SelectionName": "nightly-prod", "ListOfTags": [
            { "ConditionType": "STRINGEQUALS", "ConditionKey": "backup", "ConditionValue": "nightly" }] },
        "Audit": { "MaxAgeHours": 26, "Remediate": true, "MaxRemediations": 500 },
        "IdempotencyKey": "audit/2026-11-22T09:00:00Z",
        "StartWindowMinutes": 60,
    });
    let audit = read_audit(&event).unwrap();
    assert_eq!(audit.selection().name(), Some("nightly-prod"));
    assert_eq!(audit.selection().source().value, "audit/2026-11-22T09:00:00Z");
    assert_eq!(
        (
            audit.audit().max_age_hours,
            audit.audit().remediate,
            audit.audit().max_remediations
        ),
        (26, true, 500)
    );
    // Its remediations take a selection's tokens, and its fields.
    let arn = "arn:aws:dynamodb:eu-west-1:123456789012:table/orders";
    let job = audit.selection().job_for(arn).unwrap();
    let Job::StartBackupJob(backup) = &job else {
        panic!("a backup")
    };
    assert_eq!(job.idempotency_token(), audit.selection().source().resource_token(arn));
    assert_eq!(backup.start_window_minutes(), Some(60));
    // In an EventBridge detail, as a selection.
    let audit = read_audit(&eventbridge(event.clone())).unwrap();
    assert_eq!(audit.selection().source().kind, SourceKind::IdempotencyKey);
}

#[test]
fn an_invalid_audit_names_every_problem_of_the_audit_and_the_selection() {
    let rejected = read_audit(&json!({
        "Selection": { "Resources": ["not-an-arn"] },
        "Audit": { "MaxAgeHours": 0, "Remediat": true },
    }))
    .unwrap_err();
    assert_eq!(rejected.kind, Kind::Audit);
    let Error::Validation(problems) = rejected.error else {
        panic!("a validation error");
    };
    assert_says(
        at(&problems, "Selection.Resources[0]"),
        "Selection.Resources[0]",
        &["must be an ARN"],
    );
    assert_says(
        at(&problems, "Audit.MaxAgeHours"),
        "Audit.MaxAgeHours",
        &["below the minimum"],
    );
    assert_says(
        at(&problems, "Audit.\"Remediat\""),
        "Audit.\"Remediat\"",
        &["did you mean \"Remediate\""],
    );
    let rejected = read_audit(&json!({ "Audit": { "MaxAgeHours": 26 } })).unwrap_err();
    assert!(
        rejected.error.to_string().contains("Selection: is required"),
        "{}",
        rejected.error
    );
}
