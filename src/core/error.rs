//! The errors a user can cause, each saying what is wrong and how to put it right.

use std::fmt;

/// At most this many characters of a user's value are quoted back in an error, so a
/// hostile event cannot make error messages (and log lines) large.
const QUOTE_LIMIT: usize = 80;

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

/// Every way an event, an SQS message or one job can fail, each named once: the
/// Lambda `errorType` of an invocation that fails, and the `error_type` or
/// `error_code` of its log lines. The message says what went wrong and what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The event breaks the rules of docs/reference.md; the user must change it.
    #[error("{}", join(.0))]
    Validation(Vec<Invalid>),
    /// A setting the event needs is missing, or refuses it; the operator must set it.
    #[error("{0}")]
    Config(String),
    /// A selection matches more resources than one invocation starts itself.
    #[error("{0}")]
    SelectionTooLarge(String),
    /// AWS answered with an error (`code` is AWS's own, such as
    /// `InvalidParameterValueException`), or the SDK gave up (`TimeoutError`,
    /// `DispatchFailure`).
    #[error("{message}")]
    Aws { code: String, message: String },
    /// A job was not started: too little time was left, or an earlier message of
    /// a FIFO batch failed.
    #[error("{0}")]
    NotStarted(String),
    /// AWS did not answer before the invocation's deadline; the call may have
    /// taken effect.
    #[error("{0}")]
    DeadlineExceeded(String),
    /// SQS would not take the fan-out's messages and gave no code of its own.
    #[error("{0}")]
    EnqueueFailed(String),
    /// A bug in backup-trigger, caught and contained.
    #[error("{0}")]
    Internal(String),
    /// The event was refused before any call to AWS: nothing was started.
    #[error("nothing was started: {0}")]
    Refused(Box<Error>),
}

/// The `errorType` of a bug in backup-trigger that was caught and contained.
pub const INTERNAL_ERROR: &str = "InternalError";

impl Error {
    pub fn invalid(at: impl Into<String>, problem: impl Into<String>) -> Error {
        Error::Validation(vec![Invalid::new(at, problem)])
    }

    /// The Lambda `errorType` of this failure.
    pub fn error_type(&self) -> &str {
        match self {
            Error::Validation(_) => "ValidationError",
            Error::Config(_) => "ConfigError",
            Error::SelectionTooLarge(_) => "SelectionTooLarge",
            Error::Aws { code, .. } => code,
            Error::NotStarted(_) => "NotStarted",
            Error::DeadlineExceeded(_) => "DeadlineExceeded",
            Error::EnqueueFailed(_) => "EnqueueFailed",
            Error::Internal(_) => INTERNAL_ERROR,
            Error::Refused(inner) => inner.error_type(),
        }
    }

    /// The same failure, refused before any call: its message says nothing was started.
    pub fn refused(self) -> Error {
        match self {
            Error::Refused(_) => self,
            other => Error::Refused(Box::new(other)),
        }
    }

    /// Whether nothing was started because of it (see [`Error::refused`]).
    pub fn is_refusal(&self) -> bool {
        matches!(self, Error::Refused(_))
    }

    /// A failure of the same class with another message: the summary of an event
    /// whose first failed job failed this way.
    pub fn with_message(&self, message: String) -> Error {
        match self {
            Error::Validation(_) => Error::invalid("", message),
            Error::Config(_) => Error::Config(message),
            Error::SelectionTooLarge(_) => Error::SelectionTooLarge(message),
            Error::Aws { code, .. } => Error::Aws {
                code: code.clone(),
                message,
            },
            Error::NotStarted(_) => Error::NotStarted(message),
            Error::DeadlineExceeded(_) => Error::DeadlineExceeded(message),
            Error::EnqueueFailed(_) => Error::EnqueueFailed(message),
            Error::Internal(_) => Error::Internal(message),
            Error::Refused(inner) => inner.with_message(message).refused(),
        }
    }

    /// The same problems, seen from an enclosing object (an EventBridge `detail`).
    pub fn within(self, prefix: &str) -> Error {
        match self {
            Error::Validation(problems) => Error::Validation(problems.into_iter().map(|p| p.within(prefix)).collect()),
            Error::Refused(inner) => inner.within(prefix).refused(),
            other => other,
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
    cut_at(s, QUOTE_LIMIT)
}

/// A text of at most `limit` characters kept whole; a longer one cut there, with `…`.
pub fn cut_at(s: &str, limit: usize) -> String {
    match s.char_indices().nth(limit) {
        None => s.to_owned(),
        Some((end, _)) => format!("{}…", &s[..end]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_text_is_cut_after_its_limit_in_characters_not_bytes() {
        assert_eq!(cut_at("ééé", 3), "ééé");
        assert_eq!(cut_at("éééé", 3), "ééé…");
        assert_eq!(cut_at("", 0), "");
        assert_eq!(cut_at("a", 0), "…");
    }

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
        let text = Error::Validation(problems).to_string();
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
