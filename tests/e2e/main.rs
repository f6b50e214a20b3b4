//! End-to-end: the built `bootstrap` binary, run as Lambda runs it, against a fake
//! Lambda Runtime API and a fake AWS Backup endpoint (`AWS_ENDPOINT_URL_BACKUP`).

mod audit;
mod harness;
mod outcomes;
mod selection;
mod tagging;

use std::path::Path;
use std::time::Duration;

use harness::{listings, Answer, FakeBackup, FakeLambda, Function, Output, Recorded, Reply};
use serde_json::{json, Value};

const ROLE: &str = "arn:aws:iam::123456789012:role/service-role/AWSBackupDefaultServiceRole";
const COPY_DESTINATION: &str = "arn:aws:backup:eu-central-1:123456789012:backup-vault:DisasterRecovery";
/// The sample resources beside the events, which selections find in dry runs.
const RESOURCES: &str = "local/resources.json";
/// A tag value that must never be printed.
const TAG_SECRET: &str = "tag-value-that-must-never-be-logged";

struct Setup {
    lambda: FakeLambda,
    backup: FakeBackup,
    function: Function,
}

impl Setup {
    async fn start(env: &[(&str, &str)]) -> Setup {
        let lambda = FakeLambda::start().await;
        let backup = FakeBackup::start().await;
        let mut all = vec![
            ("BACKUP_VAULT_NAME", "Default"),
            ("BACKUP_IAM_ROLE_ARN", ROLE),
            ("COPY_DESTINATION_VAULT_ARN", COPY_DESTINATION),
        ];
        all.extend_from_slice(env);
        let function = Function::start_binary(Path::new(env!("CARGO_BIN_EXE_bootstrap")), &lambda, &backup, &all);
        Setup {
            lambda,
            backup,
            function,
        }
    }

    /// Stops the function; checks that every stdout line is JSON and nothing secret leaked.
    async fn finish(self) -> (Output, Vec<Recorded>) {
        let recorded = self.backup.recorded();
        let output = self.function.finish().await;
        output.log_lines();
        output.assert_nothing_leaked(&[TAG_SECRET]);
        (output, recorded)
    }
}

fn sample(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("events").join(name);
    serde_json::from_str(&std::fs::read_to_string(&path).expect("read sample event")).expect("sample is JSON")
}

/// An age in the sample listings' own terms: `now-3h`, `now-2d`, `now-90m`.
fn sample_age(text: &str) -> Duration {
    let ago = text.strip_prefix("now-").expect("a sample time relative to the run");
    let (count, unit) = ago.split_at(ago.len() - 1);
    let count: u64 = count.parse().unwrap();
    Duration::from_secs(
        count
            * match unit {
                "m" => 60,
                "h" => 3_600,
                "d" => 86_400,
                other => panic!("unit {other}"),
            },
    )
}

/// Serves the sample listings of `events/local/` from the in-test AWS Backup, as an
/// account that has them would answer.
fn serve_sample_listings(backup: &FakeBackup) {
    let protected = sample("local/protected-resources.json")["Results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| listings::Protected {
            last_backup_vault_arn: r["LastBackupVaultArn"].as_str().map(str::to_owned),
            ..listings::Protected::new(
                r["ResourceArn"].as_str().unwrap(),
                sample_age(r["LastBackupTime"].as_str().unwrap()),
            )
        })
        .collect();
    backup.set_protected_list(protected);
    let jobs = sample("local/backup-jobs.json")["BackupJobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| {
            listings::Job::new(
                j["ResourceArn"].as_str().unwrap(),
                j["State"].as_str().unwrap(),
                sample_age(j["CreationDate"].as_str().unwrap()),
                j["StatusMessage"].as_str(),
            )
        })
        .collect();
    backup.set_job_list(jobs);
}

fn backup_request(resource: &str) -> Value {
    json!({ "ResourceArn": format!("arn:aws:ec2:eu-west-1:123456789012:volume/{resource}"), "RecoveryPointTags": { "owner": TAG_SECRET } })
}

fn sqs_event(queue: &str, bodies: &[(&str, Value)]) -> Value {
    let records: Vec<Value> = bodies
        .iter()
        .map(|(id, body)| {
            json!({
                "messageId": id,
                "receiptHandle": format!("AQEB{id}"),
                "body": body.to_string(),
                "attributes": { "ApproximateReceiveCount": "1", "SentTimestamp": "1795316400000" },
                "messageAttributes": {},
                "md5OfBody": "0",
                "eventSource": "aws:sqs",
                "eventSourceARN": format!("arn:aws:sqs:eu-west-1:123456789012:{queue}"),
                "awsRegion": "eu-west-1",
            })
        })
        .collect();
    json!({ "Records": records })
}

