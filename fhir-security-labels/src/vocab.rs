//! The label vocabularies: HL7 confidentiality, sensitivity, purpose of use and handling
//! caveats, and the terminology-server permission labels.
//!
//! Each vocabulary keeps an `Other` variant so codes this crate does not list still
//! round-trip.

use std::cmp::Ordering;
use std::fmt;

use crate::error::Error;
use crate::label::SecurityLabel;

/// The HL7 v3 Confidentiality code system (R4 onwards).
pub const CONFIDENTIALITY_SYSTEM: &str = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality";
/// The DSTU2/STU3 URL of the same code system, accepted when reading old content.
pub const CONFIDENTIALITY_SYSTEM_LEGACY: &str = "http://hl7.org/fhir/v3/Confidentiality";
/// HL7 v3 ActCode: sensitivity and handling-caveat codes.
pub const ACT_CODE_SYSTEM: &str = "http://terminology.hl7.org/CodeSystem/v3-ActCode";
/// HL7 v3 ActReason: purpose-of-use codes.
pub const ACT_REASON_SYSTEM: &str = "http://terminology.hl7.org/CodeSystem/v3-ActReason";
/// The terminology server's permission labels (`{category}.read`, `{category}.write`, `*.read`).
pub const PERMISSION_SYSTEM: &str = "http://ontoserver.csiro.au/CodeSystem/ontoserver-permissions";

macro_rules! vocabulary {
    ($(#[$doc:meta])* $name:ident { $( $(#[$vdoc:meta])* $variant:ident = $code:literal ),* $(,)? }) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum $name {
            $( $(#[$vdoc])* $variant, )*
            /// A code this crate does not list, kept as read.
            Other(String),
        }

        impl $name {
            /// Parses a code; unknown codes become `Other`.
            pub fn from_code(code: &str) -> Self {
                match code {
                    $( $code => Self::$variant, )*
                    other => Self::Other(other.to_owned()),
                }
            }

            /// The code.
            pub fn code(&self) -> &str {
                match self {
                    $( Self::$variant => $code, )*
                    Self::Other(c) => c,
                }
            }

            /// Whether the code is one this crate lists.
            pub fn is_known(&self) -> bool {
                !matches!(self, Self::Other(_))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.code())
            }
        }
    };
}

vocabulary!(
    /// HL7 v3 Confidentiality, ordered from least to most restrictive (U < L < M < N < R < V).
    /// A resource carries at most one.
    Confidentiality {
        /// unrestricted
        Unrestricted = "U",
        /// low
        Low = "L",
        /// moderate
        Moderate = "M",
        /// normal
        Normal = "N",
        /// restricted
        Restricted = "R",
        /// very restricted
        VeryRestricted = "V",
    }
);

impl Confidentiality {
    /// Position on the scale (0 = unrestricted), for listed codes.
    pub fn rank(&self) -> Option<u8> {
        Some(match self {
            Self::Unrestricted => 0,
            Self::Low => 1,
            Self::Moderate => 2,
            Self::Normal => 3,
            Self::Restricted => 4,
            Self::VeryRestricted => 5,
            Self::Other(_) => return None,
        })
    }

    /// The label, in the current system.
    pub fn label(&self) -> SecurityLabel {
        SecurityLabel::new(CONFIDENTIALITY_SYSTEM, self.code())
    }
}

impl PartialOrd for Confidentiality {
    /// Listed codes compare by restrictiveness; an unlisted code compares with nothing but
    /// itself.
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        match (self.rank(), other.rank()) {
            (Some(a), Some(b)) => Some(a.cmp(&b)),
            _ if self == other => Some(Ordering::Equal),
            _ => None,
        }
    }
}

vocabulary!(
    /// Information sensitivity (ActCode).
    Sensitivity {
        /// substance abuse information sensitivity
        Eth = "ETH",
        /// genetic disease information sensitivity
        Gdis = "GDIS",
        /// HIV/AIDS information sensitivity
        Hiv = "HIV",
        /// psychiatry (disorder) information sensitivity
        Psy = "PSY",
        /// sickle cell anemia information sensitivity
        Sca = "SCA",
        /// sexual assault, abuse, or domestic violence information sensitivity
        Sdv = "SDV",
        /// sexuality and reproductive health information sensitivity
        Sex = "SEX",
        /// sexually transmitted disease information sensitivity
        Std = "STD",
        /// taboo
        Tboo = "TBOO",
    }
);

vocabulary!(
    /// Purpose of use (ActReason).
    PurposeOfUse {
        /// treatment
        Treat = "TREAT",
        /// emergency treatment
        Etreat = "ETREAT",
        /// healthcare payment
        Hpaymt = "HPAYMT",
        /// healthcare operations
        Hoperat = "HOPERAT",
        /// healthcare research
        Hresch = "HRESCH",
        /// public health
        Pubhlth = "PUBHLTH",
        /// coverage under policy or program
        Coverage = "COVERAGE",
    }
);

