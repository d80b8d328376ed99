//! The `imapmend` binary: parse the command line, dispatch the verbs that
//! never touch a server (snapshot, completions, man page), otherwise resolve the job,
//! run it, and exit with the code the report chose.

use clap::Parser;
use imapmend::cli::{Cli, Verb};
use imapmend::docs;
use imapmend::exit;

fn main() {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => e.exit(), // --help, --version
        Err(e) => {
            let _ = e.print();
            std::process::exit(exit::CANNOT_RUN);
        }
    };
    if let Some(code) = offline_verb(&cli) {
        std::process::exit(code);
    }
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
    imapmend::progress::enable(job.verbosity < 0);
    imapmend::logging::init(job.verbosity);
    let started = std::time::Instant::now();
    let metrics = imapmend::metrics::Metrics::for_job(&job);
    let endpoints = imapmend::metrics::endpoint_labels(&job);
    let code = runtime.block_on(run_with_deadline(job, metrics.as_ref()));
    imapmend::progress::finish();
    if let Some(m) = metrics {
        if let Err(e) = m.write(&endpoints, code, started.elapsed()) {
            eprintln!(
                "imapmend: warning: cannot write metrics to {}: {e}",
                m.path.display()
            );
        }
    }
    std::process::exit(code);
}

/// Runs the job, within `--timeout` if given. A run past its deadline is
/// dropped where it stands: only `check` takes a deadline, and it writes
/// nothing to the servers (the snapshot's fingerprint cache is written in
/// transactions), so stopping it anywhere is safe. Exit 3: no verdict.
async fn run_with_deadline(
    job: imapmend::job::Job,
    metrics: Option<&imapmend::metrics::Metrics>,
) -> i32 {
    let Some(limit) = job.timeout else {
        return imapmend::run::run(job, metrics).await;
    };
    match tokio::time::timeout(limit, imapmend::run::run(job, metrics)).await {
        Ok(code) => code,
        Err(_) => {
            imapmend::progress::finish();
            eprintln!(
                "imapmend: UNKNOWN: the check did not finish within {} s (--timeout); no verdict",
                limit.as_secs()
            );
            exit::CANNOT_RUN
        }
    }
}

/// Runs a verb that needs no job (no endpoints, no password) and returns its
/// exit code; None for the verbs that run against servers.
fn offline_verb(cli: &Cli) -> Option<i32> {
    let mut stdout = std::io::stdout().lock();
    match &cli.verb {
        Verb::Plan(_) | Verb::Sync(_) | Verb::Check(_) | Verb::Undo(_) => None,
        Verb::Snapshot(verb) => Some(imapmend::snapshot_verb::run(verb)),
        Verb::Log(verb) => Some(imapmend::log_verb::run(verb)),
        Verb::Batch(args) => Some(imapmend::batch::run(args)),
        Verb::Completions { shell } => {
            docs::write_completions(*shell, &mut stdout);
            Some(exit::OK)
        }
        Verb::Man { verb } => Some(match docs::write_man_page(verb.as_deref(), &mut stdout) {
            Ok(()) => exit::OK,
            Err(e) => {
                eprintln!("imapmend: {e}");
                exit::CANNOT_RUN
            }
        }),
    }
}
