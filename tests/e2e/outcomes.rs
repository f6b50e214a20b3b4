//! Job outcomes and metrics (docs/reference.md, "Job outcomes" and "Metrics") through the real binary: the
//! outcome lines of AWS Backup's job state changes, and the one metrics line of each
//! invocation, checked against the embedded metric format and against what the fake
//! AWS Backup recorded.

use super::*;

/// Every stdout line that is an EMF document (has `_aws`), parsed, in order.
fn metrics_lines(lines: &[String]) -> Vec<Value> {
    lines
        .iter()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|value| value.get("_aws").is_some())
        .collect()
}

/// The rules of the embedded metric format specification, and ours: the namespace,
/// the one dimension, every metric a Count.
fn assert_emf(document: &Value, namespace: &str, function_name: &str) {
    let root = document.as_object().expect("an EMF document is a JSON object");
    let aws = root["_aws"].as_object().expect("_aws is an object");
    let timestamp = aws["Timestamp"].as_u64().expect("_aws.Timestamp is a whole number");
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    assert!(
        timestamp <= now_ms && now_ms - timestamp < 3_600_000,
        "Timestamp in epoch milliseconds, not seconds: {timestamp}"
    );
    let directives = aws["CloudWatchMetrics"]
        .as_array()
        .expect("CloudWatchMetrics is an array");
    assert_eq!(directives.len(), 1, "{document}");
    let directive = &directives[0];
    assert_eq!(directive["Namespace"], namespace);
    assert_eq!(directive["Dimensions"], json!([["FunctionName"]]));
    assert_eq!(
        root["FunctionName"], function_name,
        "the dimension is a top-level member"
    );
    let metrics = directive["Metrics"].as_array().expect("Metrics is an array");
    assert!(!metrics.is_empty() && metrics.len() <= 100);
    for metric in metrics {
        let name = metric["Name"].as_str().expect("Name is a string");
        assert_eq!(metric["Unit"], "Count", "{name}");
        assert!(
            root[name].as_u64().is_some(),
            "the metric {name} is a top-level number: {document}"
        );
    }
    for name in ["JobsStarted", "JobsFailed", "EventsRejected"] {
        assert!(
            metrics.iter().any(|m| m["Name"] == name),
            "{name} is always there: {document}"
        );
    }
}

fn count(document: &Value, name: &str) -> Option<u64> {
    document[name].as_u64()
}

fn with_job_id(mut event: Value, kind: &str, job_id: &str) -> Value {
    event["detail"][format!("{kind}JobId")] = json!(job_id);
    event
}

