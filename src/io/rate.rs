//! The pace of AWS Backup calls for the whole process. Every invocation and every
//! SQS message of a function instance waits its turn at one [`Limiter`], and every
//! answer from AWS Backup (first attempts and the SDK's retries alike) is reported
//! back to it. AWS Backup's quota is per account and AWS publishes no fixed figure
//! for it, so unless `MAX_CALLS_PER_SECOND` is set the limiter learns the rate from
//! the answers: additive increase while calls get through, multiplicative decrease
//! on a throttling answer. `MAX_CALLS_PER_SECOND` caps the rate it may reach.
//!
//! The limiter never refuses a call for want of a setting: before the first
//! throttling answer (and with no cap) it does not pace at all.

use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

/// A decimal rate of calls a second, such as `2.5`: finite and above zero.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CallsPerSecond(f64);

// Made only by `parse` or `new`, which refuse NaN: equality is total.
impl Eq for CallsPerSecond {}

impl CallsPerSecond {
    /// The largest rate accepted: far above any AWS Backup quota.
    pub const MAX: f64 = 1000.0;
    /// The smallest rate accepted: one call every 100 s.
    pub const MIN: f64 = 0.01;

    /// A rate from `MIN` to `MAX`, or none outside it.
    pub fn new(rate: f64) -> Option<CallsPerSecond> {
        (Self::MIN..=Self::MAX).contains(&rate).then_some(CallsPerSecond(rate))
    }

    /// Reads `MAX_CALLS_PER_SECOND`: a plain decimal (`5`, `2.5`, `0.5`); `0` means no cap.
    /// The problem is worded to follow the quoted value.
    pub fn parse(text: &str) -> Result<Option<CallsPerSecond>, String> {
        let plain = !text.is_empty()
            && text.chars().all(|c| c.is_ascii_digit() || c == '.')
            && text.chars().filter(|&c| c == '.').count() <= 1
            && text.chars().any(|c| c.is_ascii_digit());
        let problem = || {
            format!(
                "must be a decimal number of calls a second from {} to {} (such as 2.5), or 0 for no cap",
                Self::MIN,
                Self::MAX
            )
        };
        let value: f64 = match text.parse() {
            Ok(value) if plain => value,
            _ => return Err(problem()),
        };
        if value == 0.0 {
            return Ok(None);
        }
        CallsPerSecond::new(value).map(Some).ok_or_else(problem)
    }

    pub fn get(self) -> f64 {
        self.0
    }
}

/// A decrease takes this long to show in the answers (AWS's quotas count calls over a
/// second): throttling answers to calls that started sooner after the last decrease
/// do not decrease the rate again.
pub const DECREASE_HOLD: Duration = Duration::from_secs(1);
/// On a throttling answer, the rate becomes this share of the rate AWS accepted.
pub const DECREASE_FACTOR: f64 = 0.85;
/// How fast the rate grows back after a decrease (calls a second, per second cubed):
/// it returns to the rate of the last throttle in cbrt(rate x (1 - DECREASE_FACTOR) /
/// GROWTH) seconds (about 4 s at 5 a second), slowly near it, and then probes above
/// it faster the longer nothing is throttled, as TCP CUBIC grows its window.
pub const GROWTH: f64 = 0.01;
/// The rate is never learned below this: a list still progresses, and the SDK's
/// retries absorb what remains.
pub const MIN_LEARNED: f64 = 0.2;
/// The accepted rate is measured over at most this much of the recent past.
const MEASURE_WINDOW: Duration = Duration::from_secs(2);
/// A call waiting for its turn looks at the rate again this often.
const RECHECK: Duration = Duration::from_millis(100);
/// A turn taken this late after its slot still counts as on time (timer lateness
/// must not lower the pace).
const TIMER_SLACK: Duration = Duration::from_millis(5);

/// The process-wide pace of call starts. See the module documentation.
#[derive(Debug)]
pub struct Limiter {
    cap: Option<f64>,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    /// The accepted rate when AWS last throttled a call; `None` before the first
    /// throttling answer.
    ceiling: Option<f64>,
    /// When the rate was last decreased: the rate grows with the time since.
    decreased: Instant,
    /// The last start booked (ours or a retry of the SDK's); may lie a little ahead.
    last_start: Option<Instant>,
    /// When AWS accepted (answered without throttling) calls, over `MEASURE_WINDOW`.
    accepted: VecDeque<Instant>,
    /// Throttling answers seen, for logs and tests.
    throttled: u64,
}

impl State {
    /// The rate accepted lately, in calls a second; `None` when nothing was.
    fn measured(&mut self, now: Instant) -> Option<f64> {
        prune(&mut self.accepted, now);
        let oldest = *self.accepted.front()?;
        let span = now
            .saturating_duration_since(oldest)
            .clamp(Duration::from_secs(1), MEASURE_WINDOW);
        Some(self.accepted.len() as f64 / span.as_secs_f64())
    }

