//! Entries added by hand: a home reading, an allergy, a medicine taken, a
//! health condition. Each becomes a FHIR R4 resource of Kith's making and
//! goes through the ordinary import, from a patient source named for whoever
//! entered it, so it is merged, labelled, shared, logged and exported like
//! anything a provider sends, and its original is kept beside theirs.
//! Allergies and conditions are recorded as unconfirmed: a clinician has
//! not checked them.

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use kith_fhir::{Label, SourceKind, NHS_NUMBER_SYSTEM};
use kith_types::record::{OwnEntry, OwnEntryForm, ReadingKind, BLOOD_PRESSURE_PANEL, DIASTOLIC, READINGS};
use kith_types::{AppError, FieldError};
use serde_json::{json, Value};

use sqlx::AnyConnection;

use crate::accounts::Actor;
use crate::audit::Disclosure;
use crate::import::{ByHand, Changing, ImportOutcome, ImportRequest, HAND_SOURCE_NAME};
use crate::policy::{require, require_whole, Principal, RecordAccess, Right, Via};
use crate::{store, CoreError, CoreResult, Kith};

/// The longest name of an allergy, medicine or condition, or its detail.
pub const MAX_TEXT: usize = 200;

/// The file name of every hand entry's import: it says nothing of what
/// the entry is (the Sources page lists imports by file).
pub const HAND_ENTRY_FILE: &str = "Entered in Kith";

impl Kith {
    /// Adds an entry typed in by the patient, or by a carer acting for them,
    /// and returns its id. A form with mistakes is refused whole, each field
    /// saying why, with what was typed kept for the form.
    pub async fn add_own_entry(&self, access: &RecordAccess, form: &OwnEntryForm) -> CoreResult<String> {
        let actor = manager(access)?;
        let fhir_id = uuid::Uuid::new_v4().to_string();
        let owner = matches!(access.via(), Via::Owner);
        let (resource_type, resource, label) = resource(form, &fhir_id, &actor.name, owner, Utc::now()).map_err(|errors| refusal(form, errors))?;
        self.save_by_hand(access, Author::of(access, actor), HandMade { resource_type, fhir_id: &fhir_id, json: resource }, label, None).await
    }

    /// An entry added by hand, as the form to change or remove it opens (a
    /// view of the entry, logged). Not found unless the viewer may change
    /// or remove it (see [`hand_resource`]).
    pub async fn own_entry(&self, access: &RecordAccess, entry_id: &str) -> CoreResult<OwnEntry> {
        manager(access)?;
        let mut audited = self.audited_view(access).await?;
        let Some(found) = hand_resource(audited.conn(), access, entry_id).await? else {
            return audited.fail(AppError::NotFound).await;
        };
        audited.commit_view(access, Disclosure::new("view", "entry").with([(found.entry_id.as_str(), found.label.as_str())])).await?;
        Ok(OwnEntry {
            form: form_of(&found),
            removed: is_removed(&found.json),
            can_change: found.can_change,
            entered_by: found.author.name.clone(),
            entry_id: found.entry_id,
            text: found.text,
        })
    }

    /// Changes an entry the viewer added by hand: a new version of the same
    /// FHIR resource, so the one it replaces is kept and shown beside it.
    /// Its label stays as it is (the patient relabels entries on their
    /// page); a removed entry comes back. Returns the entry's id.
    pub async fn change_own_entry(&self, access: &RecordAccess, entry_id: &str, form: &OwnEntryForm) -> CoreResult<String> {
        let actor = manager(access)?;
        let found = self.hand_resource_now(access, entry_id).await?;
        if !found.can_change {
            return Err(AppError::NotFound.into());
        }
        let owner = matches!(access.via(), Via::Owner);
        let form = OwnEntryForm { label: found.label.clone(), ..form.clone() };
        let (resource_type, mut resource, label) = resource(&form, &found.fhir_id, &actor.name, owner, Utc::now()).map_err(|errors| refusal(&form, errors))?;
        // An entry stays the kind it is, and a reading stays a reading of
        // the same thing (a blood sugar is a test result, a weight a vital
        // sign: another kind of entry, shared and listed otherwise).
        let was = form_of(&found);
        if resource_type != found.resource_type || form.reading != was.reading {
            let field = if form.kind == was.kind { "reading" } else { "kind" };
            return Err(refusal(
                &form,
                vec![FieldError { field: field.into(), message: "An entry cannot change into another kind: remove it and add the new one.".into() }],
            ));
        }
        // When it was first recorded stays.
        for field in ["recordedDate", "dateAsserted"] {
            if let Some(first) = found.json.get(field) {
                resource[field] = first.clone();
            }
        }
        let changing = Changing { entry_id: found.entry_id.clone(), words: true };
        self.save_by_hand(access, Author::of(access, actor), HandMade { resource_type, fhir_id: &found.fhir_id, json: resource }, label, Some(changing)).await
    }

