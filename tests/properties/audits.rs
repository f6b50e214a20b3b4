//! Audits, whatever the listings say and in whatever order their pages come:
//! every audited resource is counted once, as protected, in progress or
//! unprotected; remediation takes the oldest unprotected ones only, never one in
//! progress, never more than `MaxRemediations`; and a retry, its pages in another
//! order, finds the same and asks for the same backups with the same tokens.

use backup_trigger::core::audit::{Audit, LastJob, Ledger, Verdict};
use backup_trigger::core::defaults::Defaults;
use backup_trigger::core::selection::parse;
use backup_trigger::core::time::Timestamp;
use backup_trigger::core::token::{SourceId, SourceKind};
use proptest::prelude::*;
use serde_json::json;

use super::config;

/// 2026-11-22T09:00:00Z
const NOW: Timestamp = Timestamp::from_millis(1_795_338_000_000);
const HOUR: i64 = 3_600_000;
const STATES: &[&str] = &[
    "CREATED",
    "PENDING",
    "RUNNING",
    "ABORTING",
    "COMPLETED",
    "FAILED",
    "ABORTED",
    "EXPIRED",
    "PARTIAL",
];

/// One resource as the listings may show it.
#[derive(Debug, Clone)]
struct Listed {
    audited: bool,
    /// Hours since its backups, as ListProtectedResources lists it (maybe twice).
    backups: Vec<i64>,
    /// (state, hours ago) of its jobs.
    jobs: Vec<(usize, i64)>,
}

fn arb_listed() -> impl Strategy<Value = Listed> {
    (
        prop::bool::weighted(0.8),
        prop::collection::vec(0i64..400, 0..3),
        prop::collection::vec((0..STATES.len(), 0i64..60), 0..3),
    )
        .prop_map(|(audited, backups, jobs)| Listed { audited, backups, jobs })
}

fn arn(i: usize) -> String {
    format!("arn:aws:dynamodb:eu-west-1:123456789012:table/t{i}")
}

/// One call a listing makes into the ledger.
#[derive(Debug, Clone)]
enum Call {
    Audit(usize),
    Protected(usize, i64),
    Job(usize, usize, i64, usize),
}

/// The calls of the listings: the Tagging API's and ListProtectedResources' in one
/// order (they run at once), then ListBackupJobs'.
fn calls(fleet: &[Listed]) -> (Vec<Call>, Vec<Call>) {
    let mut first = Vec::new();
    let mut jobs = Vec::new();
    for (i, listed) in fleet.iter().enumerate() {
        if listed.audited {
            first.push(Call::Audit(i));
        }
        first.extend(listed.backups.iter().map(|&h| Call::Protected(i, h)));
        jobs.extend(listed.jobs.iter().enumerate().map(|(n, &(s, h))| Call::Job(i, s, h, n)));
    }
    (first, jobs)
}

fn run(audit: &Audit, first: &[Call], jobs: &[Call]) -> Verdict {
    let mut ledger = Ledger::default();
    let at = |hours: i64| Timestamp::from_millis(NOW.millis() - hours * HOUR);
    for call in first {
        match *call {
            Call::Audit(i) => {
                ledger.audit(&arn(i), "DynamoDB");
            }
            Call::Protected(i, hours) => ledger.protected(
                &arn(i),
                at(hours),
                Some("arn:aws:backup:eu-west-1:123456789012:backup-vault:V"),
            ),
            Call::Job(..) => unreachable!(),
        }
    }
    let cutoff = audit.cutoff(NOW);
    for call in jobs {
        if let Call::Job(i, state, hours, n) = *call {
            let job = LastJob {
                id: format!("job-{i}-{n}"),
                created: at(hours),
                state: STATES[state].to_owned(),
                message: Some(format!("{} {n}", STATES[state])),
            };
            ledger.job(cutoff, &arn(i), job);
        }
    }
    ledger.verdict(NOW, audit)
}

