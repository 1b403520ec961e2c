//! Turning the bytes of an uploaded or fetched file into a list of resources.
//!
//! The bytes are parsed exactly once, into `serde_json::Value`; resources are
//! then moved (not cloned) out of the Bundle, so the cost stays close to a
//! plain `serde_json::from_slice`.

use std::collections::HashMap;
use std::fmt;

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::r4::{is_r4_resource_type, is_valid_id};

/// One file, read.
#[derive(Clone, Debug, PartialEq)]
pub struct Feed {
    pub kind: FeedKind,
    /// Top-level resources in file order. Resources nested in them (a Bundle
    /// inside an entry, `contained`) stay inside their parent's JSON.
    pub resources: Vec<FeedResource>,
    /// `Bundle.meta.source`, when the file is a Bundle that names one.
    pub source: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FeedKind {
    /// `bundle_type` is `Bundle.type` as written (R4 requires it, but a
    /// missing one is not worth refusing a file over).
    Bundle {
        bundle_type: Option<String>,
    },
    Ndjson,
    Single,
}

/// Where in a file something is, for error messages and provenance.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Location {
    /// The file as a whole (a single resource, or the Bundle itself).
    File,
    /// `Bundle.entry[i]`, counted from 0 as FHIRPath does.
    Entry(usize),
    /// A line of an NDJSON file, counted from 1 as editors do.
    Line(usize),
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::File => f.write_str("the file"),
            Location::Entry(i) => write!(f, "Bundle.entry[{i}]"),
            Location::Line(n) => write!(f, "line {n}"),
        }
    }
}

impl Location {
    /// A readable path to `field` of the resource found here.
    fn field_path(&self, field: &str) -> String {
        match self {
            Location::File => field.to_string(),
            Location::Entry(i) => format!("Bundle.entry[{i}].resource.{field}"),
            Location::Line(n) => format!("{field} on line {n}"),
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct FeedResource {
    /// Position among the feed's resources, from 0.
    pub index: usize,
    pub location: Location,
    pub resource_type: String,
    /// The resource's own id, or a synthetic `kith-…` one (see `synthetic_id`).
    pub id: String,
    /// True when the file gave no id and `id` was derived from the content.
    pub synthetic_id: bool,
    /// `Bundle.entry.fullUrl`, when there was one.
    pub full_url: Option<String>,
    /// The resource exactly as received.
    pub json: Value,
}

impl FeedResource {
    /// `Type/id`, the usual way to name a resource.
    pub fn type_id(&self) -> String {
        format!("{}/{}", self.resource_type, self.id)
    }
}

/// Why a file was refused. Every message names where the problem is.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FeedError {
    #[error(
        "This file is {} MB, larger than the {} MB Kith accepts. Ask the provider for a smaller export or split it into parts.",
        mb_pair(*size, *max).0,
        mb_pair(*size, *max).1
    )]
    TooLarge { size: usize, max: usize },

    #[error("The file is empty.")]
    Empty,

    #[error("{}", invalid_json_message(*at, *line, *column, *truncated, detail))]
    InvalidJson {
        /// `Line(n)` for a line of NDJSON; `File` otherwise.
        at: Location,
        /// Line of the file, and column within that line.
        line: usize,
        column: usize,
        /// The file stopped in the middle of a value.
        truncated: bool,
        detail: String,
    },

    #[error("This is JSON but not FHIR: {at} {detail}.")]
    NotFhir { at: Location, detail: String },

    #[error("This is not a FHIR R4 file: {} {detail}.", at.field_path(field))]
    NotR4 { at: Location, field: String, detail: String },

    #[error("{resource_type}/{id} appears twice in this file, at {first} and at {second}. Each resource in a file needs its own id.")]
    DuplicateId { resource_type: String, id: String, first: Location, second: Location },
}

/// Both sizes in MB, with enough decimals that they do not read the same.
fn mb_pair(size: usize, max: usize) -> (String, String) {
    let mb = |b: usize, d: usize| format!("{:.*}", d, b as f64 / (1024.0 * 1024.0));
    let mut d = 1;
    while d < 6 && mb(size, d) == mb(max, d) {
        d += 1;
    }
    (mb(size, d), mb(max, d))
}