    /// Removes an entry added by hand, as FHIR does: a new version marked
    /// entered in error, from the source it came from. It leaves the
    /// summary, the current lists and the charts; its page, and the versions
    /// before, stay. Its author may remove it, and so may the patient,
    /// whatever carer added it. Returns its id.
    pub async fn remove_own_entry(&self, access: &RecordAccess, entry_id: &str) -> CoreResult<String> {
        manager(access)?;
        let mut found = self.hand_resource_now(access, entry_id).await?;
        if is_removed(&found.json) {
            return Ok(found.entry_id);
        }
        mark_removed(&mut found.json, &found.resource_type);
        let label: Label = found.label.parse().map_err(CoreError::Internal)?;
        let changing = Changing { entry_id: found.entry_id.clone(), words: false };
        let made = HandMade { resource_type: &found.resource_type, fhir_id: &found.fhir_id, json: found.json };
        self.save_by_hand(access, found.author, made, label, Some(changing)).await
    }

    /// [`hand_resource`] outside a logged view: the import that follows logs
    /// the change.
    async fn hand_resource_now(&self, access: &RecordAccess, entry_id: &str) -> CoreResult<HandResource> {
        let mut conn = self.db.pool.acquire().await?;
        hand_resource(&mut conn, access, entry_id).await?.ok_or_else(|| AppError::NotFound.into())
    }

    /// Imports one hand-made resource from its author's source (as the
    /// person acting, who is logged), and returns the entry it states.
    async fn save_by_hand(&self, access: &RecordAccess, author: Author, made: HandMade<'_>, label: Label, changing: Option<Changing>) -> CoreResult<String> {
        let bundle = json!({
            "resourceType": "Bundle",
            "type": "collection",
            "entry": [
                { "resource": {
                    "resourceType": "Patient",
                    "id": "patient",
                    "identifier": [{ "system": NHS_NUMBER_SYSTEM, "value": access.nhs_number().as_str() }]
                } },
                { "fullUrl": format!("urn:uuid:{}", made.fhir_id), "resource": made.json }
            ]
        });
        let req = ImportRequest {
            file_name: HAND_ENTRY_FILE.into(),
            bytes: serde_json::to_vec(&bundle).map_err(|e| CoreError::Internal(e.to_string()))?,
            source_kind: Some(SourceKind::Patient),
            source_name: Some(author.source_name),
            max_bytes: usize::MAX,
        };
        match self.import_by_hand(access, req, ByHand { label, author: author.user_id, changing }).await? {
            ImportOutcome::Accepted(_) => {}
            // Kith made the file for this record: a refusal is Kith's fault.
            // Not what it said: a refusal's reason can hold the NHS Number,
            // and internal errors are logged.
            ImportOutcome::Held { .. } => return Err(CoreError::Internal("an entry added by hand was held".into())),
            ImportOutcome::Refused { .. } => return Err(CoreError::Internal("an entry added by hand was refused".into())),
        }
        store::entry_for_resource(&self.db.pool, access.patient_id(), made.resource_type, made.fhir_id)
            .await?
            .ok_or_else(|| CoreError::Internal("an entry added by hand states no fact".into()))
    }
}

