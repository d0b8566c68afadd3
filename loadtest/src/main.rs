//! `jobsocket-loadtest`: many WebSocket clients on the reference server's instances, many
//! generation jobs, and how late every event reaches every client. `scripts/loadtest.sh`
//! starts Redis and the instances and runs it (`make loadtest`, `QUICK=1` for the small run
//! `make test` does).
//!
//! The run, bounded in time (`--deadline-ms`) and in count (`--clients`, `--jobs`):
//!
//! 1. every client opens its socket, a batch at a time, and waits for `connected`;
//! 2. the jobs are created, alternating instances, and each job's watchers subscribe to it
//!    (with `since: 0`) as soon as it exists: events due before a watcher subscribed come as a
//!    replay and are checked but not timed;
//! 3. every client reads until each job it watches has sent its terminal event;
//! 4. CPU and memory are read from /proc for the instances, Redis and the tool itself, over
//!    the window from the first job's creation to the last client's end.
//!
//! The runtime has one worker per core: the tool's timing must not queue behind itself more
//! than the machine makes it.

mod args;
mod client;
mod clock;
mod jobs;
mod plan;
mod report;
mod resources;

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Semaphore, mpsc};
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::args::{Command, Options, USAGE};
use crate::client::Connected;
use crate::jobs::JobInfo;
use crate::plan::{JobShape, Layout};
use crate::report::{Delivery, Latency, ProcessUse, Report};

/// How long one socket may take to open and say `connected`.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(20);

/// Job creations in flight at once.
const CREATE_CONCURRENCY: usize = 10;

/// Errors of a kind kept in the report.
const KEPT_ERRORS: usize = 10;

