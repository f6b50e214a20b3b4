//! What `GetResources` is sent and how its pages are read (`aws-smithy-mocks` answers
//! in place of AWS), and the file inventory of local dry runs.

use std::sync::{Arc, Mutex};

use aws_sdk_resourcegroupstagging::operation::get_resources::{GetResourcesInput, GetResourcesOutput};
use aws_sdk_resourcegroupstagging::types::{ResourceTagMapping, Tag};
use aws_smithy_mocks::{mock, mock_client, RuleMode};

use super::*;

fn mapping(arn: &str, tags: &[(&str, &str)]) -> ResourceTagMapping {
    let mut m = ResourceTagMapping::builder().resource_arn(arn);
    for (k, v) in tags {
        m = m.tags(Tag::builder().key(*k).value(*v).build().unwrap());
    }
    m.build()
}

#[tokio::test]
async fn get_resources_is_sent_the_filters_the_page_size_and_the_token() {
    let sent: Arc<Mutex<Vec<GetResourcesInput>>> = Arc::default();
    let seen = Arc::clone(&sent);
    let rule = mock!(Client::get_resources).then_compute_output(move |input| {
        seen.lock().unwrap().push(input.clone());
        GetResourcesOutput::builder()
            .resource_tag_mapping_list(mapping(
                "arn:aws:dynamodb:eu-west-1:123456789012:table/t",
                &[("stage", "prod")],
            ))
            .pagination_token("page-3")
            .build()
    });
    let client = mock_client!(aws_sdk_resourcegroupstagging, RuleMode::MatchAny, [&rule]);
    let filters = Pushdown {
        tag_filters: vec![("stage".into(), vec!["prod".into()]), ("team".into(), vec![])],
        resource_types: vec!["dynamodb".into()],
    };
    let page = TaggingApi::new(client)
        .page(&filters, Some("page-2".into()))
        .await
        .unwrap();

    assert_eq!(
        page,
        Page {
            items: vec![Resource {
                arn: "arn:aws:dynamodb:eu-west-1:123456789012:table/t".into(),
                tags: vec![("stage".into(), "prod".into())],
            }],
            next: Some("page-3".into()),
        }
    );
    let sent = sent.lock().unwrap();
    let input = &sent[0];
    assert_eq!(input.pagination_token(), Some("page-2"));
    assert_eq!(input.resources_per_page(), Some(100));
    assert_eq!(input.resource_type_filters(), ["dynamodb".to_string()]);
    let tag_filters = input.tag_filters();
    assert_eq!(tag_filters.len(), 2);
    assert_eq!(tag_filters[0].key(), Some("stage"));
    assert_eq!(tag_filters[0].values(), ["prod".to_string()]);
    assert_eq!(tag_filters[1].key(), Some("team"));
    // No values: the tag must exist, with any value.
    assert!(tag_filters[1].values.is_none());
    assert!(input.resource_arn_list.is_none());
}

#[tokio::test]
async fn no_filters_send_none_and_the_empty_token_ends_the_listing() {
    let sent: Arc<Mutex<Vec<GetResourcesInput>>> = Arc::default();
    let seen = Arc::clone(&sent);
    let rule = mock!(Client::get_resources).then_compute_output(move |input| {
        seen.lock().unwrap().push(input.clone());
        GetResourcesOutput::builder().pagination_token("").build()
    });
    let client = mock_client!(aws_sdk_resourcegroupstagging, RuleMode::MatchAny, [&rule]);
    let page = TaggingApi::new(client).page(&Pushdown::default(), None).await.unwrap();
    assert_eq!(
        page,
        Page {
            items: vec![],
            next: None
        }
    );
    let input = &sent.lock().unwrap()[0];
    assert!(input.tag_filters.is_none() && input.resource_type_filters.is_none());
    assert!(input.pagination_token.is_none());
}

#[tokio::test]
async fn an_error_names_its_aws_code() {
    let rule = mock!(Client::get_resources).then_error(|| {
        aws_sdk_resourcegroupstagging::operation::get_resources::GetResourcesError::InvalidParameterException(
            aws_sdk_resourcegroupstagging::types::error::InvalidParameterException::builder()
                .message("bad filter")
                .meta(
                    aws_smithy_types::error::ErrorMetadata::builder()
                        .code("InvalidParameterException")
                        .message("bad filter")
                        .build(),
                )
                .build(),
        )
    });
    let client = mock_client!(aws_sdk_resourcegroupstagging, RuleMode::MatchAny, [&rule]);
    let error = TaggingApi::new(client)
        .page(&Pushdown::default(), None)
        .await
        .unwrap_err();
    assert_eq!(error.code(), "InvalidParameterException");
    assert_eq!(error.error.to_string(), "bad filter");
    assert!(!error.retryable);
}