fn failed_ids(answer: &Answer) -> Vec<String> {
    let response = answer.response();
    assert_eq!(
        response.as_object().map(|o| o.keys().collect::<Vec<_>>()),
        Some(vec![&"batchItemFailures".to_owned()]),
        "exactly the partial-batch answer: {response}"
    );
    response["batchItemFailures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["itemIdentifier"].as_str().unwrap().to_owned())
        .collect()
}

fn tokens(recorded: &[Recorded]) -> Vec<String> {
    recorded
        .iter()
        .map(|r| r.body["IdempotencyToken"].as_str().unwrap().to_owned())
        .collect()
}

// ------------------------------------------------------------- every sample

#[tokio::test]
async fn every_sample_event_runs_end_to_end() {
    let expected: &[(&str, usize)] = &[
        ("audit.json", 2),
        ("backup-job-completed.json", 1),
        ("backup-job-failed.json", 0),
        ("copy-job-completed.json", 0),
        ("copy-job-failed.json", 0),
        ("copy.json", 1),
        ("eventbridge-rule.json", 2),
        ("list.json", 4),
        ("scheduled-backup.json", 1),
        ("scheduled-selection.json", 2),
        ("selection.json", 4),
        ("sqs-batch.json", 3),
        ("sqs-fifo.json", 3),
        ("sqs-selection.json", 2),
    ];
    let mut files: Vec<String> = std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("events"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(
        files,
        expected.iter().map(|(f, _)| f.to_string()).collect::<Vec<_>>(),
        "every sample event has a case here"
    );

    // The selections find the sample resources through a local Tagging API, and
    // the audit the sample listings in the in-test AWS Backup.
    let tagging = tagging::FakeTagging::from_listing(&sample(RESOURCES)).await;
    let setup = Setup::start(&[("AWS_ENDPOINT_URL_RESOURCE_GROUPS_TAGGING_API", &tagging.endpoint)]).await;
    serve_sample_listings(&setup.backup);
    for (file, calls) in expected {
        setup.backup.clear();
        let answer = setup.lambda.invoke(&sample(file)).await;
        let recorded = setup.backup.recorded();
        assert_eq!(recorded.len(), *calls, "{file}: calls to AWS Backup");
        match *file {
            "scheduled-backup.json" => {
                let r = answer.response();
                assert_eq!(r["Action"], "StartBackupJob");
                assert_eq!(
                    r["ResourceArn"],
                    "arn:aws:ec2:eu-west-1:123456789012:volume/vol-0a1b2c3d4e5f67890"
                );
                assert_eq!(r["BackupVaultName"], "Default");
                assert_eq!(r["IdempotencyToken"], recorded[0].body["IdempotencyToken"]);
                assert!(r["BackupJobId"].as_str().unwrap().starts_with("backup-"));
                assert_eq!(r["IsParent"], false);
                assert_eq!(r["CreationDate"], "2026-11-22T03:00:00.123Z");
                assert!(r["RecoveryPointArn"].as_str().unwrap().starts_with("arn:aws:backup:"));
            }
            "copy.json" => {
                let r = answer.response();
                assert_eq!(r["Action"], "StartCopyJob");
                assert!(r["CopyJobId"].as_str().unwrap().starts_with("copy-"));
                assert_eq!(r["DestinationBackupVaultArn"], COPY_DESTINATION);
                assert_eq!(r["SourceBackupVaultName"], "Default");
                assert!(r.get("BackupJobId").is_none());
                assert_eq!(recorded[0].path, "/copy-jobs");
            }
            "list.json" | "eventbridge-rule.json" => {
                let jobs = answer.response()["Jobs"].as_array().unwrap().clone();
                assert_eq!(jobs.len(), *calls);
                let paths: Vec<&str> = recorded.iter().map(|r| r.path.as_str()).collect();
                let backups = paths.iter().filter(|p| **p == "/backup-jobs").count();
                assert_eq!(backups, if *file == "list.json" { 3 } else { 2 });
            }
            "backup-job-completed.json" => {
                let jobs = answer.response()["Jobs"].as_array().unwrap().clone();
                assert_eq!(jobs.len(), 1);
                assert_eq!(recorded[0].path, "/copy-jobs");
                assert_eq!(
                    recorded[0].body["RecoveryPointArn"],
                    "arn:aws:ec2:eu-west-1::snapshot/snap-0a9b8c7d6e5f40312"
                );
                assert_eq!(recorded[0].body["SourceBackupVaultName"], "Default");
                assert_eq!(recorded[0].body["DestinationBackupVaultArn"], COPY_DESTINATION);
            }
            "audit.json" => {
                let r = answer.response();
                assert_eq!(
                    r["Audit"],
                    json!({ "Name": "nightly-prod", "Found": 8, "Matched": 5, "Unsupported": 1, "Audited": 4,
                            "Protected": 1, "InProgress": 1, "Unprotected": 2, "Remediated": 2,
                            "Enqueued": 0, "Messages": 0 })
                );
                let findings: Vec<&str> = r["Findings"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|f| f["ResourceArn"].as_str().unwrap())
                    .collect();
                assert_eq!(
                    findings,
                    [
                        "arn:aws:s3:::example-invoices",
                        "arn:aws:rds:eu-west-1:123456789012:db:billing",
                        "arn:aws:ec2:eu-west-1:123456789012:volume/vol-0a1b2c3d4e5f67890",
                    ],
                    "never backed up first, then the oldest; the one in progress is listed too"
                );
                let mut remediated: Vec<&str> = recorded
                    .iter()
                    .map(|r| r.body["ResourceArn"].as_str().unwrap())
                    .collect();
                remediated.sort();
                assert_eq!(
                    remediated,
                    [
                        "arn:aws:rds:eu-west-1:123456789012:db:billing",
                        "arn:aws:s3:::example-invoices"
                    ],
                    "the unprotected ones, not the one in progress"
                );
            }
            "backup-job-failed.json" | "copy-job-completed.json" | "copy-job-failed.json" => {
                let r = answer.response();
                assert_eq!(r["Jobs"], json!([]), "{file}: an outcome starts nothing");
                assert!(
                    r["Skipped"].as_str().unwrap().contains("recorded as an outcome"),
                    "{file}: {r}"
                );
            }
            "sqs-batch.json" => assert_eq!(failed_ids(&answer), ["2e1424d4-f796-459a-8184-9c92662be6da"]),
            "sqs-fifo.json" => {
                assert_eq!(failed_ids(&answer), Vec::<String>::new());
                let resources: Vec<&str> = recorded
                    .iter()
                    .map(|r| r.body["ResourceArn"].as_str().unwrap())
                    .collect();
                let sent: Vec<String> = sample(file)["Records"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|r| {
                        serde_json::from_str::<Value>(r["body"].as_str().unwrap()).unwrap()["ResourceArn"]
                            .as_str()
                            .unwrap()
                            .to_owned()
                    })
                    .collect();
                assert_eq!(resources, sent, "a FIFO batch is sent in order");
            }
            "selection.json" | "scheduled-selection.json" => {
                let r = answer.response();
                let resources: Vec<&str> = recorded
                    .iter()
                    .map(|r| r.body["ResourceArn"].as_str().unwrap())
                    .collect();
                let (name, found, matched, expected): (_, _, _, &[&str]) = if *file == "selection.json" {
                    (
                        "nightly-prod",
                        8,
                        5,
                        &[
                            "arn:aws:dynamodb:eu-west-1:123456789012:table/orders",
                            "arn:aws:rds:eu-west-1:123456789012:db:billing",
                            "arn:aws:ec2:eu-west-1:123456789012:volume/vol-0a1b2c3d4e5f67890",
                            "arn:aws:s3:::example-invoices",
                        ],
                    )
                } else {
                    (
                        "tagged-nightly",
                        3,
                        3,
                        &[
                            "arn:aws:ec2:eu-west-1:123456789012:volume/vol-0a1b2c3d4e5f67890",
                            "arn:aws:s3:::example-invoices",
                        ],
                    )
                };
                let mut sorted = resources.clone();
                sorted.sort();
                let mut wanted = expected.to_vec();
                wanted.sort();
                assert_eq!(sorted, wanted, "{file}");
                assert_eq!(
                    r["Selection"],
                    json!({ "Name": name, "Found": found, "Matched": matched, "Unsupported": 1, "Enqueued": 0, "Messages": 0 })
                );
                let jobs = r["Jobs"].as_array().unwrap();
                assert_eq!(jobs.len(), expected.len());
                assert!(jobs.iter().all(|j| j["BackupJobId"].is_string()));
            }
            "sqs-selection.json" => {
                assert_eq!(failed_ids(&answer), Vec::<String>::new());
                let resources: Vec<&str> = recorded
                    .iter()
                    .map(|r| r.body["ResourceArn"].as_str().unwrap())
                    .collect();
                assert_eq!(resources.len(), 2);
                assert!(resources.iter().all(|r| r.contains(":volume/")), "{resources:?}");
            }
            other => panic!("no case for {other}"),
        }
    }
    setup.finish().await;
}

// ------------------------------------------------------------- the wire

#[tokio::test]
async fn requests_on_the_wire_are_signed_aws_backup_calls() {
    let setup = Setup::start(&[]).await;
    setup.lambda.invoke(&sample("scheduled-backup.json")).await.response();
    setup.lambda.invoke(&sample("copy.json")).await.response();
    let (_, recorded) = setup.finish().await;
    assert_eq!(recorded.len(), 2);

    for r in &recorded {
        assert_eq!(r.method, "PUT");
        let auth = &r.headers["authorization"];
        assert!(
            auth.starts_with(&format!("AWS4-HMAC-SHA256 Credential={}/", harness::ACCESS_KEY_ID)),
            "{auth}"
        );
        assert!(
            auth.contains("/eu-west-1/backup/aws4_request"),
            "signed for service backup in the region: {auth}"
        );
        assert!(auth.contains("SignedHeaders=") && auth.contains("Signature="), "{auth}");
        assert_eq!(r.headers["x-amz-security-token"], harness::SESSION_TOKEN);
        assert!(r.headers["content-type"].starts_with("application/json"));
        assert!(
            r.body.get("IdempotencyKey").is_none(),
            "IdempotencyKey is not sent to AWS"
        );
    }

    let backup = &recorded[0];
    assert_eq!(backup.path, "/backup-jobs");
    let body = backup.body.as_object().unwrap();
    let mut keys: Vec<&str> = body.keys().map(String::as_str).collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "BackupVaultName",
            "CompleteWindowMinutes",
            "IamRoleArn",
            "IdempotencyToken",
            "Lifecycle",
            "RecoveryPointTags",
            "ResourceArn",
            "StartWindowMinutes"
        ]
    );
    assert_eq!(
        body["ResourceArn"],
        "arn:aws:ec2:eu-west-1:123456789012:volume/vol-0a1b2c3d4e5f67890"
    );
    assert_eq!(body["BackupVaultName"], "Default");
    assert_eq!(body["IamRoleArn"], ROLE);
    assert!(
        body["StartWindowMinutes"].is_i64() && body["StartWindowMinutes"] == 60,
        "numbers as numbers"
    );
    assert!(body["CompleteWindowMinutes"].is_i64() && body["CompleteWindowMinutes"] == 720);
    assert_eq!(
        body["Lifecycle"],
        json!({ "MoveToColdStorageAfterDays": 30, "DeleteAfterDays": 365 })
    );
    assert_eq!(
        body["RecoveryPointTags"],
        json!({ "team": "platform", "trigger": "backup-trigger" })
    );
    let token = body["IdempotencyToken"].as_str().unwrap();
    assert_eq!(token.len(), 36, "a UUID");
    assert_eq!(&token[14..15], "5", "version 5");

    let copy = &recorded[1];
    assert_eq!(copy.path, "/copy-jobs");
    let mut keys: Vec<&str> = copy.body.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "DestinationBackupVaultArn",
            "IamRoleArn",
            "IdempotencyToken",
            "Lifecycle",
            "RecoveryPointArn",
            "SourceBackupVaultName"
        ]
    );
    assert_eq!(copy.body["Lifecycle"], json!({ "DeleteAfterDays": 90 }));
}

