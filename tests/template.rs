//! Checks of `template.yaml` that cfn-lint does not make: the values Lambda and SAM
//! accept but cfn-lint does not know (runtime, architecture, response types), the
//! settings of CONTRACT.md section 7, the paths by which nothing is lost (dead-letter
//! queues, retries, alarms), the schedule's input and the copy rule's pattern, and
//! least privilege. Each failure message starts with the rule that broke.
//!
//! The template is read as YAML and CloudFormation's short tags (`!Ref`, `!Sub`,
//! `!GetAtt A.B`, ...) are turned into their long JSON forms (`{"Ref": ..}`,
//! `{"Fn::Sub": ..}`, `{"Fn::GetAtt": ["A", "B"]}`), so the checks below see one form.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use backup_trigger::settings::Settings;
use serde_json::{Map, Value};

/// CONTRACT.md section 7.
const CONTRACT_SETTINGS: &[&str] = &[
    "BACKUP_VAULT_NAME",
    "BACKUP_IAM_ROLE_ARN",
    "COPY_DESTINATION_VAULT_ARN",
    "ALLOWED_DESTINATION_VAULT_ARNS",
    "MAX_CONCURRENCY",
    "DRY_RUN",
];

/// Other environment variables the function reads (CONTRACT.md sections 3 and 6).
const OTHER_KNOWN_ENV: &[&str] = &[
    "MAX_CALLS_PER_SECOND",
    "AWS_MAX_ATTEMPTS",
    "AWS_RETRY_MODE",
    "RUST_LOG",
    "AWS_ENDPOINT_URL_BACKUP",
];

/// Actions that may be allowed on `Resource: "*"` because AWS does not let their
/// resource be named. None are needed today; add one only with the reason.
const RESOURCE_STAR_ALLOWLIST: &[&str] = &[];

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

// ------------------------------------------------------------------ reading

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn template() -> Value {
    let path = root().join("template.yaml");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let yaml: serde_yaml_ng::Value =
        serde_yaml_ng::from_str(&text).unwrap_or_else(|e| panic!("template.yaml is not valid YAML: {e}"));
    to_json(yaml)
}

/// YAML to JSON, with CloudFormation short tags in their long forms.
fn to_json(value: serde_yaml_ng::Value) -> Value {
    use serde_yaml_ng::Value as Yaml;
    match value {
        Yaml::Null => Value::Null,
        Yaml::Bool(b) => Value::Bool(b),
        Yaml::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::from(i)
            } else if let Some(u) = n.as_u64() {
                Value::from(u)
            } else {
                Value::from(n.as_f64().unwrap_or(f64::NAN))
            }
        }
        Yaml::String(s) => Value::String(s),
        Yaml::Sequence(items) => Value::Array(items.into_iter().map(to_json).collect()),
        Yaml::Mapping(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| {
                    let key = match k {
                        Yaml::String(s) => s,
                        other => serde_yaml_ng::to_string(&other).unwrap_or_default().trim().to_owned(),
                    };
                    (key, to_json(v))
                })
                .collect(),
        ),
        Yaml::Tagged(tagged) => {
            let name = tagged.tag.to_string().trim_start_matches('!').to_owned();
            let inner = to_json(tagged.value);
            let (key, inner) = match name.as_str() {
                "Ref" | "Condition" => (name, inner),
                "GetAtt" => {
                    let inner = match inner {
                        Value::String(s) => match s.split_once('.') {
                            Some((resource, attribute)) => Value::from(vec![resource, attribute]),
                            None => Value::String(s),
                        },
                        other => other,
                    };
                    ("Fn::GetAtt".to_owned(), inner)
                }
                _ => (format!("Fn::{name}"), inner),
            };
            let mut object = Map::new();
            object.insert(key, inner);
            Value::Object(object)
        }
    }
}

// ------------------------------------------------------------------ helpers

fn resources(t: &Value) -> &Map<String, Value> {
    t["Resources"].as_object().expect("template.yaml has a Resources map")
}

fn resources_of_type<'a>(t: &'a Value, kind: &str) -> Vec<(&'a str, &'a Value)> {
    resources(t)
        .iter()
        .filter(|(_, r)| r["Type"] == kind)
        .map(|(name, r)| (name.as_str(), r))
        .collect()
}

