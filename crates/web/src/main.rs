//! The `sesame` binary: `sesame serve` (the default) runs the HTTP service;
//! `migrate`, `check-config`, `users …` and `sessions …` are for operators.

use std::{
    io::Write as _,
    path::PathBuf,
    process::ExitCode,
    sync::{Arc, OnceLock},
};

use clap::{Parser, Subcommand};
use sesame_core::ports::SystemClock;
use sesame_factory::{SessionBackend, Settings, SettingsError, UserBackend};
use sesame_web::{
    Application, operator, snapshot,
    startup::{self, shutdown_signal},
    telemetry, transfer,
};

/// Session management and authentication service.
#[derive(Parser)]
#[command(name = "sesame", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the HTTP API (the default). Settings come from SESSION_ENVIRONMENT,
    /// .env.{environment} and SESAME__* variables; see docs/configuration.md.
    Serve,
    /// Apply pending migrations to the PostgreSQL users store (DATABASE_URL), and exit.
    Migrate,
    /// Load and check the settings, and print each: its variable, its value
    /// (passwords hidden) and where it came from; exit 1 if they are refused.
    CheckConfig {
        /// One JSON array of {variable, value, source} instead of lines.
        #[arg(long)]
        json: bool,
    },
    /// Ask the running service's /readyz on SESAME__HTTP__ADDR: exit 0 when
    /// it answers 200, 1 otherwise (the container image's health check).
    Healthcheck,
    /// The configured user store's users: list, show, disable, enable, delete,
    /// export, import.
    Users {
        #[command(subcommand)]
        command: UsersCommand,
    },
    /// Sessions: list, revoke, stats, purge, export and import on the
    /// configured store; copy between two stores named by URL.
    Sessions {
        #[command(subcommand)]
        command: SessionsCommand,
    },
}

#[derive(Subcommand)]
enum UsersCommand {
    #[command(flatten)]
    Operate(operator::UsersCommand),
    #[command(flatten)]
    Transfer(transfer::UsersCommand),
}

#[derive(Subcommand)]
enum SessionsCommand {
    #[command(flatten)]
    Operate(operator::SessionsCommand),
    #[command(flatten)]
    Transfer(transfer::SessionsCommand),
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let here = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    let settings = match Settings::from_process_env(&here) {
        Ok(settings) => settings,
        Err(err) => {
            eprintln!("sesame: {err}");
            return ExitCode::FAILURE;
        }
    };
    let command = cli.command.unwrap_or(Command::Serve);
    // Commands other than the service may write records to standard output.
    telemetry::init(&settings.log, matches!(command, Command::Serve));
    for warning in &settings.warnings {
        tracing::warn!("{warning}");
    }
    match command {
        Command::Serve => serve(settings).await,
        Command::Migrate => match sesame_factory::migrate(&settings).await {
            Ok(()) => {
                tracing::info!("migrations applied");
                ExitCode::SUCCESS
            }
            Err(err) => {
                eprintln!("sesame: {err}");
                ExitCode::FAILURE
            }
        },
        Command::Healthcheck => match sesame_web::healthcheck::check(settings.http.addr).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(reason) => {
                eprintln!("sesame healthcheck: {reason}");
                ExitCode::FAILURE
            }
        },
        Command::CheckConfig { json } => check_config(&here, json),
        Command::Users { command } => {
            let Some(adapters) = stores(&settings).await else { return ExitCode::FAILURE };
            match command {
                UsersCommand::Operate(command) => operator(&settings, adapters).users(command).await,
                UsersCommand::Transfer(command) => {
                    let auth = startup::use_cases(&settings, &adapters);
                    transfer::users(adapters.users, auth, command).await
                }
            }
        }
        Command::Sessions { command: SessionsCommand::Transfer(command) } => {
            let configured = async { stores(&settings).await.map(|adapters| adapters.sessions) };
            transfer::sessions(configured, command).await
        }
        Command::Sessions { command: SessionsCommand::Operate(command) } => {
            let Some(adapters) = stores(&settings).await else { return ExitCode::FAILURE };
            operator(&settings, adapters).sessions(command).await
        }
    }
}

fn operator(settings: &Settings, adapters: sesame_factory::Adapters) -> operator::Operator {
    operator::Operator {
        app: startup::application(settings, &adapters),
        users: adapters.users,
        sessions: adapters.sessions,
        clock: adapters.clock,
    }
}

