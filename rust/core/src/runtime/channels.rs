//! Channels, as parked goroutines see them: a goroutine parked in a channel operation or a
//! select keeps its `sudog`s on `g.waiting` (linked by `waitlink`), each naming the channel
//! (`sudog.c`); the channel's own `recvq` and `sendq` list every goroutine waiting on it.

use std::collections::HashSet;

use serde::Serialize;

use super::Runtime;
use crate::target::MemoryExt;

/// Bound: a queue longer than this is corrupt or huge.
const MAX_QUEUE: usize = 1 << 22;

/// One channel some goroutine waits on.
#[derive(Debug, Clone, Serialize)]
pub struct Channel {
    pub addr: u64,
    /// `chan T` as Go spells the element type, when the descriptor can be read.
    pub elem_type: Option<String>,
    /// Values buffered, and the buffer's size (0: unbuffered).
    pub len: u64,
    pub cap: u64,
    pub closed: bool,
    /// Goroutines parked receiving from / sending to it (its `recvq` / `sendq`).
    pub receivers: Vec<u64>,
    pub senders: Vec<u64>,
    /// A queue could not be read entirely.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Runtime {
    /// A channel: element type, buffer, closed, and the goroutines on its wait queues.
    pub fn channel(&self, c: u64) -> Channel {
        let o = self.off.chan;
        let mem = &self.mem;
        let elemtype = mem.read_ptr(c.wrapping_add(o.elemtype)).unwrap_or(0);
        let elem_type = self
            .types
            .as_ref()
            .filter(|_| elemtype != 0)
            .and_then(|t| t.name(elemtype).ok());
        let mut ch = Channel {
            addr: c,
            elem_type,
            len: mem.read_u64(c.wrapping_add(o.qcount)).unwrap_or(0),
            cap: mem.read_u64(c.wrapping_add(o.dataqsiz)).unwrap_or(0),
            closed: mem.read_u32(c.wrapping_add(o.closed)).is_ok_and(|v| v != 0),
            receivers: Vec::new(),
            senders: Vec::new(),
            error: None,
        };
        let (receivers, e1) = self.queue(c.wrapping_add(o.recvq_first));
        let (senders, e2) = self.queue(c.wrapping_add(o.sendq_first));
        ch.receivers = receivers;
        ch.senders = senders;
        ch.error = e1.or(e2);
        ch
    }

    /// The goroutine ids of a wait queue (`waitq.first`, linked by `sudog.next`).
    fn queue(&self, first: u64) -> (Vec<u64>, Option<String>) {
        let o = self.off.chan;
        let mut ids = Vec::new();
        let mut seen = HashSet::new();
        let Ok(mut sg) = self.mem.read_ptr(first) else {
            return (ids, Some(format!("wait queue at {first:#x} is unreadable")));
        };
        while sg != 0 {
            if !seen.insert(sg) || ids.len() >= MAX_QUEUE {
                return (ids, Some(format!("wait queue at {first:#x} is cyclic")));
            }
            // Long queues touch a page per waiter: keep the resident set small.
            if ids.len() % 4096 == 4095 {
                self.mem.trim();
            }
            let g = self.mem.read_ptr(sg.wrapping_add(o.sudog_g)).unwrap_or(0);
            if let Ok(id) = self.mem.read_u64(g.wrapping_add(self.off.g.goid)) {
                if g != 0 {
                    ids.push(id);
                }
            }
            sg = match self.mem.read_ptr(sg.wrapping_add(o.sudog_next)) {
                Ok(n) => n,
                Err(e) => return (ids, Some(format!("sudog at {sg:#x}: {e}"))),
            };
        }
        (ids, None)
    }
}