#[tokio::test]
async fn outcomes_are_logged_and_a_copy_outcome_joins_the_request_that_started_it() {
    let setup = Setup::start(&[]).await;
    // A completed on-demand backup: its outcome, and the copy it starts.
    let answer = setup.lambda.invoke(&sample("backup-job-completed.json")).await;
    let copy_job_id = answer.response()["Jobs"][0]["CopyJobId"]
        .as_str()
        .expect("the copy started")
        .to_owned();
    // AWS later reports how that copy ended, under the id it answered.
    let answer = setup
        .lambda
        .invoke(&with_job_id(sample("copy-job-completed.json"), "copy", &copy_job_id))
        .await;
    assert_eq!(answer.response()["Jobs"], json!([]));
    assert!(answer.response()["Skipped"]
        .as_str()
        .unwrap()
        .contains("recorded as an outcome"));
    for file in ["backup-job-failed.json", "copy-job-failed.json"] {
        let answer = setup.lambda.invoke(&sample(file)).await;
        assert_eq!(
            answer.response()["Jobs"],
            json!([]),
            "{file}: a failure is a fact, not an error"
        );
    }
    let (output, recorded) = setup.finish().await;
    assert_eq!(
        recorded.len(),
        1,
        "only the completed on-demand backup starts something"
    );

    let outcomes = output.lines("outcome");
    assert_eq!(outcomes.len(), 4, "{outcomes:?}");
    let backup = &outcomes[0];
    assert_eq!(backup["level"], "INFO");
    assert_eq!(backup["kind"], "backup");
    assert_eq!(backup["state"], "COMPLETED");
    assert_eq!(backup["job_id"], "6A8D3F1E-0D57-4C9A-9E3C-3E8E2B5A7C11");
    assert_eq!(
        backup["resource_arn"],
        "arn:aws:ec2:eu-west-1:123456789012:volume/vol-0a1b2c3d4e5f67890"
    );
    assert_eq!(backup["resource_type"], "EBS");
    assert_eq!(backup["vault"], "Default");
    assert_eq!(
        backup["recovery_point_arn"],
        "arn:aws:ec2:eu-west-1::snapshot/snap-0a9b8c7d6e5f40312"
    );
    assert_eq!(
        backup["backup_size_bytes"], 8_589_934_592_u64,
        "a size AWS sent as a string"
    );

    let copy = &outcomes[1];
    let request = output
        .lines("request")
        .into_iter()
        .find(|l| l["action"] == "StartCopyJob")
        .expect("the copy's request line");
    assert_eq!(copy["job_id"], request["job_id"], "request and outcome join by job_id");
    assert_eq!(copy["kind"], "copy");
    assert_eq!(copy["level"], "INFO");
    assert_eq!(copy["vault"], COPY_DESTINATION, "a copy's vault is its destination");
    assert_eq!(
        copy["recovery_point_arn"],
        "arn:aws:ec2:eu-central-1::snapshot/snap-0726fe70935586180"
    );

    let failed_backup = &outcomes[2];
    assert_eq!(failed_backup["level"], "ERROR");
    assert_eq!(failed_backup["state"], "FAILED");
    assert_eq!(
        failed_backup["resource_arn"],
        "arn:aws:rds:eu-west-1:123456789012:db:orders"
    );
    assert!(
        failed_backup["status_message"]
            .as_str()
            .unwrap()
            .starts_with("Backup job failed because"),
        "AWS's quotes are gone: {failed_backup}"
    );
    assert!(failed_backup.get("recovery_point_arn").is_none(), "no recovery point");

    let failed_copy = &outcomes[3];
    assert_eq!(failed_copy["level"], "ERROR");
    assert_eq!(
        (&failed_copy["kind"], &failed_copy["state"]),
        (&json!("copy"), &json!("FAILED"))
    );
    assert!(
        failed_copy.get("recovery_point_arn").is_none(),
        "AWS's {{}} is no recovery point"
    );

    let metrics = metrics_lines(&output.stdout);
    assert_eq!(metrics.len(), 4, "one metrics line per invocation");
    let outcome_counts = |m: &Value| {
        [
            "BackupJobsCompleted",
            "BackupJobsFailed",
            "CopyJobsCompleted",
            "CopyJobsFailed",
        ]
        .map(|name| count(m, name).unwrap_or_else(|| panic!("{name} in {m}")))
    };
    assert_eq!(outcome_counts(&metrics[0]), [1, 0, 0, 0]);
    assert_eq!(count(&metrics[0], "JobsStarted"), Some(1), "the copy");
    assert_eq!(outcome_counts(&metrics[1]), [0, 0, 1, 0]);
    assert_eq!(outcome_counts(&metrics[2]), [0, 1, 0, 0]);
    assert_eq!(outcome_counts(&metrics[3]), [0, 0, 0, 1]);
}

