//! Results of timed phases, their statistics, and their markdown / JSON rendering.

use std::time::Duration;

use serde_json::{Value, json};

use crate::probe::Usage;

/// One timed phase: `items` entities written by `requests` requests (HTTP requests or
/// transactions), `concurrency` at a time.
pub struct Phase {
    pub pass: String,
    pub path: String,
    pub items: usize,
    pub requests: usize,
    pub concurrency: usize,
    pub wall: Duration,
    /// One latency per request, sorted.
    pub latencies: Vec<Duration>,
    pub usage: Usage,
}

impl Phase {
    pub fn new(
        pass: impl Into<String>,
        path: impl Into<String>,
        items: usize,
        concurrency: usize,
        wall: Duration,
        mut latencies: Vec<Duration>,
        usage: Usage,
    ) -> Phase {
        latencies.sort();
        Phase {
            pass: pass.into(),
            path: path.into(),
            items,
            requests: latencies.len(),
            concurrency,
            wall,
            latencies,
            usage,
        }
    }

    /// Entities per second of wall time.
    pub fn rate(&self) -> f64 {
        self.items as f64 / self.wall.as_secs_f64().max(1e-9)
    }

    /// Requests per second of wall time.
    pub fn request_rate(&self) -> f64 {
        self.requests as f64 / self.wall.as_secs_f64().max(1e-9)
    }

    /// The nearest-rank percentile `p` (0..=100) of the latencies.
    pub fn percentile(&self, p: f64) -> Duration {
        if self.latencies.is_empty() {
            return Duration::ZERO;
        }
        let rank = ((p / 100.0) * self.latencies.len() as f64).ceil() as usize;
        self.latencies[rank.clamp(1, self.latencies.len()) - 1]
    }

    pub fn max(&self) -> Duration {
        self.latencies.last().copied().unwrap_or_default()
    }

    pub fn to_json(&self) -> Value {
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        let span = self.usage.write_span;
        json!({
            "pass": self.pass,
            "path": self.path,
            "entities": self.items,
            "requests": self.requests,
            "concurrency": self.concurrency,
            "wallSeconds": self.wall.as_secs_f64(),
            "entitiesPerSecond": self.rate(),
            "requestsPerSecond": self.request_rate(),
            "latencyMs": {
                "p50": ms(self.percentile(50.0)),
                "p90": ms(self.percentile(90.0)),
                "p99": ms(self.percentile(99.0)),
                "max": ms(self.max()),
            },
            "benchProcessCpuSeconds": self.usage.this_cpu,
            "postgresBackendCpuSeconds": self.usage.pg_cpu,
            "storeWriteSpan": if span.calls == 0 { Value::Null } else { json!({
                "calls": span.calls,
                "totalSeconds": span.total.as_secs_f64(),
                "busySeconds": span.busy.as_secs_f64(),
                "idleSeconds": span.idle().as_secs_f64(),
            })},
        })
    }
}

pub fn secs(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64())
}

pub fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1e3)
}

pub fn opt_secs(v: Option<f64>) -> String {
    v.map_or_else(|| "n/a".to_owned(), |s| format!("{s:.1}"))
}

pub fn thousands(v: f64) -> String {
    let n = v.round() as u64;
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The time inside the store's `write()` calls of the phases that went through the API.
pub fn span_table(phases: &[&Phase]) -> String {
    let mut out = String::from(
        "| phase | write() calls | entities | time in write() (s) | polled (s) | waiting (s) | polled µs per entity |\n\
         |---|---:|---:|---:|---:|---:|---:|\n",
    );
    for p in phases {
        let s = p.usage.write_span;
        if s.calls == 0 {
            continue;
        }
        out.push_str(&format!(
            "| {} {} | {} | {} | {} | {} | {} | {:.0} |\n",
            p.pass,
            p.path,
            s.calls,
            p.items,
            secs(s.total),
            secs(s.busy),
            secs(s.idle()),
            s.busy.as_secs_f64() * 1e6 / p.items.max(1) as f64,
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_thousands() {
        assert_eq!(thousands(0.0), "0");
        assert_eq!(thousands(999.4), "999");
        assert_eq!(thousands(1_000.0), "1,000");
        assert_eq!(thousands(1_234_567.0), "1,234,567");
    }

    #[test]
    fn percentiles() {
        let lat = (1..=100).map(Duration::from_millis).collect();
        let usage = Usage {
            this_cpu: None,
            pg_cpu: None,
            write_span: Default::default(),
        };
        let p = Phase::new("p", "x", 100, 1, Duration::from_secs(1), lat, usage);
        assert_eq!(p.percentile(50.0), Duration::from_millis(50));
        assert_eq!(p.percentile(99.0), Duration::from_millis(99));
        assert_eq!(p.max(), Duration::from_millis(100));
        assert_eq!(p.rate(), 100.0);
    }
}
