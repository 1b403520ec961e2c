//! Accounts: sign-up, sign-in (throttled), password change, and resolving the
//! person behind a session.

use chrono::NaiveDate;
use kith_types::{uk_date, AppError, Email, FieldError, Me, NhsNumber, PatientSummary, Role};

use crate::error::{CoreError, CoreResult};
use crate::policy::Origin;
use crate::{new_id, now_ms, password, store, throttle, Kith};

/// The person a request acts for, resolved from the session. Services take
/// this rather than ids so that who-is-acting is never implicit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Actor {
    pub user_id: String,
    pub role: Role,
    pub name: String,
    /// For clinicians: where they work (shown in the access log).
    pub organisation: String,
    /// A clinician whose staff identity was checked (through the staff
    /// provider, or by the operator): only they may use emergency access.
    pub verified_clinician: bool,
}

impl Actor {
    pub(crate) fn from_row(u: store::UserRow) -> CoreResult<Actor> {
        let role = u.role.parse::<Role>().map_err(CoreError::Internal)?;
        Ok(Actor {
            verified_clinician: role == Role::Clinician && u.clinician_verified_by.is_some(),
            user_id: u.id,
            role,
            name: u.name,
            organisation: u.organisation,
        })
    }

    /// May open a record in an emergency, where the deployment allows it.
    pub(crate) fn may_break_glass(&self) -> bool {
        self.role == Role::Clinician && self.verified_clinician
    }
}

/// What a new account needs; used by the sign-up form and `kith user add`.
#[derive(Clone, Debug, Default)]
pub struct NewUser {
    pub name: String,
    pub email: String,
    pub password: String,
    pub role: String,
    /// For a patient: their NHS Number and date of birth create their record.
    pub nhs_number: String,
    pub birth_date: String,
    /// For a clinician: their organisation.
    pub organisation: String,
}

const SIGN_IN_FAILED: &str = "The email address or password is not right. Check them and try again.";

#[derive(Debug)]
struct ValidUser {
    name: String,
    email: Email,
    role: Role,
    patient: Option<(NhsNumber, NaiveDate)>,
}

fn validate_new_user(input: &NewUser) -> Result<ValidUser, AppError> {
    let mut errors = Vec::new();
    let mut err = |field: &str, message: String| errors.push(FieldError { field: field.into(), message });

    let name = input.name.trim().to_string();
    if name.is_empty() {
        err("name", "Enter your full name".into());
    } else if name.chars().count() > 200 {
        err("name", "Enter a name of at most 200 characters".into());
    }
    let email = Email::parse(&input.email);
    if let Err(e) = &email {
        err("email", e.to_string());
    }
    if let Err(m) = password::check_policy(&input.password, &[&name, &input.email]) {
        err("password", m);
    }
    let role = input.role.parse::<Role>();
    if role.is_err() {
        err("role", "Choose whether you are a patient, a family carer or a clinician".into());
    }

    let mut patient = None;
    let nhs = input.nhs_number.trim();
    let dob = input.birth_date.trim();
    if role == Ok(Role::Patient) && (!nhs.is_empty() || !dob.is_empty()) {
        let n = NhsNumber::parse(nhs);
        if let Err(e) = &n {
            err("nhs_number", if nhs.is_empty() { "Enter your NHS Number with your date of birth".into() } else { e.to_string() });
        }
        let d = parse_birth_date(dob);
        if let Err(m) = &d {
            err("birth_date", m.clone());
        }
        if let (Ok(n), Ok(d)) = (n, d) {
            patient = Some((n, d));
        }
    } else if role.is_ok() && role != Ok(Role::Patient) && !nhs.is_empty() {
        err("nhs_number", "Only a patient account holds an NHS Number".into());
    }

    if !errors.is_empty() {
        let values = vec![
            ("name".to_string(), input.name.clone()),
            ("email".to_string(), input.email.clone()),
            ("role".to_string(), input.role.clone()),
            ("nhs_number".to_string(), input.nhs_number.clone()),
            ("birth_date".to_string(), input.birth_date.clone()),
        ];
        return Err(AppError::Validation { errors, values });
    }
    Ok(ValidUser { name, email: email.unwrap(), role: role.unwrap(), patient })
}

