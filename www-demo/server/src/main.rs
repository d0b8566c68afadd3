//! `jobsocket-server`: parses the command line, binds, announces the address, serves.

use std::io::Write;
use std::process::ExitCode;

use jobsocket_server::AppState;
use jobsocket_server::args::{self, Command, USAGE};

#[tokio::main]
async fn main() -> ExitCode {
    // `env::args` panics on an argument that is not UTF-8; this turns it into a clear error.
    let argv = std::env::args_os().skip(1);
    let args = match args::parse(argv.map(|arg| arg.to_string_lossy().into_owned())) {
        Ok(Command::Run(args)) => args,
        Ok(Command::Help) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(error) => {
            eprintln!("error: {error}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };

    // Before the address goes out: whoever reads it may signal the server right away.
    let shutdown = jobsocket_server::shutdown_signal();
    let listener = match tokio::net::TcpListener::bind((args.host.as_str(), args.port)).await {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!(
                "error: cannot listen on {}:{}: {error}",
                args.host, args.port
            );
            return ExitCode::FAILURE;
        }
    };
    // The first stdout line is the contract with the Makefile and the test scripts, which
    // start the server on port 0 and read the port from here; flush it before serving.
    match listener.local_addr() {
        Ok(address) => {
            let mut stdout = std::io::stdout().lock();
            let _ = writeln!(stdout, "listening on http://{address}");
            let _ = stdout.flush();
        }
        Err(error) => {
            eprintln!("error: cannot read the listening address: {error}");
            return ExitCode::FAILURE;
        }
    }

    let state = AppState::new(args.config);
    match jobsocket_server::serve_until(listener, state, shutdown).await {
        Ok(()) => {
            eprintln!("stopped");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}
