//! Which organisation a feed comes from, to label every fact it brings.

use serde_json::Value;

use crate::parse::Feed;
use crate::refs::RefIndex;

/// The ODS code system: the NHS's own organisation identifier, preferred.
const ODS_SYSTEM: &str = "https://fhir.nhs.uk/Id/ods-organization-code";

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceOrg {
    pub name: String,
    /// The ODS code when the Organization has one, else its first identifier
    /// value; for a source found from `meta.source`, that URL.
    pub identifier: Option<String>,
}

/// Fields whose Organization reference says "this organisation did it".
const ACTOR_FIELDS: &[&str] = &["performer", "recorder", "custodian", "serviceProvider"];

/// The feed's organisation: its only Organization; else, of several, the one
/// most referenced as performer/recorder/custodian/serviceProvider (ties go to
/// the first in the file); else the feed's (or its resources') `meta.source`.
pub fn source_organisation(feed: &Feed) -> Option<SourceOrg> {
    let orgs: Vec<usize> = feed.resources.iter().filter(|r| r.resource_type == "Organization" && org_name(&r.json).is_some()).map(|r| r.index).collect();
    let chosen = match orgs.as_slice() {
        [] => None,
        [only] => Some(*only),
        _ => {
            let ix = RefIndex::new(feed);
            let mut counts = vec![0usize; feed.resources.len()];
            for res in &feed.resources {
                for r in actor_references(&res.json) {
                    if let Some(i) = ix.resolve_index(r) {
                        counts[i] += 1;
                    }
                }
            }
            // max_by_key keeps the last maximum; reverse so ties go to the first.
            orgs.iter().rev().copied().max_by_key(|&i| counts[i])
        }
    };
    if let Some(org) = chosen.and_then(|i| feed.resources.get(i)) {
        if let Some(name) = org_name(&org.json) {
            return Some(SourceOrg { name, identifier: org_identifier(&org.json) });
        }
    }
    let url = feed.source.clone().or_else(|| most_common_meta_source(feed))?;
    Some(SourceOrg { name: host_of(&url).to_string(), identifier: Some(url) })
}

fn org_name(org: &Value) -> Option<String> {
    org.get("name")
        .and_then(Value::as_str)
        .or_else(|| org.get("alias")?.as_array()?.first()?.as_str())
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(str::to_string)
}

fn org_identifier(org: &Value) -> Option<String> {
    let ids = org.get("identifier")?.as_array()?;
    let value = |i: &Value| i.get("value").and_then(Value::as_str).map(str::to_string);
    ids.iter().find(|i| i.get("system").and_then(Value::as_str) == Some(ODS_SYSTEM)).and_then(value).or_else(|| ids.iter().find_map(value))
}

/// Reference strings under the actor fields, top level of the resource only.
/// Handles `Reference`, lists of them, and `performer[].actor` (Procedure,
/// Immunization).
fn actor_references(res: &Value) -> Vec<&str> {
    let mut out = Vec::new();
    for field in ACTOR_FIELDS {
        let Some(v) = res.get(*field) else { continue };
        let items: Vec<&Value> = match v {
            Value::Array(a) => a.iter().collect(),
            other => vec![other],
        };
        for item in items {
            let r = item.get("reference").or_else(|| item.get("actor").and_then(|a| a.get("reference"))).and_then(Value::as_str);
            out.extend(r);
        }
    }
    out
}

fn most_common_meta_source(feed: &Feed) -> Option<String> {
    let mut counts: Vec<(&str, usize)> = Vec::new();
    for res in &feed.resources {
        let Some(src) = res.json.get("meta").and_then(|m| m.get("source")).and_then(Value::as_str) else {
            continue;
        };
        match counts.iter_mut().find(|(s, _)| *s == src) {
            Some((_, n)) => *n += 1,
            None => counts.push((src, 1)),
        }
    }
    counts.iter().rev().max_by_key(|(_, n)| *n).map(|(s, _)| s.to_string())
}

/// `https://x.example.nhs.uk/fhir` → `x.example.nhs.uk`; anything else as is.
fn host_of(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let host = rest.split(['/', '?', '#']).next().unwrap_or(rest);
    let host = host.rsplit('@').next().unwrap_or(host); // drop user:pass@
    if host.is_empty() {
        url
    } else {
        host
    }
}
