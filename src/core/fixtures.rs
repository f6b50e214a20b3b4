//! Values shared by the unit tests of the pure core.

use crate::core::defaults::Defaults;
use crate::core::error::Invalid;

pub const RESOURCE: &str = "arn:aws:ec2:eu-west-1:123456789012:volume/vol-0123456789abcdef0";
pub const RECOVERY_POINT: &str = "arn:aws:ec2:eu-west-1::snapshot/snap-0123456789abcdef0";
pub const ROLE: &str = "arn:aws:iam::123456789012:role/BackupRole";
pub const DESTINATION: &str = "arn:aws:backup:eu-central-1:123456789012:backup-vault:Copies";
pub const OTHER_DESTINATION: &str = "arn:aws:backup:us-east-1:210987654321:backup-vault:Elsewhere";

/// Defaults with every value set.
pub fn defaults() -> Defaults {
    Defaults {
        vault: Some("Main".into()),
        role: Some(ROLE.into()),
        copy_destination: Some(DESTINATION.into()),
        allowed_destinations: None,
    }
}

/// Defaults with a copy allow-list.
pub fn allowing(allowed: &[&str]) -> Defaults {
    Defaults {
        allowed_destinations: Some(allowed.iter().map(|s| s.to_string()).collect()),
        ..defaults()
    }
}

/// The problem at `path` among `problems`.
#[track_caller]
pub fn at<'a>(problems: &'a [Invalid], path: &str) -> &'a Invalid {
    problems
        .iter()
        .find(|p| p.at == path)
        .unwrap_or_else(|| panic!("no problem at {path:?} in {problems:?}"))
}

/// Asserts where the problem is and that what the user reads has every `fragment`.
#[track_caller]
pub fn assert_says(problem: &Invalid, path: &str, fragments: &[&str]) {
    assert_eq!(problem.at, path, "{problem}");
    let text = problem.to_string();
    for fragment in fragments {
        assert!(text.contains(fragment), "{text:?} should contain {fragment:?}");
    }
}
