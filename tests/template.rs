//! Checks of `template.yaml` that cfn-lint does not make: the values Lambda and SAM
//! accept but cfn-lint does not know (runtime, architecture, response types), the
//! settings of docs/reference.md ("Settings"), the paths by which nothing is lost (dead-letter
//! queues, retries, alarms), the schedule's input, the job state rule's pattern, the
//! metric alarms and the dashboard, and least privilege. Each failure message starts with the rule that broke.
//!
//! The template is read as YAML and CloudFormation's short tags (`!Ref`, `!Sub`,
//! `!GetAtt A.B`, ...) are turned into their long JSON forms (`{"Ref": ..}`,
//! `{"Fn::Sub": ..}`, `{"Fn::GetAtt": ["A", "B"]}`), so the checks below see one form.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use backup_trigger::command::Command;
use backup_trigger::core::token::Origin;
use backup_trigger::settings::Settings;
use serde_json::{Map, Value};

/// The settings of docs/reference.md, "Settings".
const FUNCTION_SETTINGS: &[&str] = &[
    "BACKUP_VAULT_NAME",
    "BACKUP_IAM_ROLE_ARN",
    "COPY_DESTINATION_VAULT_ARN",
    "ALLOWED_DESTINATION_VAULT_ARNS",
    "MAX_CONCURRENCY",
    "METRICS_NAMESPACE",
    "DRY_RUN",
    "REQUEST_QUEUE_URL",
];

/// Other environment variables the function reads (docs/reference.md, "Settings" and "Logs").
const OTHER_KNOWN_ENV: &[&str] = &[
    "MAX_CALLS_PER_SECOND",
    "AWS_MAX_ATTEMPTS",
    "AWS_RETRY_MODE",
    "RUST_LOG",
    "AWS_ENDPOINT_URL_BACKUP",
];

/// Actions that may be allowed on `Resource: "*"` because AWS does not let their
/// resource be named. Add one only with the reason.
const RESOURCE_STAR_ALLOWLIST: &[&str] = &[
    // The Resource Groups Tagging API has no resource-level permissions: selections
    // find resources with it (docs/reference.md, "Selections").
    "tag:GetResources",
    // Audits read these; the IAM Service Authorization Reference (AWS Backup,
    // list_backup) gives them no resource type and no condition key.
    "backup:ListProtectedResources",
    "backup:ListBackupJobs",
];

/// What audits read from AWS Backup: when each resource was last backed up, and
/// which backup jobs are under way.
const AUDIT_ACTIONS: &[&str] = &["backup:ListProtectedResources", "backup:ListBackupJobs"];

/// AWS managed policies the stack may attach to the role it passes to AWS Backup.
const BACKUP_SERVICE_ROLE_POLICIES: &[&str] = &[
    "AWSBackupServiceRolePolicyForBackup",
    "AWSBackupServiceRolePolicyForRestores",
    "AWSBackupServiceRolePolicyForS3Backup",
    "AWSBackupServiceRolePolicyForS3Restore",
];

const VAULT_ARN: &str = "arn:${AWS::Partition}:backup:${AWS::Region}:${AWS::AccountId}:backup-vault:${%s}";
const RECOVERY_POINTS_ARN: &str = "arn:${AWS::Partition}:backup:${AWS::Region}:${AWS::AccountId}:recovery-point:*";
const DLQ_RETENTION_SECONDS: i64 = 14 * 24 * 3600;

#[path = "template/cfn.rs"]
mod cfn;
use cfn::*;

// ================================================================== tests

#[test]
fn function_runs_the_rust_binary_on_arm64() {
    let t = template();
    assert_eq!(
        t["Transform"], "AWS::Serverless-2016-10-31",
        "SAM: Transform must be AWS::Serverless-2016-10-31"
    );
    let (_, f) = function(&t);
    let p = &f["Properties"];
    assert_eq!(
        p["Runtime"], "provided.al2023",
        "runtime: Runtime must be provided.al2023 (OS-only runtime for a Rust bootstrap)"
    );
    assert_eq!(
        p["Architectures"],
        serde_json::json!(["arm64"]),
        "architecture: Architectures must be [arm64]"
    );
    assert_eq!(p["Handler"], "bootstrap", "handler: Handler must be bootstrap");
    assert_eq!(
        f["Metadata"]["BuildMethod"], "rust-cargolambda",
        "build: Metadata.BuildMethod must be rust-cargolambda"
    );
    let binary = &f["Metadata"]["BuildProperties"]["Binary"];
    assert_eq!(
        binary, "bootstrap",
        "build: Metadata.BuildProperties.Binary must be bootstrap"
    );
    let manifest = std::fs::read_to_string(root().join("Cargo.toml")).expect("Cargo.toml is readable");
    assert!(
        manifest.contains("[[bin]]\nname = \"bootstrap\""),
        "build: Cargo.toml must define the [[bin]] target named bootstrap that BuildProperties.Binary names"
    );

    let logging = &p["LoggingConfig"];
    assert_eq!(
        logging["LogFormat"], "JSON",
        "logging: LoggingConfig.LogFormat must be JSON (the function logs JSON lines)"
    );
    assert!(
        ["DEBUG", "INFO", "WARN"]
            .iter()
            .any(|l| logging["SystemLogLevel"] == *l),
        "logging: SystemLogLevel must be DEBUG, INFO or WARN, not {}",
        logging["SystemLogLevel"]
    );
    let lambda_levels = ["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"];
    let app_levels: Vec<Value> = match ref_name(&logging["ApplicationLogLevel"]) {
        Some(param) => list(&parameter(&t, param)["AllowedValues"])
            .into_iter()
            .cloned()
            .collect(),
        None => vec![logging["ApplicationLogLevel"].clone()],
    };
    assert!(
        !app_levels.is_empty(),
        "logging: the ApplicationLogLevel parameter must list AllowedValues"
    );
    for level in app_levels {
        assert!(
            lambda_levels.iter().any(|l| level == *l),
            "logging: ApplicationLogLevel {level} is not a Lambda log level"
        );
    }

    let timeout = int(&p["Timeout"]).expect("timeout: Timeout must be a number");
    assert!(
        (1..=900).contains(&timeout),
        "timeout: Timeout must be 1 to 900 seconds, not {timeout}"
    );
    let memory = int(&p["MemorySize"]).expect("memory: MemorySize must be a number");
    assert!(
        (128..=10240).contains(&memory),
        "memory: MemorySize must be 128 to 10240 MB, not {memory}"
    );
}

#[test]
fn every_setting_of_the_reference_is_set() {
    let t = template();
    let env = function_env(&t);
    for name in FUNCTION_SETTINGS {
        let value = env.get(*name).unwrap_or_else(|| {
            panic!("settings: environment variable {name} (docs/reference.md, Settings) is not set")
        });
        // A Ref names a parameter, or a resource of the template (the request queue).
        if let Some(param) = ref_name(value).filter(|r| !resources(&t).contains_key(*r)) {
            parameter(&t, param);
        }
    }
    for name in env.keys() {
        assert!(
            FUNCTION_SETTINGS.contains(&name.as_str()) || OTHER_KNOWN_ENV.contains(&name.as_str()),
            "settings: the function reads no environment variable {name} (typo?)"
        );
    }

    let dry_run = ref_name(&env["DRY_RUN"]).expect("settings: DRY_RUN must come from a parameter");
    let allowed: BTreeSet<&str> = list(&parameter(&t, dry_run)["AllowedValues"])
        .into_iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(
        allowed,
        BTreeSet::from(["true", "false"]),
        "settings: the DRY_RUN parameter must allow exactly true and false"
    );

    let concurrency = parameter(
        &t,
        ref_name(&env["MAX_CONCURRENCY"]).expect("settings: MAX_CONCURRENCY must come from a parameter"),
    );
    let min = int(&concurrency["MinValue"]).expect("settings: the MAX_CONCURRENCY parameter needs a MinValue");
    let max = int(&concurrency["MaxValue"]).expect("settings: the MAX_CONCURRENCY parameter needs a MaxValue");
    assert!(
        min >= 1 && max <= 100,
        "settings: MAX_CONCURRENCY must stay within 1 to 100, the range the function accepts"
    );
}

/// The function must start with the stack's default parameter values: render the
/// environment as CloudFormation would and read it with the function's own code.
#[test]
fn default_parameters_give_settings_the_function_accepts() {
    let t = template();
    let env = function_env(&t);
    let created_role = "arn:aws:iam::123456789012:role/backup-trigger-BackupRole-0123456789AB";
    let mut rendered = BTreeMap::new();
    for (name, value) in env {
        let queue = ref_name(value).filter(|r| resources(&t).get(*r).is_some_and(|q| q["Type"] == "AWS::SQS::Queue"));
        let text = if let Some(queue) = queue {
            // Ref of a queue is its URL.
            format!("https://sqs.eu-west-1.amazonaws.com/123456789012/backup-trigger-{queue}-0123456789AB")
        } else if let Some(param) = ref_name(value) {
            let p = parameter(&t, param);
            match &p["Default"] {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                Value::Null => panic!("defaults: parameter {param} (for {name}) needs a Default"),
                other => other.to_string(),
            }
        } else if value.get("Fn::If").is_some() {
            // The only conditional value: the role created when BackupRoleArn is empty.
            assert_eq!(
                name, "BACKUP_IAM_ROLE_ARN",
                "defaults: unexpected conditional value for {name}"
            );
            created_role.to_owned()
        } else {
            value
                .as_str()
                .map(str::to_owned)
                .unwrap_or_else(|| panic!("defaults: cannot render {name} = {value}"))
        };
        rendered.insert(name.clone(), text);
    }
    let settings = Settings::from_lookup(|name| rendered.get(name).cloned())
        .unwrap_or_else(|e| panic!("defaults: the function refuses the template's default settings: {e}"));
    assert_eq!(settings.backup_iam_role_arn.as_deref(), Some(created_role));
    assert!(!settings.dry_run, "defaults: DRY_RUN must default to false");
}

