//! The limiter on tokio's paused clock: virtual time only, no wall-clock assertion.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use tokio::task::JoinSet;

use super::*;

fn far() -> Instant {
    Instant::now() + Duration::from_secs(3600)
}

fn capped(rate: f64) -> Limiter {
    Limiter::new(CallsPerSecond::new(rate))
}

#[test]
fn rates_are_plain_decimals() {
    assert_eq!(CallsPerSecond::parse("2.5"), Ok(CallsPerSecond::new(2.5)));
    assert_eq!(CallsPerSecond::parse("5"), Ok(CallsPerSecond::new(5.0)));
    assert_eq!(CallsPerSecond::parse(".5"), Ok(CallsPerSecond::new(0.5)));
    assert_eq!(CallsPerSecond::parse("0.01"), Ok(CallsPerSecond::new(0.01)));
    assert_eq!(CallsPerSecond::parse("0"), Ok(None));
    for bad in [
        "", "-1", "+5", "1e3", "inf", "NaN", "2,5", "1.2.3", ".", "0.001", "1000.5", "five",
    ] {
        assert!(CallsPerSecond::parse(bad).is_err(), "{bad:?} must be refused");
    }
}

#[tokio::test(start_paused = true)]
async fn with_no_cap_and_no_throttling_nothing_waits() {
    let limiter = Limiter::new(None);
    let began = Instant::now();
    for _ in 0..1000 {
        assert!(limiter.wait_turn(far()).await);
        limiter.accepted(Instant::now());
    }
    assert_eq!(began.elapsed(), Duration::ZERO);
    assert_eq!(limiter.rate(), None);
}

#[tokio::test(start_paused = true)]
async fn a_cap_spaces_starts_evenly() {
    let limiter = capped(2.5);
    let began = Instant::now();
    let mut starts = Vec::new();
    for _ in 0..11 {
        assert!(limiter.wait_turn(far()).await);
        starts.push(began.elapsed());
    }
    // 11 starts at 2.5 a second: one every 400 ms, the first at once.
    assert_eq!(starts.last(), Some(&Duration::from_secs(4)));
    for pair in starts.windows(2) {
        assert_eq!(pair[1] - pair[0], Duration::from_millis(400));
    }
}

#[tokio::test(start_paused = true)]
async fn the_cap_holds_however_long_calls_get_through() {
    let limiter = Arc::new(capped(2.0));
    let began = Instant::now();
    let mut workers = JoinSet::new();
    for _ in 0..8 {
        let limiter = Arc::clone(&limiter);
        workers.spawn(async move {
            let mut starts = Vec::new();
            for _ in 0..25 {
                assert!(limiter.wait_turn(far()).await);
                starts.push(Instant::now());
                limiter.accepted(Instant::now());
            }
            starts
        });
    }
    let mut starts: Vec<Instant> = workers.join_all().await.into_iter().flatten().collect();
    starts.sort();
    assert_eq!(starts.len(), 200);
    // 200 starts at 2 a second: 99.5 s, however often the rate tried to grow.
    assert_eq!(*starts.last().unwrap() - began, Duration::from_millis(99_500));
    assert_eq!(limiter.rate(), Some(2.0));
}

#[tokio::test(start_paused = true)]
async fn a_turn_after_the_cutoff_is_not_taken() {
    let limiter = capped(1.0);
    let cutoff = Instant::now() + Duration::from_millis(2500);
    let mut taken = 0;
    while limiter.wait_turn(cutoff).await {
        taken += 1;
    }
    assert_eq!(taken, 3, "turns at 0, 1 and 2 s");
}

#[tokio::test(start_paused = true)]
async fn a_throttle_lowers_the_rate_below_what_aws_accepted() {
    let limiter = Limiter::new(None);
    let now = Instant::now();
    for _ in 0..5 {
        limiter.accepted(now);
    }
    limiter.throttled(now, now);
    // Five accepted within the last second: 0.85 x 5.
    let rate = limiter.rate().unwrap();
    assert!((rate - 5.0 * DECREASE_FACTOR).abs() < 1e-9, "{rate}");
}

#[tokio::test(start_paused = true)]
async fn throttles_of_calls_started_before_a_decrease_had_effect_count_once() {
    let limiter = capped(10.0);
    let t0 = Instant::now();
    limiter.throttled(t0, t0);
    assert_eq!(limiter.rate(), Some(10.0 * DECREASE_FACTOR));
    // A call started within the hold after the decrease: not decreased again.
    tokio::time::advance(Duration::from_millis(500)).await;
    let before = limiter.rate();
    limiter.throttled(t0 + Duration::from_millis(400), Instant::now());
    assert_eq!(limiter.rate(), before);
    // A call started after the hold: decreased again, from what it had grown to.
    tokio::time::advance(Duration::from_secs(1)).await;
    let grown = limiter.rate().unwrap();
    limiter.throttled(Instant::now(), Instant::now());
    let lowered = limiter.rate().unwrap();
    assert!((lowered - grown * DECREASE_FACTOR).abs() < 1e-9, "{grown} -> {lowered}");
    assert_eq!(limiter.throttled_answers(), 3);
}

