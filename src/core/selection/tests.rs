//! The rules of docs/reference.md, "Selections", each from both sides.

use proptest::prelude::*;
use serde_json::{json, Value};

use super::*;
use crate::core::defaults::Defaults;
use crate::core::error::Error;
use crate::core::fixtures::{defaults, ROLE};
use crate::core::token::SourceKind;

const TABLE: &str = "arn:aws:dynamodb:eu-west-1:123456789012:table/orders";
const SCRATCH: &str = "arn:aws:dynamodb:eu-west-1:123456789012:table/scratch-1";
const DB: &str = "arn:aws:rds:eu-west-1:123456789012:db:billing";
const VOLUME: &str = "arn:aws:ec2:eu-west-1:123456789012:volume/vol-0123456789abcdef0";
const TOPIC: &str = "arn:aws:sns:eu-west-1:123456789012:alerts";

fn source() -> SourceId {
    SourceId {
        kind: SourceKind::IdempotencyKey,
        value: "nightly/2026-11-22T03:00:00Z".into(),
    }
}

fn parse_event(event: Value) -> Result<Selection, Error> {
    parse(event.as_object().expect("an object"), source(), &defaults())
}

/// The request a selected resource becomes, as the request queue carries it.
fn request_for(selection: &Selection, arn: &str) -> Value {
    serde_json::to_value(selection.job_for(arn).expect("a valid resource")).unwrap()
}

fn selection(inner: Value) -> Selection {
    parse_event(json!({ "Selection": inner })).expect("a valid selection")
}

/// The problems of an invalid event, as "at: problem" lines.
fn problems(event: Value) -> Vec<String> {
    match parse_event(event) {
        Ok(s) => panic!("expected problems, got {s:?}"),
        Err(Error::Validation(problems)) => problems.iter().map(ToString::to_string).collect(),
        Err(other) => panic!("expected validation problems, got {other}"),
    }
}

fn has(problems: &[String], at: &str, words: &str) -> bool {
    problems.iter().any(|p| p.starts_with(at) && p.contains(words))
}

fn resource(arn: &str, tags: &[(&str, &str)]) -> Resource {
    Resource {
        arn: arn.into(),
        tags: tags.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
    }
}

fn tag_condition(key: &str, value: &str) -> Value {
    json!({ "ConditionKey": key, "ConditionValue": value })
}

/// The example selection of docs/reference.md, pasted whole.
fn reference_example() -> Value {
    json!({"Selection": {
       "SelectionName": "nightly-prod",
       "Resources": ["arn:aws:dynamodb:*:*:table/*", "arn:aws:rds:*:*:db:*"],
       "NotResources": ["arn:aws:dynamodb:*:*:table/scratch-*"],
       "ListOfTags": [{"ConditionType": "STRINGEQUALS", "ConditionKey": "backup", "ConditionValue": "nightly"}],
       "Conditions": {"StringEquals": [{"ConditionKey": "aws:ResourceTag/stage", "ConditionValue": "prod"}],
                      "StringNotLike": [{"ConditionKey": "aws:ResourceTag/owner", "ConditionValue": "test-*"}]},
       "IamRoleArn": "arn:aws:iam::123456789012:role/BackupRole"},
     "IdempotencyKey": "nightly/2026-11-22T03:00:00Z",
     "StartWindowMinutes": 60, "Lifecycle": {"DeleteAfterDays": 35}})
}

// ------------------------------------------------------------------ patterns

#[test]
fn a_star_matches_any_run_of_characters_none_included() {
    let p = Pattern::new("arn:aws:dynamodb:*:*:table/*");
    assert!(p.matches(TABLE));
    assert!(p.matches("arn:aws:dynamodb:::table/"));
    assert!(!p.matches(DB));
    assert!(Pattern::new("*").matches(TOPIC));
    assert!(Pattern::new("*").matches(""));
    assert!(Pattern::new("a*b*c").matches("abc"));
    assert!(Pattern::new("a*b*c").matches("a-b-b-c"));
    assert!(!Pattern::new("a*b*c").matches("a-c-b"));
    // The first and last pieces may not overlap.
    assert!(!Pattern::new("ab*ba").matches("aba"));
    assert!(Pattern::new("ab*ba").matches("abba"));
}

#[test]
fn other_characters_are_literal_and_case_sensitive() {
    assert!(Pattern::new(TABLE).matches(TABLE));
    assert!(!Pattern::new(TABLE).matches(&TABLE.to_uppercase()));
    assert!(!Pattern::new("arn:aws:dynamodb:*:*:table/Orders").matches(TABLE));
    // `?`, `.` and `[` are not wildcards.
    assert!(!Pattern::new("arn:aws:dynamodb:*:*:table/order?").matches(TABLE));
    assert!(!Pattern::new("arn:aws:dynamodb:*:*:table/.*").matches(TABLE));
    assert!(Pattern::new("arn:aws:dynamodb:*:*:table/order?").matches("arn:aws:dynamodb:x:y:table/order?"));
}

// ---------------------------------------------------------------- arithmetic

