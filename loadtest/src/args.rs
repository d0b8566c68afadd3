//! The tool's command line, parsed by hand as the server's is: a dozen flags do not justify an
//! argument-parsing dependency. Every flag takes a value, as `--flag value` or `--flag=value`;
//! anything else is an error that names the flag.

use std::fmt;
use std::path::PathBuf;

/// What `--help` and every argument error print.
pub const USAGE: &str = "\
usage: jobsocket-loadtest --instance NAME,HOST:PORT,PID [--instance …] [options]

Opens many WebSocket clients on the reference server's instances, starts generation jobs
on them, and measures how late each event reaches each client (against the job's schedule:
`startedAt` and `stepMs` of the create response), with each instance's CPU and memory, and
Redis's memory. Fails (exit 1) if any event was lost, repeated or out of order.

options:
  --instance NAME,HOST:PORT,PID  a server instance (repeatable; jobs and clients alternate)
  --redis PORT,PID     the Redis the instances share: jobs are then watched from every
                       instance and Redis's memory is reported; without it each client
                       watches a job of its own instance (the in-memory server)
  --clients N          WebSocket clients [1000]
  --jobs N             generation jobs; client i watches job i mod N [100]
  --duration-ms MS     how long each job runs [20000]
  --step-ms MS         time between two events of a job: 10 is 100 events a second [10]
  --deadline-ms MS     hard limit of the whole run, connecting included [duration + 40000]
  --connect-concurrency N  sockets opening at once [100]
  --label TEXT         the run's name in the report [full]
  --report PATH        the JSON report [target/loadtest/report.json]
  -h, --help           print this help";

/// One server instance under test.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instance {
    /// Its `--instance` name, which prefixes the `clientId`s it hands out in Redis mode.
    pub name: String,
    /// `HOST:PORT` of its HTTP and WebSocket listener.
    pub address: String,
    /// Its process, whose CPU and memory are read from /proc.
    pub pid: u32,
}

/// The Redis the instances share.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Redis {
    pub port: u16,
    pub pid: u32,
}

/// Everything the run needs.
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    pub instances: Vec<Instance>,
    pub redis: Option<Redis>,
    pub clients: usize,
    pub jobs: usize,
    pub duration_ms: u64,
    pub step_ms: u64,
    pub deadline_ms: u64,
    pub connect_concurrency: usize,
    pub label: String,
    pub report: PathBuf,
}

/// What the command line asks for.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    Run(Box<Options>),
    Help,
}

/// Why the command line was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArgsError(String);

impl fmt::Display for ArgsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ArgsError {}

/// How much slack the default deadline gives beyond the jobs' own run time: connecting a
/// thousand sockets, creating the jobs, and a loaded machine's lateness.
const DEADLINE_SLACK_MS: u64 = 40_000;

/// Parses the arguments after the program name.
pub fn parse<I: IntoIterator<Item = String>>(args: I) -> Result<Command, ArgsError> {
    let mut instances = Vec::new();
    let mut redis = None;
    let mut clients = 1_000;
    let mut jobs = 100;
    let mut duration_ms = 20_000;
    let mut step_ms = 10;
    let mut deadline_ms = None;
    let mut connect_concurrency = 100;
    let mut label = "full".to_owned();
    let mut report = PathBuf::from("target/loadtest/report.json");
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        if arg == "-h" || arg == "--help" {
            return Ok(Command::Help);
        }
        let (flag, inline) = match arg.split_once('=') {
            Some((flag, value)) => (flag.to_owned(), Some(value.to_owned())),
            None => (arg.clone(), None),
        };
        if !flag.starts_with("--") {
            return Err(ArgsError(format!("unexpected argument \"{arg}\"")));
        }
        let value = match inline.or_else(|| args.next()) {
            Some(value) => value,
            None => return Err(ArgsError(format!("{flag} needs a value"))),
        };
        match flag.as_str() {
            "--instance" => instances.push(instance(&value)?),
            "--redis" => redis = Some(redis_target(&value)?),
            "--clients" => clients = number(&flag, &value, 1, 100_000)? as usize,
            "--jobs" => jobs = number(&flag, &value, 1, 10_000)? as usize,
            "--duration-ms" => duration_ms = number(&flag, &value, 1, 600_000)?,
            "--step-ms" => step_ms = number(&flag, &value, 1, 60_000)?,
            "--deadline-ms" => deadline_ms = Some(number(&flag, &value, 1, 3_600_000)?),
            "--connect-concurrency" => {
                connect_concurrency = number(&flag, &value, 1, 10_000)? as usize;
            }
            "--label" => label = value,
            "--report" => report = PathBuf::from(value),
            _ => return Err(ArgsError(format!("unexpected argument \"{arg}\""))),
        }
    }
    if instances.is_empty() {
        return Err(ArgsError("at least one --instance is needed".to_owned()));
    }
    if duration_ms < step_ms {
        return Err(ArgsError(format!(
            "--duration-ms {duration_ms} is shorter than one step of {step_ms} ms"
        )));
    }
    Ok(Command::Run(Box::new(Options {
        instances,
        redis,
        clients,
        jobs,
        duration_ms,
        step_ms,
        deadline_ms: deadline_ms.unwrap_or(duration_ms + DEADLINE_SLACK_MS),
        connect_concurrency,
        label,
        report,
    })))
}

