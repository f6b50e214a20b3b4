//! `bootstrap invoke FILE [--dry-run] [--env-vars ENV.json]`: runs the real handler on
//! an event file, without Lambda, Docker or (with `--dry-run`) AWS credentials. The
//! answer goes to stdout, the log lines and the metrics line to stderr.
//!
//! Settings come from the environment, as in Lambda, and from an env-vars file in
//! the format of `sam local invoke --env-vars`: `--env-vars FILE`, or by default
//! `local/env.json` beside the event (as `events/local/env.json` is beside the
//! samples). A variable already set in the environment wins over the file, so one
//! value can be tried without editing it.
//!
//! A selection finds its resources in a file of what `aws resourcegroupstaggingapi
//! get-resources` prints: `--resources FILE`, or in a dry run by default
//! `local/resources.json` beside the event; otherwise in the account's Tagging API.
//! An audit reads what `aws backup list-protected-resources` and `aws backup
//! list-backup-jobs` print in the same way (`--protected-resources FILE`,
//! `--backup-jobs FILE`; by default `local/protected-resources.json` and
//! `local/backup-jobs.json` in a dry run), at the time given by `--now` (RFC 3339),
//! or the current time.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use crate::core::time::Timestamp;
use crate::handler::{self, Invocation};
use crate::handler::{App, Clock};
use crate::io::inventory::{Inventory, ResourceFile};
use crate::io::listings::{ListingFiles, Listings};
use crate::io::sdk;
use crate::io::send::Deadline;
use crate::report::answer::diagnostic;
use crate::report::metrics::Sink;
use crate::settings::Settings;
use crate::wiring::{app, aws_io, dry_run_io};

pub const USAGE: &str = "usage: bootstrap invoke EVENT.json [--dry-run] [--env-vars ENV.json] [--resources FILE]\n\
    \x20      [--protected-resources FILE] [--backup-jobs FILE] [--now TIME]\n\
    Runs the handler once on EVENT.json (- for stdin) and prints the answer.\n\
    Settings come from the environment, as in Lambda, and from ENV.json (the format\n\
    of `sam local invoke --env-vars`; by default local/env.json beside the event,\n\
    when there is one); the environment wins. Without arguments, bootstrap runs as a\n\
    Lambda function (AWS_LAMBDA_RUNTIME_API must be set).\n\
    A selection finds its resources in --resources FILE (what `aws\n\
    resourcegroupstaggingapi get-resources` prints), an audit its listings in\n\
    --protected-resources and --backup-jobs (what `aws backup list-protected-resources`\n\
    and `aws backup list-backup-jobs` print). In a dry run they default to\n\
    local/resources.json, local/protected-resources.json and local/backup-jobs.json\n\
    beside the event, when there are; otherwise the account's APIs are read. An audit\n\
    runs at --now (RFC 3339, such as 2026-11-22T09:00:00Z), else at the current time.";

/// The function's logical id in template.yaml: its section of an env-vars file.
const FUNCTION_ID: &str = "BackupTriggerFunction";

/// The longest a local invocation may run, like Lambda's maximum timeout.
const LOCAL_TIMEOUT: Duration = Duration::from_secs(15 * 60);

/// What `bootstrap invoke` was asked to do.
#[derive(Debug, Default, PartialEq, Eq)]
struct Args {
    event: String,
    dry_run: bool,
    env_vars: Option<PathBuf>,
    resources: Option<PathBuf>,
    protected_resources: Option<PathBuf>,
    backup_jobs: Option<PathBuf>,
    now: Option<Timestamp>,
}

fn parse_args(args: &[String]) -> Result<Option<Args>, ()> {
    let mut parsed = Args::default();
    let mut event = None;
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let mut path = || args.next().map(PathBuf::from).ok_or(());
        match arg.as_str() {
            "--dry-run" => parsed.dry_run = true,
            "-h" | "--help" => return Ok(None),
            "--env-vars" => parsed.env_vars = Some(path()?),
            "--resources" => parsed.resources = Some(path()?),
            "--protected-resources" => parsed.protected_resources = Some(path()?),
            "--backup-jobs" => parsed.backup_jobs = Some(path()?),
            "--now" => {
                let time = args.next().ok_or(())?;
                parsed.now = Some(Timestamp::parse_rfc3339(time).ok_or(())?);
            }
            other if event.is_none() => event = Some(other.to_owned()),
            _ => return Err(()),
        }
    }
    parsed.event = event.ok_or(())?;
    Ok(Some(parsed))
}

