//! Plays Lambda and AWS Backup for the real `bootstrap` binary.
//!
//! [`FakeLambda`] speaks the Lambda Runtime API (`/next`, `/response`, `/error`,
//! `/init/error`); [`FakeBackup`] answers `PUT /backup-jobs` and `PUT /copy-jobs` as
//! AWS Backup does and records every request, and serves the listings
//! `GET /resources` and `GET /backup-jobs` ([`listings`]); [`Function`] runs the binary
//! between them with a realistic Lambda environment. Everything listens on 127.0.0.1 with
//! ephemeral ports. Shared by the end-to-end tests and the benchmark.
#![allow(dead_code)]

use std::collections::{HashMap, VecDeque};
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::Router;
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::TcpListener;
use tokio::process::{Child, Command};
use tokio::sync::{mpsc, oneshot, Notify};
use tokio::task::JoinHandle;

// Beside this file, and a module of it, so that whatever includes the harness (the
// end-to-end tests, the benchmarks through `#[path]`) has the listings too.
#[path = "listings.rs"]
pub mod listings;
#[allow(unused_imports)]
pub use listings::{Duplicates, Fault, Job, Listing, ListingRequest, Listings, Protected, Served, Times, When};

pub const ACCESS_KEY_ID: &str = "AKIAE2ETESTACCESSKEY";
pub const SECRET_ACCESS_KEY: &str = "e2e/Secret+Access+Key/should-never-be-logged";
pub const SESSION_TOKEN: &str = "e2e-session-token-FwoGZXIvYXdzEBAaDE2ETESTSESSIONTOKEN";
pub const REGION: &str = "eu-west-1";
pub const FUNCTION_ARN: &str = "arn:aws:lambda:eu-west-1:123456789012:function:backup-trigger";

async fn serve(router: Router) -> (String, JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1");
    let address = listener.local_addr().expect("local address").to_string();
    let server = tokio::spawn(async move {
        axum::serve(listener, router).await.expect("serve");
    });
    (address, server)
}

// ---------------------------------------------------------------- Lambda

/// What the Runtime API got back for one invocation.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    Response(Value),
    /// `/error`: the `errorType`, `errorMessage`, and the function-error-type header.
    Error {
        error_type: String,
        error_message: String,
        header: Option<String>,
    },
}

impl Answer {
    pub fn response(&self) -> &Value {
        match self {
            Answer::Response(value) => value,
            Answer::Error {
                error_type,
                error_message,
                ..
            } => panic!("expected a response, got error {error_type}: {error_message}"),
        }
    }

    pub fn error(&self) -> (&str, &str) {
        match self {
            Answer::Error {
                error_type,
                error_message,
                ..
            } => (error_type, error_message),
            Answer::Response(value) => panic!("expected an error, got response {value}"),
        }
    }
}

struct Pending {
    request_id: String,
    body: Vec<u8>,
    deadline_ms: u64,
    trace_id: String,
}

#[derive(Default)]
struct LambdaState {
    queue: Mutex<Option<mpsc::UnboundedReceiver<Pending>>>,
    waiting: Mutex<HashMap<String, oneshot::Sender<Answer>>>,
    init_errors: Mutex<Vec<(Option<String>, Value)>>,
    next_calls: Mutex<usize>,
    polled: Notify,
}

/// The Lambda Runtime API, as Lambda serves it to a custom runtime.
pub struct FakeLambda {
    pub address: String,
    state: Arc<LambdaState>,
    sender: mpsc::UnboundedSender<Pending>,
    counter: Mutex<u64>,
    _server: JoinHandle<()>,
}