fn resource<'a>(t: &'a Value, name: &str) -> &'a Value {
    resources(t)
        .get(name)
        .unwrap_or_else(|| panic!("resource {name} is referenced but not defined"))
}

/// The one SAM function of the template.
fn function(t: &Value) -> (&str, &Value) {
    let functions = resources_of_type(t, "AWS::Serverless::Function");
    assert_eq!(
        functions.len(),
        1,
        "one function: the template must define exactly one AWS::Serverless::Function"
    );
    functions[0]
}

fn function_props(t: &Value) -> &Value {
    &function(t).1["Properties"]
}

/// A value or a list of values, as a list.
fn list(v: &Value) -> Vec<&Value> {
    match v {
        Value::Array(items) => items.iter().collect(),
        Value::Null => vec![],
        other => vec![other],
    }
}

fn ref_name(v: &Value) -> Option<&str> {
    v.get("Ref").and_then(Value::as_str)
}

/// `(resource, attribute)` of `!GetAtt resource.attribute`.
fn get_att(v: &Value) -> Option<(&str, &str)> {
    let parts = v.get("Fn::GetAtt")?.as_array()?;
    Some((parts.first()?.as_str()?, parts.get(1)?.as_str()?))
}

/// The name of the SQS queue of the template whose ARN `v` is (`!GetAtt Q.Arn`).
fn queue_of_arn<'a>(t: &Value, v: &'a Value) -> Option<&'a str> {
    let (name, attribute) = get_att(v)?;
    (attribute == "Arn" && resources(t).get(name)?["Type"] == "AWS::SQS::Queue").then_some(name)
}

fn int(v: &Value) -> Option<i64> {
    v.as_i64().or_else(|| v.as_str().and_then(|s| s.parse().ok()))
}

fn parameter<'a>(t: &'a Value, name: &str) -> &'a Value {
    t["Parameters"]
        .get(name)
        .unwrap_or_else(|| panic!("parameter {name} is referenced but not defined"))
}

/// A `Fn::Sub` string as it is written, or a plain string.
fn sub_text(v: &Value) -> Option<&str> {
    v.as_str().or_else(|| v.get("Fn::Sub").and_then(Value::as_str))
}

// ------------------------------------------------- evaluating intrinsics
// Enough of CloudFormation to render the schedule's input and the rule's pattern
// for given parameter values.

fn evaluate(v: &Value, params: &BTreeMap<&str, Value>) -> Value {
    match v {
        Value::Array(items) => Value::Array(items.iter().map(|i| evaluate(i, params)).collect()),
        Value::Object(o) if o.len() == 1 && o.contains_key("Ref") => {
            let name = o["Ref"].as_str().expect("Ref names a string");
            params
                .get(name)
                .cloned()
                .unwrap_or_else(|| panic!("no value given for Ref {name}"))
        }
        Value::Object(o) if o.len() == 1 && o.contains_key("Fn::Join") => {
            let args = o["Fn::Join"].as_array().expect("Fn::Join takes [separator, list]");
            let separator = args[0].as_str().expect("Fn::Join separator is a string");
            let items = evaluate(&args[1], params);
            let items: Vec<&str> = items
                .as_array()
                .expect("Fn::Join joins a list")
                .iter()
                .map(|i| i.as_str().expect("Fn::Join joins strings"))
                .collect();
            Value::String(items.join(separator))
        }
        Value::Object(o) if o.len() == 1 && o.contains_key("Fn::Sub") => {
            let (text, vars) = match &o["Fn::Sub"] {
                Value::String(s) => (s.as_str(), Map::new()),
                Value::Array(args) => (
                    args[0].as_str().expect("Fn::Sub text is a string"),
                    args.get(1).and_then(Value::as_object).cloned().unwrap_or_default(),
                ),
                other => panic!("unsupported Fn::Sub {other}"),
            };
            let mut out = String::new();
            let mut rest = text;
            while let Some(start) = rest.find("${") {
                out.push_str(&rest[..start]);
                let end = rest[start..].find('}').expect("unclosed ${ in Fn::Sub") + start;
                let name = &rest[start + 2..end];
                let value = match vars.get(name) {
                    Some(v) => evaluate(v, params),
                    None => params
                        .get(name)
                        .cloned()
                        .unwrap_or_else(|| panic!("no value for ${{{name}}}")),
                };
                out.push_str(value.as_str().expect("Fn::Sub variables are strings"));
                rest = &rest[end + 1..];
            }
            out.push_str(rest);
            Value::String(out)
        }
        Value::Object(o) => Value::Object(o.iter().map(|(k, v)| (k.clone(), evaluate(v, params))).collect()),
        other => other.clone(),
    }
}