vocabulary!(
    /// Handling caveats (ActCode obligation and refrain policies). Only codes confirmed
    /// against the spec's sources are listed; the rest read as `Other`.
    HandlingCaveat {
        /// anonymize
        Anony = "ANONY",
        /// accounting of disclosure
        Aod = "AOD",
        /// audit
        Audit = "AUDIT",
        /// audit trail
        Audtr = "AUDTR",
        /// comply with confidentiality code
        Cplycc = "CPLYCC",
        /// comply with consent directive
        Cplycd = "CPLYCD",
        /// comply with jurisdictional privacy policy
        Cplyjpp = "CPLYJPP",
        /// comply with organizational privacy policy
        Cplyopp = "CPLYOPP",
        /// comply with organizational security policy
        Cplyosp = "CPLYOSP",
        /// de-identify
        Deid = "DEID",
        /// encrypt
        Encrypt = "ENCRYPT",
        /// encrypt at rest
        Encryptr = "ENCRYPTR",
        /// encrypt in transit
        Encryptt = "ENCRYPTT",
        /// encrypt in use
        Encryptu = "ENCRYPTU",
        /// no authorization
        Noauth = "NOAUTH",
        /// no collection
        Nocollect = "NOCOLLECT",
        /// no disclosure without consent directive
        Nodsclcd = "NODSCLCD",
        /// no disclosure without information subject's consent directive
        Nodsclcds = "NODSCLCDS",
        /// no integration
        Nointegrate = "NOINTEGRATE",
        /// no unlisted entity disclosure
        Nolist = "NOLIST",
        /// no disclosure without memorandum of understanding
        Nomou = "NOMOU",
        /// no disclosure without organizational authorization
        Noorgpol = "NOORGPOL",
        /// no disclosure to patient, family or caregivers without attending provider's authorization
        Nopat = "NOPAT",
    }
);

/// Whether a permission label grants read or write.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Access {
    /// `.read`
    Read,
    /// `.write`
    Write,
}

/// The category a permission label applies to.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Category {
    /// A named category (a community or cohort): `restricted`, `NATIONAL`, `snomed`.
    Named(String),
    /// `*`: any caller with FHIR read (`*.read` is global read).
    Any,
}

impl Category {
    /// The category as written in the code.
    pub fn as_str(&self) -> &str {
        match self {
            Category::Named(n) => n,
            Category::Any => "*",
        }
    }

    /// The authority name part for this category (`PERM_{CATEGORY}_READ`). Categories are
    /// matched without regard to case, as the demo realm's upper-case role names suggest
    /// (not confirmed against a server).
    pub fn authority_part(&self) -> String {
        self.as_str().to_ascii_uppercase()
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A terminology-server permission label: `{category}.read`, `{category}.write` or `*.read`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Permission {
    /// The category.
    pub category: Category,
    /// Read or write.
    pub access: Access,
}

impl Permission {
    /// `{category}.read`.
    ///
    /// # Errors
    /// When the category is empty or contains `.` or white space.
    pub fn read(category: &str) -> Result<Self, Error> {
        Self::parse(&format!("{category}.read"))
    }

    /// `{category}.write`.
    ///
    /// # Errors
    /// As [`Permission::read`].
    pub fn write(category: &str) -> Result<Self, Error> {
        Self::parse(&format!("{category}.write"))
    }

    /// `*.read`: readable by anyone with FHIR read (anonymously, where the server grants
    /// anonymous FHIR read).
    pub fn global_read() -> Self {
        Self {
            category: Category::Any,
            access: Access::Read,
        }
    }

    /// Parses a permission code.
    ///
    /// # Errors
    /// [`Error::MalformedCode`] when the code is not `{category}.read|write`.
    pub fn parse(code: &str) -> Result<Self, Error> {
        let malformed = |reason| Error::MalformedCode {
            code: code.to_owned(),
            reason,
        };
        let (category, access) = code
            .rsplit_once('.')
            .ok_or_else(|| malformed("expected {category}.read or {category}.write"))?;
        let access = match access {
            "read" => Access::Read,
            "write" => Access::Write,
            _ => return Err(malformed("the suffix must be .read or .write")),
        };
        let category = match category {
            "" => return Err(malformed("the category is empty")),
            "*" => Category::Any,
            c if c.contains('.') || c.contains('*') || c.chars().any(char::is_whitespace) => {
                return Err(malformed(
                    "the category may not contain '.', '*' or white space",
                ));
            }
            c => Category::Named(c.to_owned()),
        };
        Ok(Self { category, access })
    }

    /// Reads a permission from a label.
    ///
    /// # Errors
    /// [`Error::WrongSystem`] when the label is not in [`PERMISSION_SYSTEM`];
    /// [`Error::MalformedCode`] when its code is not a permission.
    pub fn from_label(label: &SecurityLabel) -> Result<Self, Error> {
        if label.system.as_deref() != Some(PERMISSION_SYSTEM) {
            return Err(Error::WrongSystem {
                expected: PERMISSION_SYSTEM.to_owned(),
                found: label.system.clone().unwrap_or_default(),
                code: label.code.clone(),
            });
        }
        Self::parse(&label.code)
    }

    /// The code (`restricted.read`).
    pub fn code(&self) -> String {
        let access = match self.access {
            Access::Read => "read",
            Access::Write => "write",
        };
        format!("{}.{access}", self.category)
    }

    /// The label for this permission.
    pub fn label(&self) -> SecurityLabel {
        SecurityLabel::new(PERMISSION_SYSTEM, self.code())
    }

    /// Whether this permission grants read.
    pub fn is_read(&self) -> bool {
        self.access == Access::Read
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.code())
    }
}

/// What a label means, by vocabulary.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum LabelMeaning {
    /// HL7 confidentiality.
    Confidentiality(Confidentiality),
    /// ActCode sensitivity.
    Sensitivity(Sensitivity),
    /// ActReason purpose of use.
    PurposeOfUse(PurposeOfUse),
    /// ActCode handling caveat.
    HandlingCaveat(HandlingCaveat),
    /// A terminology-server permission.
    Permission(Permission),
    /// A label in a permission system whose code is not a permission.
    MalformedPermission(String),
    /// Any other label, kept as read.
    Other,
}