#[test]
fn resources_patterns_are_ored() {
    let s = selection(json!({ "Resources": ["arn:aws:dynamodb:*:*:table/*", "arn:aws:rds:*:*:db:*"] }));
    assert!(matches(&s, &resource(TABLE, &[])));
    assert!(matches(&s, &resource(DB, &[])));
    assert!(!matches(&s, &resource(VOLUME, &[])));
}

#[test]
fn list_of_tags_is_ored_and_ored_with_resources() {
    let s = selection(json!({
        "Resources": [DB],
        "ListOfTags": [
            {"ConditionType": "STRINGEQUALS", "ConditionKey": "backup", "ConditionValue": "nightly"},
            {"ConditionType": "STRINGEQUALS", "ConditionKey": "aws:ResourceTag/tier", "ConditionValue": "gold"}
        ]
    }));
    assert!(matches(&s, &resource(DB, &[])));
    assert!(matches(&s, &resource(VOLUME, &[("backup", "nightly")])));
    assert!(matches(&s, &resource(VOLUME, &[("tier", "gold")])));
    assert!(!matches(
        &s,
        &resource(VOLUME, &[("backup", "weekly"), ("tier", "silver")])
    ));
    assert!(!matches(&s, &resource(VOLUME, &[])));
}

#[test]
fn list_of_tags_compares_exactly_and_case_sensitively() {
    let s = selection(json!({
        "ListOfTags": [{"ConditionType": "STRINGEQUALS", "ConditionKey": "backup", "ConditionValue": "night*"}]
    }));
    assert!(matches(&s, &resource(VOLUME, &[("backup", "night*")])));
    assert!(!matches(&s, &resource(VOLUME, &[("backup", "nightly")])));
    assert!(!matches(&s, &resource(VOLUME, &[("Backup", "night*")])));
    assert!(!matches(&s, &resource(VOLUME, &[("backup", "NIGHT*")])));
}

#[test]
fn every_condition_must_hold() {
    let s = selection(json!({
        "Resources": ["*"],
        "Conditions": {
            "StringEquals": [tag_condition("aws:ResourceTag/stage", "prod")],
            "StringLike": [tag_condition("team", "data-*")]
        }
    }));
    assert!(matches(
        &s,
        &resource(TABLE, &[("stage", "prod"), ("team", "data-eng")])
    ));
    assert!(!matches(&s, &resource(TABLE, &[("stage", "prod"), ("team", "web")])));
    assert!(!matches(
        &s,
        &resource(TABLE, &[("stage", "dev"), ("team", "data-eng")])
    ));
    assert!(!matches(
        &s,
        &resource(TABLE, &[("stage", "Prod"), ("team", "data-eng")])
    ));
}

#[test]
fn conditions_alone_select_nothing_without_resources_or_tags_to_choose_from() {
    let s = selection(json!({
        "Resources": [DB],
        "Conditions": { "StringEquals": [tag_condition("stage", "prod")] }
    }));
    assert!(!matches(&s, &resource(TABLE, &[("stage", "prod")])));
    assert!(matches(&s, &resource(DB, &[("stage", "prod")])));
}

#[test]
fn not_resources_excludes_what_would_match() {
    let s = parse_event(reference_example()).unwrap();
    let tags = [("stage", "prod")];
    assert!(matches(&s, &resource(TABLE, &tags)));
    assert!(!matches(&s, &resource(SCRATCH, &tags)));
    // Excluded even when chosen by a tag.
    assert!(!matches(
        &s,
        &resource(SCRATCH, &[("stage", "prod"), ("backup", "nightly")])
    ));
    assert!(matches(
        &s,
        &resource(VOLUME, &[("stage", "prod"), ("backup", "nightly")])
    ));
}

#[test]
fn a_missing_tag_meets_the_negated_operators_only() {
    let cases = [
        (Operator::StringEquals, false),
        (Operator::StringLike, false),
        (Operator::StringNotEquals, true),
        (Operator::StringNotLike, true),
    ];
    for (operator, expected) in cases {
        let s = selection(json!({
            "Resources": ["*"],
            "Conditions": { operator.as_str(): [tag_condition("owner", "test-*")] }
        }));
        assert_eq!(matches(&s, &resource(TABLE, &[])), expected, "{operator:?}, no tag");
        assert_eq!(
            matches(&s, &resource(TABLE, &[("other", "test-x")])),
            expected,
            "{operator:?}, another tag"
        );
    }
}

#[test]
fn each_operator_on_a_present_tag() {
    let check = |operator: &str, value: &str, tag: &str| {
        let s = selection(json!({ "Resources": ["*"], "Conditions": { operator: [tag_condition("owner", value)] } }));
        matches(&s, &resource(TABLE, &[("owner", tag)]))
    };
    assert!(check("StringEquals", "test-*", "test-*"));
    assert!(!check("StringEquals", "test-*", "test-1"));
    assert!(check("StringNotEquals", "test-*", "test-1"));
    assert!(!check("StringNotEquals", "test-*", "test-*"));
    assert!(check("StringLike", "test-*", "test-1"));
    assert!(!check("StringLike", "test-*", "Test-1"));
    assert!(check("StringNotLike", "test-*", "prod"));
    assert!(!check("StringNotLike", "test-*", "test-1"));
}

