//! Validated values that keep the text they were read from: hashes, dates, lengths.

use std::fmt;

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

/// A value read from a feed that either parsed, or did not and is kept verbatim.
///
/// Real feeds carry values that break the IG (`thisHashIsIncorrect`, `length="1,234"` that
/// could not be recovered, `onto:validated="yes"`). Keeping the raw text means a feed with
/// such a value still reads, round-trips and reports the problem, instead of failing or
/// silently dropping it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Checked<T> {
    /// The value parsed.
    Valid(T),
    /// The value did not parse; this is the text as it appeared in the feed.
    Malformed(String),
}

impl<T> Checked<T> {
    /// The parsed value, if it parsed.
    pub fn valid(&self) -> Option<&T> {
        match self {
            Checked::Valid(v) => Some(v),
            Checked::Malformed(_) => None,
        }
    }

    /// Whether the value parsed.
    pub fn is_valid(&self) -> bool {
        matches!(self, Checked::Valid(_))
    }
}

impl<T: Serialize> Serialize for Checked<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Checked::Valid(v) => v.serialize(s),
            Checked::Malformed(raw) => raw.serialize(s),
        }
    }
}

/// A value a [`Checked`] can hold: read back from its serialized form, where a text that
/// does not parse is the malformed text itself.
pub trait CheckedValue: Sized + private::Sealed {
    /// The value of a text, when it parses.
    fn from_text(raw: &str) -> Option<Self>;
    /// The value of a number, when this type holds numbers.
    fn from_number(_n: u64) -> Option<Self> {
        None
    }
    /// The value of a boolean, when this type holds booleans.
    fn from_bool(_b: bool) -> Option<Self> {
        None
    }
}

mod private {
    pub trait Sealed {}
    impl Sealed for u64 {}
    impl Sealed for bool {}
    impl Sealed for super::Sha256 {}
    impl Sealed for super::Md5 {}
    impl Sealed for super::AtomDate {}
}

impl CheckedValue for u64 {
    fn from_text(raw: &str) -> Option<Self> {
        raw.parse().ok()
    }
    fn from_number(n: u64) -> Option<Self> {
        Some(n)
    }
}

impl CheckedValue for bool {
    fn from_text(raw: &str) -> Option<Self> {
        parse_bool(raw)
    }
    fn from_bool(b: bool) -> Option<Self> {
        Some(b)
    }
}

impl CheckedValue for Sha256 {
    fn from_text(raw: &str) -> Option<Self> {
        Sha256::parse(raw).ok()
    }
}

impl CheckedValue for Md5 {
    fn from_text(raw: &str) -> Option<Self> {
        Md5::parse(raw).ok()
    }
}

impl CheckedValue for AtomDate {
    fn from_text(raw: &str) -> Option<Self> {
        AtomDate::parse(raw).ok()
    }
}

impl<'de, T: CheckedValue> Deserialize<'de> for Checked<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct CheckedVisitor<T>(std::marker::PhantomData<T>);

        impl<T: CheckedValue> Visitor<'_> for CheckedVisitor<T> {
            type Value = Checked<T>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a value as read from a feed, or its text")
            }

            fn visit_str<E: de::Error>(self, s: &str) -> Result<Self::Value, E> {
                Ok(
                    T::from_text(s)
                        .map_or_else(|| Checked::Malformed(s.to_owned()), Checked::Valid),
                )
            }

            fn visit_u64<E: de::Error>(self, n: u64) -> Result<Self::Value, E> {
                T::from_number(n)
                    .map(Checked::Valid)
                    .ok_or_else(|| E::invalid_type(de::Unexpected::Unsigned(n), &self))
            }

            fn visit_bool<E: de::Error>(self, b: bool) -> Result<Self::Value, E> {
                T::from_bool(b)
                    .map(Checked::Valid)
                    .ok_or_else(|| E::invalid_type(de::Unexpected::Bool(b), &self))
            }
        }

        d.deserialize_any(CheckedVisitor(std::marker::PhantomData))
    }
}

/// Why a hash attribute was rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum HashProblem {
    /// The value does not have the number of hex digits the algorithm needs.
    WrongLength {
        /// Hex digits the algorithm needs.
        expected: usize,
        /// Characters found.
        found: usize,
    },
    /// The value contains a character that is not a hex digit.
    NotHex,
}

impl fmt::Display for HashProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HashProblem::WrongLength { expected, found } => {
                write!(
                    f,
                    "expected {expected} hex digits, found {found} characters"
                )
            }
            HashProblem::NotHex => f.write_str("contains characters that are not hex digits"),
        }
    }
}

