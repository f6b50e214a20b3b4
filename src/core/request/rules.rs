//! The field rules of the AWS Backup API (StartBackupJob, StartCopyJob, 2018-11-15),
//! each a small function that says what is wrong, or nothing.

/// The longest ARN accepted. AWS ARNs are far shorter; this bounds hostile input.
pub const MAX_ARN_LEN: usize = 2048;
/// Start window bounds, in minutes (AWS: at least 60, at most 100 years).
pub const START_WINDOW: (i64, i64) = (60, 52_560_000);
/// Complete window bounds, in minutes.
pub const COMPLETE_WINDOW: (i64, i64) = (1, 52_560_000);
/// Lifecycle day counts (1 day to 100 years).
pub const LIFECYCLE_DAYS: (i64, i64) = (1, 36_500);
/// Minimum days between cold storage and deletion.
pub const COLD_STORAGE_MINIMUM_DAYS: i64 = 90;
pub const MAX_TAGS: usize = 50;
pub const MAX_TAG_KEY_CHARS: usize = 128;
pub const MAX_TAG_VALUE_CHARS: usize = 256;
/// Not an AWS limit: bounds hostile input. No backup option has more than a few keys.
pub const MAX_BACKUP_OPTIONS: usize = 50;
/// Not an AWS limit (AWS sets none): bounds hostile input.
pub const MAX_TOKEN_CHARS: usize = 500;

/// `^[a-zA-Z0-9\-\_]{2,50}$`, the rule for `BackupVaultName` and `SourceBackupVaultName`.
pub fn vault_name(name: &str) -> Result<(), String> {
    let ok = (2..=50).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err("must be 2 to 50 letters, digits, hyphens or underscores (^[a-zA-Z0-9\\-\\_]{2,50}$)".into())
    }
}

/// `^[a-zA-Z0-9\-\_\.]{1,50}$`, the rule for `BackupOptions` keys and values.
pub fn backup_option(text: &str) -> Result<(), String> {
    let ok = (1..=50).contains(&text.len())
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.');
    if ok {
        Ok(())
    } else {
        Err("must be 1 to 50 letters, digits, hyphens, underscores or dots (^[a-zA-Z0-9\\-\\_\\.]{1,50}$)".into())
    }
}

/// The parts of `arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE`.
#[derive(Debug, PartialEq, Eq)]
pub struct Arn<'a> {
    pub partition: &'a str,
    pub service: &'a str,
    pub region: &'a str,
    pub account: &'a str,
    pub resource: &'a str,
}

const ARN_SHAPE: &str = "must be an ARN: arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE";

/// Any well-formed ARN. Region and account may be empty (IAM, S3), as AWS allows.
pub fn arn(text: &str) -> Result<Arn<'_>, String> {
    if text.len() > MAX_ARN_LEN {
        return Err(format!("is longer than {MAX_ARN_LEN} characters; {ARN_SHAPE}"));
    }
    let mut parts = text.splitn(6, ':');
    let (Some("arn"), Some(partition), Some(service), Some(region), Some(account), Some(resource)) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return Err(ARN_SHAPE.into());
    };
    let word = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    if !word(partition) || !word(service) {
        return Err(format!(
            "{ARN_SHAPE} (partition and service are letters, digits and hyphens)"
        ));
    }
    if !region.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
        return Err(format!("{ARN_SHAPE} (the region is letters, digits and hyphens)"));
    }
    if !account.is_empty() && !is_account(account) {
        return Err(format!("{ARN_SHAPE} (the account is 12 digits)"));
    }
    if resource.is_empty() || resource.chars().any(char::is_control) {
        return Err(format!(
            "{ARN_SHAPE} (the resource is missing or has control characters)"
        ));
    }
    Ok(Arn {
        partition,
        service,
        region,
        account,
        resource,
    })
}