    /// The rate allowed at `now`: none before the first throttling answer (or the
    /// cap), then a cubic in the time since the last decrease, which meets the
    /// ceiling after `k` seconds.
    fn rate(&mut self, now: Instant, cap: Option<f64>) -> Option<f64> {
        let Some(ceiling) = self.ceiling else {
            return cap;
        };
        let k = (ceiling * (1.0 - DECREASE_FACTOR) / GROWTH).cbrt();
        let t = now.saturating_duration_since(self.decreased).as_secs_f64();
        let mut rate = ceiling + GROWTH * (t - k).powi(3);
        // Above the ceiling only while calls get through at about the rate allowed:
        // an idle process does not grow a rate it has not tried.
        if rate > ceiling {
            let tried = self.measured(now).unwrap_or(0.0) * 2.0;
            rate = rate.min(ceiling.max(tried));
        }
        let rate = rate.max(MIN_LEARNED);
        Some(cap.map_or(rate, |cap| rate.min(cap)))
    }
}

impl Limiter {
    /// A limiter that learns the rate, at most `cap` when given.
    pub fn new(cap: Option<CallsPerSecond>) -> Limiter {
        Limiter {
            cap: cap.map(CallsPerSecond::get),
            state: Mutex::new(State {
                ceiling: None,
                decreased: Instant::now(),
                last_start: None,
                accepted: VecDeque::new(),
                throttled: 0,
            }),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // The state stays consistent at every step, so a panic elsewhere leaves it usable.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The rate now allowed, in calls a second; `None`: not paced.
    pub fn rate(&self) -> Option<f64> {
        self.state().rate(Instant::now(), self.cap)
    }

    /// Throttling answers seen since start.
    pub fn throttled_answers(&self) -> u64 {
        self.state().throttled
    }

    /// Waits for this call's turn. False (and no turn taken) when the turn would come
    /// after `cutoff`.
    pub async fn wait_turn(&self, cutoff: Instant) -> bool {
        loop {
            let slot = {
                let mut state = self.state();
                let now = Instant::now();
                let Some(rate) = state.rate(now, self.cap) else {
                    state.last_start = Some(now);
                    return true;
                };
                let interval = Duration::from_secs_f64(1.0 / rate);
                let slot = state.last_start.map_or(now, |last| last + interval);
                if slot <= now {
                    // On time: keep to the schedule, so that timer lateness does not
                    // slow the pace; after a pause, start the schedule afresh.
                    state.last_start = Some(if slot + TIMER_SLACK >= now { slot } else { now });
                    return true;
                }
                slot
            };
            if slot > cutoff {
                return false;
            }
            // The rate may change while this call waits: look again at least every
            // 100 ms.
            tokio::time::sleep_until(slot.min(Instant::now() + RECHECK)).await;
        }
    }

    /// Waits for a retry's turn, at most `limit`; then it goes anyway and takes the
    /// next turn, so that retries and first attempts together keep to the rate.
    pub async fn wait_retry_turn(&self, limit: Duration) {
        let now = Instant::now();
        if !self.wait_turn(now + limit).await {
            self.retry_started(now);
        }
    }

    /// A retry started at `now` without waiting its turn: it takes the next turn.
    pub fn retry_started(&self, now: Instant) {
        let mut state = self.state();
        if let Some(rate) = state.rate(now, self.cap) {
            let interval = Duration::from_secs_f64(1.0 / rate);
            let next = state.last_start.map_or(now, |last| last + interval);
            state.last_start = Some(next.max(now));
        }
    }

    /// AWS answered a call without throttling it.
    pub fn accepted(&self, now: Instant) {
        let mut state = self.state();
        state.accepted.push_back(now);
        prune(&mut state.accepted, now);
    }

    /// AWS throttled a call (attempt) that started at `started`.
    pub fn throttled(&self, started: Instant, now: Instant) {
        let mut state = self.state();
        state.throttled += 1;
        if state.ceiling.is_some() && started < state.decreased + DECREASE_HOLD {
            return;
        }
        let current = state.rate(now, self.cap);
        let measured = state.measured(now);
        let ceiling = match (current, measured) {
            (Some(rate), Some(measured)) => rate.min(measured),
            (Some(rate), None) => rate,
            (None, Some(measured)) => measured,
            // Throttled before anything got through: start low and grow.
            (None, None) => 1.0,
        };
        state.ceiling = Some(ceiling.max(MIN_LEARNED));
        state.decreased = now;
        // Resume the schedule as if the calls AWS accepted over the last second had
        // been paced at the new rate: after a burst, the next call waits until the
        // burst is spent, as AWS's quota sees it.
        if let Some(rate) = state.rate(now, self.cap) {
            let recent: Vec<Instant> = state
                .accepted
                .iter()
                .copied()
                .filter(|&at| now.saturating_duration_since(at) < Duration::from_secs(1))
                .collect();
            if let Some(&oldest) = recent.first() {
                let spent = oldest + Duration::from_secs_f64((recent.len() - 1) as f64 / rate);
                state.last_start = Some(state.last_start.map_or(spent, |last| last.max(spent)));
            }
        }
    }
}

fn prune(accepted: &mut VecDeque<Instant>, now: Instant) {
    while accepted
        .front()
        .is_some_and(|&at| now.saturating_duration_since(at) > MEASURE_WINDOW)
    {
        accepted.pop_front();
    }
}

#[cfg(test)]
mod tests;
