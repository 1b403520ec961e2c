//! Who may do what with a patient's record, decided here and nowhere else.
//!
//! Services that touch a record require a `RecordAccess`, which only this
//! module can make: without passing the check there is nothing to call.
//! Refusals are `NotFound`, never "forbidden", so a record's existence is not
//! revealed to someone who may not see it. The sharing issue extends
//! `decide` with grants, links and carers.

use kith_types::{AppError, NhsNumber, Role};

use crate::{store, Actor, CoreResult, Kith};

/// Who is asking.
#[derive(Clone, Debug)]
pub enum Principal {
    /// A signed-in person.
    User(Actor),
    /// The operator at the server's command line (`kith import`, `kith export`).
    /// Whoever runs these already holds the database; the CLI acts for them.
    Operator,
}

/// What they want to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Right {
    /// Read entries and sources.
    Read,
    /// Add data: import feeds, confirm held feeds.
    Contribute,
}

/// Proof that `principal` may exercise `right` on one patient's record.
#[derive(Clone, Debug)]
pub struct RecordAccess {
    patient_id: String,
    nhs_number: NhsNumber,
    right: Right,
    principal: Principal,
}

impl RecordAccess {
    pub fn patient_id(&self) -> &str {
        &self.patient_id
    }
    pub fn nhs_number(&self) -> &NhsNumber {
        &self.nhs_number
    }
    pub fn right(&self) -> Right {
        self.right
    }
    pub fn principal(&self) -> &Principal {
        &self.principal
    }
    /// The acting user's id, if a person (not the operator) is acting.
    pub fn user_id(&self) -> Option<&str> {
        match &self.principal {
            Principal::User(a) => Some(&a.user_id),
            Principal::Operator => None,
        }
    }
}

impl Kith {
    /// Opens the record with this NHS Number for `principal`, or NotFound.
    pub async fn open_record(&self, principal: &Principal, nhs_number: &NhsNumber, right: Right) -> CoreResult<RecordAccess> {
        let Some(p) = store::patient_by_nhs_number(&self.db.pool, nhs_number.as_str()).await? else {
            return Err(AppError::NotFound.into());
        };
        let allowed = match principal {
            Principal::Operator => true,
            Principal::User(actor) => {
                let owner = store::patient_by_user(&self.db.pool, &actor.user_id).await?;
                actor.role == Role::Patient && owner.map(|o| o.id) == Some(p.id.clone())
            }
        };
        if !allowed {
            return Err(AppError::NotFound.into());
        }
        Ok(RecordAccess { patient_id: p.id, nhs_number: nhs_number.clone(), right, principal: principal.clone() })
    }

    /// The signed-in patient's own record, or NotFound.
    pub async fn own_record(&self, actor: &Actor, right: Right) -> CoreResult<RecordAccess> {
        let Some(p) = store::patient_by_user(&self.db.pool, &actor.user_id).await? else {
            return Err(AppError::NotFound.into());
        };
        let nhs = NhsNumber::parse(&p.nhs_number).map_err(|e| crate::CoreError::Internal(format!("stored NHS Number invalid: {e}")))?;
        self.open_record(&Principal::User(actor.clone()), &nhs, right).await
    }
}

/// Refuses unless the access carries `right` (a read access cannot import).
pub(crate) fn require(access: &RecordAccess, right: Right) -> CoreResult<()> {
    if access.right == right || (access.right == Right::Contribute && right == Right::Read) {
        Ok(())
    } else {
        Err(AppError::NotFound.into())
    }
}
