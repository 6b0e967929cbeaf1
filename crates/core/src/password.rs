//! Password rules and hashing: what a password must be, and argon2id run off the
//! async runtime with bounded concurrency.
//!
//! Passwords are NFKC-normalised before anything else, so that the same
//! password typed on two keyboards (composed or decomposed accents, full-width
//! digits) is the same password.

use std::{
    collections::HashSet,
    fmt,
    sync::{
        Arc, Mutex, OnceLock, PoisonError,
        atomic::{AtomicU64, AtomicUsize, Ordering},
    },
};

use argon2::{Algorithm, Argon2, Block, Params, Version, password_hash::phc};

use crate::legacy_hash::Legacy;
use sesame_ports::{Email, PasswordHash};
use tokio::sync::{OnceCell, Semaphore};
use unicode_normalization::UnicodeNormalization as _;

/// A password that passed the rules; `Debug` never shows it.
#[derive(Clone)]
pub struct Password(String);

/// Why a password is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PasswordError {
    /// Fewer than [`Password::MIN_CHARS`] characters.
    #[error("password must be at least 8 characters long")]
    TooShort,
    /// More than [`Password::MAX_CHARS`] characters.
    #[error("password must be at most 128 characters long")]
    TooLong,
    /// On the embedded list of common passwords, only whitespace, or one
    /// character repeated.
    #[error("password is too common or too easy to guess")]
    TooCommon,
}

impl Password {
    /// The fewest characters (Unicode scalar values) accepted.
    pub const MIN_CHARS: usize = 8;
    /// The most characters accepted; also caps the work a login can ask for.
    pub const MAX_CHARS: usize = 128;

    /// Checks `input`, NFKC-normalised, against the rules. Nothing is trimmed
    /// from the password itself: spaces are characters; but the common-password
    /// check compares the trimmed, case-folded form.
    pub fn parse(input: &str) -> Result<Self, PasswordError> {
        let password = normalize(input);
        let chars = password.chars().count();
        if chars < Self::MIN_CHARS {
            Err(PasswordError::TooShort)
        } else if chars > Self::MAX_CHARS {
            Err(PasswordError::TooLong)
        } else if is_guessable(&password) {
            Err(PasswordError::TooCommon)
        } else {
            Ok(Self(password))
        }
    }

    /// The password `candidate` was, unchecked: for re-hashing a password
    /// that has just matched its stored hash.
    pub(crate) fn matched(candidate: &Candidate) -> Self {
        Self(candidate.normalized.clone())
    }

    /// The password itself, for the hasher.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// What a login offers, each part read once: the email (parsed, when it is
/// an address) and the password to check (normalised, when it is short
/// enough to be checked at all).
pub struct Credentials<'a> {
    /// The email as typed.
    pub typed_email: &'a str,
    /// The address, when the email is one.
    pub email: Option<Email>,
    /// The password, when it can be checked.
    pub password: Option<Candidate>,
}

impl<'a> Credentials<'a> {
    /// Reads `email` and `password` as a login offers them.
    pub fn read(email: &'a str, password: &str) -> Self {
        Self { typed_email: email, email: Email::parse(email).ok(), password: Candidate::new(password) }
    }
}

/// A password offered to be checked against a hash (a login, a
/// confirmation), NFKC-normalised once, and kept as typed too when that
/// differs (a hash made before normalisation, or by another system, is tried
/// with it as well).
pub struct Candidate {
    normalized: String,
    as_typed: Option<String>,
}

impl Candidate {
    /// `input`, unless it is too long to be checked against a hash: more
    /// than [`Password::MAX_CHARS`] once NFKC-normalised, as passwords are
    /// counted at registration (a password typed in decomposed form is
    /// longer as sent than as stored). Longer input is refused unhashed.
    pub fn new(input: &str) -> Option<Self> {
        // Normalisation never shrinks text below a quarter of its characters:
        // past that, the input is too long whatever it normalises to.
        if input.chars().count() > Password::MAX_CHARS * 4 {
            return None;
        }
        let normalized = normalize(input);
        if normalized.chars().count() > Password::MAX_CHARS {
            return None;
        }
        let as_typed = (normalized != input).then(|| input.to_owned());
        Some(Self { normalized, as_typed })
    }
}

