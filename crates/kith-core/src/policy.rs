//! Who may do what with a patient's record, decided here and nowhere else.
//!
//! Services that touch a record require a `RecordAccess`, which only this
//! module can make: without passing the check there is nothing to call. It
//! carries the scope the store filters every query by, so what an actor may
//! not see is absent everywhere (lists, counts, search, charts). Refusals are
//! `NotFound`, never "forbidden", so a record's existence is not revealed.

use kith_types::{AppError, NhsNumber, Role};
use serde::{Deserialize, Serialize};

use crate::audit::PendingLogCommits;
use crate::{now_ms, store, Actor, CoreError, CoreResult, Kith};

/// Who is asking.
#[derive(Clone, Debug)]
pub enum Principal {
    /// A signed-in person.
    User(Actor),
    /// The operator at the server's command line (`kith import`, `kith export`).
    /// Whoever runs these already holds the database; the CLI acts for them.
    Operator,
    /// Someone who opened a shared link and said who they are.
    LinkViewer(LinkViewer),
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkViewer {
    pub link_id: String,
    pub patient_id: String,
    pub name: String,
    pub role: String,
    pub organisation: String,
}

/// What they want to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Right {
    /// Read entries.
    Read,
    /// Comment on entries.
    Comment,
    /// Add data: import feeds, confirm held feeds, care plan items.
    Contribute,
    /// Everything the owner can do with sharing: grants, links, labels, sources.
    Manage,
}

/// What part of a record is shared. Entries labelled private are never in
/// any scope.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scope {
    #[serde(default)]
    pub all: bool,
    #[serde(default)]
    pub labels: Vec<String>,
    #[serde(default)]
    pub kinds: Vec<String>,
    #[serde(default)]
    pub entries: Vec<String>,
}

impl Scope {
    pub fn whole() -> Self {
        Scope { all: true, ..Default::default() }
    }
    pub fn is_empty(&self) -> bool {
        !self.all && self.labels.is_empty() && self.kinds.is_empty() && self.entries.is_empty()
    }
    fn union(mut self, other: &Scope) -> Scope {
        self.all |= other.all;
        for (mine, theirs) in [(&mut self.labels, &other.labels), (&mut self.kinds, &other.kinds), (&mut self.entries, &other.entries)] {
            for x in theirs {
                if !mine.contains(x) {
                    mine.push(x.clone());
                }
            }
        }
        self
    }
}

/// How the access came about, for attribution and the access log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Via {
    Owner,
    Operator,
    Grant {
        grant_ids: Vec<String>,
        act_for: bool,
    },
    Link {
        link_id: String,
    },
    /// The owner looking through a grant or link's eyes.
    Preview {
        share_id: String,
    },
    /// A clinician's emergency access, with the reason they gave.
    BreakGlass {
        id: String,
        reason: String,
    },
}

/// Where a request came from, for the access log.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Origin {
    pub address: String,
    pub user_agent: String,
}

impl Origin {
    pub fn command_line() -> Self {
        Origin { address: "command line".into(), user_agent: String::new() }
    }
}

/// Proof that `principal` may exercise `right` on one patient's record.
#[derive(Clone, Debug)]
pub struct RecordAccess {
    patient_id: String,
    nhs_number: NhsNumber,
    patient_name: String,
    origin: Origin,
    right: Right,
    /// Every right the actor holds on this record (the page may offer them),
    /// each with the part of the record it covers: someone may see the whole
    /// record but comment only on what one grant lets them comment on.
    rights: Vec<(Right, Option<Scope>)>,
    principal: Principal,
    via: Via,
    /// What `right` covers. None: the whole record, private entries included
    /// (owner, operator).
    scope: Option<Scope>,
    /// Where page views' log commits go while the page renders (web only).
    pending_log_commits: Option<PendingLogCommits>,
}