#[tokio::test]
async fn a_completed_backup_of_a_plan_or_without_destination_is_recorded_and_not_copied() {
    let setup = Setup::start(&[("COPY_DESTINATION_VAULT_ARN", "")]).await;
    let answer = setup.lambda.invoke(&sample("backup-job-completed.json")).await;
    assert_eq!(answer.response()["Jobs"], json!([]));
    let skipped = answer.response()["Skipped"].as_str().unwrap().to_owned();
    assert!(skipped.contains("COPY_DESTINATION_VAULT_ARN"), "{skipped}");
    let (output, recorded) = setup.finish().await;
    assert!(recorded.is_empty());
    assert_eq!(output.lines("outcome")[0]["state"], "COMPLETED");

    let setup = Setup::start(&[]).await;
    let mut of_a_plan = sample("backup-job-completed.json");
    of_a_plan["detail"]["createdBy"]["backupPlanId"] = json!("2b7e4c1a-9f3d-4e58-b6a2-7c1d0e9f8a34");
    let answer = setup.lambda.invoke(&of_a_plan).await;
    assert!(answer.response()["Skipped"].as_str().unwrap().contains("backup plan"));
    let (output, recorded) = setup.finish().await;
    assert!(recorded.is_empty(), "a plan copies with its own rules");
    assert_eq!(output.lines("outcome").len(), 1);
}

/// A completed on-demand backup whose copy cannot be made (here: no role for AWS
/// Backup) is still an outcome: its line and metric are written, then the event
/// fails, so that it is retried and ends in the dead-letter queue.
#[tokio::test]
async fn a_completed_backup_whose_copy_cannot_be_made_keeps_its_outcome_and_fails() {
    let setup = Setup::start(&[("BACKUP_IAM_ROLE_ARN", "")]).await;
    let answer = setup.lambda.invoke(&sample("backup-job-completed.json")).await;
    let (error_type, message) = answer.error();
    assert_eq!(error_type, "ConfigError");
    assert!(message.contains("BACKUP_IAM_ROLE_ARN"), "{message}");
    let (output, recorded) = setup.finish().await;
    assert!(recorded.is_empty(), "no copy without a role");
    let outcomes = output.lines("outcome");
    assert_eq!(outcomes.len(), 1);
    assert_eq!(outcomes[0]["state"], "COMPLETED");
    let metrics = metrics_lines(&output.stdout);
    assert_eq!(metrics.len(), 1);
    assert_eq!(count(&metrics[0], "BackupJobsCompleted"), Some(1));
    assert_eq!(count(&metrics[0], "EventsRejected"), Some(1));
    assert_eq!(count(&metrics[0], "JobsStarted"), Some(0));
}

#[tokio::test]
async fn a_non_final_state_is_skipped_without_an_outcome_line() {
    let setup = Setup::start(&[]).await;
    let mut running = sample("backup-job-completed.json");
    running["detail"]["state"] = json!("RUNNING");
    let answer = setup.lambda.invoke(&running).await;
    assert_eq!(answer.response()["Jobs"], json!([]));
    assert!(answer.response()["Skipped"].as_str().unwrap().contains("RUNNING"));
    let (output, recorded) = setup.finish().await;
    assert!(recorded.is_empty());
    assert!(output.lines("outcome").is_empty());
    let metrics = metrics_lines(&output.stdout);
    assert_eq!(count(&metrics[0], "BackupJobsCompleted"), Some(0));
    assert_eq!(count(&metrics[0], "BackupJobsFailed"), Some(0));
}

