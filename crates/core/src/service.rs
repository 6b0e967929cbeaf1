//! The use cases: register, login, authenticate, logout, logout everywhere, list
//! sessions, revoke one session, change the password, delete the account.

use std::sync::Arc;

use sesame_ports::{
    Clock, Email, NewUser, PortError, Session, SessionId, SessionMetadata, SessionStore, User, UserChanges, UserId,
    UserRepository, UserSnapshot,
};

use crate::{AuthError, Candidate, Credentials, Password, PasswordHasher, SessionPolicy, SessionToken};

/// A fresh session and the token that opens it: the result of register and login.
#[derive(Debug)]
pub struct LoggedIn {
    /// The user now logged in.
    pub user: User,
    /// The new session.
    pub session: Session,
    /// The token for the client's cookie; the only copy.
    pub token: SessionToken,
}

/// The use cases, over whichever adapters the factory built.
///
/// Sessions keep a snapshot of their user ([`UserSnapshot`]). A use case that
/// changes a user must keep those snapshots true: end the user's other sessions
/// and re-issue the caller's (as a password change does).
pub struct AuthService {
    users: Arc<dyn UserRepository>,
    sessions: Arc<dyn SessionStore>,
    clock: Arc<dyn Clock>,
    hasher: PasswordHasher,
    policy: SessionPolicy,
}

impl AuthService {
    /// Use cases over these ports, with this session policy and hasher.
    pub fn new(
        users: Arc<dyn UserRepository>,
        sessions: Arc<dyn SessionStore>,
        clock: Arc<dyn Clock>,
        hasher: PasswordHasher,
        policy: SessionPolicy,
    ) -> Self {
        Self { users, sessions, clock, hasher, policy }
    }

    /// The password hasher, for its statistics.
    pub fn hasher(&self) -> &PasswordHasher {
        &self.hasher
    }

    /// The session policy in force.
    pub fn policy(&self) -> &SessionPolicy {
        &self.policy
    }

    /// Creates a user and logs them in.
    ///
    /// Errors: `InvalidEmail`, `WeakPassword` or, when both are wrong,
    /// `InvalidEmailAndPassword` (checked before anything is stored),
    /// `EmailTaken` (also when a concurrent registration wins the race).
    pub async fn register(
        &self,
        email: &str,
        password: &str,
        presented: &[SessionToken],
        metadata: SessionMetadata,
    ) -> Result<LoggedIn, AuthError> {
        let (email, password) = match (Email::parse(email), Password::parse(password)) {
            (Ok(email), Ok(password)) => (email, password),
            (Err(email), Err(password)) => return Err(AuthError::InvalidEmailAndPassword(email, password)),
            (Err(email), Ok(_)) => return Err(email.into()),
            (Ok(_), Err(password)) => return Err(password.into()),
        };
        // Cheap early answer for the common duplicate; the store's unique index
        // still decides races.
        if self.users.find_by_email(&email).await?.is_some() {
            return Err(AuthError::EmailTaken);
        }
        let password_hash = self.hasher.hash(&password).await?;
        let new = NewUser { id: UserId::random(), email, password_hash, created_at: self.clock.now() };
        let user = self.users.create(new).await?;
        self.open_session(user, presented, metadata).await
    }

    /// Checks credentials and opens a new session, ending those presented.
    ///
    /// Errors: `InvalidCredentials` for an unknown email, a wrong password or input
    /// that could be neither; both cases cost one password verification.
    pub async fn login(
        &self,
        credentials: &Credentials<'_>,
        presented: &[SessionToken],
        metadata: SessionMetadata,
    ) -> Result<LoggedIn, AuthError> {
        let (Some(email), Some(password)) = (&credentials.email, &credentials.password) else {
            return Err(AuthError::InvalidCredentials);
        };
        let user = self.users.find_by_email(email).await?;
        let verified = self.hasher.verify(password, user.as_ref().map(|user| &user.password_hash)).await?;
        match user {
            // Said only to whoever knows the password.
            Some(user) if verified && user.is_disabled => Err(AuthError::AccountDisabled),
            Some(user) if verified => {
                let user = self.rehash_if_weaker(user, password).await;
                self.open_session(user, presented, metadata).await
            }
            _ => Err(AuthError::InvalidCredentials),
        }
    }

