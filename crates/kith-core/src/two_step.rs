//! Two-step verification for password accounts: TOTP (RFC 6238: HMAC-SHA1,
//! 30-second steps, 6 digits, what every authenticator app speaks) and
//! one-time recovery codes.
//!
//! Set-up stores a pending secret; it is switched on only when the person
//! types a code their app shows, and then gets ten recovery codes, shown once
//! and stored as SHA-256 hashes (they are random, so a fast hash is enough).
//! A code is accepted for the current step or one either side (clock drift),
//! and each step only once.

use data_encoding::BASE32_NOPAD;
use hmac::{Hmac, Mac};
use kith_types::{AppError, Role};
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::policy::Origin;
use crate::{now_ms, password, Actor, CoreResult, Kith};

const STEP_SECONDS: i64 = 30;
const RECOVERY_CODES: usize = 10;

pub use kith_types::TwoStepSetup as TotpSetup;

/// The 6-digit code for `secret` at time step `step`.
fn code_at(secret: &[u8], step: i64) -> u32 {
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(&(step as u64).to_be_bytes());
    let h = mac.finalize().into_bytes();
    let offset = (h[19] & 0x0f) as usize;
    let bin = u32::from_be_bytes([h[offset] & 0x7f, h[offset + 1], h[offset + 2], h[offset + 3]]);
    bin % 1_000_000
}

fn step_now() -> i64 {
    now_ms() / 1000 / STEP_SECONDS
}

/// The step a typed code matches (now, or one step either side), if any.
fn matching_step(secret: &[u8], typed: &str, now_step: i64) -> Option<i64> {
    let digits: String = typed.chars().filter(|c| !c.is_whitespace()).collect();
    if digits.len() != 6 || !digits.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let n: u32 = digits.parse().ok()?;
    [now_step, now_step - 1, now_step + 1].into_iter().find(|s| code_at(secret, *s) == n)
}