#[test]
fn sqs_event_reports_partial_failures_with_bounded_concurrency() {
    let t = template();
    let p = function_props(&t);
    let events = p["Events"]
        .as_object()
        .expect("triggers: the function must have Events");
    let sqs: Vec<(&String, &Value)> = events.iter().filter(|(_, e)| e["Type"] == "SQS").collect();
    assert!(!sqs.is_empty(), "SQS: the function must have an SQS event");
    let timeout = int(&p["Timeout"]).expect("timeout: Timeout must be a number");
    for (name, e) in sqs {
        let e = &e["Properties"];
        assert_eq!(
            e["FunctionResponseTypes"],
            serde_json::json!(["ReportBatchItemFailures"]),
            "SQS: event {name} must set FunctionResponseTypes [ReportBatchItemFailures], or one failed message fails the batch"
        );
        let concurrency = deployed_default(&t, &e["ScalingConfig"]["MaximumConcurrency"]).unwrap_or_else(|| {
            panic!("SQS: event {name} must set ScalingConfig.MaximumConcurrency (AWS Backup allows ~5 calls/s)")
        });
        assert!(
            (2..=5).contains(&concurrency),
            "SQS: event {name} MaximumConcurrency must be 2 to 5, not {concurrency}"
        );
        let batch = int(&e["BatchSize"]).unwrap_or(10);
        assert!((1..=10).contains(&batch), "SQS: event {name} BatchSize must be 1 to 10");

        let queue = queue_of_arn(&t, &e["Queue"])
            .unwrap_or_else(|| panic!("SQS: event {name} must read a queue of the template (!GetAtt Queue.Arn)"));
        let q = &resource(&t, queue)["Properties"];
        let visibility = int(&q["VisibilityTimeout"]).unwrap_or(30);
        assert!(
            visibility >= 6 * timeout,
            "SQS: {queue} VisibilityTimeout {visibility} must be at least 6 times the function timeout ({timeout})"
        );
        let redrive = &q["RedrivePolicy"];
        let dlq = queue_of_arn(&t, &redrive["deadLetterTargetArn"]).unwrap_or_else(|| {
            panic!("redrive: {queue} must have a RedrivePolicy to a dead-letter queue of the template")
        });
        let receives = int(&redrive["maxReceiveCount"]).unwrap_or(0);
        assert!(
            (1..=10).contains(&receives),
            "redrive: {queue} maxReceiveCount must be 1 to 10, not {receives}"
        );
        let retention = int(&q["MessageRetentionPeriod"]).unwrap_or(345_600);
        let dlq_retention = int(&resource(&t, dlq)["Properties"]["MessageRetentionPeriod"]).unwrap_or(345_600);
        assert!(
            dlq_retention >= retention,
            "redrive: {dlq} must keep messages at least as long as {queue}: SQS counts a message's age from its first enqueue"
        );
    }
}

#[test]
fn every_queue_is_encrypted() {
    let t = template();
    let queues = resources_of_type(&t, "AWS::SQS::Queue");
    assert!(!queues.is_empty(), "queues: the template defines no queue");
    for (name, q) in queues {
        let p = &q["Properties"];
        assert!(
            p["SqsManagedSseEnabled"] == true || !p["KmsMasterKeyId"].is_null(),
            "encryption: queue {name} must set SqsManagedSseEnabled: true or KmsMasterKeyId"
        );
        assert!(
            p["SqsManagedSseEnabled"] != false || !p["KmsMasterKeyId"].is_null(),
            "encryption: queue {name} turns encryption off"
        );
    }
    // SAM creates its own unencrypted queue for `DeadLetterConfig: {Type: SQS}`.
    for target in trigger_targets(&t) {
        assert!(
            target.value["DeadLetterConfig"].get("Type").is_none(),
            "encryption: {} must name its dead-letter queue (Arn), not let SAM create an unencrypted one (Type)",
            target.place
        );
    }
}

#[test]
fn async_invocations_retry_at_most_twice_then_go_to_a_queue() {
    let t = template();
    let config = &function_props(&t)["EventInvokeConfig"];
    assert!(config.is_object(), "async: the function must have an EventInvokeConfig");
    let retries = int(&config["MaximumRetryAttempts"]).expect("async: EventInvokeConfig must set MaximumRetryAttempts");
    assert!(
        (0..=2).contains(&retries),
        "async: MaximumRetryAttempts must be at most 2, not {retries}"
    );
    assert!(
        int(&config["MaximumEventAgeInSeconds"]).is_some(),
        "async: EventInvokeConfig must set MaximumEventAgeInSeconds"
    );
    let on_failure = &config["DestinationConfig"]["OnFailure"];
    assert_eq!(
        on_failure["Type"], "SQS",
        "async: the OnFailure destination must be an SQS queue"
    );
    let queue = queue_of_arn(&t, &on_failure["Destination"])
        .expect("async: the OnFailure destination must be !GetAtt of a queue of the template");
    let can_send = function_statements(&t).iter().any(|s| {
        s.allows()
            && s.actions().contains(&"sqs:SendMessage")
            && s.resources().iter().any(|r| queue_of_arn(&t, r) == Some(queue))
    });
    assert!(
        can_send,
        "async: the function role must allow sqs:SendMessage on {queue}, or failed events are dropped"
    );
}

#[test]
fn schedule_and_rule_targets_retry_then_dead_letter() {
    let t = template();
    let targets = trigger_targets(&t);
    assert!(
        targets.iter().any(|x| x.kind == "schedule"),
        "triggers: the template must define an EventBridge Scheduler schedule"
    );
    assert!(
        targets.iter().any(|x| x.kind == "rule"),
        "triggers: the template must define an EventBridge rule"
    );
    let (function_name, _) = function(&t);
    for target in &targets {
        if let Some((invoked, _)) = get_att(&target.value["Arn"]) {
            assert_eq!(
                invoked, function_name,
                "triggers: {} must invoke the function",
                target.place
            );
        }
        let retry = &target.value["RetryPolicy"];
        assert!(
            int(&retry["MaximumRetryAttempts"]).is_some() && int(&retry["MaximumEventAgeInSeconds"]).is_some(),
            "retry: {} needs a RetryPolicy with MaximumRetryAttempts and MaximumEventAgeInSeconds",
            target.place
        );
        assert!(
            queue_of_arn(&t, &target.value["DeadLetterConfig"]["Arn"]).is_some(),
            "dead letters: {} needs DeadLetterConfig.Arn: !GetAtt of a queue of the template",
            target.place
        );
    }
    // Whoever delivers to a dead-letter queue must be allowed to.
    for (name, r) in resources_of_type(&t, "AWS::Scheduler::Schedule") {
        let target = &r["Properties"]["Target"];
        let queue = queue_of_arn(&t, &target["DeadLetterConfig"]["Arn"]).unwrap_or_default();
        let (role, _) =
            get_att(&target["RoleArn"]).unwrap_or_else(|| panic!("schedule: {name} needs RoleArn: !GetAtt Role.Arn"));
        let statements = role_statements(&t, role);
        assert!(
            statements.iter().any(|s| s.allows()
                && s.actions().contains(&"sqs:SendMessage")
                && s.resources().iter().any(|r| queue_of_arn(&t, r) == Some(queue))),
            "dead letters: the role of schedule {name} must allow sqs:SendMessage on {queue}"
        );
    }
    for (name, r) in resources_of_type(&t, "AWS::Events::Rule") {
        for target in list(&r["Properties"]["Targets"]) {
            let queue = queue_of_arn(&t, &target["DeadLetterConfig"]["Arn"]).unwrap_or_default();
            let allowed = resources_of_type(&t, "AWS::SQS::QueuePolicy")
                .into_iter()
                .any(|(_, p)| {
                    list(&p["Properties"]["Queues"])
                        .iter()
                        .any(|q| ref_name(q) == Some(queue))
                        && list(&p["Properties"]["PolicyDocument"]["Statement"]).iter().any(|s| {
                            s["Principal"]["Service"] == "events.amazonaws.com"
                                && list(&s["Action"]).contains(&&Value::from("sqs:SendMessage"))
                                && get_att(&s["Condition"]["ArnEquals"]["aws:SourceArn"]) == Some((name, "Arn"))
                        })
                });
            assert!(
                allowed,
                "dead letters: a queue policy on {queue} must let rule {name} (aws:SourceArn) send to it"
            );
        }
    }
}

#[test]
fn schedule_input_is_a_list_with_a_per_firing_idempotency_key() {
    let t = template();
    let targets = trigger_targets(&t);
    // The schedule of ScheduledResourceArns; the selection's has a test of its own.
    let schedules: Vec<&Target> = targets
        .iter()
        .filter(|x| x.kind == "schedule" && x.value["Input"].to_string().contains("ScheduledResourceArns"))
        .collect();
    assert!(!schedules.is_empty(), "schedule: the template must define a schedule");
    let arns = [
        "arn:aws:ec2:eu-west-1:123456789012:volume/vol-0a1b2c3d4e5f67890",
        "arn:aws:rds:eu-west-1:123456789012:db:orders",
        "arn:aws:dynamodb:eu-west-1:123456789012:table/customers",
    ];
    for schedule in schedules {
        let input = &schedule.value["Input"];
        for n in 1..=arns.len() {
            let mut params = BTreeMap::new();
            params.insert("ScheduledResourceArns", Value::from(arns[..n].to_vec()));
            let rendered = evaluate(input, &params);
            let text = rendered
                .as_str()
                .unwrap_or_else(|| panic!("schedule: {} Input must render to a string", schedule.place));
            let json: Value = serde_json::from_str(text).unwrap_or_else(|e| {
                panic!(
                    "schedule: {} Input is not valid JSON for {n} ARNs: {e}\n{text}",
                    schedule.place
                )
            });
            assert_eq!(
                json["IdempotencyKey"], "<aws.scheduler.schedule-arn>/<aws.scheduler.scheduled-time>",
                "idempotency: {} Input must carry IdempotencyKey <aws.scheduler.schedule-arn>/<aws.scheduler.scheduled-time>, \
                 so each firing has its own key and duplicate deliveries share it",
                schedule.place
            );
            let jobs: Vec<&str> = json["Jobs"]
                .as_array()
                .unwrap_or_else(|| panic!("schedule: {} Input must be a list {{\"Jobs\": [...]}}", schedule.place))
                .iter()
                .map(|j| {
                    assert_eq!(
                        j.as_object().map(Map::len),
                        Some(1),
                        "schedule: each job must hold ResourceArn only"
                    );
                    j["ResourceArn"]
                        .as_str()
                        .expect("schedule: each job must have a ResourceArn")
                })
                .collect();
            assert_eq!(
                jobs,
                arns[..n],
                "schedule: {} Input must list one job per ScheduledResourceArns entry",
                schedule.place
            );
        }
    }
    for (name, r) in resources_of_type(&t, "AWS::Scheduler::Schedule") {
        let condition = r["Condition"].as_str().unwrap_or_else(|| {
            panic!("schedule: {name} must have a Condition, so that no schedule exists without ScheduledResourceArns")
        });
        let depends = t["Conditions"][condition].to_string();
        assert!(
            depends.contains("ScheduledResourceArns")
                || depends.contains("ScheduledSelection")
                || depends.contains("AuditScheduleExpression"),
            "schedule: condition {condition} of {name} must depend on ScheduledResourceArns, ScheduledSelection or \
             AuditScheduleExpression"
        );
    }
}

