//! "Forgot your password?": a one-time link by email, when the deployment
//! sends email.
//!
//! The page that asks says the same whatever the address, so it does not
//! tell anyone whether an account exists. The link holds 256 random bits;
//! only their hash is stored, and the email is sent straight away rather
//! than through the outbox, so the link is never at rest anywhere but in
//! the person's mailbox. It works once, for an hour. Using it sets the new
//! password, ends every session of the account (whoever knew the old
//! password is signed out) and clears the sign-in lock, and is logged in
//! the person's record when they have one. Two-step verification still
//! applies at the next sign-in: an email account alone never opens the
//! record when the person has asked for a second step.

use kith_types::{AppError, Email, FieldError};

use crate::policy::Origin;
use crate::sharing::{new_token, token_hash};
use crate::{now_ms, password, store, throttle, Actor, CoreResult, Kith};

/// How long a reset link works.
pub const RESET_LINK_MINUTES: i64 = 60;
/// Links asked for one account within that hour beyond which no more are
/// sent (someone else may be typing the address in).
const RESETS_PER_HOUR: i64 = 3;

/// Said for a link that is unknown, used or out of date alike.
pub const RESET_LINK_GONE: &str = "This link to set a new password has expired or has already been used. Ask for a new one.";

impl Kith {
    /// Whether "Forgot your password?" can send a link here.
    pub fn can_email(&self) -> bool {
        self.settings.mail.is_some()
    }

    /// Emails a reset link to the account with this address, if there is
    /// one; says nothing either way. Everything after counting the request
    /// happens in the background, so an address with an account takes no
    /// longer to answer than one without. Requests from one network address
    /// have their own limit (not the sign-in one, so a care home's shared
    /// connection is not locked out of signing in by it).
    pub async fn request_password_reset(&self, email: &str, origin: &Origin) -> CoreResult<()> {
        let Some(mail) = self.settings.mail.clone() else {
            return Err(AppError::Conflict(
                "This Kith cannot send email, so it cannot send you a link. Ask whoever runs it to help you set a new password.".into(),
            )
            .into());
        };
        let email = match Email::parse(email) {
            Ok(e) => e,
            Err(e) => {
                let errors = vec![FieldError { field: "email".into(), message: e.to_string() }];
                return Err(AppError::Validation { errors, values: vec![("email".into(), email.trim().to_string())] }.into());
            }
        };
        let s = &self.settings.throttle;
        let keys = [(format!("reset-ip:{}", origin.address), s.address_limit)];
        let now = now_ms();
        if let throttle::Verdict::Locked { until } = throttle::check(&self.db, s, &keys, now).await? {
            let minutes = ((until - now) as f64 / 60_000.0).ceil().max(1.0) as i64;
            let message = format!("Too many links have been asked for from this network. Try again in {minutes} minutes.");
            return Err(AppError::Throttled { message, email: email.as_str().to_string() }.into());
        }
        throttle::record_failure(&self.db, s, &keys, now).await?;
        let kith = self.clone();
        tokio::spawn(async move {
            if let Err(e) = kith.send_reset_link(email, mail, now).await {
                tracing::warn!(error = %e, "password reset not sent");
            }
        });
        Ok(())
    }

    async fn send_reset_link(&self, email: Email, mail: crate::mail::MailSettings, now: i64) -> CoreResult<()> {
        let Some(user) = store::user_by_email(&self.db.pool, email.as_str()).await? else {
            tracing::info!("password reset asked for an address with no account");
            return Ok(());
        };
        // An unconfirmed address may not be the account holder's.
        if user.email_confirmed_at.is_none() {
            tracing::info!(user_id = %user.id, "password reset not sent: the address is not confirmed");
            return Ok(());
        }
        let token = new_token();
        let expires_at = now + RESET_LINK_MINUTES * 60_000;
        let has_password = user.password_hash.is_some();
        // Without a password the request is stored used up at once: counted
        // like a link, so these emails too are limited.
        let used_at = (!has_password).then_some(now);
        let mut tx = self.db.pool.begin().await?;
        store::lock_user(&mut tx, self.db.backend(), &user.id).await?;
        let stored =
            store::insert_password_reset_within(&mut tx, &token_hash(&token), &user.id, now, expires_at, used_at, now - 3_600_000, RESETS_PER_HOUR).await?;
        tx.commit().await?;
        if !stored {
            tracing::warn!(user_id = %user.id, "password reset not sent: too many asked for this hour");
            return Ok(());
        }
        let (subject, body) = if has_password {
            reset_email(&user.name, &format!("{}/reset-password/{token}", mail.public_url))
        } else {
            no_password_email(&user.name, &mail.public_url)
        };
        match crate::mail::send_now(&mail, &user.email, subject, body).await {
            Ok(()) => tracing::info!(user_id = %user.id, "password reset email sent"),
            Err(reason) => tracing::warn!(user_id = %user.id, %reason, "password reset email not sent"),
        }
        Ok(())
    }

