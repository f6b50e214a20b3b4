//! `bootstrap invoke FILE [--dry-run]`: runs the real handler on an event file,
//! without Lambda, Docker or (with `--dry-run`) AWS credentials. The answer goes to
//! stdout, the log lines to stderr.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use crate::aws::{self, AwsBackup};
use crate::handler::{self, App, Invocation};
use crate::send::{Deadline, DryRun, JobStarter};
use crate::settings::Settings;

pub const USAGE: &str = "usage: bootstrap invoke EVENT.json [--dry-run]\n\
    Runs the handler once on EVENT.json (- for stdin) and prints the answer.\n\
    Settings come from the environment, as in Lambda. Without arguments, bootstrap\n\
    runs as a Lambda function (AWS_LAMBDA_RUNTIME_API must be set).";

/// The longest a local invocation may run, like Lambda's maximum timeout.
const LOCAL_TIMEOUT: Duration = Duration::from_secs(15 * 60);

pub async fn invoke(args: &[String]) -> ExitCode {
    let mut file = None;
    let mut dry_run = false;
    for arg in args {
        match arg.as_str() {
            "--dry-run" => dry_run = true,
            "-h" | "--help" => {
                println!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            other if file.is_none() => file = Some(other.to_owned()),
            _ => {
                eprintln!("{USAGE}");
                return ExitCode::from(2);
            }
        }
    }
    let Some(file) = file else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    let text = if file == "-" {
        std::io::read_to_string(std::io::stdin())
    } else {
        std::fs::read_to_string(&file)
    };
    let event: serde_json::Value = match text
        .map_err(|e| e.to_string())
        .and_then(|t| serde_json::from_str(&t).map_err(|e| e.to_string()))
    {
        Ok(event) => event,
        Err(e) => {
            eprintln!("cannot read the event {file}: {e}");
            return ExitCode::from(2);
        }
    };
    let mut settings = match Settings::from_env() {
        Ok(settings) => settings,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    settings.dry_run |= dry_run;
    let invocation = Invocation {
        request_id: "local-invoke".into(),
        deadline: Deadline::after(LOCAL_TIMEOUT),
    };
    if settings.dry_run {
        run(App::new(settings, DryRun), event, &invocation).await
    } else {
        let client = aws::client(&settings).await;
        run(App::new(settings, AwsBackup::new(client)), event, &invocation).await
    }
}

async fn run<S: JobStarter>(app: App<S>, event: serde_json::Value, invocation: &Invocation) -> ExitCode {
    match handler::handle(&Arc::new(app), event, invocation).await {
        Ok(answer) => {
            println!("{}", serde_json::to_string_pretty(&answer).unwrap_or_default());
            ExitCode::SUCCESS
        }
        Err(error) => {
            let diagnostic = serde_json::json!({ "errorType": error.error_type, "errorMessage": error.message });
            println!("{}", serde_json::to_string_pretty(&diagnostic).unwrap_or_default());
            ExitCode::FAILURE
        }
    }
}