pub async fn invoke(args: &[String]) -> ExitCode {
    let args = match parse_args(args) {
        Ok(Some(args)) => args,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(()) => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    let text = if args.event == "-" {
        std::io::read_to_string(std::io::stdin())
    } else {
        std::fs::read_to_string(&args.event)
    };
    // Not parsed here: the handler reads the text, checking its size first.
    let event = match text {
        Ok(event) => event,
        Err(e) => {
            eprintln!("cannot read the event {}: {e}", args.event);
            return ExitCode::from(2);
        }
    };
    let env_file = args.env_vars.clone().or_else(|| beside(&args.event, "local/env.json"));
    let file_vars = match env_file.as_deref().map(env_vars) {
        None => Vec::new(),
        Some(Ok(vars)) => vars,
        Some(Err(e)) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    // The file's variables go into the process environment, as SAM puts them into
    // the function's, so that the AWS SDK (Region, endpoints) sees them too. No other
    // thread runs yet: the runtime is single-threaded and nothing has been spawned.
    for (name, value) in &file_vars {
        if std::env::var_os(name).is_none() {
            std::env::set_var(name, value);
        }
    }
    let mut settings = match Settings::from_env() {
        Ok(settings) => settings,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    settings.dry_run |= args.dry_run;
    let invocation = Invocation::new(local_request_id(settings.dry_run), Deadline::after(LOCAL_TIMEOUT));
    let clock = args.now.map_or(Clock::System, Clock::Fixed);
    // A real run never reads the sample files: it would back up what they name.
    let beside_dry = |given: &Option<PathBuf>, name: &str| {
        given
            .clone()
            .or_else(|| settings.dry_run.then(|| beside(&args.event, name)).flatten())
    };
    let mut inventory: Option<Arc<dyn Inventory>> = None;
    if let Some(path) = beside_dry(&args.resources, RESOURCES_FILE) {
        match ResourceFile::open(&path) {
            Ok(found) => {
                tracing::info!(resources_file = %path.display(), "selections find their resources in this file");
                inventory = Some(Arc::new(found));
            }
            Err(e) => {
                eprintln!("{e}");
                return ExitCode::from(2);
            }
        }
    }
    let mut listings: Option<Arc<dyn Listings>> = None;
    if let Some(path) = beside_dry(&args.protected_resources, PROTECTED_FILE) {
        let jobs = beside_dry(&args.backup_jobs, JOBS_FILE);
        match ListingFiles::open(&path, jobs.as_deref(), clock.now()) {
            Ok(files) => {
                let jobs_file = jobs.as_deref().map_or("none".into(), |j| j.display().to_string());
                tracing::info!(protected_resources_file = %path.display(), backup_jobs_file = jobs_file.as_str(), "audits read their listings from these files");
                listings = Some(Arc::new(files));
            }
            Err(e) => {
                eprintln!("{e}");
                return ExitCode::from(2);
            }
        }
    }
    let io = match (settings.dry_run, inventory, listings) {
        // Nothing to read from AWS: no SDK configuration, whose Region lookup would
        // ask EC2's metadata service (a warning, or a wait, off EC2).
        (true, Some(inventory), Some(listings)) => dry_run_io(&settings, inventory, listings),
        (_, inventory, listings) => {
            let config = sdk::config_loader(settings.retry_set_by_user).load().await;
            let mut io = aws_io(&config, &settings);
            io.inventory = inventory.unwrap_or(io.inventory);
            io.listings = listings.unwrap_or(io.listings);
            io
        }
    };
    // The metrics line goes with the log lines, to stderr: stdout holds the answer only.
    let app = app(&settings, io).with_metrics_sink(Sink::Stderr).with_clock(clock);
    run(app, event, &invocation).await
}

/// The resources a dry run of a selection reads, beside the event.
pub const RESOURCES_FILE: &str = "local/resources.json";
/// The protected resources a dry run of an audit reads, beside the event.
pub const PROTECTED_FILE: &str = "local/protected-resources.json";
/// The backup jobs a dry run of an audit reads, beside the event.
pub const JOBS_FILE: &str = "local/backup-jobs.json";

/// `name` in the folder of the event file, when it exists there.
fn beside(event: &str, name: &str) -> Option<PathBuf> {
    if event == "-" {
        return None;
    }
    let path = Path::new(event).parent()?.join(name);
    path.is_file().then_some(path)
}

/// The variables of an env-vars file, in the format of `sam local invoke --env-vars`:
/// `{"Parameters": {...}, "BackupTriggerFunction": {...}}`, the function's own
/// section winning over `Parameters` (which applies to every function).
fn env_vars(path: &Path) -> Result<Vec<(String, String)>, String> {
    let shown = path.display();
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read the env-vars file {shown}: {e}"))?;
    let file: Value = serde_json::from_str(&text).map_err(|e| format!("the env-vars file {shown} is not JSON: {e}"))?;
    let mut vars: Vec<(String, String)> = Vec::new();
    for section in ["Parameters", FUNCTION_ID] {
        let Some(entries) = file.get(section) else {
            continue;
        };
        let Value::Object(entries) = entries else {
            return Err(format!("{shown}: {section} must be an object of variables"));
        };
        for (name, value) in entries {
            let value = match value {
                Value::String(s) => s.clone(),
                Value::Number(_) | Value::Bool(_) => value.to_string(),
                _ => {
                    return Err(format!(
                        "{shown}: {section}.{name} must be a string, a number or a boolean"
                    ))
                }
            };
            vars.retain(|(n, _)| n != name);
            vars.push((name.clone(), value));
        }
    }
    Ok(vars)
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

async fn run(app: App, event: String, invocation: &Invocation) -> ExitCode {
    let answer = handler::handle_text(&Arc::new(app), &event, invocation).await;
    let code = if answer.is_ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    };
    // A closed pipe (`| head`) is not a reason to panic.
    let mut stdout = std::io::stdout().lock();
    let printed = match answer {
        Ok(answer) => serde_json::to_writer_pretty(&mut stdout, &answer),
        Err(error) => serde_json::to_writer_pretty(&mut stdout, &diagnostic(&error)),
    };
    match printed.and_then(|()| writeln!(stdout).map_err(serde_json::Error::io)) {
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

    fn args(words: &[&str]) -> Result<Option<Args>, ()> {
        parse_args(&words.iter().map(|w| w.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn arguments_name_the_event_the_dry_run_and_the_env_file() {
        assert_eq!(
            args(&["e.json", "--env-vars", "env.json", "--dry-run"]),
            Ok(Some(Args {
                event: "e.json".into(),
                dry_run: true,
                env_vars: Some("env.json".into()),
                ..Args::default()
            }))
        );
        assert_eq!(
            args(&[
                "e.json",
                "--resources",
                "r.json",
                "--protected-resources",
                "p.json",
                "--backup-jobs",
                "j.json",
                "--now",
                "2026-11-22T09:00:00Z"
            ]),
            Ok(Some(Args {
                event: "e.json".into(),
                resources: Some("r.json".into()),
                protected_resources: Some("p.json".into()),
                backup_jobs: Some("j.json".into()),
                now: Timestamp::parse_rfc3339("2026-11-22T09:00:00Z"),
                ..Args::default()
            }))
        );
        assert_eq!(args(&["e.json", "--now", "yesterday"]), Err(()), "--now takes RFC 3339");
        assert_eq!(args(&["e.json", "--resources"]), Err(()), "--resources needs a file");
        assert_eq!(args(&["--help"]), Ok(None));
        assert_eq!(args(&[]), Err(()));
        assert_eq!(args(&["e.json", "--env-vars"]), Err(()), "--env-vars needs a file");
        assert_eq!(args(&["a.json", "b.json"]), Err(()));
    }

    #[test]
    fn env_files_read_as_sam_reads_them_the_function_section_winning() {
        let dir = std::env::temp_dir().join(format!("bt-env-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("env.json");
        std::fs::write(
            &file,
            r#"{"Parameters": {"A": "shared", "B": "shared", "N": 5, "T": true},
                "BackupTriggerFunction": {"B": "own"}, "OtherFunction": {"A": "other"}}"#,
        )
        .unwrap();
        let mut vars = env_vars(&file).unwrap();
        vars.sort();
        let expected: Vec<(String, String)> = [("A", "shared"), ("B", "own"), ("N", "5"), ("T", "true")]
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect();
        assert_eq!(vars, expected);

        std::fs::write(&file, r#"{"Parameters": {"A": {"nested": 1}}}"#).unwrap();
        assert!(env_vars(&file).unwrap_err().contains("Parameters.A must be a string"));
        std::fs::write(&file, "not json").unwrap();
        assert!(env_vars(&file).unwrap_err().contains("is not JSON"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_default_env_file_is_found_beside_the_event() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let sample = root.join("events/copy.json");
        assert_eq!(
            beside(sample.to_str().unwrap(), "local/env.json"),
            Some(root.join("events/local/env.json"))
        );
        assert_eq!(beside("-", "local/env.json"), None);
        assert_eq!(
            beside(root.join("Cargo.toml").to_str().unwrap(), "local/env.json"),
            None
        );
    }
}
