//! The command line, parsed by hand: eight flags do not justify an argument-parsing dependency.
//!
//! Every flag but `--admin` takes a value, as `--flag value` or `--flag=value`. Anything unexpected is an
//! [`ArgsError`] whose `Display` names the flag and what was wrong, and `main` prints it with
//! [`USAGE`].

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
  --token SECRET       WebSocket URLs must carry ?token=SECRET; other sockets are
                       closed with code 4001 (HTTP routes stay open)
  --admin              serve the admin API under /admin/ (drop sockets, mute pongs,
                       refuse upgrades, fail snapshots, stats): for tests only
  -h, --help           print this help

The first line on stdout is `listening on http://HOST:PORT`.";

/// What the command line asks for.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// Start the server.
    Run(Args),
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
const FLAGS: [&str; 7] = [
    "--host",
    "--port",
    "--step-ms",
    "--static",
    "--pkg",
    "--heartbeat-ms",
    "--token",
];

/// The one flag without a value.
const ADMIN: &str = "--admin";

/// The longest heartbeat interval accepted: an hour is already far longer than any proxy keeps
/// an idle connection open.
const MAX_HEARTBEAT_MS: u64 = 3_600_000;

/// Parses the arguments after the program name.
pub fn parse<I>(args: I) -> Result<Command, ArgsError>
where
    I: IntoIterator<Item = String>,
{
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
            "--token" if value.is_empty() => return Err(invalid(flag, value, "empty token")),
            "--token" => parsed.config.token = Some(value),
            "--static" => parsed.config.static_dir = Some(directory(flag, value)?),
            "--pkg" => parsed.config.pkg_dir = Some(directory(flag, value)?),
            // FLAGS holds exactly the names matched above.
            _ => return Err(ArgsError::Unknown(arg)),
        }
    }
    Ok(Command::Run(parsed))
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

    fn run(args: &[&str]) -> Result<Command, ArgsError> {
        parse(args.iter().map(|arg| (*arg).to_owned()))
    }

    fn args(args: &[&str]) -> Args {
        match run(args) {
            Ok(Command::Run(args)) => args,
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