/// The parameters and pseudo parameters the rule's pattern refers to.
fn pattern_params(vault: &str) -> BTreeMap<&'static str, Value> {
    BTreeMap::from([
        ("BackupVaultName", Value::from(vault)),
        ("AWS::Partition", Value::from("aws")),
        ("AWS::Region", Value::from("eu-west-1")),
        ("AWS::AccountId", Value::from("123456789012")),
    ])
}

fn sample(name: &str) -> Value {
    let path = root().join("events").join(name);
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("events/{name}: {e}")))
        .unwrap_or_else(|e| panic!("events/{name} is not JSON: {e}"))
}

#[test]
fn one_rule_brings_every_final_state_of_the_vaults_jobs_once() {
    let t = template();
    let rules = resources_of_type(&t, "AWS::Events::Rule");
    let completed = sample("backup-job-completed.json");
    let vault = completed["detail"]["backupVaultName"]
        .as_str()
        .expect("sample has detail.backupVaultName")
        .to_owned();
    let params = pattern_params(&vault);
    let changed = |event: &Value, f: &dyn Fn(&mut Value)| {
        let mut e = event.clone();
        f(&mut e);
        e
    };
    let mut must_match = vec![
        ("the sample on-demand completed backup".to_owned(), completed.clone()),
        (
            "a completed backup of a backup plan (the function records it)".to_owned(),
            changed(&completed, &|e| {
                e["detail"]["createdBy"]["backupPlanId"] = Value::from("8a3b2f8c-plan")
            }),
        ),
        (
            "a completed backup without createdBy".to_owned(),
            changed(&completed, &|e| {
                drop(e["detail"].as_object_mut().unwrap().remove("createdBy"))
            }),
        ),
        (
            "a backup event naming its vault by ARN only".to_owned(),
            changed(&completed, &|e| {
                drop(e["detail"].as_object_mut().unwrap().remove("backupVaultName"))
            }),
        ),
        ("the sample failed backup".to_owned(), sample("backup-job-failed.json")),
        (
            "the sample completed copy".to_owned(),
            sample("copy-job-completed.json"),
        ),
        ("the sample failed copy".to_owned(), sample("copy-job-failed.json")),
    ];
    for state in ["ABORTED", "EXPIRED", "PARTIAL"] {
        must_match.push((
            format!("a backup job {state}"),
            changed(&completed, &|e| e["detail"]["state"] = Value::from(state)),
        ));
    }
    let copy = sample("copy-job-completed.json");
    let mut must_not_match = vec![
        (
            "a job of another vault".to_owned(),
            changed(&completed, &|e| {
                e["detail"]["backupVaultName"] = Value::from(format!("{vault}Other"));
                e["detail"]["backupVaultArn"] = Value::from(format!(
                    "arn:aws:backup:eu-west-1:123456789012:backup-vault:{vault}Other"
                ));
            }),
        ),
        (
            "a copy from another vault".to_owned(),
            changed(&copy, &|e| {
                e["detail"]["sourceBackupVaultArn"] =
                    Value::from("arn:aws:backup:eu-west-1:123456789012:backup-vault:Elsewhere")
            }),
        ),
        (
            "a restore job".to_owned(),
            changed(&completed, &|e| {
                e["detail-type"] = Value::from("Restore Job State Change")
            }),
        ),
        (
            "another source".to_owned(),
            changed(&completed, &|e| e["source"] = Value::from("my.app")),
        ),
    ];
    for state in ["CREATED", "PENDING", "RUNNING", "ABORTING"] {
        must_not_match.push((
            format!("a backup job {state}"),
            changed(&completed, &|e| e["detail"]["state"] = Value::from(state)),
        ));
    }
    for state in ["CREATED", "RUNNING"] {
        must_not_match.push((
            format!("a copy job {state}"),
            changed(&copy, &|e| e["detail"]["state"] = Value::from(state)),
        ));
    }
    for (what, event) in &must_match {
        let matching: Vec<&str> = rules
            .iter()
            .filter(|(_, r)| pattern_matches(&evaluate(&r["Properties"]["EventPattern"], &params), event))
            .map(|(name, _)| *name)
            .collect();
        assert_eq!(
            matching.len(),
            1,
            "job state rule: exactly one rule must bring {what} to the function (no event twice), got {matching:?}"
        );
        let rule = &resource(&t, matching[0]);
        assert!(
            rule.get("Condition").is_none(),
            "job state rule: {} must exist whatever the settings: outcomes are recorded without a copy destination",
            matching[0]
        );
    }
    for (what, event) in &must_not_match {
        for (name, r) in &rules {
            let pattern = evaluate(&r["Properties"]["EventPattern"], &params);
            assert!(
                !pattern_matches(&pattern, event),
                "job state rule: {name} must not match {what}\npattern: {pattern}"
            );
        }
    }
}

#[test]
fn every_dead_letter_queue_keeps_messages_has_an_alarm_and_an_output() {
    let t = template();
    let dlqs = dead_letter_queues(&t);
    assert!(
        dlqs.len() >= 3,
        "dead letters: expected the queue's, the async and the trigger dead-letter queues, found {dlqs:?}"
    );
    let alarms = resources_of_type(&t, "AWS::CloudWatch::Alarm");
    let outputs = t["Outputs"]
        .as_object()
        .expect("outputs: the template must have Outputs");
    for (queue, role) in &dlqs {
        let q = resource(&t, queue);
        let retention = int(&q["Properties"]["MessageRetentionPeriod"]).unwrap_or(345_600);
        assert_eq!(
            retention, DLQ_RETENTION_SECONDS,
            "dead letters: {queue} ({role}) must keep messages 14 days"
        );
        let alarm = alarms.iter().find(|(_, a)| {
            let p = &a["Properties"];
            p["Namespace"] == "AWS/SQS"
                && p["MetricName"] == "ApproximateNumberOfMessagesVisible"
                && list(&p["Dimensions"])
                    .iter()
                    .any(|d| d["Name"] == "QueueName" && get_att(&d["Value"]) == Some((queue, "QueueName")))
        });
        let (alarm_name, alarm) = alarm
            .unwrap_or_else(|| panic!("alarms: {queue} ({role}) needs an ApproximateNumberOfMessagesVisible alarm"));
        let p = &alarm["Properties"];
        assert!(
            p["ComparisonOperator"] == "GreaterThanThreshold" && int(&p["Threshold"]) == Some(0),
            "alarms: {alarm_name} must fire when {queue} holds more than 0 messages"
        );
        assert_eq!(
            alarm["Condition"], q["Condition"],
            "alarms: {alarm_name} must exist exactly when {queue} does"
        );
        assert!(
            outputs.values().any(|o| ref_name(&o["Value"]) == Some(queue)),
            "outputs: the URL of {queue} (!Ref) must be an output"
        );
    }
    let (function_name, _) = function(&t);
    assert!(
        outputs
            .values()
            .any(|o| get_att(&o["Value"]) == Some((function_name, "Arn"))),
        "outputs: the function ARN must be an output"
    );
    for e in function_props(&t)["Events"]
        .as_object()
        .into_iter()
        .flat_map(|e| e.values())
    {
        if e["Type"] == "SQS" {
            let queue = queue_of_arn(&t, &e["Properties"]["Queue"]).unwrap_or_default();
            assert!(
                outputs.values().any(|o| ref_name(&o["Value"]) == Some(queue)),
                "outputs: the URL of {queue} must be an output"
            );
        }
    }
}

// --------------------------------------------------------- least privilege

#[test]
fn function_role_is_the_templates_own_and_inline_only() {
    let t = template();
    let role = function_role(&t);
    let p = function_props(&t);
    assert!(
        p["Policies"].is_null(),
        "least privilege: the function must not use SAM Policies (policy templates and managed policies are not checked here); \
         put statements in {role}"
    );
    let r = &resource(&t, role)["Properties"];
    assert!(
        r["ManagedPolicyArns"].is_null(),
        "least privilege: {role} must not attach managed policies; use inline statements"
    );
    let trust = list(&r["AssumeRolePolicyDocument"]["Statement"]);
    assert!(
        trust
            .iter()
            .all(|s| s["Principal"]["Service"] == "lambda.amazonaws.com"),
        "least privilege: only lambda.amazonaws.com may assume {role}"
    );
}

#[test]
fn function_statements_name_their_actions() {
    let t = template();
    let statements = function_statements(&t);
    assert!(
        !statements.is_empty(),
        "least privilege: the function role has no statements"
    );
    for s in &statements {
        assert!(
            s.value.get("NotAction").is_none(),
            "least privilege: {} uses NotAction",
            s.place
        );
        assert!(
            s.value.get("NotResource").is_none(),
            "least privilege: {} uses NotResource",
            s.place
        );
        let actions = s.actions();
        assert!(!actions.is_empty(), "least privilege: {} has no Action", s.place);
        for action in actions {
            assert!(
                !action.contains('*'),
                "least privilege: {} allows the wildcard action {action}",
                s.place
            );
        }
    }
}

