//! The I/O adapters: each talks to one outside service (AWS Backup, the Resource
//! Groups Tagging API, SQS) behind a narrow trait, or stands in for it (a dry run,
//! files of what the AWS CLI prints, a fake in tests). [`Io`] holds the ones an
//! instance works with, chosen once at start: whether a run is dry is decided
//! there, and nowhere else.

pub mod backup;
pub mod enqueue;
pub mod future;
pub mod inventory;
pub mod listings;
pub mod pages;
pub mod rate;
pub mod sdk;
pub mod send;

use std::sync::Arc;

use crate::io::enqueue::Queue;
use crate::io::inventory::Inventory;
use crate::io::listings::Listings;
use crate::io::rate::Limiter;
use crate::io::send::JobStarter;

/// The adapters of one function instance.
#[derive(Clone)]
pub struct Io {
    /// Starts backup and copy jobs (or, in a dry run, says it would).
    pub starter: Arc<dyn JobStarter>,
    /// Where selections find resources.
    pub inventory: Arc<dyn Inventory>,
    /// Where audits read protected resources and jobs.
    pub listings: Arc<dyn Listings>,
    /// Where selections fan out (`REQUEST_QUEUE_URL`); None: their jobs start in
    /// the invocation.
    pub queue: Option<Queue>,
    /// The process's pace of AWS Backup calls; None: not paced (a dry run calls nothing).
    pub limiter: Option<Arc<Limiter>>,
}
