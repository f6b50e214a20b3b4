//! The Lambda function's entry point: wires logging, settings, the AWS client and
//! the handler together. `bootstrap invoke FILE --dry-run` runs one event locally.

use std::process::ExitCode;
use std::sync::Arc;

use backup_trigger::aws::{self, AwsBackup};
use backup_trigger::error::ConfigError;
use backup_trigger::handler::{self, App, Invocation};
use backup_trigger::rate::Limiter;
use backup_trigger::resolve::Sources;
use backup_trigger::send::{DryRun, JobStarter};
use backup_trigger::settings::Settings;
use backup_trigger::{local, logging};
use lambda_runtime::{service_fn, LambdaEvent};
use serde_json::Value;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    // One thread: the work is waiting on AWS, and a single-threaded runtime starts
    // faster and smaller than a pool.
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match args.first().map(String::as_str) {
        None => runtime.block_on(serve()),
        Some("invoke") => {
            logging::init(std::io::stderr);
            logging::install_panic_hook();
            runtime.block_on(local::invoke(&args[1..]))
        }
        Some("-h" | "--help") => {
            println!("{}", local::USAGE);
            ExitCode::SUCCESS
        }
        Some(_) => {
            eprintln!("{}", local::USAGE);
            ExitCode::from(2)
        }
    }
}

async fn serve() -> ExitCode {
    logging::init(std::io::stdout);
    logging::install_panic_hook();
    let settings = match Settings::from_env() {
        Ok(settings) => settings,
        Err(error) => {
            tracing::error!(setting = error.name, error_type = "ConfigError", "{error}");
            report_init_error(&error).await;
            return ExitCode::FAILURE;
        }
    };
    // One configuration for every client; a dry run still reads the Tagging API.
    let config = aws::config_loader(&settings).load().await;
    let sources = Sources::aws(&config, &settings);
    let outcome = if settings.dry_run {
        run(App::new(settings, DryRun).with_sources(sources)).await
    } else {
        // One pace for the whole process: the handler waits its turn there, and the
        // client reports every answer to it.
        let limiter = Arc::new(Limiter::new(settings.max_calls_per_second));
        let client = aws::backup_client(&config, Arc::clone(&limiter));
        run(App::sharing(settings, AwsBackup::new(client), limiter).with_sources(sources)).await
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!("the Lambda runtime stopped: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run<S: JobStarter>(app: App<S>) -> Result<(), lambda_runtime::Error> {
    let app = Arc::new(app);
    // The runtime parses the event once, into a Value; Lambda itself refuses a
    // payload over 6 MB and one that is not JSON, so no text-level check is needed.
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let app = Arc::clone(&app);
        async move { handler::handle(&app, event.payload, &Invocation::from_context(&event.context)).await }
    }))
    .await
}

/// Tells Lambda why the function cannot start (`/runtime/init/error`), so the error
/// shows in the invoke result as well as in the log.
async fn report_init_error(error: &ConfigError) {
    let diagnostic = lambda_runtime::Diagnostic {
        error_type: "ConfigError".into(),
        error_message: error.to_string(),
    };
    // Two strings always serialise.
    let body = serde_json::to_string(&diagnostic).unwrap_or_default();
    let request = lambda_runtime_api_client::build_request()
        .method("POST")
        .uri("/2018-06-01/runtime/init/error")
        .header("lambda-runtime-function-error-type", "ConfigError")
        .body(lambda_runtime_api_client::body::Body::from(body));
    let client = lambda_runtime_api_client::PooledClient::builder().build();
    match request {
        Ok(request) => {
            if let Err(e) = client.call(request).await {
                tracing::error!("could not report the init error to the Lambda Runtime API: {e}");
            }
        }
        Err(e) => tracing::error!("could not build the init error report: {e}"),
    }
}
