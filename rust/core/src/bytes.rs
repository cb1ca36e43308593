//! Bounds-checked little-endian reads over byte slices, and a cheaply clonable view of a file.

use std::ops::Deref;
use std::sync::Arc;

/// Shared bytes (an mmap of a file, or an owned buffer) with a window into them.
/// Cloning shares the storage; sub-views are free.
#[derive(Clone)]
pub struct Blob {
    storage: Arc<dyn AsRef<[u8]> + Send + Sync>,
    start: usize,
    end: usize,
}

impl Blob {
    pub fn new(storage: Arc<dyn AsRef<[u8]> + Send + Sync>) -> Self {
        let end = (*storage).as_ref().len();
        Blob {
            storage,
            start: 0,
            end,
        }
    }

    pub fn from_vec(v: Vec<u8>) -> Self {
        Blob::new(Arc::new(v))
    }

    /// The sub-view `[from, to)` of this view, or None if it is out of bounds.
    pub fn slice(&self, from: usize, to: usize) -> Option<Blob> {
        if from > to || to > self.len() {
            return None;
        }
        Some(Blob {
            storage: self.storage.clone(),
            start: self.start.checked_add(from)?,
            end: self.start.checked_add(to)?,
        })
    }
}

impl Deref for Blob {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        (*self.storage)
            .as_ref()
            .get(self.start..self.end)
            .unwrap_or(&[])
    }
}

impl std::fmt::Debug for Blob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Blob({} bytes)", self.end.saturating_sub(self.start))
    }
}

/// Little-endian reads that return None instead of panicking past the end.
pub trait ReadLe {
    fn u8_at(&self, off: usize) -> Option<u8>;
    fn u32_at(&self, off: usize) -> Option<u32>;
    fn u64_at(&self, off: usize) -> Option<u64>;
    fn i32_at(&self, off: usize) -> Option<i32> {
        self.u32_at(off).map(|v| v as i32)
    }
    /// A pointer-sized value (4 or 8 bytes).
    fn uptr_at(&self, off: usize, ptr_size: u8) -> Option<u64> {
        if ptr_size == 4 {
            self.u32_at(off).map(u64::from)
        } else {
            self.u64_at(off)
        }
    }
    /// The NUL-terminated string starting at `off` (without the NUL), or None when unterminated.
    fn cstr_at(&self, off: usize) -> Option<&[u8]>;
}

impl ReadLe for [u8] {
    fn u8_at(&self, off: usize) -> Option<u8> {
        self.get(off).copied()
    }
    fn u32_at(&self, off: usize) -> Option<u32> {
        let b = self.get(off..off.checked_add(4)?)?;
        Some(u32::from_le_bytes(b.try_into().ok()?))
    }
    fn u64_at(&self, off: usize) -> Option<u64> {
        let b = self.get(off..off.checked_add(8)?)?;
        Some(u64::from_le_bytes(b.try_into().ok()?))
    }
    fn cstr_at(&self, off: usize) -> Option<&[u8]> {
        let rest = self.get(off..)?;
        let n = rest.iter().position(|&c| c == 0)?;
        rest.get(..n)
    }
}

/// Reads an unsigned LEB128 varint (Go's `uvarint`) at `*pos`, advancing it.
pub fn read_uvarint(data: &[u8], pos: &mut usize) -> Option<u64> {
    let mut value: u64 = 0;
    let mut shift = 0u32;
    loop {
        let b = *data.get(*pos)?;
        *pos = pos.saturating_add(1);
        if shift >= 64 {
            return None;
        }
        value |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Some(value);
        }
        shift = shift.saturating_add(7);
    }
}

/// The little-endian 64-bit words of `bytes`, a trailing partial word left out.
pub fn words(bytes: &[u8]) -> impl Iterator<Item = u64> + '_ {
    bytes
        .chunks_exact(8)
        .map(|c| u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
}
