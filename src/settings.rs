//! The function's settings (docs/reference.md, "Settings"), read and checked once at
//! start; the [`Defaults`] the core validates requests with are made from them.

use crate::core::defaults::Defaults;
use crate::core::request::rules;
use crate::io::rate::CallsPerSecond;
use crate::report::metrics::{line_level, DEFAULT_FUNCTION_NAME, DEFAULT_NAMESPACE};

/// A setting (environment variable) that is malformed: the function refuses to start.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("setting {name} is invalid: {problem}")]
pub struct ConfigError {
    pub name: &'static str,
    pub problem: String,
}

/// Calls in flight at once when `MAX_CONCURRENCY` is not set.
pub const DEFAULT_MAX_CONCURRENCY: usize = 8;
/// Upper bound for `MAX_CONCURRENCY`: far above what AWS Backup's rate allows.
pub const MAX_MAX_CONCURRENCY: usize = 100;

/// The longest value of a CloudWatch metric dimension (the embedded metric format's limit).
const MAX_DIMENSION_VALUE: usize = 1024;

/// A CloudWatch namespace: 1 to 255 printable ASCII characters, not starting with `:`,
/// and not AWS's own (`AWS/...`).
fn metrics_namespace(value: &str) -> Result<(), String> {
    if value.len() > 255 || !value.chars().all(|c| c.is_ascii_graphic() || c == ' ') {
        Err("must be 1 to 255 printable ASCII characters (a CloudWatch namespace)".into())
    } else if value.starts_with(':') || value.starts_with("AWS/") {
        Err("must not start with \":\" or \"AWS/\" (namespaces starting AWS/ are AWS's own)".into())
    } else {
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// Default vault for backups and source vault for copies.
    pub backup_vault_name: Option<String>,
    /// Default role passed to AWS Backup.
    pub backup_iam_role_arn: Option<String>,
    /// Default copy destination; target of copies after a completed backup.
    pub copy_destination_vault_arn: Option<String>,
    /// When set, the only vaults a copy may go to.
    pub allowed_destination_vault_arns: Option<Vec<String>>,
    pub max_concurrency: usize,
    /// The most call starts a second of this process; `None`: no cap, the rate is
    /// learned from AWS's answers alone.
    pub max_calls_per_second: Option<CallsPerSecond>,
    pub dry_run: bool,
    /// True when the user chose the SDK's retry behaviour with `AWS_MAX_ATTEMPTS` or
    /// `AWS_RETRY_MODE`; otherwise the function picks adaptive retries.
    pub retry_set_by_user: bool,
    /// The standard SQS queue selections fan out to; None: selections start their
    /// jobs themselves (docs/reference.md, "Selections").
    pub request_queue_url: Option<String>,
    /// `METRICS_NAMESPACE`: the CloudWatch namespace of the metrics.
    pub metrics_namespace: String,
    /// The metrics' `FunctionName` dimension: `AWS_LAMBDA_FUNCTION_NAME`, set by Lambda.
    pub function_name: String,
    /// The `level` of the metrics line, from `AWS_LAMBDA_LOG_LEVEL` (see
    /// [`crate::report::metrics`]).
    pub metrics_level: &'static str,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            backup_vault_name: None,
            backup_iam_role_arn: None,
            copy_destination_vault_arn: None,
            allowed_destination_vault_arns: None,
            max_concurrency: DEFAULT_MAX_CONCURRENCY,
            max_calls_per_second: None,
            dry_run: false,
            retry_set_by_user: false,
            request_queue_url: None,
            metrics_namespace: DEFAULT_NAMESPACE.to_owned(),
            function_name: DEFAULT_FUNCTION_NAME.to_owned(),
            metrics_level: "INFO",
        }
    }
}

