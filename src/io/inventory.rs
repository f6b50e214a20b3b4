//! Where a selection's resources come from (docs/reference.md, "Selections"): pages of
//! (ARN, tags), one at a time, so that memory holds a page (two, while the next is
//! fetched) whatever the size of the account. [`TaggingApi`] reads the Resource
//! Groups Tagging API's `GetResources`; [`ResourceFile`] reads what `aws
//! resourcegroupstaggingapi get-resources` prints, for dry runs without an AWS
//! account.

use std::path::Path;
use std::sync::Arc;

use aws_sdk_resourcegroupstagging::types::TagFilter;
use aws_sdk_resourcegroupstagging::Client;
use serde::Deserialize;

use crate::core::job::Failure;
use crate::core::selection::{Pushdown, Resource};
use crate::io::future::BoxFuture;
use crate::io::pages::Page;
use crate::io::sdk::failure;

/// Resources a page: the Tagging API's largest page.
pub const PAGE_SIZE: i32 = 100;

/// Lists resources a page at a time, with the filters the selection allows.
pub trait Inventory: Send + Sync + 'static {
    /// The page that starts at `token` (None: the first).
    fn page(&self, filters: &Pushdown, token: Option<String>) -> BoxFuture<'static, Result<Page<Resource>, Failure>>;
}

/// The Resource Groups Tagging API of the function's Region.
pub struct TaggingApi {
    client: Client,
}

impl TaggingApi {
    pub fn new(client: Client) -> TaggingApi {
        TaggingApi { client }
    }
}

impl Inventory for TaggingApi {
    fn page(&self, filters: &Pushdown, token: Option<String>) -> BoxFuture<'static, Result<Page<Resource>, Failure>> {
        let tag_filters: Vec<TagFilter> = filters
            .tag_filters
            .iter()
            .map(|(key, values)| {
                TagFilter::builder()
                    .key(key)
                    .set_values((!values.is_empty()).then(|| values.clone()))
                    .build()
            })
            .collect();
        let request = self
            .client
            .get_resources()
            .set_tag_filters((!tag_filters.is_empty()).then_some(tag_filters))
            .set_resource_type_filters((!filters.resource_types.is_empty()).then(|| filters.resource_types.clone()))
            .resources_per_page(PAGE_SIZE)
            .set_pagination_token(token);
        Box::pin(async move {
            let output = request.send().await.map_err(|e| failure(&e))?;
            let items = output
                .resource_tag_mapping_list()
                .iter()
                .filter_map(|mapping| {
                    Some(Resource {
                        arn: mapping.resource_arn()?.to_owned(),
                        tags: mapping
                            .tags()
                            .iter()
                            .map(|t| (t.key().to_owned(), t.value().to_owned()))
                            .collect(),
                    })
                })
                .collect();
            // The last page has an empty token.
            let next = output.pagination_token().filter(|t| !t.is_empty()).map(str::to_owned);
            Ok(Page { items, next })
        })
    }
}

/// The JSON `aws resourcegroupstaggingapi get-resources` prints.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Listing {
    resource_tag_mapping_list: Vec<Mapping>,
}

#[derive(Deserialize)]
struct Mapping {
    #[serde(rename = "ResourceARN")]
    resource_arn: String,
    #[serde(rename = "Tags", default)]
    tags: Vec<FileTag>,
}

#[derive(Deserialize)]
struct FileTag {
    #[serde(rename = "Key")]
    key: String,
    #[serde(rename = "Value", default)]
    value: String,
}

/// Resources read from a file, filtered as the Tagging API would filter them, so
/// that a dry run shows what the same selection would find in the account.
#[derive(Debug)]
pub struct ResourceFile {
    resources: Arc<Vec<Resource>>,
}

impl ResourceFile {
    /// Reads a file in the shape `aws resourcegroupstaggingapi get-resources` prints.
    pub fn open(path: &Path) -> Result<ResourceFile, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        ResourceFile::parse(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    pub fn parse(text: &str) -> Result<ResourceFile, String> {
        let listing: Listing = serde_json::from_str(text).map_err(|e| {
            format!("is not what `aws resourcegroupstaggingapi get-resources` prints ({{\"ResourceTagMappingList\": [{{\"ResourceARN\": ..., \"Tags\": [{{\"Key\": ..., \"Value\": ...}}]}}]}}): {e}")
        })?;
        let resources = listing
            .resource_tag_mapping_list
            .into_iter()
            .map(|m| Resource {
                arn: m.resource_arn,
                tags: m.tags.into_iter().map(|t| (t.key, t.value)).collect(),
            })
            .collect();
        Ok(ResourceFile {
            resources: Arc::new(resources),
        })
    }
}

impl Inventory for ResourceFile {
    fn page(&self, filters: &Pushdown, token: Option<String>) -> BoxFuture<'static, Result<Page<Resource>, Failure>> {
        let (resources, filters) = (Arc::clone(&self.resources), filters.clone());
        Box::pin(async move {
            let start = match token.as_deref().map(str::parse::<usize>) {
                None => 0,
                Some(Ok(start)) => start,
                Some(Err(_)) => {
                    return Err(Failure::aws(
                        "InvalidParameterException",
                        "the pagination token is not one this file gave",
                        false,
                    ))
                }
            };
            let admitted: Vec<Resource> = resources
                .iter()
                .filter(|r| filters.admits(r))
                .skip(start)
                .take(PAGE_SIZE as usize + 1)
                .cloned()
                .collect();
            let mut items = admitted;
            let next = (items.len() > PAGE_SIZE as usize).then(|| {
                items.truncate(PAGE_SIZE as usize);
                (start + PAGE_SIZE as usize).to_string()
            });
            Ok(Page { items, next })
        })
    }
}

#[cfg(test)]
mod tests;
