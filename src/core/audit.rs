//! Audits (docs/reference.md, "Audits"): does every resource a selection audits
//! have a recent enough recovery point, and if not, why? The `Audit` object of an
//! event, and the [`Ledger`] that gathers what the listings say of each audited
//! resource and classifies it as protected, in progress or unprotected, oldest
//! first. Pure: the listings and the time of the audit come in as values.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use serde_json::{Map, Value};

use crate::core::error::{cut_at, quote, quote_str, Invalid};
use crate::core::request::{kind_of, rules};
use crate::core::suggest::unknown_field;
use crate::core::time::Timestamp;

/// `MaxAgeHours`: an hour to a year.
pub const MAX_AGE_HOURS: (i64, i64) = (1, 8_760);
/// `MaxRemediations`.
pub const MAX_REMEDIATIONS: (i64, i64) = (1, 100_000);
/// `MaxRemediations` when absent.
pub const DEFAULT_MAX_REMEDIATIONS: usize = 1_000;
/// The answer lists at most this many findings.
pub const FINDINGS_SHOWN: usize = 100;
/// A job in one of these states may yet make a recovery point.
pub const RUNNING_STATES: &[&str] = &["CREATED", "PENDING", "RUNNING"];
/// At most this many characters of a job's status message are kept.
const MESSAGE_LIMIT: usize = 1_024;

const AUDIT_FIELDS: &[&str] = &["MaxAgeHours", "Remediate", "MaxRemediations"];

/// The `Audit` object beside a selection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Audit {
    /// A resource is protected when its last backup is at most this many hours old.
    pub max_age_hours: i64,
    /// Start a backup for each unprotected resource.
    pub remediate: bool,
    /// At most this many are started, oldest first.
    pub max_remediations: usize,
}

impl Audit {
    /// When the oldest backup that still protects a resource was made, for an audit
    /// at `now`: also the `ByCreatedAfter` of the jobs listing.
    pub fn cutoff(&self, now: Timestamp) -> Timestamp {
        now.hours_before(self.max_age_hours)
    }
}

/// Whether an event object asks for an audit.
pub fn is_audit(event: &Map<String, Value>) -> bool {
    event.contains_key("Audit")
}

/// Reads the `Audit` object of an event, or says every way in which it is wrong.
pub fn parse(event: &Map<String, Value>) -> Result<Audit, Vec<Invalid>> {
    let map = match event.get("Audit") {
        Some(Value::Object(map)) => map,
        Some(other) => {
            return Err(vec![Invalid::new(
                "Audit",
                format!(
                    "must be an object such as {{\"MaxAgeHours\": 26}}, not {}",
                    kind_of(other)
                ),
            )])
        }
        None => return Err(vec![Invalid::new("Audit", "is required")]),
    };
    let mut problems = Vec::new();
    for key in map.keys().filter(|k| !AUDIT_FIELDS.contains(&k.as_str())).take(10) {
        let only = format!("an Audit has only these: {}", AUDIT_FIELDS.join(", "));
        let problem = unknown_field(key, AUDIT_FIELDS, &only);
        problems.push(Invalid::new(format!("Audit.{}", quote_str(key)), problem));
    }
    let whole = |name: &str, range: (i64, i64), problems: &mut Vec<Invalid>| -> Option<i64> {
        let at = format!("Audit.{name}");
        let value = map.get(name).filter(|v| !v.is_null())?;
        let Some(n) = value.as_i64() else {
            problems.push(Invalid::new(at, format!("{} must be a whole number", quote(value))));
            return None;
        };
        match rules::within(n, range) {
            Ok(()) => Some(n),
            Err(problem) => {
                problems.push(Invalid::new(at, problem));
                None
            }
        }
    };
    let max_age_hours = whole("MaxAgeHours", MAX_AGE_HOURS, &mut problems);
    if map.get("MaxAgeHours").is_none_or(Value::is_null) {
        problems.push(Invalid::new(
            "Audit.MaxAgeHours",
            format!(
                "is required: a resource is protected when its last backup is at most this many hours old ({} to {})",
                MAX_AGE_HOURS.0, MAX_AGE_HOURS.1
            ),
        ));
    }
    let max_remediations = whole("MaxRemediations", MAX_REMEDIATIONS, &mut problems);
    let remediate = match map.get("Remediate").filter(|v| !v.is_null()) {
        None => false,
        Some(Value::Bool(b)) => *b,
        Some(other) => {
            problems.push(Invalid::new(
                "Audit.Remediate",
                format!("must be true or false, not {}", quote(other)),
            ));
            false
        }
    };
    match (max_age_hours, problems.is_empty()) {
        (Some(max_age_hours), true) => Ok(Audit {
            max_age_hours,
            remediate,
            max_remediations: max_remediations.map_or(DEFAULT_MAX_REMEDIATIONS, |n| n as usize),
        }),
        _ => Err(problems),
    }
}

