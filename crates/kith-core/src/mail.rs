//! Emails to patients about their record, when the deployment has a mail
//! server (`KITH_SMTP_URL`): someone viewed it for the first time, someone
//! used emergency access, a shared link was locked by wrong passcodes. The
//! family carers who act for the patient get them too (each can turn their
//! own off), since the person they care for may not read email at all.
//!
//! Each is queued in `mail_outbox` in the same transaction as the in-app
//! notification (and so as the access that caused it), and sent afterwards
//! by `Kith::send_due_mail`, which the server runs every few seconds: a mail
//! server that is down or slow never holds up or loses an access, and a
//! queued email survives a restart. An email never says who looked or what
//! is in the record (email is not a safe place for that); it says what kind
//! of thing happened and where to look. The address is looked up when
//! sending, so an email goes to the address the patient has then.

use lettre::message::{header::ContentType, Mailbox};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use sqlx::AnyConnection;

use crate::policy::{RecordAccess, Via};
use crate::{store, CoreResult, Kith};

/// Attempts before an email is given up (retried over about 2 hours).
const MAX_ATTEMPTS: i64 = 8;
/// An email not sent within a day is no longer news: given up.
const STALE_MS: i64 = 24 * 3_600_000;
/// How long a sender holds a claimed email before another may try it
/// (longer than a send can take: the transport gives up after 20 s).
const CLAIM_MS: i64 = 5 * 60_000;

/// How Kith sends email. Debug output leaves the server address (which may
/// hold a password) out.
#[derive(Clone)]
pub struct MailSettings {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    /// Kith's public address, for the links in emails.
    pub(crate) public_url: String,
}

impl std::fmt::Debug for MailSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MailSettings").field("from", &self.from.to_string()).finish_non_exhaustive()
    }
}

impl MailSettings {
    /// `smtp_url` as lettre reads it: `smtps://user:pass@host` (TLS),
    /// `smtp://user:pass@host:587?tls=required` (STARTTLS), or
    /// `smtp://host:port` (no encryption: a relay on the same machine only).
    pub fn new(smtp_url: &str, from: &str, public_url: &str) -> Result<Self, String> {
        let from: Mailbox = from.parse().map_err(|e| format!("the sender address {from:?} is not an email address: {e}"))?;
        // lettre's error would repeat the URL, password and all.
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(smtp_url)
            .map_err(|_| "the mail server address is not an smtp:// or smtps:// URL".to_string())?
            .timeout(Some(std::time::Duration::from_secs(20)))
            .build();
        Ok(Self { transport, from, public_url: public_url.trim_end_matches('/').to_string() })
    }
}

/// What an email is about; stored as `kind` in the outbox.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Notice {
    FirstView,
    EmergencyAccess,
    LinkLocked,
    /// A family carer's access ends within 30 days: the patient may renew it.
    CarerReview,
}

const ALL: [Notice; 4] = [Notice::FirstView, Notice::EmergencyAccess, Notice::LinkLocked, Notice::CarerReview];

