use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// What a person is in Kith. A patient owns a record keyed by NHS Number;
/// carers and clinicians see records through what patients share with them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Patient,
    Carer,
    Clinician,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Patient, Role::Carer, Role::Clinician];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Patient => "patient",
            Role::Carer => "carer",
            Role::Clinician => "clinician",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Role::Patient => "Patient",
            Role::Carer => "Family carer",
            Role::Clinician => "Clinician",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "patient" => Ok(Role::Patient),
            "carer" => Ok(Role::Carer),
            "clinician" => Ok(Role::Clinician),
            other => Err(format!("unknown role {other:?}: use patient, carer or clinician")),
        }
    }
}
