//! In-memory [`UserRepository`].

use std::{
    collections::HashMap,
    sync::{PoisonError, RwLock},
};

use async_trait::async_trait;
use sesame_ports::{
    Email, ExportCursor, ExportPage, Imported, NewUser, PortError, User, UserChanges, UserId, UserRepository,
};

/// Users in a map, with an email index kept under the same lock so that the
/// uniqueness check and the insert are one step.
#[derive(Debug, Default)]
pub struct InMemoryUserRepository {
    state: RwLock<Users>,
}

#[derive(Debug, Default)]
struct Users {
    by_id: HashMap<UserId, User>,
    id_by_email: HashMap<Email, UserId>,
}

impl InMemoryUserRepository {
    /// An empty repository.
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl UserRepository for InMemoryUserRepository {
    async fn create(&self, new: NewUser) -> Result<User, PortError> {
        let mut users = self.state.write().unwrap_or_else(PoisonError::into_inner);
        if users.id_by_email.contains_key(&new.email) {
            return Err(PortError::EmailTaken);
        }
        let user = User::from(new);
        users.id_by_email.insert(user.email.clone(), user.id);
        users.by_id.insert(user.id, user.clone());
        Ok(user)
    }

    async fn find_by_id(&self, id: UserId) -> Result<Option<User>, PortError> {
        let users = self.state.read().unwrap_or_else(PoisonError::into_inner);
        Ok(users.by_id.get(&id).cloned())
    }

    async fn find_by_email(&self, email: &Email) -> Result<Option<User>, PortError> {
        let users = self.state.read().unwrap_or_else(PoisonError::into_inner);
        Ok(users.id_by_email.get(email).and_then(|id| users.by_id.get(id)).cloned())
    }

    async fn update(&self, id: UserId, changes: UserChanges) -> Result<User, PortError> {
        let mut users = self.state.write().unwrap_or_else(PoisonError::into_inner);
        let Users { by_id, id_by_email } = &mut *users;
        let user = by_id.get_mut(&id).ok_or(PortError::NotFound)?;
        if let Some(email) = changes.email.as_ref().filter(|email| **email != user.email) {
            if id_by_email.contains_key(email) {
                return Err(PortError::EmailTaken);
            }
            id_by_email.remove(&user.email);
            id_by_email.insert(email.clone(), id);
        }
        changes.apply_to(user);
        Ok(user.clone())
    }

    async fn delete(&self, id: UserId) -> Result<bool, PortError> {
        let mut users = self.state.write().unwrap_or_else(PoisonError::into_inner);
        let Some(user) = users.by_id.remove(&id) else { return Ok(false) };
        users.id_by_email.remove(&user.email);
        Ok(true)
    }

    async fn ping(&self) -> Result<(), PortError> {
        Ok(())
    }

    async fn export(&self, cursor: ExportCursor, limit: u32) -> Result<ExportPage<User>, PortError> {
        let after = crate::paging::after(&cursor, |text| UserId::parse(text).ok())?;
        let users = self.state.read().unwrap_or_else(PoisonError::into_inner);
        let page =
            crate::paging::page(users.by_id.iter().map(|(id, user)| (*id, user)), after, limit, |id| id.to_string());
        Ok(ExportPage { records: page.records.into_iter().cloned().collect(), next: page.next })
    }

    async fn import(&self, user: &User) -> Result<Imported, PortError> {
        let mut users = self.state.write().unwrap_or_else(PoisonError::into_inner);
        if users.by_id.contains_key(&user.id) {
            return Ok(Imported::Skipped);
        }
        if users.id_by_email.contains_key(&user.email) {
            return Err(PortError::EmailTaken);
        }
        users.id_by_email.insert(user.email.clone(), user.id);
        users.by_id.insert(user.id, user.clone());
        Ok(Imported::Created)
    }
}
