//! How entry text is folded for searching, the same in Rust for SQLite and
//! PostgreSQL (whose `LOWER()` folds only A-Z, or depends on the database's
//! locale): lower case, and accents dropped, so "meniere" finds
//! "Ménière's disease" and "ZOË" finds "Zoë".

use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;

/// `text` as the search compares it. Accents go after lower-casing too
/// ("İ" lower-cases to "i" and a combining dot); letters that are not a base
/// letter and an accent are spelt out as people type them without it.
pub fn fold(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.nfd().flat_map(char::to_lowercase).filter(|c| !is_combining_mark(*c)) {
        match c {
            'ø' => out.push('o'),
            'ł' => out.push('l'),
            'đ' | 'ð' => out.push('d'),
            'ı' => out.push('i'),
            'æ' => out.push_str("ae"),
            'œ' => out.push_str("oe"),
            'ß' => out.push_str("ss"),
            'þ' => out.push_str("th"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::fold;

    #[test]
    fn folds_case_and_accents_beyond_ascii() {
        assert_eq!(fold("Ménière's Disease"), "meniere's disease");
        assert_eq!(fold("SJÖGREN"), "sjogren");
        assert_eq!(fold("ZOË"), "zoe");
        assert_eq!(fold("Guillain–Barré"), "guillain–barre");
        assert_eq!(fold("ΑΣΘΜΑ"), "ασθμα");
        assert_eq!(fold("Sjøgren"), "sjogren");
        assert_eq!(fold("Łódź"), "lodz");
        assert_eq!(fold("İstanbul"), "istanbul");
        assert_eq!(fold("Straße, Æsir"), "strasse, aesir");
        assert_eq!(fold("100% _x_"), "100% _x_", "LIKE's own characters are left for the caller to escape");
    }
}
