//! Reading a selection as users paste it (AWS Backup's `BackupSelection`), with
//! every problem found, not only the first.

use serde_json::{Map, Value};

use crate::core::defaults::Defaults;
use crate::core::error::{quote_str, Error, Invalid};
use crate::core::request::{kind_of, rules, validate, BackupJob, Job};
use crate::core::selection::{Condition, Operator, Pattern, Selection};
use crate::core::suggest::unknown_field;
use crate::core::token::SourceId;

/// At most this many patterns in each of `Resources` and `NotResources`.
pub const MAX_PATTERNS: usize = 500;
/// At most this many tag conditions in all (`ListOfTags` and every `Conditions` list).
pub const MAX_CONDITIONS: usize = 50;
/// Each pattern, condition key and condition value is at most this long.
pub const MAX_TEXT: usize = 2048;

/// The fields of AWS Backup's `BackupSelection` that a selection reads.
const SELECTION_FIELDS: &[&str] = &[
    "SelectionName",
    "IamRoleArn",
    "Resources",
    "NotResources",
    "ListOfTags",
    "Conditions",
];
/// The request fields that may stand beside a selection: those of StartBackupJob
/// without `ResourceArn` (the selection finds the resources) and `IdempotencyToken`
/// (each resource gets its own).
pub const BESIDE_FIELDS: &[&str] = &[
    "Action",
    "BackupVaultName",
    "LogicallyAirGappedBackupVaultArn",
    "IamRoleArn",
    "StartWindowMinutes",
    "CompleteWindowMinutes",
    "Lifecycle",
    "RecoveryPointTags",
    "BackupOptions",
    "Index",
];
/// Beside a selection: its key, and the `Audit` that makes it an audit
/// (docs/reference.md, "Audits"), read by `core::audit`.
const EVENT_FIELDS: &[&str] = &["Selection", "IdempotencyKey", "Audit"];
const CONDITION_FIELDS: &[&str] = &["ConditionKey", "ConditionValue"];
const TAG_FIELDS: &[&str] = &["ConditionType", "ConditionKey", "ConditionValue"];
const TAG_KEY_PREFIX: &str = "aws:ResourceTag/";
/// Stands for the resource while the other fields are validated once, up front.
const PLACEHOLDER_ARN: &str = "arn:aws:backup:::selection-placeholder";

/// Whether an event object holds a selection.
pub fn is_selection(map: &Map<String, Value>) -> bool {
    map.contains_key("Selection")
}

/// Makes a [`Selection`] from an event object holding `"Selection"`, or says every way
/// in which it is wrong. `source` gives the tokens of the selected resources.
pub fn parse(event: &Map<String, Value>, source: SourceId, defaults: &Defaults) -> Result<Selection, Error> {
    let mut problems = Vec::new();
    let inner = match event.get("Selection") {
        Some(Value::Object(inner)) => inner,
        Some(other) => {
            return Err(Error::invalid(
                "Selection",
                format!("must be an object (a BackupSelection), not {}", kind_of(other)),
            ))
        }
        None => return Err(Error::invalid("Selection", "is required")),
    };

    beside_fields(event, &mut problems);
    inner_fields(inner, &mut problems);

    let name = match present(inner, "SelectionName") {
        None => None,
        Some(Value::String(name)) => match selection_name(name) {
            Ok(()) => Some(name.clone()),
            Err(problem) => {
                problems.push(Invalid::new(
                    "Selection.SelectionName",
                    format!("{} {problem}", quote_str(name)),
                ));
                None
            }
        },
        Some(other) => {
            problems.push(Invalid::new(
                "Selection.SelectionName",
                format!("must be a string, not {}", kind_of(other)),
            ));
            None
        }
    };
    let resources = patterns(inner, "Resources", &mut problems);
    let not_resources = patterns(inner, "NotResources", &mut problems);
    let list_of_tags = list_of_tags(inner, &mut problems);
    let conditions = conditions(inner, &mut problems);

    if resources.is_empty() && list_of_tags.is_empty() && !problems.iter().any(|p| p.at.starts_with("Selection.")) {
        problems.push(Invalid::new(
            "Selection",
            "selects nothing: give Resources (ARN patterns), ListOfTags (tags), or both",
        ));
    }
    let count = list_of_tags.len() + conditions.len();
    if count > MAX_CONDITIONS {
        problems.push(Invalid::new(
            "Selection",
            format!("has {count} tag conditions (ListOfTags and Conditions); at most {MAX_CONDITIONS} are allowed"),
        ));
    }

    let request = request(event, inner, defaults, &mut problems);
    let (Some(request), true) = (request, problems.is_empty()) else {
        return Err(Error::Validation(problems));
    };
    Ok(Selection {
        name,
        resources,
        not_resources,
        list_of_tags,
        conditions,
        request,
        source,
    })
}

