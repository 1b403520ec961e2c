//! How entry text is folded for searching, the same in Rust for SQLite and
//! PostgreSQL (whose `LOWER()` folds only A-Z, or depends on the database's
//! locale): lower case, and accents dropped, so "meniere" finds
//! "Ménière's disease" and "ZOË" finds "Zoë".

use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;

/// `text` as the search compares it.
pub fn fold(text: &str) -> String {
    text.nfd().filter(|c| !is_combining_mark(*c)).flat_map(char::to_lowercase).collect()
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
        assert_eq!(fold("100% _x_"), "100% _x_", "LIKE's own characters are left for the caller to escape");
    }
}
