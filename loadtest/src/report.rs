//! The run's figures: every client's tally summed, latency percentiles, what each process
//! cost, the checks that fail the run, the table printed at the end and the JSON report.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::{Value, json};

use crate::client::Tally;
use crate::resources::{Memory, RedisMemory};

/// Every client's tally, summed.
#[derive(Debug, Default)]
pub struct Delivery {
    pub latencies_us: Vec<u32>,
    pub expected: u64,
    pub received: u64,
    pub missing: u64,
    pub duplicates: u64,
    pub out_of_order: u64,
    pub unexpected: u64,
    pub replayed: u64,
    pub early: u64,
    pub unfinished: u64,
    pub timed_out_clients: u64,
    /// Close codes the servers sent, and how many sockets got each.
    pub closes: BTreeMap<u16, u64>,
    pub error_count: u64,
    pub errors: Vec<String>,
}

/// Errors kept for the report over all clients.
const KEPT_ERRORS: usize = 10;

impl Delivery {
    pub fn add(&mut self, tally: Tally) {
        self.latencies_us.extend(tally.latencies_us);
        self.expected += tally.expected;
        self.received += tally.received;
        self.missing += tally.missing;
        self.duplicates += tally.duplicates;
        self.out_of_order += tally.out_of_order;
        self.unexpected += tally.unexpected;
        self.replayed += tally.replayed;
        self.early += tally.early;
        self.unfinished += tally.unfinished;
        self.timed_out_clients += u64::from(tally.timed_out);
        if let Some(code) = tally.closed_by_server {
            *self.closes.entry(code).or_default() += 1;
        }
        self.error_count += tally.error_count;
        let room = KEPT_ERRORS.saturating_sub(self.errors.len());
        self.errors.extend(tally.errors.into_iter().take(room));
    }
}

/// Lateness percentiles, in ms.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Latency {
    pub samples: usize,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub max: f64,
    pub mean: f64,
}

impl Latency {
    /// Nearest-rank percentiles of `samples` (µs), which it sorts; `None` without samples.
    pub fn of(samples: &mut [u32]) -> Option<Latency> {
        if samples.is_empty() {
            return None;
        }
        samples.sort_unstable();
        let ms = |us: u32| f64::from(us) / 1_000.0;
        let rank = |percent: f64| {
            let rank = (percent / 100.0 * samples.len() as f64).ceil() as usize;
            ms(samples[rank.clamp(1, samples.len()) - 1])
        };
        let sum: u64 = samples.iter().map(|&us| u64::from(us)).sum();
        Some(Latency {
            samples: samples.len(),
            p50: rank(50.0),
            p90: rank(90.0),
            p99: rank(99.0),
            max: ms(samples[samples.len() - 1]),
            mean: sum as f64 / samples.len() as f64 / 1_000.0,
        })
    }
}

/// What one process cost over the measured window.
#[derive(Debug, Clone, PartialEq)]
pub struct ProcessUse {
    /// `instance a`, `redis`, `load tool`.
    pub name: String,
    pub pid: u32,
    /// CPU time over wall time, in % of one core; `None` if /proc could not be read.
    pub cpu_percent: Option<f64>,
    pub memory: Option<Memory>,
}

/// The whole run.
#[derive(Debug)]
pub struct Report {
    pub label: String,
    /// `redis` (jobs shared through Redis) or `memory` (each instance alone).
    pub mode: &'static str,
    pub cores: usize,
    pub clients: usize,
    pub clients_connected: usize,
    /// Clients per instance name, by the `clientId` prefix the instance gave.
    pub clients_by_instance: BTreeMap<String, usize>,
    pub remote_watchers: usize,
    pub jobs: usize,
    pub jobs_created: usize,
    pub job_errors: Vec<String>,
    pub connect_errors: Vec<String>,
    pub events_per_job: u64,
    pub step_ms: u64,
    pub job_run_ms: u64,
    /// From the first job's creation to the last client's end.
    pub window_ms: f64,
    pub estimated_start: bool,
    pub delivery: Delivery,
    pub latency: Option<Latency>,
    pub processes: Vec<ProcessUse>,
    /// Busy time of all cores over the window, in % of all of them.
    pub machine_busy_percent: Option<f64>,
    pub redis_memory: Option<Result<RedisMemory, String>>,
}

