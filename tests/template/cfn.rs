//! Enough of CloudFormation to check template.yaml: reading it (short tags turned
//! into their long JSON forms), finding resources, evaluating the intrinsics the
//! schedule's input and the rules' patterns use, and reading IAM statements.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::{Map, Value};

use super::*;

// ------------------------------------------------------------------ reading

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn template() -> Value {
    let path = root().join("template.yaml");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let yaml: serde_yaml_ng::Value =
        serde_yaml_ng::from_str(&text).unwrap_or_else(|e| panic!("template.yaml is not valid YAML: {e}"));
    to_json(yaml)
}

/// YAML to JSON, with CloudFormation short tags in their long forms.
pub fn to_json(value: serde_yaml_ng::Value) -> Value {
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

pub fn resources(t: &Value) -> &Map<String, Value> {
    t["Resources"].as_object().expect("template.yaml has a Resources map")
}

pub fn resources_of_type<'a>(t: &'a Value, kind: &str) -> Vec<(&'a str, &'a Value)> {
    resources(t)
        .iter()
        .filter(|(_, r)| r["Type"] == kind)
        .map(|(name, r)| (name.as_str(), r))
        .collect()
}

pub fn resource<'a>(t: &'a Value, name: &str) -> &'a Value {
    resources(t)
        .get(name)
        .unwrap_or_else(|| panic!("resource {name} is referenced but not defined"))
}

/// The one SAM function of the template.
pub fn function(t: &Value) -> (&str, &Value) {
    let functions = resources_of_type(t, "AWS::Serverless::Function");
    assert_eq!(
        functions.len(),
        1,
        "one function: the template must define exactly one AWS::Serverless::Function"
    );
    functions[0]
}

pub fn function_props(t: &Value) -> &Value {
    &function(t).1["Properties"]
}

/// A value or a list of values, as a list.
pub fn list(v: &Value) -> Vec<&Value> {
    match v {
        Value::Array(items) => items.iter().collect(),
        Value::Null => vec![],
        other => vec![other],
    }
}

pub fn ref_name(v: &Value) -> Option<&str> {
    v.get("Ref").and_then(Value::as_str)
}

/// `(resource, attribute)` of `!GetAtt resource.attribute`.
pub fn get_att(v: &Value) -> Option<(&str, &str)> {
    let parts = v.get("Fn::GetAtt")?.as_array()?;
    Some((parts.first()?.as_str()?, parts.get(1)?.as_str()?))
}

/// The name of the SQS queue of the template whose ARN `v` is (`!GetAtt Q.Arn`).
pub fn queue_of_arn<'a>(t: &Value, v: &'a Value) -> Option<&'a str> {
    let (name, attribute) = get_att(v)?;
    (attribute == "Arn" && resources(t).get(name)?["Type"] == "AWS::SQS::Queue").then_some(name)
}

pub fn int(v: &Value) -> Option<i64> {
    v.as_i64().or_else(|| v.as_str().and_then(|s| s.parse().ok()))
}

pub fn parameter<'a>(t: &'a Value, name: &str) -> &'a Value {
    t["Parameters"]
        .get(name)
        .unwrap_or_else(|| panic!("parameter {name} is referenced but not defined"))
}

/// A `Fn::Sub` string as it is written, or a plain string.
pub fn sub_text(v: &Value) -> Option<&str> {
    v.as_str().or_else(|| v.get("Fn::Sub").and_then(Value::as_str))
}

// ------------------------------------------------- evaluating intrinsics
// Enough of CloudFormation to render the schedules' inputs and the rule's pattern
// for given parameter values, and to decide its conditions and rules.

/// `v` with its intrinsics evaluated; a `Fn::If` has no template to read its
/// condition from here: use [`evaluate_in`].
pub fn evaluate(v: &Value, params: &BTreeMap<&str, Value>) -> Value {
    eval(v, params, None)
}

/// `v` with its intrinsics evaluated, `Fn::If` included, its conditions read
/// from `t`'s Conditions.
pub fn evaluate_in(t: &Value, v: &Value, params: &BTreeMap<&str, Value>) -> Value {
    eval(v, params, Some(t))
}

/// Whether the condition `name` of `t` holds for these parameter values.
pub fn condition_holds(t: &Value, name: &str, params: &BTreeMap<&str, Value>) -> bool {
    let expression = t["Conditions"]
        .get(name)
        .unwrap_or_else(|| panic!("condition {name} is used but not defined"));
    holds(expression, params, Some(t))
}