impl FakeLambda {
    pub async fn start() -> FakeLambda {
        let (sender, receiver) = mpsc::unbounded_channel();
        let state = Arc::new(LambdaState {
            queue: Mutex::new(Some(receiver)),
            ..LambdaState::default()
        });
        let router = Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next))
            .route("/2018-06-01/runtime/invocation/{id}/response", post(response))
            .route("/2018-06-01/runtime/invocation/{id}/error", post(invocation_error))
            .route("/2018-06-01/runtime/init/error", post(init_error))
            .with_state(Arc::clone(&state));
        let (address, server) = serve(router).await;
        FakeLambda {
            address,
            state,
            sender,
            counter: Mutex::new(0),
            _server: server,
        }
    }

    /// Invokes the function with `event`, with `time_left` before the deadline, and
    /// waits for its answer. `request_id` defaults to a fresh one.
    pub async fn invoke_with(&self, event: &Value, request_id: Option<&str>, time_left: Duration) -> Answer {
        self.invoke_guarded(event, request_id, time_left, Duration::from_secs(120))
            .await
    }

    /// [`FakeLambda::invoke_with`], waiting at most `guard` for the answer (a guard
    /// against a hung function, not a speed assertion).
    pub async fn invoke_guarded(
        &self,
        event: &Value,
        request_id: Option<&str>,
        time_left: Duration,
        guard: Duration,
    ) -> Answer {
        let request_id = request_id.map(str::to_owned).unwrap_or_else(|| {
            let mut n = self.counter.lock().unwrap();
            *n += 1;
            format!("8f5c3a4e-0000-4000-8000-{:012}", *n)
        });
        let (tx, rx) = oneshot::channel();
        self.state.waiting.lock().unwrap().insert(request_id.clone(), tx);
        let deadline_ms = now_ms() + time_left.as_millis() as u64;
        let trace_id = format!("Root=1-67a1b2c3-{:024x};Parent=53995c3f42cd8ad8;Sampled=0", deadline_ms);
        let pending = Pending {
            request_id,
            body: serde_json::to_vec(event).unwrap(),
            deadline_ms,
            trace_id,
        };
        self.sender.send(pending).expect("the fake Lambda is running");
        tokio::time::timeout(guard, rx)
            .await
            .expect("the function answered within the guard's time")
            .expect("answer")
    }

    pub async fn invoke(&self, event: &Value) -> Answer {
        self.invoke_with(event, None, Duration::from_secs(300)).await
    }

    /// Waits until the function asks for its first event.
    pub async fn wait_for_poll(&self) {
        loop {
            let notified = self.state.polled.notified();
            if *self.state.next_calls.lock().unwrap() > 0 {
                return;
            }
            notified.await;
        }
    }

    pub fn next_calls(&self) -> usize {
        *self.state.next_calls.lock().unwrap()
    }

    /// `/init/error` reports: the function-error-type header and the body.
    pub fn init_errors(&self) -> Vec<(Option<String>, Value)> {
        self.state.init_errors.lock().unwrap().clone()
    }
}

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as u64
}

async fn next(State(state): State<Arc<LambdaState>>) -> Response {
    *state.next_calls.lock().unwrap() += 1;
    state.polled.notify_waiters();
    let mut receiver = state.queue.lock().unwrap().take().expect("one /next at a time");
    let pending = receiver.recv().await;
    *state.queue.lock().unwrap() = Some(receiver);
    let Some(p) = pending else {
        return StatusCode::GONE.into_response();
    };
    (
        [
            ("lambda-runtime-aws-request-id", p.request_id),
            ("lambda-runtime-deadline-ms", p.deadline_ms.to_string()),
            ("lambda-runtime-invoked-function-arn", FUNCTION_ARN.to_owned()),
            ("lambda-runtime-trace-id", p.trace_id),
            ("content-type", "application/json".to_owned()),
        ],
        p.body,
    )
        .into_response()
}

async fn response(State(state): State<Arc<LambdaState>>, UrlPath(id): UrlPath<String>, body: Bytes) -> StatusCode {
    let value =
        serde_json::from_slice(&body).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).into_owned()));
    if let Some(tx) = state.waiting.lock().unwrap().remove(&id) {
        let _ = tx.send(Answer::Response(value));
    }
    StatusCode::ACCEPTED
}

async fn invocation_error(
    State(state): State<Arc<LambdaState>>,
    UrlPath(id): UrlPath<String>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let value: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let answer = Answer::Error {
        error_type: value["errorType"].as_str().unwrap_or_default().to_owned(),
        error_message: value["errorMessage"].as_str().unwrap_or_default().to_owned(),
        header: header(&headers, "lambda-runtime-function-error-type"),
    };
    if let Some(tx) = state.waiting.lock().unwrap().remove(&id) {
        let _ = tx.send(answer);
    }
    StatusCode::ACCEPTED
}

