//! Values shared by the server and the browser. Nothing here touches a database
//! or the network, so it compiles to wasm.

pub mod audit;
mod email;
mod error;
mod nhs_number;
pub mod record;
mod role;
pub mod sharing;
pub mod together;

pub use email::{Email, EmailError};
pub use error::{AppError, FieldError};
pub use nhs_number::{NhsNumber, NhsNumberError};
pub use role::Role;

use serde::{Deserialize, Serialize};

/// Who is signed in, as the UI needs to know it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Me {
    pub name: String,
    pub email: String,
    pub role: Role,
    /// The record this person owns, when they are a patient with one.
    pub patient: Option<PatientSummary>,
    /// Minutes of inactivity after which the session ends.
    pub idle_timeout_minutes: i64,
    /// The record on screen when it is someone else's (shared, carer, link).
    #[serde(default)]
    pub viewing: Option<sharing::Viewing>,
    /// A clinician who may use emergency access in this deployment.
    #[serde(default)]
    pub break_glass: bool,
    /// A clinician who could use emergency access once their staff identity
    /// is checked (they signed up with a password).
    #[serde(default)]
    pub break_glass_unverified: bool,
    /// The account's email address has been confirmed by its owner (Kith
    /// sends email only to confirmed addresses).
    #[serde(default)]
    pub email_confirmed: bool,
    /// This Kith sends email (so confirming the address is worth asking for).
    #[serde(default)]
    pub can_email: bool,
}

impl Me {
    /// The record on screen is one this person manages: their own, or one
    /// they act for (sources, sharing, adding entries by hand).
    pub fn manages_record(&self) -> bool {
        match &self.viewing {
            None => self.patient.is_some(),
            Some(v) => v.can_manage,
        }
    }
}

/// What the page a "confirm your email address" link opens shows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum EmailConfirmationView {
    /// Nobody is signed in: they sign in to the account, and come back.
    /// (The address is not shown to whoever holds the link.)
    SignIn,
    /// Signed in to the account the link is for: one button confirms
    /// (`change`: the account moves to this new address).
    Ready { email: String, change: bool },
    /// Signed in to a different account.
    OtherAccount,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PatientSummary {
    pub name: String,
    /// Formatted for display: `999 123 4567`.
    pub nhs_number: String,
    /// UK form, rendered on the server: `21 Nov 2026`.
    pub birth_date: String,
}

/// Why a clinician who signed up with a password cannot open records in an
/// emergency: anyone can call themselves a clinician at sign-up.
pub const UNVERIFIED_CLINICIAN: &str = "Emergency access is only for clinicians whose staff identity has been checked. Sign in through your organisation's staff sign-in, or ask whoever runs this Kith to check your account.";

/// Said to someone signed in to one account who opens a link to confirm
/// another's email address (a shared family computer): never which account.
pub const OTHER_ACCOUNT_LINK: &str =
    "This link is for a different Kith account from the one you are signed in to. Sign out, then open the link again and sign in to the account it is for.";

/// Formats a date the way NHS services write it: `21 Nov 2026`.
pub fn uk_date(date: chrono::NaiveDate) -> String {
    date.format("%-d %b %Y").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uk_date_has_no_leading_zero() {
        let d = chrono::NaiveDate::from_ymd_opt(2026, 11, 1).unwrap();
        assert_eq!(uk_date(d), "1 Nov 2026");
    }
}

/// Set-up of two-step verification: the secret for an authenticator app, as
/// text and as a QR code.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TwoStepSetup {
    pub secret: String,
    pub uri: String,
    pub qr_svg: String,
}

/// The Account page's two-step verification section.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TwoStepView {
    pub enabled: bool,
    /// This deployment requires it for the person's role.
    pub required: bool,
    /// Set-up begun: the secret to add to an app.
    pub pending: Option<TwoStepSetup>,
    pub codes_left: i64,
    /// Recovery codes just made: shown once.
    pub new_codes: Vec<String>,
}

/// A way of signing in to an account, as the Account page lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignInMethod {
    /// Empty for the password.
    pub id: String,
    /// "Password", or the provider's name.
    pub kind: String,
    /// The email address the provider knows the person by.
    pub label: String,
    pub linked: String,
    pub last_used: Option<String>,
}

/// A browser signed in to the account.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionView {
    pub signed_in: String,
    pub last_active: String,
    /// "Password" or the provider's name.
    pub how: String,
    pub device: String,
    pub address: String,
    pub this_one: bool,
}

/// A provider the sign-in page offers ("Sign in with {name}").
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignInProvider {
    pub id: String,
    pub name: String,
    /// For staff: "Staff sign-in".
    pub for_staff: bool,
}

/// The Account page's "How you sign in" section.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignInMethodsView {
    pub methods: Vec<SignInMethod>,
    /// Providers this account could still link.
    pub can_link: Vec<SignInProvider>,
    pub sessions: Vec<SessionView>,
    /// How linking a provider just ended (shown once).
    pub notice: Option<String>,
}

/// The sign-in page's providers, and the message a provider sign-in left.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignInOptions {
    pub providers: Vec<SignInProvider>,
    pub notice: Option<String>,
}

/// A connection to a provider's FHIR API, as the Sources page shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectionView {
    pub id: String,
    pub provider: String,
    pub name: String,
    /// connected | needs-reconnect | failed | disconnected
    pub status: String,
    pub connected: String,
    pub last_pull: Option<String>,
    pub summary: Option<String>,
    pub error: Option<String>,
    pub next_pull: Option<String>,
}

/// The Sources page's "Connected services".
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectionsView {
    /// Providers this deployment can connect: (key, name).
    pub offered: Vec<(String, String)>,
    pub connections: Vec<ConnectionView>,
    /// How the last connect or refresh ended (shown once).
    pub notice: Option<String>,
    pub can_manage: bool,
}