fn is_account(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

/// An IAM role: `arn:PARTITION:iam::ACCOUNT:role/NAME`.
pub fn iam_role_arn(text: &str) -> Result<(), String> {
    const SHAPE: &str = "must be an IAM role ARN: arn:aws:iam::123456789012:role/NAME";
    let parsed = arn(text).map_err(|_| SHAPE.to_owned())?;
    let name = parsed.resource.strip_prefix("role/").unwrap_or("");
    let name_ok = !name.is_empty() && name.len() <= 512;
    if parsed.service == "iam" && parsed.region.is_empty() && is_account(parsed.account) && name_ok {
        Ok(())
    } else {
        Err(SHAPE.into())
    }
}

/// A backup vault: `arn:PARTITION:backup:REGION:ACCOUNT:backup-vault:NAME`.
pub fn backup_vault_arn(text: &str) -> Result<(), String> {
    const SHAPE: &str = "must be a backup vault ARN: arn:aws:backup:REGION:123456789012:backup-vault:NAME";
    let parsed = arn(text).map_err(|_| SHAPE.to_owned())?;
    let name = parsed.resource.strip_prefix("backup-vault:").unwrap_or("");
    let ok = parsed.service == "backup"
        && !parsed.region.is_empty()
        && is_account(parsed.account)
        && vault_name(name).is_ok();
    if ok {
        Ok(())
    } else {
        Err(SHAPE.into())
    }
}

/// The vault name at the end of a backup vault ARN, if it is one.
pub fn vault_name_of_arn(text: &str) -> Option<&str> {
    backup_vault_arn(text).ok()?;
    text.rsplit(':').next()
}

/// A whole number within `[min, max]`.
pub fn within(value: i64, (min, max): (i64, i64)) -> Result<(), String> {
    if value < min {
        Err(format!("{value} is below the minimum of {min}"))
    } else if value > max {
        Err(format!("{value} is above the maximum of {max}"))
    } else {
        Ok(())
    }
}

/// A `RecoveryPointTags` key. Never quote a tag value: tag values are sensitive.
pub fn tag_key(key: &str) -> Result<(), String> {
    let chars = key.chars().count();
    if !(1..=MAX_TAG_KEY_CHARS).contains(&chars) {
        return Err(format!("a tag key must be 1 to {MAX_TAG_KEY_CHARS} characters"));
    }
    if key.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("aws:")) {
        return Err("a tag key must not start with \"aws:\", which AWS reserves".into());
    }
    Ok(())
}

/// A `RecoveryPointTags` value. The message never contains the value.
pub fn tag_value(value: &str) -> Result<(), String> {
    if value.chars().count() > MAX_TAG_VALUE_CHARS {
        Err(format!("the value is longer than {MAX_TAG_VALUE_CHARS} characters"))
    } else {
        Ok(())
    }
}

