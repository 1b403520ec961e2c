//! Whose record is this? Before anything is imported, the NHS Number in the
//! file must be the patient's own.

use kith_types::NhsNumber;
use serde_json::Value;

use crate::parse::Feed;

/// The identifier system of the NHS Number (England and Wales).
pub const NHS_NUMBER_SYSTEM: &str = "https://fhir.nhs.uk/Id/nhs-number";

/// What a Patient resource says about who it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PatientIdentity {
    pub id: String,
    /// Values of identifiers with the NHS Number system, digits only
    /// (spaces and dashes removed; not yet checked with modulus 11).
    pub nhs_numbers: Vec<String>,
    /// "Given Family" from the official name, else the first name.
    pub name: Option<String>,
    pub birth_date: Option<String>,
}

/// Every Patient in the feed, including Patients inside nested Bundles
/// (message and document Bundles carry theirs inside).
pub fn patients(feed: &Feed) -> Vec<PatientIdentity> {
    let mut out = Vec::new();
    for res in &feed.resources {
        match res.resource_type.as_str() {
            "Patient" => out.push(identity_of(&res.id, &res.json)),
            "Bundle" => nested_patients(&res.json, 0, &mut out),
            _ => {}
        }
    }
    out
}

fn nested_patients(bundle: &Value, depth: usize, out: &mut Vec<PatientIdentity>) {
    if depth > 8 {
        return;
    }
    let Some(entries) = bundle.get("entry").and_then(Value::as_array) else {
        return;
    };
    for res in entries.iter().filter_map(|e| e.get("resource")) {
        match res.get("resourceType").and_then(Value::as_str) {
            Some("Patient") => {
                let id = match res.get("id").and_then(Value::as_str) {
                    Some(id) => id.to_string(),
                    None => crate::parse::synthetic_id(res),
                };
                out.push(identity_of(&id, res));
            }
            Some("Bundle") => nested_patients(res, depth + 1, out),
            _ => {}
        }
    }
}

fn identity_of(id: &str, patient: &Value) -> PatientIdentity {
    let nhs_numbers = patient
        .get("identifier")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|i| i.get("system").and_then(Value::as_str) == Some(NHS_NUMBER_SYSTEM))
        .filter_map(|i| i.get("value").and_then(Value::as_str))
        .map(|v| v.chars().filter(char::is_ascii_digit).collect::<String>())
        .filter(|v| !v.is_empty())
        .collect();
    PatientIdentity {
        id: id.to_string(),
        nhs_numbers,
        name: patient_name(patient),
        birth_date: patient.get("birthDate").and_then(Value::as_str).map(str::to_string),
    }
}

fn patient_name(patient: &Value) -> Option<String> {
    let names = patient.get("name")?.as_array()?;
    let name = names.iter().find(|n| n.get("use").and_then(Value::as_str) == Some("official")).or_else(|| names.first())?;
    let mut parts: Vec<&str> = name.get("given").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).collect();
    if let Some(family) = name.get("family").and_then(Value::as_str) {
        parts.push(family);
    }
    let joined = parts.join(" ");
    let joined = joined.trim();
    if !joined.is_empty() {
        return Some(joined.to_string());
    }
    // Some systems only send the name as one string.
    name.get("text").and_then(Value::as_str).map(|t| t.trim().to_string()).filter(|t| !t.is_empty())
}

/// How the NHS Numbers in a file compare with the patient's own.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Identity {
    /// The file names the expected patient and nobody else.
    Matches,
    /// The file names a different (valid) NHS Number: someone else's record.
    Other { found: String },
    /// The only NHS Numbers in the file fail the modulus-11 check.
    Invalid { value: String },
    /// No Patient carries an NHS Number; what else identifies them is given
    /// so a person can decide.
    Missing { name: Option<String>, birth_date: Option<String> },
}

/// Compares the NHS Numbers in the feed with `expected`: those of every
/// Patient, and those clinical resources name their patient by (a
/// `subject`, `patient` or `beneficiary` reference by identifier), in
/// contained resources and nested Bundles too.
///
/// Another person's valid number anywhere in the file wins over a match: a
/// feed mixing two patients must not be imported into one record.
pub fn check_identity(feed: &Feed, expected: &NhsNumber) -> Identity {
    let people = patients(feed);
    let mut named = Vec::new();
    for res in &feed.resources {
        nhs_numbers_named(&res.json, 0, &mut named);
    }
    let mut matched = false;
    let mut invalid = None;
    for value in people.iter().flat_map(|p| &p.nhs_numbers).chain(&named) {
        match NhsNumber::parse(value) {
            Ok(n) if n == *expected => matched = true,
            Ok(n) => return Identity::Other { found: n.as_str().to_string() },
            Err(_) => {
                invalid.get_or_insert_with(|| value.clone());
            }
        }
    }
    if matched {
        return Identity::Matches;
    }
    if let Some(value) = invalid {
        return Identity::Invalid { value };
    }
    let first = people.into_iter().next();
    Identity::Missing { name: first.as_ref().and_then(|p| p.name.clone()), birth_date: first.and_then(|p| p.birth_date) }
}

/// The NHS Numbers a resource names anywhere inside it: on a Patient (a
/// contained one too) and in references that name the patient by identifier
/// rather than by id, as NDJSON exports and messages often do.
fn nhs_numbers_named(v: &Value, depth: usize, out: &mut Vec<String>) {
    if depth > 32 {
        return;
    }
    match v {
        Value::Object(map) => {
            if map.get("resourceType").and_then(Value::as_str) == Some("Patient") && depth > 0 {
                out.extend(identity_of("", v).nhs_numbers);
            }
            for key in ["subject", "patient", "beneficiary"] {
                let ident = map.get(key).and_then(|r| r.get("identifier"));
                if let Some(i) = ident.filter(|i| i.get("system").and_then(Value::as_str) == Some(NHS_NUMBER_SYSTEM)) {
                    if let Some(value) = i.get("value").and_then(Value::as_str) {
                        let digits: String = value.chars().filter(char::is_ascii_digit).collect();
                        if !digits.is_empty() {
                            out.push(digits);
                        }
                    }
                }
            }
            for child in map.values() {
                nhs_numbers_named(child, depth + 1, out);
            }
        }
        Value::Array(items) => {
            for child in items {
                nhs_numbers_named(child, depth + 1, out);
            }
        }
        _ => {}
    }
}
