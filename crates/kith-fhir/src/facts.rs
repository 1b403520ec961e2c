//! Normalised facts: one shape for what a patient reads, whichever resource
//! type and whichever organisation it came from, plus the merge key that
//! says "this is the same clinical fact as that one from another source".
//!
//! Merge key = `kind|code|date[|extra]`:
//!
//! | kind | code | date | extra |
//! |---|---|---|---|
//! | condition | `code` | onset (else recorded) day | |
//! | medication | medicine | authored/effective/asserted day | `administered`/`dispensed` for those resources |
//! | allergy | substance | (none: one allergy per substance) | |
//! | immunisation | vaccine | occurrence day | |
//! | result, vital-sign | `code` | effective minute, UTC | value+unit (components for panels), or `report` |
//! | procedure | `code` | performed day | |
//! | encounter | type | period start minute, UTC | |
//! | document | type | date minute, UTC | |
//! | care-plan | category (SNOMED one preferred) | period start day | |
//! | goal | description | start day | |
//!
//! Keys are exact strings (so they can be a database index), so dates are
//! compared at a fixed precision rather than with a tolerance: a condition
//! whose onset two sources record a day apart stays two facts. Day precision
//! uses the date as written (no time-zone shift, so a date-only value meets a
//! local date-time); minute precision converts to UTC (so `+01:00` and `Z`
//! forms of one instant agree).
//!
//! Codes: a SNOMED CT coding (or dm+d, whose ids are SNOMED ids) wins, as
//! `sct:<id>`; else the first coding's `system|code`; else `text:` and the
//! normalised text.

use std::fmt;
use std::str::FromStr;

use serde_json::Value;

use crate::labels::{label_for, Label};
use crate::parse::{Feed, FeedResource};
use crate::refs::RefIndex;

/// What kind of organisation a feed comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SourceKind {
    Gp,
    Hospital,
    MentalHealth,
    Community,
    SocialCare,
    Device,
    Patient,
}

impl SourceKind {
    pub const ALL: [SourceKind; 7] = [
        SourceKind::Gp,
        SourceKind::Hospital,
        SourceKind::MentalHealth,
        SourceKind::Community,
        SourceKind::SocialCare,
        SourceKind::Device,
        SourceKind::Patient,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SourceKind::Gp => "gp",
            SourceKind::Hospital => "hospital",
            SourceKind::MentalHealth => "mental-health",
            SourceKind::Community => "community",
            SourceKind::SocialCare => "social-care",
            SourceKind::Device => "device",
            SourceKind::Patient => "patient",
        }
    }

    /// For display: "GP practice".
    pub fn title(self) -> &'static str {
        match self {
            SourceKind::Gp => "GP practice",
            SourceKind::Hospital => "Hospital",
            SourceKind::MentalHealth => "Mental health service",
            SourceKind::Community => "Community service",
            SourceKind::SocialCare => "Social care",
            SourceKind::Device => "Device or app",
            SourceKind::Patient => "You",
        }
    }
}

impl fmt::Display for SourceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SourceKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        SourceKind::ALL.into_iter().find(|k| k.as_str() == s).ok_or_else(|| format!("unknown source kind \"{s}\""))
    }
}

/// The sections of a record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FactKind {
    Condition,
    Medication,
    Allergy,
    Immunisation,
    Result,
    VitalSign,
    Procedure,
    Encounter,
    Document,
    CarePlan,
    Goal,
}

