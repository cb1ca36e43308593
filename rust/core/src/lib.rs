//! goscope-core: reads Go binaries, core files and the Go runtime's own data structures
//! without needing DWARF or a symbol table.

pub mod binary;
pub mod buildinfo;
pub mod bytes;
pub mod dwarfvars;
pub mod elf;
pub mod error;
pub mod fasthash;
pub mod file;
pub mod graph;
pub mod layout;
pub mod memory;
pub mod moduledata;
pub mod pclntab;
pub mod runtime;
pub mod symfile;
pub mod target;

pub use binary::{Binary, BinaryInfo};
pub use error::{Error, ErrorKind, Result};
pub use pclntab::Location;