/// A non-empty, bounded string, for `IdempotencyToken` and `IdempotencyKey`.
pub fn non_empty_bounded(text: &str) -> Result<(), String> {
    if text.is_empty() {
        Err("must not be empty".into())
    } else if text.chars().count() > MAX_TOKEN_CHARS {
        Err(format!("must be at most {MAX_TOKEN_CHARS} characters"))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vault_names_follow_the_aws_pattern() {
        for good in ["ab", "Default", "my-vault_2", &"v".repeat(50)] {
            assert!(vault_name(good).is_ok(), "{good}");
        }
        for bad in ["", "a", &"v".repeat(51), "my vault", "vault.name", "vault/1", "väult"] {
            assert!(vault_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn backup_options_follow_the_aws_pattern() {
        for good in ["WindowsVSS", "enabled", "a", "1.0", &"o".repeat(50)] {
            assert!(backup_option(good).is_ok(), "{good}");
        }
        for bad in ["", &"o".repeat(51), "a b", "x=y", "ü"] {
            assert!(backup_option(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn arns_have_six_parts() {
        let parsed = arn("arn:aws:ec2:eu-west-1:123456789012:volume/vol-1").unwrap();
        assert_eq!(parsed.service, "ec2");
        assert_eq!(parsed.resource, "volume/vol-1");
        assert!(
            arn("arn:aws:s3:::my-bucket").is_ok(),
            "S3 ARNs have no region or account"
        );
        assert!(arn("arn:aws:dynamodb:us-east-1:123456789012:table/t:with:colons").is_ok());
        for bad in [
            "",
            "vol-1",
            "arn:aws:ec2",
            "arn:aws:ec2:eu-west-1:123456789012:",
            "arn::ec2:eu-west-1:123456789012:volume/v",
            "arn:aws::eu-west-1:123456789012:volume/v",
            "arn:aws:ec2:eu-west-1:12345:volume/v",
            "arn:aws:ec2:eu west:123456789012:volume/v",
            "ARN:aws:ec2:eu-west-1:123456789012:volume/v",
            "arn:aws:ec2:eu-west-1:123456789012:volume/v\n",
        ] {
            assert!(arn(bad).is_err(), "{bad:?}");
        }
        let longest = format!("arn:aws:s3:::{}", "b".repeat(MAX_ARN_LEN - 13));
        assert_eq!(longest.len(), MAX_ARN_LEN);
        assert!(arn(&longest).is_ok());
        assert!(arn(&format!("{longest}b")).is_err());
    }

    #[test]
    fn iam_role_arns_name_a_role() {
        assert!(iam_role_arn("arn:aws:iam::123456789012:role/BackupRole").is_ok());
        assert!(iam_role_arn("arn:aws-cn:iam::123456789012:role/service-role/Backup").is_ok());
        for bad in [
            "arn:aws:iam::123456789012:user/Bob",
            "arn:aws:iam::123456789012:role/",
            "arn:aws:iam:us-east-1:123456789012:role/R",
            "arn:aws:sts::123456789012:role/R",
            "arn:aws:iam:::role/R",
            "BackupRole",
        ] {
            assert!(iam_role_arn(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn backup_vault_arns_name_a_vault() {
        assert!(backup_vault_arn("arn:aws:backup:eu-west-1:123456789012:backup-vault:Vault-1").is_ok());
        for bad in [
            "arn:aws:backup:eu-west-1:123456789012:recovery-point:abc",
            "arn:aws:backup::123456789012:backup-vault:Vault",
            "arn:aws:backup:eu-west-1:123456789012:backup-vault:v",
            "arn:aws:s3:eu-west-1:123456789012:backup-vault:Vault",
            "arn:aws:backup:eu-west-1:123456789012:backup-vault:",
        ] {
            assert!(backup_vault_arn(bad).is_err(), "{bad}");
        }
        assert_eq!(
            vault_name_of_arn("arn:aws:backup:eu-west-1:123456789012:backup-vault:Main"),
            Some("Main")
        );
        assert_eq!(vault_name_of_arn("Main"), None);
    }

    #[test]
    fn ranges_are_inclusive() {
        assert!(within(60, START_WINDOW).is_ok());
        assert_eq!(within(59, START_WINDOW).unwrap_err(), "59 is below the minimum of 60");
        assert!(within(52_560_000, START_WINDOW).is_ok());
        assert_eq!(
            within(52_560_001, START_WINDOW).unwrap_err(),
            "52560001 is above the maximum of 52560000"
        );
    }

    #[test]
    fn tag_rules() {
        assert!(tag_key("k").is_ok());
        assert!(tag_key(&"k".repeat(128)).is_ok());
        assert!(tag_key(&"é".repeat(128)).is_ok(), "characters, not bytes");
        assert!(tag_key("").is_err());
        assert!(tag_key(&"k".repeat(129)).is_err());
        assert!(tag_key("aws:createdBy").is_err());
        assert!(tag_key("AWS:x").is_err());
        assert!(tag_key("awsome").is_ok());
        assert!(tag_value("").is_ok());
        assert!(tag_value(&"v".repeat(256)).is_ok());
        let err = tag_value(&"secret".repeat(50)).unwrap_err();
        assert!(!err.contains("secret"), "a tag value never appears in a message");
    }

    #[test]
    fn tokens_are_non_empty_and_bounded() {
        assert!(non_empty_bounded("t").is_ok());
        assert!(non_empty_bounded(&"t".repeat(MAX_TOKEN_CHARS)).is_ok());
        assert!(non_empty_bounded("").is_err());
        assert!(non_empty_bounded(&"t".repeat(MAX_TOKEN_CHARS + 1)).is_err());
    }
}
