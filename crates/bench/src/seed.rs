//! Users and sessions written straight through the store ports, as the service
//! builds them from the same settings: thousands of valid cookies without an
//! argon2 hash per login.
//!
//! Each session's last recorded use is spread over the touch interval, so that
//! under load sessions fall due for a touch one after another, as in
//! production, instead of all at once or never.

use std::{collections::HashMap, sync::Arc};

use sesame_core::{
    Password, PasswordHasher, SessionToken,
    ports::{Email, NewUser, Session, SessionId, SessionMetadata, SessionStore, SystemClock, User, UserId},
};
use sesame_factory::{Environment, Settings};
use time::{Duration, OffsetDateTime};
use tokio::task::JoinSet;

/// Writers at once.
const WRITERS: usize = 32;

/// Creates `users` users with `per_user` sessions each through the ports the
/// settings in `vars` select; returns the cookies (`name=token`), one per session.
pub(crate) async fn sessions(
    environment: Environment,
    vars: HashMap<String, String>,
    users: usize,
    per_user: usize,
) -> Vec<String> {
    let settings = Settings::from_vars(environment, vars).expect("the bench's settings");
    let adapters = sesame_factory::build(&settings, Arc::new(SystemClock)).await.expect("the stores");
    // One real hash, made here, for every seeded user: the login phase logs in
    // as the first of them.
    let hash = PasswordHasher::new(1, 1)
        .hash(&Password::parse(crate::throughput::PASSWORD).expect("a strong password"))
        .await
        .expect("a hash");
    let touch_interval = i64::from(settings.session.touch_interval_seconds);
    let idle = Duration::seconds(settings.session.max_age_seconds.into());
    let absolute = Duration::seconds(settings.session.absolute_timeout_seconds.into());
    let cookie_name = settings.cookie.name.clone();

    let mut writers = JoinSet::new();
    for writer in 0..WRITERS {
        let (repository, store, hash) = (Arc::clone(&adapters.users), Arc::clone(&adapters.sessions), hash.clone());
        let cookie_name = cookie_name.clone();
        writers.spawn(async move {
            let mut cookies = Vec::new();
            for n in (writer..users).step_by(WRITERS) {
                let now = OffsetDateTime::now_utc();
                let new = NewUser {
                    id: UserId::random(),
                    email: Email::parse(&format!("seeded-{n}@example.com")).expect("an email"),
                    password_hash: hash.clone(),
                    created_at: now,
                };
                let user = repository.create(new).await.expect("creating a seeded user");
                for k in 0..per_user {
                    let since_use = Duration::seconds(i64::try_from(n * per_user + k).unwrap_or(0) % touch_interval);
                    let token = open(&*store, &user, now - since_use, idle, absolute).await;
                    cookies.push(format!("{cookie_name}={}", token.expose()));
                }
            }
            cookies
        });
    }
    let mut cookies = Vec::with_capacity(users * per_user);
    while let Some(written) = writers.join_next().await {
        cookies.extend(written.expect("a seeding task"));
    }
    cookies
}

/// A session of `user` last used at `seen`.
async fn open(
    store: &dyn SessionStore,
    user: &User,
    seen: OffsetDateTime,
    idle: Duration,
    absolute: Duration,
) -> SessionToken {
    let token = SessionToken::generate().expect("randomness");
    let session = Session {
        id: SessionId::random(),
        token_hash: token.hash(),
        user_id: user.id,
        created_at: seen,
        last_seen_at: seen,
        idle_expires_at: seen + idle,
        absolute_expires_at: seen + absolute,
        metadata: SessionMetadata::new(Some([127, 0, 0, 1].into()), Some("sesame-bench")),
        user: Some(user.snapshot()),
    };
    store.create(&session).await.expect("creating a seeded session");
    token
}

/// One session in the portable format (`sesame sessions import`), its times
/// in RFC 3339, its user's snapshot made from the user's id.
pub(crate) struct SessionLine<'a> {
    pub(crate) token_hash: &'a str,
    pub(crate) user: UserId,
    pub(crate) created: &'a str,
    pub(crate) last_seen: &'a str,
    pub(crate) idle_expires: &'a str,
    pub(crate) absolute_expires: &'a str,
}

impl SessionLine<'_> {
    /// Writes the line, with a new session id.
    pub(crate) fn write(&self, out: &mut impl std::io::Write) {
        let Self { token_hash, user, created, last_seen, idle_expires, absolute_expires } = self;
        writeln!(
            out,
            r#"{{"kind":"session","version":1,"tokenHash":"{token_hash}","id":"{id}","userId":"{user}","createdAt":"{created}","lastSeenAt":"{last_seen}","idleExpiresAt":"{idle_expires}","absoluteExpiresAt":"{absolute_expires}","ip":"203.0.113.7","userAgent":"Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0","user":{{"email":"user-{user}@example.com","isVerified":false,"createdAt":"{created}"}}}}"#,
            id = SessionId::random(),
        )
        .expect("a session line");
    }
}