pub fn parse_birth_date(s: &str) -> Result<NaiveDate, String> {
    if s.is_empty() {
        return Err("Enter your date of birth".into());
    }
    let d = NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| "Enter your date of birth as a real date, like 1948-03-27".to_string())?;
    let today = chrono::Utc::now().date_naive();
    if d > today {
        return Err("Your date of birth must be in the past".into());
    }
    if d < NaiveDate::from_ymd_opt(1890, 1, 1).unwrap() {
        return Err("Check the year of your date of birth".into());
    }
    Ok(d)
}

pub(crate) fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.is_unique_violation())
}

impl Kith {
    /// Creates an account (and, for a patient who gives their NHS Number and
    /// date of birth, their record) and returns who it is.
    pub async fn create_user(&self, input: NewUser) -> CoreResult<Actor> {
        let valid = validate_new_user(&input)?;
        let values = vec![
            ("name".to_string(), input.name.clone()),
            ("email".to_string(), input.email.clone()),
            ("role".to_string(), input.role.clone()),
            ("nhs_number".to_string(), input.nhs_number.clone()),
            ("birth_date".to_string(), input.birth_date.clone()),
        ];
        let hash = password::hash(input.password).await?;
        let now = now_ms();
        let id = new_id();

        let mut tx = self.db.pool.begin().await?;
        if store::user_by_email(&mut *tx, valid.email.as_str()).await?.is_some() {
            return Err(AppError::field("email", "An account with this email address already exists. Sign in instead.").with_values(values).into());
        }
        if let Some((nhs, _)) = &valid.patient {
            if store::patient_by_nhs_number(&mut *tx, nhs.as_str()).await?.is_some() {
                return Err(AppError::field("nhs_number", "A record with this NHS Number already exists. If it is yours, contact us to claim it.")
                    .with_values(values)
                    .into());
            }
        }
        let inserted =
            store::insert_user(&mut *tx, &id, valid.email.as_str(), &valid.name, valid.role.as_str(), Some(&hash), input.organisation.trim(), now).await;
        if let Err(e) = inserted {
            // Two sign-ups with one email racing: the loser gets the same message.
            if is_unique_violation(&e) {
                return Err(AppError::field("email", "An account with this email address already exists. Sign in instead.").with_values(values).into());
            }
            return Err(e.into());
        }
        if let Some((nhs, dob)) = &valid.patient {
            store::insert_patient(&mut *tx, &new_id(), nhs.as_str(), &valid.name, &dob.format("%Y-%m-%d").to_string(), Some(&id), now).await.map_err(|e| {
                if is_unique_violation(&e) {
                    CoreError::User(AppError::field("nhs_number", "A record with this NHS Number already exists.").with_values(values.clone()))
                } else {
                    e.into()
                }
            })?;
        }
        tx.commit().await?;
        tracing::info!(user_id = %id, role = %valid.role, "account created");
        Ok(Actor { user_id: id, role: valid.role, name: valid.name, organisation: input.organisation.trim().to_string(), verified_clinician: false })
    }

    /// Checks email and password. Unknown emails and wrong passwords give the
    /// same message after the same work; repeated failures are slowed, then
    /// refused for a while.
    pub async fn sign_in(&self, email: &str, password: &str, address: &str) -> CoreResult<Actor> {
        self.sign_in_from(email, password, &Origin { address: address.to_string(), user_agent: String::new() }).await
    }

