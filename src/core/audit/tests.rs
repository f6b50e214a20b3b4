//! The audit's rules (docs/reference.md, "Audits"): its fields, what protected
//! means at the `MaxAgeHours` boundary, in progress and unprotected, the order of
//! findings and remediations, `MaxRemediations`.

use serde_json::{json, Value};

use super::*;
use crate::core::fixtures::{assert_says, at};

const HOUR: i64 = 3_600_000;
/// 2026-11-22T09:00:00Z
const NOW: Timestamp = Timestamp::from_millis(1_795_338_000_000);
const VAULT: &str = "arn:aws:backup:eu-west-1:123456789012:backup-vault:Default";

fn arn(name: &str) -> String {
    format!("arn:aws:dynamodb:eu-west-1:123456789012:table/{name}")
}

fn hours_ago(hours: i64) -> Timestamp {
    Timestamp::from_millis(NOW.millis() - hours * HOUR)
}

fn audit(max_age_hours: i64, remediate: bool, max_remediations: usize) -> Audit {
    Audit {
        max_age_hours,
        remediate,
        max_remediations,
    }
}

fn parsed(audit: Value) -> Result<Audit, Vec<Invalid>> {
    let event = json!({ "Selection": {}, "Audit": audit });
    parse(event.as_object().unwrap())
}

fn job(id: &str, hours_ago_created: i64, state: &str, message: Option<&str>) -> LastJob {
    LastJob {
        id: id.into(),
        created: hours_ago(hours_ago_created),
        state: state.into(),
        message: message.map(str::to_owned),
    }
}

fn arns(verdict: &Verdict) -> Vec<String> {
    verdict.findings.iter().map(|f| f.arn.clone()).collect()
}

fn remediated(verdict: &Verdict) -> Vec<String> {
    verdict
        .findings
        .iter()
        .filter(|f| f.remediate)
        .map(|f| f.arn.clone())
        .collect()
}

// ---- The Audit object ----

#[test]
fn an_audit_takes_its_three_fields_and_defaults() {
    assert_eq!(parsed(json!({ "MaxAgeHours": 26 })), Ok(audit(26, false, 1_000)));
    assert_eq!(
        parsed(json!({ "MaxAgeHours": 1, "Remediate": true, "MaxRemediations": 100_000 })),
        Ok(audit(1, true, 100_000))
    );
    assert_eq!(
        parsed(json!({ "MaxAgeHours": 8_760, "Remediate": null, "MaxRemediations": 1 })),
        Ok(audit(8_760, false, 1))
    );
}

#[test]
fn max_age_hours_is_required_and_bounded() {
    let problems = parsed(json!({})).unwrap_err();
    assert_says(
        at(&problems, "Audit.MaxAgeHours"),
        "Audit.MaxAgeHours",
        &["is required"],
    );
    for (value, says) in [
        (json!(0), "below the minimum of 1"),
        (json!(8_761), "above the maximum of 8760"),
        (json!(26.5), "whole number"),
        (json!("26"), "whole number"),
    ] {
        let problems = parsed(json!({ "MaxAgeHours": value })).unwrap_err();
        assert_says(at(&problems, "Audit.MaxAgeHours"), "Audit.MaxAgeHours", &[says]);
    }
}

#[test]
fn remediate_and_max_remediations_follow_their_rules() {
    let problems = parsed(json!({ "MaxAgeHours": 26, "Remediate": "yes", "MaxRemediations": 0 })).unwrap_err();
    assert_says(
        at(&problems, "Audit.Remediate"),
        "Audit.Remediate",
        &["true or false", "\"yes\""],
    );
    assert_says(
        at(&problems, "Audit.MaxRemediations"),
        "Audit.MaxRemediations",
        &["below the minimum of 1"],
    );
    let problems = parsed(json!({ "MaxAgeHours": 26, "MaxRemediations": 100_001 })).unwrap_err();
    assert_says(
        at(&problems, "Audit.MaxRemediations"),
        "Audit.MaxRemediations",
        &["above the maximum of 100000"],
    );
}