/// A resource's last backup, as `ListProtectedResources` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastBackup {
    pub at: Timestamp,
    /// The vault of that backup (`LastBackupVaultArn`).
    pub vault: Option<Arc<str>>,
}

/// The most recently created job of a resource, as `ListBackupJobs` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastJob {
    pub id: String,
    pub created: Timestamp,
    pub state: String,
    pub message: Option<String>,
}

/// What the listings say of one ARN.
#[derive(Debug, Default)]
struct Entry {
    /// The selection audits it: its AWS Backup resource type.
    audited: Option<&'static str>,
    last_backup: Option<LastBackup>,
    last_job: Option<Box<LastJob>>,
    in_progress: bool,
}

/// What an audit has learnt so far, one entry an ARN whatever the order in which
/// the listings arrive: the resources the selection audits, and the last backup
/// of every resource `ListProtectedResources` lists (the two may be read at once,
/// so a protected resource can be seen before the selection finds it). Vault ARNs
/// are held once each, however many resources name them.
#[derive(Debug, Default)]
pub struct Ledger {
    entries: HashMap<Box<str>, Entry>,
    vaults: HashSet<Arc<str>>,
}

impl Ledger {
    /// The selection audits `arn`, of AWS Backup type `resource_type`. False when it
    /// was already audited (a resource listed twice counts once).
    pub fn audit(&mut self, arn: &str, resource_type: &'static str) -> bool {
        let entry = self.entry(arn);
        if entry.audited.is_some() {
            return false;
        }
        entry.audited = Some(resource_type);
        true
    }

    /// `ListProtectedResources` lists `arn`, last backed up `at` in `vault`. A
    /// resource listed twice keeps its most recent backup.
    pub fn protected(&mut self, arn: &str, at: Timestamp, vault: Option<&str>) {
        let vault = vault.map(|v| self.intern(v));
        let entry = self.entry(arn);
        let newer = match &entry.last_backup {
            None => true,
            Some(kept) => (at, &vault) > (kept.at, &kept.vault),
        };
        if newer {
            entry.last_backup = Some(LastBackup { at, vault });
        }
    }

    /// Whether some audited resource has no backup made at or after `cutoff`: only
    /// then is `ListBackupJobs` read.
    pub fn any_stale(&self, cutoff: Timestamp) -> bool {
        self.entries.values().any(|e| e.audited.is_some() && !fresh(e, cutoff))
    }

    /// Whether `arn` has a backup made at or after `cutoff`.
    pub fn is_fresh(&self, arn: &str, cutoff: Timestamp) -> bool {
        self.entries.get(arn).is_some_and(|e| fresh(e, cutoff))
    }

    /// `ListBackupJobs` lists a job of `arn`, once `ListProtectedResources` has been
    /// read whole. Kept only for a resource that is not protected at `cutoff` (it
    /// may come before the selection has found the resource: the verdict counts
    /// audited resources only): whether any of its jobs
    /// may yet make a recovery point, and its most recently created job (ties: the
    /// greater job id), so that the order of the pages changes nothing.
    pub fn job(&mut self, cutoff: Timestamp, arn: &str, job: LastJob) {
        if self.is_fresh(arn, cutoff) {
            return;
        }
        let entry = self.entry(arn);
        entry.in_progress |= RUNNING_STATES.contains(&job.state.as_str());
        let later = entry
            .last_job
            .as_ref()
            .is_none_or(|kept| (job.created, &job.id) > (kept.created, &kept.id));
        if later {
            let message = job.message.map(|m| cut_at(&m, MESSAGE_LIMIT));
            entry.last_job = Some(Box::new(LastJob { message, ..job }));
        }
    }

