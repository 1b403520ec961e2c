//! Signing in through an OpenID Connect provider: what a verified identity
//! means for Kith's accounts. The protocol itself (discovery, tokens,
//! signature and nonce checks) is `kith_oidc`'s; this module gets only
//! identities that passed every check.
//!
//! - An identity already linked signs in to its account.
//! - A new identity whose email belongs to an account is not linked until the
//!   person proves the account is theirs by signing in with its password.
//! - Otherwise a new account is made. From a patients' provider, an NHS
//!   Number proved to the deployment's level attaches the record for that
//!   number (made if Kith has none, claimed if imported before anyone had an
//!   account); an unproved one attaches nothing.
//! - From a staff provider, the account is a clinician's, with the
//!   organisation from the provider's claim.

use kith_types::{AppError, Email, NhsNumber, Role, SessionView, SignInMethod};

use crate::error::{CoreError, CoreResult};
use crate::policy::Origin;
use crate::session_store::{SessionInfo, SESSION_INFO_KEY, USER_ID_KEY};
use crate::{ms_to_uk, new_id, now_ms, store, Actor, Kith};

/// An identity a provider vouched for, with the provider's settings that
/// decide what it may do.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct VerifiedIdentity {
    pub provider_id: String,
    pub provider_name: String,
    /// From a staff provider: signs in clinicians.
    pub staff: bool,
    pub issuer: String,
    pub subject: String,
    pub name: Option<String>,
    pub email: Option<String>,
    /// Whether the provider says it checked the email address.
    pub email_verified: bool,
    pub birth_date: Option<String>,
    /// Present only when the provider proved it to the required level.
    pub verified_nhs_number: Option<String>,
    pub organisation: Option<String>,
}

/// How a staff provider's sign-in checked a clinician (kept on the account).
fn staff_check(id: &VerifiedIdentity) -> String {
    format!("staff sign-in through {}", id.provider_name)
}

/// What signing in with an identity came to.
#[derive(Debug)]
pub enum IdentityOutcome {
    /// Signed in. `note` tells the person something worth knowing (for
    /// example that their NHS Number's record belongs to another account).
    SignedIn { actor: Actor, note: Option<String> },
    /// An account with this email exists: the person must sign in with its
    /// password once, after which the identity is linked to that account
    /// (and no other: `user_id` is the one that must sign in).
    ProveAccount { email: String, user_id: String },
}

impl Kith {
    /// Signs in with an identity, making or finding the account.
    pub async fn sign_in_with_identity(&self, id: &VerifiedIdentity, origin: &Origin) -> CoreResult<IdentityOutcome> {
        let now = now_ms();
        if let Some(link) = store::identity::linked_by_subject(&self.db.pool, &id.issuer, &id.subject).await? {
            store::identity::touch_linked(&self.db.pool, &link.id, now).await?;
            let actor = self.actor(&link.user_id).await?.ok_or(AppError::Unauthenticated)?;
            if id.staff {
                if let Some(org) = id.organisation.as_deref().filter(|o| *o != actor.organisation) {
                    store::identity::set_organisation(&self.db.pool, &actor.user_id, org).await?;
                }
                if !actor.verified_clinician {
                    store::verify_clinician(&self.db.pool, &actor.user_id, &staff_check(id), now).await?;
                }
            }
            let actor = self.actor(&link.user_id).await?.ok_or(AppError::Unauthenticated)?;
            let note = self.attach_record(&actor, id, origin).await?;
            self.log_sign_in(&actor, origin, true, "account (through an identity provider)").await?;
            return Ok(IdentityOutcome::SignedIn { actor, note });
        }

        let email = id.email.as_deref().map(Email::parse).transpose().ok().flatten().ok_or_else(|| {
            AppError::Conflict(format!(
                "{} did not share an email address with Kith, so no account could be made. Allow Kith to see your email address, or sign up with a password.",
                id.provider_name
            ))
        })?;
        if let Some(existing) = store::user_by_email(&self.db.pool, email.as_str()).await? {
            return Ok(IdentityOutcome::ProveAccount { email: email.as_str().to_string(), user_id: existing.id });
        }
        // A new account is keyed by its email: only one the provider checked.
        if !id.email_verified {
            return Err(AppError::Conflict(format!(
                "{} has not confirmed your email address, so no account could be made. Confirm it there, or sign up with a password.",
                id.provider_name
            ))
            .into());
        }

        let role = if id.staff { Role::Clinician } else { Role::Patient };
        let name = id.name.clone().filter(|n| !n.trim().is_empty()).unwrap_or_else(|| email.as_str().to_string());
        let organisation = if id.staff { id.organisation.clone().unwrap_or_default() } else { String::new() };
        let user_id = new_id();
        let mut tx = self.db.pool.begin().await?;
        store::insert_user(&mut *tx, &user_id, email.as_str(), name.trim(), role.as_str(), None, &organisation, now).await?;
        store::identity::insert_linked(&mut *tx, &new_id(), &user_id, &id.provider_id, &id.issuer, &id.subject, email.as_str(), now).await?;
        // The provider checked the address (above): it is confirmed.
        store::confirm_user_email(&mut *tx, &user_id, email.as_str(), now).await?;
        if id.staff {
            store::verify_clinician(&mut *tx, &user_id, &staff_check(id), now).await?;
        }
        tx.commit().await?;
        tracing::info!(user_id = %user_id, role = %role, provider = %id.provider_id, "account created through a provider");
        let actor = self.actor(&user_id).await?.ok_or(AppError::Unauthenticated)?;
        let note = self.attach_record(&actor, id, origin).await?;
        self.log_sign_in(&actor, origin, true, "account (through an identity provider)").await?;
        Ok(IdentityOutcome::SignedIn { actor, note })
    }

