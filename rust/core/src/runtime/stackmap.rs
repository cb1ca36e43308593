//! Which words of a parked goroutine's stack hold live pointers, from the compiler's stack
//! maps: for each frame, the pointer bitmaps of its locals and arguments at the frame's
//! `PCDATA_StackMapIndex` (`FUNCDATA_LocalsPointerMaps`, `FUNCDATA_ArgsPointerMaps`), and
//! the address-taken stack objects (`FUNCDATA_StackObjects`), read whole. Dead slots — left
//! over from earlier calls or from a goroutine that used the stack before — are skipped,
//! as the garbage collector skips them.

use crate::binary::pclntab::Pclntab;

const PTR: u64 = 8;
const PCDATA_STACK_MAP_INDEX: usize = 1;
const FUNCDATA_ARGS_POINTER_MAPS: usize = 0;
const FUNCDATA_LOCALS_POINTER_MAPS: usize = 1;
const FUNCDATA_STACK_OBJECTS: usize = 2;
/// A stack object record: off, size, ptrdata (int32 each) and gcdata offset (uint32).
const STACK_OBJECT_RECORD: usize = 16;
const MAX_STACK_OBJECTS: u64 = 1 << 12;

/// One physical frame: its pc (a return address, or the resume pc of a parked
/// goroutine's top frame), sp and fp.
#[derive(Debug, Clone, Copy)]
pub struct FrameSpan {
    pub pc: u64,
    pub sp: u64,
    pub fp: u64,
}

/// Calls `slot(addr)` for every live pointer slot of the frame and `range(lo, hi)` for every
/// stack object. Returns false when the pc is in no known function (the caller then scans
/// the frame whole); a function without maps has no pointers in its frame.
pub fn live_slots(
    tab: &Pclntab,
    bias: u64,
    frame: FrameSpan,
    mut slot: impl FnMut(u64),
    mut range: impl FnMut(u64, u64),
) -> bool {
    let pc = frame.pc.wrapping_sub(bias);
    let Some(f) = tab.find(pc) else {
        return false;
    };
    let mut target = pc;
    let mut index = -1;
    if target != f.entry() {
        target = target.wrapping_sub(1);
        index = f.pcdata(PCDATA_STACK_MAP_INDEX, target).unwrap_or(-1);
    }
    let index = index.max(0) as usize;
    let (sp, fp) = (frame.sp, frame.fp);
    // varp: below the return address and, when the frame has one, the saved frame pointer.
    let mut varp = fp.wrapping_sub(PTR);
    if varp > sp {
        varp = varp.wrapping_sub(PTR);
    }
    if varp > sp {
        if let Some(map) = f.funcdata(FUNCDATA_LOCALS_POINTER_MAPS) {
            bitmap(map, index, |nbit, i| {
                let bottom = varp.wrapping_sub(u64::from(nbit).wrapping_mul(PTR));
                slot(bottom.wrapping_add(u64::from(i).wrapping_mul(PTR)))
            });
        }
    }
    if f.args() > 0 {
        if let Some(map) = f.funcdata(FUNCDATA_ARGS_POINTER_MAPS) {
            bitmap(map, index, |_, i| {
                slot(fp.wrapping_add(u64::from(i).wrapping_mul(PTR)))
            });
        }
    }
    if let Some(objs) = f.funcdata(FUNCDATA_STACK_OBJECTS) {
        let n = objs
            .get(..8)
            .and_then(|b| b.try_into().ok())
            .map_or(0, u64::from_le_bytes)
            .min(MAX_STACK_OBJECTS);
        for k in 0..n as usize {
            let at = k.saturating_mul(STACK_OBJECT_RECORD).saturating_add(8);
            let (Some(off), Some(size)) = (i32_at(objs, at), i32_at(objs, at.saturating_add(4)))
            else {
                break;
            };
            let base = if off >= 0 { fp } else { varp };
            let lo = base.wrapping_add(off as i64 as u64);
            if lo >= sp && size > 0 {
                range(lo, lo.wrapping_add(size as u64));
            }
        }
    }
    true
}

fn i32_at(b: &[u8], at: usize) -> Option<i32> {
    b.get(at..at.checked_add(4)?)?
        .try_into()
        .ok()
        .map(i32::from_le_bytes)
}

/// Bit `i` of bitmap `index` of a stackmap (`n int32, nbit int32, bytedata`): calls
/// `set(nbit, i)` for each set bit.
fn bitmap(map: &[u8], index: usize, mut set: impl FnMut(u32, u32)) {
    let (Some(n), Some(nbit)) = (i32_at(map, 0), i32_at(map, 4)) else {
        return;
    };
    if n <= 0 || nbit <= 0 || index >= n as usize {
        return;
    }
    let nbit = nbit as u32;
    let bytes = nbit.div_ceil(8) as usize;
    let start = index.checked_mul(bytes).and_then(|o| o.checked_add(8));
    let Some(bits) = start.and_then(|s| map.get(s..s.checked_add(bytes)?)) else {
        return;
    };
    for i in 0..nbit {
        if bits
            .get((i / 8) as usize)
            .is_some_and(|b| b & (1 << (i % 8)) != 0)
        {
            set(nbit, i);
        }
    }
}
