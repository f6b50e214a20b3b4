//! Plays AWS Backup's two listings (restJson1) for [`super::FakeBackup`], on the same
//! host as StartBackupJob:
//!
//! - ListProtectedResources: `GET /resources?maxResults=N&nextToken=T`, answering
//!   `{"Results": [...], "NextToken": ...}`;
//! - ListBackupJobs: `GET /backup-jobs?createdAfter=...&maxResults=N&nextToken=T`
//!   (beside StartBackupJob's `PUT /backup-jobs`), answering `{"BackupJobs": [...],
//!   "NextToken": ...}`, filtered as AWS documents it.
//!
//! The items come from generators (index -> item, plus a count), so that a benchmark can
//! list 100,000 of them without holding them as JSON; their times are relative to the
//! moment each page is answered ([`When::Ago`]), so that tests do not rot. Pages are
//! `maxResults` long (capped at 1000, 1000 when absent), next tokens are opaque (and
//! hold `+`, `/` and `=`, which a client must percent-encode), the last page has no
//! `NextToken`. Faults can be scripted per page number, every page can be delayed, and
//! every item can be listed twice. Every request is recorded, with its query, at most
//! [`LOG_LIMIT`] of them (the latest).
#![allow(dead_code)]

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_smithy_types::date_time::{DateTime, Format};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Map, Value};

/// The largest page AWS Backup answers, and the page when `maxResults` is absent.
pub const MAX_RESULTS: usize = 1000;
/// ListBackupJobs lists the jobs of the last 30 days only, as AWS documents.
pub const JOB_RETENTION: Duration = Duration::from_secs(30 * 24 * 3600);
/// How many listing requests are kept (the latest); [`Listings::calls`] counts them all.
pub const LOG_LIMIT: usize = 10_000;

const ACCOUNT: &str = "123456789012";
const REGION: &str = "eu-west-1";
const ROLE: &str = "arn:aws:iam::123456789012:role/service-role/AWSBackupDefaultServiceRole";

/// Which listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Listing {
    /// ListProtectedResources, `GET /resources`.
    Protected,
    /// ListBackupJobs, `GET /backup-jobs`.
    Jobs,
}

impl Listing {
    fn token_prefix(self) -> &'static str {
        match self {
            Listing::Protected => "AQpr",
            Listing::Jobs => "AQbj",
        }
    }

    fn known_parameters(self) -> &'static [&'static str] {
        match self {
            Listing::Protected => &["nextToken", "maxResults"],
            Listing::Jobs => &[
                "nextToken",
                "maxResults",
                "resourceArn",
                "state",
                "backupVaultName",
                "createdBefore",
                "createdAfter",
                "resourceType",
                "accountId",
                "completeAfter",
                "completeBefore",
                "parentJobId",
                "messageCategory",
            ],
        }
    }
}

/// A time, relative to the moment a page is answered or absolute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    /// This long before the page is answered.
    Ago(Duration),
    /// This moment.
    At(SystemTime),
}

impl When {
    /// Epoch milliseconds, `now_ms` being the moment of the answer (AWS answers
    /// milliseconds).
    fn epoch_ms(self, now_ms: i64) -> i64 {
        match self {
            When::Ago(age) => now_ms - age.as_millis() as i64,
            When::At(time) => epoch_ms(time),
        }
    }
}

fn epoch_ms(time: SystemTime) -> i64 {
    match time.duration_since(UNIX_EPOCH) {
        Ok(after) => after.as_millis() as i64,
        Err(before) => -(before.duration().as_millis() as i64),
    }
}

/// Epoch milliseconds as the JSON number of epoch seconds AWS sends (`1795316400.123`).
fn epoch_seconds(ms: i64) -> Value {
    if ms % 1000 == 0 {
        json!(ms / 1000)
    } else {
        json!(ms as f64 / 1000.0)
    }
}

/// One item of ListProtectedResources.
#[derive(Debug, Clone, PartialEq)]
pub struct Protected {
    pub resource_arn: String,
    pub resource_type: String,
    /// `LastBackupTime`; AWS lists only resources with a recovery point, so always set
    /// unless a test wants to see the field missing.
    pub last_backup: Option<When>,
    pub resource_name: Option<String>,
    pub last_backup_vault_arn: Option<String>,
    pub last_recovery_point_arn: Option<String>,
}

impl Protected {
    /// `arn`, last backed up `age` before the answer: the type from the ARN ([`resource_type_of`]),
    /// the name its last ARN segment, the vault `Default` of the ARN's region and account,
    /// a recovery point named after the ARN.
    pub fn new(arn: &str, age: Duration) -> Protected {
        let (region, account) = region_and_account(arn);
        Protected {
            resource_arn: arn.to_owned(),
            resource_type: resource_type_of(arn).to_owned(),
            last_backup: Some(When::Ago(age)),
            resource_name: Some(resource_name_of(arn).to_owned()),
            last_backup_vault_arn: Some(vault_arn(region, account, "Default")),
            last_recovery_point_arn: Some(format!(
                "arn:aws:backup:{region}:{account}:recovery-point:{}",
                uuid_like(&[arn.as_bytes(), b"recovery-point"])
            )),
        }
    }

    fn to_json(&self, now_ms: i64) -> Value {
        let mut item = Map::new();
        item.insert("ResourceArn".into(), json!(self.resource_arn));
        item.insert("ResourceType".into(), json!(self.resource_type));
        if let Some(when) = self.last_backup {
            item.insert("LastBackupTime".into(), epoch_seconds(when.epoch_ms(now_ms)));
        }
        insert_some(&mut item, "ResourceName", &self.resource_name);
        insert_some(&mut item, "LastBackupVaultArn", &self.last_backup_vault_arn);
        insert_some(&mut item, "LastRecoveryPointArn", &self.last_recovery_point_arn);
        Value::Object(item)
    }
}

/// One item of ListBackupJobs.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    pub backup_job_id: String,
    pub account_id: String,
    pub resource_arn: String,
    pub resource_type: String,
    pub resource_name: Option<String>,
    /// CREATED, PENDING, RUNNING, ABORTING, ABORTED, COMPLETED, FAILED, EXPIRED, PARTIAL
    /// (any text is sent as is).
    pub state: String,
    pub status_message: Option<String>,
    pub created: When,
    pub completed: Option<When>,
    pub backup_vault_name: String,
    pub backup_vault_arn: String,
    pub recovery_point_arn: Option<String>,
    pub iam_role_arn: String,
}

