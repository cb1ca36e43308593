//! One error type for everything the core reads. A debugger reads broken data by definition,
//! so every failure is a value that names what was being read and where, never a panic.

use std::fmt;

/// What kind of problem stopped a read; the binding maps each kind to its own exception.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The file could not be opened or read.
    Io,
    /// The file is not an ELF object.
    NotElf,
    /// An ELF for an architecture goscope does not decode.
    UnsupportedArch,
    /// A valid ELF without the Go runtime's tables.
    NotGo,
    /// Data ends before a structure that must be there.
    Truncated,
    /// A structure is present but its contents are inconsistent.
    Corrupt,
    /// A well-formed input that goscope does not support (for example, a Go version too old).
    Unsupported,
    /// Target memory that is not in the core or cannot be read from the process.
    Unreadable,
}

/// A failed read: its kind and one line for the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    kind: ErrorKind,
    message: String,
    /// The target address whose read failed, when one did.
    addr: Option<u64>,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
            addr: None,
        }
    }

    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    pub fn message(&self) -> &str {
        &self.message
    }

    /// Prefixes the message with what was being done, e.g. "reading build info: ...".
    pub fn context(self, what: &str) -> Self {
        Error {
            kind: self.kind,
            message: format!("{what}: {}", self.message),
            addr: self.addr,
        }
    }

    pub(crate) fn corrupt(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Corrupt, message)
    }

    pub fn unreadable(addr: u64, len: usize) -> Self {
        Error::new(
            ErrorKind::Unreadable,
            format!("cannot read {len} bytes of target memory at {addr:#x}"),
        )
        .at(addr)
    }

    /// The same error, naming `addr` as the address that failed.
    pub fn at(mut self, addr: u64) -> Self {
        self.addr = Some(addr);
        self
    }

    /// The target address whose read failed, when one did.
    pub fn addr(&self) -> Option<u64> {
        self.addr
    }

    pub(crate) fn truncated(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Truncated, message)
    }
}

impl ErrorKind {
    /// The kind as JSON names it (`error_kind`).
    pub fn name(self) -> &'static str {
        match self {
            ErrorKind::Io => "io",
            ErrorKind::NotElf => "not_elf",
            ErrorKind::UnsupportedArch => "unsupported_arch",
            ErrorKind::NotGo => "not_go",
            ErrorKind::Truncated => "truncated",
            ErrorKind::Corrupt => "corrupt",
            ErrorKind::Unsupported => "unsupported",
            ErrorKind::Unreadable => "unreadable",
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}
