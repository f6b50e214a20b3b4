//! The benchmark: the release binary under a local Lambda Runtime API and a local
//! AWS Backup endpoint with added latency. Run with `cargo bench --bench lambda`
//! (builds the release profile first). Prints a Markdown table.
//!
//! Settings (environment): BENCH_COLD_STARTS (default 30), BENCH_REPEATS (default 30),
//! BENCH_LIST_RUNS (default 3), BENCH_BINARY (the binary to measure), BENCH_ONLY (a
//! comma-separated choice of init, requests, sqs, throttled, adaptive, shared, memory,
//! size; default all).

#[path = "../tests/e2e/harness.rs"]
mod harness;

use std::path::Path;
use std::time::{Duration, Instant};

use harness::{FakeBackup, FakeLambda, Function};
use serde_json::{json, Value};

const ROLE: &str = "arn:aws:iam::123456789012:role/Backup";

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// The binary measured: `BENCH_BINARY`, or the one cargo built for this benchmark.
/// The latter is built with the dev-dependencies' features (cargo unifies them for
/// benchmarks) and is about 0.5 MB larger than `cargo build --release`'s; set
/// `BENCH_BINARY` to measure the binary exactly as shipped (see docs/performance.md).
fn binary() -> &'static Path {
    static BINARY: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();
    BINARY.get_or_init(|| {
        std::env::var_os("BENCH_BINARY").map_or_else(|| env!("CARGO_BIN_EXE_bootstrap").into(), Into::into)
    })
}

/// Whether the section `name` runs (BENCH_ONLY).
fn runs(name: &str) -> bool {
    std::env::var("BENCH_ONLY").map_or(true, |only| only.split(',').any(|s| s.trim() == name))
}

/// The per-instance cap template.yaml deploys with its default AccountCallsPerSecond.
const TEMPLATE_MAX_CALLS_PER_SECOND: &str = "5";

fn settings() -> Vec<(&'static str, &'static str)> {
    vec![("BACKUP_VAULT_NAME", "Default"), ("BACKUP_IAM_ROLE_ARN", ROLE)]
}

struct Stats {
    samples: Vec<f64>,
}