fn main() -> ExitCode {
    let options = match args::parse(std::env::args().skip(1)) {
        Ok(Command::Run(options)) => *options,
        Ok(Command::Help) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(error) => {
            eprintln!("error: {error}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(resources::cores())
        .enable_all()
        .build();
    let report = match runtime {
        Ok(runtime) => runtime.block_on(run(&options)),
        Err(error) => {
            eprintln!("error: cannot start the runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    print!("{}", report.table());
    if let Err(error) = write_report(&options, &report) {
        eprintln!("error: {error}");
        return ExitCode::FAILURE;
    }
    let failures = report.failures();
    if failures.is_empty() {
        println!("load test `{}` passed", options.label);
        ExitCode::SUCCESS
    } else {
        for failure in failures {
            eprintln!("FAILED: {failure}");
        }
        ExitCode::FAILURE
    }
}

fn write_report(options: &Options, report: &Report) -> Result<(), String> {
    let path = &options.report;
    if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    let text = serde_json::to_string_pretty(&report.json()).map_err(|e| e.to_string())?;
    std::fs::write(path, text + "\n").map_err(|e| format!("{}: {e}", path.display()))?;
    println!("report: {}", path.display());
    Ok(())
}

async fn run(options: &Options) -> Report {
    let deadline = Instant::now() + Duration::from_millis(options.deadline_ms);
    let shape = JobShape::for_duration(options.duration_ms, options.step_ms);
    let layout = Layout {
        instances: options.instances.len(),
        jobs: options.jobs,
        clients: options.clients,
        shared: options.redis.is_some(),
    };
    println!(
        "{} clients on {} instances, {} jobs of {} events one every {} ms ({:.1} s each); {} cores shared by everything",
        options.clients,
        options.instances.len(),
        options.jobs,
        shape.events(),
        shape.step_ms,
        shape.run_ms() as f64 / 1_000.0,
        resources::cores()
    );

    let (sockets, connect_errors) = connect_all(options, &layout, deadline).await;
    let clients_connected = sockets.iter().flatten().count();
    let clients_by_instance = clients_by_instance(&sockets);
    println!(
        "{clients_connected} of {} clients connected",
        options.clients
    );

    let ticks_per_second = resources::clock_ticks_per_second();
    let mut measured = measured_processes(options);
    let cpu_before: Vec<_> = measured
        .iter()
        .map(|(_, pid)| resources::cpu_ticks(*pid).ok())
        .collect();
    let machine_before = resources::machine_ticks().ok();
    let window_start = Instant::now();

    // Each client's tasks get the jobs it watches on its own queue; dropping the senders
    // tells it no more will come.
    let mut readers = JoinSet::new();
    let mut watch_senders = Vec::with_capacity(options.clients);
    for socket in sockets {
        let (sender, receiver) = mpsc::unbounded_channel();
        watch_senders.push(sender);
        if let Some(socket) = socket {
            readers.spawn(client::run(socket, receiver, deadline));
        }
    }
    let (created, job_errors) = create_jobs(options, &layout, shape, &watch_senders).await;
    drop(watch_senders);
    println!(
        "{} of {} jobs created; running",
        created.len(),
        options.jobs
    );

    let mut delivery = Delivery::default();
    while let Some(tally) = readers.join_next().await {
        match tally {
            Ok(tally) => delivery.add(tally),
            Err(error) => {
                delivery.error_count += 1;
                delivery
                    .errors
                    .push(format!("a client task failed: {error}"));
            }
        }
    }
    let window = window_start.elapsed();

    let processes = measured
        .drain(..)
        .zip(cpu_before)
        .map(|((name, pid), before)| {
            let after = resources::cpu_ticks(pid).ok();
            let cpu_percent = before.zip(after).map(|(before, after)| {
                let seconds = after.saturating_sub(before) as f64 / ticks_per_second as f64;
                seconds / window.as_secs_f64() * 100.0
            });
            ProcessUse {
                name,
                pid,
                cpu_percent,
                memory: resources::memory(pid).ok(),
            }
        })
        .collect();
    let machine_busy_percent = machine_before.zip(resources::machine_ticks().ok()).map(
        |((busy_before, total_before), (busy, total))| {
            let total = total.saturating_sub(total_before).max(1);
            busy.saturating_sub(busy_before) as f64 / total as f64 * 100.0
        },
    );
    let latency = Latency::of(&mut delivery.latencies_us);
    Report {
        label: options.label.clone(),
        mode: if layout.shared { "redis" } else { "memory" },
        cores: resources::cores(),
        clients: options.clients,
        clients_connected,
        clients_by_instance,
        remote_watchers: layout.remote_watchers(),
        jobs: options.jobs,
        jobs_created: created.len(),
        job_errors,
        connect_errors,
        events_per_job: shape.events(),
        step_ms: shape.step_ms,
        job_run_ms: shape.run_ms(),
        window_ms: window.as_secs_f64() * 1_000.0,
        estimated_start: created.iter().any(|job| job.estimated_start),
        delivery,
        latency,
        processes,
        machine_busy_percent,
        redis_memory: options
            .redis
            .map(|redis| resources::redis_memory(redis.port)),
    }
}

/// Opens every client's socket, `connect_concurrency` at a time; `None` for one that failed.
async fn connect_all(
    options: &Options,
    layout: &Layout,
    deadline: Instant,
) -> (Vec<Option<Connected>>, Vec<String>) {
    let gate = Arc::new(Semaphore::new(options.connect_concurrency));
    let mut opening = JoinSet::new();
    for client in 0..options.clients {
        let instance = options.instances[layout.client_instance(client)].clone();
        let gate = gate.clone();
        opening.spawn(async move {
            let _turn = gate.acquire_owned().await;
            let timeout = CONNECT_TIMEOUT.min(deadline.saturating_duration_since(Instant::now()));
            let socket = client::connect(&instance.address, timeout).await;
            (
                client,
                socket.and_then(|socket| on_its_instance(socket, &instance.name)),
            )
        });
    }
    let mut sockets: Vec<Option<Connected>> = (0..options.clients).map(|_| None).collect();
    let mut errors = Vec::new();
    while let Some(opened) = opening.join_next().await {
        match opened {
            Ok((client, Ok(socket))) => sockets[client] = Some(socket),
            Ok((_, Err(error))) => keep(&mut errors, error),
            Err(error) => keep(&mut errors, format!("a connecting task failed: {error}")),
        }
    }
    (sockets, errors)
}

/// A socket whose `clientId` names an instance (`NAME.c_N`, Redis mode) must name the one it
/// was opened to: otherwise the split over instances is not what the report says.
fn on_its_instance(socket: Connected, instance: &str) -> Result<Connected, String> {
    match socket.client_id.split_once('.') {
        Some((named, _)) if named != instance => Err(format!(
            "a client opened to instance {instance} got the id {} of another",
            socket.client_id
        )),
        _ => Ok(socket),
    }
}

/// Creates every job on its instance, `CREATE_CONCURRENCY` at a time, and hands each to its
/// watchers as soon as it exists.
async fn create_jobs(
    options: &Options,
    layout: &Layout,
    shape: JobShape,
    watchers: &[mpsc::UnboundedSender<Arc<JobInfo>>],
) -> (Vec<Arc<JobInfo>>, Vec<String>) {
    let gate = Arc::new(Semaphore::new(CREATE_CONCURRENCY));
    let mut creating = JoinSet::new();
    for job in 0..options.jobs {
        let address = options.instances[layout.job_instance(job)].address.clone();
        let gate = gate.clone();
        creating.spawn(async move {
            let _turn = gate.acquire_owned().await;
            jobs::create_generation(&address, job, shape).await
        });
    }
    let mut created = Vec::new();
    let mut errors = Vec::new();
    while let Some(result) = creating.join_next().await {
        match result {
            Ok(Ok(job)) => {
                let job = Arc::new(job);
                for client in layout.watchers(job.index) {
                    // A client that already ended counts the job as missing when it sees
                    // its queue; a closed queue means it is gone.
                    let _ = watchers[client].send(job.clone());
                }
                created.push(job);
            }
            Ok(Err(error)) => keep(&mut errors, error),
            Err(error) => keep(&mut errors, format!("a creating task failed: {error}")),
        }
    }
    (created, errors)
}

/// The processes whose cost is reported: each instance, Redis, and the tool itself.
fn measured_processes(options: &Options) -> Vec<(String, u32)> {
    let mut processes: Vec<(String, u32)> = options
        .instances
        .iter()
        .map(|instance| (format!("instance {}", instance.name), instance.pid))
        .collect();
    if let Some(redis) = options.redis {
        processes.push(("redis".to_owned(), redis.pid));
    }
    processes.push(("load tool".to_owned(), std::process::id()));
    processes
}

/// Connected clients by the instance named in their `clientId` (`NAME.c_N`); empty when the
/// ids name none (the in-memory server's `c_N`).
fn clients_by_instance(sockets: &[Option<Connected>]) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for socket in sockets.iter().flatten() {
        if let Some((instance, _)) = socket.client_id.split_once('.') {
            *counts.entry(instance.to_owned()).or_default() += 1;
        }
    }
    counts
}

fn keep(errors: &mut Vec<String>, error: String) {
    if errors.len() < KEPT_ERRORS {
        errors.push(error);
    }
}
