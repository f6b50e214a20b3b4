//! Idempotency tokens derived from where a request came from (docs/reference.md,
//! "Idempotency"), so that a redelivered or retried event can never start a second
//! job; and the source id they are derived from.

use uuid::Uuid;

/// The UUIDv5 namespace of backup-trigger's tokens. Never change it: every token
/// derived before the change would differ from the same token derived after it.
const NAMESPACE: Uuid = Uuid::from_u128(0x6f1c_2b0e_8a57_4d3c_9e1a_b4f2_7c3d_5a10);

/// Where the source id of an event came from, first found in this order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceKind {
    IdempotencyKey,
    SqsMessageId,
    EventBridgeId,
    LambdaRequestId,
}

impl SourceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SourceKind::IdempotencyKey => "IdempotencyKey",
            SourceKind::SqsMessageId => "messageId",
            SourceKind::EventBridgeId => "eventId",
            SourceKind::LambdaRequestId => "requestId",
        }
    }
}

/// The id that makes an event's tokens stable across redeliveries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceId {
    pub kind: SourceKind,
    pub value: String,
}

impl SourceId {
    /// The token of the request at `position` in the event: UUIDv5 of (source id, position).
    pub fn token(&self, position: usize) -> String {
        // The position has no newline, so the name splits back into one (id, position) pair:
        // two different pairs never share a name.
        let name = format!("{}\n{position}", self.value);
        Uuid::new_v5(&NAMESPACE, name.as_bytes()).to_string()
    }

    /// The token of a resource found by a selection: UUIDv5 of (source id, resource
    /// ARN), the same in whatever order the resources are listed (section 4).
    pub fn resource_token(&self, resource_arn: &str) -> String {
        // An ARN starts with "arn:", a position is digits: no resource's name is a
        // position's. An ARN has no newline, so the name splits back at its last
        // newline into one (id, ARN) pair.
        let name = format!("{}\n{resource_arn}", self.value);
        Uuid::new_v5(&NAMESPACE, name.as_bytes()).to_string()
    }
}

/// What is known of an event's delivery, beyond the event itself: where its tokens
/// come from when it has no key of its own, and what its log lines are correlated by.
#[derive(Debug, Clone, Copy)]
pub struct Origin<'a> {
    /// The Lambda request id (kept by AWS across retries of an asynchronous invocation).
    pub request_id: &'a str,
    /// The SQS message id, when the event is an SQS message's body.
    pub message_id: Option<&'a str>,
}

impl Origin<'_> {
    /// The source id of an event: the first found of its `IdempotencyKey`, the SQS
    /// message id, the EventBridge event id and the Lambda request id.
    pub fn source_id(&self, key: Option<&str>, event_id: Option<&str>) -> SourceId {
        let (kind, value) = match (key, self.message_id, event_id) {
            (Some(key), _, _) => (SourceKind::IdempotencyKey, key),
            (None, Some(message_id), _) => (SourceKind::SqsMessageId, message_id),
            (None, None, Some(event_id)) => (SourceKind::EventBridgeId, event_id),
            (None, None, None) => (SourceKind::LambdaRequestId, self.request_id),
        };
        SourceId {
            kind,
            value: value.to_owned(),
        }
    }

    /// The source id of an event that could not be read: the message id, else the
    /// request id.
    pub fn fallback_source_id(&self) -> SourceId {
        self.source_id(None, None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(value: &str) -> SourceId {
        SourceId {
            kind: SourceKind::SqsMessageId,
            value: value.to_owned(),
        }
    }

    #[test]
    fn tokens_are_pinned_uuid_v5() {
        let token = id("059f36b4-87a3-44ab-83d2-661975830a7d").token(0);
        let parsed = Uuid::parse_str(&token).unwrap();
        assert_eq!(parsed.get_version_num(), 5);
        // Pinned as a literal: a change to the namespace or to how the name is built
        // would make every event redelivered across a deployment start a second job.
        assert_eq!(token, "7426533a-0d7d-59d1-93a7-f49d0cd4ba4e");
    }

    #[test]
    fn tokens_differ_by_position_and_by_source() {
        assert_ne!(id("m").token(0), id("m").token(1));
        assert_ne!(id("m1").token(0), id("m2").token(0));
        assert_ne!(id("a\n1").token(2), id("a").token(12));
    }

    #[test]
    fn resource_tokens_depend_on_the_source_and_the_arn_only() {
        let arn = "arn:aws:dynamodb:eu-west-1:123456789012:table/orders";
        assert_ne!(id("k").resource_token(arn), id("j").resource_token(arn));
        assert_ne!(id("k").resource_token(arn), id("k").resource_token(&format!("{arn}2")));
        assert_ne!(id("k").resource_token(arn), id("k").token(0));
        // Pinned as a literal: a change here would give a redelivered selection
        // new tokens.
        assert_eq!(id("k").resource_token(arn), "0d81d0e7-96c0-5236-8c3e-aebc94bdc4c7");
        assert_eq!(
            Uuid::parse_str(&id("k").resource_token(arn)).unwrap().get_version_num(),
            5
        );
    }

    #[test]
    fn the_kind_of_source_does_not_change_the_token() {
        let key = SourceId {
            kind: SourceKind::IdempotencyKey,
            value: "k".into(),
        };
        assert_eq!(key.token(3), id("k").token(3));
    }
}
