#!/usr/bin/env python3
"""Writes the demo patient's synthetic FHIR R4 feeds to crates/kith-core/demo/.

Margaret Jones (NHS Number 943 476 5919, born 1948-03-27, Leeds) has a record
at four sources: her GP practice, a hospital, a community trust and a home
blood pressure monitor. The files are Bundles of type "collection", one per
source, written so that Kith shows what it is for:

* the same facts stated by several sources merge (type 2 diabetes from all
  three NHS sources; hypertension, metformin and the penicillin allergy from
  the GP and the hospital; the 2026 flu vaccine from the GP and the community
  trust), because their merge keys (crates/kith-fhir/src/facts.rs) agree;
* two of those merged facts disagree on purpose: the hospital stopped ramipril
  during an admission with acute kidney injury (the GP still lists it as
  active), and the hospital records the penicillin reaction as severe
  anaphylaxis where the GP recorded a moderate rash;
* everything else is stated by one source only.

Everything is synthetic; the output is deterministic (fixed UUIDs and a fixed
random seed), so running this again gives byte-identical files.

    python3 scripts/make-demo-feeds.py
"""

import base64
import json
import random
import uuid
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

OUT = Path(__file__).resolve().parent.parent / "crates" / "kith-core" / "demo"

LONDON = ZoneInfo("Europe/London")

SCT = "http://snomed.info/sct"
LOINC = "http://loinc.org"
DMD = "https://dmd.nhs.uk"
UCUM = "http://unitsofmeasure.org"
ODS = "https://fhir.nhs.uk/Id/ods-organization-code"
NHS_NUMBER = "https://fhir.nhs.uk/Id/nhs-number"
OBS_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
INTERPRETATION = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
CONDITION_CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
CONDITION_VER = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
CONDITION_CATEGORY = "http://terminology.hl7.org/CodeSystem/condition-category"
ALLERGY_CLINICAL = "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical"
ALLERGY_VER = "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification"
MED_CATEGORY = "http://terminology.hl7.org/CodeSystem/medicationrequest-category"
MED_COURSE = "http://terminology.hl7.org/CodeSystem/medicationrequest-course-of-therapy"

NHS_NO = "9434765919"
UUID_NS = uuid.UUID("6f1d3c1e-3a59-4a8e-9d0b-2b4c6a7e8f10")


# --- Small builders -----------------------------------------------------------

def coding(system, code, display):
    return {"system": system, "code": code, "display": display}


def cc(system, code, display, text=None):
    c = {"coding": [coding(system, code, display)]}
    if text:
        c["text"] = text
    return c


def text_cc(text):
    return {"text": text}


def at(day, hm, seconds=0):
    """Local UK time on a day, with the offset in force then (GMT or BST)."""
    y, m, d = (int(x) for x in day.split("-"))
    h, mi = (int(x) for x in hm.split(":"))
    t = datetime(y, m, d, h, mi, seconds, tzinfo=LONDON)
    return t.isoformat()


def qty(value, unit, code, comparator=None):
    if comparator:
        return {"value": value, "comparator": comparator, "unit": unit, "system": UCUM, "code": code}
    return {"value": value, "unit": unit, "system": UCUM, "code": code}


class Feed:
    """One Bundle. `style` is "urn" (fullUrl urn:uuid:…, references to it)
    or "relative" (absolute fullUrl on a server base, references Type/id)."""

    def __init__(self, file, style, base=None, bundle_id=None, timestamp=None):
        self.file = file
        self.style = style
        self.base = base
        self.entries = []
        self.bundle_id = bundle_id
        self.timestamp = timestamp

    def add(self, resource, key):
        rt = resource["resourceType"]
        if self.style == "urn":
            rid = str(uuid.uuid5(UUID_NS, f"{self.file}/{rt}/{key}"))
            full_url = f"urn:uuid:{rid}"
        else:
            rid = key
            full_url = f"{self.base}/{rt}/{rid}"
        body = {"resourceType": rt, "id": rid}
        body.update({k: v for k, v in resource.items() if k != "resourceType"})
        self.entries.append({"fullUrl": full_url, "resource": body})
        return self.ref_of(body, full_url)

    def ref_of(self, body, full_url):
        if self.style == "urn":
            return full_url
        return f"{body['resourceType']}/{body['id']}"

    def bundle(self):
        return {
            "resourceType": "Bundle",
            "id": self.bundle_id,
            "meta": {"lastUpdated": self.timestamp},
            "identifier": {
                "system": "urn:ietf:rfc:3986",
                "value": "urn:uuid:" + str(uuid.uuid5(UUID_NS, f"bundle/{self.file}")),
            },
            "type": "collection",
            "timestamp": self.timestamp,
            "entry": self.entries,
        }

    def counts(self):
        out = {}
        for e in self.entries:
            rt = e["resource"]["resourceType"]
            out[rt] = out.get(rt, 0) + 1
        return out


def ref(reference, display=None):
    r = {"reference": reference}
    if display:
        r["display"] = display
    return r


# --- Shared clinical vocabulary -----------------------------------------------

T2DM = cc(SCT, "44054006", "Type 2 diabetes mellitus", "Type 2 diabetes")
HYPERTENSION = cc(SCT, "38341003", "Hypertensive disorder, systemic arterial", "Hypertension")
OA_KNEE = cc(SCT, "239873007", "Osteoarthritis of knee", "Osteoarthritis of knee")
DEPRESSION = cc(SCT, "35489007", "Depressive disorder", "Depression")
AKI = cc(SCT, "14669001", "Acute kidney injury", "Acute kidney injury")