impl fmt::Debug for Candidate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Candidate([redacted])")
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password([redacted])")
    }
}

/// `input` in Unicode normalisation form KC.
fn normalize(input: &str) -> String {
    input.nfkc().collect()
}

/// Whether a password is on the common list once trimmed and case-folded, is
/// only whitespace, or is one character repeated.
fn is_guessable(password: &str) -> bool {
    let folded = password.trim().to_lowercase();
    let mut chars = folded.chars();
    let Some(first) = chars.next() else { return true };
    chars.all(|c| c == first) || is_common(&folded)
}

fn is_common(folded: &str) -> bool {
    static COMMON: OnceLock<HashSet<&'static str>> = OnceLock::new();
    let common = COMMON.get_or_init(|| {
        include_str!("common-passwords.txt")
            .lines()
            .map(str::trim)
            .filter(|line| !line.is_empty() && !line.starts_with('#'))
            .collect()
    });
    common.contains(folded)
}

/// Why hashing or verifying could not run; never "wrong password".
#[derive(Debug, thiserror::Error)]
pub enum HashError {
    /// argon2 refused its input or parameters.
    #[error("password hashing failed: {0}")]
    Argon2(String),
    /// The blocking task panicked or was cancelled.
    #[error("password hashing task failed")]
    Task(#[from] tokio::task::JoinError),
    /// As many hashes as allowed already wait: try again shortly.
    #[error("too many password hashes are waiting")]
    Busy,
}

/// Hashes and verifies passwords with argon2id (OWASP: m = 19456 KiB, t = 2, p = 1).
///
/// Each hash needs ~19 MiB and tens of milliseconds of CPU, so it runs on tokio's
/// blocking pool, at most `max_concurrent` at once, and at most `max_waiting`
/// wait for their turn (more answer [`HashError::Busy`]): a login storm queues
/// here, boundedly, instead of exhausting memory or starving the runtime that
/// validates sessions.
///
/// The 19 MiB working memory of each hash is reused by the next ([`Memory`]):
/// at most `max_concurrent` arrays ever exist, so a storm cannot grow memory
/// beyond them.
pub struct PasswordHasher {
    params: Params,
    permits: Arc<Semaphore>,
    max_waiting: usize,
    waiting: Arc<AtomicUsize>,
    memory: Arc<Memory>,
    stats: Arc<Counters>,
    /// A hash of a random password, verified against when the email is unknown so
    /// that an unknown email and a wrong password take the same time.
    dummy: OnceCell<PasswordHash>,
}

impl PasswordHasher {
    /// Memory cost in KiB.
    pub const MEMORY_KIB: u32 = 19_456;
    /// Iterations.
    pub const ITERATIONS: u32 = 2;
    /// Lanes.
    pub const PARALLELISM: u32 = 1;
    /// The most memory a stored hash may ask for (KiB): four times ours. A
    /// hash asking for more is refused, not run, so no stored value can make
    /// the process allocate without bound.
    const MAX_STORED_MEMORY_KIB: u32 = 4 * Self::MEMORY_KIB;
    /// The most iterations a stored hash may ask for.
    const MAX_STORED_ITERATIONS: u32 = 10;
    /// Bytes of a hash's output.
    const OUTPUT_LEN: usize = 32;
    /// Bytes of a salt.
    const SALT_LEN: usize = 16;

