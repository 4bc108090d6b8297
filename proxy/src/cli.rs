//! Command-line interface of `proxylab proxy` (also the stand-alone `proxylab-proxy` binary).

use std::path::PathBuf;
use std::process::ExitCode;

/// Flags of `proxylab proxy`, named as nginx's.
#[derive(clap::Args, Debug, Clone)]
pub struct Args {
    /// The configuration file (nginx syntax).
    #[arg(short = 'c', long = "conf", default_value = "nginx.conf")]
    pub conf: PathBuf,
    /// Test the configuration and exit (0 = ok, 1 = error), like `nginx -t`.
    #[arg(short = 't', long = "test")]
    pub test: bool,
    /// Prefix for relative paths in the config (logs, root); default: the config's directory.
    #[arg(short = 'p', long = "prefix")]
    pub prefix: Option<PathBuf>,
}

/// Runs `proxylab proxy` with parsed flags and returns the process exit code.
pub fn main(args: Args) -> ExitCode {
    let shown = args.conf.display().to_string();
    let loaded = match crate::conf::load(&args.conf, args.prefix.as_deref()) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("proxylab: [emerg] {e}");
            if args.test {
                eprintln!("proxylab: configuration file {shown} test failed");
            }
            return ExitCode::from(1);
        }
    };
    for w in &loaded.warnings {
        eprintln!("proxylab: [warn] {w}");
    }
    if args.test {
        eprintln!("proxylab: the configuration file {shown} syntax is ok");
        // nginx creates the cache directories while testing too.
        for p in &loaded.config.http.cache_paths {
            if let Err(e) = crate::cache::open_zone(p) {
                eprintln!("proxylab: [emerg] {e}");
                eprintln!("proxylab: configuration file {shown} test failed");
                return ExitCode::from(1);
            }
        }
        eprintln!("proxylab: configuration file {shown} test is successful");
        return ExitCode::SUCCESS;
    }
    let server = crate::server::Server {
        file: args.conf.clone(),
        prefix: args.prefix.clone(),
    };
    match server.start(loaded).and_then(run_until_signalled) {
        // Exit at once: the workers' threads and sockets go with the process.
        Ok(()) => std::process::exit(0),
        Err(e) => {
            eprintln!("proxylab: [emerg] {e}");
            ExitCode::from(1)
        }
    }
}

/// Prints the ready line, then serves until SIGTERM/SIGINT (fast stop) or SIGQUIT (graceful:
/// drained, or cut short by SIGTERM/SIGINT); SIGHUP reloads.
fn run_until_signalled(
    mut handle: crate::server::Handle,
) -> Result<(), crate::server::ServerError> {
    use tokio::signal::unix::{SignalKind, signal};
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let mut hup = signal(SignalKind::hangup())?;
        let mut quit = signal(SignalKind::quit())?;
        let mut term = signal(SignalKind::terminate())?;
        let mut int = signal(SignalKind::interrupt())?;
        {
            use std::io::Write;
            let mut out = std::io::stdout();
            let _ = writeln!(out, "proxylab-proxy ready {}", handle.urls().join(" "));
            let _ = out.flush();
        }
        loop {
            tokio::select! {
                _ = hup.recv() => {
                    // a config that does not load is logged and the old one kept
                    let _ = handle.reload();
                }
                _ = quit.recv() => {
                    tokio::select! {
                        _ = handle.drained() => {}
                        _ = term.recv() => {}
                        _ = int.recv() => {}
                    }
                    break;
                }
                _ = term.recv() => break,
                _ = int.recv() => break,
            }
        }
        Ok::<(), crate::server::ServerError>(())
    })?;
    handle.stop();
    Ok(())
}