    /// Links an identity to the signed-in account (from the Account page, or
    /// after the person proved an existing account is theirs).
    pub async fn link_identity(&self, actor: &Actor, id: &VerifiedIdentity, origin: &Origin) -> CoreResult<Option<String>> {
        if id.staff != (actor.role == Role::Clinician) {
            return Err(AppError::Conflict(format!(
                "{} signs in {}, so it cannot be linked to this account.",
                id.provider_name,
                if id.staff { "staff" } else { "patients and carers" }
            ))
            .into());
        }
        match store::identity::linked_by_subject(&self.db.pool, &id.issuer, &id.subject).await? {
            Some(l) if l.user_id == actor.user_id => return Ok(None),
            Some(_) => {
                return Err(
                    AppError::Conflict(format!("That {} account is already linked to another Kith account. Remove it there first.", id.provider_name)).into()
                )
            }
            None => {}
        }
        let label = id.email.clone().unwrap_or_else(|| id.provider_name.clone());
        let mut change = self.account_change(actor).await?;
        store::identity::insert_linked(change.conn(), &new_id(), &actor.user_id, &id.provider_id, &id.issuer, &id.subject, &label, now_ms()).await?;
        if id.staff {
            store::verify_clinician(change.conn(), &actor.user_id, &staff_check(id), now_ms()).await?;
        }
        // A provider that checked this account's own address confirms it
        // (the statement changes nothing for any other address).
        if let (true, Some(Ok(email))) = (id.email_verified, id.email.as_deref().map(Email::parse)) {
            store::confirm_user_email(change.conn(), &actor.user_id, email.as_str(), now_ms()).await?;
        }
        change.commit(origin, &format!("account: sign-in through {} added", id.provider_name)).await?;
        tracing::info!(user_id = %actor.user_id, provider = %id.provider_id, "sign-in method linked");
        self.attach_record(actor, id, origin).await
    }

    /// A patient signing in with a proved NHS Number gets that number's
    /// record, unless they have one or it belongs to someone else.
    async fn attach_record(&self, actor: &Actor, id: &VerifiedIdentity, origin: &Origin) -> CoreResult<Option<String>> {
        let Some(nhs) = id.verified_nhs_number.as_deref() else { return Ok(None) };
        if actor.role != Role::Patient || store::patient_by_user(&self.db.pool, &actor.user_id).await?.is_some() {
            return Ok(None);
        }
        let Ok(nhs) = NhsNumber::parse(nhs) else {
            tracing::warn!(provider = %id.provider_id, "provider sent an NHS Number that fails its check digit");
            return Ok(Some(format!("{} sent an NHS Number Kith could not accept, so no record was attached.", id.provider_name)));
        };
        match store::patient_by_nhs_number(&self.db.pool, nhs.as_str()).await? {
            Some(p) => {
                // Logged in the record's chain with the claim itself.
                let mut change = self.account_change_on(&p.id, actor).await?;
                if store::identity::claim_patient(change.conn(), &p.id, &actor.user_id).await? {
                    change.commit(origin, &format!("account: this record attached to the account, through the NHS Number {} proved", id.provider_name)).await?;
                    tracing::info!(user_id = %actor.user_id, "record attached through a proved NHS Number");
                    Ok(None)
                } else {
                    change.rollback().await?;
                    Ok(Some("The record for your NHS Number belongs to another Kith account. Contact us to sort this out.".into()))
                }
            }
            None => {
                let Some(birth_date) = id.birth_date.as_deref().and_then(|d| crate::accounts::parse_birth_date(d).ok()) else {
                    return Ok(Some(format!("{} did not share your date of birth, so your record could not be started.", id.provider_name)));
                };
                store::insert_patient(
                    &self.db.pool,
                    &new_id(),
                    nhs.as_str(),
                    &actor.name,
                    &birth_date.format("%Y-%m-%d").to_string(),
                    Some(&actor.user_id),
                    now_ms(),
                )
                .await?;
                Ok(None)
            }
        }
    }

