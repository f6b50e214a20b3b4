//! The request rules of docs/reference.md, "Events", as a user meets them through
//! `validate`: what is accepted, what is refused, and what the error says.

use serde_json::{json, Value};

use super::*;
use crate::core::defaults::Defaults;
use crate::core::error::Invalid;
use crate::core::fixtures::{
    allowing, assert_says, at, defaults, DESTINATION, OTHER_DESTINATION, RECOVERY_POINT, RESOURCE, ROLE,
};

const OTHER_ROLE: &str = "arn:aws:iam::123456789012:role/service-role/OtherRole";
const AIR_GAPPED: &str = "arn:aws:backup:eu-west-1:123456789012:backup-vault:AirGapped";
const DERIVED: &str = "derived-token";
const SECRET: &str = "s3cr3t-tag-value";

/// `base` with the fields of `extra` added (a `null` in `extra` sets the field to null).
fn with(base: Value, extra: Value) -> Value {
    let (Value::Object(mut base), Value::Object(extra)) = (base, extra) else {
        panic!("objects only");
    };
    base.extend(extra);
    Value::Object(base)
}

/// A backup request: the resource and `extra`.
fn backup(extra: Value) -> Value {
    with(json!({ "ResourceArn": RESOURCE }), extra)
}

/// A copy request: the recovery point and `extra`.
fn copy(extra: Value) -> Value {
    with(json!({ "RecoveryPointArn": RECOVERY_POINT }), extra)
}

fn valid_with(request: &Value, defaults: &Defaults) -> Job {
    validate(request, &[], defaults, DERIVED).unwrap_or_else(|e| panic!("{request} should be valid, but: {e:?}"))
}

fn valid(request: Value) -> Job {
    valid_with(&request, &defaults())
}

fn backup_job(request: Value) -> BackupJob {
    match valid(request) {
        Job::StartBackupJob(job) => job,
        other => panic!("expected a backup, got {other:?}"),
    }
}

fn copy_job(request: Value) -> CopyJob {
    match valid(request) {
        Job::StartCopyJob(job) => job,
        other => panic!("expected a copy, got {other:?}"),
    }
}

fn errors_with(request: &Value, defaults: &Defaults) -> Vec<Invalid> {
    match validate(request, &[], defaults, DERIVED) {
        Ok(job) => panic!("{request} should be refused, but became {job:?}"),
        Err(errors) => {
            assert!(!errors.is_empty(), "refused without a reason");
            errors
        }
    }
}

fn errors(request: Value) -> Vec<Invalid> {
    errors_with(&request, &defaults())
}

/// The one error of a refused request.
fn error_with(request: Value, defaults: &Defaults) -> Invalid {
    let mut found = errors_with(&request, defaults);
    assert_eq!(found.len(), 1, "expected one error, got {found:?}");
    found.remove(0)
}

fn error(request: Value) -> Invalid {
    error_with(request, &defaults())
}

// ---- Action ----

#[test]
fn an_explicit_start_backup_job_is_a_backup() {
    let job = valid(backup(json!({ "Action": "StartBackupJob" })));
    assert_eq!(job.action(), Action::StartBackupJob);
}

#[test]
fn an_explicit_start_copy_job_is_a_copy() {
    let job = valid(copy(json!({ "Action": "StartCopyJob" })));
    assert_eq!(job.action(), Action::StartCopyJob);
}

#[test]
fn a_resource_arn_without_action_means_a_backup() {
    let job = valid(backup(json!({})));
    assert_eq!(job.action(), Action::StartBackupJob);
    assert_eq!(job.subject_arn(), RESOURCE);
}

#[test]
fn a_recovery_point_arn_without_action_means_a_copy() {
    let job = valid(copy(json!({})));
    assert_eq!(job.action(), Action::StartCopyJob);
    assert_eq!(job.subject_arn(), RECOVERY_POINT);
}

#[test]
fn both_arns_without_action_are_refused() {
    let e = error(backup(json!({ "RecoveryPointArn": RECOVERY_POINT })));
    assert_says(&e, "", &["ResourceArn", "RecoveryPointArn", "Action"]);
}

#[test]
fn neither_arn_is_refused() {
    let e = error(json!({ "BackupVaultName": "Main" }));
    assert_says(&e, "", &["neither ResourceArn", "RecoveryPointArn"]);
}

#[test]
fn an_empty_object_is_refused_as_neither_backup_nor_copy() {
    let e = error(json!({}));
    assert_says(&e, "", &["neither ResourceArn"]);
}

#[test]
fn an_unknown_action_is_refused_quoting_it() {
    let e = error(backup(json!({ "Action": "StartRestoreJob" })));
    assert_says(
        &e,
        "Action",
        &["\"StartRestoreJob\"", "\"StartBackupJob\"", "\"StartCopyJob\""],
    );
}

#[test]
fn an_action_that_is_not_a_string_is_refused() {
    let e = error(backup(json!({ "Action": 1 })));
    assert_says(&e, "Action", &["1 is not an action", "\"StartBackupJob\""]);
}

#[test]
fn an_explicit_action_still_needs_its_arn() {
    assert_says(
        &error(json!({ "Action": "StartBackupJob" })),
        "ResourceArn",
        &["is required"],
    );
    assert_says(
        &error(json!({ "Action": "StartCopyJob" })),
        "RecoveryPointArn",
        &["is required"],
    );
}

#[test]
fn an_explicit_backup_with_a_recovery_point_names_the_copy_field() {
    let found = errors(json!({ "Action": "StartBackupJob", "RecoveryPointArn": RECOVERY_POINT }));
    assert_says(
        at(&found, "RecoveryPointArn"),
        "RecoveryPointArn",
        &["not allowed in StartBackupJob", "belongs to StartCopyJob"],
    );
    assert_says(at(&found, "ResourceArn"), "ResourceArn", &["is required"]);
}