impl Job {
    /// A job for `arn` in `state`, created `age` before the answer, with `message` as
    /// `StatusMessage`: the account and region from the ARN, vault `Default`, the
    /// default service role, an id made from all four (the same four give the same id).
    /// A finished job (COMPLETED, ABORTED, FAILED, EXPIRED, PARTIAL) completed when it was
    /// created; a COMPLETED or PARTIAL one has a recovery point.
    pub fn new(arn: &str, state: &str, age: Duration, message: Option<&str>) -> Job {
        let (region, account) = region_and_account(arn);
        let id = uuid_like(&[
            arn.as_bytes(),
            state.as_bytes(),
            &age.as_nanos().to_le_bytes(),
            message.unwrap_or("").as_bytes(),
        ]);
        let finished = matches!(state, "COMPLETED" | "ABORTED" | "FAILED" | "EXPIRED" | "PARTIAL");
        let recovered = matches!(state, "COMPLETED" | "PARTIAL");
        Job {
            backup_job_id: id.clone(),
            account_id: account.to_owned(),
            resource_arn: arn.to_owned(),
            resource_type: resource_type_of(arn).to_owned(),
            resource_name: Some(resource_name_of(arn).to_owned()),
            state: state.to_owned(),
            status_message: message.map(str::to_owned),
            created: When::Ago(age),
            completed: finished.then_some(When::Ago(age)),
            backup_vault_name: "Default".to_owned(),
            backup_vault_arn: vault_arn(region, account, "Default"),
            recovery_point_arn: recovered.then(|| format!("arn:aws:backup:{region}:{account}:recovery-point:{id}")),
            iam_role_arn: ROLE.to_owned(),
        }
    }

    fn to_json(&self, now_ms: i64) -> Value {
        let mut item = Map::new();
        item.insert("AccountId".into(), json!(self.account_id));
        item.insert("BackupJobId".into(), json!(self.backup_job_id));
        item.insert("BackupVaultName".into(), json!(self.backup_vault_name));
        item.insert("BackupVaultArn".into(), json!(self.backup_vault_arn));
        insert_some(&mut item, "RecoveryPointArn", &self.recovery_point_arn);
        item.insert("ResourceArn".into(), json!(self.resource_arn));
        item.insert("CreationDate".into(), epoch_seconds(self.created.epoch_ms(now_ms)));
        if let Some(when) = self.completed {
            item.insert("CompletionDate".into(), epoch_seconds(when.epoch_ms(now_ms)));
        }
        item.insert("State".into(), json!(self.state));
        insert_some(&mut item, "StatusMessage", &self.status_message);
        item.insert("IamRoleArn".into(), json!(self.iam_role_arn));
        item.insert("ResourceType".into(), json!(self.resource_type));
        insert_some(&mut item, "ResourceName", &self.resource_name);
        item.insert("IsParent".into(), json!(false));
        Value::Object(item)
    }
}

fn insert_some(item: &mut Map<String, Value>, name: &str, value: &Option<String>) {
    if let Some(value) = value {
        item.insert(name.into(), json!(value));
    }
}

/// AWS Backup's resource type for an ARN (`EBS`, `EC2`, `RDS`, `Aurora`, `DynamoDB`,
/// `EFS`, `S3`, `FSx`, ...); the ARN's service for one it does not know.
pub fn resource_type_of(arn: &str) -> &str {
    let mut parts = arn.splitn(6, ':');
    let service = parts.nth(2).unwrap_or("");
    let resource = parts.nth(2).unwrap_or("");
    match service {
        "ec2" if resource.starts_with("volume/") => "EBS",
        "ec2" => "EC2",
        "rds" if resource.starts_with("cluster:") => "Aurora",
        "rds" => "RDS",
        "dynamodb" => "DynamoDB",
        "elasticfilesystem" => "EFS",
        "s3" => "S3",
        "fsx" => "FSx",
        "redshift" => "Redshift",
        "storagegateway" => "Storage Gateway",
        "cloudformation" => "CloudFormation",
        "timestream" => "Timestream",
        "backup-gateway" => "VirtualMachine",
        other => other,
    }
}

fn resource_name_of(arn: &str) -> &str {
    arn.rsplit(['/', ':']).next().unwrap_or(arn)
}

fn region_and_account(arn: &str) -> (&str, &str) {
    let mut parts = arn.split(':').skip(3);
    let region = parts.next().filter(|r| !r.is_empty()).unwrap_or(REGION);
    let account = parts.next().filter(|a| !a.is_empty()).unwrap_or(ACCOUNT);
    (region, account)
}

fn vault_arn(region: &str, account: &str, name: &str) -> String {
    format!("arn:aws:backup:{region}:{account}:backup-vault:{name}")
}

/// A stable UUID-shaped id from some bytes (FNV-1a, twice).
fn uuid_like(parts: &[&[u8]]) -> String {
    let fnv = |seed: u64| {
        parts.iter().fold(seed, |hash, part| {
            part.iter()
                .chain(&[0xff])
                .fold(hash, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3))
        })
    };
    let (a, b) = (fnv(0xcbf2_9ce4_8422_2325), fnv(0x8422_2325_cbf2_9ce4));
    format!(
        "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xfff,
        b >> 52,
        b & 0xffff_ffff_ffff
    )
}

/// Builds the items one at a time, from their index.
pub type Generator<T> = Arc<dyn Fn(usize) -> T + Send + Sync>;

/// How a listing repeats its items.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Duplicates {
    /// Every item once.
    #[default]
    None,
    /// Every item twice in a row (`a a b b ...`; the two may fall on two pages).
    Adjacent,
    /// The whole listing twice (`a b ... a b ...`: the two on different pages unless the
    /// listing fits in one).
    Repeated,
}

/// What a scripted page does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Answers this AWS error: HTTP status and error code.
    Error(u16, String),
    /// Waits this long, then answers the page.
    Stall(Duration),
}

/// How many times a scripted fault happens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Times {
    Once,
    /// The first `n` requests of the page.
    N(usize),
    Always,
}

struct Scripted {
    listing: Listing,
    page: usize,
    fault: Fault,
    left: Option<usize>,
}

struct Source<T> {
    count: usize,
    item: Generator<T>,
    duplicates: Duplicates,
    delay: Duration,
}

impl<T> Clone for Source<T> {
    fn clone(&self) -> Source<T> {
        Source {
            count: self.count,
            item: Arc::clone(&self.item),
            duplicates: self.duplicates,
            delay: self.delay,
        }
    }
}

impl<T> Source<T> {
    fn empty() -> Source<T> {
        Source {
            count: 0,
            item: Arc::new(|_| unreachable!("an empty listing has no items")),
            duplicates: Duplicates::None,
            delay: Duration::ZERO,
        }
    }