const LISTING: &str = r#"{
    "PaginationToken": "",
    "ResourceTagMappingList": [
        {"ResourceARN": "arn:aws:dynamodb:eu-west-1:123456789012:table/orders", "Tags": [{"Key": "backup", "Value": "nightly"}]},
        {"ResourceARN": "arn:aws:sns:eu-west-1:123456789012:alerts", "Tags": [{"Key": "backup", "Value": "nightly"}]},
        {"ResourceARN": "arn:aws:s3:::logs"}
    ]
}"#;

#[tokio::test]
async fn a_file_reads_what_the_cli_prints_and_filters_like_the_api() {
    let file = ResourceFile::parse(LISTING).unwrap();
    let all = file.page(&Pushdown::default(), None).await.unwrap();
    assert_eq!(all.items.len(), 3);
    assert_eq!(all.items[0].tag("backup"), Some("nightly"));
    assert_eq!(all.next, None);
    let tagged = Pushdown {
        tag_filters: vec![("backup".into(), vec!["nightly".into()])],
        resource_types: vec!["dynamodb".into()],
    };
    let page = file.page(&tagged, None).await.unwrap();
    assert_eq!(page.items.len(), 1);
    assert!(page.items[0].arn.ends_with("table/orders"));
}

#[tokio::test]
async fn a_large_file_comes_in_pages() {
    let mappings: Vec<String> = (0..250)
        .map(|i| format!(r#"{{"ResourceARN": "arn:aws:s3:::bucket-{i}", "Tags": []}}"#))
        .collect();
    let file = ResourceFile::parse(&format!(r#"{{"ResourceTagMappingList": [{}]}}"#, mappings.join(","))).unwrap();
    let mut token = None;
    let mut seen = Vec::new();
    loop {
        let page = file.page(&Pushdown::default(), token.clone()).await.unwrap();
        assert!(page.items.len() <= 100);
        seen.extend(page.items.into_iter().map(|r| r.arn));
        match page.next {
            Some(next) => token = Some(next),
            None => break,
        }
    }
    assert_eq!(seen.len(), 250);
    assert_eq!(seen[249], "arn:aws:s3:::bucket-249");
    assert!(file.page(&Pushdown::default(), Some("x".into())).await.is_err());
}

#[test]
fn a_file_of_another_shape_says_what_was_expected() {
    let error = ResourceFile::parse(r#"{"Resources": []}"#).unwrap_err();
    assert!(error.contains("get-resources"), "{error}");
}

#[tokio::test]
async fn every_page_is_read_each_with_the_token_of_the_one_before() {
    let sent: Arc<Mutex<Vec<Option<String>>>> = Arc::default();
    let (first, second) = (Arc::clone(&sent), Arc::clone(&sent));
    let page_1 = mock!(Client::get_resources)
        .match_requests(|input| input.pagination_token().is_none())
        .then_compute_output(move |input| {
            first.lock().unwrap().push(input.pagination_token().map(str::to_owned));
            GetResourcesOutput::builder()
                .resource_tag_mapping_list(mapping("arn:aws:s3:::one", &[]))
                .pagination_token("after-one")
                .build()
        });
    let page_2 = mock!(Client::get_resources)
        .match_requests(|input| input.pagination_token() == Some("after-one"))
        .then_compute_output(move |input| {
            second.lock().unwrap().push(input.pagination_token().map(str::to_owned));
            GetResourcesOutput::builder()
                .resource_tag_mapping_list(mapping("arn:aws:s3:::two", &[]))
                .pagination_token("")
                .build()
        });
    let client = mock_client!(aws_sdk_resourcegroupstagging, RuleMode::MatchAny, [&page_1, &page_2]);
    let api = TaggingApi::new(client);
    let mut token: Option<String> = None;
    let mut arns = Vec::new();
    loop {
        let page = api.page(&Pushdown::default(), token.clone()).await.unwrap();
        arns.extend(page.items.into_iter().map(|r| r.arn));
        match page.next {
            Some(next) => token = Some(next),
            None => break,
        }
    }
    assert_eq!(arns, ["arn:aws:s3:::one", "arn:aws:s3:::two"]);
    assert_eq!(sent.lock().unwrap().clone(), vec![None, Some("after-one".to_string())]);
}