#[test]
fn every_backup_field_is_refused_in_a_copy_naming_the_action() {
    for (field, value) in [
        ("ResourceArn", json!(RESOURCE)),
        ("BackupVaultName", json!("Main")),
        ("LogicallyAirGappedBackupVaultArn", json!(AIR_GAPPED)),
        ("StartWindowMinutes", json!(60)),
        ("CompleteWindowMinutes", json!(60)),
        ("RecoveryPointTags", json!({ "Owner": "team" })),
        ("BackupOptions", json!({ "WindowsVSS": "enabled" })),
        ("Index", json!("ENABLED")),
    ] {
        let request = copy(json!({ "Action": "StartCopyJob", field: value }));
        let e = error(request);
        assert_says(
            &e,
            field,
            &["is not allowed in StartCopyJob", "it belongs to StartBackupJob"],
        );
    }
}

#[test]
fn every_copy_field_is_refused_in_a_backup_naming_the_action() {
    for (field, value) in [
        ("RecoveryPointArn", json!(RECOVERY_POINT)),
        ("SourceBackupVaultName", json!("Main")),
        ("DestinationBackupVaultArn", json!(DESTINATION)),
    ] {
        let request = backup(json!({ "Action": "StartBackupJob", field: value }));
        let e = error(request);
        assert_says(
            &e,
            field,
            &["is not allowed in StartBackupJob", "it belongs to StartCopyJob"],
        );
    }
}

#[test]
fn a_copy_field_in_an_inferred_backup_is_refused() {
    let e = error(backup(json!({ "SourceBackupVaultName": "Main" })));
    assert_says(&e, "SourceBackupVaultName", &["not allowed in StartBackupJob"]);
}

#[test]
fn a_backup_field_in_an_inferred_copy_is_refused() {
    let e = error(copy(json!({ "StartWindowMinutes": 60 })));
    assert_says(&e, "StartWindowMinutes", &["not allowed in StartCopyJob"]);
}

// ---- Unknown fields ----

#[test]
fn a_misspelled_field_suggests_the_closest() {
    let found = errors(json!({ "ResourceARN": RESOURCE }));
    assert_says(
        at(&found, "\"ResourceARN\""),
        "\"ResourceARN\"",
        &["unknown field", "did you mean \"ResourceArn\"?"],
    );
}

#[test]
fn a_misspelled_field_beside_a_valid_request_is_still_refused() {
    let e = error(backup(json!({ "BackupVault": "Main" })));
    assert_says(
        &e,
        "\"BackupVault\"",
        &["unknown field", "did you mean \"BackupVaultName\"?"],
    );
}

#[test]
fn a_misspelled_lifecycle_field_suggests_the_closest() {
    let e = error(backup(json!({ "Lifecycle": { "DeleteAfterDay": 30 } })));
    assert_says(
        &e,
        "Lifecycle.\"DeleteAfterDay\"",
        &["unknown field", "did you mean \"DeleteAfterDays\"?"],
    );
}

#[test]
fn an_unknown_field_with_nothing_close_lists_the_fields() {
    let e = error(backup(json!({ "Colour": "blue" })));
    assert_says(
        &e,
        "\"Colour\"",
        &["unknown field", "ResourceArn", "RecoveryPointArn", "IamRoleArn"],
    );
}

#[test]
fn an_unknown_field_is_refused_even_when_null() {
    let e = error(backup(json!({ "ResourceARN": null })));
    assert_says(&e, "\"ResourceARN\"", &["did you mean \"ResourceArn\"?"]);
}

#[test]
fn many_unknown_fields_are_summarised() {
    let mut request = backup(json!({}));
    for i in 0..15 {
        request[format!("Unknown{i:02}")] = json!(i);
    }
    let found = errors(request);
    assert_eq!(found.len(), 11, "{found:?}");
    assert_says(at(&found, ""), "", &["5 more unknown fields"]);
}

#[test]
fn an_idempotency_key_inside_a_list_request_says_where_it_belongs() {
    let e = error(backup(json!({ "IdempotencyKey": "schedule/2026-01-01" })));
    assert_says(&e, "\"IdempotencyKey\"", &["is not a request field", "beside \"Jobs\""]);
}

#[test]
fn fields_the_event_allows_beside_the_request_are_ignored() {
    let request = backup(json!({ "IdempotencyKey": "schedule/2026-01-01" }));
    let job = validate(&request, &["IdempotencyKey"], &defaults(), DERIVED).unwrap();
    assert_eq!(job.subject_arn(), RESOURCE);
    let sent = serde_json::to_string(&job).unwrap();
    assert!(!sent.contains("IdempotencyKey"), "{sent}");
}

#[test]
fn a_request_must_be_an_object() {
    for (value, kind) in [
        (json!([]), "an array"),
        (json!("StartBackupJob"), "a string"),
        (json!(null), "null"),
        (json!(42), "a number"),
    ] {
        let e = error(value);
        assert_says(&e, "", &["a request must be a JSON object", kind]);
    }
}

#[test]
fn every_problem_of_a_request_is_reported_at_once() {
    let found = errors(backup(json!({
        "BackupVaultName": "x",
        "StartWindowMinutes": 10,
        "Index": "on",
        "Colour": "blue",
    })));
    for path in ["BackupVaultName", "StartWindowMinutes", "Index", "\"Colour\""] {
        at(&found, path);
    }
}

// ---- Defaults (the operator's settings) ----

#[test]
fn a_backup_takes_vault_and_role_from_the_defaults() {
    let job = backup_job(backup(json!({})));
    assert_eq!(job.resource_arn(), RESOURCE);
    assert_eq!(job.backup_vault_name(), "Main");
    assert_eq!(job.iam_role_arn(), ROLE);
}

#[test]
fn a_backup_uses_the_requests_vault_and_role_over_the_defaults() {
    let job = backup_job(backup(json!({ "BackupVaultName": "Other", "IamRoleArn": OTHER_ROLE })));
    assert_eq!(job.backup_vault_name(), "Other");
    assert_eq!(job.iam_role_arn(), OTHER_ROLE);
}