    /// `sign_in`, noting where the attempt came from in the patient's access
    /// log (successful and failed sign-ins of a patient's own account).
    pub async fn sign_in_from(&self, email: &str, password: &str, origin: &Origin) -> CoreResult<Actor> {
        let address = origin.address.as_str();
        let typed_email = email.trim().to_string();
        let normalised = typed_email.to_lowercase();
        let s = &self.settings.throttle;
        let keys = [(throttle::account_key(&normalised), s.account_limit), (throttle::address_key(address), s.address_limit)];
        let now = now_ms();
        match throttle::check(&self.db, s, &keys, now).await? {
            throttle::Verdict::Locked { until } => {
                tracing::warn!("sign-in refused while locked");
                return Err(AppError::Throttled { message: throttle::locked_message(until, now), email: typed_email }.into());
            }
            throttle::Verdict::Allowed { delay } => {
                if !delay.is_zero() {
                    tokio::time::sleep(delay).await;
                }
            }
        }

        let user = match Email::parse(&normalised) {
            Ok(e) => store::user_by_email(&self.db.pool, e.as_str()).await?,
            Err(_) => None,
        };
        let ok = password::verify(password.to_string(), user.as_ref().and_then(|u| u.password_hash.clone())).await?;
        match (ok, user) {
            (true, Some(u)) => {
                throttle::record_success(&self.db, &keys[0].0).await?;
                let actor = Actor::from_row(u)?;
                // With two-step verification on, the sign-in is logged when
                // the second step is done (or fails): `verify_second_step`.
                if !self.two_step_enabled(&actor.user_id).await? {
                    self.log_sign_in(&actor, origin, true, "account").await?;
                }
                Ok(actor)
            }
            (_, user) => {
                if let Some(actor) = user.and_then(|u| Actor::from_row(u).ok()) {
                    self.log_sign_in(&actor, origin, false, "account: wrong password").await?;
                }
                let locked = throttle::record_failure(&self.db, s, &keys, now_ms()).await?;
                tracing::info!("sign-in failed");
                match locked {
                    Some(until) => Err(AppError::Throttled { message: throttle::locked_message(until, now_ms()), email: typed_email }.into()),
                    None => Err(AppError::SignInFailed { message: SIGN_IN_FAILED.into(), email: typed_email }.into()),
                }
            }
        }
    }

    /// Checks the signed-in person's password before a change to their
    /// account (a new password, a new address). Wrong guesses count against
    /// the account's sign-in limit, so a stolen session cannot try passwords
    /// here without end; while the account is locked, this is refused too.
    pub(crate) async fn check_current_password(&self, user: &store::UserRow, password: &str) -> CoreResult<bool> {
        let s = &self.settings.throttle;
        let keys = [(throttle::account_key(&user.email), s.account_limit)];
        let now = now_ms();
        match throttle::check(&self.db, s, &keys, now).await? {
            throttle::Verdict::Locked { until } => return Err(AppError::Conflict(throttle::locked_message(until, now)).into()),
            throttle::Verdict::Allowed { delay } if !delay.is_zero() => tokio::time::sleep(delay).await,
            throttle::Verdict::Allowed { .. } => {}
        }
        if password::verify(password.to_string(), user.password_hash.clone()).await? {
            return Ok(true);
        }
        if let Some(until) = throttle::record_failure(&self.db, s, &keys, now_ms()).await? {
            return Err(AppError::Conflict(throttle::locked_message(until, now_ms())).into());
        }
        Ok(false)
    }

    /// Changes the password after checking the current one, and ends every
    /// other session of this person (the current one, `keep_session`, stays).
    pub async fn change_password(&self, actor: &Actor, current: &str, new: &str, confirm: &str, keep_session: &str, origin: &Origin) -> CoreResult<()> {
        let user = store::user_by_id(&self.db.pool, &actor.user_id).await?.ok_or(AppError::Unauthenticated)?;
        let mut errors = Vec::new();
        if !self.check_current_password(&user, current).await? {
            errors.push(FieldError { field: "current_password".into(), message: "Your current password is not right".into() });
        }
        if let Err(m) = password::check_policy(new, &[&user.name, &user.email]) {
            errors.push(FieldError { field: "new_password".into(), message: m });
        } else if new == current {
            errors.push(FieldError { field: "new_password".into(), message: "Choose a password different from your current one".into() });
        }
        if new != confirm {
            errors.push(FieldError { field: "confirm_password".into(), message: "The two new passwords do not match".into() });
        }
        if !errors.is_empty() {
            return Err(AppError::Validation { errors, values: vec![] }.into());
        }
        let hash = password::hash(new.to_string()).await?;
        let mut change = self.account_change(actor).await?;
        store::set_password_hash(change.conn(), &actor.user_id, &hash, now_ms()).await?;
        // A link asked for earlier must not undo this.
        store::end_password_resets(change.conn(), &actor.user_id, now_ms()).await?;
        let ended = store::sessions_delete_for_user_except(change.conn(), &actor.user_id, &crate::session_store::stored_key(keep_session)).await?;
        change.commit(origin, "account: password changed, other sessions ended").await?;
        self.tell_password_changed(crate::password_reset::Told::of(&user), "on your Account page");
        tracing::info!(user_id = %actor.user_id, other_sessions_ended = ended, "password changed");
        Ok(())
    }

