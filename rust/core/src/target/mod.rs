//! Target memory: core files, live processes and caches behind one `Memory` trait.
//!
//! Everything above this layer reads the target through [`Memory::read_at`] and the typed
//! helpers of [`MemoryExt`]; it neither knows nor cares whether the bytes come from an ELF
//! core ([`CoreMemory`]), a live process ([`ProcMemory`], [`CallbackMemory`]) or a test
//! ([`VecMemory`]). goscope never writes target memory, so the trait has no write.

mod cache;
mod callback;
mod core;
mod notes;
mod proc;
mod regions;
mod registers;

use std::sync::Arc;

use crate::error::{Error, ErrorKind, Result};

pub use self::cache::PageCache;
pub use self::callback::CallbackMemory;
pub use self::core::{CoreFile, CoreMemory, CoreSegment};
pub use self::notes::{signal_name, MappedFile, ProcessInfo, SignalInfo, Thread};
pub use self::proc::ProcMemory;
pub use self::regions::{RegionMemory, SliceMemory, VecMemory};
pub use self::registers::Registers;

/// The largest single read the typed helpers accept. Lengths above it come from corrupt target
/// data (a garbage slice or string length), not from anything a Go program can hold.
pub const MAX_READ: usize = 1 << 30;

/// The longest Go string [`MemoryExt::read_go_string`] reads.
pub const MAX_GO_STRING: usize = 64 << 20;

/// The target's address space, read-only.
pub trait Memory: Send + Sync {
    /// Fills all of `buf` with the bytes at `addr`, or fails with [`ErrorKind::Unreadable`]
    /// naming the address. A failed read leaves `buf` in an unspecified state.
    fn read_at(&self, addr: u64, buf: &mut [u8]) -> Result<()>;

    /// A hint that data read so far will not be needed again soon: backends that keep pages
    /// (mapped cores, caches) may let them go to bound memory over long walks.
    fn trim(&self) {}

    /// Whether reads may come from several threads at once. A debugger's callback (GDB's
    /// Python API) may be entered only on the debugger's own thread: decoding over such
    /// memory stays on the thread that asked for it.
    fn concurrent(&self) -> bool {
        true
    }
}

impl<M: Memory + ?Sized> Memory for &M {
    fn read_at(&self, addr: u64, buf: &mut [u8]) -> Result<()> {
        (**self).read_at(addr, buf)
    }

    fn concurrent(&self) -> bool {
        (**self).concurrent()
    }
}

impl<M: Memory + ?Sized> Memory for Box<M> {
    fn read_at(&self, addr: u64, buf: &mut [u8]) -> Result<()> {
        (**self).read_at(addr, buf)
    }

    fn concurrent(&self) -> bool {
        (**self).concurrent()
    }
}

impl<M: Memory + ?Sized> Memory for Arc<M> {
    fn read_at(&self, addr: u64, buf: &mut [u8]) -> Result<()> {
        (**self).read_at(addr, buf)
    }

    fn concurrent(&self) -> bool {
        (**self).concurrent()
    }

    fn trim(&self) {
        (**self).trim()
    }
}

/// Typed little-endian reads on top of [`Memory::read_at`]. Every length that may come from
/// target data is bounded.
pub trait MemoryExt: Memory {
    fn read_array<const N: usize>(&self, addr: u64) -> Result<[u8; N]> {
        let mut buf = [0u8; N];
        self.read_at(addr, &mut buf)?;
        Ok(buf)
    }

    fn read_u8(&self, addr: u64) -> Result<u8> {
        Ok(self.read_array::<1>(addr)?[0])
    }

    fn read_u16(&self, addr: u64) -> Result<u16> {
        self.read_array(addr).map(u16::from_le_bytes)
    }

    fn read_u32(&self, addr: u64) -> Result<u32> {
        self.read_array(addr).map(u32::from_le_bytes)
    }

    fn read_i32(&self, addr: u64) -> Result<i32> {
        self.read_array(addr).map(i32::from_le_bytes)
    }

    fn read_u64(&self, addr: u64) -> Result<u64> {
        self.read_array(addr).map(u64::from_le_bytes)
    }

    fn read_i64(&self, addr: u64) -> Result<i64> {
        self.read_array(addr).map(i64::from_le_bytes)
    }

    /// A pointer: 8 bytes on every architecture goscope decodes (amd64, arm64).
    fn read_ptr(&self, addr: u64) -> Result<u64> {
        self.read_u64(addr)
    }

