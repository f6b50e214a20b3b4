//! What the function holds between invocations: the defaults requests fall back on,
//! the adapters it works through, its limits, where its metrics line goes, and its
//! clock. Made once at start (`wiring::app`).

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use tokio::sync::Semaphore;

use crate::core::defaults::Defaults;
use crate::core::time::Timestamp;
use crate::io::send::Limits;
use crate::io::Io;
use crate::report::metrics::{Emitter, Sink};

/// The time commands run at (an audit's "now").
#[derive(Debug, Clone, Copy)]
pub enum Clock {
    System,
    /// A fixed time: a local run with `--now`, or a test.
    Fixed(Timestamp),
}

impl Clock {
    pub fn now(self) -> Timestamp {
        match self {
            Clock::System => {
                let millis = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map(|d| d.as_millis() as i64)
                    .unwrap_or(0);
                Timestamp::from_millis(millis)
            }
            Clock::Fixed(at) => at,
        }
    }
}

pub struct App {
    pub defaults: Defaults,
    pub io: Io,
    /// `MAX_CONCURRENCY`: calls in flight at once in one invocation.
    pub max_concurrency: usize,
    /// Writes each invocation's metrics line (to stdout unless told otherwise).
    pub metrics: Emitter,
    pub clock: Clock,
}

impl App {
    pub fn new(defaults: Defaults, io: Io, max_concurrency: usize, metrics: Emitter) -> App {
        App {
            defaults,
            io,
            max_concurrency,
            metrics,
            clock: Clock::System,
        }
    }

    /// Writes the metrics lines to `sink` instead of stdout.
    pub fn with_metrics_sink(mut self, sink: Sink) -> App {
        self.metrics = self.metrics.with_sink(sink);
        self
    }

    pub fn with_clock(mut self, clock: Clock) -> App {
        self.clock = clock;
        self
    }

    /// The limits of one invocation: `MAX_CONCURRENCY` calls at once, at the
    /// process's pace.
    pub fn limits(&self) -> Limits {
        Limits {
            permits: Arc::new(Semaphore::new(self.max_concurrency)),
            limiter: self.io.limiter.clone(),
        }
    }
}
