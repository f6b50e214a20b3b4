//! Reads a request object as users write it and builds the [`Job`] it asks for,
//! collecting every problem rather than stopping at the first. A child of
//! `request`, so it alone can build a `Job` (whose fields are private).

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::{
    kind_of, request_fields, rules, Action, BackupJob, CopyJob, Index, Job, Lifecycle, Tags, BACKUP_FIELDS,
    COPY_FIELDS, LIFECYCLE_FIELDS,
};
use crate::core::defaults::Defaults;
use crate::core::error::{quote, quote_str, Invalid};
use crate::core::suggest::{closest, unknown_field};

/// Turns one request object into a [`Job`], or says every way in which it is wrong.
///
/// `ignored` names event-level keys that may sit beside the request's fields (the
/// `IdempotencyKey` of a bare request); they are also offered as "did you mean"
/// hints. `derived_token` is used when the request has no `IdempotencyToken`.
pub fn validate(
    value: &Value,
    ignored: &[&str],
    defaults: &Defaults,
    derived_token: &str,
) -> Result<Job, Vec<Invalid>> {
    let Value::Object(map) = value else {
        return Err(vec![Invalid::new(
            "",
            format!("a request must be a JSON object, not {}", kind_of(value)),
        )]);
    };
    validate_map(map, ignored, defaults, derived_token)
}

/// [`validate`] of a request already known to be a JSON object.
pub fn validate_map(
    map: &Map<String, Value>,
    ignored: &[&str],
    defaults: &Defaults,
    derived_token: &str,
) -> Result<Job, Vec<Invalid>> {
    let mut r = Reader {
        map,
        errors: Vec::new(),
    };
    r.reject_unknown(ignored);
    let Some(action) = r.action() else {
        return Err(r.errors);
    };
    let (own, foreign) = match action {
        Action::StartBackupJob => (Action::StartBackupJob, COPY_FIELDS),
        Action::StartCopyJob => (Action::StartCopyJob, BACKUP_FIELDS),
    };
    for field in foreign {
        if r.get(field).is_some() {
            r.fail(
                *field,
                format!(
                    "is not allowed in {}: it belongs to {}",
                    own.as_str(),
                    other(own).as_str()
                ),
            );
        }
    }

    let iam_role_arn = r.string_or_default(
        "IamRoleArn",
        defaults.role.as_deref(),
        "BACKUP_IAM_ROLE_ARN",
        rules::iam_role_arn,
    );
    let idempotency_token = match r.string("IdempotencyToken") {
        Some(token) => r
            .check("IdempotencyToken", rules::non_empty_bounded(token))
            .then(|| token.to_owned()),
        None => Some(derived_token.to_owned()),
    };
    let lifecycle = r.lifecycle(action);

    // Every field is read (and every problem collected) before the job is built;
    // a required field that is missing has recorded its problem, so `?` only ever
    // returns where `r.errors` says why.
    let job = match action {
        Action::StartBackupJob => (|| {
            let resource_arn = r.required_arn("ResourceArn");
            let backup_vault_name = r.string_or_default(
                "BackupVaultName",
                defaults.vault.as_deref(),
                "BACKUP_VAULT_NAME",
                rules::vault_name,
            );
            Some(Job::StartBackupJob(BackupJob {
                logically_air_gapped_backup_vault_arn: r
                    .checked_string("LogicallyAirGappedBackupVaultArn", rules::backup_vault_arn),
                start_window_minutes: r.int_within("StartWindowMinutes", rules::START_WINDOW),
                complete_window_minutes: r.int_within("CompleteWindowMinutes", rules::COMPLETE_WINDOW),
                recovery_point_tags: r.tags(),
                backup_options: r.backup_options(),
                index: r.index(),
                lifecycle,
                resource_arn: resource_arn?,
                backup_vault_name: backup_vault_name?,
                iam_role_arn: iam_role_arn?,
                idempotency_token: idempotency_token?,
            }))
        })(),
        Action::StartCopyJob => (|| {
            let recovery_point_arn = r.required_arn("RecoveryPointArn");
            let source_backup_vault_name = r.string_or_default(
                "SourceBackupVaultName",
                defaults.vault.as_deref(),
                "BACKUP_VAULT_NAME",
                rules::vault_name,
            );
            let destination = r.string_or_default(
                "DestinationBackupVaultArn",
                defaults.copy_destination.as_deref(),
                "COPY_DESTINATION_VAULT_ARN",
                rules::backup_vault_arn,
            );
            let destination_backup_vault_arn = destination.filter(|arn| {
                let allowed = defaults.allows(arn);
                if !allowed {
                    r.fail(
                        "DestinationBackupVaultArn",
                        format!(
                            "{} is not in ALLOWED_DESTINATION_VAULT_ARNS, the copy destinations the operator allows",
                            quote_str(arn)
                        ),
                    );
                }
                allowed
            });
            Some(Job::StartCopyJob(CopyJob {
                lifecycle,
                recovery_point_arn: recovery_point_arn?,
                source_backup_vault_name: source_backup_vault_name?,
                destination_backup_vault_arn: destination_backup_vault_arn?,
                iam_role_arn: iam_role_arn?,
                idempotency_token: idempotency_token?,
            }))
        })(),
    };
    match job {
        Some(job) if r.errors.is_empty() => Ok(job),
        _ => Err(r.errors),
    }
}