METFORMIN = cc(DMD, "325278007", "Metformin 500mg tablets", "Metformin 500mg tablets")
RAMIPRIL = cc(DMD, "318902004", "Ramipril 5mg capsules", "Ramipril 5mg capsules")
ATORVASTATIN = cc(DMD, "320030001", "Atorvastatin 20mg tablets", "Atorvastatin 20mg tablets")
SERTRALINE = cc(DMD, "321959007", "Sertraline 50mg tablets", "Sertraline 50mg tablets")

PENICILLIN = cc(SCT, "764146007", "Penicillin", "Penicillin")

FLU_VACCINE = cc(SCT, "1181000221105", "Influenza virus antigen only vaccine product",
                 "Seasonal influenza vaccine")
COVID_VACCINE = cc(SCT, "1119349007", "SARS-CoV-2 mRNA vaccine", "COVID-19 mRNA vaccine (spring booster)")

HBA1C = cc(LOINC, "59261-8", "Hemoglobin A1c/Hemoglobin.total in Blood by IFCC protocol", "HbA1c")
EGFR = cc(LOINC, "62238-1",
          "Glomerular filtration rate [Volume Rate/Area] in Serum, Plasma or Blood by "
          "Creatinine-based formula (CKD-EPI)/1.73 sq M", "eGFR")
CREATININE = cc(LOINC, "14682-9", "Creatinine [Moles/volume] in Serum or Plasma", "Serum creatinine")
CHOLESTEROL = cc(LOINC, "14647-2", "Cholesterol [Moles/volume] in Serum or Plasma", "Total cholesterol")
BP_PANEL = cc(LOINC, "85354-9", "Blood pressure panel with all children optional", "Blood pressure")
SYSTOLIC = cc(LOINC, "8480-6", "Systolic blood pressure")
DIASTOLIC = cc(LOINC, "8462-4", "Diastolic blood pressure")
WEIGHT = cc(LOINC, "29463-7", "Body weight", "Body weight")
HEART_RATE = cc(LOINC, "8867-4", "Heart rate", "Pulse rate")

LAB = [cc(OBS_CATEGORY, "laboratory", "Laboratory")]
VITAL = [cc(OBS_CATEGORY, "vital-signs", "Vital Signs")]

# Doses are written identically wherever one prescription is stated twice:
# dosage text is one of the fields sources are compared on.
METFORMIN_DOSE = "Take one tablet twice a day with meals"
RAMIPRIL_DOSE = "Take one capsule once a day"


def patient(identifiers, extra=None):
    p = {
        "resourceType": "Patient",
        "identifier": identifiers,
        "active": True,
        "name": [{"use": "official", "family": "Jones", "given": ["Margaret"], "prefix": ["Mrs"]}],
        "gender": "female",
        "birthDate": "1948-03-27",
    }
    if extra:
        p.update(extra)
    return p


def nhs_identifier(verified=True):
    i = {"system": NHS_NUMBER, "value": NHS_NO}
    if verified:
        i = {
            "extension": [{
                "url": "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-NHSNumberVerificationStatus",
                "valueCodeableConcept": cc(
                    "https://fhir.hl7.org.uk/CodeSystem/UKCore-NHSNumberVerificationStatusEngland",
                    "01", "Number present and verified"),
            }],
            "system": NHS_NUMBER,
            "value": NHS_NO,
        }
    return i


HOME_ADDRESS = {
    "use": "home",
    "line": ["22 Beechwood Grove"],
    "city": "Leeds",
    "district": "West Yorkshire",
    "postalCode": "LS6 2QB",
    "country": "GB",
}

GP_LOGICAL = {
    "type": "Organization",
    "identifier": {"system": ODS, "value": "B86999"},
    "display": "Riverside Surgery",
}


def organisation(name, ods, address_line, postcode, phone):
    o = {
        "resourceType": "Organization",
        "identifier": [{"system": ODS, "value": ods}],
        "active": True,
        "name": name,
        "telecom": [{"system": "phone", "value": phone, "use": "work"}],
        "address": [{"use": "work", "line": address_line, "city": "Leeds", "postalCode": postcode, "country": "GB"}],
    }
    return o


def condition(subject, code, onset, recorded, category, status="active", abated=None,
              recorder=None, encounter=None, note=None):
    c = {
        "resourceType": "Condition",
        "clinicalStatus": cc(CONDITION_CLINICAL, status, status.capitalize()),
        "verificationStatus": cc(CONDITION_VER, "confirmed", "Confirmed"),
        "category": [cc(CONDITION_CATEGORY, category,
                        {"problem-list-item": "Problem List Item",
                         "encounter-diagnosis": "Encounter Diagnosis"}[category])],
        "code": code,
        "subject": ref(subject),
    }
    if encounter:
        c["encounter"] = ref(encounter)
    c["onsetDateTime"] = onset
    if abated:
        c["abatementDateTime"] = abated
    c["recordedDate"] = recorded
    if recorder:
        c["recorder"] = ref(recorder)
    if note:
        c["note"] = [{"text": note}]
    return c