// ------------------------------------------------------------- SQS

#[tokio::test]
async fn an_sqs_batch_reports_exactly_the_failed_messages() {
    let setup = Setup::start(&[]).await;
    setup
        .backup
        .reply_for("vol-rejected", Reply::Error(400, "InvalidParameterValueException"));
    let event = sqs_event(
        "requests",
        &[
            ("m-ok-1", backup_request("vol-1")),
            ("m-aws-error", backup_request("vol-rejected")),
            ("m-invalid", json!({ "ResourceArn": "not-an-arn" })),
            ("m-not-json", Value::String("{oops".into())),
            (
                "m-ok-2",
                json!({ "Jobs": [backup_request("vol-2"), backup_request("vol-3")] }),
            ),
        ],
    );
    // The body of m-not-json must be the raw text, not a JSON string.
    let mut event = event;
    event["Records"][3]["body"] = Value::String("{oops".into());
    let answer = setup.lambda.invoke(&event).await;
    let mut failed = failed_ids(&answer);
    failed.sort();
    assert_eq!(failed, ["m-aws-error", "m-invalid", "m-not-json"]);
    let (output, recorded) = setup.finish().await;
    assert_eq!(recorded.len(), 4, "vol-1, vol-rejected (not retried), vol-2, vol-3");

    let requests = output.lines("request");
    let rejected = requests
        .iter()
        .find(|l| l["message_id"] == "m-aws-error")
        .expect("a line for the failed request");
    assert_eq!(rejected["outcome"], "failed");
    assert_eq!(rejected["error_code"], "InvalidParameterValueException");
    assert_eq!(rejected["retryable"], false);
    let started: Vec<&Value> = requests.iter().filter(|l| l["outcome"] == "started").collect();
    assert_eq!(started.len(), 3);
    for line in &started {
        for field in [
            "action",
            "resource_arn",
            "vault",
            "idempotency_token",
            "job_id",
            "is_parent",
            "message_id",
            "request_id",
            "duration_ms",
        ] {
            assert!(line.get(field).is_some(), "request line lacks {field}: {line}");
        }
    }
    let events = output.lines("event");
    let invalid = events
        .iter()
        .find(|l| l["message_id"] == "m-invalid")
        .expect("a line for the invalid message");
    assert_eq!(invalid["error_type"], "ValidationError");
    assert!(invalid["error_message"].as_str().unwrap().contains("ResourceArn"));
    assert_eq!(output.lines("batch").len(), 1);
}

