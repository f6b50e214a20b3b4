//! What the dry-run app reads, and what an audit of it must find.
//!
//! The app reads the sample resources (`events/local/resources.json`) and the
//! sample listings (`events/local/protected-resources.json`, `backup-jobs.json`),
//! plus a resource tagged with the marker and a fleet of [`FLEET`] DynamoDB tables
//! tagged `stage=fleet`, some backed up long ago, some never, some with a job
//! running or failed: more resources than an answer shows findings or requests,
//! so that those caps are reached. The sample event and selections select none of
//! the fleet (they ask for `stage=prod`); a fuzzed selection that drops that
//! condition does.
//!
//! [`Expected`] is this harness's own model of an audit of these listings, written
//! from the rules (docs/reference.md, "Audits") rather than from `core::audit`: a
//! resource is protected when its latest backup is at most `MaxAgeHours` old; else
//! in progress when a job created since then is CREATED, PENDING or RUNNING; else
//! unprotected. Findings come oldest first (never backed up first, then by the last
//! backup, then by ARN), remediations are the first unprotected ones up to
//! `MaxRemediations`. Which resources the selection audits is `Selection::verdict`'s
//! decision, applied to every resource of the file: the Tagging API's filters must
//! not leave one out.

use std::collections::HashMap;
use std::sync::OnceLock;

use backup_trigger::core::audit::Audit;
use backup_trigger::core::selection::{Resource, Selection, Verdict};
use backup_trigger::core::time::Timestamp;
use backup_trigger::io::inventory::ResourceFile;
use backup_trigger::io::listings::{time_of, ListingFiles};
use serde_json::{json, Value};

use crate::SECRET;

/// The time of every run: 2026-11-22T09:00:00Z. The listings' `now-30h` dates are
/// read against it, and the app's clock is fixed at it, so a run never depends on
/// the day.
pub const NOW: Timestamp = Timestamp::from_millis(1_795_338_000_000);

/// Tables beyond the samples: more than the 100 findings an answer shows.
pub const FLEET: usize = 120;

/// The states in which a job may still make a recovery point.
const RUNNING: &[&str] = &["CREATED", "PENDING", "RUNNING"];

/// The three files, as JSON.
pub struct Files {
    pub resources: Value,
    pub protected: Value,
    pub jobs: Value,
}

pub fn files() -> &'static Files {
    static FILES: OnceLock<Files> = OnceLock::new();
    FILES.get_or_init(|| {
        let read = |text: &str| -> Value { serde_json::from_str(text).expect("the sample files are JSON") };
        let mut resources = read(include_str!("../../events/local/resources.json"));
        let mut protected = read(include_str!("../../events/local/protected-resources.json"));
        let mut jobs = read(include_str!("../../events/local/backup-jobs.json"));
        let (mut more_resources, mut more_protected, mut more_jobs) = (Vec::new(), Vec::new(), Vec::new());
        // A resource's tag values are never shown either.
        more_resources.push(json!({
            "ResourceARN": "arn:aws:ec2:eu-west-1:123456789012:volume/vol-0fuzz",
            "Tags": [{ "Key": "stage", "Value": "prod" }, { "Key": "backup", "Value": SECRET }],
        }));
        for i in 0..FLEET {
            let arn = fleet_arn(i);
            more_resources.push(json!({
                "ResourceARN": arn,
                "Tags": [{ "Key": "stage", "Value": "fleet" }, { "Key": "owner", "Value": format!("team-{}", i % 4) }],
            }));
            if i % 4 != 0 {
                let hours = (i * 7) % 200;
                // Now and then as the CLI prints it with cli_timestamp_format = none.
                let when = if i % 10 == 3 {
                    json!((NOW.millis() / 1000) as f64 - (hours * 3600) as f64 + 0.25)
                } else {
                    json!(format!("now-{hours}h"))
                };
                more_protected.push(json!({
                    "ResourceArn": arn,
                    "ResourceType": "DynamoDB",
                    "LastBackupTime": when,
                    "LastBackupVaultArn": "arn:aws:backup:eu-west-1:123456789012:backup-vault:Default",
                }));
            }
            let mut job = |n: usize, state: &str, ago: String| {
                more_jobs.push(json!({
                    "BackupJobId": format!("fleet-{i:03}-{n}"),
                    "ResourceArn": arn,
                    "CreationDate": ago,
                    "State": state,
                    "StatusMessage": format!("{state} {n}"),
                    "ResourceType": "DynamoDB",
                }));
            };
            if i % 5 == 0 {
                job(0, "RUNNING", format!("now-{}h", i % 40));
            }
            if i % 6 == 0 {
                job(1, "FAILED", format!("now-{}m", (i * 37) % 3000));
            }
            if i % 9 == 0 {
                job(2, "PENDING", format!("now-{}d", i % 8));
            }
            if i % 7 == 0 {
                job(3, "ABORTED", "now-2h".into());
            }
        }
        let extend = |listing: &mut Value, key: &str, more: Vec<Value>| {
            listing
                .get_mut(key)
                .and_then(Value::as_array_mut)
                .expect("a sample listing")
                .extend(more);
        };
        extend(&mut resources, "ResourceTagMappingList", more_resources);
        extend(&mut protected, "Results", more_protected);
        extend(&mut jobs, "BackupJobs", more_jobs);
        Files {
            resources,
            protected,
            jobs,
        }
    })
}

pub fn fleet_arn(i: usize) -> String {
    format!("arn:aws:dynamodb:eu-west-1:123456789012:table/fleet-{i:03}")
}