#[tokio::test(start_paused = true)]
async fn the_rate_grows_back_to_the_last_throttle_and_then_beyond() {
    let limiter = Arc::new(Limiter::new(None));
    let t0 = Instant::now();
    for _ in 0..5 {
        limiter.accepted(t0);
    }
    limiter.throttled(t0, t0);
    let low = limiter.rate().unwrap();
    // Calls keep getting through at the rate allowed.
    let feeder = {
        let limiter = Arc::clone(&limiter);
        tokio::spawn(async move {
            loop {
                assert!(limiter.wait_turn(far()).await);
                limiter.accepted(Instant::now());
            }
        })
    };
    tokio::time::sleep(Duration::from_secs(2)).await;
    let recovering = limiter.rate().unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let back = limiter.rate().unwrap();
    tokio::time::sleep(Duration::from_secs(10)).await;
    let beyond = limiter.rate().unwrap();
    feeder.abort();
    assert!(low < recovering && recovering < 5.0, "{low} {recovering}");
    assert!((back - 5.0).abs() < 0.1, "back near the last throttle: {back}");
    assert!(beyond > 7.0, "probes above it: {beyond}");
}

#[tokio::test(start_paused = true)]
async fn an_idle_process_does_not_grow_its_rate() {
    let limiter = Limiter::new(None);
    let t0 = Instant::now();
    for _ in 0..5 {
        limiter.accepted(t0);
    }
    limiter.throttled(t0, t0);
    tokio::time::advance(Duration::from_secs(600)).await;
    assert_eq!(limiter.rate(), Some(5.0), "back to the last throttle, no further");
}

#[tokio::test(start_paused = true)]
async fn the_rate_is_never_learned_below_its_floor() {
    let limiter = capped(1.0);
    // Throttled every second: each decrease starts from what the rate grew back to.
    for _ in 0..300 {
        tokio::time::advance(DECREASE_HOLD).await;
        limiter.throttled(Instant::now(), Instant::now());
    }
    let rate = limiter.rate().unwrap();
    assert!((MIN_LEARNED..MIN_LEARNED * 1.2).contains(&rate), "{rate}");
}

#[tokio::test(start_paused = true)]
async fn a_retry_takes_a_turn() {
    let limiter = capped(1.0);
    assert!(limiter.wait_turn(far()).await);
    let began = Instant::now();
    limiter.retry_started(began);
    // The retry took the turn at 1 s: the next call starts at 2 s.
    assert!(limiter.wait_turn(far()).await);
    assert_eq!(began.elapsed(), Duration::from_secs(2));
}

// ----------------------------------------------------------- against a quota

/// How an AWS quota counts calls.
#[derive(Debug, Clone, Copy)]
enum Shape {
    /// A token bucket of `rate` a second with a burst of as many, starting full.
    Bucket,
    /// At most `rate` calls in any rolling second.
    Window,
}

/// An account's quota, shared by every simulated process.
struct Quota {
    shape: Shape,
    rate: f64,
    tokens: f64,
    refilled: Instant,
    window: VecDeque<Instant>,
    accepted: usize,
    throttled: usize,
}

impl Quota {
    fn new(shape: Shape, rate: f64) -> Arc<Mutex<Quota>> {
        Arc::new(Mutex::new(Quota {
            shape,
            rate,
            tokens: rate,
            refilled: Instant::now(),
            window: VecDeque::new(),
            accepted: 0,
            throttled: 0,
        }))
    }

    fn admit(&mut self, now: Instant) -> bool {
        let ok = match self.shape {
            Shape::Bucket => {
                self.tokens = (self.tokens + (now - self.refilled).as_secs_f64() * self.rate).min(self.rate);
                self.refilled = now;
                let ok = self.tokens >= 1.0;
                if ok {
                    self.tokens -= 1.0;
                }
                ok
            }
            Shape::Window => {
                while self.window.front().is_some_and(|&t| now - t >= Duration::from_secs(1)) {
                    self.window.pop_front();
                }
                let ok = (self.window.len() as f64) < self.rate;
                if ok {
                    self.window.push_back(now);
                }
                ok
            }
        };
        if ok {
            self.accepted += 1;
        } else {
            self.throttled += 1;
        }
        ok
    }
}

