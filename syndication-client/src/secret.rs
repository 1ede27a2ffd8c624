//! Secrets that never show in `Debug`, `Display`, logs or errors.

use std::fmt;

macro_rules! secret {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq)]
        pub struct $name(String);

        impl $name {
            /// Wraps the secret.
            pub fn new(value: impl Into<String>) -> Self {
                Self(value.into())
            }

            /// The secret itself. Call only where it is sent.
            pub fn secret(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}(REDACTED)", stringify!($name))
            }
        }
    };
}

secret!(
    /// An OAuth2 client secret.
    ClientSecret
);
secret!(
    /// A bearer access token.
    AccessToken
);