    /// The length of the listing, duplicates included.
    fn listed(&self) -> usize {
        match self.duplicates {
            Duplicates::None => self.count,
            Duplicates::Adjacent | Duplicates::Repeated => self.count * 2,
        }
    }

    /// The item at `position` of the listing.
    fn at(&self, position: usize) -> T {
        let index = match self.duplicates {
            Duplicates::None => position,
            Duplicates::Adjacent => position / 2,
            Duplicates::Repeated => position % self.count,
        };
        (self.item)(index)
    }
}

/// What a listing request got back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Served {
    pub status: u16,
    /// The AWS error code of an error answer.
    pub error_code: Option<String>,
    /// How many items the page listed.
    pub items: usize,
    pub next_token: Option<String>,
}

/// One listing request as AWS Backup received it.
#[derive(Debug, Clone)]
pub struct ListingRequest {
    pub listing: Listing,
    pub path: String,
    /// The query parameters, percent-decoded, in the order sent.
    pub query: Vec<(String, String)>,
    /// The query as sent.
    pub raw_query: String,
    pub headers: HashMap<String, String>,
    /// The page asked for, from 1 (the request without a `nextToken`); 0 for a token the
    /// fake did not make.
    pub page: usize,
    /// None while the page is being answered, or when the client left before the answer.
    pub served: Option<Served>,
    seq: u64,
}

impl ListingRequest {
    /// The value of query parameter `name` (the first, if sent twice).
    pub fn param(&self, name: &str) -> Option<&str> {
        self.query.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    /// The query parameters' names, in the order sent.
    pub fn names(&self) -> Vec<&str> {
        self.query.iter().map(|(n, _)| n.as_str()).collect()
    }
}

#[derive(Default)]
struct Log {
    requests: VecDeque<ListingRequest>,
    next_seq: u64,
    calls: HashMap<Listing, u64>,
}

struct ListingsState {
    protected: Mutex<Source<Protected>>,
    jobs: Mutex<Source<Job>>,
    script: Mutex<Vec<Scripted>>,
    log: Mutex<Log>,
}

/// Both listings: their items, faults and the requests received. Cheap to clone (one
/// shared state).
#[derive(Clone)]
pub struct Listings {
    state: Arc<ListingsState>,
}

impl Default for Listings {
    fn default() -> Listings {
        Listings::new()
    }
}

impl Listings {
    /// Both listings empty.
    pub fn new() -> Listings {
        Listings {
            state: Arc::new(ListingsState {
                protected: Mutex::new(Source::empty()),
                jobs: Mutex::new(Source::empty()),
                script: Mutex::default(),
                log: Mutex::default(),
            }),
        }
    }

    /// ListProtectedResources lists `count` resources, the `i`th made by `resource(i)`
    /// when a page is answered.
    pub fn set_protected(&self, count: usize, resource: impl Fn(usize) -> Protected + Send + Sync + 'static) {
        let mut source = self.state.protected.lock().unwrap();
        source.count = count;
        source.item = Arc::new(resource);
    }

    /// ListBackupJobs lists (before filtering) `count` jobs, the `i`th made by `job(i)`.
    pub fn set_jobs(&self, count: usize, job: impl Fn(usize) -> Job + Send + Sync + 'static) {
        let mut source = self.state.jobs.lock().unwrap();
        source.count = count;
        source.item = Arc::new(job);
    }

    /// Lists every item of `listing` twice, as `duplicates` says.
    pub fn set_duplicates(&self, listing: Listing, duplicates: Duplicates) {
        match listing {
            Listing::Protected => self.state.protected.lock().unwrap().duplicates = duplicates,
            Listing::Jobs => self.state.jobs.lock().unwrap().duplicates = duplicates,
        }
    }

    /// Answers each page of `listing` (faults included) `delay` after its request,
    /// the page's making included.
    pub fn set_page_delay(&self, listing: Listing, delay: Duration) {
        match listing {
            Listing::Protected => self.state.protected.lock().unwrap().delay = delay,
            Listing::Jobs => self.state.jobs.lock().unwrap().delay = delay,
        }
    }

    /// Page `page` (from 1) of `listing` does `fault`, `times` times. Faults of a page
    /// happen in the order scripted.
    pub fn script_page(&self, listing: Listing, page: usize, fault: Fault, times: Times) {
        let left = match times {
            Times::Once => Some(1),
            Times::N(n) => Some(n),
            Times::Always => None,
        };
        self.state.script.lock().unwrap().push(Scripted {
            listing,
            page,
            fault,
            left,
        });
    }

    /// Page `page` (from 1) of `listing` answers the AWS error `code` with HTTP `status`,
    /// `times` times (the SDK retries 5xx and throttling, 3 attempts in all by default).
    pub fn fail_page(&self, listing: Listing, page: usize, status: u16, code: &str, times: Times) {
        self.script_page(listing, page, Fault::Error(status, code.to_owned()), times);
    }

    /// The listing requests received, oldest first (the latest [`LOG_LIMIT`]).
    pub fn requests(&self) -> Vec<ListingRequest> {
        self.state.log.lock().unwrap().requests.iter().cloned().collect()
    }

    /// The requests received for `listing`.
    pub fn requests_of(&self, listing: Listing) -> Vec<ListingRequest> {
        let log = self.state.log.lock().unwrap();
        log.requests.iter().filter(|r| r.listing == listing).cloned().collect()
    }

    /// How many requests `listing` received in all (the log keeps the latest only).
    pub fn calls(&self, listing: Listing) -> u64 {
        self.state.log.lock().unwrap().calls.get(&listing).copied().unwrap_or(0)
    }

    /// Forgets the requests received (not the counts of [`Listings::calls`]).
    pub fn clear_requests(&self) {
        self.state.log.lock().unwrap().requests.clear();
    }