/// One process running a list of `calls` with 8 in flight, as `send` and the SDK
/// do: each call waits its turn, then attempts until accepted; a throttled attempt
/// is retried after the SDK's back-off (exponential with jitter) and then waits its
/// turn, as `aws::PacedRetries` makes it.
/// Returns the virtual time the list took.
async fn run_list(limiter: Arc<Limiter>, quota: Arc<Mutex<Quota>>, calls: usize, seed: u64) -> Duration {
    let began = Instant::now();
    let permits = Arc::new(tokio::sync::Semaphore::new(8));
    let mut tasks = JoinSet::new();
    let mut random = seed;
    for _ in 0..calls {
        let permit = Arc::clone(&permits).acquire_owned().await.unwrap();
        random = random
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let mut jitter = random;
        let (limiter, quota) = (Arc::clone(&limiter), Arc::clone(&quota));
        tasks.spawn(async move {
            let _permit = permit;
            assert!(limiter.wait_turn(far()).await);
            for attempt in 0..10 {
                if attempt > 0 {
                    limiter.wait_retry_turn(Duration::from_secs(3)).await;
                }
                let started = Instant::now();
                // 10 ms to reach AWS, 10 ms back.
                tokio::time::sleep(Duration::from_millis(10)).await;
                let admitted = quota.lock().unwrap().admit(Instant::now());
                tokio::time::sleep(Duration::from_millis(10)).await;
                if admitted {
                    limiter.accepted(Instant::now());
                    return true;
                }
                limiter.throttled(started, Instant::now());
                jitter = jitter.wrapping_mul(6364136223846793005).wrapping_add(1);
                let share = (jitter >> 11) as f64 / (1u64 << 53) as f64;
                // The SDK's standard back-off: up to 1 s, doubling, at most 20 s.
                let backoff = Duration::from_secs_f64(share * f64::from(1u32 << attempt).min(20.0));
                tokio::time::sleep(backoff).await;
            }
            false
        });
    }
    let done = tasks.join_all().await;
    assert!(done.iter().all(|&ok| ok), "a call failed after 10 attempts");
    began.elapsed()
}

#[tokio::test(start_paused = true)]
async fn a_throttled_list_runs_close_to_the_quota_with_no_setting() {
    let mut missed = Vec::new();
    for shape in [Shape::Bucket, Shape::Window] {
        for seed in 1..=3 {
            let quota = Quota::new(shape, 5.0);
            let took = run_list(Arc::new(Limiter::new(None)), Arc::clone(&quota), 100, seed).await;
            let quota = quota.lock().unwrap();
            eprintln!("one {shape:?} seed {seed}: {took:?}, {} throttled", quota.throttled);
            // 100 calls at 5 a second: 20 s (19 s with a bucket's burst); within 10%.
            if took > Duration::from_secs(22) {
                missed.push(format!("{shape:?} seed {seed}: {took:?}"));
            }
            assert_eq!(quota.accepted, 100);
        }
    }
    assert!(missed.is_empty(), "{missed:#?}");
}

/// Two processes, each with its own limiter, against one quota: each learns its share
/// from its own throttling answers. Every call gets through, together they use most
/// of the rate; some throttling is the price of two limiters that cannot see each
/// other (docs/performance.md, "Two processes sharing one quota", has the figures).
#[tokio::test(start_paused = true)]
async fn two_processes_share_one_quota() {
    let mut missed = Vec::new();
    for shape in [Shape::Bucket, Shape::Window] {
        for cap in [None, CallsPerSecond::new(5.0)] {
            let quota = Quota::new(shape, 5.0);
            let one = tokio::spawn(run_list(Arc::new(Limiter::new(cap)), Arc::clone(&quota), 100, 7));
            let two = tokio::spawn(run_list(Arc::new(Limiter::new(cap)), Arc::clone(&quota), 100, 11));
            let took = one.await.unwrap().max(two.await.unwrap());
            let quota = quota.lock().unwrap();
            assert_eq!(quota.accepted, 200);
            let rate = 200.0 / took.as_secs_f64();
            let throttled = quota.throttled as f64 / (quota.accepted + quota.throttled) as f64;
            eprintln!(
                "two {shape:?} {cap:?}: {rate:.2}/s over {took:?}, {:.1}% throttled",
                throttled * 100.0
            );
            // A token bucket (AWS's kind of quota): at least 90% of the rate. A rolling
            // window counts whole calls, and two paces that do not know each other
            // overlap in it: at least 70%.
            let floor = match shape {
                Shape::Bucket => 4.5,
                Shape::Window => 3.5,
            };
            if rate < floor || throttled >= 0.20 {
                missed.push(format!(
                    "{shape:?} {cap:?}: {rate:.2}/s over {took:?}, {:.1}% throttled",
                    throttled * 100.0
                ));
            }
        }
    }
    assert!(missed.is_empty(), "{missed:#?}");
}
