use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use serde_json::json;

use super::*;
use crate::core::defaults::Defaults;
use crate::core::job::Started;
use crate::core::request::validate;
use crate::io::rate::CallsPerSecond;

fn job(resource: &str) -> Job {
    let request = json!({
        "ResourceArn": format!("arn:aws:ec2:eu-west-1:123456789012:volume/{resource}"),
        "BackupVaultName": "Vault",
        "IamRoleArn": "arn:aws:iam::123456789012:role/Backup",
    });
    validate(&request, &[], &Defaults::default(), &format!("token-{resource}")).expect("valid request")
}

fn jobs(n: usize) -> Vec<Job> {
    (0..n).map(|i| job(&format!("vol-{i}"))).collect()
}

/// Starts jobs after `delay`, counting calls and the most in flight at once;
/// panics on a resource named `vol-panic`.
#[derive(Default)]
struct Fake {
    delay: Duration,
    calls: AtomicUsize,
    in_flight: AtomicUsize,
    most_in_flight: AtomicUsize,
    order: Mutex<Vec<String>>,
}

impl JobStarter for Fake {
    fn start<'a>(&'a self, job: &'a Job) -> BoxFuture<'a, Outcome> {
        Box::pin(self.started(job))
    }
}

/// The fake as the starter `send_all` takes.
fn starter(fake: &Arc<Fake>) -> Arc<dyn JobStarter> {
    Arc::clone(fake) as Arc<dyn JobStarter>
}

impl Fake {
    async fn started(&self, job: &Job) -> Outcome {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.most_in_flight.fetch_max(now, Ordering::SeqCst);
        self.order.lock().unwrap().push(job.subject_arn().to_owned());
        if job.subject_arn().ends_with("vol-panic") {
            panic!("a bug while starting {}", job.subject_arn());
        }
        tokio::time::sleep(self.delay).await;
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        Outcome::Started(Started {
            job_id: format!("job-{}", job.idempotency_token()),
            is_parent: false,
            creation_date: None,
            recovery_point_arn: None,
        })
    }
}

fn far() -> Deadline {
    Deadline::after(Duration::from_secs(900))
}

#[tokio::test(start_paused = true)]
async fn at_most_max_concurrency_calls_run_at_once() {
    let fake = Arc::new(Fake {
        delay: Duration::from_millis(100),
        ..Fake::default()
    });
    let results = send_all(&starter(&fake), jobs(20), &Limits::concurrency(3), far()).await;
    assert_eq!(results.len(), 20);
    assert_eq!(fake.calls.load(Ordering::SeqCst), 20);
    assert_eq!(fake.most_in_flight.load(Ordering::SeqCst), 3);
}

#[tokio::test(start_paused = true)]
async fn calls_run_concurrently_up_to_the_limit() {
    let fake = Arc::new(Fake {
        delay: Duration::from_millis(100),
        ..Fake::default()
    });
    let began = Instant::now();
    send_all(&starter(&fake), jobs(8), &Limits::concurrency(8), far()).await;
    // Virtual time: 8 calls of 100 ms at once take 100 ms, not 800.
    assert!(began.elapsed() < Duration::from_millis(200), "{:?}", began.elapsed());
    assert_eq!(fake.most_in_flight.load(Ordering::SeqCst), 8);
}

#[tokio::test(start_paused = true)]
async fn results_keep_the_order_of_the_plan() {
    let fake = Arc::new(Fake::default());
    let results = send_all(&starter(&fake), jobs(10), &Limits::concurrency(4), far()).await;
    let tokens: Vec<&str> = results.iter().map(|r| r.job.idempotency_token()).collect();
    let expected: Vec<String> = (0..10).map(|i| format!("token-vol-{i}")).collect();
    assert_eq!(tokens, expected);
    for r in &results {
        assert_eq!(
            r.outcome,
            Outcome::Started(Started {
                job_id: format!("job-{}", r.job.idempotency_token()),
                is_parent: false,
                creation_date: None,
                recovery_point_arn: None
            })
        );
    }
}

#[tokio::test(start_paused = true)]
async fn a_panic_fails_its_own_job_only() {
    let fake = Arc::new(Fake::default());
    let mut list = jobs(2);
    list.insert(1, job("vol-panic"));
    let results = send_all(&starter(&fake), list, &Limits::concurrency(8), far()).await;
    assert!(matches!(results[0].outcome, Outcome::Started(_)));
    assert!(matches!(results[2].outcome, Outcome::Started(_)));
    let Outcome::Failed(failure) = &results[1].outcome else {
        panic!("the panicking job must fail")
    };
    assert_eq!(failure.code(), "InternalError");
    assert_eq!(
        results[1].job.subject_arn(),
        "arn:aws:ec2:eu-west-1:123456789012:volume/vol-panic"
    );
}

#[tokio::test(start_paused = true)]
async fn nothing_starts_when_too_little_time_is_left() {
    let fake = Arc::new(Fake::default());
    let deadline = Deadline::after(Deadline::START_RESERVE - Duration::from_millis(1));
    let results = send_all(&starter(&fake), jobs(3), &Limits::concurrency(8), deadline).await;
    assert_eq!(fake.calls.load(Ordering::SeqCst), 0, "no call may start");
    for r in results {
        let Outcome::Failed(failure) = r.outcome else {
            panic!("must be reported as failed")
        };
        assert_eq!(failure.code(), "NotStarted");
        assert!(failure.retryable);
    }
}

#[tokio::test(start_paused = true)]
async fn a_call_starts_when_just_enough_time_is_left() {
    let fake = Arc::new(Fake::default());
    let deadline = Deadline::after(Deadline::START_RESERVE + Duration::from_millis(50));
    let results = send_all(&starter(&fake), jobs(1), &Limits::concurrency(8), deadline).await;
    assert!(matches!(results[0].outcome, Outcome::Started(_)));
}