def med_request(subject, med, authored, status, dose, category, requester=None, reason=None,
                quantity=None, supply_days=None, status_reason=None, recorder=None, encounter=None,
                note=None):
    m = {
        "resourceType": "MedicationRequest",
        "status": status,
    }
    if status_reason:
        m["statusReason"] = text_cc(status_reason)
    m["intent"] = "order"
    m["category"] = [cc(MED_CATEGORY, category, category.capitalize())]
    m["medicationCodeableConcept"] = med
    m["subject"] = ref(subject)
    if encounter:
        m["encounter"] = ref(encounter)
    m["authoredOn"] = authored
    if requester:
        m["requester"] = ref(requester)
    if recorder:
        m["recorder"] = ref(recorder)
    if reason:
        m["reasonReference"] = [ref(reason)]
    m["courseOfTherapyType"] = cc(MED_COURSE, "continuous", "Continuous long term therapy")
    if note:
        m["note"] = [{"text": note}]
    m["dosageInstruction"] = [{"text": dose}]
    if quantity:
        m["dispenseRequest"] = {
            "numberOfRepeatsAllowed": 5,
            "quantity": {"value": quantity[0], "unit": quantity[1]},
            "expectedSupplyDuration": qty(supply_days, "day", "d"),
        }
    return m


def penicillin_allergy(patient_ref, recorded, severity, manifestation, description, recorder=None,
                       encounter=None, note=None):
    a = {
        "resourceType": "AllergyIntolerance",
        "clinicalStatus": cc(ALLERGY_CLINICAL, "active", "Active"),
        "verificationStatus": cc(ALLERGY_VER, "confirmed", "Confirmed"),
        "type": "allergy",
        "category": ["medication"],
        "criticality": "high",
        "code": PENICILLIN,
        "patient": ref(patient_ref),
    }
    if encounter:
        a["encounter"] = ref(encounter)
    a["recordedDate"] = recorded
    if recorder:
        a["recorder"] = ref(recorder)
    if note:
        a["note"] = [{"text": note}]
    a["reaction"] = [{
        "substance": PENICILLIN,
        "manifestation": [manifestation],
        "description": description,
        "severity": severity,
    }]
    return a


def interpretation(value, low, high):
    if high is not None and value > high:
        return [cc(INTERPRETATION, "H", "High")]
    if low is not None and value < low:
        return [cc(INTERPRETATION, "L", "Low")]
    return None


def lab(subject, code, when, value, unit, ucum, low=None, high=None, range_text=None,
        issued=None, encounter=None, performer=None):
    o = {
        "resourceType": "Observation",
        "status": "final",
        "category": LAB,
        "code": code,
        "subject": ref(subject),
    }
    if encounter:
        o["encounter"] = ref(encounter)
    o["effectiveDateTime"] = when
    if issued:
        o["issued"] = issued
    if performer:
        o["performer"] = [ref(performer)]
    o["valueQuantity"] = qty(value, unit, ucum)
    interp = interpretation(value, low, high)
    if interp:
        o["interpretation"] = interp
    rr = {}
    if low is not None:
        rr["low"] = qty(low, unit, ucum)
    if high is not None:
        rr["high"] = qty(high, unit, ucum)
    if range_text:
        rr["text"] = range_text
    if rr:
        o["referenceRange"] = [rr]
    return o


def blood_pressure(subject, when, systolic, diastolic, performer=None, encounter=None, device=None,
                   method=None):
    o = {
        "resourceType": "Observation",
        "status": "final",
        "category": VITAL,
        "code": BP_PANEL,
        "subject": ref(subject),
    }
    if encounter:
        o["encounter"] = ref(encounter)
    o["effectiveDateTime"] = when
    if performer:
        o["performer"] = [ref(performer)]
    if method:
        o["method"] = text_cc(method)
    if device:
        o["device"] = ref(device)
    o["component"] = [
        {"code": SYSTOLIC, "valueQuantity": qty(systolic, "mmHg", "mm[Hg]")},
        {"code": DIASTOLIC, "valueQuantity": qty(diastolic, "mmHg", "mm[Hg]")},
    ]
    return o


def vital(subject, code, when, value, unit, ucum, performer=None, encounter=None, device=None):
    o = {
        "resourceType": "Observation",
        "status": "final",
        "category": VITAL,
        "code": code,
        "subject": ref(subject),
    }
    if encounter:
        o["encounter"] = ref(encounter)
    o["effectiveDateTime"] = when
    if performer:
        o["performer"] = [ref(performer)]
    o["valueQuantity"] = qty(value, unit, ucum)
    if device:
        o["device"] = ref(device)
    return o


# --- 1. GP: Riverside Surgery -------------------------------------------------