#[test]
fn a_copy_takes_source_destination_and_role_from_the_defaults() {
    let job = copy_job(copy(json!({})));
    assert_eq!(job.recovery_point_arn(), RECOVERY_POINT);
    assert_eq!(job.source_backup_vault_name(), "Main");
    assert_eq!(job.destination_backup_vault_arn(), DESTINATION);
    assert_eq!(job.iam_role_arn(), ROLE);
}

#[test]
fn a_copy_uses_the_requests_values_over_the_defaults() {
    let job = copy_job(copy(json!({
        "SourceBackupVaultName": "Other",
        "DestinationBackupVaultArn": OTHER_DESTINATION,
        "IamRoleArn": OTHER_ROLE,
    })));
    assert_eq!(job.source_backup_vault_name(), "Other");
    assert_eq!(job.destination_backup_vault_arn(), OTHER_DESTINATION);
    assert_eq!(job.iam_role_arn(), OTHER_ROLE);
}

#[test]
fn a_request_can_carry_everything_without_defaults() {
    let job = valid_with(
        &backup(json!({ "BackupVaultName": "Main", "IamRoleArn": ROLE })),
        &Defaults::default(),
    );
    assert_eq!(job.vault(), "Main");
}

#[test]
fn a_backup_without_vault_anywhere_names_the_field_and_the_setting() {
    let defaults = Defaults {
        vault: None,
        ..defaults()
    };
    let e = error_with(backup(json!({})), &defaults);
    assert_says(
        &e,
        "BackupVaultName",
        &["is required", "set it in the request", "BACKUP_VAULT_NAME"],
    );
}

#[test]
fn a_request_without_role_anywhere_names_the_field_and_the_setting() {
    let defaults = Defaults {
        role: None,
        ..defaults()
    };
    for request in [backup(json!({})), copy(json!({}))] {
        let e = error_with(request, &defaults);
        assert_says(&e, "IamRoleArn", &["is required", "BACKUP_IAM_ROLE_ARN"]);
    }
}

#[test]
fn a_copy_without_source_vault_anywhere_names_the_field_and_the_setting() {
    let defaults = Defaults {
        vault: None,
        ..defaults()
    };
    let e = error_with(copy(json!({})), &defaults);
    assert_says(&e, "SourceBackupVaultName", &["is required", "BACKUP_VAULT_NAME"]);
}

#[test]
fn a_copy_without_destination_anywhere_names_the_field_and_the_setting() {
    let defaults = Defaults {
        copy_destination: None,
        ..defaults()
    };
    let e = error_with(copy(json!({})), &defaults);
    assert_says(
        &e,
        "DestinationBackupVaultArn",
        &["is required", "COPY_DESTINATION_VAULT_ARN"],
    );
}

#[test]
fn every_missing_value_is_reported_at_once() {
    let found = errors_with(&copy(json!({})), &Defaults::default());
    assert_eq!(found.len(), 3, "{found:?}");
    at(&found, "SourceBackupVaultName");
    at(&found, "DestinationBackupVaultArn");
    at(&found, "IamRoleArn");
}

// ---- Vault names ----

#[test]
fn vault_names_of_2_and_50_characters_are_accepted() {
    for name in ["ab".to_owned(), "v".repeat(50), "My-Vault_2".to_owned()] {
        assert_eq!(
            backup_job(backup(json!({ "BackupVaultName": name }))).backup_vault_name(),
            name
        );
        assert_eq!(
            copy_job(copy(json!({ "SourceBackupVaultName": name }))).source_backup_vault_name(),
            name
        );
    }
}

#[test]
fn vault_names_of_1_and_51_characters_are_refused() {
    for name in ["a".to_owned(), "v".repeat(51)] {
        let e = error(backup(json!({ "BackupVaultName": name })));
        assert_says(&e, "BackupVaultName", &[&format!("\"{name}\""), "2 to 50"]);
        let e = error(copy(json!({ "SourceBackupVaultName": name })));
        assert_says(&e, "SourceBackupVaultName", &[&format!("\"{name}\""), "2 to 50"]);
    }
}

#[test]
fn vault_names_with_other_characters_are_refused_stating_the_pattern() {
    for name in ["my vault", "vault.name", "vault/1", "väult"] {
        let e = error(backup(json!({ "BackupVaultName": name })));
        assert_says(
            &e,
            "BackupVaultName",
            &[&format!("\"{name}\""), "^[a-zA-Z0-9\\-\\_]{2,50}$"],
        );
    }
}

#[test]
fn a_vault_name_that_is_not_a_string_is_refused() {
    let e = error(backup(json!({ "BackupVaultName": 7 })));
    assert_says(&e, "BackupVaultName", &["must be a string, not a number"]);
}

// ---- ARNs ----

#[test]
fn any_well_formed_arn_is_a_resource() {
    for arn in [
        RESOURCE,
        "arn:aws:s3:::my-bucket",
        "arn:aws:dynamodb:us-east-1:123456789012:table/Orders",
        "arn:aws-cn:rds:cn-north-1:123456789012:db:orders",
    ] {
        assert_eq!(backup_job(json!({ "ResourceArn": arn })).resource_arn(), arn);
    }
}

#[test]
fn a_malformed_resource_arn_is_refused_quoting_it() {
    for arn in ["vol-0123", "arn:aws:ec2", "arn:aws:ec2:eu-west-1:12345:volume/v"] {
        let e = error(json!({ "ResourceArn": arn }));
        assert_says(
            &e,
            "ResourceArn",
            &[
                &format!("\"{arn}\""),
                "must be an ARN",
                "arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE",
            ],
        );
    }
}

#[test]
fn a_resource_arn_that_is_not_a_string_is_refused() {
    let e = error(json!({ "ResourceArn": ["arn:aws:s3:::b"] }));
    assert_says(&e, "ResourceArn", &["must be a string, not an array"]);
}

