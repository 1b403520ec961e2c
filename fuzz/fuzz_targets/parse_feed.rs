//! Arbitrary bytes through everything the importer runs on an uploaded file
//! before it touches the database: parse, identity check, reference index,
//! unresolved references, source organisation and every resource's
//! normalised fact. Nothing may panic, whatever the input.
#![no_main]

use kith_fhir::{check_identity, normalise_in, parse_feed, patients, source_organisation, unresolved, RefIndex, SourceKind};
use kith_types::NhsNumber;
use libfuzzer_sys::fuzz_target;

/// The importer's own limit is far larger; libFuzzer inputs stay small.
const MAX_BYTES: usize = 1 << 20;

fuzz_target!(|data: &[u8]| {
    let Ok(feed) = parse_feed(data, MAX_BYTES) else {
        return;
    };
    let _ = patients(&feed);
    // A test-range number (valid check digit), and whatever the file holds.
    let expected = NhsNumber::parse("9000000009").expect("valid NHS Number");
    let _ = check_identity(&feed, &expected);
    let refs = RefIndex::new(&feed);
    let _ = unresolved(&feed);
    let _ = source_organisation(&feed);
    // The source kind changes labels and defaults: let the input choose it.
    let kind = SourceKind::ALL[data.len() % SourceKind::ALL.len()];
    for res in &feed.resources {
        let _ = normalise_in(&feed, &refs, res, kind);
        let _ = res.type_id();
    }
});
