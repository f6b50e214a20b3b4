//! Selections (docs/reference.md, "Selections"): resources named by ARN pattern and
//! tags, the way an AWS Backup plan's resource assignment names them, instead of
//! listed.
//!
//! [`parse`] is the only way to make a [`Selection`]; [`matches`] decides whether
//! one resource (ARN and tags) is selected, with AWS Backup's arithmetic;
//! [`backup_type`] reads from an ARN the resource type AWS Backup would see;
//! [`Selection::pushdown`] says which Tagging API filters select a superset of
//! what the selection matches.

mod parse;
mod pattern;
mod pushdown;
mod types;

use std::fmt;

pub use parse::{is_selection, parse, BESIDE_FIELDS, MAX_CONDITIONS, MAX_PATTERNS, MAX_TEXT};
pub use pattern::Pattern;
pub use pushdown::Pushdown;
pub use types::backup_type;

use crate::core::error::Invalid;
use crate::core::request::{BackupJob, Job};
use crate::core::token::SourceId;

/// A dry run of a selection or an audit shows at most this many of the requests it
/// would start or send.
pub const DRY_RUN_SHOWN: usize = 100;

/// The four operators of a selection's `Conditions`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operator {
    StringEquals,
    StringNotEquals,
    StringLike,
    StringNotLike,
}

impl Operator {
    pub(crate) const ALL: [Operator; 4] = [
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
    /// The other fields of the event, validated once with a stand-in resource:
    /// every selected resource becomes this request with its own `ResourceArn` and
    /// derived `IdempotencyToken`.
    request: BackupJob,
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

    /// The backup request of one selected resource: the selection's fields, the
    /// resource and its token, derived from (source id, ARN) so that it does not
    /// depend on the order in which resources are listed.
    pub fn job_for(&self, resource_arn: &str) -> Result<Job, Invalid> {
        self.request
            .for_resource(resource_arn, self.source.resource_token(resource_arn))
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

#[cfg(test)]
mod tests;
