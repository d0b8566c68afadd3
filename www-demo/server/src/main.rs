//! `jobsocket-server`: parses the command line, binds, announces the address, serves.

use std::io::Write;
use std::process::ExitCode;

use jobsocket_server::AppState;
use jobsocket_server::args::{self, Command, USAGE};

#[tokio::main]
async fn main() -> ExitCode {
    // `env::args` panics on an argument that is not UTF-8; this turns it into a clear error.
    let argv = std::env::args_os().skip(1);
    let env = |name: &str| std::env::var(name).ok();
    let argv = argv.map(|arg| arg.to_string_lossy().into_owned());
    let args = match args::parse_with_env(argv, env) {
        Ok(Command::Run(args)) => *args,
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
    let address = match listener.local_addr() {
        Ok(address) => address,
        Err(error) => {
            eprintln!("error: cannot read the listening address: {error}");
            return ExitCode::FAILURE;
        }
    };
    let demo = args.config.static_dir.is_some();
    let state = match AppState::start(args.config).await {
        Ok(state) => state,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::FAILURE;
        }
    };
    {
        let mut stdout = std::io::stdout().lock();
        let _ = writeln!(stdout, "listening on http://{address}");
        // After the address, never before: scripts read the first line only. The demo page
        // takes the key from its address's fragment, which a page of another site cannot read.
        if let Some(key) = state.admin_key() {
            let _ = writeln!(stdout, "admin key: {key} (send it in x-admin-key)");
            if demo {
                let _ = writeln!(stdout, "demo: http://{address}/#adminKey={key}");
            }
        }
        let _ = stdout.flush();
    }

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