/// Where selections find resources.
pub fn inventory() -> ResourceFile {
    ResourceFile::parse(&files().resources.to_string()).expect("the resources read")
}

/// Where audits read protected resources and jobs.
pub fn listings() -> ListingFiles {
    let files = files();
    ListingFiles::parse(&files.protected.to_string(), Some(&files.jobs.to_string()), NOW).expect("the listings read")
}

/// The resources of the file, as the Tagging API lists them.
pub fn resources() -> &'static [Resource] {
    static RESOURCES: OnceLock<Vec<Resource>> = OnceLock::new();
    RESOURCES.get_or_init(|| {
        files().resources["ResourceTagMappingList"]
            .as_array()
            .expect("a list")
            .iter()
            .map(|m| Resource {
                arn: m["ResourceARN"].as_str().expect("an ARN").to_owned(),
                tags: m["Tags"]
                    .as_array()
                    .map(|tags| {
                        tags.iter()
                            .map(|t| {
                                (
                                    t["Key"].as_str().unwrap_or_default().to_owned(),
                                    t["Value"].as_str().unwrap_or_default().to_owned(),
                                )
                            })
                            .collect()
                    })
                    .unwrap_or_default(),
            })
            .collect()
    })
}

/// The listings, read once: each resource's latest backup, and every job.
struct Listed {
    last_backup: HashMap<String, Timestamp>,
    jobs: Vec<ListedJob>,
}

struct ListedJob {
    arn: String,
    id: String,
    created: Timestamp,
    state: String,
}

fn listed() -> &'static Listed {
    static LISTED: OnceLock<Listed> = OnceLock::new();
    LISTED.get_or_init(|| {
        let files = files();
        let mut last_backup: HashMap<String, Timestamp> = HashMap::new();
        for item in files.protected["Results"].as_array().expect("a list") {
            let at = time_of(&item["LastBackupTime"], NOW).expect("a time");
            let kept = last_backup
                .entry(item["ResourceArn"].as_str().expect("an ARN").to_owned())
                .or_insert(at);
            *kept = (*kept).max(at);
        }
        let jobs = files.jobs["BackupJobs"]
            .as_array()
            .expect("a list")
            .iter()
            .map(|job| ListedJob {
                arn: job["ResourceArn"].as_str().expect("an ARN").to_owned(),
                id: job["BackupJobId"].as_str().expect("an id").to_owned(),
                created: time_of(&job["CreationDate"], NOW).expect("a time"),
                state: job["State"].as_str().expect("a state").to_owned(),
            })
            .collect();
        Listed { last_backup, jobs }
    })
}

/// One finding an audit must make.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub arn: String,
    pub last_backup: Option<Timestamp>,
    pub in_progress: bool,
    pub last_job_state: Option<String>,
}

/// What an audit of the listings must find.
#[derive(Debug)]
pub struct Expected {
    pub audited: usize,
    pub protected: usize,
    pub in_progress: usize,
    pub unprotected: usize,
    /// Every resource not protected, oldest first.
    pub findings: Vec<Finding>,
    /// The resources remediation asks a backup for, in order.
    pub remediated: Vec<String>,
}

impl Expected {
    pub fn of(selection: &Selection, audit: &Audit) -> Expected {
        let listed = listed();
        let cutoff = NOW.millis() - audit.max_age_hours * 3_600_000;
        // Jobs created since the cutoff: whether one may yet make a recovery point,
        // and the latest (ties: the greater id).
        let mut running: HashMap<&str, bool> = HashMap::new();
        let mut last_job: HashMap<&str, (Timestamp, &str, &str)> = HashMap::new();
        for job in listed.jobs.iter().filter(|j| j.created.millis() >= cutoff) {
            *running.entry(&job.arn).or_default() |= RUNNING.contains(&job.state.as_str());
            let later = last_job
                .get(job.arn.as_str())
                .is_none_or(|&(at, kept, _)| (job.created, job.id.as_str()) > (at, kept));
            if later {
                last_job.insert(&job.arn, (job.created, &job.id, &job.state));
            }
        }
        let mut expected = Expected {
            audited: 0,
            protected: 0,
            in_progress: 0,
            unprotected: 0,
            findings: Vec::new(),
            remediated: Vec::new(),
        };
        let mut seen = std::collections::HashSet::new();
        for resource in resources() {
            if !matches!(selection.verdict(resource), Verdict::Selected(_)) || !seen.insert(&resource.arn) {
                continue;
            }
            expected.audited += 1;
            let backup = listed.last_backup.get(resource.arn.as_str()).copied();
            if backup.is_some_and(|at| at.millis() >= cutoff) {
                expected.protected += 1;
                continue;
            }
            let in_progress = running.get(resource.arn.as_str()).copied().unwrap_or(false);
            if in_progress {
                expected.in_progress += 1;
            } else {
                expected.unprotected += 1;
            }
            expected.findings.push(Finding {
                arn: resource.arn.clone(),
                last_backup: backup,
                in_progress,
                last_job_state: last_job.get(resource.arn.as_str()).map(|&(_, _, s)| s.to_owned()),
            });
        }
        expected
            .findings
            .sort_by(|a, b| (a.last_backup, &a.arn).cmp(&(b.last_backup, &b.arn)));
        if audit.remediate {
            expected.remediated = expected
                .findings
                .iter()
                .filter(|f| !f.in_progress)
                .take(audit.max_remediations)
                .map(|f| f.arn.clone())
                .collect();
        }
        expected
    }
}
