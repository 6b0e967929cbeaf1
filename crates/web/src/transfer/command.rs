//! The `sesame users|sessions export|import` and `sesame sessions copy`
//! commands: their arguments, and what each runs and prints.

use std::{future::Future, io, path::PathBuf, process::ExitCode, sync::Arc, time::Duration};

use sesame_core::{
    AuthService,
    ports::{SessionStore, UserRepository},
};
use sesame_factory::StoreLocation;

use super::{Progress, Store, copy, export, import, private_file};

/// `sesame users …`.
#[derive(clap::Subcommand)]
pub enum UsersCommand {
    /// Write every user of the configured store to standard output (or
    /// --output), one JSON line each, in sesame's portable format.
    Export(ExportArgs),
    /// Read users, one JSON line each, from standard input (or --input) into
    /// the configured store. Idempotent. Exits 1 when any record failed.
    Import {
        #[command(flatten)]
        args: ImportArgs,
        /// Read FILE as the plan's mock wrote its users: a JSON array of
        /// `{id, email, passwordHash, sessionId, …}`.
        #[arg(long, value_name = "FILE", conflicts_with_all = ["input", "dry_run"])]
        legacy: Option<PathBuf>,
    },
}

/// `sesame sessions …`.
#[derive(clap::Subcommand)]
pub enum SessionsCommand {
    /// Write every live session of the configured store to standard output (or
    /// --output), one JSON line each, in sesame's portable format.
    Export(ExportArgs),
    /// Read sessions, one JSON line each, from standard input (or --input)
    /// into the configured store. Idempotent: what the store holds as new or
    /// newer, or ended, is skipped. Exits 1 when any record failed.
    Import(ImportArgs),
    /// Copy every live session from one store to another, each named by URL;
    /// the configured stores are not used. Idempotent, like import.
    Copy(CopyArgs),
}

/// Where an export goes.
#[derive(clap::Args)]
pub struct ExportArgs {
    /// Write to this file (created with mode 0600: it is as secret as the store) instead.
    #[arg(long, short)]
    output: Option<PathBuf>,
}

/// Where an import comes from.
#[derive(clap::Args)]
pub struct ImportArgs {
    /// Read this file instead.
    #[arg(long, short)]
    input: Option<PathBuf>,
    /// Only check every record; write nothing.
    #[arg(long)]
    dry_run: bool,
}

/// The two stores of a copy.
#[derive(clap::Args)]
pub struct CopyArgs {
    /// The store to read: postgres://… (its sessions), redis://… or rediss://…
    /// (comma-separated nodes for a Cluster), or env:VARIABLE to take the URL
    /// from a variable (keeps passwords off the command line).
    #[arg(long)]
    from: String,
    /// The store to write, named as --from is.
    #[arg(long)]
    to: String,
    /// The Redis key prefix of --from.
    #[arg(long, default_value = "sesame:")]
    from_prefix: String,
    /// The Redis key prefix of --to.
    #[arg(long, default_value = "sesame:")]
    to_prefix: String,
    /// The PostgreSQL schema of --from (default: the connection's).
    #[arg(long)]
    from_schema: Option<String>,
    /// The PostgreSQL schema of --to (default: the connection's).
    #[arg(long)]
    to_schema: Option<String>,
    /// --from is one node of a Redis Cluster.
    #[arg(long)]
    from_cluster: bool,
    /// --to is one node of a Redis Cluster.
    #[arg(long)]
    to_cluster: bool,
    /// Only count what would be copied; write nothing.
    #[arg(long)]
    dry_run: bool,
}

/// `sesame users …` on the configured user store; the exit code.
pub async fn users(users: Arc<dyn UserRepository>, auth: AuthService, command: UsersCommand) -> ExitCode {
    let store = Store::Users(Arc::clone(&users));
    match command {
        UsersCommand::Export(args) => run_export(store, args).await,
        UsersCommand::Import { legacy: Some(file), .. } => run_legacy(&users, &auth, &file).await,
        UsersCommand::Import { args, .. } => run_import(store, args).await,
    }
}

