//! What the record pages show, as sent from server to browser. Dates are
//! already formatted for display (UK style) on the server.

use serde::{Deserialize, Serialize};

/// One entry in a list: the merged fact with the organisations stating it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EntryCard {
    pub id: String,
    /// condition, medication, allergy, immunisation, result, vital-sign, ...
    pub kind: String,
    pub text: String,
    /// `21 Nov 2026`, or None when the sources give no date.
    pub date: Option<String>,
    pub status: Option<String>,
    pub value: Option<String>,
    pub label: String,
    pub sources: Vec<String>,
    pub disagreement: bool,
    pub abnormal: bool,
    pub is_new: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub patient_name: String,
    pub nhs_number: String,
    pub birth_date: String,
    pub allergies: Vec<EntryCard>,
    pub problems: Vec<EntryCard>,
    pub medications: Vec<EntryCard>,
    pub latest_results: Vec<EntryCard>,
    pub encounters: Vec<EntryCard>,
    /// Entries added since this person's previous visit.
    pub new_since_last_visit: Vec<EntryCard>,
    pub last_visit: Option<String>,
    /// Exact up to 1,000; 1,001 means more than 1,000.
    pub total_entries: i64,
    /// The care plan's crisis plan, shown on the summary (when shared).
    #[serde(default)]
    pub crisis_plan: Vec<String>,
    /// The care plan's next review (UK date) and whether it is due.
    #[serde(default)]
    pub plan_review: Option<(String, bool)>,
}

