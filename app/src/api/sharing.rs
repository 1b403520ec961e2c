//! Sharing: grants, links, labels, and choosing whose record is on screen.

use kith_types::sharing::{InvitationView, NewInvitation, NewLink, SharedRecord, SharingView};
use kith_types::AppError;
use leptos::prelude::*;

#[cfg(feature = "ssr")]
use super::ssr::{core, internal, require_actor, session, CURRENT_RECORD_KEY, LINK_VIEWER_KEY, PREVIEW_KEY};

#[cfg(feature = "ssr")]
fn scope_from(choice: &str, labels: Vec<String>, kinds: Vec<String>, entries: Vec<String>) -> kith_core::policy::Scope {
    use kith_core::policy::Scope;
    match choice {
        "all" => Scope::whole(),
        // One chosen entry (from an entry page's "Share only this entry").
        "entries" => Scope { entries, ..Default::default() },
        _ => Scope { labels, kinds, ..Default::default() },
    }
}

#[server(endpoint = "sharing/shared_with_me")]
pub async fn get_shared_records() -> Result<Vec<SharedRecord>, AppError> {
    let (kith, _, actor) = require_actor().await?;
    kith.shared_with_me(&actor).await.map_err(core)
}

/// Puts someone else's record (shared with the signed-in person) on screen.
#[server(endpoint = "sharing/open_record")]
pub async fn open_shared_record(patient_id: String) -> Result<(), AppError> {
    let (kith, session, actor) = require_actor().await?;
    // The policy decides; a record not shared with this person is NotFound.
    kith.open_patient(&kith_core::policy::Principal::User(actor), &patient_id, kith_core::policy::Right::Read).await.map_err(core)?;
    session.insert(CURRENT_RECORD_KEY, patient_id).await.map_err(|e| internal(&e.to_string()))?;
    leptos_axum::redirect("/");
    Ok(())
}

/// The patient sees their record exactly as a grant or link shows it.
#[server(endpoint = "sharing/preview")]
pub async fn start_preview(id: String) -> Result<(), AppError> {
    let (kith, session, actor) = require_actor().await?;
    let owner = kith.own_record(&actor, kith_core::policy::Right::Manage).await.map_err(core)?;
    kith.preview(&owner, &id).await.map_err(core)?;
    session.insert(PREVIEW_KEY, id).await.map_err(|e| internal(&e.to_string()))?;
    leptos_axum::redirect("/");
    Ok(())
}

/// Back to one's own home page.
#[server(endpoint = "sharing/close_record")]
pub async fn close_shared_record() -> Result<(), AppError> {
    let session = session().await?;
    if session.remove::<kith_core::policy::LinkViewer>(LINK_VIEWER_KEY).await.ok().flatten().is_some() {
        // A link viewer has no account: closing the record ends their visit.
        session.flush().await.map_err(|e| internal(&e.to_string()))?;
        leptos_axum::redirect("/sign-in");
        return Ok(());
    }
    let _ = session.remove::<String>(CURRENT_RECORD_KEY).await;
    if session.remove::<String>(PREVIEW_KEY).await.ok().flatten().is_some() {
        leptos_axum::redirect("/sharing");
        return Ok(());
    }
    leptos_axum::redirect("/");
    Ok(())
}

#[server(endpoint = "sharing/view")]
pub async fn get_sharing() -> Result<SharingView, AppError> {
    let (kith, session, access) = super::record::record(kith_core::policy::Right::Manage).await?;
    let mut view = kith.sharing_view(&access).await.map_err(core)?;
    // Shown once: taken out of the session as they are shown.
    view.new_link = session.remove(NEW_LINK_KEY).await.ok().flatten();
    view.new_invitation = session.remove(NEW_INVITATION_KEY).await.ok().flatten();
    Ok(view)
}

/// Session key carrying a just-made invitation to the page that shows it,
/// for browsers without JavaScript (as `NEW_LINK_KEY`).
#[cfg(feature = "ssr")]
const NEW_INVITATION_KEY: &str = "new_invitation";

#[cfg(feature = "ssr")]
fn public_url() -> String {
    use_context::<PublicUrl>().map(|p| p.0).unwrap_or_else(|| "http://127.0.0.1:3000".into())
}

/// Hands a just-made invitation to the page: in the reply (with
/// JavaScript), or through the session and a redirect (without).
#[cfg(feature = "ssr")]
async fn show_invitation(made: NewInvitation) -> Result<NewInvitation, AppError> {
    if super::ssr::accepts_html().await {
        let session = session().await?;
        session.insert(NEW_INVITATION_KEY, made.clone()).await.map_err(|e| internal(&e.to_string()))?;
        leptos_axum::redirect("/sharing#new-invitation");
    }
    Ok(made)
}