fn invalid_json_message(at: Location, line: usize, column: usize, truncated: bool, detail: &str) -> String {
    match (at, truncated) {
        (Location::Line(n), true) => format!("Line {n} ends in the middle of a JSON value (column {column}): the file looks truncated or incomplete."),
        (Location::Line(n), false) => {
            format!("Line {n} is not valid JSON: {detail} (column {column}).")
        }
        (_, true) => format!(
            "The file ended unexpectedly at line {line}, column {column}: it looks truncated or incomplete (perhaps the download or copy did not finish)."
        ),
        (_, false) => {
            format!("This file is not valid JSON: {detail} (line {line}, column {column}).")
        }
    }
}

fn json_error(e: &serde_json::Error, at: Location) -> FeedError {
    // serde_json appends " at line L column C"; we report those separately.
    let full = e.to_string();
    let detail = match full.rfind(" at line ") {
        Some(i) => full[..i].to_string(),
        None => full,
    };
    let detail = match detail.as_str() {
        "trailing characters" => "there is more content after the end of the JSON document".into(),
        _ => detail,
    };
    // For NDJSON, serde_json counts within the line; report the file's line.
    let line = match at {
        Location::Line(n) => n,
        _ => e.line(),
    };
    FeedError::InvalidJson { at, line, column: e.column(), truncated: e.is_eof(), detail }
}

/// Reads a FHIR R4 file: a Bundle of any type, NDJSON (one resource a line,
/// blank lines allowed) or a single resource, told apart by content.
pub fn parse_feed(bytes: &[u8], max_bytes: usize) -> Result<Feed, FeedError> {
    if bytes.len() > max_bytes {
        return Err(FeedError::TooLarge { size: bytes.len(), max: max_bytes });
    }
    // Windows tools like to start UTF-8 files with a byte-order mark.
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(FeedError::Empty);
    }
    // The common case, a single document, costs exactly one serde_json parse.
    // NDJSON fails that parse cheaply ("trailing characters" after line 1)
    // and is recognised then.
    match serde_json::from_slice::<Value>(bytes) {
        Ok(value) => from_document(value),
        Err(e) if e.is_syntax() && looks_like_ndjson(bytes) => from_ndjson(bytes),
        Err(e) => Err(json_error(&e, Location::File)),
    }
}

/// More than one non-blank line, and the first is a JSON value by itself.
fn looks_like_ndjson(bytes: &[u8]) -> bool {
    let mut lines = bytes.split(|&b| b == b'\n').filter(|l| !l.iter().all(u8::is_ascii_whitespace));
    let Some(first) = lines.next() else {
        return false;
    };
    lines.next().is_some() && serde_json::from_slice::<serde::de::IgnoredAny>(first).is_ok()
}

fn from_document(value: Value) -> Result<Feed, FeedError> {
    let mut map = match value {
        Value::Object(map) => map,
        other => return Err(FeedError::NotFhir { at: Location::File, detail: format!("is {}, not a FHIR resource or Bundle", json_kind(&other)) }),
    };
    let is_bundle = matches!(map.get("resourceType"), Some(Value::String(t)) if t == "Bundle");
    if !is_bundle {
        let res = checked_resource(Value::Object(map), Location::File, None, 0)?;
        return Ok(Feed { kind: FeedKind::Single, resources: vec![res], source: None });
    }

    check_id_and_meta(&map, Location::File, "Bundle")?;
    let bundle_type = map.get("type").and_then(Value::as_str).map(str::to_string);
    let source = map.get("meta").and_then(|m| m.get("source")).and_then(Value::as_str).map(str::to_string);
    let entries = match map.remove("entry") {
        None | Some(Value::Null) => Vec::new(), // e.g. a searchset with no matches
        Some(Value::Array(entries)) => entries,
        Some(other) => {
            return Err(FeedError::NotR4 {
                at: Location::File,
                field: "Bundle.entry".into(),
                detail: format!("must be a list of entries but is {}", json_kind(&other)),
            })
        }
    };

    let mut resources = Vec::with_capacity(entries.len());
    let mut seen = Seen::default();
    for (i, entry) in entries.into_iter().enumerate() {
        let at = Location::Entry(i);
        let mut entry = match entry {
            Value::Object(e) => e,
            other => {
                return Err(FeedError::NotR4 {
                    at: Location::File,
                    field: format!("Bundle.entry[{i}]"),
                    detail: format!("must be an object but is {}", json_kind(&other)),
                })
            }
        };
        let full_url = entry.get("fullUrl").and_then(Value::as_str).map(str::to_string);
        let Some(resource) = entry.remove("resource") else {
            return Err(missing_resource(&entry, i));
        };
        let mut res = checked_resource(resource, at, full_url, resources.len())?;
        seen.check(&mut res)?;
        resources.push(res);
    }
    Ok(Feed { kind: FeedKind::Bundle { bundle_type }, resources, source })
}

