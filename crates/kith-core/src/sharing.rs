//! Patient-controlled sharing: grants to people, links for clinicians without
//! an account, privacy labels. Every decision about access itself lives in
//! `policy`; this module only records what the patient chose.

use kith_types::record::{kind_title, label_title};
use kith_types::sharing::{GrantInfo, InvitationView, LinkInfo, NewInvitation, NewLink, SharedRecord, SharingView};
use kith_types::{AppError, Email, FieldError, Role};
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::audit::Disclosure;
use crate::policy::{require, require_whole, LinkViewer, Origin, RecordAccess, Right, Scope, Via};
use crate::{ms_to_uk, new_id, now_ms, password, store, Actor, CoreError, CoreResult, Kith};

/// How long before a family carer's access ends that the patient is asked
/// to review it.
pub(crate) const CARER_REVIEW_NOTICE_MS: i64 = 30 * 24 * 3_600_000;

/// Wrong passcodes before a link locks.
pub const LINK_PASSCODE_LIMIT: i64 = 5;
const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 24 * HOUR_MS;

#[derive(Clone, Debug)]
pub struct GrantInput {
    pub email: String,
    /// clinician or carer
    pub role: String,
    pub scope: Scope,
    pub comment: bool,
    pub contribute: bool,
    pub act_for: bool,
    /// Days until it ends; None: carers 365, clinicians no end.
    pub expires_in_days: Option<i64>,
}

pub struct LinkInput {
    pub name: String,
    pub scope: Scope,
    /// Default 24, at most 30 days.
    pub expires_in_hours: Option<i64>,
    pub passcode: Option<String>,
    pub single_use: bool,
}