/// EventBridge pattern matching, for the operators the template uses: literal
/// values, nested objects, `exists` and `$or`.
fn pattern_matches(pattern: &Value, event: &Value) -> bool {
    let pattern = pattern.as_object().expect("an event pattern is an object");
    pattern.iter().all(|(key, wanted)| {
        if key == "$or" {
            return wanted
                .as_array()
                .expect("$or takes a list")
                .iter()
                .any(|alternative| pattern_matches(alternative, event));
        }
        let field = event.get(key);
        match wanted {
            Value::Object(_) => pattern_matches(wanted, field.unwrap_or(&Value::Object(Map::new()))),
            Value::Array(alternatives) => alternatives.iter().any(|alternative| match alternative {
                Value::Object(op) if op.len() == 1 && op.contains_key("exists") => {
                    // `exists` looks at leaves only: an object is not there.
                    let present = field.is_some_and(|f| !f.is_object());
                    op["exists"].as_bool() == Some(present)
                }
                Value::Object(op) => panic!("the test's matcher does not know the pattern operator {op:?}"),
                literal => match field {
                    Some(Value::Array(values)) => values.contains(literal),
                    Some(value) => value == literal,
                    None => false,
                },
            }),
            other => panic!("pattern value for {key} must be a list or an object, not {other}"),
        }
    })
}

// ------------------------------------------------------------ IAM helpers

struct Statement<'a> {
    /// Where the statement is, for messages.
    place: String,
    value: &'a Value,
}

impl Statement<'_> {
    fn allows(&self) -> bool {
        self.value["Effect"] == "Allow"
    }

    fn actions(&self) -> Vec<&str> {
        list(&self.value["Action"])
            .into_iter()
            .map(|a| {
                a.as_str()
                    .unwrap_or_else(|| panic!("{}: actions must be literal strings", self.place))
            })
            .collect()
    }

    fn resources(&self) -> Vec<&Value> {
        list(&self.value["Resource"])
    }
}

/// Every statement of the inline policies of the role named `role`.
fn role_statements<'a>(t: &'a Value, role: &str) -> Vec<Statement<'a>> {
    let r = resource(t, role);
    let mut out = Vec::new();
    for policy in list(&r["Properties"]["Policies"]) {
        let name = policy["PolicyName"].as_str().unwrap_or("?");
        for (i, s) in list(&policy["PolicyDocument"]["Statement"]).into_iter().enumerate() {
            out.push(Statement {
                place: format!(
                    "{role} policy {name} statement {}",
                    s["Sid"].as_str().map_or(i.to_string(), str::to_owned)
                ),
                value: s,
            });
        }
    }
    out
}

/// Every policy statement in the template: roles, policies and queue policies.
fn all_statements(t: &Value) -> Vec<Statement<'_>> {
    let mut out = Vec::new();
    for (name, r) in resources(t) {
        match r["Type"].as_str() {
            Some("AWS::IAM::Role") => out.extend(role_statements(t, name)),
            Some("AWS::IAM::Policy" | "AWS::IAM::ManagedPolicy" | "AWS::SQS::QueuePolicy") => {
                for (i, s) in list(&r["Properties"]["PolicyDocument"]["Statement"])
                    .into_iter()
                    .enumerate()
                {
                    out.push(Statement {
                        place: format!(
                            "{name} statement {}",
                            s["Sid"].as_str().map_or(i.to_string(), str::to_owned)
                        ),
                        value: s,
                    });
                }
            }
            _ => {}
        }
    }
    out
}