impl FactKind {
    pub const ALL: [FactKind; 11] = [
        FactKind::Condition,
        FactKind::Medication,
        FactKind::Allergy,
        FactKind::Immunisation,
        FactKind::Result,
        FactKind::VitalSign,
        FactKind::Procedure,
        FactKind::Encounter,
        FactKind::Document,
        FactKind::CarePlan,
        FactKind::Goal,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            FactKind::Condition => "condition",
            FactKind::Medication => "medication",
            FactKind::Allergy => "allergy",
            FactKind::Immunisation => "immunisation",
            FactKind::Result => "result",
            FactKind::VitalSign => "vital-sign",
            FactKind::Procedure => "procedure",
            FactKind::Encounter => "encounter",
            FactKind::Document => "document",
            FactKind::CarePlan => "care-plan",
            FactKind::Goal => "goal",
        }
    }

    /// Section heading: "Conditions".
    pub fn label(self) -> &'static str {
        match self {
            FactKind::Condition => "Conditions",
            FactKind::Medication => "Medicines",
            FactKind::Allergy => "Allergies",
            FactKind::Immunisation => "Immunisations",
            FactKind::Result => "Test results",
            FactKind::VitalSign => "Vital signs",
            FactKind::Procedure => "Procedures",
            FactKind::Encounter => "Visits and admissions",
            FactKind::Document => "Documents and letters",
            FactKind::CarePlan => "Care plans",
            FactKind::Goal => "Goals",
        }
    }

    /// One item, lower case: "condition", "test result".
    pub fn noun(self) -> &'static str {
        match self {
            FactKind::Condition => "condition",
            FactKind::Medication => "medicine",
            FactKind::Allergy => "allergy",
            FactKind::Immunisation => "immunisation",
            FactKind::Result => "test result",
            FactKind::VitalSign => "measurement",
            FactKind::Procedure => "procedure",
            FactKind::Encounter => "visit",
            FactKind::Document => "document",
            FactKind::CarePlan => "care plan",
            FactKind::Goal => "goal",
        }
    }

    /// The kind a resource type becomes, if any. Observations need their
    /// category as well: see [`normalise`].
    pub fn of_resource_type(resource_type: &str) -> Option<FactKind> {
        Some(match resource_type {
            "Condition" => FactKind::Condition,
            "MedicationRequest" | "MedicationStatement" | "MedicationAdministration" | "MedicationDispense" => FactKind::Medication,
            "AllergyIntolerance" => FactKind::Allergy,
            "Immunization" => FactKind::Immunisation,
            "Observation" | "DiagnosticReport" => FactKind::Result,
            "Procedure" => FactKind::Procedure,
            "Encounter" => FactKind::Encounter,
            "DocumentReference" | "Composition" => FactKind::Document,
            "CarePlan" => FactKind::CarePlan,
            "Goal" => FactKind::Goal,
            _ => return None,
        })
    }
}

impl fmt::Display for FactKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for FactKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        FactKind::ALL.into_iter().find(|k| k.as_str() == s).ok_or_else(|| format!("unknown fact kind \"{s}\""))
    }
}

/// One coding, verbatim.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Code {
    pub system: String,
    pub code: String,
    /// The sender's display text, kept as sent.
    pub display: Option<String>,
}

/// A resource reduced to what a patient reads and what merging needs.
#[derive(Clone, Debug, PartialEq)]
pub struct Fact {
    pub kind: FactKind,
    /// Every coding of the fact's main concept(s), verbatim.
    pub codes: Vec<Code>,
    /// What a patient reads: the concept's text, else a coding's display,
    /// else a code, else "Unnamed <noun>".
    pub text: String,
    /// ISO date or date-time, as given.
    pub date: Option<String>,
    /// Clinical status for conditions and allergies, lifecycle status for
    /// goals, `status` otherwise.
    pub status: Option<String>,
    /// Display form of an observation's value: "5.8 mmol/L", "120/80 mmHg".
    pub value: Option<String>,
    pub numeric: Option<f64>,
    pub unit: Option<String>,
    /// Reference range.
    pub low: Option<f64>,
    pub high: Option<f64>,
    /// The interpretation as the sender put it ("High", "Normal").
    pub interpretation: Option<String>,
    /// Flagged abnormal, or outside the reference range.
    pub abnormal: bool,
    /// Allergies: the worst reaction severity; conditions: `severity`.
    pub severity: Option<String>,
    /// First category code, e.g. "vital-signs", "laboratory", "problem-list-item".
    pub category: Option<String>,
    pub label: Label,
    /// Same key ⇒ same clinical fact (prefixed with the kind).
    pub merge_key: String,
    /// Fields on which sources stating the same fact can disagree. Only
    /// fields the resource has are listed: a field absent in one source is
    /// missing information, not a disagreement.
    pub compare: Vec<(String, String)>,
}

