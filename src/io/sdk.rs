//! The AWS SDK clients of the function, built once at start from one shared
//! configuration: time-outs, retries (standard, 10 attempts, unless the user sets
//! `AWS_MAX_ATTEMPTS` or `AWS_RETRY_MODE`), and, for AWS Backup, the process's pace
//! (every attempt's answer is reported to the [`Limiter`], and the SDK's retries
//! wait their turn there). Also how an SDK error becomes a [`Failure`].

use std::sync::Arc;
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::BehaviorVersion;
use aws_sdk_backup::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_backup::Client;
use aws_smithy_runtime::client::retries::classifiers::run_classifiers_on_ctx;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeTransmitInterceptorContextMut, BeforeTransmitInterceptorContextRef, FinalizerInterceptorContextRef,
};
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::retries::classifiers::{RetryAction, RetryReason};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::{ConfigBag, Storable, StoreReplace};
use aws_smithy_types::retry::ErrorKind;

use crate::core::job::Failure;
use crate::io::rate::Limiter;

/// Attempts per call when the user sets neither `AWS_MAX_ATTEMPTS` nor
/// `AWS_RETRY_MODE`: enough for a throttled list of 1,000 to get through.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 10;
/// One attempt that takes longer is abandoned (and retried).
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// The AWS Backup client from a loaded configuration, reporting to `limiter` and
/// with the SDK's retries waiting their turn there.
pub fn backup_client(sdk_config: &aws_config::SdkConfig, limiter: Arc<Limiter>) -> Client {
    let http = sdk_config.http_client().unwrap_or_else(default_https_client);
    let config = aws_sdk_backup::config::Builder::from(sdk_config)
        .interceptor(RateFeedback {
            limiter: Arc::clone(&limiter),
        })
        .http_client(PacedRetries { inner: http, limiter })
        .build();
    Client::from_conf(config)
}

/// The SDK's own default HTTPS client (hyper 1, rustls with aws-lc), built as
/// `aws-smithy-runtime` builds it when no client is given: wrapping it is the one
/// way to make the SDK's retries wait their turn.
fn default_https_client() -> SharedHttpClient {
    use aws_smithy_http_client::proxy::ProxyConfig;
    use aws_smithy_http_client::{tls, Builder, ConnectorBuilder};
    Builder::new().build_with_connector_fn(|settings, components| {
        let mut connector =
            ConnectorBuilder::default().tls_provider(tls::Provider::Rustls(tls::rustls_provider::CryptoMode::AwsLc));
        connector.set_connector_settings(settings.cloned());
        if let Some(components) = components {
            connector.set_sleep_impl(components.sleep_impl());
        }
        connector.set_proxy_config(Some(ProxyConfig::from_env()));
        connector.build()
    })
}

/// The SDK settings of this function: its time-outs, and standard retries with 10
/// attempts unless the user chose otherwise. The rest comes from the standard AWS
/// settings.
/// `retry_set_by_user`: `AWS_MAX_ATTEMPTS` or `AWS_RETRY_MODE` is set.
pub fn config_loader(retry_set_by_user: bool) -> aws_config::ConfigLoader {
    let timeouts = TimeoutConfig::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .operation_attempt_timeout(ATTEMPT_TIMEOUT)
        .build();
    let mut loader = aws_config::defaults(BehaviorVersion::latest()).timeout_config(timeouts);
    if !retry_set_by_user {
        // Standard, not adaptive: the process's own limiter (io::rate) paces the
        // calls, and the SDK's adaptive limiter, a second one learning from the same
        // answers, only holds calls back further (measured: docs/performance.md, "Throttled lists").
        loader = loader.retry_config(RetryConfig::standard().with_max_attempts(DEFAULT_MAX_ATTEMPTS));
    }
    loader
}

/// Reports the answer to every attempt (first attempts and the SDK's retries) to the
/// process's limiter: throttled, or accepted. Marks each retry's request, so that
/// [`PacedRetries`] makes it wait its turn.
#[derive(Debug)]
pub(crate) struct RateFeedback {
    limiter: Arc<Limiter>,
}

impl RateFeedback {
    #[cfg(test)]
    pub(crate) fn new(limiter: Arc<Limiter>) -> RateFeedback {
        RateFeedback { limiter }
    }
}