fn missing_resource(entry: &Map<String, Value>, i: usize) -> FeedError {
    // A batch/transaction of GETs or DELETEs is valid FHIR but carries no
    // records; say so rather than just "missing".
    let detail = match entry.get("request") {
        Some(req) => format!(
            "has no resource: it is a request ({} {}), so this file is a list of requests, not health records",
            req.get("method").and_then(Value::as_str).unwrap_or("?"),
            req.get("url").and_then(Value::as_str).unwrap_or("?"),
        ),
        None => "has no resource".to_string(),
    };
    FeedError::NotR4 { at: Location::File, field: format!("Bundle.entry[{i}]"), detail }
}

fn from_ndjson(bytes: &[u8]) -> Result<Feed, FeedError> {
    let mut resources = Vec::new();
    let mut seen = Seen::default();
    for (n, line) in bytes.split(|&b| b == b'\n').enumerate() {
        if line.iter().all(u8::is_ascii_whitespace) {
            continue; // blank lines (and the final newline) are allowed
        }
        let at = Location::Line(n + 1);
        let value: Value = serde_json::from_slice(line).map_err(|e| json_error(&e, at))?;
        let mut res = checked_resource(value, at, None, resources.len())?;
        seen.check(&mut res)?;
        resources.push(res);
    }
    Ok(Feed { kind: FeedKind::Ndjson, resources, source: None })
}

/// Checks one top-level resource and wraps it. Nested content is not
/// inspected: it is kept verbatim and read defensively later.
fn checked_resource(value: Value, at: Location, full_url: Option<String>, index: usize) -> Result<FeedResource, FeedError> {
    let map = match &value {
        Value::Object(map) => map,
        other => {
            let detail = match at {
                Location::Entry(_) => format!("has a resource that is {}, not a FHIR resource", json_kind(other)),
                _ => format!("is {}, not a FHIR resource", json_kind(other)),
            };
            return Err(FeedError::NotFhir { at, detail });
        }
    };
    let resource_type = match map.get("resourceType") {
        Some(Value::String(t)) => t.clone(),
        Some(other) => return Err(FeedError::NotFhir { at, detail: format!("has a \"resourceType\" that is {}, not a name", json_kind(other)) }),
        None => return Err(FeedError::NotFhir { at, detail: "has no \"resourceType\", so it is not a FHIR resource".into() }),
    };
    if !is_r4_resource_type(&resource_type) {
        return Err(FeedError::NotR4 { at, field: "resourceType".into(), detail: format!("is \"{resource_type}\", which is not a FHIR R4 resource type") });
    }
    check_id_and_meta(map, at, &resource_type)?;
    let (id, synthetic_id) = match map.get("id").and_then(Value::as_str) {
        Some(id) => (id.to_string(), false),
        None => (synthetic_id(&value), true),
    };
    Ok(FeedResource { index, location: at, resource_type, id, synthetic_id, full_url, json: value })
}