#[test]
fn backup_jobs_are_limited_to_the_configured_vault() {
    let t = template();
    let vault = vault_arn(&t);
    let mut recovery_points = Map::new();
    recovery_points.insert("Fn::Sub".into(), Value::from(RECOVERY_POINTS_ARN));
    let recovery_points = Value::Object(recovery_points);
    let statements = function_statements(&t);
    let (mut backup, mut copy) = (false, false);
    for s in statements.iter().filter(|s| s.allows()) {
        let actions = s.actions();
        for action in &actions {
            if action.starts_with("backup:") {
                assert!(
                    ["backup:StartBackupJob", "backup:StartCopyJob"].contains(action) || AUDIT_ACTIONS.contains(action),
                    "least privilege: {} allows {action}; the function only starts backup and copy jobs and reads \
                     what audits read ({AUDIT_ACTIONS:?})",
                    s.place
                );
            }
        }
        let resources = s.resources();
        if actions.contains(&"backup:StartBackupJob") {
            backup = true;
            assert!(
                !resources.is_empty() && resources.iter().all(|r| **r == vault),
                "vault scope: {} must allow backup:StartBackupJob on the configured vault only ({vault}), not {resources:?}",
                s.place
            );
        }
        if actions.contains(&"backup:StartCopyJob") {
            copy = true;
            // IAM authorizes StartCopyJob on the recovery point; no condition key
            // ties a recovery point to its vault, so the account's recovery points
            // in the stack's Region are the narrowest scope, next to the vault.
            assert!(
                !resources.is_empty() && resources.iter().all(|r| **r == vault || **r == recovery_points),
                "vault scope: {} must allow backup:StartCopyJob only on the configured vault ({vault}) and this account's \
                 recovery points in this Region ({recovery_points}), not {resources:?}",
                s.place
            );
        }
    }
    assert!(
        backup,
        "vault scope: the function role must allow backup:StartBackupJob"
    );
    assert!(copy, "vault scope: the function role must allow backup:StartCopyJob");
}

#[test]
fn pass_role_is_for_aws_backup_and_the_backup_role_only() {
    let t = template();
    let role_env = function_env(&t)["BACKUP_IAM_ROLE_ARN"].clone();
    let statements = function_statements(&t);
    let pass: Vec<&Statement> = statements
        .iter()
        .filter(|s| s.allows() && s.actions().contains(&"iam:PassRole"))
        .collect();
    assert!(
        !pass.is_empty(),
        "pass role: the function role must allow iam:PassRole on the backup role"
    );
    for s in pass {
        let condition = &s.value["Condition"]["StringEquals"]["iam:PassedToService"];
        let services = list(condition);
        assert!(
            !services.is_empty() && services.iter().all(|v| *v == "backup.amazonaws.com"),
            "pass role: {} must have Condition StringEquals iam:PassedToService: backup.amazonaws.com",
            s.place
        );
        let resources = s.resources();
        assert!(!resources.is_empty(), "pass role: {} has no Resource", s.place);
        for r in resources {
            assert!(
                sub_text(r).is_none_or(|text| !text.contains('*')),
                "pass role: {} must not pass role {r}",
                s.place
            );
            assert_eq!(
                *r, role_env,
                "pass role: {} may pass only the role in BACKUP_IAM_ROLE_ARN",
                s.place
            );
        }
        assert_eq!(
            s.actions(),
            ["iam:PassRole"],
            "pass role: {} must hold iam:PassRole alone, so the condition applies to it only",
            s.place
        );
    }
}

#[test]
fn function_queue_and_log_permissions_name_their_resources() {
    let t = template();
    let log_group = ref_name(&function_props(&t)["LoggingConfig"]["LogGroup"])
        .expect("logs: LoggingConfig.LogGroup must be !Ref of the template's log group, so the role can name it");
    for s in function_statements(&t).iter().filter(|s| s.allows()) {
        for action in s.actions() {
            for r in s.resources() {
                if action.starts_with("sqs:") {
                    assert!(
                        queue_of_arn(&t, r).is_some(),
                        "least privilege: {} allows {action} on {r}, not on a queue of the template",
                        s.place
                    );
                }
                if action.starts_with("logs:") {
                    assert_eq!(
                        get_att(r),
                        Some((log_group, "Arn")),
                        "least privilege: {} allows {action} beyond the log group {log_group}",
                        s.place
                    );
                }
            }
        }
    }
}

#[test]
fn no_allow_statement_in_the_template_has_resource_star() {
    let t = template();
    let statements = all_statements(&t);
    assert!(
        !statements.is_empty(),
        "least privilege: the template has no policy statements"
    );
    for s in &statements {
        for action in s.actions() {
            assert!(
                !action.contains('*'),
                "least privilege: {} allows the wildcard action {action}",
                s.place
            );
        }
        if !s.allows() {
            continue;
        }
        let star = s.resources().iter().any(|r| sub_text(r) == Some("*"));
        if star {
            let unscoped: Vec<&str> = s
                .actions()
                .into_iter()
                .filter(|a| !RESOURCE_STAR_ALLOWLIST.contains(a))
                .collect();
            assert!(
                unscoped.is_empty(),
                "least privilege: {} allows {unscoped:?} on Resource \"*\"; name the resources",
                s.place
            );
        }
        assert!(
            s.value.get("NotResource").is_none(),
            "least privilege: {} uses NotResource",
            s.place
        );
    }
    // Managed policies are out of reach of these checks: only the role passed to
    // AWS Backup may have them, and only AWS Backup's own service-role policies.
    for (name, r) in resources_of_type(&t, "AWS::IAM::Role") {
        let managed = list(&r["Properties"]["ManagedPolicyArns"]);
        if managed.is_empty() {
            continue;
        }
        let trust = list(&r["Properties"]["AssumeRolePolicyDocument"]["Statement"]);
        assert!(
            trust
                .iter()
                .all(|s| s["Principal"]["Service"] == "backup.amazonaws.com"),
            "least privilege: role {name} attaches managed policies; only the role AWS Backup assumes may"
        );
        for arn in managed {
            let text = sub_text(arn).unwrap_or_default();
            assert!(
                BACKUP_SERVICE_ROLE_POLICIES
                    .iter()
                    .any(|p| text.ends_with(&format!("/{p}"))),
                "least privilege: role {name} attaches {arn}; only AWS Backup's service-role policies are allowed"
            );
        }
    }
}

#[test]
fn template_is_next_to_the_manifest() {
    // sam build runs cargo lambda in CodeUri: it must hold Cargo.toml.
    let t = template();
    let code_uri = function_props(&t)["CodeUri"]
        .as_str()
        .expect("build: CodeUri must be a path");
    assert!(
        Path::new(&root().join(code_uri)).join("Cargo.toml").is_file(),
        "build: CodeUri {code_uri} must hold Cargo.toml"
    );
}

// ------------------------------------------------- metrics, alarms, dashboard

/// The metrics (docs/reference.md, "Metrics"; docs/operations.md, "Alarms") that fire an
/// alarm when their 5-minute sum is above 0.
const ALARMED_METRICS: &[&str] = &["JobsFailed", "MessagesFailed", "BackupJobsFailed", "CopyJobsFailed"];

/// The parameter that names the metrics' namespace, as the function reads it.
fn metrics_namespace_parameter(t: &Value) -> &str {
    let param = ref_name(&function_env(t)["METRICS_NAMESPACE"])
        .expect("metrics: METRICS_NAMESPACE must come from a parameter, which the alarms and dashboard also read");
    assert_eq!(
        parameter(t, param)["Default"],
        "BackupTrigger",
        "metrics: the namespace defaults to the function's own default"
    );
    param
}

#[test]
fn alarms_fire_on_failed_jobs_messages_and_outcomes_and_notify_the_topic() {
    let t = template();
    let namespace = metrics_namespace_parameter(&t);
    let (function_name, _) = function(&t);
    let alarms = resources_of_type(&t, "AWS::CloudWatch::Alarm");
    for metric in ALARMED_METRICS {
        let (name, alarm) = alarms
            .iter()
            .find(|(_, a)| a["Properties"]["MetricName"] == *metric)
            .unwrap_or_else(|| panic!("alarms: no alarm on the metric {metric}"));
        let p = &alarm["Properties"];
        assert_eq!(
            ref_name(&p["Namespace"]),
            Some(namespace),
            "alarms: {name} must read the namespace the function writes to"
        );
        let dimensions = list(&p["Dimensions"]);
        assert!(
            dimensions.len() == 1
                && dimensions[0]["Name"] == "FunctionName"
                && ref_name(&dimensions[0]["Value"]) == Some(function_name),
            "alarms: {name} must have the one dimension FunctionName = !Ref {function_name}, as the metrics line has"
        );
        assert!(
            p["Statistic"] == "Sum"
                && p["ComparisonOperator"] == "GreaterThanThreshold"
                && int(&p["Threshold"]) == Some(0),
            "alarms: {name} must fire when the sum of {metric} is above 0"
        );
        assert_eq!(
            p["TreatMissingData"], "notBreaching",
            "alarms: {name}: no data means nothing happened, not a failure"
        );
        assert!(
            alarm.get("Condition").is_none(),
            "alarms: {name} must exist whatever the settings"
        );
        let actions = &p["AlarmActions"]["Fn::If"];
        assert!(
            actions[0] == "HasAlarmTopic" && list(&actions[1]).iter().any(|a| ref_name(a) == Some("AlarmTopicArn")),
            "alarms: {name} must notify AlarmTopicArn when it is set"
        );
    }
}

/// The dashboard's body as CloudFormation renders it, with references shown as
/// `<Name>` and `schedule` choosing the branch of the one condition it may use:
/// the condition under which the schedules' dead-letter queue exists.
fn render(v: &Value, schedule: bool) -> String {
    let t = template();
    let condition = resource(&t, "ScheduleDeadLetterQueue")["Condition"].clone();
    render_with(v, schedule, &condition)
}

fn render_with(v: &Value, schedule: bool, condition: &Value) -> String {
    let render = |v: &Value, schedule: bool| render_with(v, schedule, condition);
    match v {
        Value::String(s) => s.clone(),
        Value::Object(o) if o.contains_key("Ref") => format!("<{}>", o["Ref"].as_str().unwrap()),
        Value::Object(o) if o.contains_key("Fn::GetAtt") => {
            let (resource, attribute) = get_att(v).expect("Fn::GetAtt [resource, attribute]");
            format!("<{resource}.{attribute}>")
        }
        Value::Object(o) if o.contains_key("Fn::If") => {
            let args = o["Fn::If"].as_array().unwrap();
            assert_eq!(
                &args[0], condition,
                "dashboard: the only condition in its body is the schedule dead-letter queue's"
            );
            render(&args[if schedule { 1 } else { 2 }], schedule)
        }
        Value::Object(o) if o.contains_key("Fn::Sub") => {
            let (text, vars) = match &o["Fn::Sub"] {
                Value::String(s) => (s.as_str(), Map::new()),
                Value::Array(args) => (
                    args[0].as_str().unwrap(),
                    args[1].as_object().cloned().unwrap_or_default(),
                ),
                other => panic!("unsupported Fn::Sub {other}"),
            };
            let mut out = String::new();
            let mut rest = text;
            while let Some(start) = rest.find("${") {
                out.push_str(&rest[..start]);
                let end = rest[start..].find('}').expect("unclosed ${") + start;
                let name = &rest[start + 2..end];
                out.push_str(&match vars.get(name) {
                    Some(v) => render(v, schedule),
                    None => format!("<{name}>"),
                });
                rest = &rest[end + 1..];
            }
            out.push_str(rest);
            out
        }
        other => panic!("dashboard: cannot render {other}"),
    }
}

