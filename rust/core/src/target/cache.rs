//! A page cache over any memory: live targets answer each read with a round trip into the
//! debugger, while goscope reads the same pages (g, m, stacks) over and over.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use super::Memory;
use crate::error::Result;

const PAGE: u64 = 4096;

/// Pages kept before the cache starts over (64 MiB).
pub const DEFAULT_MAX_PAGES: usize = 16384;

/// Caches 4 KiB pages of `M`. Must be [`PageCache::clear`]ed whenever the target may have
/// changed (every stop, continue, memory or register write). Thread-safe; bounded in size:
/// when full it is emptied and refills from what is read next.
pub struct PageCache<M> {
    inner: M,
    max_pages: usize,
    state: Mutex<CacheState>,
}

#[derive(Default)]
struct CacheState {
    /// Page number → its bytes, or None when the page is not wholly readable (reads in it go
    /// straight to the inner memory).
    pages: HashMap<u64, Option<Box<[u8]>>>,
    hits: u64,
    misses: u64,
}

impl<M: Memory> PageCache<M> {
    pub fn new(inner: M) -> Self {
        Self::with_capacity(inner, DEFAULT_MAX_PAGES)
    }

    /// A cache holding at most `max_pages` pages (at least 16).
    pub fn with_capacity(inner: M, max_pages: usize) -> Self {
        PageCache {
            inner,
            max_pages: max_pages.max(16),
            state: Mutex::new(CacheState::default()),
        }
    }

    /// Forgets every cached page.
    pub fn clear(&self) {
        let mut st = self.lock();
        st.pages.clear();
    }

    /// Number of pages currently cached (wholly readable or not).
    pub fn cached_pages(&self) -> usize {
        self.lock().pages.len()
    }

    /// (hits, misses) counted in pages since the cache was made.
    pub fn stats(&self) -> (u64, u64) {
        let st = self.lock();
        (st.hits, st.misses)
    }

    pub fn inner(&self) -> &M {
        &self.inner
    }

    fn lock(&self) -> MutexGuard<'_, CacheState> {
        // A panic while holding the lock cannot leave the map inconsistent: keep using it.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Reads one run of consecutive pages in one call to the inner memory, falling back to
    /// page by page when the run is not wholly readable.
    fn fetch_run(&self, first: u64, count: u64, out: &mut Vec<(u64, Option<Box<[u8]>>)>) {
        let run_len = count
            .checked_mul(PAGE)
            .and_then(|n| usize::try_from(n).ok());
        if let Some(run_len) = run_len.filter(|_| count > 1) {
            let mut data = vec![0u8; run_len];
            if self.inner.read_at(page_addr(first), &mut data).is_ok() {
                for (i, chunk) in data.chunks_exact(PAGE as usize).enumerate() {
                    out.push((first.saturating_add(i as u64), Some(chunk.into())));
                }
                return;
            }
        }
        for p in first..first.saturating_add(count) {
            let mut page = vec![0u8; PAGE as usize];
            let ok = self.inner.read_at(page_addr(p), &mut page).is_ok();
            out.push((p, ok.then(|| page.into_boxed_slice())));
        }
    }
}

/// The address of page `p`. Page numbers come from addresses, so this does not overflow.
fn page_addr(p: u64) -> u64 {
    p.wrapping_mul(PAGE)
}

/// Copies the part of `page` (page number `p`) that overlaps `[addr, addr + buf.len())`.
fn copy_from_page(p: u64, page: &[u8], addr: u64, buf: &mut [u8]) {
    let Some(o) = overlap(p, addr, buf.len()) else {
        return;
    };
    if let (Some(dst), Some(src)) = (
        buf.get_mut(o.in_read..).and_then(|b| b.get_mut(..o.len)),
        page.get(o.in_page..).and_then(|b| b.get(..o.len)),
    ) {
        dst.copy_from_slice(src);
    }
}

/// The bytes shared by a page and a read.
struct Overlap {
    /// Their first address.
    addr: u64,
    /// Where they start in the page.
    in_page: usize,
    /// Where they start in the read.
    in_read: usize,
    len: usize,
}

/// What page `p` and the read `[addr, addr + len)` share; None when nothing (or when the
/// read is empty or wraps).
fn overlap(p: u64, addr: u64, len: usize) -> Option<Overlap> {
    let start = p.checked_mul(PAGE)?;
    let last = addr.checked_add((len as u64).checked_sub(1)?)?;
    let lo = addr.max(start);
    let hi = last.min(start.saturating_add(PAGE - 1));
    Some(Overlap {
        addr: lo,
        in_page: usize::try_from(lo.checked_sub(start)?).ok()?,
        in_read: usize::try_from(lo.checked_sub(addr)?).ok()?,
        len: usize::try_from(hi.checked_sub(lo)?.checked_add(1)?).ok()?,
    })
}

impl<M: Memory> Memory for PageCache<M> {
    fn concurrent(&self) -> bool {
        self.inner.concurrent()
    }

    fn read_at(&self, addr: u64, buf: &mut [u8]) -> Result<()> {
        if buf.is_empty() {
            return Ok(());
        }
        let Some(last) = addr.checked_add((buf.len() as u64).saturating_sub(1)) else {
            return self.inner.read_at(addr, buf);
        };
        let (first_page, last_page) = (addr / PAGE, last / PAGE);
        // last >= addr: no wrap.
        let npages = last_page.saturating_sub(first_page).saturating_add(1);
        if npages > (self.max_pages / 4) as u64 {
            // Too big to cache without evicting everything else.
            return self.inner.read_at(addr, buf);
        }

        let mut missing = Vec::new();
        let mut direct = Vec::new();
        {
            let mut st = self.lock();
            for p in first_page..=last_page {
                match st.pages.get(&p) {
                    Some(Some(page)) => copy_from_page(p, page, addr, buf),
                    Some(None) => direct.push(p),
                    None => missing.push(p),
                }
            }
            let misses = missing.len() as u64;
            st.hits = st.hits.saturating_add(npages.saturating_sub(misses));
            st.misses = st.misses.saturating_add(misses);
        }

        if !missing.is_empty() {
            let mut fetched = Vec::with_capacity(missing.len());
            let mut i = 0;
            while let Some(&run_start) = missing.get(i) {
                let mut count = 1u64;
                while missing.get(i.saturating_add(count as usize))
                    == Some(&run_start.saturating_add(count))
                {
                    count = count.saturating_add(1);
                }
                self.fetch_run(run_start, count, &mut fetched);
                i = i.saturating_add(count as usize);
            }
            for (p, page) in &fetched {
                match page {
                    Some(page) => copy_from_page(*p, page, addr, buf),
                    None => direct.push(*p),
                }
            }
            let mut st = self.lock();
            if st.pages.len().saturating_add(fetched.len()) > self.max_pages {
                st.pages.clear();
            }
            st.pages.extend(fetched);
        }

        direct.sort_unstable();
        for p in direct {
            let Some(o) = overlap(p, addr, buf.len()) else {
                return self.inner.read_at(addr, buf);
            };
            match buf.get_mut(o.in_read..).and_then(|b| b.get_mut(..o.len)) {
                Some(dst) => self.inner.read_at(o.addr, dst)?,
                None => return self.inner.read_at(addr, buf),
            }
        }
        Ok(())
    }
}