/// The role the function runs with; it must be defined in the template.
fn function_role(t: &Value) -> &str {
    let props = function_props(t);
    let (role, attribute) = get_att(&props["Role"]).unwrap_or_else(|| {
        panic!(
            "function uses its own role: set Role: !GetAtt SomeRole.Arn. Without it SAM generates a role with \
             AWSLambdaBasicExecutionRole, whose log permissions are on Resource \"*\""
        )
    });
    assert_eq!(
        attribute, "Arn",
        "function uses its own role: Role must be !GetAtt {role}.Arn"
    );
    assert_eq!(
        resource(t, role)["Type"],
        "AWS::IAM::Role",
        "function uses its own role: {role} must be an AWS::IAM::Role"
    );
    role
}

fn function_statements(t: &Value) -> Vec<Statement<'_>> {
    role_statements(t, function_role(t))
}

fn function_env(t: &Value) -> &Map<String, Value> {
    function_props(t)["Environment"]["Variables"]
        .as_object()
        .expect("environment: the function must have Environment.Variables")
}

/// The ARN of the configured vault, written as the template must write it.
fn vault_arn(t: &Value) -> Value {
    let env = function_env(t);
    let param = ref_name(&env["BACKUP_VAULT_NAME"])
        .expect("vault scope: BACKUP_VAULT_NAME must be !Ref of a parameter, so the policy can name the same vault");
    let mut o = Map::new();
    o.insert("Fn::Sub".into(), Value::String(VAULT_ARN.replace("%s", param)));
    Value::Object(o)
}

/// Every SQS queue that receives what failed elsewhere, with where it is used.
fn dead_letter_queues(t: &Value) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for (name, q) in resources_of_type(t, "AWS::SQS::Queue") {
        if let Some(target) = q["Properties"]["RedrivePolicy"].get("deadLetterTargetArn") {
            let dlq = queue_of_arn(t, target).unwrap_or_else(|| {
                panic!("redrive: {name}'s deadLetterTargetArn must be !GetAtt of a queue of the template")
            });
            out.insert(dlq.to_owned(), format!("dead-letter queue of {name}"));
        }
    }
    let on_failure = &function_props(t)["EventInvokeConfig"]["DestinationConfig"]["OnFailure"]["Destination"];
    if let Some(q) = queue_of_arn(t, on_failure) {
        out.insert(
            q.to_owned(),
            "on-failure destination of asynchronous invocations".to_owned(),
        );
    }
    for target in trigger_targets(t) {
        if let Some(q) = queue_of_arn(t, &target.value["DeadLetterConfig"]["Arn"]) {
            out.insert(q.to_owned(), format!("dead-letter queue of {}", target.place));
        }
    }
    out
}

struct Target<'a> {
    place: String,
    kind: &'static str,
    value: &'a Value,
}

