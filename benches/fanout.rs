//! The fan-out benchmark (CONTRACT.md section 8): a selection matching
//! BENCH_RESOURCES resources (default 100,000) from a local Resource Groups Tagging
//! API that answers each page of 100 after BENCH_PAGE_DELAY_MS (default 20 ms),
//! resolved and sent to a local SQS. Targets: resolved and enqueued within 60 s,
//! peak RSS at most 32 MiB. Prints a Markdown table and fails when a target is missed
//! or a request is lost.
//!
//! `cargo bench --bench fanout` builds the release profile first. BENCH_BINARY
//! measures another build (the one shipped: `target/release/bootstrap`).

#[path = "../tests/e2e/harness.rs"]
mod harness;
#[path = "../tests/e2e/tagging.rs"]
mod tagging;

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use harness::{FakeBackup, FakeLambda, Function};
use serde_json::{json, Value};
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

fn vm_hwm_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// What the local SQS received.
#[derive(Default)]
struct Received {
    calls: AtomicU64,
    messages: AtomicU64,
    requests: AtomicU64,
}

/// Answers `SendMessageBatch` (awsJson1_0, `X-Amz-Target: AmazonSQS.SendMessageBatch`)
/// accepting every entry, and counts the requests in the list messages.
async fn send_message_batch(State(received): State<Arc<Received>>, headers: HeaderMap, body: Bytes) -> Response {
    let target = headers.get("x-amz-target").and_then(|v| v.to_str().ok()).unwrap_or("");
    if target != "AmazonSQS.SendMessageBatch" {
        return (StatusCode::BAD_REQUEST, format!("unexpected target {target}")).into_response();
    }
    let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let entries = request["Entries"].as_array().cloned().unwrap_or_default();
    received.calls.fetch_add(1, Ordering::Relaxed);
    received.messages.fetch_add(entries.len() as u64, Ordering::Relaxed);
    let mut successful = Vec::with_capacity(entries.len());
    for entry in &entries {
        let body: Value = serde_json::from_str(entry["MessageBody"].as_str().unwrap_or("")).unwrap_or(Value::Null);
        let jobs = body["Jobs"].as_array().map_or(0, Vec::len);
        received.requests.fetch_add(jobs as u64, Ordering::Relaxed);
        successful.push(json!({
            "Id": entry["Id"],
            "MessageId": format!("m-{}-{}", received.calls.load(Ordering::Relaxed), entry["Id"].as_str().unwrap_or("")),
            "MD5OfMessageBody": "00000000000000000000000000000000",
        }));
    }
    let answer = json!({ "Successful": successful, "Failed": [] });
    (
        [(header::CONTENT_TYPE, "application/x-amz-json-1.0")],
        answer.to_string(),
    )
        .into_response()
}

#[tokio::main]
async fn main() {
    let resources = env_number("BENCH_RESOURCES", 100_000);
    let delay = Duration::from_millis(env_number("BENCH_PAGE_DELAY_MS", 20) as u64);

    // Every resource is tagged backup=nightly; one in 50 is an SNS topic, which is
    // matched but unsupported and so never enqueued.
    let generator: tagging::Generator = Arc::new(|i| {
        let arn = if i % 50 == 49 {
            format!("arn:aws:sns:eu-west-1:123456789012:topic-{i:06}")
        } else {
            format!("arn:aws:dynamodb:eu-west-1:123456789012:table/table-{i:06}")
        };
        (
            arn,
            vec![("backup".into(), "nightly".into()), ("stage".into(), "prod".into())],
        )
    });
    let tagging = FakeTagging::start(resources, generator, delay).await;
    let received = Arc::new(Received::default());
    let sqs = {
        let router = Router::new()
            .fallback(send_message_batch)
            .with_state(Arc::clone(&received));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let address = listener.local_addr().expect("address");
        tokio::spawn(async move { axum::serve(listener, router).await.expect("serve") });
        format!("http://{address}")
    };
    let queue_url = format!("{sqs}/123456789012/backup-trigger-requests");

    let lambda = FakeLambda::start().await;
    let backup = FakeBackup::start().await;
    let env = [
        ("BACKUP_VAULT_NAME", "Default"),
        ("BACKUP_IAM_ROLE_ARN", ROLE),
        ("REQUEST_QUEUE_URL", queue_url.as_str()),
        (
            "AWS_ENDPOINT_URL_RESOURCE_GROUPS_TAGGING_API",
            tagging.endpoint.as_str(),
        ),
        ("AWS_ENDPOINT_URL_SQS", sqs.as_str()),
    ];
    let function = Function::start_binary(&binary(), &lambda, &backup, &env);
    lambda.wait_for_poll().await;

    let selection = json!({
        "Selection": {
            "SelectionName": "bench",
            "ListOfTags": [{"ConditionType": "STRINGEQUALS", "ConditionKey": "backup", "ConditionValue": "nightly"}]
        },
        "IdempotencyKey": "bench/fan-out"
    });
    let began = Instant::now();
    let answer = lambda.invoke_with(&selection, None, Duration::from_secs(900)).await;
    let seconds = began.elapsed().as_secs_f64();
    let peak_kib = function.pid().and_then(vm_hwm_kib).unwrap_or(0);
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
        received.requests.load(Ordering::Relaxed),
        received.messages.load(Ordering::Relaxed),
        received.calls.load(Ordering::Relaxed),
        selected.div_ceil(10),
        selected.div_ceil(100),
    );

    let mut missed = Vec::new();
    if counts["Enqueued"] != selected || received.requests.load(Ordering::Relaxed) != selected {
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
    if !missed.is_empty() {
        eprintln!("fan-out benchmark missed: {}", missed.join("; "));
        std::process::exit(1);
    }
}