// ---------------------------------------------------------------- validation

#[test]
fn the_reference_example_is_valid_and_keeps_its_fields() {
    let s = parse_event(reference_example()).unwrap();
    assert_eq!(s.name(), Some("nightly-prod"));
    assert_eq!(s.source(), &source());
    let request = request_for(&s, TABLE);
    assert_eq!(request["ResourceArn"], TABLE);
    assert_eq!(request["IamRoleArn"], ROLE);
    assert_eq!(request["StartWindowMinutes"], 60);
    assert_eq!(request["Lifecycle"]["DeleteAfterDays"], 35);
    assert_eq!(request["IdempotencyToken"], source().resource_token(TABLE));
    assert!(request.get("IdempotencyKey").is_none() && request.get("Selection").is_none());
    let job = s.job_for(TABLE).unwrap();
    assert_eq!(job.subject_arn(), TABLE);
    assert_eq!(job.idempotency_token(), source().resource_token(TABLE));
    assert!(
        s.job_for("arn:aws:ec2").is_err(),
        "an ARN the Tagging API could not list"
    );
}

#[test]
fn get_backup_selection_output_pastes_with_its_empty_lists() {
    // As `aws backup get-backup-selection` prints a tag-only selection.
    let s = parse_event(json!({ "Selection": {
        "SelectionName": "tagged",
        "IamRoleArn": ROLE,
        "Resources": [],
        "ListOfTags": [{"ConditionType": "STRINGEQUALS", "ConditionKey": "backup", "ConditionValue": "daily"}],
        "NotResources": [],
        "Conditions": {"StringEquals": [], "StringNotEquals": [], "StringLike": [], "StringNotLike": []}
    }}))
    .unwrap();
    assert!(matches(&s, &resource(VOLUME, &[("backup", "daily")])));
    assert!(!matches(&s, &resource(VOLUME, &[])));
}

#[test]
fn resources_or_list_of_tags_is_required_and_empty_lists_are_absent() {
    for inner in [
        json!({}),
        json!({ "Resources": [], "ListOfTags": [] }),
        json!({ "Resources": null, "NotResources": [DB] }),
        json!({ "Conditions": { "StringEquals": [tag_condition("stage", "prod")] } }),
    ] {
        let found = problems(json!({ "Selection": inner }));
        assert!(has(&found, "Selection: ", "selects nothing"), "{inner}: {found:?}");
    }
    assert!(parse_event(json!({ "Selection": { "Resources": ["*"] } })).is_ok());
    assert!(parse_event(json!({ "Selection": { "ListOfTags": [
        {"ConditionType": "STRINGEQUALS", "ConditionKey": "k", "ConditionValue": "v"}] } }))
    .is_ok());
}

#[test]
fn a_selection_must_be_an_object() {
    let found = problems(json!({ "Selection": ["arn:aws:s3:::b"] }));
    assert!(has(&found, "Selection: ", "must be an object"), "{found:?}");
}

#[test]
fn patterns_are_arns_or_a_lone_star() {
    let found = problems(json!({ "Selection": { "Resources": ["dynamodb:table/*", "", 7, "*"] } }));
    assert!(
        has(&found, "Selection.Resources[0]", "\"dynamodb:table/*\" must be an ARN"),
        "{found:?}"
    );
    assert!(has(&found, "Selection.Resources[1]", "must be an ARN"), "{found:?}");
    assert!(
        has(&found, "Selection.Resources[2]", "must be a string, not a number"),
        "{found:?}"
    );
    assert!(
        !found.iter().any(|p| p.starts_with("Selection.Resources[3]")),
        "{found:?}"
    );
    let found = problems(json!({ "Selection": { "Resources": ["*"], "NotResources": "arn:aws:s3:::b" } }));
    assert!(has(&found, "Selection.NotResources", "must be an array"), "{found:?}");
}

#[test]
fn at_most_500_patterns_each_of_at_most_2048_characters() {
    let many = |n: usize| (0..n).map(|i| format!("arn:aws:s3:::bucket-{i}")).collect::<Vec<_>>();
    assert!(parse_event(json!({ "Selection": { "Resources": many(500), "NotResources": many(500) } })).is_ok());
    let found = problems(json!({ "Selection": { "Resources": many(501) } }));
    assert!(
        has(&found, "Selection.Resources", "has 501 patterns; at most 500"),
        "{found:?}"
    );
    let found = problems(json!({ "Selection": { "Resources": ["*"], "NotResources": many(501) } }));
    assert!(has(&found, "Selection.NotResources", "at most 500"), "{found:?}");

    let long = |n: usize| format!("arn:aws:s3:::{}", "b".repeat(n - "arn:aws:s3:::".len()));
    assert!(parse_event(json!({ "Selection": { "Resources": [long(MAX_TEXT)] } })).is_ok());
    let found = problems(json!({ "Selection": { "Resources": [long(MAX_TEXT + 1)] } }));
    assert!(has(&found, "Selection.Resources[0]", "longer than 2048"), "{found:?}");
}

