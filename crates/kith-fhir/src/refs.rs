//! References between resources of one feed.
//!
//! Feeds name their targets three ways: `urn:uuid:` full URLs (GP exports),
//! relative `Type/id` (FHIR servers) and absolute `https://…/Type/id`. All
//! three must land on the same resource.

use std::collections::HashMap;

use serde_json::Value;

use crate::parse::Feed;
use crate::r4::is_r4_resource_type;

/// Lookup tables for one feed, built once.
#[derive(Clone, Debug, Default)]
pub struct RefIndex {
    /// `Bundle.entry.fullUrl` → target.
    by_full_url: HashMap<String, Target>,
    /// `Type/id` → target.
    by_type_id: HashMap<String, Target>,
}

#[derive(Clone, Debug)]
struct Target {
    resource_type: String,
    id: String,
    /// Position in `Feed::resources`, or None for a resource nested in a Bundle.
    index: Option<usize>,
}

impl RefIndex {
    pub fn new(feed: &Feed) -> Self {
        let mut ix = RefIndex::default();
        for res in &feed.resources {
            ix.add(&res.resource_type, &res.id, res.full_url.as_deref(), Some(res.index));
            // Entries of a Bundle inside the feed (message bundles, documents
            // sent as one entry) reference each other; index them too.
            if res.resource_type == "Bundle" {
                ix.add_nested(&res.json, 0);
            }
        }
        ix
    }

    fn add(&mut self, rt: &str, id: &str, full_url: Option<&str>, index: Option<usize>) {
        let target = Target { resource_type: rt.to_string(), id: id.to_string(), index };
        if let Some(url) = full_url {
            self.by_full_url.entry(url.to_string()).or_insert_with(|| target.clone());
        }
        self.by_type_id.entry(format!("{rt}/{id}")).or_insert(target);
    }

    fn add_nested(&mut self, bundle: &Value, depth: usize) {
        if depth > 8 {
            return; // absurd nesting: stop rather than recurse forever
        }
        let Some(entries) = bundle.get("entry").and_then(Value::as_array) else {
            return;
        };
        for entry in entries {
            let Some(res) = entry.get("resource") else {
                continue;
            };
            let Some(rt) = res.get("resourceType").and_then(Value::as_str) else {
                continue;
            };
            let full_url = entry.get("fullUrl").and_then(Value::as_str);
            match res.get("id").and_then(Value::as_str) {
                Some(id) => self.add(rt, id, full_url, None),
                None => {
                    if let Some(url) = full_url {
                        let id = crate::parse::synthetic_id(res);
                        self.add(rt, &id, Some(url), None);
                    }
                }
            }
            if rt == "Bundle" {
                self.add_nested(res, depth + 1);
            }
        }
    }

    /// The `(resource type, id)` a reference points to, when that resource is
    /// in this feed. `#local` references to `contained` resources give None:
    /// they resolve inside the referring resource, not in the feed.
    pub fn resolve(&self, reference: &str) -> Option<(String, String)> {
        self.target(reference).map(|t| (t.resource_type.clone(), t.id.clone()))
    }

    /// The position in `Feed::resources` of the resource a reference points
    /// to, when it is a top-level resource of this feed.
    pub fn resolve_index(&self, reference: &str) -> Option<usize> {
        self.target(reference).and_then(|t| t.index)
    }

    fn target(&self, reference: &str) -> Option<&Target> {
        let reference = reference.trim();
        if reference.is_empty() || reference.starts_with('#') {
            return None;
        }
        if let Some(t) = self.by_full_url.get(reference) {
            return Some(t);
        }
        if reference.starts_with("urn:") {
            return None; // a urn names one entry's fullUrl; it has no Type/id form
        }
        type_id_tail(reference).and_then(|tail| self.by_type_id.get(tail))
    }
}