    /// The ways this person can sign in: their password (if set) and each
    /// linked provider identity.
    pub async fn sign_in_methods(&self, actor: &Actor) -> CoreResult<Vec<SignInMethod>> {
        let user = store::user_by_id(&self.db.pool, &actor.user_id).await?.ok_or(AppError::Unauthenticated)?;
        let mut methods = Vec::new();
        if user.password_hash.is_some() {
            methods.push(SignInMethod { id: String::new(), kind: "Password".into(), label: user.email.clone(), linked: String::new(), last_used: None });
        }
        for l in store::identity::linked_for_user(&self.db.pool, &actor.user_id).await? {
            methods.push(SignInMethod { id: l.id, kind: l.provider, label: l.label, linked: ms_to_uk(l.linked_at), last_used: l.last_used_at.map(ms_to_uk) });
        }
        Ok(methods)
    }

    /// Removes a sign-in method (a linked identity by id; the password by
    /// the empty id). Never the last one: the person would be locked out.
    pub async fn remove_sign_in_method(&self, actor: &Actor, method_id: &str, origin: &Origin) -> CoreResult<()> {
        let methods = self.sign_in_methods(actor).await?;
        if !methods.iter().any(|m| m.id == method_id) {
            return Err(AppError::NotFound.into());
        }
        let last = || CoreError::User(AppError::Conflict("This is the only way you can sign in, so it cannot be removed. Add another first.".into()));
        if methods.len() <= 1 {
            return Err(last());
        }
        // Checked again inside one transaction that holds the user's row, so
        // two removals at once cannot together remove every way in.
        let removed = methods.iter().find(|m| m.id == method_id).map(|m| m.kind.clone()).unwrap_or_default();
        let mut change = self.account_change(actor).await?;
        store::identity::touch_user(change.conn(), &actor.user_id, now_ms()).await?;
        if method_id.is_empty() {
            store::identity::clear_password(change.conn(), &actor.user_id, now_ms()).await?;
            // A link asked for earlier must not bring the password back.
            store::end_password_resets(change.conn(), &actor.user_id, now_ms()).await?;
        } else {
            store::identity::delete_linked(change.conn(), &actor.user_id, method_id).await?;
        }
        if store::identity::count_methods(change.conn(), &actor.user_id).await? == 0 {
            change.rollback().await?;
            return Err(last());
        }
        change.commit(origin, &format!("account: sign-in method removed ({removed})")).await?;
        tracing::info!(user_id = %actor.user_id, "sign-in method removed");
        Ok(())
    }

    /// Adds a password to an account that signs in only through providers
    /// (one that has a password changes it on the Account page instead).
    pub async fn add_password(&self, actor: &Actor, new: &str, confirm: &str, origin: &Origin) -> CoreResult<()> {
        let user = store::user_by_id(&self.db.pool, &actor.user_id).await?.ok_or(AppError::Unauthenticated)?;
        if user.password_hash.is_some() {
            return Err(AppError::Conflict("You already have a password: change it above.".into()).into());
        }
        let mut errors = Vec::new();
        if let Err(m) = crate::password::check_policy(new, &[&user.name, &user.email]) {
            errors.push(kith_types::FieldError { field: "added_password".into(), message: m });
        }
        if new != confirm {
            errors.push(kith_types::FieldError { field: "added_password_again".into(), message: "The two passwords do not match".into() });
        }
        if !errors.is_empty() {
            return Err(AppError::Validation { errors, values: vec![] }.into());
        }
        let hash = crate::password::hash(new.to_string()).await?;
        let mut change = self.account_change(actor).await?;
        store::set_password_hash(change.conn(), &actor.user_id, &hash, now_ms()).await?;
        change.commit(origin, "account: password added").await?;
        self.tell_password_added(crate::password_reset::Told::of(&user));
        tracing::info!(user_id = %actor.user_id, "password added");
        Ok(())
    }

