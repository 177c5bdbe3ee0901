//! Local passwords: argon2id hashes (OWASP's minimum parameters: 19 MiB,
//! two passes, one lane) and a length policy.

use argon2::Argon2;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};

/// Shorter passwords are refused; longer ones are cut off by nobody.
pub const MIN_LENGTH: usize = 12;
/// A bound on the work one sign-in attempt can cause.
pub const MAX_LENGTH: usize = 256;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PasswordError {
    #[error("a password needs at least {MIN_LENGTH} characters")]
    TooShort,
    #[error("a password has at most {MAX_LENGTH} characters")]
    TooLong,
    #[error("the password could not be hashed: {0}")]
    Hashing(String),
}

/// Checks the policy, then hashes with a fresh random salt.
pub fn hash(password: &str) -> Result<String, PasswordError> {
    let length = password.chars().count();
    if length < MIN_LENGTH {
        return Err(PasswordError::TooShort);
    }
    if length > MAX_LENGTH {
        return Err(PasswordError::TooLong);
    }
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|error| PasswordError::Hashing(error.to_string()))
}

/// Whether `password` matches `hash`; a malformed hash never matches.
pub fn verify(password: &str, hash: &str) -> bool {
    if password.len() > MAX_LENGTH * 4 {
        return false;
    }
    PasswordHash::new(hash)
        .map(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

/// Argon2 takes ~50 ms of a core and 19 MiB per call: never on the
/// runtime's worker threads (they would stall every request), and no more
/// at once than there are cores (a burst of sign-ins queues instead of
/// taking the memory and the machine).
fn hashing_slots() -> &'static tokio::sync::Semaphore {
    static SLOTS: std::sync::OnceLock<tokio::sync::Semaphore> = std::sync::OnceLock::new();
    SLOTS.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get);
        tokio::sync::Semaphore::new(cores)
    })
}

async fn off_the_runtime<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Option<T> {
    // The semaphore is never closed, so a permit always comes.
    let _slot = hashing_slots().acquire().await.ok()?;
    tokio::task::spawn_blocking(work).await.ok()
}

/// [`verify`] on the blocking pool, a bounded number at a time.
pub async fn verify_off_the_runtime(password: String, hash: String) -> bool {
    off_the_runtime(move || verify(&password, &hash))
        .await
        .unwrap_or(false)
}

/// [`hash`] on the blocking pool, a bounded number at a time.
pub async fn hash_off_the_runtime(password: String) -> Result<String, PasswordError> {
    off_the_runtime(move || hash(&password))
        .await
        .unwrap_or_else(|| {
            Err(PasswordError::Hashing(
                "the hashing task stopped".to_string(),
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_verifies_its_password_only() {
        let hashed = hash("correct horse battery").unwrap_or_default();
        assert!(
            hashed.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hashed}"
        );
        assert!(verify("correct horse battery", &hashed));
        assert!(!verify("correct horse batterY", &hashed));
        assert!(!verify("correct horse battery", "not a hash"));
        // The same password twice gives two different hashes (random salts).
        assert_ne!(hash("correct horse battery").unwrap_or_default(), hashed);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn hashing_leaves_the_runtime_free_for_other_requests() {
        // On a single-threaded runtime, a timer ticking every millisecond
        // keeps ticking while four hashes run: they are not on its thread.
        let ticks = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
        let ticker = tokio::spawn({
            let ticks = ticks.clone();
            async move {
                loop {
                    tokio::time::sleep(std::time::Duration::from_millis(1)).await;
                    ticks.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
            }
        });
        let hashes = futures_util::future::join_all(
            (0..4).map(|_| hash_off_the_runtime("correct horse battery".to_string())),
        )
        .await;
        ticker.abort();
        for hashed in hashes {
            let hashed = hashed.unwrap_or_default();
            assert!(verify_off_the_runtime("correct horse battery".to_string(), hashed).await);
        }
        assert!(
            ticks.load(std::sync::atomic::Ordering::Relaxed) >= 10,
            "the runtime's thread was blocked while hashing"
        );
    }

    #[test]
    fn the_policy_is_explained() {
        assert_eq!(hash("short"), Err(PasswordError::TooShort));
        assert_eq!(hash(&"x".repeat(257)), Err(PasswordError::TooLong));
    }
}