#[test]
fn the_dashboard_shows_jobs_outcomes_failed_messages_and_dead_letter_queues() {
    let t = template();
    let dashboards = resources_of_type(&t, "AWS::CloudWatch::Dashboard");
    assert_eq!(
        dashboards.len(),
        1,
        "dashboard: the template must define one AWS::CloudWatch::Dashboard"
    );
    let (name, dashboard) = dashboards[0];
    let namespace = metrics_namespace_parameter(&t);
    let (function_name, _) = function(&t);
    for schedule in [false, true] {
        let text = render(&dashboard["Properties"]["DashboardBody"], schedule);
        let body: Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("dashboard: {name}'s body is not JSON (HasSchedule {schedule}): {e}\n{text}"));
        let widgets = body["widgets"].as_array().expect("dashboard: a body has widgets");
        let metrics: Vec<Vec<&str>> = widgets
            .iter()
            .flat_map(|w| w["properties"]["metrics"].as_array().into_iter().flatten())
            .map(|m| m.as_array().unwrap().iter().filter_map(Value::as_str).collect())
            .collect();
        let shows = |namespace: &str, metric: &str, dimension: &str, value: &str| {
            metrics.iter().any(|m| m[..] == [namespace, metric, dimension, value])
        };
        let ours = format!("<{namespace}>");
        let fn_name = format!("<{function_name}>");
        for metric in [
            "JobsStarted",
            "JobsFailed",
            "EventsRejected",
            "MessagesFailed",
            "BackupJobsCompleted",
            "BackupJobsFailed",
            "CopyJobsCompleted",
            "CopyJobsFailed",
        ] {
            assert!(
                shows(&ours, metric, "FunctionName", &fn_name),
                "dashboard: {name} must show {metric} of the function"
            );
        }
        assert!(
            shows("AWS/Lambda", "Throttles", "FunctionName", &fn_name),
            "dashboard: {name} must show the function's throttles"
        );
        // Its throttles are Lambda's, not AWS Backup's: the title says so.
        for w in widgets.iter().filter(|w| w.to_string().contains("\"Throttles\"")) {
            let title = w["properties"]["title"].as_str().unwrap_or_default();
            assert!(
                title.contains("Lambda") && title.contains("throttles"),
                "dashboard: the widget with AWS/Lambda Throttles must say they are Lambda's throttles, not {title:?}"
            );
        }
        for metric in AUDIT_METRICS {
            assert!(
                shows(&ours, metric, "FunctionName", &fn_name),
                "dashboard: {name} must show the audit metric {metric} of the function ({ours}, FunctionName)"
            );
        }
        // OldestBackupAge is in seconds: its own widget, in hours.
        let age_widgets: Vec<&Value> = widgets
            .iter()
            .filter(|w| w.to_string().contains("\"OldestBackupAge\""))
            .collect();
        assert_eq!(age_widgets.len(), 1, "dashboard: one widget shows OldestBackupAge");
        let age_widget = &age_widgets[0]["properties"];
        for metric in AUDIT_METRICS.iter().filter(|m| **m != "OldestBackupAge") {
            assert!(
                !age_widgets[0].to_string().contains(&format!("\"{metric}\"")),
                "dashboard: OldestBackupAge (seconds) must have a widget of its own, not share one with the count {metric}"
            );
        }
        let entries: Vec<&Vec<Value>> = age_widget["metrics"]
            .as_array()
            .expect("dashboard: the age widget has metrics")
            .iter()
            .map(|m| m.as_array().expect("dashboard: each metrics entry is a list"))
            .collect();
        let age_id = entries
            .iter()
            .find(|m| m.get(1).and_then(Value::as_str) == Some("OldestBackupAge"))
            .and_then(|m| m.last())
            .and_then(|o| o["id"].as_str())
            .expect("dashboard: OldestBackupAge needs an id for the expression that turns it into hours");
        let in_hours = entries.iter().any(|m| {
            let e = &m[0];
            e["expression"]
                .as_str()
                .is_some_and(|x| x.replace(' ', "") == format!("{age_id}/3600"))
                && e["label"].as_str().is_some_and(|l| l.contains("hours"))
        });
        assert!(
            in_hours,
            "dashboard: OldestBackupAge must be shown in hours: an expression {age_id}/3600 labelled in hours"
        );
        for (queue, role) in dead_letter_queues(&t) {
            if resource(&t, &queue).get("Condition").is_some() && !schedule {
                continue;
            }
            assert!(
                shows(
                    "AWS/SQS",
                    "ApproximateNumberOfMessagesVisible",
                    "QueueName",
                    &format!("<{queue}.QueueName>")
                ),
                "dashboard: {name} must show the depth of {queue} ({role})"
            );
        }
        let log_group = ref_name(&function_props(&t)["LoggingConfig"]["LogGroup"]).expect("the function's log group");
        assert!(
            widgets.iter().any(|w| w["type"] == "log"
                && w["properties"]["query"]
                    .as_str()
                    .is_some_and(|q| q.contains(&format!("SOURCE '<{log_group}>'"))
                        && q.contains("message = \"outcome\"")
                        && q.contains("by kind, state"))),
            "dashboard: {name} must show outcomes by state from the outcome lines of {log_group}"
        );
        for w in widgets {
            if w["type"] == "metric" || w["type"] == "log" {
                assert_eq!(
                    w["properties"]["region"], "<AWS::Region>",
                    "dashboard: widgets show the stack's Region"
                );
            }
        }
    }
}

#[test]
fn the_dashboard_is_an_output() {
    let t = template();
    let (name, _) = resources_of_type(&t, "AWS::CloudWatch::Dashboard")[0];
    let outputs = t["Outputs"].as_object().expect("outputs");
    assert!(
        outputs
            .values()
            .any(|o| sub_text(&o["Value"]).is_some_and(|s| s.contains(&format!("${{{name}}}")))),
        "outputs: a link to the dashboard {name} must be an output"
    );
}

// ------------------------------------------------------------ the account's rate

/// The parameter from which every rate setting of the stack follows.
const ACCOUNT_RATE: &str = "AccountCallsPerSecond";
/// Calls a second of the account's rate per request-queue consumer.
const CALLS_PER_SECOND_PER_CONSUMER: i64 = 5;

/// A number as deployed with the default parameter values: a literal, or a
/// `!FindInMap [Map, !Ref Parameter, Key]` read at the parameter's default.
fn deployed_default(t: &Value, v: &Value) -> Option<i64> {
    if let Some(n) = int(v) {
        return Some(n);
    }
    let args = v.get("Fn::FindInMap")?.as_array()?;
    let (map, key, field) = (args.first()?.as_str()?, args.get(1)?, args.get(2)?.as_str()?);
    let default = &parameter(t, ref_name(key)?)["Default"];
    let key = default
        .as_str()
        .map(str::to_owned)
        .unwrap_or_else(|| default.to_string());
    int(&t["Mappings"][map][key][field])
}

fn account_rate_values(t: &Value) -> Vec<i64> {
    let p = parameter(t, ACCOUNT_RATE);
    assert_eq!(p["Type"], "Number", "account rate: {ACCOUNT_RATE} must be a Number");
    list(&p["AllowedValues"])
        .iter()
        .map(|v| int(v).unwrap_or_else(|| panic!("account rate: allowed value {v} is not a number")))
        .collect()
}

#[test]
fn one_account_rate_parameter_sets_every_rate_of_the_stack() {
    let t = template();
    let values = account_rate_values(&t);
    assert!(
        values.contains(&5),
        "account rate: {ACCOUNT_RATE} must allow 5, AWS Backup's default"
    );
    assert_eq!(
        int(&parameter(&t, ACCOUNT_RATE)["Default"]),
        Some(5),
        "account rate: {ACCOUNT_RATE} must default to 5, AWS Backup's default"
    );
    // No second rate parameter to keep in step with it.
    let parameters = t["Parameters"].as_object().expect("parameters");
    for name in parameters.keys() {
        assert!(
            name == ACCOUNT_RATE || !name.contains("PerSecond"),
            "account rate: parameter {name} would be a second rate setting; derive it from {ACCOUNT_RATE}"
        );
    }
    // Each instance is capped at the account's rate.
    let env = function_env(&t);
    assert_eq!(
        ref_name(&env["MAX_CALLS_PER_SECOND"]),
        Some(ACCOUNT_RATE),
        "account rate: MAX_CALLS_PER_SECOND must be !Ref {ACCOUNT_RATE}"
    );
    for rate in &values {
        let settings = Settings::from_lookup(|name| (name == "MAX_CALLS_PER_SECOND").then(|| rate.to_string()))
            .unwrap_or_else(|e| panic!("account rate: the function refuses MAX_CALLS_PER_SECOND={rate}: {e}"));
        assert_eq!(settings.max_calls_per_second.map(|r| r.get()), Some(*rate as f64));
    }
}

#[test]
fn the_request_queue_has_one_consumer_per_five_calls_a_second() {
    let t = template();
    let values = account_rate_values(&t);
    let events = function_props(&t)["Events"].as_object().expect("events");
    for (name, e) in events.iter().filter(|(_, e)| e["Type"] == "SQS") {
        let concurrency = &e["Properties"]["ScalingConfig"]["MaximumConcurrency"];
        let args = concurrency["Fn::FindInMap"].as_array().unwrap_or_else(|| {
            panic!("account rate: event {name} MaximumConcurrency must be !FindInMap on {ACCOUNT_RATE}")
        });
        assert_eq!(
            ref_name(&args[1]),
            Some(ACCOUNT_RATE),
            "account rate: event {name} must look up {ACCOUNT_RATE}"
        );
        let (map, field) = (args[0].as_str().expect("map name"), args[2].as_str().expect("field"));
        for rate in &values {
            let consumers = int(&t["Mappings"][map][rate.to_string()][field])
                .unwrap_or_else(|| panic!("account rate: Mappings.{map} has no {field} for {rate}"));
            assert_eq!(
                consumers,
                (rate / CALLS_PER_SECOND_PER_CONSUMER).max(2),
                "account rate: at {rate} calls a second the queue gets max(2, rate / {CALLS_PER_SECOND_PER_CONSUMER}) consumers"
            );
            assert!(
                (2..=1000).contains(&consumers),
                "account rate: Lambda accepts a MaximumConcurrency of 2 to 1000, not {consumers}"
            );
        }
    }
}