#[test]
fn at_most_50_conditions_in_all() {
    let tags = |n: usize| {
        (0..n)
            .map(|i| json!({"ConditionType": "STRINGEQUALS", "ConditionKey": format!("k{i}"), "ConditionValue": "v"}))
            .collect::<Vec<_>>()
    };
    let conditions = |n: usize| (0..n).map(|i| tag_condition(&format!("c{i}"), "v")).collect::<Vec<_>>();
    assert!(parse_event(json!({ "Selection": {
        "ListOfTags": tags(25), "Conditions": { "StringEquals": conditions(25) } } }))
    .is_ok());
    let found = problems(json!({ "Selection": {
        "ListOfTags": tags(25), "Conditions": { "StringEquals": conditions(20), "StringNotLike": conditions(6) } } }));
    assert!(has(&found, "Selection: ", "51 tag conditions"), "{found:?}");
    let found = problems(json!({ "Selection": { "ListOfTags": tags(51) } }));
    assert!(has(&found, "Selection.ListOfTags", "at most 50"), "{found:?}");
}

#[test]
fn keys_and_values_are_at_most_2048_characters() {
    let ok = parse_event(json!({ "Selection": { "Resources": ["*"], "Conditions": {
        "StringEquals": [tag_condition(&"k".repeat(MAX_TEXT), &"v".repeat(MAX_TEXT))] } } }));
    assert!(ok.is_ok());
    let found = problems(json!({ "Selection": { "Resources": ["*"], "Conditions": {
        "StringEquals": [tag_condition(&"k".repeat(MAX_TEXT + 1), &"v".repeat(MAX_TEXT + 1))] } } }));
    assert!(
        has(
            &found,
            "Selection.Conditions.StringEquals[0].ConditionKey",
            "longer than 2048"
        ),
        "{found:?}"
    );
    assert!(
        has(
            &found,
            "Selection.Conditions.StringEquals[0].ConditionValue",
            "longer than 2048"
        ),
        "{found:?}"
    );
}

#[test]
fn list_of_tags_takes_stringequals_only() {
    let found = problems(json!({ "Selection": { "ListOfTags": [
        {"ConditionType": "STRINGLIKE", "ConditionKey": "k", "ConditionValue": "v*"},
        {"ConditionKey": "k", "ConditionValue": "v"}
    ] } }));
    assert!(
        has(
            &found,
            "Selection.ListOfTags[0].ConditionType",
            "\"STRINGLIKE\" is not allowed"
        ),
        "{found:?}"
    );
    assert!(
        has(&found, "Selection.ListOfTags[1].ConditionType", "is required"),
        "{found:?}"
    );
}

#[test]
fn condition_keys_name_a_tag() {
    let found = problems(
        json!({ "Selection": { "Resources": ["*"], "Conditions": { "StringEquals": [
        tag_condition("aws:ResourceTag/", "v"),
        {"ConditionKey": "", "ConditionValue": "v"},
        {"ConditionValue": "v"},
        {"ConditionKey": "k", "ConditionValue": 3}
    ] } } }),
    );
    assert!(
        has(
            &found,
            "Selection.Conditions.StringEquals[0].ConditionKey",
            "names no tag"
        ),
        "{found:?}"
    );
    assert!(
        has(
            &found,
            "Selection.Conditions.StringEquals[1].ConditionKey",
            "names no tag"
        ),
        "{found:?}"
    );
    assert!(
        has(
            &found,
            "Selection.Conditions.StringEquals[2].ConditionKey",
            "is required"
        ),
        "{found:?}"
    );
    assert!(
        has(
            &found,
            "Selection.Conditions.StringEquals[3].ConditionValue",
            "must be a string"
        ),
        "{found:?}"
    );
    // Both spellings of a key name the same tag; an AWS tag key stays whole.
    let s = selection(json!({ "Resources": ["*"], "Conditions": { "StringEquals": [
        tag_condition("aws:ResourceTag/stage", "prod"), tag_condition("aws:cloudformation:stack-name", "app")] } }));
    assert!(matches(
        &s,
        &resource(TABLE, &[("stage", "prod"), ("aws:cloudformation:stack-name", "app")])
    ));
}

