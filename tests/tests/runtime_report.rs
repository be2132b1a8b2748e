//! The runtime logs a protocol report every `report_every` periods.

#![allow(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::cast_possible_truncation
)]

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use swim::RuntimeOptions;
use swim_tests::net::{eventually, fast, start_converged};

/// Every log line written, in order.
#[derive(Clone, Default)]
struct Lines(Arc<Mutex<Vec<u8>>>);

impl Write for Lines {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Lines {
    fn reports(&self) -> Vec<String> {
        let text = String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned();
        text.lines().filter(|l| l.contains("swim::report")).map(String::from).collect()
    }
}

/// The value of `field=` in a log line.
fn field(line: &str, name: &str) -> Option<f64> {
    let start = line.find(&format!(" {name}="))? + name.len() + 2;
    line[start..].split_whitespace().next()?.parse().ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_log_how_often_they_are_probed_and_how_fast_updates_spread() {
    let lines = Lines::default();
    let writer = lines.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .with_env_filter("swim::report=info,swim_runtime=info")
        .finish();
    tracing::subscriber::set_global_default(subscriber).expect("the only subscriber in this binary");

    let options = RuntimeOptions::default().report_every(10);
    let members = start_converged(5, "rp", &fast(), &options).await;
    // Reports after convergence: all five members, probed in some periods.
    let settled = lines.reports().len();
    let reported = eventually(Duration::from_secs(20), || {
        let fresh: Vec<String> = lines.reports().into_iter().skip(settled).collect();
        let complete = (0..5)
            .all(|i| fresh.iter().any(|l| l.contains(&format!("node=rp{i}")) && field(l, "live_members") == Some(5.0)));
        std::future::ready(complete)
    })
    .await;
    assert!(reported, "every member reports: {:#?}", lines.reports());
    for line in lines.reports().iter().skip(settled) {
        let probed = field(line, "probed_pct").unwrap();
        let expected = field(line, "expected_probed_pct").unwrap();
        assert!((0.0..=100.0).contains(&probed), "{line}");
        assert!((expected - 68.4).abs() < 0.1, "1 − (3/4)^4 for 5 members: {line}");
        assert_eq!(field(line, "health"), Some(0.0), "{line}");
        assert!(field(line, "probe_timeout_ms").unwrap() > 0.0, "{line}");
        assert!(field(line, "periods").unwrap() >= 10.0, "{line}");
    }
    let probed: Vec<f64> = lines.reports().iter().skip(settled).filter_map(|l| field(l, "probed_pct")).collect();
    let mean = probed.iter().sum::<f64>() / probed.len() as f64;
    assert!(mean > 30.0, "members are probed in most periods (mean {mean:.1}%)");
    // The joins' updates were spread: some report says how long that took.
    let spread: Vec<f64> = lines.reports().iter().filter_map(|l| field(l, "spread_ms")).filter(|&s| s > 0.0).collect();
    assert!(!spread.is_empty(), "some report estimates the spread time: {:#?}", lines.reports());
    for m in &members {
        m.shutdown().await.unwrap();
    }
}