#[test]
fn a_malformed_recovery_point_arn_is_refused_quoting_it() {
    let e = error(json!({ "RecoveryPointArn": "snap-0123" }));
    assert_says(&e, "RecoveryPointArn", &["\"snap-0123\"", "must be an ARN"]);
}

#[test]
fn an_iam_role_arn_must_name_a_role() {
    for arn in [
        "arn:aws:iam::123456789012:user/Bob",
        "arn:aws:iam::123456789012:role/",
        "BackupRole",
        "arn:aws:iam:eu-west-1:123456789012:role/R",
    ] {
        let e = error(backup(json!({ "IamRoleArn": arn })));
        assert_says(
            &e,
            "IamRoleArn",
            &[
                &format!("\"{arn}\""),
                "must be an IAM role ARN",
                "arn:aws:iam::123456789012:role/NAME",
            ],
        );
    }
}

#[test]
fn a_destination_must_be_a_backup_vault_arn() {
    for arn in [
        "arn:aws:backup:eu-west-1:123456789012:recovery-point:abc",
        "arn:aws:s3:::bucket",
        "Copies",
        "arn:aws:backup:eu-west-1:123456789012:backup-vault:x",
    ] {
        let e = error(copy(json!({ "DestinationBackupVaultArn": arn })));
        assert_says(
            &e,
            "DestinationBackupVaultArn",
            &[&format!("\"{arn}\""), "must be a backup vault ARN"],
        );
    }
}

#[test]
fn a_logically_air_gapped_vault_is_a_backup_vault_arn() {
    let job = backup_job(backup(json!({ "LogicallyAirGappedBackupVaultArn": AIR_GAPPED })));
    assert_eq!(job.logically_air_gapped_backup_vault_arn(), Some(AIR_GAPPED));
    assert_eq!(
        backup_job(backup(json!({}))).logically_air_gapped_backup_vault_arn(),
        None
    );

    let e = error(backup(json!({ "LogicallyAirGappedBackupVaultArn": ROLE })));
    assert_says(
        &e,
        "LogicallyAirGappedBackupVaultArn",
        &[&format!("\"{ROLE}\""), "must be a backup vault ARN"],
    );
}

// ---- Windows ----

#[test]
fn start_window_of_60_and_52_560_000_minutes_is_accepted() {
    for minutes in [60, 52_560_000] {
        let job = backup_job(backup(json!({ "StartWindowMinutes": minutes })));
        assert_eq!(job.start_window_minutes(), Some(minutes));
    }
}

#[test]
fn start_window_of_59_minutes_is_refused() {
    let e = error(backup(json!({ "StartWindowMinutes": 59 })));
    assert_says(&e, "StartWindowMinutes", &["59", "below the minimum of 60"]);
}

#[test]
fn start_window_of_52_560_001_minutes_is_refused() {
    let e = error(backup(json!({ "StartWindowMinutes": 52_560_001 })));
    assert_says(&e, "StartWindowMinutes", &["52560001", "above the maximum of 52560000"]);
}

#[test]
fn complete_window_of_1_and_52_560_000_minutes_is_accepted() {
    for minutes in [1, 52_560_000] {
        let job = backup_job(backup(json!({ "CompleteWindowMinutes": minutes })));
        assert_eq!(job.complete_window_minutes(), Some(minutes));
    }
}

#[test]
fn complete_window_of_0_minutes_is_refused() {
    let e = error(backup(json!({ "CompleteWindowMinutes": 0 })));
    assert_says(&e, "CompleteWindowMinutes", &["0 is below the minimum of 1"]);
}

#[test]
fn complete_window_of_52_560_001_minutes_is_refused() {
    let e = error(backup(json!({ "CompleteWindowMinutes": 52_560_001 })));
    assert_says(
        &e,
        "CompleteWindowMinutes",
        &["52560001 is above the maximum of 52560000"],
    );
}

#[test]
fn windows_are_absent_unless_given() {
    let job = backup_job(backup(json!({})));
    assert_eq!(job.start_window_minutes(), None);
    assert_eq!(job.complete_window_minutes(), None);
}

#[test]
fn a_fractional_window_is_refused_quoting_it() {
    let e = error(backup(json!({ "StartWindowMinutes": 90.5 })));
    assert_says(&e, "StartWindowMinutes", &["90.5", "must be a whole number"]);
    let e = error(backup(json!({ "CompleteWindowMinutes": 1.5 })));
    assert_says(&e, "CompleteWindowMinutes", &["1.5", "must be a whole number"]);
}

#[test]
fn a_window_given_as_a_string_is_refused_quoting_it() {
    let e = error(backup(json!({ "StartWindowMinutes": "60" })));
    assert_says(&e, "StartWindowMinutes", &["\"60\" must be a whole number"]);
}

#[test]
fn a_negative_window_is_refused() {
    let e = error(backup(json!({ "CompleteWindowMinutes": -5 })));
    assert_says(&e, "CompleteWindowMinutes", &["-5 is below the minimum of 1"]);
}

// ---- Lifecycle ----

fn lifecycle_error(lifecycle: Value) -> Invalid {
    error(backup(json!({ "Lifecycle": lifecycle })))
}

#[test]
fn lifecycle_days_of_1_and_36_500_are_accepted() {
    for field in ["MoveToColdStorageAfterDays", "DeleteAfterDays"] {
        for days in [1, 36_500] {
            let job = backup_job(backup(json!({ "Lifecycle": { field: days } })));
            let lifecycle = job.lifecycle().unwrap();
            let got = match field {
                "MoveToColdStorageAfterDays" => lifecycle.move_to_cold_storage_after_days(),
                _ => lifecycle.delete_after_days(),
            };
            assert_eq!(got, Some(days), "{field}");
        }
    }
}

#[test]
fn lifecycle_days_of_0_are_refused() {
    for field in ["MoveToColdStorageAfterDays", "DeleteAfterDays"] {
        let e = lifecycle_error(json!({ field: 0 }));
        assert_says(&e, &format!("Lifecycle.{field}"), &["0 is below the minimum of 1"]);
    }
}

