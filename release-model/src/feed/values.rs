//! Validated values that keep the text they were read from: hashes, dates, lengths.

use std::fmt;

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use serde::{Serialize, Serializer};

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
    // link of a feed has a hash, and the exiting loop was about 4% of the full read.
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

/// Bytes of text kept inline: every date form a feed writes fits.
const INLINE_TEXT: usize = 30;

/// Text kept inline when it is short, boxed otherwise: each entry has two dates, and an
/// allocation for each was a sixth of the full read's allocations.
#[derive(Clone, PartialEq, Eq, Hash)]
enum ShortText {
    Inline { len: u8, bytes: [u8; INLINE_TEXT] },
    Boxed(Box<str>),
}

impl ShortText {
    fn new(s: &str) -> Self {
        match u8::try_from(s.len()) {
            Ok(len) if s.len() <= INLINE_TEXT => {
                let mut bytes = [0; INLINE_TEXT];
                bytes[..s.len()].copy_from_slice(s.as_bytes());
                ShortText::Inline { len, bytes }
            }
            _ => ShortText::Boxed(s.into()),
        }
    }

    fn as_str(&self) -> &str {
        match self {
            // Copied from a `str` whole, so this never falls back.
            ShortText::Inline { len, bytes } => {
                std::str::from_utf8(&bytes[..usize::from(*len)]).unwrap_or_default()
            }
            ShortText::Boxed(s) => s,
        }
    }
}

impl fmt::Debug for ShortText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

/// An Atom date construct (`updated`, `published`), kept with the text it was read from.
///
/// Real feeds write dates without an offset or without a time; those parse as
/// [`DateValue::Floating`] and [`DateValue::DateOnly`], which compare as if they were UTC
/// (see [`AtomDate::to_utc`]).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct AtomDate {
    raw: ShortText,
    value: DateValue,
}

impl AtomDate {
    /// Parses an RFC 3339 date-time, or the two deviations seen in real feeds.
    ///
    /// # Errors
    /// When the text is none of the three forms.
    pub fn parse(raw: &str) -> Result<Self, DateProblem> {
        let text = raw.trim();
        let value = if let Some(dt) = canonical_instant(text) {
            DateValue::Instant(dt)
        } else if let Ok(dt) = DateTime::parse_from_rfc3339(text) {
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
            raw: ShortText::new(raw),
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
            raw: ShortText::new(&raw),
            value: DateValue::Instant(instant),
        }
    }

    /// The text as written in the feed.
    pub fn as_str(&self) -> &str {
        self.raw.as_str()
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
        f.write_str(self.raw.as_str())
    }
}

impl Serialize for AtomDate {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.raw.as_str())
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

/// The instant of an RFC 3339 date-time in the form feeds write,
/// `YYYY-MM-DDTHH:MM:SS` then `Z` or `±HH:MM`, read digit by digit; `None` for any other
/// form, or a value out of range, which chrono's general parser then reads (or rejects). Every
/// entry has two dates, and the general parser was a twentieth of the full read (measured).
fn canonical_instant(text: &str) -> Option<DateTime<FixedOffset>> {
    let b = text.as_bytes();
    let digits = |at: usize, n: usize| -> Option<u32> {
        b.get(at..at + n)?.iter().try_fold(0, |v, &c| {
            c.is_ascii_digit().then(|| v * 10 + u32::from(c - b'0'))
        })
    };
    let at = |i: usize, c: u8| b.get(i) == Some(&c);
    if !(at(4, b'-') && at(7, b'-') && at(10, b'T') && at(13, b':') && at(16, b':')) {
        return None;
    }
    let offset = match (b.len(), b.get(19)) {
        (20, Some(b'Z')) => 0,
        (25, Some(&sign @ (b'+' | b'-'))) if at(22, b':') => {
            let (hours, minutes) = (digits(20, 2)?, digits(23, 2)?);
            if hours > 23 || minutes > 59 {
                return None;
            }
            let seconds = i32::try_from(hours * 3600 + minutes * 60).ok()?;
            if sign == b'-' { -seconds } else { seconds }
        }
        _ => return None,
    };
    let year = i32::try_from(digits(0, 4)?).ok()?;
    let date = NaiveDate::from_ymd_opt(year, digits(5, 2)?, digits(8, 2)?)?;
    // A leap second (`:60`) is left to the general parser.
    let time = NaiveTime::from_hms_opt(digits(11, 2)?, digits(14, 2)?, digits(17, 2)?)?;
    let local = date.and_time(time);
    let zone = FixedOffset::east_opt(offset)?;
    if offset == 0 {
        // UTC, nearly every feed's zone: the local time is the instant.
        return Some(DateTime::from_naive_utc_and_offset(local, zone));
    }
    zone.from_local_datetime(&local).single()
}

#[cfg(test)]
mod tests {
    use super::*;

    // The digit-by-digit reading of the usual form gives exactly what chrono gives, instant
    // and offset, wherever it gives anything; and it does give the usual forms.
    #[test]
    fn canonical_dates_read_as_chrono_reads_them() {
        let mut read = 0;
        for year in ["0000", "1970", "2024", "9999"] {
            for month in ["00", "01", "02", "12", "13"] {
                for day in ["00", "01", "28", "29", "30", "31", "32"] {
                    for hour in ["00", "23", "24"] {
                        for minute in ["00", "59", "60"] {
                            for second in ["00", "59", "60", "6x"] {
                                for offset in [
                                    "Z", "z", "+00:00", "-00:00", "+10:00", "-23:59", "+24:00",
                                    "+10:60", "+1000", " Z", "Z ",
                                ] {
                                    let text = format!(
                                        "{year}-{month}-{day}T{hour}:{minute}:{second}{offset}"
                                    );
                                    let chrono = DateTime::parse_from_rfc3339(&text);
                                    match canonical_instant(&text) {
                                        Some(dt) => {
                                            let c = chrono.unwrap_or_else(|e| {
                                                panic!("{text}: chrono rejects it: {e}")
                                            });
                                            assert_eq!(dt, c, "{text}");
                                            assert_eq!(dt.offset(), c.offset(), "{text}");
                                            read += 1;
                                        }
                                        None => {
                                            let usual = offset == "Z" || offset.len() == 6;
                                            assert!(
                                                chrono.is_err() || !usual || second == "60",
                                                "{text} is the usual form, left to chrono"
                                            );
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        assert!(read > 1000, "only {read} read digit by digit");
        assert!(canonical_instant("2026-08-01T00:25:01.5Z").is_none());
        assert!(canonical_instant("2026-08-01").is_none());
        assert!(canonical_instant("２０２６-08-01T00:25:01Z").is_none());
    }

    #[test]
    fn sha256_keeps_text_and_decodes() {
        let h = Sha256::parse("8130cc90b38e8608380dd80e3b94740584270da5ae79f58d1a5281ac80809095")
            .expect("64 lower-case hex digits are a valid SHA-256");
        assert_eq!(h.to_bytes()[0], 0x81);
        assert!(h.is_canonical());
        assert!(h.matches(&h.to_bytes()));
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
    fn a_date_keeps_its_text_inline_or_boxed() {
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
        assert!(matches!(
            ShortText::new(&"x".repeat(31)),
            ShortText::Boxed(_)
        ));
        assert!(matches!(
            ShortText::new(&"x".repeat(30)),
            ShortText::Inline { len: 30, .. }
        ));
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