#[tokio::test]
async fn the_metrics_line_counts_what_aws_backup_saw() {
    let setup = Setup::start(&[("METRICS_NAMESPACE", "Team/Backups")]).await;
    setup
        .backup
        .reply_for("vol-rejected", Reply::Error(400, "InvalidParameterValueException"));
    // 1: a list of four, one refused by AWS.
    let list = json!({ "Jobs": [backup_request("vol-1"), backup_request("vol-2"), backup_request("vol-rejected"), backup_request("vol-3")] });
    assert_eq!(
        setup.lambda.invoke(&list).await.error().0,
        "InvalidParameterValueException"
    );
    let first_calls = setup.backup.recorded();
    // 2: an event refused before any call.
    assert_eq!(
        setup
            .lambda
            .invoke(&json!({ "ResourceArn": "not-an-arn" }))
            .await
            .error()
            .0,
        "ValidationError"
    );
    // 3: not even JSON Lambda would deliver: a JSON string.
    assert_eq!(setup.lambda.invoke(&json!("hello")).await.error().0, "ValidationError");
    // 4: an SQS batch: started, refused by AWS, invalid, an outcome.
    let batch = sqs_event(
        "requests",
        &[
            (
                "m-ok",
                json!({ "Jobs": [backup_request("vol-4"), backup_request("vol-5")] }),
            ),
            ("m-aws-error", backup_request("vol-rejected")),
            ("m-invalid", json!({ "ResourceArn": "nope" })),
            ("m-outcome", sample("backup-job-failed.json")),
        ],
    );
    let mut failed = failed_ids(&setup.lambda.invoke(&batch).await);
    failed.sort();
    assert_eq!(failed, ["m-aws-error", "m-invalid"], "an outcome is a success");
    let (output, recorded) = setup.finish().await;

    let ok = |calls: &[Recorded]| {
        calls
            .iter()
            .filter(|r| {
                !r.body["ResourceArn"]
                    .as_str()
                    .unwrap_or_default()
                    .ends_with("vol-rejected")
            })
            .count() as u64
    };
    let metrics = metrics_lines(&output.stdout);
    assert_eq!(metrics.len(), 4, "exactly one line per invocation");
    for m in &metrics {
        assert_emf(m, "Team/Backups", "backup-trigger");
        assert_eq!(m["message"], "metrics");
        assert_eq!(m["level"], "INFO");
        assert!(m["timestamp"].is_string() && m["request_id"].is_string());
    }
    let counts = |m: &Value| ["JobsStarted", "JobsFailed", "EventsRejected"].map(|n| count(m, n).unwrap());
    assert_eq!(counts(&metrics[0]), [ok(&first_calls), 1, 0]);
    assert_eq!(ok(&first_calls), 3);
    assert_eq!(
        counts(&metrics[1]),
        [0, 0, 1],
        "refused: its request is not a failed job"
    );
    assert_eq!(counts(&metrics[2]), [0, 0, 1]);
    assert!(metrics[0].get("MessagesFailed").is_none(), "not a batch");
    let batch_calls = &recorded[first_calls.len()..];
    assert_eq!(counts(&metrics[3]), [ok(batch_calls), 1, 1]);
    assert_eq!(count(&metrics[3], "MessagesFailed"), Some(failed.len() as u64));
    assert_eq!(count(&metrics[3], "BackupJobsFailed"), Some(1));
    assert!(metrics[3].get("ResourcesMatched").is_none(), "no selection here");
    let batch_line = &output.lines("batch")[0];
    assert_eq!(metrics[3]["request_id"], batch_line["request_id"]);
}

#[tokio::test]
async fn a_dry_run_starts_nothing_and_its_metrics_say_so() {
    let setup = Setup::start(&[("DRY_RUN", "true")]).await;
    setup.lambda.invoke(&sample("list.json")).await.response();
    assert_eq!(
        failed_ids(&setup.lambda.invoke(&sample("sqs-batch.json")).await).len(),
        1
    );
    setup
        .lambda
        .invoke(&sample("backup-job-completed.json"))
        .await
        .response();
    let (output, recorded) = setup.finish().await;
    assert!(recorded.is_empty());
    let metrics = metrics_lines(&output.stdout);
    assert_eq!(metrics.len(), 3);
    for m in &metrics {
        assert_emf(m, "BackupTrigger", "backup-trigger");
        assert_eq!(count(m, "JobsStarted"), Some(0), "{m}");
        assert_eq!(count(m, "JobsFailed"), Some(0), "{m}");
    }
    assert_eq!(count(&metrics[1], "MessagesFailed"), Some(1));
    assert_eq!(count(&metrics[1], "EventsRejected"), Some(1));
    assert_eq!(
        count(&metrics[2], "BackupJobsCompleted"),
        Some(1),
        "the outcome is a fact, dry run or not"
    );
}