/// The person adding to the record: the patient, or a carer acting for
/// them, signed in. Everyone else (clinicians, link holders, the owner's
/// preview, the command line) is refused with not found.
fn manager(access: &RecordAccess) -> CoreResult<&Actor> {
    require(access, Right::Contribute)?;
    require_whole(access)?;
    match access.principal() {
        Principal::User(actor) => Ok(actor),
        _ => Err(AppError::NotFound.into()),
    }
}

fn refusal(form: &OwnEntryForm, errors: Vec<FieldError>) -> CoreError {
    CoreError::User(AppError::Validation { errors, values: form.values() })
}

/// A FHIR resource of Kith's making, to be imported.
struct HandMade<'a> {
    resource_type: &'a str,
    fhir_id: &'a str,
    json: Value,
}

/// Whoever's hand entries' source a resource is stored in: their user id,
/// and the name the source should have.
#[derive(Clone)]
struct Author {
    user_id: String,
    name: String,
    source_name: String,
}

impl Author {
    /// The person acting, named as they are now ("Entered by David Jones
    /// for Margaret Jones" for a carer).
    fn of(access: &RecordAccess, actor: &Actor) -> Self {
        let source_name = match access.via() {
            Via::Owner => format!("{HAND_SOURCE_NAME}{}", actor.name),
            _ => format!("{HAND_SOURCE_NAME}{} for {}", actor.name, access.patient_name()),
        };
        Author { user_id: actor.user_id.clone(), name: actor.name.clone(), source_name }
    }
}

/// What the viewer may do with an entry on its page: (change, remove).
pub(crate) async fn hand_rights(conn: &mut AnyConnection, access: &RecordAccess, entry_id: &str) -> CoreResult<(bool, bool)> {
    Ok(match hand_resource(conn, access, entry_id).await? {
        Some(found) => (found.can_change, found.can_remove),
        None => (false, false),
    })
}

/// A hand entry's resource as it is now, with the entry's label and text,
/// and what the viewer may do with it.
pub(crate) struct HandResource {
    entry_id: String,
    text: String,
    label: String,
    resource_type: String,
    fhir_id: String,
    json: Value,
    /// Whose source it is in (the name is the source's own).
    author: Author,
    /// The viewer added it, and did not see it removed by someone else
    /// (a carer does not put back what the patient removed).
    pub can_change: bool,
    /// The viewer added it, or is the patient.
    pub can_remove: bool,
}

/// The resource behind an entry added by hand, if the viewer may add to
/// the record (see [`manager`]), can see the entry, and either added it or
/// is the patient.
pub(crate) async fn hand_resource(conn: &mut AnyConnection, access: &RecordAccess, entry_id: &str) -> CoreResult<Option<HandResource>> {
    let Principal::User(actor) = access.principal() else { return Ok(None) };
    if !access.may(Right::Contribute) || require_whole(access).is_err() {
        return Ok(None);
    }
    let patient = access.patient_id();
    // Seen through the viewer's scope: a carer's entry the patient has made
    // private is no longer theirs to change.
    let Some(entry) = store::entry_by_id(&mut *conn, patient, entry_id, access.scope()).await? else { return Ok(None) };
    let Some(link) = store::hand_link(&mut *conn, patient, entry_id).await? else { return Ok(None) };
    let mine = link.hand_author == actor.user_id;
    if !mine && !matches!(access.via(), Via::Owner) {
        return Ok(None);
    }
    let raw = store::resource_json(&mut *conn, patient, &link.resource_id).await?.ok_or_else(|| CoreError::Internal("a linked resource is missing".into()))?;
    let json: Value = serde_json::from_str(&raw).map_err(|e| CoreError::Internal(e.to_string()))?;
    let name = ["/performer/0/display", "/recorder/display", "/informationSource/display"]
        .iter()
        .find_map(|p| json.pointer(p))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let removed_by_another = is_removed(&json) && link.saved_by.as_deref() != Some(actor.user_id.as_str());
    Ok(Some(HandResource {
        entry_id: entry.id,
        text: entry.text,
        label: entry.label,
        resource_type: link.resource_type,
        fhir_id: link.fhir_id,
        json,
        author: Author { user_id: link.hand_author, name, source_name: link.source_name },
        can_change: mine && !removed_by_another,
        can_remove: true,
    }))
}

