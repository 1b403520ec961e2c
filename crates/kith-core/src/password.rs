//! Password rules and hashing. Hashing is argon2id and always runs on the
//! blocking pool, never on the async runtime.

use argon2::password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use kith_types::AppError;
use std::sync::OnceLock;

use crate::error::{CoreError, CoreResult};

pub const MIN_LENGTH: usize = 10;
pub const MAX_LENGTH: usize = 256;

static COMMON: &str = include_str!("common-passwords.txt");

/// Why a new password is refused, in words for the person choosing it.
/// `hints` are things the password must not be built from (name, email).
pub fn check_policy(password: &str, hints: &[&str]) -> Result<(), String> {
    let chars = password.chars().count();
    if chars < MIN_LENGTH {
        return Err(format!("Use at least {MIN_LENGTH} characters. Three random words make a strong password you can remember."));
    }
    if chars > MAX_LENGTH {
        return Err(format!("Use at most {MAX_LENGTH} characters."));
    }
    let lower = password.to_lowercase();
    let first = lower.chars().next().unwrap_or(' ');
    if lower.chars().all(|c| c == first) || COMMON.lines().any(|p| p == lower) {
        return Err("This password is too common and easy to guess. Choose another.".into());
    }
    for hint in hints {
        let hint = hint.trim().to_lowercase();
        let hint = hint.split('@').next().unwrap_or("");
        if hint.len() >= 4 && lower.contains(hint) {
            return Err("Do not use your name or email address in your password.".into());
        }
    }
    Ok(())
}

/// Hashes a password with argon2id (default parameters, random salt).
pub async fn hash(password: String) -> CoreResult<String> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default().hash_password(password.as_bytes(), &salt).map(|h| h.to_string()).map_err(|e| CoreError::Internal(format!("hashing failed: {e}")))
    })
    .await
    .map_err(|e| CoreError::Internal(format!("hashing task failed: {e}")))?
}

/// Checks a password against a stored hash. With no hash (unknown account, or
/// one without a password) it checks against a dummy hash, so the time taken
/// does not tell an attacker whether the account exists.
pub async fn verify(password: String, stored: Option<String>) -> CoreResult<bool> {
    tokio::task::spawn_blocking(move || {
        let known = stored.is_some();
        let phc = stored.unwrap_or_else(|| dummy_hash().to_string());
        let parsed = PasswordHash::new(&phc).map_err(|e| CoreError::Internal(format!("stored hash unreadable: {e}")))?;
        let ok = Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok();
        Ok(ok && known)
    })
    .await
    .map_err(|e| CoreError::Internal(format!("verify task failed: {e}")))?
}

fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default().hash_password(b"not a real password, only here for timing", &salt).expect("argon2 with default parameters").to_string()
    })
}

/// The policy as a field error for the given form field.
pub fn validate(field: &str, password: &str, hints: &[&str]) -> Result<(), AppError> {
    check_policy(password, hints).map_err(|m| AppError::field(field, m))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn length_limits() {
        assert!(check_policy("short", &[]).is_err());
        assert!(check_policy("nine char", &[]).is_err());
        assert!(check_policy("apple river lamp", &[]).is_ok());
        assert!(check_policy(&"a".repeat(300), &[]).is_err());
    }

    #[test]
    fn common_and_repeated_passwords_refused() {
        assert!(check_policy("password123", &[]).is_err());
        assert!(check_policy("Password123", &[]).is_err(), "case does not help");
        assert!(check_policy("1234567890", &[]).is_err());
        assert!(check_policy("zzzzzzzzzzzz", &[]).is_err());
    }

    #[test]
    fn name_or_email_refused() {
        assert!(check_policy("margaret-garden-2026", &["Margaret"]).is_err());
        assert!(check_policy("maggie-loves-tea", &["maggie@example.com"]).is_err());
        assert!(check_policy("kettle orange stairs", &["maggie@example.com"]).is_ok());
    }

    #[tokio::test]
    async fn hash_then_verify() {
        let h = hash("kettle orange stairs".into()).await.unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify("kettle orange stairs".into(), Some(h.clone())).await.unwrap());
        assert!(!verify("kettle orange stair".into(), Some(h)).await.unwrap());
        assert!(!verify("anything".into(), None).await.unwrap());
    }
}