/// A field's value; `null` and an empty list or object count as absent, as
/// `get-backup-selection` prints empty lists for what is not set.
fn present<'a>(map: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    match map.get(name)? {
        Value::Null => None,
        Value::Array(a) if a.is_empty() => None,
        Value::Object(o) if o.is_empty() => None,
        other => Some(other),
    }
}

/// AWS Backup's rule for a selection name.
fn selection_name(name: &str) -> Result<(), String> {
    let ok = (1..=50).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.');
    if ok {
        Ok(())
    } else {
        Err("must be 1 to 50 letters, digits, hyphens, underscores and dots".into())
    }
}

fn beside_fields(event: &Map<String, Value>, problems: &mut Vec<Invalid>) {
    let known: Vec<&str> = BESIDE_FIELDS.iter().chain(EVENT_FIELDS).copied().collect();
    for (key, value) in event.iter().filter(|(k, _)| !known.contains(&k.as_str())).take(10) {
        let problem = match key.as_str() {
            "IdempotencyToken" => "is not allowed beside a Selection: each selected resource gets its own token, derived from the IdempotencyKey (or the message or event id) and its ARN".to_owned(),
            "ResourceArn" => "is not allowed beside a Selection: the selection finds the resources; to back up one resource, send a request without Selection".to_owned(),
            "Jobs" => "a list and a selection cannot be one event: send them as two".to_owned(),
            "RecoveryPointArn" | "SourceBackupVaultName" | "DestinationBackupVaultArn" => {
                "belongs to StartCopyJob; a selection starts backups only".to_owned()
            }
            _ if SELECTION_FIELDS.contains(&key.as_str()) && !value.is_null() => {
                "belongs inside \"Selection\"".to_owned()
            }
            _ => unknown_field(
                key,
                &known,
                &format!("beside a Selection an event has only these: {}", known.join(", ")),
            ),
        };
        problems.push(Invalid::new(quote_str(key), problem));
    }
    if let Some(action) = event.get("Action").filter(|a| !a.is_null()) {
        if action != "StartBackupJob" {
            problems.push(Invalid::new(
                "Action",
                format!(
                    "{} is not allowed beside a Selection: a selection starts backups (\"StartBackupJob\") only",
                    crate::core::error::quote(action)
                ),
            ));
        }
    }
}

fn inner_fields(inner: &Map<String, Value>, problems: &mut Vec<Invalid>) {
    for key in inner
        .keys()
        .filter(|k| !SELECTION_FIELDS.contains(&k.as_str()))
        .take(10)
    {
        let at = format!("Selection.{}", quote_str(key));
        let problem = if key == "IdempotencyToken" {
            "is not allowed: each selected resource gets its own token".to_owned()
        } else if BESIDE_FIELDS.contains(&key.as_str()) {
            "is a request field: put it beside \"Selection\", not in it".to_owned()
        } else {
            unknown_field(
                key,
                SELECTION_FIELDS,
                &format!("a selection has only these: {}", SELECTION_FIELDS.join(", ")),
            )
        };
        problems.push(Invalid::new(at, problem));
    }
}

fn patterns(inner: &Map<String, Value>, name: &str, problems: &mut Vec<Invalid>) -> Vec<Pattern> {
    let at = format!("Selection.{name}");
    let items = match present(inner, name) {
        None => return Vec::new(),
        Some(Value::Array(items)) => items,
        Some(other) => {
            problems.push(Invalid::new(
                at,
                format!("must be an array of ARN patterns, not {}", kind_of(other)),
            ));
            return Vec::new();
        }
    };
    if items.len() > MAX_PATTERNS {
        problems.push(Invalid::new(
            at,
            format!("has {} patterns; at most {MAX_PATTERNS} are allowed", items.len()),
        ));
        return Vec::new();
    }
    let mut patterns = Vec::with_capacity(items.len());
    for (position, item) in items.iter().enumerate() {
        let at = format!("{at}[{position}]");
        match item {
            Value::String(text) => match pattern_rule(text) {
                Ok(()) => patterns.push(Pattern::new(text)),
                Err(problem) => problems.push(Invalid::new(at, format!("{} {problem}", quote_str(text)))),
            },
            other => problems.push(Invalid::new(at, format!("must be a string, not {}", kind_of(other)))),
        }
    }
    patterns
}

