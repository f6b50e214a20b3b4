//! The fan-out benchmark (docs/reference.md, "Selections"): a selection matching
//! BENCH_RESOURCES resources (default 100,000) from a local Resource Groups Tagging
//! API that answers each page of 100 after BENCH_PAGE_DELAY_MS (default 20 ms),
//! resolved and sent to a local SQS. Targets: resolved and enqueued within 60 s,
//! peak RSS at most 32 MiB. Prints a Markdown table and fails when a target is missed
//! or a request is lost.
//!
//! Then end to end: BENCH_E2E_RESOURCES (default 2,000) fanned out, and the messages
//! consumed by two function processes in SQS batches of 10 against a local AWS
//! Backup that throttles above 50 calls a second (the floor: jobs / 50 s), each
//! process paced at 25 calls a second. Targets: within 1.15 times the floor, no
//! resource with two tokens, none without a job. BENCH_SKIP_E2E=1 skips it.
//!
//! `cargo bench --bench fanout` builds the release profile first. BENCH_BINARY
//! measures another build (the one shipped: `target/release/bootstrap`).

#[path = "../tests/e2e/harness.rs"]
mod harness;
#[path = "support/sqs.rs"]
mod sqs;
#[path = "../tests/e2e/tagging.rs"]
mod tagging;

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use harness::{FakeBackup, FakeLambda, Function};
use serde_json::{json, Value};
use sqs::FakeSqs;
use tagging::FakeTagging;

const ROLE: &str = "arn:aws:iam::123456789012:role/Backup";
const TARGET_SECONDS: f64 = 60.0;
const TARGET_RSS_MIB: f64 = 32.0;

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn binary() -> PathBuf {
    std::env::var_os("BENCH_BINARY").map_or_else(|| env!("CARGO_BIN_EXE_bootstrap").into(), Into::into)
}

/// Resource `i`: a DynamoDB table, or one time in 50 an SNS topic (matched, but not
/// a type AWS Backup supports, so never enqueued); all tagged backup=nightly.
fn generator() -> tagging::Generator {
    Arc::new(|i| {
        let arn = if i % 50 == 49 {
            format!("arn:aws:sns:eu-west-1:123456789012:topic-{i:06}")
        } else {
            format!("arn:aws:dynamodb:eu-west-1:123456789012:table/table-{i:06}")
        };
        (
            arn,
            vec![("backup".into(), "nightly".into()), ("stage".into(), "prod".into())],
        )
    })
}

fn selection() -> Value {
    json!({
        "Selection": {
            "SelectionName": "bench",
            "ListOfTags": [{"ConditionType": "STRINGEQUALS", "ConditionKey": "backup", "ConditionValue": "nightly"}]
        },
        "IdempotencyKey": "bench/fan-out"
    })
}

/// The settings of a function process of the benchmark.
fn env(queue_url: &str, tagging: &str, sqs: &str, pace: &str) -> Vec<(&'static str, String)> {
    vec![
        ("BACKUP_VAULT_NAME", "Default".to_owned()),
        ("BACKUP_IAM_ROLE_ARN", ROLE.to_owned()),
        ("REQUEST_QUEUE_URL", queue_url.to_owned()),
        ("AWS_ENDPOINT_URL_RESOURCE_GROUPS_TAGGING_API", tagging.to_owned()),
        ("AWS_ENDPOINT_URL_SQS", sqs.to_owned()),
        ("MAX_CALLS_PER_SECOND", pace.to_owned()),
        // The template's MaxConcurrency.
        ("MAX_CONCURRENCY", "4".to_owned()),
    ]
}