fn other(action: Action) -> Action {
    match action {
        Action::StartBackupJob => Action::StartCopyJob,
        Action::StartCopyJob => Action::StartBackupJob,
    }
}

/// Reads fields from a request object, collecting every problem rather than the first.
struct Reader<'a> {
    map: &'a Map<String, Value>,
    errors: Vec<Invalid>,
}

impl<'a> Reader<'a> {
    fn fail(&mut self, at: impl Into<String>, problem: impl Into<String>) {
        self.errors.push(Invalid::new(at, problem));
    }

    /// Records a rule's verdict; true when it passed.
    fn check(&mut self, at: &str, verdict: Result<(), String>) -> bool {
        match verdict {
            Ok(()) => true,
            Err(problem) => {
                self.fail(at, problem);
                false
            }
        }
    }

    /// A field's value; JSON `null` counts as absent.
    fn get(&self, name: &str) -> Option<&'a Value> {
        self.map.get(name).filter(|v| !v.is_null())
    }

    fn reject_unknown(&mut self, ignored: &[&str]) {
        let known: Vec<&str> = request_fields().collect();
        let unknown: Vec<&String> = self
            .map
            .keys()
            .filter(|k| !known.contains(&k.as_str()) && !ignored.contains(&k.as_str()))
            .collect();
        // A misspelled event-level key (`IdempotencyKy`) is hinted at too.
        let hints: Vec<&str> = known.iter().chain(ignored).copied().collect();
        for key in unknown.iter().take(10) {
            let problem = if key.as_str() == "IdempotencyKey" {
                "is not a request field: put it beside \"Jobs\" in the list, not in a request".to_owned()
            } else {
                unknown_field(key, &hints, &format!("a request has only these: {}", known.join(", ")))
            };
            self.fail(quote_str(key), problem);
        }
        if unknown.len() > 10 {
            self.fail("", format!("{} more unknown fields", unknown.len() - 10));
        }
    }

    fn action(&mut self) -> Option<Action> {
        let has_resource = self.get("ResourceArn").is_some();
        let has_recovery_point = self.get("RecoveryPointArn").is_some();
        match self.get("Action") {
            Some(Value::String(s)) if s == "StartBackupJob" => Some(Action::StartBackupJob),
            Some(Value::String(s)) if s == "StartCopyJob" => Some(Action::StartCopyJob),
            Some(other) => {
                self.fail(
                    "Action",
                    format!(
                        "{} is not an action; use \"StartBackupJob\" or \"StartCopyJob\"",
                        quote(other)
                    ),
                );
                None
            }
            None => match (has_resource, has_recovery_point) {
                (true, false) => Some(Action::StartBackupJob),
                (false, true) => Some(Action::StartCopyJob),
                (true, true) => {
                    self.fail(
                        "",
                        "has both ResourceArn (a backup) and RecoveryPointArn (a copy); send one, or set Action",
                    );
                    None
                }
                (false, false) => {
                    self.fail(
                        "",
                        "has neither ResourceArn (to start a backup) nor RecoveryPointArn (to start a copy)",
                    );
                    None
                }
            },
        }
    }

    fn string(&mut self, name: &str) -> Option<&'a str> {
        match self.get(name)? {
            Value::String(s) => Some(s),
            other => {
                self.fail(name, format!("must be a string, not {}", kind_of(other)));
                None
            }
        }
    }

    fn checked_string(&mut self, name: &str, rule: fn(&str) -> Result<(), String>) -> Option<String> {
        let s = self.string(name)?;
        match rule(s) {
            Ok(()) => Some(s.to_owned()),
            Err(problem) => {
                self.fail(name, format!("{} {problem}", quote_str(s)));
                None
            }
        }
    }

    /// A field that falls back to a setting; missing from both is an error that names both.
    fn string_or_default(
        &mut self,
        name: &str,
        default: Option<&str>,
        setting: &str,
        rule: fn(&str) -> Result<(), String>,
    ) -> Option<String> {
        if self.get(name).is_some() {
            return self.checked_string(name, rule);
        }
        match default {
            Some(value) => Some(value.to_owned()),
            None => {
                self.fail(
                    name,
                    format!("is required: set it in the request, or set {setting} on the function"),
                );
                None
            }
        }
    }

    fn required_arn(&mut self, name: &str) -> Option<String> {
        if self.get(name).is_none() {
            self.fail(name, "is required");
            return None;
        }
        self.checked_string(name, |s| rules::arn(s).map(|_| ()))
    }

    fn int(&mut self, at: &str, value: &Value) -> Option<i64> {
        match value.as_i64() {
            Some(n) => Some(n),
            None => {
                self.fail(at, format!("{} must be a whole number", quote(value)));
                None
            }
        }
    }

    fn int_within(&mut self, name: &str, range: (i64, i64)) -> Option<i64> {
        let value = self.get(name)?;
        let n = self.int(name, value)?;
        self.check(name, rules::within(n, range)).then_some(n)
    }

    fn object(&mut self, name: &str) -> Option<&'a Map<String, Value>> {
        match self.get(name)? {
            Value::Object(map) => Some(map),
            other => {
                self.fail(name, format!("must be an object, not {}", kind_of(other)));
                None
            }
        }
    }

    fn lifecycle(&mut self, action: Action) -> Option<Lifecycle> {
        let map = self.object("Lifecycle")?;
        let before = self.errors.len();
        for (key, value) in map {
            if key == "DeleteAfterEvent" {
                // Like every field, null counts as absent.
                if !value.is_null() {
                    self.fail(
                        "Lifecycle.DeleteAfterEvent",
                        "is output-only in AWS Backup and cannot be sent; use DeleteAfterDays",
                    );
                }
            } else if !LIFECYCLE_FIELDS.contains(&key.as_str()) {
                let hint = closest(key, LIFECYCLE_FIELDS)
                    .map(|h| format!("; did you mean \"{h}\"?"))
                    .unwrap_or_default();
                self.fail(format!("Lifecycle.{}", quote_str(key)), format!("unknown field{hint}"));
            }
        }
        let day = |this: &mut Self, name: &str| -> Option<i64> {
            let at = format!("Lifecycle.{name}");
            let value = map.get(name).filter(|v| !v.is_null())?;
            this.int(&at, value)
        };
        let cold = day(self, "MoveToColdStorageAfterDays");
        let delete = day(self, "DeleteAfterDays");
        let archive = match map.get("OptInToArchiveForSupportedResources").filter(|v| !v.is_null()) {
            None => None,
            Some(Value::Bool(b)) => Some(*b),
            Some(other) => {
                self.fail(
                    "Lifecycle.OptInToArchiveForSupportedResources",
                    format!("must be true or false, not {}", quote(other)),
                );
                None
            }
        };
        let keep_forever = action == Action::StartCopyJob && cold == Some(-1) && delete == Some(-1);
        if !keep_forever {
            let before_days = self.errors.len();
            for (name, days) in [("MoveToColdStorageAfterDays", cold), ("DeleteAfterDays", delete)] {
                if let Some(days) = days {
                    let verdict = rules::within(days, rules::LIFECYCLE_DAYS).map_err(|e| match (action, days) {
                        (Action::StartCopyJob, -1) => {
                            format!("{e} (-1 removes the lifecycle only when both day counts are -1)")
                        }
                        _ => e,
                    });
                    self.check(&format!("Lifecycle.{name}"), verdict);
                }
            }
            // Compared only when both are within range: out of range, the sum can overflow.
            let in_range = self.errors.len() == before_days;
            if let (Some(cold), Some(delete), true) = (cold, delete, in_range) {
                if delete < cold + rules::COLD_STORAGE_MINIMUM_DAYS {
                    self.fail(
                        "Lifecycle.DeleteAfterDays",
                        format!(
                            "{delete} must be at least MoveToColdStorageAfterDays + {} = {} (recovery points stay in cold storage for at least 90 days)",
                            rules::COLD_STORAGE_MINIMUM_DAYS,
                            cold + rules::COLD_STORAGE_MINIMUM_DAYS
                        ),
                    );
                }
            }
        }
        (self.errors.len() == before).then_some(Lifecycle {
            move_to_cold_storage_after_days: cold,
            delete_after_days: delete,
            opt_in_to_archive_for_supported_resources: archive,
        })
    }

    fn tags(&mut self) -> Option<Tags> {
        let map = self.object("RecoveryPointTags")?;
        if map.len() > rules::MAX_TAGS {
            self.fail(
                "RecoveryPointTags",
                format!("has {} tags; at most {} are allowed", map.len(), rules::MAX_TAGS),
            );
            return None;
        }
        let before = self.errors.len();
        let mut tags = BTreeMap::new();
        for (key, value) in map {
            let at = format!("RecoveryPointTags.{}", quote_str(key));
            self.check(&at, rules::tag_key(key));
            match value {
                // The value is never quoted: tag values are sensitive.
                Value::String(v) => {
                    self.check(&at, rules::tag_value(v));
                    tags.insert(key.clone(), v.clone());
                }
                other => self.fail(at, format!("the value must be a string, not {}", kind_of(other))),
            }
        }
        (self.errors.len() == before).then_some(Tags(tags))
    }

    fn backup_options(&mut self) -> Option<BTreeMap<String, String>> {
        let map = self.object("BackupOptions")?;
        if map.len() > rules::MAX_BACKUP_OPTIONS {
            self.fail(
                "BackupOptions",
                format!(
                    "has {} options; at most {} are accepted",
                    map.len(),
                    rules::MAX_BACKUP_OPTIONS
                ),
            );
            return None;
        }
        let before = self.errors.len();
        let mut options = BTreeMap::new();
        for (key, value) in map {
            let at = format!("BackupOptions.{}", quote_str(key));
            if let Err(problem) = rules::backup_option(key) {
                self.fail(&at, format!("the key {problem}"));
            }
            match value {
                Value::String(v) => match rules::backup_option(v) {
                    Ok(()) => {
                        options.insert(key.clone(), v.clone());
                    }
                    Err(problem) => self.fail(&at, format!("the value {} {problem}", quote_str(v))),
                },
                other => self.fail(&at, format!("the value must be a string, not {}", kind_of(other))),
            }
        }
        (self.errors.len() == before).then_some(options)
    }

    fn index(&mut self) -> Option<Index> {
        match self.string("Index")? {
            "ENABLED" => Some(Index::Enabled),
            "DISABLED" => Some(Index::Disabled),
            other => {
                self.fail(
                    "Index",
                    format!("{} must be \"ENABLED\" or \"DISABLED\"", quote_str(other)),
                );
                None
            }
        }
    }
}