    /// A hasher running at most `max_concurrent` (at least one) hashes at once,
    /// with at most `max_waiting` more waiting.
    pub fn new(max_concurrent: usize, max_waiting: usize) -> Self {
        let params = Params::new(Self::MEMORY_KIB, Self::ITERATIONS, Self::PARALLELISM, Some(Self::OUTPUT_LEN))
            .expect("the OWASP parameters are valid");
        Self {
            params,
            permits: Arc::new(Semaphore::new(max_concurrent.max(1))),
            max_waiting,
            waiting: Arc::default(),
            memory: Arc::default(),
            stats: Arc::default(),
            dummy: OnceCell::new(),
        }
    }

    /// How much argon2 work has run, and how much of it at once at most.
    pub fn stats(&self) -> HasherStats {
        HasherStats {
            runs: self.stats.runs.load(Ordering::Relaxed),
            peak_in_flight: self.stats.peak_in_flight.load(Ordering::Relaxed),
            waiting: self.waiting.load(Ordering::Relaxed),
            blocks_kept: self.memory.kept(),
        }
    }

    /// Hashes `password` with a fresh random salt, in PHC string form.
    pub async fn hash(&self, password: &Password) -> Result<PasswordHash, HashError> {
        let password = password.expose().to_owned();
        let params = self.params.clone();
        let phc = self
            .run(self.params.block_count(), move |blocks| {
                let mut salt = [0u8; Self::SALT_LEN];
                getrandom::fill(&mut salt).map_err(failed)?;
                let mut output = [0u8; Self::OUTPUT_LEN];
                let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
                argon2
                    .hash_password_into_with_memory(password.as_bytes(), &salt, &mut output, blocks)
                    .map_err(failed)?;
                let phc = phc::PasswordHash {
                    algorithm: argon2::ARGON2ID_IDENT,
                    version: Some(Version::V0x13.into()),
                    params: phc::ParamsString::try_from(&params).map_err(failed)?,
                    salt: Some(phc::Salt::new(&salt).map_err(failed)?),
                    hash: Some(phc::Output::new(&output).map_err(failed)?),
                };
                Ok(phc.to_string())
            })
            .await?;
        Ok(PasswordHash::new(phc))
    }

    /// Whether `candidate` matches `hash`. With no hash (the email is unknown) it
    /// verifies against a dummy hash and answers `false`, taking the same time.
    ///
    /// The candidate is tried NFKC-normalised, as passwords are before
    /// hashing; against a hash made from a password that was not (before
    /// normalisation began, or by another system), also as typed.
    /// Besides argon2, the hashes of imported users verify: bcrypt, scrypt
    /// and PBKDF2 ([`crate::legacy_hash`]); `needs_rehash` then answers `true`.
    pub async fn verify(&self, candidate: &Candidate, hash: Option<&PasswordHash>) -> Result<bool, HashError> {
        if let Some(legacy) = hash.and_then(|hash| Legacy::recognise(hash.expose())) {
            let legacy = legacy?;
            let (normalized, as_typed) = (candidate.normalized.clone(), candidate.as_typed.clone());
            return self
                .run(0, move |_| {
                    Ok(legacy.matches(&normalized)?
                        || as_typed.map(|typed| legacy.matches(&typed)).transpose()?.unwrap_or(false))
                })
                .await;
        }
        let (phc, known) = match hash {
            Some(hash) => (hash.expose().to_owned(), true),
            None => (self.dummy_hash().await?.expose().to_owned(), false),
        };
        let parsed = argon2::PasswordHash::new(&phc).map_err(failed)?;
        let params = Params::try_from(&parsed).map_err(failed)?;
        if params.m_cost() > Self::MAX_STORED_MEMORY_KIB || params.t_cost() > Self::MAX_STORED_ITERATIONS {
            return Err(HashError::Argon2(format!(
                "a stored hash asks for m={} KiB, t={}: over what this hasher runs",
                params.m_cost(),
                params.t_cost()
            )));
        }
        let (normalized, as_typed) = (candidate.normalized.clone(), candidate.as_typed.clone());
        let matches = self
            .run(params.block_count(), move |blocks| {
                Ok(matches(&parsed, &params, &normalized, blocks)?
                    || as_typed.map(|typed| matches(&parsed, &params, &typed, blocks)).transpose()?.unwrap_or(false))
            })
            .await?;
        Ok(known && matches)
    }