/// Timeline filters, as they appear in the page's query string.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimelineQuery {
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub source: String,
    #[serde(default)]
    pub label: String,
    /// YYYY-MM-DD
    #[serde(default)]
    pub from: String,
    #[serde(default)]
    pub to: String,
    #[serde(default)]
    pub q: String,
    /// Opaque: where the previous page ended.
    #[serde(default)]
    pub after: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TimelinePage {
    /// (date heading, entries on that date), newest first.
    pub days: Vec<(String, Vec<EntryCard>)>,
    pub next: Option<String>,
    pub sources: Vec<(String, String)>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EntryDetail {
    pub card: EntryCard,
    pub codes: Vec<CodeView>,
    pub sources: Vec<SourceVersion>,
    /// (field, [(organisation, value)])
    pub disagreements: Vec<(String, Vec<(String, String)>)>,
    /// Added by hand: the viewer added it and may change it.
    #[serde(default)]
    pub can_change: bool,
    /// Added by hand: the viewer added it, or is the patient, and may
    /// remove it.
    #[serde(default)]
    pub can_remove: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeView {
    pub system: String,
    pub system_name: String,
    pub code: String,
    pub display: Option<String>,
}

/// One organisation's version of an entry.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SourceVersion {
    pub organisation: String,
    pub kind: String,
    pub resource_type: String,
    pub resource_id: String,
    pub text: String,
    pub value: Option<String>,
    pub date: Option<String>,
    pub status: Option<String>,
    pub recorded_by: Option<String>,
    /// The original resource, pretty-printed.
    pub json: String,
    /// (version, received) oldest first.
    pub versions: Vec<(i64, String)>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ResultsView {
    pub charts: Vec<ResultSeries>,
    /// Results measured once: no trend to draw.
    pub single: Vec<EntryCard>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ResultSeries {
    pub id: String,
    pub name: String,
    pub unit: Option<String>,
    pub low: Option<f64>,
    pub high: Option<f64>,
    /// Lines on the chart: one for most tests, two for blood pressure.
    pub lines: Vec<ResultLine>,
    /// True when readings were summarised per day (devices, many a day).
    pub daily: bool,
    pub sources: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ResultLine {
    pub name: String,
    pub points: Vec<ResultPoint>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ResultPoint {
    /// Days since 1970-01-01, for plotting.
    pub day: i64,
    /// `21 Nov 2026` (or `21 Nov 2026 14:05`).
    pub when: String,
    pub value: f64,
    /// For daily summaries.
    pub min: Option<f64>,
    pub max: Option<f64>,
    pub count: usize,
    pub abnormal: bool,
    pub entry_id: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SourceInfo {
    pub id: String,
    pub name: String,
    pub kind: String,
    pub identifier: Option<String>,
    pub last_import: Option<String>,
    pub entries: i64,
    pub resources: i64,
    pub imports: Vec<ImportInfo>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportInfo {
    pub file: String,
    pub when: String,
    /// (new, changed, unchanged) records; None for someone who may not see
    /// private entries, since a file's counts include them.
    pub counts: Option<(i64, i64, i64)>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeldFeedInfo {
    pub id: String,
    pub file: String,
    pub source: Option<String>,
    pub found_name: Option<String>,
    pub found_birth_date: Option<String>,
    pub received: String,
    /// The kind chosen when it was added; empty when none was.
    pub source_kind: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SourcesView {
    pub sources: Vec<SourceInfo>,
    pub held: Vec<HeldFeedInfo>,
    pub patient_name: String,
    pub patient_birth_date: String,
    /// The outcome of an upload just made, shown once.
    pub last_upload: Option<UploadResult>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadResult {
    /// Identifies this upload in the Sources page's address, so showing the
    /// result is a plain read (reloading shows it again; nothing is consumed).
    pub id: String,
    pub file: String,
    /// "accepted", "held" or "refused"
    pub outcome: String,
    pub message: String,
}

/// Labels a patient can put on entries (sharing uses them).
pub const LABELS: [(&str, &str); 5] =
    [("general", "General"), ("mental-health", "Mental health"), ("sexual-health", "Sexual health"), ("social-care", "Social care"), ("private", "Private")];

/// Kinds of entry, in the order pages list them.
pub const KINDS: [(&str, &str); 11] = [
    ("allergy", "Allergies"),
    ("condition", "Conditions"),
    ("medication", "Medicines"),
    ("result", "Test results"),
    ("vital-sign", "Vital signs"),
    ("immunisation", "Vaccinations"),
    ("procedure", "Procedures"),
    ("encounter", "Appointments and stays"),
    ("document", "Documents and letters"),
    ("care-plan", "Care plans"),
    ("goal", "Goals"),
];

pub fn kind_title(kind: &str) -> &'static str {
    KINDS.iter().find(|(k, _)| *k == kind).map(|(_, t)| *t).unwrap_or("Other")
}

/// A FHIR status code as words ("entered-in-error": "entered in error").
pub fn status_text(status: &str) -> String {
    status.replace('-', " ")
}

pub fn label_title(label: &str) -> &'static str {
    LABELS.iter().find(|(k, _)| *k == label).map(|(_, t)| *t).unwrap_or("General")
}

pub fn source_kind_title(kind: &str) -> &'static str {
    match kind {
        "gp" => "GP practice",
        "hospital" => "Hospital",
        "mental-health" => "Mental health service",
        "community" => "Community service",
        "social-care" => "Social care",
        "device" => "Device or wearable",
        "patient" => "You",
        _ => "Other",
    }
}

/// A home reading someone can add to their record by hand: its LOINC code
/// and display (kept as sent, like any source's), its UCUM unit, and the
/// range a typed value must fall in (wider than any real reading, so only
/// slips of the finger are refused).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ReadingKind {
    pub key: &'static str,
    /// For the form: "Weight".
    pub title: &'static str,
    pub loinc: &'static str,
    pub display: &'static str,
    /// As people write it: "kg".
    pub unit: &'static str,
    pub ucum: &'static str,
    pub min: f64,
    pub max: f64,
    /// A typical reading, for messages: "for example 70.5".
    pub example: &'static str,
}

/// Blood pressure is two numbers: this is its systolic half, and
/// [`DIASTOLIC`] the other; the panel's own code is [`BLOOD_PRESSURE_PANEL`].
pub const READINGS: [ReadingKind; 6] = [
    ReadingKind {
        key: "blood-pressure",
        title: "Blood pressure",
        loinc: "8480-6",
        display: "Systolic blood pressure",
        unit: "mmHg",
        ucum: "mm[Hg]",
        min: 40.0,
        max: 300.0,
        example: "130",
    },
    ReadingKind { key: "weight", title: "Weight", loinc: "29463-7", display: "Body weight", unit: "kg", ucum: "kg", min: 0.5, max: 400.0, example: "70.5" },
    ReadingKind {
        key: "pulse",
        title: "Pulse",
        loinc: "8867-4",
        display: "Heart rate",
        unit: "beats per minute",
        ucum: "/min",
        min: 20.0,
        max: 300.0,
        example: "72",
    },
    ReadingKind {
        key: "temperature",
        title: "Temperature",
        loinc: "8310-5",
        display: "Body temperature",
        unit: "°C",
        ucum: "Cel",
        min: 25.0,
        max: 45.0,
        example: "36.8",
    },
    ReadingKind {
        key: "oxygen",
        title: "Oxygen level",
        loinc: "59408-5",
        display: "Oxygen saturation in Arterial blood by Pulse oximetry",
        unit: "%",
        ucum: "%",
        min: 50.0,
        max: 100.0,
        example: "97",
    },
    ReadingKind {
        key: "blood-sugar",
        title: "Blood sugar",
        loinc: "15074-8",
        display: "Glucose [Moles/volume] in Blood",
        unit: "mmol/L",
        ucum: "mmol/L",
        min: 0.5,
        max: 60.0,
        example: "5.6",
    },
];

/// The other half of a blood pressure reading.
pub const DIASTOLIC: ReadingKind = ReadingKind {
    key: "blood-pressure",
    title: "Blood pressure",
    loinc: "8462-4",
    display: "Diastolic blood pressure",
    unit: "mmHg",
    ucum: "mm[Hg]",
    min: 20.0,
    max: 200.0,
    example: "80",
};

/// LOINC code and display of a blood pressure reading as a whole.
pub const BLOOD_PRESSURE_PANEL: (&str, &str) = ("85354-9", "Blood pressure panel with all children optional");

/// Kinds of entry someone can add to a record by hand, as `(key, title)`.
pub const OWN_ENTRY_KINDS: [(&str, &str); 4] =
    [("reading", "A reading"), ("allergy", "An allergy"), ("medicine", "A medicine you take"), ("condition", "A health condition")];

/// An entry added by hand, as its form sends it. Which fields count
/// depends on `kind` (see [`OWN_ENTRY_KINDS`]).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct OwnEntryForm {
    #[serde(default)]
    pub kind: String,
    /// A [`READINGS`] key.
    #[serde(default)]
    pub reading: String,
    #[serde(default)]
    pub value: String,
    /// The diastolic number of a blood pressure.
    #[serde(default)]
    pub second_value: String,
    /// What the allergy is to, the medicine, or the condition.
    #[serde(default)]
    pub text: String,
    /// An allergy's reaction, or how the medicine is taken.
    #[serde(default)]
    pub detail: String,
    /// `YYYY-MM-DD`: when the reading was taken, or the allergy, medicine
    /// or condition started (optional for those).
    #[serde(default)]
    pub date: String,
    /// `HH:MM`, UK time (optional).
    #[serde(default)]
    pub time: String,
    /// A [`LABELS`] key: who it is shared with.
    #[serde(default)]
    pub label: String,
}

/// An entry its viewer added by hand, as the form to change it opens.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OwnEntry {
    pub entry_id: String,
    /// What the entry says (its name, or the reading).
    pub text: String,
    /// What it holds now, as its form would send it.
    pub form: OwnEntryForm,
    /// Removed as entered in error: saving it again puts it back.
    pub removed: bool,
    /// The viewer added it, so may change it (else they are the patient,
    /// who may remove what a carer added).
    pub can_change: bool,
    /// Who added it, as the entry names them.
    pub entered_by: String,
}

impl OwnEntryForm {
    /// What was typed, for a refused form to be filled in again. Without
    /// JavaScript it travels in the page's address, so each value is cut
    /// at 250 characters (a name that long is refused anyway, and says so).
    pub fn values(&self) -> Vec<(String, String)> {
        [
            ("kind", &self.kind),
            ("reading", &self.reading),
            ("value", &self.value),
            ("second_value", &self.second_value),
            ("text", &self.text),
            ("detail", &self.detail),
            ("date", &self.date),
            ("time", &self.time),
            ("label", &self.label),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.chars().take(250).collect()))
        .collect()
    }
}
