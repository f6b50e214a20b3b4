//! What every accepted job must be, whatever the input: shared by the property
//! tests (`tests/properties.rs`) and the fuzzer (`fuzz/src/lib.rs`), which include
//! this file with `#[path]`, so that the rules are written once.

use backup_trigger::core::request::{rules, Job};

/// Asserts that `job` keeps every rule of a request; a copy may go to
/// `allowed_destination` only (the allow-list of the settings under test).
pub fn assert_valid(job: &Job, allowed_destination: &str) {
    match job {
        Job::StartBackupJob(b) => {
            assert!(rules::arn(b.resource_arn()).is_ok());
            assert!(rules::vault_name(b.backup_vault_name()).is_ok());
            assert!(rules::iam_role_arn(b.iam_role_arn()).is_ok());
            if let Some(w) = b.start_window_minutes() {
                assert!(rules::within(w, rules::START_WINDOW).is_ok());
            }
            if let Some(w) = b.complete_window_minutes() {
                assert!(rules::within(w, rules::COMPLETE_WINDOW).is_ok());
            }
            if let Some(tags) = b.recovery_point_tags() {
                assert!(tags.iter().count() <= rules::MAX_TAGS);
                assert!(tags
                    .iter()
                    .all(|(k, v)| rules::tag_key(k).is_ok() && rules::tag_value(v).is_ok()));
            }
        }
        Job::StartCopyJob(c) => {
            assert!(rules::arn(c.recovery_point_arn()).is_ok());
            assert!(rules::vault_name(c.source_backup_vault_name()).is_ok());
            assert_eq!(
                c.destination_backup_vault_arn(),
                allowed_destination,
                "only the allowed destination"
            );
            assert!(rules::iam_role_arn(c.iam_role_arn()).is_ok());
        }
    }
    assert!(!job.idempotency_token().is_empty());
}
