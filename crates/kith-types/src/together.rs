//! Working together: comments on entries and the shared care plan, as their
//! pages show them.

use serde::{Deserialize, Serialize};

/// The care plan's headings (PRSB Digital Care and Support Plan), in order:
/// (key, title, what goes here).
pub const SECTIONS: &[(&str, &str, &str)] = &[
    ("about-me", "About me", "The patient in their own words: who they are and how they like to be supported."),
    ("matters", "What matters to me", "What is most important to the patient."),
    ("strengths", "My strengths", "What the patient does well, and what helps."),
    ("needs", "My needs", "Support the patient needs."),
    ("concerns", "My concerns", "What worries the patient."),
    ("problems", "Health problems", "Conditions this plan is about, linked to the record."),
    ("goals", "Goals", "Set by the patient with a professional or carer, with a target date."),
    ("actions", "Actions and activities", "Who does what, by when. Tick them off when done."),
    ("outcomes", "Outcomes", "What has changed as a result."),
    ("people", "People involved", "The patient, carers and professionals, with their roles and how to reach them."),
    ("contingency", "Contingency and crisis plan", "What to do and whom to call if things go wrong."),
    ("condition-plans", "Plans for a condition", "Additional plans for a particular condition."),
];

pub fn section_title(key: &str) -> &'static str {
    SECTIONS.iter().find(|(k, _, _)| *k == key).map(|(_, t, _)| *t).unwrap_or("Other")
}

/// Goal statuses, as (value, title).
pub const GOAL_STATUSES: &[(&str, &str)] =
    &[("proposed", "Not started"), ("active", "In progress"), ("achieved", "Achieved"), ("cancelled", "No longer a goal")];

/// One care plan item's content. Which fields matter depends on the section;
/// the rest stay empty.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanFields {
    #[serde(default)]
    pub text: String,
    /// Goals: yyyy-mm-dd.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub target_date: String,
    /// Goals: one of GOAL_STATUSES.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub status: String,
    /// Actions: who does it.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub who: String,
    /// Actions: yyyy-mm-dd.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub by_when: String,
    /// Actions: ticked off.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub done: bool,
    /// People: their role.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub role: String,
    /// People: how to reach them.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub contact: String,
    /// Health problems: the record entry it is about.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub entry_id: String,
}

impl PlanFields {
    /// One line for people to read ("Walk to the shop — by 1 Dec 2026 — done").
    pub fn summary(&self) -> String {
        let mut parts = vec![self.text.clone()];
        for (label, v) in [
            ("who", &self.who),
            ("by", &self.by_when),
            ("target", &self.target_date),
            ("status", &self.status),
            ("role", &self.role),
            ("contact", &self.contact),
        ] {
            if !v.is_empty() {
                parts.push(format!("{label}: {v}"));
            }
        }
        if self.done {
            parts.push("done".into());
        }
        parts.join(" — ")
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanItem {
    pub id: String,
    pub section: String,
    pub fields: PlanFields,
    pub version: i64,
    /// "Dr Priya Shah (clinician, Riverside Surgery)"
    pub author: String,
    pub when: String,
    /// Title of the linked record entry, for health problems.
    pub entry_text: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanSection {
    pub key: String,
    pub title: String,
    pub hint: String,
    pub items: Vec<PlanItem>,
}

/// One difference since the last review.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanChange {
    pub section: String,
    /// added, changed, removed
    pub change: String,
    pub before: Option<String>,
    pub after: Option<String>,
    pub by: String,
    pub when: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CarePlanView {
    pub patient_name: String,
    pub sections: Vec<PlanSection>,
    pub can_contribute: bool,
    pub last_review: Option<String>,
    /// yyyy-mm-dd, and as UK text
    pub next_review: Option<(String, String)>,
    pub review_due: bool,
    pub changes_since_review: Vec<PlanChange>,
    /// Record entries (conditions) a health problem can link to: (id, text).
    pub conditions: Vec<(String, String)>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommentView {
    pub id: String,
    pub author: String,
    pub body: String,
    pub when: String,
    pub edited: Option<String>,
    pub hidden: bool,
    /// Earlier versions, oldest first: (body, when).
    pub history: Vec<(String, String)>,
    pub mine: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommentsView {
    pub comments: Vec<CommentView>,
    pub can_comment: bool,
    /// The patient (or a carer acting for them) may hide comments.
    pub can_hide: bool,
}