def gp():
    f = Feed("01-gp-riverside-surgery.json", "urn",
             bundle_id="riverside-surgery-export-20261120", timestamp="2026-11-20T06:12:09+00:00")

    org = f.add(organisation(
        "Riverside Surgery", "B86999", ["Riverside Medical Centre", "41 Kirkstall Road"], "LS4 2AR",
        "0113 496 0500"), "org")
    shah = f.add({
        "resourceType": "Practitioner",
        "identifier": [{"system": "https://fhir.hl7.org.uk/Id/gmc-number", "value": "7041862"}],
        "active": True,
        "name": [{"use": "official", "family": "Shah", "given": ["Priya"], "prefix": ["Dr"]}],
        "gender": "female",
    }, "dr-shah")
    nurse = f.add({
        "resourceType": "Practitioner",
        "active": True,
        "name": [{"use": "official", "family": "Hargreaves", "given": ["Joanne"], "prefix": ["Mrs"]}],
        "gender": "female",
    }, "nurse-hargreaves")
    me = f.add(patient([nhs_identifier(verified=True)], {
        "telecom": [
            {"system": "phone", "value": "0113 496 0738", "use": "home"},
            {"system": "phone", "value": "07700 900417", "use": "mobile"},
        ],
        "address": [HOME_ADDRESS],
        "maritalStatus": cc("http://terminology.hl7.org/CodeSystem/v3-MaritalStatus", "W", "Widowed"),
        "generalPractitioner": [ref(org, "Riverside Surgery"), ref(shah, "Dr Priya Shah")],
        "managingOrganization": ref(org, "Riverside Surgery"),
    }), "patient")

    # Consultations.
    visits = {}
    for key, day, start, end, reason_code, text in [
        ("2019-01-20", "2019-01-20", "10:10", "10:25", DEPRESSION, "Low mood"),
        ("2020-09-15", "2020-09-15", "11:30", "11:42", OA_KNEE, "Right knee pain"),
        ("2024-03-26", "2024-03-26", "09:40", "09:55", T2DM, "Diabetes review"),
        ("2025-03-25", "2025-03-25", "09:50", "10:05", T2DM, "Diabetes review"),
        ("2025-09-30", "2025-09-30", "15:20", "15:32", HYPERTENSION, "Blood pressure and medication review"),
        ("2026-03-31", "2026-03-31", "09:30", "09:48", T2DM, "Diabetes review"),
        ("2026-08-04", "2026-08-04", "11:10", "11:25", AKI, "Review after hospital discharge"),
        ("2026-09-29", "2026-09-29", "10:00", "10:20", T2DM, "Annual diabetes and blood pressure review"),
    ]:
        visits[key] = f.add({
            "resourceType": "Encounter",
            "status": "finished",
            "class": coding(ACT_CODE, "AMB", "ambulatory"),
            "type": [cc(SCT, "11429006", "Consultation", text)],
            "subject": ref(me),
            "participant": [{"individual": ref(shah, "Dr Priya Shah")}],
            "period": {"start": at(day, start), "end": at(day, end)},
            "reasonCode": [reason_code],
            "serviceProvider": ref(org, "Riverside Surgery"),
        }, f"encounter-{key}")

    # Problems.
    t2dm = f.add(condition(me, T2DM, "2015-06-12", "2015-06-12", "problem-list-item", recorder=shah), "t2dm")
    htn = f.add(condition(me, HYPERTENSION, "2012-02-03", "2012-02-03", "problem-list-item", recorder=shah), "htn")
    f.add(condition(me, OA_KNEE, "2020-09-15", "2020-09-15", "problem-list-item", recorder=shah,
                    encounter=visits["2020-09-15"], note="Right knee worse than left. X-ray: medial joint space narrowing."),
          "oa-knee")
    f.add(condition(me, DEPRESSION, "2019-01-20", "2019-01-20", "problem-list-item", status="resolved",
                    abated="2020-03-10", recorder=shah, encounter=visits["2019-01-20"]), "depression")

    # Medicines.
    f.add(med_request(me, METFORMIN, "2015-06-26", "active", METFORMIN_DOSE, "community", requester=shah,
                      reason=t2dm, quantity=(112, "tablet"), supply_days=56), "metformin")
    f.add(med_request(me, RAMIPRIL, "2012-02-17", "active", RAMIPRIL_DOSE, "community", requester=shah,
                      reason=htn, quantity=(56, "capsule"), supply_days=56), "ramipril")
    f.add(med_request(me, ATORVASTATIN, "2015-07-10", "active", "Take one tablet at night", "community",
                      requester=shah, quantity=(56, "tablet"), supply_days=56), "atorvastatin")
    f.add(med_request(me, SERTRALINE, "2019-01-20", "stopped", "Take one tablet once a day", "community",
                      requester=shah, encounter=visits["2019-01-20"], quantity=(28, "tablet"), supply_days=28,
                      status_reason="Course completed; mood improved"), "sertraline")

    # Allergy.
    f.add(penicillin_allergy(me, "2009-04-14", "moderate",
                             cc(SCT, "271807003", "Eruption of skin", "Rash"),
                             "Widespread itchy rash after a course of amoxicillin", recorder=shah), "penicillin")

    # Immunisations.
    f.add({
        "resourceType": "Immunization",
        "status": "completed",
        "vaccineCode": FLU_VACCINE,
        "patient": ref(me),
        "occurrenceDateTime": "2025-10-08",
        "recorded": "2025-10-08",
        "primarySource": True,
        "lotNumber": "FLU25-4471B",
        "site": cc("http://terminology.hl7.org/CodeSystem/v3-ActSite", "LA", "left arm"),
        "route": cc("http://terminology.hl7.org/CodeSystem/v3-RouteOfAdministration", "IM",
                    "Injection, intramuscular"),
        "performer": [{"actor": ref(nurse, "Joanne Hargreaves")}],
    }, "flu-2025")
    f.add({
        "resourceType": "Immunization",
        "status": "completed",
        "vaccineCode": COVID_VACCINE,
        "patient": ref(me),
        "occurrenceDateTime": "2026-04-20",
        "recorded": "2026-04-20",
        "primarySource": True,
        "lotNumber": "CV26-0912A",
        "site": cc("http://terminology.hl7.org/CodeSystem/v3-ActSite", "LA", "left arm"),
        "route": cc("http://terminology.hl7.org/CodeSystem/v3-RouteOfAdministration", "IM",
                    "Injection, intramuscular"),
        "performer": [{"actor": ref(nurse, "Joanne Hargreaves")}],
    }, "covid-2026")
    f.add({
        "resourceType": "Immunization",
        "status": "completed",
        "vaccineCode": FLU_VACCINE,
        "patient": ref(me),
        "occurrenceDateTime": "2026-10-12",
        "recorded": "2026-10-14",
        "primarySource": False,
        "reportOrigin": cc("http://terminology.hl7.org/CodeSystem/immunization-origin", "record",
                           "Written Record"),
        "note": [{"text": "Given at home by the district nursing team (Leeds Community Healthcare)."}],
    }, "flu-2026")

    # Blood tests, taken about a week before each review.
    hba1c = [
        ("2023-03-07", "09:12", 51), ("2023-09-12", "09:05", 49), ("2024-03-19", "09:20", 55),
        ("2024-09-24", "09:08", 58), ("2025-03-18", "09:15", 62), ("2025-09-23", "09:11", 57),
        ("2026-03-17", "09:02", 53), ("2026-09-22", "09:18", 47),
    ]
    for day, hm, v in hba1c:
        f.add(lab(me, HBA1C, at(day, hm), v, "mmol/mol", "mmol/mol", low=20, high=48,
                  range_text="20-48 mmol/mol; individual diabetes target agreed with you",
                  issued=at(day, "16:40")), f"hba1c-{day}")
    for day, hm, v in [("2025-09-23", "09:11", 66), ("2026-09-22", "09:18", 57)]:
        f.add(lab(me, EGFR, at(day, hm), v, "mL/min/1.73m2", "mL/min/{1.73_m2}", low=60,
                  range_text="Above 60 mL/min/1.73m2", issued=at(day, "16:40")), f"egfr-{day}")
    for day, hm, v in [("2024-09-24", "09:08", 4.6), ("2025-09-23", "09:11", 4.2)]:
        f.add(lab(me, CHOLESTEROL, at(day, hm), v, "mmol/L", "mmol/L", high=5.0,
                  range_text="Below 5.0 mmol/L", issued=at(day, "16:40")), f"cholesterol-{day}")

    # Measurements at consultations.
    for key, hm, s, d in [
        ("2024-03-26", "09:46", 148, 86), ("2025-03-25", "09:56", 138, 80), ("2025-09-30", "15:25", 136, 78),
        ("2026-03-31", "09:37", 134, 78), ("2026-08-04", "11:16", 152, 88), ("2026-09-29", "10:08", 146, 84),
    ]:
        f.add(blood_pressure(me, at(key, hm), s, d, performer=shah, encounter=visits[key],
                             method="Seated, left arm, automated cuff"), f"bp-{key}")
    for key, hm, kg in [("2024-03-26", "09:44", 78.4), ("2025-03-25", "09:54", 76.9), ("2026-03-31", "09:35", 75.2)]:
        f.add(vital(me, WEIGHT, at(key, hm), kg, "kg", "kg", performer=shah, encounter=visits[key]),
              f"weight-{key}")
    return f