/// Normalises one resource; None for resource types that are not facts
/// (Patient, Organization, …), which the caller keeps raw.
pub fn normalise(res: &FeedResource, source: SourceKind) -> Option<Fact> {
    normalise_json(&res.resource_type, &res.json, source, None)
}

/// Like [`normalise`], but a `medicationReference` to a Medication elsewhere
/// in the feed is followed for the medicine's codes and name (UK feeds send
/// dm+d Medications that way).
pub fn normalise_in<'a>(feed: &'a Feed, refs: &RefIndex, res: &'a FeedResource, source: SourceKind) -> Option<Fact> {
    let lookup = |r: &str| -> Option<&'a Value> { refs.resolve_index(r).and_then(|i| feed.resources.get(i)).map(|m| &m.json) };
    normalise_json(&res.resource_type, &res.json, source, Some(&lookup))
}

/// Finds a referenced resource's JSON (for `medicationReference`).
type Lookup<'l, 'a> = Option<&'l dyn Fn(&str) -> Option<&'a Value>>;

fn normalise_json<'a>(rt: &str, r: &'a Value, source: SourceKind, lookup: Lookup<'_, 'a>) -> Option<Fact> {
    let mut kind = FactKind::of_resource_type(rt)?;
    if rt == "Observation" && is_vital_sign(r) {
        kind = FactKind::VitalSign;
    }
    let mut f = Fact {
        kind,
        codes: Vec::new(),
        text: String::new(),
        date: None,
        status: str_field(r, "status"),
        value: None,
        numeric: None,
        unit: None,
        low: None,
        high: None,
        interpretation: None,
        abnormal: false,
        severity: None,
        category: first_category(r),
        label: Label::General,
        merge_key: String::new(),
        compare: Vec::new(),
    };
    // The concept(s) that name the fact, and the text fallback chain.
    let mut concepts: Vec<&Value> = Vec::new();
    let mut text: Option<String> = None;
    // The date that goes into the merge key, and at which precision.
    let mut key_date: Option<String> = None;
    let mut key_extra: Vec<String> = Vec::new();

    match rt {
        "Condition" => {
            concepts.extend(r.get("code"));
            f.status = clinical_status(r);
            f.severity = r.get("severity").and_then(concept_text);
            f.date = first_str(r, &["onsetDateTime", "onsetPeriod.start", "onsetString", "recordedDate"]);
            key_date = f.date.as_deref().map(day);
            f.push_compare("verification", concept_code(r.get("verificationStatus")));
            f.push_compare("severity", f.severity.clone());
            let abated = first_str(r, &["abatementDateTime", "abatementPeriod.start", "abatementString"]);
            f.push_compare("abatement", abated.as_deref().map(day));
        }
        "MedicationRequest" | "MedicationStatement" | "MedicationAdministration" | "MedicationDispense" => {
            let (med_concepts, med_text) = medication(r, lookup);
            concepts.extend(med_concepts);
            text = med_text;
            f.date = first_str(r, &["authoredOn", "effectiveDateTime", "effectivePeriod.start", "dateAsserted", "whenHandedOver", "whenPrepared"]);
            key_date = f.date.as_deref().map(day);
            // A request and a statement of the same medicine on the same day
            // are one fact; a dispense or an administration is its own event.
            match rt {
                "MedicationAdministration" => key_extra.push("administered".into()),
                "MedicationDispense" => key_extra.push("dispensed".into()),
                _ => {}
            }
            let dosage = ["dosageInstruction", "dosage"]
                .iter()
                .find_map(|k| r.get(*k).and_then(|d| d.get(0)).and_then(|d| str_field(d, "text")))
                .or_else(|| r.get("dosage").and_then(|d| str_field(d, "text")));
            f.push_compare("dosage", dosage);
        }
        "AllergyIntolerance" => {
            concepts.extend(r.get("code"));
            f.status = clinical_status(r);
            f.severity = worst_reaction_severity(r);
            f.date = first_str(r, &["onsetDateTime", "onsetPeriod.start", "recordedDate"]);
            // One allergy per substance, whenever it was recorded.
            key_date = Some(String::new());
            f.push_compare("verification", concept_code(r.get("verificationStatus")));
            f.push_compare("criticality", str_field(r, "criticality"));
            f.push_compare("severity", f.severity.clone());
        }
        "Immunization" => {
            concepts.extend(r.get("vaccineCode"));
            f.date = first_str(r, &["occurrenceDateTime", "occurrenceString", "recorded"]);
            key_date = f.date.as_deref().map(day);
        }
        "Observation" | "DiagnosticReport" => {
            concepts.extend(r.get("code"));
            f.date = first_str(r, &["effectiveDateTime", "effectivePeriod.start", "effectiveInstant", "issued"]);
            key_date = f.date.as_deref().map(minute_utc);
            if rt == "Observation" {
                observation_value(r, &mut f, &mut key_extra);
            } else {
                // A report is not the same fact as a result with its code.
                key_extra.push("report".into());
                f.value = str_field(r, "conclusion");
            }
            f.push_compare("interpretation", f.interpretation.clone());
        }
        "Procedure" => {
            concepts.extend(r.get("code"));
            f.date = first_str(r, &["performedDateTime", "performedPeriod.start", "performedString"]);
            key_date = f.date.as_deref().map(day);
        }
        "Encounter" => {
            concepts.extend(r.get("type").and_then(Value::as_array).into_iter().flatten());
            text = concepts
                .first()
                .and_then(|c| concept_text(c))
                .or_else(|| r.get("serviceType").and_then(concept_text))
                .or_else(|| r.get("class").and_then(coding_text));
            f.date = first_str(r, &["period.start"]);
            key_date = f.date.as_deref().map(minute_utc);
            f.push_compare("class", r.get("class").and_then(|c| str_field(c, "code")));
        }
        "DocumentReference" | "Composition" => {
            concepts.extend(r.get("type"));
            text = str_field(r, "title").or_else(|| str_field(r, "description"));
            f.date = first_str(r, &["date", "context.period.start"]);
            key_date = f.date.as_deref().map(minute_utc);
            f.push_compare("doc-status", str_field(r, "docStatus"));
        }
        "CarePlan" => {
            concepts.extend(r.get("category").and_then(Value::as_array).into_iter().flatten());
            text = str_field(r, "title").or_else(|| str_field(r, "description")).or_else(|| best_concept(&concepts).and_then(concept_text));
            f.date = first_str(r, &["period.start", "created"]);
            key_date = f.date.as_deref().map(day);
        }
        "Goal" => {
            concepts.extend(r.get("description"));
            f.status = str_field(r, "lifecycleStatus");
            f.date = first_str(r, &["startDate", "statusDate", "target.0.dueDate"]);
            key_date = f.date.as_deref().map(day);
            f.push_compare("achievement", concept_code(r.get("achievementStatus")));
        }
        _ => {}
    }

    for c in &concepts {
        push_codes(c, &mut f.codes);
    }
    f.text = text.or_else(|| concepts.iter().find_map(|c| concept_text(c))).unwrap_or_else(|| format!("Unnamed {}", kind.noun()));
    if let Some(status) = f.status.clone() {
        f.compare.insert(0, ("status".to_string(), status));
    }

    // Label: security codes, then the codes of the fact, its value and reasons.
    let mut label_codes = f.codes.clone();
    for extra in ["valueCodeableConcept", "reasonCode"] {
        match r.get(extra) {
            Some(Value::Array(items)) => items.iter().for_each(|c| push_codes(c, &mut label_codes)),
            Some(c) => push_codes(c, &mut label_codes),
            None => {}
        }
    }
    let security = r
        .get("meta")
        .and_then(|m| m.get("security"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|c| Some((c.get("system").and_then(Value::as_str), c.get("code")?.as_str()?)));
    f.label = label_for(&label_codes, security, source);

    // Without any concept (a care plan with only a title), the text is the code.
    let code = match best_concept(&concepts) {
        Some(_) => code_key(&concepts),
        None => format!("text:{}", norm_text(&f.text)),
    };
    let mut key = format!("{}|{}|{}", kind.as_str(), code, key_date.unwrap_or_default());
    for extra in key_extra {
        key.push('|');
        key.push_str(&extra);
    }
    f.merge_key = key;
    Some(f)
}

impl Fact {
    fn push_compare(&mut self, field: &str, value: Option<String>) {
        if let Some(v) = value.filter(|v| !v.is_empty()) {
            self.compare.push((field.to_string(), v));
        }
    }

    /// The value of a `compare` field, if the fact has it.
    pub fn compared(&self, field: &str) -> Option<&str> {
        self.compare.iter().find(|(f, _)| f == field).map(|(_, v)| v.as_str())
    }
}

// --- Kinds ------------------------------------------------------------------

fn is_vital_sign(r: &Value) -> bool {
    let categorised = r
        .get("category")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .flat_map(codings)
        .any(|c| c.get("code").and_then(Value::as_str) == Some("vital-signs"));
    categorised
        || r.get("meta")
            .and_then(|m| m.get("profile"))
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .any(|p| p.ends_with("/vitalsigns") || p.contains("VitalSigns"))
}

fn first_category(r: &Value) -> Option<String> {
    match r.get("category")? {
        // AllergyIntolerance.category is a list of codes.
        Value::Array(items) => items.iter().find_map(|c| match c {
            Value::String(s) => Some(s.clone()),
            c => concept_code(Some(c)),
        }),
        c => concept_code(Some(c)),
    }
}

/// The medicine's concept(s) and a text fallback, from
/// `medicationCodeableConcept` or a `medicationReference` (contained, or in
/// the feed when a lookup is given).
fn medication<'a>(r: &'a Value, lookup: Lookup<'_, 'a>) -> (Vec<&'a Value>, Option<String>) {
    if let Some(cc) = r.get("medicationCodeableConcept") {
        return (vec![cc], None);
    }
    let Some(mref) = r.get("medicationReference") else {
        return (vec![], None);
    };
    let display = str_field(mref, "display");
    let target = mref.get("reference").and_then(Value::as_str).and_then(|reference| match reference.strip_prefix('#') {
        Some(local) => r.get("contained").and_then(Value::as_array)?.iter().find(|c| c.get("id").and_then(Value::as_str) == Some(local)),
        None => lookup.and_then(|l| l(reference)),
    });
    match target.and_then(|m| m.get("code")) {
        Some(code) => (vec![code], display),
        None => (vec![], display),
    }
}