fn pattern_rule(text: &str) -> Result<(), String> {
    if text.chars().count() > MAX_TEXT {
        return Err(format!("is longer than {MAX_TEXT} characters"));
    }
    if text != "*" && !text.starts_with("arn:") {
        return Err("must be an ARN or an ARN pattern (arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE, * for any run of characters), or \"*\" for every resource".into());
    }
    Ok(())
}

/// A condition's key and value, from `{"ConditionKey", "ConditionValue", ...}`.
/// The value is never quoted back: it is compared with tag values.
fn key_and_value(entry: &Value, at: &str, fields: &[&str], problems: &mut Vec<Invalid>) -> Option<(String, String)> {
    let Value::Object(map) = entry else {
        problems.push(Invalid::new(
            at,
            format!(
                "must be an object with ConditionKey and ConditionValue, not {}",
                kind_of(entry)
            ),
        ));
        return None;
    };
    let before = problems.len();
    for key in map.keys().filter(|k| !fields.contains(&k.as_str())).take(10) {
        let hint = crate::core::suggest::closest(key, fields)
            .map(|h| format!("; did you mean \"{h}\"?"))
            .unwrap_or_else(|| format!("; a condition has only these: {}", fields.join(", ")));
        problems.push(Invalid::new(
            format!("{at}.{}", quote_str(key)),
            format!("unknown field{hint}"),
        ));
    }
    let key = match map.get("ConditionKey") {
        Some(Value::String(key)) => {
            let bare = key.strip_prefix(TAG_KEY_PREFIX).unwrap_or(key);
            if bare.is_empty() {
                problems.push(Invalid::new(
                    format!("{at}.ConditionKey"),
                    format!("{} names no tag: use KEY or aws:ResourceTag/KEY", quote_str(key)),
                ));
            } else if key.chars().count() > MAX_TEXT {
                problems.push(Invalid::new(
                    format!("{at}.ConditionKey"),
                    format!("{} is longer than {MAX_TEXT} characters", quote_str(key)),
                ));
            }
            Some(bare.to_owned())
        }
        Some(other) => {
            problems.push(Invalid::new(
                format!("{at}.ConditionKey"),
                format!("must be a string, not {}", kind_of(other)),
            ));
            None
        }
        None => {
            problems.push(Invalid::new(format!("{at}.ConditionKey"), "is required"));
            None
        }
    };
    let value = match map.get("ConditionValue") {
        Some(Value::String(value)) => {
            if value.chars().count() > MAX_TEXT {
                problems.push(Invalid::new(
                    format!("{at}.ConditionValue"),
                    format!("is longer than {MAX_TEXT} characters"),
                ));
            }
            Some(value.clone())
        }
        Some(other) => {
            problems.push(Invalid::new(
                format!("{at}.ConditionValue"),
                format!("must be a string, not {}", kind_of(other)),
            ));
            None
        }
        None => {
            problems.push(Invalid::new(format!("{at}.ConditionValue"), "is required"));
            None
        }
    };
    match (key, value) {
        (Some(key), Some(value)) if problems.len() == before => Some((key, value)),
        _ => None,
    }
}

fn entries<'a>(value: &'a Value, at: &str, problems: &mut Vec<Invalid>) -> &'a [Value] {
    match value {
        Value::Array(items) => items,
        other => {
            problems.push(Invalid::new(
                at,
                format!("must be an array of conditions, not {}", kind_of(other)),
            ));
            &[]
        }
    }
}

fn list_of_tags(inner: &Map<String, Value>, problems: &mut Vec<Invalid>) -> Vec<(String, String)> {
    let Some(value) = present(inner, "ListOfTags") else {
        return Vec::new();
    };
    let items = entries(value, "Selection.ListOfTags", problems);
    if items.len() > MAX_CONDITIONS {
        problems.push(Invalid::new(
            "Selection.ListOfTags",
            format!("has {} conditions; at most {MAX_CONDITIONS} are allowed", items.len()),
        ));
        return Vec::new();
    }
    let mut tags = Vec::with_capacity(items.len());
    for (position, item) in items.iter().enumerate() {
        let at = format!("Selection.ListOfTags[{position}]");
        match item.get("ConditionType") {
            Some(Value::String(t)) if t == "STRINGEQUALS" => {}
            Some(other) => problems.push(Invalid::new(
                format!("{at}.ConditionType"),
                format!(
                    "{} is not allowed: ListOfTags takes \"STRINGEQUALS\" only (use Conditions for the other operators)",
                    crate::core::error::quote(other)
                ),
            )),
            None if item.is_object() => problems.push(Invalid::new(
                format!("{at}.ConditionType"),
                "is required: \"STRINGEQUALS\"",
            )),
            None => {}
        }
        if let Some(pair) = key_and_value(item, &at, TAG_FIELDS, problems) {
            tags.push(pair);
        }
    }
    tags
}

