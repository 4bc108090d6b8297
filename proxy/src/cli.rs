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
        eprintln!("proxylab: configuration file {shown} test is successful");
        return ExitCode::SUCCESS;
    }
    match crate::server::run(args.conf.clone(), args.prefix.clone(), loaded) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("proxylab: [emerg] {e}");
            ExitCode::from(1)
        }
    }
}
