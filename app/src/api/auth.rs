use kith_types::{AppError, Me, TwoStepView};
use leptos::prelude::*;

#[cfg(feature = "ssr")]
use super::ssr::{core, internal, require_actor, session, start_session};

/// Who is signed in, or None. Never fails for want of a session.
#[server(endpoint = "current_user")]
pub async fn current_user() -> Result<Option<Me>, AppError> {
    use kith_core::policy::{LinkViewer, Principal, Right, Via};
    use kith_core::session_store::USER_ID_KEY;
    use kith_types::sharing::Viewing;
    let kith = super::ssr::kith()?;
    let session = session().await?;
    // Someone who opened a shared link: no account, one record.
    if let Ok(Some(v)) = session.get::<LinkViewer>(super::ssr::LINK_VIEWER_KEY).await {
        let patient = v.patient_id.clone();
        let name = format!("{} ({}, {})", v.name, v.role, v.organisation);
        let Ok(access) = kith.open_patient(&Principal::LinkViewer(v), &patient, Right::Read).await else {
            return Ok(None);
        };
        let patient_name = kith.patient_name(&access).await.map_err(core)?;
        return Ok(Some(Me {
            name,
            email: String::new(),
            role: kith_types::Role::Clinician,
            patient: None,
            idle_timeout_minutes: kith.settings.session_idle_minutes,
            viewing: Some(Viewing { patient_name, how: "through a shared link".into(), partial: true, can_manage: false }),
            break_glass: false,
            break_glass_unverified: false,
            email_confirmed: false,
            can_email: false,
        }));
    }
    let user_id: Option<String> = session.get(USER_ID_KEY).await.map_err(|e| internal(&format!("session read: {e}")))?;
    let Some(user_id) = user_id else { return Ok(None) };
    let Some(actor) = kith.actor(&user_id).await.map_err(core)? else { return Ok(None) };
    let mut me = kith.me(&actor).await.map_err(core)?;
    if let Ok(Some(share)) = session.get::<String>(super::ssr::PREVIEW_KEY).await {
        if let Ok(owner) = kith.own_record(&actor, Right::Manage).await {
            if kith.preview(&owner, &share).await.is_ok() {
                me.viewing = Some(Viewing {
                    patient_name: me.name.clone(),
                    how: "previewed as the person or link you chose sees it".into(),
                    partial: true,
                    can_manage: false,
                });
                return Ok(Some(me));
            }
        }
    }
    let chosen: Option<String> = session.get(super::ssr::CURRENT_RECORD_KEY).await.ok().flatten();
    if let Some(patient) = chosen {
        // Re-checked on every request: a revoked grant stops here.
        match kith.open_patient(&Principal::User(actor.clone()), &patient, Right::Read).await {
            Ok(access) => {
                let act_for = matches!(access.via(), Via::Grant { act_for: true, .. });
                let emergency = matches!(access.via(), Via::BreakGlass { .. });
                me.viewing = Some(Viewing {
                    patient_name: kith.patient_name(&access).await.map_err(core)?,
                    how: if act_for {
                        "as their carer".into()
                    } else if emergency {
                        "through emergency access: the patient has been told, and this is in their access log".into()
                    } else {
                        "shared with you".into()
                    },
                    partial: access.is_partial() && !act_for,
                    can_manage: act_for,
                });
            }
            Err(_) => {
                let _ = session.remove::<String>(super::ssr::CURRENT_RECORD_KEY).await;
            }
        }
    }
    Ok(Some(me))
}

