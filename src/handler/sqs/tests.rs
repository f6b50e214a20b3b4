//! Reading an SQS batch: its messages in order, FIFO by the queue's ARN, a body
//! that cannot be read failing its message only, a record that cannot be
//! reported on its own failing the batch.

use serde_json::json;

use super::*;

const QUEUE: &str = "arn:aws:sqs:eu-west-1:123456789012:backup-requests";
const MESSAGE_ID: &str = "059f36b4-87a3-44ab-83d2-661975830a7d";

fn backup(n: usize) -> Value {
    json!({ "ResourceArn": format!("arn:aws:ec2:eu-west-1:123456789012:volume/vol-{n}") })
}

fn sqs_record(message_id: &str, body: &str) -> Value {
    json!({
        "messageId": message_id,
        "receiptHandle": "AQEBwJnKyrHigUMZj6rYigCgxlaS3SLy0a...",
        "body": body,
        "attributes": {
            "ApproximateReceiveCount": "1",
            "SentTimestamp": "1545082649183",
            "SenderId": "AIDAIENQZJOLO23YVJ4VO",
            "ApproximateFirstReceiveTimestamp": "1545082649185"
        },
        "messageAttributes": {},
        "md5OfBody": "e4e68fb7bd0e697a0ae8f1bb342846b3",
        "eventSource": "aws:sqs",
        "eventSourceARN": QUEUE,
        "awsRegion": "eu-west-1"
    })
}

fn sqs(records: Vec<Value>) -> Value {
    json!({ "Records": records })
}

fn batch(event: Value) -> Batch {
    match Batch::read(&event) {
        Some(Ok(batch)) => batch,
        other => panic!("expected an SQS batch, got {other:?}"),
    }
}

/// The one problem of a batch refused as a whole.
fn refused(event: Value) -> crate::core::error::Invalid {
    match Batch::read(&event) {
        Some(Err(Error::Validation(mut problems))) if problems.len() == 1 => problems.remove(0),
        other => panic!("expected one validation problem, got {other:?}"),
    }
}

fn says(problem: &crate::core::error::Invalid, at: &str, fragments: &[&str]) {
    assert_eq!(problem.at, at, "{problem}");
    for fragment in fragments {
        assert!(
            problem.to_string().contains(fragment),
            "{problem} should say {fragment}"
        );
    }
}

#[test]
fn an_sqs_event_is_a_batch_of_messages_in_order() {
    let list = json!({ "Jobs": [backup(1), backup(2)] });
    let batch = batch(sqs(vec![
        sqs_record("m-1", &backup(1).to_string()),
        sqs_record("m-2", &list.to_string()),
    ]));
    assert!(!batch.fifo);
    let ids: Vec<&str> = batch.messages.iter().map(|m| m.id.as_str()).collect();
    assert_eq!(ids, ["m-1", "m-2"]);
    assert_eq!(batch.messages[0].body.as_ref().unwrap(), &backup(1));
    assert_eq!(batch.messages[1].body.as_ref().unwrap(), &list);
}

#[test]
fn an_event_without_records_is_not_a_batch() {
    assert!(Batch::read(&backup(1)).is_none());
    assert!(Batch::read(&json!("text")).is_none());
}

#[test]
fn a_fifo_queue_is_known_by_its_arn() {
    let mut record = sqs_record("m-1", &backup(1).to_string());
    record["eventSourceARN"] = json!("arn:aws:sqs:eu-west-1:123456789012:backup-requests.fifo");
    assert!(batch(sqs(vec![record])).fifo);
}

#[test]
fn a_body_that_is_not_json_fails_that_message_only() {
    let batch = batch(sqs(vec![
        sqs_record("m-1", &backup(1).to_string()),
        sqs_record("m-2", "ResourceArn=arn:aws:s3:::bucket"),
        sqs_record("m-3", &backup(3).to_string()),
    ]));
    assert_eq!(batch.messages.len(), 3);
    assert!(batch.messages[0].body.is_ok() && batch.messages[2].body.is_ok());
    match &batch.messages[1].body {
        Err(Error::Validation(problems)) => says(&problems[0], "body", &["is not JSON", "expected a backup request"]),
        other => panic!("expected the body to fail, got {other:?}"),
    }
}

#[test]
fn a_missing_body_fails_that_message_only() {
    let mut record = sqs_record("m-2", "");
    record.as_object_mut().unwrap().remove("body");
    let batch = batch(sqs(vec![sqs_record("m-1", &backup(1).to_string()), record]));
    assert!(batch.messages[0].body.is_ok());
    assert!(matches!(&batch.messages[1].body, Err(Error::Validation(p)) if p[0].at == "body"));
}

#[test]
fn a_body_over_a_mebibyte_is_not_read() {
    let big = format!("\"{}\"", "x".repeat(MAX_BODY_BYTES));
    let batch = batch(sqs(vec![sqs_record("m-1", &big)]));
    assert!(matches!(&batch.messages[0].body, Err(e) if e.to_string().contains("at most")));
}

#[test]
fn a_record_without_message_id_fails_the_batch() {
    let mut record = sqs_record("", &backup(2).to_string());
    record.as_object_mut().unwrap().remove("messageId");
    let problem = refused(sqs(vec![sqs_record("m-1", &backup(1).to_string()), record]));
    says(&problem, "Records[1].messageId", &["is missing"]);
}

#[test]
fn a_record_from_another_source_fails_the_batch() {
    let mut record = sqs_record("m-1", &backup(1).to_string());
    record["eventSource"] = json!("aws:s3");
    let problem = refused(sqs(vec![record]));
    says(
        &problem,
        "Records[0].eventSource",
        &["is not \"aws:sqs\"", "expected a backup request"],
    );
    let s3 = json!({ "Records": [{ "eventVersion": "2.1", "eventSource": "aws:s3", "s3": {} }] });
    assert!(refused(s3).to_string().contains(EXPECTED));
}

#[test]
fn empty_or_malformed_records_are_refused() {
    says(&refused(json!({ "Records": [] })), "Records", &["is empty"]);
    says(
        &refused(json!({ "Records": {} })),
        "Records",
        &["must be an array, not an object"],
    );
    says(
        &refused(json!({ "Records": ["m-1"] })),
        "Records[0]",
        &["is not an SQS message"],
    );
}

#[test]
fn debug_output_of_a_batch_never_shows_a_body() {
    let body = json!({ "ResourceArn": "arn:aws:ec2:eu-west-1:123456789012:volume/v", "RecoveryPointTags": { "k": "s3cr3t-in-debug" } });
    let batch = batch(sqs(vec![sqs_record(MESSAGE_ID, &body.to_string())]));
    assert!(!format!("{batch:?}").contains("s3cr3t-in-debug"));
}
