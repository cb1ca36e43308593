//! goscope-core: reads Go binaries, core files and the Go runtime's own data structures
//! without needing DWARF or a symbol table.
//!
//! One folder per layer, each using only those listed before it:
//!
//! - [`arch`]: what differs between instruction sets — registers, signal frames, traps;
//! - [`binary`]: the executable — ELF, pclntab, build info, moduledata, DWARF, debug files;
//! - [`target`]: memory backends (core file, `/proc`, a debugger's callback), notes, threads;
//! - [`layout`]: runtime struct offsets by Go version (DWARF or generated tables);
//! - [`runtime`]: decoding the runtime's data, nothing concluded — goroutines, the unwinder,
//!   stack maps, defers, panics, types, channels and sync queues, the scheduler, heap spans;
//! - [`analysis`]: what is concluded from it through `runtime`'s public API — stack groups,
//!   the crash, blocking (deadlocks, leaks), the heap graph, dominators, profiles;
//! - [`session`]: what a front end opens — an executable and its memory, decoded;
//! - [`report`]: the documents of the JSON contract, typed once; the fast encoder, the
//!   traceback text and the streaming of large listings.
//!
//! [`bytes`], [`error`] and [`fasthash`] are the shared ground every layer stands on.
//!
//! Integer arithmetic is wrapping, checked or saturating throughout: values read from a
//! target are garbage when the target is, and a crate that builds goscope-core with
//! overflow checks on (any debug build) must get an error from garbage, never a panic.
#![deny(clippy::arithmetic_side_effects)]

pub mod analysis;
pub mod arch;
pub mod binary;
pub mod bytes;
pub mod error;
pub mod fasthash;
pub mod layout;
pub mod report;
pub mod runtime;
pub mod session;
pub mod target;

pub use binary::pclntab::Location;
pub use binary::{Binary, BinaryInfo};
pub use error::{Error, ErrorKind, Result};