#[test]
fn unknown_fields_are_refused_with_a_hint() {
    let problems = parsed(json!({ "MaxAgeHours": 26, "MaxAgeHour": 2, "Colour": 1 })).unwrap_err();
    assert_says(
        at(&problems, "Audit.\"MaxAgeHour\""),
        "Audit.\"MaxAgeHour\"",
        &["did you mean \"MaxAgeHours\""],
    );
    assert_says(
        at(&problems, "Audit.\"Colour\""),
        "Audit.\"Colour\"",
        &["MaxAgeHours, Remediate, MaxRemediations"],
    );
}

#[test]
fn an_audit_that_is_not_an_object_says_what_it_should_be() {
    let problems = parsed(json!(26)).unwrap_err();
    assert_says(at(&problems, "Audit"), "Audit", &["must be an object", "a number"]);
}

// ---- Protected, in progress, unprotected ----

#[test]
fn a_backup_exactly_max_age_hours_old_protects_and_one_millisecond_older_does_not() {
    let mut ledger = Ledger::default();
    ledger.audit(&arn("at-the-limit"), "DynamoDB");
    ledger.protected(&arn("at-the-limit"), hours_ago(26), Some(VAULT));
    ledger.audit(&arn("just-over"), "DynamoDB");
    ledger.protected(
        &arn("just-over"),
        Timestamp::from_millis(hours_ago(26).millis() - 1),
        Some(VAULT),
    );
    let verdict = ledger.verdict(NOW, &audit(26, false, 1_000));
    assert_eq!((verdict.audited, verdict.protected, verdict.unprotected), (2, 1, 1));
    assert_eq!(arns(&verdict), [arn("just-over")]);
}

#[test]
fn a_resource_never_listed_as_protected_was_never_backed_up() {
    let mut ledger = Ledger::default();
    ledger.audit(&arn("new"), "DynamoDB");
    let verdict = ledger.verdict(NOW, &audit(26, false, 1_000));
    assert_eq!(verdict.unprotected, 1);
    let finding = &verdict.findings[0];
    assert_eq!((finding.last_backup.as_ref(), finding.age_hours(NOW)), (None, None));
    assert_eq!(verdict.oldest_backup_age, None, "no audited resource has a backup");
}

#[test]
fn protected_resources_the_selection_does_not_audit_are_not_counted() {
    let mut ledger = Ledger::default();
    ledger.protected(&arn("someone-elses"), hours_ago(400), None);
    ledger.audit(&arn("ours"), "DynamoDB");
    ledger.protected(&arn("ours"), hours_ago(2), Some(VAULT));
    assert!(
        !ledger.any_stale(hours_ago(26)),
        "only audited resources need the jobs listing"
    );
    let verdict = ledger.verdict(NOW, &audit(26, false, 1_000));
    assert_eq!((verdict.audited, verdict.protected, verdict.findings.len()), (1, 1, 0));
    assert_eq!(verdict.oldest_backup_age, Some(2 * 3_600));
}

#[test]
fn a_running_job_makes_a_stale_resource_in_progress_and_the_last_job_says_why() {
    let cutoff = hours_ago(26);
    let mut ledger = Ledger::default();
    for name in ["running", "failing", "quiet"] {
        ledger.audit(&arn(name), "DynamoDB");
        ledger.protected(&arn(name), hours_ago(50), Some(VAULT));
    }
    assert!(ledger.any_stale(cutoff));
    ledger.job(cutoff, &arn("running"), job("j1", 20, "FAILED", Some("Access denied")));
    ledger.job(cutoff, &arn("running"), job("j2", 1, "RUNNING", None));
    ledger.job(
        cutoff,
        &arn("failing"),
        job("j3", 5, "FAILED", Some("Insufficient privileges")),
    );
    ledger.job(cutoff, &arn("failing"), job("j4", 10, "ABORTED", None));
    let verdict = ledger.verdict(NOW, &audit(26, true, 1_000));
    assert_eq!((verdict.in_progress, verdict.unprotected), (1, 2));
    let by_arn = |name: &str| verdict.findings.iter().find(|f| f.arn == arn(name)).unwrap();
    let running = by_arn("running");
    assert!(
        running.in_progress && !running.remediate,
        "in progress is never remediated"
    );
    assert_eq!(running.last_job.as_ref().unwrap().state, "RUNNING");
    let failing = by_arn("failing");
    assert!(!failing.in_progress && failing.remediate);
    let last = failing.last_job.as_ref().unwrap();
    assert_eq!(
        (last.state.as_str(), last.message.as_deref()),
        ("FAILED", Some("Insufficient privileges")),
        "the most recently created job"
    );
    assert_eq!(by_arn("quiet").last_job, None, "no job was listed");
}