/// What a hand-made resource holds, as its form would send it.
fn form_of(found: &HandResource) -> OwnEntryForm {
    let r = &found.json;
    let text = |v: Option<&Value>| v.and_then(|v| v.get("text")).and_then(Value::as_str).unwrap_or_default().to_string();
    let number = |q: Option<&Value>| q.and_then(|q| q.get("valueQuantity")).and_then(|v| v.get("value")).map(|v| v.to_string()).unwrap_or_default();
    // Kith writes a date, or a UK clock time with its offset.
    let date = |v: Option<&Value>| v.and_then(Value::as_str).map(|d| d.get(..10).unwrap_or(d).to_string()).unwrap_or_default();
    let mut form = OwnEntryForm { label: found.label.clone(), ..Default::default() };
    match found.resource_type.as_str() {
        "Observation" => {
            form.kind = "reading".into();
            let code = r.pointer("/code/coding/0/code").and_then(Value::as_str).unwrap_or_default();
            if code == BLOOD_PRESSURE_PANEL.0 {
                form.reading = "blood-pressure".into();
                form.value = number(r.pointer("/component/0"));
                form.second_value = number(r.pointer("/component/1"));
            } else {
                form.reading = READINGS.iter().find(|k| k.key != "blood-pressure" && k.loinc == code).map(|k| k.key.to_string()).unwrap_or_default();
                form.value = number(Some(r));
            }
            let when = r.get("effectiveDateTime").and_then(Value::as_str).unwrap_or_default();
            form.date = when.get(..10).unwrap_or(when).to_string();
            form.time = when.get(11..16).unwrap_or_default().to_string();
        }
        "AllergyIntolerance" => {
            form.kind = "allergy".into();
            form.text = text(r.get("code"));
            form.detail = text(r.pointer("/reaction/0/manifestation/0"));
            form.date = date(r.get("onsetDateTime"));
        }
        "MedicationStatement" => {
            form.kind = "medicine".into();
            form.text = text(r.get("medicationCodeableConcept"));
            form.detail = text(r.pointer("/dosage/0"));
            form.date = date(r.pointer("/effectivePeriod/start"));
        }
        _ => {
            form.kind = "condition".into();
            form.text = text(r.get("code"));
            form.date = date(r.get("onsetDateTime"));
        }
    }
    form
}

fn is_removed(r: &Value) -> bool {
    r.get("status").and_then(Value::as_str) == Some("entered-in-error")
        || r.pointer("/verificationStatus/coding/0/code").and_then(Value::as_str) == Some("entered-in-error")
}

/// Marks a hand-made resource entered in error, as its FHIR type says to.
fn mark_removed(r: &mut Value, resource_type: &str) {
    let verification = match resource_type {
        "AllergyIntolerance" => "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification",
        "Condition" => "http://terminology.hl7.org/CodeSystem/condition-ver-status",
        _ => {
            r["status"] = json!("entered-in-error");
            return;
        }
    };
    r["verificationStatus"] = status(verification, "entered-in-error");
    // FHIR: no clinical status on an entry made in error.
    if let Some(o) = r.as_object_mut() {
        o.remove("clinicalStatus");
    }
}

