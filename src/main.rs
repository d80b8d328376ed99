//! The `imapmend` binary: parse the command line, resolve it, run it, and
//! exit with the code the report chose.

use clap::Parser;
use imapmend::cli::Cli;
use imapmend::report::exit;

fn main() {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => e.exit(), // --help, --version
        Err(e) => {
            let _ = e.print();
            std::process::exit(exit::CANNOT_RUN);
        }
    };
    let job = match imapmend::config::resolve(&cli) {
        Ok(job) => job,
        Err(e) => {
            eprintln!("imapmend: {e}");
            std::process::exit(exit::CANNOT_RUN);
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime starts");
    let code = runtime.block_on(imapmend::run::run(job));
    std::process::exit(code);
}
