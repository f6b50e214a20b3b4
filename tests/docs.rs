//! The manual kept honest: what the README and `docs/` say is checked against what the
//! repository does. Every sample in `events/` is in the README's events table and
//! answers, through `bootstrap invoke FILE --dry-run`, with the top-level keys the
//! table gives; every template parameter is in the README's parameter table with its
//! default; every metric the function writes is in the reference's metrics table with
//! its unit; every alarm is named as CloudWatch shows it; every link between the
//! pages, and every section a comment of the code or the template points at, exists.
//! Each failure message starts with the page or table that drifted.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use serde_json::Value;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn read(relative: &str) -> String {
    let path = root().join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// The pages of the manual: the README and every page of `docs/`.
fn pages() -> Vec<PathBuf> {
    let mut pages = vec![root().join("README.md")];
    let mut docs: Vec<PathBuf> = std::fs::read_dir(root().join("docs"))
        .expect("docs/ is readable")
        .map(|e| e.expect("a docs/ entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    docs.sort();
    pages.extend(docs);
    pages
}

// ------------------------------------------------------------------ markdown

/// The lines of a page outside fenced code blocks, with their headings' levels
/// known: a code block's `#` lines are not headings.
fn prose_lines(text: &str) -> Vec<&str> {
    let mut fenced = false;
    let mut lines = Vec::new();
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if !fenced {
            lines.push(line);
        }
    }
    lines
}

/// The cells of a table row, trimmed.
fn cells(row: &str) -> Vec<String> {
    let inner = row.trim().trim_start_matches('|').trim_end_matches('|');
    inner.split('|').map(|c| c.trim().to_owned()).collect()
}

/// The rows of the table whose header row is exactly `header` (cell by cell).
fn table(text: &str, page: &str, header: &[&str]) -> Vec<Vec<String>> {
    let lines = prose_lines(text);
    let start = lines
        .iter()
        .position(|l| l.trim_start().starts_with('|') && cells(l) == header)
        .unwrap_or_else(|| panic!("{page}: no table with the header {header:?}"));
    lines[start + 2..]
        .iter()
        .take_while(|l| l.trim_start().starts_with('|'))
        .map(|l| cells(l))
        .collect()
}

/// The text of every `code span` in a cell.
fn code_spans(cell: &str) -> Vec<&str> {
    cell.split('`').skip(1).step_by(2).collect()
}

/// The first code span of a cell, which names what the row is about.
fn first_code(cell: &str, page: &str) -> String {
    code_spans(cell)
        .first()
        .map(|s| (*s).to_owned())
        .unwrap_or_else(|| panic!("{page}: the cell {cell:?} names nothing in `code`"))
}

/// The headings of a page, as written (without the `#`s and backticks).
fn headings(text: &str) -> Vec<String> {
    prose_lines(text)
        .into_iter()
        .filter(|l| l.starts_with('#'))
        .map(|l| l.trim_start_matches('#').trim().replace('`', ""))
        .collect()
}

/// The anchors GitHub gives a page's headings: lower case, letters, digits, `-` and
/// `_` kept, spaces made `-`, the rest dropped; a repeated one gets `-1`, `-2`, ...
fn anchors(text: &str) -> BTreeSet<String> {
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut anchors = BTreeSet::new();
    for heading in headings(text) {
        let slug: String = heading
            .to_lowercase()
            .chars()
            .filter_map(|c| match c {
                ' ' => Some('-'),
                c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
                _ => None,
            })
            .collect();
        let count = seen.entry(slug.clone()).or_insert(0);
        anchors.insert(if *count == 0 {
            slug.clone()
        } else {
            format!("{slug}-{count}")
        });
        *count += 1;
    }
    anchors
}

/// The targets of a page's markdown links (`[text](target)`), outside code.
fn links(text: &str) -> Vec<String> {
    let mut targets = Vec::new();
    for line in prose_lines(text) {
        // Code spans hold no links.
        let prose: String = line.split('`').step_by(2).collect::<Vec<_>>().join(" ");
        let mut rest = prose.as_str();
        while let Some(at) = rest.find("](") {
            let after = &rest[at + 2..];
            let end = after.find(')').unwrap_or(after.len());
            targets.push(after[..end].to_owned());
            rest = &after[end..];
        }
    }
    targets
}

/// The number written just before `words` in `text` (white space collapsed), as in
/// "at most 15 custom metrics".
fn number_before(text: &str, words: &str, page: &str) -> usize {
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let at = text
        .find(words)
        .unwrap_or_else(|| panic!("{page}: no \"{words}\" to check"));
    let digits: String = text[..at]
        .trim_end()
        .chars()
        .rev()
        .take_while(|c| c.is_ascii_digit())
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    digits
        .parse()
        .unwrap_or_else(|_| panic!("{page}: no number before \"{words}\""))
}

// ------------------------------------------------------------------ template

fn template() -> serde_yaml_ng::Value {
    serde_yaml_ng::from_str(&read("template.yaml")).expect("template.yaml is YAML")
}

/// A scalar of the template as text (a number as written).
fn scalar(value: &serde_yaml_ng::Value) -> Option<String> {
    match value {
        serde_yaml_ng::Value::String(s) => Some(s.clone()),
        serde_yaml_ng::Value::Number(n) => Some(n.to_string()),
        serde_yaml_ng::Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Every parameter of the template and its default.
fn parameters() -> BTreeMap<String, String> {
    let template = template();
    let parameters = template["Parameters"]
        .as_mapping()
        .expect("template.yaml has Parameters");
    parameters
        .iter()
        .map(|(name, p)| {
            let name = scalar(name).expect("a parameter's name");
            let default = scalar(&p["Default"]).unwrap_or_else(|| panic!("parameter {name} has no Default"));
            (name, default)
        })
        .collect()
}

/// The name CloudWatch shows for every alarm of the template, with the stack's name
/// written `<stack>`: `AlarmName: !Sub "${AWS::StackName}-jobs-failed"` is
/// `<stack>-jobs-failed`.
fn alarm_names() -> BTreeSet<String> {
    let template = template();
    let resources = template["Resources"].as_mapping().expect("template.yaml has Resources");
    resources
        .iter()
        .filter(|(_, r)| r["Type"].as_str() == Some("AWS::CloudWatch::Alarm"))
        .map(|(id, r)| {
            let id = scalar(id).unwrap_or_default();
            let name = match &r["Properties"]["AlarmName"] {
                serde_yaml_ng::Value::Tagged(tagged) if tagged.tag == "Sub" => scalar(&tagged.value),
                other => scalar(other),
            };
            let name = name.unwrap_or_else(|| panic!("alarm {id} has no AlarmName the docs can name"));
            assert!(
                name.starts_with("${AWS::StackName}-") && !name[1..].contains('$'),
                "alarm {id}: AlarmName {name:?} is not <stack>-<purpose>"
            );
            name.replace("${AWS::StackName}", "<stack>")
        })
        .collect()
}

/// The alarms the template creates whatever the parameters (no `Condition`).
fn unconditional_alarms() -> usize {
    let template = template();
    template["Resources"]
        .as_mapping()
        .expect("template.yaml has Resources")
        .values()
        .filter(|r| r["Type"].as_str() == Some("AWS::CloudWatch::Alarm") && r.get("Condition").is_none())
        .count()
}

// ------------------------------------------------------------------ samples

/// One sample run as the README shows it.
struct Run {
    sample: String,
    succeeded: bool,
    answer: Value,
    stderr: String,
}

/// Every file of `events/`, run once as the README shows: `bootstrap invoke
/// events/FILE --dry-run` from the repository's root, with an empty environment.
fn runs() -> &'static [Run] {
    static RUNS: OnceLock<Vec<Run>> = OnceLock::new();
    RUNS.get_or_init(|| {
        samples()
            .into_iter()
            .map(|sample| {
                let output = Command::new(env!("CARGO_BIN_EXE_bootstrap"))
                    .current_dir(root())
                    .args(["invoke", &sample, "--dry-run"])
                    .env_clear()
                    .output()
                    .expect("run bootstrap invoke");
                let answer = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
                    panic!(
                        "{sample}: the answer is not JSON ({e}): {}",
                        String::from_utf8_lossy(&output.stdout)
                    )
                });
                Run {
                    sample,
                    succeeded: output.status.success(),
                    answer,
                    stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
                }
            })
            .collect()
    })
}

