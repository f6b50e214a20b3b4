//! The audit benchmark (src/command/audit.rs): an audit of BENCH_AUDIT_RESOURCES
//! resources (default 100,000), with the binary's defaults (the settings the template
//! always sets, no tuning such as MAX_CONCURRENCY or MAX_CALLS_PER_SECOND).
//!
//! The fleet: a local Resource Groups Tagging API lists every audited resource (pages
//! of 100); the local AWS Backup's ListProtectedResources lists 99 in 100 of them (one
//! in 100 was never backed up), in another order, pages of 1,000; one resource in 20 was
//! last backed up more than `MaxAgeHours` (26) ago, the rest within it; ListBackupJobs
//! lists one job per audited resource, all created in the last 26 hours (pages of
//! 1,000): COMPLETED for the fresh ones, RUNNING for one stale resource in 10 and one
//! never backed up in 5 (in progress), FAILED with a status message for the other stale
//! and never backed up ones (unprotected). Every page of every listing is answered
//! after BENCH_PAGE_DELAY_MS (default 20 ms).
//!
//! 1. `Remediate: false`. 2. `Remediate: true`, `MaxRemediations: 100000`, with
//!    REQUEST_QUEUE_URL at a local SQS: every unprotected resource that is not in
//!    progress must arrive there exactly once (distinct ARNs and tokens), none in
//!    progress, and no job started by the function itself. 3. `Remediate: true` with
//!    `MaxRemediations` left at its default (1,000): the 1,000 oldest unprotected
//!    resources (never backed up first), each once.
//!
//! Each run is its own function process. Targets: invoke to answer within 1.3 times
//! the floor (the longer of the two first listings, which run at once: pages times
//! the page delay, 20 s at the defaults), peak RSS (VmHWM) at most 48 MiB, and every
//! count of the answer as generated. Prints Markdown tables (the figures, then when
//! each listing ran) and exits non-zero when a target is missed or a count is wrong.
//!
//! `cargo bench --bench audit` builds the release profile first; BENCH_BINARY measures
//! another build (`cargo build --release`: `target/release/bootstrap`). For development,
//! `BENCH_AUDIT_RESOURCES=5000 cargo test --bench audit` runs it against the debug
//! binary in seconds (its times and memory are not the release binary's).

#[path = "../tests/e2e/harness.rs"]
mod harness;
#[path = "support/sqs.rs"]
mod sqs;
#[path = "../tests/e2e/tagging.rs"]
mod tagging;

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use harness::{FakeBackup, FakeLambda, Function, Job, Listing, Protected};
use serde_json::{json, Value};
use sqs::FakeSqs;
use tagging::FakeTagging;

const ROLE: &str = "arn:aws:iam::123456789012:role/Backup";
const MAX_AGE_HOURS: u64 = 26;
const TARGET_OVER_FLOOR: f64 = 1.3;
const TARGET_RSS_MIB: f64 = 48.0;
/// Pages of the Tagging API (the function asks for 100) and of AWS Backup's listings
/// (it asks for, or gets by default, 1,000).
const TAGGING_PAGE: usize = 100;
const BACKUP_PAGE: usize = 1_000;
const HOUR: u64 = 3_600;
/// `MaxRemediations` when the audit leaves it out.
const DEFAULT_MAX_REMEDIATIONS: usize = 1_000;

/// What the audit is asked to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// `Remediate: false`.
    Report,
    /// `Remediate: true`, `MaxRemediations: 100000`: every unprotected resource.
    RemediateAll,
    /// `Remediate: true`, `MaxRemediations` at its default.
    RemediateDefault,
}

impl Mode {
    fn label(self) -> &'static str {
        match self {
            Mode::Report => "1. Remediate false",
            Mode::RemediateAll => "2. Remediate true, MaxRemediations 100,000, to SQS",
            Mode::RemediateDefault => "3. Remediate true, MaxRemediations at its default (1,000), to SQS",
        }
    }

    /// The remediations the audit must make of `fleet`.
    fn remediated(self, fleet: &Fleet) -> usize {
        match self {
            Mode::Report => 0,
            Mode::RemediateAll => fleet.unprotected.len(),
            Mode::RemediateDefault => fleet.unprotected.len().min(DEFAULT_MAX_REMEDIATIONS),
        }
    }
}

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn binary() -> PathBuf {
    std::env::var_os("BENCH_BINARY").map_or_else(|| env!("CARGO_BIN_EXE_bootstrap").into(), Into::into)
}

