//! What requests fall back on, and which copy destinations they may name: the
//! operator's settings, given to the core as a plain value.

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