impl Notice {
    fn kind(self) -> &'static str {
        match self {
            Notice::FirstView => "first-view",
            Notice::EmergencyAccess => "emergency-access",
            Notice::LinkLocked => "link-locked",
            Notice::CarerReview => "carer-review",
        }
    }

    fn from_kind(kind: &str) -> Option<Self> {
        ALL.into_iter().find(|n| n.kind() == kind)
    }

    /// Subject and plain-text body, for the patient or (`to_carer`) a
    /// family carer. Short ASCII lines, so the message goes out as readable
    /// 7-bit text. A carer may help more than one person, and a name says
    /// something about them, so a carer's email does not say whose record
    /// it is (email is not a safe place for that either).
    fn email(self, name: &str, base: &str, to_carer: bool) -> (String, String) {
        let look = if to_carer {
            format!("To see who it was, and when, sign in, open their record and\nthen its access log:\n{base}/")
        } else {
            format!(
                "To see who it was, and when, sign in and open your access log:\n{base}/access-log\n\n\
                 You can change or stop any sharing from the Sharing page:\n{base}/sharing"
            )
        };
        let (subject, what, next) = match (self, to_carer) {
            (Notice::FirstView, false) => (
                "Someone new has viewed your Kith record",
                "Someone who had not looked at your health record in Kith\nbefore has just viewed it.",
                look,
            ),
            (Notice::EmergencyAccess, false) => (
                "Emergency access to your Kith record",
                "A clinician has used emergency access to open your health\nrecord in Kith. They had to give a reason, which you can read.",
                look,
            ),
            (Notice::LinkLocked, false) => (
                "A shared link to your Kith record was locked",
                "Someone typed the wrong passcode for one of your shared\nlinks too many times, so Kith has locked that link.\nNobody saw your record through it after that.",
                look,
            ),
            (Notice::CarerReview, false) => (
                "A family carer's access to your Kith record ends soon",
                "The access you gave a family carer to your health record\nin Kith ends within 30 days.",
                format!(
                    "If they should go on helping you, renew it on the Sharing\npage:\n{base}/sharing\n\n\
                     If not, you need do nothing: it ends by itself."
                ),
            ),
            (Notice::FirstView, true) => (
                "Someone new has viewed a Kith record you look after",
                "Someone new has looked at the Kith health record of a person\nyou act for.",
                look,
            ),
            (Notice::EmergencyAccess, true) => (
                "Emergency access to a Kith record you look after",
                "A clinician has used emergency access to open the health\nrecord of a person you act for in Kith. They had to give a\nreason, which you can read.",
                look,
            ),
            (Notice::LinkLocked, true) => (
                "A shared link to a Kith record you look after was locked",
                "Someone typed the wrong passcode for one of the shared links\nto the record of a person you act for too many times, so\nKith has locked that link. Nobody saw the record through it\nafter that.",
                look,
            ),
            (Notice::CarerReview, true) => (
                "Your access to a Kith record ends soon",
                "Your access, as a family carer, to the health record of a\nperson who shared it with you in Kith ends within 30 days.",
                format!(
                    "Only they can renew it. If you should go on helping them,\nask them to renew it on their Sharing page. You can see\nwhen it ends once you sign in:\n{base}/"
                ),
            ),
        };
        let privacy = match (to_carer, self) {
            (true, _) => "For their privacy this email does not say whose record it\nis, or anything that is in it.",
            (false, Notice::CarerReview) => "For your privacy this email does not say who the carer is:\nthe Sharing page does.",
            (false, _) => "For your privacy this email does not say who it was or what\nis in your record.",
        };
        let body = format!("Hello {name},\n\n{what}\n\n{next}\n\n{privacy}\n\nKith\n");
        (subject.to_string(), body)
    }
}

/// Tells the patient in the app and, when `mail` (the deployment sends
/// email), queues an email to them and one to each family carer acting for
/// them, but not to `caused_by` (a carer is not told of their own first
/// look): in the caller's transaction.
pub(crate) async fn notify(
    conn: &mut AnyConnection,
    mail: bool,
    patient_id: &str,
    message: &str,
    notice: Notice,
    caused_by: Option<&str>,
    now: i64,
) -> CoreResult<()> {
    store::insert_notification(&mut *conn, patient_id, &crate::new_id(), message, now).await?;
    if mail {
        store::enqueue_mail(&mut *conn, patient_id, &crate::new_id(), notice.kind(), None, now).await?;
        for carer in store::acting_carers(&mut *conn, patient_id, now).await? {
            if Some(carer.as_str()) != caused_by {
                store::enqueue_mail(&mut *conn, patient_id, &crate::new_id(), notice.kind(), Some(&carer), now).await?;
            }
        }
    }
    Ok(())
}

/// Whose notice emails the reader of a record's access log may see and
/// switch: the owner's own, or a carer acting for the patient their own.
pub(crate) async fn notice_recipient(conn: &mut AnyConnection, access: &RecordAccess) -> CoreResult<Option<String>> {
    Ok(match access.via() {
        Via::Owner => store::owner_user_id(conn, access.patient_id()).await?,
        Via::Grant { act_for: true, .. } => access.user_id().map(str::to_string),
        _ => None,
    })
}

/// What one run of `Kith::send_due_mail` did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct MailRun {
    pub sent: usize,
    /// Failed this time; tried again later.
    pub failed: usize,
    /// Not sent and not tried again: no address, too old, or too many failures.
    pub given_up: usize,
}

