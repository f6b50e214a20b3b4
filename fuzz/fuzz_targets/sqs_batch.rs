//! SQS batches through the whole handler in dry run: a `Records` array of messages
//! with arbitrary bodies, on a FIFO or a standard queue.
//!
//! An input that starts with `{` is the event's JSON text (the seeds from `events/`);
//! any other is read as a structured [`Batch`] of records whose bodies are samples
//! from `events/` with fields and tags changed, generated JSON, or any text.
//!
//! Besides the checks of every handler run, a batch of well-formed records must be
//! answered with exactly the messages whose body is refused when read alone
//! (`Command::read`), in order; on a FIFO queue, also every message after the first
//! such one. A selection's or an audit's fate depends on what it reads: the answer
//! says it, and the rest must agree.

#![no_main]

use arbitrary::{Arbitrary, Unstructured};
use backup_trigger_fuzz::{body_plans, check_said, handle_text, Key, Node, Text};
use libfuzzer_sys::fuzz_target;
use serde_json::{json, Value};

/// Sample bodies: the events of `events/` that are not SQS events, and the bodies
/// of those that are.
fn samples() -> &'static [String] {
    static SAMPLES: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    SAMPLES.get_or_init(|| {
        let mut bodies = Vec::new();
        for text in [
            include_str!("../../events/audit.json"),
            include_str!("../../events/backup-job-completed.json"),
            include_str!("../../events/backup-job-failed.json"),
            include_str!("../../events/copy-job-completed.json"),
            include_str!("../../events/copy-job-failed.json"),
            include_str!("../../events/copy.json"),
            include_str!("../../events/eventbridge-rule.json"),
            include_str!("../../events/list.json"),
            include_str!("../../events/scheduled-backup.json"),
            include_str!("../../events/scheduled-selection.json"),
            include_str!("../../events/selection.json"),
            include_str!("../../events/sqs-batch.json"),
            include_str!("../../events/sqs-fifo.json"),
            include_str!("../../events/sqs-selection.json"),
        ] {
            let event: Value = serde_json::from_str(text).expect("the samples are JSON");
            match event.get("Records").and_then(Value::as_array) {
                Some(records) => bodies.extend(records.iter().filter_map(|r| r["body"].as_str().map(str::to_owned))),
                None => bodies.push(event.to_string()),
            }
        }
        bodies
    })
}

#[derive(Debug, Arbitrary)]
struct Batch {
    fifo: bool,
    records: Vec<Record>,
}

#[derive(Debug, Arbitrary)]
struct Record {
    id: Id,
    body: Body,
    /// Below 240: a well-formed record; else one thing wrong with it.
    flaw: u8,
}

#[derive(Debug, Arbitrary)]
enum Id {
    /// `m-<position>`: unique.
    Position,
    /// `m-<n>`: may repeat an id of the batch.
    Repeat(u8),
    Free(String),
}

#[derive(Debug, Arbitrary)]
enum Body {
    /// A sample body, with fields set or replaced, and tags holding the marker.
    Sample {
        which: u8,
        fields: Vec<(Key, Node)>,
        tags: Option<Vec<(Text, Text)>>,
    },
    Generated(Node),
    Text(String),
    Missing,
}

fn body(body: &Body) -> Option<String> {
    match body {
        Body::Sample { which, fields, tags } => {
            let samples = samples();
            let mut event: Value =
                serde_json::from_str(&samples[usize::from(*which) % samples.len()]).expect("a sample body is JSON");
            // Fields go in the request: the event itself, each of its Jobs, or its detail's.
            let in_detail = event
                .get("detail")
                .is_some_and(|d| d.get("Jobs").is_some() || d.get("ResourceArn").is_some());
            let target = if in_detail { &mut event["detail"] } else { &mut event };
            let requests: Vec<&mut Value> = if matches!(target.get("Jobs"), Some(Value::Array(_))) {
                target["Jobs"].as_array_mut().expect("an array").iter_mut().collect()
            } else {
                vec![target]
            };
            for request in requests {
                if let Value::Object(map) = request {
                    for (key, node) in fields {
                        map.insert(key.text(), node.to_value());
                    }
                    if let Some(tags) = tags {
                        let tags = tags.iter().map(|(k, v)| (k.text(), Value::String(v.text()))).collect();
                        map.insert("RecoveryPointTags".into(), Value::Object(tags));
                    }
                }
            }
            Some(event.to_string())
        }
        Body::Generated(node) => Some(node.to_value().to_string()),
        Body::Text(text) => Some(text.clone()),
        Body::Missing => None,
    }
}