    /// Whether `hash` was made with weaker settings than this hasher's (another
    /// algorithm or version, less memory, fewer iterations or lanes), so that
    /// it should be replaced at the next successful login. An unreadable hash
    /// counts as weaker.
    pub fn needs_rehash(&self, hash: &PasswordHash) -> bool {
        let Ok(parsed) = argon2::PasswordHash::new(hash.expose()) else { return true };
        let Ok(params) = Params::try_from(&parsed) else { return true };
        parsed.algorithm != argon2::ARGON2ID_IDENT
            || parsed.version != Some(Version::V0x13.into())
            || params.m_cost() < self.params.m_cost()
            || params.t_cost() < self.params.t_cost()
            || params.p_cost() < self.params.p_cost()
    }

    async fn dummy_hash(&self) -> Result<&PasswordHash, HashError> {
        self.dummy
            .get_or_try_init(|| async {
                let random = crate::token::SessionToken::generate().map_err(failed)?;
                self.hash(&Password(random.expose().to_owned())).await
            })
            .await
    }

    /// Runs `work` on the blocking pool with `blocks` blocks of working memory,
    /// once a permit is free; refuses when too many already wait.
    async fn run<T: Send + 'static>(
        &self,
        blocks: usize,
        work: impl FnOnce(&mut [Block]) -> Result<T, HashError> + Send + 'static,
    ) -> Result<T, HashError> {
        let permit = match Arc::clone(&self.permits).try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => {
                let waiting = Waiting::enter(&self.waiting, self.max_waiting).ok_or(HashError::Busy)?;
                let permit = Arc::clone(&self.permits).acquire_owned().await.expect("the semaphore is never closed");
                drop(waiting);
                permit
            }
        };
        // The permit moves into the blocking task: if the caller is dropped (the
        // client hung up), the work still holds its permit until it finishes.
        let (memory, stats) = (Arc::clone(&self.memory), Arc::clone(&self.stats));
        tokio::task::spawn_blocking(move || {
            let in_flight = stats.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            stats.peak_in_flight.fetch_max(in_flight, Ordering::SeqCst);
            stats.runs.fetch_add(1, Ordering::Relaxed);
            let mut memory_blocks = memory.take(blocks);
            let result = work(&mut memory_blocks[..blocks]);
            memory.give_back(memory_blocks);
            stats.in_flight.fetch_sub(1, Ordering::SeqCst);
            drop(permit);
            result
        })
        .await?
    }
}

/// Whether `password` hashes to `parsed`'s output with its own parameters.
fn matches(
    parsed: &argon2::PasswordHash,
    params: &Params,
    password: &str,
    blocks: &mut [Block],
) -> Result<bool, HashError> {
    let (Some(salt), Some(expected)) = (&parsed.salt, &parsed.hash) else {
        return Err(HashError::Argon2("the stored hash has no salt or no output".into()));
    };
    let algorithm = Algorithm::try_from(parsed.algorithm.as_str()).map_err(failed)?;
    let version = parsed.version.map_or(Ok(Version::V0x13), Version::try_from).map_err(failed)?;
    let mut output = vec![0u8; expected.len()];
    Argon2::new(algorithm, version, params.clone())
        .hash_password_into_with_memory(password.as_bytes(), salt, &mut output, blocks)
        .map_err(failed)?;
    // `Output`'s equality runs in constant time.
    Ok(phc::Output::new(&output).map_err(failed)? == *expected)
}

/// A place in the queue of hashes waiting for a permit, left when dropped.
struct Waiting<'a>(&'a AtomicUsize);

