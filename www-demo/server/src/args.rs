//! The command line, parsed by hand: a few flags do not justify an argument-parsing dependency.
//!
//! Every flag but `--admin` takes a value, as `--flag value` or `--flag=value`. Anything unexpected is an
//! [`ArgsError`] whose `Display` names the flag and what was wrong, and `main` prints it with
//! [`USAGE`].
//!
//! Secrets may come from the environment instead ([`TOKEN_ENV`], [`ADMIN_KEY_ENV`]) or, for
//! the token, from a file: a flag's value is visible to every user of the machine in `ps`.

use std::fmt;
use std::path::PathBuf;

use crate::Config;
use crate::http::MAX_STEP_MS;

/// What `--help` and every argument error print.
pub const USAGE: &str = "\
usage: jobsocket-server [options]

The reference job server of jobsocket: simulated generation and composition jobs,
their events over a WebSocket at /ws, their snapshots over HTTP at /api/v1/.

options:
  --host HOST          address to listen on (default 127.0.0.1)
  --port PORT          port to listen on, 0 for any free port (default 8787)
  --step-ms MS         default time between two events of a job (default 300)
  --static DIR         serve DIR at / (index.html at /)
  --pkg DIR            serve DIR at /pkg/
  --heartbeat-ms MS    how often clients should ping, sent in `connected` (default 30000)
  --token SECRET       sockets must give SECRET (?token=SECRET, or an `auth` first frame)
                       or are closed with code 4001; the API answers 401 without it
                       (Authorization: Bearer SECRET, or ?token=SECRET). Visible in `ps`:
                       prefer --token-file or the environment variable JOBSOCKET_TOKEN
  --token-file PATH    the token is the first line of the file at PATH
  --allow-origin ORIGIN  browser pages of ORIGIN may open sockets and call the API
                       (repeatable; scheme://host[:port], or scheme://host:* for any
                       port); pages of the server's own origin always may
  --unsafe-test-origin ORIGIN  pages of ORIGIN may call everything cross-origin, the
                       admin API included (repeatable): for browser test runners only
  --allow-host HOST    the server answers to HOST too (repeatable). Requests for any
                       other name answer 403 (against DNS rebinding), but for localhost,
                       *.localhost, IP addresses and the hosts of the origins above: a
                       server bound to 0.0.0.0 and reached by a public name must list it
  --admin              serve the admin API under /admin/ (drop sockets, mute pongs,
                       refuse upgrades, fail snapshots, stats): for tests and the demo.
                       It wants the admin key in the x-admin-key header: the key of the
                       environment variable JOBSOCKET_ADMIN_KEY, or a random one printed
                       at start
limits (defaults in brackets):
  --header-timeout-ms MS  a connection that has not sent a request's headers this
                       long is closed [10000]
  --max-connections N  open sockets; an upgrade past it answers 503 [10000]
  --idle-timeout-ms MS a socket silent this long is closed, 4002 [3 heartbeats, >= 90000]
  --send-timeout-ms MS a frame the client does not take this long closes it, 4008 [10000]
  --auth-timeout-ms MS time for an `auth` first frame [5000]
  --max-jobs N         jobs kept; new ones answer 503 when all are running [1000]
  --max-job-ms MS      longest a new job may run (steps x step); longer ones answer 400
                       [3600000]
several instances (see the README, Several instances):
  --redis URL          run on the Redis at URL (redis://HOST:PORT[/DB]) with every other
                       instance given the same URL: events reach the clients of every
                       instance, replay and snapshots answer on any instance, and the jobs
                       of an instance that dies are taken over. In memory without it
  --instance NAME      this instance's name (letters, digits, '-', '_'), in every client id
                       it gives (NAME.c_1) [random with --redis, none without]
  --redis-lease-ms MS  how long a dead instance keeps its jobs before another takes them
                       over [2000]
  --redis-ttl-ms MS    how long a job's log and snapshot stay in Redis after its last
                       event [3600000]
  -h, --help           print this help

The first line on stdout is `listening on http://HOST:PORT`. With --admin, the next
are `admin key: KEY` and, with --static, the demo page's address with the key in its
fragment (`http://HOST:PORT/#adminKey=KEY`).";

/// The environment variable the token may come from, when no flag gives it.
pub const TOKEN_ENV: &str = "JOBSOCKET_TOKEN";

/// The environment variable the admin key may come from; without it the key is random.
pub const ADMIN_KEY_ENV: &str = "JOBSOCKET_ADMIN_KEY";

/// What the command line asks for.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// Start the server (boxed: far larger than the other variant).
    Run(Box<Args>),
    /// Print [`USAGE`] and exit successfully.
    Help,
}