impl Report {
    /// Why the run failed: lost, repeated or reordered events, clients or jobs that did not
    /// start, figures that did not come out. Empty when it passed.
    pub fn failures(&self) -> Vec<String> {
        let d = &self.delivery;
        let mut failures = Vec::new();
        let mut check = |failed: bool, message: String| {
            if failed {
                failures.push(message);
            }
        };
        let missing_clients = self.clients - self.clients_connected;
        check(
            missing_clients > 0,
            format!("{missing_clients} clients could not connect"),
        );
        let missing_jobs = self.jobs - self.jobs_created;
        check(
            missing_jobs > 0,
            format!("{missing_jobs} jobs could not be created"),
        );
        check(d.missing > 0, format!("{} events missing", d.missing));
        check(
            d.duplicates > 0,
            format!("{} events duplicated", d.duplicates),
        );
        check(
            d.out_of_order > 0,
            format!("{} events out of order", d.out_of_order),
        );
        check(
            d.unexpected > 0,
            format!("{} unexpected events", d.unexpected),
        );
        check(
            d.received != d.expected,
            format!("{} events received, {} expected", d.received, d.expected),
        );
        check(
            d.timed_out_clients > 0,
            format!("{} clients hit the deadline", d.timed_out_clients),
        );
        check(
            !d.closes.is_empty(),
            format!("the servers closed sockets: {:?}", d.closes),
        );
        let first = d.errors.first().map_or("", String::as_str);
        check(
            d.error_count > 0,
            format!("{} errors, the first: {first}", d.error_count),
        );
        check(
            self.latency.is_none(),
            "no event was timed: no latency came out".to_owned(),
        );
        for process in &self.processes {
            check(
                process.cpu_percent.is_none(),
                format!("no CPU figure for {}", process.name),
            );
            check(
                process.memory.is_none(),
                format!("no memory figure for {}", process.name),
            );
        }
        check(
            self.machine_busy_percent.is_none(),
            "no machine CPU figure".to_owned(),
        );
        if let Some(Err(error)) = &self.redis_memory {
            failures.push(format!("no Redis memory figure: {error}"));
        }
        failures
    }

    /// CPU of every process on the machine but the measured ones, in % of one core: what
    /// else competed for the cores during the run (builds, other tests).
    pub fn others_cpu_percent(&self) -> Option<f64> {
        let busy = self.machine_busy_percent? * self.cores as f64;
        let ours: Option<f64> = self.processes.iter().map(|p| p.cpu_percent).sum();
        Some((busy - ours?).max(0.0))
    }