impl Settings {
    /// Reads the process environment.
    pub fn from_env() -> Result<Settings, ConfigError> {
        Settings::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads settings through `lookup`. An empty value counts as unset, because SAM
    /// passes an empty parameter as an empty environment variable.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Settings, ConfigError> {
        let get = |name: &str| lookup(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        let checked =
            |name: &'static str, rule: fn(&str) -> Result<(), String>| -> Result<Option<String>, ConfigError> {
                match get(name) {
                    None => Ok(None),
                    Some(value) => match rule(&value) {
                        Ok(()) => Ok(Some(value)),
                        Err(problem) => Err(ConfigError {
                            name,
                            problem: format!("{} {problem}", crate::core::error::quote_str(&value)),
                        }),
                    },
                }
            };

        let backup_vault_name = checked("BACKUP_VAULT_NAME", rules::vault_name)?;
        let backup_iam_role_arn = checked("BACKUP_IAM_ROLE_ARN", rules::iam_role_arn)?;
        let copy_destination_vault_arn = checked("COPY_DESTINATION_VAULT_ARN", rules::backup_vault_arn)?;

        let allowed_destination_vault_arns = match get("ALLOWED_DESTINATION_VAULT_ARNS") {
            None => None,
            Some(list) => {
                let arns: Vec<String> = list
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect();
                for arn in &arns {
                    rules::backup_vault_arn(arn).map_err(|problem| ConfigError {
                        name: "ALLOWED_DESTINATION_VAULT_ARNS",
                        problem: format!(
                            "{} {problem} (the setting is a comma-separated list of vault ARNs)",
                            crate::core::error::quote_str(arn)
                        ),
                    })?;
                }
                if arns.is_empty() {
                    return Err(ConfigError {
                        name: "ALLOWED_DESTINATION_VAULT_ARNS",
                        problem: "names no vault; leave it unset to allow any destination".into(),
                    });
                }
                Some(arns)
            }
        };
        if let (Some(destination), Some(allowed)) = (&copy_destination_vault_arn, &allowed_destination_vault_arns) {
            if !allowed.contains(destination) {
                return Err(ConfigError {
                    name: "COPY_DESTINATION_VAULT_ARN",
                    problem: format!(
                        "{destination} is not in ALLOWED_DESTINATION_VAULT_ARNS; add it there or change it"
                    ),
                });
            }
        }

        let max_concurrency = match get("MAX_CONCURRENCY") {
            None => DEFAULT_MAX_CONCURRENCY,
            Some(text) => match text.parse::<usize>() {
                Ok(n) if (1..=MAX_MAX_CONCURRENCY).contains(&n) => n,
                _ => {
                    return Err(ConfigError {
                        name: "MAX_CONCURRENCY",
                        problem: format!(
                            "{} must be a whole number from 1 to {MAX_MAX_CONCURRENCY}",
                            crate::core::error::quote_str(&text)
                        ),
                    })
                }
            },
        };

        let max_calls_per_second = match get("MAX_CALLS_PER_SECOND") {
            None => None,
            Some(text) => CallsPerSecond::parse(&text).map_err(|problem| ConfigError {
                name: "MAX_CALLS_PER_SECOND",
                problem: format!("{} {problem}", crate::core::error::quote_str(&text)),
            })?,
        };

        let dry_run = match get("DRY_RUN").map(|v| v.to_ascii_lowercase()) {
            None => false,
            Some(v) if v == "true" => true,
            Some(v) if v == "false" => false,
            Some(v) => {
                return Err(ConfigError {
                    name: "DRY_RUN",
                    problem: format!("{} must be true or false", crate::core::error::quote_str(&v)),
                })
            }
        };

        if let Some(text) = get("AWS_MAX_ATTEMPTS") {
            if !text.parse::<u32>().is_ok_and(|n| n >= 1) {
                return Err(ConfigError {
                    name: "AWS_MAX_ATTEMPTS",
                    problem: format!(
                        "{} must be a whole number of at least 1",
                        crate::core::error::quote_str(&text)
                    ),
                });
            }
        }
        if let Some(mode) = get("AWS_RETRY_MODE") {
            if !matches!(mode.to_ascii_lowercase().as_str(), "standard" | "adaptive") {
                return Err(ConfigError {
                    name: "AWS_RETRY_MODE",
                    problem: format!("{} must be standard or adaptive", crate::core::error::quote_str(&mode)),
                });
            }
        }
        let retry_set_by_user = get("AWS_MAX_ATTEMPTS").is_some() || get("AWS_RETRY_MODE").is_some();
        let request_queue_url = checked("REQUEST_QUEUE_URL", queue_url)?;

        let metrics_namespace = match checked("METRICS_NAMESPACE", metrics_namespace)? {
            Some(namespace) => namespace,
            None => DEFAULT_NAMESPACE.to_owned(),
        };
        // Lambda sets the function's name; a longer value than a dimension may hold
        // is not Lambda's, and is cut rather than refused.
        let function_name = get("AWS_LAMBDA_FUNCTION_NAME")
            .map(|name| name.chars().take(MAX_DIMENSION_VALUE).collect())
            .unwrap_or_else(|| DEFAULT_FUNCTION_NAME.to_owned());
        let metrics_level = line_level(get("AWS_LAMBDA_LOG_LEVEL").as_deref());

        Ok(Settings {
            backup_vault_name,
            backup_iam_role_arn,
            copy_destination_vault_arn,
            allowed_destination_vault_arns,
            max_concurrency,
            max_calls_per_second,
            dry_run,
            retry_set_by_user,
            request_queue_url,
            metrics_namespace,
            function_name,
            metrics_level,
        })
    }

