//! Selections (docs/reference.md, "Selections"): resources named by ARN pattern and tags, the
//! way an AWS Backup plan's resource assignment names them, instead of listed.
//!
//! Pure: [`parse`] is the only way to make a [`Selection`]; [`matches`] decides
//! whether one resource (ARN and tags) is selected, with AWS Backup's arithmetic;
//! [`backup_type`] reads from an ARN the resource type AWS Backup would see;
//! [`Selection::pushdown`] says which Tagging API filters select exactly a superset of
//! what the selection matches, so that fewer resources cross the wire.

use std::fmt;

use serde_json::{Map, Value};

use crate::error::{quote_str, Invalid, PlanError};
use crate::request::{kind_of, rules, validate, Job};
use crate::settings::Settings;
use crate::token::SourceId;

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
const EVENT_FIELDS: &[&str] = &["Selection", "IdempotencyKey"];
const CONDITION_FIELDS: &[&str] = &["ConditionKey", "ConditionValue"];
const TAG_FIELDS: &[&str] = &["ConditionType", "ConditionKey", "ConditionValue"];
const TAG_KEY_PREFIX: &str = "aws:ResourceTag/";
/// Stands for the resource while the other fields are validated once, up front.
const PLACEHOLDER_ARN: &str = "arn:aws:backup:::selection-placeholder";

/// An ARN pattern or a tag value pattern: `*` matches any run of characters, none
/// included; every other character is literal and case sensitive.
#[derive(Clone, PartialEq, Eq)]
pub struct Pattern {
    text: String,
    /// The literal runs between the stars: one more than there are stars.
    pieces: Vec<String>,
}

impl Pattern {
    pub fn new(text: &str) -> Pattern {
        Pattern {
            text: text.to_owned(),
            pieces: text.split('*').map(str::to_owned).collect(),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether the pattern has no `*`: it matches one text only.
    pub fn is_literal(&self) -> bool {
        self.pieces.len() == 1
    }

    /// The text before the first `*`.
    pub fn literal_prefix(&self) -> &str {
        &self.pieces[0]
    }

    /// Leftmost-first matching of each literal run is exact for `*`-only patterns,
    /// and linear in practice, whatever the number of stars.
    pub fn matches(&self, text: &str) -> bool {
        let (first, last) = match self.pieces.as_slice() {
            [only] => return text == only,
            [first, .., last] => (first.as_str(), last.as_str()),
            [] => return false,
        };
        if text.len() < first.len() + last.len() || !text.starts_with(first) || !text.ends_with(last) {
            return false;
        }
        let mut rest = &text[first.len()..text.len() - last.len()];
        for piece in &self.pieces[1..self.pieces.len() - 1] {
            match rest.find(piece.as_str()) {
                Some(at) => rest = &rest[at + piece.len()..],
                None => return false,
            }
        }
        true
    }
}

impl fmt::Debug for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.text)
    }
}

/// The four operators of a selection's `Conditions`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operator {
    StringEquals,
    StringNotEquals,
    StringLike,
    StringNotLike,
}

impl Operator {
    const ALL: [Operator; 4] = [
        Operator::StringEquals,
        Operator::StringNotEquals,
        Operator::StringLike,
        Operator::StringNotLike,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Operator::StringEquals => "StringEquals",
            Operator::StringNotEquals => "StringNotEquals",
            Operator::StringLike => "StringLike",
            Operator::StringNotLike => "StringNotLike",
        }
    }
}

/// One tag condition. The value is matched against tag values, which are sensitive:
/// `Debug` shows the key only.
#[derive(Clone, PartialEq, Eq)]
pub struct Condition {
    pub operator: Operator,
    /// The tag key, without `aws:ResourceTag/`.
    pub key: String,
    pub value: Pattern,
}

impl Condition {
    /// Whether a resource whose tag `key` has `value` (None: no such tag) meets the
    /// condition. A missing tag meets neither `StringEquals` nor `StringLike`, and
    /// meets both negated operators.
    pub fn holds(&self, value: Option<&str>) -> bool {
        match self.operator {
            Operator::StringEquals => value == Some(self.value.as_str()),
            Operator::StringNotEquals => value != Some(self.value.as_str()),
            Operator::StringLike => value.is_some_and(|v| self.value.matches(v)),
            Operator::StringNotLike => !value.is_some_and(|v| self.value.matches(v)),
        }
    }
}

impl fmt::Debug for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {:?} ***", self.operator.as_str(), self.key)
    }
}