    /// The person behind a session's user id, if the account still exists.
    pub async fn actor(&self, user_id: &str) -> CoreResult<Option<Actor>> {
        let Some(u) = store::user_by_id(&self.db.pool, user_id).await? else {
            return Ok(None);
        };
        Ok(Some(Actor::from_row(u)?))
    }

    /// What the home page shows about the signed-in person.
    pub async fn me(&self, actor: &Actor) -> CoreResult<Me> {
        let u = store::user_by_id(&self.db.pool, &actor.user_id).await?.ok_or(AppError::Unauthenticated)?;
        let patient = store::patient_by_user(&self.db.pool, &actor.user_id).await?;
        let patient = match patient {
            Some(p) => Some(PatientSummary {
                name: p.name,
                nhs_number: NhsNumber::parse(&p.nhs_number).map(|n| n.formatted()).unwrap_or(p.nhs_number),
                birth_date: NaiveDate::parse_from_str(&p.birth_date, "%Y-%m-%d").map(uk_date).unwrap_or(p.birth_date),
            }),
            None => None,
        };
        Ok(Me {
            name: u.name,
            email: u.email,
            role: actor.role,
            patient,
            idle_timeout_minutes: self.settings.session_idle_minutes,
            viewing: None,
            break_glass: self.settings.break_glass && actor.may_break_glass(),
            break_glass_unverified: self.settings.break_glass && actor.role == Role::Clinician && !actor.verified_clinician,
            email_confirmed: u.email_confirmed_at.is_some(),
            can_email: self.settings.mail.is_some(),
        })
    }

    /// How many live sessions a person has (for tests and the security page).
    pub async fn session_count(&self, user_id: &str) -> CoreResult<i64> {
        Ok(store::count_sessions_for_user(&self.db.pool, user_id).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> NewUser {
        NewUser {
            name: "Margaret Jones".into(),
            email: "margaret@example.com".into(),
            password: "kettle orange stairs".into(),
            role: "patient".into(),
            nhs_number: "943 476 5919".into(),
            birth_date: "1948-03-27".into(),
            organisation: String::new(),
        }
    }

    #[test]
    fn valid_patient() {
        let v = validate_new_user(&input()).unwrap();
        assert_eq!(v.patient.unwrap().0.as_str(), "9434765919");
    }

    #[test]
    fn errors_name_each_field_and_echo_values_but_not_password() {
        let bad = NewUser {
            name: " ".into(),
            email: "nope".into(),
            password: "short".into(),
            role: "patient".into(),
            nhs_number: "9434765918".into(),
            birth_date: "2999-01-01".into(),
            organisation: String::new(),
        };
        let e = validate_new_user(&bad).unwrap_err();
        for f in ["name", "email", "password", "nhs_number", "birth_date"] {
            assert!(e.field_error(f).is_some(), "{f}");
        }
        assert_eq!(e.value("email").as_deref(), Some("nope"));
        assert_eq!(e.value("password"), None);
    }

    #[test]
    fn clinician_without_nhs_number() {
        let v = validate_new_user(&NewUser { role: "clinician".into(), nhs_number: "".into(), birth_date: "".into(), ..input() }).unwrap();
        assert!(v.patient.is_none());
        assert!(validate_new_user(&NewUser { role: "clinician".into(), ..input() }).is_err());
    }
}