    /// What requests fall back on: the default vault, role and copy destination,
    /// and the copy allow-list.
    pub fn defaults(&self) -> Defaults {
        Defaults {
            vault: self.backup_vault_name.clone(),
            role: self.backup_iam_role_arn.clone(),
            copy_destination: self.copy_destination_vault_arn.clone(),
            allowed_destinations: self.allowed_destination_vault_arns.clone(),
        }
    }
}

/// A standard SQS queue's URL: `https://HOST/ACCOUNT/NAME` (http for a local
/// endpoint). A FIFO queue is refused: fan-out messages need no order, and a FIFO
/// queue's consumers would stop at the first failed message.
fn queue_url(url: &str) -> Result<(), String> {
    let rest = url.strip_prefix("https://").or_else(|| url.strip_prefix("http://"));
    let Some((host, path)) = rest.and_then(|r| r.split_once('/')) else {
        return Err("is not a queue URL (https://sqs.REGION.amazonaws.com/ACCOUNT/NAME)".into());
    };
    let name = path.trim_end_matches('/').rsplit('/').next().unwrap_or("");
    if host.is_empty() || name.is_empty() || url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("is not a queue URL (https://sqs.REGION.amazonaws.com/ACCOUNT/NAME)".into());
    }
    if name.ends_with(".fifo") {
        return Err("names a FIFO queue; selections fan out to a standard queue".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn settings(pairs: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let env: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Settings::from_lookup(|name| env.get(name).cloned())
    }

    const VAULT_A: &str = "arn:aws:backup:eu-west-1:123456789012:backup-vault:VaultA";
    const VAULT_B: &str = "arn:aws:backup:eu-west-1:123456789012:backup-vault:VaultB";

    #[test]
    fn nothing_set_gives_defaults() {
        assert_eq!(settings(&[]).unwrap(), Settings::default());
    }

    #[test]
    fn empty_values_count_as_unset() {
        let s = settings(&[
            ("BACKUP_VAULT_NAME", ""),
            ("MAX_CONCURRENCY", ""),
            ("ALLOWED_DESTINATION_VAULT_ARNS", " "),
        ])
        .unwrap();
        assert_eq!(s, Settings::default());
    }

    #[test]
    fn every_setting_is_read() {
        let s = settings(&[
            ("BACKUP_VAULT_NAME", "Main"),
            ("BACKUP_IAM_ROLE_ARN", "arn:aws:iam::123456789012:role/Backup"),
            ("COPY_DESTINATION_VAULT_ARN", VAULT_A),
            ("ALLOWED_DESTINATION_VAULT_ARNS", &format!("{VAULT_A}, {VAULT_B}")),
            ("MAX_CONCURRENCY", "3"),
            ("MAX_CALLS_PER_SECOND", "5"),
            ("DRY_RUN", "TRUE"),
        ])
        .unwrap();
        assert_eq!(s.backup_vault_name.as_deref(), Some("Main"));
        assert_eq!(
            s.backup_iam_role_arn.as_deref(),
            Some("arn:aws:iam::123456789012:role/Backup")
        );
        assert_eq!(s.copy_destination_vault_arn.as_deref(), Some(VAULT_A));
        assert_eq!(
            s.allowed_destination_vault_arns,
            Some(vec![VAULT_A.to_owned(), VAULT_B.to_owned()])
        );
        assert_eq!(s.max_concurrency, 3);
        assert_eq!(s.max_calls_per_second, CallsPerSecond::new(5.0));
        assert!(s.dry_run);
        assert!(s.defaults().allows(VAULT_B));
        assert!(!s
            .defaults()
            .allows("arn:aws:backup:eu-west-1:999999999999:backup-vault:Evil"));
    }

    #[test]
    fn malformed_settings_name_themselves() {
        for (name, value) in [
            ("BACKUP_VAULT_NAME", "my vault"),
            ("BACKUP_IAM_ROLE_ARN", "BackupRole"),
            ("COPY_DESTINATION_VAULT_ARN", "arn:aws:s3:::bucket"),
            (
                "ALLOWED_DESTINATION_VAULT_ARNS",
                "arn:aws:backup:eu-west-1:123456789012:backup-vault:A,nope",
            ),
            ("MAX_CONCURRENCY", "0"),
            ("MAX_CONCURRENCY", "101"),
            ("MAX_CONCURRENCY", "eight"),
            ("MAX_CALLS_PER_SECOND", "-1"),
            ("MAX_CALLS_PER_SECOND", "1001"),
            ("MAX_CALLS_PER_SECOND", "2,5"),
            ("MAX_CALLS_PER_SECOND", "five"),
            ("MAX_CALLS_PER_SECOND", "NaN"),
            ("MAX_CALLS_PER_SECOND", "inf"),
            ("MAX_CALLS_PER_SECOND", "1e2"),
            ("MAX_CALLS_PER_SECOND", "0.001"),
            ("MAX_CALLS_PER_SECOND", "."),
            ("DRY_RUN", "yes"),
            ("AWS_MAX_ATTEMPTS", "0"),
            ("AWS_RETRY_MODE", "legacy"),
            ("ALLOWED_DESTINATION_VAULT_ARNS", ",,"),
            ("METRICS_NAMESPACE", "AWS/Backup"),
            ("METRICS_NAMESPACE", ":ns"),
            ("METRICS_NAMESPACE", "tab\there"),
            ("METRICS_NAMESPACE", &"n".repeat(256)),
        ] {
            let err = settings(&[(name, value)]).unwrap_err();
            assert_eq!(err.name, name);
            assert!(
                err.to_string().starts_with(&format!("setting {name} is invalid")),
                "{err}"
            );
        }
        assert!(settings(&[("MAX_CONCURRENCY", "1")]).is_ok());
        assert!(settings(&[("MAX_CONCURRENCY", "100")]).is_ok());
    }

    #[test]
    fn the_request_queue_is_a_standard_queue_url() {
        let url = "https://sqs.eu-west-1.amazonaws.com/123456789012/backup-requests";
        assert_eq!(
            settings(&[("REQUEST_QUEUE_URL", url)])
                .unwrap()
                .request_queue_url
                .as_deref(),
            Some(url)
        );
        assert!(settings(&[("REQUEST_QUEUE_URL", "http://127.0.0.1:4566/000000000000/q")]).is_ok());
        assert_eq!(settings(&[]).unwrap().request_queue_url, None);
        for bad in [
            "arn:aws:sqs:eu-west-1:123456789012:backup-requests",
            "sqs.eu-west-1.amazonaws.com/123456789012/q",
            "https://sqs.eu-west-1.amazonaws.com/",
            "https:///123456789012/q",
            "https://sqs.eu-west-1.amazonaws.com/123456789012/requests.fifo",
        ] {
            let error = settings(&[("REQUEST_QUEUE_URL", bad)]).unwrap_err();
            assert_eq!(error.name, "REQUEST_QUEUE_URL", "{bad}");
        }
        let error = settings(&[("REQUEST_QUEUE_URL", "https://sqs.eu-west-1.amazonaws.com/1/q.fifo")]).unwrap_err();
        assert!(error.to_string().contains("FIFO"), "{error}");
    }

    #[test]
    fn metrics_settings_are_read_with_their_defaults() {
        let s = settings(&[]).unwrap();
        assert_eq!(
            (s.metrics_namespace.as_str(), s.function_name.as_str(), s.metrics_level),
            ("BackupTrigger", "backup-trigger", "INFO")
        );
        let s = settings(&[
            ("METRICS_NAMESPACE", "Team/Backups"),
            ("AWS_LAMBDA_FUNCTION_NAME", "prod-backup-trigger"),
            ("AWS_LAMBDA_LOG_LEVEL", "error"),
        ])
        .unwrap();
        assert_eq!(
            (s.metrics_namespace.as_str(), s.function_name.as_str(), s.metrics_level),
            ("Team/Backups", "prod-backup-trigger", "ERROR")
        );
        let long = settings(&[("AWS_LAMBDA_FUNCTION_NAME", &"f".repeat(2000))]).unwrap();
        assert_eq!(long.function_name.len(), 1024);
    }

    #[test]
    fn copy_destination_must_be_allowed() {
        let err = settings(&[
            ("COPY_DESTINATION_VAULT_ARN", VAULT_A),
            ("ALLOWED_DESTINATION_VAULT_ARNS", VAULT_B),
        ])
        .unwrap_err();
        assert_eq!(err.name, "COPY_DESTINATION_VAULT_ARN");
    }

    #[test]
    fn retry_settings_are_the_users_when_set() {
        assert!(!settings(&[]).unwrap().retry_set_by_user);
        assert!(settings(&[("AWS_MAX_ATTEMPTS", "3")]).unwrap().retry_set_by_user);
        assert!(settings(&[("AWS_RETRY_MODE", "standard")]).unwrap().retry_set_by_user);
    }

    #[test]
    fn max_calls_per_second_is_a_decimal_and_zero_means_no_cap() {
        let rate = |text: &str| settings(&[("MAX_CALLS_PER_SECOND", text)]).map(|s| s.max_calls_per_second);
        assert_eq!(rate("2.5").unwrap(), CallsPerSecond::new(2.5));
        assert_eq!(rate("5").unwrap(), CallsPerSecond::new(5.0));
        assert_eq!(rate(" 0.5 ").unwrap(), CallsPerSecond::new(0.5));
        assert_eq!(rate("1000").unwrap(), CallsPerSecond::new(1000.0));
        assert_eq!(rate("0").unwrap(), None);
        assert_eq!(rate("0.0").unwrap(), None);
        let err = rate("2,5").unwrap_err();
        assert_eq!(
            err.to_string(),
            "setting MAX_CALLS_PER_SECOND is invalid: \"2,5\" must be a decimal number of calls a second from 0.01 to 1000 (such as 2.5), or 0 for no cap"
        );
    }
}