#[server(endpoint = "sign_in")]
pub async fn sign_in(email: String, password: String) -> Result<(), AppError> {
    let kith = super::ssr::kith()?;
    let session = session().await?;
    let origin = super::ssr::origin().await;
    let actor = kith.sign_in_from(&email, &password, &origin).await.map_err(core)?;
    if kith.two_step_enabled(&actor.user_id).await.map_err(core)? {
        // The password was right; the session belongs to nobody until the
        // second step is done too.
        session.cycle_id().await.map_err(|e| internal(&format!("session cycle: {e}")))?;
        session.insert(PENDING_TWO_STEP_KEY, (actor.user_id.clone(), 0u32)).await.map_err(|e| internal(&format!("session write: {e}")))?;
        leptos_axum::redirect("/sign-in/code");
        return Ok(());
    }
    let next = super::ssr::finish_password_sign_in(&kith, &session, &actor).await?;
    leptos_axum::redirect(next);
    Ok(())
}

/// Session key: (user id, wrong codes so far) of someone who gave the right
/// password and still owes the second step.
#[cfg(feature = "ssr")]
const PENDING_TWO_STEP_KEY: &str = "pending_two_step";

/// Wrong codes before the password must be given again.
#[cfg(feature = "ssr")]
const CODE_ATTEMPTS: u32 = 5;

/// The second step of signing in: a code from the authenticator app, or a
/// recovery code.
#[server(endpoint = "sign_in_code")]
pub async fn sign_in_code(code: String) -> Result<(), AppError> {
    let kith = super::ssr::kith()?;
    let session = session().await?;
    let Some((user_id, wrong)) = session.get::<(String, u32)>(PENDING_TWO_STEP_KEY).await.ok().flatten() else {
        return Err(AppError::Conflict("Sign in with your email address and password first.".into()));
    };
    let origin = super::ssr::origin().await;
    match kith.verify_second_step(&user_id, &code, &origin).await {
        Ok(()) => {
            let _ = session.remove::<(String, u32)>(PENDING_TWO_STEP_KEY).await;
            let actor = kith.actor(&user_id).await.map_err(core)?.ok_or(AppError::Unauthenticated)?;
            let next = super::ssr::finish_password_sign_in(&kith, &session, &actor).await?;
            leptos_axum::redirect(next);
            Ok(())
        }
        Err(e) => {
            if wrong + 1 >= CODE_ATTEMPTS {
                let _ = session.remove::<(String, u32)>(PENDING_TWO_STEP_KEY).await;
                return Err(AppError::Conflict("Too many wrong codes. Sign in with your password again.".into()));
            }
            let _ = session.insert(PENDING_TWO_STEP_KEY, (user_id, wrong + 1)).await;
            Err(core(e))
        }
    }
}

/// The Account page's two-step section. Recovery codes just made are shown
/// once: taken out of the session as they are shown.
#[server(endpoint = "two_step/status")]
pub async fn get_two_step() -> Result<TwoStepView, AppError> {
    let (kith, session, actor) = require_actor().await?;
    let me = kith.me(&actor).await.map_err(core)?;
    let enabled = kith.two_step_enabled(&actor.user_id).await.map_err(core)?;
    Ok(TwoStepView {
        enabled,
        required: kith.two_step_required(&actor),
        pending: if enabled { None } else { kith.pending_totp(&actor, &me.email).await.map_err(core)? },
        codes_left: if enabled { kith.recovery_codes_left(&actor.user_id).await.map_err(core)? } else { 0 },
        new_codes: session.remove(NEW_CODES_KEY).await.ok().flatten().unwrap_or_default(),
    })
}

#[cfg(feature = "ssr")]
const NEW_CODES_KEY: &str = "new_recovery_codes";

/// Starts set-up: a secret (and QR code) for an authenticator app.
#[server(endpoint = "two_step/begin")]
pub async fn begin_two_step() -> Result<(), AppError> {
    let (kith, _, actor) = require_actor().await?;
    let me = kith.me(&actor).await.map_err(core)?;
    kith.begin_totp(&actor, &me.email).await.map_err(core)?;
    leptos_axum::redirect("/account#two-step");
    Ok(())
}

