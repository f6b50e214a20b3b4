//! EventBridge events: a rule's event whose `detail` is a request or a list, and
//! AWS Backup's own "Backup Job State Change", which asks for a copy of a completed
//! backup's recovery point.

use aws_lambda_events::eventbridge::EventBridgeEvent;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::error::{quote_str, Invalid, PlanError};
use crate::event::{direct, source_id, Origin, Plan, Shape};
use crate::request::{kind_of, validate};
use crate::settings::Settings;

pub fn plan(event: &Value, origin: &Origin, settings: &Settings) -> Result<Plan, PlanError> {
    let parsed = EventBridgeEvent::<Value>::deserialize(event).map_err(|e| {
        PlanError::invalid(
            "",
            format!(
                "an EventBridge event needs \"detail-type\", \"source\" and \"detail\": {}",
                crate::error::cut(&e.to_string())
            ),
        )
    })?;
    if parsed.source == "aws.backup" && parsed.detail_type == "Backup Job State Change" {
        return backup_state_change(&parsed, origin, settings);
    }
    let empty = match &parsed.detail {
        Value::Null => true,
        Value::Object(map) => map.is_empty(),
        _ => false,
    };
    if empty {
        return Err(PlanError::invalid(
            "detail",
            format!(
                "is empty: a {} event from {} carries no request. Set the target's input (Input, or an input transformer) to a backup request or a list",
                quote_str(&parsed.detail_type),
                quote_str(&parsed.source)
            ),
        ));
    }
    let mut plan = direct::plan(
        &parsed.detail,
        origin,
        parsed.id.as_deref().filter(|id| !id.is_empty()),
        settings,
    )
    .map_err(within_detail)?;
    plan.shape = Shape::EventBridge;
    Ok(plan)
}

fn within_detail(error: PlanError) -> PlanError {
    match error {
        PlanError::Validation(problems) => {
            PlanError::Validation(problems.into_iter().map(|p| p.within("detail")).collect())
        }
        other => other,
    }
}

/// A completed backup: copy its recovery point to `COPY_DESTINATION_VAULT_ARN`.
/// AWS sends some numbers as strings and adds fields over time, so only the fields
/// read here are looked at.
fn backup_state_change(
    event: &EventBridgeEvent<Value>,
    origin: &Origin,
    settings: &Settings,
) -> Result<Plan, PlanError> {
    let source = source_id(None, origin, event.id.as_deref().filter(|id| !id.is_empty()));
    let Value::Object(detail) = &event.detail else {
        return Err(PlanError::invalid(
            "detail",
            format!("must be an object, not {}", kind_of(&event.detail)),
        ));
    };
    let text = |name: &str| detail.get(name).and_then(Value::as_str).filter(|s| !s.is_empty());

    let state = text("state");
    if state != Some("COMPLETED") {
        let state = state.map(quote_str).unwrap_or_else(|| "missing".to_owned());
        return Ok(Plan {
            shape: Shape::BackupStateChange,
            source,
            jobs: Vec::new(),
            skipped: Some(format!("backup job state is {state}; only COMPLETED starts a copy")),
        });
    }
    if settings.backup_iam_role_arn.is_none() {
        return Err(PlanError::Config(
            "a completed backup asks for a copy, but BACKUP_IAM_ROLE_ARN is not set: the copy needs a role for AWS Backup; set it on the function".into(),
        ));
    }
    if settings.copy_destination_vault_arn.is_none() {
        return Err(PlanError::Config(
            "a completed backup asks for a copy, but COPY_DESTINATION_VAULT_ARN is not set: set it on the function, or stop routing aws.backup events to it".into(),
        ));
    }

    // AWS puts the recovery point in resources[0]; detail.recoveryPointArn is the fallback.
    let recovery_point = match event.resources.as_deref() {
        Some([first, ..]) => Some(first.as_str()),
        _ => text("recoveryPointArn"),
    };
    let vault = text("backupVaultName").or_else(|| text("backupVaultArn").and_then(|arn| arn.rsplit(':').next()));

    let mut problems = Vec::new();
    if recovery_point.is_none() {
        problems.push(Invalid::new(
            "resources",
            "is empty and detail.recoveryPointArn is missing: no recovery point to copy",
        ));
    }
    if vault.is_none() {
        problems.push(Invalid::new(
            "detail",
            "has neither backupVaultName nor backupVaultArn: the source vault is unknown",
        ));
    }
    if !problems.is_empty() {
        return Err(PlanError::Validation(problems));
    }
    let request = json!({
        "Action": "StartCopyJob",
        "RecoveryPointArn": recovery_point,
        "SourceBackupVaultName": vault,
    });
    let job = validate(&request, &[], settings, &source.token(0))
        .map_err(|problems| PlanError::Validation(problems.into_iter().map(|p| p.within("copy")).collect()))?;
    Ok(Plan {
        shape: Shape::BackupStateChange,
        source,
        jobs: vec![job],
        skipped: None,
    })
}