fn worst_reaction_severity(r: &Value) -> Option<String> {
    let rank = |s: &str| match s {
        "severe" => 3,
        "moderate" => 2,
        "mild" => 1,
        _ => 0,
    };
    r.get("reaction")?.as_array()?.iter().filter_map(|x| x.get("severity").and_then(Value::as_str)).max_by_key(|s| rank(s)).map(str::to_string)
}

// --- Observation values -----------------------------------------------------

const SYSTOLIC: &[&str] = &["8480-6", "271649006", "72313002"];
const DIASTOLIC: &[&str] = &["8462-4", "271650006", "1091811000000102"];

fn observation_value(r: &Value, f: &mut Fact, key: &mut Vec<String>) {
    if let Some(range) = r.get("referenceRange").and_then(|x| x.get(0)) {
        f.low = range.get("low").and_then(|q| q.get("value")).and_then(Value::as_f64);
        f.high = range.get("high").and_then(|q| q.get("value")).and_then(Value::as_f64);
    }
    if let Some(interp) = r.get("interpretation").and_then(|x| x.get(0)) {
        f.interpretation = concept_text(interp);
        f.abnormal =
            codings(interp).any(|c| matches!(c.get("code").and_then(Value::as_str), Some("A" | "AA" | "H" | "HH" | "HU" | "L" | "LL" | "LU" | "POS" | "DET")));
    }

    if let Some((display, key_part, numeric, unit)) = value_of(r) {
        f.value = Some(display);
        f.numeric = numeric;
        f.unit = unit;
        key.push(key_part);
    } else if let Some(components) = r.get("component").and_then(Value::as_array) {
        let (display, key_part) = components_value(components);
        f.value = display;
        key.push(key_part);
    }
    if let (Some(n), false) = (f.numeric, f.abnormal) {
        f.abnormal = f.low.is_some_and(|lo| n < lo) || f.high.is_some_and(|hi| n > hi);
    }
}

