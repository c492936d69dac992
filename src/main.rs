//! `depot`: parse the command line, load and validate configuration, bind, serve.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use depot::config::{Config, ProcessEnv};

#[derive(Parser)]
#[command(name = "depot", version, about = "Self-hosted package registry appliance (CodeArtifact-compatible)")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Start the appliance (embedded defaults when no --config is given).
    Serve {
        /// A configuration file layered over the embedded defaults.
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Print the effective configuration.
    Config {
        #[command(subcommand)]
        action: ConfigAction,
    },
}

#[derive(Subcommand)]
enum ConfigAction {
    /// Print the effective configuration (secrets masked).
    Show {
        /// A configuration file layered over the embedded defaults.
        #[arg(long)]
        config: Option<PathBuf>,
    },
}

fn load(path: Option<&PathBuf>) -> Result<Config, ExitCode> {
    let text = match path.map(std::fs::read_to_string).transpose() {
        Ok(t) => t,
        Err(e) => {
            eprintln!("depot: cannot read config file: {e}");
            return Err(ExitCode::from(64));
        }
    };
    Config::load(text.as_deref(), &ProcessEnv).map_err(|e| {
        eprintln!("depot: {e}");
        ExitCode::from(64)
    })
}

fn main() -> ExitCode {
    // Everything Depot writes (metadata, blobs, secrets) is private; files created by
    // libraries (redb, temp files) must not depend on the umask Depot was started with.
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o077));
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .init();
    match cli.command {
        Command::Config { action: ConfigAction::Show { config } } => match load(config.as_ref()) {
            Ok(c) => {
                print!("{}", c.show());
                ExitCode::SUCCESS
            }
            Err(code) => code,
        },
        Command::Serve { config } => {
            let cfg = match load(config.as_ref()) {
                Ok(c) => c,
                Err(code) => return code,
            };
            match serve(cfg) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("depot: {e:#}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}

#[tokio::main]
async fn serve(cfg: Config) -> anyhow::Result<()> {
    let addr = cfg.listen_addr()?;
    // Bind before touching the disk: a busy port must not leave a fresh data directory behind.
    let listener = tokio::net::TcpListener::bind(addr).await.with_context(|| format!("binding {addr}"))?;
    let engine = depot::engine::Engine::open(cfg, depot::server::formats())?;
    depot::server::run(listener, engine, shutdown_signal()).await
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("signal handler");
    tokio::select! {
        _ = ctrl_c => {},
        _ = term.recv() => {},
    }
    tracing::info!("shutting down");
}