/// A resource as the Tagging API lists it. Tag values are sensitive: `Debug` shows
/// the keys only.
#[derive(Clone, PartialEq, Eq)]
pub struct Resource {
    pub arn: String,
    pub tags: Vec<(String, String)>,
}

impl Resource {
    pub fn tag(&self, key: &str) -> Option<&str> {
        self.tags.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }
}

impl fmt::Debug for Resource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Resource")
            .field("arn", &self.arn)
            .field("tag_keys", &self.tags.iter().map(|(k, _)| k).collect::<Vec<_>>())
            .finish()
    }
}

/// A validated selection. Only [`parse`] makes one.
#[derive(Clone)]
pub struct Selection {
    name: Option<String>,
    resources: Vec<Pattern>,
    not_resources: Vec<Pattern>,
    /// `ListOfTags`: (key, value), each compared exactly.
    list_of_tags: Vec<(String, String)>,
    conditions: Vec<Condition>,
    /// The other fields of the event, validated: every selected resource becomes
    /// this request with its `ResourceArn` and derived `IdempotencyToken`.
    request: Map<String, Value>,
    source: SourceId,
}

/// Shows the shape, never a tag value.
impl fmt::Debug for Selection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Selection")
            .field("name", &self.name)
            .field("resources", &self.resources)
            .field("not_resources", &self.not_resources)
            .field(
                "list_of_tags",
                &self.list_of_tags.iter().map(|(k, _)| k).collect::<Vec<_>>(),
            )
            .field("conditions", &self.conditions)
            .field("source", &self.source)
            .finish()
    }
}

/// What the Tagging API can be asked to filter on, each filter chosen so that no
/// resource the selection matches is left out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pushdown {
    /// `TagFilters`: every filter must hold (AND); within one, any value (OR); no
    /// values: the tag must exist.
    pub tag_filters: Vec<(String, Vec<String>)>,
    /// `ResourceTypeFilters`: services, any of which (OR).
    pub resource_types: Vec<String>,
}

impl Pushdown {
    /// Whether the Tagging API, given these filters, lists `resource`.
    pub fn admits(&self, resource: &Resource) -> bool {
        let tagged = self.tag_filters.iter().all(|(key, values)| match resource.tag(key) {
            None => false,
            Some(value) => values.is_empty() || values.iter().any(|v| v == value),
        });
        let typed = self.resource_types.is_empty()
            || rules::arn(&resource.arn).is_ok_and(|arn| self.resource_types.iter().any(|t| t == arn.service));
        tagged && typed
    }
}

/// The Tagging API's limits on filters.
const MAX_TAG_FILTERS: usize = 50;
const MAX_TAG_FILTER_VALUES: usize = 20;
const MAX_RESOURCE_TYPE_FILTERS: usize = 100;
/// The longest tag key and value AWS allows.
const MAX_TAG_KEY: usize = 128;
const MAX_TAG_VALUE: usize = 256;

/// What becomes of one listed resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The selection does not match it.
    Passed,
    /// Matched, but AWS Backup cannot back up its type: counted, never sent.
    Unsupported,
    /// Matched and of this AWS Backup resource type.
    Selected(&'static str),
}

impl Selection {
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    pub fn source(&self) -> &SourceId {
        &self.source
    }

    /// What becomes of `resource`.
    pub fn verdict(&self, resource: &Resource) -> Verdict {
        if !matches(self, resource) {
            return Verdict::Passed;
        }
        match backup_type(&resource.arn) {
            Some(kind) => Verdict::Selected(kind),
            None => Verdict::Unsupported,
        }
    }

    /// The backup request of one selected resource, as a list message carries it:
    /// the selection's fields, the resource and its derived token.
    pub fn request_for(&self, resource_arn: &str) -> Value {
        let mut request = self.request.clone();
        request.insert("ResourceArn".into(), Value::String(resource_arn.to_owned()));
        request.insert(
            "IdempotencyToken".into(),
            Value::String(self.source.resource_token(resource_arn)),
        );
        Value::Object(request)
    }

    /// The validated job of one selected resource.
    pub fn job_for(&self, resource_arn: &str, settings: &Settings) -> Result<Job, Vec<Invalid>> {
        validate(&self.request_for(resource_arn), &[], settings, "")
    }

