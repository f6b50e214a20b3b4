//! A selection end to end against moto (a local AWS that implements the Resource
//! Groups Tagging API and SQS): real tagged resources are created in moto, the real
//! binary resolves a selection through moto's `GetResources` and fans it out to
//! moto's queue, the messages are received and handed back to the binary as an SQS
//! event, and the in-test AWS Backup (moto has no `StartBackupJob`) records one job
//! per selected resource, with the token that was queued.
//!
//! moto comes from the project's venv (`.venv/bin/moto_server`, made by
//! `scripts/tools`), or from `MOTO_SERVER`. Without it this test fails, saying so:
//! a skipped test would pass unseen.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde_json::{json, Value};
use tokio::process::{Child, Command};

use crate::harness::{FakeBackup, FakeLambda, Function, REGION};
use crate::{ROLE, TAG_SECRET};

pub(crate) const ACCOUNT: &str = "123456789012";

fn moto_server() -> PathBuf {
    let path = match std::env::var_os("MOTO_SERVER") {
        Some(path) => PathBuf::from(path),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/moto_server"),
    };
    assert!(
        path.is_file(),
        "moto is needed for this test and was not found at {}: run scripts/tools (it makes .venv with moto), or set MOTO_SERVER to a moto_server executable",
        path.display()
    );
    path
}

/// moto on a free 127.0.0.1 port, stopped when dropped.
pub(crate) struct Moto {
    pub(crate) endpoint: String,
    python: PathBuf,
    _child: Child,
}

impl Moto {
    pub(crate) async fn start() -> Moto {
        let server = moto_server();
        let port = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
            listener.local_addr().expect("local address").port()
        };
        let child = Command::new(&server)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("start moto_server");
        let endpoint = format!("http://127.0.0.1:{port}");
        let started = std::time::Instant::now();
        while tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "moto did not start listening"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        // boto3 lives beside moto_server in the same venv.
        let python = server.with_file_name("python");
        Moto {
            endpoint,
            python,
            _child: child,
        }
    }

    /// Runs a Python script with boto3 against moto; its last stdout line is JSON.
    pub(crate) async fn python(&self, script: &str) -> Value {
        let output = Command::new(&self.python)
            .arg("-c")
            .arg(script)
            .env("MOTO_ENDPOINT", &self.endpoint)
            .env("TAG_SECRET", TAG_SECRET)
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_DEFAULT_REGION", REGION)
            .output()
            .await
            .expect("run the venv's python");
        assert!(
            output.status.success(),
            "python against moto failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let stdout = String::from_utf8_lossy(&output.stdout);
        serde_json::from_str(stdout.lines().last().unwrap_or("null")).expect("the script prints JSON")
    }

    /// Receives (and deletes) every message of the queue at `queue_url`, as a
    /// consumer would: `[{"messageId", "body"}]`.
    pub(crate) async fn receive(&self, queue_url: &str) -> Vec<Value> {
        let messages = self
            .python(&format!("import sys; sys.argv = ['', {queue_url:?}]\n{RECEIVE}"))
            .await;
        messages.as_array().expect("a list of messages").clone()
    }
}

