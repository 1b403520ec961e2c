//! Reading FHIR R4 feeds for Kith: parsing a file into resources, checking
//! whose record it is, following references, naming the sending
//! organisation, and reducing clinical resources to normalised facts with
//! merge keys and sensitivity labels. No database, no network.
//!
//! ```no_run
//! # fn demo(bytes: &[u8], me: &kith_types::NhsNumber) -> Result<(), kith_fhir::FeedError> {
//! use kith_fhir::*;
//! let feed = parse_feed(bytes, 50 * 1024 * 1024)?;
//! if check_identity(&feed, me) != Identity::Matches { /* refuse */ }
//! for res in &feed.resources {
//!     if let Some(fact) = normalise(res, SourceKind::Gp) { println!("{}", fact.merge_key); }
//! }
//! # Ok(()) }
//! ```

mod facts;
mod identity;
mod labels;
mod parse;
mod r4;
mod refs;
mod source;

pub use facts::{normalise, normalise_in, Code, Fact, FactKind, SourceKind};
pub use identity::{check_identity, patients, Identity, PatientIdentity, NHS_NUMBER_SYSTEM};
pub use labels::{label_for, Label, ICD10_RULES, SECURITY_RULES, SNOMED_RULES};
pub use parse::{parse_feed, synthetic_id, Feed, FeedError, FeedKind, FeedResource, Location};
pub use r4::{is_r4_resource_type, is_valid_id, R4_RESOURCE_TYPES};
pub use refs::{references, unresolved, RefIndex};
pub use source::{source_organisation, SourceOrg};