    /// The table printed at the end of the run.
    pub fn table(&self) -> String {
        let d = &self.delivery;
        let mut out = String::new();
        let mb = |bytes: u64| format!("{:.1} MB", bytes as f64 / 1_048_576.0);
        let _ = writeln!(out, "load test `{}` ({} mode)", self.label, self.mode);
        let _ = writeln!(
            out,
            "  {} clients ({} connected{}), {} jobs ({} created), {} events per job, one every {} ms ({:.1} s)",
            self.clients,
            self.clients_connected,
            by_instance(&self.clients_by_instance),
            self.jobs,
            self.jobs_created,
            self.events_per_job,
            self.step_ms,
            self.job_run_ms as f64 / 1_000.0
        );
        let _ = writeln!(
            out,
            "  watchers on another instance than their job's: {} of {}",
            self.remote_watchers, self.clients
        );
        let _ = writeln!(out, "\ndelivery");
        let _ = writeln!(out, "  {:<32} {:>12}", "expected", d.expected);
        let _ = writeln!(out, "  {:<32} {:>12}", "received", d.received);
        let _ = writeln!(out, "  {:<32} {:>12}", "missing", d.missing);
        let _ = writeln!(out, "  {:<32} {:>12}", "duplicated", d.duplicates);
        let _ = writeln!(out, "  {:<32} {:>12}", "out of order", d.out_of_order);
        let _ = writeln!(out, "  {:<32} {:>12}", "unexpected", d.unexpected);
        let _ = writeln!(
            out,
            "  {:<32} {:>12}",
            "replayed on subscribe (not timed)", d.replayed
        );
        let rate = d.received as f64 / (self.window_ms / 1_000.0).max(0.001);
        let _ = writeln!(
            out,
            "  {:<32} {:>12.0}",
            "events per second to clients", rate
        );
        let _ = writeln!(
            out,
            "\ndelivery latency (received − due on the job's schedule)"
        );
        match &self.latency {
            Some(latency) => {
                let _ = writeln!(out, "  {:<32} {:>12}", "timed events", latency.samples);
                for (name, ms) in [
                    ("p50", latency.p50),
                    ("p90", latency.p90),
                    ("p99", latency.p99),
                    ("max", latency.max),
                    ("mean", latency.mean),
                ] {
                    let _ = writeln!(out, "  {name:<32} {ms:>9.2} ms");
                }
                if self.estimated_start {
                    let _ = writeln!(
                        out,
                        "  (the server gives no startedAt: due times count from the create request)"
                    );
                }
            }
            None => {
                let _ = writeln!(out, "  no event was timed");
            }
        }
        let _ = writeln!(
            out,
            "\nresources over {:.1} s (CPU in % of one core; the machine has {} cores)",
            self.window_ms / 1_000.0,
            self.cores
        );
        let _ = writeln!(
            out,
            "  {:<14} {:>8} {:>8} {:>12} {:>12}",
            "process", "pid", "CPU", "RSS now", "RSS peak"
        );
        for process in &self.processes {
            let cpu = process
                .cpu_percent
                .map_or("?".to_owned(), |cpu| format!("{cpu:.0}%"));
            let (rss, peak) = process
                .memory
                .map_or(("?".to_owned(), "?".to_owned()), |m| {
                    (mb(m.rss), mb(m.peak_rss))
                });
            let _ = writeln!(
                out,
                "  {:<14} {:>8} {:>8} {:>12} {:>12}",
                process.name, process.pid, cpu, rss, peak
            );
        }
        if let Some(busy) = self.machine_busy_percent {
            let _ = writeln!(
                out,
                "  machine busy: {busy:.0}% of its {} cores",
                self.cores
            );
        }
        if let Some(others) = self.others_cpu_percent() {
            let _ = writeln!(
                out,
                "  other processes of the machine (not this run's): {others:.0}% of one core"
            );
        }
        match &self.redis_memory {
            Some(Ok(memory)) => {
                let _ = writeln!(
                    out,
                    "  redis memory: used {}, peak {}, rss {}",
                    mb(memory.used),
                    mb(memory.peak),
                    mb(memory.rss)
                );
            }
            Some(Err(error)) => {
                let _ = writeln!(out, "  redis memory: {error}");
            }
            None => {}
        }
        let _ = writeln!(
            out,
            "\nThe servers, Redis and this tool share the machine's {} cores: these figures are for\n\
             this machine under that load, not for a server with cores of its own.",
            self.cores
        );
        out
    }

