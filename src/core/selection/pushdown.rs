//! The filters a selection passes to the Tagging API's `GetResources`: only those
//! that can never leave out a resource the selection matches, so that fewer
//! resources cross the wire and the matcher still decides.

use crate::core::request::rules;
use crate::core::selection::{Operator, Pattern, Resource, Selection};

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

impl Selection {
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