impl Kith {
    /// Sends the emails that are due, oldest first, and records each
    /// outcome. Does nothing when no mail server is configured.
    pub async fn send_due_mail(&self) -> CoreResult<MailRun> {
        let mut run = MailRun::default();
        let Some(mail) = &self.settings.mail else { return Ok(run) };
        for due in store::due_mail(&self.db.pool, crate::now_ms(), 20).await? {
            // Each row is claimed, just before it is sent, for long enough
            // to send it, so another server skips it meanwhile.
            let now = crate::now_ms();
            if !store::claim_mail(&self.db.pool, &due, now + CLAIM_MS).await? {
                continue;
            }
            let to_carer = due.recipient_user_id.is_some();
            let notice = Notice::from_kind(&due.kind);
            // A review is sent only while it is still due: not once the
            // access was renewed, or stopped, since it was queued.
            if notice == Some(Notice::CarerReview) {
                let horizon = now + crate::sharing::CARER_REVIEW_NOTICE_MS;
                if !store::carer_review_still_due(&self.db.pool, &due.patient_id, due.recipient_user_id.as_deref(), now, horizon).await? {
                    store::give_up_mail(&self.db.pool, &due, now, "the carer's access was renewed or has ended").await?;
                    run.given_up += 1;
                    continue;
                }
            }
            let recipient = match (&due.recipient_user_id, notice) {
                (None, _) => store::owner_user_id(&self.db.pool, &due.patient_id).await?,
                // Only while they act for the patient (a review: checked above).
                (Some(carer), Some(Notice::CarerReview)) => Some(carer.clone()),
                (Some(carer), _) => store::acting_carers(&self.db.pool, &due.patient_id, now).await?.into_iter().find(|c| c == carer),
            };
            if to_carer && recipient.is_none() {
                store::give_up_mail(&self.db.pool, &due, now, "the carer no longer acts for this patient").await?;
                run.given_up += 1;
                continue;
            }
            let address = match recipient {
                Some(user_id) => store::user_email(&self.db.pool, &user_id).await?,
                None => None,
            };
            let (Some(to), Some(notice)) = (address, notice) else {
                store::give_up_mail(&self.db.pool, &due, now, "no account with an email address for this record").await?;
                run.given_up += 1;
                continue;
            };
            // Kith sends nothing to an address its owner has not confirmed.
            if to.email_confirmed_at.is_none() {
                store::give_up_mail(&self.db.pool, &due, now, "the email address is not confirmed").await?;
                run.given_up += 1;
                continue;
            }
            if to.notice_emails == 0 {
                let why = if to_carer { "the carer turned these emails off" } else { "the patient turned these emails off" };
                store::give_up_mail(&self.db.pool, &due, now, why).await?;
                run.given_up += 1;
                continue;
            }
            if now - due.created_at > STALE_MS {
                store::give_up_mail(&self.db.pool, &due, now, "not sent within a day").await?;
                run.given_up += 1;
                continue;
            }
            let outcome = send(mail, notice, &to.name, &to.email, to_carer).await;
            let now = crate::now_ms();
            match outcome {
                Ok(()) => {
                    store::mail_sent(&self.db.pool, &due, now).await?;
                    run.sent += 1;
                }
                Err(Failure { reason, permanent }) if permanent || due.attempts + 1 >= MAX_ATTEMPTS => {
                    store::give_up_mail(&self.db.pool, &due, now, &reason).await?;
                    run.given_up += 1;
                }
                Err(Failure { reason, .. }) => {
                    // 1, 2, 4 ... minutes, at most an hour, apart.
                    let wait = (60_000i64 << due.attempts.clamp(0, 6)).min(3_600_000);
                    store::mail_failed(&self.db.pool, &due, now + wait, &reason).await?;
                    run.failed += 1;
                }
            }
        }
        Ok(run)
    }
}

impl Kith {
    /// Queues, once for each end date, an email to the patient and to the
    /// carer when a family carer's access comes within 30 days of its end
    /// (the patient's messages say so too, for as long as it is due). The
    /// server runs this now and then; returns how many grants it told of.
    pub async fn queue_carer_reviews(&self) -> CoreResult<usize> {
        if self.settings.mail.is_none() {
            return Ok(0);
        }
        let now = crate::now_ms();
        let mut told = 0;
        let horizon = now + crate::sharing::CARER_REVIEW_NOTICE_MS;
        for (patient_id, grant_id, carer) in store::carer_grants_due_review(&self.db.pool, now, horizon).await? {
            let mut tx = self.db.pool.begin().await?;
            // Marked and queued together: two servers at once tell once.
            if store::mark_review_notice(&mut *tx, &patient_id, &grant_id, now, horizon).await? {
                store::enqueue_mail(&mut tx, &patient_id, &crate::new_id(), Notice::CarerReview.kind(), None, now).await?;
                store::enqueue_mail(&mut tx, &patient_id, &crate::new_id(), Notice::CarerReview.kind(), Some(&carer), now).await?;
                told += 1;
            }
            tx.commit().await?;
        }
        Ok(told)
    }
}

/// Why an email was not sent, in words that never hold the address (a mail
/// server's reply often repeats it, so its text is not kept), and whether
/// trying again could help.
struct Failure {
    reason: String,
    permanent: bool,
}