impl<'a> Waiting<'a> {
    fn enter(waiting: &'a AtomicUsize, max: usize) -> Option<Self> {
        waiting.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |now| (now < max).then_some(now + 1)).ok()?;
        Some(Self(waiting))
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// argon2 working memory, allocated at a hash's first need and reused by every
/// later hash: at most one block array per permit ever exists.
///
/// Freeing each array after its hash instead leaves the allocator holding
/// them: glibc serves each blocking thread from its own arena, and a freed
/// 19 MiB block stays in that arena's heap, so memory grows towards arenas ×
/// 19 MiB and never goes back (measured with `cargo xtask bench storm`:
/// 389 MiB resident after 200 registrations one after another, against
/// 9 MiB plus one array when arrays are kept).
#[derive(Default)]
struct Memory {
    kept: Mutex<Vec<Vec<Block>>>,
}

impl Memory {
    /// A block array of at least `blocks` blocks: a kept one, or a new one
    /// that replaces a kept one too small (so there is never more than one
    /// array per permit, whatever sizes stored hashes ask for).
    fn take(&self, blocks: usize) -> Vec<Block> {
        let mut kept = self.kept.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(index) = kept.iter().position(|array| array.len() >= blocks) {
            return kept.swap_remove(index);
        }
        let too_small = kept.pop();
        drop(kept);
        drop(too_small);
        vec![Block::default(); blocks]
    }

    /// Keeps `array` for the next hash.
    fn give_back(&self, array: Vec<Block>) {
        self.kept.lock().unwrap_or_else(PoisonError::into_inner).push(array);
    }

    /// How many block arrays are kept unused.
    fn kept(&self) -> usize {
        self.kept.lock().unwrap_or_else(PoisonError::into_inner).len()
    }
}

/// What a [`PasswordHasher`] has done so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HasherStats {
    /// argon2 hashes and verifications run.
    pub runs: u64,
    /// The most that ran at the same time.
    pub peak_in_flight: usize,
    /// Hashes waiting for a permit now.
    pub waiting: usize,
    /// Working-memory arrays kept for the next hashes.
    pub blocks_kept: usize,
}

#[derive(Debug, Default)]
struct Counters {
    runs: AtomicU64,
    in_flight: AtomicUsize,
    peak_in_flight: AtomicUsize,
}

/// argon2's, phc's or password-hash's error, as a hashing failure.
fn failed(err: impl std::fmt::Display) -> HashError {
    HashError::Argon2(err.to_string())
}

#[cfg(test)]
mod tests {
    use argon2::PasswordHasher as _;

    use super::*;

    fn candidate(input: &str) -> Candidate {
        Candidate::new(input).expect("short enough to check")
    }

    #[test]
    fn length_is_counted_in_characters() {
        assert_eq!(Password::parse("éüéüéüé").unwrap_err(), PasswordError::TooShort);
        assert!(Password::parse(&"éü".repeat(4)).is_ok());
        assert!(Password::parse(&"éü".repeat(64)).is_ok());
        assert_eq!(Password::parse(&format!("{}é", "éü".repeat(64))).unwrap_err(), PasswordError::TooLong);
    }

    #[test]
    fn common_passwords_are_refused_in_any_case() {
        assert_eq!(Password::parse("password123").unwrap_err(), PasswordError::TooCommon);
        assert_eq!(Password::parse("PassWord123").unwrap_err(), PasswordError::TooCommon);
        assert!(Password::parse("correct horse battery staple").is_ok());
    }

    #[test]
    fn the_common_check_sees_through_case_spaces_repetition_and_unicode_forms() {
        for weak in
            [" password ", "PASSWORD  ", "        ", "\t\t\t\t\t\t\t\t", "aaaaaaaaaa", "ＰＡＳＳＷＯＲＤ", "iloveyou1"]
        {
            assert_eq!(Password::parse(weak).unwrap_err(), PasswordError::TooCommon, "{weak:?}");
        }
        assert!(Password::parse("ab ab ab ab").is_ok());
    }

    #[test]
    fn the_list_holds_at_least_the_ten_thousand_most_common_passwords() {
        assert!(is_common("12345678"));
        let entries = include_str!("common-passwords.txt").lines().filter(|l| !l.starts_with('#')).count();
        assert!(entries >= 10_000, "{entries}");
    }