// ------------------------------------------------------------------ the fleet

/// What AWS Backup knows of an audited resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Backed {
    /// Last backed up within `MaxAgeHours`; its last job COMPLETED then.
    Fresh,
    /// Last backed up before `MaxAgeHours`.
    Stale,
    /// Not listed by ListProtectedResources.
    Never,
}

/// Resource `i`: four AWS Backup types in turn, so that ARNs and types vary.
fn arn(i: usize) -> String {
    match i % 4 {
        0 => format!("arn:aws:dynamodb:eu-west-1:123456789012:table/orders-{i:06}"),
        1 => format!("arn:aws:ec2:eu-west-1:123456789012:volume/vol-{i:017x}"),
        2 => format!("arn:aws:rds:eu-west-1:123456789012:db:billing-{i:06}"),
        _ => format!("arn:aws:elasticfilesystem:eu-west-1:123456789012:file-system/fs-{i:017x}"),
    }
}

fn backed(i: usize) -> Backed {
    if i % 100 == 99 {
        Backed::Never
    } else if i % 20 == 7 {
        Backed::Stale
    } else {
        Backed::Fresh
    }
}

/// Whether the resource's job of the last 26 hours is still RUNNING (else it FAILED),
/// for a stale or never backed up one.
fn running(i: usize) -> bool {
    match backed(i) {
        Backed::Fresh => false,
        Backed::Stale => (i / 20).is_multiple_of(10),
        Backed::Never => (i / 100).is_multiple_of(5),
    }
}

/// A spread of `i` over `span` seconds (a fixed scramble, so that neighbours differ).
fn spread(i: usize, span: u64) -> u64 {
    (i as u64).wrapping_mul(2_654_435_761) % span
}

/// The age of a resource's last backup: 1 to 25 hours when fresh, 27 hours to 29 days
/// when stale (never within minutes of the cutoff, however long the run).
fn backup_age(i: usize) -> Duration {
    match backed(i) {
        Backed::Fresh => Duration::from_secs(HOUR + spread(i, 24 * HOUR)),
        _ => Duration::from_secs(27 * HOUR + spread(i, 28 * 24 * HOUR)),
    }
}

/// The resource's job of the last 26 hours.
fn job(i: usize) -> Job {
    let arn = arn(i);
    match backed(i) {
        Backed::Fresh => Job::new(&arn, "COMPLETED", backup_age(i), None),
        _ if running(i) => Job::new(&arn, "RUNNING", Duration::from_secs(HOUR / 2 + spread(i, HOUR)), None),
        _ => Job::new(
            &arn,
            "FAILED",
            Duration::from_secs(2 * HOUR + spread(i, 20 * HOUR)),
            Some(
                "Backup job failed because the IAM role arn:aws:iam::123456789012:role/Backup \
                 does not have permission to perform the backup (AccessDeniedException).",
            ),
        ),
    }
}

/// A fixed permutation of `0..len`, so that a listing's order is not the Tagging API's.
fn permuted(len: usize) -> impl Fn(usize) -> usize {
    let mut stride = 7_919 % len.max(1);
    while len > 1 && gcd(stride, len) != 1 {
        stride += 1;
    }
    move |p| (p * stride.max(1) + 13) % len.max(1)
}