# --- 2. Hospital: St James's University Hospital ------------------------------

DISCHARGE_TEXT = """St James's University Hospital, Beckett Street, Leeds LS9 7TF
Discharge summary

Patient: Mrs Margaret Jones, born 27 March 1948, NHS Number 943 476 5919
Admitted: 14 July 2026 via the Emergency Department. Discharged: 21 July 2026 to her usual home.
Consultant: Dr Helen Marsh, Acute Medicine.

Diagnosis: acute kidney injury (stage 2) after three days of diarrhoea and vomiting, on a background of type 2 diabetes and hypertension.

Mrs Jones was dehydrated on arrival. Her creatinine was 186 micromol/L (eGFR 22). She was treated with intravenous fluids and her kidney function improved each day; creatinine was 98 micromol/L (eGFR 48) on the day before discharge. A renal ultrasound showed normal-sized kidneys with no hydronephrosis.

Medicines: ramipril has been STOPPED because of the kidney injury. Metformin was withheld for 48 hours and restarted before discharge. No other changes.
Allergies: penicillin - anaphylaxis.

Actions for the GP: please repeat urea and electrolytes in 1 to 2 weeks, and review whether ramipril can be restarted once kidney function is stable. Please check her blood pressure, which may rise without ramipril.
"""


def hospital():
    base = "https://fhir.sjuh.example.nhs.uk/R4"
    f = Feed("02-hospital-st-james-university-hospital.json", "relative", base=base,
             bundle_id="sjuh-record-7730214-20261119", timestamp="2026-11-19T14:30:00+00:00")

    org = f.add(organisation(
        "St James's University Hospital", "RR813", ["Beckett Street"], "LS9 7TF", "0113 496 0900"), "RR813")
    marsh = f.add({
        "resourceType": "Practitioner",
        "identifier": [{"system": "https://fhir.hl7.org.uk/Id/gmc-number", "value": "6093357"}],
        "active": True,
        "name": [{"use": "official", "family": "Marsh", "given": ["Helen"], "prefix": ["Dr"]}],
        "gender": "female",
    }, "gmc-6093357")
    me = f.add(patient([
        nhs_identifier(verified=True),
        {
            "type": cc("http://terminology.hl7.org/CodeSystem/v2-0203", "MR", "Medical record number"),
            "system": "https://fhir.sjuh.example.nhs.uk/Id/hospital-number",
            "value": "J7730214",
        },
    ], {
        "telecom": [{"system": "phone", "value": "0113 496 0738", "use": "home"}],
        "address": [HOME_ADDRESS],
        "generalPractitioner": [GP_LOGICAL],
    }), "7730214")

    aki = "Condition/aki-7730214"  # added below; relative references need no order
    stay = f.add({
        "resourceType": "Encounter",
        "identifier": [{"system": "https://fhir.sjuh.example.nhs.uk/Id/spell-number", "value": "IP26-071402"}],
        "status": "finished",
        "class": coding(ACT_CODE, "IMP", "inpatient encounter"),
        "type": [cc(SCT, "32485007", "Hospital admission", "Emergency admission")],
        "priority": cc(ACT_CODE, "EM", "emergency"),
        "subject": ref(me),
        "participant": [{"individual": ref(marsh, "Dr Helen Marsh")}],
        "period": {"start": at("2026-07-14", "15:40"), "end": at("2026-07-21", "11:30")},
        "reasonReference": [ref(aki)],
        "diagnosis": [{
            "condition": ref(aki),
            "use": cc("http://terminology.hl7.org/CodeSystem/diagnosis-role", "DD", "Discharge diagnosis"),
            "rank": 1,
        }],
        "hospitalization": {
            "admitSource": cc("http://terminology.hl7.org/CodeSystem/admit-source", "emd",
                              "From accident/emergency department"),
            "dischargeDisposition": cc("http://terminology.hl7.org/CodeSystem/discharge-disposition",
                                       "home", "Home"),
        },
        "serviceProvider": ref(org, "St James's University Hospital"),
    }, "IP26-071402")

    f.add(condition(me, AKI, "2026-07-14", "2026-07-14", "encounter-diagnosis", status="resolved",
                    abated="2026-07-21", recorder=marsh, encounter=stay,
                    note="Stage 2 AKI secondary to dehydration (gastroenteritis). Ramipril stopped."),
          "aki-7730214")
    t2dm = f.add(condition(me, T2DM, "2015-06-12", "2026-07-14", "problem-list-item", recorder=marsh,
                           encounter=stay), "t2dm-7730214")
    htn = f.add(condition(me, HYPERTENSION, "2012-02-03", "2026-07-14", "problem-list-item", recorder=marsh,
                          encounter=stay), "htn-7730214")

    # Medicines reconciled on admission and confirmed on discharge.
    f.add(med_request(me, METFORMIN, "2015-06-26", "active", METFORMIN_DOSE, "discharge", recorder=marsh,
                      reason=t2dm, encounter=stay,
                      note="Withheld 14-16 July during the kidney injury; restarted before discharge."),
          "rx-metformin-7730214")
    f.add(med_request(me, RAMIPRIL, "2012-02-17", "stopped", RAMIPRIL_DOSE, "discharge", recorder=marsh,
                      reason=htn, encounter=stay,
                      status_reason="Stopped because of acute kidney injury; GP to review restarting"),
          "rx-ramipril-7730214")

    f.add(penicillin_allergy(me, "2026-07-14", "severe",
                             cc(SCT, "39579001", "Anaphylaxis", "Anaphylaxis"),
                             "Anaphylaxis after penicillin (reported by patient and family on admission)",
                             recorder=marsh, encounter=stay), "allergy-penicillin-7730214")

    for key, day, hm, v in [("cr-1", "2026-07-14", "16:05", 186), ("cr-2", "2026-07-16", "06:30", 142),
                            ("cr-3", "2026-07-20", "06:25", 98)]:
        f.add(lab(me, CREATININE, at(day, hm), v, "µmol/L", "umol/L", low=45, high=84,
                  range_text="45-84 µmol/L", issued=at(day, f"{int(hm[:2]) + 1:02d}{hm[2:]}"),
                  encounter=stay), f"{key}-7730214")
    for key, day, hm, v in [("egfr-1", "2026-07-14", "16:05", 22), ("egfr-2", "2026-07-20", "06:25", 48)]:
        f.add(lab(me, EGFR, at(day, hm), v, "mL/min/1.73m2", "mL/min/{1.73_m2}", low=60,
                  range_text="Above 60 mL/min/1.73m2", encounter=stay), f"{key}-7730214")

    f.add({
        "resourceType": "Procedure",
        "status": "completed",
        "code": cc(SCT, "306005", "Echography of kidney", "Ultrasound scan of both kidneys"),
        "subject": ref(me),
        "encounter": ref(stay),
        "performedDateTime": at("2026-07-15", "10:20"),
        "performer": [{"actor": ref(marsh, "Dr Helen Marsh")}],
        "reasonReference": [ref(aki)],
        "note": [{"text": "Normal-sized kidneys (right 10.4 cm, left 10.7 cm). No hydronephrosis."}],
    }, "us-kidney-7730214")

    f.add({
        "resourceType": "DocumentReference",
        "status": "current",
        "docStatus": "final",
        "type": {
            "coding": [
                coding(SCT, "373942005", "Discharge summary"),
                coding(LOINC, "18842-5", "Discharge summary"),
            ],
            "text": "Discharge summary",
        },
        "subject": ref(me),
        "date": at("2026-07-21", "14:05"),
        "author": [ref(marsh, "Dr Helen Marsh")],
        "custodian": ref(org, "St James's University Hospital"),
        "description": "Discharge summary: acute kidney injury, July 2026",
        "content": [{
            "attachment": {
                "contentType": "text/plain",
                "language": "en-GB",
                "data": base64.b64encode(DISCHARGE_TEXT.encode("utf-8")).decode("ascii"),
                "title": "Discharge summary - St James's University Hospital",
                "creation": at("2026-07-21", "14:05"),
            },
        }],
        "context": {
            "encounter": [ref(stay)],
            "period": {"start": at("2026-07-14", "15:40"), "end": at("2026-07-21", "11:30")},
        },
    }, "discharge-7730214")
    return f


