// TEMPORARY: memory probe, not committed.
#[path = "e2e/harness.rs"]
mod harness;
use harness::{FakeBackup, FakeLambda, Function};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probe() {
    let n: usize = std::env::var("PROBE_N").unwrap().parse().unwrap();
    let reps: usize = std::env::var("PROBE_REPS").ok().and_then(|v| v.parse().ok()).unwrap_or(1);
    let bin = std::env::var("PROBE_BIN").unwrap();
    let lambda = FakeLambda::start().await;
    let backup = FakeBackup::start().await;
    let f = Function::start_binary(std::path::Path::new(&bin), &lambda, &backup, &[("BACKUP_VAULT_NAME", "Default"), ("BACKUP_IAM_ROLE_ARN", "arn:aws:iam::123456789012:role/Backup")]);
    let jobs: Vec<_> = (0..n).map(|i| json!({"ResourceArn": format!("arn:aws:ec2:eu-west-1:123456789012:volume/vol-{i:04}")})).collect();
    for r in 0..reps {
        let a = lambda.invoke(&json!({"IdempotencyKey": format!("k{r}"), "Jobs": jobs})).await;
        assert_eq!(a.response()["Jobs"].as_array().unwrap().len(), n);
        if let Some(pid) = f.pid() {
            let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
            let hwm = s.lines().find(|l| l.starts_with("VmHWM")).unwrap_or("").to_owned();
            let rss = s.lines().find(|l| l.starts_with("VmRSS")).unwrap_or("").to_owned();
            if r == 0 || r + 1 == reps || r % 20 == 0 { eprintln!("n={n} rep={r} {hwm} {rss}"); }
        }
    }
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    if let Some(pid) = f.pid() { let _ = std::process::Command::new("kill").arg("-TERM").arg(pid.to_string()).status(); }
    tokio::time::sleep(std::time::Duration::from_secs(5)).await;
    f.finish().await;
}