/// The configured stores, or `None` after saying why not. A store in this
/// process's memory is one nobody else sees: the command says so first.
async fn stores(settings: &Settings) -> Option<sesame_factory::Adapters> {
    if let Some(warning) = in_memory_warning(settings) {
        eprintln!("{warning}");
    }
    match sesame_factory::build(settings, Arc::new(SystemClock)).await {
        Ok(adapters) => Some(adapters),
        Err(err) => {
            eprintln!("sesame: {err}");
            None
        }
    }
}

/// `sesame check-config`: one line per setting on standard output,
/// `NAME=value` then where it came from.
fn check_config(here: &std::path::Path, json: bool) -> ExitCode {
    let lines = match sesame_factory::explain_process_env(here) {
        Ok(lines) => lines,
        Err(err) => {
            eprintln!("sesame: {err}");
            return ExitCode::FAILURE;
        }
    };
    let mut out = std::io::stdout().lock();
    let written = if json {
        let rows: Vec<_> = lines
            .iter()
            .map(|line| {
                serde_json::json!({"variable": line.variable, "value": line.value, "source": line.source.to_string()})
            })
            .collect();
        writeln!(out, "{}", serde_json::Value::Array(rows))
    } else {
        let assignments: Vec<String> =
            lines.iter().map(|line| format!("{}={}", line.variable, line.value.as_deref().unwrap_or(""))).collect();
        let width = assignments.iter().map(String::len).max().unwrap_or(0);
        lines.iter().zip(&assignments).try_for_each(|(line, assignment)| {
            let unset = if line.value.is_none() { ", unset" } else { "" };
            writeln!(out, "{assignment:<width$}  # {}{unset}", line.source)
        })
    };
    match written {
        Ok(()) => ExitCode::SUCCESS,
        // A reader that stopped early (`| head`) is no failure.
        Err(err) if err.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("sesame: cannot write the settings: {err}");
            ExitCode::FAILURE
        }
    }
}

/// What an operator command says before it opens a store kept in its own
/// memory: an empty store of its own, not the running server's.
fn in_memory_warning(settings: &Settings) -> Option<String> {
    let in_memory = match (settings.store.users, settings.store.sessions) {
        (UserBackend::Memory, SessionBackend::Memory) => "users and sessions are",
        (UserBackend::Memory, _) => "users are",
        (_, SessionBackend::Memory) => "sessions are",
        _ => return None,
    };
    Some(format!(
        "sesame: warning: {in_memory} in this command's own memory (SESSION_ENVIRONMENT={}): it starts empty and \
         is not a running server's, so this command sees and changes nothing that server holds. Set \
         SESSION_ENVIRONMENT (development, production) to work on the stores the server uses.",
        settings.environment,
    ))
}

async fn serve(settings: Settings) -> ExitCode {
    let settings = Arc::new(settings);
    let snapshot_dir = settings.store.memory_snapshot_dir.clone();
    // The stores, once built: a snapshot is saved from them after the drain.
    let built: Arc<OnceLock<snapshot::Stores>> = Arc::default();
    let building = {
        let (settings, built, snapshot_dir) = (Arc::clone(&settings), Arc::clone(&built), snapshot_dir.clone());
        async move {
            let adapters = sesame_factory::build(&settings, Arc::new(SystemClock)).await?;
            let stores =
                snapshot::Stores { users: Arc::clone(&adapters.users), sessions: Arc::clone(&adapters.sessions) };
            if let Some(dir) = &snapshot_dir {
                snapshot::load(dir, &stores).await.map_err(|err| {
                    SettingsError::Refused(format!("SESAME__STORE__MEMORY_SNAPSHOT_DIR cannot be read: {err}"))
                })?;
            }
            let _ = built.set(stores);
            Ok(adapters)
        }
    };
    let app = match Application::bind(&settings, building).await {
        Ok(app) => app,
        Err(err) => {
            eprintln!("sesame: cannot listen on {}: {err}", settings.http.addr);
            return ExitCode::FAILURE;
        }
    };
    tracing::info!(environment = %settings.environment, "starting; connecting the stores");
    if let Err(err) = app.run_until(shutdown_signal()).await {
        tracing::error!(error = %err, "stopped");
        eprintln!("sesame: {err}");
        return ExitCode::FAILURE;
    }
    if let (Some(dir), Some(stores)) = (snapshot_dir, built.get())
        && let Err(err) = snapshot::save(&dir, stores).await
    {
        tracing::error!(error = %err, dir = %dir.display(), "the snapshot could not be saved");
        eprintln!("sesame: the snapshot could not be saved in {}: {err}", dir.display());
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