    /// `user` with its hash replaced when it was made with weaker settings
    /// than the hasher's; `password` has just matched it. A failure is logged
    /// and the login goes on: the next one tries again.
    async fn rehash_if_weaker(&self, user: User, password: &Candidate) -> User {
        if !self.hasher.needs_rehash(&user.password_hash) {
            return user;
        }
        let rehashed = async {
            let password_hash = self.hasher.hash(&Password::matched(password)).await?;
            let changes = UserChanges { password_hash: Some(password_hash), ..UserChanges::default() };
            Ok::<_, AuthError>(self.users.update(user.id, changes).await?)
        };
        match rehashed.await {
            Ok(updated) => updated,
            Err(err) => {
                tracing::warn!(user_id = %user.id, error = %err, "could not re-hash a password with weaker settings");
                user
            }
        }
    }

    /// The user a session belongs to, checked against `password`.
    ///
    /// Errors: `WrongPassword`; `Unauthenticated` when the user is gone (its
    /// sessions are then ended).
    async fn confirm(&self, session: &Session, password: &str) -> Result<User, AuthError> {
        let Some(user) = self.users.find_by_id(session.user_id).await? else {
            self.sessions.revoke_all(session.user_id).await?;
            return Err(AuthError::Unauthenticated);
        };
        match Candidate::new(password) {
            Some(candidate) if self.hasher.verify(&candidate, Some(&user.password_hash)).await? => Ok(user),
            _ => Err(AuthError::WrongPassword),
        }
    }

    /// Changes the password of the session's user after checking the current
    /// one, ends every session of the user (this one included: the snapshot
    /// sessions keep must stay true) and opens a new one for the caller.
    ///
    /// Errors: `WeakPassword` (checked first, before anything is verified or
    /// changed), `WrongPassword`, `Unauthenticated`.
    pub async fn change_password(
        &self,
        session: &Session,
        current: &str,
        new: &str,
        metadata: SessionMetadata,
    ) -> Result<LoggedIn, AuthError> {
        let new = Password::parse(new)?;
        let user = self.confirm(session, current).await?;
        let password_hash = self.hasher.hash(&new).await?;
        let changes = UserChanges { password_hash: Some(password_hash), ..UserChanges::default() };
        let user = self.users.update(user.id, changes).await?;
        self.sessions.revoke_all(user.id).await?;
        self.open_session(user, &[], metadata).await
    }

    /// Deletes the session's user after checking `password`, and ends every
    /// session of theirs: before the deletion, and again after it, so that a
    /// login racing with it leaves no session behind.
    ///
    /// Errors: `WrongPassword`, `Unauthenticated`.
    pub async fn delete_account(&self, session: &Session, password: &str) -> Result<(), AuthError> {
        let user = self.confirm(session, password).await?;
        self.sessions.revoke_all(user.id).await?;
        self.users.delete(user.id).await?;
        self.sessions.revoke_all(user.id).await?;
        Ok(())
    }

    async fn open_session(
        &self,
        user: User,
        presented: &[SessionToken],
        metadata: SessionMetadata,
    ) -> Result<LoggedIn, AuthError> {
        for old in presented {
            self.sessions.delete(&old.hash()).await?;
        }
        let token = SessionToken::generate()?;
        let session = self.fresh_session(&user, &token, metadata);
        self.sessions.create(&session).await?;
        Ok(LoggedIn { user, session, token })
    }