/// Whether a condition expression holds: `Fn::Equals`, `Fn::Not`, `Fn::And`,
/// `Fn::Or` and `{"Condition": name}`, as in Conditions and in the Rules'
/// RuleCondition and Assert (where `t` may be None if no condition is named).
pub fn holds(expression: &Value, params: &BTreeMap<&str, Value>, t: Option<&Value>) -> bool {
    let o = expression
        .as_object()
        .filter(|o| o.len() == 1)
        .unwrap_or_else(|| panic!("a condition is one function, not {expression}"));
    let (function, args) = o.iter().next().expect("one entry");
    let list = || {
        args.as_array()
            .unwrap_or_else(|| panic!("{function} takes a list, not {args}"))
    };
    match function.as_str() {
        "Fn::Equals" => {
            let args = list();
            assert_eq!(args.len(), 2, "Fn::Equals compares two values");
            eval(&args[0], params, t) == eval(&args[1], params, t)
        }
        "Fn::Not" => {
            let args = list();
            assert_eq!(args.len(), 1, "Fn::Not takes one condition");
            !holds(&args[0], params, t)
        }
        "Fn::And" => list().iter().all(|c| holds(c, params, t)),
        "Fn::Or" => list().iter().any(|c| holds(c, params, t)),
        "Condition" => {
            let name = args.as_str().expect("Condition names a condition");
            let t = t.expect("a named condition needs the template");
            condition_holds(t, name, params)
        }
        other => panic!("the test's evaluator does not know the condition function {other}"),
    }
}

fn eval(v: &Value, params: &BTreeMap<&str, Value>, t: Option<&Value>) -> Value {
    let evaluate = |v: &Value, params: &BTreeMap<&str, Value>| eval(v, params, t);
    match v {
        Value::Array(items) => Value::Array(items.iter().map(|i| evaluate(i, params)).collect()),
        Value::Object(o) if o.len() == 1 && o.contains_key("Fn::If") => {
            let args = o["Fn::If"].as_array().expect("Fn::If takes [condition, then, else]");
            assert_eq!(args.len(), 3, "Fn::If takes [condition, then, else]");
            let name = args[0].as_str().expect("Fn::If names a condition");
            let t = t.unwrap_or_else(|| panic!("Fn::If {name}: evaluate with evaluate_in, which reads the Conditions"));
            evaluate(&args[if condition_holds(t, name, params) { 1 } else { 2 }], params)
        }
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
pub fn pattern_matches(pattern: &Value, event: &Value) -> bool {
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

pub struct Statement<'a> {
    /// Where the statement is, for messages.
    pub place: String,
    pub value: &'a Value,
}

impl Statement<'_> {
    pub fn allows(&self) -> bool {
        self.value["Effect"] == "Allow"
    }

    pub fn actions(&self) -> Vec<&str> {
        list(&self.value["Action"])
            .into_iter()
            .map(|a| {
                a.as_str()
                    .unwrap_or_else(|| panic!("{}: actions must be literal strings", self.place))
            })
            .collect()
    }

    pub fn resources(&self) -> Vec<&Value> {
        list(&self.value["Resource"])
    }
}

/// Every statement of the inline policies of the role named `role`.
pub fn role_statements<'a>(t: &'a Value, role: &str) -> Vec<Statement<'a>> {
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
pub fn all_statements(t: &Value) -> Vec<Statement<'_>> {
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
pub fn function_role(t: &Value) -> &str {
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

pub fn function_statements(t: &Value) -> Vec<Statement<'_>> {
    role_statements(t, function_role(t))
}

pub fn function_env(t: &Value) -> &Map<String, Value> {
    function_props(t)["Environment"]["Variables"]
        .as_object()
        .expect("environment: the function must have Environment.Variables")
}

/// The ARN of the configured vault, written as the template must write it.
pub fn vault_arn(t: &Value) -> Value {
    let env = function_env(t);
    let param = ref_name(&env["BACKUP_VAULT_NAME"])
        .expect("vault scope: BACKUP_VAULT_NAME must be !Ref of a parameter, so the policy can name the same vault");
    let mut o = Map::new();
    o.insert("Fn::Sub".into(), Value::String(VAULT_ARN.replace("%s", param)));
    Value::Object(o)
}

/// Every SQS queue that receives what failed elsewhere, with where it is used.
pub fn dead_letter_queues(t: &Value) -> BTreeMap<String, String> {
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

pub struct Target<'a> {
    pub place: String,
    pub kind: &'static str,
    pub value: &'a Value,
}

/// The targets of schedules and rules that invoke the function, in plain
/// CloudFormation or as SAM events.
pub fn trigger_targets(t: &Value) -> Vec<Target<'_>> {
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
