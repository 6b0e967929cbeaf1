//! The operator's commands on the configured stores: `sesame users
//! list|show|disable|enable|delete` and `sesame sessions
//! list|revoke|stats|purge`. Each change is an audit event (`actor =
//! operator`); `--json` prints what a script reads; the exit code is 0 when
//! done, 1 when a store failed, 2 for a command line clap refused, 3 when the
//! user or session named does not exist.

// What these commands print on standard output is their result.
#![allow(clippy::print_stdout)]

use std::{collections::HashMap, process::ExitCode, sync::Arc};

use serde::Serialize;
use sesame_core::{
    Application, AuthError,
    ports::{Clock, Email, ExportCursor, Session, SessionId, SessionStore, User, UserId, UserRepository},
};
use time::OffsetDateTime;

use crate::words::{counted, when};

/// Exit code: the user or session named does not exist.
const NOT_FOUND: u8 = 3;

/// `sesame users …` beyond export and import.
#[derive(clap::Subcommand)]
pub enum UsersCommand {
    /// Every user: id, email, verified, disabled, registered.
    List {
        /// One JSON array instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// One user and their live sessions.
    Show {
        /// The user's email address.
        email: String,
        /// JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// End every session of the user and refuse their logins (403
    /// `account_disabled`) until enabled.
    Disable {
        /// The user's email address.
        email: String,
    },
    /// Let a disabled user log in again.
    Enable {
        /// The user's email address.
        email: String,
    },
    /// Delete the user and end every session of theirs.
    Delete {
        /// The user's email address.
        email: String,
        /// Confirms the deletion (it cannot be undone).
        #[arg(long)]
        yes: bool,
    },
}

/// `sesame sessions …` beyond export, import and copy.
#[derive(clap::Subcommand)]
pub enum SessionsCommand {
    /// A user's live sessions, oldest first.
    List {
        /// The user's email address.
        #[arg(long)]
        user: String,
        /// One JSON array instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// End one session of a user (by its public id), or all of them.
    Revoke {
        /// The user's email address.
        #[arg(long)]
        user: String,
        /// The session's public id, as `sessions list` shows it.
        #[arg(long, required_unless_present = "all", conflicts_with = "all")]
        session: Option<String>,
        /// Every session of the user.
        #[arg(long)]
        all: bool,
    },
    /// Live sessions: how many, by age, and the users with the most. Reads
    /// every session once.
    Stats {
        /// JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Remove expired sessions now (from stores that do not expire them by
    /// themselves; the service also does it every few minutes).
    Purge,
}

/// The configured stores and use cases an operator command works on.
pub struct Operator {
    /// The application's calls (each change decided and audited there), as
    /// the service runs them.
    pub app: Application,
    /// The user store.
    pub users: Arc<dyn UserRepository>,
    /// The session store.
    pub sessions: Arc<dyn SessionStore>,
    /// The stores' clock.
    pub clock: Arc<dyn Clock>,
}

/// A user as an operator sees it: never the password hash.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct UserView {
    id: UserId,
    email: String,
    is_verified: bool,
    is_disabled: bool,
    #[serde(with = "time::serde::rfc3339")]
    created_at: OffsetDateTime,
}

impl From<&User> for UserView {
    fn from(user: &User) -> Self {
        Self {
            id: user.id,
            email: user.email.as_ref().to_owned(),
            is_verified: user.is_verified,
            is_disabled: user.is_disabled,
            created_at: user.created_at,
        }
    }
}

/// A session as an operator sees it: never its token or hash.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SessionView {
    id: SessionId,
    user_id: UserId,
    #[serde(with = "time::serde::rfc3339")]
    created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    last_seen_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    expires_at: OffsetDateTime,
    ip: Option<String>,
    user_agent: Option<String>,
}

impl From<&Session> for SessionView {
    fn from(session: &Session) -> Self {
        Self {
            id: session.id,
            user_id: session.user_id,
            created_at: session.created_at,
            last_seen_at: session.last_seen_at,
            expires_at: session.expires_at(),
            ip: session.metadata.ip.map(|ip| ip.to_string()),
            user_agent: session.metadata.user_agent.clone(),
        }
    }
}

/// What `sessions stats` reports.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Stats {
    live: u64,
    /// Sessions by time since they opened: under an hour, a day, a week, older.
    by_age: [(&'static str, u64); 4],
    /// The ten users with the most live sessions.
    top_users: Vec<(UserId, u64)>,
}

/// Who runs the command, for the audit log: the user `sudo` ran it for,
/// else the login name, else the numeric uid (a container sets no `USER`).
fn operator_name() -> String {
    let named = |variable: &str| std::env::var(variable).ok().filter(|name| !name.trim().is_empty());
    named("SUDO_USER")
        .or_else(|| named("USER"))
        .or_else(|| named("LOGNAME"))
        .or_else(|| uid().map(|uid| format!("uid {uid}")))
        .unwrap_or_else(|| "unknown".to_owned())
}

/// This process's real uid, from `/proc/self/status` (no `libc` needed).
fn uid() -> Option<u32> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status.lines().find_map(|line| line.strip_prefix("Uid:"))?.split_whitespace().next()?.parse().ok()
}

fn print_json(value: &impl Serialize) {
    match serde_json::to_string_pretty(value) {
        Ok(text) => println!("{text}"),
        Err(err) => eprintln!("sesame: cannot write JSON: {err}"),
    }
}

/// The exit code of a failed use case, after saying what to do.
fn failed(err: &AuthError, email: &str) -> ExitCode {
    match err {
        AuthError::UserNotFound => {
            eprintln!("sesame: no user has the email {email}; `sesame users list` shows who there is");
            ExitCode::from(NOT_FOUND)
        }
        AuthError::SessionNotFound => {
            eprintln!("sesame: {email} has no such live session; `sesame sessions list --user {email}` shows theirs");
            ExitCode::from(NOT_FOUND)
        }
        other => {
            eprintln!("sesame: {other}; check the stores (`sesame check-config`, /readyz) and run it again");
            ExitCode::FAILURE
        }
    }
}

fn parse_email(email: &str) -> Result<Email, ExitCode> {
    Email::parse(email).map_err(|err| {
        eprintln!("sesame: {email:?} is not an email address: {err}");
        ExitCode::from(2)
    })
}

impl Operator {
    /// Runs `command`; the exit code.
    pub async fn users(&self, command: UsersCommand) -> ExitCode {
        let operator = operator_name();
        match command {
            UsersCommand::List { json } => self.list_users(json).await,
            UsersCommand::Show { email, json } => self.show_user(&email, json).await,
            UsersCommand::Disable { email } => {
                let Ok(parsed) = parse_email(&email) else { return ExitCode::from(2) };
                match self.app.set_disabled(&operator, &parsed, true).await {
                    Ok((_, ended)) => {
                        let ended = counted(ended, "session", "sessions");
                        eprintln!("{email} disabled; {ended} ended. `sesame users enable {email}` undoes it");
                        ExitCode::SUCCESS
                    }
                    Err(err) => failed(&err, &email),
                }
            }
            UsersCommand::Enable { email } => {
                let Ok(parsed) = parse_email(&email) else { return ExitCode::from(2) };
                match self.app.set_disabled(&operator, &parsed, false).await {
                    Ok(_) => {
                        eprintln!("{email} enabled: they can log in again");
                        ExitCode::SUCCESS
                    }
                    Err(err) => failed(&err, &email),
                }
            }
            UsersCommand::Delete { email, yes } => {
                let Ok(parsed) = parse_email(&email) else { return ExitCode::from(2) };
                if !yes {
                    eprintln!("sesame: deleting {email} cannot be undone; add --yes to delete them");
                    return ExitCode::from(2);
                }
                match self.app.delete_user(&operator, &parsed).await {
                    Ok((_, ended)) => {
                        eprintln!("{email} deleted; {} ended", counted(ended, "session", "sessions"));
                        ExitCode::SUCCESS
                    }
                    Err(err) => failed(&err, &email),
                }
            }
        }
    }

    /// Runs `command`; the exit code.
    pub async fn sessions(&self, command: SessionsCommand) -> ExitCode {
        let operator = operator_name();
        match command {
            SessionsCommand::List { user, json } => {
                let Ok(email) = parse_email(&user) else { return ExitCode::from(2) };
                let auth = self.app.auth();
                let listed = async { auth.list_sessions(auth.find_user(&email).await?.id).await };
                match listed.await {
                    Ok(sessions) => {
                        print_sessions(&sessions, json);
                        ExitCode::SUCCESS
                    }
                    Err(err) => failed(&err, &user),
                }
            }
            // Clap requires --session or --all: no session named means all of them.
            SessionsCommand::Revoke { user, session, all: _ } => {
                let Ok(email) = parse_email(&user) else { return ExitCode::from(2) };
                let session = match session.as_deref().map(SessionId::parse).transpose() {
                    Ok(session) => session,
                    Err(_) => {
                        eprintln!("sesame: --session takes a session id as `sesame sessions list` shows it");
                        return ExitCode::from(2);
                    }
                };
                match self.app.end_sessions(&operator, &email, session).await {
                    Ok((_, ended)) => {
                        eprintln!("{} of {user} ended", counted(ended, "session", "sessions"));
                        ExitCode::SUCCESS
                    }
                    Err(err) => failed(&err, &user),
                }
            }
            SessionsCommand::Stats { json } => match self.stats().await {
                Ok(stats) if json => {
                    print_json(&stats);
                    ExitCode::SUCCESS
                }
                Ok(stats) => {
                    println!("{}", counted(stats.live, "live session", "live sessions"));
                    for (age, count) in stats.by_age {
                        println!("  opened {age}: {count}");
                    }
                    println!("users with the most:");
                    for (user, count) in &stats.top_users {
                        println!("  {user}: {count}");
                    }
                    ExitCode::SUCCESS
                }
                Err(err) => failed(&err, ""),
            },
            SessionsCommand::Purge => match self.app.purge_expired(&operator).await {
                Ok(purged) => {
                    eprintln!("{} removed", counted(purged, "expired session", "expired sessions"));
                    ExitCode::SUCCESS
                }
                Err(err) => failed(&err, ""),
            },
        }
    }

    async fn list_users(&self, json: bool) -> ExitCode {
        let mut users = Vec::new();
        let mut cursor = ExportCursor::start();
        loop {
            let page = match self.users.export(cursor, 1000).await {
                Ok(page) => page,
                Err(err) => return failed(&err.into(), ""),
            };
            users.extend(page.records.iter().map(UserView::from));
            match page.next {
                Some(next) => cursor = next,
                None => break,
            }
        }
        users.sort_by(|a, b| a.email.cmp(&b.email));
        if json {
            print_json(&users);
        } else {
            for user in &users {
                let state = match (user.is_disabled, user.is_verified) {
                    (true, _) => "disabled",
                    (false, true) => "verified",
                    (false, false) => "unverified",
                };
                println!("{}  {:<40}  {:<10}  registered {}", user.id, user.email, state, when(user.created_at));
            }
            eprintln!("{}", counted(users.len() as u64, "user", "users"));
        }
        ExitCode::SUCCESS
    }

    async fn show_user(&self, email: &str, json: bool) -> ExitCode {
        let Ok(parsed) = parse_email(email) else { return ExitCode::from(2) };
        let shown = async {
            let user = self.app.auth().find_user(&parsed).await?;
            let sessions = self.app.auth().list_sessions(user.id).await?;
            Ok::<_, AuthError>((user, sessions))
        };
        match shown.await {
            Ok((user, sessions)) => {
                let user = UserView::from(&user);
                if json {
                    let sessions: Vec<SessionView> = sessions.iter().map(SessionView::from).collect();
                    print_json(&serde_json::json!({"user": user, "sessions": sessions}));
                } else {
                    println!("{}  {}", user.id, user.email);
                    println!(
                        "  verified: {}, disabled: {}, registered {}",
                        user.is_verified,
                        user.is_disabled,
                        when(user.created_at)
                    );
                    print_sessions(&sessions, false);
                }
                ExitCode::SUCCESS
            }
            Err(err) => failed(&err, email),
        }
    }

    async fn stats(&self) -> Result<Stats, AuthError> {
        let now = self.clock.now();
        let mut by_user: HashMap<UserId, u64> = HashMap::new();
        let mut by_age = [("in the last hour", 0), ("in the last day", 0), ("in the last week", 0), ("earlier", 0)];
        let mut live = 0;
        let mut cursor = ExportCursor::start();
        loop {
            let page = self.sessions.export(cursor, 1000).await?;
            for session in &page.records {
                live += 1;
                *by_user.entry(session.user_id).or_default() += 1;
                let age = now - session.created_at;
                let bucket = [time::Duration::HOUR, time::Duration::DAY, time::Duration::WEEK]
                    .iter()
                    .position(|limit| age < *limit)
                    .unwrap_or(3);
                by_age[bucket].1 += 1;
            }
            match page.next {
                Some(next) => cursor = next,
                None => break,
            }
        }
        let mut top_users: Vec<(UserId, u64)> = by_user.into_iter().collect();
        top_users.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        top_users.truncate(10);
        Ok(Stats { live, by_age, top_users })
    }
}

fn print_sessions(sessions: &[Session], json: bool) {
    if json {
        print_json(&sessions.iter().map(SessionView::from).collect::<Vec<_>>());
        return;
    }
    for session in sessions {
        let view = SessionView::from(session);
        println!(
            "  session {}  opened {}  last seen {}  ends {}  {}  {}",
            view.id,
            when(view.created_at),
            when(view.last_seen_at),
            when(view.expires_at),
            view.ip.as_deref().unwrap_or("-"),
            view.user_agent.as_deref().unwrap_or("-"),
        );
    }
    eprintln!("{}", counted(sessions.len() as u64, "live session", "live sessions"));
}