    /// Answers a listing request: the handler behind `GET /resources` and `GET /backup-jobs`.
    pub async fn answer(&self, listing: Listing, uri: &Uri, headers: &HeaderMap) -> Response {
        let raw_query = uri.query().unwrap_or("").to_owned();
        let query = parse_query(&raw_query);
        let page_asked = match query.iter().find(|(n, _)| n == "nextToken") {
            None => Some((1, 0)),
            Some((_, token)) => decode_token(listing, token),
        };
        let seq = self.record(ListingRequest {
            listing,
            path: uri.path().to_owned(),
            query: query.clone(),
            raw_query,
            headers: headers
                .iter()
                .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or_default().to_owned()))
                .collect(),
            page: page_asked.map_or(0, |(page, _)| page),
            served: None,
            seq: 0,
        });
        let (response, served) = self.serve(listing, &query, page_asked).await;
        let mut log = self.state.log.lock().unwrap();
        if let Some(request) = log.requests.iter_mut().rev().find(|r| r.seq == seq) {
            request.served = Some(served);
        }
        response
    }

    fn record(&self, mut request: ListingRequest) -> u64 {
        let mut log = self.state.log.lock().unwrap();
        let seq = log.next_seq;
        log.next_seq += 1;
        *log.calls.entry(request.listing).or_default() += 1;
        request.seq = seq;
        if log.requests.len() >= LOG_LIMIT {
            log.requests.pop_front();
        }
        log.requests.push_back(request);
        seq
    }

    /// Answers after the listing's delay, counted from the request: the page's
    /// latency is the delay, its making included, as AWS's latency includes AWS's
    /// own work.
    async fn serve(
        &self,
        listing: Listing,
        query: &[(String, String)],
        page_asked: Option<(usize, usize)>,
    ) -> (Response, Served) {
        let delay = match listing {
            Listing::Protected => self.state.protected.lock().unwrap().delay,
            Listing::Jobs => self.state.jobs.lock().unwrap().delay,
        };
        let due = tokio::time::Instant::now() + delay;
        let answer = self.page_of(listing, query, page_asked).await;
        tokio::time::sleep_until(due).await;
        answer
    }

    async fn page_of(
        &self,
        listing: Listing,
        query: &[(String, String)],
        page_asked: Option<(usize, usize)>,
    ) -> (Response, Served) {
        // Copies of the sources (a generator is shared, not copied): items are made
        // without holding a lock.
        let protected = self.state.protected.lock().unwrap().clone();
        let jobs = self.state.jobs.lock().unwrap().clone();
        let Some((page, position)) = page_asked else {
            return invalid("The next token is not one this listing gave.");
        };
        let request = match Request::parse(listing, query) {
            Ok(request) => request,
            Err(message) => return invalid(&message),
        };
        if let Some(fault) = self.scripted(listing, page) {
            match fault {
                Fault::Error(status, code) => {
                    let served = Served {
                        status,
                        error_code: Some(code.clone()),
                        items: 0,
                        next_token: None,
                    };
                    let message = format!("{code} (scripted for page {page} of the fake AWS Backup)");
                    return (error(status, &code, &message), served);
                }
                Fault::Stall(wait) => tokio::time::sleep(wait).await,
            }
        }
        let now_ms = epoch_ms(SystemTime::now());
        let (items, next) = match listing {
            Listing::Protected => fill(protected.listed(), position, request.max_results, |p| {
                Some(protected.at(p).to_json(now_ms))
            }),
            Listing::Jobs => fill(jobs.listed(), position, request.max_results, |p| {
                let job = jobs.at(p);
                request.admits(&job, now_ms).then(|| job.to_json(now_ms))
            }),
        };
        let next_token = next.map(|position| encode_token(listing, page + 1, position));
        let served = Served {
            status: 200,
            error_code: None,
            items: items.len(),
            next_token: next_token.clone(),
        };
        let mut body = Map::new();
        let name = match listing {
            Listing::Protected => "Results",
            Listing::Jobs => "BackupJobs",
        };
        body.insert(name.into(), Value::Array(items));
        if let Some(token) = next_token {
            body.insert("NextToken".into(), json!(token));
        }
        let response = (
            StatusCode::OK,
            [
                ("content-type", "application/json"),
                ("x-amzn-requestid", "1157a1f0-0000-4000-8000-00000000115d"),
            ],
            Value::Object(body).to_string(),
        )
            .into_response();
        (response, served)
    }

    /// The fault scripted for this request of `page`, if any (and counts it).
    fn scripted(&self, listing: Listing, page: usize) -> Option<Fault> {
        let mut script = self.state.script.lock().unwrap();
        let scripted = script
            .iter_mut()
            .find(|s| s.listing == listing && s.page == page && s.left != Some(0))?;
        if let Some(left) = scripted.left.as_mut() {
            *left -= 1;
        }
        Some(scripted.fault.clone())
    }
}

/// Lists from `position` until `per_page` items are listed or the listing ends; the
/// position to go on from, if any is left.
fn fill(
    len: usize,
    mut position: usize,
    per_page: usize,
    mut item: impl FnMut(usize) -> Option<Value>,
) -> (Vec<Value>, Option<usize>) {
    let mut page = Vec::with_capacity(per_page.min(len.saturating_sub(position)));
    while position < len && page.len() < per_page {
        if let Some(value) = item(position) {
            page.push(value);
        }
        position += 1;
    }
    (page, (position < len).then_some(position))
}

/// A listing request's parameters, checked.
struct Request {
    max_results: usize,
    resource_arn: Option<String>,
    state: Option<String>,
    backup_vault_name: Option<String>,
    resource_type: Option<String>,
    account_id: Option<String>,
    created_after: Option<i64>,
    created_before: Option<i64>,
    complete_after: Option<i64>,
    complete_before: Option<i64>,
}

impl Request {
    fn parse(listing: Listing, query: &[(String, String)]) -> Result<Request, String> {
        for (name, _) in query {
            if !listing.known_parameters().contains(&name.as_str()) {
                return Err(format!("Unknown query parameter {name}."));
            }
            if name == "parentJobId" || name == "messageCategory" {
                return Err(format!("The fake AWS Backup does not filter by {name}."));
            }
        }
        let text = |name: &str| query.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone());
        let time = |name: &str| -> Result<Option<i64>, String> {
            text(name)
                .map(|v| {
                    DateTime::from_str(&v, Format::DateTimeWithOffset)
                        .map(|t| t.to_millis().unwrap_or(i64::MAX))
                        .map_err(|e| format!("{name} is not a date-time: {v} ({e})"))
                })
                .transpose()
        };
        let max_results = match text("maxResults") {
            None => MAX_RESULTS,
            Some(v) => match v.parse::<i64>() {
                Ok(n) if n >= 1 => (n as usize).min(MAX_RESULTS),
                _ => return Err(format!("maxResults must be a number from 1 to 1000, not {v}.")),
            },
        };
        Ok(Request {
            max_results,
            resource_arn: text("resourceArn"),
            state: text("state"),
            backup_vault_name: text("backupVaultName"),
            resource_type: text("resourceType"),
            account_id: text("accountId"),
            created_after: time("createdAfter")?,
            created_before: time("createdBefore")?,
            complete_after: time("completeAfter")?,
            complete_before: time("completeBefore")?,
        })
    }

    /// Whether ListBackupJobs lists `job` (filters and the 30 days AWS keeps).
    /// `createdAfter` and the other bounds are inclusive.
    fn admits(&self, job: &Job, now_ms: i64) -> bool {
        let created = job.created.epoch_ms(now_ms);
        let completed = job.completed.map(|c| c.epoch_ms(now_ms));
        let equal = |filter: &Option<String>, value: &str| filter.as_deref().is_none_or(|f| f == value);
        created >= now_ms - JOB_RETENTION.as_millis() as i64
            && equal(&self.resource_arn, &job.resource_arn)
            && equal(&self.state, &job.state)
            && equal(&self.backup_vault_name, &job.backup_vault_name)
            && equal(&self.resource_type, &job.resource_type)
            && equal(&self.account_id, &job.account_id)
            && self.created_after.is_none_or(|t| created >= t)
            && self.created_before.is_none_or(|t| created <= t)
            && self.complete_after.is_none_or(|t| completed.is_some_and(|c| c >= t))
            && self.complete_before.is_none_or(|t| completed.is_some_and(|c| c <= t))
    }
}

