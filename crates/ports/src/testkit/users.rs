//! The [`UserRepository`] contract, clause by clause.

use std::sync::Arc;

use time::macros::datetime;

use crate::{Email, NewUser, PasswordHash, PortError, UserChanges, UserId, UserRepository};

/// What each clause runs against: one repository of its own.
pub struct Fixture {
    repo: Arc<dyn UserRepository>,
}

impl Fixture {
    /// Wraps a fresh repository.
    pub fn new(repo: Arc<dyn UserRepository>) -> Self {
        Self { repo }
    }
}

/// An address no other test uses, so a shared store cannot make tests collide.
fn unique_email(tag: &str) -> Email {
    Email::parse(&format!("{tag}-{}@example.com", UserId::random())).expect("a valid address")
}

fn new_user(email: Email) -> NewUser {
    NewUser {
        id: UserId::random(),
        email,
        password_hash: PasswordHash::new("$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2g"),
        created_at: datetime!(2026-01-01 12:00 UTC),
    }
}

/// A created user can be found by id and by email, unverified, as given.
pub async fn create_then_find_by_id_and_email(f: Fixture) {
    let new = new_user(unique_email("find"));
    let created = f.repo.create(new.clone()).await.expect("create");
    assert_eq!(created, new.clone().into(), "create returns the user as stored");
    assert!(!created.is_verified, "a new user is unverified");

    let by_id = f.repo.find_by_id(new.id).await.expect("find_by_id");
    assert_eq!(by_id.as_ref(), Some(&created));
    let by_email = f.repo.find_by_email(&new.email).await.expect("find_by_email");
    assert_eq!(by_email.as_ref(), Some(&created));
}

/// Looking up a user that does not exist is not an error.
pub async fn find_of_unknown_user_returns_none(f: Fixture) {
    assert!(f.repo.find_by_id(UserId::random()).await.expect("find_by_id").is_none());
    let email = unique_email("nobody");
    assert!(f.repo.find_by_email(&email).await.expect("find_by_email").is_none());
}

/// A second user with the same address, in any case, is refused with `EmailTaken`.
pub async fn email_is_unique_case_insensitively(f: Fixture) {
    let email = unique_email("Unique");
    f.repo.create(new_user(email.clone())).await.expect("first create");
    let shouted = Email::parse(&email.as_str().to_uppercase()).expect("valid");
    let err = f.repo.create(new_user(shouted)).await.expect_err("duplicate must fail");
    assert!(matches!(err, PortError::EmailTaken), "got {err:?}");
    let found = f.repo.find_by_email(&email).await.expect("find").expect("first user kept");
    assert_eq!(found.email, email);
}