async fn init_error(State(state): State<Arc<LambdaState>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let value: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    state
        .init_errors
        .lock()
        .unwrap()
        .push((header(&headers, "lambda-runtime-function-error-type"), value));
    StatusCode::ACCEPTED
}

fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned)
}

// ---------------------------------------------------------------- AWS Backup

/// One request as AWS Backup received it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub headers: HashMap<String, String>,
    pub body: Value,
    pub raw_body: String,
}

/// A scripted answer.
#[derive(Debug, Clone)]
pub enum Reply {
    /// A success, built from the request (job id derived from the token, as AWS
    /// gives the same job for the same token).
    Ok,
    /// An AWS error: HTTP status and error code.
    Error(u16, &'static str),
    /// Wait this long, then answer success.
    Stall(Duration),
}

#[derive(Default)]
struct BackupState {
    recorded: Mutex<Vec<Recorded>>,
    script: Mutex<VecDeque<Reply>>,
    /// Paths of requests whose resource ARN ends with a key get that reply, always.
    by_resource: Mutex<Vec<(String, Reply)>>,
    latency: Mutex<Duration>,
    /// A quota: calls beyond it get ThrottlingException.
    rate_limit: Mutex<Option<RateLimit>>,
    /// ListProtectedResources and ListBackupJobs: apart from all the above, which is
    /// StartBackupJob's and StartCopyJob's.
    listings: Listings,
}

/// A quota of `per_second` calls a second; calls beyond it get ThrottlingException.
struct RateLimit {
    per_second: u32,
    shape: QuotaShape,
    throttled: u64,
}

enum QuotaShape {
    /// AWS's API rate limits are token buckets: `per_second` tokens a second, and a
    /// burst of as many.
    Bucket { tokens: f64, refilled: std::time::Instant },
    /// At most `per_second` calls in any rolling second.
    Window { accepted: VecDeque<std::time::Instant> },
}

impl RateLimit {
    /// Whether a call arriving now is within the quota (and counts it if so).
    fn admit(&mut self) -> bool {
        let now = std::time::Instant::now();
        let rate = f64::from(self.per_second);
        let admitted = match &mut self.shape {
            QuotaShape::Bucket { tokens, refilled } => {
                *tokens = (*tokens + now.duration_since(*refilled).as_secs_f64() * rate).min(rate);
                *refilled = now;
                let admitted = *tokens >= 1.0;
                if admitted {
                    *tokens -= 1.0;
                }
                admitted
            }
            QuotaShape::Window { accepted } => {
                while accepted
                    .front()
                    .is_some_and(|&t| now.duration_since(t) >= Duration::from_secs(1))
                {
                    accepted.pop_front();
                }
                let admitted = accepted.len() < self.per_second as usize;
                if admitted {
                    accepted.push_back(now);
                }
                admitted
            }
        };
        if !admitted {
            self.throttled += 1;
        }
        admitted
    }
}

pub struct FakeBackup {
    pub endpoint: String,
    state: Arc<BackupState>,
    _server: JoinHandle<()>,
}

impl FakeBackup {
    pub async fn start() -> FakeBackup {
        let state = Arc::new(BackupState::default());
        let router = Router::new()
            .route("/backup-jobs", put(backup_call).get(list_backup_jobs))
            .route("/resources", get(list_protected_resources))
            .route("/copy-jobs", put(backup_call))
            .fallback(backup_call)
            .with_state(Arc::clone(&state));
        let (address, server) = serve(router).await;
        FakeBackup {
            endpoint: format!("http://{address}"),
            state,
            _server: server,
        }
    }

    /// Answers the next calls with these replies, in order, then succeeds.
    pub fn script(&self, replies: impl IntoIterator<Item = Reply>) {
        self.state.script.lock().unwrap().extend(replies);
    }

    /// Always answers `reply` to requests whose ResourceArn or RecoveryPointArn ends with `suffix`.
    pub fn reply_for(&self, suffix: &str, reply: Reply) {
        self.state.by_resource.lock().unwrap().push((suffix.to_owned(), reply));
    }