/// An opaque next token: the page it asks for and where it goes on, with `+`, `/` and
/// `=` in it as in AWS's base64 tokens.
fn encode_token(listing: Listing, page: usize, position: usize) -> String {
    format!("{}/{page}+{position}==", listing.token_prefix())
}

fn decode_token(listing: Listing, token: &str) -> Option<(usize, usize)> {
    let rest = token.strip_prefix(listing.token_prefix())?.strip_prefix('/')?;
    let (page, position) = rest.strip_suffix("==")?.split_once('+')?;
    Some((page.parse().ok().filter(|p| *p >= 2)?, position.parse().ok()?))
}

/// `a=1&b=x%2By`: the pairs, percent-decoded (`+` is a space, as AWS reads queries).
fn parse_query(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(name), percent_decode(value))
        })
        .collect()
}

fn percent_decode(text: &str) -> String {
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                if let (Some(high), Some(low)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                    out.push(high << 4 | low);
                    i += 3;
                    continue;
                }
                out.push(b'%');
            }
            b'+' => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn invalid(message: &str) -> (Response, Served) {
    let served = Served {
        status: 400,
        error_code: Some("InvalidParameterValueException".to_owned()),
        items: 0,
        next_token: None,
    };
    (error(400, "InvalidParameterValueException", message), served)
}

/// An AWS error as restJson1 carries it: the code in `x-amzn-errortype` (with the
/// namespace suffix AWS adds) and in the body's `Code`, the text in `Message`.
fn error(status: u16, code: &str, message: &str) -> Response {
    let body = json!({
        "Code": code,
        "Message": message,
        "Type": if status >= 500 { "Server" } else { "User" },
    });
    (
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        [
            ("content-type", "application/json".to_owned()),
            (
                "x-amzn-errortype",
                format!("{code}:http://internal.amazon.com/coral/com.amazonaws.services.cryo/"),
            ),
            ("x-amzn-requestid", "1157a1f0-0000-4000-8000-0000000e4404".to_owned()),
        ],
        body.to_string(),
    )
        .into_response()
}

/// The fakes read through the real aws-sdk-backup client and its paginators: no function
/// binary involved. They run in the end-to-end test binary only: the benchmarks, which
/// include this file, have no test harness (under `cargo clippy --all-targets` they see
/// this module without its tests, hence the `allow`).
#[cfg(test)]
#[allow(unused_imports)]
mod listings_fake_tests {
    use std::collections::HashMap;
    use std::time::{Duration, Instant, SystemTime};

    use aws_sdk_backup::config::retry::RetryConfig;
    use aws_sdk_backup::config::{BehaviorVersion, Credentials, Region};
    use aws_sdk_backup::error::ProvideErrorMetadata;
    use aws_sdk_backup::primitives::{DateTime, DateTimeFormat};
    use aws_sdk_backup::types::BackupJobState;
    use aws_sdk_backup::Client;

    use super::super::FakeBackup;
    use super::{Duplicates, Job, Listing, Protected, Times, When};

    const HOUR: Duration = Duration::from_secs(3600);