/// Session key carrying a just-made link to the page that shows it, for
/// browsers without JavaScript (the form post is redirected back). It is
/// removed when shown; the link table itself holds only the token's hash.
#[cfg(feature = "ssr")]
const NEW_LINK_KEY: &str = "new_link";

#[server(endpoint = "sharing/create_grant")]
#[allow(clippy::too_many_arguments)]
pub async fn create_grant(
    email: String,
    role: String,
    scope: String,
    #[server(default)] labels: Vec<String>,
    #[server(default)] kinds: Vec<String>,
    #[server(default)] entries: Vec<String>,
    #[server(default)] comment: Option<String>,
    #[server(default)] contribute: Option<String>,
    #[server(default)] act_for: Option<String>,
    #[server(default)] expires_in_days: String,
) -> Result<NewInvitation, AppError> {
    let (kith, _, access) = super::record::record(kith_core::policy::Right::Manage).await?;
    let (_, _, actor) = require_actor().await?;
    let days = expires_in_days.trim();
    let expires = if days.is_empty() { None } else { Some(days.parse::<i64>().map_err(|_| AppError::field("expires_in_days", "Enter a number of days"))?) };
    let input = kith_core::sharing::GrantInput {
        email,
        role,
        scope: scope_from(&scope, labels, kinds, entries),
        comment: comment.is_some(),
        contribute: contribute.is_some(),
        act_for: act_for.is_some(),
        expires_in_days: expires,
    };
    let made = kith.create_grant(&access, &actor, input, &public_url()).await.map_err(core)?;
    show_invitation(made).await
}

/// A new invitation for a grant nobody has accepted; the old one stops working.
#[server(endpoint = "sharing/new_invitation")]
pub async fn reissue_invitation(id: String) -> Result<NewInvitation, AppError> {
    let (kith, _, access) = super::record::record(kith_core::policy::Right::Manage).await?;
    let made = kith.new_invitation(&access, &id, &public_url()).await.map_err(core)?;
    show_invitation(made).await
}

/// What an invitation offers. Public: whoever holds the link may see what
/// it is for. Someone not signed in has the invitation kept in their session
/// (the token's hash, not the token), so that signing in (or up) brings them
/// back to it; the page then has no token, and accepting uses the session's.
#[server(endpoint = "sharing/invitation")]
pub async fn get_invitation(#[server(default)] token: String) -> Result<(String, InvitationView), AppError> {
    use kith_core::sharing::InvitationKey;
    let kith = super::ssr::kith()?;
    let session = session().await?;
    let kept = super::ssr::pending_invitation(&session).await;
    let key = InvitationKey::presented(&token, &kept);
    let user_id: Option<String> = session.get(kith_core::session_store::USER_ID_KEY).await.ok().flatten();
    let actor = match user_id {
        Some(id) => kith.actor(&id).await.map_err(core)?,
        None => None,
    };
    let origin = super::ssr::origin().await;
    let view = match kith.invitation(key, actor.as_ref(), &origin).await {
        Ok(v) => v,
        Err(e) => {
            // An unusable invitation must not bring them back here at every sign-in.
            let _ = session.remove::<String>(super::ssr::PENDING_INVITE_KEY).await;
            return Err(core(e));
        }
    };
    if actor.is_none() {
        session.insert(super::ssr::PENDING_INVITE_KEY, key.hashed()).await.map_err(|e| internal(&e.to_string()))?;
    }
    Ok((token, view))
}

/// "Not now": the invitation stays usable, but signing in no longer leads to it.
#[server(endpoint = "sharing/forget_invitation")]
pub async fn forget_invitation() -> Result<(), AppError> {
    let session = session().await?;
    let _ = session.remove::<String>(super::ssr::PENDING_INVITE_KEY).await;
    leptos_axum::redirect("/");
    Ok(())
}

/// The signed-in person accepts an invitation (its token, or with none the
/// one their session kept); the record is then on screen.
#[server(endpoint = "sharing/accept_invitation")]
pub async fn accept_invitation(#[server(default)] token: String) -> Result<(), AppError> {
    use kith_core::sharing::InvitationKey;
    let (kith, session, actor) = require_actor().await?;
    let origin = super::ssr::origin().await;
    let kept = super::ssr::pending_invitation(&session).await;
    let key = InvitationKey::presented(&token, &kept);
    let patient_id = kith.accept_invitation(&actor, key, &origin).await.map_err(core)?;
    let _ = session.remove::<String>(super::ssr::PENDING_INVITE_KEY).await;
    session.insert(CURRENT_RECORD_KEY, patient_id).await.map_err(|e| internal(&e.to_string()))?;
    leptos_axum::redirect("/");
    Ok(())
}