#[test]
fn lifecycle_days_of_36_501_are_refused() {
    for field in ["MoveToColdStorageAfterDays", "DeleteAfterDays"] {
        let e = lifecycle_error(json!({ field: 36_501 }));
        assert_says(
            &e,
            &format!("Lifecycle.{field}"),
            &["36501 is above the maximum of 36500"],
        );
    }
}

#[test]
fn delete_90_days_after_cold_storage_is_accepted() {
    let job = backup_job(backup(json!({
        "Lifecycle": { "MoveToColdStorageAfterDays": 30, "DeleteAfterDays": 120 }
    })));
    let lifecycle = job.lifecycle().unwrap();
    assert_eq!(lifecycle.move_to_cold_storage_after_days(), Some(30));
    assert_eq!(lifecycle.delete_after_days(), Some(120));
}

#[test]
fn delete_89_days_after_cold_storage_is_refused() {
    let e = lifecycle_error(json!({ "MoveToColdStorageAfterDays": 30, "DeleteAfterDays": 119 }));
    assert_says(
        &e,
        "Lifecycle.DeleteAfterDays",
        &["119", "at least MoveToColdStorageAfterDays + 90 = 120"],
    );
}

#[test]
fn delete_before_cold_storage_is_refused_in_a_copy_too() {
    let e = error(copy(json!({
        "Lifecycle": { "MoveToColdStorageAfterDays": 10, "DeleteAfterDays": 5 }
    })));
    assert_says(&e, "Lifecycle.DeleteAfterDays", &["5 must be at least", "= 100"]);
}

#[test]
fn minus_one_for_both_day_counts_keeps_a_copy_forever() {
    let job = copy_job(copy(json!({
        "Lifecycle": { "MoveToColdStorageAfterDays": -1, "DeleteAfterDays": -1 }
    })));
    let lifecycle = job.lifecycle().unwrap();
    assert_eq!(lifecycle.move_to_cold_storage_after_days(), Some(-1));
    assert_eq!(lifecycle.delete_after_days(), Some(-1));
}

#[test]
fn minus_one_for_both_day_counts_is_refused_in_a_backup() {
    let found = errors(backup(json!({
        "Lifecycle": { "MoveToColdStorageAfterDays": -1, "DeleteAfterDays": -1 }
    })));
    assert_says(
        at(&found, "Lifecycle.MoveToColdStorageAfterDays"),
        "Lifecycle.MoveToColdStorageAfterDays",
        &["-1 is below the minimum of 1"],
    );
    assert_says(
        at(&found, "Lifecycle.DeleteAfterDays"),
        "Lifecycle.DeleteAfterDays",
        &["-1 is below the minimum of 1"],
    );
}

#[test]
fn a_single_minus_one_is_refused_in_a_copy_explaining_both() {
    let found = errors(copy(json!({ "Lifecycle": { "DeleteAfterDays": -1 } })));
    assert_eq!(found.len(), 1, "{found:?}");
    assert_says(
        &found[0],
        "Lifecycle.DeleteAfterDays",
        &["-1 is below the minimum of 1", "only when both day counts are -1"],
    );

    let found = errors(copy(json!({
        "Lifecycle": { "MoveToColdStorageAfterDays": -1, "DeleteAfterDays": 365 }
    })));
    assert_eq!(found.len(), 1, "{found:?}");
    assert_says(
        &found[0],
        "Lifecycle.MoveToColdStorageAfterDays",
        &["-1", "only when both day counts are -1"],
    );
}

#[test]
fn delete_after_event_is_refused_as_output_only() {
    let e = lifecycle_error(json!({ "DeleteAfterDays": 30, "DeleteAfterEvent": "DELETE_AFTER_COPY" }));
    assert_says(&e, "Lifecycle.DeleteAfterEvent", &["output-only", "DeleteAfterDays"]);
}

#[test]
fn opt_in_to_archive_is_a_boolean() {
    let job = backup_job(backup(json!({
        "Lifecycle": { "DeleteAfterDays": 30, "OptInToArchiveForSupportedResources": true }
    })));
    assert_eq!(
        job.lifecycle().unwrap().opt_in_to_archive_for_supported_resources(),
        Some(true)
    );

    let e = lifecycle_error(json!({ "OptInToArchiveForSupportedResources": "true" }));
    assert_says(
        &e,
        "Lifecycle.OptInToArchiveForSupportedResources",
        &["must be true or false", "\"true\""],
    );
}

#[test]
fn fractional_lifecycle_days_are_refused() {
    let e = lifecycle_error(json!({ "DeleteAfterDays": 1.5 }));
    assert_says(&e, "Lifecycle.DeleteAfterDays", &["1.5 must be a whole number"]);
    let e = lifecycle_error(json!({ "MoveToColdStorageAfterDays": "30" }));
    assert_says(
        &e,
        "Lifecycle.MoveToColdStorageAfterDays",
        &["\"30\" must be a whole number"],
    );
}

#[test]
fn a_lifecycle_must_be_an_object() {
    let e = lifecycle_error(json!(30));
    assert_says(&e, "Lifecycle", &["must be an object, not a number"]);
}

#[test]
fn a_copy_takes_a_lifecycle() {
    let job = copy_job(copy(json!({ "Lifecycle": { "DeleteAfterDays": 7 } })));
    assert_eq!(job.lifecycle().unwrap().delete_after_days(), Some(7));
}

// ---- BackupOptions and Index ----

#[test]
fn backup_options_matching_the_pattern_are_accepted() {
    let long = "o".repeat(50);
    let job = backup_job(backup(json!({
        "BackupOptions": { "WindowsVSS": "enabled", long.clone(): "v1.0_beta-2" }
    })));
    let options = job.backup_options().unwrap();
    assert_eq!(options["WindowsVSS"], "enabled");
    assert_eq!(options[&long], "v1.0_beta-2");
}

