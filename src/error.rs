//! The crate's one error type. Every fallible path returns [`Error`]; the C ABI maps its
//! [`ErrorKind`] to an ExecuTorch `Error` code and keeps the message for `etvk_last_error`.

use std::fmt;

/// What went wrong, at the granularity ExecuTorch's `Error` enum distinguishes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    Internal,
    InvalidState,
    NotSupported,
    NotImplemented,
    InvalidArgument,
    InvalidType,
    OperatorMissing,
    NotFound,
    MemoryAllocationFailed,
    InvalidProgram,
    OutOfResources,
    DelegateInvalidCompatibility,
    DelegateMemoryAllocationFailed,
    DelegateInvalidHandle,
}

impl ErrorKind {
    /// The numeric value of ExecuTorch's `executorch::runtime::Error` for this kind.
    pub fn et_code(self) -> u32 {
        match self {
            ErrorKind::Internal => 0x01,
            ErrorKind::InvalidState => 0x02,
            ErrorKind::NotSupported => 0x10,
            ErrorKind::NotImplemented => 0x11,
            ErrorKind::InvalidArgument => 0x12,
            ErrorKind::InvalidType => 0x13,
            ErrorKind::OperatorMissing => 0x14,
            ErrorKind::NotFound => 0x20,
            ErrorKind::MemoryAllocationFailed => 0x21,
            ErrorKind::InvalidProgram => 0x23,
            ErrorKind::OutOfResources => 0x25,
            ErrorKind::DelegateInvalidCompatibility => 0x30,
            ErrorKind::DelegateMemoryAllocationFailed => 0x31,
            ErrorKind::DelegateInvalidHandle => 0x32,
        }
    }
}

/// An error with a kind (for the status code) and a message that names what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    pub kind: ErrorKind,
    pub message: String,
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
        }
    }
    pub fn invalid_program(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidProgram, message)
    }
    pub fn invalid_argument(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidArgument, message)
    }
    pub fn not_supported(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotSupported, message)
    }
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Internal, message)
    }
    /// Prefixes the message with context, keeping the kind.
    pub fn context(mut self, what: impl fmt::Display) -> Self {
        self.message = format!("{what}: {}", self.message);
        self
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}: {}", self.kind, self.message)
    }
}

impl std::error::Error for Error {}

/// Returns early with an error of the given kind and a formatted message.
#[macro_export]
macro_rules! bail {
    ($kind:ident, $($fmt:tt)+) => {
        return Err($crate::error::Error::new($crate::error::ErrorKind::$kind, format!($($fmt)+)))
    };
}

/// Returns early with an error unless the condition holds.
#[macro_export]
macro_rules! ensure {
    ($cond:expr, $kind:ident, $($fmt:tt)+) => {
        if !$cond {
            $crate::bail!($kind, $($fmt)+);
        }
    };
}