    #[tokio::test]
    async fn composed_and_decomposed_spellings_are_one_password() {
        let hasher = PasswordHasher::new(1, 64);
        let composed = "caf\u{e9}-au-lait-42";
        let decomposed = "cafe\u{301}-au-lait-42";
        let hash = hasher.hash(&Password::parse(decomposed).unwrap()).await.unwrap();
        assert!(hasher.verify(&candidate(composed), Some(&hash)).await.unwrap());
        // A hash made from a password as typed, before normalisation, still verifies.
        let legacy = hasher.hash(&Password(decomposed.to_owned())).await.unwrap();
        assert!(hasher.verify(&candidate(decomposed), Some(&legacy)).await.unwrap());
    }

    #[tokio::test]
    async fn weaker_hashes_need_a_rehash_and_current_ones_do_not() {
        let hasher = PasswordHasher::new(1, 64);
        let current = hasher.hash(&Password::parse("s3cret-passphrase").unwrap()).await.unwrap();
        assert!(!hasher.needs_rehash(&current));
        let weak = Argon2::new(Algorithm::Argon2id, Version::V0x13, Params::new(8192, 1, 1, None).unwrap());
        let weak = weak.hash_password(b"s3cret-passphrase").unwrap().to_string();
        assert!(hasher.needs_rehash(&PasswordHash::new(weak)));
        let argon2i = Argon2::new(Algorithm::Argon2i, Version::V0x13, hasher.params.clone());
        let argon2i = argon2i.hash_password(b"s3cret-passphrase").unwrap().to_string();
        assert!(hasher.needs_rehash(&PasswordHash::new(argon2i)));
        assert!(hasher.needs_rehash(&PasswordHash::new("not a phc string")));
    }

    #[test]
    fn length_is_checked_on_the_normalised_form_at_login_as_at_registration() {
        let decomposed = "e\u{301}u\u{308}".repeat(50);
        assert_eq!(decomposed.chars().count(), 200, "200 characters as sent");
        assert!(Password::parse(&decomposed).is_ok(), "100 once normalised");
        assert!(Candidate::new(&decomposed).is_some());
        assert!(Candidate::new(&"a".repeat(129)).is_none());
        assert!(Candidate::new(&"e\u{301}".repeat(300)).is_none());
    }

    #[tokio::test]
    async fn a_stored_hash_asking_for_too_much_memory_is_refused_unrun() {
        let hasher = PasswordHasher::new(1, 64);
        let greedy = Argon2::new(Algorithm::Argon2id, Version::V0x13, Params::new(8, 1, 1, None).unwrap());
        let phc = greedy.hash_password(b"s3cret-passphrase").unwrap().to_string().replace("m=8,", "m=4000000,");
        assert!(hasher.verify(&candidate("s3cret-passphrase"), Some(&PasswordHash::new(phc))).await.is_err());
        assert_eq!(hasher.stats().runs, 0, "nothing ran");
    }

    #[test]
    fn debug_never_shows_the_password() {
        let password = Password::parse("s3cret-passphrase").unwrap();
        assert!(!format!("{password:?}").contains("s3cret"));
    }