#[tokio::test(start_paused = true)]
async fn jobs_still_queued_at_the_cutoff_are_not_started() {
    // One permit, calls of 1 s, 4.5 s to the deadline: calls may start until 2.5 s,
    // so three start (at 0, 1 and 2 s) and the other two are reported, not started.
    let fake = Arc::new(Fake {
        delay: Duration::from_secs(1),
        ..Fake::default()
    });
    let deadline = Deadline::after(Duration::from_millis(4500));
    let results = send_all(&starter(&fake), jobs(5), &Limits::concurrency(1), deadline).await;
    let codes: Vec<&str> = results
        .iter()
        .map(|r| match &r.outcome {
            Outcome::Started(_) => "started",
            Outcome::Failed(f) => f.code(),
            Outcome::WouldStart => "dry",
        })
        .collect();
    assert_eq!(codes, ["started", "started", "started", "NotStarted", "NotStarted"]);
    assert_eq!(fake.calls.load(Ordering::SeqCst), 3);
}

#[tokio::test(start_paused = true)]
async fn a_call_that_outlives_the_deadline_is_abandoned_and_reported() {
    let fake = Arc::new(Fake {
        delay: Duration::from_secs(60),
        ..Fake::default()
    });
    let began = Instant::now();
    let results = send_all(
        &starter(&fake),
        jobs(1),
        &Limits::concurrency(8),
        Deadline::after(Duration::from_secs(5)),
    )
    .await;
    assert_eq!(
        began.elapsed(),
        Duration::from_secs(5) - Deadline::ANSWER_RESERVE,
        "gives up before the deadline, leaving time to answer"
    );
    let Outcome::Failed(failure) = &results[0].outcome else {
        panic!("must fail")
    };
    assert_eq!(failure.code(), "DeadlineExceeded");
    assert!(failure.error.to_string().contains("retrying is safe"));
}

#[test]
fn lambda_deadlines_in_epoch_millis() {
    let now_ms = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as u64;
    assert!(!Deadline::from_epoch_millis(now_ms + 60_000).too_late_to_start());
    assert!(Deadline::from_epoch_millis(now_ms + 1_000).too_late_to_start());
    assert!(
        Deadline::from_epoch_millis(0).too_late_to_start(),
        "a deadline in the past starts nothing"
    );
}

fn paced(per_second: f64) -> Limits {
    Limits {
        permits: Arc::new(Semaphore::new(8)),
        limiter: Some(Arc::new(Limiter::new(CallsPerSecond::new(per_second)))),
    }
}

#[tokio::test(start_paused = true)]
async fn a_capped_limiter_spaces_call_starts_evenly() {
    let fake = Arc::new(Fake::default());
    let began = Instant::now();
    let results = send_all(&starter(&fake), jobs(11), &paced(5.0), far()).await;
    assert!(results.iter().all(|r| matches!(r.outcome, Outcome::Started(_))));
    // Virtual time: 11 starts at 5 a second take 2 s (the first starts at once).
    assert_eq!(began.elapsed(), Duration::from_secs(2));
}

#[tokio::test(start_paused = true)]
async fn a_paced_start_after_the_cutoff_is_not_made() {
    let fake = Arc::new(Fake::default());
    // 4.5 s to the deadline: starts allowed until 2.5 s, so at 0, 1 and 2 s only.
    let results = send_all(
        &starter(&fake),
        jobs(5),
        &paced(1.0),
        Deadline::after(Duration::from_millis(4500)),
    )
    .await;
    let started = results
        .iter()
        .filter(|r| matches!(r.outcome, Outcome::Started(_)))
        .count();
    assert_eq!(started, 3);
    assert_eq!(fake.calls.load(Ordering::SeqCst), 3);
}

#[tokio::test(start_paused = true)]
async fn an_unthrottled_limiter_does_not_pace() {
    let fake = Arc::new(Fake {
        delay: Duration::from_millis(100),
        ..Fake::default()
    });
    let limits = Limits {
        permits: Arc::new(Semaphore::new(8)),
        limiter: Some(Arc::new(Limiter::new(None))),
    };
    let began = Instant::now();
    let results = send_all(&starter(&fake), jobs(16), &limits, far()).await;
    assert!(results.iter().all(|r| matches!(r.outcome, Outcome::Started(_))));
    // Two rounds of 8 calls of 100 ms: nothing held back for want of a setting.
    assert_eq!(began.elapsed(), Duration::from_millis(200));
}

/// Records how many tasks are alive at once (a task is alive from its spawn until
/// its result is collected).
#[tokio::test(start_paused = true)]
async fn a_long_list_keeps_at_most_max_concurrency_tasks_alive() {
    let fake = Arc::new(Fake {
        delay: Duration::from_millis(10),
        ..Fake::default()
    });
    let handle = tokio::runtime::Handle::current();
    let most_alive = Arc::new(AtomicUsize::new(0));
    let watch = {
        let most_alive = Arc::clone(&most_alive);
        tokio::spawn(async move {
            loop {
                // This watcher is one task itself.
                let alive = handle.metrics().num_alive_tasks().saturating_sub(1);
                most_alive.fetch_max(alive, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        })
    };
    let results = send_all(&starter(&fake), jobs(500), &Limits::concurrency(4), far()).await;
    watch.abort();
    assert_eq!(results.len(), 500);
    assert_eq!(fake.calls.load(Ordering::SeqCst), 500);
    let most = most_alive.load(Ordering::SeqCst);
    assert!(most <= 4, "{most} tasks alive at once for 4 permits");
    assert!(most >= 1);
}
