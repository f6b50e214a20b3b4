//! The reader (`Command::read`, for a single event and for every SQS message's
//! body) on arbitrary JSON, with every default set: accepted jobs keep every rule,
//! a selection's or an audit's request for each resource it selects does too, an
//! audit's fields are within their bounds and those the event gave, and errors are
//! bounded and show no tag value.
//!
//! An input that starts with `#` is read as a structured value ([`Node`]: objects
//! with our field names, our values, tag maps holding the marker, JSON in strings);
//! any other input is JSON text, and text that is not JSON is skipped (the handler
//! target covers the parser).

#![no_main]

use backup_trigger_fuzz::{check_plan, generated};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let event = match data.split_first() {
        Some((b'#', rest)) => generated(rest),
        _ => serde_json::from_slice(data).ok(),
    };
    if let Some(event) = event {
        check_plan(event);
    }
});