/// The FHIR resource a form describes (type and JSON) and the label chosen
/// for it, or what is wrong with it, field by field. `owner`: the patient
/// is typing (a carer acting for them cannot make an entry private: they
/// would lose sight of it at once, and private is the patient's own).
fn resource(form: &OwnEntryForm, id: &str, entered_by: &str, owner: bool, now: DateTime<Utc>) -> Result<(&'static str, Value, Label), Vec<FieldError>> {
    let mut errors = Vec::new();
    let mut fail = |field: &str, message: String| errors.push(FieldError { field: field.into(), message });
    let label = match form.label.trim() {
        "" => Label::General,
        l => l.parse().unwrap_or_else(|_| {
            fail("label", "Choose who may see it.".into());
            Label::General
        }),
    };
    if label == Label::Private && !owner {
        fail("label", "Only the patient can make an entry private: choose another label.".into());
    }
    let reading = (form.kind == "reading").then(|| READINGS.iter().find(|r| r.key == form.reading)).flatten();
    let text = form.text.trim();
    let detail = form.detail.trim();
    match form.kind.as_str() {
        "reading" => {
            if reading.is_none() {
                fail("reading", "Choose what you measured.".into());
            }
        }
        "allergy" | "medicine" | "condition" => {
            if text.is_empty() {
                fail(
                    "text",
                    match form.kind.as_str() {
                        "allergy" => "Say what you are allergic to.",
                        "medicine" => "Enter the name of the medicine.",
                        _ => "Enter the name of the condition.",
                    }
                    .into(),
                );
            } else if text.chars().count() > MAX_TEXT {
                fail("text", format!("Keep the name to {MAX_TEXT} characters or fewer."));
            }
            if detail.chars().count() > MAX_TEXT {
                fail("detail", format!("Keep this to {MAX_TEXT} characters or fewer."));
            }
        }
        _ => fail("kind", "Choose what to add.".into()),
    }
    // Nothing typed is dropped: a field this kind does not use must be empty.
    let unused: Vec<(&str, &str)> = match form.kind.as_str() {
        "reading" => vec![("text", &form.text), ("detail", &form.detail)],
        "condition" => vec![("reading", &form.reading), ("value", &form.value), ("second_value", &form.second_value), ("detail", &form.detail)],
        "allergy" | "medicine" => vec![("reading", &form.reading), ("value", &form.value), ("second_value", &form.second_value)],
        _ => vec![],
    };
    for (field, typed) in unused {
        if !typed.trim().is_empty() {
            fail(field, "This form does not use this: leave it empty.".into());
        }
    }
    if reading.is_some_and(|r| r.key != "blood-pressure") && !form.second_value.trim().is_empty() {
        fail("second_value", "Leave the lower number empty unless you measured blood pressure.".into());
    }
    let values = reading.map(|r| {
        let first = number(&form.value, r, "value", &mut fail);
        let second = (r.key == "blood-pressure").then(|| number(&form.second_value, &DIASTOLIC, "second_value", &mut fail)).flatten();
        if let (Some(s), Some(d)) = (first, second) {
            if s <= d {
                fail("second_value", "The lower number (diastolic) must be smaller than the upper one (systolic).".into());
            }
        }
        (first, second)
    });
    let when = when(form, form.kind == "reading", now, &mut fail);
    if !errors.is_empty() {
        return Err(errors);
    }

    let patient = json!({ "reference": "Patient/patient" });
    let recorded = now.format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let concept = |text: &str| json!({ "text": text });
    let made = match (form.kind.as_str(), reading, values) {
        ("reading", Some(r), Some((Some(value), second))) => {
            let category = if r.key == "blood-sugar" { "laboratory" } else { "vital-signs" };
            let mut obs = json!({
                "resourceType": "Observation",
                "id": id,
                "status": "final",
                "category": [{ "coding": [{ "system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": category }] }],
                "subject": patient,
                "effectiveDateTime": when,
                "performer": [{ "display": entered_by }]
            });
            match second {
                Some(diastolic) => {
                    obs["code"] = loinc(BLOOD_PRESSURE_PANEL.0, BLOOD_PRESSURE_PANEL.1, r.title);
                    obs["component"] = json!([
                        { "code": loinc(r.loinc, r.display, r.display), "valueQuantity": quantity(value, r) },
                        { "code": loinc(DIASTOLIC.loinc, DIASTOLIC.display, DIASTOLIC.display), "valueQuantity": quantity(diastolic, &DIASTOLIC) }
                    ]);
                }
                None => {
                    obs["code"] = loinc(r.loinc, r.display, r.title);
                    obs["valueQuantity"] = quantity(value, r);
                }
            }
            ("Observation", obs)
        }
        ("allergy", ..) => {
            let mut a = json!({
                "resourceType": "AllergyIntolerance",
                "id": id,
                "clinicalStatus": status("http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical", "active"),
                "verificationStatus": status("http://terminology.hl7.org/CodeSystem/allergyintolerance-verification", "unconfirmed"),
                "code": concept(text),
                "patient": patient,
                "recordedDate": recorded,
                "recorder": { "display": entered_by }
            });
            if let Some(onset) = when {
                a["onsetDateTime"] = json!(onset);
            }
            if !detail.is_empty() {
                a["reaction"] = json!([{ "manifestation": [concept(detail)] }]);
            }
            ("AllergyIntolerance", a)
        }
        ("medicine", ..) => {
            let mut m = json!({
                "resourceType": "MedicationStatement",
                "id": id,
                "status": "active",
                "medicationCodeableConcept": concept(text),
                "subject": patient,
                "dateAsserted": recorded,
                "informationSource": { "display": entered_by }
            });
            if let Some(start) = when {
                m["effectivePeriod"] = json!({ "start": start });
            }
            if !detail.is_empty() {
                m["dosage"] = json!([{ "text": detail }]);
            }
            ("MedicationStatement", m)
        }
        _ => {
            let mut c = json!({
                "resourceType": "Condition",
                "id": id,
                "clinicalStatus": status("http://terminology.hl7.org/CodeSystem/condition-clinical", "active"),
                "verificationStatus": status("http://terminology.hl7.org/CodeSystem/condition-ver-status", "unconfirmed"),
                "category": [{ "coding": [{ "system": "http://terminology.hl7.org/CodeSystem/condition-category", "code": "problem-list-item" }] }],
                "code": concept(text),
                "subject": patient,
                "recordedDate": recorded,
                "recorder": { "display": entered_by }
            });
            if let Some(onset) = when {
                c["onsetDateTime"] = json!(onset);
            }
            ("Condition", c)
        }
    };
    Ok((made.0, made.1, label))
}

