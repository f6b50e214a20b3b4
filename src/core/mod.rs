//! The pure core: what a request, a selection, a job's outcome and an audit are,
//! and the rules they follow. No I/O, no clock, no settings: everything it needs
//! comes in as a value ([`defaults::Defaults`], the time of an audit), and it imports std,
//! serde, serde_json, uuid and thiserror only, never a layer above it
//! (docs/architecture.md; `tests/architecture.rs` checks it).

pub mod audit;
pub mod defaults;
pub mod error;
pub mod job;
pub mod outcome;
pub mod request;
pub mod selection;
pub mod suggest;
pub mod time;
pub mod token;

#[cfg(test)]
pub(crate) mod fixtures;
