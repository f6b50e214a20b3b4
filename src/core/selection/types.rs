//! Which resources AWS Backup can back up, read from their ARN.

use crate::core::request::rules;

/// The AWS Backup resource type of an ARN, or None when AWS Backup cannot back up
/// what it names. From `GetSupportedResourceTypes` and each service's ARN format;
/// docs/reference.md has the same table.
pub fn backup_type(arn: &str) -> Option<&'static str> {
    let parsed = rules::arn(arn).ok()?;
    let resource = parsed.resource;
    let starts = |prefix: &str| resource.len() > prefix.len() && resource.starts_with(prefix);
    match parsed.service {
        // table/NAME; table/NAME/stream/... and table/NAME/index/... are not tables.
        "dynamodb" if starts("table/") && !resource["table/".len()..].contains('/') => Some("DynamoDB"),
        "ec2" if starts("volume/") => Some("EBS"),
        "ec2" if starts("instance/") => Some("EC2"),
        "rds" if starts("db:") => Some("RDS"),
        // Aurora, DocumentDB and Neptune clusters share this ARN; AWS Backup tells
        // them apart by engine.
        "rds" if starts("cluster:") => Some("Aurora"),
        "elasticfilesystem" if starts("file-system/") => Some("EFS"),
        "fsx" if starts("file-system/") || starts("volume/") => Some("FSx"),
        // A bucket: no key, no access point.
        "s3" if !resource.contains('/') && !resource.contains(':') => Some("S3"),
        "redshift" if starts("cluster:") => Some("Redshift"),
        "cloudformation" if starts("stack/") => Some("CloudFormation"),
        "storagegateway" if starts("gateway/") && resource.contains("/volume/") => Some("Storage Gateway"),
        "timestream" if starts("database/") && resource.contains("/table/") => Some("Timestream"),
        "backup-gateway" if starts("vm/") => Some("VirtualMachine"),
        "ssm-sap" if starts("HANA/") => Some("SAP HANA on Amazon EC2"),
        "eks" if starts("cluster/") => Some("EKS"),
        _ => None,
    }
}