fn loinc(code: &str, display: &str, text: &str) -> Value {
    json!({ "coding": [{ "system": "http://loinc.org", "code": code, "display": display }], "text": text })
}

fn quantity(value: f64, r: &ReadingKind) -> Value {
    // A whole number stays whole: 142 mmHg, not 142.0.
    let value = if value.fract() == 0.0 { json!(value as i64) } else { json!(value) };
    json!({ "value": value, "unit": r.unit, "system": "http://unitsofmeasure.org", "code": r.ucum })
}

fn status(system: &str, code: &str) -> Value {
    json!({ "coding": [{ "system": system, "code": code }] })
}

/// A typed number in the reading's range ("36,8" is read as 36.8).
fn number(typed: &str, r: &ReadingKind, field: &str, fail: &mut impl FnMut(&str, String)) -> Option<f64> {
    let name = if field == "second_value" { "the lower number".to_string() } else { r.title.to_lowercase() };
    let typed = typed.trim().replace(',', ".");
    if typed.is_empty() {
        fail(field, format!("Enter {name}."));
        return None;
    }
    match typed.parse::<f64>() {
        Ok(v) if v.is_finite() && v >= r.min && v <= r.max => Some(v),
        Ok(_) => {
            fail(field, format!("Check {name}: it should be between {} and {} {}.", r.min, r.max, r.unit));
            None
        }
        Err(_) => {
            fail(field, format!("Enter {name} as a number, for example {}.", r.example));
            None
        }
    }
}

/// When: a reading's date (required) and time (UK time, optional); for the
/// others the date it started, if given. Never in the future.
fn when(form: &OwnEntryForm, required: bool, now: DateTime<Utc>, fail: &mut impl FnMut(&str, String)) -> Option<String> {
    let date = form.date.trim();
    let time = form.time.trim();
    if date.is_empty() {
        if required {
            fail("date", "Enter the date you took the reading.".into());
        } else if !time.is_empty() {
            fail("date", "Enter the date as well as the time.".into());
        }
        return None;
    }
    let Ok(day) = NaiveDate::parse_from_str(date, "%Y-%m-%d") else {
        fail("date", "Enter a real date as year-month-day, for example 2026-03-01.".into());
        return None;
    };
    if day.year() < 1900 {
        fail("date", "Enter a date after 1900.".into());
        return None;
    }
    if time.is_empty() {
        if day > uk_local(now).date() {
            fail("date", "The date cannot be in the future.".into());
            return None;
        }
        return Some(day.format("%Y-%m-%d").to_string());
    }
    let Ok(at) = NaiveTime::parse_from_str(time, "%H:%M") else {
        fail("time", "Enter the time as hours and minutes, for example 14:30.".into());
        return None;
    };
    let local = day.and_time(at);
    if day.year() < 1996 {
        // The summer-time rule here is the one since 1996; earlier years had others.
        fail("time", "For a time before 1996, give the date only.".into());
        return None;
    }
    let (spring, _) = bst_bounds(day.year());
    if local >= spring && local < spring + Duration::hours(1) {
        fail("time", "That time did not happen in the UK: the clocks went forward from 1am to 2am that night.".into());
        return None;
    }
    let offset = uk_offset_hours(local);
    if local - Duration::hours(offset) > now.naive_utc() + Duration::minutes(5) {
        fail("time", "The time cannot be in the future.".into());
        return None;
    }
    Some(format!("{}+{:02}:00", local.format("%Y-%m-%dT%H:%M:00"), offset))
}