#[test]
fn a_backup_option_key_breaking_the_pattern_is_refused() {
    for key in ["Windows VSS".to_owned(), "o".repeat(51), String::new()] {
        let e = error(backup(json!({ "BackupOptions": { key.clone(): "enabled" } })));
        let quoted = crate::core::error::quote_str(&key);
        assert_says(
            &e,
            &format!("BackupOptions.{quoted}"),
            &["the key must be 1 to 50", "^[a-zA-Z0-9\\-\\_\\.]{1,50}$"],
        );
    }
}

#[test]
fn a_backup_option_value_breaking_the_pattern_is_refused_quoting_it() {
    let e = error(backup(json!({ "BackupOptions": { "WindowsVSS": "en abled" } })));
    assert_says(
        &e,
        "BackupOptions.\"WindowsVSS\"",
        &["the value \"en abled\"", "^[a-zA-Z0-9\\-\\_\\.]{1,50}$"],
    );
    let long = "v".repeat(51);
    let e = error(backup(json!({ "BackupOptions": { "WindowsVSS": long } })));
    assert_says(&e, "BackupOptions.\"WindowsVSS\"", &["1 to 50"]);
}

#[test]
fn a_backup_option_value_must_be_a_string() {
    let e = error(backup(json!({ "BackupOptions": { "WindowsVSS": true } })));
    assert_says(
        &e,
        "BackupOptions.\"WindowsVSS\"",
        &["the value must be a string, not a boolean"],
    );
}

#[test]
fn index_is_enabled_or_disabled() {
    assert_eq!(
        backup_job(backup(json!({ "Index": "ENABLED" }))).index(),
        Some(Index::Enabled)
    );
    assert_eq!(
        backup_job(backup(json!({ "Index": "DISABLED" }))).index(),
        Some(Index::Disabled)
    );
    assert_eq!(backup_job(backup(json!({}))).index(), None);
}

#[test]
fn any_other_index_is_refused_quoting_it() {
    for index in ["enabled", "ON", ""] {
        let e = error(backup(json!({ "Index": index })));
        assert_says(&e, "Index", &[&format!("\"{index}\""), "\"ENABLED\" or \"DISABLED\""]);
    }
    let e = error(backup(json!({ "Index": true })));
    assert_says(&e, "Index", &["must be a string"]);
}

// ---- RecoveryPointTags ----

fn tags(n: usize) -> Value {
    let map: serde_json::Map<String, Value> = (0..n).map(|i| (format!("key-{i}"), json!(SECRET))).collect();
    Value::Object(map)
}

#[test]
fn fifty_tags_are_accepted() {
    let job = backup_job(backup(json!({ "RecoveryPointTags": tags(50) })));
    assert_eq!(job.recovery_point_tags().unwrap().iter().count(), 50);
}

#[test]
fn fifty_one_tags_are_refused() {
    let e = error(backup(json!({ "RecoveryPointTags": tags(51) })));
    assert_says(&e, "RecoveryPointTags", &["has 51 tags", "at most 50"]);
}

#[test]
fn tag_keys_of_1_and_128_characters_are_accepted() {
    let long = "k".repeat(128);
    let job = backup_job(backup(json!({ "RecoveryPointTags": { "k": "v", long.clone(): "v" } })));
    let keys: Vec<&str> = job.recovery_point_tags().unwrap().iter().map(|(k, _)| k).collect();
    assert!(keys.contains(&"k") && keys.contains(&long.as_str()), "{keys:?}");
}

#[test]
fn a_tag_key_of_129_characters_is_refused() {
    let long = "k".repeat(129);
    let e = error(backup(json!({ "RecoveryPointTags": { long.clone(): "v" } })));
    assert_says(
        &e,
        &format!("RecoveryPointTags.{}", crate::core::error::quote_str(&long)),
        &["a tag key must be 1 to 128 characters"],
    );
}

#[test]
fn an_empty_tag_key_is_refused() {
    let e = error(backup(json!({ "RecoveryPointTags": { "": "v" } })));
    assert_says(&e, "RecoveryPointTags.\"\"", &["1 to 128 characters"]);
}

#[test]
fn tag_values_of_0_and_256_characters_are_accepted() {
    let long = "v".repeat(256);
    let job = backup_job(backup(json!({ "RecoveryPointTags": { "a": "", "b": long.clone() } })));
    let values: Vec<&str> = job.recovery_point_tags().unwrap().iter().map(|(_, v)| v).collect();
    assert_eq!(values, ["", long.as_str()]);
}

#[test]
fn a_tag_value_of_257_characters_is_refused_without_quoting_it() {
    let long = "v".repeat(257);
    let e = error(backup(json!({ "RecoveryPointTags": { "Owner": long } })));
    assert_says(
        &e,
        "RecoveryPointTags.\"Owner\"",
        &["the value is longer than 256 characters"],
    );
    assert!(!e.to_string().contains("vvvv"), "{e}");
}

#[test]
fn a_tag_key_starting_with_aws_is_refused() {
    for key in ["aws:backup:source", "AWS:x"] {
        let e = error(backup(json!({ "RecoveryPointTags": { key: "v" } })));
        assert_says(
            &e,
            &format!("RecoveryPointTags.\"{key}\""),
            &["must not start with \"aws:\""],
        );
    }
    assert!(backup_job(backup(json!({ "RecoveryPointTags": { "awsome": "v" } })))
        .recovery_point_tags()
        .is_some());
}

#[test]
fn a_tag_value_must_be_a_string() {
    let e = error(backup(json!({ "RecoveryPointTags": { "Owner": 42 } })));
    assert_says(
        &e,
        "RecoveryPointTags.\"Owner\"",
        &["the value must be a string, not a number"],
    );
    assert!(!e.to_string().contains("42"), "{e}");
}

#[test]
fn tags_must_be_an_object() {
    let e = error(backup(json!({ "RecoveryPointTags": ["Owner", SECRET] })));
    assert_says(&e, "RecoveryPointTags", &["must be an object, not an array"]);
}

