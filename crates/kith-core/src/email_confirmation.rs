//! Confirming email addresses. Kith sends nothing to an address until its
//! owner has confirmed it: not the notices about who viewed a record, not a
//! link to set a new password, not the "your password was changed" email.
//! Someone who mistyped their address at sign-up would otherwise hand
//! whoever owns the mistyped address their health record's notices and,
//! through a reset link, their account.
//!
//! An address is confirmed by opening a link sent to it *while signed in to
//! the account it belongs to*: the owner of a mistyped address who clicks
//! the link cannot confirm it, as they do not know the password. (So the
//! link holder who is not signed in is asked to sign in, and comes back to
//! the link afterwards; see the app's `email/confirmation` server fn.) An
//! identity provider that says it checked the address confirms it too.
//!
//! The link holds 256 random bits, only their hash is stored, it is sent at
//! once rather than through the outbox, and it works once, for a week.
//!
//! Changing the address works the same way: the link goes to the new
//! address, and the account takes it when the link is used, signed in, so a
//! mistyped new address changes nothing. Until then the old one stays.

use kith_types::{AppError, Email, EmailConfirmationView, FieldError};

use crate::mail::MailSettings;
use crate::policy::Origin;
use crate::sharing::{new_token, token_hash};
use crate::{now_ms, store, Actor, CoreError, CoreResult, Kith};

/// How long a confirmation link works.
pub const CONFIRM_LINK_DAYS: i64 = 7;
/// Links sent to one account within an hour beyond which no more are sent.
const CONFIRMATIONS_PER_HOUR: i64 = 3;

/// Said for a link that is unknown, used or out of date alike.
pub const CONFIRM_LINK_GONE: &str =
    "This link to confirm an email address has expired or has already been used. You can ask for a new one on your Account page.";

/// What the session keeps for a link opened before signing in (its hash,
/// never the link itself).
pub fn confirmation_hash(token: &str) -> String {
    token_hash(token.trim())
}

impl Kith {
    /// Emails the account a link to confirm its address, unless it is
    /// confirmed already (then nothing is sent). Sent in the background:
    /// a slow mail server does not hold up sign-up.
    pub async fn send_email_confirmation(&self, actor: &Actor) -> CoreResult<()> {
        let Some(mail) = self.settings.mail.clone() else {
            return Err(AppError::Conflict("This Kith does not send email, so it cannot send you a link.".into()).into());
        };
        let user = store::user_by_id(&self.db.pool, &actor.user_id).await?.ok_or(AppError::Unauthenticated)?;
        if user.email_confirmed_at.is_some() {
            return Ok(());
        }
        let address = user.email.clone();
        self.send_link(mail, &user, &address).await
    }

    /// Stores a link that gives the account the address `to` (its own, to
    /// confirm it, or a new one) and emails it there in the background.
    async fn send_link(&self, mail: MailSettings, user: &store::UserRow, to: &str) -> CoreResult<()> {
        let out = self.prepare_link(mail, user, to).await?;
        crate::mail::send_in_background(out.mail, out.to, out.subject, out.body, "email confirmation");
        Ok(())
    }

    /// Emails a link to every account whose address is not confirmed and
    /// has no link still working: for the operator, once, after upgrading
    /// to a Kith that confirms addresses (`kith user send-confirmations`),
    /// and after adding people with `kith user add`. Waits for each email;
    /// returns how many were sent and how many the mail server refused.
    pub async fn send_pending_confirmations(&self) -> CoreResult<(usize, usize)> {
        let Some(mail) = self.settings.mail.clone() else {
            return Err(AppError::Conflict("This Kith has no mail server (KITH_SMTP_URL and KITH_MAIL_FROM), so it cannot send links.".into()).into());
        };
        let (mut sent, mut failed) = (0, 0);
        for user in store::unconfirmed_without_link(&self.db.pool, now_ms()).await? {
            let address = user.email.clone();
            // Over the hourly limit: it has links enough already.
            let Ok(out) = self.prepare_link(mail.clone(), &user, &address).await else { continue };
            match crate::mail::send_now(&out.mail, &out.to, out.subject, out.body).await {
                Ok(()) => sent += 1,
                Err(reason) => {
                    tracing::warn!(user_id = %user.id, %reason, "email confirmation not sent");
                    failed += 1;
                }
            }
        }
        Ok((sent, failed))
    }