fn conditions(inner: &Map<String, Value>, problems: &mut Vec<Invalid>) -> Vec<Condition> {
    let map = match present(inner, "Conditions") {
        None => return Vec::new(),
        Some(Value::Object(map)) => map,
        Some(other) => {
            problems.push(Invalid::new(
                "Selection.Conditions",
                format!(
                    "must be an object of StringEquals, StringNotEquals, StringLike and StringNotLike lists, not {}",
                    kind_of(other)
                ),
            ));
            return Vec::new();
        }
    };
    let names: Vec<&str> = Operator::ALL.iter().map(|o| o.as_str()).collect();
    for key in map.keys().filter(|k| !names.contains(&k.as_str())).take(10) {
        let hint = crate::core::suggest::closest(key, &names)
            .map(|h| format!("; did you mean \"{h}\"?"))
            .unwrap_or_else(|| format!("; Conditions has only these: {}", names.join(", ")));
        problems.push(Invalid::new(
            format!("Selection.Conditions.{}", quote_str(key)),
            format!("unknown operator{hint}"),
        ));
    }
    let mut conditions = Vec::new();
    for operator in Operator::ALL {
        let Some(value) = map.get(operator.as_str()).filter(|v| !v.is_null()) else {
            continue;
        };
        let at = format!("Selection.Conditions.{}", operator.as_str());
        let items = entries(value, &at, problems);
        if items.len() > MAX_CONDITIONS {
            problems.push(Invalid::new(
                at,
                format!("has {} conditions; at most {MAX_CONDITIONS} are allowed", items.len()),
            ));
            continue;
        }
        for (position, item) in items.iter().enumerate() {
            if let Some((key, value)) = key_and_value(item, &format!("{at}[{position}]"), CONDITION_FIELDS, problems) {
                conditions.push(Condition {
                    operator,
                    key,
                    value: Pattern::new(&value),
                });
            }
        }
    }
    conditions
}

/// The request every selected resource becomes, validated once with the rules of
/// a backup request. `IamRoleArn` may stand inside the selection or beside it.
fn request(
    event: &Map<String, Value>,
    inner: &Map<String, Value>,
    defaults: &Defaults,
    problems: &mut Vec<Invalid>,
) -> Option<BackupJob> {
    let mut request: Map<String, Value> = event
        .iter()
        .filter(|(k, v)| BESIDE_FIELDS.contains(&k.as_str()) && !v.is_null())
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    request.remove("Action");
    match (present(inner, "IamRoleArn"), request.get("IamRoleArn")) {
        (None, _) => {}
        (Some(Value::String(role)), beside) => match (rules::iam_role_arn(role), beside) {
            (Err(problem), _) => problems.push(Invalid::new(
                "Selection.IamRoleArn",
                format!("{} {problem}", quote_str(role)),
            )),
            (Ok(()), Some(Value::String(other))) if other != role => problems.push(Invalid::new(
                "Selection.IamRoleArn",
                format!(
                    "{} differs from the IamRoleArn beside the selection ({}): a selection's jobs have one role; keep one",
                    quote_str(role),
                    quote_str(other)
                ),
            )),
            (Ok(()), _) => {
                request.insert("IamRoleArn".into(), Value::String(role.clone()));
            }
        },
        (Some(other), _) => problems.push(Invalid::new(
            "Selection.IamRoleArn",
            format!("must be a string, not {}", kind_of(other)),
        )),
    }
    request.insert("ResourceArn".into(), Value::String(PLACEHOLDER_ARN.into()));
    match validate(&Value::Object(request), &[], defaults, "selection") {
        Ok(Job::StartBackupJob(job)) => Some(job),
        // No `RecoveryPointArn` and no `Action` other than a backup's pass: a
        // request with a resource is a backup.
        Ok(Job::StartCopyJob(_)) => None,
        Err(found) => {
            problems.extend(found);
            None
        }
    }
}