    /// A real client at the fake: dummy credentials, quick retries (3 attempts).
    fn sdk(backup: &FakeBackup) -> Client {
        let config = aws_sdk_backup::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(super::REGION))
            .credentials_provider(Credentials::new(
                "AKIALISTINGSFAKETEST",
                "listings/fake/secret",
                None,
                None,
                "listings-fake-tests",
            ))
            .endpoint_url(&backup.endpoint)
            .retry_config(
                RetryConfig::standard()
                    .with_max_attempts(3)
                    .with_initial_backoff(Duration::from_millis(5)),
            )
            .build();
        Client::from_conf(config)
    }

    fn volume(i: usize) -> String {
        format!("arn:aws:ec2:eu-west-1:123456789012:volume/vol-{i:017x}")
    }

    /// `time` is `age` before a moment between `before` and `after`, to the millisecond.
    fn assert_aged(time: &DateTime, age: Duration, before: SystemTime, after: SystemTime) {
        let time = SystemTime::try_from(*time).expect("a time after 1970");
        let slack = Duration::from_millis(2);
        assert!(
            time + age + slack >= before && time + age <= after + slack,
            "{time:?} is not {age:?} before the answer"
        );
    }

    fn served(backup: &FakeBackup) -> Vec<(usize, u16, usize)> {
        backup
            .listing_requests()
            .iter()
            .map(|r| {
                let s = r.served.as_ref().expect("answered");
                (r.page, s.status, s.items)
            })
            .collect()
    }

    #[tokio::test]
    async fn the_sdk_reads_every_page_of_protected_resources() {
        let backup = FakeBackup::start().await;
        backup.set_protected(2_500, |i| {
            Protected::new(&volume(i), HOUR + Duration::from_secs(i as u64))
        });
        let before = SystemTime::now();
        let items = sdk(&backup)
            .list_protected_resources()
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .expect("the listing");
        let after = SystemTime::now();

        assert_eq!(items.len(), 2_500);
        for (i, item) in items.iter().enumerate() {
            assert_eq!(item.resource_arn(), Some(volume(i).as_str()));
            assert_eq!(item.resource_type(), Some("EBS"));
            assert_eq!(item.resource_name(), Some(format!("vol-{i:017x}").as_str()));
            assert_eq!(
                item.last_backup_vault_arn(),
                Some("arn:aws:backup:eu-west-1:123456789012:backup-vault:Default")
            );
            assert!(item
                .last_recovery_point_arn()
                .is_some_and(|a| a.starts_with("arn:aws:backup:eu-west-1:123456789012:recovery-point:")));
            let age = HOUR + Duration::from_secs(i as u64);
            assert_aged(item.last_backup_time().expect("LastBackupTime"), age, before, after);
        }

        // Three pages of the default 1000; each next token sent back as it was given,
        // percent-encoded on the wire.
        let requests = backup.listing_requests();
        assert_eq!(served(&backup), [(1, 200, 1000), (2, 200, 1000), (3, 200, 500)]);
        assert!(requests
            .iter()
            .all(|r| r.path == "/resources" && r.listing == Listing::Protected));
        assert!(requests[0].query.is_empty(), "{:?}", requests[0].query);
        for pair in requests.windows(2) {
            let given = pair[0].served.as_ref().unwrap().next_token.as_deref();
            assert!(given.is_some_and(|t| t.contains('+') && t.contains('/') && t.ends_with("==")));
            assert_eq!(pair[1].names(), ["nextToken"]);
            assert_eq!(pair[1].param("nextToken"), given);
            assert!(pair[1].raw_query.contains("%2B") && pair[1].raw_query.contains("%2F"));
        }
        assert_eq!(requests[2].served.as_ref().unwrap().next_token, None);
        assert!(requests[0].headers["authorization"].starts_with("AWS4-HMAC-SHA256 Credential=AKIALISTINGSFAKETEST/"));
        assert_eq!(backup.listing_calls(Listing::Protected), 3);
        assert_eq!(backup.listing_calls(Listing::Jobs), 0);
        assert!(backup.recorded().is_empty(), "listings are not StartBackupJob calls");
    }

    #[tokio::test]
    async fn the_page_size_is_max_results_capped_at_1000() {
        let backup = FakeBackup::start().await;
        backup.set_protected(1_000, |i| Protected::new(&volume(i), HOUR));
        let client = sdk(&backup);
        let items = client
            .list_protected_resources()
            .into_paginator()
            .page_size(300)
            .items()
            .send()
            .try_collect()
            .await
            .unwrap();
        assert_eq!(items.len(), 1_000);
        assert_eq!(
            served(&backup),
            [(1, 200, 300), (2, 200, 300), (3, 200, 300), (4, 200, 100)]
        );
        let requests = backup.listing_requests();
        assert_eq!(requests[0].names(), ["maxResults"]);
        assert!(requests.iter().all(|r| r.param("maxResults") == Some("300")));
        assert_eq!(requests[1].names(), ["nextToken", "maxResults"]);

        backup.clear();
        backup.set_protected(2_000, |i| Protected::new(&volume(i), HOUR));
        let page = client
            .list_protected_resources()
            .max_results(5_000)
            .send()
            .await
            .unwrap();
        assert_eq!(page.results().len(), 1_000);
        assert!(page.next_token().is_some());

        let refused = client
            .list_protected_resources()
            .max_results(0)
            .send()
            .await
            .unwrap_err();
        assert_eq!(refused.code(), Some("InvalidParameterValueException"));
    }

    #[tokio::test]
    async fn jobs_are_read_and_filtered_by_created_after() {
        let backup = FakeBackup::start().await;
        let states = ["COMPLETED", "FAILED", "RUNNING", "ABORTED", "EXPIRED", "PARTIAL"];
        // Job i was created i hours and a half ago: 48 of them, over two days.
        let job = move |i: usize| {
            let state = states[i % states.len()];
            let message = (state == "FAILED").then(|| format!("Access denied to volume {i}"));
            Job::new(&volume(i), state, HOUR * i as u32 + HOUR / 2, message.as_deref())
        };
        backup.set_jobs(48, job);
        let before = SystemTime::now();
        let created_after = DateTime::from(before - HOUR * 24);
        let items = sdk(&backup)
            .list_backup_jobs()
            .by_created_after(created_after)
            .into_paginator()
            .page_size(10)
            .items()
            .send()
            .try_collect()
            .await
            .unwrap();
        let after = SystemTime::now();

        // The 24 younger than a day, on three pages; the SDK's own RFC 3339 text recorded.
        assert_eq!(items.len(), 24);
        assert_eq!(served(&backup), [(1, 200, 10), (2, 200, 10), (3, 200, 4)]);
        let wire = created_after.fmt(DateTimeFormat::DateTime).unwrap();
        for (n, request) in backup.listing_requests().iter().enumerate() {
            assert_eq!(request.path, "/backup-jobs");
            assert_eq!(request.listing, Listing::Jobs);
            assert_eq!(request.param("createdAfter"), Some(wire.as_str()));
            assert_eq!(request.param("maxResults"), Some("10"));
            let names = if n == 0 {
                vec!["maxResults", "createdAfter"]
            } else {
                vec!["nextToken", "maxResults", "createdAfter"]
            };
            assert_eq!(request.names(), names);
        }

        for (i, item) in items.iter().enumerate() {
            let expected = job(i);
            assert_eq!(item.backup_job_id(), Some(expected.backup_job_id.as_str()));
            assert_eq!(item.resource_arn(), Some(volume(i).as_str()));
            assert_eq!(item.resource_type(), Some("EBS"));
            assert_eq!(item.account_id(), Some("123456789012"));
            assert_eq!(item.state(), Some(&BackupJobState::from(expected.state.as_str())));
            assert_eq!(item.state().map(BackupJobState::as_str), Some(expected.state.as_str()));
            assert_eq!(item.status_message(), expected.status_message.as_deref());
            assert_eq!(item.backup_vault_name(), Some("Default"));
            assert_eq!(
                item.backup_vault_arn(),
                Some("arn:aws:backup:eu-west-1:123456789012:backup-vault:Default")
            );
            let age = HOUR * i as u32 + HOUR / 2;
            assert_aged(item.creation_date().unwrap(), age, before, after);
            let finished = expected.state != "RUNNING";
            assert_eq!(item.completion_date().is_some(), finished, "job {i}");
            let recovered = matches!(expected.state.as_str(), "COMPLETED" | "PARTIAL");
            assert_eq!(item.recovery_point_arn().is_some(), recovered, "job {i}");
        }
        assert_eq!(items[1].status_message(), Some("Access denied to volume 1"));
        assert_eq!(items[1].state(), Some(&BackupJobState::Failed));
    }

    #[tokio::test]
    async fn jobs_older_than_30_days_and_jobs_filtered_out_are_not_listed() {
        let backup = FakeBackup::start().await;
        let day = HOUR * 24;
        backup.set_job_list(vec![
            Job::new(&volume(0), "COMPLETED", day * 29, None),
            Job::new(&volume(1), "COMPLETED", day * 31, None),
            Job::new(&volume(2), "FAILED", day, Some("Insufficient privileges")),
            Job::new("arn:aws:rds:eu-west-1:123456789012:db:orders", "FAILED", day, None),
            Job {
                created: When::At(SystemTime::now() - day * 2),
                backup_vault_name: "Other".to_owned(),
                ..Job::new(&volume(4), "RUNNING", Duration::ZERO, None)
            },
        ]);
        let client = sdk(&backup);
        let arns = |jobs: Vec<aws_sdk_backup::types::BackupJob>| -> Vec<String> {
            jobs.iter().map(|j| j.resource_arn().unwrap().to_owned()).collect()
        };
        let all = client.list_backup_jobs().into_paginator().items().send();
        assert_eq!(
            arns(all.try_collect().await.unwrap()),
            [
                volume(0),
                volume(2),
                "arn:aws:rds:eu-west-1:123456789012:db:orders".into(),
                volume(4)
            ]
        );
        let failed = client
            .list_backup_jobs()
            .by_state(BackupJobState::Failed)
            .send()
            .await
            .unwrap();
        assert_eq!(failed.backup_jobs().len(), 2);
        let rds = client.list_backup_jobs().by_resource_type("RDS").send().await.unwrap();
        assert_eq!(
            arns(rds.backup_jobs().to_vec()),
            ["arn:aws:rds:eu-west-1:123456789012:db:orders"]
        );
        let one = client
            .list_backup_jobs()
            .by_resource_arn(volume(2))
            .send()
            .await
            .unwrap();
        assert_eq!(arns(one.backup_jobs().to_vec()), [volume(2)]);
        let vault = client
            .list_backup_jobs()
            .by_backup_vault_name("Other")
            .send()
            .await
            .unwrap();
        assert_eq!(arns(vault.backup_jobs().to_vec()), [volume(4)]);
        let recent = client
            .list_backup_jobs()
            .by_created_after(DateTime::from(SystemTime::now() - day * 3))
            .by_created_before(DateTime::from(SystemTime::now() - day - HOUR))
            .send()
            .await
            .unwrap();
        assert_eq!(arns(recent.backup_jobs().to_vec()), [volume(4)]);

        // A filter the fake does not implement is refused rather than ignored.
        let refused = client
            .list_backup_jobs()
            .by_message_category("AccessDenied")
            .send()
            .await
            .unwrap_err();
        assert_eq!(refused.code(), Some("InvalidParameterValueException"));
        assert!(refused.message().unwrap().contains("messageCategory"));
        let requests = backup.listing_requests();
        assert_eq!(requests.last().unwrap().param("messageCategory"), Some("AccessDenied"));
    }

    #[tokio::test]
    async fn a_page_failing_once_with_a_retryable_error_is_retried_by_the_sdk() {
        let backup = FakeBackup::start().await;
        backup.set_protected(2_500, |i| Protected::new(&volume(i), HOUR));
        backup.fail_listing_page(Listing::Protected, 2, 503, "ServiceUnavailableException", Times::Once);
        let items = sdk(&backup)
            .list_protected_resources()
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .expect("retried");
        assert_eq!(items.len(), 2_500);
        assert_eq!(
            served(&backup),
            [(1, 200, 1000), (2, 503, 0), (2, 200, 1000), (3, 200, 500)]
        );
        let requests = backup.listing_requests();
        assert_eq!(requests[1].query, requests[2].query, "the retry asks for the same page");
        let failed = requests[1].served.as_ref().unwrap();
        assert_eq!(failed.error_code.as_deref(), Some("ServiceUnavailableException"));
    }

    #[tokio::test]
    async fn a_listing_failing_half_way_surfaces_the_aws_error_code() {
        let backup = FakeBackup::start().await;
        backup.set_protected(2_500, |i| Protected::new(&volume(i), HOUR));
        backup.set_jobs(2_500, |i| Job::new(&volume(i), "COMPLETED", HOUR, None));
        backup.fail_listing_page(Listing::Protected, 2, 403, "AccessDeniedException", Times::Always);
        backup.fail_listing_page(Listing::Jobs, 3, 400, "ThrottlingException", Times::Always);
        let client = sdk(&backup);

        let mut stream = client.list_protected_resources().into_paginator().items().send();
        let mut listed = 0;
        let error = loop {
            match stream.next().await.expect("an error before the end") {
                Ok(_) => listed += 1,
                Err(error) => break error,
            }
        };
        assert_eq!(listed, 1_000, "the first page, then the error");
        assert_eq!(error.code(), Some("AccessDeniedException"));
        assert!(error.message().unwrap().contains("page 2"));
        assert!(stream.next().await.is_none(), "the paginator stops at the error");
        assert_eq!(served(&backup), [(1, 200, 1000), (2, 403, 0)], "not retried");

        // Throttling is retried (3 attempts), then surfaces as itself.
        backup.clear();
        let mut pages = client.list_backup_jobs().into_paginator().send();
        assert_eq!(pages.next().await.unwrap().unwrap().backup_jobs().len(), 1_000);
        assert_eq!(pages.next().await.unwrap().unwrap().backup_jobs().len(), 1_000);
        let error = pages.next().await.unwrap().unwrap_err();
        assert_eq!(error.code(), Some("ThrottlingException"));
        assert_eq!(
            served(&backup),
            [(1, 200, 1000), (2, 200, 1000), (3, 400, 0), (3, 400, 0), (3, 400, 0)]
        );

        // Times::N(2) of a throttled page: two refusals, then the page.
        let backup = FakeBackup::start().await;
        backup.set_jobs(10, |i| Job::new(&volume(i), "COMPLETED", HOUR, None));
        backup.fail_listing_page(Listing::Jobs, 1, 400, "ThrottlingException", Times::N(2));
        let page = sdk(&backup).list_backup_jobs().send().await.expect("the third attempt");
        assert_eq!(page.backup_jobs().len(), 10);
        assert_eq!(served(&backup), [(1, 400, 0), (1, 400, 0), (1, 200, 10)]);
    }

    #[tokio::test]
    async fn a_duplicated_listing_lists_each_item_twice() {
        let backup = FakeBackup::start().await;
        backup.set_protected(1_500, |i| Protected::new(&volume(i), HOUR));
        backup.set_listing_duplicates(Listing::Protected, Duplicates::Repeated);
        backup.set_jobs(7, |i| Job::new(&volume(i), "COMPLETED", HOUR, None));
        backup.set_listing_duplicates(Listing::Jobs, Duplicates::Adjacent);
        let client = sdk(&backup);

        let resources = client
            .list_protected_resources()
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .unwrap();
        assert_eq!(resources.len(), 3_000);
        let mut seen: HashMap<&str, Vec<usize>> = HashMap::new();
        for (position, r) in resources.iter().enumerate() {
            seen.entry(r.resource_arn().unwrap()).or_default().push(position);
        }
        assert_eq!(seen.len(), 1_500);
        assert!(seen.values().all(|p| p.len() == 2 && p[1] - p[0] == 1_500));
        // Resource 0 is listed on page 1, and again on page 2.
        assert_eq!(served(&backup), [(1, 200, 1000), (2, 200, 1000), (3, 200, 1000)]);

        let jobs = client
            .list_backup_jobs()
            .into_paginator()
            .page_size(3)
            .items()
            .send()
            .try_collect()
            .await
            .unwrap();
        let ids: Vec<&str> = jobs.iter().map(|j| j.backup_job_id().unwrap()).collect();
        assert_eq!(ids.len(), 14);
        for pair in ids.chunks(2) {
            assert_eq!(pair[0], pair[1]);
        }
        assert_eq!(ids.iter().collect::<std::collections::HashSet<_>>().len(), 7);
    }

    #[tokio::test]
    async fn pages_wait_their_delay_and_a_stalled_page_its_stall() {
        let backup = FakeBackup::start().await;
        backup.set_protected(25, |i| Protected::new(&volume(i), HOUR));
        backup.set_listing_delay(Listing::Protected, Duration::from_millis(100));
        backup.stall_listing_page(Listing::Protected, 2, Duration::from_millis(300), Times::Once);
        let client = sdk(&backup);
        let started = Instant::now();
        let items = client
            .list_protected_resources()
            .into_paginator()
            .page_size(10)
            .items()
            .send()
            .try_collect()
            .await
            .unwrap();
        assert_eq!(items.len(), 25);
        // A page is due its delay after its request, its making included; the stalled
        // page is made in 300 ms, so it is due then. Lower bounds only: a loaded
        // machine may be slower, never faster.
        assert!(
            started.elapsed() >= Duration::from_millis(500),
            "{:?}",
            started.elapsed()
        );
        let started = Instant::now();
        client.list_protected_resources().max_results(10).send().await.unwrap();
        assert!(
            started.elapsed() >= Duration::from_millis(100),
            "{:?}",
            started.elapsed()
        );
    }

    #[tokio::test]
    async fn a_token_the_fake_did_not_give_is_refused() {
        let backup = FakeBackup::start().await;
        backup.set_protected(2_000, |i| Protected::new(&volume(i), HOUR));
        backup.set_jobs(2_000, |i| Job::new(&volume(i), "COMPLETED", HOUR, None));
        let client = sdk(&backup);
        let forged = client
            .list_protected_resources()
            .next_token("2000")
            .send()
            .await
            .unwrap_err();
        assert_eq!(forged.code(), Some("InvalidParameterValueException"));
        // A token of the other listing is not one of this listing.
        let page = client.list_protected_resources().send().await.unwrap();
        let crossed = client
            .list_backup_jobs()
            .next_token(page.next_token().unwrap())
            .send()
            .await
            .unwrap_err();
        assert_eq!(crossed.code(), Some("InvalidParameterValueException"));
        let pages: Vec<usize> = backup.listing_requests().iter().map(|r| r.page).collect();
        assert_eq!(pages, [0, 1, 0]);
    }

    #[tokio::test]
    async fn the_listings_share_the_host_with_start_backup_job() {
        let backup = FakeBackup::start().await;
        backup.set_jobs(3, |i| Job::new(&volume(i), "RUNNING", HOUR, None));
        let client = sdk(&backup);
        let started = client
            .start_backup_job()
            .backup_vault_name("Default")
            .resource_arn(volume(9))
            .iam_role_arn("arn:aws:iam::123456789012:role/Backup")
            .idempotency_token("0f0e0d0c-0000-4000-8000-000000000abc")
            .send()
            .await
            .unwrap();
        assert_eq!(started.backup_job_id(), Some("backup-0F0E0D0C000040008000000000000ABC"));
        let listed = client.list_backup_jobs().send().await.unwrap();
        assert_eq!(listed.backup_jobs().len(), 3);

        let recorded = backup.recorded();
        assert_eq!(recorded.len(), 1);
        assert_eq!(
            (recorded[0].method.as_str(), recorded[0].path.as_str()),
            ("PUT", "/backup-jobs")
        );
        assert_eq!(backup.listing_requests().len(), 1);
        assert_eq!(backup.listing_requests()[0].path, "/backup-jobs");
    }

    #[tokio::test]
    async fn a_hundred_thousand_resources_and_jobs_are_listed_from_generators() {
        let backup = FakeBackup::start().await;
        backup.set_protected(100_000, |i| Protected::new(&volume(i), HOUR));
        backup.set_jobs(100_000, |i| {
            Job::new(&volume(i), "COMPLETED", HOUR * 2 * (i % 24) as u32, None)
        });
        let client = sdk(&backup);
        let mut resources = client.list_protected_resources().into_paginator().items().send();
        let mut count = 0;
        while let Some(item) = resources.next().await {
            assert_eq!(item.unwrap().resource_arn(), Some(volume(count).as_str()));
            count += 1;
        }
        assert_eq!(count, 100_000);
        assert_eq!(backup.listing_calls(Listing::Protected), 100);

        // Half the jobs are younger than a day (ages 0, 2, ..., 22 hours of 0..46).
        let jobs = client
            .list_backup_jobs()
            .by_created_after(DateTime::from(SystemTime::now() - HOUR * 23))
            .into_paginator()
            .send()
            .try_collect()
            .await
            .unwrap();
        let listed: usize = jobs.iter().map(|p| p.backup_jobs().len()).sum();
        assert_eq!(listed, (0..100_000).filter(|i| i % 24 < 12).count());
        assert!(jobs
            .iter()
            .all(|p| p.backup_jobs().len() == 1000 || p.next_token().is_none()));
    }

    #[tokio::test]
    async fn the_request_log_keeps_the_latest_requests_only() {
        let listings = super::Listings::new();
        listings.set_protected(5, |i| Protected::new(&volume(i), HOUR));
        let headers = axum::http::HeaderMap::new();
        for n in 0..super::LOG_LIMIT + 5 {
            let uri: axum::http::Uri = format!("/resources?maxResults={}", n % 5 + 1).parse().unwrap();
            listings.answer(Listing::Protected, &uri, &headers).await;
        }
        let kept = listings.requests();
        assert_eq!(kept.len(), super::LOG_LIMIT);
        assert_eq!(listings.calls(Listing::Protected), super::LOG_LIMIT as u64 + 5);
        // The oldest five are gone: the first kept is request 5 (maxResults 1).
        assert_eq!(kept[0].param("maxResults"), Some("1"));
        assert_eq!(kept[0].served.as_ref().unwrap().items, 1);
        assert!(listings.requests_of(Listing::Jobs).is_empty());
    }
}