#[test]
fn tag_values_reach_the_job_that_is_sent() {
    let job = backup_job(backup(json!({ "RecoveryPointTags": { "Owner": SECRET } })));
    let tags: Vec<(&str, &str)> = job.recovery_point_tags().unwrap().iter().collect();
    assert_eq!(tags, [("Owner", SECRET)]);
}

#[test]
fn tag_values_never_appear_in_debug_or_redacted_jobs() {
    let job = valid(backup(
        json!({ "RecoveryPointTags": { "Owner": SECRET, "Team": SECRET } }),
    ));
    let debug = format!("{job:?}");
    let pretty = format!("{job:#?}");
    let redacted = serde_json::to_string(&job.redacted()).unwrap();
    for shown in [&debug, &pretty, &redacted] {
        assert!(!shown.contains(SECRET), "{shown}");
        assert!(
            shown.contains("Owner") && shown.contains("Team"),
            "keys are shown: {shown}"
        );
    }
}

#[test]
fn a_job_serialises_as_the_request_it_is_and_reads_back_the_same() {
    // How a selection's requests travel through the request queue: tag values
    // included, every default filled in, read back to the same job.
    let job = valid(backup(json!({
        "RecoveryPointTags": { "Owner": SECRET },
        "StartWindowMinutes": 60,
        "CompleteWindowMinutes": 120,
        "Lifecycle": { "MoveToColdStorageAfterDays": 30, "DeleteAfterDays": 120, "OptInToArchiveForSupportedResources": true },
        "BackupOptions": { "WindowsVSS": "enabled" },
        "Index": "ENABLED",
        "LogicallyAirGappedBackupVaultArn": AIR_GAPPED,
    })));
    let sent = serde_json::to_value(&job).unwrap();
    assert!(
        sent.to_string().contains(SECRET),
        "the tag value travels with the request"
    );
    assert_eq!(validate(&sent, &[], &Defaults::default(), "other").unwrap(), job);
    let copy = valid(copy(
        json!({ "Lifecycle": { "MoveToColdStorageAfterDays": -1, "DeleteAfterDays": -1 } }),
    ));
    let sent = serde_json::to_value(&copy).unwrap();
    assert_eq!(validate(&sent, &[], &Defaults::default(), "other").unwrap(), copy);
}

#[test]
fn a_job_made_for_another_resource_keeps_every_other_field() {
    let Job::StartBackupJob(template) = valid(backup(json!({ "StartWindowMinutes": 90 }))) else {
        panic!("a backup");
    };
    let other = "arn:aws:dynamodb:eu-west-1:123456789012:table/orders";
    let Job::StartBackupJob(made) = template.for_resource(other, "token-2".into()).unwrap() else {
        panic!("a backup");
    };
    assert_eq!((made.resource_arn(), made.idempotency_token()), (other, "token-2"));
    assert_eq!(made.start_window_minutes(), Some(90));
    assert_eq!(made.iam_role_arn(), template.iam_role_arn());
    let refused = template.for_resource("not-an-arn", "token-3".into()).unwrap_err();
    assert_says(&refused, "ResourceArn", &["\"not-an-arn\"", "must be an ARN"]);
}

#[test]
fn tag_values_never_appear_in_error_messages() {
    let long_secret = SECRET.repeat(20);
    let requests = [
        // Each tag problem, beside a tag whose value is the secret.
        backup(json!({ "RecoveryPointTags": tags(51) })),
        backup(json!({ "RecoveryPointTags": { "Owner": SECRET, "aws:x": SECRET } })),
        backup(json!({ "RecoveryPointTags": { "Owner": SECRET, "k".repeat(129): SECRET } })),
        backup(json!({ "RecoveryPointTags": { "Owner": SECRET, "": SECRET } })),
        backup(json!({ "RecoveryPointTags": { "Owner": long_secret } })),
        backup(json!({ "RecoveryPointTags": { "Owner": [SECRET] } })),
        backup(json!({ "RecoveryPointTags": { "Owner": { "v": SECRET } } })),
        backup(json!({ "RecoveryPointTags": SECRET })),
        // Tags in the wrong place, or misspelled.
        copy(json!({ "RecoveryPointTags": { "Owner": SECRET } })),
        backup(json!({ "RecoveryPointTag": { "Owner": SECRET } })),
        json!({ "RecoveryPointTags": { "Owner": SECRET } }),
        // A valid tag in a request that is wrong elsewhere.
        backup(json!({ "RecoveryPointTags": { "Owner": SECRET }, "Index": "on" })),
    ];
    for request in requests {
        let found = errors(request);
        let text = format!("{found:?} {}", crate::core::error::Error::Validation(found.clone()));
        assert!(!text.contains("s3cr3t"), "{text}");
    }
}

// ---- IdempotencyToken ----

#[test]
fn a_request_without_token_gets_the_derived_one() {
    assert_eq!(valid(backup(json!({}))).idempotency_token(), DERIVED);
    assert_eq!(valid(copy(json!({}))).idempotency_token(), DERIVED);
}

#[test]
fn an_explicit_token_is_used_as_given() {
    let job = backup_job(backup(json!({ "IdempotencyToken": "nightly-2026-01-01 vol/1" })));
    assert_eq!(job.idempotency_token(), "nightly-2026-01-01 vol/1");
    let job = copy_job(copy(json!({ "IdempotencyToken": "copy-1" })));
    assert_eq!(job.idempotency_token(), "copy-1");
}

#[test]
fn an_empty_token_is_refused() {
    let e = error(backup(json!({ "IdempotencyToken": "" })));
    assert_says(&e, "IdempotencyToken", &["must not be empty"]);
}

#[test]
fn a_token_that_is_not_a_string_is_refused() {
    let e = error(backup(json!({ "IdempotencyToken": 12345 })));
    assert_says(&e, "IdempotencyToken", &["must be a string, not a number"]);
}