    /// The audit's verdict at `now`: counts, and every resource that is not
    /// protected, oldest first (never backed up first, then by the age of the last
    /// backup, then by ARN), those to remediate chosen among the unprotected ones
    /// (never one in progress), oldest first, up to `MaxRemediations`.
    pub fn verdict(self, now: Timestamp, audit: &Audit) -> Verdict {
        let cutoff = audit.cutoff(now);
        let mut verdict = Verdict::default();
        for (arn, entry) in self.entries {
            let Some(resource_type) = entry.audited else {
                continue;
            };
            verdict.audited += 1;
            if let Some(backup) = &entry.last_backup {
                let age = now.millis_since(backup.at).max(0) / 1_000;
                verdict.oldest_backup_age = Some(verdict.oldest_backup_age.map_or(age, |o: i64| o.max(age)));
            }
            if fresh(&entry, cutoff) {
                verdict.protected += 1;
                continue;
            }
            if entry.in_progress {
                verdict.in_progress += 1;
            } else {
                verdict.unprotected += 1;
            }
            verdict.findings.push(Finding {
                arn: arn.into(),
                resource_type,
                last_backup: entry.last_backup,
                in_progress: entry.in_progress,
                last_job: entry.last_job.map(|j| *j),
                remediate: false,
            });
        }
        fn key(f: &Finding) -> (Option<Timestamp>, &str) {
            (f.last_backup.as_ref().map(|b| b.at), &f.arn)
        }
        verdict.findings.sort_by(|a, b| key(a).cmp(&key(b)));
        if audit.remediate {
            for finding in verdict
                .findings
                .iter_mut()
                .filter(|f| !f.in_progress)
                .take(audit.max_remediations)
            {
                finding.remediate = true;
            }
        }
        verdict
    }

    fn entry(&mut self, arn: &str) -> &mut Entry {
        if !self.entries.contains_key(arn) {
            self.entries.insert(arn.into(), Entry::default());
        }
        self.entries.get_mut(arn).expect("inserted above")
    }

    fn intern(&mut self, vault: &str) -> Arc<str> {
        if let Some(kept) = self.vaults.get(vault) {
            return Arc::clone(kept);
        }
        let vault: Arc<str> = Arc::from(vault);
        self.vaults.insert(Arc::clone(&vault));
        vault
    }
}

/// Whether the last backup was made at or after `cutoff` (`MaxAgeHours` before the
/// audit): a backup exactly `MaxAgeHours` old still protects.
fn fresh(entry: &Entry, cutoff: Timestamp) -> bool {
    entry.last_backup.as_ref().is_some_and(|b| b.at >= cutoff)
}

/// The counts of an audit and what it found.
#[derive(Debug, Default)]
pub struct Verdict {
    pub audited: usize,
    pub protected: usize,
    pub in_progress: usize,
    pub unprotected: usize,
    /// Seconds since the oldest last backup among audited resources that have one.
    pub oldest_backup_age: Option<i64>,
    /// Every audited resource that is not protected, oldest first.
    pub findings: Vec<Finding>,
}

/// An audited resource that is not protected, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub arn: String,
    pub resource_type: &'static str,
    /// None: never backed up.
    pub last_backup: Option<LastBackup>,
    /// A job of the last `MaxAgeHours` may yet make a recovery point: never remediated.
    pub in_progress: bool,
    /// Its most recently created job of the last `MaxAgeHours`, if any.
    pub last_job: Option<LastJob>,
    /// Chosen for a backup (`Remediate`, within `MaxRemediations`).
    pub remediate: bool,
}

impl Finding {
    /// Whole hours since the last backup at `now`; None when never backed up.
    pub fn age_hours(&self, now: Timestamp) -> Option<i64> {
        self.last_backup
            .as_ref()
            .map(|b| now.millis_since(b.at).max(0) / 3_600_000)
    }
}

#[cfg(test)]
mod tests;
