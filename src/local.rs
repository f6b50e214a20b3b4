//! `bootstrap invoke FILE [--dry-run]`: runs the real handler on an event file,
//! without Lambda, Docker or (with `--dry-run`) AWS credentials. The answer goes to
//! stdout, the log lines to stderr.

use std::io::Write;
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
    // Not parsed here: the handler reads the text as Lambda delivers it.
    let event = match text {
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
        request_id: local_request_id(settings.dry_run),
        deadline: Deadline::after(LOCAL_TIMEOUT),
    };
    if settings.dry_run {
        run(App::new(settings, DryRun), event, &invocation).await
    } else {
        let limiter = Arc::new(crate::rate::Limiter::new(settings.max_calls_per_second));
        let client = aws::client(&settings, Arc::clone(&limiter)).await;
        run(App::sharing(settings, AwsBackup::new(client), limiter), event, &invocation).await
    }
}

/// The request id of a local run, from which tokens are derived when the event has
/// no `IdempotencyKey`. A dry run uses a fixed one, so its output is repeatable; a
/// real run gets a new one each time, as Lambda gives each invocation its own:
/// a fixed id would give every local run the same tokens, and AWS Backup treats
/// calls with the same token as the same call, even for another resource.
fn local_request_id(dry_run: bool) -> String {
    if dry_run {
        return "local-invoke".into();
    }
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("local-invoke-{}-{nanos}", std::process::id())
}

async fn run<S: JobStarter>(app: App<S>, event: String, invocation: &Invocation) -> ExitCode {
    let (printed, code) = match handler::handle_text(&Arc::new(app), &event, invocation).await {
        Ok(answer) => (answer, ExitCode::SUCCESS),
        Err(error) => (
            serde_json::json!({ "errorType": error.error_type, "errorMessage": error.message }),
            ExitCode::FAILURE,
        ),
    };
    // A closed pipe (`| head`) is not a reason to panic.
    let mut stdout = std::io::stdout().lock();
    match serde_json::to_writer_pretty(&mut stdout, &printed)
        .and_then(|()| writeln!(stdout).map_err(serde_json::Error::io))
    {
        Ok(()) => code,
        Err(e) => {
            eprintln!("cannot print the answer: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dry_run_has_a_fixed_request_id_and_a_real_run_a_new_one() {
        assert_eq!(local_request_id(true), local_request_id(true));
        assert_ne!(local_request_id(false), local_request_id(false));
    }
}
