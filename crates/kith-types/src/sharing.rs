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
    /// An invitation just made (likewise).
    #[serde(default)]
    pub new_invitation: Option<NewInvitation>,
}

/// An invitation just made: the only time its address is shown. Whoever
/// opens it and signs in can accept it, so the patient gives it only to the
/// person they meant.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewInvitation {
    pub email: String,
    pub url: String,
}

/// What an invitation offers, shown to the person who opened it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvitationView {
    pub patient_name: String,
    /// The email address the patient typed.
    pub email: String,
    /// clinician or carer
    pub role: String,
    pub scope: String,
    pub rights: String,
    pub expires: Option<String>,
    /// The signed-in person ("Name (email)"); None: they must sign in first.
    pub signed_in_as: Option<String>,
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
    /// Who accepted the invitation and when ("Dr Priya Shah (priya@…), 4
    /// Dec 2026"); None: nobody has yet, and nobody sees anything through it.
    #[serde(default)]
    pub accepted_by: Option<String>,
    /// When they last looked at or added to the record (from the access log).
    #[serde(default)]
    pub last_used: Option<String>,
    /// The viewer may make a new invitation link for it (the patient, or the
    /// carer acting for them who made it).
    #[serde(default)]
    pub can_resend: bool,
    /// The viewer may stop it: only the patient stops a carer's access to
    /// act for her (the carer may step down).
    #[serde(default)]
    pub can_stop: bool,
    /// Who set it up, when not the patient: "Tom Jones, acting for you".
    #[serde(default)]
    pub made_by: Option<String>,
    /// For a family carer acting for the patient: what stopping their access
    /// also stops, because they shared it ("1 person and 1 link").
    #[serde(default)]
    pub also_stops: Option<String>,
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
    /// Who made it, when not the patient: "Tom Jones, acting for you".
    #[serde(default)]
    pub made_by: Option<String>,
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
