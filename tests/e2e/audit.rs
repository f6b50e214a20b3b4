//! Audits end to end: the real binary resolves a selection through the Tagging API
//! (moto's, with real tagged resources, or the in-test one where a test needs a
//! resource listed twice), reads ListProtectedResources and ListBackupJobs from the
//! in-test AWS Backup, and says what is not protected and why; with `Remediate`, it
//! sends the oldest unprotected resources' backups through the request queue
//! (moto's SQS, whose messages are handed back to the binary as an SQS event) or
//! starts them itself. Every test checks that no credential or tag value is printed.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_smithy_types::date_time::{DateTime, Format};
use backup_trigger::core::token::{SourceId, SourceKind};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::harness::listings::{Duplicates, Job, Listing, ListingRequest, Protected, Times};
use crate::harness::{FakeBackup, Output, Recorded, Reply, REGION};
use crate::selection::{sqs_event as moto_sqs_event, Moto, ACCOUNT};
use crate::tagging::FakeTagging;
use crate::{sqs_event, Setup, TAG_SECRET};

/// The role and vault the audits' requests name, other than the function's
/// defaults (`BACKUP_IAM_ROLE_ARN`, `BACKUP_VAULT_NAME`), so that a request that
/// carries them shows that it carries the event's own fields.
const AUDIT_ROLE: &str = "arn:aws:iam::123456789012:role/AuditRemediation";
const AUDIT_VAULT: &str = "AuditVault";
/// The UUIDv5 namespace of the function's tokens (src/core/token.rs), written out
/// here so that a change to it is seen.
const NAMESPACE: Uuid = Uuid::from_u128(0x6f1c_2b0e_8a57_4d3c_9e1a_b4f2_7c3d_5a10);
/// The five metrics of an audit, and their units.
const AUDIT_METRICS: [(&str, &str); 5] = [
    ("ResourcesAudited", "Count"),
    ("ResourcesUnprotected", "Count"),
    ("ResourcesInProgress", "Count"),
    ("ResourcesRemediated", "Count"),
    ("OldestBackupAge", "Seconds"),
];
/// Every field an `unprotected` line may have (src/report/log.rs, `unprotected`).
const UNPROTECTED_FIELDS: [&str; 9] = [
    "resource_arn",
    "resource_type",
    "last_backup_time",
    "age_hours",
    "last_vault",
    "in_progress",
    "remediated",
    "last_job_state",
    "last_job_message",
];

fn hours(h: f64) -> Duration {
    Duration::from_secs_f64(h * 3_600.0)
}

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as i64
}

fn table(name: &str) -> String {
    format!("arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{name}")
}

fn volume(id: &str) -> String {
    format!("arn:aws:ec2:{REGION}:{ACCOUNT}:volume/{id}")
}

fn vault(name: &str) -> String {
    format!("arn:aws:backup:{REGION}:{ACCOUNT}:backup-vault:{name}")
}

/// A resource of the account that no selection here audits.
fn filler(i: usize) -> String {
    volume(&format!("vol-0f{i:015x}"))
}

/// The token of the request for `arn` of an event whose source id is `source`:
/// UUIDv5(source id, ARN), computed here and by the library, which must agree.
fn token(source: &str, arn: &str) -> String {
    let ours = Uuid::new_v5(&NAMESPACE, format!("{source}\n{arn}").as_bytes()).to_string();
    let library = SourceId {
        kind: SourceKind::IdempotencyKey,
        value: source.to_owned(),
    }
    .resource_token(arn);
    assert_eq!(ours, library, "the namespace or the name of a token changed");
    ours
}

/// An RFC 3339 time, as epoch milliseconds.
fn rfc3339_ms(text: &str) -> i64 {
    DateTime::from_str(text, Format::DateTimeWithOffset)
        .unwrap_or_else(|e| panic!("{text} is not RFC 3339: {e}"))
        .to_millis()
        .unwrap()
}

/// ListProtectedResources lists `count` resources: those of `placed` at their
/// positions, and resources no selection audits (backed up an hour ago) elsewhere.
fn protected_listing(backup: &FakeBackup, count: usize, placed: Vec<(usize, Protected)>) {
    let placed: HashMap<usize, Protected> = placed.into_iter().collect();
    backup.set_protected(count, move |i| {
        placed
            .get(&i)
            .cloned()
            .unwrap_or_else(|| Protected::new(&filler(i), hours(1.0)))
    });
}

/// ListBackupJobs lists `count` jobs (before its filters): those of `placed` at
/// their positions, completed jobs of resources no selection audits elsewhere.
fn job_listing(backup: &FakeBackup, count: usize, placed: Vec<(usize, Job)>) {
    let placed: HashMap<usize, Job> = placed.into_iter().collect();
    backup.set_jobs(count, move |i| {
        placed
            .get(&i)
            .cloned()
            .unwrap_or_else(|| Job::new(&filler(i), "COMPLETED", hours(1.0), None))
    });
}

/// `arn`, last backed up `age` ago in vault `vault_name`.
fn protected_in(arn: &str, age: Duration, vault_name: &str) -> Protected {
    Protected {
        last_backup_vault_arn: Some(vault(vault_name)),
        ..Protected::new(arn, age)
    }
}

/// Checks that `listing` was read page after page to its end, each request asking
/// for 1000 items and passing on the token of the page before, and gives its
/// requests.
fn walked(backup: &FakeBackup, listing: Listing) -> Vec<ListingRequest> {
    let requests = backup.listings().requests_of(listing);
    assert!(!requests.is_empty(), "{listing:?} was not read");
    for (i, request) in requests.iter().enumerate() {
        let served = request.served.as_ref().expect("answered");
        assert_eq!(served.status, 200, "{listing:?} request {i}: {request:?}");
        assert_eq!(request.page, i + 1, "{listing:?}: pages in order, none twice");
        assert_eq!(request.param("maxResults"), Some("1000"), "{listing:?} page {}", i + 1);
        let previous = i.checked_sub(1).map(|p| requests[p].served.as_ref().unwrap());
        assert_eq!(
            request.param("nextToken"),
            previous.and_then(|p| p.next_token.as_deref()),
            "{listing:?} page {}: the token the page before gave",
            i + 1
        );
    }
    assert!(
        requests.last().unwrap().served.as_ref().unwrap().next_token.is_none(),
        "{listing:?}: read to its last page"
    );
    assert_eq!(backup.listing_calls(listing), requests.len() as u64);
    requests
}

/// The query parameters' names of a request, sorted, without `nextToken`.
fn names(request: &ListingRequest) -> Vec<&str> {
    let mut names: Vec<&str> = request.names().into_iter().filter(|n| *n != "nextToken").collect();
    names.sort_unstable();
    names
}

/// The metrics lines, one an invocation, in order.
fn metrics_lines(output: &Output) -> Vec<Value> {
    output
        .log_lines()
        .into_iter()
        .filter(|l| l.get("_aws").is_some())
        .collect()
}

