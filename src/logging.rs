//! Where the log lines go and which get through (docs/reference.md, "Logs"): JSON
//! lines unless `AWS_LAMBDA_LOG_FORMAT` says Text, at the level of
//! `AWS_LAMBDA_LOG_LEVEL` or `RUST_LOG`, with the AWS SDK's own logs capped at INFO
//! whatever is asked (at DEBUG and TRACE the SDK logs signing details and bodies);
//! and a panic hook that logs where, never what. The lines themselves are written
//! by `report::log`.

use tracing::error;
use tracing_subscriber::filter::{EnvFilter, FilterExt, LevelFilter, Targets};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::Layer;

/// Crates whose logs are never let through below INFO, whatever the level asked:
/// at DEBUG and TRACE they log request signing, headers and payload details.
const CAPPED: &[&str] = &[
    "aws_sigv4",
    "aws_smithy_runtime",
    "aws_smithy_runtime_api",
    "aws_smithy_http_client",
    "aws_smithy_http",
    "aws_runtime",
    "aws_config",
    "aws_credential_types",
    "aws_sdk_backup",
    "aws_sdk_sqs",
    "aws_sdk_resourcegroupstagging",
    "hyper",
    "hyper_util",
    "h2",
    "rustls",
    "lambda_runtime",
    "lambda_runtime_api_client",
];

/// Starts logging to `writer`: JSON lines unless `AWS_LAMBDA_LOG_FORMAT` is `Text`;
/// the level from `AWS_LAMBDA_LOG_LEVEL`, else `RUST_LOG`, else INFO.
pub fn init<W>(writer: W)
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let format = std::env::var("AWS_LAMBDA_LOG_FORMAT").unwrap_or_default();
    let level = filter(
        std::env::var("AWS_LAMBDA_LOG_LEVEL").ok().as_deref(),
        std::env::var("RUST_LOG").ok().as_deref(),
    );
    // Both must let a line through: no directive, however specific, lifts a cap.
    let filter = level.and(caps());
    let layer = tracing_subscriber::fmt::layer()
        .with_writer(writer)
        .with_ansi(false)
        .with_target(false);
    let installed = if format.eq_ignore_ascii_case("text") {
        tracing_subscriber::registry()
            .with(layer.with_filter(filter))
            .try_init()
    } else {
        let json = layer
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false);
        tracing_subscriber::registry().with(json.with_filter(filter)).try_init()
    };
    // A second init (tests) keeps the first subscriber; nothing to report.
    drop(installed);
}

/// The level asked for: a Lambda log level (TRACE ... FATAL) or a `RUST_LOG` directive.
pub fn filter(lambda_level: Option<&str>, rust_log: Option<&str>) -> EnvFilter {
    match (lambda_level, rust_log) {
        (Some(level), _) if !level.trim().is_empty() => {
            let level = match level.trim().to_ascii_lowercase().as_str() {
                "fatal" => LevelFilter::ERROR,
                other => other.parse().unwrap_or(LevelFilter::INFO),
            };
            EnvFilter::default().add_directive(level.into())
        }
        (_, Some(directives)) if !directives.trim().is_empty() => EnvFilter::builder()
            .with_default_directive(LevelFilter::INFO.into())
            .parse_lossy(directives),
        _ => EnvFilter::default().add_directive(LevelFilter::INFO.into()),
    }
}

/// The crates whose logs never go below INFO, as a filter of their own.
pub fn caps() -> Targets {
    Targets::new()
        .with_default(LevelFilter::TRACE)
        .with_targets(CAPPED.iter().map(|target| (*target, LevelFilter::INFO)))
}

/// Logs a panic as one JSON line with its location only, instead of Rust's default
/// message on stderr: a panic message can quote input, and input may hold tag values.
pub fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let location = info
            .location()
            .map(|l| format!("{}:{}", l.file(), l.line()))
            .unwrap_or_default();
        error!(
            location,
            error_type = crate::core::error::INTERNAL_ERROR,
            "panic in backup-trigger"
        );
    }));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lambda_levels_map_to_filters() {
        assert_eq!(filter(Some("DEBUG"), None).max_level_hint(), Some(LevelFilter::DEBUG));
        assert_eq!(
            filter(Some("FATAL"), Some("trace")).max_level_hint(),
            Some(LevelFilter::ERROR),
            "AWS_LAMBDA_LOG_LEVEL wins over RUST_LOG"
        );
        assert_eq!(filter(None, Some("debug")).max_level_hint(), Some(LevelFilter::DEBUG));
        assert_eq!(filter(None, None).max_level_hint(), Some(LevelFilter::INFO));
    }

    #[test]
    fn sdk_crates_are_capped_at_info_whatever_the_directive() {
        let caps = caps();
        for target in [
            "aws_sigv4",
            "aws_smithy_runtime::client::orchestrator",
            "hyper_util::client",
            "lambda_runtime",
            "aws_sdk_sqs::operation::send_message_batch",
            "aws_sdk_resourcegroupstagging::operation::get_resources",
        ] {
            assert!(!caps.would_enable(target, &tracing::Level::DEBUG), "{target}");
            assert!(caps.would_enable(target, &tracing::Level::INFO), "{target}");
        }
        assert!(caps.would_enable("backup_trigger::handler", &tracing::Level::TRACE));
    }
}
