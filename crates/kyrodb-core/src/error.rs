//! Errors. Every variant maps to a stable, documented `code()` string that crosses the
//! Node boundary unchanged (`error.code` in JavaScript), so callers can branch on it.

use std::fmt;

/// Result alias used throughout the engine.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Every way an engine call can fail. Failed calls change nothing.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Error {
    /// An argument is malformed or out of its documented range.
    InvalidArgument(String),
    /// A vector's (or a flat batch's) length does not fit the collection's dimension.
    DimensionMismatch(String),
    /// A metadata filter is malformed (the message gives the position).
    InvalidFilter(String),
    /// A named collection (or other object) does not exist.
    NotFound(String),
    /// A collection with this name already exists.
    AlreadyExists(String),
    /// The database handle was closed.
    Closed,
    /// An operating-system I/O error.
    Io(String),
    /// Stored data failed a check (the message names the file and offset).
    Corruption(String),
    /// Another handle (this process or another) has the database directory open.
    Locked(String),
    /// A write could not be made durable earlier; the database refuses writes until reopened.
    ReadOnly(String),
    /// A bug: an internal invariant failed or a panic was caught at the boundary.
    Internal(String),
}

impl Error {
    /// The stable machine-readable code of this error.
    pub fn code(&self) -> &'static str {
        match self {
            Error::InvalidArgument(_) => "INVALID_ARGUMENT",
            Error::DimensionMismatch(_) => "DIMENSION_MISMATCH",
            Error::InvalidFilter(_) => "INVALID_FILTER",
            Error::NotFound(_) => "NOT_FOUND",
            Error::AlreadyExists(_) => "ALREADY_EXISTS",
            Error::Closed => "CLOSED",
            Error::Io(_) => "IO",
            Error::Corruption(_) => "CORRUPTION",
            Error::Locked(_) => "LOCKED",
            Error::ReadOnly(_) => "READ_ONLY",
            Error::Internal(_) => "INTERNAL",
        }
    }

    /// A single vector of length `got` where `expected` components are needed.
    pub fn dimension(expected: usize, got: usize) -> Error {
        Error::DimensionMismatch(format!("vector has {got} components but the collection's dimension is {expected}"))
    }

    /// A flat row-major batch of `len` numbers that is not a whole number of `dim`-rows.
    pub fn batch_length(dim: usize, len: usize) -> Error {
        Error::DimensionMismatch(format!(
            "a flat batch of {len} numbers is not a whole number of {dim}-dimensional vectors"
        ))
    }

    /// Shorthand for [`Error::InvalidArgument`].
    pub fn invalid(msg: impl Into<String>) -> Error {
        Error::InvalidArgument(msg.into())
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::InvalidArgument(m) => f.write_str(m),
            Error::DimensionMismatch(m) => f.write_str(m),
            Error::InvalidFilter(m) => write!(f, "invalid filter: {m}"),
            Error::NotFound(m) => f.write_str(m),
            Error::AlreadyExists(m) => f.write_str(m),
            Error::Closed => f.write_str("the database is closed; open it again to use it"),
            Error::Io(m) => write!(f, "I/O error: {m}"),
            Error::Corruption(m) => write!(f, "data corruption: {m}"),
            Error::Locked(m) => f.write_str(m),
            Error::ReadOnly(m) => write!(f, "the database is read-only until it is reopened: {m}"),
            Error::Internal(m) => write!(f, "internal error (a bug in KyroDB, please report it): {m}"),
        }
    }
}

impl std::error::Error for Error {}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::Io(e.to_string())
    }
}