// ---- null counts as absent ----

#[test]
fn null_fields_count_as_absent() {
    let job = backup_job(backup(json!({
        "Action": null,
        "BackupVaultName": null,
        "IamRoleArn": null,
        "IdempotencyToken": null,
        "StartWindowMinutes": null,
        "CompleteWindowMinutes": null,
        "Lifecycle": null,
        "RecoveryPointTags": null,
        "BackupOptions": null,
        "Index": null,
        "LogicallyAirGappedBackupVaultArn": null,
        // Fields of the other action, null, are absent too.
        "RecoveryPointArn": null,
        "SourceBackupVaultName": null,
        "DestinationBackupVaultArn": null,
    })));
    assert_eq!(job.backup_vault_name(), "Main");
    assert_eq!(job.iam_role_arn(), ROLE);
    assert_eq!(job.idempotency_token(), DERIVED);
    assert_eq!(job.start_window_minutes(), None);
    assert_eq!(job.lifecycle(), None);
    assert_eq!(job.recovery_point_tags(), None);
    assert_eq!(job.backup_options(), None);
    assert_eq!(job.index(), None);
}

#[test]
fn null_lifecycle_fields_count_as_absent() {
    let job = copy_job(copy(json!({
        "Lifecycle": {
            "MoveToColdStorageAfterDays": null,
            "DeleteAfterDays": 30,
            "OptInToArchiveForSupportedResources": null,
            "DeleteAfterEvent": null,
        }
    })));
    let lifecycle = job.lifecycle().unwrap();
    assert_eq!(lifecycle.move_to_cold_storage_after_days(), None);
    assert_eq!(lifecycle.delete_after_days(), Some(30));
    assert_eq!(lifecycle.opt_in_to_archive_for_supported_resources(), None);
}

#[test]
fn a_null_arn_is_a_missing_arn() {
    let e = error(json!({ "ResourceArn": null }));
    assert_says(&e, "", &["neither ResourceArn"]);
    let e = error(json!({ "Action": "StartBackupJob", "ResourceArn": null }));
    assert_says(&e, "ResourceArn", &["is required"]);
}

// ---- ALLOWED_DESTINATION_VAULT_ARNS ----

#[test]
fn an_explicit_destination_outside_the_allow_list_is_refused() {
    let e = error_with(
        copy(json!({ "DestinationBackupVaultArn": OTHER_DESTINATION })),
        &allowing(&[DESTINATION]),
    );
    assert_says(
        &e,
        "DestinationBackupVaultArn",
        &[&format!("\"{OTHER_DESTINATION}\""), "ALLOWED_DESTINATION_VAULT_ARNS"],
    );
}

#[test]
fn an_explicit_destination_on_the_allow_list_is_accepted() {
    let request = copy(json!({ "DestinationBackupVaultArn": OTHER_DESTINATION }));
    let job = valid_with(&request, &allowing(&[DESTINATION, OTHER_DESTINATION]));
    let Job::StartCopyJob(job) = job else { panic!() };
    assert_eq!(job.destination_backup_vault_arn(), OTHER_DESTINATION);
}

#[test]
fn a_defaulted_destination_outside_the_allow_list_is_refused() {
    let e = error_with(copy(json!({})), &allowing(&[OTHER_DESTINATION]));
    assert_says(
        &e,
        "DestinationBackupVaultArn",
        &[&format!("\"{DESTINATION}\""), "ALLOWED_DESTINATION_VAULT_ARNS"],
    );
}

#[test]
fn a_defaulted_destination_on_the_allow_list_is_accepted() {
    let job = valid_with(&copy(json!({})), &allowing(&[DESTINATION]));
    assert_eq!(job.action(), Action::StartCopyJob);
}

#[test]
fn an_empty_allow_list_refuses_every_copy() {
    let e = error_with(copy(json!({})), &allowing(&[]));
    assert_says(&e, "DestinationBackupVaultArn", &["ALLOWED_DESTINATION_VAULT_ARNS"]);
}

#[test]
fn the_allow_list_does_not_concern_backups() {
    let request = backup(json!({ "LogicallyAirGappedBackupVaultArn": AIR_GAPPED }));
    let job = valid_with(&request, &allowing(&[DESTINATION]));
    assert_eq!(job.action(), Action::StartBackupJob);
}

// ---- What is sent ----

#[test]
fn a_backup_job_serializes_with_the_aws_field_names() {
    let job = valid(backup(json!({
        "StartWindowMinutes": 60,
        "Lifecycle": { "DeleteAfterDays": 35 },
        "Index": "ENABLED",
    })));
    assert_eq!(
        serde_json::to_value(&job).unwrap(),
        json!({
            "Action": "StartBackupJob",
            "ResourceArn": RESOURCE,
            "BackupVaultName": "Main",
            "IamRoleArn": ROLE,
            "IdempotencyToken": DERIVED,
            "StartWindowMinutes": 60,
            "Lifecycle": { "DeleteAfterDays": 35 },
            "Index": "ENABLED",
        })
    );
}

#[test]
fn a_copy_job_serializes_with_the_aws_field_names() {
    let job = valid(copy(json!({})));
    assert_eq!(
        serde_json::to_value(&job).unwrap(),
        json!({
            "Action": "StartCopyJob",
            "RecoveryPointArn": RECOVERY_POINT,
            "SourceBackupVaultName": "Main",
            "DestinationBackupVaultArn": DESTINATION,
            "IamRoleArn": ROLE,
            "IdempotencyToken": DERIVED,
        })
    );
}

#[test]
fn the_largest_day_counts_are_refused_without_overflow() {
    let found = errors(backup(json!({
        "Lifecycle": { "MoveToColdStorageAfterDays": i64::MAX, "DeleteAfterDays": 1 }
    })));
    assert_says(
        at(&found, "Lifecycle.MoveToColdStorageAfterDays"),
        "Lifecycle.MoveToColdStorageAfterDays",
        &["above the maximum of 36500"],
    );
}