    /// The JSON report.
    pub fn json(&self) -> Value {
        let d = &self.delivery;
        let latency = self.latency.map(|latency| {
            json!({
                "samples": latency.samples,
                "p50Ms": latency.p50,
                "p90Ms": latency.p90,
                "p99Ms": latency.p99,
                "maxMs": latency.max,
                "meanMs": latency.mean,
            })
        });
        let processes: Vec<Value> = self
            .processes
            .iter()
            .map(|process| {
                json!({
                    "name": process.name,
                    "pid": process.pid,
                    "cpuPercentOfOneCore": process.cpu_percent,
                    "rssBytes": process.memory.map(|m| m.rss),
                    "peakRssBytes": process.memory.map(|m| m.peak_rss),
                })
            })
            .collect();
        let redis = match &self.redis_memory {
            Some(Ok(memory)) => json!({
                "usedMemory": memory.used,
                "usedMemoryPeak": memory.peak,
                "usedMemoryRss": memory.rss,
            }),
            Some(Err(error)) => json!({ "error": error }),
            None => Value::Null,
        };
        let failures = self.failures();
        json!({
            "label": self.label,
            "mode": self.mode,
            "ok": failures.is_empty(),
            "failures": failures,
            "cores": self.cores,
            "clients": self.clients,
            "clientsConnected": self.clients_connected,
            "clientsByInstance": self.clients_by_instance,
            "remoteWatchers": self.remote_watchers,
            "jobs": self.jobs,
            "jobsCreated": self.jobs_created,
            "jobErrors": self.job_errors,
            "connectErrors": self.connect_errors,
            "eventsPerJob": self.events_per_job,
            "stepMs": self.step_ms,
            "jobRunMs": self.job_run_ms,
            "windowMs": self.window_ms,
            "estimatedStart": self.estimated_start,
            "delivery": {
                "expected": d.expected,
                "received": d.received,
                "missing": d.missing,
                "duplicated": d.duplicates,
                "outOfOrder": d.out_of_order,
                "unexpected": d.unexpected,
                "replayed": d.replayed,
                "early": d.early,
                "unfinishedSubscriptions": d.unfinished,
                "timedOutClients": d.timed_out_clients,
                "closesByServer": d.closes,
                "errorCount": d.error_count,
                "errors": d.errors,
            },
            "latency": latency,
            "processes": processes,
            "machineBusyPercent": self.machine_busy_percent,
            "otherProcessesCpuPercentOfOneCore": self.others_cpu_percent(),
            "redisMemory": redis,
        })
    }
}

/// ` (a: 500, b: 500)`, or nothing when the client ids name no instance.
fn by_instance(counts: &BTreeMap<String, usize>) -> String {
    if counts.is_empty() {
        return String::new();
    }
    let parts: Vec<String> = counts
        .iter()
        .map(|(name, count)| format!("{name}: {count}"))
        .collect();
    format!(": {}", parts.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank_in_milliseconds() {
        let mut samples: Vec<u32> = (1..=100).rev().map(|ms| ms * 1_000).collect();
        let latency = Latency::of(&mut samples).expect("samples");
        assert_eq!(latency.samples, 100);
        assert_eq!((latency.p50, latency.p90, latency.p99), (50.0, 90.0, 99.0));
        assert_eq!((latency.max, latency.mean), (100.0, 50.5));
        let one = Latency::of(&mut [1_500]).expect("one sample");
        assert_eq!((one.p50, one.p99, one.max), (1.5, 1.5, 1.5));
        assert_eq!(Latency::of(&mut []), None);
    }

    #[test]
    fn a_lost_or_repeated_event_fails_the_run() {
        let mut tally = Tally {
            latencies_us: vec![1_000],
            expected: 3,
            received: 3,
            ..Tally::default()
        };
        let report = |tally: &Tally| {
            let mut delivery = Delivery::default();
            delivery.add(Tally {
                latencies_us: tally.latencies_us.clone(),
                errors: Vec::new(),
                ..*tally
            });
            let latency = Latency::of(&mut delivery.latencies_us);
            Report {
                label: "test".to_owned(),
                mode: "memory",
                cores: 2,
                clients: 1,
                clients_connected: 1,
                clients_by_instance: BTreeMap::new(),
                remote_watchers: 0,
                jobs: 1,
                jobs_created: 1,
                job_errors: Vec::new(),
                connect_errors: Vec::new(),
                events_per_job: 3,
                step_ms: 10,
                job_run_ms: 20,
                window_ms: 30.0,
                estimated_start: false,
                delivery,
                latency,
                processes: Vec::new(),
                machine_busy_percent: Some(50.0),
                redis_memory: None,
            }
        };
        assert_eq!(report(&tally).failures(), Vec::<String>::new());
        assert_eq!(
            report(&tally).others_cpu_percent(),
            Some(100.0),
            "half of two cores"
        );
        tally.duplicates = 1;
        tally.received = 4;
        let failures = report(&tally).failures();
        assert!(
            failures.iter().any(|f| f.contains("duplicated")),
            "{failures:?}"
        );
        tally.duplicates = 0;
        tally.received = 2;
        tally.missing = 1;
        let failures = report(&tally).failures();
        assert!(
            failures.iter().any(|f| f.contains("missing")),
            "{failures:?}"
        );
        assert_eq!(report(&tally).json()["ok"], false);
    }
}