    /// Whether a reset link can still be used (for its page).
    pub async fn check_password_reset(&self, token: &str) -> CoreResult<()> {
        self.waiting_reset(token).await.map(|_| ())
    }

    async fn waiting_reset(&self, token: &str) -> CoreResult<store::PasswordResetRow> {
        let gone = || AppError::Conflict(RESET_LINK_GONE.into());
        let r = store::password_reset_by_hash(&self.db.pool, &token_hash(token)).await?.ok_or_else(gone)?;
        if r.used_at.is_some() || r.expires_at <= now_ms() {
            return Err(gone().into());
        }
        Ok(r)
    }

    /// Sets a new password through a reset link: the link is used up, every
    /// session of the account ends, and the sign-in lock is cleared. The
    /// person then signs in as usual (with their second step, if they use
    /// one).
    pub async fn reset_password(&self, token: &str, new: &str, confirm: &str, origin: &Origin) -> CoreResult<Actor> {
        let r = self.waiting_reset(token).await?;
        // An account whose password was removed since signs in another way.
        let user = store::user_by_id(&self.db.pool, &r.user_id)
            .await?
            .filter(|u| u.password_hash.is_some())
            .ok_or_else(|| AppError::Conflict(RESET_LINK_GONE.into()))?;
        let mut errors = Vec::new();
        if let Err(m) = password::check_policy(new, &[&user.name, &user.email]) {
            errors.push(FieldError { field: "new_password".into(), message: m });
        }
        if new != confirm {
            errors.push(FieldError { field: "confirm_password".into(), message: "The two new passwords do not match".into() });
        }
        if !errors.is_empty() {
            return Err(AppError::Validation { errors, values: vec![] }.into());
        }
        let account = throttle::account_key(&user.email);
        let told = Told::of(&user);
        let actor = Actor::from_row(user)?;
        let hash = password::hash(new.to_string()).await?;
        let now = now_ms();
        let mut change = self.account_change(&actor).await?;
        // Taken in the same transaction as the change: a link used twice at
        // once sets one password.
        if !store::use_password_reset(change.conn(), &r.token_hash, now).await? {
            change.rollback().await?;
            return Err(AppError::Conflict(RESET_LINK_GONE.into()).into());
        }
        store::end_password_resets(change.conn(), &actor.user_id, now).await?;
        store::set_password_hash(change.conn(), &actor.user_id, &hash, now).await?;
        let ended = store::sessions_delete_for_user_except(change.conn(), &actor.user_id, "").await?;
        change.commit(origin, "account: new password set through an emailed link, every session ended").await?;
        self.tell_password_changed(told, "with a link sent by email");
        throttle::record_success(&self.db, &account).await?;
        tracing::info!(user_id = %actor.user_id, sessions_ended = ended, "password reset");
        Ok(actor)
    }

    /// The operator sets a new password for someone who cannot get a link
    /// (`kith user set-password`, for a Kith that sends no email, or a lost
    /// mailbox): the same as a link would do, logged as the operator's doing.
    /// False when no account has that address.
    pub async fn set_password_by_operator(&self, email: &str, new: &str) -> CoreResult<bool> {
        let Ok(email) = Email::parse(email) else { return Ok(false) };
        let Some(user) = store::user_by_email(&self.db.pool, email.as_str()).await? else { return Ok(false) };
        password::validate("password", new, &[&user.name, &user.email])?;
        let account = throttle::account_key(&user.email);
        let told = Told::of(&user);
        let actor = Actor::from_row(user)?;
        let hash = password::hash(new.to_string()).await?;
        let now = now_ms();
        let mut change = self.operator_account_change(&actor).await?;
        store::end_password_resets(change.conn(), &actor.user_id, now).await?;
        store::set_password_hash(change.conn(), &actor.user_id, &hash, now).await?;
        store::sessions_delete_for_user_except(change.conn(), &actor.user_id, "").await?;
        change.commit(&Origin::command_line(), "account: new password set by the operator of this Kith, every session ended").await?;
        self.tell_password_changed(told, "by whoever runs this Kith");
        throttle::record_success(&self.db, &account).await?;
        tracing::info!(user_id = %actor.user_id, "password set by the operator");
        Ok(true)
    }
}