// ------------------------------------------------------------- selections

/// A selection as `aws backup get-backup-selection` prints it, on one line.
const PASTED_SELECTION: &str = r#"{"SelectionName": "tagged-nightly", "IamRoleArn": "arn:aws:iam::123456789012:role/service-role/AWSBackupDefaultServiceRole", "Resources": [], "ListOfTags": [{"ConditionType": "STRINGEQUALS", "ConditionKey": "backup", "ConditionValue": "nightly"}], "NotResources": [], "Conditions": {"StringEquals": [], "StringNotEquals": [], "StringLike": [], "StringNotLike": []}}"#;

#[test]
fn the_selection_schedule_sends_the_pasted_selection_with_a_per_firing_key() {
    let t = template();
    let pattern = sub_text(&parameter(&t, "ScheduledSelection")["AllowedPattern"])
        .expect("selection: ScheduledSelection needs an AllowedPattern")
        .to_owned();
    assert!(
        pattern.starts_with("^$|"),
        "selection: ScheduledSelection must allow empty (no selection schedule)"
    );
    // The audit schedule may send ScheduledSelection too; it has a test of its own.
    let schedules: Vec<(&str, &Value)> = resources_of_type(&t, "AWS::Scheduler::Schedule")
        .into_iter()
        .filter(|(_, r)| {
            let input = r["Properties"]["Target"]["Input"].to_string();
            input.contains("ScheduledSelection") && !input.contains("Audit")
        })
        .collect();
    assert_eq!(
        schedules.len(),
        1,
        "selection: one schedule backs up ScheduledSelection"
    );
    let (name, schedule) = schedules[0];
    let condition = schedule["Condition"]
        .as_str()
        .expect("selection: the schedule needs a Condition");
    assert!(
        t["Conditions"][condition].to_string().contains("ScheduledSelection"),
        "selection: {name} must exist only when ScheduledSelection is set"
    );
    let mut params = BTreeMap::new();
    params.insert("ScheduledSelection", Value::String(PASTED_SELECTION.into()));
    let rendered = evaluate(&schedule["Properties"]["Target"]["Input"], &params);
    let input: Value = serde_json::from_str(rendered.as_str().expect("selection: Input renders to a string"))
        .unwrap_or_else(|e| panic!("selection: {name} Input is not JSON: {e}"));
    assert_eq!(
        input["IdempotencyKey"], "<aws.scheduler.schedule-arn>/<aws.scheduler.scheduled-time>",
        "idempotency: {name} Input must carry a per-firing IdempotencyKey"
    );
    assert_eq!(
        input["Selection"],
        serde_json::from_str::<Value>(PASTED_SELECTION).unwrap(),
        "selection: {name} must send the selection as it was pasted"
    );
    // The function itself accepts what the schedule sends.
    let settings = Settings {
        backup_vault_name: Some("Default".into()),
        ..Settings::default()
    };
    let origin = Origin {
        request_id: "r",
        message_id: None,
    };
    let read = Command::read(&input, &origin, &settings.defaults());
    assert!(
        matches!(read, Ok(Command::Selection(_))),
        "selection: the function must read the schedule's input as a selection: {read:?}"
    );
}

#[test]
fn selections_fan_out_to_the_functions_own_standard_queue() {
    let t = template();
    let env = function_env(&t);
    let queue = ref_name(&env["REQUEST_QUEUE_URL"]).expect("selection: REQUEST_QUEUE_URL must be !Ref of a queue");
    assert_eq!(
        resources(&t)[queue]["Type"],
        "AWS::SQS::Queue",
        "selection: REQUEST_QUEUE_URL must be a queue of the template"
    );
    assert!(
        resources(&t)[queue]["Properties"].get("FifoQueue").is_none(),
        "selection: the request queue must be a standard queue (the function refuses a FIFO one)"
    );
    let consumed: Vec<&str> = function_props(&t)["Events"]
        .as_object()
        .expect("the function has events")
        .values()
        .filter(|e| e["Type"] == "SQS")
        .filter_map(|e| queue_of_arn(&t, &e["Properties"]["Queue"]))
        .collect();
    assert!(
        consumed.contains(&queue),
        "selection: the function must consume the queue its selections fan out to"
    );
}

#[test]
fn the_function_finds_resources_by_tag_and_fans_out_to_its_queue_only() {
    let t = template();
    let queue = ref_name(&function_env(&t)["REQUEST_QUEUE_URL"]).expect("REQUEST_QUEUE_URL is !Ref of a queue");
    let statements = function_statements(&t);
    let finds = statements
        .iter()
        .filter(|s| s.allows() && s.actions().contains(&"tag:GetResources"))
        .collect::<Vec<_>>();
    assert_eq!(finds.len(), 1, "selection: one statement allows tag:GetResources");
    assert_eq!(
        finds[0].actions(),
        ["tag:GetResources"],
        "least privilege: the statement on Resource \"*\" allows tag:GetResources alone"
    );
    let sends_to: BTreeSet<&str> = statements
        .iter()
        .filter(|s| s.allows() && s.actions().contains(&"sqs:SendMessage"))
        .flat_map(|s| s.resources())
        .map(|r| queue_of_arn(&t, r).expect("sqs:SendMessage names a queue of the template"))
        .collect();
    assert!(
        sends_to.contains(queue),
        "selection: the function must be allowed sqs:SendMessage on {queue}"
    );
    assert_eq!(
        sends_to,
        BTreeSet::from([queue, "AsyncFailureQueue"]),
        "least privilege: sqs:SendMessage on the request queue and the async failure queue only"
    );
}

// ------------------------------------------------------------------ audits

/// The metrics of an audit (docs/reference.md, "Metrics"): four counts and
/// OldestBackupAge in seconds.
const AUDIT_METRICS: &[&str] = &[
    "ResourcesAudited",
    "ResourcesUnprotected",
    "ResourcesInProgress",
    "ResourcesRemediated",
    "OldestBackupAge",
];

/// Parameter values for evaluating the template's conditions and rules: every
/// parameter a condition reads, empty unless given.
fn condition_params<'a>(given: &[(&'a str, Value)]) -> BTreeMap<&'a str, Value> {
    let mut params = BTreeMap::from([
        ("BackupRoleArn", Value::from("")),
        ("ScheduledResourceArns", Value::from(Vec::<&str>::new())),
        ("ScheduledSelection", Value::from("")),
        ("AuditScheduleExpression", Value::from("")),
        ("AuditSelection", Value::from("")),
        ("AlarmTopicArn", Value::from("")),
    ]);
    for (name, value) in given {
        params.insert(name, value.clone());
    }
    params
}

/// Every combination of the parameters that create schedules, as
/// (what is set, parameter values).
fn schedule_settings() -> Vec<(String, BTreeMap<&'static str, Value>)> {
    let mut out = Vec::new();
    for arns in [false, true] {
        for selection in [false, true] {
            for audit in [false, true] {
                for audit_selection in [false, true] {
                    let mut given = Vec::new();
                    if arns {
                        given.push((
                            "ScheduledResourceArns",
                            Value::from(vec!["arn:aws:rds:eu-west-1:123456789012:db:orders"]),
                        ));
                    }
                    if selection {
                        given.push(("ScheduledSelection", Value::from(PASTED_SELECTION)));
                    }
                    if audit {
                        given.push(("AuditScheduleExpression", Value::from("cron(0 9 * * ? *)")));
                    }
                    if audit_selection {
                        given.push(("AuditSelection", Value::from(PASTED_SELECTION)));
                    }
                    let what = format!(
                        "ScheduledResourceArns {arns}, ScheduledSelection {selection}, AuditScheduleExpression {audit}, \
                         AuditSelection {audit_selection}"
                    );
                    out.push((what, condition_params(&given)));
                }
            }
        }
    }
    out
}

fn audit_schedule(t: &Value) -> (&str, &Value) {
    let audits: Vec<(&str, &Value)> = resources_of_type(t, "AWS::Scheduler::Schedule")
        .into_iter()
        .filter(|(_, r)| r["Properties"]["Target"]["Input"].to_string().contains("Audit"))
        .collect();
    assert_eq!(audits.len(), 1, "audit: one schedule sends an audit");
    audits[0]
}

#[test]
fn the_function_reads_what_audits_need_on_resource_star_only() {
    let t = template();
    let statements = function_statements(&t);
    let audits: Vec<&Statement> = statements
        .iter()
        .filter(|s| s.allows() && s.actions().iter().any(|a| AUDIT_ACTIONS.contains(a)))
        .collect();
    assert_eq!(
        audits.len(),
        1,
        "audit: one statement of the function role allows {AUDIT_ACTIONS:?}"
    );
    let s = audits[0];
    let actions: BTreeSet<&str> = s.actions().into_iter().collect();
    assert_eq!(
        actions,
        AUDIT_ACTIONS.iter().copied().collect::<BTreeSet<_>>(),
        "least privilege: {} must allow exactly {AUDIT_ACTIONS:?}: nothing else on Resource \"*\"",
        s.place
    );
    // Neither action has a resource type in IAM: "*" is the only Resource that works.
    let resources = s.resources();
    assert!(
        resources.len() == 1 && sub_text(resources[0]) == Some("*"),
        "audit: {} must be on Resource \"*\" (IAM names no resource type for {AUDIT_ACTIONS:?}), not {resources:?}",
        s.place
    );
    assert!(
        s.value.get("Condition").is_none(),
        "audit: {} has a Condition, but IAM names no condition key for {AUDIT_ACTIONS:?}",
        s.place
    );
    for action in AUDIT_ACTIONS {
        assert!(
            RESOURCE_STAR_ALLOWLIST.contains(action),
            "least privilege: {action} must be in RESOURCE_STAR_ALLOWLIST with its reason"
        );
    }
}

