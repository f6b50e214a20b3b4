//! The errors a user can cause, each saying what is wrong and how to put it right.

use std::fmt;

/// At most this many characters of a user's value are quoted back in an error, so a
/// hostile event cannot make error messages (and log lines) large.
const QUOTE_LIMIT: usize = 80;

/// The `errorType` of a bug in backup-trigger that was caught and contained.
pub const INTERNAL_ERROR: &str = "InternalError";

/// One problem with one field of an event: where it is and what rule it breaks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    /// Path to the field, such as `Jobs[2].Lifecycle.DeleteAfterDays`; empty for the
    /// event as a whole.
    pub at: String,
    pub problem: String,
}

impl Invalid {
    pub fn new(at: impl Into<String>, problem: impl Into<String>) -> Self {
        Invalid {
            at: at.into(),
            problem: problem.into(),
        }
    }

    /// The same problem, seen from an enclosing object (`Jobs[2]` + `ResourceArn`).
    pub fn within(mut self, prefix: &str) -> Self {
        self.at = match (prefix.is_empty(), self.at.is_empty()) {
            (true, _) => self.at,
            (false, true) => prefix.to_owned(),
            (false, false) => format!("{prefix}.{}", self.at),
        };
        self
    }
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.at.is_empty() {
            f.write_str(&self.problem)
        } else {
            write!(f, "{}: {}", self.at, self.problem)
        }
    }
}

/// Why an event (or one SQS message) cannot be turned into jobs. Nothing was started.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    /// The event breaks the rules of docs/reference.md; the user must change the event.
    #[error("{}", join(.0))]
    Validation(Vec<Invalid>),
    /// The event is fine but a setting it needs is missing; the operator must set it.
    #[error("{0}")]
    Config(String),
    /// A bug in backup-trigger (a panic while reading the event), caught and contained.
    #[error("{0}")]
    Internal(String),
}

impl PlanError {
    pub fn invalid(at: impl Into<String>, problem: impl Into<String>) -> Self {
        PlanError::Validation(vec![Invalid::new(at, problem)])
    }

    /// The Lambda `errorType` of this failure.
    pub fn error_type(&self) -> &'static str {
        match self {
            PlanError::Validation(_) => "ValidationError",
            PlanError::Config(_) => "ConfigError",
            PlanError::Internal(_) => INTERNAL_ERROR,
        }
    }
}

fn join(problems: &[Invalid]) -> String {
    let shown: Vec<String> = problems.iter().take(20).map(Invalid::to_string).collect();
    let mut text = shown.join("; ");
    if problems.len() > 20 {
        text.push_str(&format!("; and {} more", problems.len() - 20));
    }
    text
}

/// A setting (environment variable) that is malformed: the function refuses to start.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("setting {name} is invalid: {problem}")]
pub struct ConfigError {
    pub name: &'static str,
    pub problem: String,
}

/// A user's value, quoted for an error message and cut short when long.
pub fn quote(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(s) => quote_str(s),
        // Serialise no more than is shown: the value may be a large object.
        other => {
            let mut head = Bounded(Vec::new());
            let _ = serde_json::to_writer(&mut head, other);
            cut(&String::from_utf8_lossy(&head.0))
        }
    }
}

/// A writer that keeps the first bytes written and refuses the rest.
struct Bounded(Vec<u8>);

impl std::io::Write for Bounded {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let room = (QUOTE_LIMIT * 4 + 4).saturating_sub(self.0.len());
        if room == 0 {
            return Err(std::io::Error::other("enough to quote"));
        }
        let taken = buf.len().min(room);
        self.0.extend_from_slice(&buf[..taken]);
        Ok(taken)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A user's string, quoted for an error message and cut short when long.
pub fn quote_str(s: &str) -> String {
    format!("\"{}\"", cut(s))
}

/// A text cut to the length quoted in messages.
pub fn cut(s: &str) -> String {
    if s.chars().count() <= QUOTE_LIMIT {
        s.to_owned()
    } else {
        let head: String = s.chars().take(QUOTE_LIMIT).collect();
        format!("{head}…")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_values_are_cut_in_messages() {
        let long = "x".repeat(10_000);
        let quoted = quote_str(&long);
        assert!(quoted.chars().count() < 100, "{quoted}");
        assert!(quoted.ends_with("…\""));
        assert_eq!(quote_str("vault"), "\"vault\"");
    }

    #[test]
    fn large_values_are_quoted_from_their_start() {
        let big = serde_json::json!({ "a": vec![1; 100_000] });
        let quoted = quote(&big);
        assert!(quoted.starts_with("{\"a\":[1,1,1"), "{quoted}");
        assert!(quoted.chars().count() <= QUOTE_LIMIT + 1, "{quoted}");
        assert_eq!(quote(&serde_json::json!(1.5)), "1.5");
    }

    #[test]
    fn many_problems_are_summarised() {
        let problems: Vec<Invalid> = (0..25).map(|i| Invalid::new(format!("Jobs[{i}]"), "bad")).collect();
        let text = PlanError::Validation(problems).to_string();
        assert!(text.contains("Jobs[19]: bad"));
        assert!(!text.contains("Jobs[20]: bad"));
        assert!(text.ends_with("and 5 more"));
    }

    #[test]
    fn within_builds_paths() {
        assert_eq!(
            Invalid::new("DeleteAfterDays", "x")
                .within("Lifecycle")
                .within("Jobs[1]")
                .at,
            "Jobs[1].Lifecycle.DeleteAfterDays"
        );
        assert_eq!(Invalid::new("", "x").within("detail").at, "detail");
    }
}