impl RecordAccess {
    pub fn patient_id(&self) -> &str {
        &self.patient_id
    }
    pub fn nhs_number(&self) -> &NhsNumber {
        &self.nhs_number
    }
    pub fn patient_name(&self) -> &str {
        &self.patient_name
    }
    pub fn origin(&self) -> &Origin {
        &self.origin
    }
    /// Notes where the request came from; it changes only what the access
    /// log says, never what is allowed.
    pub fn from_origin(mut self, origin: Origin) -> Self {
        self.origin = origin;
        self
    }
    /// Lets page views through this access commit their log rows while the
    /// page renders; the caller must `settle` before sending anything.
    pub fn with_pending_log_commits(mut self, pending: PendingLogCommits) -> Self {
        self.pending_log_commits = Some(pending);
        self
    }
    pub(crate) fn pending_log_commits(&self) -> Option<&PendingLogCommits> {
        self.pending_log_commits.as_ref()
    }
    pub fn right(&self) -> Right {
        self.right
    }
    /// Whether the actor holds `right` on this record, whatever this access
    /// was opened for (to decide which forms a page offers; the server
    /// checks again when they are used).
    pub fn may(&self, right: Right) -> bool {
        self.rights.iter().any(|(r, _)| *r == right)
    }
    /// The part of the record `right` covers: None if not held at all,
    /// Some(None) for the whole record.
    pub fn scope_for(&self, right: Right) -> Option<Option<&Scope>> {
        self.rights.iter().find(|(r, _)| *r == right).map(|(_, s)| s.as_ref())
    }
    pub fn principal(&self) -> &Principal {
        &self.principal
    }
    pub fn via(&self) -> &Via {
        &self.via
    }
    /// The part of the record visible through this access (None = all).
    pub fn scope(&self) -> Option<&Scope> {
        self.scope.as_ref()
    }
    /// True when the viewer sees less than the whole record.
    pub fn is_partial(&self) -> bool {
        self.scope.is_some()
    }
    /// The acting user's id, if a person with an account is acting.
    pub fn user_id(&self) -> Option<&str> {
        match &self.principal {
            Principal::User(a) => Some(&a.user_id),
            _ => None,
        }
    }
}

fn rank(r: Right) -> u8 {
    match r {
        Right::Read => 0,
        Right::Comment => 1,
        Right::Contribute => 2,
        Right::Manage => 3,
    }
}

/// What one principal may do with one record: the single decision. Each
/// right comes with the part of the record it covers.
struct Decision {
    rights: Vec<(Right, Option<Scope>)>,
    via: Via,
}

/// Every right, each over `scope`.
fn all_rights(scope: Option<Scope>) -> Vec<(Right, Option<Scope>)> {
    [Right::Read, Right::Comment, Right::Contribute, Right::Manage].into_iter().map(|r| (r, scope.clone())).collect()
}

impl Kith {
    async fn decide(&self, principal: &Principal, patient_id: &str) -> CoreResult<Option<Decision>> {
        let now = now_ms();
        match principal {
            Principal::Operator => Ok(Some(Decision { rights: all_rights(None), via: Via::Operator })),
            Principal::User(actor) => {
                if actor.role == Role::Patient {
                    if let Some(own) = store::patient_by_user(&self.db.pool, &actor.user_id).await? {
                        if own.id == patient_id {
                            return Ok(Some(Decision { rights: all_rights(None), via: Via::Owner }));
                        }
                    }
                }
                let grants = store::active_grants_for(&self.db.pool, patient_id, &actor.user_id, now).await?;
                if grants.is_empty() {
                    // Emergency access, where the deployment allows it: what a
                    // clinician needs for direct care, never private entries.
                    if self.settings.break_glass && actor.may_break_glass() {
                        if let Some((id, reason)) = store::audit::active_break_glass(&self.db.pool, patient_id, &actor.user_id, now).await? {
                            return Ok(Some(Decision {
                                rights: vec![(Right::Read, Some(Scope::whole())), (Right::Comment, Some(Scope::whole()))],
                                via: Via::BreakGlass { id, reason },
                            }));
                        }
                    }
                    return Ok(None);
                }
                // Each right covers the union of the scopes of the grants
                // that give it, not of every grant: "view everything" plus
                // "comment on mental health" comments on mental health only.
                let (mut read, mut comment, mut contribute) = (Scope::default(), None::<Scope>, None::<Scope>);
                let mut act_for = false;
                for g in &grants {
                    let s: Scope = serde_json::from_str(&g.scope).map_err(|e| CoreError::Internal(e.to_string()))?;
                    if g.can_comment != 0 {
                        comment = Some(comment.unwrap_or_default().union(&s));
                    }
                    if g.can_contribute != 0 {
                        contribute = Some(contribute.unwrap_or_default().union(&s));
                    }
                    read = read.union(&s);
                    if g.can_act_for != 0 && actor.role == Role::Carer {
                        act_for = true;
                    }
                }
                let ids = grants.into_iter().map(|g| g.id).collect();
                let via = Via::Grant { grant_ids: ids, act_for };
                if act_for {
                    // Acting for the patient: everything they can do, over the
                    // whole record but private entries; granting act-for onward
                    // is refused in the sharing service.
                    return Ok(Some(Decision { rights: all_rights(Some(Scope::whole())), via }));
                }
                let mut rights = vec![(Right::Read, Some(read))];
                rights.extend(comment.map(|s| (Right::Comment, Some(s))));
                rights.extend(contribute.map(|s| (Right::Contribute, Some(s))));
                Ok(Some(Decision { rights, via }))
            }
            Principal::LinkViewer(v) => {
                if v.patient_id != patient_id {
                    return Ok(None);
                }
                let Some(link) = store::share_link_by_id(&self.db.pool, patient_id, &v.link_id).await? else { return Ok(None) };
                if link.revoked_at.is_some() || link.locked_at.is_some() || link.expires_at <= now {
                    return Ok(None);
                }
                let scope: Scope = serde_json::from_str(&link.scope).map_err(|e| CoreError::Internal(e.to_string()))?;
                Ok(Some(Decision { rights: vec![(Right::Read, Some(scope))], via: Via::Link { link_id: link.id } }))
            }
        }
    }