/// Finishes set-up with a code from the app; the recovery codes are shown next.
#[server(endpoint = "two_step/confirm")]
pub async fn confirm_two_step(code: String) -> Result<(), AppError> {
    let (kith, session, actor) = require_actor().await?;
    let codes = kith.confirm_totp(&actor, &code, &super::ssr::origin().await).await.map_err(core)?;
    session.insert(NEW_CODES_KEY, codes).await.map_err(|e| internal(&format!("session write: {e}")))?;
    leptos_axum::redirect("/account#two-step");
    Ok(())
}

#[server(endpoint = "two_step/disable")]
pub async fn disable_two_step(password: String) -> Result<(), AppError> {
    let (kith, _, actor) = require_actor().await?;
    kith.disable_totp(&actor, &password, &super::ssr::origin().await).await.map_err(core)?;
    leptos_axum::redirect("/account#two-step");
    Ok(())
}

#[server(endpoint = "sign_up")]
pub async fn sign_up(
    name: String,
    email: String,
    password: String,
    role: String,
    #[server(default)] nhs_number: String,
    #[server(default)] birth_date: String,
    #[server(default)] organisation: String,
) -> Result<(), AppError> {
    let kith = super::ssr::kith()?;
    let session = session().await?;
    let actor = kith.create_user(kith_core::NewUser { name, email, password, role, nhs_number, birth_date, organisation }).await.map_err(core)?;
    start_session(&session, &actor).await?;
    // Kith emails nothing else until the address is confirmed.
    if kith.can_email() {
        if let Err(e) = kith.send_email_confirmation(&actor).await {
            tracing::warn!(error = %e, "email confirmation not sent at sign-up");
        }
    }
    leptos_axum::redirect(super::ssr::landing(&session).await);
    Ok(())
}

#[server(endpoint = "sign_out")]
pub async fn sign_out() -> Result<(), AppError> {
    let session = session().await?;
    // Deletes the session on the server and expires the cookie.
    session.flush().await.map_err(|e| internal(&format!("session flush: {e}")))?;
    leptos_axum::redirect("/sign-in?signed_out=1");
    Ok(())
}

#[server(endpoint = "change_password")]
pub async fn change_password(current_password: String, new_password: String, confirm_password: String) -> Result<(), AppError> {
    let (kith, session, actor) = require_actor().await?;
    let keep = session.id().map(|id| id.to_string()).unwrap_or_default();
    kith.change_password(&actor, &current_password, &new_password, &confirm_password, &keep, &super::ssr::origin().await).await.map_err(core)?;
    leptos_axum::redirect("/account?password_changed=1");
    Ok(())
}

/// Resets the idle timer ("Stay signed in").
#[server(endpoint = "keep_alive")]
pub async fn keep_alive() -> Result<(), AppError> {
    let (_, session, _) = require_actor().await?;
    // Touching the session makes tower-sessions save it with a new expiry.
    session.insert(kith_core::session_store::LAST_ACTIVE_KEY, chrono_now()).await.map_err(|e| internal(&format!("session write: {e}")))?;
    Ok(())
}

#[cfg(feature = "ssr")]
fn chrono_now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or_default()
}

/// The identity providers this deployment offers (the server provides it).
#[derive(Clone, Debug, Default)]
pub struct SignInProviders(pub Vec<kith_types::SignInProvider>);

/// What the sign-in page shows besides the form: a button per provider, and
/// the message a provider sign-in left (shown once).
#[server(endpoint = "sign_in_options")]
pub async fn sign_in_options() -> Result<kith_types::SignInOptions, AppError> {
    let session = session().await?;
    let providers = use_context::<SignInProviders>().unwrap_or_default().0;
    let notice = session.remove::<String>(super::ssr::SIGN_IN_NOTICE_KEY).await.ok().flatten();
    Ok(kith_types::SignInOptions { providers, notice })
}

