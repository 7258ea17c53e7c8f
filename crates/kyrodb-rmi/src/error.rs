//! The crate's one error type.

use std::fmt;

/// Why a model could not be built or decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RmiError {
    /// More keys than positions fit in the `u32` fields of a leaf record (`n > u32::MAX`).
    TooManyKeys {
        /// The number of keys given.
        n: usize,
    },
    /// `keys[position] <= keys[position − 1]`: keys must be strictly ascending.
    NotStrictlyAscending {
        /// The first offending position.
        position: usize,
    },
    /// The serialised model indexes a different number of keys than the caller has.
    KeyCountMismatch {
        /// The number of keys the caller passed.
        expected: usize,
        /// The number recorded in the model.
        found: u64,
    },
    /// The serialised model has a format version this build does not read.
    UnsupportedVersion {
        /// The version byte found.
        version: u8,
    },
    /// The serialised model failed a structural check.
    Corrupt {
        /// Which check failed.
        reason: &'static str,
    },
}

impl RmiError {
    pub(crate) fn corrupt(reason: &'static str) -> RmiError {
        RmiError::Corrupt { reason }
    }
}

impl fmt::Display for RmiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RmiError::TooManyKeys { n } => write!(f, "{n} keys exceed the RMI limit of {} keys", u32::MAX),
            RmiError::NotStrictlyAscending { position } => {
                write!(f, "keys are not strictly ascending at position {position}")
            }
            RmiError::KeyCountMismatch { expected, found } => {
                write!(f, "RMI was built for {found} keys but {expected} were given")
            }
            RmiError::UnsupportedVersion { version } => write!(f, "unsupported RMI format version {version}"),
            RmiError::Corrupt { reason } => write!(f, "corrupt RMI: {reason}"),
        }
    }
}

impl std::error::Error for RmiError {}