#[test]
fn jobs_of_protected_or_unaudited_resources_change_nothing() {
    let cutoff = hours_ago(26);
    let mut ledger = Ledger::default();
    ledger.audit(&arn("fresh"), "DynamoDB");
    ledger.protected(&arn("fresh"), hours_ago(1), None);
    ledger.job(cutoff, &arn("fresh"), job("j1", 1, "RUNNING", None));
    ledger.job(cutoff, &arn("not-audited"), job("j2", 1, "RUNNING", None));
    let verdict = ledger.verdict(NOW, &audit(26, false, 1_000));
    assert_eq!(
        (verdict.protected, verdict.in_progress, verdict.findings.len()),
        (1, 0, 0)
    );
}

#[test]
fn every_audited_resource_is_counted_once_in_one_of_three() {
    let mut ledger = Ledger::default();
    assert!(ledger.audit(&arn("a"), "DynamoDB"));
    assert!(!ledger.audit(&arn("a"), "DynamoDB"), "listed twice, audited once");
    ledger.audit(&arn("b"), "DynamoDB");
    ledger.audit(&arn("c"), "DynamoDB");
    ledger.protected(&arn("a"), hours_ago(1), None);
    ledger.protected(&arn("b"), hours_ago(100), None);
    ledger.job(hours_ago(26), &arn("b"), job("j", 3, "PENDING", None));
    let verdict = ledger.verdict(NOW, &audit(26, false, 1_000));
    assert_eq!(ledger_counts(&verdict), (3, 1, 1, 1));
}

fn ledger_counts(verdict: &Verdict) -> (usize, usize, usize, usize) {
    (
        verdict.audited,
        verdict.protected,
        verdict.in_progress,
        verdict.unprotected,
    )
}

#[test]
fn a_resource_listed_twice_as_protected_keeps_its_latest_backup() {
    let mut ledger = Ledger::default();
    ledger.audit(&arn("a"), "DynamoDB");
    ledger.protected(&arn("a"), hours_ago(1), Some(VAULT));
    ledger.protected(
        &arn("a"),
        hours_ago(90),
        Some("arn:aws:backup:eu-west-1:123456789012:backup-vault:Old"),
    );
    let verdict = ledger.verdict(NOW, &audit(26, false, 1_000));
    assert_eq!(verdict.protected, 1);
    assert_eq!(verdict.oldest_backup_age, Some(3_600));
}

// ---- Order, remediation, MaxRemediations ----

fn fleet() -> Ledger {
    let mut ledger = Ledger::default();
    // Never backed up: b-never, a-never; stale: old (100 h), older (200 h),
    // stale-running (300 h, in progress); fresh.
    for name in ["b-never", "a-never", "old", "older", "stale-running", "fresh"] {
        ledger.audit(&arn(name), "DynamoDB");
    }
    ledger.protected(&arn("old"), hours_ago(100), Some(VAULT));
    ledger.protected(&arn("older"), hours_ago(200), Some(VAULT));
    ledger.protected(&arn("stale-running"), hours_ago(300), Some(VAULT));
    ledger.protected(&arn("fresh"), hours_ago(3), Some(VAULT));
    ledger.job(hours_ago(26), &arn("stale-running"), job("j", 2, "CREATED", None));
    ledger
}

