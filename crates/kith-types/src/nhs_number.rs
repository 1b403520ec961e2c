use serde::{Deserialize, Serialize};
use std::fmt;

/// A 10-digit NHS Number whose check digit is valid (modulus 11).
///
/// Stored and compared as ten plain digits; displayed as `999 123 4567`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct NhsNumber(String);

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NhsNumberError {
    #[error("An NHS Number has 10 digits")]
    WrongLength,
    #[error("An NHS Number contains only digits and spaces")]
    NotDigits,
    #[error("This is not a valid NHS Number: the check digit does not match")]
    BadCheckDigit,
}

impl NhsNumber {
    /// Accepts `9991234567`, `999 123 4567` or `999-123-4567`.
    pub fn parse(input: &str) -> Result<Self, NhsNumberError> {
        let digits: String = input.chars().filter(|c| !c.is_whitespace() && *c != '-').collect();
        if !digits.chars().all(|c| c.is_ascii_digit()) {
            return Err(NhsNumberError::NotDigits);
        }
        if digits.len() != 10 {
            return Err(NhsNumberError::WrongLength);
        }
        let d: Vec<u32> = digits.chars().map(|c| c.to_digit(10).unwrap()).collect();
        let sum: u32 = d[..9].iter().enumerate().map(|(i, v)| v * (10 - i as u32)).sum();
        let check = match 11 - (sum % 11) {
            11 => 0,
            10 => return Err(NhsNumberError::BadCheckDigit),
            c => c,
        };
        if check != d[9] {
            return Err(NhsNumberError::BadCheckDigit);
        }
        Ok(Self(digits))
    }

    /// The ten digits, as stored.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `999 123 4567`
    pub fn formatted(&self) -> String {
        format!("{} {} {}", &self.0[..3], &self.0[3..6], &self.0[6..])
    }
}

impl fmt::Display for NhsNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.formatted())
    }
}

impl TryFrom<String> for NhsNumber {
    type Error = NhsNumberError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<NhsNumber> for String {
    fn from(value: NhsNumber) -> Self {
        value.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_valid_numbers_in_any_spacing() {
        for n in ["9434765919", "943 476 5919", "943-476-5919", "9000000009"] {
            assert!(NhsNumber::parse(n).is_ok(), "{n}");
        }
        assert_eq!(NhsNumber::parse("9434765919").unwrap().formatted(), "943 476 5919");
    }

    #[test]
    fn rejects_wrong_check_digit() {
        assert_eq!(NhsNumber::parse("9434765918"), Err(NhsNumberError::BadCheckDigit));
    }

    #[test]
    fn rejects_check_digit_of_ten() {
        // 1000000010: weighted sum 10 -> 11 - 10 = 10, which no NHS Number may have.
        assert_eq!(NhsNumber::parse("1000000010"), Err(NhsNumberError::BadCheckDigit));
    }

    #[test]
    fn rejects_wrong_length_and_letters() {
        assert_eq!(NhsNumber::parse("943476591"), Err(NhsNumberError::WrongLength));
        assert_eq!(NhsNumber::parse("94347659190"), Err(NhsNumberError::WrongLength));
        assert_eq!(NhsNumber::parse("94347A5919"), Err(NhsNumberError::NotDigits));
        assert_eq!(NhsNumber::parse(""), Err(NhsNumberError::WrongLength));
    }

    #[test]
    fn every_single_digit_change_is_caught() {
        // Modulus 11 catches every single-digit substitution.
        let good = "9434765919";
        for pos in 0..10 {
            for digit in '0'..='9' {
                let mut s: Vec<char> = good.chars().collect();
                if s[pos] == digit {
                    continue;
                }
                s[pos] = digit;
                let s: String = s.into_iter().collect();
                assert!(NhsNumber::parse(&s).is_err(), "{s} should fail");
            }
        }
    }

    #[test]
    fn serde_round_trip_validates() {
        let n: NhsNumber = serde_json::from_str("\"9434765919\"").unwrap();
        assert_eq!(n.as_str(), "9434765919");
        assert!(serde_json::from_str::<NhsNumber>("\"9434765918\"").is_err());
    }
}