impl Kith {
    /// The record owner, or a family carer acting for them, turns their own
    /// notice emails off or on (the Access log page). NotFound for anyone
    /// else.
    pub async fn set_notice_emails(&self, access: &RecordAccess, on: bool) -> CoreResult<()> {
        crate::policy::require(access, crate::policy::Right::Manage)?;
        let mut a = self.audited(access).await?;
        let Some(user_id) = notice_recipient(a.conn(), access).await? else {
            return a.fail(kith_types::AppError::NotFound).await;
        };
        store::set_notice_emails(a.conn(), &user_id, on).await?;
        // A carer's switch covers every record they act for.
        let what = match (matches!(access.via(), Via::Owner), on) {
            (true, true) => "emails about this record started again",
            (true, false) => "emails about this record stopped",
            (false, true) => "emails to this carer about the records they act for started again",
            (false, false) => "emails to this carer about the records they act for stopped",
        };
        a.commit(access, crate::audit::Disclosure::new("update", what)).await?;
        Ok(())
    }
}

/// Sends one email.
async fn send(mail: &MailSettings, notice: Notice, name: &str, address: &str, to_carer: bool) -> Result<(), Failure> {
    let (subject, body) = notice.email(name, &mail.public_url, to_carer);
    deliver(mail, address, subject, body).await
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

/// Sends an email now, not through the outbox: for one that carries a
/// secret (a password reset link), which is never stored. The error says
/// why in words that never hold the address.
pub(crate) async fn send_now(mail: &MailSettings, address: &str, subject: String, body: String) -> Result<(), String> {
    deliver(mail, address, subject, body).await.map_err(|f| f.reason)
}

async fn deliver(mail: &MailSettings, address: &str, subject: String, body: String) -> Result<(), Failure> {
    let permanent = |reason: &str| Failure { reason: reason.to_string(), permanent: true };
    let to: Mailbox = address.parse().map_err(|_| permanent("the account's email address cannot be used"))?;
    let message = Message::builder()
        .from(mail.from.clone())
        .to(to)
        .subject(subject)
        .header(ContentType::TEXT_PLAIN)
        .body(body)
        .map_err(|_| permanent("the email could not be built"))?;
    mail.transport.send(message).await.map(|_| ()).map_err(|e| {
        let code = e.status().map(|c| format!(" (code {c})")).unwrap_or_default();
        if e.is_permanent() {
            Failure { reason: format!("the mail server refused it{code}"), permanent: true }
        } else if e.is_transient() {
            Failure { reason: format!("the mail server refused it for now{code}"), permanent: false }
        } else if e.is_timeout() {
            Failure { reason: "the mail server did not answer in time".into(), permanent: false }
        } else {
            Failure { reason: "could not reach the mail server".into(), permanent: false }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_say_what_happened_but_not_who_or_what() {
        for n in ALL {
            assert_eq!(Notice::from_kind(n.kind()), Some(n));
            let (subject, body) = n.email("Margaret Jones", "https://kith.example", false);
            assert!(subject.contains("Kith record"));
            let link = if n == Notice::CarerReview { "https://kith.example/sharing" } else { "https://kith.example/access-log" };
            assert!(body.contains(link) && body.contains("does not say who"), "{body}");
            assert!(body.contains("For your privacy"), "{body}");
            assert!(body.is_ascii() && body.lines().all(|l| l.len() <= 76), "{body}");
            let (subject, body) = n.email("David Jones", "https://kith.example", true);
            assert!(subject.contains("Kith record"), "{subject}");
            assert!(body.starts_with("Hello David Jones,") && body.contains("does not say whose record"), "{body}");
            assert!(body.is_ascii() && body.lines().all(|l| l.len() <= 76), "{body}");
        }
    }

    #[test]
    fn settings_are_checked_and_keep_the_password_out_of_debug() {
        let s = MailSettings::new("smtp://kith:s3cret@127.0.0.1:2525", "Kith <kith@example.org>", "https://kith.example/").unwrap();
        assert_eq!(s.public_url, "https://kith.example");
        assert!(!format!("{s:?}").contains("s3cret"));
        assert!(MailSettings::new("smtp://127.0.0.1:2525", "not an address", "https://k").unwrap_err().contains("sender address"));
        let e = MailSettings::new("http://kith:s3cret@mail.example", "kith@example.org", "https://k").unwrap_err();
        assert!(e.contains("smtp://") && !e.contains("s3cret"), "{e}");
    }
}