fn check_hex(raw: &str, expected: usize) -> Result<(), HashProblem> {
    // Every byte is looked at, with no early exit, so the compiler checks many at once: each
    // link of a feed has a hash (4% of the full read with the exiting loop).
    let hex = raw.bytes().fold(true, |ok, b| ok & b.is_ascii_hexdigit());
    if !hex {
        return Err(HashProblem::NotHex);
    }
    if raw.len() != expected {
        return Err(HashProblem::WrongLength {
            expected,
            found: raw.chars().count(),
        });
    }
    Ok(())
}

fn decode_hex<const N: usize>(raw: &str) -> [u8; N] {
    let mut out = [0u8; N];
    let bytes = raw.as_bytes();
    for (i, byte) in out.iter_mut().enumerate() {
        // Construction checked that `raw` holds exactly 2N hex digits.
        *byte = (hex_val(bytes[2 * i]) << 4) | hex_val(bytes[2 * i + 1]);
    }
    out
}

fn hex_val(b: u8) -> u8 {
    match b {
        b'0'..=b'9' => b - b'0',
        b'a'..=b'f' => b - b'a' + 10,
        b'A'..=b'F' => b - b'A' + 10,
        _ => 0,
    }
}

macro_rules! hash_type {
    ($(#[$doc:meta])* $name:ident, $digits:expr, $bytes:expr) => {
        $(#[$doc])*
        // The digits live inline: a link's hash costs no allocation of its own.
        #[derive(Clone, PartialEq, Eq, Hash)]
        pub struct $name {
            raw: [u8; $digits],
        }

        impl $name {
            /// Hex digits in a well-formed value.
            pub const HEX_DIGITS: usize = $digits;

            /// The lower-case hex form of a digest computed over some bytes.
            pub fn from_digest(digest: [u8; $bytes]) -> Self {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                let mut raw = [0u8; $digits];
                for (i, b) in digest.iter().enumerate() {
                    raw[2 * i] = HEX[usize::from(b >> 4)];
                    raw[2 * i + 1] = HEX[usize::from(b & 0xf)];
                }
                Self { raw }
            }

            /// Parses a hex digest. Upper-case digits are accepted (the text is kept as
            /// written); [`is_canonical`](Self::is_canonical) tells whether it is the
            /// lower-case form the IG requires.
            ///
            /// # Errors
            /// When the text is not exactly the right number of hex digits.
            pub fn parse(raw: &str) -> Result<Self, HashProblem> {
                check_hex(raw, $digits)?;
                let mut digits = [0u8; $digits];
                digits.copy_from_slice(raw.as_bytes());
                Ok(Self { raw: digits })
            }

            /// The digest as written in the feed.
            pub fn as_str(&self) -> &str {
                // `parse` admitted only ASCII hex digits, so this never falls back.
                std::str::from_utf8(&self.raw).unwrap_or_default()
            }

            /// Whether the digest is written in lower case, as the IG requires.
            pub fn is_canonical(&self) -> bool {
                !self.raw.iter().any(|b| b.is_ascii_uppercase())
            }

            /// The digest's bytes.
            pub fn to_bytes(&self) -> [u8; $bytes] {
                decode_hex::<$bytes>(self.as_str())
            }

            /// Whether `digest` (raw bytes, as computed over a download) equals this value.
            pub fn matches(&self, digest: &[u8]) -> bool {
                digest == self.to_bytes().as_slice()
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.as_str())
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = HashProblem;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let raw = String::deserialize(d)?;
                Self::parse(&raw).map_err(de::Error::custom)
            }
        }
    };
}

hash_type!(
    /// A SHA-256 digest from `ncts:sha256Hash`: 64 hex digits over the raw bytes at the link's
    /// `href`. Authoritative when a link also carries an MD5.
    Sha256,
    64,
    32
);
hash_type!(
    /// An MD5 digest from `sct:md5Hash`: 32 hex digits. Legacy (MLDS); SHA-256 wins when both
    /// are present.
    Md5,
    32,
    16
);

/// What kind of date-time an Atom date turned out to be.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DateValue {
    /// An RFC 3339 date-time with an offset, as RFC 4287 requires.
    Instant(DateTime<FixedOffset>),
    /// A date and time without an offset (`2023-10-10T00:01:00`, SNOMED example feeds).
    Floating(NaiveDateTime),
    /// A date without a time (`2019-06-29`, Ontoserver preload samples).
    DateOnly(NaiveDate),
}

