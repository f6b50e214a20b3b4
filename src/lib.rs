//! backup-trigger: an AWS Lambda function that turns backup requests into AWS Backup jobs.
//!
//! The layers, each importing only those below it (docs/architecture.md):
//! [`handler`] runs one invocation: it reads each event into a [`command::Command`],
//! runs it, and finishes the [`report::Report`] every command returns into log
//! lines, the metrics line and the answer. Commands do their I/O through the
//! adapters of [`io`] and decide with the pure [`core`]. [`main`](../bootstrap/index.html),
//! [`local`], [`wiring`], [`settings`] and [`logging`] wire it all together.

pub mod command;
pub mod core;
pub mod handler;
pub mod io;
pub mod local;
pub mod logging;
pub mod report;
pub mod settings;
pub mod wiring;