# --- 3. Community: Leeds Community Healthcare NHS Trust -----------------------

def community():
    f = Feed("03-community-leeds-community-healthcare.json", "urn",
             bundle_id="lch-export-20261121", timestamp="2026-11-21T02:00:41+00:00")
    org = f.add(organisation(
        "Leeds Community Healthcare NHS Trust", "RY6", ["Stockdale House", "Headingley Office Park"], "LS6 1PF",
        "0113 496 0220"), "org")
    nurse = f.add({
        "resourceType": "Practitioner",
        "active": True,
        "name": [{"use": "official", "family": "Whitaker", "given": ["Sarah"]}],
        "gender": "female",
        "qualification": [{"code": text_cc("District Nurse (Specialist Practitioner)")}],
    }, "sarah-whitaker")
    me = f.add(patient([nhs_identifier(verified=False)], {
        "address": [HOME_ADDRESS],
        "generalPractitioner": [GP_LOGICAL],
    }), "patient")

    visits = {}
    for day, start, end in [("2026-08-11", "10:30", "11:15"), ("2026-09-08", "10:40", "11:20"),
                            ("2026-10-12", "11:00", "11:40"), ("2026-11-10", "10:35", "11:10")]:
        visits[day] = f.add({
            "resourceType": "Encounter",
            "status": "finished",
            "class": coding(ACT_CODE, "HH", "home health"),
            "type": [cc(SCT, "439708006", "Home visit", "District nurse home visit")],
            "subject": ref(me),
            "participant": [{"individual": ref(nurse, "Sarah Whitaker")}],
            "period": {"start": at(day, start), "end": at(day, end)},
            "serviceProvider": ref(org, "Leeds Community Healthcare NHS Trust"),
        }, f"visit-{day}")

    t2dm = f.add(condition(me, T2DM, "2015-06-12", "2026-08-11", "problem-list-item", recorder=nurse), "t2dm")

    for day, hm, s, d in [("2026-08-11", "10:42", 142, 82), ("2026-09-08", "10:51", 138, 80),
                          ("2026-10-12", "11:08", 144, 84), ("2026-11-10", "10:44", 140, 82)]:
        f.add(blood_pressure(me, at(day, hm), s, d, performer=nurse, encounter=visits[day],
                             method="Seated, right arm, manual cuff"), f"bp-{day}")

    f.add({
        "resourceType": "Procedure",
        "status": "completed",
        "code": cc(SCT, "401191002", "Diabetic foot examination", "Diabetic foot check"),
        "subject": ref(me),
        "encounter": ref(visits["2026-08-11"]),
        "performedDateTime": at("2026-08-11", "10:50"),
        "performer": [{"actor": ref(nurse, "Sarah Whitaker")}],
        "note": [{"text": "Pulses present. Reduced sensation at the left great toe (monofilament). "
                          "No ulcers. Moderate risk."}],
    }, "foot-check-2026-08-11")

    goal = f.add({
        "resourceType": "Goal",
        "lifecycleStatus": "active",
        "achievementStatus": cc("http://terminology.hl7.org/CodeSystem/goal-achievement", "in-progress",
                                "In Progress"),
        "description": text_cc("Keep HbA1c below 53 mmol/mol"),
        "subject": ref(me),
        "startDate": "2026-08-11",
        "target": [{
            "measure": HBA1C,
            "detailQuantity": qty(53, "mmol/mol", "mmol/mol", comparator="<"),
            "dueDate": "2027-03-31",
        }],
        "expressedBy": ref(nurse, "Sarah Whitaker"),
        "addresses": [ref(t2dm)],
        "note": [{"text": "Agreed with Margaret and her son David at the first home visit."}],
    }, "goal-hba1c")

    f.add({
        "resourceType": "CarePlan",
        "status": "active",
        "intent": "plan",
        "category": [cc(SCT, "698360004", "Diabetes self management plan")],
        "title": "Diabetes foot care plan",
        "description": "Foot checks by the district nursing team every three months, and daily checks at home, "
                       "because of reduced sensation in the left foot.",
        "subject": ref(me),
        "period": {"start": "2026-08-11"},
        "created": "2026-08-11",
        "author": ref(nurse, "Sarah Whitaker"),
        "addresses": [ref(t2dm)],
        "goal": [ref(goal)],
        "activity": [
            {"detail": {
                "kind": "ServiceRequest",
                "code": cc(SCT, "401191002", "Diabetic foot examination", "Foot check by district nurse"),
                "status": "in-progress",
                "scheduledTiming": {"repeat": {"frequency": 1, "period": 3, "periodUnit": "mo"}},
                "performer": [ref(nurse, "Sarah Whitaker")],
                "description": "Check pulses, sensation and skin of both feet; next check due February 2027.",
            }},
            {"detail": {
                "status": "in-progress",
                "description": "Check both feet every evening for cuts, blisters or colour changes; "
                               "moisturise but not between the toes; call the team if anything changes.",
            }},
        ],
    }, "careplan-foot")

    f.add({
        "resourceType": "Immunization",
        "status": "completed",
        "vaccineCode": FLU_VACCINE,
        "patient": ref(me),
        "encounter": ref(visits["2026-10-12"]),
        "occurrenceDateTime": at("2026-10-12", "11:20"),
        "recorded": at("2026-10-12", "11:25"),
        "primarySource": True,
        "lotNumber": "FLU26-7730C",
        "site": cc("http://terminology.hl7.org/CodeSystem/v3-ActSite", "LA", "left arm"),
        "route": cc("http://terminology.hl7.org/CodeSystem/v3-RouteOfAdministration", "IM",
                    "Injection, intramuscular"),
        "doseQuantity": qty(0.5, "mL", "mL"),
        "performer": [{"actor": ref(nurse, "Sarah Whitaker")}],
    }, "flu-2026")
    return f


