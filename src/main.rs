//! The Lambda function's entry point: wires logging, settings, the AWS client and
//! the handler together. `bootstrap invoke FILE --dry-run` runs one event locally.

use std::process::ExitCode;
use std::sync::Arc;

use backup_trigger::core::error::Error;
use backup_trigger::handler::App;
use backup_trigger::handler::{self, Invocation};
use backup_trigger::io::sdk;
use backup_trigger::report::answer::diagnostic;
use backup_trigger::settings::Settings;
use backup_trigger::wiring::{app, aws_io};
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
            let setting = error.name;
            let error = Error::Config(error.to_string());
            tracing::error!(setting, error_type = error.error_type(), "{error}");
            report_init_error(&error).await;
            return ExitCode::FAILURE;
        }
    };
    // One configuration for every client, built once, before the first event.
    let config = sdk::config_loader(settings.retry_set_by_user).load().await;
    let app = app(&settings, aws_io(&config, &settings));
    match run(app).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!("the Lambda runtime stopped: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run(app: App) -> Result<(), lambda_runtime::Error> {
    let app = Arc::new(app);
    // The runtime parses the event once, into a Value; Lambda itself refuses a
    // payload over 6 MB and one that is not JSON, so no text-level check is needed.
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let app = Arc::clone(&app);
        async move {
            handler::handle(&app, event.payload, &Invocation::from_context(&event.context))
                .await
                .map_err(|error| diagnostic(&error))
        }
    }))
    .await
}

/// Tells Lambda why the function cannot start (`/runtime/init/error`), so the error
/// shows in the invoke result as well as in the log.
async fn report_init_error(error: &Error) {
    let report = diagnostic(error);
    // Two strings always serialise.
    let body = serde_json::to_string(&report).unwrap_or_default();
    let request = lambda_runtime_api_client::build_request()
        .method("POST")
        .uri("/2018-06-01/runtime/init/error")
        .header("lambda-runtime-function-error-type", report.error_type.as_str())
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