    /// Stores a link for `to`, at most `CONFIRMATIONS_PER_HOUR` an hour,
    /// and writes the email that carries it.
    async fn prepare_link(&self, mail: MailSettings, user: &store::UserRow, to: &str) -> CoreResult<Outgoing> {
        let token = new_token();
        let now = now_ms();
        let mut tx = self.db.pool.begin().await?;
        store::lock_user(&mut tx, self.db.backend(), &user.id).await?;
        let stored = store::insert_email_confirmation_within(
            &mut tx,
            &token_hash(&token),
            &user.id,
            to,
            &user.email,
            now,
            now + CONFIRM_LINK_DAYS * 86_400_000,
            now - 3_600_000,
            CONFIRMATIONS_PER_HOUR,
        )
        .await?;
        tx.commit().await?;
        if !stored {
            return Err(AppError::Conflict(format!(
                "We have sent you {CONFIRMATIONS_PER_HOUR} links in the last hour. Use the newest one, or ask again in an hour. If none arrives, look in your junk mail folder."
            ))
            .into());
        }
        let url = format!("{}/confirm-email/{token}", mail.public_url);
        let (subject, body) = if to == user.email { confirm_email(&user.name, &url) } else { new_address_email(&user.name, &url) };
        Ok(Outgoing { mail, to: to.to_string(), subject, body })
    }

    /// Changes the signed-in person's address, after checking their
    /// password (when they have one: a stolen session alone must not move
    /// the account to another mailbox). Where Kith sends email, a link goes
    /// to the new address and nothing changes until it is used
    /// (`LinkSent`); where it does not, the address changes at once,
    /// unconfirmed (`Changed`), as at sign-up.
    pub async fn change_email(&self, actor: &Actor, new: &str, password: &str, origin: &Origin) -> CoreResult<EmailChange> {
        let user = store::user_by_id(&self.db.pool, &actor.user_id).await?.ok_or(AppError::Unauthenticated)?;
        let mut errors = Vec::new();
        let typed = new.trim().to_string();
        let new = match Email::parse(new) {
            Ok(e) if e.as_str() == user.email => {
                errors.push(FieldError { field: "new_email".into(), message: "This is already your email address".into() });
                None
            }
            Ok(e) => Some(e),
            Err(e) => {
                errors.push(FieldError { field: "new_email".into(), message: e.to_string() });
                None
            }
        };
        if user.password_hash.is_some() && !self.check_current_password(&user, password).await? {
            errors.push(FieldError { field: "email_password".into(), message: "Your password is not right".into() });
        }
        let taken = || FieldError { field: "new_email".into(), message: "Another Kith account uses this email address".into() };
        if let Some(e) = &new {
            if errors.is_empty() && store::user_by_email(&self.db.pool, e.as_str()).await?.is_some() {
                errors.push(taken());
            }
        }
        let (Some(new), true) = (new, errors.is_empty()) else {
            return Err(AppError::Validation { errors, values: vec![("new_email".into(), typed)] }.into());
        };
        if let Some(mail) = self.settings.mail.clone() {
            self.send_link(mail, &user, new.as_str()).await?;
            return Ok(EmailChange::LinkSent);
        }
        let mut change = self.account_change(actor).await?;
        if let Err(e) = store::set_unconfirmed_email(change.conn(), &actor.user_id, new.as_str()).await {
            change.rollback().await?;
            return Err(if crate::accounts::is_unique_violation(&e) {
                AppError::Validation { errors: vec![taken()], values: vec![] }.into()
            } else {
                e.into()
            });
        }
        store::end_email_confirmations(change.conn(), &actor.user_id, now_ms()).await?;
        change.commit(origin, "account: email address changed").await?;
        tracing::info!(user_id = %actor.user_id, "email address changed");
        Ok(EmailChange::Changed)
    }