#[test]
fn audit_parameters_have_the_ranges_the_function_accepts() {
    let t = template();
    let number = |name: &str, default: i64, min: i64, max: i64| {
        let p = parameter(&t, name);
        assert_eq!(p["Type"], "Number", "audit: {name} must be a Number");
        assert_eq!(
            int(&p["Default"]),
            Some(default),
            "audit: {name} must default to {default}"
        );
        assert_eq!(int(&p["MinValue"]), Some(min), "audit: {name} MinValue must be {min}");
        assert_eq!(int(&p["MaxValue"]), Some(max), "audit: {name} MaxValue must be {max}");
    };
    number("AuditMaxAgeHours", 26, 1, 8760);
    number("AuditMaxRemediations", 1000, 1, 100_000);

    let remediate = parameter(&t, "AuditRemediate");
    let allowed: BTreeSet<&str> = list(&remediate["AllowedValues"])
        .into_iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(
        allowed,
        BTreeSet::from(["true", "false"]),
        "audit: AuditRemediate must allow exactly true and false (JSON booleans once in the input)"
    );
    assert_eq!(
        remediate["Default"], "false",
        "audit: AuditRemediate must default to false"
    );

    let schedule = parameter(&t, "AuditScheduleExpression");
    assert_eq!(schedule["Default"], "", "audit: no audit schedule unless asked for");
    let selection = parameter(&t, "AuditSelection");
    assert_eq!(
        selection["Default"], "",
        "audit: AuditSelection defaults to ScheduledSelection's"
    );
    assert_eq!(
        selection["AllowedPattern"],
        parameter(&t, "ScheduledSelection")["AllowedPattern"],
        "audit: AuditSelection must take what ScheduledSelection takes"
    );
    for name in [
        "AuditScheduleExpression",
        "AuditSelection",
        "AuditMaxAgeHours",
        "AuditRemediate",
        "AuditMaxRemediations",
    ] {
        assert!(
            parameter(&t, name)["Description"]
                .as_str()
                .is_some_and(|d| d.len() > 40),
            "audit: parameter {name} needs a Description"
        );
    }
}

#[test]
fn the_audit_schedule_sends_the_selection_and_the_audit_as_json() {
    let t = template();
    let (name, schedule) = audit_schedule(&t);
    let selection_schedule = resources_of_type(&t, "AWS::Scheduler::Schedule")
        .into_iter()
        .find(|(_, r)| {
            let input = r["Properties"]["Target"]["Input"].to_string();
            input.contains("ScheduledSelection") && !input.contains("Audit")
        })
        .map(|(_, r)| r)
        .expect("the selection schedule");
    let p = &schedule["Properties"];
    assert_eq!(
        ref_name(&p["ScheduleExpression"]),
        Some("AuditScheduleExpression"),
        "audit: {name} fires on AuditScheduleExpression"
    );
    assert_eq!(
        ref_name(&p["ScheduleExpressionTimezone"]),
        Some("ScheduleTimezone"),
        "audit: {name} uses ScheduleTimezone"
    );
    let target = &p["Target"];
    let other = &selection_schedule["Properties"]["Target"];
    for field in ["Arn", "RoleArn", "RetryPolicy", "DeadLetterConfig"] {
        assert_eq!(
            target[field], other[field],
            "audit: {name} must have the {field} of the other schedules"
        );
    }
    assert_eq!(
        queue_of_arn(&t, &target["DeadLetterConfig"]["Arn"]),
        Some("ScheduleDeadLetterQueue"),
        "audit: {name} dead-letters to ScheduleDeadLetterQueue"
    );

    let audited = r#"{"Resources": ["arn:aws:dynamodb:eu-west-1:123456789012:table/customers"]}"#;
    // As deployed: the stack always sets the vault and the backup role.
    let settings = Settings {
        backup_vault_name: Some("Default".into()),
        backup_iam_role_arn: Some("arn:aws:iam::123456789012:role/backup-trigger-BackupRole-0123456789AB".into()),
        ..Settings::default()
    };
    let origin = Origin {
        request_id: "r",
        message_id: None,
    };
    for (audit_selection, expected) in [("", PASTED_SELECTION), (audited, audited)] {
        for (max_age, remediate, max_remediations) in
            [("26", "false", "1000"), ("1", "true", "1"), ("8760", "true", "100000")]
        {
            let mut params = condition_params(&[
                ("ScheduledSelection", Value::from(PASTED_SELECTION)),
                ("AuditScheduleExpression", Value::from("cron(0 9 * * ? *)")),
                ("AuditSelection", Value::from(audit_selection)),
            ]);
            // What !Sub puts in for these parameters: their text.
            params.insert("AuditMaxAgeHours", Value::from(max_age));
            params.insert("AuditRemediate", Value::from(remediate));
            params.insert("AuditMaxRemediations", Value::from(max_remediations));
            let rendered = evaluate_in(&t, &target["Input"], &params);
            let text = rendered.as_str().expect("audit: Input renders to a string");
            let input: Value = serde_json::from_str(text)
                .unwrap_or_else(|e| panic!("audit: {name} Input is not JSON for {params:?}: {e}\n{text}"));
            let keys: BTreeSet<&str> = input
                .as_object()
                .expect("audit: the input is an object")
                .keys()
                .map(String::as_str)
                .collect();
            assert_eq!(
                keys,
                BTreeSet::from(["IdempotencyKey", "Selection", "Audit"]),
                "audit: {name} sends IdempotencyKey, Selection and Audit"
            );
            assert_eq!(
                input["IdempotencyKey"], "<aws.scheduler.schedule-arn>/<aws.scheduler.scheduled-time>",
                "idempotency: {name} Input must carry a per-firing IdempotencyKey"
            );
            assert_eq!(
                input["Selection"],
                serde_json::from_str::<Value>(expected).unwrap(),
                "audit: {name} must send AuditSelection, or ScheduledSelection when AuditSelection is empty \
                 (AuditSelection {audit_selection:?})"
            );
            let expected_audit = serde_json::json!({
                "MaxAgeHours": max_age.parse::<u64>().unwrap(),
                "Remediate": remediate == "true",
                "MaxRemediations": max_remediations.parse::<u64>().unwrap(),
            });
            assert_eq!(
                input["Audit"], expected_audit,
                "audit: {name} must send MaxAgeHours and MaxRemediations as JSON numbers and Remediate as a JSON \
                 boolean"
            );
            // The whole input is an audit the function reads.
            let read = Command::read(&input, &origin, &settings.defaults());
            assert!(
                matches!(read, Ok(Command::Audit(_))),
                "audit: the function must read the schedule's input as an audit: {read:?}"
            );
        }
    }
}

#[test]
fn the_audit_schedule_exists_only_when_asked_for() {
    let t = template();
    let (name, schedule) = audit_schedule(&t);
    let condition = schedule["Condition"]
        .as_str()
        .unwrap_or_else(|| panic!("audit: {name} needs a Condition"));
    for (what, params) in schedule_settings() {
        let set = params["AuditScheduleExpression"] != "";
        assert_eq!(
            condition_holds(&t, condition, &params),
            set,
            "audit: {name} must exist exactly when AuditScheduleExpression is set ({what})"
        );
    }
}

#[test]
fn an_audit_schedule_without_a_selection_is_refused_at_deploy_time() {
    let t = template();
    let rules = t["Rules"]
        .as_object()
        .expect("audit: the template needs Rules, which CloudFormation checks before it changes anything");
    for (what, params) in schedule_settings() {
        let schedule = params["AuditScheduleExpression"] != "";
        let nothing_to_audit = params["AuditSelection"] == "" && params["ScheduledSelection"] == "";
        let mut refused = Vec::new();
        for (name, rule) in rules {
            let applies = rule.get("RuleCondition").is_none_or(|c| holds(c, &params, Some(&t)));
            if !applies {
                continue;
            }
            for assertion in list(&rule["Assertions"]) {
                if !holds(&assertion["Assert"], &params, Some(&t)) {
                    refused.push((
                        name.as_str(),
                        assertion["AssertDescription"].as_str().unwrap_or_default(),
                    ));
                }
            }
        }
        if schedule && nothing_to_audit {
            assert_eq!(
                refused.len(),
                1,
                "audit: an audit schedule with neither AuditSelection nor ScheduledSelection must be refused by one \
                 rule ({what})"
            );
            let (rule, description) = refused[0];
            assert!(
                ["AuditScheduleExpression", "AuditSelection", "ScheduledSelection"]
                    .iter()
                    .all(|p| description.contains(p)),
                "audit: rule {rule} must say which parameters to set, not {description:?}"
            );
        } else {
            assert!(
                refused.is_empty(),
                "audit: the rules must accept {what}, but {refused:?} refuse it"
            );
        }
    }
}

#[test]
fn what_the_schedules_share_exists_whenever_a_schedule_does() {
    let t = template();
    let schedules = resources_of_type(&t, "AWS::Scheduler::Schedule");
    assert!(schedules.len() >= 3, "schedules: the list, the selection and the audit");
    // Everything made for the schedules: their role, their dead-letter queue and
    // its alarm, its outputs and its line on the dashboard.
    let mut shared: Vec<(String, &str)> = Vec::new();
    for name in ["ScheduleRole", "ScheduleDeadLetterQueue"] {
        let condition = resource(&t, name)["Condition"]
            .as_str()
            .unwrap_or_else(|| panic!("schedules: {name} needs a Condition: it exists only with a schedule"));
        shared.push((name.to_owned(), condition));
    }
    for (name, r) in resources_of_type(&t, "AWS::CloudWatch::Alarm") {
        let p = &r["Properties"];
        if list(&p["Dimensions"])
            .iter()
            .any(|d| get_att(&d["Value"]) == Some(("ScheduleDeadLetterQueue", "QueueName")))
        {
            let condition = r["Condition"]
                .as_str()
                .unwrap_or_else(|| panic!("schedules: {name} needs the condition of its queue"));
            shared.push((name.to_owned(), condition));
        }
    }
    for (name, o) in t["Outputs"].as_object().expect("outputs") {
        let value = &o["Value"];
        if ref_name(value) == Some("ScheduleDeadLetterQueue")
            || get_att(value).map(|(r, _)| r) == Some("ScheduleDeadLetterQueue")
        {
            let condition = o["Condition"]
                .as_str()
                .unwrap_or_else(|| panic!("schedules: output {name} needs the condition of its queue"));
            shared.push((format!("output {name}"), condition));
        }
    }
    let body = resources_of_type(&t, "AWS::CloudWatch::Dashboard")[0].1["Properties"]["DashboardBody"].to_string();
    for (_, condition) in &shared {
        assert!(
            body.contains(&format!("\"Fn::If\":[\"{condition}\"")),
            "schedules: the dashboard must show ScheduleDeadLetterQueue under the condition {condition}"
        );
    }
    for (what, params) in schedule_settings() {
        let any_schedule = schedules.iter().any(|(name, r)| {
            let condition = r["Condition"]
                .as_str()
                .unwrap_or_else(|| panic!("schedules: {name} needs a Condition"));
            condition_holds(&t, condition, &params)
        });
        for (name, condition) in &shared {
            assert_eq!(
                condition_holds(&t, condition, &params),
                any_schedule,
                "schedules: {name} (condition {condition}) must exist exactly when some schedule does ({what})"
            );
        }
    }
}

