//! The listing files of a local dry run: what the AWS CLI prints, dated as it
//! prints dates or relative to the run, paged and filtered as AWS would.

use serde_json::json;

use super::*;

/// 2026-11-22T09:00:00Z
const NOW: Timestamp = Timestamp::from_millis(1_795_338_000_000);
const HOUR: i64 = 3_600_000;

#[test]
fn times_read_as_the_cli_prints_them_or_relative_to_the_run() {
    let at = |value| time_of(&value, NOW).map(Timestamp::millis);
    assert_eq!(at(json!("2026-11-22T09:00:00.000000+00:00")), Some(NOW.millis()));
    assert_eq!(at(json!(1_795_338_000.5)), Some(NOW.millis() + 500));
    assert_eq!(at(json!("now")), Some(NOW.millis()));
    assert_eq!(at(json!("now-30h")), Some(NOW.millis() - 30 * HOUR));
    assert_eq!(at(json!("now-2d")), Some(NOW.millis() - 48 * HOUR));
    assert_eq!(at(json!("now-90m")), Some(NOW.millis() - 90 * 60_000));
    for bad in [
        json!("yesterday"),
        json!("now+3h"),
        json!("now-3w"),
        json!("now-h"),
        json!(null),
        json!("now-99999999999999999d"),
    ] {
        assert_eq!(at(bad.clone()), None, "{bad}");
    }
}

#[tokio::test]
async fn files_read_what_the_cli_prints_and_filter_jobs_by_creation() {
    let protected = json!({ "Results": [
        { "ResourceArn": "arn:aws:s3:::a", "ResourceType": "S3", "LastBackupTime": "now-3h",
          "LastBackupVaultArn": "arn:aws:backup:eu-west-1:123456789012:backup-vault:Default" },
        { "ResourceArn": "arn:aws:s3:::b", "LastBackupTime": "2026-11-20T09:00:00+00:00" },
    ]});
    let jobs = json!({ "BackupJobs": [
        { "BackupJobId": "j1", "ResourceArn": "arn:aws:s3:::b", "CreationDate": "now-5h", "State": "FAILED",
          "StatusMessage": "Access denied" },
        { "BackupJobId": "j0", "ResourceArn": "arn:aws:s3:::b", "CreationDate": "now-40h", "State": "COMPLETED" },
    ]});
    let files = ListingFiles::parse(&protected.to_string(), Some(&jobs.to_string()), NOW).unwrap();
    let page = files.protected(None).await.unwrap();
    assert_eq!(page.next, None);
    assert_eq!(
        page.items[0].last_backup,
        Timestamp::from_millis(NOW.millis() - 3 * HOUR)
    );
    assert!(page.items[0].vault.is_some() && page.items[1].vault.is_none());
    assert_eq!(
        page.items[1].last_backup,
        Timestamp::from_millis(NOW.millis() - 48 * HOUR)
    );
    let listed = files.jobs(NOW.hours_before(26), None).await.unwrap();
    assert_eq!(listed.items.len(), 1, "only the jobs created since the cutoff");
    assert_eq!(
        (listed.items[0].job.id.as_str(), listed.items[0].job.message.as_deref()),
        ("j1", Some("Access denied"))
    );
    let no_jobs = ListingFiles::parse(&protected.to_string(), None, NOW).unwrap();
    assert!(no_jobs.jobs(NOW.hours_before(26), None).await.unwrap().items.is_empty());
}

#[tokio::test]
async fn a_long_listing_comes_in_pages_of_a_thousand() {
    let results: Vec<_> = (0..2_500)
        .map(|i| json!({ "ResourceArn": format!("arn:aws:s3:::b{i}"), "LastBackupTime": 1_795_338_000 }))
        .collect();
    let files = ListingFiles::parse(&json!({ "Results": results }).to_string(), None, NOW).unwrap();
    let mut token = None;
    let mut sizes = Vec::new();
    loop {
        let page = files.protected(token).await.unwrap();
        sizes.push(page.items.len());
        match page.next {
            Some(next) => token = Some(next),
            None => break,
        }
    }
    assert_eq!(sizes, [1_000, 1_000, 500]);
    assert!(files.protected(Some("elsewhere".into())).await.is_err());
}

/// The jobs created since the cutoff come in pages of at most 1,000, each once,
/// however the older ones lie between them.
#[tokio::test]
async fn jobs_since_the_cutoff_come_in_pages_each_once() {
    let jobs: Vec<_> = (0..5_000)
        .map(|i| {
            let created = if i % 2 == 0 || i >= 4_000 { "now-40h" } else { "now-5h" };
            json!({ "BackupJobId": format!("j{i}"), "ResourceArn": format!("arn:aws:s3:::b{i}"),
                    "CreationDate": created, "State": "COMPLETED" })
        })
        .collect();
    let files = ListingFiles::parse(
        r#"{"Results": []}"#,
        Some(&json!({ "BackupJobs": jobs }).to_string()),
        NOW,
    )
    .unwrap();
    let mut token = None;
    let mut ids = Vec::new();
    let mut sizes = Vec::new();
    loop {
        let page = files.jobs(NOW.hours_before(26), token).await.unwrap();
        sizes.push(page.items.len());
        ids.extend(page.items.into_iter().map(|j| j.job.id));
        match page.next {
            Some(next) => token = Some(next),
            None => break,
        }
    }
    assert_eq!(sizes, [1_000, 1_000]);
    let want: Vec<String> = (0..4_000).filter(|i| i % 2 == 1).map(|i| format!("j{i}")).collect();
    assert_eq!(ids, want);
}

#[test]
fn a_file_of_another_shape_says_what_was_expected() {
    let error = ListingFiles::parse(r#"{"Resources": []}"#, None, NOW).unwrap_err();
    assert!(error.contains("list-protected-resources"), "{error}");
    let error = ListingFiles::parse(r#"{"Results": []}"#, Some(r#"{"Jobs": []}"#), NOW).unwrap_err();
    assert!(error.contains("list-backup-jobs"), "{error}");
    let error = ListingFiles::parse(
        r#"{"Results": [{"ResourceArn": "arn:aws:s3:::a", "LastBackupTime": "soon"}]}"#,
        None,
        NOW,
    )
    .unwrap_err();
    assert!(
        error.contains("arn:aws:s3:::a") && error.contains("not a time"),
        "{error}"
    );
}