/// `(display, key part, numeric, unit)` of an element's `value[x]`.
fn value_of(v: &Value) -> Option<(String, String, Option<f64>, Option<String>)> {
    if let Some(q) = v.get("valueQuantity") {
        let n = q.get("value").and_then(Value::as_f64);
        let number = q.get("value").map(|x| x.to_string()).unwrap_or_default();
        let unit = str_field(q, "unit").or_else(|| str_field(q, "code"));
        let comparator = str_field(q, "comparator").unwrap_or_default();
        let shown = unit.as_deref().map(pretty_unit).unwrap_or_default();
        let display = format!("{comparator}{number} {shown}").trim().to_string();
        let key_unit = str_field(q, "code").or_else(|| unit.clone()).unwrap_or_default();
        let key = format!(
            "{comparator}{}{}",
            n.map(|n| n.to_string()).unwrap_or(number),
            if key_unit.is_empty() { String::new() } else { format!(" {}", key_unit.to_lowercase()) }
        );
        return Some((display, key, n, unit));
    }
    if let Some(cc) = v.get("valueCodeableConcept") {
        let text = concept_text(cc).unwrap_or_default();
        return Some((text, code_key(&[cc]), None, None));
    }
    if let Some(s) = v.get("valueString").and_then(Value::as_str) {
        return Some((s.to_string(), format!("text:{}", norm_text(s)), None, None));
    }
    if let Some(b) = v.get("valueBoolean").and_then(Value::as_bool) {
        let shown = if b { "Yes" } else { "No" };
        return Some((shown.to_string(), b.to_string(), None, None));
    }
    if let Some(i) = v.get("valueInteger").and_then(Value::as_i64) {
        return Some((i.to_string(), i.to_string(), Some(i as f64), None));
    }
    for k in ["valueDateTime", "valueTime"] {
        if let Some(s) = v.get(k).and_then(Value::as_str) {
            return Some((s.to_string(), s.to_string(), None, None));
        }
    }
    if let Some(ratio) = v.get("valueRatio") {
        let part = |k: &str| ratio.get(k).and_then(|q| q.get("value")).map(|x| x.to_string()).unwrap_or_default();
        let s = format!("{}/{}", part("numerator"), part("denominator"));
        return Some((s.clone(), s, None, None));
    }
    if let Some(range) = v.get("valueRange") {
        let part = |k: &str| range.get(k).and_then(|q| q.get("value")).map(|x| x.to_string()).unwrap_or_default();
        let s = format!("{}–{}", part("low"), part("high"));
        return Some((s.clone(), s, None, None));
    }
    None
}