impl Kith {
    /// Tells the account's owner by email, when Kith sends email and the
    /// address is confirmed, that their password changed (`how`: "on your
    /// Account page", ...), so a change they did not make does not go
    /// unnoticed. Sent in the background.
    pub(crate) fn tell_password_changed(&self, told: Told, how: &str) {
        self.tell(told, |name, base| changed_email(name, base, how), "password change");
    }

    /// Likewise when a password is added to an account that signed in only
    /// through a provider (nobody was signed out: a different email).
    pub(crate) fn tell_password_added(&self, told: Told) {
        self.tell(told, added_email, "password added");
    }

    fn tell(&self, told: Told, email: impl FnOnce(&str, &str) -> (String, String), what: &'static str) {
        let Some(mail) = self.settings.mail.clone() else { return };
        let Some(address) = told.address else { return };
        let (subject, body) = email(&told.name, &mail.public_url);
        crate::mail::send_in_background(mail, address, subject, body, what);
    }
}

/// Who a password-change email goes to: their name, and their address when
/// it is confirmed (None: no email).
pub(crate) struct Told {
    name: String,
    address: Option<String>,
}

impl Told {
    pub(crate) fn of(user: &store::UserRow) -> Told {
        Told { name: user.name.clone(), address: user.email_confirmed_at.map(|_| user.email.clone()) }
    }
}

fn changed_email(name: &str, base: &str, how: &str) -> (String, String) {
    let body = format!(
        "Hello {name},\n\nThe password for your Kith account was changed {how}.\n\
         Any other browser that was signed in to your account has been\nsigned out.\n\n\
         If you did not do this, set a new password at once from\n{base}/forgot-password\n\
         and tell whoever runs Kith.\n\nKith\n"
    );
    ("Your Kith password was changed".into(), body)
}

fn added_email(name: &str, base: &str) -> (String, String) {
    let body = format!(
        "Hello {name},\n\nA password was added to your Kith account, so you can now\n\
         sign in with your email address and that password as well.\n\n\
         If you did not do this, sign in the way you usually do and\n\
         remove the password from your Account page at once:\n{base}/account\n\
         Then tell whoever runs Kith.\n\nKith\n"
    );
    ("A password was added to your Kith account".into(), body)
}

/// The email with the link. Short ASCII lines, as the notice emails.
fn reset_email(name: &str, url: &str) -> (String, String) {
    let body = format!(
        "Hello {name},\n\nSomeone asked to set a new password for your Kith account.\n\
         If it was you, open this link within {RESET_LINK_MINUTES} minutes to choose one:\n\n{url}\n\n\
         The link works once. If you did not ask, you need do nothing:\n\
         your password stays as it is.\n\nKith\n"
    );
    ("Set a new password for Kith".into(), body)
}

/// For an account that signs in only through another service.
fn no_password_email(name: &str, base: &str) -> (String, String) {
    let body = format!(
        "Hello {name},\n\nSomeone asked to set a new password for your Kith account.\n\
         Your account has no password: you sign in with another service,\n\
         such as NHS login, from the Sign in page:\n{base}/sign-in\n\n\
         If you did not ask, you need do nothing.\n\nKith\n"
    );
    ("Signing in to Kith".into(), body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reset_emails_are_short_plain_lines() {
        let url = format!("https://kith.example/reset-password/{}", "a".repeat(64));
        for (subject, body) in [
            reset_email("Margaret Jones", &url),
            no_password_email("Margaret Jones", "https://kith.example"),
            changed_email("Margaret Jones", "https://kith.example", "on your Account page"),
            added_email("Margaret Jones", "https://kith.example"),
        ] {
            assert!(subject.contains("Kith"));
            // The link is one line however long, so it can be copied whole.
            assert!(body.is_ascii() && body.lines().filter(|l| !l.starts_with("https://")).all(|l| l.len() <= 76), "{body}");
            // No stray indentation from the source's line continuations.
            assert!(body.lines().all(|l| !l.starts_with(' ')), "{body}");
        }
        assert!(reset_email("M", &url).1.contains(&url));
    }
}
