//! Sensitivity labels: which facts the patient may want to share more
//! narrowly than the rest of their record.
//!
//! A fact's label comes from, in order of precedence:
//! 1. the sender's own `meta.security` sensitivity codes ([`SECURITY_RULES`]),
//! 2. its codes ([`SNOMED_RULES`], [`ICD10_RULES`]),
//! 3. the kind of organisation that sent it ([`Label::default_for`]).
//!
//! The lists are deliberately short and conservative: a false "sensitive"
//! only hides a fact until the patient shares it; a missed one can show a
//! diagnosis to a carer. Screening procedures and questionnaire scores
//! (e.g. "Depression screening", PHQ-9) are not labelled: everyone has them.
//! `Private` is never derived from a feed; only the patient sets it.

use std::fmt;
use std::str::FromStr;

use crate::facts::{Code, SourceKind};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Label {
    General,
    MentalHealth,
    SexualHealth,
    SocialCare,
    Private,
}

impl Label {
    pub const ALL: [Label; 5] = [Label::General, Label::MentalHealth, Label::SexualHealth, Label::SocialCare, Label::Private];

    pub fn as_str(self) -> &'static str {
        match self {
            Label::General => "general",
            Label::MentalHealth => "mental-health",
            Label::SexualHealth => "sexual-health",
            Label::SocialCare => "social-care",
            Label::Private => "private",
        }
    }

    /// For display: "Mental health".
    pub fn title(self) -> &'static str {
        match self {
            Label::General => "General",
            Label::MentalHealth => "Mental health",
            Label::SexualHealth => "Sexual health",
            Label::SocialCare => "Social care",
            Label::Private => "Private",
        }
    }

    /// The label a fact gets from where it came from, before its codes count.
    pub fn default_for(source: SourceKind) -> Label {
        match source {
            SourceKind::MentalHealth => Label::MentalHealth,
            SourceKind::SocialCare => Label::SocialCare,
            _ => Label::General,
        }
    }
}

impl fmt::Display for Label {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Label {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Label::ALL.into_iter().find(|l| l.as_str() == s).ok_or_else(|| format!("unknown label \"{s}\""))
    }
}

// ---------------------------------------------------------------------------
// The rules. Edit here; nothing else in the crate knows a sensitive code.
// ---------------------------------------------------------------------------

/// HL7 v3 ActCode sensitivity codes in `meta.security`.
pub const SECURITY_RULES: &[(&str, Label)] = &[
    ("PSY", Label::MentalHealth),     // psychiatry
    ("PSYTHPN", Label::MentalHealth), // psychotherapy note
    ("MH", Label::MentalHealth),      // mental health
    ("ETH", Label::MentalHealth),     // substance abuse (alcohol/drug)
    ("SUD", Label::MentalHealth),     // substance use disorder
    ("HIV", Label::SexualHealth),     // HIV/AIDS
    ("STD", Label::SexualHealth),     // sexually transmitted disease
    ("SEX", Label::SexualHealth),     // sexuality and reproductive health
    ("SDV", Label::SexualHealth),     // sexual assault, abuse, domestic violence
    ("SOC", Label::SocialCare),       // social services
];

/// SNOMED CT concepts, matched exactly (no hierarchy here: no terminology
/// server at import time; the ICD-10 ranges below catch more).
pub const SNOMED_RULES: &[(&str, Label, &str)] = &[
    // Medicines whose only common use reveals a mental-health condition
    // (dm+d/SNOMED product codes): without these a hidden diagnosis shows
    // through its prescription.
    ("321959007", Label::MentalHealth, "Sertraline 50mg tablets"),
    ("321958004", Label::MentalHealth, "Sertraline 100mg tablets"),
    ("321949006", Label::MentalHealth, "Fluoxetine 20mg capsules"),
    ("321987003", Label::MentalHealth, "Citalopram 20mg tablets"),
    ("35489007", Label::MentalHealth, "Depressive disorder"),
    ("370143000", Label::MentalHealth, "Major depressive disorder"),
    ("36923009", Label::MentalHealth, "Major depression, single episode"),
    ("197480006", Label::MentalHealth, "Anxiety disorder"),
    ("21897009", Label::MentalHealth, "Generalized anxiety disorder"),
    ("48694002", Label::MentalHealth, "Anxiety"),
    ("58214004", Label::MentalHealth, "Schizophrenia"),
    ("13746004", Label::MentalHealth, "Bipolar disorder"),
    ("47505003", Label::MentalHealth, "Posttraumatic stress disorder"),
    ("72366004", Label::MentalHealth, "Eating disorder"),
    ("56882008", Label::MentalHealth, "Anorexia nervosa"),
    ("78004001", Label::MentalHealth, "Bulimia nervosa"),
    ("248062006", Label::MentalHealth, "Self-injurious behavior"),
    ("86406008", Label::SexualHealth, "Human immunodeficiency virus infection"),
    ("165816005", Label::SexualHealth, "HIV positive"),
    ("105629000", Label::SexualHealth, "Chlamydial infection"),
    ("15628003", Label::SexualHealth, "Gonorrhea"),
    ("76272004", Label::SexualHealth, "Syphilis"),
    // A test for an STI says as much as its result.
    ("31676001", Label::SexualHealth, "HIV antigen test"),
    ("310861008", Label::SexualHealth, "Chlamydia antigen test"),
    ("165829005", Label::SexualHealth, "Gonorrhea infection titer test"),
    ("269828009", Label::SexualHealth, "Syphilis infectious titer test"),
    ("65200003", Label::SexualHealth, "Insertion of intrauterine contraceptive device"),
    ("46706006", Label::SexualHealth, "Replacement of contraceptive intrauterine device"),
    ("1263416007", Label::SexualHealth, "Removal of intrauterine contraceptive device"),
    ("169553002", Label::SexualHealth, "Insertion of subcutaneous contraceptive"),
    ("714812005", Label::SexualHealth, "Induced termination of pregnancy"),
    ("386639001", Label::SexualHealth, "Termination of pregnancy"),
];