fn start(lambda: &FakeLambda, backup: &FakeBackup, vars: &[(&'static str, String)]) -> Function {
    let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    Function::start_binary(&binary(), lambda, backup, &vars)
}

#[tokio::main]
async fn main() {
    let mut missed = fan_out().await;
    if std::env::var_os("BENCH_SKIP_E2E").is_none() {
        missed.extend(end_to_end().await);
    }
    if !missed.is_empty() {
        eprintln!("fan-out benchmark missed: {}", missed.join("; "));
        std::process::exit(1);
    }
}

async fn fan_out() -> Vec<String> {
    let resources = env_number("BENCH_RESOURCES", 100_000);
    let delay = Duration::from_millis(env_number("BENCH_PAGE_DELAY_MS", 20) as u64);
    let tagging = FakeTagging::start(resources, generator(), delay).await;
    let sqs = FakeSqs::start(false).await;
    let queue_url = sqs.queue_url();

    let lambda = FakeLambda::start().await;
    let backup = FakeBackup::start().await;
    let function = start(
        &lambda,
        &backup,
        &env(&queue_url, &tagging.endpoint, &sqs.endpoint, "0"),
    );
    lambda.wait_for_poll().await;

    let began = Instant::now();
    let answer = lambda
        .invoke_guarded(&selection(), None, Duration::from_secs(900), Duration::from_secs(900))
        .await;
    let seconds = began.elapsed().as_secs_f64();
    let peak_kib = function.pid().and_then(harness::vm_hwm_kib).unwrap_or(0);
    let answer = answer.response().clone();
    function.finish().await;

    let unsupported = resources / 50;
    let selected = (resources - unsupported) as u64;
    let counts = &answer["Selection"];
    let pages = tagging.requests().len();
    let peak_mib = peak_kib as f64 / 1024.0;
    println!("| fan-out | figure | target |");
    println!("|---|---|---|");
    println!(
        "| resources listed (pages of 100, {} ms each) | {resources} ({pages} pages) | |",
        delay.as_millis()
    );
    println!(
        "| resolved and enqueued | {seconds:.1} s ({:.0} resources/s) | at most {TARGET_SECONDS} s |",
        resources as f64 / seconds
    );
    println!("| peak RSS (VmHWM) | {peak_mib:.1} MiB | at most {TARGET_RSS_MIB} MiB |");
    println!(
        "| requests enqueued / messages / SendMessageBatch calls | {} / {} / {} | {selected} / {} / {} |",
        sqs.requests(),
        sqs.messages(),
        sqs.calls(),
        selected.div_ceil(10),
        selected.div_ceil(100),
    );

    let mut missed = Vec::new();
    if counts["Enqueued"] != selected || sqs.requests() != selected {
        missed.push(format!("enqueued {} of {selected}: {answer}", counts["Enqueued"]));
    }
    if counts["Unsupported"] != unsupported as u64 || counts["Found"] != resources as u64 {
        missed.push(format!("counts: {counts}"));
    }
    if !backup.recorded().is_empty() {
        missed.push("the fan-out started jobs itself".into());
    }
    if seconds > TARGET_SECONDS {
        missed.push(format!("{seconds:.1} s is over {TARGET_SECONDS} s"));
    }
    if peak_mib > TARGET_RSS_MIB {
        missed.push(format!("peak RSS {peak_mib:.1} MiB is over {TARGET_RSS_MIB} MiB"));
    }
    missed
}

/// AWS Backup's rate in the end-to-end run, and the pace of each of its two consumers.
const ACCOUNT_RATE: u32 = 50;
const CONSUMER_PACE: &str = "25";
const TARGET_OVER_FLOOR: f64 = 1.15;
const QUEUE_ARN: &str = "arn:aws:sqs:eu-west-1:123456789012:backup-trigger-requests";

async fn end_to_end() -> Vec<String> {
    let resources = env_number("BENCH_E2E_RESOURCES", 2_000);
    let tagging = FakeTagging::start(resources, generator(), Duration::from_millis(20)).await;
    let sqs = FakeSqs::start(true).await;
    let queue_url = sqs.queue_url();
    let backup = FakeBackup::start().await;
    backup.set_rate_limit(ACCOUNT_RATE);

    // The fan-out.
    let fan_lambda = FakeLambda::start().await;
    let fan = start(
        &fan_lambda,
        &backup,
        &env(&queue_url, &tagging.endpoint, &sqs.endpoint, "0"),
    );
    let answer = fan_lambda
        .invoke_with(&selection(), None, Duration::from_secs(900))
        .await;
    let enqueued = answer.response()["Selection"]["Enqueued"].as_u64().unwrap_or(0);
    fan.finish().await;
    let bodies: Vec<String> = sqs.take_bodies();

    // Two consumers take SQS batches of 10 messages from one queue; a failed
    // message goes back to the queue, as SQS would deliver it again.
    let queue: Arc<Mutex<VecDeque<(String, String)>>> = Arc::new(Mutex::new(
        bodies
            .into_iter()
            .enumerate()
            .map(|(i, body)| (format!("message-{i:05}"), body))
            .collect(),
    ));
    let lambdas = Arc::new([FakeLambda::start().await, FakeLambda::start().await]);
    let consumer_env = env(&queue_url, &tagging.endpoint, &sqs.endpoint, CONSUMER_PACE);
    let consumers: Vec<Function> = lambdas.iter().map(|l| start(l, &backup, &consumer_env)).collect();
    for lambda in lambdas.iter() {
        lambda.wait_for_poll().await;
    }
    let redelivered = Arc::new(AtomicU64::new(0));
    let began = Instant::now();
    let workers: Vec<_> = (0..2)
        .map(|n| {
            let (queue, lambdas, redelivered) = (Arc::clone(&queue), Arc::clone(&lambdas), Arc::clone(&redelivered));
            tokio::spawn(async move {
                loop {
                    let batch: Vec<(String, String)> = {
                        let mut queue = queue.lock().unwrap();
                        let take = queue.len().min(10);
                        queue.drain(..take).collect()
                    };
                    if batch.is_empty() {
                        break;
                    }
                    let records: Vec<Value> = batch
                        .iter()
                        .map(|(id, body)| json!({"messageId": id, "body": body, "eventSource": "aws:sqs", "eventSourceARN": QUEUE_ARN}))
                        .collect();
                    let answer = lambdas[n]
                        .invoke_with(&json!({ "Records": records }), None, Duration::from_secs(300))
                        .await;
                    let failed: BTreeSet<String> = answer.response()["batchItemFailures"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|f| f["itemIdentifier"].as_str().map(str::to_owned))
                        .collect();
                    let again: Vec<(String, String)> = batch.into_iter().filter(|(id, _)| failed.contains(id)).collect();
                    redelivered.fetch_add(again.len() as u64, Ordering::Relaxed);
                    queue.lock().unwrap().extend(again);
                }
            })
        })
        .collect();
    for worker in workers {
        worker.await.expect("a consumer");
    }
    let seconds = began.elapsed().as_secs_f64();
    for consumer in consumers {
        consumer.finish().await;
    }

    let selected = resources - resources / 50;
    let floor = selected as f64 / f64::from(ACCOUNT_RATE);
    let mut tokens: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for call in backup.recorded() {
        if let (Some(arn), Some(token)) = (
            call.body["ResourceArn"].as_str(),
            call.body["IdempotencyToken"].as_str(),
        ) {
            tokens.entry(arn.to_owned()).or_default().insert(token.to_owned());
        }
    }
    let twice = tokens.values().filter(|t| t.len() > 1).count();
    println!();
    println!("| end to end | figure | target |");
    println!("|---|---|---|");
    println!(
        "| {selected} jobs from {resources} resources, 2 consumers at {CONSUMER_PACE}/s, AWS Backup throttling above {ACCOUNT_RATE}/s | {seconds:.1} s ({:.2} x the floor of {floor:.1} s) | at most {TARGET_OVER_FLOOR} x |",
        seconds / floor
    );
    println!(
        "| throttled answers / messages redelivered | {} / {} | |",
        backup.throttled(),
        redelivered.load(Ordering::Relaxed)
    );
    println!(
        "| resources with a job / with two tokens | {} / {twice} | {selected} / 0 |",
        tokens.len()
    );

    let mut missed = Vec::new();
    if enqueued != selected as u64 {
        missed.push(format!("end to end: {enqueued} of {selected} enqueued"));
    }
    if tokens.len() != selected || twice > 0 {
        missed.push(format!(
            "end to end: {} resources with a job of {selected}, {twice} with two tokens",
            tokens.len()
        ));
    }
    if seconds > floor * TARGET_OVER_FLOOR {
        missed.push(format!(
            "end to end: {seconds:.1} s is over {TARGET_OVER_FLOOR} x {floor:.1} s"
        ));
    }
    missed
}