fn arb_audit() -> impl Strategy<Value = Audit> {
    (1i64..200, any::<bool>(), 1usize..12).prop_map(|(max_age_hours, remediate, max_remediations)| Audit {
        max_age_hours,
        remediate,
        max_remediations,
    })
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn every_audited_resource_is_counted_once_and_only_the_oldest_unprotected_are_remediated(
        fleet in prop::collection::vec(arb_listed(), 0..40),
        audit in arb_audit(),
        seed in any::<u64>(),
    ) {
        let (mut first, mut jobs) = calls(&fleet);
        let verdict = run(&audit, &first, &jobs);
        let audited = fleet.iter().filter(|l| l.audited).count();
        prop_assert_eq!(verdict.audited, audited);
        prop_assert_eq!(verdict.audited, verdict.protected + verdict.in_progress + verdict.unprotected);
        prop_assert_eq!(verdict.findings.len(), verdict.in_progress + verdict.unprotected);
        prop_assert_eq!(verdict.findings.iter().filter(|f| f.in_progress).count(), verdict.in_progress);

        let remediated: Vec<&str> = verdict.findings.iter().filter(|f| f.remediate).map(|f| f.arn.as_str()).collect();
        prop_assert!(verdict.findings.iter().all(|f| !(f.remediate && f.in_progress)), "never one in progress");
        let expected = if audit.remediate { verdict.unprotected.min(audit.max_remediations) } else { 0 };
        prop_assert_eq!(remediated.len(), expected);
        // The oldest first: no unprotected finding left out comes before a remediated one.
        let unprotected: Vec<&str> = verdict.findings.iter().filter(|f| !f.in_progress).map(|f| f.arn.as_str()).collect();
        prop_assert_eq!(&unprotected[..remediated.len()], &remediated[..]);
        // Never backed up first, then oldest first.
        let ages: Vec<Option<Timestamp>> = verdict.findings.iter().map(|f| f.last_backup.as_ref().map(|b| b.at)).collect();
        prop_assert!(ages.windows(2).all(|w| w[0] <= w[1]), "{:?}", ages);

        // Another order of the pages: the same verdict.
        shuffle(&mut first, seed);
        shuffle(&mut jobs, seed.rotate_left(17));
        let again = run(&audit, &first, &jobs);
        prop_assert_eq!(&again.findings, &verdict.findings);
        prop_assert_eq!(
            (again.protected, again.in_progress, again.unprotected, again.oldest_backup_age),
            (verdict.protected, verdict.in_progress, verdict.unprotected, verdict.oldest_backup_age)
        );
    }

    #[test]
    fn a_retried_audit_asks_for_the_same_backups_with_the_same_tokens(
        fleet in prop::collection::vec(arb_listed(), 1..30),
        seed in any::<u64>(),
    ) {
        let audit = Audit { max_age_hours: 26, remediate: true, max_remediations: 1_000 };
        let event = json!({ "Selection": { "Resources": ["*"] }, "IdempotencyKey": "audit/2026-11-22T09:00:00Z" });
        let defaults = Defaults {
            vault: Some("Default".into()),
            role: Some("arn:aws:iam::123456789012:role/Backup".into()),
            ..Defaults::default()
        };
        let source = SourceId { kind: SourceKind::IdempotencyKey, value: "audit/2026-11-22T09:00:00Z".into() };
        let requests = |first: &[Call], jobs: &[Call]| -> Vec<(String, String)> {
            let selection = parse(event.as_object().unwrap(), source.clone(), &defaults).unwrap();
            let mut asked: Vec<(String, String)> = run(&audit, first, jobs)
                .findings
                .iter()
                .filter(|f| f.remediate)
                .map(|f| {
                    let job = selection.job_for(&f.arn).unwrap();
                    (job.subject_arn().to_owned(), job.idempotency_token().to_owned())
                })
                .collect();
            asked.sort();
            asked
        };
        let (mut first, mut jobs) = calls(&fleet);
        let once = requests(&first, &jobs);
        shuffle(&mut first, seed);
        shuffle(&mut jobs, seed ^ 0x5eed);
        prop_assert_eq!(requests(&first, &jobs), once);
    }
}

/// A deterministic shuffle (Fisher-Yates with a xorshift generator).
fn shuffle<T>(items: &mut [T], seed: u64) {
    let mut state = seed | 1;
    for i in (1..items.len()).rev() {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        items.swap(i, (state % (i as u64 + 1)) as usize);
    }
}
