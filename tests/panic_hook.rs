//! A panic is logged as one JSON line with its location, and its message (which may
//! quote input such as a tag value) is printed nowhere. Its own test binary: it
//! installs a global logger and panic hook.

use std::io::Write;
use std::sync::{Arc, Mutex};

#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_panic_is_logged_without_its_message() {
    let buffer = Buffer::default();
    let writer = buffer.clone();
    backup_trigger::logging::init(move || writer.clone());
    backup_trigger::logging::install_panic_hook();
    let secret = "tag-value-in-a-panic-message";
    let caught = std::panic::catch_unwind(|| panic!("bug while handling {secret}"));
    assert!(caught.is_err());

    let text = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    assert_eq!(lines.len(), 1, "{text}");
    assert_eq!(lines[0]["message"], "panic in backup-trigger");
    assert_eq!(lines[0]["level"], "ERROR");
    assert!(lines[0]["location"].as_str().unwrap().contains("panic_hook.rs"));
    assert!(!text.contains(secret), "the panic message is never logged: {text}");
}