/// Why a date was rejected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DateProblem {
    raw: String,
}

impl fmt::Display for DateProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "'{}' is not an RFC 3339 date-time, a date-time without offset, or a date",
            self.raw
        )
    }
}

impl std::error::Error for DateProblem {}

/// An Atom date construct (`updated`, `published`), kept with the text it was read from.
///
/// Real feeds write dates without an offset or without a time; those parse as
/// [`DateValue::Floating`] and [`DateValue::DateOnly`], which compare as if they were UTC
/// (see [`AtomDate::to_utc`]).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct AtomDate {
    raw: String,
    value: DateValue,
}

impl AtomDate {
    /// Parses an RFC 3339 date-time, or the two deviations seen in real feeds.
    ///
    /// # Errors
    /// When the text is none of the three forms.
    pub fn parse(raw: &str) -> Result<Self, DateProblem> {
        let text = raw.trim();
        let value = if let Ok(dt) = DateTime::parse_from_rfc3339(text) {
            DateValue::Instant(dt)
        } else if let Ok(dt) = NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f") {
            DateValue::Floating(dt)
        } else if let Ok(d) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
            DateValue::DateOnly(d)
        } else {
            return Err(DateProblem {
                raw: raw.to_owned(),
            });
        };
        Ok(Self {
            raw: raw.to_owned(),
            value,
        })
    }

    /// A date for an instant, written in RFC 3339 with `Z` for UTC.
    pub fn from_instant(instant: DateTime<FixedOffset>) -> Self {
        let raw = if instant.offset().local_minus_utc() == 0 {
            instant
                .to_utc()
                .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
        } else {
            instant.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, false)
        };
        Self {
            raw,
            value: DateValue::Instant(instant),
        }
    }

    /// The text as written in the feed.
    pub fn as_str(&self) -> &str {
        &self.raw
    }

    /// What kind of date this is.
    pub fn value(&self) -> DateValue {
        self.value
    }

    /// The instant, if the date carried an offset.
    pub fn instant(&self) -> Option<DateTime<FixedOffset>> {
        match self.value {
            DateValue::Instant(dt) => Some(dt),
            _ => None,
        }
    }

    /// The date as a UTC instant, reading a missing offset as UTC and a missing time as
    /// midnight; used to order entries that carry such dates.
    pub fn to_utc(&self) -> DateTime<Utc> {
        match self.value {
            DateValue::Instant(dt) => dt.to_utc(),
            DateValue::Floating(dt) => Utc.from_utc_datetime(&dt),
            DateValue::DateOnly(d) => Utc.from_utc_datetime(&d.and_time(NaiveTime::MIN)),
        }
    }
}

impl fmt::Display for AtomDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.raw)
    }
}

impl Serialize for AtomDate {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.raw)
    }
}

impl<'de> Deserialize<'de> for AtomDate {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        AtomDate::parse(&raw).map_err(de::Error::custom)
    }
}

/// How a `length` attribute was read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LengthRead {
    /// Plain digits.
    Plain(u64),
    /// Digits grouped with thousands separators (historical MLDS), recovered.
    Separated(u64),
}

/// Parses a `length` attribute, recovering thousands separators (`1,234,567`).
pub(crate) fn parse_length(raw: &str) -> Option<LengthRead> {
    let text = raw.trim();
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return text.parse().ok().map(LengthRead::Plain);
    }
    // Accept only well-formed grouping: 1-3 leading digits, then groups of exactly three.
    let mut groups = text.split(',');
    let first = groups.next()?;
    if first.is_empty() || first.len() > 3 || !first.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut digits = String::with_capacity(text.len());
    digits.push_str(first);
    let mut grouped = false;
    for g in groups {
        if g.len() != 3 || !g.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        digits.push_str(g);
        grouped = true;
    }
    if !grouped {
        return None;
    }
    digits.parse().ok().map(LengthRead::Separated)
}