#[test]
fn unknown_fields_are_refused_with_a_hint() {
    let found = problems(json!({ "Selection": {
        "Resource": ["*"], "ListOfTag": [], "SelectionNme": "x", "Whatever": 1,
        "Conditions": { "StringEqual": [], "StringLike": [{"ConditionKey": "k", "ConditionVal": "v"}] }
    } }));
    assert!(
        has(&found, "Selection.\"Resource\"", "did you mean \"Resources\""),
        "{found:?}"
    );
    assert!(
        has(&found, "Selection.\"ListOfTag\"", "did you mean \"ListOfTags\""),
        "{found:?}"
    );
    assert!(
        has(&found, "Selection.\"SelectionNme\"", "did you mean \"SelectionName\""),
        "{found:?}"
    );
    assert!(
        has(&found, "Selection.\"Whatever\"", "a selection has only these"),
        "{found:?}"
    );
    assert!(
        has(
            &found,
            "Selection.Conditions.\"StringEqual\"",
            "did you mean \"StringEquals\""
        ),
        "{found:?}"
    );
    assert!(
        has(
            &found,
            "Selection.Conditions.StringLike[0].\"ConditionVal\"",
            "did you mean \"ConditionValue\""
        ),
        "{found:?}"
    );

    let found = problems(json!({ "Selection": { "Resources": ["*"] }, "StartWindowMinute": 60, "Resources": ["*"] }));
    assert!(
        has(&found, "\"StartWindowMinute\"", "did you mean \"StartWindowMinutes\""),
        "{found:?}"
    );
    assert!(
        has(&found, "\"Resources\"", "belongs inside \"Selection\""),
        "{found:?}"
    );
    let found = problems(json!({ "Selection": { "Resources": ["*"], "BackupVaultName": "Main" } }));
    assert!(
        has(&found, "Selection.\"BackupVaultName\"", "beside \"Selection\""),
        "{found:?}"
    );
}

#[test]
fn an_idempotency_token_or_a_resource_beside_a_selection_is_refused() {
    let found = problems(json!({ "Selection": { "Resources": ["*"] }, "IdempotencyToken": "t" }));
    assert!(
        has(
            &found,
            "\"IdempotencyToken\"",
            "each selected resource gets its own token"
        ),
        "{found:?}"
    );
    let found = problems(json!({ "Selection": { "Resources": ["*"], "IdempotencyToken": "t" } }));
    assert!(
        has(&found, "Selection.\"IdempotencyToken\"", "its own token"),
        "{found:?}"
    );
    let found = problems(json!({ "Selection": { "Resources": ["*"] }, "ResourceArn": TABLE }));
    assert!(
        has(&found, "\"ResourceArn\"", "the selection finds the resources"),
        "{found:?}"
    );
    let found = problems(json!({ "Selection": { "Resources": ["*"] }, "Jobs": [] }));
    assert!(has(&found, "\"Jobs\"", "send them as two"), "{found:?}");
    let found = problems(json!({ "Selection": { "Resources": ["*"] }, "Action": "StartCopyJob" }));
    assert!(has(&found, "Action", "starts backups"), "{found:?}");
    let found = problems(json!({ "Selection": { "Resources": ["*"] }, "RecoveryPointArn": TABLE }));
    assert!(has(&found, "\"RecoveryPointArn\"", "StartCopyJob"), "{found:?}");
    assert!(parse_event(json!({ "Selection": { "Resources": ["*"] }, "Action": "StartBackupJob" })).is_ok());
}

#[test]
fn the_other_fields_follow_the_request_rules() {
    let found = problems(json!({
        "Selection": { "Resources": ["*"] },
        "StartWindowMinutes": 30, "Lifecycle": { "DeleteAfterDays": 0 }, "BackupVaultName": "x", "Index": "ON"
    }));
    assert!(has(&found, "StartWindowMinutes", "60"), "{found:?}");
    assert!(has(&found, "Lifecycle.DeleteAfterDays", ""), "{found:?}");
    assert!(has(&found, "BackupVaultName", "\"x\""), "{found:?}");
    assert!(has(&found, "Index", "ENABLED"), "{found:?}");
    // Defaults come from the operator's settings, as for a request.
    let bare = Defaults::default();
    let error = parse(
        json!({ "Selection": { "Resources": ["*"] } }).as_object().unwrap(),
        source(),
        &bare,
    )
    .unwrap_err()
    .to_string();
    assert!(
        error.contains("BackupVaultName: is required") && error.contains("BACKUP_VAULT_NAME"),
        "{error}"
    );
    assert!(error.contains("IamRoleArn: is required"), "{error}");
}

#[test]
fn the_role_may_stand_inside_or_beside_but_not_two_roles() {
    let other = "arn:aws:iam::123456789012:role/Other";
    let inside = selection(json!({ "Resources": ["*"], "IamRoleArn": other }));
    assert_eq!(request_for(&inside, TABLE)["IamRoleArn"], other);
    let beside = parse_event(json!({ "Selection": { "Resources": ["*"] }, "IamRoleArn": other })).unwrap();
    assert_eq!(request_for(&beside, TABLE)["IamRoleArn"], other);
    assert!(
        parse_event(json!({ "Selection": { "Resources": ["*"], "IamRoleArn": other }, "IamRoleArn": other })).is_ok()
    );
    let found = problems(json!({ "Selection": { "Resources": ["*"], "IamRoleArn": other }, "IamRoleArn": ROLE }));
    assert!(
        has(&found, "Selection.IamRoleArn", "a selection's jobs have one role"),
        "{found:?}"
    );
    let found =
        problems(json!({ "Selection": { "Resources": ["*"], "IamRoleArn": "arn:aws:iam::123456789012:user/x" } }));
    assert!(has(&found, "Selection.IamRoleArn", "user/x"), "{found:?}");
}

