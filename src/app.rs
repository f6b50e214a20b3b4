//! What the function holds between invocations: the defaults requests fall back on,
//! the adapters it works through, its limits, where its metrics line goes, and its
//! clock. Built once at start, by `main` (or `local` for `bootstrap invoke`).

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use tokio::sync::Semaphore;

use crate::core::time::Timestamp;
use crate::core::Defaults;
use crate::io::backup::{AwsBackup, AwsListings};
use crate::io::enqueue::{Queue, SqsQueue};
use crate::io::inventory::TaggingApi;
use crate::io::rate::Limiter;
use crate::io::sdk;
use crate::io::send::{DryRun, Limits};
use crate::io::Io;
use crate::report::metrics::{Emitter, Sink};
use crate::settings::Settings;

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

/// The adapters of a function in AWS, from one loaded configuration: the Tagging
/// API, AWS Backup's listings, and, unless `DRY_RUN`, AWS Backup's jobs (paced by
/// one limiter for the process) and the request queue. The one place where a dry
/// run is decided: it reads what it must (selections find their resources, audits
/// read their listings) and starts and sends nothing.
pub fn aws_io(config: &aws_config::SdkConfig, settings: &Settings) -> Io {
    let inventory = Arc::new(TaggingApi::new(aws_sdk_resourcegroupstagging::Client::new(config)));
    let listings = Arc::new(AwsListings::new(aws_sdk_backup::Client::new(config)));
    if settings.dry_run {
        return Io {
            starter: Arc::new(DryRun),
            inventory,
            listings,
            queue: settings.request_queue_url.as_ref().map(|_| Queue::DryRun),
            limiter: None,
        };
    }
    let limiter = Arc::new(Limiter::new(settings.max_calls_per_second));
    let starter = AwsBackup::new(sdk::backup_client(config, Arc::clone(&limiter)));
    let queue = settings
        .request_queue_url
        .as_ref()
        .map(|url| Queue::Sqs(Arc::new(SqsQueue::new(aws_sdk_sqs::Client::new(config), url.clone()))));
    Io {
        starter: Arc::new(starter),
        inventory,
        listings,
        queue,
        limiter: Some(limiter),
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
    pub fn new(settings: &Settings, io: Io) -> App {
        App {
            defaults: settings.defaults(),
            io,
            max_concurrency: settings.max_concurrency,
            metrics: Emitter::new(
                &settings.metrics_namespace,
                &settings.function_name,
                settings.metrics_level,
                Sink::Stdout,
            ),
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
