//! Memory made of (address, bytes) regions: for tests, fuzzing and synthetic targets.

use super::{unreadable_at, Memory};
use crate::error::Result;

/// An address space of non-overlapping regions, each a run of bytes at an address. A read may
/// span adjacent regions; any byte outside every region is unreadable.
#[derive(Debug, Clone, Default)]
pub struct RegionMemory<B> {
    /// Sorted by start address, non-overlapping.
    regions: Vec<(u64, B)>,
}

/// Regions that own their bytes.
pub type VecMemory = RegionMemory<Vec<u8>>;

/// Regions borrowed from the caller.
pub type SliceMemory<'a> = RegionMemory<&'a [u8]>;

impl<B: AsRef<[u8]>> RegionMemory<B> {
    pub fn new() -> Self {
        RegionMemory {
            regions: Vec::new(),
        }
    }

    /// Adds `bytes` at `addr`. Bytes of the new region that overlap an existing one are not
    /// visible: the region added first wins. Returns whether there was no overlap.
    pub fn add(&mut self, addr: u64, bytes: B) -> bool {
        let len = bytes.as_ref().len() as u64;
        let end = addr.saturating_add(len);
        let overlaps = self.regions.iter().any(|(a, b)| {
            let e = a.saturating_add(b.as_ref().len() as u64);
            addr < e && *a < end
        });
        let at = self.regions.partition_point(|(a, _)| *a <= addr);
        if !overlaps {
            self.regions.insert(at, (addr, bytes));
        }
        !overlaps
    }

    /// Builder form of [`RegionMemory::add`].
    pub fn with(mut self, addr: u64, bytes: B) -> Self {
        self.add(addr, bytes);
        self
    }

    pub fn regions(&self) -> impl Iterator<Item = (u64, &[u8])> {
        self.regions.iter().map(|(a, b)| (*a, b.as_ref()))
    }

    /// The bytes from `addr` to the end of the region holding it.
    fn tail(&self, addr: u64) -> Option<&[u8]> {
        let i = self
            .regions
            .partition_point(|(a, _)| *a <= addr)
            .checked_sub(1)?;
        let (start, bytes) = self.regions.get(i)?;
        let off = usize::try_from(addr.checked_sub(*start)?).ok()?;
        bytes.as_ref().get(off..).filter(|t| !t.is_empty())
    }
}

impl<B: AsRef<[u8]> + Send + Sync> Memory for RegionMemory<B> {
    fn read_at(&self, addr: u64, buf: &mut [u8]) -> Result<()> {
        let mut done = 0usize;
        while done < buf.len() {
            let cur = addr.wrapping_add(done as u64);
            let Some(src) = (if cur < addr { None } else { self.tail(cur) }) else {
                return Err(unreadable_at(addr, buf.len(), cur, "not in any region"));
            };
            let n = src.len().min(buf.len().saturating_sub(done));
            let dst = buf.get_mut(done..).and_then(|b| b.get_mut(..n));
            let (Some(dst), Some(src)) = (dst, src.get(..n)) else {
                return Err(unreadable_at(addr, buf.len(), cur, "not in any region"));
            };
            dst.copy_from_slice(src);
            done = done.saturating_add(n);
        }
        Ok(())
    }
}