/// When the current attempt of a call started, and whether it is a retry.
#[derive(Debug, Clone, Copy)]
struct Attempt {
    started: tokio::time::Instant,
    retry: bool,
}

impl Storable for Attempt {
    type Storer = StoreReplace<Self>;
}

/// On a request: this attempt is a retry of the SDK's.
#[derive(Debug, Clone, Copy)]
struct Retry;

impl Intercept for RateFeedback {
    fn name(&self) -> &'static str {
        "RateFeedback"
    }

    fn read_before_attempt(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        // A call's first attempt took its turn in `send`; a later one is the SDK's retry.
        let retry = cfg.load::<Attempt>().is_some();
        cfg.interceptor_state().store_put(Attempt {
            started: tokio::time::Instant::now(),
            retry,
        });
        Ok(())
    }

    fn modify_before_transmit(
        &self,
        context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if cfg.load::<Attempt>().is_some_and(|a| a.retry) {
            context.request_mut().add_extension(Retry);
        }
        Ok(())
    }

    fn read_after_attempt(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let now = tokio::time::Instant::now();
        let verdict = run_classifiers_on_ctx(runtime_components.retry_classifiers(), context.inner());
        let throttled = matches!(
            verdict,
            RetryAction::RetryIndicated(RetryReason::RetryableError {
                kind: ErrorKind::ThrottlingError,
                ..
            })
        );
        if throttled {
            let started = cfg.load::<Attempt>().map_or(now, |a| a.started);
            self.limiter.throttled(started, now);
        } else if context.response().is_some() {
            // Any other answer (even an error) was a call AWS counted.
            self.limiter.accepted(now);
        }
        Ok(())
    }
}

/// A retry waits at most this long for its turn (then goes, taking the next turn):
/// the wait counts against the attempt's own time-out.
pub const RETRY_TURN_LIMIT: Duration = Duration::from_secs(3);

/// The HTTP client, with the SDK's retries waiting their turn at the limiter (the
/// SDK's retry loop has no asynchronous hook of its own).
#[derive(Debug, Clone)]
struct PacedRetries {
    inner: SharedHttpClient,
    limiter: Arc<Limiter>,
}

impl HttpClient for PacedRetries {
    fn http_connector(&self, settings: &HttpConnectorSettings, components: &RuntimeComponents) -> SharedHttpConnector {
        SharedHttpConnector::new(PacedConnector {
            inner: self.inner.http_connector(settings, components),
            limiter: Arc::clone(&self.limiter),
        })
    }
}

#[derive(Debug)]
struct PacedConnector {
    inner: SharedHttpConnector,
    limiter: Arc<Limiter>,
}

impl HttpConnector for PacedConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let inner = self.inner.clone();
        let limiter = Arc::clone(&self.limiter);
        HttpConnectorFuture::new(async move {
            if request.extension::<Retry>().is_some() {
                limiter.wait_retry_turn(RETRY_TURN_LIMIT).await;
            }
            inner.call(request).await
        })
    }
}

/// Error codes worth trying again later: throttling, AWS-side failures, time-outs.
const RETRYABLE: &[&str] = &[
    "ThrottlingException",
    "LimitExceededException",
    "TooManyRequestsException",
    "ServiceUnavailableException",
    "TimeoutError",
    "DispatchFailure",
    "ResponseError",
];

/// What went wrong with a call, with AWS's own error code when there is one.
pub fn failure<E>(error: &SdkError<E>) -> Failure
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let code = match (error.code(), error) {
        (Some(code), _) => code,
        (None, SdkError::TimeoutError(_)) => "TimeoutError",
        (None, SdkError::DispatchFailure(_)) => "DispatchFailure",
        (None, SdkError::ResponseError(_)) => "ResponseError",
        (None, SdkError::ConstructionFailure(_)) => "ConstructionFailure",
        (None, _) => "UnknownError",
    };
    let status = error.raw_response().map(|r| r.status().as_u16());
    let message = match error.message() {
        Some(message) => message.to_owned(),
        None => DisplayErrorContext(error).to_string(),
    };
    let retryable = RETRYABLE.contains(&code) || status.is_some_and(|s| s >= 500);
    Failure::aws(code, message, retryable)
}