#[server(endpoint = "sharing/revoke_grant")]
pub async fn revoke_grant(id: String) -> Result<(), AppError> {
    let (kith, _, access) = super::record::record(kith_core::policy::Right::Manage).await?;
    let also = kith.revoke_grant(&access, &id).await.map_err(core)?;
    leptos_axum::redirect(if also > 0 { "/sharing?done=revoked-with-shares" } else { "/sharing?done=revoked" });
    Ok(())
}

/// The patient renews a family carer's access for another 12 months.
#[server(endpoint = "sharing/renew_grant")]
pub async fn renew_grant(id: String) -> Result<(), AppError> {
    let (kith, _, access) = super::record::record(kith_core::policy::Right::Manage).await?;
    kith.renew_carer_grant(&access, &id).await.map_err(core)?;
    leptos_axum::redirect("/sharing?done=renewed");
    Ok(())
}

// One argument per field of the form.
#[allow(clippy::too_many_arguments)]
#[server(endpoint = "sharing/create_link")]
pub async fn create_link(
    name: String,
    scope: String,
    #[server(default)] labels: Vec<String>,
    #[server(default)] kinds: Vec<String>,
    #[server(default)] entries: Vec<String>,
    #[server(default)] expires_in_hours: String,
    #[server(default)] passcode: String,
    #[server(default)] single_use: Option<String>,
) -> Result<NewLink, AppError> {
    let (kith, _, access) = super::record::record(kith_core::policy::Right::Manage).await?;
    let (_, _, actor) = require_actor().await?;
    let hours = expires_in_hours.trim();
    let hours = if hours.is_empty() { None } else { Some(hours.parse::<i64>().map_err(|_| AppError::field("expires_in_hours", "Enter a number of hours"))?) };
    let public_url = public_url();
    let input = kith_core::sharing::LinkInput {
        name,
        scope: scope_from(&scope, labels, kinds, entries),
        expires_in_hours: hours,
        passcode: Some(passcode),
        single_use: single_use.is_some(),
    };
    let made = kith.create_link(&access, &actor, input, &public_url).await.map_err(core)?;
    if super::ssr::accepts_html().await {
        let session = session().await?;
        session.insert(NEW_LINK_KEY, made.clone()).await.map_err(|e| internal(&e.to_string()))?;
        leptos_axum::redirect("/sharing#new-link");
    }
    Ok(made)
}

#[server(endpoint = "sharing/revoke_link")]
pub async fn revoke_link(id: String) -> Result<(), AppError> {
    let (kith, _, access) = super::record::record(kith_core::policy::Right::Manage).await?;
    kith.revoke_link(&access, &id).await.map_err(core)?;
    leptos_axum::redirect("/sharing?done=revoked");
    Ok(())
}

/// Whether a link asks for a passcode. Public: anyone holding a link may ask.
#[server(endpoint = "sharing/link_prompt")]
pub async fn link_prompt(token: String) -> Result<bool, AppError> {
    let kith = super::ssr::kith()?;
    kith.link_needs_passcode(&token).await.map_err(core)
}

/// Opens a shared link for this browser session. Public by design.
#[server(endpoint = "sharing/open_link")]
pub async fn open_link(token: String, #[server(default)] passcode: String, name: String, role: String, organisation: String) -> Result<(), AppError> {
    let kith = super::ssr::kith()?;
    let session = session().await?;
    let origin = super::ssr::origin().await;
    let viewer = kith.open_link(&token, &passcode, &name, &role, &organisation, &origin).await.map_err(core)?;
    session.cycle_id().await.map_err(|e| internal(&e.to_string()))?;
    let _ = session.remove::<String>(kith_core::session_store::USER_ID_KEY).await;
    session.insert(LINK_VIEWER_KEY, viewer).await.map_err(|e| internal(&e.to_string()))?;
    leptos_axum::redirect("/");
    Ok(())
}

#[server(endpoint = "sharing/relabel_entry")]
pub async fn relabel_entry(entry_id: String, label: String) -> Result<(), AppError> {
    let (kith, _, access) = super::record::record(kith_core::policy::Right::Manage).await?;
    kith.relabel_entry(&access, &entry_id, &label).await.map_err(core)?;
    leptos_axum::redirect(&format!("/entries/{entry_id}?relabelled=1"));
    Ok(())
}

/// The deployment's public address, for building link URLs (provided by the server).
#[derive(Clone, Debug)]
pub struct PublicUrl(pub String);

/// Messages for the patient (first views by others, emergency access, locked
/// links), newest first; empty for anyone who does not manage the record.
#[server(endpoint = "sharing/notifications")]
pub async fn get_notifications() -> Result<Vec<(String, String)>, AppError> {
    let Ok((kith, _, access)) = super::record::record(kith_core::policy::Right::Manage).await else { return Ok(vec![]) };
    let mut list = kith.notifications(&access).await.unwrap_or_default();
    list.truncate(5);
    Ok(list)
}