pub(crate) fn token_hash(token: &str) -> String {
    Sha256::digest(token.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// An invitation as the person holding it presents it: the token from its
/// link, or (kept in their session while they sign in) only its hash, so
/// the sessions table holds nothing that accepts a grant. `Hashed` comes
/// from Kith's own session store, never from a request.
#[derive(Clone, Copy, Debug)]
pub enum InvitationKey<'a> {
    Token(&'a str),
    Hashed(&'a str),
}

impl<'a> InvitationKey<'a> {
    /// The invitation a request presents: the token it carries, or, with
    /// none, the hash its session kept (`kept`, empty when none).
    pub fn presented(token: &'a str, kept: &'a str) -> Self {
        if token.is_empty() {
            InvitationKey::Hashed(kept)
        } else {
            InvitationKey::Token(token)
        }
    }

    /// What the session keeps for it.
    pub fn hashed(&self) -> String {
        match self {
            InvitationKey::Token(t) => token_hash(t.trim()),
            InvitationKey::Hashed(h) => h.to_string(),
        }
    }
}

/// 256 bits of randomness, as hex; only its hash is stored.
pub(crate) fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn invitation_url(public_url: &str, token: &str) -> String {
    format!("{}/invite/{token}", public_url.trim_end_matches('/'))
}

const INVITATION_GONE: &str = "This invitation cannot be used: it has been accepted already, replaced by a newer one, withdrawn, or it has ended. Ask the person who sent it for a new one.";

/// "Whole record" / "Mental health entries, Medicines" — for people to read.
pub fn describe_scope(s: &Scope) -> String {
    if s.all {
        return "Whole record (except private entries)".into();
    }
    let mut parts: Vec<String> = s.labels.iter().map(|l| format!("{} entries", label_title(l))).collect();
    parts.extend(s.kinds.iter().map(|k| kind_title(k).to_string()));
    if !s.entries.is_empty() {
        parts.push(format!("{} chosen entries", s.entries.len()));
    }
    if parts.is_empty() {
        "Nothing".into()
    } else {
        parts.join(", ")
    }
}

fn describe_rights(comment: bool, contribute: bool, act_for: bool) -> String {
    if act_for {
        return "Act for the patient".into();
    }
    let mut r = vec!["View"];
    if comment {
        r.push("comment");
    }
    if contribute {
        r.push("contribute");
    }
    r.join(", ")
}

fn validate_scope(s: &Scope, field: &str) -> Result<(), AppError> {
    let known_label = |l: &String| kith_types::record::LABELS.iter().any(|(k, _)| k == l) && l != "private";
    let known_kind = |k: &String| kith_types::record::KINDS.iter().any(|(x, _)| x == k);
    if s.is_empty() {
        return Err(AppError::field(field, "Choose what to share: the whole record, some labels, or some kinds of entry"));
    }
    if !s.labels.iter().all(known_label) || !s.kinds.iter().all(known_kind) {
        return Err(AppError::field(field, "Choose labels and kinds from the list (private entries are never shared)"));
    }
    Ok(())
}

impl Kith {
    /// Chosen entries must be this record's, and never private ones.
    async fn check_chosen_entries(&self, access: &RecordAccess, scope: &Scope, errors: &mut Vec<FieldError>) -> CoreResult<()> {
        for id in &scope.entries {
            if store::entry_by_id(&self.db.pool, access.patient_id(), id, Some(&Scope::whole())).await?.is_none() {
                errors.push(FieldError { field: "scope".into(), message: "That entry cannot be shared (it is private, or not in your record)".into() });
                break;
            }
        }
        Ok(())
    }

    /// Shares the record with a person. Nobody sees anything through it until
    /// they accept the returned invitation while signed in: the email only
    /// says whom the patient meant, since Kith does not check that people
    /// own the address they sign up with.
    pub async fn create_grant(&self, access: &RecordAccess, by: &Actor, input: GrantInput, public_url: &str) -> CoreResult<NewInvitation> {
        require(access, Right::Manage)?;
        require_whole(access)?;
        let mut errors = Vec::new();
        let email = match Email::parse(&input.email) {
            Ok(e) => Some(e),
            Err(e) => {
                errors.push(FieldError { field: "email".into(), message: e.to_string() });
                None
            }
        };
        let role = match input.role.parse::<Role>() {
            Ok(r @ (Role::Clinician | Role::Carer)) => Some(r),
            _ => {
                errors.push(FieldError { field: "role".into(), message: "Choose a clinician or a family carer".into() });
                None
            }
        };
        if let Err(AppError::Validation { errors: e, .. }) = validate_scope(&input.scope, "scope") {
            errors.extend(e);
        }
        self.check_chosen_entries(access, &input.scope, &mut errors).await?;
        // Only the patient may let someone act for them; a carer acting for
        // the patient cannot pass that on.
        let owner = matches!(access.via(), Via::Owner);
        if input.act_for && (!owner || role != Some(Role::Carer)) {
            errors.push(FieldError { field: "act_for".into(), message: "Only the patient can let a family carer act for them".into() });
        }
        if let Some(days) = input.expires_in_days {
            if !(1..=3650).contains(&days) {
                errors.push(FieldError { field: "expires_in_days".into(), message: "Choose between 1 day and 10 years".into() });
            }
        }
        if !errors.is_empty() {
            return Err(AppError::Validation { errors, values: vec![("email".into(), input.email.clone())] }.into());
        }
        let (email, role) = (email.unwrap(), role.unwrap());
        let days = input.expires_in_days.or(if role == Role::Carer { Some(365) } else { None });
        let now = now_ms();
        // A carer acting for the patient gives no more than they have: what
        // they share ends when their own access does.
        let mut expires_at = days.map(|d| now + d * DAY_MS);
        let scope = if input.act_for { Scope::whole() } else { input.scope };
        let mut audited = self.audited(access).await?;
        // Asked inside the transaction: their access may have been stopped
        // since this request began.
        match delegate_access_ends(audited.conn(), access, now).await? {
            Delegate::NoLonger => return audited.fail(AppError::NotFound).await,
            Delegate::Ends(own_end) => expires_at = Some(expires_at.map_or(own_end, |e| e.min(own_end))),
            Delegate::NotOne | Delegate::NeverEnds => {}
        }
        let grant_id = new_id();
        let token = new_token();
        store::insert_grant(
            audited.conn(),
            access.patient_id(),
            &grant_id,
            email.as_str(),
            role.as_str(),
            &serde_json::to_string(&scope).map_err(|e| CoreError::Internal(e.to_string()))?,
            (input.comment || input.act_for, input.contribute || input.act_for, input.act_for),
            expires_at,
            &by.user_id,
            &token_hash(&token),
            now,
        )
        .await?;
        let what = format!("grant to {} ({}): {}", email.as_str(), role.as_str(), describe_scope(&scope));
        audited.commit(access, Disclosure { labels: scope.labels.clone(), ..Disclosure::new("share", what) }).await?;
        Ok(NewInvitation { email: email.as_str().to_string(), url: invitation_url(public_url, &token) })
    }

    /// A new invitation for a grant nobody has accepted yet (the patient lost
    /// the first, or sent it to the wrong place): the old one stops working.
    /// Someone acting for the patient may re-send only invitations they made,
    /// and never one that lets its holder act for her.
    pub async fn new_invitation(&self, access: &RecordAccess, grant_id: &str, public_url: &str) -> CoreResult<NewInvitation> {
        require(access, Right::Manage)?;
        require_whole(access)?;
        let token = new_token();
        let mut audited = self.audited(access).await?;
        let Some(g) = store::grants_of(audited.conn(), access.patient_id()).await?.into_iter().find(|g| g.id == grant_id) else {
            return audited.fail(AppError::NotFound).await;
        };
        if !may_resend(access, &g) {
            return audited.fail(AppError::NotFound).await;
        }
        if store::set_invite(audited.conn(), access.patient_id(), grant_id, &token_hash(&token)).await? == 0 {
            return audited.fail(AppError::Conflict("This invitation has been accepted or the sharing has stopped, so there is nothing to send.".into())).await;
        }
        audited.commit(access, Disclosure::new("share", format!("new invitation for the grant to {} ({})", g.grantee_email, g.grantee_role))).await?;
        Ok(NewInvitation { email: g.grantee_email, url: invitation_url(public_url, &token) })
    }

    /// What an invitation offers, for the page its link opens. The page
    /// names the patient and what is shared, so each opening is logged in
    /// the record's chain, as whoever opened it (signed in or not).
    pub async fn invitation(&self, key: InvitationKey<'_>, actor: Option<&Actor>, origin: &Origin) -> CoreResult<InvitationView> {
        let g = self.waiting_grant(key).await?;
        let signed_in_as = match actor {
            Some(a) => store::user_by_id(&self.db.pool, &a.user_id).await?.map(|u| format!("{} ({})", u.name, u.email)),
            None => None,
        };
        let mut opened = self.invitation_opened(&g.patient_id, &g.id, actor).await?;
        let Some(p) = store::patient_by_id(opened.conn(), &g.patient_id).await? else {
            opened.rollback().await?;
            return Err(AppError::NotFound.into());
        };
        let d = Disclosure::new("invitation", format!("invitation for {} ({}) opened", g.grantee_email, g.grantee_role));
        opened.commit_as(origin, d).await?;
        Ok(InvitationView {
            patient_name: p.name,
            email: g.grantee_email,
            role: g.grantee_role,
            scope: serde_json::from_str::<Scope>(&g.scope).map(|s| describe_scope(&s)).unwrap_or_default(),
            rights: describe_rights(g.can_comment != 0, g.can_contribute != 0, g.can_act_for != 0),
            expires: g.expires_at.map(ms_to_uk),
            signed_in_as,
        })
    }

    /// The grant an invitation token opens, while it can still be accepted.
    async fn waiting_grant(&self, key: InvitationKey<'_>) -> CoreResult<store::GrantRow> {
        let gone = || CoreError::User(AppError::Conflict(INVITATION_GONE.into()));
        let g = store::grant_by_invite(&self.db.pool, &key.hashed()).await?.ok_or_else(gone)?;
        if g.revoked_at.is_some() || g.expires_at.is_some_and(|e| e <= now_ms()) {
            return Err(gone());
        }
        Ok(g)
    }

    /// The signed-in person accepts an invitation: the grant is theirs from
    /// now on, and the invitation cannot be used again. The patient is told
    /// who accepted it, so an invitation that reached the wrong person shows.
    /// Returns the record's patient id.
    pub async fn accept_invitation(&self, actor: &Actor, key: InvitationKey<'_>, origin: &Origin) -> CoreResult<String> {
        let g = self.waiting_grant(key).await?;
        if store::patient_by_user(&self.db.pool, &actor.user_id).await?.is_some_and(|p| p.id == g.patient_id) {
            return Err(AppError::Conflict("This invitation is to your own record. Give it to the person you meant to share with.".into()).into());
        }
        // A carer acting for the patient cannot share with themselves (and
        // so outlast their own access, or widen it).
        if g.created_by == actor.user_id {
            return Err(AppError::Conflict("You made this invitation. Give it to the person you meant to share with.".into()).into());
        }
        match (g.grantee_role.as_str(), actor.role) {
            ("clinician", Role::Clinician) | ("carer", Role::Carer | Role::Patient) => {}
            ("clinician", _) => {
                return Err(AppError::Conflict(
                    "This invitation is for a clinician or care professional. Sign in with a clinician's account to accept it.".into(),
                )
                .into())
            }
            _ => {
                return Err(
                    AppError::Conflict("This invitation is for a family carer. Sign in with your own account, not a clinician's, to accept it.".into()).into()
                )
            }
        }
        let user = store::user_by_id(&self.db.pool, &actor.user_id).await?.ok_or(AppError::Unauthenticated)?;
        let now = now_ms();
        let mut change = self.grant_change(&g.patient_id, actor, &g.id).await?;
        if !store::accept_grant(change.conn(), &g.patient_id, &g.id, &key.hashed(), &actor.user_id, now).await? {
            change.rollback().await?;
            return Err(AppError::Conflict(INVITATION_GONE.into()).into());
        }
        let who = format!("{} ({})", actor.name, user.email);
        let message =
            format!("{who} accepted your invitation to share with {}. If that is not who you meant, stop sharing on the Sharing page.", g.grantee_email);
        store::insert_notification(change.conn(), &g.patient_id, &new_id(), &message, now).await?;
        change.commit_as(origin, Disclosure::new("share", format!("invitation for {} ({}) accepted by {who}", g.grantee_email, g.grantee_role))).await?;
        tracing::info!(user_id = %actor.user_id, "invitation accepted");
        Ok(g.patient_id)
    }

    /// Stops a grant at once. When it was the last that let a family carer
    /// act for the patient, everything that carer shared on her behalf stops
    /// with it, as it would have when their access ran out (see
    /// `delegate_access_ends`). Returns how many of those shares it stopped.
    pub async fn revoke_grant(&self, access: &RecordAccess, grant_id: &str) -> CoreResult<u64> {
        require(access, Right::Manage)?;
        require_whole(access)?;
        let now = now_ms();
        let mut audited = self.audited(access).await?;
        let Some(g) = store::grants_of(audited.conn(), access.patient_id()).await?.into_iter().find(|g| g.id == grant_id) else {
            return audited.fail(AppError::NotFound).await;
        };
        if !may_stop(access, &g) {
            return audited.fail(AppError::NotFound).await;
        }
        if let Some(carer) = g.grantee_user_id.as_deref().filter(|_| g.can_act_for != 0) {
            // Two of one carer's grants stopped at once must not each leave
            // the other to stop what the carer shared.
            store::lock_grants_of_user(audited.conn(), self.db.backend(), access.patient_id(), carer).await?;
        }
        if store::revoke_grant(audited.conn(), access.patient_id(), grant_id, now).await? == 0 {
            return audited.fail(AppError::NotFound).await;
        }
        let mut what = format!("grant to {} ({})", g.grantee_email, g.grantee_role);
        let mut also = 0;
        if let (true, Some(carer)) = (g.can_act_for != 0, g.grantee_user_id.as_deref()) {
            let still_acting = store::active_grants_for(audited.conn(), access.patient_id(), carer, now).await?.iter().any(|g| g.can_act_for != 0);
            if !still_acting {
                let (grants, links) = store::revoke_shares_made_by(audited.conn(), access.patient_id(), carer, now).await?;
                if grants + links > 0 {
                    what.push_str(&format!(", and what they shared for the patient: {}", count_shares(grants, links)));
                }
                also = grants + links;
            }
        }
        audited.commit(access, Disclosure::new("revoke", what)).await?;
        Ok(also)
    }

    /// Makes a link; the returned address is shown once and never stored.
    pub async fn create_link(&self, access: &RecordAccess, by: &Actor, input: LinkInput, public_url: &str) -> CoreResult<NewLink> {
        require(access, Right::Manage)?;
        require_whole(access)?;
        let mut errors = Vec::new();
        if let Err(AppError::Validation { errors: e, .. }) = validate_scope(&input.scope, "scope") {
            errors.extend(e);
        }
        self.check_chosen_entries(access, &input.scope, &mut errors).await?;
        let hours = input.expires_in_hours.unwrap_or(24);
        if !(1..=30 * 24).contains(&hours) {
            errors.push(FieldError { field: "expires_in_hours".into(), message: "A link lasts between 1 hour and 30 days".into() });
        }
        let passcode = input.passcode.filter(|p| !p.trim().is_empty());
        if let Some(p) = &passcode {
            if p.trim().chars().count() < 4 {
                errors.push(FieldError { field: "passcode".into(), message: "Use a passcode of at least 4 characters".into() });
            }
        }
        if !errors.is_empty() {
            return Err(AppError::Validation { errors, values: vec![("name".into(), input.name.clone())] }.into());
        }
        let token = new_token();
        let passcode_hash = match passcode {
            Some(p) => Some(password::hash(p.trim().to_string()).await?),
            None => None,
        };
        let now = now_ms();
        let name = if input.name.trim().is_empty() { "Shared link".to_string() } else { input.name.trim().to_string() };
        let mut audited = self.audited(access).await?;
        // A link made by someone acting for the patient ends with their
        // access (asked inside the transaction, as for grants).
        let expires_at = match delegate_access_ends(audited.conn(), access, now).await? {
            Delegate::NoLonger => return audited.fail(AppError::NotFound).await,
            Delegate::Ends(own_end) => (now + hours * HOUR_MS).min(own_end),
            Delegate::NotOne | Delegate::NeverEnds => now + hours * HOUR_MS,
        };
        store::insert_share_link(
            audited.conn(),
            access.patient_id(),
            &new_id(),
            &token_hash(&token),
            &name,
            &serde_json::to_string(&input.scope).map_err(|e| CoreError::Internal(e.to_string()))?,
            passcode_hash.as_deref(),
            input.single_use,
            expires_at,
            &by.user_id,
            now,
        )
        .await?;
        let what = format!("link \"{name}\": {}", describe_scope(&input.scope));
        audited.commit(access, Disclosure { labels: input.scope.labels.clone(), ..Disclosure::new("share", what) }).await?;
        let url = format!("{}/l/{token}", public_url.trim_end_matches('/'));
        Ok(NewLink { qr_svg: crate::qr::svg(&url), url, expires: ms_to_uk(expires_at) })
    }

    pub async fn revoke_link(&self, access: &RecordAccess, link_id: &str) -> CoreResult<()> {
        require(access, Right::Manage)?;
        require_whole(access)?;
        let mut audited = self.audited(access).await?;
        if store::revoke_share_link(audited.conn(), access.patient_id(), link_id, now_ms()).await? == 0 {
            return audited.fail(AppError::NotFound).await;
        }
        audited.commit(access, Disclosure::new("revoke", format!("link {link_id}"))).await?;
        Ok(())
    }

    /// Whether a link needs a passcode; NotFound when it cannot be opened.
    pub async fn link_needs_passcode(&self, token: &str) -> CoreResult<bool> {
        let link = store::share_link_by_token_hash(&self.db.pool, &token_hash(token)).await?.ok_or(AppError::NotFound)?;
        let now = now_ms();
        if link.revoked_at.is_some() || link.locked_at.is_some() || link.expires_at <= now || (link.single_use != 0 && link.used_at.is_some()) {
            return Err(AppError::NotFound.into());
        }
        Ok(link.passcode_hash.is_some())
    }

    /// Opens a link: checks the passcode (locking the link after too many
    /// wrong ones, and telling the patient) and records who the viewer said
    /// they are.
    pub async fn open_link(&self, token: &str, passcode: &str, name: &str, role: &str, organisation: &str, origin: &Origin) -> CoreResult<LinkViewer> {
        let mut errors = Vec::new();
        for (field, value, label) in [("name", name, "your name"), ("role", role, "your role"), ("organisation", organisation, "your organisation")] {
            if value.trim().is_empty() {
                errors.push(FieldError { field: field.into(), message: format!("Enter {label}") });
            }
        }
        let values =
            vec![("name".to_string(), name.to_string()), ("role".to_string(), role.to_string()), ("organisation".to_string(), organisation.to_string())];
        let link = store::share_link_by_token_hash(&self.db.pool, &token_hash(token)).await?.ok_or(AppError::NotFound)?;
        let now = now_ms();
        if link.revoked_at.is_some() || link.expires_at <= now {
            return Err(AppError::NotFound.into());
        }
        if link.locked_at.is_some() {
            return Err(AppError::Conflict("This link is locked because of too many wrong passcodes. Ask the patient for a new one.".into()).into());
        }
        if let Some(hash) = &link.passcode_hash {
            if !password::verify(passcode.trim().to_string(), Some(hash.clone())).await? {
                let counted = self.failed_passcode(&link, LINK_PASSCODE_LIMIT, name, role, organisation, origin, now).await?;
                let attempts = match counted {
                    Some((attempts, false)) => attempts,
                    // Locked by this guess or, a moment ago, by another.
                    _ => {
                        return Err(
                            AppError::Conflict("This link is now locked because of too many wrong passcodes. Ask the patient for a new one.".into()).into()
                        )
                    }
                };
                errors.push(FieldError {
                    field: "passcode".into(),
                    message: format!("The passcode is not right. {} tries left.", LINK_PASSCODE_LIMIT - attempts),
                });
            }
        }
        if !errors.is_empty() {
            return Err(AppError::Validation { errors, values }.into());
        }
        if !store::link_opened(&self.db.pool, &link.patient_id, &link.id, now).await? {
            return Err(AppError::NotFound.into());
        }
        Ok(LinkViewer {
            link_id: link.id,
            patient_id: link.patient_id,
            name: name.trim().to_string(),
            role: role.trim().to_string(),
            organisation: organisation.trim().to_string(),
        })
    }

    /// The Sharing page.
    pub async fn sharing_view(&self, access: &RecordAccess) -> CoreResult<SharingView> {
        require(access, Right::Manage)?;
        require_whole(access)?;
        let mut r = self.delegate_read(access).await?;
        let now = now_ms();
        let scope_of = |s: &str| serde_json::from_str::<Scope>(s).map(|s| describe_scope(&s)).unwrap_or_default();
        let rows = store::grants_of(r.conn(), access.patient_id()).await?;
        let mut accepted_by = std::collections::HashMap::new();
        for g in &rows {
            if let (Some(uid), Some(at)) = (&g.grantee_user_id, g.accepted_at) {
                if let Some(u) = store::user_by_id(r.conn(), uid).await? {
                    accepted_by.insert(g.id.clone(), format!("{} ({}), {}", u.name, u.email, ms_to_uk(at)));
                }
            }
        }
        let last_use: std::collections::HashMap<String, i64> = store::audit::last_use_by_share(r.conn(), access.patient_id()).await?.into_iter().collect();
        let links = store::share_links_of(r.conn(), access.patient_id()).await?;
        // Shares someone else set up for the patient (a carer acting for
        // her) name who did; the patient's own do not.
        let owner = store::owner_user_id(r.conn(), access.patient_id()).await?;
        let mut made_by = std::collections::HashMap::new();
        // A carer acting for her reads this page too.
        let for_whom = if matches!(access.via(), Via::Owner) { "you".to_string() } else { access.patient_name().to_string() };
        for creator in rows.iter().map(|g| &g.created_by).chain(links.iter().map(|l| &l.created_by)) {
            if Some(creator) != owner.as_ref() && !made_by.contains_key(creator) {
                let name = store::user_by_id(r.conn(), creator).await?.map(|u| u.name).unwrap_or_else(|| "someone no longer in Kith".into());
                made_by.insert(creator.clone(), format!("{name}, acting for {for_whom}"));
            }
        }
        let running = |revoked: Option<i64>, expires: Option<i64>| revoked.is_none() && expires.is_none_or(|e| e > now);
        // What revoking each carer's access would stop with it: what they
        // shared that still runs, unless another grant lets them act too.
        let also_stops = |g: &store::GrantRow| -> Option<String> {
            let carer = g.grantee_user_id.as_ref().filter(|_| g.can_act_for != 0 && running(g.revoked_at, g.expires_at))?;
            let acting = rows.iter().filter(|o| o.can_act_for != 0 && o.grantee_user_id.as_ref() == Some(carer) && running(o.revoked_at, o.expires_at));
            if acting.count() > 1 {
                return None;
            }
            let grants = rows.iter().filter(|o| &o.created_by == carer && running(o.revoked_at, o.expires_at)).count() as u64;
            let opens = |l: &&store::ShareLinkRow| l.locked_at.is_none() && !(l.single_use != 0 && l.used_at.is_some());
            let links = links.iter().filter(|l| &l.created_by == carer && running(l.revoked_at, Some(l.expires_at))).filter(opens).count() as u64;
            (grants + links > 0).then(|| count_shares(grants, links))
        };
        let also: Vec<Option<String>> = rows.iter().map(also_stops).collect();
        let grants = rows
            .into_iter()
            .zip(also)
            .map(|(g, also_stops)| GrantInfo {
                made_by: made_by.get(&g.created_by).cloned(),
                also_stops,
                last_used: last_use.get(&g.id).copied().map(ms_to_uk),
                review_due: g.grantee_role == "carer" && g.revoked_at.is_none() && g.expires_at.is_some_and(|e| e <= now + CARER_REVIEW_NOTICE_MS),
                accepted_by: accepted_by.remove(&g.id),
                status: if g.revoked_at.is_some() {
                    "revoked"
                } else if g.expires_at.is_some_and(|e| e <= now) {
                    "expired"
                } else {
                    "active"
                }
                .into(),
                scope: scope_of(&g.scope),
                rights: describe_rights(g.can_comment != 0, g.can_contribute != 0, g.can_act_for != 0),
                can_resend: may_resend(access, &g),
                can_stop: may_stop(access, &g),
                expires: g.expires_at.map(ms_to_uk),
                created: ms_to_uk(g.created_at),
                id: g.id,
                email: g.grantee_email,
                role: g.grantee_role,
            })
            .collect();
        let links = links
            .into_iter()
            .map(|l| LinkInfo {
                made_by: made_by.get(&l.created_by).cloned(),
                status: if l.revoked_at.is_some() {
                    "revoked"
                } else if l.locked_at.is_some() {
                    "locked"
                } else if l.expires_at <= now {
                    "expired"
                } else if l.single_use != 0 && l.used_at.is_some() {
                    "used"
                } else {
                    "active"
                }
                .into(),
                scope: scope_of(&l.scope),
                created: ms_to_uk(l.created_at),
                expires: ms_to_uk(l.expires_at),
                has_passcode: l.passcode_hash.is_some(),
                single_use: l.single_use != 0,
                last_used: l.last_used_at.map(ms_to_uk),
                id: l.id,
                name: l.name,
            })
            .collect();
        r.finish(access, "sharing settings").await?;
        Ok(SharingView { grants, links, can_grant_act_for: matches!(access.via(), Via::Owner), new_link: None, new_invitation: None })
    }

    /// Records other patients have shared with this person.
    pub async fn shared_with_me(&self, actor: &Actor) -> CoreResult<Vec<SharedRecord>> {
        let mut out: Vec<SharedRecord> = Vec::new();
        for g in store::grants_to_user(&self.db.pool, &actor.user_id, now_ms()).await? {
            if out.iter().any(|r| r.patient_id == g.patient_id) {
                continue;
            }
            let Some(p) = store::patient_by_id(&self.db.pool, &g.patient_id).await? else { continue };
            out.push(SharedRecord {
                patient_id: g.patient_id,
                name: p.name,
                rights: describe_rights(g.can_comment != 0, g.can_contribute != 0, g.can_act_for != 0 && actor.role == Role::Carer),
                scope: serde_json::from_str::<Scope>(&g.scope).map(|s| describe_scope(&s)).unwrap_or_default(),
                expires: g.expires_at.map(ms_to_uk),
            });
        }
        Ok(out)
    }

    /// Puts a privacy label on one entry.
    pub async fn relabel_entry(&self, access: &RecordAccess, entry_id: &str, label: &str) -> CoreResult<()> {
        require(access, Right::Manage)?;
        require_whole(access)?;
        check_label(label)?;
        let mut audited = self.audited(access).await?;
        let Some(entry) = store::entry_by_id(audited.conn(), access.patient_id(), entry_id, access.scope()).await? else {
            return audited.fail(AppError::NotFound).await;
        };
        store::set_entry_label(audited.conn(), access.patient_id(), entry_id, label, now_ms()).await?;
        let d = Disclosure::new("update", format!("label of an entry: {} to {}", label_title(&entry.label), label_title(label))).with([(entry_id, label)]);
        audited.commit(access, d).await?;
        Ok(())
    }

    /// Puts a privacy label on everything one source sent.
    pub async fn relabel_source(&self, access: &RecordAccess, source_id: &str, label: &str) -> CoreResult<u64> {
        require(access, Right::Manage)?;
        require_whole(access)?;
        check_label(label)?;
        let mut audited = self.audited(access).await?;
        let n = store::set_source_label(audited.conn(), access.patient_id(), source_id, label, now_ms(), access.scope().is_none()).await?;
        audited
            .commit(access, Disclosure { labels: vec![label.to_string()], ..Disclosure::new("update", format!("label of {n} entries from one source")) })
            .await?;
        Ok(n)
    }

    /// Messages for the patient (a link locked, ...), newest first, after
    /// reminders of family carers' access that is due for review.
    pub async fn notifications(&self, access: &RecordAccess) -> CoreResult<Vec<(String, String)>> {
        require(access, Right::Manage)?;
        require_whole(access)?;
        let mut r = self.delegate_read(access).await?;
        let now = now_ms();
        let mut out: Vec<(String, String)> = store::grants_of(r.conn(), access.patient_id())
            .await?
            .into_iter()
            .filter(|g| g.grantee_role == "carer" && g.revoked_at.is_none())
            .filter_map(|g| g.expires_at.filter(|e| *e <= now + CARER_REVIEW_NOTICE_MS).map(|e| (g.grantee_email, e)))
            .map(|(email, e)| {
                let verb = if e <= now { "ended" } else { "ends" };
                (format!("Review your family carer {email}'s access: it {verb} on {}. Renew it or let it end on the Sharing page.", ms_to_uk(e)), ms_to_uk(now))
            })
            .collect();
        out.extend(store::notifications_of(r.conn(), access.patient_id()).await?.into_iter().map(|(m, t)| (m, ms_to_uk(t))));
        r.finish(access, "messages").await?;
        Ok(out)
    }

    /// The patient renews a family carer's access for another 12 months.
    pub async fn renew_carer_grant(&self, access: &RecordAccess, grant_id: &str) -> CoreResult<()> {
        require(access, Right::Manage)?;
        require_whole(access)?;
        // A carer acting for the patient may renew other carers, never their
        // own access: that would defeat the yearly review.
        if let Via::Grant { grant_ids, .. } = access.via() {
            if grant_ids.iter().any(|g| g == grant_id) {
                return Err(AppError::NotFound.into());
            }
        }
        let mut audited = self.audited(access).await?;
        if store::renew_carer_grant(audited.conn(), access.patient_id(), grant_id, now_ms() + 365 * DAY_MS).await? == 0 {
            return audited.fail(AppError::NotFound).await;
        }
        audited.commit(access, Disclosure::new("share", format!("carer access {grant_id} renewed for 12 months"))).await?;
        Ok(())
    }
}

/// Whether `access` may stop grant `g`. Only the patient lets a family carer
/// act for her, so only she (or the operator) stops that, though the carer
/// may step down; anyone managing the record stops any other grant.
fn may_stop(access: &RecordAccess, g: &store::GrantRow) -> bool {
    g.can_act_for == 0 || matches!(access.via(), Via::Owner | Via::Operator) || g.grantee_user_id.as_deref().is_some_and(|u| access.user_id() == Some(u))
}

/// Where someone sharing stands as a carer acting for the patient.
enum Delegate {
    /// The patient (or the operator).
    NotOne,
    /// Their access to act for her ends then (the latest of their grants).
    Ends(i64),
    NeverEnds,
    /// Their access was stopped since this request began.
    NoLonger,
}

/// When the access of a carer acting for the patient ends, for capping what
/// they share (see `create_grant`).
async fn delegate_access_ends(conn: &mut sqlx::AnyConnection, access: &RecordAccess, now: i64) -> CoreResult<Delegate> {
    let (Via::Grant { .. }, Some(user_id)) = (access.via(), access.user_id()) else { return Ok(Delegate::NotOne) };
    let mine = store::active_grants_for(&mut *conn, access.patient_id(), user_id, now).await?;
    let acting: Vec<&store::GrantRow> = mine.iter().filter(|g| g.can_act_for != 0).collect();
    if acting.is_empty() {
        return Ok(Delegate::NoLonger);
    }
    if acting.iter().any(|g| g.expires_at.is_none()) {
        return Ok(Delegate::NeverEnds);
    }
    Ok(acting.iter().filter_map(|g| g.expires_at).max().map_or(Delegate::NeverEnds, Delegate::Ends))
}

/// Whether `access` may make a new invitation link for grant `g`. Someone
/// acting for the patient re-sends only invitations they made: not the
/// patient's (they could take one over and accept it themselves), least of
/// all one to act for her.
fn may_resend(access: &RecordAccess, g: &store::GrantRow) -> bool {
    matches!(access.via(), Via::Owner | Via::Operator) || (g.can_act_for == 0 && access.user_id() == Some(g.created_by.as_str()))
}

/// "1 person and 2 links", for what a carer shared.
fn count_shares(grants: u64, links: u64) -> String {
    let people = match grants {
        0 => None,
        1 => Some("1 person".to_string()),
        n => Some(format!("{n} people")),
    };
    let links = match links {
        0 => None,
        1 => Some("1 link".to_string()),
        n => Some(format!("{n} links")),
    };
    [people, links].into_iter().flatten().collect::<Vec<_>>().join(" and ")
}

fn check_label(label: &str) -> CoreResult<()> {
    if kith_types::record::LABELS.iter().any(|(k, _)| *k == label) {
        Ok(())
    } else {
        Err(AppError::field("label", "Choose a label from the list").into())
    }
}