/// Of many concurrent creations of one email, exactly one wins; the rest get `EmailTaken`.
pub async fn concurrent_creation_of_one_email_has_one_winner(f: Fixture) {
    const RACERS: usize = 16;
    let email = unique_email("race");
    let attempts: Vec<_> = (0..RACERS)
        .map(|i| {
            let repo = Arc::clone(&f.repo);
            let address = if i % 2 == 0 { email.as_str().to_owned() } else { email.as_str().to_uppercase() };
            tokio::spawn(async move { repo.create(new_user(Email::parse(&address).expect("valid"))).await })
        })
        .collect();
    let mut winners = Vec::new();
    for attempt in attempts {
        match attempt.await.expect("task") {
            Ok(user) => winners.push(user),
            Err(PortError::EmailTaken) => {}
            Err(other) => panic!("a racer failed with {other:?} instead of EmailTaken"),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one creation wins");
    let stored = f.repo.find_by_email(&email).await.expect("find").expect("winner stored");
    assert_eq!(stored.id, winners[0].id);
}

/// `update` changes the given fields, keeps the rest, and returns the stored user.
pub async fn update_changes_only_the_given_fields(f: Fixture) {
    let new = new_user(unique_email("update"));
    let created = f.repo.create(new.clone()).await.expect("create");

    let verified = f
        .repo
        .update(created.id, UserChanges { is_verified: Some(true), ..UserChanges::default() })
        .await
        .expect("verify");
    assert!(verified.is_verified);
    assert_eq!(verified.email, created.email);
    assert_eq!(verified.password_hash, created.password_hash);

    let new_hash = PasswordHash::new("$argon2id$v=19$m=19456,t=2,p=1$bmV3c2FsdA$bmV3aGFzaA");
    let new_email = unique_email("moved");
    let changes = UserChanges {
        email: Some(new_email.clone()),
        password_hash: Some(new_hash.clone()),
        is_verified: None,
        is_disabled: None,
    };
    let moved = f.repo.update(created.id, changes).await.expect("update");
    assert_eq!(
        (moved.email.clone(), moved.password_hash.clone(), moved.is_verified),
        (new_email.clone(), new_hash, true)
    );
    assert_eq!(f.repo.find_by_id(created.id).await.expect("find"), Some(moved.clone()));
    assert_eq!(f.repo.find_by_email(&new_email).await.expect("find"), Some(moved));
    assert!(f.repo.find_by_email(&new.email).await.expect("find").is_none(), "the old address is free");

    let disabled = f.repo.update(created.id, UserChanges { is_disabled: Some(true), ..UserChanges::default() });
    let disabled = disabled.await.expect("disable");
    assert!(disabled.is_disabled && disabled.is_verified, "only the given field changes");
    assert_eq!(f.repo.find_by_id(created.id).await.expect("find"), Some(disabled));
    let enabled = f.repo.update(created.id, UserChanges { is_disabled: Some(false), ..UserChanges::default() });
    assert!(!enabled.await.expect("enable").is_disabled);
}

/// Moving a user to another user's address fails with `EmailTaken` and changes nothing.
pub async fn update_to_a_taken_email_is_refused(f: Fixture) {
    let first = f.repo.create(new_user(unique_email("first"))).await.expect("create");
    let second = f.repo.create(new_user(unique_email("second"))).await.expect("create");
    let changes = UserChanges { email: Some(first.email.clone()), ..UserChanges::default() };
    let err = f.repo.update(second.id, changes).await.expect_err("must fail");
    assert!(matches!(err, PortError::EmailTaken), "got {err:?}");
    assert_eq!(f.repo.find_by_id(second.id).await.expect("find"), Some(second));
}

/// Updating a user that does not exist fails with `NotFound`.
pub async fn update_of_unknown_user_is_not_found(f: Fixture) {
    let changes = UserChanges { is_verified: Some(true), ..UserChanges::default() };
    let err = f.repo.update(UserId::random(), changes).await.expect_err("must fail");
    assert!(matches!(err, PortError::NotFound), "got {err:?}");
}

/// Deleting a user removes it and frees its email; deleting again, or an
/// unknown id, answers `false` and changes nothing.
pub async fn delete_removes_the_user_and_frees_the_email(f: Fixture) {
    let kept = f.repo.create(new_user(unique_email("kept"))).await.expect("create");
    let gone = f.repo.create(new_user(unique_email("gone"))).await.expect("create");
    assert!(f.repo.delete(gone.id).await.expect("delete"));
    assert_eq!(f.repo.find_by_id(gone.id).await.expect("find"), None);
    assert_eq!(f.repo.find_by_email(&gone.email).await.expect("find"), None);
    assert!(!f.repo.delete(gone.id).await.expect("delete again"));
    assert!(!f.repo.delete(UserId::random()).await.expect("delete unknown"));
    assert_eq!(f.repo.find_by_id(kept.id).await.expect("find"), Some(kept));
    let again = f.repo.create(new_user(gone.email.clone())).await.expect("the email is free");
    assert_ne!(again.id, gone.id);
}

/// A reachable store answers its ping.
pub async fn ping_answers(f: Fixture) {
    f.repo.ping().await.expect("ping");
}

/// Every user: the whole store, page after page (this store's cursors only).
async fn export_all(f: &Fixture, limit: u32) -> Vec<crate::User> {
    let mut cursor = crate::ExportCursor::start();
    let mut users = Vec::new();
    loop {
        let page = f.repo.export(cursor, limit).await.expect("export");
        users.extend(page.records);
        match page.next {
            Some(next) => cursor = next,
            None => return users,
        }
    }
}

/// An export pages through every user, each once, as stored.
pub async fn export_pages_through_every_user_once(f: Fixture) {
    let mut created = Vec::new();
    for i in 0..12 {
        created.push(f.repo.create(new_user(unique_email(&format!("export-{i}")))).await.expect("create"));
    }
    let exported = export_all(&f, 5).await;
    for user in &created {
        let copies = exported.iter().filter(|exported| exported.id == user.id).count();
        assert_eq!(copies, 1, "{:?} is exported once", user.id);
        assert!(exported.contains(user), "exported as stored");
    }
    let err = f.repo.export(crate::ExportCursor::at("not a cursor of this store!"), 5).await;
    assert!(matches!(err, Err(PortError::Invalid(_))), "{err:?}");
}

/// An imported user is stored as exported; importing it again changes nothing.
pub async fn import_creates_a_user_as_exported_then_skips_it(f: Fixture) {
    let mut user: crate::User = new_user(unique_email("imported")).into();
    user.is_verified = true;
    assert_eq!(f.repo.import(&user).await.expect("import"), crate::Imported::Created);
    assert_eq!(f.repo.find_by_id(user.id).await.expect("find").as_ref(), Some(&user));
    assert_eq!(f.repo.find_by_email(&user.email).await.expect("find").as_ref(), Some(&user));

    let mut changed = user.clone();
    changed.is_verified = false;
    assert_eq!(f.repo.import(&changed).await.expect("import again"), crate::Imported::Skipped);
    assert_eq!(f.repo.find_by_id(user.id).await.expect("find").as_ref(), Some(&user), "the one here wins");
}

/// A user whose email another user has is refused, and nothing is stored.
pub async fn import_of_a_taken_email_is_refused(f: Fixture) {
    let email = unique_email("taken-on-import");
    f.repo.create(new_user(email.clone())).await.expect("create");
    let other: crate::User = new_user(email).into();
    let err = f.repo.import(&other).await.expect_err("the email is taken");
    assert!(matches!(err, PortError::EmailTaken), "{err:?}");
    assert_eq!(f.repo.find_by_id(other.id).await.expect("find"), None);
}