/// Where to listen and how to serve.
#[derive(Debug, Clone, PartialEq)]
pub struct Args {
    pub host: String,
    pub port: u16,
    pub config: Config,
}

/// Why the command line was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArgsError {
    /// An argument that is not one of the flags.
    Unknown(String),
    /// A flag given last, without its value.
    MissingValue(&'static str),
    /// A flag whose value does not parse or is out of range.
    Invalid {
        flag: &'static str,
        value: String,
        reason: String,
    },
}

impl fmt::Display for ArgsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ArgsError::Unknown(arg) => write!(f, "unexpected argument \"{arg}\""),
            ArgsError::MissingValue(flag) => write!(f, "{flag} needs a value"),
            ArgsError::Invalid {
                flag,
                value,
                reason,
            } => write!(f, "invalid value \"{value}\" for {flag}: {reason}"),
        }
    }
}

impl std::error::Error for ArgsError {}

/// The flags that take a value, by the name the user types; the name is also what errors quote.
const FLAGS: [&str; 22] = [
    "--host",
    "--port",
    "--step-ms",
    "--static",
    "--pkg",
    "--heartbeat-ms",
    "--token",
    "--token-file",
    "--allow-origin",
    "--unsafe-test-origin",
    "--allow-host",
    "--header-timeout-ms",
    "--max-connections",
    "--idle-timeout-ms",
    "--send-timeout-ms",
    "--auth-timeout-ms",
    "--max-jobs",
    "--max-job-ms",
    "--redis",
    "--instance",
    "--redis-lease-ms",
    "--redis-ttl-ms",
];

/// The one flag without a value.
const ADMIN: &str = "--admin";

/// The longest heartbeat interval accepted: an hour is already far longer than any proxy keeps
/// an idle connection open.
const MAX_HEARTBEAT_MS: u64 = 3_600_000;

/// The longest a limit in milliseconds may be: a day.
const MAX_LIMIT_MS: u64 = 86_400_000;

/// The most connections or jobs a limit may allow.
const MAX_COUNT: u64 = 10_000_000;

/// Parses the arguments after the program name, with no environment.
pub fn parse<I>(args: I) -> Result<Command, ArgsError>
where
    I: IntoIterator<Item = String>,
{
    parse_with_env(args, |_| None)
}

