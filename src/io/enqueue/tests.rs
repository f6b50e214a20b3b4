//! Batching, retries of refused entries, and what `SendMessageBatch` is sent
//! (`aws-smithy-mocks` answers in place of SQS).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use aws_sdk_sqs::operation::send_message_batch::{SendMessageBatchInput, SendMessageBatchOutput};
use aws_sdk_sqs::types::{BatchResultErrorEntry, SendMessageBatchResultEntry};
use aws_smithy_mocks::{mock, mock_client, RuleMode};

use serde_json::{json, Value};

use super::*;
use crate::core::fixtures::defaults;
use crate::core::request::validate;

fn request(n: usize) -> Job {
    let request = json!({ "ResourceArn": format!("arn:aws:s3:::bucket-{n}"), "IdempotencyToken": format!("t-{n}") });
    validate(&request, &[], &defaults(), "unused").unwrap()
}

/// A request as the queue's consumer reads it.
fn sent(n: usize) -> Value {
    serde_json::to_value(request(n)).unwrap()
}

fn far() -> Deadline {
    Deadline::after(Duration::from_secs(900))
}

fn fan_to(queue: &Arc<Recorder>) -> FanOut {
    FanOut::new(&Queue::Sqs(Arc::clone(queue) as Arc<dyn Enqueuer>), far())
}

/// A queue that records every batch and answers from a script (then accepts all).
#[derive(Default)]
struct Recorder {
    batches: Mutex<Vec<Vec<Entry>>>,
    script: Mutex<VecDeque<Result<Vec<EntryFailure>, Failure>>>,
}

impl Enqueuer for Recorder {
    fn send_batch<'a>(&'a self, entries: &'a [Entry]) -> BoxFuture<'a, Result<Vec<EntryFailure>, Failure>> {
        Box::pin(async move {
            self.batches.lock().unwrap().push(entries.to_vec());
            self.script.lock().unwrap().pop_front().unwrap_or(Ok(Vec::new()))
        })
    }
}

fn refused(id: &str, code: &str, sender_fault: bool) -> EntryFailure {
    EntryFailure {
        id: id.into(),
        failure: Failure::aws(code, "refused", !sender_fault),
        sender_fault,
    }
}

fn jobs_in(entry: &Entry) -> Vec<Value> {
    let body: Value = serde_json::from_str(&entry.body).unwrap();
    body["Jobs"].as_array().unwrap().clone()
}

#[tokio::test]
async fn requests_go_ten_to_a_message_and_ten_messages_to_a_batch() {
    let queue = Arc::new(Recorder::default());
    let mut fan = fan_to(&queue);
    for n in 0..205 {
        fan.push(&request(n)).await.unwrap();
        // Never more than a batch waits.
        assert!(fan.batch.len() < MESSAGES_PER_BATCH && fan.message.len() < REQUESTS_PER_MESSAGE);
    }
    fan.finish().await.unwrap();
    assert_eq!((fan.enqueued, fan.messages), (205, 21));
    let batches = queue.batches.lock().unwrap();
    assert_eq!(batches.iter().map(Vec::len).collect::<Vec<_>>(), vec![10, 10, 1]);
    assert_eq!(
        batches[0].iter().map(|e| e.id.as_str()).collect::<Vec<_>>(),
        ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"]
    );
    assert_eq!(jobs_in(&batches[0][0]), (0..10).map(sent).collect::<Vec<_>>());
    assert_eq!(jobs_in(&batches[2][0]), (200..205).map(sent).collect::<Vec<_>>());
}

#[tokio::test]
async fn a_dry_run_counts_what_it_would_send() {
    let mut fan = FanOut::new(&Queue::DryRun, far());
    for n in 0..11 {
        fan.push(&request(n)).await.unwrap();
    }
    fan.finish().await.unwrap();
    assert_eq!((fan.enqueued, fan.messages), (11, 2));
}

#[tokio::test]
async fn a_batch_stays_under_the_payload_limit() {
    let queue = Arc::new(Recorder::default());
    let mut fan = fan_to(&queue);
    // The largest requests there are: 50 tags of the longest key and value.
    let tags: serde_json::Map<String, Value> = (0..50)
        .map(|i| (format!("{i:0>128}"), Value::String("v".repeat(256))))
        .collect();
    for n in 0..20 {
        let request = json!({ "ResourceArn": format!("arn:aws:s3:::b{n}"), "RecoveryPointTags": tags });
        fan.push(&validate(&request, &[], &defaults(), &format!("t{n}")).unwrap())
            .await
            .unwrap();
    }
    fan.finish().await.unwrap();
    let batches = queue.batches.lock().unwrap();
    assert!(batches.len() > 1, "20 requests of 20 kB do not fit one batch");
    for batch in batches.iter() {
        assert!(batch.iter().map(|e| e.body.len()).sum::<usize>() <= MAX_BATCH_BYTES);
    }
    assert_eq!(fan.enqueued, 20);
}

