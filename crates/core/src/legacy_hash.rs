//! Password hashes other systems made, so that users imported with them can
//! log in: bcrypt (`$2a$`, `$2b$`, `$2y$`), and scrypt and PBKDF2 in PHC form
//! (`$scrypt$ln=…,r=…,p=…$salt$hash`, `$pbkdf2-sha256$i=…,l=…$salt$hash`,
//! `$pbkdf2-sha512$…`). A successful login replaces such a hash with an
//! argon2id one ([`PasswordHasher::needs_rehash`](crate::PasswordHasher::needs_rehash)
//! answers `true` for each).
//!
//! Costs are bounded, so that an imported hash cannot make one login take
//! minutes or gigabytes: bcrypt cost 4–16, scrypt up to 2^17 × r 8 (128 MiB)
//! and p 4, PBKDF2 up to 10,000,000 iterations.

use argon2::{PasswordHash as Phc, password_hash::phc};
use sha2::{Sha256, Sha512};

use crate::password::HashError;

const MAX_BCRYPT_COST: u32 = 16;
const MAX_SCRYPT_LOG_N: u32 = 17;
const MAX_SCRYPT_R: u32 = 8;
const MAX_SCRYPT_P: u32 = 4;
const MAX_PBKDF2_ROUNDS: u32 = 10_000_000;

/// A hash in one of the formats above, ready to check passwords against.
pub(crate) enum Legacy {
    Bcrypt(String),
    Scrypt { params: scrypt::Params, salt: Vec<u8>, expected: phc::Output },
    Pbkdf2 { sha512: bool, rounds: u32, salt: Vec<u8>, expected: phc::Output },
}

impl Legacy {
    /// `hash` read as one of these formats; `None` when it is none of them
    /// (argon2's own), an error when it is one but cannot be used.
    pub(crate) fn recognise(hash: &str) -> Option<Result<Self, HashError>> {
        if ["$2a$", "$2b$", "$2y$"].iter().any(|prefix| hash.starts_with(prefix)) {
            return Some(bcrypt_cost(hash).map(|_| Self::Bcrypt(hash.to_owned())));
        }
        let algorithm = ["$scrypt$", "$pbkdf2-sha256$", "$pbkdf2-sha512$"].into_iter().find(|p| hash.starts_with(p))?;
        Some(Self::phc(algorithm, hash))
    }

    fn phc(algorithm: &str, hash: &str) -> Result<Self, HashError> {
        let refused = |why: &str| HashError::Argon2(format!("a stored {} hash {why}", algorithm.trim_matches('$')));
        let parsed = Phc::new(hash).map_err(|_| refused("is not a PHC string"))?;
        let (Some(salt), Some(expected)) = (&parsed.salt, &parsed.hash) else {
            return Err(refused("has no salt or no output"));
        };
        let salt = salt.as_ref().to_vec();
        let number = |name: &str| parsed.params.get_decimal(name);
        if algorithm == "$scrypt$" {
            let (Some(log_n), Some(r), Some(p)) = (number("ln"), number("r"), number("p")) else {
                return Err(refused("lacks ln, r or p"));
            };
            if log_n > MAX_SCRYPT_LOG_N || r > MAX_SCRYPT_R || p > MAX_SCRYPT_P {
                return Err(refused("asks for more than this service runs"));
            }
            let log_n = u8::try_from(log_n).map_err(|_| refused("has an impossible ln"))?;
            let params = scrypt::Params::new(log_n, r, p).map_err(|_| refused("has impossible parameters"))?;
            return Ok(Self::Scrypt { params, salt, expected: *expected });
        }
        let rounds = number("i").ok_or_else(|| refused("lacks i"))?;
        if rounds == 0 || rounds > MAX_PBKDF2_ROUNDS {
            return Err(refused("asks for more iterations than this service runs"));
        }
        Ok(Self::Pbkdf2 { sha512: algorithm == "$pbkdf2-sha512$", rounds, salt, expected: *expected })
    }

