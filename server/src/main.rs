use clap::Parser;

use server::cli::{Cli, Command};
use server::{admin_cli, serve, telemetry};

/// jemalloc instead of glibc's malloc: a signed-in page allocates and
/// frees many short-lived buffers across threads, and glibc's allocator
/// took ~20 % of the portal's CPU (perf, issue 21). `make speed`, glibc →
/// jemalloc: the databases page's CPU per request 1.77–1.79 → 1.46–1.68 ms,
/// peak memory 60 → 48 MiB. (mimalloc was as fast but peaked at 91 MiB.)
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    if let Err(error) = telemetry::init(cli.common.log_format, &cli.common.log) {
        eprintln!("portal: {error:#}");
        return std::process::ExitCode::FAILURE;
    }
    let outcome = match cli.command {
        None => serve::serve(&cli.common, &Default::default()).await,
        Some(Command::Serve(args)) => serve::serve(&cli.common, &args).await,
        Some(Command::Migrate) => serve::open_store(&cli.common).await.map(|_| ()),
        Some(Command::Admin(command)) => admin_cli::run(&cli.common, command).await,
        Some(Command::Keyring(command)) => admin_cli::keyring(&cli.common, command).await,
    };
    match outcome {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!("{error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