#[tokio::test(start_paused = true)]
async fn refused_entries_are_sent_again_alone() {
    let queue = Arc::new(Recorder::default());
    queue.script.lock().unwrap().extend([
        Ok(vec![
            refused("3", "InternalError", false),
            refused("7", "ServiceUnavailable", false),
        ]),
        Ok(vec![refused("7", "ServiceUnavailable", false)]),
    ]);
    let mut fan = fan_to(&queue);
    for n in 0..100 {
        fan.push(&request(n)).await.unwrap();
    }
    fan.finish().await.unwrap();
    let batches = queue.batches.lock().unwrap();
    assert_eq!(batches.iter().map(Vec::len).collect::<Vec<_>>(), vec![10, 2, 1]);
    assert_eq!(batches[1][0].id, "3");
    assert_eq!(batches[2][0].id, "7");
    assert_eq!(jobs_in(&batches[2][0])[0], sent(70));
    assert_eq!((fan.enqueued, fan.messages), (100, 10));
}

#[tokio::test(start_paused = true)]
async fn an_entry_refused_every_time_stops_the_fan_out_saying_what_was_enqueued() {
    let queue = Arc::new(Recorder::default());
    queue.script.lock().unwrap().extend([
        Ok(vec![]),
        Ok((0..10)
            .map(|i| refused(&i.to_string(), "InternalError", false))
            .collect()),
    ]);
    queue
        .script
        .lock()
        .unwrap()
        .extend((1..ENTRY_ATTEMPTS).map(|_| Ok(vec![refused("0", "InternalError", false)])));
    let mut fan = fan_to(&queue);
    let mut error = None;
    for n in 0..200 {
        if let Err(e) = fan.push(&request(n)).await {
            error = Some(e);
            break;
        }
    }
    let error = error.expect("the fan-out stops");
    assert_eq!(error.error_type(), "InternalError");
    // The first batch, and 9 of the second's 10 messages on their retry.
    assert_eq!(fan.enqueued, 190);
    assert!(
        error
            .to_string()
            .contains("190 request(s) in 19 message(s) were enqueued"),
        "{error}"
    );
    assert_eq!(queue.batches.lock().unwrap().len(), 1 + ENTRY_ATTEMPTS as usize);
}

#[tokio::test]
async fn a_sender_fault_is_not_retried_and_a_failed_call_stops_at_once() {
    let queue = Arc::new(Recorder::default());
    queue
        .script
        .lock()
        .unwrap()
        .push_back(Ok(vec![refused("2", "InvalidMessageContents", true)]));
    let mut fan = fan_to(&queue);
    for n in 0..25 {
        fan.push(&request(n)).await.unwrap();
    }
    let error = fan.finish().await.unwrap_err();
    assert_eq!(error.error_type(), "InvalidMessageContents");
    assert_eq!(fan.enqueued, 20);
    assert_eq!(queue.batches.lock().unwrap().len(), 1);

    let queue = Arc::new(Recorder::default());
    queue.script.lock().unwrap().push_back(Err(Failure::aws(
        "AWS.SimpleQueueService.NonExistentQueue",
        "no queue",
        false,
    )));
    let mut fan = fan_to(&queue);
    fan.push(&request(0)).await.unwrap();
    let error = fan.finish().await.unwrap_err();
    assert_eq!(error.error_type(), "AWS.SimpleQueueService.NonExistentQueue");
    assert_eq!(fan.enqueued, 0);
    assert!(error.to_string().contains("no queue"), "{error}");
}

const QUEUE_URL: &str = "https://sqs.eu-west-1.amazonaws.com/123456789012/backup-requests";

#[tokio::test]
async fn send_message_batch_is_sent_the_queue_and_every_entry() {
    let sent: Arc<Mutex<Vec<SendMessageBatchInput>>> = Arc::default();
    let seen = Arc::clone(&sent);
    let rule = mock!(Client::send_message_batch).then_compute_output(move |input| {
        seen.lock().unwrap().push(input.clone());
        SendMessageBatchOutput::builder()
            .successful(
                SendMessageBatchResultEntry::builder()
                    .id("0")
                    .message_id("m-0")
                    .md5_of_message_body("x")
                    .build()
                    .unwrap(),
            )
            .failed(
                BatchResultErrorEntry::builder()
                    .id("1")
                    .sender_fault(false)
                    .code("InternalError")
                    .message("try again")
                    .build()
                    .unwrap(),
            )
            .build()
            .unwrap()
    });
    let client = mock_client!(aws_sdk_sqs, RuleMode::MatchAny, [&rule]);
    let queue = SqsQueue::new(client, QUEUE_URL.into());
    let entries = vec![
        Entry {
            id: "0".into(),
            body: "{\"Jobs\":[]}".into(),
        },
        Entry {
            id: "1".into(),
            body: "{\"Jobs\":[1]}".into(),
        },
    ];
    let failed = queue.send_batch(&entries).await.unwrap();
    assert_eq!(failed, vec![refused_with_message("1", "InternalError", "try again")]);
    let input = &sent.lock().unwrap()[0];
    assert_eq!(input.queue_url(), Some(QUEUE_URL));
    let sent_entries = input.entries();
    assert_eq!(sent_entries.len(), 2);
    assert_eq!(sent_entries[1].id(), "1");
    assert_eq!(sent_entries[1].message_body(), "{\"Jobs\":[1]}");
    assert!(sent_entries[0].delay_seconds().is_none() && sent_entries[0].message_group_id().is_none());
}