/// Blood pressure reads "120/80 mmHg"; other panels "Name: value; Name: value".
fn components_value(components: &[Value]) -> (Option<String>, String) {
    let find = |codes: &[&str]| {
        components
            .iter()
            .find(|c| c.get("code").is_some_and(|cc| codings(cc).any(|x| x.get("code").and_then(Value::as_str).is_some_and(|code| codes.contains(&code)))))
    };
    let mut key_parts = Vec::new();
    let mut shown = Vec::new();
    for c in components {
        let Some((display, key, _, _)) = value_of(c) else {
            continue;
        };
        let code = c.get("code").map(|cc| code_key(&[cc])).unwrap_or_default();
        key_parts.push(format!("{code}={key}"));
        let name = c.get("code").and_then(concept_text).unwrap_or_default();
        shown.push(if name.is_empty() { display } else { format!("{name}: {display}") });
    }
    let key = key_parts.join(";");
    if let (Some(sys), Some(dia)) = (find(SYSTOLIC), find(DIASTOLIC)) {
        let num = |c: &Value| c.get("valueQuantity").and_then(|q| q.get("value")).map(|v| v.to_string());
        if let (Some(s), Some(d)) = (num(sys), num(dia)) {
            let unit = sys
                .get("valueQuantity")
                .and_then(|q| str_field(q, "code").or_else(|| str_field(q, "unit")))
                .map(|u| pretty_unit(&u).to_string())
                .unwrap_or_default();
            return (Some(format!("{s}/{d} {unit}").trim().to_string()), key);
        }
    }
    ((!shown.is_empty()).then(|| shown.join("; ")), key)
}