/// The Account page's "How you sign in": methods, what could be linked, and
/// the browsers signed in.
#[server(endpoint = "sign_in_methods")]
pub async fn get_sign_in_methods() -> Result<kith_types::SignInMethodsView, AppError> {
    let (kith, session, actor) = require_actor().await?;
    let providers = use_context::<SignInProviders>().unwrap_or_default().0;
    let mut methods = kith.sign_in_methods(&actor).await.map_err(core)?;
    for m in methods.iter_mut().filter(|m| !m.id.is_empty()) {
        if let Some(p) = providers.iter().find(|p| p.id == m.kind) {
            m.kind = p.name.clone();
        }
    }
    let linked: Vec<String> = kith.sign_in_methods(&actor).await.map_err(core)?.into_iter().map(|m| m.kind).collect();
    let staff = actor.role == kith_types::Role::Clinician;
    let can_link = providers.into_iter().filter(|p| p.for_staff == staff && !linked.contains(&p.id)).collect();
    let current = session.id().map(|id| id.to_string()).unwrap_or_default();
    let sessions = kith.sessions(&actor, &current).await.map_err(core)?;
    let notice = session.remove::<String>(super::ssr::SIGN_IN_NOTICE_KEY).await.ok().flatten();
    Ok(kith_types::SignInMethodsView { methods, can_link, sessions, notice })
}

#[server(endpoint = "sign_in_methods/remove")]
pub async fn remove_sign_in_method(method: String) -> Result<(), AppError> {
    let (kith, _, actor) = require_actor().await?;
    kith.remove_sign_in_method(&actor, &method, &super::ssr::origin().await).await.map_err(core)?;
    leptos_axum::redirect("/account#sign-in-methods");
    Ok(())
}

/// Ends every session of this account, this one too.
#[server(endpoint = "sign_out_everywhere")]
pub async fn sign_out_everywhere() -> Result<(), AppError> {
    let (kith, session, actor) = require_actor().await?;
    kith.sign_out_everywhere(&actor, &super::ssr::origin().await).await.map_err(core)?;
    session.flush().await.map_err(|e| internal(&format!("session flush: {e}")))?;
    leptos_axum::redirect("/sign-in?signed_out=everywhere");
    Ok(())
}

/// Adds a password to an account that has only provider sign-ins.
#[server(endpoint = "add_password")]
pub async fn add_password(added_password: String, added_password_again: String) -> Result<(), AppError> {
    let (kith, session, actor) = require_actor().await?;
    kith.add_password(&actor, &added_password, &added_password_again, &super::ssr::origin().await).await.map_err(core)?;
    let _ = session.insert(super::ssr::SIGN_IN_NOTICE_KEY, "Your password is set: you can now sign in with your email address and it.".to_string()).await;
    leptos_axum::redirect("/account#sign-in-methods");
    Ok(())
}

/// Emails the signed-in person a link to confirm their address (the
/// Account page's button; sign-up sends the first).
#[server(endpoint = "email/send_confirmation")]
pub async fn send_email_confirmation() -> Result<(), AppError> {
    let (kith, _, actor) = require_actor().await?;
    kith.send_email_confirmation(&actor).await.map_err(core)?;
    leptos_axum::redirect("/account?confirmation_sent=1#email");
    Ok(())
}

/// Changes the signed-in person's email address: a link to the new one
/// where Kith sends email (the address changes when it is used), at once
/// where it does not.
#[server(endpoint = "email/change")]
pub async fn change_email(new_email: String, #[server(default)] email_password: String) -> Result<(), AppError> {
    use kith_core::email_confirmation::EmailChange;
    let (kith, _, actor) = require_actor().await?;
    let done = kith.change_email(&actor, &new_email, &email_password, &super::ssr::origin().await).await.map_err(core)?;
    leptos_axum::redirect(match done {
        EmailChange::LinkSent => "/account?email_link_sent=1#email",
        EmailChange::Changed => "/account?email_changed=1#email",
    });
    Ok(())
}