# --- 4. Device: home blood pressure monitor -----------------------------------

def device():
    base = "https://api.homebp.example/fhir/R4"
    f = Feed("04-device-home-blood-pressure-monitor.json", "relative", base=base,
             bundle_id="homebp-sync-20261118", timestamp="2026-11-18T21:47:30+00:00")
    f.add({
        "resourceType": "Organization",
        "identifier": [{"type": text_cc("Device serial number"), "value": "HBP-7A2C-55019"}],
        "active": True,
        "name": "Home blood pressure monitor",
        "alias": ["Margaret's blood pressure monitor"],
    }, "homebp-7a2c55019")
    me = f.add(patient([nhs_identifier(verified=False)]), "user-5f3a9c")
    dev = f.add({
        "resourceType": "Device",
        "serialNumber": "HBP-7A2C-55019",
        "deviceName": [{"name": "Home blood pressure monitor", "type": "user-friendly-name"}],
        "type": text_cc("Automatic upper-arm blood pressure monitor"),
        "patient": ref(me),
    }, "7a2c55019")

    rng = random.Random(20261105)
    # (hour range, systolic, diastolic, pulse) around which each time of day varies.
    sessions = [
        ("am", (7, 10, 7, 50), 143, 85, 66),
        ("pm", (13, 20, 14, 10), 136, 80, 74),
        ("eve", (20, 50, 21, 40), 139, 82, 70),
    ]
    for n in range(14):
        day = f"2026-11-{5 + n:02d}"
        for name, (h0, m0, h1, m1), sys0, dia0, hr0 in sessions:
            start, end = h0 * 60 + m0, h1 * 60 + m1
            minute = rng.randint(start, end)
            hm = f"{minute // 60:02d}:{minute % 60:02d}"
            when = at(day, hm, seconds=rng.randint(0, 59))
            s = sys0 + rng.randint(-6, 6)
            d = dia0 + rng.randint(-4, 4)
            p = hr0 + rng.randint(-5, 5)
            f.add(blood_pressure(me, when, s, d, performer=me, device=dev), f"bp-{day}-{name}")
            f.add(vital(me, HEART_RATE, when, p, "beats/minute", "/min", performer=me, device=dev),
                  f"hr-{day}-{name}")
    return f