    /// A provider sign-in that failed before anyone could be named.
    pub async fn record_sign_in_failure(&self, method: &str, reason: &str, origin: &Origin) -> CoreResult<()> {
        let reason: String = reason.chars().take(500).collect();
        let ua: String = origin.user_agent.chars().take(300).collect();
        store::identity::insert_failure(&self.db.pool, &new_id(), now_ms(), method, &reason, &origin.address, &ua).await?;
        tracing::warn!(method, reason = %reason, "provider sign-in failed");
        Ok(())
    }

    /// Recent failed provider sign-ins, newest first, as JSON lines for
    /// `kith audit sign-in-failures`.
    pub async fn sign_in_failures(&self, limit: i64) -> CoreResult<Vec<serde_json::Value>> {
        Ok(store::identity::recent_failures(&self.db.pool, limit)
            .await?
            .into_iter()
            .map(|f| {
                serde_json::json!({
                    "at": chrono::DateTime::from_timestamp_millis(f.at).map(|t| t.to_rfc3339()),
                    "method": f.method, "reason": f.reason, "address": f.address, "user_agent": f.user_agent,
                })
            })
            .collect())
    }

    /// The browsers signed in to this account; `current` is this request's
    /// session id.
    pub async fn sessions(&self, actor: &Actor, current: &str) -> CoreResult<Vec<SessionView>> {
        let idle_ms = self.settings.session_idle_minutes * 60_000;
        let rows = store::identity::sessions_for_user(&self.db.pool, &actor.user_id, now_ms()).await?;
        let current = crate::session_store::stored_key(current);
        Ok(rows
            .into_iter()
            .filter_map(|r| {
                let record: serde_json::Value = serde_json::from_str(&r.data).ok()?;
                let data = record.get("data")?;
                if data.get(USER_ID_KEY)?.as_str()? != actor.user_id {
                    return None;
                }
                let info: Option<SessionInfo> = data.get(SESSION_INFO_KEY).and_then(|v| serde_json::from_value(v.clone()).ok());
                Some(SessionView {
                    signed_in: info.as_ref().map(|i| ms_to_uk(i.at_ms)).unwrap_or_default(),
                    last_active: ms_to_uk(r.expires_at - idle_ms),
                    how: info.as_ref().map(|i| i.how.clone()).unwrap_or_else(|| "Password".into()),
                    device: info.as_ref().map(|i| describe_device(&i.user_agent)).unwrap_or_default(),
                    address: info.map(|i| i.address).unwrap_or_default(),
                    this_one: r.id == current,
                })
            })
            .collect())
    }

    /// Ends every session of this person, this one included.
    pub async fn sign_out_everywhere(&self, actor: &Actor, origin: &Origin) -> CoreResult<u64> {
        let mut change = self.account_change(actor).await?;
        let ended = store::sessions_delete_for_user_except(change.conn(), &actor.user_id, "").await?;
        change.commit(origin, &format!("account: signed out everywhere ({ended} sessions ended)")).await?;
        tracing::info!(user_id = %actor.user_id, ended, "signed out everywhere");
        Ok(ended)
    }
}

/// "Chrome on Android" from a user agent: enough to recognise a device.
fn describe_device(ua: &str) -> String {
    let browser = if ua.contains("Edg/") {
        "Edge"
    } else if ua.contains("Firefox/") {
        "Firefox"
    } else if ua.contains("Chrome/") || ua.contains("Chromium/") || ua.contains("HeadlessChrome") {
        "Chrome"
    } else if ua.contains("Safari/") {
        "Safari"
    } else if ua.is_empty() {
        return "Unknown device".into();
    } else {
        "A browser"
    };
    let system = if ua.contains("Android") {
        "Android"
    } else if ua.contains("iPhone") || ua.contains("iPad") {
        "iOS"
    } else if ua.contains("Windows") {
        "Windows"
    } else if ua.contains("Mac OS") {
        "macOS"
    } else if ua.contains("Linux") {
        "Linux"
    } else {
        "an unknown system"
    };
    format!("{browser} on {system}")
}

#[cfg(test)]
mod tests {
    use super::describe_device;

    #[test]
    fn devices_are_named_plainly() {
        assert_eq!(describe_device("Mozilla/5.0 (Linux; Android 10) AppleWebKit/537.36 Chrome/120.0 Mobile Safari/537.36"), "Chrome on Android");
        assert_eq!(
            describe_device("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Version/17.0 Mobile/15E148 Safari/604.1"),
            "Safari on iOS"
        );
        assert_eq!(describe_device(""), "Unknown device");
    }
}
