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

use kith_types::{AppError, EmailConfirmationView};

use crate::mail::MailSettings;
use crate::policy::Origin;
use crate::sharing::{new_token, token_hash};
use crate::{now_ms, store, Actor, CoreResult, Kith};

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
        let token = new_token();
        let now = now_ms();
        let mut tx = self.db.pool.begin().await?;
        store::lock_user(&mut tx, self.db.backend(), &user.id).await?;
        let stored = store::insert_email_confirmation_within(
            &mut tx,
            &token_hash(&token),
            &user.id,
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
        let (subject, body) = confirm_email(&user.name, &format!("{}/confirm-email/{token}", mail.public_url));
        send_in_background(mail, user.email, subject, body, "email confirmation");
        Ok(())
    }

    /// What the page a link opens shows: `hash` is the link's (or the one
    /// the session kept), `actor` who is signed in, if anyone.
    pub async fn email_confirmation(&self, hash: &str, actor: Option<&Actor>) -> CoreResult<EmailConfirmationView> {
        let c = self.waiting_confirmation(hash).await?;
        Ok(match actor {
            None => EmailConfirmationView::SignIn { email: c.email },
            Some(a) if a.user_id == c.user_id => EmailConfirmationView::Ready { email: c.email },
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

    /// Confirms the signed-in person's address with a link sent to it. The
    /// link must be for their account and for the address it has now.
    /// Logged in their record when they have one.
    pub async fn confirm_email(&self, actor: &Actor, hash: &str, origin: &Origin) -> CoreResult<()> {
        let c = self.waiting_confirmation(hash).await?;
        if c.user_id != actor.user_id {
            return Err(AppError::Conflict(kith_types::OTHER_ACCOUNT_LINK.into()).into());
        }
        let now = now_ms();
        let mut change = self.account_change(actor).await?;
        // Taken in the same transaction: a link used twice at once confirms once.
        if !store::use_email_confirmation(change.conn(), &c.token_hash, now).await? {
            change.rollback().await?;
            return Err(AppError::Conflict(CONFIRM_LINK_GONE.into()).into());
        }
        if !store::confirm_user_email(change.conn(), &actor.user_id, &c.email, now).await? {
            change.rollback().await?;
            return Err(AppError::Conflict(CONFIRM_LINK_GONE.into()).into());
        }
        store::end_email_confirmations(change.conn(), &actor.user_id, now).await?;
        change.commit(origin, "account: email address confirmed").await?;
        tracing::info!(user_id = %actor.user_id, "email address confirmed");
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

/// Sends an email now, not through the outbox (it carries a secret, or is
/// about the account rather than a record), without holding up the caller.
pub(crate) fn send_in_background(mail: MailSettings, address: String, subject: String, body: String, what: &'static str) {
    tokio::spawn(async move {
        if let Err(reason) = crate::mail::send_now(&mail, &address, subject, body).await {
            tracing::warn!(%reason, what, "email not sent");
        }
    });
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
        let (subject, body) = confirm_email("Margaret Jones", &url);
        assert!(subject.contains("Kith"));
        assert!(body.contains(&url));
        assert!(body.is_ascii() && body.lines().filter(|l| !l.starts_with("https://")).all(|l| l.len() <= 76), "{body}");
    }
}