/// UCUM codes people do not read easily.
fn pretty_unit(unit: &str) -> &str {
    match unit {
        "mm[Hg]" | "millimeter of mercury" => "mmHg",
        "Cel" => "°C",
        "[degF]" => "°F",
        "kg/m2" => "kg/m²",
        "{score}" => "",
        u => u,
    }
}

// --- JSON helpers ------------------------------------------------------------

fn str_field(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty()).map(str::to_string)
}

/// The first present string among dotted paths ("onsetPeriod.start",
/// "target.0.dueDate").
fn first_str(v: &Value, paths: &[&str]) -> Option<String> {
    paths.iter().find_map(|p| {
        let mut cur = v;
        for part in p.split('.') {
            cur = match part.parse::<usize>() {
                Ok(i) => cur.get(i)?,
                Err(_) => cur.get(part)?,
            };
        }
        cur.as_str().map(str::trim).filter(|s| !s.is_empty()).map(str::to_string)
    })
}

fn codings(cc: &Value) -> impl Iterator<Item = &Value> {
    cc.get("coding").and_then(Value::as_array).into_iter().flatten()
}

fn push_codes(cc: &Value, out: &mut Vec<Code>) {
    for c in codings(cc) {
        let code = c.get("code").and_then(Value::as_str);
        let display = c.get("display").and_then(Value::as_str);
        if code.is_none() && display.is_none() {
            continue;
        }
        out.push(Code {
            system: c.get("system").and_then(Value::as_str).unwrap_or_default().to_string(),
            code: code.unwrap_or_default().to_string(),
            display: display.map(str::to_string),
        });
    }
}

/// CodeableConcept → text, else the first display, else the first code.
fn concept_text(cc: &Value) -> Option<String> {
    str_field(cc, "text").or_else(|| codings(cc).find_map(readable_display)).or_else(|| codings(cc).find_map(|c| str_field(c, "code")))
}

/// A coding's display for reading. SNOMED fully specified names end in a
/// semantic tag, "Injury of neck (disorder)"; patients read "Injury of neck".
/// (`Fact::codes` keeps the display exactly as sent.)
fn readable_display(c: &Value) -> Option<String> {
    let display = str_field(c, "display")?;
    if system_of(c) != "http://snomed.info/sct" {
        return Some(display);
    }
    let tagged = display.strip_suffix(')').and_then(|d| d.rsplit_once(" ("));
    match tagged {
        Some((name, tag)) if !name.trim().is_empty() && tag.bytes().all(|b| b.is_ascii_lowercase() || b == b' ' || b == b'/') => {
            Some(name.trim_end().to_string())
        }
        _ => Some(display),
    }
}

/// A bare Coding (Encounter.class) → display, else code.
fn coding_text(c: &Value) -> Option<String> {
    str_field(c, "display").or_else(|| str_field(c, "code"))
}

/// The code of a status-like CodeableConcept ("active", "confirmed").
/// An allergy's or problem's status: its clinicalStatus, unless its
/// verificationStatus says it was refuted or entered in error (FHIR then
/// leaves clinicalStatus out), so that it is not shown as current.
fn clinical_status(r: &Value) -> Option<String> {
    match concept_code(r.get("verificationStatus")).as_deref() {
        Some(v @ ("refuted" | "entered-in-error")) => Some(v.to_string()),
        _ => concept_code(r.get("clinicalStatus")),
    }
}

fn concept_code(cc: Option<&Value>) -> Option<String> {
    let cc = cc?;
    codings(cc).find_map(|c| str_field(c, "code")).or_else(|| str_field(cc, "text"))
}

fn is_snomed(system: &str) -> bool {
    // dm+d concept ids are SNOMED CT ids, and feeds label them either way.
    matches!(system, "http://snomed.info/sct" | "https://dmd.nhs.uk" | "http://dmd.nhs.uk")
}