    /// Whether `password` is the one this hash was made from. Slow by design:
    /// run it off the async threads.
    pub(crate) fn matches(&self, password: &str) -> Result<bool, HashError> {
        let password = password.as_bytes();
        match self {
            Self::Bcrypt(hash) => bcrypt::verify(password, hash).map_err(|err| HashError::Argon2(err.to_string())),
            Self::Scrypt { params, salt, expected } => {
                let mut output = vec![0u8; expected.len()];
                scrypt::scrypt(password, salt, params, &mut output)
                    .map_err(|_| HashError::Argon2("a stored scrypt hash has an impossible length".into()))?;
                same(&output, expected)
            }
            Self::Pbkdf2 { sha512, rounds, salt, expected } => {
                let mut output = vec![0u8; expected.len()];
                if *sha512 {
                    pbkdf2::pbkdf2_hmac::<Sha512>(password, salt, *rounds, &mut output);
                } else {
                    pbkdf2::pbkdf2_hmac::<Sha256>(password, salt, *rounds, &mut output);
                }
                same(&output, expected)
            }
        }
    }
}

/// Whether `output` is `expected`, compared in constant time.
fn same(output: &[u8], expected: &phc::Output) -> Result<bool, HashError> {
    Ok(phc::Output::new(output).map_err(|err| HashError::Argon2(err.to_string()))? == *expected)
}

/// The cost of a bcrypt hash, refused outside 4 to [`MAX_BCRYPT_COST`].
fn bcrypt_cost(hash: &str) -> Result<u32, HashError> {
    let cost = hash.get(4..6).and_then(|cost| cost.parse::<u32>().ok());
    match cost {
        Some(cost) if (4..=MAX_BCRYPT_COST).contains(&cost) => Ok(cost),
        _ => Err(HashError::Argon2("a stored bcrypt hash has a cost outside 4 to 16".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(hash: &str, password: &str) -> bool {
        Legacy::recognise(hash).expect("a legacy format").expect("usable").matches(password).expect("checked")
    }

    #[test]
    fn bcrypt_hashes_verify() {
        let hash = bcrypt::hash("hunter22hunter22", 4).unwrap();
        assert!(hash.starts_with("$2b$04$"));
        assert!(check(&hash, "hunter22hunter22"));
        assert!(!check(&hash, "hunter22hunter23"));
        assert!(check(&hash.replacen("$2b$", "$2a$", 1), "hunter22hunter22"), "the $2a$ prefix too");
        assert!(Legacy::recognise(&hash.replacen("$04$", "$31$", 1)).unwrap().is_err(), "a cost of 31 is refused");
    }

    #[test]
    fn scrypt_phc_hashes_verify() {
        // passlib's example (password "password").
        let hash = "$scrypt$ln=16,r=8,p=1$aM15713r3Xsvxbi31lqr1Q$nFNh2CVHVjNldFVKDHDlm4CbdRSCdEBsjjJxD+iCs5E";
        assert!(check(hash, "password"));
        assert!(!check(hash, "Password"));
        let greedy = "$scrypt$ln=24,r=8,p=1$aM15713r3Xsvxbi31lqr1Q$nFNh2CVHVjNldFVKDHDlm4CbdRSCdEBsjjJxD+iCs5E";
        assert!(Legacy::recognise(greedy).unwrap().is_err(), "16 GiB is refused");
    }

    #[test]
    fn pbkdf2_phc_hashes_verify() {
        // PBKDF2-HMAC, 1000 rounds, salt "saltsaltsaltsalt", password "password".
        // (Python's hashlib.pbkdf2_hmac computed the outputs.)
        let hash = "$pbkdf2-sha256$i=1000,l=32$c2FsdHNhbHRzYWx0c2FsdA$8nX7hwFEzIB8aPajJTYK8weHQc5Ngz0pFVAKvSu4jQA";
        assert!(check(hash, "password"));
        assert!(!check(hash, "passwore"));
        let sha512 = "$pbkdf2-sha512$i=1000,l=64$c2FsdHNhbHRzYWx0c2FsdA$\
                      715rqIr5dXOVPpBhqqsugl037zT5bWJTWYmZtIcK8hBnisKpwfY7kokvwjDrNHqHhF50Pb7MD6HvkJwiDQw4ww";
        assert!(check(sha512, "password"));
        let endless =
            "$pbkdf2-sha256$i=4000000000,l=32$c2FsdHNhbHRzYWx0c2FsdA$8nX7hwFEzIB8aPajJTYK8weHQc5Ngz0pFVAKvSu4jQA";
        assert!(Legacy::recognise(endless).unwrap().is_err());
    }

    #[test]
    fn argon2_is_not_legacy() {
        assert!(Legacy::recognise("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA").is_none());
    }
}