/// Parses the arguments after the program name; `env` reads an environment variable
/// ([`TOKEN_ENV`], [`ADMIN_KEY_ENV`]).
pub fn parse_with_env<I>(
    args: I,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Command, ArgsError>
where
    I: IntoIterator<Item = String>,
{
    let mut token_flag: Option<&'static str> = None;
    let mut redis_url: Option<String> = None;
    let mut lease_ms = crate::redis::RedisConfig::DEFAULT_LEASE_MS;
    let mut ttl_ms = crate::redis::RedisConfig::DEFAULT_TTL_MS;
    let mut idle_given = false;
    let mut parsed = Args {
        host: "127.0.0.1".to_owned(),
        port: 8787,
        config: Config::default(),
    };
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        if arg == "-h" || arg == "--help" {
            return Ok(Command::Help);
        }
        let (name, inline) = match arg.split_once('=') {
            Some((name, value)) => (name, Some(value.to_owned())),
            None => (arg.as_str(), None),
        };
        if name == ADMIN {
            if let Some(value) = inline {
                return Err(invalid(ADMIN, value, "takes no value"));
            }
            parsed.config.admin = true;
            continue;
        }
        let Some(flag) = FLAGS.into_iter().find(|flag| *flag == name) else {
            return Err(ArgsError::Unknown(arg));
        };
        let value = match inline {
            Some(value) => value,
            None => args.next().ok_or(ArgsError::MissingValue(flag))?,
        };
        match flag {
            "--host" if value.is_empty() => return Err(invalid(flag, value, "empty host")),
            "--host" => parsed.host = value,
            "--port" => parsed.port = number(flag, &value, u64::from(u16::MAX))? as u16,
            "--step-ms" => parsed.config.step_ms = number(flag, &value, MAX_STEP_MS)?,
            "--heartbeat-ms" => {
                let ms = number(flag, &value, MAX_HEARTBEAT_MS)?;
                if ms == 0 {
                    return Err(invalid(flag, value, "must be at least 1"));
                }
                parsed.config.heartbeat_ms = ms;
            }
            "--token" | "--token-file" if token_flag.is_some() => {
                return Err(invalid(flag, value, "the token is given twice"));
            }
            "--token" if value.is_empty() => return Err(invalid(flag, value, "empty token")),
            "--token" => {
                token_flag = Some(flag);
                parsed.config.token = Some(value);
            }
            "--token-file" => {
                token_flag = Some(flag);
                parsed.config.token = Some(token_file(flag, value)?);
            }
            "--allow-origin" => parsed.config.origins.allowed.push(origin(flag, value)?),
            "--unsafe-test-origin" => parsed.config.origins.unsafe_test.push(origin(flag, value)?),
            "--allow-host" => parsed.config.allowed_hosts.push(host_name(flag, value)?),
            "--header-timeout-ms" => {
                parsed.config.limits.header_timeout_ms = positive(flag, &value, MAX_LIMIT_MS)?;
            }
            "--max-connections" => {
                parsed.config.limits.max_connections = positive(flag, &value, MAX_COUNT)? as usize;
            }
            "--idle-timeout-ms" => {
                idle_given = true;
                parsed.config.limits.idle_timeout_ms = positive(flag, &value, MAX_LIMIT_MS)?;
            }
            "--send-timeout-ms" => {
                parsed.config.limits.send_timeout_ms = positive(flag, &value, MAX_LIMIT_MS)?;
            }
            "--auth-timeout-ms" => {
                parsed.config.limits.auth_timeout_ms = positive(flag, &value, MAX_LIMIT_MS)?;
            }
            "--max-jobs" => {
                parsed.config.limits.max_jobs = positive(flag, &value, MAX_COUNT)? as usize;
            }
            "--max-job-ms" => {
                parsed.config.limits.max_job_ms = positive(flag, &value, MAX_LIMIT_MS)?;
            }
            "--redis" if !value.starts_with("redis://") => {
                return Err(invalid(flag, value, "must start with redis://"));
            }
            "--redis" => redis_url = Some(value),
            "--instance" => parsed.config.instance = Some(instance_name(flag, value)?),
            "--redis-lease-ms" => lease_ms = positive(flag, &value, MAX_LIMIT_MS)?,
            "--redis-ttl-ms" => ttl_ms = positive(flag, &value, MAX_LIMIT_MS)?,
            "--static" => parsed.config.static_dir = Some(directory(flag, value)?),
            "--pkg" => parsed.config.pkg_dir = Some(directory(flag, value)?),
            // FLAGS holds exactly the names matched above.
            _ => return Err(ArgsError::Unknown(arg)),
        }
    }
    if token_flag.is_none() {
        parsed.config.token = env(TOKEN_ENV).filter(|token| !token.is_empty());
    }
    parsed.config.admin_key = env(ADMIN_KEY_ENV).filter(|key| !key.is_empty());
    if !idle_given {
        let heartbeat_ms = parsed.config.heartbeat_ms;
        parsed.config.limits.idle_timeout_ms = crate::limits::default_idle_timeout_ms(heartbeat_ms);
    }
    parsed.config.redis = redis_url.map(|url| crate::redis::RedisConfig {
        url,
        lease_ms,
        ttl_ms,
    });
    Ok(Command::Run(Box::new(parsed)))
}

/// 1 to 32 ASCII letters, digits, `-` or `_`: it goes into client ids and lease tokens.
fn instance_name(flag: &'static str, value: String) -> Result<String, ArgsError> {
    let valid = (1..=32).contains(&value.len())
        && value
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_'));
    if valid {
        Ok(value)
    } else {
        Err(invalid(
            flag,
            value,
            "1 to 32 ASCII letters, digits, '-' or '_'",
        ))
    }
}

/// A number from 1 to `max`: a limit of 0 would refuse everything.
fn positive(flag: &'static str, value: &str, max: u64) -> Result<u64, ArgsError> {
    match number(flag, value, max)? {
        0 => Err(invalid(flag, value.to_owned(), "must be at least 1")),
        number => Ok(number),
    }
}

fn origin(flag: &'static str, value: String) -> Result<crate::OriginPattern, ArgsError> {
    value
        .parse()
        .map_err(|error: crate::origin::BadOrigin| invalid(flag, value, &error.to_string()))
}

fn host_name(flag: &'static str, value: String) -> Result<crate::HostName, ArgsError> {
    value
        .parse()
        .map_err(|error: crate::hosts::BadHost| invalid(flag, value, &error.to_string()))
}

/// The first line of the file at `path`, without its line ending.
fn token_file(flag: &'static str, path: String) -> Result<String, ArgsError> {
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(error) => return Err(invalid(flag, path, &format!("cannot read it: {error}"))),
    };
    let token = text
        .lines()
        .next()
        .unwrap_or_default()
        .trim_end_matches('\r');
    if token.is_empty() {
        return Err(invalid(flag, path, "its first line is empty"));
    }
    Ok(token.to_owned())
}

