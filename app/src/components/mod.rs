pub mod chart;
pub mod filters;
pub mod form;
pub mod idle_warning;
pub mod layout;
pub mod live;
pub mod record;

/// Percent-encodes a query-string value (for "next page" links).
pub fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
