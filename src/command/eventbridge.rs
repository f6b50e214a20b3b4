//! EventBridge events: a rule's event whose `detail` is a request or a list, and
//! AWS Backup's own job state changes, which [`outcome`] reads.

use aws_lambda_events::eventbridge::EventBridgeEvent;
use serde::Deserialize;
use serde_json::Value;

use crate::error::{quote_str, PlanError};
use crate::event::{direct, outcome, Origin, Plan, Shape};
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
    if let Some(kind) = outcome::JobKind::of(&parsed.source, &parsed.detail_type) {
        return outcome::plan(kind, &parsed, origin, settings);
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