impl Stats {
    fn new(mut samples: Vec<f64>) -> Stats {
        samples.sort_by(|a, b| a.partial_cmp(b).unwrap());
        Stats { samples }
    }
    fn quantile(&self, q: f64) -> f64 {
        let i = ((self.samples.len() - 1) as f64 * q).round() as usize;
        self.samples[i]
    }
    fn row(&self, unit: &str) -> String {
        format!(
            "{:.1} {unit} | {:.1} – {:.1} {unit} (p10 – p90) | {:.1} – {:.1} {unit} | {}",
            self.quantile(0.5),
            self.quantile(0.1),
            self.quantile(0.9),
            self.samples[0],
            self.samples[self.samples.len() - 1],
            self.samples.len()
        )
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn request(i: usize) -> Value {
    json!({ "ResourceArn": format!("arn:aws:ec2:eu-west-1:123456789012:volume/vol-{i:04}") })
}

fn sqs_batch(n: usize, round: usize) -> Value {
    let records: Vec<Value> = (0..n)
        .map(|i| {
            json!({
                "messageId": format!("m-{round}-{i}"), "body": request(round * 100 + i).to_string(), "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:eu-west-1:123456789012:requests", "attributes": {}, "messageAttributes": {}
            })
        })
        .collect();
    json!({ "Records": records })
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let cold_starts = env_number("BENCH_COLD_STARTS", 30);
    let repeats = env_number("BENCH_REPEATS", 30);
    let list_runs = env_number("BENCH_LIST_RUNS", 3);
    let mut rows = Vec::new();
    // Peak resident memory (VmHWM) by workload.
    let mut peak = std::collections::BTreeMap::<&str, u64>::new();

    // 1. Init: process start to the first GET /next.
    let mut init = Vec::new();
    for _ in 0..if runs("init") { cold_starts } else { 0 } {
        let lambda = FakeLambda::start().await;
        let backup = FakeBackup::start().await;
        let began = Instant::now();
        let function = Function::start_binary(binary(), &lambda, &backup, &settings());
        lambda.wait_for_poll().await;
        init.push(ms(began.elapsed()));
        if let Some(kib) = function.pid().and_then(harness::vm_hwm_kib) {
            let entry = peak.entry("1. init").or_default();
            *entry = (*entry).max(kib);
        }
        function.finish().await;
    }
    if !init.is_empty() {
        rows.push(format!(
            "| init (start to first /next) | {} |",
            Stats::new(init).row("ms")
        ));
    }

    // 2. One bare request at 20 ms endpoint latency (floor 20 ms), warm.
    if runs("requests") {
        let lambda = FakeLambda::start().await;
        let backup = FakeBackup::start().await;
        backup.set_latency(Duration::from_millis(20));
        let function = Function::start_binary(binary(), &lambda, &backup, &settings());
        let mut first = None;
        let mut times = Vec::new();
        for i in 0..=repeats {
            let began = Instant::now();
            lambda.invoke(&request(i)).await.response();
            let t = ms(began.elapsed());
            if i == 0 {
                first = Some(t);
            } else {
                times.push(t);
            }
        }
        rows.push(format!(
            "| bare request, 20 ms latency (floor 20 ms) | {} |",
            Stats::new(times).row("ms")
        ));
        rows.push(format!(
            "| first request after a cold start, 20 ms latency | {:.1} ms | | | 1 |",
            first.unwrap_or_default()
        ));

        // 3. An SQS batch of 10 messages at 50 ms latency: with the default
        // MAX_CONCURRENCY of 8, two rounds of calls (floor 100 ms).
        backup.set_latency(Duration::from_millis(50));
        rows.push(format!(
            "| SQS batch of 10, 50 ms latency, MAX_CONCURRENCY=8 (floor 100 ms) | {} |",
            sqs_batches(&lambda, repeats).await.row("ms")
        ));
        if let Some(kib) = function.pid().and_then(harness::vm_hwm_kib) {
            let entry = peak.entry("2-3. requests and SQS batches").or_default();
            *entry = (*entry).max(kib);
        }
        function.finish().await;
    }

    // 3b. The same batch with MAX_CONCURRENCY=10: all ten calls at once (floor 50 ms).
    if runs("sqs") {
        let lambda = FakeLambda::start().await;
        let backup = FakeBackup::start().await;
        backup.set_latency(Duration::from_millis(50));
        let mut env = settings();
        env.push(("MAX_CONCURRENCY", "10"));
        let function = Function::start_binary(binary(), &lambda, &backup, &env);
        lambda.invoke(&sqs_batch(10, 0)).await.response();
        rows.push(format!(
            "| SQS batch of 10, 50 ms latency, MAX_CONCURRENCY=10 (floor 50 ms) | {} |",
            sqs_batches(&lambda, repeats).await.row("ms")
        ));
        function.finish().await;
    }

    // 4. A list of 100 against an endpoint that throttles above 5 calls a second, as
    // a token bucket (AWS's kind of quota) and as a rolling one-second window: with the
    // binary's defaults (no MAX_CALLS_PER_SECOND: the rate is learned) and with the cap
    // template.yaml sets.
    // Section "adaptive": the same with the SDK's adaptive retry mode as well, the
    // measurement behind the choice of standard mode (src/aws.rs).
    let shapes = [("token bucket", false), ("rolling 1 s window", true)];
    for (shape, window) in shapes {
        for (section, label, env) in [
            ("throttled", "no setting", vec![]),
            (
                "throttled",
                "MAX_CALLS_PER_SECOND=5 (template)",
                vec![("MAX_CALLS_PER_SECOND", TEMPLATE_MAX_CALLS_PER_SECOND)],
            ),
            (
                "adaptive",
                "no setting, AWS_RETRY_MODE=adaptive",
                vec![("AWS_RETRY_MODE", "adaptive"), ("AWS_MAX_ATTEMPTS", "10")],
            ),
        ] {
            if !runs(section) {
                continue;
            }
            let mut durations = Vec::new();
            let mut throttled = Vec::new();
            for _ in 0..list_runs {
                let lambda = FakeLambda::start().await;
                let backup = FakeBackup::start().await;
                if window {
                    backup.set_window_limit(5);
                } else {
                    backup.set_rate_limit(5);
                }
                let mut all = settings();
                all.extend(env.iter().copied());
                let function = Function::start_binary(binary(), &lambda, &backup, &all);
                let jobs: Vec<Value> = (0..100).map(request).collect();
                let began = Instant::now();
                let answer = lambda.invoke(&json!({ "Jobs": jobs })).await;
                let took = began.elapsed();
                let started = answer.response()["Jobs"].as_array().map_or(0, Vec::len);
                assert_eq!(started, 100, "no request may fail: {answer:?}");
                durations.push(took.as_secs_f64());
                throttled.push(backup.throttled());
                function.finish().await;
            }
            rows.push(format!(
                "| list of 100, {shape} of 5/s (floor 20 s), {label} | {} |",
                Stats::new(durations).row("s")
            ));
            rows.push(format!(
                "| throttled answers per list of 100, {shape}, {label} | {throttled:?} | | | {list_runs} |"
            ));
        }
    }

    // 4b. Two processes (two function instances) each running a list of 100 at the
    // same time against one quota of 5/s: together, the rate and the share of calls
    // throttled.
    for (shape, window) in shapes.into_iter().filter(|_| runs("shared")) {
        for (label, env) in [
            ("no setting", vec![]),
            (
                "MAX_CALLS_PER_SECOND=5 (template)",
                vec![("MAX_CALLS_PER_SECOND", TEMPLATE_MAX_CALLS_PER_SECOND)],
            ),
        ] {
            let mut rates = Vec::new();
            let mut shares = Vec::new();
            for _ in 0..list_runs {
                let backup = FakeBackup::start().await;
                if window {
                    backup.set_window_limit(5);
                } else {
                    backup.set_rate_limit(5);
                }
                let mut all = settings();
                all.extend(env.iter().copied());
                let (one, two) = (FakeLambda::start().await, FakeLambda::start().await);
                let first = Function::start_binary(binary(), &one, &backup, &all);
                let second = Function::start_binary(binary(), &two, &backup, &all);
                one.wait_for_poll().await;
                two.wait_for_poll().await;
                let list = |from: usize| json!({ "Jobs": (from..from + 100).map(request).collect::<Vec<_>>() });
                let (list_one, list_two) = (list(0), list(100));
                let began = Instant::now();
                let (a, b) = tokio::join!(one.invoke(&list_one), two.invoke(&list_two));
                let took = began.elapsed();
                for answer in [&a, &b] {
                    let started = answer.response()["Jobs"].as_array().map_or(0, Vec::len);
                    assert_eq!(started, 100, "no request may fail: {answer:?}");
                }
                let throttled = backup.throttled() as f64;
                rates.push(200.0 / took.as_secs_f64());
                shares.push(100.0 * throttled / (200.0 + throttled));
                first.finish().await;
                second.finish().await;
            }
            rows.push(format!(
                "| two processes, a list of 100 each, one {shape} of 5/s, {label}: calls a second together | {} |",
                Stats::new(rates).row("/s")
            ));
            rows.push(format!(
                "| the same: share of calls throttled | {} |",
                Stats::new(shares).row("%")
            ));
        }
    }

    // 4c. Peak resident memory of a warm process after a list of 100, a list of 1,000,
    // and 100 invocations of a list of 100 (no latency, no throttle).
    if runs("memory") {
        for (label, size, invocations) in [
            ("after a list of 100", 100, 1),
            ("after a list of 1,000", 1000, 1),
            ("after 100 invocations of a list of 100", 100, 100),
        ] {
            let mut peaks = Vec::new();
            for _ in 0..list_runs {
                let lambda = FakeLambda::start().await;
                let backup = FakeBackup::start().await;
                let function = Function::start_binary(binary(), &lambda, &backup, &settings());
                for round in 0..invocations {
                    let jobs: Vec<Value> = (0..size).map(request).collect();
                    let event = json!({ "IdempotencyKey": format!("round-{round}"), "Jobs": jobs });
                    let answer = lambda.invoke(&event).await;
                    assert_eq!(answer.response()["Jobs"].as_array().map_or(0, Vec::len), size);
                }
                if let Some(kib) = function.pid().and_then(harness::vm_hwm_kib) {
                    peaks.push(kib as f64 / 1024.0);
                }
                function.finish().await;
            }
            rows.push(format!(
                "| peak RSS (VmHWM) {label} | {} |",
                Stats::new(peaks).row("MiB")
            ));
        }
    }

    // 5. Memory and size.
    for (phase, kib) in &peak {
        rows.push(format!(
            "| peak RSS (VmHWM), after {phase} | {:.1} MiB | | | |",
            *kib as f64 / 1024.0
        ));
    }
    if runs("size") {
        let size = std::fs::metadata(binary()).map(|m| m.len()).unwrap_or(0);
        rows.push(format!(
            "| binary ({}) | {:.2} MB | | | |",
            binary().display(),
            size as f64 / 1e6
        ));
        if let Some(zip) = zip_size(binary()) {
            rows.push(format!(
                "| deployment zip (bootstrap, deflate) | {:.2} MB | | | |",
                zip as f64 / 1e6
            ));
        }
    }

    println!("| measure | median | spread | min – max | runs |");
    println!("|---|---|---|---|---|");
    for row in rows {
        println!("{row}");
    }
}

/// Times `repeats` SQS batches of 10 messages; none may fail.
async fn sqs_batches(lambda: &FakeLambda, repeats: usize) -> Stats {
    let mut times = Vec::new();
    for round in 0..repeats {
        let began = Instant::now();
        let answer = lambda.invoke(&sqs_batch(10, round + 1)).await;
        assert_eq!(answer.response()["batchItemFailures"], json!([]));
        times.push(ms(began.elapsed()));
    }
    Stats::new(times)
}

/// Zips the binary as Lambda's `bootstrap`, as `cargo lambda build --output-format zip` does.
fn zip_size(binary: &Path) -> Option<u64> {
    let dir = std::env::temp_dir().join(format!("backup-trigger-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).ok()?;
    std::fs::copy(binary, dir.join("bootstrap")).ok()?;
    let zip = dir.join("bootstrap.zip");
    let script = "import sys, zipfile\nwith zipfile.ZipFile(sys.argv[1], 'w', zipfile.ZIP_DEFLATED, compresslevel=9) as z: z.write(sys.argv[2], 'bootstrap')";
    let status = std::process::Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(&zip)
        .arg(dir.join("bootstrap"))
        .status()
        .ok()?;
    let size = status
        .success()
        .then(|| std::fs::metadata(&zip).ok().map(|m| m.len()))
        .flatten();
    let _ = std::fs::remove_dir_all(&dir);
    size
}
