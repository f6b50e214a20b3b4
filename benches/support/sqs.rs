//! Plays SQS's `SendMessageBatch` (awsJson1_0, `X-Amz-Target:
//! AmazonSQS.SendMessageBatch`) for the real binary: accepts every entry, counts the
//! calls, the messages and the requests in the list messages (`{"Jobs": [...]}`), and
//! keeps the message bodies when asked. Shared by the benchmarks (not a bench target
//! itself: Cargo only finds `benches/*.rs` and `benches/*/main.rs`).
#![allow(dead_code)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use serde_json::{json, Value};
use tokio::task::JoinHandle;

/// The queue's path on the local endpoint (account and name as the template's).
const QUEUE_PATH: &str = "/123456789012/backup-trigger-requests";

/// What the local SQS received.
#[derive(Default)]
struct Received {
    calls: AtomicU64,
    messages: AtomicU64,
    requests: AtomicU64,
    /// Keep the message bodies (a consumer or a count of distinct requests needs them).
    keep: bool,
    bodies: Mutex<Vec<String>>,
}

/// A local SQS endpoint accepting every `SendMessageBatch`.
pub struct FakeSqs {
    pub endpoint: String,
    received: Arc<Received>,
    _server: JoinHandle<()>,
}

impl FakeSqs {
    /// Listens on 127.0.0.1; keeps every message body when `keep_bodies`.
    pub async fn start(keep_bodies: bool) -> FakeSqs {
        let received = Arc::new(Received {
            keep: keep_bodies,
            ..Received::default()
        });
        let router = Router::new()
            .fallback(send_message_batch)
            .with_state(Arc::clone(&received));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let address = listener.local_addr().expect("address");
        let server = tokio::spawn(async move { axum::serve(listener, router).await.expect("serve") });
        FakeSqs {
            endpoint: format!("http://{address}"),
            received,
            _server: server,
        }
    }

    /// The request queue's URL on this endpoint (`REQUEST_QUEUE_URL`).
    pub fn queue_url(&self) -> String {
        format!("{}{QUEUE_PATH}", self.endpoint)
    }

    /// `SendMessageBatch` calls received.
    pub fn calls(&self) -> u64 {
        self.received.calls.load(Ordering::Relaxed)
    }

    /// Messages received.
    pub fn messages(&self) -> u64 {
        self.received.messages.load(Ordering::Relaxed)
    }

    /// Requests in the messages received.
    pub fn requests(&self) -> u64 {
        self.received.requests.load(Ordering::Relaxed)
    }

    /// The bodies kept so far, in the order received (and forgets them).
    pub fn take_bodies(&self) -> Vec<String> {
        std::mem::take(&mut *self.received.bodies.lock().unwrap())
    }
}

/// Answers `SendMessageBatch` accepting every entry, and counts the requests in the
/// list messages.
async fn send_message_batch(State(received): State<Arc<Received>>, headers: HeaderMap, body: Bytes) -> Response {
    let target = headers.get("x-amz-target").and_then(|v| v.to_str().ok()).unwrap_or("");
    if target != "AmazonSQS.SendMessageBatch" {
        return (StatusCode::BAD_REQUEST, format!("unexpected target {target}")).into_response();
    }
    let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let entries = request["Entries"].as_array().cloned().unwrap_or_default();
    received.calls.fetch_add(1, Ordering::Relaxed);
    received.messages.fetch_add(entries.len() as u64, Ordering::Relaxed);
    let mut successful = Vec::with_capacity(entries.len());
    for entry in &entries {
        let text = entry["MessageBody"].as_str().unwrap_or("");
        if received.keep {
            received.bodies.lock().unwrap().push(text.to_owned());
        }
        let body: Value = serde_json::from_str(text).unwrap_or(Value::Null);
        let jobs = body["Jobs"].as_array().map_or(0, Vec::len);
        received.requests.fetch_add(jobs as u64, Ordering::Relaxed);
        successful.push(json!({
            "Id": entry["Id"],
            "MessageId": format!("m-{}-{}", received.calls.load(Ordering::Relaxed), entry["Id"].as_str().unwrap_or("")),
            "MD5OfMessageBody": "00000000000000000000000000000000",
        }));
    }
    let answer = json!({ "Successful": successful, "Failed": [] });
    (
        [(header::CONTENT_TYPE, "application/x-amz-json-1.0")],
        answer.to_string(),
    )
        .into_response()
}