#[test]
fn selection_names_follow_aws_backups_rule() {
    assert!(parse_event(json!({ "Selection": { "Resources": ["*"], "SelectionName": "a.b-c_1" } })).is_ok());
    for bad in [json!("has space"), json!(""), json!("x".repeat(51)), json!(5)] {
        let found = problems(json!({ "Selection": { "Resources": ["*"], "SelectionName": bad } }));
        assert!(has(&found, "Selection.SelectionName", ""), "{bad}: {found:?}");
    }
}

#[test]
fn errors_never_quote_a_condition_value() {
    let secret = "s3cr3t-value-of-a-tag";
    let error = parse_event(json!({ "Selection": { "Resources": ["*"], "Conditions": {
        "StringEquals": [{"ConditionKey": "", "ConditionValue": secret, "Oops": 1}] } } }))
    .unwrap_err()
    .to_string();
    assert!(!error.contains(secret), "{error}");
    let s = selection(json!({ "Resources": ["*"], "Conditions": { "StringEquals": [tag_condition("k", secret)] } }));
    assert!(!format!("{s:?}").contains(secret));
    assert!(!format!("{:?}", resource(TABLE, &[("k", secret)])).contains(secret));
}

// ---------------------------------------------------------------- types

#[test]
fn the_backup_type_is_read_from_the_arn() {
    let cases = [
        (TABLE, Some("DynamoDB")),
        ("arn:aws:dynamodb:eu-west-1:123456789012:table/orders/stream/2026", None),
        (
            "arn:aws:dynamodb:eu-west-1:123456789012:table/orders/index/by-date",
            None,
        ),
        (VOLUME, Some("EBS")),
        ("arn:aws:ec2:eu-west-1:123456789012:instance/i-0123", Some("EC2")),
        ("arn:aws:ec2:eu-west-1:123456789012:security-group/sg-1", None),
        (DB, Some("RDS")),
        ("arn:aws:rds:eu-west-1:123456789012:cluster:aurora-1", Some("Aurora")),
        ("arn:aws:rds:eu-west-1:123456789012:snapshot:s", None),
        (
            "arn:aws:elasticfilesystem:eu-west-1:123456789012:file-system/fs-1",
            Some("EFS"),
        ),
        ("arn:aws:fsx:eu-west-1:123456789012:file-system/fs-1", Some("FSx")),
        ("arn:aws:fsx:eu-west-1:123456789012:volume/fs-1/fsvol-1", Some("FSx")),
        ("arn:aws:s3:::my-bucket", Some("S3")),
        ("arn:aws:s3:::my-bucket/key", None),
        ("arn:aws:redshift:eu-west-1:123456789012:cluster:dw", Some("Redshift")),
        (
            "arn:aws:cloudformation:eu-west-1:123456789012:stack/app/1a2b",
            Some("CloudFormation"),
        ),
        (
            "arn:aws:storagegateway:eu-west-1:123456789012:gateway/sgw-1/volume/vol-1",
            Some("Storage Gateway"),
        ),
        ("arn:aws:storagegateway:eu-west-1:123456789012:gateway/sgw-1", None),
        (
            "arn:aws:timestream:eu-west-1:123456789012:database/db/table/t",
            Some("Timestream"),
        ),
        (
            "arn:aws:backup-gateway:eu-west-1:123456789012:vm/vm-1",
            Some("VirtualMachine"),
        ),
        (
            "arn:aws:ssm-sap:eu-west-1:123456789012:HANA/app/DB/db",
            Some("SAP HANA on Amazon EC2"),
        ),
        ("arn:aws:eks:eu-west-1:123456789012:cluster/k8s", Some("EKS")),
        (TOPIC, None),
        ("arn:aws:dynamodb:eu-west-1:123456789012:table/", None),
        ("not an arn", None),
    ];
    for (arn, expected) in cases {
        assert_eq!(backup_type(arn), expected, "{arn}");
    }
}

#[test]
fn unsupported_types_are_matched_but_never_selected() {
    let s = selection(json!({ "Resources": ["*"] }));
    assert_eq!(s.verdict(&resource(TOPIC, &[])), Verdict::Unsupported);
    assert_eq!(s.verdict(&resource(TABLE, &[])), Verdict::Selected("DynamoDB"));
    let s = selection(json!({ "Resources": [DB] }));
    assert_eq!(s.verdict(&resource(TABLE, &[])), Verdict::Passed);
}

// ---------------------------------------------------------------- pushdown

fn pushdown(inner: Value) -> Pushdown {
    selection(inner).pushdown()
}

fn filter(key: &str, values: &[&str]) -> (String, Vec<String>) {
    (key.into(), values.iter().map(|v| v.to_string()).collect())
}

