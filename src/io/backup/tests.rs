//! What the SDK layer sends for each job, and how it reads AWS's answers and errors.
//! The SDK client is real; `aws-smithy-mocks` answers in place of AWS.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_config::retry::RetryConfig;

use aws_sdk_backup::operation::start_backup_job::{StartBackupJobInput, StartBackupJobOutput};
use aws_sdk_backup::operation::start_copy_job::{StartCopyJobInput, StartCopyJobOutput};
use aws_sdk_backup::types::{Index as SdkIndex, Lifecycle as SdkLifecycle};
use aws_smithy_mocks::{mock, mock_client, RuleMode};
use serde_json::json;

use super::*;
use crate::core::defaults::Defaults;
use crate::core::request::validate;
use crate::io::rate::Limiter;
use crate::io::sdk::{config_loader, RateFeedback, ATTEMPT_TIMEOUT, CONNECT_TIMEOUT, DEFAULT_MAX_ATTEMPTS};

fn defaults() -> Defaults {
    Defaults::default()
}

fn backup_job() -> Job {
    let request = json!({
        "ResourceArn": "arn:aws:ec2:eu-west-1:123456789012:volume/vol-1",
        "BackupVaultName": "Vault",
        "LogicallyAirGappedBackupVaultArn": "arn:aws:backup:eu-west-1:123456789012:backup-vault:AirGapped",
        "IamRoleArn": "arn:aws:iam::123456789012:role/Backup",
        "IdempotencyToken": "token-1",
        "StartWindowMinutes": 60,
        "CompleteWindowMinutes": 120,
        "Lifecycle": {"MoveToColdStorageAfterDays": 30, "DeleteAfterDays": 120, "OptInToArchiveForSupportedResources": true},
        "RecoveryPointTags": {"team": "platform"},
        "BackupOptions": {"WindowsVSS": "enabled"},
        "Index": "ENABLED",
    });
    validate(&request, &[], &defaults(), "unused").unwrap()
}

fn copy_job() -> Job {
    let request = json!({
        "RecoveryPointArn": "arn:aws:backup:eu-west-1:123456789012:recovery-point:abc",
        "SourceBackupVaultName": "Vault",
        "DestinationBackupVaultArn": "arn:aws:backup:eu-central-1:123456789012:backup-vault:Far",
        "IamRoleArn": "arn:aws:iam::123456789012:role/Backup",
        "Lifecycle": {"DeleteAfterDays": -1, "MoveToColdStorageAfterDays": -1},
    });
    validate(&request, &[], &defaults(), "derived-token").unwrap()
}

/// Retries without waiting, so retry tests take no wall-clock time worth noting.
fn fast_retries(builder: aws_sdk_backup::config::Builder) -> aws_sdk_backup::config::Builder {
    builder.retry_config(
        RetryConfig::standard()
            .with_max_attempts(3)
            .with_initial_backoff(Duration::from_millis(1))
            .with_max_backoff(Duration::from_millis(2)),
    )
}

fn backup_output() -> StartBackupJobOutput {
    StartBackupJobOutput::builder()
        .backup_job_id("job-1")
        .is_parent(true)
        .creation_date(DateTime::from_millis(1_795_316_400_123))
        .recovery_point_arn("arn:aws:backup:eu-west-1:123456789012:recovery-point:rp-1")
        .build()
}

