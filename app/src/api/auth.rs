use kith_types::{AppError, Me};
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
    start_session(&session, &actor).await?;
    leptos_axum::redirect("/");
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
    let actor = kith
        .create_user(kith_core::NewUser { name, email, password, role, nhs_number, birth_date, organisation })
        .await
        .map_err(core)?;
    start_session(&session, &actor).await?;
    leptos_axum::redirect("/");
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
    kith.change_password(&actor, &current_password, &new_password, &confirm_password, &keep)
        .await
        .map_err(core)?;
    leptos_axum::redirect("/account?password_changed=1");
    Ok(())
}

/// Resets the idle timer ("Stay signed in").
#[server(endpoint = "keep_alive")]
pub async fn keep_alive() -> Result<(), AppError> {
    let (_, session, _) = require_actor().await?;
    // Touching the session makes tower-sessions save it with a new expiry.
    session
        .insert("last_active", chrono_now())
        .await
        .map_err(|e| internal(&format!("session write: {e}")))?;
    Ok(())
}

#[cfg(feature = "ssr")]
fn chrono_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}
