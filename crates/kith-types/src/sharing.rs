//! What the sharing pages show.

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SharingView {
    pub grants: Vec<GrantInfo>,
    pub links: Vec<LinkInfo>,
    /// True when the viewer may give "act for" (only the patient may).
    pub can_grant_act_for: bool,
    /// A link just made (without JavaScript it arrives through the session).
    #[serde(default)]
    pub new_link: Option<NewLink>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GrantInfo {
    pub id: String,
    pub email: String,
    pub role: String,
    /// "Whole record", "Mental health entries", ...
    pub scope: String,
    /// "View, comment"
    pub rights: String,
    pub expires: Option<String>,
    /// active, expired or revoked
    pub status: String,
    pub created: String,
    /// A family carer's access ends within 30 days (or has ended): time to
    /// review it.
    #[serde(default)]
    pub review_due: bool,
    /// Whether the person has a Kith account yet (if not, they need inviting).
    #[serde(default)]
    pub has_account: bool,
    /// When they last looked at or added to the record (from the access log).
    #[serde(default)]
    pub last_used: Option<String>,
    /// For someone without an account: the link that invites them to make
    /// one (it fills in their email and role).
    #[serde(default)]
    pub invite_url: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkInfo {
    pub id: String,
    pub name: String,
    pub scope: String,
    /// When the patient made it.
    pub created: String,
    pub expires: String,
    /// active, expired, revoked, locked or used
    pub status: String,
    pub has_passcode: bool,
    pub single_use: bool,
    pub last_used: Option<String>,
}

/// A link just made: the only time its address is shown.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewLink {
    pub url: String,
    /// The address as a QR code (SVG markup).
    pub qr_svg: String,
    pub expires: String,
}

/// A record someone has shared with the signed-in person.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SharedRecord {
    pub patient_id: String,
    pub name: String,
    pub rights: String,
    pub scope: String,
    pub expires: Option<String>,
}

/// Whose record is on screen, when it is not the viewer's own.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Viewing {
    pub patient_name: String,
    /// "shared with you", "as their carer", "through a shared link"
    pub how: String,
    /// The patient has not shared everything with this viewer.
    pub partial: bool,
    pub can_manage: bool,
}