impl SecurityLabel {
    /// What the label means, from its system and code.
    pub fn meaning(&self) -> LabelMeaning {
        match self.system.as_deref() {
            Some(CONFIDENTIALITY_SYSTEM | CONFIDENTIALITY_SYSTEM_LEGACY) => {
                LabelMeaning::Confidentiality(Confidentiality::from_code(&self.code))
            }
            Some(ACT_CODE_SYSTEM) => {
                let s = Sensitivity::from_code(&self.code);
                if s.is_known() {
                    return LabelMeaning::Sensitivity(s);
                }
                match HandlingCaveat::from_code(&self.code) {
                    HandlingCaveat::Other(_) => LabelMeaning::Other,
                    h => LabelMeaning::HandlingCaveat(h),
                }
            }
            Some(ACT_REASON_SYSTEM) => {
                LabelMeaning::PurposeOfUse(PurposeOfUse::from_code(&self.code))
            }
            Some(PERMISSION_SYSTEM) => match Permission::parse(&self.code) {
                Ok(p) => LabelMeaning::Permission(p),
                Err(_) => LabelMeaning::MalformedPermission(self.code.clone()),
            },
            _ => LabelMeaning::Other,
        }
    }

    /// The permission this label carries, if it is a well-formed permission label.
    pub fn permission(&self) -> Option<Permission> {
        match self.meaning() {
            LabelMeaning::Permission(p) => Some(p),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permission_codes_parse_and_print() {
        let p = Permission::parse("restricted.read").expect("well-formed");
        assert_eq!(p.category, Category::Named("restricted".into()));
        assert_eq!(p.access, Access::Read);
        assert_eq!(p.code(), "restricted.read");
        assert_eq!(
            Permission::parse("*.read").expect("global"),
            Permission::global_read()
        );
        assert_eq!(
            Permission::parse("NATIONAL.write").expect("write").access,
            Access::Write
        );
        for bad in [
            "read", ".read", "a.b.read", "x.delete", "a b.read", "", "**.read",
        ] {
            assert!(Permission::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn confidentiality_is_ordered_and_keeps_unknown_codes() {
        assert!(Confidentiality::Unrestricted < Confidentiality::Restricted);
        assert!(Confidentiality::Restricted < Confidentiality::VeryRestricted);
        let x = Confidentiality::from_code("Q");
        assert_eq!(x.code(), "Q");
        assert_eq!(x.partial_cmp(&Confidentiality::Low), None);
    }

    #[test]
    fn labels_are_classified_by_system() {
        let l = SecurityLabel::new(CONFIDENTIALITY_SYSTEM_LEGACY, "R");
        assert_eq!(
            l.meaning(),
            LabelMeaning::Confidentiality(Confidentiality::Restricted)
        );
        let l = SecurityLabel::new(ACT_CODE_SYSTEM, "HIV");
        assert_eq!(l.meaning(), LabelMeaning::Sensitivity(Sensitivity::Hiv));
        let l = SecurityLabel::new(ACT_CODE_SYSTEM, "NOPAT");
        assert_eq!(
            l.meaning(),
            LabelMeaning::HandlingCaveat(HandlingCaveat::Nopat)
        );
        let l = SecurityLabel::new(ACT_REASON_SYSTEM, "HRESCH");
        assert_eq!(
            l.meaning(),
            LabelMeaning::PurposeOfUse(PurposeOfUse::Hresch)
        );
        let l = SecurityLabel::new(PERMISSION_SYSTEM, "oops");
        assert_eq!(
            l.meaning(),
            LabelMeaning::MalformedPermission("oops".into())
        );
        let wrong = SecurityLabel::new("urn:other", "a.read");
        assert!(matches!(
            Permission::from_label(&wrong),
            Err(Error::WrongSystem { .. })
        ));
    }
}