fn refused_with_message(id: &str, code: &str, message: &str) -> EntryFailure {
    EntryFailure {
        id: id.into(),
        failure: Failure::aws(code, message, true),
        sender_fault: false,
    }
}

#[tokio::test]
async fn a_partial_batch_failure_through_the_sdk_is_retried_until_accepted() {
    let calls: Arc<Mutex<Vec<Vec<String>>>> = Arc::default();
    let seen = Arc::clone(&calls);
    let rule = mock!(Client::send_message_batch).then_compute_output(move |input| {
        let ids: Vec<String> = input.entries().iter().map(|e| e.id().to_owned()).collect();
        let first = seen.lock().unwrap().is_empty();
        seen.lock().unwrap().push(ids.clone());
        let mut output = SendMessageBatchOutput::builder()
            .set_failed(Some(vec![]))
            .set_successful(Some(vec![]));
        for id in &ids {
            if first && id == "4" {
                output = output.failed(
                    BatchResultErrorEntry::builder()
                        .id(id)
                        .sender_fault(false)
                        .code("InternalError")
                        .build()
                        .unwrap(),
                );
            } else {
                output = output.successful(
                    SendMessageBatchResultEntry::builder()
                        .id(id)
                        .message_id("m")
                        .md5_of_message_body("x")
                        .build()
                        .unwrap(),
                );
            }
        }
        output.build().unwrap()
    });
    let client = mock_client!(aws_sdk_sqs, RuleMode::MatchAny, [&rule]);
    let queue = Queue::Sqs(Arc::new(SqsQueue::new(client, QUEUE_URL.into())));
    let mut fan = FanOut::new(&queue, far());
    for n in 0..100 {
        fan.push(&request(n)).await.unwrap();
    }
    fan.finish().await.unwrap();
    assert_eq!((fan.enqueued, fan.messages), (100, 10));
    assert_eq!(
        calls.lock().unwrap().clone(),
        vec![
            (0..10).map(|i| i.to_string()).collect::<Vec<_>>(),
            vec!["4".to_string()]
        ]
    );
}

#[tokio::test]
async fn a_request_for_an_arn_already_in_the_open_batch_is_left_out() {
    let queue = Arc::new(Recorder::default());
    let mut fan = fan_to(&queue);
    let taken: Vec<bool> = {
        let mut taken = Vec::new();
        for n in [0, 1, 2, 1, 3] {
            taken.push(fan.push(&request(n)).await.unwrap());
        }
        taken
    };
    assert_eq!(taken, [true, true, true, false, true]);
    fan.finish().await.unwrap();
    assert_eq!((fan.enqueued, fan.messages), (4, 1));
    assert_eq!(jobs_in(&queue.batches.lock().unwrap()[0][0]), [0, 1, 2, 3].map(sent));
    // Once its batch is sent, an ARN is forgotten: memory holds one batch's.
    assert!(fan.push(&request(1)).await.unwrap());
}

#[tokio::test(start_paused = true)]
async fn no_batch_is_sent_too_close_to_the_deadline() {
    let queue = Arc::new(Recorder::default());
    let deadline = Deadline::after(Deadline::START_RESERVE + Duration::from_secs(1));
    let mut fan = FanOut::new(&Queue::Sqs(Arc::clone(&queue) as Arc<dyn Enqueuer>), deadline);
    for n in 0..100 {
        fan.push(&request(n)).await.unwrap();
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    for n in 100..199 {
        fan.push(&request(n)).await.unwrap();
    }
    let error = fan.push(&request(199)).await.unwrap_err();
    assert_eq!(error.error_type(), "DeadlineExceeded");
    assert_eq!(fan.enqueued, 100);
    assert!(
        error
            .to_string()
            .contains("100 request(s) in 10 message(s) were enqueued"),
        "{error}"
    );
    assert_eq!(queue.batches.lock().unwrap().len(), 1);
}