/// What the page a confirmation link opens shows. Someone not signed in is
/// asked to; the session keeps the link's hash meanwhile, so signing in
/// brings them back to it (then `token` is empty).
#[server(endpoint = "email/confirmation")]
pub async fn get_email_confirmation(#[server(default)] token: String) -> Result<kith_types::EmailConfirmationView, AppError> {
    use kith_core::session_store::USER_ID_KEY;
    let kith = super::ssr::kith()?;
    let session = session().await?;
    let hash = confirmation_key(&session, &token).await;
    let user_id: Option<String> = session.get(USER_ID_KEY).await.ok().flatten();
    let actor = match user_id {
        Some(id) => kith.actor(&id).await.map_err(core)?,
        None => None,
    };
    match kith.email_confirmation(&hash, actor.as_ref()).await {
        Ok(v) => {
            match v {
                kith_types::EmailConfirmationView::SignIn => {
                    session.insert(super::ssr::PENDING_CONFIRM_KEY, hash).await.map_err(|e| internal(&e.to_string()))?;
                }
                // Not this account's: signing in again must not lead back here.
                kith_types::EmailConfirmationView::OtherAccount => {
                    let _ = session.remove::<String>(super::ssr::PENDING_CONFIRM_KEY).await;
                }
                kith_types::EmailConfirmationView::Ready { .. } => {}
            }
            Ok(v)
        }
        Err(e) => {
            // A dead link must not bring them back here at every sign-in.
            let _ = session.remove::<String>(super::ssr::PENDING_CONFIRM_KEY).await;
            Err(core(e))
        }
    }
}

/// Confirms the signed-in person's address with the link they opened.
#[server(endpoint = "email/confirm")]
pub async fn confirm_email(#[server(default)] token: String) -> Result<(), AppError> {
    let (kith, session, actor) = require_actor().await?;
    let hash = confirmation_key(&session, &token).await;
    let done = kith.confirm_email(&actor, &hash, &super::ssr::origin().await).await;
    let _ = session.remove::<String>(super::ssr::PENDING_CONFIRM_KEY).await;
    done.map_err(core)?;
    leptos_axum::redirect("/account?email_confirmed=1#email");
    Ok(())
}

/// The link a request presents: its token, or with none the hash the
/// session kept.
#[cfg(feature = "ssr")]
async fn confirmation_key(session: &tower_sessions::Session, token: &str) -> String {
    if token.trim().is_empty() {
        super::ssr::pending_confirmation(session).await
    } else {
        kith_core::email_confirmation::confirmation_hash(token)
    }
}

/// Whether "Forgot your password?" can email a link here.
#[server(endpoint = "password_reset/available")]
pub async fn password_reset_available() -> Result<bool, AppError> {
    Ok(super::ssr::kith()?.can_email())
}

/// Emails a link to set a new password, if an account has this address;
/// the page says the same either way.
#[server(endpoint = "password_reset/ask")]
pub async fn ask_password_reset(email: String) -> Result<(), AppError> {
    let kith = super::ssr::kith()?;
    kith.request_password_reset(&email, &super::ssr::origin().await).await.map_err(core)?;
    leptos_axum::redirect("/forgot-password?sent=1");
    Ok(())
}

/// Whether a link to set a new password still works (for its page).
#[server(endpoint = "password_reset/check")]
pub async fn check_password_reset(token: String) -> Result<(), AppError> {
    super::ssr::kith()?.check_password_reset(&token).await.map_err(core)
}

/// Sets a new password through the emailed link; every session of the
/// account ends, so the person signs in again with it.
#[server(endpoint = "password_reset/set")]
pub async fn reset_password(token: String, new_password: String, confirm_password: String) -> Result<(), AppError> {
    let kith = super::ssr::kith()?;
    kith.reset_password(&token, &new_password, &confirm_password, &super::ssr::origin().await).await.map_err(core)?;
    // This browser too starts afresh.
    if let Ok(session) = session().await {
        let _ = session.flush().await;
    }
    leptos_axum::redirect("/sign-in?done=password-reset");
    Ok(())
}