#[test]
fn findings_come_never_backed_up_first_then_oldest_first_then_by_arn() {
    let verdict = fleet().verdict(NOW, &audit(26, false, 1_000));
    assert_eq!(
        arns(&verdict),
        [
            arn("a-never"),
            arn("b-never"),
            arn("stale-running"),
            arn("older"),
            arn("old")
        ]
    );
    assert!(remediated(&verdict).is_empty(), "nothing without Remediate");
    assert_eq!(verdict.oldest_backup_age, Some(300 * 3_600));
}

#[test]
fn remediation_takes_the_oldest_unprotected_up_to_max_remediations_never_in_progress() {
    let verdict = fleet().verdict(NOW, &audit(26, true, 3));
    assert_eq!(remediated(&verdict), [arn("a-never"), arn("b-never"), arn("older")]);
    let verdict = fleet().verdict(NOW, &audit(26, true, 1_000));
    assert_eq!(
        remediated(&verdict),
        [arn("a-never"), arn("b-never"), arn("older"), arn("old")]
    );
    let verdict = fleet().verdict(NOW, &audit(26, true, 1));
    assert_eq!(remediated(&verdict), [arn("a-never")]);
}

#[test]
fn the_order_of_the_listings_changes_nothing() {
    let mut forward = Ledger::default();
    let mut backward = Ledger::default();
    let names = ["x", "y", "z"];
    let cutoff = hours_ago(26);
    for name in names {
        forward.audit(&arn(name), "DynamoDB");
        forward.protected(&arn(name), hours_ago(40), None);
    }
    for name in names.iter().rev() {
        backward.protected(&arn(name), hours_ago(40), None);
        backward.audit(&arn(name), "DynamoDB");
    }
    // Two jobs created at the same time: the greater id wins, whatever the order.
    forward.job(cutoff, &arn("x"), job("a", 5, "FAILED", Some("first")));
    forward.job(cutoff, &arn("x"), job("b", 5, "ABORTED", Some("second")));
    backward.job(cutoff, &arn("x"), job("b", 5, "ABORTED", Some("second")));
    backward.job(cutoff, &arn("x"), job("a", 5, "FAILED", Some("first")));
    let (f, b) = (
        forward.verdict(NOW, &audit(26, true, 2)),
        backward.verdict(NOW, &audit(26, true, 2)),
    );
    assert_eq!(f.findings, b.findings);
    assert_eq!(f.findings[0].last_job.as_ref().unwrap().id, "b");
}

#[test]
fn a_long_status_message_is_cut() {
    let cutoff = hours_ago(26);
    let mut ledger = Ledger::default();
    ledger.audit(&arn("a"), "DynamoDB");
    ledger.job(cutoff, &arn("a"), job("j", 1, "FAILED", Some(&"m".repeat(10_000))));
    let verdict = ledger.verdict(NOW, &audit(26, false, 1_000));
    let message = verdict.findings[0].last_job.as_ref().unwrap().message.clone().unwrap();
    assert!(message.chars().count() <= 1_025, "{}", message.len());
}

#[test]
fn ages_are_whole_hours_and_never_negative() {
    let mut ledger = Ledger::default();
    ledger.audit(&arn("a"), "DynamoDB");
    ledger.protected(
        &arn("a"),
        Timestamp::from_millis(hours_ago(30).millis() - HOUR / 2),
        None,
    );
    ledger.audit(&arn("future"), "DynamoDB");
    // A clock ahead of ours: a backup "in the future" protects, and is 0 s old.
    ledger.protected(&arn("future"), Timestamp::from_millis(NOW.millis() + HOUR), None);
    let verdict = ledger.verdict(NOW, &audit(26, false, 1_000));
    assert_eq!(verdict.findings[0].age_hours(NOW), Some(30));
    assert_eq!(verdict.protected, 1);
}

#[test]
fn the_jobs_listing_starts_max_age_hours_before_the_audit() {
    assert_eq!(audit(26, false, 1).cutoff(NOW), hours_ago(26));
}