    #[tokio::test]
    async fn hash_is_argon2id_with_the_owasp_parameters_and_verifies() {
        let hasher = PasswordHasher::new(2, 64);
        let password = Password::parse("s3cret-passphrase").unwrap();
        let hash = hasher.hash(&password).await.unwrap();
        assert!(hash.expose().starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{}", hash.expose());
        assert!(hasher.verify(&candidate("s3cret-passphrase"), Some(&hash)).await.unwrap());
        assert!(!hasher.verify(&candidate("s3cret-passphrasE"), Some(&hash)).await.unwrap());
        assert_ne!(hasher.hash(&password).await.unwrap(), hash, "every hash has its own salt");
    }

    #[tokio::test]
    async fn hashes_made_by_the_argon2_crate_itself_verify_and_ours_verify_there() {
        use argon2::PasswordVerifier as _;
        let hasher = PasswordHasher::new(1, 64);
        let theirs = Argon2::default().hash_password(b"s3cret-passphrase").unwrap().to_string();
        assert!(
            hasher.verify(&candidate("s3cret-passphrase"), Some(&PasswordHash::new(theirs.clone()))).await.unwrap()
        );
        assert!(!hasher.verify(&candidate("s3cret-passphrasE"), Some(&PasswordHash::new(theirs))).await.unwrap());
        let ours = hasher.hash(&Password::parse("s3cret-passphrase").unwrap()).await.unwrap();
        let parsed = argon2::PasswordHash::new(ours.expose()).unwrap();
        assert!(Argon2::default().verify_password(b"s3cret-passphrase", &parsed).is_ok());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn beyond_the_waiting_bound_hashing_answers_busy() {
        let hasher = Arc::new(PasswordHasher::new(1, 2));
        let password = Password::parse("s3cret-passphrase").unwrap();
        // One runs and two wait; the fourth is refused at once.
        let running: Vec<_> = (0..3)
            .map(|_| {
                let (hasher, password) = (Arc::clone(&hasher), password.clone());
                tokio::spawn(async move { hasher.hash(&password).await })
            })
            .collect();
        while hasher.stats().waiting < 2 {
            tokio::task::yield_now().await;
        }
        assert!(matches!(hasher.hash(&password).await, Err(HashError::Busy)));
        for hash in running {
            hash.await.unwrap().unwrap();
        }
        assert_eq!(hasher.stats().waiting, 0, "the waiting places are given back");
        hasher.hash(&password).await.unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn at_most_one_working_memory_array_per_permit_ever_exists() {
        let hasher = Arc::new(PasswordHasher::new(2, 64));
        let password = Password::parse("s3cret-passphrase").unwrap();
        let hashes: Vec<_> = (0..6)
            .map(|_| {
                let (hasher, password) = (Arc::clone(&hasher), password.clone());
                tokio::spawn(async move { hasher.hash(&password).await })
            })
            .collect();
        for hash in hashes {
            hash.await.unwrap().unwrap();
        }
        let kept = hasher.stats().blocks_kept;
        assert!((1..=2).contains(&kept), "{kept} arrays for two permits");
    }

    #[tokio::test]
    async fn verify_without_a_hash_answers_false() {
        let hasher = PasswordHasher::new(1, 64);
        assert!(!hasher.verify(&candidate("anything at all"), None).await.unwrap());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrency_stays_bounded_even_when_callers_give_up() {
        let hasher = Arc::new(PasswordHasher::new(2, 64));
        let password = Password::parse("s3cret-passphrase").unwrap();
        let callers: Vec<_> = (0..8)
            .map(|_| {
                let (hasher, password) = (Arc::clone(&hasher), password.clone());
                tokio::spawn(async move { hasher.hash(&password).await })
            })
            .collect();
        // Half the callers hang up while their hashes are queued or running.
        tokio::task::yield_now().await;
        for caller in callers.iter().step_by(2) {
            caller.abort();
        }
        for caller in callers.into_iter().skip(1).step_by(2) {
            caller.await.unwrap().unwrap();
        }
        // Let any abandoned work finish, then check that it never overlapped beyond the cap.
        let _all = hasher.permits.acquire_many(2).await.unwrap();
        let stats = hasher.stats();
        assert!(stats.runs >= 4, "{stats:?}");
        assert!(stats.peak_in_flight <= 2, "more hashes ran at once than allowed: {stats:?}");
    }

    #[tokio::test]
    async fn a_corrupt_stored_hash_is_an_error_not_a_match() {
        let hasher = PasswordHasher::new(1, 64);
        let corrupt = PasswordHash::new("not a phc string");
        assert!(hasher.verify(&candidate("whatever1"), Some(&corrupt)).await.is_err());
    }
}