/// ICD-10 ranges `(chapter letter, first, last)` on the 3-character category.
pub const ICD10_RULES: &[(char, u8, u8, Label)] = &[
    ('F', 0, 99, Label::MentalHealth),  // F00–F99 mental and behavioural disorders
    ('A', 50, 64, Label::SexualHealth), // A50–A64 predominantly sexually transmitted
    ('B', 20, 24, Label::SexualHealth), // B20–B24 HIV disease
    ('O', 4, 4, Label::SexualHealth),   // O04 medical abortion
    ('Z', 30, 30, Label::SexualHealth), // Z30 contraceptive management
];

const SNOMED: &str = "http://snomed.info/sct";

/// The label for a fact with these codes and `meta.security` codings
/// (`(system, code)`), sent by this kind of source.
pub fn label_for<'a>(codes: impl IntoIterator<Item = &'a Code>, security: impl IntoIterator<Item = (Option<&'a str>, &'a str)>, source: SourceKind) -> Label {
    for (system, code) in security {
        let act_code = system.is_none_or(|s| s.ends_with("ActCode"));
        if let Some((_, label)) = SECURITY_RULES.iter().find(|(c, _)| act_code && *c == code) {
            return *label;
        }
    }
    for c in codes {
        if let Some(label) = code_label(&c.system, &c.code) {
            return label;
        }
    }
    Label::default_for(source)
}

fn code_label(system: &str, code: &str) -> Option<Label> {
    // dm+d identifiers are SNOMED CT concept ids.
    if system == SNOMED || system.trim_end_matches('/') == "https://dmd.nhs.uk" {
        return SNOMED_RULES.iter().find(|(c, _, _)| *c == code).map(|(_, l, _)| *l);
    }
    if system.starts_with("http://hl7.org/fhir/sid/icd-10") {
        let mut chars = code.trim().chars();
        let letter = chars.next()?.to_ascii_uppercase();
        let tens = chars.next()?.to_digit(10)?;
        let units = chars.next()?.to_digit(10)?;
        let n = (tens * 10 + units) as u8;
        return ICD10_RULES.iter().find(|(l, lo, hi, _)| *l == letter && (*lo..=*hi).contains(&n)).map(|(_, _, _, label)| *label);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(system: &str, code: &str) -> Code {
        Code { system: system.into(), code: code.into(), display: None }
    }

    #[test]
    fn icd10_ranges() {
        let icd = "http://hl7.org/fhir/sid/icd-10";
        assert_eq!(code_label(icd, "F32.1"), Some(Label::MentalHealth));
        assert_eq!(code_label(icd, "f20"), Some(Label::MentalHealth));
        assert_eq!(code_label(icd, "A56.0"), Some(Label::SexualHealth));
        assert_eq!(code_label(icd, "A49"), None);
        assert_eq!(code_label(icd, "B24"), Some(Label::SexualHealth));
        assert_eq!(code_label(icd, "B25"), None);
        assert_eq!(code_label("http://hl7.org/fhir/sid/icd-10-uk", "F411"), Some(Label::MentalHealth));
        assert_eq!(code_label(icd, "J45"), None);
    }

    #[test]
    fn precedence() {
        let dep = [code(SNOMED, "35489007")];
        assert_eq!(label_for(&dep, [], SourceKind::Gp), Label::MentalHealth);
        assert_eq!(label_for(&dep, [], SourceKind::SocialCare), Label::MentalHealth);
        let sec = [(Some("http://terminology.hl7.org/CodeSystem/v3-ActCode"), "HIV")];
        assert_eq!(label_for(&dep, sec, SourceKind::Gp), Label::SexualHealth);
        assert_eq!(label_for([], [], SourceKind::SocialCare), Label::SocialCare);
        assert_eq!(label_for([], [], SourceKind::MentalHealth), Label::MentalHealth);
        assert_eq!(label_for([], [], SourceKind::Hospital), Label::General);
        // A confidentiality code is not a sensitivity code.
        let conf = [(Some("http://terminology.hl7.org/CodeSystem/v3-Confidentiality"), "R")];
        assert_eq!(label_for([], conf, SourceKind::Gp), Label::General);
    }
}