    /// Opens a record by patient id for `principal`, or NotFound.
    pub async fn open_patient(&self, principal: &Principal, patient_id: &str, right: Right) -> CoreResult<RecordAccess> {
        let Some(p) = store::patient_by_id(&self.db.pool, patient_id).await? else {
            return Err(AppError::NotFound.into());
        };
        let Some(d) = self.decide(principal, &p.id).await? else {
            return Err(AppError::NotFound.into());
        };
        let Some(scope) = d.rights.iter().find(|(r, _)| *r == right).map(|(_, s)| s.clone()) else {
            return Err(AppError::NotFound.into());
        };
        let nhs_number = NhsNumber::parse(&p.nhs_number).map_err(|e| CoreError::Internal(format!("stored NHS Number invalid: {e}")))?;
        let origin = match principal {
            Principal::Operator => Origin::command_line(),
            _ => Origin::default(),
        };
        Ok(RecordAccess {
            patient_id: p.id,
            nhs_number,
            patient_name: p.name,
            origin,
            right,
            rights: d.rights,
            principal: principal.clone(),
            via: d.via,
            scope,
            pending_log_commits: None,
        })
    }

    /// Opens the record with this NHS Number for `principal`, or NotFound.
    pub async fn open_record(&self, principal: &Principal, nhs_number: &NhsNumber, right: Right) -> CoreResult<RecordAccess> {
        let Some(p) = store::patient_by_nhs_number(&self.db.pool, nhs_number.as_str()).await? else {
            return Err(AppError::NotFound.into());
        };
        self.open_patient(principal, &p.id, right).await
    }

    /// The signed-in patient's own record, or NotFound.
    pub async fn own_record(&self, actor: &Actor, right: Right) -> CoreResult<RecordAccess> {
        let Some(p) = store::patient_by_user(&self.db.pool, &actor.user_id).await? else {
            return Err(AppError::NotFound.into());
        };
        self.open_patient(&Principal::User(actor.clone()), &p.id, right).await
    }
}

/// Refuses unless the access was opened for `right` or a stronger one (its
/// scope is the opened right's) and the actor holds `right` itself: opened
/// to contribute to the care plan is not leave to comment when no grant
/// gives comment.
pub(crate) fn require(access: &RecordAccess, right: Right) -> CoreResult<()> {
    if rank(access.right) >= rank(right) && access.may(right) {
        Ok(())
    } else {
        Err(AppError::NotFound.into())
    }
}

/// Refuses unless the access sees the whole record (sources, exports and
/// sharing settings are for the owner and those acting for them).
pub(crate) fn require_whole(access: &RecordAccess) -> CoreResult<()> {
    match (&access.via, &access.scope) {
        (Via::Owner | Via::Operator, _) => Ok(()),
        (Via::Grant { act_for: true, .. }, _) => Ok(()),
        _ => Err(AppError::NotFound.into()),
    }
}

impl Kith {
    /// The owner's view narrowed to what one grant or link shows, so the
    /// patient can see exactly what its recipient sees (read only).
    pub async fn preview(&self, owner: &RecordAccess, share_id: &str) -> CoreResult<RecordAccess> {
        require(owner, Right::Manage)?;
        require_whole(owner)?;
        let scope_json = match store::grants_of(&self.db.pool, &owner.patient_id).await?.into_iter().find(|g| g.id == share_id) {
            Some(g) if g.can_act_for != 0 => serde_json::to_string(&Scope::whole()).unwrap_or_default(),
            Some(g) => g.scope,
            None => store::share_link_by_id(&self.db.pool, &owner.patient_id, share_id).await?.ok_or(AppError::NotFound)?.scope,
        };
        let scope: Scope = serde_json::from_str(&scope_json).map_err(|e| CoreError::Internal(e.to_string()))?;
        Ok(RecordAccess {
            patient_id: owner.patient_id.clone(),
            nhs_number: owner.nhs_number.clone(),
            patient_name: owner.patient_name.clone(),
            origin: owner.origin.clone(),
            right: Right::Read,
            rights: vec![(Right::Read, Some(scope.clone()))],
            principal: owner.principal.clone(),
            via: Via::Preview { share_id: share_id.to_string() },
            scope: Some(scope),
            pending_log_commits: owner.pending_log_commits.clone(),
        })
    }
}