/// `NAME,HOST:PORT,PID`.
fn instance(value: &str) -> Result<Instance, ArgsError> {
    let bad = |reason: &str| ArgsError(format!("invalid --instance \"{value}\": {reason}"));
    let [name, address, pid] = value.split(',').collect::<Vec<_>>()[..] else {
        return Err(bad("expected NAME,HOST:PORT,PID"));
    };
    if name.is_empty() {
        return Err(bad("empty name"));
    }
    match address.rsplit_once(':') {
        Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok() => {}
        _ => return Err(bad("the address must be HOST:PORT")),
    }
    let pid = pid.parse().map_err(|_| bad("the pid is not a number"))?;
    Ok(Instance {
        name: name.to_owned(),
        address: address.to_owned(),
        pid,
    })
}

/// `PORT,PID`.
fn redis_target(value: &str) -> Result<Redis, ArgsError> {
    let bad = || ArgsError(format!("invalid --redis \"{value}\": expected PORT,PID"));
    let (port, pid) = value.split_once(',').ok_or_else(bad)?;
    Ok(Redis {
        port: port.parse().map_err(|_| bad())?,
        pid: pid.parse().map_err(|_| bad())?,
    })
}

fn number(flag: &str, value: &str, min: u64, max: u64) -> Result<u64, ArgsError> {
    match value.parse::<u64>() {
        Ok(number) if (min..=max).contains(&number) => Ok(number),
        _ => Err(ArgsError(format!(
            "invalid value \"{value}\" for {flag}: a whole number from {min} to {max}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str]) -> Result<Command, ArgsError> {
        parse(args.iter().map(|arg| (*arg).to_owned()))
    }

    #[test]
    fn instances_and_redis_are_parsed_and_the_rest_defaults_to_the_full_run() {
        let Ok(Command::Run(options)) = run(&[
            "--instance",
            "a,127.0.0.1:4000,11",
            "--instance=b,127.0.0.1:4001,12",
            "--redis",
            "6400,13",
        ]) else {
            panic!("expected a run");
        };
        assert_eq!(options.instances.len(), 2);
        assert_eq!(options.instances[1].name, "b");
        assert_eq!(options.instances[1].address, "127.0.0.1:4001");
        assert_eq!(options.instances[1].pid, 12);
        assert_eq!(
            options.redis,
            Some(Redis {
                port: 6400,
                pid: 13
            })
        );
        assert_eq!((options.clients, options.jobs), (1_000, 100));
        assert_eq!((options.duration_ms, options.step_ms), (20_000, 10));
        assert_eq!(options.deadline_ms, 60_000);
    }

    #[test]
    fn bad_arguments_are_refused_with_the_flag_named() {
        let error = |args: &[&str]| run(args).unwrap_err().to_string();
        assert!(error(&[]).contains("--instance"));
        assert!(error(&["--instance", "a,127.0.0.1,1"]).contains("HOST:PORT"));
        assert!(error(&["--instance", "a,h:1,x"]).contains("pid"));
        assert!(error(&["--instance", "a,h:1,1", "--clients", "0"]).contains("--clients"));
        assert!(error(&["--instance", "a,h:1,1", "--redis", "x"]).contains("--redis"));
        assert!(error(&["--instance", "a,h:1,1", "--verbose", "1"]).contains("--verbose"));
        assert!(error(&["--instance", "a,h:1,1", "--jobs"]).contains("needs a value"));
        let short = error(&["--instance", "a,h:1,1", "--duration-ms", "5"]);
        assert!(short.contains("shorter than one step"));
        assert_eq!(run(&["--clients", "3", "-h"]), Ok(Command::Help));
    }
}
