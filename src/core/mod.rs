//! The pure core: what a request, a selection, a job's outcome and an audit are,
//! and the rules they follow. No I/O, no clock, no settings: everything it needs
//! comes in as a value ([`Defaults`], the time of an audit), and it imports std,
//! serde, serde_json, uuid and thiserror only, never a layer above it
//! (docs/architecture.md; `tests/architecture.rs` checks it).

pub mod audit;
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

/// What a request falls back on for the fields it leaves out, and which copy
/// destinations it may name: the operator's choices, as plain values.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Defaults {
    /// `BackupVaultName` of a backup and `SourceBackupVaultName` of a copy.
    pub vault: Option<String>,
    /// `IamRoleArn`.
    pub role: Option<String>,
    /// `DestinationBackupVaultArn` of a copy, and the destination of the copy a
    /// completed on-demand backup asks for.
    pub copy_destination: Option<String>,
    /// The only destinations a copy may name; None: any.
    pub allowed_destinations: Option<Vec<String>>,
}

impl Defaults {
    /// Whether a copy may go to `destination`.
    pub fn allows(&self, destination: &str) -> bool {
        self.allowed_destinations
            .as_ref()
            .is_none_or(|allowed| allowed.iter().any(|a| a == destination))
    }
}