    /// `len` bytes at `addr`; refuses lengths above [`MAX_READ`].
    fn read_vec(&self, addr: u64, len: usize) -> Result<Vec<u8>> {
        if len > MAX_READ {
            return Err(Error::new(
                ErrorKind::Corrupt,
                format!(
                    "refusing to read {len} bytes at {addr:#x}: more than {} MiB, the length is likely corrupt",
                    MAX_READ >> 20
                ),
            ));
        }
        let mut buf = vec![0u8; len];
        self.read_at(addr, &mut buf)?;
        Ok(buf)
    }

    /// The NUL-terminated string at `addr`, without the NUL, read up to `max` bytes; a string
    /// with no NUL in its first `max` bytes is cut at `max`. Reads page by page, so a string
    /// that ends just before an unreadable page is still read. Invalid UTF-8 is replaced.
    fn read_cstr(&self, addr: u64, max: usize) -> Result<String> {
        const CHUNK: u64 = 256;
        let max = max.min(MAX_READ);
        let mut out = Vec::new();
        let mut cur = addr;
        while out.len() < max {
            // Never let a chunk cross into the next page: that page may be unmapped.
            let to_page_end = 4096u64.saturating_sub(cur % 4096);
            let want = CHUNK
                .min(to_page_end)
                .min(max.saturating_sub(out.len()) as u64) as usize;
            let mut buf = [0u8; CHUNK as usize];
            let chunk = buf.get_mut(..want).unwrap_or_default();
            if let Err(e) = self.read_at(cur, chunk) {
                // The chunk runs into unreadable memory: the string may still end before it.
                for (i, slot) in chunk.iter_mut().enumerate() {
                    let mut byte = [0u8; 1];
                    if self.read_at(cur.wrapping_add(i as u64), &mut byte).is_err() {
                        let bad = cur.wrapping_add(i as u64);
                        if bad == addr {
                            return Err(e);
                        }
                        return Err(Error::new(
                            ErrorKind::Unreadable,
                            format!(
                                "C string at {addr:#x} runs into unreadable memory at {bad:#x} after {} bytes",
                                out.len().saturating_add(i)
                            ),
                        )
                        .at(bad));
                    }
                    *slot = byte[0];
                    if byte[0] == 0 {
                        break;
                    }
                }
            }
            if let Some(nul) = chunk.iter().position(|&b| b == 0) {
                out.extend_from_slice(chunk.get(..nul).unwrap_or_default());
                return Ok(String::from_utf8_lossy(&out).into_owned());
            }
            out.extend_from_slice(chunk);
            cur = match cur.checked_add(want as u64) {
                Some(next) => next,
                None => break,
            };
        }
        Ok(String::from_utf8_lossy(&out).into_owned())
    }

    /// The Go string whose header (`{ptr, len}`) is at `addr`.
    fn read_go_string(&self, addr: u64) -> Result<String> {
        let ptr = self.read_ptr(addr)?;
        let len = self.read_i64(addr.wrapping_add(8))?;
        self.read_go_string_data(ptr, len)
            .map_err(|e| e.context(&format!("Go string at {addr:#x}")))
    }

    /// The bytes of a Go string given its data pointer and length (from a header already
    /// read); refuses negative lengths and lengths above [`MAX_GO_STRING`].
    fn read_go_string_data(&self, ptr: u64, len: i64) -> Result<String> {
        if len == 0 {
            return Ok(String::new());
        }
        let Ok(n) = usize::try_from(len) else {
            return Err(Error::new(
                ErrorKind::Corrupt,
                format!("string length {len} is negative"),
            ));
        };
        if n > MAX_GO_STRING {
            return Err(Error::new(
                ErrorKind::Corrupt,
                format!(
                    "string of {n} bytes at {ptr:#x} is longer than {} MiB, the length is likely corrupt",
                    MAX_GO_STRING >> 20
                ),
            ));
        }
        let bytes = self.read_vec(ptr, n)?;
        Ok(match String::from_utf8(bytes) {
            Ok(s) => s,
            Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
        })
    }
}

impl<M: Memory + ?Sized> MemoryExt for M {}

/// Unreadable-memory error for a read of `len` bytes at `addr` that failed at `bad`, saying
/// why when the backend knows (e.g. "the core does not hold it").
pub(crate) fn unreadable_at(addr: u64, len: usize, bad: u64, why: &str) -> Error {
    if bad == addr {
        Error::new(
            ErrorKind::Unreadable,
            format!("cannot read {len} bytes of target memory at {addr:#x}: {why}"),
        )
        .at(bad)
    } else {
        Error::new(
            ErrorKind::Unreadable,
            format!(
                "cannot read {len} bytes of target memory at {addr:#x}: {bad:#x} is unreadable ({why})"
            ),
        )
        .at(bad)
    }
}
