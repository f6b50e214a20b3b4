//! Wiring: the function as it runs in AWS (or as `bootstrap invoke` runs it), made
//! once at start from its settings: the adapters it works through ([`aws_io`]), and
//! the [`App`] an invocation is handled with ([`app`]).

use std::sync::Arc;

use crate::handler::App;
use crate::io::backup::{AwsBackup, AwsListings};
use crate::io::enqueue::{Queue, SqsQueue};
use crate::io::inventory::{Inventory, TaggingApi};
use crate::io::listings::Listings;
use crate::io::rate::Limiter;
use crate::io::sdk;
use crate::io::send::DryRun;
use crate::io::Io;
use crate::report::metrics::{Emitter, Sink};
use crate::settings::Settings;

/// The adapters of a function in AWS, from one loaded configuration: the Tagging
/// API, AWS Backup's listings, and, unless `DRY_RUN`, AWS Backup's jobs (paced by
/// one limiter for the process) and the request queue. The one place where a dry
/// run is decided: it reads what it must (selections find their resources, audits
/// read their listings) and starts and sends nothing.
pub fn aws_io(config: &aws_config::SdkConfig, settings: &Settings) -> Io {
    let inventory = Arc::new(TaggingApi::new(aws_sdk_resourcegroupstagging::Client::new(config)));
    let listings = Arc::new(AwsListings::new(aws_sdk_backup::Client::new(config)));
    if settings.dry_run {
        return dry_run_io(settings, inventory, listings);
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

/// A dry run's adapters: it reads through `inventory` and `listings`, and starts
/// and sends nothing.
pub fn dry_run_io(settings: &Settings, inventory: Arc<dyn Inventory>, listings: Arc<dyn Listings>) -> Io {
    Io {
        starter: Arc::new(DryRun),
        inventory,
        listings,
        queue: settings.request_queue_url.as_ref().map(|_| Queue::DryRun),
        limiter: None,
    }
}

/// The app of `settings`, working through `io`, its metrics line to stdout.
pub fn app(settings: &Settings, io: Io) -> App {
    let metrics = Emitter::new(
        &settings.metrics_namespace,
        &settings.function_name,
        settings.metrics_level,
        Sink::Stdout,
    );
    App::new(settings.defaults(), io, settings.max_concurrency, metrics)
}