#[tokio::test]
async fn the_metrics_line_is_json_in_the_text_log_format() {
    let setup = Setup::start(&[("AWS_LAMBDA_LOG_FORMAT", "Text")]).await;
    setup.lambda.invoke(&backup_request("vol-1")).await.response();
    setup.lambda.invoke(&sample("copy-job-failed.json")).await.response();
    let recorded = setup.backup.recorded();
    let output = setup.function.finish().await;
    output.assert_nothing_leaked(&[TAG_SECRET]);
    let metrics = metrics_lines(&output.stdout);
    assert_eq!(metrics.len(), 2, "{:?}", output.stdout);
    for m in &metrics {
        assert_emf(m, "BackupTrigger", "backup-trigger");
    }
    assert_eq!(count(&metrics[0], "JobsStarted"), Some(recorded.len() as u64));
    assert_eq!(count(&metrics[1], "CopyJobsFailed"), Some(1));
    let outcome = output
        .stdout
        .iter()
        .find(|l| l.contains("outcome") && l.contains("ERROR"))
        .expect("the outcome line, as text");
    assert!(serde_json::from_str::<Value>(outcome).is_err(), "text: {outcome}");
    assert!(outcome.contains("state=\"FAILED\""), "{outcome}");
}

#[tokio::test]
async fn at_log_level_error_only_failures_and_the_metrics_line_are_written() {
    let setup = Setup::start(&[("AWS_LAMBDA_LOG_LEVEL", "ERROR")]).await;
    setup.lambda.invoke(&backup_request("vol-1")).await.response();
    setup.lambda.invoke(&sample("copy-job-completed.json")).await.response();
    setup.lambda.invoke(&sample("backup-job-failed.json")).await.response();
    let (output, recorded) = setup.finish().await;
    assert_eq!(recorded.len(), 1);
    assert!(output.lines("request").is_empty(), "INFO lines are not written");
    let outcomes = output.lines("outcome");
    assert_eq!(outcomes.len(), 1, "the failure only: {outcomes:?}");
    assert_eq!(outcomes[0]["state"], "FAILED");
    let metrics = metrics_lines(&output.stdout);
    assert_eq!(metrics.len(), 3, "the metrics line whatever the level");
    for m in &metrics {
        assert_emf(m, "BackupTrigger", "backup-trigger");
        assert_eq!(m["level"], "ERROR", "Lambda's own level filter keeps it");
    }
    assert_eq!(count(&metrics[0], "JobsStarted"), Some(1));
    assert_eq!(count(&metrics[1], "CopyJobsCompleted"), Some(1));
    assert_eq!(count(&metrics[2], "BackupJobsFailed"), Some(1));
}

#[tokio::test]
async fn the_function_name_comes_from_lambda() {
    let setup = Setup::start(&[("AWS_LAMBDA_FUNCTION_NAME", "prod-backup-trigger")]).await;
    setup.lambda.invoke(&backup_request("vol-1")).await.response();
    let (output, _) = setup.finish().await;
    assert_emf(
        &metrics_lines(&output.stdout)[0],
        "BackupTrigger",
        "prod-backup-trigger",
    );
}

#[tokio::test]
async fn a_malformed_metrics_namespace_stops_the_function_before_its_first_event() {
    let lambda = FakeLambda::start().await;
    let backup = FakeBackup::start().await;
    let function = Function::start_binary(
        Path::new(env!("CARGO_BIN_EXE_bootstrap")),
        &lambda,
        &backup,
        &[("METRICS_NAMESPACE", "AWS/Backup")],
    );
    let output = function.exited_within(Duration::from_secs(30)).await;
    assert!(!output.exit.expect("exits by itself").success());
    assert_eq!(lambda.next_calls(), 0);
    let reports = lambda.init_errors();
    assert!(reports[0].1["errorMessage"]
        .as_str()
        .unwrap()
        .contains("METRICS_NAMESPACE"));
}
