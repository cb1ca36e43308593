//! The runtime's sleep queues for sync objects: the semaphore table (`runtime.semtable`, a
//! treap of sudogs per bucket, each heading the waiters on one address) and the notify list
//! of a `sync.Cond`. What waits there, and on which sync object, read as the runtime keeps it.

use std::collections::{HashMap, HashSet};

use super::Runtime;
use crate::bytes::words;
use crate::fasthash::FastMap;
use crate::target::MemoryExt;

/// Bound on any one sleep queue: longer is corrupt.
const MAX_QUEUE: usize = 1 << 16;

impl Runtime {
    /// Every goroutine parked in the semaphore table, with the semaphore's address.
    pub fn sema_waits(
        &self,
        gps: &FastMap<u64, usize>,
        sudogs: &mut HashSet<u64>,
    ) -> Option<(u64, Vec<(u64, u64)>)> {
        let o = self.off.sema;
        let table = self.semtable(gps)?;
        let mut out = Vec::new();
        for k in 0..o.table_size {
            let at = table
                .wrapping_add(k.wrapping_mul(o.root_stride))
                .wrapping_add(o.root_treap);
            let Ok(root) = self.mem.read_ptr(at) else {
                continue;
            };
            // The treap's nodes (prev/next children), each heading a waitlink list of the
            // other waiters on the same address.
            let mut todo = vec![root];
            let mut seen = HashSet::new();
            while let Some(s) = todo.pop() {
                if s == 0 || !seen.insert(s) || seen.len() > MAX_QUEUE {
                    continue;
                }
                let (Ok(addr), Ok(prev), Ok(next)) = (
                    self.mem.read_ptr(s.wrapping_add(o.sudog_elem)),
                    self.mem.read_ptr(s.wrapping_add(o.sudog_prev)),
                    self.mem.read_ptr(s.wrapping_add(o.sudog_next)),
                ) else {
                    continue;
                };
                todo.push(prev);
                todo.push(next);
                let mut w = s;
                let mut n = 0usize;
                while w != 0 && n < MAX_QUEUE {
                    n = n.saturating_add(1);
                    if n.is_multiple_of(4096) {
                        self.mem.trim();
                    }
                    sudogs.insert(w);
                    if let Ok(g) = self.mem.read_ptr(w.wrapping_add(o.sudog_g)) {
                        out.push((g, addr));
                    }
                    w = self
                        .mem
                        .read_ptr(w.wrapping_add(o.sudog_waitlink))
                        .unwrap_or(0);
                    if w == s {
                        break;
                    }
                }
            }
        }
        Some((table, out))
    }

    /// `runtime.semtable`: from the symbol, or (stripped binaries) from the treap roots of
    /// known waiters in .bss: each root's slot lies at a fixed place given its address.
    pub fn semtable(&self, gps: &FastMap<u64, usize>) -> Option<u64> {
        if let Some(sym) = self.symbol("runtime.semtable") {
            return Some(sym);
        }
        let o = self.off.sema;
        let md = self.binary.moduledata()?;
        let (lo, hi) = (
            md.bss.wrapping_add(self.bias),
            md.ebss.wrapping_add(self.bias),
        );
        let len = usize::try_from(hi.checked_sub(lo)?).ok()?.min(64 << 20);
        let bss = self.mem.read_vec(lo, len).ok()?;
        // The table's extent, base to end.
        let extent = o.table_size.checked_mul(o.root_stride)?;
        let mut votes: HashMap<u64, usize> = HashMap::new();
        for (k, w) in words(&bss).enumerate() {
            if w == 0 || !w.is_multiple_of(8) {
                continue;
            }
            let at = lo.wrapping_add((k as u64).wrapping_mul(8));
            let Ok(g) = self.mem.read_ptr(w.wrapping_add(o.sudog_g)) else {
                continue;
            };
            if !gps.contains_key(&g)
                || self.mem.read_ptr(w.wrapping_add(o.sudog_parent)).ok() != Some(0)
            {
                continue;
            }
            let Ok(addr) = self.mem.read_ptr(w.wrapping_add(o.sudog_elem)) else {
                continue;
            };
            // The runtime's bucket for the address: semtable[(addr >> 3) % semTabSize].
            let Some(bucket) = (addr >> 3).checked_rem(o.table_size) else {
                continue;
            };
            let slot = bucket
                .wrapping_mul(o.root_stride)
                .wrapping_add(o.root_treap);
            if let Some(base) = at.checked_sub(slot) {
                if base >= lo && base.checked_add(extent).is_some_and(|end| end <= hi) {
                    let n = votes.entry(base).or_default();
                    *n = n.saturating_add(1);
                }
            }
        }
        votes
            .into_iter()
            .max_by_key(|&(b, n)| (n, b))
            .map(|(b, _)| b)
    }

    /// The sync object a semaphore belongs to, from the sync frames the waiter is in.
    pub fn sync_object(&self, sema: u64, frames: &[String]) -> (u64, &'static str, &'static str) {
        let o = self.off.sema;
        let has = |suffix: &str| frames.iter().any(|f| f.ends_with(suffix));
        let top_is_mutex = frames.first().is_some_and(|f| f.contains("(*Mutex)."));
        if has("(*RWMutex).RLock") {
            (
                sema.wrapping_sub(o.rw_reader_sem),
                "rwmutex",
                "sync.RWMutex",
            )
        } else if has("(*RWMutex).Lock") {
            // A writer first takes the RWMutex's own Mutex (at its start), then waits for
            // the readers on writerSem.
            if top_is_mutex {
                (sema.wrapping_sub(o.mutex_sema), "rwmutex", "sync.RWMutex")
            } else {
                (
                    sema.wrapping_sub(o.rw_writer_sem),
                    "rwmutex",
                    "sync.RWMutex",
                )
            }
        } else if has("(*WaitGroup).Wait") {
            (sema.wrapping_sub(o.wg_sema), "waitgroup", "sync.WaitGroup")
        } else if top_is_mutex {
            (sema.wrapping_sub(o.mutex_sema), "mutex", "sync.Mutex")
        } else {
            (sema, "semaphore", "semaphore")
        }
    }

    /// The `sync.Cond` a `Wait` frame holds: a word of the frame pointing to a Cond whose
    /// notify list holds this goroutine's sudog.
    pub fn cond_of(
        &self,
        gp: u64,
        lo: u64,
        hi: u64,
        sudogs: &mut HashSet<u64>,
        waiters: &mut HashMap<u64, u64>,
    ) -> Option<u64> {
        let o = self.off.sema;
        let len = usize::try_from(hi.checked_sub(lo)?.min(4096)).ok()?;
        let frame = self.mem.read_vec(lo, len).ok()?;
        for c in words(&frame) {
            if c == 0 || !c.is_multiple_of(8) {
                continue;
            }
            let Ok(mut s) = self
                .mem
                .read_ptr(c.wrapping_add(o.cond_notify).wrapping_add(o.notify_head))
            else {
                continue;
            };
            let mut n = 0usize;
            let mut list = Vec::new();
            let mut mine = false;
            while s != 0 && n < MAX_QUEUE {
                n = n.saturating_add(1);
                match self.mem.read_ptr(s.wrapping_add(o.sudog_g)) {
                    Ok(g) => {
                        mine |= g == gp;
                        list.push((s, g));
                    }
                    Err(_) => break,
                }
                s = self.mem.read_ptr(s.wrapping_add(o.sudog_next)).unwrap_or(0);
            }
            if mine {
                for (s, g) in list {
                    sudogs.insert(s);
                    waiters.insert(g, c);
                }
                return Some(c);
            }
        }
        None
    }
}