#[tokio::test]
async fn a_backup_job_sends_every_field_and_reads_the_answer() {
    let sent: Arc<Mutex<Vec<StartBackupJobInput>>> = Arc::default();
    let seen = Arc::clone(&sent);
    let rule = mock!(Client::start_backup_job).then_compute_output(move |input| {
        seen.lock().unwrap().push(input.clone());
        backup_output()
    });
    let client = mock_client!(aws_sdk_backup, RuleMode::MatchAny, [&rule]);
    let outcome = AwsBackup::new(client).start_job(&backup_job()).await;

    assert_eq!(
        outcome,
        Outcome::Started(Started {
            job_id: "job-1".into(),
            is_parent: true,
            creation_date: Some("2026-11-22T03:00:00.123Z".into()),
            recovery_point_arn: Some("arn:aws:backup:eu-west-1:123456789012:recovery-point:rp-1".into()),
        })
    );
    let sent = sent.lock().unwrap();
    assert_eq!(sent.len(), 1);
    let input = &sent[0];
    assert_eq!(
        input.resource_arn(),
        Some("arn:aws:ec2:eu-west-1:123456789012:volume/vol-1")
    );
    assert_eq!(input.backup_vault_name(), Some("Vault"));
    assert_eq!(
        input.logically_air_gapped_backup_vault_arn(),
        Some("arn:aws:backup:eu-west-1:123456789012:backup-vault:AirGapped")
    );
    assert_eq!(input.iam_role_arn(), Some("arn:aws:iam::123456789012:role/Backup"));
    assert_eq!(input.idempotency_token(), Some("token-1"));
    assert_eq!(input.start_window_minutes(), Some(60));
    assert_eq!(input.complete_window_minutes(), Some(120));
    assert_eq!(
        input.lifecycle(),
        Some(
            &SdkLifecycle::builder()
                .move_to_cold_storage_after_days(30)
                .delete_after_days(120)
                .opt_in_to_archive_for_supported_resources(true)
                .build()
        )
    );
    assert_eq!(
        input
            .recovery_point_tags()
            .and_then(|t| t.get("team"))
            .map(String::as_str),
        Some("platform")
    );
    assert_eq!(input.recovery_point_tags().map(|t| t.len()), Some(1));
    assert_eq!(
        input
            .backup_options()
            .and_then(|o| o.get("WindowsVSS"))
            .map(String::as_str),
        Some("enabled")
    );
    assert_eq!(input.index(), Some(&SdkIndex::Enabled));
}

#[tokio::test]
async fn a_backup_job_sends_nothing_it_was_not_given() {
    let sent: Arc<Mutex<Vec<StartBackupJobInput>>> = Arc::default();
    let seen = Arc::clone(&sent);
    let rule = mock!(Client::start_backup_job).then_compute_output(move |input| {
        seen.lock().unwrap().push(input.clone());
        StartBackupJobOutput::builder().backup_job_id("job-2").build()
    });
    let client = mock_client!(aws_sdk_backup, RuleMode::MatchAny, [&rule]);
    let request = json!({"ResourceArn": "arn:aws:s3:::bucket", "BackupVaultName": "Vault", "IamRoleArn": "arn:aws:iam::123456789012:role/Backup"});
    let job = validate(&request, &[], &defaults(), "derived").unwrap();
    let outcome = AwsBackup::new(client).start_job(&job).await;
    let Outcome::Started(started) = outcome else {
        panic!("{outcome:?}")
    };
    assert_eq!(
        started.recovery_point_arn, None,
        "RecoveryPointArn appears only when AWS returned one"
    );
    let input = &sent.lock().unwrap()[0];
    assert_eq!(input.idempotency_token(), Some("derived"));
    assert_eq!(input.start_window_minutes(), None);
    assert_eq!(input.complete_window_minutes(), None);
    assert_eq!(input.lifecycle(), None);
    assert_eq!(input.recovery_point_tags(), None);
    assert_eq!(input.backup_options(), None);
    assert_eq!(input.index(), None);
    assert_eq!(input.logically_air_gapped_backup_vault_arn(), None);
}

#[tokio::test]
async fn a_copy_job_sends_every_field_and_reads_the_answer() {
    let sent: Arc<Mutex<Vec<StartCopyJobInput>>> = Arc::default();
    let seen = Arc::clone(&sent);
    let rule = mock!(Client::start_copy_job).then_compute_output(move |input| {
        seen.lock().unwrap().push(input.clone());
        StartCopyJobOutput::builder()
            .copy_job_id("copy-1")
            .is_parent(false)
            .creation_date(DateTime::from_secs(1_795_316_400))
            .build()
    });
    let client = mock_client!(aws_sdk_backup, RuleMode::MatchAny, [&rule]);
    let outcome = AwsBackup::new(client).start_job(&copy_job()).await;
    assert_eq!(
        outcome,
        Outcome::Started(Started {
            job_id: "copy-1".into(),
            is_parent: false,
            creation_date: Some("2026-11-22T03:00:00Z".into()),
            recovery_point_arn: None
        })
    );
    let input = &sent.lock().unwrap()[0];
    assert_eq!(
        input.recovery_point_arn(),
        Some("arn:aws:backup:eu-west-1:123456789012:recovery-point:abc")
    );
    assert_eq!(input.source_backup_vault_name(), Some("Vault"));
    assert_eq!(
        input.destination_backup_vault_arn(),
        Some("arn:aws:backup:eu-central-1:123456789012:backup-vault:Far")
    );
    assert_eq!(input.iam_role_arn(), Some("arn:aws:iam::123456789012:role/Backup"));
    assert_eq!(input.idempotency_token(), Some("derived-token"));
    assert_eq!(
        input.lifecycle(),
        Some(
            &SdkLifecycle::builder()
                .move_to_cold_storage_after_days(-1)
                .delete_after_days(-1)
                .build()
        )
    );
}