#[tokio::test]
async fn a_fifo_batch_stops_at_the_first_failure() {
    let setup = Setup::start(&[]).await;
    setup
        .backup
        .reply_for("vol-rejected", Reply::Error(400, "InvalidParameterValueException"));
    let invalid_second = sqs_event(
        "requests.fifo",
        &[
            ("f-1", backup_request("vol-1")),
            ("f-2", json!({ "ResourceArn": "nope" })),
            ("f-3", backup_request("vol-3")),
        ],
    );
    assert_eq!(failed_ids(&setup.lambda.invoke(&invalid_second).await), ["f-2", "f-3"]);
    let calls: Vec<String> = setup
        .backup
        .recorded()
        .iter()
        .map(|r| r.body["ResourceArn"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        calls,
        ["arn:aws:ec2:eu-west-1:123456789012:volume/vol-1"],
        "nothing after the failure starts"
    );

    setup.backup.clear();
    let rejected_first = sqs_event(
        "requests.fifo",
        &[
            ("g-1", backup_request("vol-rejected")),
            ("g-2", backup_request("vol-2")),
            ("g-3", backup_request("vol-3")),
        ],
    );
    assert_eq!(
        failed_ids(&setup.lambda.invoke(&rejected_first).await),
        ["g-1", "g-2", "g-3"]
    );
    assert_eq!(setup.backup.recorded().len(), 1);
    setup.finish().await;
}

#[tokio::test]
async fn a_redelivered_message_or_retried_request_reuses_its_tokens() {
    let setup = Setup::start(&[]).await;
    let event = sqs_event(
        "requests",
        &[(
            "dup-1",
            json!({ "Jobs": [backup_request("vol-1"), backup_request("vol-2")] }),
        )],
    );
    setup.lambda.invoke(&event).await;
    setup.lambda.invoke(&event).await;
    let first = tokens(&setup.backup.recorded());
    assert_eq!(first.len(), 4);
    assert_eq!(
        first[..2].iter().collect::<std::collections::BTreeSet<_>>(),
        first[2..].iter().collect(),
        "the same tokens on redelivery"
    );
    assert_ne!(first[0], first[1], "two requests of one event never share a token");

    setup.backup.clear();
    let bare = backup_request("vol-9");
    let long = Duration::from_secs(300);
    setup
        .lambda
        .invoke_with(&bare, Some("retried-request-id"), long)
        .await
        .response();
    setup
        .lambda
        .invoke_with(&bare, Some("retried-request-id"), long)
        .await
        .response();
    setup
        .lambda
        .invoke_with(&bare, Some("another-request-id"), long)
        .await
        .response();
    let second = tokens(&setup.backup.recorded());
    assert_eq!(
        second[0], second[1],
        "a retried asynchronous invocation keeps its request id, and so its token"
    );
    assert_ne!(second[0], second[2], "another invocation is another job");
    setup.finish().await;
}

// ------------------------------------------------------------- AWS faults

#[tokio::test]
async fn throttling_and_unavailability_are_retried_until_the_job_starts() {
    let setup = Setup::start(&[]).await;
    for (status, code) in [
        (503, "ServiceUnavailableException"),
        (400, "ThrottlingException"),
        (400, "LimitExceededException"),
    ] {
        setup.backup.clear();
        setup.backup.script([Reply::Error(status, code)]);
        let answer = setup.lambda.invoke(&backup_request("vol-1")).await;
        assert!(answer.response()["BackupJobId"].is_string(), "{code}: {answer:?}");
        let recorded = setup.backup.recorded();
        assert_eq!(recorded.len(), 2, "{code}: one failed attempt, one retry");
        assert_eq!(
            recorded[0].body["IdempotencyToken"], recorded[1].body["IdempotencyToken"],
            "{code}: a retry keeps the token"
        );
    }
    setup.finish().await;
}

#[tokio::test]
async fn a_client_error_is_not_retried_and_names_its_aws_code() {
    let setup = Setup::start(&[]).await;
    setup
        .backup
        .script([Reply::Error(400, "InvalidParameterValueException")]);
    let answer = setup.lambda.invoke(&backup_request("vol-1")).await;
    let (error_type, message) = answer.error();
    assert_eq!(error_type, "InvalidParameterValueException");
    assert!(
        message.contains("arn:aws:ec2:eu-west-1:123456789012:volume/vol-1"),
        "{message}"
    );
    assert!(
        message.contains("from the fake AWS Backup"),
        "AWS's own message: {message}"
    );
    let (output, recorded) = setup.finish().await;
    assert_eq!(recorded.len(), 1, "not retried");
    let line = &output.lines("request")[0];
    assert_eq!(line["outcome"], "failed");
    assert_eq!(line["error_code"], "InvalidParameterValueException");
}

#[tokio::test]
async fn a_stalled_answer_is_abandoned_by_the_attempt_timeout_and_retried() {
    let setup = Setup::start(&[]).await;
    setup.backup.script([Reply::Stall(Duration::from_secs(30))]);
    let answer = setup.lambda.invoke(&backup_request("vol-1")).await;
    assert!(answer.response()["BackupJobId"].is_string(), "{answer:?}");
    let (_, recorded) = setup.finish().await;
    assert_eq!(recorded.len(), 2, "the stalled attempt, then a retry");
}

#[tokio::test]
async fn a_call_stalled_past_the_deadline_is_reported_before_lambda_times_out() {
    let setup = Setup::start(&[]).await;
    setup
        .backup
        .reply_for("vol-stuck", Reply::Stall(Duration::from_secs(60)));
    let deadline = Duration::from_secs(4);
    let answer = setup
        .lambda
        .invoke_with(&backup_request("vol-stuck"), None, deadline)
        .await;
    let (error_type, message) = answer.error();
    assert_eq!(error_type, "DeadlineExceeded");
    assert!(message.contains("vol-stuck"));

    let batch = sqs_event(
        "requests",
        &[
            ("late-1", backup_request("vol-stuck")),
            ("late-2", backup_request("vol-2")),
        ],
    );
    let answer = setup.lambda.invoke_with(&batch, None, deadline).await;
    assert_eq!(failed_ids(&answer), ["late-1"]);

    let short = Duration::from_millis(1500);
    let answer = setup.lambda.invoke_with(&batch, None, short).await;
    let mut failed = failed_ids(&answer);
    failed.sort();
    assert_eq!(
        failed,
        ["late-1", "late-2"],
        "too close to the deadline: nothing starts, everything is reported"
    );
    let (output, _) = setup.finish().await;
    assert!(output.lines("request").iter().any(|l| l["outcome"] == "not_started"));
}

// ------------------------------------------------------------- settings and modes

#[tokio::test]
async fn bad_settings_stop_the_function_before_its_first_event() {
    for (name, value) in [
        ("MAX_CONCURRENCY", "0"),
        ("BACKUP_IAM_ROLE_ARN", "BackupRole"),
        ("DRY_RUN", "maybe"),
        (
            "REQUEST_QUEUE_URL",
            "https://sqs.eu-west-1.amazonaws.com/123456789012/requests.fifo",
        ),
        ("REQUEST_QUEUE_URL", "arn:aws:sqs:eu-west-1:123456789012:requests"),
    ] {
        let lambda = FakeLambda::start().await;
        let backup = FakeBackup::start().await;
        let function = Function::start_binary(
            Path::new(env!("CARGO_BIN_EXE_bootstrap")),
            &lambda,
            &backup,
            &[(name, value)],
        );
        let output = function.exited_within(Duration::from_secs(30)).await;
        let exit = output.exit.expect("the function exits by itself");
        assert!(!exit.success(), "{name}: exit status {exit}");
        assert_eq!(lambda.next_calls(), 0, "{name}: no event is taken");
        let reports = lambda.init_errors();
        assert_eq!(reports.len(), 1, "{name}: one /init/error report");
        assert_eq!(reports[0].1["errorType"], "ConfigError");
        assert!(
            reports[0].1["errorMessage"].as_str().unwrap().contains(name),
            "{name}: {:?}",
            reports[0]
        );
        assert!(
            output.log_lines().iter().any(|l| l["setting"] == name),
            "{name}: the log names the setting"
        );
        output.assert_nothing_leaked(&[]);
    }
}

#[tokio::test]
async fn dry_run_sends_nothing_and_answers_with_the_requests() {
    let setup = Setup::start(&[("DRY_RUN", "true")]).await;
    let answer = setup.lambda.invoke(&sample("list.json")).await;
    let jobs = answer.response()["Jobs"].as_array().unwrap().clone();
    assert_eq!(jobs.len(), 4);
    assert!(jobs
        .iter()
        .all(|j| j["DryRun"] == true && j["IdempotencyToken"].is_string()));
    assert_eq!(
        failed_ids(&setup.lambda.invoke(&sample("sqs-fifo.json")).await),
        Vec::<String>::new()
    );
    let (output, recorded) = setup.finish().await;
    assert!(recorded.is_empty(), "DRY_RUN calls nothing");
    assert!(output.lines("request").iter().all(|l| l["outcome"] == "dry_run"));
}

#[tokio::test]
async fn invalid_events_start_nothing_and_fail_with_a_validation_error() {
    let setup = Setup::start(&[]).await;
    let list = json!({ "Jobs": [backup_request("vol-1"), { "ResourceARN": "arn:aws:ec2:eu-west-1:123456789012:volume/vol-2" }] });
    let answer = setup.lambda.invoke(&list).await;
    let (error_type, message) = answer.error();
    assert_eq!(error_type, "ValidationError");
    assert!(
        message.contains("Jobs[1]") && message.contains("ResourceArn"),
        "{message}"
    );

    let answer = setup.lambda.invoke(&json!([1, 2, 3])).await;
    assert_eq!(answer.error().0, "ValidationError");
    assert!(answer.error().1.contains("expected"));

    let tags = json!({ "ResourceArn": "arn:aws:ec2:eu-west-1:123456789012:volume/vol-3", "RecoveryPointTags": { "aws:owner": TAG_SECRET, "long": TAG_SECRET.repeat(10) } });
    assert_eq!(setup.lambda.invoke(&tags).await.error().0, "ValidationError");

    let scheduled = json!({ "version": "0", "id": "e-1", "detail-type": "Scheduled Event", "source": "aws.events", "account": "123456789012", "time": "2026-11-22T03:00:00Z", "region": "eu-west-1", "resources": [], "detail": {} });
    let answer = setup.lambda.invoke(&scheduled).await;
    assert!(
        answer.error().1.contains("input"),
        "tells the user to set the target's input: {answer:?}"
    );
    let (_, recorded) = setup.finish().await;
    assert!(recorded.is_empty());
}

#[tokio::test]
async fn a_completed_backup_needs_a_role_to_be_copied() {
    // A state that is not final is skipped whatever the settings: outcomes.rs.
    let setup = Setup::start(&[("BACKUP_IAM_ROLE_ARN", "")]).await;
    let answer = setup.lambda.invoke(&sample("backup-job-completed.json")).await;
    let (error_type, message) = answer.error();
    assert_eq!(error_type, "ConfigError");
    assert!(message.contains("BACKUP_IAM_ROLE_ARN"));
    let (_, recorded) = setup.finish().await;
    assert!(recorded.is_empty());
}

#[tokio::test]
async fn copies_outside_the_allow_list_are_refused_for_every_shape() {
    let allowed = "arn:aws:backup:eu-central-1:123456789012:backup-vault:Allowed";
    let setup = Setup::start(&[
        ("ALLOWED_DESTINATION_VAULT_ARNS", allowed),
        ("COPY_DESTINATION_VAULT_ARN", allowed),
    ])
    .await;
    let evil = "arn:aws:backup:eu-central-1:999999999999:backup-vault:Attacker";
    let copy = json!({ "RecoveryPointArn": "arn:aws:backup:eu-west-1:123456789012:recovery-point:rp-1", "DestinationBackupVaultArn": evil });
    assert_eq!(setup.lambda.invoke(&copy).await.error().0, "ValidationError");
    assert_eq!(
        setup.lambda.invoke(&json!({ "Jobs": [copy.clone()] })).await.error().0,
        "ValidationError"
    );
    let eventbridge =
        json!({ "id": "e-2", "detail-type": "Copy Request", "source": "com.example", "detail": copy.clone() });
    assert_eq!(setup.lambda.invoke(&eventbridge).await.error().0, "ValidationError");
    assert_eq!(
        failed_ids(
            &setup
                .lambda
                .invoke(&sqs_event("requests", &[("evil", copy.clone())]))
                .await
        ),
        ["evil"]
    );
    assert!(
        setup.backup.recorded().is_empty(),
        "no copy to a vault the operator did not name"
    );
    // The completed-backup copy goes to the configured, allowed destination.
    setup
        .lambda
        .invoke(&sample("backup-job-completed.json"))
        .await
        .response();
    let (_, recorded) = setup.finish().await;
    assert_eq!(recorded.len(), 1);
    assert_eq!(recorded[0].body["DestinationBackupVaultArn"], allowed);
}

// ------------------------------------------------------------- logs

#[tokio::test]
async fn no_log_level_lets_a_tag_value_or_credential_through() {
    let verbose = [
        [("AWS_LAMBDA_LOG_LEVEL", "TRACE"), ("RUST_LOG", "")],
        [
            ("AWS_LAMBDA_LOG_LEVEL", ""),
            (
                "RUST_LOG",
                "trace,aws_smithy_runtime::client::orchestrator=trace,aws_sigv4=trace,hyper=trace",
            ),
        ],
    ];
    for env in verbose {
        let setup = Setup::start(&env).await;
        setup.lambda.invoke(&backup_request("vol-1")).await.response();
        setup.backup.script([Reply::Error(400, "ThrottlingException")]);
        setup.lambda.invoke(&backup_request("vol-2")).await.response();
        let (output, recorded) = setup.finish().await;
        assert!(
            recorded[0].raw_body.contains(TAG_SECRET),
            "the tag value is sent to AWS"
        );
        assert!(output.lines("request").len() >= 2, "{env:?}: still logs");
    }
}

#[tokio::test]
async fn log_lines_carry_the_documented_fields() {
    let setup = Setup::start(&[]).await;
    setup.lambda.invoke(&sample("list.json")).await.response();
    setup.lambda.invoke(&sample("sqs-batch.json")).await.response();
    let (output, _) = setup.finish().await;
    for line in output.log_lines() {
        assert!(line["timestamp"].is_string() && line["level"].is_string(), "{line}");
    }
    let events = output.lines("event");
    let list = events
        .iter()
        .find(|l| l["kind"] == "list")
        .expect("an event line for the list");
    assert_eq!(list["source_id"], "nightly-2026-11-22");
    assert_eq!(list["source_kind"], "IdempotencyKey");
    assert_eq!(list["requests"], 4);
    assert_eq!(list["cold_start"], true);
    assert!(list["duration_ms"].is_number() && list["request_id"].is_string());
    let rejected = events
        .iter()
        .find(|l| l["outcome"] == "rejected")
        .expect("the bad message's line");
    // A body read as a request (with a misspelt field): its kind is the request's.
    assert_eq!(rejected["kind"], "bare");
    assert_eq!(rejected["source_id"], "2e1424d4-f796-459a-8184-9c92662be6da");
    assert_eq!(rejected["message_id"], "2e1424d4-f796-459a-8184-9c92662be6da");
    assert!(rejected["duration_ms"].is_number());
    let copy = output
        .lines("request")
        .into_iter()
        .find(|l| l["action"] == "StartCopyJob")
        .expect("the copy's request line");
    assert!(
        copy["recovery_point_arn"].is_string()
            && copy["destination_vault_arn"].is_string()
            && copy["job_id"].is_string()
    );
    assert_eq!(output.lines("batch")[0]["messages"], 3);
}

#[tokio::test]
async fn text_log_format_is_followed() {
    let setup = Setup::start(&[("AWS_LAMBDA_LOG_FORMAT", "Text")]).await;
    setup.lambda.invoke(&backup_request("vol-1")).await.response();
    let output = setup.function.finish().await;
    output.assert_nothing_leaked(&[TAG_SECRET]);
    let request = output
        .stdout
        .iter()
        .find(|l| l.contains("request"))
        .expect("a request line");
    assert!(
        serde_json::from_str::<Value>(request).is_err(),
        "text, not JSON: {request}"
    );
    assert!(
        request.contains("INFO") && request.contains("outcome=\"started\""),
        "{request}"
    );
}

#[tokio::test]
async fn a_dry_run_answer_never_shows_tag_values() {
    let setup = Setup::start(&[("DRY_RUN", "true")]).await;
    let answer = setup.lambda.invoke(&backup_request("vol-1")).await;
    let shown = answer.response().to_string();
    assert!(!shown.contains(TAG_SECRET), "{shown}");
    assert_eq!(
        answer.response()["RecoveryPointTags"],
        json!({ "owner": "*** redacted ***" })
    );
    setup.finish().await;
}

#[tokio::test]
async fn max_calls_per_second_paces_a_list() {
    let setup = Setup::start(&[("MAX_CALLS_PER_SECOND", "20")]).await;
    setup.backup.set_rate_limit(20);
    let jobs: Vec<Value> = (0..30).map(|i| backup_request(&format!("vol-{i}"))).collect();
    let answer = setup.lambda.invoke(&json!({ "Jobs": jobs })).await;
    assert_eq!(answer.response()["Jobs"].as_array().unwrap().len(), 30);
    let throttled = setup.backup.throttled();
    let (_, recorded) = setup.finish().await;
    // Paced at the endpoint's own rate, a list meets (almost) no throttling.
    assert!(throttled <= 2, "{throttled} calls throttled");
    assert_eq!(recorded.len() as u64, 30 + throttled);
}

#[tokio::test]
async fn a_decimal_max_calls_per_second_caps_the_pace() {
    let setup = Setup::start(&[("MAX_CALLS_PER_SECOND", "12.5")]).await;
    setup.backup.set_window_limit(13);
    let jobs: Vec<Value> = (0..30).map(|i| backup_request(&format!("vol-{i}"))).collect();
    let answer = setup.lambda.invoke(&json!({ "Jobs": jobs })).await;
    assert_eq!(answer.response()["Jobs"].as_array().unwrap().len(), 30);
    let throttled = setup.backup.throttled();
    setup.finish().await;
    // 12.5 a second never puts more than 13 calls in a rolling second.
    assert_eq!(throttled, 0);
}

/// With no MAX_CALLS_PER_SECOND, a list larger than the quota is throttled, learns
/// the rate, and every request still starts; each throttled call is sent again by
/// the SDK with the same body, token included.
#[tokio::test]
async fn with_no_setting_a_throttled_list_starts_every_job_and_keeps_its_tokens() {
    for window in [false, true] {
        let setup = Setup::start(&[]).await;
        if window {
            setup.backup.set_window_limit(10);
        } else {
            setup.backup.set_rate_limit(10);
        }
        let jobs: Vec<Value> = (0..40).map(|i| backup_request(&format!("vol-{i}"))).collect();
        let answer = setup.lambda.invoke(&json!({ "Jobs": jobs })).await;
        let started = answer.response()["Jobs"].as_array().unwrap().clone();
        assert_eq!(started.len(), 40, "no request refused for want of a setting");
        let throttled = setup.backup.throttled();
        let (_, recorded) = setup.finish().await;
        assert!(throttled > 0, "the first burst is throttled");
        assert_eq!(recorded.len() as u64, 40 + throttled);
        let mut bodies: std::collections::HashMap<String, Vec<&str>> = Default::default();
        for r in &recorded {
            bodies
                .entry(r.body["ResourceArn"].as_str().unwrap().to_owned())
                .or_default()
                .push(&r.raw_body);
        }
        assert_eq!(bodies.len(), 40);
        assert!(bodies.values().any(|b| b.len() > 1), "some call was sent again");
        for (resource, sent) in &bodies {
            assert!(
                sent.windows(2).all(|w| w[0] == w[1]),
                "{resource} was sent with another body"
            );
        }
        for result in &started {
            let resource = result["ResourceArn"].as_str().unwrap();
            let sent: Value = serde_json::from_str(bodies[resource][0]).unwrap();
            assert_eq!(result["IdempotencyToken"], sent["IdempotencyToken"]);
        }
    }
}

// ------------------------------------------------------------- local dry run

/// The README's first command, `bootstrap invoke events/FILE --dry-run`, on every
/// sample, exactly as a newcomer runs it: from the repository's root, with nothing
/// in the environment; the settings the samples need come from
/// `events/local/env.json`, picked up beside the event.
#[tokio::test]
async fn every_sample_runs_through_the_local_dry_run() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files: Vec<_> = std::fs::read_dir(root.join("events"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    assert!(files.len() >= 7, "{files:?}");
    for file in files {
        let relative = file.strip_prefix(root).unwrap();
        let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_bootstrap"))
            .current_dir(root)
            .arg("invoke")
            .arg(relative)
            .arg("--dry-run")
            .env_clear()
            .output()
            .await
            .expect("run bootstrap invoke");
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            output.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&output.stdout)
        );
        let answer: Value = serde_json::from_slice(&output.stdout).expect("the answer is JSON");
        let requests: Vec<&Value> = match (answer.get("Jobs"), answer.get("batchItemFailures")) {
            (Some(Value::Array(jobs)), _) => jobs.iter().collect(),
            (_, Some(_)) => Vec::new(),
            _ => vec![&answer],
        };
        assert!(
            requests
                .iter()
                .all(|r| r["DryRun"] == true && r["IdempotencyToken"].is_string()),
            "{name}: {answer}"
        );
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.lines().all(|l| serde_json::from_str::<Value>(l).is_ok()),
            "{name}: log lines are JSON"
        );
        // Everything it reads is in events/local/: the AWS SDK is not asked for a
        // Region, which off EC2 ends in a warning (or a wait) about EC2's metadata
        // service (IMDS).
        assert!(!stderr.contains("IMDS"), "{name}: {stderr}");
        if name.starts_with("backup-job-failed") || name.starts_with("copy-job-") {
            assert!(stderr.contains("\"message\":\"outcome\""), "{name}: {stderr}");
        } else {
            assert!(stderr.contains("\"outcome\":\"dry_run\""), "{name}: {stderr}");
        }
        let metrics: Vec<Value> = stderr
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|l| l.get("_aws").is_some())
            .collect();
        assert_eq!(metrics.len(), 1, "{name}: one metrics line, on stderr: {stderr}");
        assert_eq!(metrics[0]["JobsStarted"], 0, "{name}: a dry run starts nothing");
        assert!(
            !String::from_utf8_lossy(&output.stdout).contains("_aws"),
            "{name}: stdout holds the answer only"
        );
        assert!(
            !stderr.contains("\"platform\"") && !String::from_utf8_lossy(&output.stdout).contains("\"platform\""),
            "{name}: a tag value was printed"
        );
    }
}
