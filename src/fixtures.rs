//! Values shared by the unit tests of the pure core.

use crate::settings::Settings;

pub const RESOURCE: &str = "arn:aws:ec2:eu-west-1:123456789012:volume/vol-0123456789abcdef0";
pub const RECOVERY_POINT: &str = "arn:aws:ec2:eu-west-1::snapshot/snap-0123456789abcdef0";
pub const ROLE: &str = "arn:aws:iam::123456789012:role/BackupRole";
pub const DESTINATION: &str = "arn:aws:backup:eu-central-1:123456789012:backup-vault:Copies";
pub const OTHER_DESTINATION: &str = "arn:aws:backup:us-east-1:210987654321:backup-vault:Elsewhere";

/// Settings with every default set.
pub fn settings() -> Settings {
    Settings {
        backup_vault_name: Some("Main".into()),
        backup_iam_role_arn: Some(ROLE.into()),
        copy_destination_vault_arn: Some(DESTINATION.into()),
        ..Settings::default()
    }
}

/// Settings with a copy allow-list.
pub fn allowing(allowed: &[&str]) -> Settings {
    Settings {
        allowed_destination_vault_arns: Some(allowed.iter().map(|s| s.to_string()).collect()),
        ..settings()
    }
}
