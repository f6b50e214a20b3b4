//! backup-trigger: an AWS Lambda function that turns backup requests into AWS Backup jobs.
//!
//! The pure core ([`event`], [`request`], [`token`]) turns an incoming event into a
//! [`event::Plan`] of validated jobs without any I/O. [`send`] runs a plan with bounded
//! concurrency and the invocation's deadline, through a [`send::JobStarter`]: the AWS
//! SDK ([`aws`]) or a dry run; [`rate`] paces the calls of the whole process.
//! [`handler`] ties one invocation together, [`answer`] shapes what Lambda gets back,
//! [`logging`] writes the JSON log lines and [`metrics`] the one metrics line of each
//! invocation.

pub mod answer;
pub mod aws;
pub mod enqueue;
pub mod error;
pub mod event;
#[cfg(test)]
mod fixtures;
pub mod handler;
pub mod inventory;
pub mod local;
pub mod logging;
pub mod metrics;
pub mod rate;
pub mod request;
pub mod resolve;
pub mod send;
pub mod settings;
pub mod suggest;
pub mod token;
