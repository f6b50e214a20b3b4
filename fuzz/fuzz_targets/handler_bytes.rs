//! The whole handler, in dry run, on raw bytes as the event's text.
//!
//! Lambda delivers text, so bytes that are not UTF-8 are decoded lossily (each bad
//! sequence becomes U+FFFD) rather than skipped: the input still reaches the parser.

#![no_main]

use backup_trigger_fuzz::{check_said, handle_text};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let said = handle_text(&text);
    check_said(&text, &said);
});