# --- Output ---------------------------------------------------------------------

SOURCES = [
    (gp, "gp", "Riverside Surgery"),
    (hospital, "hospital", "St James's University Hospital"),
    (community, "community", "Leeds Community Healthcare NHS Trust"),
    (device, "device", "Home blood pressure monitor"),
]


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    manifest = {
        "about": "Synthetic FHIR R4 feeds for the demo patient, written by scripts/make-demo-feeds.py.",
        "nhs_number": NHS_NO,
        "name": {"given": ["Margaret"], "family": "Jones"},
        "birth_date": "1948-03-27",
        "sources": [],
        "expected_merges": [
            {"fact": "Type 2 diabetes (condition, onset 2015-06-12)", "files": ["01", "02", "03"]},
            {"fact": "Hypertension (condition, onset 2012-02-03)", "files": ["01", "02"]},
            {"fact": "Metformin 500mg tablets (authored 2015-06-26)", "files": ["01", "02"]},
            {"fact": "Ramipril 5mg capsules (authored 2012-02-17)", "files": ["01", "02"],
             "disagreement": {"status": {"01": "active", "02": "stopped"}}},
            {"fact": "Penicillin allergy", "files": ["01", "02"],
             "disagreement": {"severity": {"01": "moderate", "02": "severe"}}},
            {"fact": "Influenza vaccine 2026-10-12", "files": ["01", "03"]},
        ],
    }
    for build, kind, name in SOURCES:
        f = build()
        path = OUT / f.file
        path.write_text(json.dumps(f.bundle(), indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        manifest["sources"].append({
            "file": f.file,
            "name": name,
            "kind": kind,
            "reference_style": f.style,
            "resource_counts": f.counts(),
        })
        print(f"{path.relative_to(OUT.parent.parent.parent)}: {sum(f.counts().values())} resources")
    (OUT / "manifest.json").write_text(json.dumps(manifest, indent=1, ensure_ascii=False) + "\n",
                                       encoding="utf-8")


if __name__ == "__main__":
    main()