fuzz_target!(|data: &[u8]| {
    if data.first() == Some(&b'{') {
        // JSON text, such as the seeds from events/ (decoded lossily, as handler_bytes).
        let text = String::from_utf8_lossy(data);
        let said = handle_text(&text);
        check_said(&text, &said);
        check_failures(&text, said.answer.as_ref().ok(), false);
    } else if let Ok(batch) = Batch::arbitrary_take_rest(Unstructured::new(data)) {
        let (text, well_formed) = batch.event();
        let said = handle_text(&text);
        check_said(&text, &said);
        check_failures(&text, said.answer.as_ref().ok(), well_formed);
    }
});

impl Batch {
    /// The event's text, and whether every record is well formed.
    fn event(&self) -> (String, bool) {
        let queue = if self.fifo {
            "arn:aws:sqs:eu-west-1:123456789012:requests.fifo"
        } else {
            "arn:aws:sqs:eu-west-1:123456789012:requests"
        };
        let mut well_formed = !self.records.is_empty();
        let records: Vec<Value> = self
            .records
            .iter()
            .enumerate()
            .map(|(position, record)| {
                let id = match &record.id {
                    Id::Position => format!("m-{position}"),
                    Id::Repeat(n) => format!("m-{n}"),
                    Id::Free(id) => id.clone(),
                };
                well_formed &= !id.is_empty();
                let mut value = json!({
                    "messageId": id,
                    "receiptHandle": "AQEB",
                    "attributes": { "ApproximateReceiveCount": "1", "SentTimestamp": "1795316400000" },
                    "messageAttributes": {},
                    "md5OfBody": "e4e68fb7bd0e697a0ae8f1bb342846b3",
                    "eventSource": "aws:sqs",
                    "eventSourceARN": queue,
                    "awsRegion": "eu-west-1",
                });
                if let Some(body) = body(&record.body) {
                    value["body"] = Value::String(body);
                }
                // One thing wrong: each of the first three fails the whole batch; a
                // record from another queue changes nothing.
                match record.flaw {
                    0..=239 => {}
                    240..=243 => {
                        value["eventSource"] = json!("aws:sns");
                        well_formed = false;
                    }
                    244..=247 => {
                        value.as_object_mut().expect("an object").remove("messageId");
                        well_formed = false;
                    }
                    248..=251 => {
                        value["body"] = json!({ "not": "a string" });
                        well_formed = false;
                    }
                    _ => value["eventSourceARN"] = json!("arn:aws:sqs:eu-west-1:123456789012:other"),
                }
                value
            })
            .collect();
        (json!({ "Records": records }).to_string(), well_formed)
    }
}

/// An SQS event that was answered must fail exactly the messages whose body is
/// refused when read, in order, and on a FIFO queue (its first record says) every later message
/// too. `well_formed`: the event was built with good records, so it must be answered.
fn check_failures(text: &str, answer: Option<&Value>, well_formed: bool) {
    let Some(answer) = answer else {
        assert!(!well_formed, "a batch of well-formed records is answered");
        return;
    };
    let Ok(event) = serde_json::from_str::<Value>(text) else {
        return;
    };
    let Some(records) = event.get("Records").and_then(Value::as_array) else {
        return;
    };
    let fifo = records[0]["eventSourceARN"]
        .as_str()
        .is_some_and(|arn| arn.ends_with(".fifo"));
    let failed: Vec<&str> = answer["batchItemFailures"]
        .as_array()
        .expect("batchItemFailures")
        .iter()
        .map(|f| f["itemIdentifier"].as_str().expect("an id"))
        .collect();
    // Whether each message succeeds, when that is known without running it: a
    // selection that reads succeeds or not depending on what it finds.
    let predicted: Vec<(&str, Option<bool>)> = records
        .iter()
        .map(|record| {
            let id = record["messageId"].as_str().expect("an answered batch has message ids");
            (
                id,
                record["body"].as_str().map_or(Some(false), |body| body_plans(body, id)),
            )
        })
        .collect();
    if predicted.iter().any(|(_, p)| p.is_none()) {
        let mut ids: Vec<&str> = predicted.iter().map(|(id, _)| *id).collect();
        ids.sort_unstable();
        ids.dedup();
        if ids.len() < predicted.len() {
            // A repeated id beside a message whose fate is read from the answer.
            return;
        }
    }
    let mut expected = Vec::new();
    for (id, succeeds) in predicted {
        let stopped = fifo && !expected.is_empty();
        let fails = stopped || !succeeds.unwrap_or_else(|| !failed.contains(&id));
        if fails {
            expected.push(id);
        }
    }
    assert_eq!(failed, expected, "the messages that failed");
}
