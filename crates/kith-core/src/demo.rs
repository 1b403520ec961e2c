//! Demo people, so a newcomer signs in and sees something real. The data
//! ships with Kith; nothing here reads files at run time.

use kith_types::AppError;

use crate::{CoreError, CoreResult, Kith, NewUser};

pub struct DemoPerson {
    pub name: &'static str,
    pub email: &'static str,
    pub password: &'static str,
    pub role: &'static str,
    pub nhs_number: &'static str,
    pub birth_date: &'static str,
    pub about: &'static str,
}

pub const DEMO_PEOPLE: [DemoPerson; 3] = [
    DemoPerson {
        name: "Margaret Jones",
        email: "margaret@demo.kith.example",
        password: "kettle orange stairs",
        role: "patient",
        nhs_number: "9434765919",
        birth_date: "1948-03-27",
        about: "the patient, whose record this is",
    },
    DemoPerson {
        name: "David Jones",
        email: "david@demo.kith.example",
        password: "garden ladder blue",
        role: "carer",
        nhs_number: "",
        birth_date: "",
        about: "Margaret's son and family carer",
    },
    DemoPerson {
        name: "Dr Priya Shah",
        email: "priya.shah@demo.kith.example",
        password: "stethoscope maple",
        role: "clinician",
        nhs_number: "",
        birth_date: "",
        about: "a GP who sees Margaret",
    },
];

pub enum Loaded {
    Created,
    AlreadyThere,
}

/// Loads the demo people; running it twice changes nothing.
pub async fn load(kith: &Kith) -> CoreResult<Vec<(&'static DemoPerson, Loaded)>> {
    let mut out = Vec::new();
    for p in DEMO_PEOPLE.iter() {
        let r = kith
            .create_user(NewUser {
                name: p.name.into(),
                email: p.email.into(),
                password: p.password.into(),
                role: p.role.into(),
                nhs_number: p.nhs_number.into(),
                birth_date: p.birth_date.into(),
            })
            .await;
        match r {
            Ok(_) => out.push((p, Loaded::Created)),
            Err(CoreError::User(AppError::Validation { ref errors, .. }))
                if errors.iter().all(|e| e.field == "email" || e.field == "nhs_number") =>
            {
                out.push((p, Loaded::AlreadyThere))
            }
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}