    /// What the page a link opens shows: `hash` is the link's (or the one
    /// the session kept), `actor` who is signed in, if anyone.
    pub async fn email_confirmation(&self, hash: &str, actor: Option<&Actor>) -> CoreResult<EmailConfirmationView> {
        let c = self.waiting_confirmation(hash).await?;
        let change = c.email != c.account_email;
        Ok(match actor {
            None => EmailConfirmationView::SignIn,
            Some(a) if a.user_id == c.user_id => EmailConfirmationView::Ready { email: c.email, change },
            Some(_) => EmailConfirmationView::OtherAccount,
        })
    }

    async fn waiting_confirmation(&self, hash: &str) -> CoreResult<store::EmailConfirmationRow> {
        let gone = || AppError::Conflict(CONFIRM_LINK_GONE.into());
        let c = store::email_confirmation_by_hash(&self.db.pool, hash).await?.ok_or_else(gone)?;
        if c.used_at.is_some() || c.expires_at <= now_ms() {
            return Err(gone().into());
        }
        Ok(c)
    }

    /// Confirms, with a link sent to it, an address for the signed-in
    /// person: their own, or the new one they asked to change to, which
    /// the account then takes. The link must be for their account, and the
    /// account's address still the one it had when the link was sent.
    /// Logged in their record when they have one. When the address changed,
    /// the old one (if confirmed) is told.
    pub async fn confirm_email(&self, actor: &Actor, hash: &str, origin: &Origin) -> CoreResult<()> {
        let c = self.waiting_confirmation(hash).await?;
        if c.user_id != actor.user_id {
            return Err(AppError::Conflict(kith_types::OTHER_ACCOUNT_LINK.into()).into());
        }
        let before = store::user_by_id(&self.db.pool, &actor.user_id).await?.ok_or(AppError::Unauthenticated)?;
        let changed = c.email != c.account_email;
        let now = now_ms();
        let mut change = self.account_change(actor).await?;
        let gone = || CoreError::from(AppError::Conflict(CONFIRM_LINK_GONE.into()));
        // Taken in the same transaction: a link used twice at once confirms once.
        if !store::use_email_confirmation(change.conn(), &c.token_hash, now).await? {
            change.rollback().await?;
            return Err(gone());
        }
        match store::take_confirmed_email(change.conn(), &actor.user_id, &c.email, &c.account_email, now).await {
            Ok(true) => {}
            Ok(false) => {
                change.rollback().await?;
                return Err(gone());
            }
            Err(e) if crate::accounts::is_unique_violation(&e) => {
                change.rollback().await?;
                return Err(AppError::Conflict(format!("Another Kith account has started to use {} since we sent the link, so yours cannot.", c.email)).into());
            }
            Err(e) => return Err(e.into()),
        }
        store::end_email_confirmations(change.conn(), &actor.user_id, now).await?;
        change.commit(origin, if changed { "account: email address changed, the new one confirmed" } else { "account: email address confirmed" }).await?;
        tracing::info!(user_id = %actor.user_id, changed, "email address confirmed");
        if let (true, Some(mail), Some(_)) = (changed, self.settings.mail.clone(), before.email_confirmed_at) {
            let (subject, body) = address_changed_email(&before.name, &mail.public_url);
            crate::mail::send_in_background(mail, before.email, subject, body, "email address changed");
        }
        Ok(())
    }
}