fn alarm_on<'a>(t: &'a Value, metric: &str) -> (&'a str, &'a Value) {
    let alarms: Vec<(&str, &Value)> = resources_of_type(t, "AWS::CloudWatch::Alarm")
        .into_iter()
        .filter(|(_, a)| a["Properties"]["MetricName"] == metric)
        .collect();
    assert_eq!(alarms.len(), 1, "alarms: one alarm on {metric}");
    alarms[0]
}

/// The alarm reads the function's own metric: its namespace and its one dimension.
fn assert_reads_the_functions_metric(t: &Value, name: &str, alarm: &Value) {
    let p = &alarm["Properties"];
    let (function_name, _) = function(t);
    assert_eq!(
        ref_name(&p["Namespace"]),
        Some(metrics_namespace_parameter(t)),
        "alarms: {name} must read the namespace the function writes to"
    );
    let dimensions = list(&p["Dimensions"]);
    assert!(
        dimensions.len() == 1
            && dimensions[0]["Name"] == "FunctionName"
            && ref_name(&dimensions[0]["Value"]) == Some(function_name),
        "alarms: {name} must have the one dimension FunctionName = !Ref {function_name}, as the metrics line has"
    );
    let actions = &p["AlarmActions"]["Fn::If"];
    assert!(
        actions[0] == "HasAlarmTopic" && list(&actions[1]).iter().any(|a| ref_name(a) == Some("AlarmTopicArn")),
        "alarms: {name} must notify AlarmTopicArn when it is set"
    );
}

#[test]
fn unprotected_resources_alarm_holds_until_an_audit_finds_none() {
    let t = template();
    let (name, alarm) = alarm_on(&t, "ResourcesUnprotected");
    assert_eq!(
        name, "UnprotectedResourcesAlarm",
        "alarms: the alarm on ResourcesUnprotected"
    );
    assert_reads_the_functions_metric(&t, name, alarm);
    let p = &alarm["Properties"];
    assert!(
        p["Statistic"] == "Maximum"
            && p["ComparisonOperator"] == "GreaterThanThreshold"
            && int(&p["Threshold"]) == Some(0),
        "alarms: {name} must fire when an audit finds any resource unprotected (Maximum > 0)"
    );
    assert_eq!(
        p["TreatMissingData"], "ignore",
        "alarms: {name}: no data between two audits must keep the last audit's finding (ignore)"
    );
    assert_eq!(int(&p["Period"]), Some(300), "alarms: {name} reads 5-minute periods");
    assert_eq!(
        int(&p["EvaluationPeriods"]),
        Some(1),
        "alarms: {name}: one audit's data point decides the state"
    );
    assert!(
        p.get("DatapointsToAlarm").is_none_or(|d| int(d) == Some(1)),
        "alarms: {name}: one breaching data point is enough"
    );
    assert!(
        alarm.get("Condition").is_none(),
        "alarms: {name} must exist whatever the settings (audits may be invoked without the schedule)"
    );
}

#[test]
fn audit_missing_alarm_fires_when_no_audit_completed_for_a_day() {
    let t = template();
    let (name, alarm) = alarm_on(&t, "ResourcesAudited");
    assert_eq!(name, "AuditMissingAlarm", "alarms: the alarm on ResourcesAudited");
    assert_reads_the_functions_metric(&t, name, alarm);
    let p = &alarm["Properties"];
    assert!(
        p["Statistic"] == "SampleCount"
            && p["ComparisonOperator"] == "LessThanThreshold"
            && int(&p["Threshold"]) == Some(1),
        "alarms: {name} must fire when fewer than 1 audit (SampleCount of ResourcesAudited) completed"
    );
    assert_eq!(
        p["TreatMissingData"], "breaching",
        "alarms: {name}: no data is no audit, a finding too"
    );
    let period = int(&p["Period"]).expect("alarms: Period");
    let periods = int(&p["EvaluationPeriods"]).expect("alarms: EvaluationPeriods");
    assert_eq!(period * periods, 86_400, "alarms: {name} looks at a day");
    assert_eq!(
        (period, periods),
        (3600, 24),
        "alarms: {name} reads 24 hourly periods, so that the day before's audit cannot stand in for a missing one"
    );
    assert_eq!(
        int(&p["DatapointsToAlarm"]).unwrap_or(periods),
        periods,
        "alarms: {name}: every hour of the day must be without an audit"
    );
    let (_, schedule) = audit_schedule(&t);
    assert_eq!(
        alarm["Condition"], schedule["Condition"],
        "alarms: {name} must exist exactly when the audit schedule does"
    );
}

#[test]
fn every_alarm_keeps_within_cloudwatchs_limits() {
    let t = template();
    for (name, alarm) in resources_of_type(&t, "AWS::CloudWatch::Alarm") {
        let p = &alarm["Properties"];
        let period = int(&p["Period"]).unwrap_or_else(|| panic!("alarms: {name} needs a Period"));
        assert!(
            [10, 20, 30].contains(&period) || (period > 0 && period % 60 == 0),
            "alarms: {name} Period must be 10, 20, 30 or a multiple of 60, not {period}"
        );
        let periods = int(&p["EvaluationPeriods"]).unwrap_or_else(|| panic!("alarms: {name} needs EvaluationPeriods"));
        // PutMetricAlarm: at most 7 days, and 1 day for a period under an hour.
        let limit = if period < 3600 { 86_400 } else { 604_800 };
        assert!(
            periods >= 1 && period * periods <= limit,
            "alarms: {name} Period x EvaluationPeriods is {}, more than CloudWatch's {limit}",
            period * periods
        );
        let to_alarm = int(&p["DatapointsToAlarm"]).unwrap_or(periods);
        assert!(
            (1..=periods).contains(&to_alarm),
            "alarms: {name} DatapointsToAlarm must be 1 to EvaluationPeriods"
        );
        assert!(
            ["breaching", "notBreaching", "ignore", "missing"].contains(&p["TreatMissingData"].as_str().unwrap_or("")),
            "alarms: {name} must say how it treats missing data"
        );
    }
}

#[test]
fn every_alarm_has_a_name_made_of_the_stack_name() {
    let t = template();
    let alarms = resources_of_type(&t, "AWS::CloudWatch::Alarm");
    assert!(alarms.len() >= 10, "alarms: expected the 10 alarms of the template");
    let mut names = BTreeSet::new();
    for (name, alarm) in alarms {
        let p = &alarm["Properties"];
        let text = p["AlarmName"]
            .get("Fn::Sub")
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("alarms: {name} needs AlarmName: !Sub \"${{AWS::StackName}}-<purpose>\""));
        let purpose = text
            .strip_prefix("${AWS::StackName}-")
            .unwrap_or_else(|| panic!("alarms: {name}'s AlarmName must start with the stack name: {text}"));
        assert!(
            !purpose.is_empty()
                && purpose
                    .split('-')
                    .all(|w| !w.is_empty() && w.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())),
            "alarms: {name}'s AlarmName must end in kebab-case words (a-z, 0-9, single hyphens), not {purpose:?}"
        );
        assert!(
            names.insert(purpose.to_owned()),
            "alarms: two alarms are named ${{AWS::StackName}}-{purpose}"
        );
        let actions = &p["AlarmActions"]["Fn::If"];
        assert!(
            actions[0] == "HasAlarmTopic" && list(&actions[1]).iter().any(|a| ref_name(a) == Some("AlarmTopicArn")),
            "alarms: {name} must notify AlarmTopicArn when it is set"
        );
    }
}

#[test]
fn every_dead_letter_queue_has_its_arn_beside_its_url_output() {
    let t = template();
    let outputs = t["Outputs"].as_object().expect("outputs");
    for (queue, role) in dead_letter_queues(&t) {
        let url = outputs
            .iter()
            .find(|(_, o)| ref_name(&o["Value"]) == Some(queue.as_str()))
            .unwrap_or_else(|| panic!("outputs: the URL of {queue} ({role}) must be an output"));
        let arn = outputs
            .iter()
            .find(|(_, o)| get_att(&o["Value"]) == Some((queue.as_str(), "Arn")))
            .unwrap_or_else(|| {
                panic!("outputs: the ARN of {queue} ({role}) must be an output, for aws sqs start-message-move-task")
            });
        assert_eq!(
            arn.0.as_str(),
            format!("{}Arn", url.0.strip_suffix("Url").unwrap_or(url.0.as_str())),
            "outputs: the ARN output of {queue} is named after its URL output {}",
            url.0
        );
        assert_eq!(
            arn.1["Condition"], url.1["Condition"],
            "outputs: {} must exist exactly when {} does",
            arn.0, url.0
        );
        assert_eq!(
            arn.1["Condition"],
            resource(&t, &queue)["Condition"],
            "outputs: {} must exist exactly when {queue} does",
            arn.0
        );
    }
}

#[test]
fn template_comments_point_at_the_reference_and_operations_pages() {
    let text = std::fs::read_to_string(root().join("template.yaml")).expect("template.yaml is readable");
    assert!(
        !text.contains("README"),
        "docs: template.yaml must point at docs/reference.md or docs/operations.md, not at the README"
    );
    for (i, _) in text.match_indices("docs/") {
        let page: String = text[i..]
            .chars()
            .take_while(|c| !c.is_whitespace() && *c != ',' && *c != ')')
            .collect();
        assert!(
            ["docs/reference.md", "docs/operations.md"].contains(&page.as_str()),
            "docs: template.yaml points at {page}; the manual's pages are docs/reference.md and docs/operations.md"
        );
    }
}
