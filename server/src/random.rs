//! Random values from the operating system's generator, URL-safe: the
//! passwords the portal generates (first admin, new users, databases) and
//! the tokens it hands out (sessions).

use argon2::password_hash::rand_core::{OsRng, RngCore};
use base64::Engine as _;

/// A random password of 24 URL-safe characters (144 bits).
pub fn password() -> String {
    url_safe::<18>()
}

/// A random token of 43 URL-safe characters (256 bits).
pub fn token() -> String {
    url_safe::<32>()
}

fn url_safe<const BYTES: usize>() -> String {
    let mut bytes = [0u8; BYTES];
    OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_values_are_long_and_different() {
        let (a, b) = (password(), password());
        assert_eq!(a.len(), 24);
        assert_ne!(a, b);
        assert!(crate::auth::password::hash(&a).is_ok());
        assert_eq!(token().len(), 43);
    }
}