fn check_id_and_meta(map: &Map<String, Value>, at: Location, rt: &str) -> Result<(), FeedError> {
    let field = |f: &str| {
        if at == Location::File {
            format!("{rt}.{f}")
        } else {
            f.to_string()
        }
    };
    match map.get("id") {
        None => {}
        Some(Value::String(id)) if is_valid_id(id) => {}
        Some(Value::String(id)) => {
            return Err(FeedError::NotR4 {
                at,
                field: field("id"),
                detail: format!("is \"{}\", which is not a valid FHIR id (1 to 64 letters, digits, '-' or '.')", truncate(id, 80)),
            })
        }
        Some(other) => return Err(FeedError::NotR4 { at, field: field("id"), detail: format!("must be text but is {}", json_kind(other)) }),
    }
    match map.get("meta") {
        None | Some(Value::Object(_)) => Ok(()),
        Some(other) => Err(FeedError::NotR4 { at, field: field("meta"), detail: format!("must be an object but is {}", json_kind(other)) }),
    }
}

/// Remembers `Type/id` → where it was first seen.
#[derive(Default)]
struct Seen(HashMap<String, Location>);

impl Seen {
    fn check(&mut self, res: &mut FeedResource) -> Result<(), FeedError> {
        let key = format!("{}/{}", res.resource_type, res.id);
        let Some(&first) = self.0.get(&key) else {
            self.0.insert(key, res.location);
            return Ok(());
        };
        if !res.synthetic_id {
            return Err(FeedError::DuplicateId { resource_type: res.resource_type.clone(), id: res.id.clone(), first, second: res.location });
        }
        // Two id-less resources with identical content: the same record sent
        // twice. Keep both, with a suffix that is still stable per file.
        let mut n = 2;
        loop {
            let id = format!("{}-{n}", res.id);
            let key = format!("{}/{id}", res.resource_type);
            if let std::collections::hash_map::Entry::Vacant(slot) = self.0.entry(key) {
                slot.insert(res.location);
                res.id = id;
                return Ok(());
            }
            n += 1;
        }
    }
}

/// `kith-` + the first 32 hex digits of SHA-256 over the resource's canonical
/// JSON (object keys sorted, no whitespace), so the same content always gets
/// the same id, whatever key order or formatting the sender used.
pub fn synthetic_id(value: &Value) -> String {
    let mut hasher = Sha256::new();
    canonical(value, &mut hasher);
    let digest = hasher.finalize();
    let mut id = String::with_capacity(37);
    id.push_str("kith-");
    for b in &digest[..16] {
        id.push_str(&format!("{b:02x}"));
    }
    id
}

/// Streams canonical JSON into the hash without building the string.
fn canonical(value: &Value, h: &mut Sha256) {
    match value {
        Value::Null => h.update(b"null"),
        Value::Bool(true) => h.update(b"true"),
        Value::Bool(false) => h.update(b"false"),
        Value::Number(n) => h.update(n.to_string().as_bytes()),
        Value::String(s) => canonical_str(s, h),
        Value::Array(items) => {
            h.update(b"[");
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    h.update(b",");
                }
                canonical(item, h);
            }
            h.update(b"]");
        }
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort_unstable();
            h.update(b"{");
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    h.update(b",");
                }
                canonical_str(k, h);
                h.update(b":");
                if let Some(v) = map.get(k) {
                    canonical(v, h);
                }
            }
            h.update(b"}");
        }
    }
}

fn canonical_str(s: &str, h: &mut Sha256) {
    h.update(b"\"");
    let mut buf = [0u8; 4];
    for c in s.chars() {
        match c {
            '"' => h.update(b"\\\""),
            '\\' => h.update(b"\\\\"),
            c if (c as u32) < 0x20 => h.update(format!("\\u{:04x}", c as u32).as_bytes()),
            c => h.update(c.encode_utf8(&mut buf).as_bytes()),
        }
    }
    h.update(b"\"");
}

pub(crate) fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "true/false",
        Value::Number(_) => "a number",
        Value::String(_) => "text",
        Value::Array(_) => "a JSON array",
        Value::Object(_) => "an object",
    }
}

fn truncate(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}