    /// The filters that select exactly a superset of what this selection matches.
    ///
    /// - Every `Conditions` entry must hold, so `StringEquals` (and `StringLike`
    ///   without `*`) is a tag filter on that value, and `StringLike` with `*` a tag
    ///   filter on the key alone (a resource without the tag does not match it).
    ///   The negated operators match resources without the tag: nothing to pass.
    /// - `ListOfTags` is ORed with `Resources`: it becomes one filter only when
    ///   `Resources` is absent and every entry has the same key (the API ORs the
    ///   values of one filter but ANDs filters).
    /// - `Resources` becomes a filter on services only when `ListOfTags` is absent
    ///   and every pattern names its service literally (`arn:aws:dynamodb:...`).
    pub fn pushdown(&self) -> Pushdown {
        let mut tag_filters: Vec<(String, Vec<String>)> = Vec::new();
        let mut add = |key: &str, values: Vec<String>| {
            // One filter a key: any one of them is already a superset. A key or value
            // no tag can have (too long, an empty value) would make the API refuse
            // the call: such a condition is left to the matcher.
            let fits = key.chars().count() <= MAX_TAG_KEY
                && values
                    .iter()
                    .all(|v| !v.is_empty() && v.chars().count() <= MAX_TAG_VALUE);
            if fits
                && tag_filters.len() < MAX_TAG_FILTERS
                && values.len() <= MAX_TAG_FILTER_VALUES
                && !tag_filters.iter().any(|(k, _)| k == key)
            {
                tag_filters.push((key.to_owned(), values));
            }
        };
        // Exact values first, so that a key-only filter never takes their place.
        for condition in &self.conditions {
            let exact = matches!(condition.operator, Operator::StringEquals)
                || (condition.operator == Operator::StringLike && condition.value.is_literal());
            if exact {
                add(&condition.key, vec![condition.value.as_str().to_owned()]);
            }
        }
        for condition in &self.conditions {
            if condition.operator == Operator::StringLike && !condition.value.is_literal() {
                add(&condition.key, Vec::new());
            }
        }
        if self.resources.is_empty() {
            if let Some((key, _)) = self.list_of_tags.first() {
                if self.list_of_tags.iter().all(|(k, _)| k == key) {
                    let mut values: Vec<String> = Vec::new();
                    for (_, value) in &self.list_of_tags {
                        if !values.contains(value) {
                            values.push(value.clone());
                        }
                    }
                    add(key, values);
                }
            }
        }

        let mut resource_types: Vec<String> = Vec::new();
        if self.list_of_tags.is_empty() {
            let services: Option<Vec<&str>> = self.resources.iter().map(literal_service).collect();
            if let Some(services) = services {
                for service in services {
                    if !resource_types.iter().any(|s| s == service) {
                        resource_types.push(service.to_owned());
                    }
                }
                if resource_types.len() > MAX_RESOURCE_TYPE_FILTERS {
                    resource_types.clear();
                }
            }
        }
        Pushdown {
            tag_filters,
            resource_types,
        }
    }
}

/// Services of AWS Backup's supported types that the Tagging API is documented to
/// filter on (`ResourceTypeFilters` as `service`). A service outside this list is
/// never passed: the API refuses a resource type it does not know, which would
/// fail a selection that, unfiltered, works.
const FILTERABLE_SERVICES: &[&str] = &[
    "cloudformation",
    "dynamodb",
    "ec2",
    "eks",
    "elasticfilesystem",
    "fsx",
    "rds",
    "redshift",
    "s3",
    "storagegateway",
];

/// The service a pattern names literally: `dynamodb` in `arn:aws:dynamodb:*:*:table/*`;
/// none when a `*` comes before the colon that ends the service, or when the
/// service is not one the Tagging API is known to filter on.
fn literal_service(pattern: &Pattern) -> Option<&str> {
    let mut fields = pattern.literal_prefix().splitn(4, ':');
    match (fields.next(), fields.next(), fields.next(), fields.next()) {
        (Some("arn"), Some(_), Some(service), Some(_)) if FILTERABLE_SERVICES.contains(&service) => Some(service),
        _ => None,
    }
}

/// Whether `selection` matches `resource`: at least one `Resources` pattern or one
/// `ListOfTags` condition, every `Conditions` entry, and no `NotResources` pattern.
pub fn matches(selection: &Selection, resource: &Resource) -> bool {
    let chosen = selection.resources.iter().any(|p| p.matches(&resource.arn))
        || selection
            .list_of_tags
            .iter()
            .any(|(key, value)| resource.tag(key) == Some(value.as_str()));
    chosen
        && selection.conditions.iter().all(|c| c.holds(resource.tag(&c.key)))
        && !selection.not_resources.iter().any(|p| p.matches(&resource.arn))
}

