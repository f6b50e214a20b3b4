//! Plays the Resource Groups Tagging API's `GetResources` (JSON 1.1, `X-Amz-Target:
//! ResourceGroupsTaggingAPI_20170126.GetResources`) for the real binary: resources
//! from a `get-resources` listing, filtered by `TagFilters` and `ResourceTypeFilters`
//! as AWS documents them, `ResourcesPerPage` at a time, with an optional delay per
//! page. Shared by the end-to-end tests and the benchmark.
#![allow(dead_code)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// A resource: its ARN and tags.
pub type Listed = (String, Vec<(String, String)>);

/// Builds the resources one at a time, so that 100,000 need not be held as JSON.
pub type Generator = Arc<dyn Fn(usize) -> Listed + Send + Sync>;

struct TaggingState {
    count: usize,
    resource: Generator,
    delay: Duration,
    requests: Mutex<Vec<Value>>,
}

pub struct FakeTagging {
    pub endpoint: String,
    state: Arc<TaggingState>,
    _server: JoinHandle<()>,
}

impl FakeTagging {
    /// Serves the resources of a `get-resources` listing.
    pub async fn from_listing(listing: &Value) -> FakeTagging {
        let resources: Vec<Listed> = listing["ResourceTagMappingList"]
            .as_array()
            .expect("a get-resources listing")
            .iter()
            .map(|m| {
                let tags = m["Tags"]
                    .as_array()
                    .map(|tags| {
                        tags.iter()
                            .map(|t| {
                                (
                                    t["Key"].as_str().unwrap().to_owned(),
                                    t["Value"].as_str().unwrap().to_owned(),
                                )
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                (m["ResourceARN"].as_str().unwrap().to_owned(), tags)
            })
            .collect();
        let count = resources.len();
        FakeTagging::start(count, Arc::new(move |i| resources[i].clone()), Duration::ZERO).await
    }

    /// Serves `count` resources made by `resource`, each page `delay` after its request
    /// (its making included, as AWS's latency includes its own work).
    pub async fn start(count: usize, resource: Generator, delay: Duration) -> FakeTagging {
        let state = Arc::new(TaggingState {
            count,
            resource,
            delay,
            requests: Mutex::default(),
        });
        let router = Router::new().fallback(get_resources).with_state(Arc::clone(&state));
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1");
        let address = listener.local_addr().expect("local address");
        let server = tokio::spawn(async move {
            axum::serve(listener, router).await.expect("serve");
        });
        FakeTagging {
            endpoint: format!("http://{address}"),
            state,
            _server: server,
        }
    }

    /// The GetResources requests received, as JSON.
    pub fn requests(&self) -> Vec<Value> {
        self.state.requests.lock().unwrap().clone()
    }

    /// How many GetResources requests were received (without copying them).
    pub fn calls(&self) -> usize {
        self.state.requests.lock().unwrap().len()
    }
}

fn admits(filters: &Value, (arn, tags): &Listed) -> bool {
    let tagged = filters["TagFilters"].as_array().into_iter().flatten().all(|filter| {
        let key = filter["Key"].as_str().unwrap_or("");
        match tags.iter().find(|(k, _)| k == key) {
            None => false,
            Some((_, value)) => match filter["Values"].as_array() {
                None => true,
                Some(values) if values.is_empty() => true,
                Some(values) => values.iter().any(|v| v == value.as_str()),
            },
        }
    });
    let service = arn.split(':').nth(2).unwrap_or("");
    let types = filters["ResourceTypeFilters"].as_array();
    let typed = types.is_none_or(|types| {
        types.is_empty()
            || types.iter().any(|t| {
                let t = t.as_str().unwrap_or("");
                t == service
                    || arn
                        .split(':')
                        .nth(5)
                        .is_some_and(|r| format!("{service}:{r}").starts_with(t))
            })
    });
    tagged && typed
}

async fn get_resources(State(state): State<Arc<TaggingState>>, headers: HeaderMap, body: Bytes) -> Response {
    let target = headers.get("x-amz-target").and_then(|v| v.to_str().ok()).unwrap_or("");
    if target != "ResourceGroupsTaggingAPI_20170126.GetResources" {
        return (StatusCode::BAD_REQUEST, format!("unexpected target {target}")).into_response();
    }
    let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    state.requests.lock().unwrap().push(request.clone());
    // The page's latency is the delay, its making included, as AWS's latency
    // includes AWS's own work: the page is made first, then sent when it is due.
    let due = tokio::time::Instant::now() + state.delay;
    let per_page = request["ResourcesPerPage"].as_u64().unwrap_or(50) as usize;
    let mut position: usize = request["PaginationToken"]
        .as_str()
        .filter(|t| !t.is_empty())
        .and_then(|t| t.parse().ok())
        .unwrap_or(0);
    let mut page = Vec::with_capacity(per_page);
    while position < state.count && page.len() < per_page {
        let resource = (state.resource)(position);
        position += 1;
        if admits(&request, &resource) {
            page.push(json!({
                "ResourceARN": resource.0,
                "Tags": resource.1.iter().map(|(k, v)| json!({"Key": k, "Value": v})).collect::<Vec<_>>(),
            }));
        }
    }
    let token = if position < state.count {
        position.to_string()
    } else {
        String::new()
    };
    let answer = json!({ "PaginationToken": token, "ResourceTagMappingList": page }).to_string();
    tokio::time::sleep_until(due).await;
    ([(header::CONTENT_TYPE, "application/x-amz-json-1.1")], answer).into_response()
}