/// The concept that names the fact best: one with a SNOMED coding, else the
/// first with any code, else the first.
fn best_concept<'a>(concepts: &[&'a Value]) -> Option<&'a Value> {
    let coded = |snomed: bool| {
        concepts.iter().copied().find(|cc| {
            codings(cc).any(|c| c.get("code").and_then(Value::as_str).is_some() && (!snomed || c.get("system").and_then(Value::as_str).is_some_and(is_snomed)))
        })
    };
    coded(true).or_else(|| coded(false)).or_else(|| concepts.first().copied())
}

fn code_of(c: &Value) -> Option<&str> {
    c.get("code").and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty())
}

fn system_of(c: &Value) -> &str {
    c.get("system").and_then(Value::as_str).unwrap_or_default()
}

/// The code part of a merge key, across all given concepts.
fn code_key(concepts: &[&Value]) -> String {
    let all = || concepts.iter().flat_map(|cc| codings(cc));
    if let Some(c) = all().find(|c| is_snomed(system_of(c)) && code_of(c).is_some()) {
        return format!("sct:{}", code_of(c).unwrap_or_default());
    }
    if let Some(c) = all().find(|c| code_of(c).is_some()) {
        return format!("{}|{}", system_of(c), code_of(c).unwrap_or_default());
    }
    let text = concepts.iter().find_map(|cc| concept_text(cc)).unwrap_or_default();
    format!("text:{}", norm_text(&text))
}

/// Lower case, letters and digits only, single spaces: "Type 2  Diabetes!" →
/// "type 2 diabetes".
fn norm_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for word in s.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()) {
        if !out.is_empty() {
            out.push(' ');
        }
        out.extend(word.chars().flat_map(char::to_lowercase));
    }
    out
}

/// The calendar date as written: "2021-07-29T05:25:45+01:00" → "2021-07-29";
/// partial dates ("2021-07") stay as they are.
fn day(s: &str) -> String {
    s.get(..10).unwrap_or(s).to_string()
}

/// The instant to the minute, in UTC: "2021-07-29T06:25:45+01:00" →
/// "2021-07-29T05:25Z". Date-only and unparseable values stay as written.
fn minute_utc(s: &str) -> String {
    match chrono::DateTime::parse_from_rfc3339(s) {
        Ok(t) => t.with_timezone(&chrono::Utc).format("%Y-%m-%dT%H:%MZ").to_string(),
        Err(_) => s.get(..16).unwrap_or(s).to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(day("2021-07-29T05:25:45.433712+00:00"), "2021-07-29");
        assert_eq!(day("2021-07"), "2021-07");
        assert_eq!(minute_utc("2021-07-29T06:25:45+01:00"), "2021-07-29T05:25Z");
        assert_eq!(minute_utc("2021-07-29T05:25:45.433712+00:00"), "2021-07-29T05:25Z");
        assert_eq!(minute_utc("2021-07-29"), "2021-07-29");
    }

    #[test]
    fn refuted_and_mistaken_entries_say_so_in_their_status() {
        let cs = |c: &str| serde_json::json!({ "coding": [{ "code": c }] });
        let with = |clinical: Option<&str>, verification: Option<&str>| {
            let mut r = serde_json::json!({ "resourceType": "AllergyIntolerance" });
            if let Some(c) = clinical {
                r["clinicalStatus"] = cs(c);
            }
            if let Some(v) = verification {
                r["verificationStatus"] = cs(v);
            }
            clinical_status(&r)
        };
        assert_eq!(with(Some("active"), Some("confirmed")).as_deref(), Some("active"));
        assert_eq!(with(None, Some("entered-in-error")).as_deref(), Some("entered-in-error"));
        assert_eq!(with(Some("active"), Some("refuted")).as_deref(), Some("refuted"));
        assert_eq!(with(Some("resolved"), None).as_deref(), Some("resolved"));
        assert_eq!(with(None, None), None);
    }

    #[test]
    fn text_normalisation() {
        assert_eq!(norm_text("  Type 2  Diabetes!"), "type 2 diabetes");
    }

    #[test]
    fn kinds_round_trip() {
        for k in FactKind::ALL {
            assert_eq!(k.as_str().parse::<FactKind>(), Ok(k));
        }
        for k in SourceKind::ALL {
            assert_eq!(k.as_str().parse::<SourceKind>(), Ok(k));
        }
        assert!("nonsense".parse::<SourceKind>().is_err());
    }
}