/// The AWS Backup resource type of an ARN, or None when AWS Backup cannot back up
/// what it names. From `GetSupportedResourceTypes` and each service's ARN format;
/// the README has the same table.
pub fn backup_type(arn: &str) -> Option<&'static str> {
    let parsed = rules::arn(arn).ok()?;
    let resource = parsed.resource;
    let starts = |prefix: &str| resource.len() > prefix.len() && resource.starts_with(prefix);
    match parsed.service {
        // table/NAME; table/NAME/stream/... and table/NAME/index/... are not tables.
        "dynamodb" if starts("table/") && !resource["table/".len()..].contains('/') => Some("DynamoDB"),
        "ec2" if starts("volume/") => Some("EBS"),
        "ec2" if starts("instance/") => Some("EC2"),
        "rds" if starts("db:") => Some("RDS"),
        // Aurora, DocumentDB and Neptune clusters share this ARN; AWS Backup tells
        // them apart by engine.
        "rds" if starts("cluster:") => Some("Aurora"),
        "elasticfilesystem" if starts("file-system/") => Some("EFS"),
        "fsx" if starts("file-system/") || starts("volume/") => Some("FSx"),
        // A bucket: no key, no access point.
        "s3" if !resource.contains('/') && !resource.contains(':') => Some("S3"),
        "redshift" if starts("cluster:") => Some("Redshift"),
        "cloudformation" if starts("stack/") => Some("CloudFormation"),
        "storagegateway" if starts("gateway/") && resource.contains("/volume/") => Some("Storage Gateway"),
        "timestream" if starts("database/") && resource.contains("/table/") => Some("Timestream"),
        "backup-gateway" if starts("vm/") => Some("VirtualMachine"),
        "ssm-sap" if starts("HANA/") => Some("SAP HANA on Amazon EC2"),
        "eks" if starts("cluster/") => Some("EKS"),
        _ => None,
    }
}

/// Whether an event object holds a selection.
pub fn is_selection(map: &Map<String, Value>) -> bool {
    map.contains_key("Selection")
}

/// Makes a [`Selection`] from an event object holding `"Selection"`, or says every way
/// in which it is wrong. `source` gives the tokens of the selected resources.
pub fn parse(event: &Map<String, Value>, source: SourceId, settings: &Settings) -> Result<Selection, PlanError> {
    let mut problems = Vec::new();
    let inner = match event.get("Selection") {
        Some(Value::Object(inner)) => inner,
        Some(other) => {
            return Err(PlanError::invalid(
                "Selection",
                format!("must be an object (a BackupSelection), not {}", kind_of(other)),
            ))
        }
        None => return Err(PlanError::invalid("Selection", "is required")),
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

    let request = request(event, inner, settings, &mut problems);
    if !problems.is_empty() {
        return Err(PlanError::Validation(problems));
    }
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
            _ => match crate::suggest::closest(key, &known) {
                Some(hint) => format!("unknown field; did you mean \"{hint}\"?"),
                None => format!("unknown field; beside a Selection an event has only these: {}", known.join(", ")),
            },
        };
        problems.push(Invalid::new(quote_str(key), problem));
    }
    if let Some(action) = event.get("Action").filter(|a| !a.is_null()) {
        if action != "StartBackupJob" {
            problems.push(Invalid::new(
                "Action",
                format!(
                    "{} is not allowed beside a Selection: a selection starts backups (\"StartBackupJob\") only",
                    crate::error::quote(action)
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
            match crate::suggest::closest(key, SELECTION_FIELDS) {
                Some(hint) => format!("unknown field; did you mean \"{hint}\"?"),
                None => format!(
                    "unknown field; a selection has only these: {}",
                    SELECTION_FIELDS.join(", ")
                ),
            }
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
        let hint = crate::suggest::closest(key, fields)
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
                    crate::error::quote(other)
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
        let hint = crate::suggest::closest(key, &names)
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
    settings: &Settings,
    problems: &mut Vec<Invalid>,
) -> Map<String, Value> {
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
    let mut probe = request.clone();
    probe.insert("ResourceArn".into(), Value::String(PLACEHOLDER_ARN.into()));
    if let Err(found) = validate(&Value::Object(probe), &[], settings, "selection") {
        problems.extend(found);
    }
    request
}

#[cfg(test)]
mod tests;