/// The targets of schedules and rules that invoke the function, in plain
/// CloudFormation or as SAM events.
fn trigger_targets(t: &Value) -> Vec<Target<'_>> {
    let mut out = Vec::new();
    for (name, r) in resources_of_type(t, "AWS::Scheduler::Schedule") {
        out.push(Target {
            place: format!("schedule {name}"),
            kind: "schedule",
            value: &r["Properties"]["Target"],
        });
    }
    for (name, r) in resources_of_type(t, "AWS::Events::Rule") {
        for target in list(&r["Properties"]["Targets"]) {
            out.push(Target {
                place: format!("rule {name}"),
                kind: "rule",
                value: target,
            });
        }
    }
    if let Some(events) = function_props(t)["Events"].as_object() {
        for (name, e) in events {
            let kind = match e["Type"].as_str() {
                Some("ScheduleV2" | "Schedule") => "schedule",
                Some("EventBridgeRule" | "CloudWatchEvent") => "rule",
                _ => continue,
            };
            out.push(Target {
                place: format!("SAM event {name}"),
                kind,
                value: &e["Properties"],
            });
        }
    }
    out
}

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
fn every_setting_of_contract_section_7_is_set() {
    let t = template();
    let env = function_env(&t);
    for name in CONTRACT_SETTINGS {
        let value = env
            .get(*name)
            .unwrap_or_else(|| panic!("settings: environment variable {name} (CONTRACT.md section 7) is not set"));
        if let Some(param) = ref_name(value) {
            parameter(&t, param);
        }
    }
    for name in env.keys() {
        assert!(
            CONTRACT_SETTINGS.contains(&name.as_str()) || OTHER_KNOWN_ENV.contains(&name.as_str()),
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
        let text = if let Some(param) = ref_name(value) {
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
    let schedules: Vec<&Target> = targets.iter().filter(|x| x.kind == "schedule").collect();
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
        assert!(
            t["Conditions"][condition].to_string().contains("ScheduledResourceArns"),
            "schedule: condition {condition} of {name} must depend on ScheduledResourceArns"
        );
    }
}

#[test]
fn copy_rule_matches_completed_on_demand_backups_of_the_vault_only() {
    let t = template();
    let rules = resources_of_type(&t, "AWS::Events::Rule");
    assert!(
        !rules.is_empty(),
        "copy rule: the template must define an EventBridge rule for completed backups"
    );
    let sample_path = root().join("events/backup-job-completed.json");
    let sample: Value =
        serde_json::from_str(&std::fs::read_to_string(&sample_path).expect("events/backup-job-completed.json"))
            .expect("events/backup-job-completed.json is JSON");
    let vault = sample["detail"]["backupVaultName"]
        .as_str()
        .expect("sample has detail.backupVaultName")
        .to_owned();
    let mut params = BTreeMap::new();
    params.insert("BackupVaultName", Value::from(vault.clone()));

    let changed = |f: &dyn Fn(&mut Value)| {
        let mut e = sample.clone();
        f(&mut e);
        e
    };
    let must_match = [
        ("the sample on-demand event (backupPlanId \"\")", sample.clone()),
        (
            "an on-demand event without createdBy",
            changed(&|e| drop(e["detail"].as_object_mut().unwrap().remove("createdBy"))),
        ),
        (
            "an on-demand event without createdBy.backupPlanId",
            changed(&|e| drop(e["detail"]["createdBy"].as_object_mut().unwrap().remove("backupPlanId"))),
        ),
    ];
    let must_not_match = [
        (
            "a backup plan's job",
            changed(&|e| e["detail"]["createdBy"]["backupPlanId"] = Value::from("8a3b2f8c-plan")),
        ),
        (
            "a running job",
            changed(&|e| e["detail"]["state"] = Value::from("RUNNING")),
        ),
        (
            "a failed job",
            changed(&|e| e["detail"]["state"] = Value::from("FAILED")),
        ),
        (
            "a job of another vault",
            changed(&|e| e["detail"]["backupVaultName"] = Value::from(format!("{vault}Other"))),
        ),
        (
            "a copy job event",
            changed(&|e| e["detail-type"] = Value::from("Copy Job State Change")),
        ),
    ];
    for (name, r) in rules {
        assert!(
            r["Condition"].as_str().is_some_and(|c| t["Conditions"][c].to_string().contains("CopyDestinationVaultArn")),
            "copy rule: {name} must have a Condition on CopyDestinationVaultArn (the function refuses the event without it)"
        );
        let pattern = evaluate(&r["Properties"]["EventPattern"], &params);
        for (what, event) in &must_match {
            assert!(
                pattern_matches(&pattern, event),
                "copy rule: {name} must match {what}\npattern: {pattern}"
            );
        }
        for (what, event) in &must_not_match {
            assert!(
                !pattern_matches(&pattern, event),
                "copy rule: {name} must not match {what}\npattern: {pattern}"
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
                    ["backup:StartBackupJob", "backup:StartCopyJob"].contains(action),
                    "least privilege: {} allows {action}; the function only starts backup and copy jobs",
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
    let key = default.as_str().map(str::to_owned).unwrap_or_else(|| default.to_string());
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
        assert_eq!(
            settings.max_calls_per_second.map(|r| r.get()),
            Some(*rate as f64)
        );
    }
}

#[test]
fn the_request_queue_has_one_consumer_per_five_calls_a_second() {
    let t = template();
    let values = account_rate_values(&t);
    let events = function_props(&t)["Events"].as_object().expect("events");
    for (name, e) in events.iter().filter(|(_, e)| e["Type"] == "SQS") {
        let concurrency = &e["Properties"]["ScalingConfig"]["MaximumConcurrency"];
        let args = concurrency["Fn::FindInMap"]
            .as_array()
            .unwrap_or_else(|| panic!("account rate: event {name} MaximumConcurrency must be !FindInMap on {ACCOUNT_RATE}"));
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