    /// Adds `latency` before every StartBackupJob and StartCopyJob answer (the listings
    /// have [`FakeBackup::set_listing_delay`]).
    pub fn set_latency(&self, latency: Duration) {
        *self.state.latency.lock().unwrap() = latency;
    }

    /// Accepts `per_second` calls a second (a token bucket with a burst of as many);
    /// the rest get ThrottlingException, as AWS Backup does above its rate.
    pub fn set_rate_limit(&self, per_second: u32) {
        *self.state.rate_limit.lock().unwrap() = Some(RateLimit {
            per_second,
            shape: QuotaShape::Bucket {
                tokens: f64::from(per_second),
                refilled: std::time::Instant::now(),
            },
            throttled: 0,
        });
    }

    /// Accepts at most `per_second` calls in any rolling second; the rest get
    /// ThrottlingException.
    pub fn set_window_limit(&self, per_second: u32) {
        *self.state.rate_limit.lock().unwrap() = Some(RateLimit {
            per_second,
            shape: QuotaShape::Window {
                accepted: VecDeque::new(),
            },
            throttled: 0,
        });
    }

    pub fn throttled(&self) -> u64 {
        self.state
            .rate_limit
            .lock()
            .unwrap()
            .as_ref()
            .map_or(0, |r| r.throttled)
    }

    pub fn recorded(&self) -> Vec<Recorded> {
        self.state.recorded.lock().unwrap().clone()
    }

    /// Forgets the requests received, listings' included.
    pub fn clear(&self) {
        self.state.recorded.lock().unwrap().clear();
        self.state.listings.clear_requests();
    }

    // ------------------------------------------------------------ listings
    //
    // ListProtectedResources and ListBackupJobs, empty until set. Their requests are
    // not in `recorded()` and are not touched by `script`, `reply_for`, `set_latency`
    // or the rate limits.

    /// The listings themselves, for what the methods below do not cover.
    pub fn listings(&self) -> &Listings {
        &self.state.listings
    }

    /// ListProtectedResources lists `count` resources, the `i`th being `resource(i)`, made
    /// when its page is answered (so times relative to "now" stay fresh).
    pub fn set_protected(&self, count: usize, resource: impl Fn(usize) -> Protected + Send + Sync + 'static) {
        self.state.listings.set_protected(count, resource);
    }

    /// ListProtectedResources lists these resources, in this order.
    pub fn set_protected_list(&self, resources: Vec<Protected>) {
        let count = resources.len();
        self.set_protected(count, move |i| resources[i].clone());
    }

    /// ListBackupJobs lists, before its filters, `count` jobs, the `i`th being `job(i)`.
    pub fn set_jobs(&self, count: usize, job: impl Fn(usize) -> Job + Send + Sync + 'static) {
        self.state.listings.set_jobs(count, job);
    }

    /// ListBackupJobs lists, before its filters, these jobs, in this order.
    pub fn set_job_list(&self, jobs: Vec<Job>) {
        let count = jobs.len();
        self.set_jobs(count, move |i| jobs[i].clone());
    }

    /// Waits `delay` before answering each page of `listing`.
    pub fn set_listing_delay(&self, listing: Listing, delay: Duration) {
        self.state.listings.set_page_delay(listing, delay);
    }

    /// Page `page` (from 1) of `listing` answers the AWS error `code` with HTTP `status`,
    /// `times` times (then the page is answered). The SDK retries 5xx, throttling codes
    /// and transient errors: `Times::Once` of those is a retried success,
    /// `Times::Always` an error after 3 attempts.
    pub fn fail_listing_page(&self, listing: Listing, page: usize, status: u16, code: &str, times: Times) {
        self.state.listings.fail_page(listing, page, status, code, times);
    }

    /// Page `page` (from 1) of `listing` waits `wait` before its answer, `times` times.
    pub fn stall_listing_page(&self, listing: Listing, page: usize, wait: Duration, times: Times) {
        self.state
            .listings
            .script_page(listing, page, Fault::Stall(wait), times);
    }

    /// Lists every item of `listing` twice, as `duplicates` says.
    pub fn set_listing_duplicates(&self, listing: Listing, duplicates: Duplicates) {
        self.state.listings.set_duplicates(listing, duplicates);
    }