/// An AWS error answer as AWS Backup (restJson1) sends it.
fn aws_error(status: u16, code: &str) -> aws_smithy_runtime_api::http::Response {
    let body = format!(r#"{{"__type":"{code}","Message":"{code} from the test"}}"#);
    let mut response = aws_smithy_runtime_api::http::Response::new(
        aws_smithy_runtime_api::http::StatusCode::try_from(status).unwrap(),
        aws_smithy_types::body::SdkBody::from(body),
    );
    response
        .headers_mut()
        .insert("content-type", "application/x-amz-json-1.1");
    response.headers_mut().insert("x-amzn-errortype", code.to_owned());
    response
}

async fn failure_of(status: u16, code: &'static str) -> (Failure, usize) {
    let rule = mock!(Client::start_backup_job)
        .sequence()
        .http_response(move || aws_error(status, code))
        .repeatedly()
        .build();
    let client = mock_client!(aws_sdk_backup, RuleMode::MatchAny, [&rule], fast_retries);
    let outcome = AwsBackup::new(client).start_job(&backup_job()).await;
    let Outcome::Failed(failure) = outcome else {
        panic!("{code} must fail: {outcome:?}")
    };
    (failure, rule.num_calls())
}

#[tokio::test]
async fn client_errors_keep_their_aws_code_and_are_not_retried() {
    for code in [
        "InvalidParameterValueException",
        "InvalidRequestException",
        "MissingParameterValueException",
        "ResourceNotFoundException",
    ] {
        let (failure, calls) = failure_of(400, code).await;
        assert_eq!(failure.code(), code);
        assert_eq!(failure.error.to_string(), format!("{code} from the test"));
        assert!(!failure.retryable, "{code}");
        assert_eq!(calls, 1, "{code} must not be retried");
    }
}

#[tokio::test]
async fn throttling_and_unavailability_are_retried_then_reported_retryable() {
    for (status, code) in [
        (400, "LimitExceededException"),
        (400, "ThrottlingException"),
        (503, "ServiceUnavailableException"),
    ] {
        let (failure, calls) = failure_of(status, code).await;
        assert_eq!(failure.code(), code);
        assert!(failure.retryable, "{code}");
        assert_eq!(calls, 3, "{code} must be retried up to the attempt limit");
    }
}

#[tokio::test]
async fn a_throttled_call_that_then_succeeds_starts_one_job() {
    for (status, code) in [
        (400, "ThrottlingException"),
        (400, "LimitExceededException"),
        (503, "ServiceUnavailableException"),
    ] {
        let rule = mock!(Client::start_backup_job)
            .sequence()
            .http_response(move || aws_error(status, code))
            .times(2)
            .output(backup_output)
            .build();
        let client = mock_client!(aws_sdk_backup, RuleMode::MatchAny, [&rule], fast_retries);
        let outcome = AwsBackup::new(client).start_job(&backup_job()).await;
        assert!(
            matches!(&outcome, Outcome::Started(s) if s.job_id == "job-1"),
            "{code}: {outcome:?}"
        );
        assert_eq!(rule.num_calls(), 3, "{code}");
    }
}

#[tokio::test]
async fn copy_errors_keep_their_aws_code() {
    let rule = mock!(Client::start_copy_job)
        .sequence()
        .http_response(|| aws_error(400, "InvalidParameterValueException"))
        .repeatedly()
        .build();
    let client = mock_client!(aws_sdk_backup, RuleMode::MatchAny, [&rule], fast_retries);
    let Outcome::Failed(failure) = AwsBackup::new(client).start_job(&copy_job()).await else {
        panic!("must fail")
    };
    assert_eq!(failure.code(), "InvalidParameterValueException");
}

#[tokio::test]
async fn the_default_retry_policy_is_standard_with_ten_attempts() {
    let client = test_client(false).await;
    let retry = client.config().retry_config().expect("a retry config");
    assert_eq!(retry.mode(), aws_config::retry::RetryMode::Standard);
    assert_eq!(retry.max_attempts(), DEFAULT_MAX_ATTEMPTS);
    let timeouts = client.config().timeout_config().expect("a timeout config");
    assert_eq!(timeouts.operation_attempt_timeout(), Some(ATTEMPT_TIMEOUT));
    assert_eq!(timeouts.connect_timeout(), Some(CONNECT_TIMEOUT));
}

#[tokio::test]
async fn a_users_retry_settings_are_left_to_the_sdk() {
    let client = test_client(true).await;
    let retry = client.config().retry_config().expect("a retry config");
    assert_ne!(
        (retry.mode(), retry.max_attempts()),
        (aws_config::retry::RetryMode::Standard, DEFAULT_MAX_ATTEMPTS)
    );
}

#[tokio::test]
async fn every_attempt_s_answer_reaches_the_limiter() {
    // Throttled twice (ThrottlingException, then LimitExceededException), then started.
    let rule = mock!(Client::start_backup_job)
        .sequence()
        .http_response(|| aws_error(400, "ThrottlingException"))
        .http_response(|| aws_error(400, "LimitExceededException"))
        .output(backup_output)
        .build();
    let limiter = Arc::new(Limiter::new(None));
    let client = mock_client!(aws_sdk_backup, RuleMode::MatchAny, [&rule], |b| {
        fast_retries(b).interceptor(RateFeedback::new(Arc::clone(&limiter)))
    });
    assert_eq!(limiter.rate(), None, "no pace before a throttling answer");
    let outcome = AwsBackup::new(client).start_job(&backup_job()).await;
    assert!(matches!(outcome, Outcome::Started(_)), "{outcome:?}");
    assert_eq!(rule.num_calls(), 3);
    assert_eq!(limiter.throttled_answers(), 2, "both throttled attempts were reported");
    assert!(limiter.rate().is_some(), "the pace is learned from them");
}

#[tokio::test]
async fn a_client_error_is_no_throttling_answer() {
    let rule = mock!(Client::start_backup_job).then_http_response(|| aws_error(400, "InvalidParameterValueException"));
    let limiter = Arc::new(Limiter::new(None));
    let client = mock_client!(aws_sdk_backup, RuleMode::MatchAny, [&rule], |b| {
        fast_retries(b).interceptor(RateFeedback::new(Arc::clone(&limiter)))
    });
    let outcome = AwsBackup::new(client).start_job(&backup_job()).await;
    assert!(outcome.is_failure());
    assert_eq!(limiter.throttled_answers(), 0);
    assert_eq!(limiter.rate(), None);
}

/// The production client, with a region given so that no region lookup is made.
async fn test_client(retry_set_by_user: bool) -> Client {
    Client::new(
        &config_loader(retry_set_by_user)
            .region(aws_config::Region::new("eu-west-1"))
            .load()
            .await,
    )
}

#[test]
fn creation_dates_are_rfc3339_to_the_millisecond() {
    assert_eq!(
        rfc3339(&DateTime::from_fractional_secs(1_795_316_400, 0.123)).as_deref(),
        Some("2026-11-22T03:00:00.123Z")
    );
    assert_eq!(
        rfc3339(&DateTime::from_secs_and_nanos(1_795_316_400, 999_600_000)).as_deref(),
        Some("2026-11-22T03:00:01Z")
    );
    assert_eq!(
        rfc3339(&DateTime::from_secs(1_795_316_400)).as_deref(),
        Some("2026-11-22T03:00:00Z")
    );
}

// ---- An audit's listings ----

use aws_sdk_backup::operation::list_backup_jobs::{ListBackupJobsInput, ListBackupJobsOutput};
use aws_sdk_backup::operation::list_protected_resources::{ListProtectedResourcesInput, ListProtectedResourcesOutput};
use aws_sdk_backup::types::{BackupJob as SdkBackupJob, BackupJobState, ProtectedResource};

use crate::io::listings::Listings;

fn protected(arn: &str, millis: i64) -> ProtectedResource {
    ProtectedResource::builder()
        .resource_arn(arn)
        .resource_type("DynamoDB")
        .last_backup_time(DateTime::from_millis(millis))
        .last_backup_vault_arn("arn:aws:backup:eu-west-1:123456789012:backup-vault:Default")
        .build()
}

#[tokio::test]
async fn list_protected_resources_asks_for_full_pages_and_passes_the_token_on() {
    let asked: Arc<Mutex<Vec<ListProtectedResourcesInput>>> = Arc::default();
    let seen = Arc::clone(&asked);
    let rule = mock!(Client::list_protected_resources).then_compute_output(move |input| {
        seen.lock().unwrap().push(input.clone());
        match input.next_token() {
            None => ListProtectedResourcesOutput::builder()
                .results(protected(
                    "arn:aws:dynamodb:eu-west-1:123456789012:table/a",
                    1_795_316_400_123,
                ))
                // An entry without a time names no backup: left out.
                .results(
                    ProtectedResource::builder()
                        .resource_arn("arn:aws:dynamodb:eu-west-1:123456789012:table/x")
                        .build(),
                )
                .next_token("page-2")
                .build(),
            Some(_) => ListProtectedResourcesOutput::builder()
                .results(protected("arn:aws:dynamodb:eu-west-1:123456789012:table/b", 0))
                .next_token("")
                .build(),
        }
    });
    let listings = AwsListings::new(mock_client!(aws_sdk_backup, RuleMode::MatchAny, [&rule]));
    let first = listings.protected(None).await.unwrap();
    assert_eq!(first.next.as_deref(), Some("page-2"));
    assert_eq!(first.items.len(), 1);
    assert_eq!(first.items[0].arn, "arn:aws:dynamodb:eu-west-1:123456789012:table/a");
    assert_eq!(first.items[0].last_backup, Timestamp::from_millis(1_795_316_400_123));
    assert_eq!(
        first.items[0].vault.as_deref(),
        Some("arn:aws:backup:eu-west-1:123456789012:backup-vault:Default")
    );
    let last = listings.protected(first.next).await.unwrap();
    assert_eq!(last.next, None, "an empty token ends the listing");
    let asked = asked.lock().unwrap();
    assert_eq!(
        asked
            .iter()
            .map(|i| (i.max_results(), i.next_token()))
            .collect::<Vec<_>>(),
        [(Some(1_000), None), (Some(1_000), Some("page-2"))]
    );
}

#[tokio::test]
async fn list_backup_jobs_asks_for_the_jobs_created_since_the_cutoff_only() {
    let asked: Arc<Mutex<Vec<ListBackupJobsInput>>> = Arc::default();
    let seen = Arc::clone(&asked);
    let rule = mock!(Client::list_backup_jobs).then_compute_output(move |input| {
        seen.lock().unwrap().push(input.clone());
        ListBackupJobsOutput::builder()
            .backup_jobs(
                SdkBackupJob::builder()
                    .backup_job_id("job-1")
                    .resource_arn("arn:aws:dynamodb:eu-west-1:123456789012:table/a")
                    .creation_date(DateTime::from_millis(1_795_316_400_000))
                    .state(BackupJobState::Failed)
                    .status_message("Access denied")
                    .build(),
            )
            .build()
    });
    let listings = AwsListings::new(mock_client!(aws_sdk_backup, RuleMode::MatchAny, [&rule]));
    let cutoff = Timestamp::from_millis(1_795_244_400_000);
    let page = listings.jobs(cutoff, Some("t".into())).await.unwrap();
    assert_eq!(page.next, None);
    let job = &page.items[0];
    assert_eq!(job.resource_arn, "arn:aws:dynamodb:eu-west-1:123456789012:table/a");
    assert_eq!(
        (job.job.id.as_str(), job.job.state.as_str(), job.job.message.as_deref()),
        ("job-1", "FAILED", Some("Access denied"))
    );
    assert_eq!(job.job.created, Timestamp::from_millis(1_795_316_400_000));
    let asked = asked.lock().unwrap();
    let input = &asked[0];
    assert_eq!(
        input.by_created_after(),
        Some(&DateTime::from_millis(1_795_244_400_000))
    );
    assert_eq!((input.max_results(), input.next_token()), (Some(1_000), Some("t")));
    // No other filter: every job of the account since the cutoff.
    assert_eq!(
        (
            input.by_state(),
            input.by_resource_arn(),
            input.by_backup_vault_name(),
            input.by_resource_type()
        ),
        (None, None, None, None)
    );
}

#[tokio::test]
async fn a_listing_error_keeps_its_aws_code() {
    let rule = mock!(Client::list_protected_resources)
        .sequence()
        .http_response(|| aws_error(400, "AccessDeniedException"))
        .repeatedly()
        .build();
    let listings = AwsListings::new(mock_client!(aws_sdk_backup, RuleMode::MatchAny, [&rule], fast_retries));
    let failure = listings.protected(None).await.unwrap_err();
    assert_eq!(failure.code(), "AccessDeniedException");
    assert_eq!(rule.num_calls(), 1, "a client error is not retried");
}