#[test]
fn conditions_that_must_hold_become_tag_filters() {
    let p = pushdown(json!({ "Resources": ["*"], "Conditions": {
        "StringEquals": [tag_condition("aws:ResourceTag/stage", "prod")],
        "StringLike": [tag_condition("team", "data-*"), tag_condition("exact", "x")],
        "StringNotEquals": [tag_condition("owner", "bob")],
        "StringNotLike": [tag_condition("env", "test-*")]
    } }));
    assert_eq!(
        p.tag_filters,
        vec![filter("stage", &["prod"]), filter("exact", &["x"]), filter("team", &[])]
    );
    assert!(p.resource_types.is_empty(), "\"*\" names no service");
}

#[test]
fn conditions_no_tag_could_meet_are_left_to_the_matcher() {
    let p = pushdown(json!({ "Resources": ["*"], "Conditions": { "StringEquals": [
        tag_condition(&"k".repeat(129), "v"),
        tag_condition("long", &"v".repeat(257)),
        tag_condition("empty", ""),
        tag_condition(&"k".repeat(128), &"v".repeat(256))
    ] } }));
    assert_eq!(p.tag_filters, vec![filter(&"k".repeat(128), &[&"v".repeat(256)])]);
}

#[test]
fn list_of_tags_is_pushed_down_only_alone_and_on_one_key() {
    let tag = |k: &str, v: &str| json!({"ConditionType": "STRINGEQUALS", "ConditionKey": k, "ConditionValue": v});
    let p = pushdown(json!({ "ListOfTags": [tag("backup", "daily"), tag("aws:ResourceTag/backup", "nightly")] }));
    assert_eq!(p.tag_filters, vec![filter("backup", &["daily", "nightly"])]);
    // Two keys are ORed by the selection but would be ANDed by the API.
    let p = pushdown(json!({ "ListOfTags": [tag("backup", "daily"), tag("tier", "gold")] }));
    assert!(p.tag_filters.is_empty());
    // ORed with Resources: a resource chosen by ARN need not have the tag.
    let p = pushdown(json!({ "Resources": [DB], "ListOfTags": [tag("backup", "daily")] }));
    assert!(p.tag_filters.is_empty());
    assert!(p.resource_types.is_empty(), "a tag may choose any service");
}

#[test]
fn the_filters_admit_as_the_tagging_api_does() {
    let p = Pushdown {
        tag_filters: vec![filter("stage", &["prod", "qa"]), filter("team", &[])],
        resource_types: vec!["dynamodb".into(), "rds".into()],
    };
    assert!(p.admits(&resource(TABLE, &[("stage", "qa"), ("team", "")])));
    assert!(p.admits(&resource(DB, &[("stage", "prod"), ("team", "x")])));
    assert!(!p.admits(&resource(VOLUME, &[("stage", "prod"), ("team", "x")])));
    assert!(!p.admits(&resource(TABLE, &[("stage", "dev"), ("team", "x")])));
    assert!(!p.admits(&resource(TABLE, &[("stage", "prod")])));
    assert!(Pushdown::default().admits(&resource(TOPIC, &[])));
}

#[test]
fn resources_become_service_filters_when_every_service_is_literal() {
    let p = pushdown(json!({ "Resources": ["arn:aws:dynamodb:*:*:table/*", DB, "arn:aws:rds:*:*:cluster:*"] }));
    assert_eq!(p.resource_types, vec!["dynamodb".to_string(), "rds".to_string()]);
    let p = pushdown(json!({ "Resources": ["arn:aws:dynamodb:*:*:table/*", "arn:aws:dynamo*"] }));
    assert!(p.resource_types.is_empty());
    let p = pushdown(json!({ "Resources": ["arn:aws:*:*:*:table/*"] }));
    assert!(p.resource_types.is_empty());
    let p = pushdown(json!({ "Resources": ["arn:aws:s3"] }));
    assert!(p.resource_types.is_empty(), "the service is not closed by a colon");
    // A service the Tagging API may not know is never passed, nor are the others.
    let p = pushdown(json!({ "Resources": ["arn:aws:dynamodb:*:*:table/*", "arn:aws:backup-gateway:*:*:vm/*"] }));
    assert!(p.resource_types.is_empty());
    let p = pushdown(json!({ "Resources": ["arn:aws:sns:*"] }));
    assert!(p.resource_types.is_empty());
}

// ---------------------------------------------------------------- property