    /// A session of `user` opened now under `token`, with the policy's expiries.
    fn fresh_session(&self, user: &User, token: &SessionToken, metadata: SessionMetadata) -> Session {
        let now = self.clock.now();
        let expiry = self.policy.open(now);
        Session {
            id: SessionId::random(),
            token_hash: token.hash(),
            user_id: user.id,
            created_at: now,
            last_seen_at: now,
            idle_expires_at: expiry.idle,
            absolute_expires_at: expiry.absolute,
            metadata,
            user: Some(user.snapshot()),
        }
    }

    /// The live session that `token` opens, its use recorded when due.
    ///
    /// A validated request is one store read; it is also a write at most once per
    /// touch interval. Errors: `Unauthenticated` when there is no live session.
    pub async fn authenticate(&self, token: &SessionToken) -> Result<Session, AuthError> {
        let hash = token.hash();
        let mut session = self.sessions.get(&hash).await?.ok_or(AuthError::Unauthenticated)?;
        let now = self.clock.now();
        if let Some(idle_expires_at) = self.policy.touch(&session, now) {
            if !self.sessions.touch(&session, now, idle_expires_at).await? {
                return Err(AuthError::Unauthenticated);
            }
            session.last_seen_at = now;
            session.idle_expires_at = idle_expires_at;
        }
        Ok(session)
    }

    /// The live session a legacy token opens (one an import brought from
    /// another system, [`SessionToken::parse_legacy`]), its use recorded as
    /// [`authenticate`](Self::authenticate) does; at the token's first use, it
    /// is rotated: the session goes on under a new sesame token, returned with
    /// it, and the legacy token keeps opening it for
    /// [`LEGACY_GRACE`](Self::LEGACY_GRACE) more, so that requests already in
    /// flight with it are not logged out.
    ///
    /// A legacy session with less than the grace left (one rotated already)
    /// is served as it is. Two requests presenting the token at the same
    /// moment may each rotate it; the session whose token the client does not
    /// keep then ends at its idle expiry. The grace is written with `create`,
    /// which overwrites: a logout or revocation that lands in the instant
    /// between this request's read and that write is undone for the minute of
    /// grace (and the rotated session, created after it, outlives it); closing
    /// that needs a conditional "shorten if still live" write in every store.
    /// Errors: as `authenticate`.
    pub async fn authenticate_legacy(
        &self,
        token: &SessionToken,
    ) -> Result<(Session, Option<SessionToken>), AuthError> {
        let session = self.authenticate(token).await?;
        let now = self.clock.now();
        let grace_ends = now + Self::LEGACY_GRACE;
        if session.absolute_expires_at <= grace_ends {
            return Ok((session, None));
        }
        let new_token = SessionToken::generate()?;
        let rotated = Session { id: SessionId::random(), token_hash: new_token.hash(), ..session.clone() };
        self.sessions.create(&rotated).await?;
        let grace = Session {
            idle_expires_at: session.idle_expires_at.min(grace_ends),
            absolute_expires_at: grace_ends,
            ..session
        };
        self.sessions.create(&grace).await?;
        Ok((rotated, Some(new_token)))
    }

    /// How long a legacy token keeps opening its session after it was rotated.
    pub const LEGACY_GRACE: time::Duration = time::Duration::seconds(60);

    /// Opens a session for `user` under `token`, a legacy token another
    /// system issued (`sesame users import --legacy`), with fresh expiries:
    /// the client's cookie keeps working, and is rotated at its first use.
    pub async fn adopt_legacy_session(&self, user: &User, token: &SessionToken) -> Result<Session, AuthError> {
        let session = self.fresh_session(user, token, SessionMetadata::new(None, None));
        self.sessions.create(&session).await?;
        Ok(session)
    }