/// The units a metrics line declares, by metric name.
fn units(line: &Value) -> BTreeMap<String, String> {
    line["_aws"]["CloudWatchMetrics"][0]["Metrics"]
        .as_array()
        .expect("an EMF line")
        .iter()
        .map(|m| {
            (
                m["Name"].as_str().unwrap().to_owned(),
                m["Unit"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// Checks that the line has the five audit metrics, declared with their units, and
/// gives their values.
fn audit_metrics(line: &Value) -> BTreeMap<&'static str, u64> {
    let declared = units(line);
    AUDIT_METRICS
        .iter()
        .map(|(name, unit)| {
            assert_eq!(declared.get(*name).map(String::as_str), Some(*unit), "{name}: {line}");
            (*name, line[*name].as_u64().unwrap_or_else(|| panic!("{name}: {line}")))
        })
        .collect()
}

fn assert_no_audit_metric(line: &Value) {
    let declared = units(line);
    for (name, _) in AUDIT_METRICS {
        assert!(
            line.get(name).is_none() && !declared.contains_key(name),
            "{name} in {line}"
        );
    }
}

/// The ARNs of an answer's `Findings`, in order.
fn finding_arns(answer: &Value) -> Vec<String> {
    answer["Findings"]
        .as_array()
        .expect("Findings")
        .iter()
        .map(|f| f["ResourceArn"].as_str().unwrap().to_owned())
        .collect()
}

/// Resource ARN -> token of the StartBackupJob calls; fails if one was started twice.
fn started_once(recorded: &[Recorded]) -> BTreeMap<String, String> {
    let mut started = BTreeMap::new();
    for call in recorded {
        assert_eq!((call.method.as_str(), call.path.as_str()), ("PUT", "/backup-jobs"));
        let arn = call.body["ResourceArn"].as_str().unwrap().to_owned();
        let token = call.body["IdempotencyToken"].as_str().unwrap().to_owned();
        assert!(started.insert(arn.clone(), token).is_none(), "{arn} was started twice");
    }
    started
}

/// Resource ARN -> token of the requests in queued list messages; fails if one is
/// queued twice.
fn queued(messages: &[Value]) -> BTreeMap<String, String> {
    let mut queued = BTreeMap::new();
    for message in messages {
        let body: Value = serde_json::from_str(message["body"].as_str().unwrap()).unwrap();
        for request in body["Jobs"].as_array().expect("a list message") {
            let arn = request["ResourceArn"].as_str().unwrap().to_owned();
            let token = request["IdempotencyToken"].as_str().unwrap().to_owned();
            assert!(queued.insert(arn.clone(), token).is_none(), "{arn} was queued twice");
        }
    }
    queued
}

/// Checks a request made for a remediation: the audit event's request fields.
fn assert_carries_the_event_fields(request: &Value, tags: &Value) {
    assert_eq!(request["BackupVaultName"], AUDIT_VAULT, "{request}");
    assert_eq!(request["IamRoleArn"], AUDIT_ROLE, "{request}");
    assert_eq!(request["StartWindowMinutes"], 60, "{request}");
    assert_eq!(request["Lifecycle"], json!({ "DeleteAfterDays": 35 }), "{request}");
    assert_eq!(&request["RecoveryPointTags"], tags, "{request}");
}

/// An audit event of a selection of `backup=nightly` resources (tables, volumes,
/// buckets; not those owned by tests), with the request fields every remediation
/// carries.
fn nightly_audit(key: Option<&str>, audit: Value) -> Value {
    let mut event = json!({
        "Selection": {
            "SelectionName": "audit-nightly",
            "IamRoleArn": AUDIT_ROLE,
            "ListOfTags": [{"ConditionType": "STRINGEQUALS", "ConditionKey": "backup", "ConditionValue": "nightly"}],
            "Conditions": {"StringNotLike": [{"ConditionKey": "aws:ResourceTag/owner", "ConditionValue": "test-*"}]}
        },
        "Audit": audit,
        "BackupVaultName": AUDIT_VAULT,
        "StartWindowMinutes": 60,
        "Lifecycle": {"DeleteAfterDays": 35},
        "RecoveryPointTags": {"owner": TAG_SECRET}
    });
    if let Some(key) = key {
        event["IdempotencyKey"] = json!(key);
    }
    event
}

/// The in-test Tagging API listing these tables, tagged `backup=nightly` and a tag
/// whose value must never be printed.
async fn nightly_tables(names: &[&str]) -> FakeTagging {
    let mappings: Vec<Value> = names
        .iter()
        .map(|name| {
            json!({ "ResourceARN": table(name), "Tags": [
                {"Key": "backup", "Value": "nightly"}, {"Key": "note", "Value": TAG_SECRET}
            ]})
        })
        .collect();
    FakeTagging::from_listing(&json!({ "ResourceTagMappingList": mappings })).await
}

// ------------------------------------------------------------- moto

/// Creates tagged resources in moto from a spec (`{"tables": [[name, tags]],
/// "volumes": [tags], "buckets": [[name, tags]], "topics": [[name, tags]]}`, a tag
/// value `$SECRET` standing for [`TAG_SECRET`]), and the request queue.
const SEED: &str = r#"
import json, os, sys, boto3
spec = json.loads(sys.argv[1])
kw = dict(endpoint_url=os.environ["MOTO_ENDPOINT"], region_name=os.environ["AWS_DEFAULT_REGION"])
def tags(t):
    return [{"Key": k, "Value": os.environ["TAG_SECRET"] if v == "$SECRET" else v} for k, v in t.items()]
ddb = boto3.client("dynamodb", **kw)
for name, t in spec.get("tables", []):
    ddb.create_table(TableName=name, KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST",
        Tags=tags(t))
ec2 = boto3.client("ec2", **kw)
volumes = [ec2.create_volume(AvailabilityZone=kw["region_name"] + "a", Size=1,
    TagSpecifications=[{"ResourceType": "volume", "Tags": tags(t)}])["VolumeId"] for t in spec.get("volumes", [])]
s3 = boto3.client("s3", **kw)
for name, t in spec.get("buckets", []):
    s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": kw["region_name"]})
    s3.put_bucket_tagging(Bucket=name, Tagging={"TagSet": tags(t)})
sns = boto3.client("sns", **kw)
for name, t in spec.get("topics", []):
    sns.create_topic(Name=name, Tags=tags(t))
queue = boto3.client("sqs", **kw).create_queue(QueueName="backup-trigger-requests")["QueueUrl"]
print(json.dumps({"queue": queue, "volumes": volumes}))
"#;

/// moto, with the resources of a spec and the request queue.
struct Seeded {
    moto: Moto,
    queue_url: String,
    /// The ARNs of the volumes, in the spec's order.
    volumes: Vec<String>,
}

impl Seeded {
    async fn start(spec: Value) -> Seeded {
        let moto = Moto::start().await;
        let spec = spec.to_string();
        let seeded = moto
            .python(&format!("import sys; sys.argv = ['', {spec:?}]\n{SEED}"))
            .await;
        let queue_url = seeded["queue"].as_str().expect("a queue URL").to_owned();
        let volumes = seeded["volumes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| volume(v.as_str().unwrap()))
            .collect();
        Seeded {
            moto,
            queue_url,
            volumes,
        }
    }

    fn queue_arn(&self) -> String {
        format!("arn:aws:sqs:{REGION}:{ACCOUNT}:backup-trigger-requests")
    }

    /// The function's environment: moto's Tagging API and SQS, with or without the
    /// request queue.
    fn env(&self, queue: bool) -> Vec<(&str, &str)> {
        let mut env = vec![
            (
                "AWS_ENDPOINT_URL_RESOURCE_GROUPS_TAGGING_API",
                self.moto.endpoint.as_str(),
            ),
            ("AWS_ENDPOINT_URL_SQS", self.moto.endpoint.as_str()),
        ];
        if queue {
            env.push(("REQUEST_QUEUE_URL", self.queue_url.as_str()));
        }
        env
    }
}

/// `backup=nightly` and a tag whose value must never be printed.
fn nightly() -> Value {
    json!({ "backup": "nightly", "note": "$SECRET" })
}

/// What a finding should say of its resource.
#[derive(Clone, Copy)]
struct Why<'a> {
    kind: &'a str,
    /// Hours since the last backup; None: never backed up.
    age: Option<f64>,
    vault: Option<&'a str>,
    in_progress: bool,
    /// The last job's state and status message.
    last_job: Option<(&'a str, Option<&'a str>)>,
}

impl<'a> Why<'a> {
    fn never(kind: &'a str) -> Why<'a> {
        Why {
            kind,
            age: None,
            vault: None,
            in_progress: false,
            last_job: None,
        }
    }

    fn stale(kind: &'a str, age: f64, vault: &'a str) -> Why<'a> {
        Why {
            age: Some(age),
            vault: Some(vault),
            ..Why::never(kind)
        }
    }
}

// ------------------------------------------------------------- 1. findings

/// Without remediation, an audit says which resources have no recent enough backup
/// and why, oldest first, in its answer, its `unprotected` and `audit` lines and its
/// metrics; it reads every page of both listings, ListBackupJobs since MaxAgeHours
/// ago only.
#[tokio::test]
async fn an_audit_finds_every_unprotected_resource_and_says_why() {
    let seeded = Seeded::start(json!({
        "tables": [
            ["audit-fresh-a", nightly()], ["audit-fresh-b", nightly()], ["audit-stale-old", nightly()],
            ["audit-running", nightly()], ["audit-never", nightly()],
            ["audit-test-owned", {"backup": "nightly", "owner": "test-bot"}],
            ["audit-weekly", {"backup": "weekly", "note": "$SECRET"}]
        ],
        "volumes": [nightly()],
        "buckets": [["audit-stale-bucket", nightly()]],
        "topics": [["audit-alerts", nightly()]]
    }))
    .await;
    let (fresh_a, fresh_b, stale_old, running, never) = (
        table("audit-fresh-a"),
        table("audit-fresh-b"),
        table("audit-stale-old"),
        table("audit-running"),
        table("audit-never"),
    );
    let stale_volume = seeded.volumes[0].clone();
    let failed_bucket = "arn:aws:s3:::audit-stale-bucket".to_owned();
    let weekly = table("audit-weekly");
    let failure = "IAM Role arn:aws:iam::123456789012:role/service-role/AWSBackupDefaultServiceRole does not have sufficient permissions to execute the backup";

    let setup = Setup::start(&seeded.env(false)).await;
    // Three pages; the half hours keep whole-hour ages off their boundaries.
    protected_listing(
        &setup.backup,
        2_600,
        vec![
            (10, Protected::new(&fresh_a, hours(3.0))),
            (999, protected_in(&stale_old, hours(100.5), "Weekly")),
            (1_000, Protected::new(&running, hours(50.5))),
            (1_500, Protected::new(&fresh_b, hours(25.0))),
            // Not audited: older than every audited resource, and never a finding.
            (2_000, Protected::new(&weekly, hours(200.5))),
            (2_550, Protected::new(&stale_volume, hours(30.5))),
            (2_599, Protected::new(&failed_bucket, hours(40.5))),
        ],
    );
    job_listing(
        &setup.backup,
        2_300,
        vec![
            (
                5,
                Job::new(&failed_bucket, "FAILED", hours(24.0), Some("an older failure")),
            ),
            // Created before the cutoff: ListBackupJobs leaves it out, so the
            // resource is not in progress.
            (100, Job::new(&never, "RUNNING", hours(28.0), None)),
            // A protected resource's job changes nothing.
            (700, Job::new(&fresh_a, "RUNNING", hours(1.0), None)),
            (1_700, Job::new(&running, "RUNNING", hours(1.0), None)),
            (2_250, Job::new(&failed_bucket, "FAILED", hours(20.5), Some(failure))),
            // The volume's most recent job comes first: whatever the order, the
            // most recently created job is the one a finding shows.
            (
                50,
                Job::new(&stale_volume, "ABORTED", hours(10.5), Some("aborted by an operator")),
            ),
            (
                2_290,
                Job::new(&stale_volume, "FAILED", hours(22.0), Some("an older failure")),
            ),
        ],
    );

    let key = "audit/e2e/findings";
    let before = now_ms();
    let answer = setup
        .lambda
        .invoke(&nightly_audit(Some(key), json!({ "MaxAgeHours": 26 })))
        .await;
    let after = now_ms();
    let answer = answer.response().clone();

    // moto lists the nine backup=nightly resources (the filter is passed); the
    // test-owned table is not matched, the topic is matched but unsupported.
    assert_eq!(
        answer["Audit"],
        json!({ "Name": "audit-nightly", "Found": 9, "Matched": 8, "Unsupported": 1, "Audited": 7,
                "Protected": 2, "InProgress": 1, "Unprotected": 4, "Remediated": 0,
                "Enqueued": 0, "Messages": 0 }),
        "{answer}"
    );
    assert_eq!(answer["Jobs"], json!([]));
    let expected_order = [
        never.clone(),
        stale_old.clone(),
        running.clone(),
        failed_bucket.clone(),
        stale_volume.clone(),
    ];
    assert_eq!(
        finding_arns(&answer),
        expected_order,
        "never backed up first, then the oldest; the one in progress too"
    );
    // What each finding says: its type, its last backup, its last job.
    let ago = |age: f64| -> (i64, i64) {
        let age = hours(age).as_millis() as i64;
        (before - age - 1_000, after - age + 1_000)
    };
    let default_vault = vault("Default");
    let weekly_vault = vault("Weekly");
    let why = [
        Why::never("DynamoDB"),
        Why::stale("DynamoDB", 100.5, &weekly_vault),
        Why {
            in_progress: true,
            last_job: Some(("RUNNING", None)),
            ..Why::stale("DynamoDB", 50.5, &default_vault)
        },
        Why {
            last_job: Some(("FAILED", Some(failure))),
            ..Why::stale("S3", 40.5, &default_vault)
        },
        Why {
            last_job: Some(("ABORTED", Some("aborted by an operator"))),
            ..Why::stale("EBS", 30.5, &default_vault)
        },
    ];
    for (finding, why) in answer["Findings"].as_array().unwrap().iter().zip(&why) {
        assert_eq!(finding["ResourceType"], why.kind, "{finding}");
        match why.age {
            None => assert_eq!(finding["LastBackupTime"], Value::Null, "{finding}"),
            Some(age) => {
                let at = rfc3339_ms(finding["LastBackupTime"].as_str().expect("a time"));
                let (earliest, latest) = ago(age);
                assert!((earliest..=latest).contains(&at), "{finding}: {at}");
            }
        }
        assert_eq!(finding["InProgress"], why.in_progress, "{finding}");
        assert_eq!(finding["LastJobState"], json!(why.last_job.map(|j| j.0)), "{finding}");
        assert_eq!(
            finding["LastJobMessage"],
            json!(why.last_job.and_then(|j| j.1)),
            "{finding}"
        );
    }

    // ListProtectedResources: every page, 1000 at a time, no filter.
    let protected = walked(&setup.backup, Listing::Protected);
    assert_eq!(protected.len(), 3);
    assert!(protected.iter().all(|r| names(r) == ["maxResults"]), "{protected:?}");
    // ListBackupJobs: after ListProtectedResources, every page, only the jobs
    // created since MaxAgeHours before the audit.
    let jobs = walked(&setup.backup, Listing::Jobs);
    assert_eq!(jobs.len(), 3, "2,299 jobs listed");
    let all = setup.backup.listing_requests();
    let last_protected = all.iter().rposition(|r| r.listing == Listing::Protected).unwrap();
    let first_job = all.iter().position(|r| r.listing == Listing::Jobs).unwrap();
    assert!(
        last_protected < first_job,
        "the jobs are read once the resources are known"
    );
    let cutoff = hours(26.0).as_millis() as i64;
    for request in &jobs {
        assert_eq!(names(request), ["createdAfter", "maxResults"], "{request:?}");
        let created_after = rfc3339_ms(request.param("createdAfter").unwrap());
        assert!(
            (before - cutoff - 1_000..=after - cutoff + 1_000).contains(&created_after),
            "createdAfter {created_after} is not 26 hours before the audit ({before}..{after})"
        );
    }
    assert_eq!(jobs[0].param("createdAfter"), jobs[2].param("createdAfter"));

    let (output, recorded) = setup.finish().await;
    assert!(recorded.is_empty(), "no remediation asked: nothing started");

    // One `unprotected` line a finding, in the same order, at WARN, every field.
    let lines = output.lines("unprotected");
    let arns: Vec<&str> = lines.iter().map(|l| l["resource_arn"].as_str().unwrap()).collect();
    assert_eq!(arns, expected_order.iter().map(String::as_str).collect::<Vec<_>>());
    for (line, why) in lines.iter().zip(&why) {
        assert_eq!(line["level"], "WARN", "{line}");
        assert_eq!(line["resource_type"], why.kind, "{line}");
        // Whole hours: the half hours keep them off their boundaries.
        assert_eq!(line["age_hours"], json!(why.age.map(|a| a.floor() as i64)), "{line}");
        assert_eq!(line["last_vault"], json!(why.vault), "{line}");
        assert_eq!(line["in_progress"], why.in_progress, "{line}");
        assert_eq!(line["remediated"], false, "{line}");
        assert_eq!(line["last_job_state"], json!(why.last_job.map(|j| j.0)), "{line}");
        assert_eq!(
            line["last_job_message"],
            json!(why.last_job.and_then(|j| j.1)),
            "{line}"
        );
        assert_eq!(line["source_id"], key, "{line}");
        match why.age {
            // Never backed up: no time, no age, no vault: the fields are absent.
            None => {
                for field in ["last_backup_time", "age_hours", "last_vault", "last_job_state"] {
                    assert!(line.get(field).is_none(), "{field} in {line}");
                }
            }
            Some(_) => {
                let at = rfc3339_ms(line["last_backup_time"].as_str().expect("RFC 3339"));
                let finding = answer["Findings"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|f| f["ResourceArn"] == line["resource_arn"])
                    .unwrap();
                assert_eq!(at, rfc3339_ms(finding["LastBackupTime"].as_str().unwrap()));
            }
        }
        // Every documented field that has a value, and only those.
        let present: BTreeSet<&str> = line
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .filter(|k| UNPROTECTED_FIELDS.contains(k))
            .collect();
        let expected_present = (if why.age.is_none() { 4 } else { 7 })
            + usize::from(why.last_job.is_some())
            + usize::from(why.last_job.and_then(|j| j.1).is_some());
        assert_eq!(present.len(), expected_present, "{line}");
    }

    // The unsupported topic is logged by its ARN.
    let unsupported = output
        .log_lines()
        .into_iter()
        .filter(|l| {
            l["message"]
                .as_str()
                .unwrap_or("")
                .starts_with("matched but not a type")
        })
        .collect::<Vec<_>>();
    assert_eq!(unsupported.len(), 1);
    assert_eq!(
        unsupported[0]["resource_arn"],
        format!("arn:aws:sns:{REGION}:{ACCOUNT}:audit-alerts")
    );

    // The `audit` line: the answer's counts, at WARN since some are unprotected.
    let audit = output.lines("audit");
    assert_eq!(audit.len(), 1);
    let audit = &audit[0];
    assert_eq!(audit["level"], "WARN", "{audit}");
    for (field, value) in [
        ("found", 9),
        ("matched", 8),
        ("unsupported", 1),
        ("audited", 7),
        ("protected", 2),
        ("in_progress", 1),
        ("unprotected", 4),
        ("remediated", 0),
        ("enqueued", 0),
        ("messages", 0),
    ] {
        assert_eq!(audit[field], value, "{field}: {audit}");
    }
    assert_eq!(audit["selection_name"], "audit-nightly");
    assert_eq!(audit["source_id"], key);
    let oldest = hours(100.5).as_secs() as i64;
    let oldest_logged = audit["oldest_backup_age_seconds"].as_i64().unwrap();
    assert!(
        (oldest - 60..=oldest).contains(&oldest_logged),
        "the oldest audited backup, 100.5 hours, not the unaudited 200.5: {audit}"
    );

    // The metrics line: the five audit metrics, with their units.
    let metrics = metrics_lines(&output);
    assert_eq!(metrics.len(), 1);
    let values = audit_metrics(&metrics[0]);
    assert_eq!(values["ResourcesAudited"], 7);
    assert_eq!(values["ResourcesUnprotected"], 4);
    assert_eq!(values["ResourcesInProgress"], 1);
    assert_eq!(values["ResourcesRemediated"], 0);
    assert_eq!(values["OldestBackupAge"], oldest_logged as u64);
    assert_eq!(metrics[0]["JobsStarted"], 0);
    assert_eq!(metrics[0]["EventsRejected"], 0);
}

// ------------------------------------------------------------- 2. all protected

/// When every audited resource has a recent enough backup, ListBackupJobs is not
/// read at all, nothing is remediated, and the `audit` line is INFO; once one is
/// stale, it is read.
#[tokio::test]
async fn when_everything_is_protected_the_jobs_are_not_listed() {
    let names = ["all-a", "all-b", "all-c"];
    let tagging = nightly_tables(&names).await;
    let setup = Setup::start(&[("AWS_ENDPOINT_URL_RESOURCE_GROUPS_TAGGING_API", &tagging.endpoint)]).await;
    protected_listing(
        &setup.backup,
        1_200,
        vec![
            (0, Protected::new(&table("all-a"), hours(2.0))),
            (600, Protected::new(&table("all-b"), hours(10.5))),
            (1_199, Protected::new(&table("all-c"), hours(20.5))),
        ],
    );
    job_listing(
        &setup.backup,
        10,
        vec![(
            0,
            Job::new(&table("all-c"), "FAILED", hours(1.0), Some("not to be read")),
        )],
    );

    let audit = nightly_audit(Some("audit/e2e/all"), json!({ "MaxAgeHours": 26, "Remediate": true }));
    let answer = setup.lambda.invoke(&audit).await;
    let answer = answer.response();
    assert_eq!(answer["Audit"]["Audited"], 3, "{answer}");
    assert_eq!(answer["Audit"]["Protected"], 3, "{answer}");
    assert_eq!(answer["Audit"]["Unprotected"], 0, "{answer}");
    assert_eq!(answer["Audit"]["Remediated"], 0, "{answer}");
    assert_eq!(answer["Findings"], json!([]));
    assert_eq!(answer["Jobs"], json!([]));
    walked(&setup.backup, Listing::Protected);
    assert_eq!(
        setup.backup.listing_calls(Listing::Jobs),
        0,
        "nothing is stale: ListBackupJobs is not called"
    );

    // With MaxAgeHours 12, the table backed up 20.5 hours ago is stale: now the
    // jobs are read, and it is remediated.
    let audit = nightly_audit(
        Some("audit/e2e/all-12h"),
        json!({ "MaxAgeHours": 12, "Remediate": true }),
    );
    let answer = setup.lambda.invoke(&audit).await;
    let answer = answer.response();
    assert_eq!(finding_arns(answer), [table("all-c")], "{answer}");
    assert_eq!(answer["Findings"][0]["LastJobMessage"], "not to be read");
    walked(&setup.backup, Listing::Jobs);

    let (output, recorded) = setup.finish().await;
    assert_eq!(
        started_once(&recorded).into_keys().collect::<Vec<_>>(),
        [table("all-c")]
    );
    let audit_lines = output.lines("audit");
    assert_eq!(audit_lines[0]["level"], "INFO", "{}", audit_lines[0]);
    assert_eq!(audit_lines[0]["unprotected"], 0);
    assert_eq!(audit_lines[1]["level"], "WARN");
    assert_eq!(output.lines("unprotected").len(), 1);
    let metrics = metrics_lines(&output);
    let first = audit_metrics(&metrics[0]);
    assert_eq!(first["ResourcesAudited"], 3);
    assert_eq!(first["ResourcesUnprotected"], 0);
    assert_eq!(first["ResourcesInProgress"], 0);
    assert_eq!(first["ResourcesRemediated"], 0);
    let oldest = hours(20.5).as_secs();
    assert!((oldest - 60..=oldest).contains(&first["OldestBackupAge"]), "{first:?}");
    assert_eq!(audit_metrics(&metrics[1])["ResourcesRemediated"], 1);
}

// ------------------------------------------------------------- 3. through the queue

/// With `Remediate` and a request queue, the oldest unprotected resources (never
/// one in progress), up to MaxRemediations, are enqueued as list messages carrying
/// the event's request fields and the tokens UUIDv5(IdempotencyKey, ARN); the
/// consumers start exactly one job each. The same audit again enqueues the same
/// tokens, so AWS Backup starts no second job.
#[tokio::test]
async fn remediation_fans_out_through_the_queue_with_stable_tokens() {
    let names: Vec<String> = (0..14).map(|i| format!("remedy-{i:02}")).collect();
    let tables: Vec<Value> = names.iter().map(|n| json!([n, nightly()])).collect();
    let seeded = Seeded::start(json!({ "tables": tables })).await;
    let arn = |i: usize| table(&names[i]);

    let setup = Setup::start(&seeded.env(true)).await;
    // remedy-00 and 01: never backed up. 02..=11: stale, ages in a scrambled order.
    // 12: protected. 13: the oldest of all, with a running job.
    let stale_age = |i: usize| 30.5 + ((i * 7) % 10) as f64;
    let mut placed: Vec<(usize, Protected)> = (2..12)
        .map(|i| (i * 100, Protected::new(&arn(i), hours(stale_age(i)))))
        .collect();
    placed.push((1_300, Protected::new(&arn(12), hours(5.0))));
    placed.push((1_400, Protected::new(&arn(13), hours(200.5))));
    protected_listing(&setup.backup, 1_500, placed);
    job_listing(
        &setup.backup,
        20,
        vec![(3, Job::new(&arn(13), "PENDING", hours(2.0), None))],
    );

    // Oldest first: the never backed up, then by age (the one in progress skipped);
    // 11 of the 12 unprotected.
    let mut stale: Vec<usize> = (2..12).collect();
    stale.sort_by(|a, b| stale_age(*b).partial_cmp(&stale_age(*a)).unwrap());
    let mut chosen: Vec<usize> = vec![0, 1];
    chosen.extend(&stale[..9]);
    let left_out = stale[9];
    let key = "audit/e2e/queue";
    let expected: BTreeMap<String, String> = chosen.iter().map(|&i| (arn(i), token(key, &arn(i)))).collect();

    let event = nightly_audit(
        Some(key),
        json!({ "MaxAgeHours": 26, "Remediate": true, "MaxRemediations": 11 }),
    );
    let answer = setup.lambda.invoke(&event).await;
    let answer = answer.response().clone();
    assert_eq!(
        answer["Audit"],
        json!({ "Name": "audit-nightly", "Found": 14, "Matched": 14, "Unsupported": 0, "Audited": 14,
                "Protected": 1, "InProgress": 1, "Unprotected": 12, "Remediated": 11,
                "Enqueued": 11, "Messages": 2 }),
        "{answer}"
    );
    assert_eq!(answer["Jobs"], json!([]), "the consumers start them, not the audit");
    assert!(
        setup.backup.recorded().is_empty(),
        "nothing started by the audit itself"
    );

    let messages = seeded.moto.receive(&seeded.queue_url).await;
    assert_eq!(messages.len(), 2, "ten requests a message");
    assert_eq!(queued(&messages), expected);
    for message in &messages {
        let body: Value = serde_json::from_str(message["body"].as_str().unwrap()).unwrap();
        for request in body["Jobs"].as_array().unwrap() {
            assert_carries_the_event_fields(request, &json!({ "owner": TAG_SECRET }));
        }
    }

    // The consumers: one job per remediated resource, with its queued token; none
    // for the one in progress nor for the one beyond MaxRemediations.
    let answer = setup
        .lambda
        .invoke(&moto_sqs_event(&seeded.queue_arn(), &messages))
        .await;
    assert_eq!(answer.response(), &json!({ "batchItemFailures": [] }));
    let recorded = setup.backup.recorded();
    assert_eq!(started_once(&recorded), expected);
    for call in &recorded {
        assert_carries_the_event_fields(&call.body, &json!({ "owner": TAG_SECRET }));
    }
    assert!(!recorded.iter().any(|c| c.body["ResourceArn"] == arn(13)));
    assert!(!recorded.iter().any(|c| c.body["ResourceArn"] == arn(left_out)));

    // The audit retried (same event, same key): the same requests, the same tokens.
    let again = setup.lambda.invoke(&event).await;
    assert_eq!(again.response()["Audit"]["Enqueued"], 11);
    let requeued = seeded.moto.receive(&seeded.queue_url).await;
    assert_eq!(queued(&requeued), expected, "a retried audit enqueues the same tokens");
    setup.backup.clear();
    setup
        .lambda
        .invoke(&moto_sqs_event(&seeded.queue_arn(), &requeued))
        .await
        .response();
    let again = setup.backup.recorded();
    assert_eq!(
        started_once(&again),
        expected,
        "the consumers send the same tokens: AWS Backup answers with the jobs it already started"
    );

    let (output, _) = setup.finish().await;
    let lines = output.lines("unprotected");
    assert_eq!(lines.len(), 2 * 13);
    for line in &lines[..13] {
        let arn = line["resource_arn"].as_str().unwrap();
        assert_eq!(line["remediated"], expected.contains_key(arn), "{line}");
    }
    let metrics = metrics_lines(&output);
    assert_eq!(metrics.len(), 4);
    let audit = audit_metrics(&metrics[0]);
    assert_eq!(audit["ResourcesRemediated"], 11);
    assert_eq!(audit["ResourcesUnprotected"], 12);
    assert_eq!(audit["ResourcesInProgress"], 1);
    assert_eq!(metrics[0]["JobsStarted"], 0);
    assert_eq!(metrics[1]["JobsStarted"], 11);
    assert_eq!(metrics[1]["MessagesFailed"], 0);
    assert_no_audit_metric(&metrics[1]);
}

// ------------------------------------------------------------- 4. started here

/// With no request queue, remediations start in the invocation and are counted;
/// MaxRemediations above what one invocation starts is refused before any call.
#[tokio::test]
async fn remediation_here_starts_the_oldest_and_too_many_is_refused_before_any_call() {
    let names = ["here-a", "here-b", "here-c", "here-d", "here-e"];
    let tagging = nightly_tables(&names).await;
    let setup = Setup::start(&[("AWS_ENDPOINT_URL_RESOURCE_GROUPS_TAGGING_API", &tagging.endpoint)]).await;
    protected_listing(
        &setup.backup,
        30,
        vec![
            (0, Protected::new(&table("here-a"), hours(2.0))),
            (1, Protected::new(&table("here-b"), hours(40.5))),
            (2, Protected::new(&table("here-c"), hours(30.5))),
            (3, Protected::new(&table("here-e"), hours(60.5))),
        ],
    );
    job_listing(
        &setup.backup,
        5,
        vec![(0, Job::new(&table("here-e"), "CREATED", hours(0.5), None))],
    );

    // Refused first, on a fresh fake: no listing was ever read.
    let key = "audit/e2e/here";
    let too_many = nightly_audit(
        Some(key),
        json!({ "MaxAgeHours": 26, "Remediate": true, "MaxRemediations": 1001 }),
    );
    let answer = setup.lambda.invoke(&too_many).await;
    let (error_type, message) = answer.error();
    assert_eq!(error_type, "ValidationError");
    assert!(
        message.contains("MaxRemediations") && message.contains("REQUEST_QUEUE_URL"),
        "{message}"
    );
    assert_eq!(setup.backup.listing_calls(Listing::Protected), 0);
    assert_eq!(setup.backup.listing_calls(Listing::Jobs), 0);
    assert!(tagging.requests().is_empty(), "not even the Tagging API");

    // 1,000 is what one invocation starts: accepted. Without Remediate, 1001 is no
    // number of backups: accepted too.
    let at_most = nightly_audit(
        Some("audit/e2e/here-1000"),
        json!({ "MaxAgeHours": 26, "Remediate": true, "MaxRemediations": 1000 }),
    );
    let answer = setup.lambda.invoke(&at_most).await;
    assert_eq!(answer.response()["Audit"]["Remediated"], 3);
    let findings_only = nightly_audit(
        Some("audit/e2e/here-off"),
        json!({ "MaxAgeHours": 26, "MaxRemediations": 1001 }),
    );
    let answer = setup.lambda.invoke(&findings_only).await;
    assert_eq!(answer.response()["Audit"]["Remediated"], 0);
    setup.backup.clear();

    // Two remediations: the never backed up, then the oldest not in progress.
    let event = nightly_audit(
        Some(key),
        json!({ "MaxAgeHours": 26, "Remediate": true, "MaxRemediations": 2 }),
    );
    let answer = setup.lambda.invoke(&event).await;
    let answer = answer.response().clone();
    assert_eq!(
        finding_arns(&answer),
        [table("here-d"), table("here-e"), table("here-b"), table("here-c")]
    );
    assert_eq!(answer["Audit"]["Remediated"], 2, "{answer}");
    assert_eq!(answer["Audit"]["Enqueued"], 0);
    assert_eq!(answer["Audit"]["Messages"], 0);
    let chosen = [table("here-d"), table("here-b")];
    let expected: BTreeMap<String, String> = chosen.iter().map(|a| (a.clone(), token(key, a))).collect();
    let jobs = answer["Jobs"].as_array().unwrap();
    assert_eq!(jobs.len(), 2, "{answer}");
    let answered: BTreeMap<String, String> = jobs
        .iter()
        .map(|j| {
            assert!(j["BackupJobId"].as_str().unwrap().starts_with("backup-"), "{j}");
            (
                j["ResourceArn"].as_str().unwrap().to_owned(),
                j["IdempotencyToken"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(answered, expected);

    let (output, recorded) = setup.finish().await;
    assert_eq!(started_once(&recorded), expected);
    for call in &recorded {
        assert_carries_the_event_fields(&call.body, &json!({ "owner": TAG_SECRET }));
    }
    let lines = output.lines("unprotected");
    let last = &lines[lines.len() - 4..];
    let remediated: Vec<bool> = last.iter().map(|l| l["remediated"].as_bool().unwrap()).collect();
    assert_eq!(remediated, [true, false, true, false], "{last:?}");
    let requests = output.lines("request");
    let started: Vec<&Value> = requests.iter().filter(|l| l["outcome"] == "started").collect();
    assert_eq!(started.len(), 3 + 2);

    let metrics = metrics_lines(&output);
    assert_eq!(metrics.len(), 4);
    assert_eq!(metrics[0]["EventsRejected"], 1, "{}", metrics[0]);
    assert_eq!(metrics[0]["JobsStarted"], 0);
    assert_no_audit_metric(&metrics[0]);
    let rejected = output.lines("event");
    assert_eq!(rejected[0]["outcome"], "rejected");
    assert_eq!(rejected[0]["error_type"], "ValidationError");
    assert_eq!(audit_metrics(&metrics[1])["ResourcesRemediated"], 3);
    assert_eq!(audit_metrics(&metrics[2])["ResourcesRemediated"], 0);
    let last = audit_metrics(&metrics[3]);
    assert_eq!(last["ResourcesRemediated"], 2);
    assert_eq!(last["ResourcesUnprotected"], 3);
    assert_eq!(last["ResourcesInProgress"], 1);
    assert_eq!(metrics[3]["JobsStarted"], 2);
    assert_eq!(metrics[3]["EventsRejected"], 0);
}

// ------------------------------------------------------------- 5. a listing fails

/// A listing that fails half-way fails the audit with AWS's error code; nothing is
/// started or enqueued, and no audit metric is written.
#[tokio::test]
async fn a_listing_failing_half_way_fails_the_audit_and_remediates_nothing() {
    let names: Vec<String> = (0..5).map(|i| format!("failing-{i}")).collect();
    let tables: Vec<Value> = names.iter().map(|n| json!([n, nightly()])).collect();
    let seeded = Seeded::start(json!({ "tables": tables })).await;
    for queue in [true, false] {
        let setup = Setup::start(&seeded.env(queue)).await;
        // Every audited table is stale, on page 1 of both listings.
        protected_listing(
            &setup.backup,
            1_500,
            (0..5)
                .map(|i| (i, Protected::new(&table(&names[i]), hours(30.5))))
                .collect(),
        );
        job_listing(
            &setup.backup,
            2_500,
            (0..5)
                .map(|i| (i, Job::new(&table(&names[i]), "FAILED", hours(3.0), Some("disk full"))))
                .collect(),
        );
        let event = nightly_audit(
            Some("audit/e2e/failing"),
            json!({ "MaxAgeHours": 26, "Remediate": true }),
        );

        // ListBackupJobs: page 2 is refused.
        setup
            .backup
            .fail_listing_page(Listing::Jobs, 2, 403, "AccessDeniedException", Times::Always);
        let answer = setup.lambda.invoke(&event).await;
        let (error_type, message) = answer.error();
        assert_eq!(error_type, "AccessDeniedException", "queue {queue}: {message}");
        assert!(message.contains("ListBackupJobs"), "{message}");
        let pages: Vec<usize> = setup
            .backup
            .listings()
            .requests_of(Listing::Jobs)
            .iter()
            .map(|r| r.page)
            .collect();
        assert_eq!(pages, [1, 2], "the walk stops at the refused page");

        // ListProtectedResources: page 2 is refused; the jobs are never read.
        setup.backup.clear();
        let jobs_before = setup.backup.listing_calls(Listing::Jobs);
        setup
            .backup
            .fail_listing_page(Listing::Protected, 2, 403, "AccessDeniedException", Times::Always);
        let answer = setup.lambda.invoke(&event).await;
        let (error_type, message) = answer.error();
        assert_eq!(error_type, "AccessDeniedException", "queue {queue}: {message}");
        assert!(message.contains("ListProtectedResources"), "{message}");
        assert_eq!(setup.backup.listing_calls(Listing::Jobs), jobs_before);
        let pages: Vec<usize> = setup
            .backup
            .listings()
            .requests_of(Listing::Protected)
            .iter()
            .map(|r| r.page)
            .collect();
        assert_eq!(pages, [1, 2]);

        let (output, recorded) = setup.finish().await;
        assert!(recorded.is_empty(), "queue {queue}: nothing started");
        assert!(
            seeded.moto.receive(&seeded.queue_url).await.is_empty(),
            "queue {queue}: nothing enqueued"
        );
        assert!(output.lines("audit").is_empty(), "no verdict from half a listing");
        assert!(output.lines("unprotected").is_empty());
        let events = output.lines("event");
        assert_eq!(events.len(), 2);
        for event in &events {
            assert_eq!(event["outcome"], "rejected", "{event}");
            assert_eq!(event["error_type"], "AccessDeniedException", "{event}");
        }
        let metrics = metrics_lines(&output);
        assert_eq!(metrics.len(), 2);
        for line in &metrics {
            assert_no_audit_metric(line);
            assert_eq!(line["JobsStarted"], 0);
        }
    }
}

// ------------------------------------------------------------- 6. listed twice

/// A resource that the Tagging API or ListProtectedResources lists twice is
/// audited once and remediated once; of two backups listed for one resource, the
/// most recent counts, in whatever order they come.
#[tokio::test]
async fn a_resource_listed_twice_is_audited_once_and_remediated_once() {
    let tagged = |name: &str| json!({ "ResourceARN": table(name), "Tags": [{"Key": "backup", "Value": "nightly"}, {"Key": "note", "Value": TAG_SECRET}] });
    // The Tagging API gives 100 a page: dup-b is on pages 1 and 2, dup-d on 1 and 3.
    let mut mappings: Vec<Value> = ["dup-a", "dup-b", "dup-c", "dup-d"].map(tagged).to_vec();
    for i in 4..250 {
        let mapping = match i {
            150 => tagged("dup-b"),
            201 => tagged("dup-d"),
            _ => {
                json!({ "ResourceARN": table(&format!("other-{i}")), "Tags": [{"Key": "backup", "Value": "nightly"}, {"Key": "owner", "Value": "test-bot"}] })
            }
        };
        mappings.push(mapping);
    }
    let tagging = FakeTagging::from_listing(&json!({ "ResourceTagMappingList": mappings })).await;
    let setup = Setup::start(&[("AWS_ENDPOINT_URL_RESOURCE_GROUPS_TAGGING_API", &tagging.endpoint)]).await;
    // ListProtectedResources lists everything twice, a listing apart (so on other
    // pages). dup-c is fresh, then stale; dup-d stale, then fresh: both protected.
    protected_listing(
        &setup.backup,
        1_200,
        vec![
            (5, Protected::new(&table("dup-a"), hours(30.5))),
            (8, Protected::new(&table("dup-c"), hours(2.0))),
            (9, Protected::new(&table("dup-d"), hours(40.5))),
            (1_100, Protected::new(&table("dup-c"), hours(40.5))),
            (1_101, Protected::new(&table("dup-d"), hours(2.0))),
        ],
    );
    setup
        .backup
        .set_listing_duplicates(Listing::Protected, Duplicates::Repeated);
    job_listing(
        &setup.backup,
        10,
        vec![(4, Job::new(&table("dup-a"), "FAILED", hours(3.0), Some("throttled")))],
    );
    setup.backup.set_listing_duplicates(Listing::Jobs, Duplicates::Adjacent);

    let key = "audit/e2e/twice";
    let answer = setup
        .lambda
        .invoke(&nightly_audit(
            Some(key),
            json!({ "MaxAgeHours": 26, "Remediate": true }),
        ))
        .await;
    let answer = answer.response().clone();
    assert_eq!(walked(&setup.backup, Listing::Protected).len(), 3, "2,400 listed");
    assert_eq!(
        answer["Audit"],
        json!({ "Name": "audit-nightly", "Found": 250, "Matched": 4, "Unsupported": 0, "Audited": 4,
                "Protected": 2, "InProgress": 0, "Unprotected": 2, "Remediated": 2,
                "Enqueued": 0, "Messages": 0 }),
        "{answer}"
    );
    assert_eq!(finding_arns(&answer), [table("dup-b"), table("dup-a")]);
    assert_eq!(answer["Findings"][1]["LastJobState"], "FAILED");
    assert_eq!(answer["Jobs"].as_array().unwrap().len(), 2);

    let (output, recorded) = setup.finish().await;
    let expected: BTreeMap<String, String> = [table("dup-a"), table("dup-b")]
        .into_iter()
        .map(|a| {
            let t = token(key, &a);
            (a, t)
        })
        .collect();
    assert_eq!(started_once(&recorded), expected);
    assert_eq!(output.lines("unprotected").len(), 2);
    let metrics = audit_metrics(&metrics_lines(&output)[0]);
    assert_eq!(metrics["ResourcesAudited"], 4);
    assert_eq!(metrics["ResourcesRemediated"], 2);
}

// ------------------------------------------------------------- 7. dry run

/// DRY_RUN reads the listings and sends nothing: the answer shows what would be
/// remediated (the counts, and the requests marked `"DryRun": true`), and the
/// metrics count no remediation. With a queue and without.
#[tokio::test]
async fn a_dry_run_audit_reads_the_listings_and_sends_nothing() {
    let names: Vec<String> = (0..12).map(|i| format!("dry-{i:02}")).collect();
    let tables: Vec<Value> = names.iter().map(|n| json!([n, nightly()])).collect();
    let seeded = Seeded::start(json!({ "tables": tables })).await;
    for queue in [true, false] {
        let mut env = seeded.env(queue);
        env.push(("DRY_RUN", "true"));
        let setup = Setup::start(&env).await;
        // dry-00 is protected; the others were never backed up.
        protected_listing(
            &setup.backup,
            50,
            vec![(7, Protected::new(&table(&names[0]), hours(1.0)))],
        );
        job_listing(&setup.backup, 5, vec![]);
        let key = "audit/e2e/dry";
        let answer = setup
            .lambda
            .invoke(&nightly_audit(
                Some(key),
                json!({ "MaxAgeHours": 26, "Remediate": true }),
            ))
            .await;
        let answer = answer.response().clone();
        let audit = &answer["Audit"];
        assert_eq!(audit["Unprotected"], 11, "{answer}");
        assert_eq!(audit["Remediated"], 11, "queue {queue}: what would be: {answer}");
        let (enqueued, messages) = if queue { (11, 2) } else { (0, 0) };
        assert_eq!(audit["Enqueued"], enqueued, "{answer}");
        assert_eq!(audit["Messages"], messages, "{answer}");
        let jobs = answer["Jobs"].as_array().unwrap();
        let shown: BTreeMap<String, String> = jobs
            .iter()
            .map(|j| {
                assert_eq!(j["DryRun"], true, "{j}");
                assert!(j.get("BackupJobId").is_none(), "{j}");
                assert_eq!(j["RecoveryPointTags"], json!({ "owner": "*** redacted ***" }), "{j}");
                (
                    j["ResourceArn"].as_str().unwrap().to_owned(),
                    j["IdempotencyToken"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        let expected: BTreeMap<String, String> = names[1..].iter().map(|n| (table(n), token(key, &table(n)))).collect();
        assert_eq!(shown, expected, "queue {queue}");
        assert!(setup.backup.listing_calls(Listing::Protected) >= 1);
        assert!(setup.backup.listing_calls(Listing::Jobs) >= 1);

        let (output, recorded) = setup.finish().await;
        assert!(recorded.is_empty(), "queue {queue}: a dry run starts nothing");
        assert!(
            seeded.moto.receive(&seeded.queue_url).await.is_empty(),
            "queue {queue}: a dry run enqueues nothing"
        );
        let metrics = metrics_lines(&output);
        let values = audit_metrics(&metrics[0]);
        assert_eq!(
            values["ResourcesRemediated"], 0,
            "queue {queue}: nothing was remediated"
        );
        assert_eq!(values["ResourcesUnprotected"], 11);
        assert_eq!(metrics[0]["JobsStarted"], 0);
    }
}

// ------------------------------------------------------------- 8. where tokens come from

/// An audit in an SQS message's body without a key takes its tokens from the
/// message id, one in an EventBridge event's detail from the event id; a key in
/// the body comes first.
#[tokio::test]
async fn an_audit_in_a_message_or_a_detail_takes_its_tokens_from_there() {
    let names = ["from-a", "from-b"];
    let tagging = nightly_tables(&names).await;
    let setup = Setup::start(&[("AWS_ENDPOINT_URL_RESOURCE_GROUPS_TAGGING_API", &tagging.endpoint)]).await;
    protected_listing(
        &setup.backup,
        10,
        vec![(3, Protected::new(&table("from-b"), hours(48.5)))],
    );
    let audit = nightly_audit(None, json!({ "MaxAgeHours": 26, "Remediate": true }));
    let arns = [table("from-a"), table("from-b")];
    let tokens_of =
        |source: &str| -> BTreeMap<String, String> { arns.iter().map(|a| (a.clone(), token(source, a))).collect() };

    // In an SQS message: the message id; the same message redelivered, the same.
    let message_id = "5d0c7c1e-3b2a-4f6e-9d8c-7b6a5f4e3d2c";
    let event = sqs_event("requests", &[(message_id, audit.clone())]);
    for _ in 0..2 {
        setup.backup.clear();
        let answer = setup.lambda.invoke(&event).await;
        assert_eq!(answer.response(), &json!({ "batchItemFailures": [] }));
        assert_eq!(started_once(&setup.backup.recorded()), tokens_of(message_id));
    }

    // In an EventBridge rule's detail: the event id.
    setup.backup.clear();
    let event_id = "b7e1c2d3-0000-4000-8000-0a1b2c3d4e5f";
    let eventbridge = json!({
        "version": "0", "id": event_id, "detail-type": "Nightly audit", "source": "com.example.backups",
        "account": ACCOUNT, "time": "2026-11-22T09:00:00Z", "region": REGION, "resources": [],
        "detail": audit
    });
    let answer = setup.lambda.invoke(&eventbridge).await;
    assert_eq!(answer.response()["Audit"]["Remediated"], 2);
    assert_eq!(started_once(&setup.backup.recorded()), tokens_of(event_id));

    // A key in the message's body comes before the message id.
    setup.backup.clear();
    let keyed = nightly_audit(Some("audit/e2e/keyed"), json!({ "MaxAgeHours": 26, "Remediate": true }));
    let answer = setup
        .lambda
        .invoke(&sqs_event("requests", &[("another-message", keyed)]))
        .await;
    assert_eq!(answer.response(), &json!({ "batchItemFailures": [] }));
    assert_eq!(started_once(&setup.backup.recorded()), tokens_of("audit/e2e/keyed"));

    let (output, _) = setup.finish().await;
    let sources: Vec<(String, Option<String>)> = output
        .lines("audit")
        .iter()
        .map(|l| {
            (
                l["source_id"].as_str().unwrap().to_owned(),
                l["message_id"].as_str().map(str::to_owned),
            )
        })
        .collect();
    assert_eq!(
        sources,
        [
            (message_id.to_owned(), Some(message_id.to_owned())),
            (message_id.to_owned(), Some(message_id.to_owned())),
            (event_id.to_owned(), None),
            ("audit/e2e/keyed".to_owned(), Some("another-message".to_owned())),
        ]
    );
    let metrics = metrics_lines(&output);
    assert_eq!(metrics.len(), 4);
    for line in &metrics {
        assert_eq!(audit_metrics(line)["ResourcesRemediated"], 2, "{line}");
        assert_eq!(line["JobsStarted"], 2, "{line}");
    }
}

// ------------------------------------------------------------- 9. a remediation fails

/// A remediation started here that AWS Backup refuses fails the event with its
/// code, naming it; the others start, and only they count as remediated: in the
/// `unprotected` lines, the answer's error and ResourcesRemediated.
#[tokio::test]
async fn a_remediation_refused_by_aws_is_not_counted_as_remediated() {
    let names = ["refused-a", "refused-b", "refused-c"];
    let tagging = nightly_tables(&names).await;
    let setup = Setup::start(&[("AWS_ENDPOINT_URL_RESOURCE_GROUPS_TAGGING_API", &tagging.endpoint)]).await;
    protected_listing(
        &setup.backup,
        10,
        vec![
            (1, Protected::new(&table("refused-a"), hours(50.5))),
            (2, Protected::new(&table("refused-b"), hours(40.5))),
            (3, Protected::new(&table("refused-c"), hours(30.5))),
        ],
    );
    setup
        .backup
        .reply_for("table/refused-b", Reply::Error(400, "AccessDeniedException"));
    let key = "audit/e2e/refused";
    let answer = setup
        .lambda
        .invoke(&nightly_audit(
            Some(key),
            json!({ "MaxAgeHours": 26, "Remediate": true }),
        ))
        .await;
    let (error_type, message) = answer.error();
    assert_eq!(error_type, "AccessDeniedException", "{message}");
    assert!(
        message.contains(&table("refused-b")) && message.contains(&token(key, &table("refused-b"))),
        "{message}"
    );

    let (output, recorded) = setup.finish().await;
    let expected: BTreeMap<String, String> = names.iter().map(|n| (table(n), token(key, &table(n)))).collect();
    assert_eq!(started_once(&recorded), expected, "each asked once");
    let remediated: Vec<(String, bool)> = output
        .lines("unprotected")
        .iter()
        .map(|l| {
            (
                l["resource_arn"].as_str().unwrap().to_owned(),
                l["remediated"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        remediated,
        [
            (table("refused-a"), true),
            (table("refused-b"), false),
            (table("refused-c"), true)
        ]
    );
    let audit = &output.lines("audit")[0];
    assert_eq!(audit["remediated"], 2, "{audit}");
    let metrics = metrics_lines(&output);
    let values = audit_metrics(&metrics[0]);
    assert_eq!(values["ResourcesRemediated"], 2);
    assert_eq!(values["ResourcesUnprotected"], 3);
    assert_eq!(metrics[0]["JobsStarted"], 2);
    assert_eq!(metrics[0]["JobsFailed"], 1);
}

// ------------------------------------------------------------- 9. gaps a review found

/// ListProtectedResources may end long before the Tagging API does: a stale
/// resource that the Tagging API lists only then still has its jobs read, so that
/// a backup under way is seen and not remediated.
#[tokio::test]
async fn a_stale_resource_listed_after_the_protected_listing_ended_still_has_its_jobs_read() {
    let names: Vec<String> = (0..300).map(|i| format!("late-{i:03}")).collect();
    let listed: Vec<(String, Vec<(String, String)>)> = names
        .iter()
        .map(|n| (table(n), vec![("backup".to_owned(), "nightly".to_owned())]))
        .collect();
    // Three pages of 100, each 300 ms after its request; ListProtectedResources
    // answers at once, in one page.
    let tagging = FakeTagging::start(
        listed.len(),
        std::sync::Arc::new(move |i| listed[i].clone()),
        Duration::from_millis(300),
    )
    .await;
    let setup = Setup::start(&[("AWS_ENDPOINT_URL_RESOURCE_GROUPS_TAGGING_API", &tagging.endpoint)]).await;
    let stale = table(&names[299]);
    let placed = names
        .iter()
        .enumerate()
        .map(|(i, n)| {
            let age = if i == 299 { hours(50.0) } else { hours(2.0) };
            (i, Protected::new(&table(n), age))
        })
        .collect();
    protected_listing(&setup.backup, 300, placed);
    job_listing(
        &setup.backup,
        20,
        vec![(7, Job::new(&stale, "RUNNING", hours(1.0), None))],
    );
    let answer = setup
        .lambda
        .invoke(&nightly_audit(
            Some("audit/e2e/late"),
            json!({ "MaxAgeHours": 26, "Remediate": true }),
        ))
        .await;
    let answer = answer.response();
    assert_eq!(answer["Audit"]["Audited"], 300, "{answer}");
    assert_eq!(answer["Audit"]["InProgress"], 1, "{answer}");
    assert_eq!(answer["Audit"]["Unprotected"], 0, "{answer}");
    assert_eq!(answer["Audit"]["Remediated"], 0, "{answer}");
    assert_eq!(answer["Findings"][0]["ResourceArn"], stale.as_str());
    assert_eq!(answer["Findings"][0]["InProgress"], true);
    assert_eq!(answer["Findings"][0]["LastJobState"], "RUNNING");
    // ListProtectedResources was one page, answered at once; the stale resource
    // came on the Tagging API's third page, 900 ms later.
    assert_eq!(setup.backup.listing_calls(Listing::Protected), 1);
    assert!(setup.backup.listing_calls(Listing::Jobs) >= 1);
    let (_, recorded) = setup.finish().await;
    assert!(
        recorded.is_empty(),
        "a resource in progress is never remediated: {recorded:?}"
    );
}

/// Every resource not protected has its `unprotected` line, however many there are
/// (the answer shows 100 findings), and the `audit` line comes after them.
#[tokio::test]
async fn every_unprotected_resource_has_its_line_and_the_audit_line_comes_last() {
    let names: Vec<String> = (0..130).map(|i| format!("never-{i:03}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let tagging = nightly_tables(&refs).await;
    let setup = Setup::start(&[("AWS_ENDPOINT_URL_RESOURCE_GROUPS_TAGGING_API", &tagging.endpoint)]).await;
    protected_listing(&setup.backup, 5, vec![]);
    let answer = setup
        .lambda
        .invoke(&nightly_audit(None, json!({ "MaxAgeHours": 26 })))
        .await;
    let answer = answer.response().clone();
    assert_eq!(answer["Audit"]["Unprotected"], 130, "{answer}");
    assert_eq!(answer["Findings"].as_array().unwrap().len(), 100);
    let (output, _) = setup.finish().await;
    let lines = output.log_lines();
    let unprotected: Vec<usize> = (0..lines.len())
        .filter(|&i| lines[i]["message"] == "unprotected")
        .collect();
    let logged: BTreeSet<&str> = unprotected
        .iter()
        .map(|&i| lines[i]["resource_arn"].as_str().unwrap())
        .collect();
    let all: BTreeSet<String> = names.iter().map(|n| table(n)).collect();
    assert_eq!(logged, all.iter().map(String::as_str).collect());
    let audit: Vec<usize> = (0..lines.len()).filter(|&i| lines[i]["message"] == "audit").collect();
    assert_eq!(audit.len(), 1);
    assert!(audit[0] > *unprotected.last().unwrap(), "the summary comes last");
    assert_eq!(lines[audit[0]]["unprotected"], 130);
}

/// An audit whose selection matches nothing succeeds, warns, reads no jobs and
/// writes no OldestBackupAge (no audited resource has a backup).
#[tokio::test]
async fn an_audit_of_nothing_succeeds_with_a_warning() {
    let tagging = nightly_tables(&[]).await;
    let setup = Setup::start(&[("AWS_ENDPOINT_URL_RESOURCE_GROUPS_TAGGING_API", &tagging.endpoint)]).await;
    protected_listing(&setup.backup, 5, vec![]);
    let answer = setup
        .lambda
        .invoke(&nightly_audit(None, json!({ "MaxAgeHours": 26, "Remediate": true })))
        .await;
    let answer = answer.response().clone();
    assert_eq!(answer["Audit"]["Audited"], 0, "{answer}");
    assert_eq!(answer["Findings"], json!([]));
    assert_eq!(setup.backup.listing_calls(Listing::Jobs), 0);
    let (output, recorded) = setup.finish().await;
    assert!(recorded.is_empty());
    let audit = &output.lines("audit")[0];
    assert_eq!(audit["level"], "WARN", "{audit}");
    let metrics = &metrics_lines(&output)[0];
    assert_eq!(metrics["ResourcesAudited"], 0, "{metrics}");
    assert!(metrics.get("OldestBackupAge").is_none(), "{metrics}");
}

/// Both listings are retried like any call: a page answered once with a throttling
/// or a server error is asked again, and the audit completes.
#[tokio::test]
async fn a_listing_page_failing_once_is_retried() {
    let names = ["retried-a", "retried-b"];
    let tagging = nightly_tables(&names).await;
    let setup = Setup::start(&[("AWS_ENDPOINT_URL_RESOURCE_GROUPS_TAGGING_API", &tagging.endpoint)]).await;
    protected_listing(
        &setup.backup,
        1_500,
        vec![
            (3, Protected::new(&table("retried-a"), hours(2.0))),
            (1_200, Protected::new(&table("retried-b"), hours(40.0))),
        ],
    );
    job_listing(
        &setup.backup,
        1_500,
        vec![(
            1_400,
            Job::new(&table("retried-b"), "FAILED", hours(3.0), Some("denied")),
        )],
    );
    setup
        .backup
        .fail_listing_page(Listing::Protected, 2, 503, "ServiceUnavailableException", Times::Once);
    setup
        .backup
        .fail_listing_page(Listing::Jobs, 2, 400, "ThrottlingException", Times::Once);
    let answer = setup
        .lambda
        .invoke(&nightly_audit(None, json!({ "MaxAgeHours": 26 })))
        .await;
    let answer = answer.response().clone();
    assert_eq!(answer["Audit"]["Protected"], 1, "{answer}");
    assert_eq!(answer["Audit"]["Unprotected"], 1, "{answer}");
    assert_eq!(answer["Findings"][0]["LastJobState"], "FAILED");
    // Two pages each, the second asked twice.
    assert_eq!(setup.backup.listing_calls(Listing::Protected), 3);
    assert_eq!(setup.backup.listing_calls(Listing::Jobs), 3);
    setup.finish().await;
}

/// A listing that does not end before the invocation's deadline fails the audit
/// with DeadlineExceeded, naming it, and starts nothing.
#[tokio::test]
async fn a_listing_running_into_the_deadline_fails_the_audit_and_starts_nothing() {
    let names = ["late-a"];
    let tagging = nightly_tables(&names).await;
    let setup = Setup::start(&[("AWS_ENDPOINT_URL_RESOURCE_GROUPS_TAGGING_API", &tagging.endpoint)]).await;
    protected_listing(&setup.backup, 1_500, vec![]);
    setup
        .backup
        .stall_listing_page(Listing::Protected, 2, Duration::from_secs(60), Times::Always);
    let answer = setup
        .lambda
        .invoke_with(
            &nightly_audit(None, json!({ "MaxAgeHours": 26, "Remediate": true })),
            None,
            Duration::from_secs(4),
        )
        .await;
    let (error_type, message) = answer.error();
    assert_eq!(error_type, "DeadlineExceeded", "{message}");
    assert!(message.contains("ListProtectedResources"), "{message}");
    let (output, recorded) = setup.finish().await;
    assert!(recorded.is_empty());
    assert!(output.lines("audit").is_empty());
    assert_no_audit_metric(&metrics_lines(&output)[0]);
}