    /// The listing requests received, oldest first (the latest 10,000), with their query
    /// and what was answered.
    pub fn listing_requests(&self) -> Vec<ListingRequest> {
        self.state.listings.requests()
    }

    /// How many requests `listing` received in all.
    pub fn listing_calls(&self, listing: Listing) -> u64 {
        self.state.listings.calls(listing)
    }
}

async fn list_protected_resources(State(state): State<Arc<BackupState>>, uri: Uri, headers: HeaderMap) -> Response {
    state.listings.answer(Listing::Protected, &uri, &headers).await
}

async fn list_backup_jobs(State(state): State<Arc<BackupState>>, uri: Uri, headers: HeaderMap) -> Response {
    state.listings.answer(Listing::Jobs, &uri, &headers).await
}

async fn backup_call(
    State(state): State<Arc<BackupState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let raw_body = String::from_utf8_lossy(&body).into_owned();
    let parsed: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let recorded = Recorded {
        method: method.to_string(),
        path: uri.path().to_owned(),
        headers: headers
            .iter()
            .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or_default().to_owned()))
            .collect(),
        body: parsed.clone(),
        raw_body,
    };
    state.recorded.lock().unwrap().push(recorded);

    let latency = *state.latency.lock().unwrap();
    let subject = parsed["ResourceArn"]
        .as_str()
        .or(parsed["RecoveryPointArn"].as_str())
        .unwrap_or_default()
        .to_owned();
    let by_resource = state
        .by_resource
        .lock()
        .unwrap()
        .iter()
        .find(|(suffix, _)| subject.ends_with(suffix.as_str()))
        .map(|(_, r)| r.clone());
    let reply = by_resource
        .or_else(|| state.script.lock().unwrap().pop_front())
        .unwrap_or(Reply::Ok);
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    if let Some(limit) = state.rate_limit.lock().unwrap().as_mut() {
        if !limit.admit() {
            return aws_error(400, "ThrottlingException");
        }
    }
    match reply {
        Reply::Ok => success(uri.path(), &parsed),
        Reply::Error(status, code) => aws_error(status, code),
        Reply::Stall(wait) => {
            tokio::time::sleep(wait).await;
            success(uri.path(), &parsed)
        }
    }
}

fn success(path: &str, request: &Value) -> Response {
    let token = request["IdempotencyToken"].as_str().unwrap_or("none");
    let job_id: String = token
        .chars()
        .filter(|c| c.is_ascii_hexdigit())
        .collect::<String>()
        .to_uppercase();
    let body = if path == "/copy-jobs" {
        json!({ "CopyJobId": format!("copy-{job_id}"), "CreationDate": 1_795_316_400.123, "IsParent": false })
    } else {
        json!({
            "BackupJobId": format!("backup-{job_id}"),
            "CreationDate": 1_795_316_400.123,
            "IsParent": false,
            "RecoveryPointArn": format!("arn:aws:backup:eu-west-1:123456789012:recovery-point:{job_id}"),
        })
    };
    (StatusCode::OK, [("content-type", "application/json")], body.to_string()).into_response()
}

pub fn aws_error(status: u16, code: &str) -> Response {
    let body = json!({ "Code": code, "Message": format!("{code} (from the fake AWS Backup)"), "Type": if status >= 500 { "Server" } else { "User" } });
    (
        StatusCode::from_u16(status).unwrap(),
        [
            ("content-type", "application/json".to_owned()),
            (
                "x-amzn-errortype",
                format!("{code}:http://internal.amazon.com/coral/com.amazonaws.services.cryo/"),
            ),
            ("x-amzn-requestid", "b2c1a3f0-0000-4000-8000-000000000000".to_owned()),
        ],
        body.to_string(),
    )
        .into_response()
}

// ---------------------------------------------------------------- the function

/// The real binary, running as Lambda runs it.
pub struct Function {
    child: Child,
    stdout: JoinHandle<Vec<String>>,
    stderr: JoinHandle<Vec<String>>,
}

/// What the function printed.
#[derive(Debug)]
pub struct Output {
    pub stdout: Vec<String>,
    pub stderr: Vec<String>,
    pub exit: Option<std::process::ExitStatus>,
}