/// Now on a clock in the UK.
fn uk_local(now: DateTime<Utc>) -> NaiveDateTime {
    let utc = now.naive_utc();
    utc + Duration::hours(if bst_in_utc(utc) { 1 } else { 0 })
}

/// Whether British Summer Time is in force at this UTC instant: from 01:00
/// UTC on the last Sunday of March to 01:00 UTC on the last Sunday of
/// October.
fn bst_in_utc(utc: NaiveDateTime) -> bool {
    let (start, end) = bst_bounds(utc.year());
    utc >= start && utc < end
}

fn bst_bounds(year: i32) -> (NaiveDateTime, NaiveDateTime) {
    let last_sunday = |month: u32| {
        let last = NaiveDate::from_ymd_opt(year, month, 31).expect("March and October have 31 days");
        last - Duration::days(last.weekday().num_days_from_sunday() as i64)
    };
    let one = NaiveTime::from_hms_opt(1, 0, 0).expect("a valid time");
    (last_sunday(3).and_time(one), last_sunday(10).and_time(one))
}

/// The UK's offset from UTC, in hours, for a time on a UK clock. In the
/// hour the clocks go back, which happens twice, the first (summer) one.
fn uk_offset_hours(local: NaiveDateTime) -> i64 {
    let (start, end) = bst_bounds(local.year());
    // Local 01:00 GMT is when the clocks go forward; local 02:00 BST when they go back.
    if local >= start && local < end + Duration::hours(1) {
        1
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap()
    }

    #[test]
    fn uk_clock_follows_summer_time() {
        // 2026: summer time from 29 March to 25 October.
        assert_eq!(uk_offset_hours(at("2026-01-15 12:00")), 0);
        assert_eq!(uk_offset_hours(at("2026-03-29 00:59")), 0);
        assert_eq!(uk_offset_hours(at("2026-03-29 02:00")), 1);
        assert_eq!(uk_offset_hours(at("2026-07-01 09:30")), 1);
        assert_eq!(uk_offset_hours(at("2026-10-25 01:30")), 1, "the repeated hour is read as the first");
        assert_eq!(uk_offset_hours(at("2026-10-25 02:00")), 0);
        // Years whose last Sunday is the 31st.
        assert_eq!(bst_bounds(2024).0, at("2024-03-31 01:00"));
        assert_eq!(bst_bounds(2027).1, at("2027-10-31 01:00"));
        assert_eq!(uk_offset_hours(at("2027-10-31 01:59")), 1);
        assert_eq!(uk_offset_hours(at("2027-10-31 02:00")), 0);
        assert!(bst_in_utc(at("2026-03-29 01:00")) && !bst_in_utc(at("2026-03-29 00:59")));
        assert!(bst_in_utc(at("2026-10-25 00:59")) && !bst_in_utc(at("2026-10-25 01:00")));
        let summer_evening = DateTime::<Utc>::from_naive_utc_and_offset(at("2026-06-30 23:30"), Utc);
        assert_eq!(uk_local(summer_evening), at("2026-07-01 00:30"));
        let winter = DateTime::<Utc>::from_naive_utc_and_offset(at("2026-12-31 23:30"), Utc);
        assert_eq!(uk_local(winter), at("2026-12-31 23:30"));
    }
}