/// Parses an `xs:boolean` (`true`, `false`, `1`, `0`).
pub(crate) fn parse_bool(raw: &str) -> Option<bool> {
    match raw.trim() {
        "true" | "1" => Some(true),
        "false" | "0" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_keeps_text_and_decodes() {
        let h = Sha256::parse("8130cc90b38e8608380dd80e3b94740584270da5ae79f58d1a5281ac80809095")
            .expect("64 lower-case hex digits are a valid SHA-256");
        assert_eq!(h.to_bytes()[0], 0x81);
        assert!(h.is_canonical());
        assert!(h.matches(&h.to_bytes()));
    }

    #[test]
    fn a_digest_is_written_in_lower_case_hex() {
        let h = Sha256::from_digest([0xab; 32]);
        assert_eq!(h.as_str(), "ab".repeat(32));
        assert!(h.is_canonical());
        assert_eq!(h.to_bytes(), [0xab; 32]);
        assert_eq!(Md5::from_digest([0x0f; 16]).as_str(), "0f".repeat(16));
    }

    #[test]
    fn sha256_rejects_md5_length_and_junk() {
        assert_eq!(
            Sha256::parse("0290ad7f6e431063166afd91cd2b8c37"),
            Err(HashProblem::WrongLength {
                expected: 64,
                found: 32
            })
        );
        assert_eq!(
            Sha256::parse("thisHashIsIncorrect"),
            Err(HashProblem::NotHex)
        );
        assert_eq!(Md5::parse("9c9b…"), Err(HashProblem::NotHex));
    }

    #[test]
    fn upper_case_digest_is_valid_but_not_canonical() {
        let h = Md5::parse("0290AD7F6E431063166AFD91CD2B8C37").expect("hex of either case parses");
        assert!(!h.is_canonical());
        assert_eq!(h.as_str(), "0290AD7F6E431063166AFD91CD2B8C37");
    }

    #[test]
    fn dates_in_three_forms() {
        let d = AtomDate::parse("2023-09-20T14:02:22Z").expect("RFC 3339");
        assert!(matches!(d.value(), DateValue::Instant(_)));
        let d = AtomDate::parse("2023-10-10T00:01:00").expect("no offset");
        assert!(matches!(d.value(), DateValue::Floating(_)));
        assert_eq!(d.to_utc().to_rfc3339(), "2023-10-10T00:01:00+00:00");
        let d = AtomDate::parse("2019-06-29").expect("date only");
        assert!(matches!(d.value(), DateValue::DateOnly(_)));
        assert!(AtomDate::parse("29/06/2019").is_err());
    }

    #[test]
    fn a_date_keeps_its_text() {
        for raw in [
            "2019-06-29",
            "2026-08-01T00:25:01.123456789Z",
            "2026-08-01T00:25:01.123456789+10:00",
            " 2026-08-01T00:25:01Z\n",
        ] {
            let d = AtomDate::parse(raw).expect("parses");
            assert_eq!(d.as_str(), raw);
            assert_eq!(d, AtomDate::parse(raw).expect("parses"));
        }
    }

    // What a checked value serializes to reads back as the same value, valid or not.
    #[test]
    fn checked_values_round_trip_through_json() {
        let values: Vec<Checked<u64>> = vec![Checked::Valid(7), Checked::Malformed("1,2".into())];
        let json = serde_json::to_string(&values).expect("serializes");
        assert_eq!(json, r#"[7,"1,2"]"#);
        assert_eq!(
            serde_json::from_str::<Vec<Checked<u64>>>(&json).ok(),
            Some(values)
        );
        let hashes = vec![
            Checked::Valid(Sha256::parse(&"ab".repeat(32)).expect("hex")),
            Checked::Malformed("thisHashIsIncorrect".into()),
        ];
        let json = serde_json::to_string(&hashes).expect("serializes");
        assert_eq!(
            serde_json::from_str::<Vec<Checked<Sha256>>>(&json).ok(),
            Some(hashes)
        );
        let flags = vec![Checked::Valid(true), Checked::Malformed("yes".into())];
        let json = serde_json::to_string(&flags).expect("serializes");
        assert_eq!(
            serde_json::from_str::<Vec<Checked<bool>>>(&json).ok(),
            Some(flags)
        );
        let date = Checked::Valid(AtomDate::parse("2019-06-29").expect("date"));
        let json = serde_json::to_string(&date).expect("serializes");
        assert_eq!(
            serde_json::from_str::<Checked<AtomDate>>(&json).ok(),
            Some(date)
        );
        assert!(serde_json::from_str::<Checked<Sha256>>("12").is_err());
    }

    #[test]
    fn lengths_with_separators_recover() {
        assert_eq!(
            parse_length("533422481"),
            Some(LengthRead::Plain(533_422_481))
        );
        assert_eq!(
            parse_length("1,823,821,786"),
            Some(LengthRead::Separated(1_823_821_786))
        );
        assert_eq!(parse_length("1,82,3"), None);
        assert_eq!(parse_length("-1"), None);
        assert_eq!(parse_length(""), None);
        assert_eq!(parse_length("12,"), None);
    }
}