/// The selection arithmetic written the plainest way, to check the matcher against.
fn reference(inner: &Value, r: &Resource) -> bool {
    fn glob(p: &[char], t: &[char]) -> bool {
        match (p.first(), t.first()) {
            (None, None) => true,
            (Some('*'), _) => glob(&p[1..], t) || (!t.is_empty() && glob(p, &t[1..])),
            (Some(a), Some(b)) if a == b => glob(&p[1..], &t[1..]),
            _ => false,
        }
    }
    let like = |p: &str, t: &str| glob(&p.chars().collect::<Vec<_>>(), &t.chars().collect::<Vec<_>>());
    let strings = |v: &Value| -> Vec<String> {
        v.as_array()
            .map(|a| a.iter().filter_map(|s| s.as_str().map(String::from)).collect())
            .unwrap_or_default()
    };
    let key = |k: &str| k.strip_prefix("aws:ResourceTag/").unwrap_or(k).to_string();
    let tag = |k: &str| r.tags.iter().find(|(tk, _)| *tk == key(k)).map(|(_, v)| v.clone());
    let by_arn = strings(&inner["Resources"]).iter().any(|p| like(p, &r.arn));
    let by_tag = inner["ListOfTags"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|c| tag(c["ConditionKey"].as_str().unwrap()).as_deref() == c["ConditionValue"].as_str());
    let mut all = true;
    for (op, entries) in inner["Conditions"].as_object().into_iter().flatten() {
        for c in entries.as_array().into_iter().flatten() {
            let value = c["ConditionValue"].as_str().unwrap();
            let t = tag(c["ConditionKey"].as_str().unwrap());
            all &= match op.as_str() {
                "StringEquals" => t.as_deref() == Some(value),
                "StringNotEquals" => t.as_deref() != Some(value),
                "StringLike" => t.as_ref().is_some_and(|t| like(value, t)),
                _ => !t.as_ref().is_some_and(|t| like(value, t)),
            };
        }
    }
    let excluded = strings(&inner["NotResources"]).iter().any(|p| like(p, &r.arn));
    (by_arn || by_tag) && all && !excluded
}

fn small_text() -> impl Strategy<Value = String> {
    proptest::string::string_regex("[ab*]{0,4}").unwrap()
}

fn arn_pattern() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("*".to_string()),
        small_text().prop_map(|t| format!("arn:aws:s3:::{t}")),
        small_text().prop_map(|t| format!("arn:*{t}")),
    ]
}

fn tag_key() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("a".to_string()),
        Just("b".to_string()),
        Just("aws:ResourceTag/a".to_string())
    ]
}

fn selection_json() -> impl Strategy<Value = Value> {
    let tag = (tag_key(), small_text())
        .prop_map(|(k, v)| json!({"ConditionType": "STRINGEQUALS", "ConditionKey": k, "ConditionValue": v}));
    let condition = (tag_key(), small_text()).prop_map(|(k, v)| json!({"ConditionKey": k, "ConditionValue": v}));
    let conditions = proptest::collection::vec((0..4usize, condition), 0..4).prop_map(|entries| {
        let mut map = serde_json::Map::new();
        for (op, c) in entries {
            let name = Operator::ALL[op].as_str();
            map.entry(name)
                .or_insert_with(|| json!([]))
                .as_array_mut()
                .unwrap()
                .push(c);
        }
        Value::Object(map)
    });
    (
        proptest::collection::vec(arn_pattern(), 0..3),
        proptest::collection::vec(arn_pattern(), 0..2),
        proptest::collection::vec(tag, 0..3),
        conditions,
    )
        .prop_filter("Resources or ListOfTags", |(r, _, t, _)| !r.is_empty() || !t.is_empty())
        .prop_map(|(r, n, t, c)| json!({ "Resources": r, "NotResources": n, "ListOfTags": t, "Conditions": c }))
}

fn inventory() -> impl Strategy<Value = Vec<Resource>> {
    let one = (
        proptest::string::string_regex("[ab]{1,5}").unwrap(),
        proptest::collection::vec((prop_oneof![Just("a"), Just("b"), Just("c")], "[ab]{0,3}"), 0..3),
    )
        .prop_map(|(name, tags)| {
            let mut seen = Vec::new();
            let tags = tags
                .into_iter()
                .filter(|(k, _)| {
                    let fresh = !seen.contains(k);
                    seen.push(*k);
                    fresh
                })
                .map(|(k, v)| (k.to_string(), v))
                .collect();
            Resource {
                arn: format!("arn:aws:s3:::{name}"),
                tags,
            }
        });
    proptest::collection::vec(one, 0..20)
}

proptest! {
    #[test]
    fn the_matcher_agrees_with_a_plain_reference(inner in selection_json(), resources in inventory()) {
        let s = selection(inner.clone());
        for r in &resources {
            prop_assert_eq!(matches(&s, r), reference(&inner, r), "{:?} {:?}", inner, r);
        }
    }

    #[test]
    fn pushed_down_filters_never_drop_a_matching_resource(inner in selection_json(), resources in inventory()) {
        let s = selection(inner);
        let p = s.pushdown();
        for r in resources.iter().filter(|r| matches(&s, r)) {
            prop_assert!(p.admits(r), "{:?} drops {:?}", p, r);
        }
    }

    #[test]
    fn a_pattern_agrees_with_plain_globbing(pattern in "[ab*]{0,6}", text in "[ab]{0,8}") {
        let plain = {
            fn glob(p: &[u8], t: &[u8]) -> bool {
                match (p.first(), t.first()) {
                    (None, None) => true,
                    (Some(b'*'), _) => glob(&p[1..], t) || (!t.is_empty() && glob(p, &t[1..])),
                    (Some(a), Some(b)) if a == b => glob(&p[1..], &t[1..]),
                    _ => false,
                }
            }
            glob(pattern.as_bytes(), text.as_bytes())
        };
        prop_assert_eq!(Pattern::new(&pattern).matches(&text), plain);
    }
}