/// `events/FILE` for every file of `events/` (not `events/local/`).
fn samples() -> Vec<String> {
    let mut samples: Vec<String> = std::fs::read_dir(root().join("events"))
        .expect("events/ is readable")
        .map(|e| e.expect("an events/ entry").path())
        .filter(|p| p.is_file())
        .map(|p| format!("events/{}", p.file_name().unwrap().to_string_lossy()))
        .collect();
    samples.sort();
    samples
}

/// The metrics lines of a run: name and unit of each metric.
fn metrics_of(run: &Run) -> Vec<(String, String)> {
    run.stderr
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|l| l["message"] == "metrics")
        .flat_map(|l| {
            l["_aws"]["CloudWatchMetrics"][0]["Metrics"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .map(|m| {
            (
                m["Name"].as_str().unwrap_or_default().to_owned(),
                m["Unit"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

/// The top-level keys an answer cell gives, such as `{"Jobs": [], "Skipped": "why"}`
/// (exactly `Jobs` and `Skipped`) or `{"Action", "IdempotencyToken", ...}` (at least
/// these): the quoted names at the first level that follow `{` or `,`.
fn keys_of_shape(shape: &str) -> (BTreeSet<String>, bool) {
    let mut keys = BTreeSet::new();
    let mut open_ended = false;
    let mut depth = 0;
    let mut previous = ' ';
    let mut chars = shape.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '{' | '[' => depth += 1,
            '}' | ']' => depth -= 1,
            '"' => {
                let text: String = chars.by_ref().take_while(|&c| c != '"').collect();
                if depth == 1 && (previous == '{' || previous == ',') {
                    keys.insert(text);
                }
                previous = '"';
                continue;
            }
            '.' if depth == 1 => open_ended = true,
            _ => {}
        }
        if !c.is_whitespace() {
            previous = c;
        }
    }
    (keys, open_ended)
}

// ================================================================== tests

#[test]
fn every_sample_is_in_the_readme_events_table_and_answers_as_it_says() {
    let readme = read("README.md");
    assert!(
        readme.contains("cargo run -- invoke events/scheduled-backup.json --dry-run")
            && readme.contains("cargo run -- invoke events/FILE --dry-run"),
        "README: the events table's command (cargo run -- invoke events/FILE --dry-run) is not shown"
    );
    let rows = table(&readme, "README", &["sample", "what it is", "answer (top-level keys)"]);
    let mut shapes: BTreeMap<String, String> = BTreeMap::new();
    for row in &rows {
        let named: Vec<&str> = code_spans(&row[0])
            .into_iter()
            .filter(|s| s.starts_with("events/"))
            .collect();
        assert!(
            !named.is_empty(),
            "README events table: the row {row:?} names no sample"
        );
        let shape = code_spans(&row[2])
            .into_iter()
            .find(|s| s.starts_with('{'))
            .unwrap_or_else(|| panic!("README events table: the row {row:?} gives no answer shape"));
        for sample in named {
            let earlier = shapes.insert(sample.to_owned(), shape.to_owned());
            assert!(earlier.is_none(), "README events table: {sample} is listed twice");
        }
    }
    let listed: BTreeSet<&String> = shapes.keys().collect();
    let present: Vec<String> = samples();
    let present: BTreeSet<&String> = present.iter().collect();
    assert_eq!(
        listed, present,
        "README events table: the samples it lists (left) are not those of events/ (right)"
    );

    for run in runs() {
        let shape = &shapes[&run.sample];
        assert!(
            run.succeeded,
            "README events table: `cargo run -- invoke {} --dry-run` fails: {}",
            run.sample, run.answer
        );
        let Value::Object(answer) = &run.answer else {
            panic!(
                "README events table: {} answers {}, not an object",
                run.sample, run.answer
            )
        };
        let actual: BTreeSet<String> = answer.keys().cloned().collect();
        let (expected, open_ended) = keys_of_shape(shape);
        if open_ended {
            assert!(
                expected.is_subset(&actual),
                "README events table: {} answers with the keys {actual:?}, not all of {shape}",
                run.sample
            );
        } else {
            assert_eq!(
                actual, expected,
                "README events table: {} answers with the keys {actual:?}, not those of {shape}",
                run.sample
            );
        }
    }
}

#[test]
fn every_template_parameter_is_in_the_readme_parameter_table_with_its_default() {
    let readme = read("README.md");
    let rows = table(&readme, "README", &["parameter", "default", "what it sets"]);
    let mut documented: BTreeMap<String, String> = BTreeMap::new();
    for row in &rows {
        let name = first_code(&row[0], "README parameter table");
        let default = if row[1] == "empty" {
            String::new()
        } else {
            first_code(&row[1], "README parameter table")
        };
        assert!(
            documented.insert(name.clone(), default).is_none(),
            "README parameter table: {name} is listed twice"
        );
    }
    let parameters = parameters();
    let names = |m: &BTreeMap<String, String>| m.keys().cloned().collect::<BTreeSet<_>>();
    assert_eq!(
        names(&documented),
        names(&parameters),
        "README parameter table: its parameters (left) are not template.yaml's (right)"
    );
    for (name, default) in &parameters {
        let shown = if default.is_empty() {
            "empty".to_owned()
        } else {
            format!("`{default}`")
        };
        assert_eq!(
            &documented[name], default,
            "README parameter table: the default of {name} is template.yaml's {shown}"
        );
    }
}

#[test]
fn every_metric_the_function_writes_is_in_the_reference_with_its_unit() {
    // The names the code writes: the literals of `Tally::metrics`.
    let source = read("src/report/metrics.rs");
    let body = source
        .split("pub fn metrics(&self)")
        .nth(1)
        .and_then(|rest| rest.split("\n    }\n").next())
        .expect("src/report/metrics.rs has Tally::metrics");
    let written: BTreeSet<String> = body
        .split('"')
        .skip(1)
        .step_by(2)
        .filter(|s| s.chars().next().is_some_and(|c| c.is_ascii_uppercase()))
        .map(str::to_owned)
        .collect();
    assert!(
        written.len() >= 10,
        "metrics: read {written:?} from src/report/metrics.rs"
    );

    // What the samples really write, so that a metric named another way is seen too.
    let mut units: BTreeMap<String, String> = BTreeMap::new();
    for run in runs() {
        for (name, unit) in metrics_of(run) {
            assert!(
                written.contains(&name),
                "metrics: {} writes {name}, which Tally::metrics does not name",
                run.sample
            );
            units.insert(name, unit);
        }
    }

    let reference = read("docs/reference.md");
    let rows = table(
        &reference,
        "docs/reference.md",
        &["metric", "unit", "counts", "in the line"],
    );
    let documented: BTreeMap<String, String> = rows
        .iter()
        .map(|row| (first_code(&row[0], "reference metrics table"), row[1].clone()))
        .collect();
    assert_eq!(
        documented.keys().cloned().collect::<BTreeSet<_>>(),
        written,
        "docs/reference.md metrics table: its metrics (left) are not those the function writes (right)"
    );
    for (name, unit) in &units {
        assert_eq!(
            &documented[name], unit,
            "docs/reference.md metrics table: {name} is written in {unit}"
        );
    }
    assert_eq!(
        number_before(&read("README.md"), "custom metrics", "README"),
        written.len(),
        "README cost and quotas: the function writes {} metrics (one dimension value each)",
        written.len()
    );
}

#[test]
fn every_alarm_is_named_in_the_docs_as_cloudwatch_shows_it() {
    let alarms = alarm_names();
    assert!(alarms.len() >= 8, "template.yaml: alarms {alarms:?}");
    let readme = read("README.md");
    let always = unconditional_alarms();
    assert_eq!(
        number_before(&readme, "alarms (", "README"),
        always,
        "README cost and quotas: the stack always creates {always} alarms"
    );
    assert_eq!(
        number_before(&readme, "with a schedule and an audit schedule", "README"),
        alarms.len(),
        "README cost and quotas: with every schedule the stack creates {} alarms",
        alarms.len()
    );
    let rows = table(&readme, "README", &["alarm", "fires when", "first step"]);
    let listed: BTreeSet<String> = rows
        .iter()
        .map(|row| first_code(&row[0], "README alarm table"))
        .collect();
    assert_eq!(
        listed, alarms,
        "README alarm table: its alarms (left) are not template.yaml's (right)"
    );
    let operations = read("docs/operations.md");
    for alarm in &alarms {
        assert!(
            operations.contains(&format!("`{alarm}`")),
            "docs/operations.md: alarm {alarm} has no runbook"
        );
    }
    // No page names an alarm that does not exist.
    for page in pages() {
        let text = std::fs::read_to_string(&page).unwrap();
        for (at, _) in text.match_indices("<stack>-") {
            let name: String = text[at..]
                .chars()
                .skip("<stack>-".len())
                .take_while(|c| c.is_ascii_lowercase() || *c == '-')
                .collect();
            if name.is_empty() {
                continue; // `<stack>-<purpose>`
            }
            let name = format!("<stack>-{}", name.trim_end_matches('-'));
            assert!(
                alarms.contains(&name),
                "{}: names the alarm {name}, which template.yaml does not define",
                page.display()
            );
        }
    }
}

#[test]
fn links_between_the_readme_and_docs_resolve() {
    for page in pages() {
        let text = std::fs::read_to_string(&page).unwrap();
        let shown = page.strip_prefix(root()).unwrap().display().to_string();
        for target in links(&text) {
            if target.starts_with("http://") || target.starts_with("https://") || target.starts_with("mailto:") {
                continue;
            }
            let (path, anchor) = match target.split_once('#') {
                Some((path, anchor)) => (path, Some(anchor)),
                None => (target.as_str(), None),
            };
            let file = if path.is_empty() {
                page.clone()
            } else {
                page.parent().unwrap().join(path)
            };
            assert!(file.exists(), "{shown}: the link ({target}) points at no file");
            if let Some(anchor) = anchor {
                let linked = std::fs::read_to_string(&file)
                    .unwrap_or_else(|_| panic!("{shown}: the link ({target}) has an anchor into a non-page"));
                assert!(
                    anchors(&linked).contains(anchor),
                    "{shown}: the link ({target}) names no heading of {path:?}; its anchors are {:?}",
                    anchors(&linked)
                );
            }
        }
    }
}

#[test]
fn sections_the_code_and_template_point_at_exist() {
    // `docs/reference.md, "Metrics"`, `docs/reference.md ("Settings")`, across comment lines.
    let mut files = vec![root().join("template.yaml")];
    let mut dirs = vec![root().join("src"), root().join("tests"), root().join("benches")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    let mut checked = 0;
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let joined: String = text
            .lines()
            .map(|l| {
                l.trim_start()
                    .trim_start_matches("//!")
                    .trim_start_matches("///")
                    .trim_start_matches("//")
                    .trim_start_matches('#')
                    .trim()
            })
            .collect::<Vec<_>>()
            .join(" ");
        for (at, _) in joined.match_indices("docs/") {
            let rest = &joined[at + "docs/".len()..];
            let Some(page_end) = rest.find(".md") else { continue };
            let page = &rest[..page_end];
            if !page.chars().all(|c| c.is_ascii_lowercase()) {
                continue;
            }
            let after = rest[page_end + 3..].trim_start_matches([',', ' ', '(']);
            let Some(quoted) = after.strip_prefix('"') else {
                continue;
            };
            let Some(section) = quoted.split('"').next() else {
                continue;
            };
            if !section.starts_with(|c: char| c.is_ascii_uppercase()) {
                continue; // a list of pages, not a section
            }
            let path = format!("docs/{page}.md");
            assert!(
                root().join(&path).exists(),
                "{}: points at {path}, which does not exist",
                file.display()
            );
            assert!(
                headings(&read(&path)).iter().any(|h| h == section),
                "{}: points at {path}, \"{section}\", which has no such section",
                file.display()
            );
            checked += 1;
        }
    }
    assert!(
        checked >= 10,
        "only {checked} section references found: is the scan broken?"
    );
}

#[test]
fn a_replay_keyed_with_the_source_id_it_had_keeps_its_tokens() {
    // docs/reference.md ("Idempotency") and the replays of docs/operations.md promise
    // that an event sent again with "IdempotencyKey" set to its old source id gets
    // the tokens it had: here an SQS message's body, replayed bare.
    let reference = read("docs/reference.md");
    assert!(
        reference.contains("`\"IdempotencyKey\"` set to the source id it had"),
        "docs/reference.md: the promise this test keeps is no longer worded as it was; update both"
    );
    let batch = runs()
        .iter()
        .find(|r| r.sample == "events/sqs-batch.json")
        .expect("events/sqs-batch.json was run");
    let request_lines: Vec<Value> = batch
        .stderr
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|l| l["message"] == "request")
        .collect();
    let sample: Value = serde_json::from_str(&read("events/sqs-batch.json")).unwrap();
    let record = &sample["Records"][0];
    let message_id = record["messageId"].as_str().unwrap();
    let token_then = request_lines
        .iter()
        .find(|l| l["message_id"] == message_id)
        .and_then(|l| l["idempotency_token"].as_str())
        .expect("the first message's request line");

    let mut body: Value = serde_json::from_str(record["body"].as_str().unwrap()).unwrap();
    body["IdempotencyKey"] = Value::from(message_id);
    let mut replay = Command::new(env!("CARGO_BIN_EXE_bootstrap"))
        .current_dir(root())
        .args(["invoke", "-", "--dry-run"])
        .env_clear()
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("run bootstrap invoke");
    {
        use std::io::Write;
        let mut stdin = replay.stdin.take().unwrap();
        stdin.write_all(body.to_string().as_bytes()).unwrap();
    }
    let output = replay.wait_with_output().unwrap();
    let answer: Value = serde_json::from_slice(&output.stdout).expect("the replay's answer is JSON");
    assert_eq!(
        answer["IdempotencyToken"], token_then,
        "docs/reference.md (Idempotency): a replay keyed with its old source id gets another token"
    );
}