// The id mapping it prints on standard output is its result, for the team's records.
#[allow(clippy::print_stdout)]
async fn run_legacy(users: &Arc<dyn UserRepository>, auth: &AuthService, file: &std::path::Path) -> ExitCode {
    match super::legacy::import(users, auth, file).await {
        Ok(done) => {
            for (legacy, id) in &done.new_ids {
                println!("{legacy} -> {id}");
            }
            eprintln!("users import --legacy: {}", done.tally);
            if done.sessions > 0 {
                eprintln!(
                    "users import --legacy: {} sessions opened under their legacy sessionId; serve with \
                     SESAME__COOKIE__LEGACY_TOKENS=true so that those cookies keep working",
                    done.sessions
                );
            }
            if done.tally.failed == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE }
        }
        Err(err) => said(&format!("users import --legacy: {err}")),
    }
}

/// `sesame sessions …` on the configured session store (built by
/// `configured` only when the command needs it); the exit code.
pub async fn sessions<F>(configured: F, command: SessionsCommand) -> ExitCode
where
    F: Future<Output = Option<Arc<dyn SessionStore>>>,
{
    let args = match command {
        SessionsCommand::Copy(args) => return run_copy(args).await,
        other => other,
    };
    let Some(sessions) = configured.await else { return ExitCode::FAILURE };
    let store = Store::Sessions(sessions);
    match args {
        SessionsCommand::Export(args) => run_export(store, args).await,
        SessionsCommand::Import(args) => run_import(store, args).await,
        SessionsCommand::Copy(_) => unreachable!("copied above"),
    }
}

async fn run_copy(args: CopyArgs) -> ExitCode {
    let location = |url: &str, key_prefix: &str, schema: &Option<String>, cluster: bool| {
        Ok::<_, sesame_factory::SettingsError>(StoreLocation {
            url: StoreLocation::url_from(url)?,
            key_prefix: key_prefix.to_owned(),
            schema: schema.clone(),
            cluster,
        })
    };
    let locations = location(&args.from, &args.from_prefix, &args.from_schema, args.from_cluster)
        .and_then(|from| Ok((from, location(&args.to, &args.to_prefix, &args.to_schema, args.to_cluster)?)));
    let (from, to) = match locations {
        Ok(locations) => locations,
        Err(err) => return said(&format!("sessions copy: {err}")),
    };
    let clock: Arc<dyn sesame_core::ports::Clock> = Arc::new(sesame_core::ports::SystemClock);
    let (source, target) = match (from.open(Arc::clone(&clock)).await, to.open(clock).await) {
        (Ok(source), Ok(target)) => (source, target),
        (Err(err), _) | (_, Err(err)) => return said(&format!("sessions copy: {err}")),
    };
    let what = format!("sessions copy {} -> {}", from.redacted(), to.redacted());
    let mut progress = Progress::new(what.clone(), Duration::from_secs(2));
    match copy(source.as_ref(), &target, args.dry_run, &mut progress).await {
        Ok(tally) => {
            eprintln!("{what}: {tally}");
            if tally.failed == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE }
        }
        Err(err) => said(&format!("{what}: {err}")),
    }
}

/// Says `message` on standard error; the failure exit code.
fn said(message: &str) -> ExitCode {
    eprintln!("sesame: {message}");
    ExitCode::FAILURE
}

async fn run_export(store: Store, args: ExportArgs) -> ExitCode {
    let noun = store.noun();
    let mut progress = Progress::new(format!("{noun} export"), Duration::from_secs(2));
    let written = match args.output {
        Some(path) => match private_file(&path) {
            Ok(file) => export(&store, &mut io::BufWriter::new(file), &mut progress).await,
            Err(err) => return said(&format!("{noun} export: {}: {err}", path.display())),
        },
        None => export(&store, &mut io::BufWriter::new(io::stdout().lock()), &mut progress).await,
    };
    match written {
        Ok(written) => {
            eprintln!("{noun} export: {} written", crate::words::counted(written, "record", "records"));
            ExitCode::SUCCESS
        }
        Err(err) => said(&format!("{noun} export: {err}")),
    }
}

async fn run_import(store: Store, args: ImportArgs) -> ExitCode {
    let noun = store.noun();
    let mut progress = Progress::new(format!("{noun} import"), Duration::from_secs(2));
    let tally = match args.input {
        Some(path) => match std::fs::File::open(&path) {
            Ok(file) => import(&store, &mut io::BufReader::new(file), args.dry_run, &mut progress).await,
            Err(err) => return said(&format!("{noun} import: {}: {err}", path.display())),
        },
        None => import(&store, &mut io::stdin().lock(), args.dry_run, &mut progress).await,
    };
    match tally {
        Ok(tally) => {
            eprintln!("{noun} import: {tally}");
            if tally.failed == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE }
        }
        Err(err) => said(&format!("{noun} import: {err}")),
    }
}