fn invalid(flag: &'static str, value: String, reason: &str) -> ArgsError {
    ArgsError::Invalid {
        flag,
        value,
        reason: reason.to_owned(),
    }
}

fn number(flag: &'static str, value: &str, max: u64) -> Result<u64, ArgsError> {
    match value.parse::<u64>() {
        Ok(number) if number <= max => Ok(number),
        Ok(_) => Err(invalid(flag, value.to_owned(), &format!("at most {max}"))),
        Err(_) => Err(invalid(flag, value.to_owned(), "not a whole number")),
    }
}

/// Checks the directory now, so a typo fails at start rather than as a 404 on every request.
fn directory(flag: &'static str, value: String) -> Result<PathBuf, ArgsError> {
    let path = PathBuf::from(&value);
    if path.is_dir() {
        Ok(path)
    } else {
        Err(invalid(flag, value, "not a directory"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::HostName;

    fn run(args: &[&str]) -> Result<Command, ArgsError> {
        parse(args.iter().map(|arg| (*arg).to_owned()))
    }

    fn args(args: &[&str]) -> Args {
        match run(args) {
            Ok(Command::Run(args)) => *args,
            other => panic!("expected Run, got {other:?}"),
        }
    }

    #[test]
    fn no_arguments_give_the_defaults() {
        let parsed = args(&[]);
        assert_eq!(parsed.host, "127.0.0.1");
        assert_eq!(parsed.port, 8787);
        assert_eq!(parsed.config, Config::default());
    }

    #[test]
    fn flags_take_separate_or_inline_values() {
        let parsed = args(&[
            "--host",
            "0.0.0.0",
            "--port=0",
            "--step-ms",
            "5",
            "--heartbeat-ms=1000",
            "--static",
            ".",
        ]);
        assert_eq!(parsed.host, "0.0.0.0");
        assert_eq!(parsed.port, 0);
        assert_eq!(parsed.config.step_ms, 5);
        assert_eq!(parsed.config.heartbeat_ms, 1000);
        assert_eq!(parsed.config.static_dir, Some(PathBuf::from(".")));
        assert_eq!(parsed.config.token, None);
        assert!(!parsed.config.admin);
    }

    #[test]
    fn redis_mode_takes_a_redis_url_its_lease_and_time_to_live_in_any_order() {
        let parsed = args(&[
            "--redis-lease-ms",
            "500",
            "--redis",
            "redis://127.0.0.1:6390",
        ]);
        let redis = parsed.config.redis.expect("the Redis mode");
        assert_eq!(redis.url, "redis://127.0.0.1:6390");
        assert_eq!(redis.lease_ms, 500);
        assert_eq!(redis.ttl_ms, crate::redis::RedisConfig::DEFAULT_TTL_MS);
        assert_eq!(
            args(&["--redis-ttl-ms=60000"]).config.redis,
            None,
            "in memory without --redis"
        );
        let error = run(&["--redis", "127.0.0.1:6379"]).unwrap_err().to_string();
        assert!(error.contains("must start with redis://"), "{error}");
    }

    #[test]
    fn an_instance_name_is_short_and_plain() {
        assert_eq!(
            args(&["--instance", "api-2"]).config.instance.as_deref(),
            Some("api-2")
        );
        for bad in ["", "a.b", "a b", &"x".repeat(33)] {
            assert!(run(&["--instance", bad]).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn token_takes_a_value_and_admin_none() {
        let parsed = args(&["--admin", "--token", "s3cret", "--port", "0"]);
        assert!(parsed.config.admin);
        assert_eq!(parsed.config.token.as_deref(), Some("s3cret"));
        assert_eq!(parsed.port, 0);
        let parsed = args(&["--token=a=b"]);
        assert_eq!(parsed.config.token.as_deref(), Some("a=b"));
        assert_eq!(run(&["--token"]), Err(ArgsError::MissingValue("--token")));
        assert!(run(&["--token="]).is_err());
        let error = run(&["--admin=yes"]).unwrap_err().to_string();
        assert_eq!(error, "invalid value \"yes\" for --admin: takes no value");
    }

    #[test]
    fn the_token_can_come_from_a_file_or_the_environment_instead_of_ps() {
        let path = std::env::temp_dir().join(format!("jobsocket-token-{}", std::process::id()));
        std::fs::write(&path, "fr0m-file\nignored\n").expect("write the token file");
        let file = path.to_string_lossy().into_owned();
        let env = |name: &str| (name == TOKEN_ENV).then(|| "fr0m-env".to_owned());

        let from_file = args(&["--token-file", &file]);
        assert_eq!(from_file.config.token.as_deref(), Some("fr0m-file"));
        let from_env = match parse_with_env(Vec::new(), env) {
            Ok(Command::Run(args)) => *args,
            other => panic!("expected Run, got {other:?}"),
        };
        assert_eq!(from_env.config.token.as_deref(), Some("fr0m-env"));
        let flag_wins = match parse_with_env(vec!["--token".into(), "fr0m-flag".into()], env) {
            Ok(Command::Run(args)) => *args,
            other => panic!("expected Run, got {other:?}"),
        };
        assert_eq!(flag_wins.config.token.as_deref(), Some("fr0m-flag"));
        assert!(run(&["--token", "a", "--token-file", &file]).is_err());
        assert!(run(&["--token-file", "/definitely/not/here"]).is_err());
        std::fs::remove_file(&path).expect("remove the token file");
    }

    #[test]
    fn the_admin_key_comes_from_the_environment() {
        let env = |name: &str| (name == ADMIN_KEY_ENV).then(|| "k3y".to_owned());
        let Ok(Command::Run(parsed)) = parse_with_env(vec!["--admin".to_owned()], env) else {
            panic!("expected Run");
        };
        assert_eq!(parsed.config.admin_key.as_deref(), Some("k3y"));
        assert_eq!(args(&["--admin"]).config.admin_key, None);
    }

    #[test]
    fn origins_and_limits_are_flags_and_the_idle_timeout_follows_the_heartbeat() {
        let parsed = args(&[
            "--allow-origin",
            "https://app.example",
            "--allow-origin=http://localhost:*",
            "--unsafe-test-origin",
            "http://127.0.0.1:*",
            "--max-connections",
            "3",
            "--send-timeout-ms=50",
            "--header-timeout-ms=60",
            "--auth-timeout-ms=40",
            "--max-jobs=7",
            "--max-job-ms=1000",
            "--heartbeat-ms=40000",
        ]);
        assert_eq!(parsed.config.origins.allowed.len(), 2);
        assert_eq!(parsed.config.origins.unsafe_test.len(), 1);
        let hosts = args(&["--allow-host", "Jobs.Example.com", "--allow-host=10.0.0.7"])
            .config
            .allowed_hosts;
        let hosts: Vec<&str> = hosts.iter().map(HostName::as_str).collect();
        assert_eq!(hosts, ["jobs.example.com", "10.0.0.7"]);
        assert!(run(&["--allow-host", "https://jobs.example.com"]).is_err());
        let limits = &parsed.config.limits;
        assert_eq!(limits.max_connections, 3);
        assert_eq!(limits.idle_timeout_ms, 120_000, "three heartbeats");
        let short = args(&["--heartbeat-ms", "100"])
            .config
            .limits
            .idle_timeout_ms;
        assert_eq!(short, 90_000, "three of the client's default pings");
        assert_eq!(limits.send_timeout_ms, 50);
        assert_eq!(limits.header_timeout_ms, 60);
        assert_eq!(limits.auth_timeout_ms, 40);
        assert_eq!(limits.max_jobs, 7);
        assert_eq!(limits.max_job_ms, 1000);
        assert_eq!(
            args(&["--idle-timeout-ms", "20"])
                .config
                .limits
                .idle_timeout_ms,
            20
        );
        assert!(run(&["--allow-origin", "app.example"]).is_err());
        assert!(run(&["--allow-origin", "https://*.example"]).is_err());
        assert!(run(&["--max-connections", "0"]).is_err());
    }

    #[test]
    fn help_wins_over_everything() {
        assert_eq!(run(&["--port", "1", "--help"]), Ok(Command::Help));
        assert_eq!(run(&["-h"]), Ok(Command::Help));
    }

    #[test]
    fn bad_arguments_are_named_in_the_error() {
        assert_eq!(
            run(&["--verbose"]),
            Err(ArgsError::Unknown("--verbose".into()))
        );
        assert_eq!(run(&["--port"]), Err(ArgsError::MissingValue("--port")));
        let error = run(&["--port", "70000"]).unwrap_err().to_string();
        assert_eq!(error, "invalid value \"70000\" for --port: at most 65535");
        let error = run(&["--step-ms", "fast"]).unwrap_err().to_string();
        assert_eq!(
            error,
            "invalid value \"fast\" for --step-ms: not a whole number"
        );
        assert!(run(&["--heartbeat-ms", "0"]).is_err());
        assert!(run(&["--pkg", "/definitely/not/here"]).is_err());
    }
}