fn gcd(a: usize, b: usize) -> usize {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

/// The fleet of `count` resources and what the audit must find.
struct Fleet {
    count: usize,
    /// The resources ListProtectedResources lists, in its order.
    listed: Arc<Vec<usize>>,
    protected: usize,
    in_progress: BTreeSet<String>,
    /// The unprotected resources and the age of their last backup (None: never).
    unprotected: BTreeMap<String, Option<Duration>>,
}

impl Fleet {
    fn new(count: usize) -> Fleet {
        let known: Vec<usize> = (0..count).filter(|&i| backed(i) != Backed::Never).collect();
        let order = permuted(known.len());
        let listed: Vec<usize> = (0..known.len()).map(|p| known[order(p)]).collect();
        let (mut protected, mut in_progress, mut unprotected) = (0, BTreeSet::new(), BTreeMap::new());
        for i in 0..count {
            match backed(i) {
                Backed::Fresh => protected += 1,
                _ if running(i) => {
                    in_progress.insert(arn(i));
                }
                never_or_stale => {
                    let age = (never_or_stale == Backed::Stale).then(|| backup_age(i));
                    unprotected.insert(arn(i), age);
                }
            }
        }
        Fleet {
            count,
            listed: Arc::new(listed),
            protected,
            in_progress,
            unprotected,
        }
    }

    /// Serves the fleet from the local Tagging API and AWS Backup.
    async fn serve(&self, delay: Duration) -> (FakeTagging, FakeBackup) {
        let tagging = FakeTagging::start(
            self.count,
            Arc::new(|i| {
                (
                    arn(i),
                    vec![
                        ("backup".into(), "nightly".into()),
                        ("stage".into(), "prod".into()),
                        ("owner".into(), format!("team-{}", i % 37)),
                    ],
                )
            }),
            delay,
        )
        .await;
        let backup = FakeBackup::start().await;
        let listed = Arc::clone(&self.listed);
        backup.set_protected(listed.len(), move |p| {
            let i = listed[p];
            Protected::new(&arn(i), backup_age(i))
        });
        let order = permuted(self.count);
        backup.set_jobs(self.count, move |p| job(order(p)));
        backup.set_listing_delay(Listing::Protected, delay);
        backup.set_listing_delay(Listing::Jobs, delay);
        (tagging, backup)
    }
}

fn event(mode: Mode) -> Value {
    let mut audit = json!({ "MaxAgeHours": MAX_AGE_HOURS, "Remediate": mode != Mode::Report });
    if mode == Mode::RemediateAll {
        audit["MaxRemediations"] = json!(100_000);
    }
    json!({
        "Selection": {
            "SelectionName": "fleet",
            "ListOfTags": [{"ConditionType": "STRINGEQUALS", "ConditionKey": "backup", "ConditionValue": "nightly"}]
        },
        "Audit": audit,
        "IdempotencyKey": format!("bench/audit/{mode:?}")
    })
}

// ------------------------------------------------------------ what happened when

/// When each counter (a listing's calls, SQS's) moved, from the invoke, and the CPU
/// time of the function and of the benchmark (the fakes) meanwhile.
struct Timeline {
    names: Vec<&'static str>,
    /// Every 10 ms: seconds since the invoke, each counter (less its first value),
    /// the function's CPU seconds, the benchmark's.
    samples: Vec<Sample>,
}

struct Sample {
    at: f64,
    counts: Vec<u64>,
    function_cpu: f64,
    fakes_cpu: f64,
}

impl Timeline {
    /// The counters' totals.
    fn calls(&self) -> Vec<u64> {
        self.samples
            .last()
            .map_or_else(|| vec![0; self.names.len()], |s| s.counts.clone())
    }

    /// When counter `n` first and last moved.
    fn span(&self, n: usize) -> Option<(f64, f64)> {
        let moved: Vec<f64> = self
            .samples
            .windows(2)
            .filter(|w| w[1].counts[n] != w[0].counts[n])
            .map(|w| w[1].at)
            .collect();
        Some((*moved.first()?, *moved.last()?))
    }

    /// The first sample at or after `at` (the last one if none).
    fn at(&self, at: f64) -> &Sample {
        let i = self.samples.partition_point(|s| s.at < at);
        &self.samples[i.min(self.samples.len() - 1)]
    }
}

type Counter = Box<dyn Fn() -> u64 + Send>;

/// Samples `counters` and the CPU time of process `pid` and of this one every 10 ms
/// until `stop` is set.
fn sample(
    began: Instant,
    pid: u32,
    counters: Vec<(&'static str, Counter)>,
    stop: Arc<AtomicBool>,
) -> tokio::task::JoinHandle<Timeline> {
    // The first values now, before the invoke, not when the task first runs.
    let pid = pid.to_string();
    let first: Vec<u64> = counters.iter().map(|(_, c)| c()).collect();
    let (function_first, fakes_first) = (cpu_seconds(&pid).unwrap_or(0.0), cpu_seconds("self").unwrap_or(0.0));
    tokio::spawn(async move {
        let mut samples = Vec::new();
        let mut tick = tokio::time::interval(Duration::from_millis(10));
        loop {
            // One last sample after the stop, so that the totals are complete.
            let stopping = stop.load(Ordering::Relaxed);
            samples.push(Sample {
                at: began.elapsed().as_secs_f64(),
                counts: counters.iter().zip(&first).map(|((_, c), f)| c() - f).collect(),
                function_cpu: cpu_seconds(&pid).map_or(0.0, |c| c - function_first),
                fakes_cpu: cpu_seconds("self").map_or(0.0, |c| c - fakes_first),
            });
            if stopping {
                break;
            }
            tick.tick().await;
        }
        Timeline {
            names: counters.into_iter().map(|(name, _)| name).collect(),
            samples,
        }
    })
}

/// User plus system CPU seconds of a process (`/proc/PID/stat`, 100 ticks a second).
fn cpu_seconds(pid: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(ticks as f64 / 100.0)
}

// ------------------------------------------------------------------ one run

struct Run {
    label: &'static str,
    seconds: f64,
    floor: f64,
    init_kib: u64,
    peak_kib: u64,
    answer: Value,
    calls: [u64; 3],
    timeline: Timeline,
}

async fn run(fleet: &Fleet, delay: Duration, mode: Mode, sqs: &Arc<FakeSqs>) -> (Run, FakeBackup) {
    let (tagging, backup) = fleet.serve(delay).await;
    let tagging = Arc::new(tagging);
    let lambda = FakeLambda::start().await;
    let queue_url = sqs.queue_url();
    let vars = [
        ("BACKUP_VAULT_NAME", "Default"),
        ("BACKUP_IAM_ROLE_ARN", ROLE),
        ("REQUEST_QUEUE_URL", queue_url.as_str()),
        (
            "AWS_ENDPOINT_URL_RESOURCE_GROUPS_TAGGING_API",
            tagging.endpoint.as_str(),
        ),
        ("AWS_ENDPOINT_URL_SQS", sqs.endpoint.as_str()),
    ];
    let function = Function::start_binary(&binary(), &lambda, &backup, &vars);
    lambda.wait_for_poll().await;
    let pid = function.pid().expect("the function runs");
    let init_kib = harness::vm_hwm_kib(pid).unwrap_or(0);

    let began = Instant::now();
    let stop = Arc::new(AtomicBool::new(false));
    let (t, listings) = (Arc::clone(&tagging), backup.listings().clone());
    let jobs = listings.clone();
    let counters: Vec<(&'static str, Counter)> = vec![
        ("GetResources (Tagging API)", Box::new(move || t.calls() as u64)),
        (
            "ListProtectedResources",
            Box::new(move || listings.calls(Listing::Protected)),
        ),
        ("ListBackupJobs", Box::new(move || jobs.calls(Listing::Jobs))),
        ("SendMessageBatch (SQS)", {
            let sqs = Arc::clone(sqs);
            Box::new(move || sqs.calls())
        }),
    ];
    let sampler = sample(began, pid, counters, Arc::clone(&stop));
    let answer = lambda
        .invoke_guarded(&event(mode), None, Duration::from_secs(900), Duration::from_secs(900))
        .await;
    let seconds = began.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    let peak_kib = harness::vm_hwm_kib(pid).unwrap_or(0);
    let timeline = sampler.await.expect("the sampler");
    let answer = match answer {
        harness::Answer::Response(value) => value,
        harness::Answer::Error {
            error_type,
            error_message,
            ..
        } => json!({ "errorType": error_type, "errorMessage": error_message }),
    };
    function.finish().await;

    let pages = |items: usize, per_page: usize| items.div_ceil(per_page).max(1);
    let floor =
        pages(fleet.count, TAGGING_PAGE).max(pages(fleet.listed.len(), BACKUP_PAGE)) as f64 * delay.as_secs_f64();
    let calls = [
        tagging.calls() as u64,
        backup.listing_calls(Listing::Protected),
        backup.listing_calls(Listing::Jobs),
    ];
    let run = Run {
        label: mode.label(),
        seconds,
        floor,
        init_kib,
        peak_kib,
        answer,
        calls,
        timeline,
    };
    (run, backup)
}

// ------------------------------------------------------------------ checks

/// The counts the answer must have, and the calls each listing must take.
fn check_answer(fleet: &Fleet, run: &Run, mode: Mode, missed: &mut Vec<String>) {
    let remediated = mode.remediated(fleet);
    let expected = json!({
        "Name": "fleet",
        "Found": fleet.count,
        "Matched": fleet.count,
        "Unsupported": 0,
        "Audited": fleet.count,
        "Protected": fleet.protected,
        "InProgress": fleet.in_progress.len(),
        "Unprotected": fleet.unprotected.len(),
        "Remediated": remediated,
        "Enqueued": remediated,
        "Messages": remediated.div_ceil(10),
    });
    if run.answer["Audit"] != expected {
        missed.push(format!(
            "{}: the answer's counts {} are not {expected} (errorType {}: {})",
            run.label, run.answer["Audit"], run.answer["errorType"], run.answer["errorMessage"]
        ));
    }
    let shown = run.answer["Findings"].as_array().map_or(0, Vec::len);
    let findings = (fleet.in_progress.len() + fleet.unprotected.len()).min(100);
    if shown != findings {
        missed.push(format!("{}: {shown} findings shown, not {findings}", run.label));
    }
    let stale = (0..fleet.count).any(|i| backed(i) != Backed::Fresh);
    let expected_calls = [
        fleet.count.div_ceil(TAGGING_PAGE).max(1) as u64,
        fleet.listed.len().div_ceil(BACKUP_PAGE).max(1) as u64,
        if stale {
            fleet.count.div_ceil(BACKUP_PAGE).max(1) as u64
        } else {
            0
        },
    ];
    if run.calls != expected_calls {
        missed.push(format!(
            "{}: listing calls (GetResources, ListProtectedResources, ListBackupJobs) {:?}, not {expected_calls:?}",
            run.label, run.calls
        ));
    }
}

/// Every unprotected resource that is not in progress arrived once, with its own
/// token; none in progress did.
/// The requests that reached the queue: `mode`'s remediations, each once, with a
/// token of its own, none in progress, and (when capped) the oldest.
fn check_queue(fleet: &Fleet, bodies: &[String], mode: Mode, missed: &mut Vec<String>) -> (usize, usize, usize) {
    let mut arns: BTreeMap<String, usize> = BTreeMap::new();
    let mut tokens: HashSet<String> = HashSet::new();
    let mut requests = 0;
    for body in bodies {
        let message: Value = serde_json::from_str(body).unwrap_or(Value::Null);
        for request in message["Jobs"].as_array().into_iter().flatten() {
            requests += 1;
            *arns
                .entry(request["ResourceArn"].as_str().unwrap_or("").to_owned())
                .or_default() += 1;
            tokens.insert(request["IdempotencyToken"].as_str().unwrap_or("").to_owned());
        }
    }
    let twice = arns.values().filter(|&&n| n > 1).count();
    let in_progress = arns.keys().filter(|a| fleet.in_progress.contains(*a)).count();
    let expected = mode.remediated(fleet);
    let extra = arns.keys().filter(|a| !fleet.unprotected.contains_key(*a)).count();
    if extra > 0 || twice > 0 || requests != expected || arns.len() != expected {
        missed.push(format!(
            "{}: {requests} requests for {} resources ({twice} twice, {extra} not unprotected), {expected} expected",
            mode.label(),
            arns.len(),
        ));
    }
    // Oldest first: never backed up before any age, then the older backup. None of
    // those left out may be older than one sent.
    let oldness = |age: &Option<Duration>| age.map_or(Duration::MAX, |a| a);
    let youngest_sent = arns.keys().filter_map(|a| fleet.unprotected.get(a)).map(oldness).min();
    let oldest_left = fleet
        .unprotected
        .iter()
        .filter(|(a, _)| !arns.contains_key(*a))
        .map(|(_, age)| oldness(age))
        .max();
    if let (Some(sent), Some(left)) = (youngest_sent, oldest_left) {
        if left > sent {
            missed.push(format!(
                "{}: a resource last backed up {left:?} ago was left out, one backed up {sent:?} ago was sent",
                mode.label()
            ));
        }
    }
    if tokens.len() != requests {
        missed.push(format!(
            "{}: {} distinct tokens in {requests} requests",
            mode.label(),
            tokens.len()
        ));
    }
    if in_progress > 0 {
        missed.push(format!(
            "{}: {in_progress} resources in progress were remediated",
            mode.label()
        ));
    }
    (arns.len(), tokens.len(), in_progress)
}

fn check_targets(run: &Run, missed: &mut Vec<String>) {
    if run.floor > 0.0 && run.seconds > run.floor * TARGET_OVER_FLOOR {
        missed.push(format!(
            "{}: {:.1} s is over {TARGET_OVER_FLOOR} x the floor of {:.1} s",
            run.label, run.seconds, run.floor
        ));
    }
    let peak_mib = run.peak_kib as f64 / 1024.0;
    if peak_mib > TARGET_RSS_MIB {
        missed.push(format!(
            "{}: peak RSS {peak_mib:.1} MiB is over {TARGET_RSS_MIB} MiB",
            run.label
        ));
    }
}

// ------------------------------------------------------------------ report

fn print_run(fleet: &Fleet, delay: Duration, run: &Run) {
    let counts = &run.answer["Audit"];
    let ms = delay.as_millis();
    let ratio = if run.floor > 0.0 {
        format!("{:.2} x the floor of {:.1} s", run.seconds / run.floor, run.floor)
    } else {
        "no floor (no page delay)".to_owned()
    };
    let peak_mib = run.peak_kib as f64 / 1024.0;
    let per_resource = (run.peak_kib.saturating_sub(run.init_kib) * 1024) as f64 / fleet.count as f64;
    println!();
    println!("| {} | figure | target |", run.label);
    println!("|---|---|---|");
    println!(
        "| invoke to answer | {:.1} s ({ratio}) | at most {TARGET_OVER_FLOOR} x |",
        run.seconds
    );
    println!(
        "| peak RSS (VmHWM) | {peak_mib:.1} MiB ({:.1} MiB at the first /next; {per_resource:.0} bytes per audited resource above it) | at most {TARGET_RSS_MIB} MiB |",
        run.init_kib as f64 / 1024.0
    );
    if let Some(last) = run.timeline.samples.last() {
        println!(
            "| CPU time from invoke to answer: the function / the benchmark (the fakes, the sampler) | {:.1} s / {:.1} s | |",
            last.function_cpu, last.fakes_cpu
        );
    }
    println!(
        "| Audited / Protected / InProgress / Unprotected | {} / {} / {} / {} | {} / {} / {} / {} |",
        counts["Audited"],
        counts["Protected"],
        counts["InProgress"],
        counts["Unprotected"],
        fleet.count,
        fleet.protected,
        fleet.in_progress.len(),
        fleet.unprotected.len()
    );
    println!(
        "| Remediated / Enqueued / Messages | {} / {} / {} | |",
        counts["Remediated"], counts["Enqueued"], counts["Messages"]
    );
    println!(
        "| calls: GetResources (100 a page, {ms} ms) / ListProtectedResources (1,000, {ms} ms) / ListBackupJobs (1,000, {ms} ms) | {} / {} / {} | {} / {} / {} |",
        run.calls[0],
        run.calls[1],
        run.calls[2],
        fleet.count.div_ceil(TAGGING_PAGE),
        fleet.listed.len().div_ceil(BACKUP_PAGE),
        fleet.count.div_ceil(BACKUP_PAGE)
    );
    print_timeline(run);
}

/// When each listing ran and, between the moments a listing made its last call,
/// what ran and the CPU time it took.
fn print_timeline(run: &Run) {
    let timeline = &run.timeline;
    let calls = timeline.calls();
    println!();
    println!(
        "| {}: when, from the invoke (sampled every 10 ms) | calls | first call | last call | mean time a call |",
        run.label
    );
    println!("|---|---|---|---|---|");
    let mut ends = vec![0.0, run.seconds];
    for (n, name) in timeline.names.iter().enumerate() {
        match timeline.span(n) {
            Some((first, last)) => {
                ends.push(last);
                let mean = if calls[n] > 1 {
                    format!("{:.1} ms", (last - first) * 1000.0 / (calls[n] - 1) as f64)
                } else {
                    String::new()
                };
                println!("| {name} | {} | {first:.2} s | {last:.2} s | {mean} |", calls[n]);
            }
            None => println!("| {name} | 0 | | | |"),
        }
    }
    println!("| answer | | | {:.2} s | |", run.seconds);

    ends.sort_by(f64::total_cmp);
    ends.dedup_by(|a, b| (*a - *b).abs() < 0.005);
    println!();
    let names: Vec<String> = timeline.names.iter().map(|n| format!("{n} calls")).collect();
    println!(
        "| {}: from – to | {} | function CPU | benchmark CPU |",
        run.label,
        names.join(" | ")
    );
    println!("|---|{}---|---|", "---|".repeat(names.len()));
    for pair in ends.windows(2) {
        let (from, to) = (timeline.at(pair[0]), timeline.at(pair[1]));
        let counts: Vec<String> = (0..names.len())
            .map(|n| (to.counts[n] - from.counts[n]).to_string())
            .collect();
        println!(
            "| {:.2} – {:.2} s | {} | {:.2} s | {:.2} s |",
            pair[0],
            pair[1],
            counts.join(" | "),
            to.function_cpu - from.function_cpu,
            to.fakes_cpu - from.fakes_cpu
        );
    }
}

#[tokio::main]
async fn main() {
    let resources = env_number("BENCH_AUDIT_RESOURCES", 100_000);
    let delay = Duration::from_millis(env_number("BENCH_PAGE_DELAY_MS", 20) as u64);
    let fleet = Fleet::new(resources);
    println!(
        "audit of {resources} resources: {} listed as protected ({} fresh), {} never backed up; {} in progress, {} unprotected; pages answered after {} ms; {}",
        fleet.listed.len(),
        fleet.protected,
        resources - fleet.listed.len(),
        fleet.in_progress.len(),
        fleet.unprotected.len(),
        delay.as_millis(),
        binary().display()
    );
    let mut missed = Vec::new();

    let sqs = Arc::new(FakeSqs::start(true).await);
    let (audit, backup) = run(&fleet, delay, Mode::Report, &sqs).await;
    check_answer(&fleet, &audit, Mode::Report, &mut missed);
    check_targets(&audit, &mut missed);
    if sqs.calls() > 0 || !backup.recorded().is_empty() {
        missed.push(format!(
            "{}: remediated without Remediate ({} SendMessageBatch calls, {} AWS Backup calls)",
            audit.label,
            sqs.calls(),
            backup.recorded().len()
        ));
    }
    print_run(&fleet, delay, &audit);

    for mode in [Mode::RemediateAll, Mode::RemediateDefault] {
        let sqs = Arc::new(FakeSqs::start(true).await);
        let (remedy, backup) = run(&fleet, delay, mode, &sqs).await;
        check_answer(&fleet, &remedy, mode, &mut missed);
        check_targets(&remedy, &mut missed);
        let (arns, tokens, in_progress) = check_queue(&fleet, &sqs.take_bodies(), mode, &mut missed);
        if !backup.recorded().is_empty() {
            missed.push(format!(
                "{}: {} jobs started by the function itself, not through the queue",
                remedy.label,
                backup.recorded().len()
            ));
        }
        print_run(&fleet, delay, &remedy);
        let n = mode.remediated(&fleet);
        println!();
        println!("| {}: the queue | figure | expected |", &mode.label()[..1]);
        println!("|---|---|---|");
        println!(
            "| requests / distinct ARNs / distinct tokens | {} / {arns} / {tokens} | {n} / {n} / {n} |",
            sqs.requests()
        );
        println!("| resources in progress remediated | {in_progress} | 0 |");
        println!(
            "| messages / SendMessageBatch calls | {} / {} | {} / {} |",
            sqs.messages(),
            sqs.calls(),
            n.div_ceil(10),
            n.div_ceil(100)
        );
    }

    if !missed.is_empty() {
        eprintln!("audit benchmark missed: {}", missed.join("; "));
        std::process::exit(1);
    }
}
