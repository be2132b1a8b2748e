//! The runtime publishes the documented metrics through the `metrics` facade.

#![allow(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::cast_possible_truncation
)]

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use metrics::{Counter, CounterFn, Gauge, GaugeFn, Histogram, Key, KeyName, Metadata, Recorder, SharedString, Unit};
use swim::RuntimeOptions;
use swim_tests::net::{eventually, fast, start_converged};

/// A value stored as bits, for counters and gauges alike.
#[derive(Default)]
struct Cell(AtomicU64);

impl CounterFn for Cell {
    fn increment(&self, value: u64) {
        self.0.fetch_add(value, Ordering::Relaxed);
    }
    fn absolute(&self, value: u64) {
        self.0.store(value, Ordering::Relaxed);
    }
}

impl GaugeFn for Cell {
    fn increment(&self, value: f64) {
        self.set(f64::from_bits(self.0.load(Ordering::Relaxed)) + value);
    }
    fn decrement(&self, value: f64) {
        self.set(f64::from_bits(self.0.load(Ordering::Relaxed)) - value);
    }
    fn set(&self, value: f64) {
        self.0.store(value.to_bits(), Ordering::Relaxed);
    }
}

/// Keeps every metric by `name{label=value}`.
#[derive(Default, Clone)]
struct Capture(Arc<Mutex<HashMap<String, Arc<Cell>>>>);

impl Capture {
    fn cell(&self, key: &Key) -> Arc<Cell> {
        let labels: Vec<String> = key.labels().map(|l| format!("{}={}", l.key(), l.value())).collect();
        let id = format!("{}{{{}}}", key.name(), labels.join(","));
        Arc::clone(self.0.lock().unwrap().entry(id).or_default())
    }

    fn counter(&self, id: &str) -> Option<u64> {
        self.0.lock().unwrap().get(id).map(|c| c.0.load(Ordering::Relaxed))
    }

    fn gauge(&self, id: &str) -> Option<f64> {
        self.counter(id).map(f64::from_bits)
    }
}

impl Recorder for Capture {
    fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        Counter::from_arc(self.cell(key))
    }
    fn register_gauge(&self, key: &Key, _: &Metadata<'_>) -> Gauge {
        Gauge::from_arc(self.cell(key))
    }
    fn register_histogram(&self, _: &Key, _: &Metadata<'_>) -> Histogram {
        Histogram::noop()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_documented_metrics_are_published() {
    let capture = Capture::default();
    metrics::set_global_recorder(capture.clone()).expect("the only recorder in this binary");
    let options = RuntimeOptions::default().metrics_interval(Duration::from_millis(100));
    let members = start_converged(3, "mx", &fast(), &options).await;
    let all_published = || {
        ["mx0", "mx1", "mx2"].iter().all(|name| {
            let counter = |metric: &str| capture.counter(&format!("{metric}{{node={name}}}")).unwrap_or(0);
            let gauge = |metric: &str| capture.gauge(&format!("{metric}{{node={name}}}"));
            ["swim_packets_sent_total", "swim_packets_received_total", "swim_bytes_sent_total", "swim_probes_total"]
                .iter()
                .all(|m| counter(m) > 0)
                && gauge("swim_members_live") == Some(3.0)
                && gauge("swim_health_score") == Some(0.0)
                && gauge("swim_probe_timeout_seconds").unwrap_or(0.0) > 0.0
        })
    };
    let published = eventually(Duration::from_secs(10), || std::future::ready(all_published())).await;
    assert!(published, "every member publishes the documented counters and gauges");
    for m in &members {
        m.shutdown().await.unwrap();
    }
}