impl Kith {
    /// The operator vouches for an account's address (`kith user
    /// confirm-email`, after checking it with its owner; the demo's people):
    /// logged in the person's record, as the operator's doing. False when no
    /// account has that address; true too when it was confirmed already.
    pub async fn confirm_email_by_operator(&self, email: &str) -> CoreResult<bool> {
        let Ok(email) = kith_types::Email::parse(email) else { return Ok(false) };
        let Some(user) = store::user_by_email(&self.db.pool, email.as_str()).await? else { return Ok(false) };
        if user.email_confirmed_at.is_some() {
            return Ok(true);
        }
        let actor = Actor::from_row(user)?;
        let now = now_ms();
        let mut change = self.operator_account_change(&actor).await?;
        store::confirm_user_email(change.conn(), &actor.user_id, email.as_str(), now).await?;
        store::end_email_confirmations(change.conn(), &actor.user_id, now).await?;
        change.commit(&Origin::command_line(), "account: email address confirmed by the operator of this Kith").await?;
        Ok(true)
    }
}

/// An email written and not yet sent.
struct Outgoing {
    mail: MailSettings,
    to: String,
    subject: String,
    body: String,
}

/// What asking to change the address did.
#[derive(Debug, PartialEq, Eq)]
pub enum EmailChange {
    /// A link went to the new address; nothing changes until it is used.
    LinkSent,
    /// This Kith sends no email: the address changed at once, unconfirmed.
    Changed,
}

/// To a new address, with the link that makes it the account's.
fn new_address_email(name: &str, url: &str) -> (String, String) {
    let body = format!(
        "Hello {name},\n\nYou asked to use this email address for your Kith account.\n\
         Open this link, and sign in to Kith if it asks you to, to make\n\
         the change:\n\n{url}\n\n\
         Until you do, Kith goes on using your old address. The link works\n\
         for {CONFIRM_LINK_DAYS} days. If you do not have a Kith account, someone may\n\
         have typed your address by mistake: you need do nothing.\n\nKith\n"
    );
    ("Confirm your new email address for Kith".into(), body)
}

/// To the old address once the account has moved to a new one.
fn address_changed_email(name: &str, base: &str) -> (String, String) {
    let body = format!(
        "Hello {name},\n\nThe email address of your Kith account has been changed, so\n\
         Kith will email you at the new address from now on. This is\n\
         the last email this address gets about your account.\n\n\
         If you did not do this, tell whoever runs Kith at once, and\n\
         sign in to check your account:\n{base}/account\n\nKith\n"
    );
    ("The email address of your Kith account was changed".into(), body)
}

/// The email with the link. Short ASCII lines, as the other emails.
fn confirm_email(name: &str, url: &str) -> (String, String) {
    let body = format!(
        "Hello {name},\n\nPlease confirm that this is your email address for Kith, so that\n\
         Kith can tell you when someone new looks at your health record,\n\
         and send you a link if you ever forget your password.\n\n\
         Open this link, and sign in to Kith if it asks you to:\n\n{url}\n\n\
         The link works for {CONFIRM_LINK_DAYS} days. If you do not have a Kith account,\n\
         someone may have typed your address by mistake: you need do\n\
         nothing, and Kith will send you nothing else.\n\nKith\n"
    );
    ("Confirm your email address for Kith".into(), body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_email_is_short_plain_lines_with_the_link_whole() {
        let url = format!("https://kith.example/confirm-email/{}", "a".repeat(64));
        for (subject, body) in [confirm_email("Margaret Jones", &url), new_address_email("Margaret Jones", &url)] {
            assert!(subject.contains("Kith"));
            assert!(body.contains(&url));
            assert!(body.is_ascii() && body.lines().filter(|l| !l.starts_with("https://")).all(|l| l.len() <= 76), "{body}");
            assert!(body.lines().all(|l| !l.starts_with(' ')), "{body}");
        }
        let (_, body) = address_changed_email("Margaret Jones", "https://kith.example");
        assert!(body.is_ascii() && body.lines().all(|l| l.len() <= 76 && !l.starts_with(' ')), "{body}");
    }
}