fn hash_code(code: &str) -> String {
    let normal: String = code.chars().filter(|c| c.is_ascii_alphanumeric()).collect::<String>().to_lowercase();
    Sha256::digest(normal.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

fn new_recovery_code() -> String {
    let mut b = [0u8; 8];
    rand::rngs::OsRng.fill_bytes(&mut b);
    let s = BASE32_NOPAD.encode(&b).to_lowercase();
    format!("{}-{}-{}", &s[0..4], &s[4..8], &s[8..12])
}

/// What an authenticator app needs: the secret, as an otpauth URI and QR code.
fn setup(email: &str, secret: String) -> TotpSetup {
    let uri = format!("otpauth://totp/Kith:{}?secret={secret}&issuer=Kith&algorithm=SHA1&digits=6&period=30", email.replace('@', "%40"));
    TotpSetup { qr_svg: crate::qr::svg(&uri), secret, uri }
}

const WRONG_CODE: &str = "That code is not right. Type the 6 digits your authenticator app shows now, or a recovery code.";

impl Kith {
    /// Whether this deployment requires two-step verification of this person.
    pub fn two_step_required(&self, actor: &Actor) -> bool {
        self.settings.two_step_roles.contains(&actor.role)
    }

    /// Whether the person has two-step verification switched on.
    pub async fn two_step_enabled(&self, user_id: &str) -> CoreResult<bool> {
        Ok(crate::store::two_step::state(&self.db.pool, user_id).await?.is_some_and(|s| s.enabled_at.is_some()))
    }

    /// Starts set-up: a new pending secret (replacing any earlier pending one).
    pub async fn begin_totp(&self, actor: &Actor, email: &str) -> CoreResult<TotpSetup> {
        if self.two_step_enabled(&actor.user_id).await? {
            return Err(AppError::Conflict("Two-step verification is already on.".into()).into());
        }
        let mut secret = [0u8; 20];
        rand::rngs::OsRng.fill_bytes(&mut secret);
        let b32 = BASE32_NOPAD.encode(&secret);
        crate::store::two_step::set_pending(&self.db.pool, &actor.user_id, &b32).await?;
        Ok(setup(email, b32))
    }

    /// The pending secret (to show again after a wrong code).
    pub async fn pending_totp(&self, actor: &Actor, email: &str) -> CoreResult<Option<TotpSetup>> {
        let Some(s) = crate::store::two_step::state(&self.db.pool, &actor.user_id).await? else { return Ok(None) };
        if s.enabled_at.is_some() {
            return Ok(None);
        }
        Ok(Some(setup(email, s.secret)))
    }

    /// Switches two-step verification on once the person types a code their
    /// app shows; returns the recovery codes (shown once).
    pub async fn confirm_totp(&self, actor: &Actor, code: &str, origin: &Origin) -> CoreResult<Vec<String>> {
        let s = crate::store::two_step::state(&self.db.pool, &actor.user_id).await?.filter(|s| s.enabled_at.is_none()).ok_or(AppError::NotFound)?;
        let secret = BASE32_NOPAD.decode(s.secret.as_bytes()).map_err(|e| crate::CoreError::Internal(e.to_string()))?;
        let Some(step) = matching_step(&secret, code, step_now()) else {
            return Err(AppError::field("code", "That code is not right. Type the 6 digits your app shows now.").into());
        };
        let codes: Vec<String> = (0..RECOVERY_CODES).map(|_| new_recovery_code()).collect();
        let hashes: Vec<String> = codes.iter().map(|c| hash_code(c)).collect();
        let mut change = self.account_change(actor).await?;
        crate::store::two_step::enable(change.conn(), &actor.user_id, now_ms(), step, &hashes).await?;
        change.commit(origin, "account: two-step verification switched on").await?;
        tracing::info!(user_id = %actor.user_id, "two-step verification switched on");
        Ok(codes)
    }

    /// Checks the second step at sign-in: a TOTP code (each step once) or an
    /// unused recovery code (then used up). Either way it goes into the
    /// person's record's log: a wrong code means someone knows the password.
    pub async fn verify_second_step(&self, user_id: &str, code: &str, origin: &Origin) -> CoreResult<()> {
        let checked = self.check_second_step(user_id, code).await;
        if let Some(actor) = self.actor(user_id).await? {
            match &checked {
                Ok(how) => self.log_sign_in(&actor, origin, true, &format!("account (password and {how})")).await?,
                Err(_) => self.log_sign_in(&actor, origin, false, "account: right password, wrong two-step code").await?,
            }
        }
        checked.map(|_| ())
    }

    async fn check_second_step(&self, user_id: &str, code: &str) -> CoreResult<&'static str> {
        let s = crate::store::two_step::state(&self.db.pool, user_id).await?.filter(|s| s.enabled_at.is_some()).ok_or(AppError::NotFound)?;
        let secret = BASE32_NOPAD.decode(s.secret.as_bytes()).map_err(|e| crate::CoreError::Internal(e.to_string()))?;
        if let Some(step) = matching_step(&secret, code, step_now()) {
            if s.last_step.is_some_and(|last| step <= last) || !crate::store::two_step::use_step(&self.db.pool, user_id, step).await? {
                return Err(AppError::field("code", "That code has been used already. Wait for the next one.").into());
            }
            return Ok("two-step code");
        }
        if crate::store::two_step::use_recovery_code(&self.db.pool, user_id, &hash_code(code), now_ms()).await? {
            tracing::info!(user_id = %user_id, "recovery code used");
            return Ok("recovery code");
        }
        Err(AppError::field("code", WRONG_CODE).into())
    }

    /// Switches two-step verification off, after the password (not allowed
    /// where the deployment requires it).
    pub async fn disable_totp(&self, actor: &Actor, password_typed: &str, origin: &Origin) -> CoreResult<()> {
        if self.two_step_required(actor) {
            return Err(AppError::Conflict("Two-step verification is required for your role here, so it stays on.".into()).into());
        }
        let user = crate::store::user_by_id(&self.db.pool, &actor.user_id).await?.ok_or(AppError::Unauthenticated)?;
        if !password::verify(password_typed.to_string(), user.password_hash).await? {
            return Err(AppError::field("password", "Your password is not right").into());
        }
        let mut change = self.account_change(actor).await?;
        crate::store::two_step::disable(change.conn(), &actor.user_id).await?;
        change.commit(origin, "account: two-step verification switched off").await?;
        Ok(())
    }

    /// How many unused recovery codes are left.
    pub async fn recovery_codes_left(&self, user_id: &str) -> CoreResult<i64> {
        Ok(crate::store::two_step::codes_left(&self.db.pool, user_id).await?)
    }
}

/// For tests: the code an authenticator app would show now.
#[doc(hidden)]
pub fn current_code(secret_b32: &str) -> String {
    let secret = BASE32_NOPAD.decode(secret_b32.as_bytes()).expect("base32 secret");
    format!("{:06}", code_at(&secret, step_now()))
}

/// Parses the roles setting: "clinician,carer".
pub fn parse_roles(s: &str) -> Result<Vec<Role>, String> {
    s.split(',').map(str::trim).filter(|r| !r.is_empty()).map(|r| r.parse::<Role>()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 appendix B, SHA-1 (8-digit values; we use the last 6).
    #[test]
    fn rfc_6238_vectors() {
        let secret = b"12345678901234567890";
        for (t, expected) in [(59i64, 94287082u32), (1111111109, 7081804), (1111111111, 14050471), (1234567890, 89005924), (2000000000, 69279037)] {
            assert_eq!(code_at(secret, t / 30), expected % 1_000_000, "t={t}");
        }
    }

    #[test]
    fn codes_match_one_step_either_side_only() {
        let secret = b"12345678901234567890";
        let now = 1_000_000;
        let c = format!("{:06}", code_at(secret, now - 1));
        assert_eq!(matching_step(secret, &c, now), Some(now - 1));
        assert_eq!(matching_step(secret, &format!("{:06}", code_at(secret, now - 2)), now), None);
        assert_eq!(matching_step(secret, "12 34", now), None);
    }

    #[test]
    fn recovery_codes_compare_loosely() {
        assert_eq!(hash_code("abcd-efgh-ijkl"), hash_code("ABCD EFGH IJKL"));
    }
}