impl Output {
    /// Every stdout line, parsed; panics on a line that is not a JSON object.
    pub fn log_lines(&self) -> Vec<Value> {
        self.stdout
            .iter()
            .map(|line| match serde_json::from_str::<Value>(line) {
                Ok(value @ Value::Object(_)) => value,
                _ => panic!("a stdout line is not a JSON object: {line}"),
            })
            .collect()
    }

    /// Log lines whose `message` is `message`.
    pub fn lines(&self, message: &str) -> Vec<Value> {
        self.log_lines()
            .into_iter()
            .filter(|l| l["message"] == message)
            .collect()
    }

    /// Fails if a credential, the session token or one of `secrets` was printed.
    pub fn assert_nothing_leaked(&self, secrets: &[&str]) {
        for line in self.stdout.iter().chain(&self.stderr) {
            for secret in [SECRET_ACCESS_KEY, SESSION_TOKEN, ACCESS_KEY_ID].iter().chain(secrets) {
                assert!(!line.contains(secret), "{secret:?} leaked into the output: {line}");
            }
        }
    }
}

impl Function {
    /// Starts `binary` with a Lambda environment pointing at `lambda` and `backup`,
    /// plus `env`.
    pub fn start_binary(binary: &Path, lambda: &FakeLambda, backup: &FakeBackup, env: &[(&str, &str)]) -> Function {
        let mut command = Command::new(binary);
        command
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("AWS_LAMBDA_RUNTIME_API", &lambda.address)
            .env("AWS_ENDPOINT_URL_BACKUP", &backup.endpoint)
            .env("AWS_REGION", REGION)
            .env("AWS_DEFAULT_REGION", REGION)
            .env("AWS_ACCESS_KEY_ID", ACCESS_KEY_ID)
            .env("AWS_SECRET_ACCESS_KEY", SECRET_ACCESS_KEY)
            .env("AWS_SESSION_TOKEN", SESSION_TOKEN)
            .env("AWS_LAMBDA_FUNCTION_NAME", "backup-trigger")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
            .env("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/backup-trigger")
            .env("AWS_LAMBDA_LOG_STREAM_NAME", "2026/11/22/[$LATEST]e2e")
            .env("AWS_LAMBDA_LOG_FORMAT", "JSON")
            .env("AWS_LAMBDA_LOG_LEVEL", "INFO")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("LAMBDA_TASK_ROOT", "/var/task")
            .env("_HANDLER", "bootstrap");
        for (name, value) in env {
            command.env(name, value);
        }
        command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = command.spawn().expect("start the function binary");
        let stdout = read_lines(child.stdout.take().expect("stdout"));
        let stderr = read_lines(child.stderr.take().expect("stderr"));
        Function { child, stdout, stderr }
    }

    /// The process id, for reading /proc.
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// Stops the function (if it still runs) and returns everything it printed.
    pub async fn finish(mut self) -> Output {
        let exit = match self.child.try_wait() {
            Ok(Some(status)) => Some(status),
            _ => {
                let _ = self.child.start_kill();
                None
            }
        };
        let _ = self.child.wait().await;
        let stdout = self.stdout.await.unwrap_or_default();
        let stderr = self.stderr.await.unwrap_or_default();
        Output { stdout, stderr, exit }
    }

    /// Waits (at most `limit`) for the function to exit by itself.
    pub async fn exited_within(mut self, limit: Duration) -> Output {
        let exit = tokio::time::timeout(limit, self.child.wait())
            .await
            .ok()
            .and_then(Result::ok);
        let mut output = self.finish().await;
        output.exit = exit.or(output.exit);
        output
    }
}

fn read_lines<R: tokio::io::AsyncRead + Unpin + Send + 'static>(reader: R) -> JoinHandle<Vec<String>> {
    tokio::spawn(async move {
        let mut lines = BufReader::new(reader).lines();
        let mut all = Vec::new();
        while let Ok(Some(line)) = lines.next_line().await {
            all.push(line);
        }
        all
    })
}

/// The peak resident memory (`VmHWM`) of process `pid`, in KiB, for the benchmarks.
pub fn vm_hwm_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}