    /// What a request shows of the user a session belongs to: the session's
    /// own snapshot, so that no user lookup is needed (and none is made while
    /// the user store is down). A session written before sessions kept a
    /// snapshot looks its user up; one whose user is gone is ended.
    ///
    /// Errors: `Unauthenticated` when the user no longer exists.
    pub async fn current_user(&self, session: &Session) -> Result<UserSnapshot, AuthError> {
        if let Some(user) = &session.user {
            return Ok(user.clone());
        }
        match self.users.find_by_id(session.user_id).await? {
            Some(user) => Ok(user.snapshot()),
            None => {
                self.sessions.revoke_all(session.user_id).await?;
                Err(AuthError::Unauthenticated)
            }
        }
    }

    /// Ends the session that `token` opens, if any, and returns it. Idempotent.
    pub async fn logout(&self, token: &SessionToken) -> Result<Option<Session>, AuthError> {
        Ok(self.sessions.delete(&token.hash()).await?)
    }

    /// Ends every session of `user_id`; returns how many there were.
    pub async fn logout_everywhere(&self, user_id: UserId) -> Result<u64, AuthError> {
        let ended = self.sessions.revoke_all(user_id).await?;
        Ok(u64::try_from(ended.len()).unwrap_or(u64::MAX))
    }

    /// The live sessions of `user_id`, oldest first.
    pub async fn list_sessions(&self, user_id: UserId) -> Result<Vec<Session>, AuthError> {
        Ok(self.sessions.list_for_user(user_id).await?)
    }

    /// Ends one session of `user_id` by its public id.
    ///
    /// Errors: `SessionNotFound` when it is not one of the user's live sessions.
    pub async fn revoke_session(&self, user_id: UserId, session_id: SessionId) -> Result<(), AuthError> {
        match self.sessions.revoke(user_id, session_id).await? {
            Some(_) => Ok(()),
            None => Err(AuthError::SessionNotFound),
        }
    }

    /// The user with `email`, for an operator.
    ///
    /// Errors: `UserNotFound`.
    pub async fn find_user(&self, email: &Email) -> Result<User, AuthError> {
        self.users.find_by_email(email).await?.ok_or(AuthError::UserNotFound)
    }

    /// Disables (`disabled`) or enables the user with `email`, for an
    /// operator; a disabled user's sessions are all ended, and it cannot log
    /// in until enabled. Returns the user as stored and how many sessions
    /// ended. Idempotent.
    ///
    /// Errors: `UserNotFound`.
    pub async fn set_disabled(&self, email: &Email, disabled: bool) -> Result<(User, u64), AuthError> {
        let user = self.find_user(email).await?;
        let changes = UserChanges { is_disabled: Some(disabled), ..UserChanges::default() };
        let user = self.users.update(user.id, changes).await.map_err(|err| match err {
            PortError::NotFound => AuthError::UserNotFound,
            other => other.into(),
        })?;
        // Ended after the flag is stored, so that a login racing with it
        // cannot leave a session open.
        let ended = if disabled { self.logout_everywhere(user.id).await? } else { 0 };
        Ok((user, ended))
    }

    /// Deletes the user with `email`, for an operator, and ends every session
    /// of theirs (before and after, as [`delete_account`](Self::delete_account)
    /// does). Returns the user and how many sessions ended.
    ///
    /// Errors: `UserNotFound`.
    pub async fn delete_user(&self, email: &Email) -> Result<(User, u64), AuthError> {
        let user = self.find_user(email).await?;
        let ended = self.logout_everywhere(user.id).await?;
        self.users.delete(user.id).await?;
        let late = self.logout_everywhere(user.id).await?;
        Ok((user, ended + late))
    }

    /// Removes up to `batch` expired sessions, for an operator; how many.
    pub async fn purge_expired(&self, batch: u32) -> Result<u64, AuthError> {
        Ok(self.sessions.purge_expired(batch).await?)
    }

    /// Pings both stores at once: `(users, sessions)`.
    pub async fn check_stores(&self) -> (Result<(), AuthError>, Result<(), AuthError>) {
        let (users, sessions) = tokio::join!(self.users.ping(), self.sessions.ping());
        (users.map_err(AuthError::from), sessions.map_err(AuthError::from))
    }
}