/// The `Type/id` at the end of a relative or absolute reference, without any
/// `/_history/n`; None for searches (`Patient?identifier=…`) and oddities.
fn type_id_tail(reference: &str) -> Option<&str> {
    let r = reference.split(['?', '#']).next().unwrap_or(reference).trim_end_matches('/');
    let r = match r.find("/_history/") {
        Some(i) => &r[..i],
        None => r,
    };
    let (head, id) = r.rsplit_once('/')?;
    let rt = head.rsplit('/').next().unwrap_or(head);
    if id.is_empty() || !is_r4_resource_type(rt) {
        return None;
    }
    Some(&r[r.len() - rt.len() - 1 - id.len()..])
}

/// Every `reference` string anywhere in a resource (including `contained`
/// resources and nested Bundles), in document order.
pub fn references(json: &Value) -> Vec<String> {
    let mut out = Vec::new();
    collect_references(json, &mut out);
    out
}

fn collect_references(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(map) => {
            for (k, v) in map {
                match v {
                    Value::String(s) if k == "reference" => out.push(s.clone()),
                    Value::Object(_) | Value::Array(_) => collect_references(v, out),
                    _ => {}
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|i| collect_references(i, out)),
        _ => {}
    }
}

impl RefIndex {
    /// How many `reference` strings in `json` (anywhere in it, as
    /// `references` finds them) point to nothing in this feed; contained
    /// (`#…`) references are not counted. The same count as `unresolved`
    /// gives for that resource, without copying any reference.
    pub fn unresolved_in(&self, json: &Value) -> usize {
        match json {
            Value::Object(map) => map
                .iter()
                .map(|(k, v)| match v {
                    Value::String(s) if k == "reference" => usize::from(!s.starts_with('#') && self.target(s).is_none()),
                    Value::Object(_) | Value::Array(_) => self.unresolved_in(v),
                    _ => 0,
                })
                .sum(),
            Value::Array(items) => items.iter().map(|i| self.unresolved_in(i)).sum(),
            _ => 0,
        }
    }
}

/// References to resources that are not in the feed, as
/// `(resource type, id, reference)` of the referring resource. Contained
/// (`#…`) references are not reported.
pub fn unresolved(feed: &Feed) -> Vec<(String, String, String)> {
    let ix = RefIndex::new(feed);
    let mut out = Vec::new();
    for res in &feed.resources {
        for r in references(&res.json) {
            if r.starts_with('#') || ix.target(&r).is_some() {
                continue;
            }
            out.push((res.resource_type.clone(), res.id.clone(), r));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unresolved_in_counts_what_unresolved_lists() {
        let feed = crate::parse_feed(
            br##"{"resourceType":"Bundle","type":"collection","entry":[
              {"fullUrl":"urn:uuid:1","resource":{"resourceType":"Patient","id":"p"}},
              {"resource":{"resourceType":"Condition","id":"c","subject":{"reference":"urn:uuid:1"},
                "asserter":{"reference":"Practitioner/missing"},"contained":[{"resourceType":"Practitioner","id":"x"}],
                "recorder":{"reference":"#x"},"evidence":[{"detail":[{"reference":"Observation/gone"},{"reference":"Patient/p"}]}]}}]}"##,
            1 << 20,
        )
        .unwrap();
        let ix = RefIndex::new(&feed);
        let per_resource: usize = feed.resources.iter().map(|r| ix.unresolved_in(&r.json)).sum();
        assert_eq!(per_resource, 2);
        assert_eq!(per_resource, unresolved(&feed).len());
    }

    #[test]
    fn tails() {
        assert_eq!(type_id_tail("Patient/123"), Some("Patient/123"));
        assert_eq!(type_id_tail("https://x.nhs.uk/fhir/Patient/123"), Some("Patient/123"));
        assert_eq!(type_id_tail("https://x/fhir/Patient/123/_history/4"), Some("Patient/123"));
        assert_eq!(type_id_tail("Patient?identifier=x"), None);
        assert_eq!(type_id_tail("Nonsense/1"), None);
        assert_eq!(type_id_tail("Patient"), None);
    }
}