/// Creates tagged resources of several types in moto, and the request queue.
const SEED: &str = r#"
import json, os, boto3
kw = dict(endpoint_url=os.environ["MOTO_ENDPOINT"], region_name=os.environ["AWS_DEFAULT_REGION"])
nightly = [{"Key": "backup", "Value": "nightly"}]
ddb = boto3.client("dynamodb", **kw)
def table(name, tags):
    args = dict(TableName=name, KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST")
    if tags:
        args["Tags"] = tags
    ddb.create_table(**args)
for i in range(12):
    table(f"orders-{i:02}", nightly + [{"Key": "note", "Value": os.environ["TAG_SECRET"]}])
table("scratch-imports", nightly)
table("owned-by-tests", nightly + [{"Key": "owner", "Value": "test-bot"}])
table("untagged", [])
ec2 = boto3.client("ec2", **kw)
def volume(tags):
    return ec2.create_volume(AvailabilityZone=kw["region_name"] + "a", Size=1,
        TagSpecifications=[{"ResourceType": "volume", "Tags": tags}])["VolumeId"]
volumes = [volume(nightly), volume(nightly), volume([{"Key": "backup", "Value": "weekly"}])]
rds = boto3.client("rds", **kw)
for name in ["billing", "ledger"]:
    rds.create_db_instance(DBInstanceIdentifier=name, DBInstanceClass="db.t3.micro", Engine="postgres",
        MasterUsername="admin", MasterUserPassword="password123", AllocatedStorage=20,
        Tags=[{"Key": "stage", "Value": "prod"}])
s3 = boto3.client("s3", **kw)
for name in ["example-invoices", "example-reports"]:
    s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": kw["region_name"]})
    s3.put_bucket_tagging(Bucket=name, Tagging={"TagSet": nightly})
sns = boto3.client("sns", **kw)
sns.create_topic(Name="backup-alerts", Tags=nightly)
queue = boto3.client("sqs", **kw).create_queue(QueueName="backup-trigger-requests")["QueueUrl"]
print(json.dumps({"queue": queue, "volumes": volumes}))
"#;

/// Receives every message of the queue (and deletes it), as a consumer would.
const RECEIVE: &str = r#"
import json, os, sys, boto3
sqs = boto3.client("sqs", endpoint_url=os.environ["MOTO_ENDPOINT"], region_name=os.environ["AWS_DEFAULT_REGION"])
url = sys.argv[1]
messages, empty = [], 0
while empty < 2:
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
    empty = empty + 1 if not got else 0
    for m in got:
        messages.append({"messageId": m["MessageId"], "body": m["Body"]})
        sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
print(json.dumps(messages))
"#;

fn selection_event() -> Value {
    json!({
        "Selection": {
            "SelectionName": "moto-nightly",
            "Resources": ["arn:aws:rds:*:*:db:*"],
            "NotResources": ["arn:aws:dynamodb:*:*:table/scratch-*"],
            "ListOfTags": [{"ConditionType": "STRINGEQUALS", "ConditionKey": "backup", "ConditionValue": "nightly"}],
            "Conditions": {"StringNotLike": [{"ConditionKey": "aws:ResourceTag/owner", "ConditionValue": "test-*"}]},
            "IamRoleArn": ROLE
        },
        "IdempotencyKey": "moto/2026-11-22T03:00:00Z",
        "StartWindowMinutes": 60
    })
}

/// An SQS event of `messages` (`{"messageId", "body"}`, as [`Moto::receive`] gives them).
pub(crate) fn sqs_event(queue_arn: &str, messages: &[Value]) -> Value {
    let records: Vec<Value> = messages
        .iter()
        .map(|m| {
            json!({
                "messageId": m["messageId"], "receiptHandle": "handle", "body": m["body"],
                "attributes": {"ApproximateReceiveCount": "1"}, "messageAttributes": {},
                "eventSource": "aws:sqs", "eventSourceARN": queue_arn, "awsRegion": REGION
            })
        })
        .collect();
    json!({ "Records": records })
}

#[tokio::test]
async fn a_selection_fans_out_through_moto_and_every_selected_resource_gets_one_job() {
    let moto = Moto::start().await;
    let seeded = moto.python(SEED).await;
    let queue_url = seeded["queue"].as_str().expect("a queue URL").to_owned();
    let volumes: Vec<String> = seeded["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| format!("arn:aws:ec2:{REGION}:{ACCOUNT}:volume/{}", v.as_str().unwrap()))
        .collect();

    let mut expected: Vec<String> = (0..12)
        .map(|i| format!("arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/orders-{i:02}"))
        .collect();
    expected.extend(volumes[..2].iter().cloned());
    expected.extend(["billing", "ledger"].map(|db| format!("arn:aws:rds:{REGION}:{ACCOUNT}:db:{db}")));
    expected.extend(["example-invoices", "example-reports"].map(|b| format!("arn:aws:s3:::{b}")));
    expected.sort();

    let lambda = FakeLambda::start().await;
    let backup = FakeBackup::start().await;
    let env = [
        ("BACKUP_VAULT_NAME", "Default"),
        ("REQUEST_QUEUE_URL", queue_url.as_str()),
        ("AWS_ENDPOINT_URL_RESOURCE_GROUPS_TAGGING_API", moto.endpoint.as_str()),
        ("AWS_ENDPOINT_URL_SQS", moto.endpoint.as_str()),
    ];
    let function = Function::start_binary(Path::new(env!("CARGO_BIN_EXE_bootstrap")), &lambda, &backup, &env);

    // The fan-out: every page of GetResources, list messages to the queue, no job.
    let answer = lambda.invoke(&selection_event()).await;
    let answer = answer.response();
    assert!(backup.recorded().is_empty(), "the fan-out starts no job");
    // 12 orders tables, the test-owned table (found, excluded by a condition), the
    // scratch table (excluded by NotResources), 2 nightly volumes, 2 buckets and the
    // topic carry backup=nightly; the RDS instances are found by their ARN. The
    // untagged table and the weekly volume are not matched (moto lists the whole
    // Region: no filter is passed for ListOfTags ORed with Resources).
    let selection = &answer["Selection"];
    assert_eq!(selection["Name"], "moto-nightly");
    assert_eq!(selection["Matched"], 19, "{answer}");
    assert_eq!(selection["Unsupported"], 1, "the SNS topic: {answer}");
    assert_eq!(selection["Enqueued"], 18, "{answer}");
    assert_eq!(selection["Messages"], 2, "{answer}");
    assert!(selection["Found"].as_u64().unwrap() >= 21, "{answer}");

    let messages = moto.receive(&queue_url).await;
    assert_eq!(messages.len(), 2);
    let mut queued: BTreeMap<String, String> = BTreeMap::new();
    for message in &messages {
        let body: Value = serde_json::from_str(message["body"].as_str().unwrap()).unwrap();
        for request in body["Jobs"].as_array().unwrap() {
            queued.insert(
                request["ResourceArn"].as_str().unwrap().to_owned(),
                request["IdempotencyToken"].as_str().unwrap().to_owned(),
            );
        }
    }
    assert_eq!(queued.keys().cloned().collect::<Vec<_>>(), expected);

    // The consumers: the messages come back as an SQS event.
    let queue_arn = format!("arn:aws:sqs:{REGION}:{ACCOUNT}:backup-trigger-requests");
    let answer = lambda.invoke(&sqs_event(&queue_arn, &messages)).await;
    assert_eq!(answer.response(), &json!({ "batchItemFailures": [] }));
    let recorded = backup.recorded();
    let mut started: BTreeMap<String, String> = BTreeMap::new();
    for call in &recorded {
        assert_eq!(call.path, "/backup-jobs");
        assert_eq!(call.body["IamRoleArn"], ROLE);
        assert_eq!(call.body["StartWindowMinutes"], 60);
        let arn = call.body["ResourceArn"].as_str().unwrap().to_owned();
        assert!(
            started
                .insert(arn.clone(), call.body["IdempotencyToken"].as_str().unwrap().to_owned())
                .is_none(),
            "{arn} was started twice"
        );
    }
    assert_eq!(started, queued, "one job per selected resource, with the queued token");

    // The same selection again (a retry) queues the same tokens.
    let again = lambda.invoke(&selection_event()).await;
    assert_eq!(again.response()["Selection"]["Enqueued"], 18);
    let messages = moto.receive(&queue_url).await;
    let mut requeued: BTreeMap<String, String> = BTreeMap::new();
    for message in &messages {
        let body: Value = serde_json::from_str(message["body"].as_str().unwrap()).unwrap();
        for request in body["Jobs"].as_array().unwrap() {
            requeued.insert(
                request["ResourceArn"].as_str().unwrap().to_owned(),
                request["IdempotencyToken"].as_str().unwrap().to_owned(),
            );
        }
    }
    assert_eq!(requeued, queued);

    // Filters passed to GetResources: a tag that must hold and a literal service.
    let filtered = json!({
        "Selection": {
            "Resources": ["arn:aws:dynamodb:*:*:table/orders-*"],
            "Conditions": {"StringEquals": [{"ConditionKey": "backup", "ConditionValue": "nightly"}]}
        },
        "IdempotencyKey": "moto/filtered",
        "IamRoleArn": ROLE
    });
    let answer = lambda.invoke(&filtered).await;
    let selection = &answer.response()["Selection"];
    // TagFilters backup=nightly and ResourceTypeFilters dynamodb: the 14 nightly
    // tables are all that AWS lists, and moto lists the same.
    assert_eq!(selection["Found"], 14, "{selection}");
    assert_eq!(selection["Matched"], 12, "{selection}");
    assert_eq!(selection["Enqueued"], 12, "{selection}");

    // A selection that matches nothing succeeds, with a warning.
    let nothing = json!({ "Selection": { "Resources": ["arn:aws:dynamodb:*:*:table/absent-*"] }, "IamRoleArn": ROLE });
    let answer = lambda.invoke(&nothing).await;
    assert_eq!(answer.response()["Selection"]["Matched"], 0);

    let output = function.finish().await;
    // The tables carry a tag whose value must never be printed.
    output.assert_nothing_leaked(&[TAG_SECRET]);
    let warned: Vec<Value> = output
        .log_lines()
        .into_iter()
        .filter(|l| l["level"] == "WARN" && l["message"].as_str().unwrap_or("").contains("matched no resource"))
        .collect();
    assert_eq!(warned.len(), 1, "one warning, for the selection that matched nothing");
    // One metrics line per invocation: the fan-outs count what they matched and
    // enqueued; the consumers' batch counts the jobs it started.
    let metrics: Vec<Value> = output
        .log_lines()
        .into_iter()
        .filter(|l| l.get("_aws").is_some())
        .collect();
    let count = |m: &Value, name: &str| m[name].as_u64();
    assert_eq!(metrics.len(), 5, "{metrics:?}");
    assert_eq!(count(&metrics[0], "ResourcesMatched"), Some(19));
    assert_eq!(count(&metrics[0], "ResourcesEnqueued"), Some(18));
    assert_eq!(count(&metrics[0], "JobsStarted"), Some(0));
    assert_eq!(count(&metrics[1], "JobsStarted"), Some(18));
    assert!(
        metrics[1].get("ResourcesMatched").is_none(),
        "the consumers' batch is no selection"
    );
    assert_eq!(count(&metrics[2], "ResourcesEnqueued"), Some(18));
    assert_eq!(count(&metrics[3], "ResourcesEnqueued"), Some(12));
    assert_eq!(count(&metrics[4], "ResourcesMatched"), Some(0));
}
