//! The access log as its page shows it.

use serde::{Deserialize, Serialize};

/// Filters on the Access log page (GET parameters; empty means any).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessLogQuery {
    #[serde(default)]
    pub person: String,
    #[serde(default)]
    pub organisation: String,
    #[serde(default)]
    pub action: String,
    #[serde(default)]
    pub label: String,
    /// yyyy-mm-dd, inclusive
    #[serde(default)]
    pub from: String,
    /// yyyy-mm-dd, inclusive
    #[serde(default)]
    pub to: String,
    /// Cursor: the seq of the last event on the previous page.
    #[serde(default)]
    pub before: String,
    /// "all": check every record of the chain now, not only those since
    /// the last full check.
    #[serde(default)]
    pub check: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessEvent {
    pub seq: i64,
    pub when: String,
    /// "Dr Priya Shah", "David Wilson (carer) for Margaret Wilson"
    pub who: String,
    pub role: String,
    pub organisation: String,
    /// "Own account", "Shared with them", "Shared link", "Emergency access", ...
    pub how: String,
    pub reason: Option<String>,
    /// view, export, share, ...
    pub action: String,
    /// What was touched, for people: "Summary page", "An entry", ...
    pub what: String,
    pub labels: Vec<String>,
    pub entry_count: usize,
    pub address: String,
    pub user_agent: String,
    pub is_new: bool,
    /// Emergency access and failed attempts stand out.
    pub stands_out: bool,
    pub is_me: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessLogView {
    pub events: Vec<AccessEvent>,
    /// (key, name) of everyone in the log, for the person filter.
    pub people: Vec<(String, String)>,
    pub organisations: Vec<String>,
    pub next: Option<String>,
    pub new_count: usize,
    pub check: ChainCheck,
    /// Shown to the record's owner, and to a carer acting for them, when
    /// this Kith sends email.
    pub notice_email: Option<NoticeEmail>,
    /// Whether the reader sees the whole log (private entries included), so
    /// may download the chain file, which only checks out whole.
    pub whole: bool,
}

/// Where the reader's notice emails go, and whether they want them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoticeEmail {
    pub address: String,
    pub on: bool,
    /// The reader is a family carer acting for the patient (the emails
    /// cover every record they act for).
    #[serde(default)]
    pub for_carer: bool,
    /// The reader confirmed the address: until they do, nothing is sent.
    #[serde(default)]
    pub confirmed: bool,
}

/// The result of checking a patient's hash chain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainCheck {
    pub records: i64,
    /// Time of the last record checked, UK form.
    pub verified_up_to: Option<String>,
    /// The first record that does not fit, and why.
    pub broken_at: Option<(i64, String)>,
    pub checkpoints: usize,
    /// When every record was last checked from the first (UK form), if not
    /// just now: the records since then were checked now (`checked_now`).
    pub whole_checked_at: Option<String>,
    /// How many records this check recomputed.
    pub checked_now: i64,
}

impl ChainCheck {
    pub fn ok(&self) -> bool {
        self.broken_at.is_none()
    }
}

/// "Who has seen this" on an entry page: one line per person.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeenBy {
    pub who: String,
    pub role: String,
    pub organisation: String,
    pub how: String,
    pub last_seen: String,
    pub times: i64,
}

/// The actions the log records, as (value, title) for filters.
pub const ACTIONS: &[(&str, &str)] = &[
    ("view", "Viewed"),
    ("export", "Exported"),
    ("import", "Imported"),
    ("create", "Added"),
    ("update", "Changed"),
    ("comment", "Commented"),
    ("share", "Shared"),
    ("invitation", "Opened an invitation"),
    ("revoke", "Revoked"),
    ("sign-in", "Signed in"),
    ("sign-in-failed", "Failed sign-in"),
    ("passcode-failed", "Wrong passcode"),
    ("break-glass", "Emergency access"),
];

pub fn action_title(a: &str) -> &str {
    ACTIONS.iter().find(|(k, _)| *k == a).map(|(_, t)| *t).unwrap_or(a)
}
