//! What `goscope heap` prints from the object graph: objects and bytes by type, size class or
//! root, retained sizes from the dominator tree, the path that keeps an object alive, and a
//! pprof profile whose stacks are those paths.

use std::collections::HashMap;
use std::sync::Arc;

use serde::Serialize;

use super::heapgraph::{HeapGraph, Step, TypedBy};
use crate::analysis::dominators::{immediate_dominators, retained_sizes, Csr};
use crate::analysis::pprof::ProfileBuilder;
use crate::runtime::heapwalk::HeapTotals;
use crate::runtime::types::TypeReader;
use crate::target::Memory;

/// Frames of a retaining path kept in a profile sample (the root and the objects nearest it,
/// then the object itself).
const MAX_PATH: usize = 24;
/// No path yet.
const NO_PATH: u32 = u32::MAX;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupBy {
    Type,
    SizeClass,
    Root,
}

impl GroupBy {
    pub fn parse(s: &str) -> Option<GroupBy> {
        match s {
            "type" => Some(GroupBy::Type),
            "sizeclass" | "size-class" | "class" => Some(GroupBy::SizeClass),
            "root" => Some(GroupBy::Root),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            GroupBy::Type => "type",
            GroupBy::SizeClass => "sizeclass",
            GroupBy::Root => "root",
        }
    }
}

/// One line of the report.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub name: String,
    pub objects: u64,
    pub bytes: u64,
    /// Of those, reachable from a root.
    pub reachable_objects: u64,
    pub reachable_bytes: u64,
    /// Bytes only this root keeps alive (by root only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retained: Option<u64>,
    /// Where the type came from, for a type (`header`, `span`, `pointer`, `code`, `none`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub typed_by: Option<TypedBy>,
    /// One object of the group.
    pub example: u64,
}

impl Row {
    /// Adds the counts of `other`.
    fn absorb(&mut self, other: &Row) {
        add(&mut self.objects, other.objects);
        add(&mut self.bytes, other.bytes);
        add(&mut self.reachable_objects, other.reachable_objects);
        add(&mut self.reachable_bytes, other.reachable_bytes);
    }
}

/// Adds to a statistic; saturating, as sizes come from the target.
fn add(total: &mut u64, n: u64) {
    *total = total.saturating_add(n);
}

/// An object that keeps much memory alive by itself.
#[derive(Debug, Clone, Serialize)]
pub struct Retainer {
    pub addr: u64,
    #[serde(rename = "type")]
    pub type_name: String,
    pub size: u64,
    pub retained: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub root: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct GraphTotals {
    pub objects: u64,
    pub bytes: u64,
    pub reachable_objects: u64,
    pub reachable_bytes: u64,
    /// Objects whose type is known, and their bytes.
    pub typed_objects: u64,
    pub typed_bytes: u64,
    pub roots: u64,
    pub pointers: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct HeapReport {
    pub by: &'static str,
    pub totals: GraphTotals,
    pub rows: Vec<Row>,
    /// Rows beyond `top`, summed.
    pub rest: Option<Row>,
    pub retainers: Vec<Retainer>,
    pub walk: HeapTotals,
    /// Whether roots were typed by DWARF.
    pub dwarf: bool,
    pub found: Option<String>,
    pub warnings: Vec<String>,
}

/// Why an object is alive.
#[derive(Debug, Clone, Serialize)]
pub struct Why {
    pub addr: u64,
    /// The object containing `addr`: start, size and type.
    pub object: Option<Step>,
    pub reachable: bool,
    pub retained: u64,
    /// From the root to the object.
    pub path: Vec<Step>,
    pub warnings: Vec<String>,
}

impl HeapGraph {
    /// Retained size of every node (the dominator tree's subtree sizes).
    pub fn retained(&self) -> Vec<u64> {
        let n = self.node_count();
        let idom = immediate_dominators(
            n,
            Csr {
                offsets: &self.offsets,
                targets: &self.targets,
            },
        );
        let base = self.object_base();
        let mut sizes = vec![0u64; n];
        for (i, o) in self.objects.iter().enumerate() {
            if let Some(s) = sizes.get_mut(base.saturating_add(i)) {
                *s = o.size;
            }
        }
        retained_sizes(&idom, &sizes)
    }

    pub fn report(&self, by: GroupBy, top: usize) -> HeapReport {
        let retained = self.retained();
        let base = self.object_base();
        let mut totals = GraphTotals {
            objects: self.objects.len() as u64,
            bytes: 0,
            reachable_objects: 0,
            reachable_bytes: 0,
            typed_objects: 0,
            typed_bytes: 0,
            roots: self.roots.len() as u64,
            pointers: self.targets.len() as u64,
        };
        // Grouped by a number (label, class and size, root) and named once per group: a
        // 2 GB heap has millions of objects and a few hundred groups.
        let mut groups: HashMap<(u64, u64), Row> = HashMap::new();
        for (i, o) in self.objects.iter().enumerate() {
            let live = self.reachable(i);
            add(&mut totals.bytes, o.size);
            if live {
                add(&mut totals.reachable_objects, 1);
                add(&mut totals.reachable_bytes, o.size);
            }
            if o.typed_by != TypedBy::None {
                add(&mut totals.typed_objects, 1);
                add(&mut totals.typed_bytes, o.size);
            }
            let key = match by {
                GroupBy::Type => (u64::from(o.label), 0),
                GroupBy::SizeClass if o.class == 0 => (0, 0),
                GroupBy::SizeClass => (u64::from(o.class), o.size),
                GroupBy::Root => (self.root_index_of(i).map_or(u64::MAX, |r| r as u64), 0),
            };
            let row = groups.entry(key).or_insert_with(|| Row {
                name: match by {
                    GroupBy::Type => self.label_name(o.label).to_string(),
                    GroupBy::SizeClass if o.class == 0 => "large objects".to_string(),
                    GroupBy::SizeClass => format!("size class {} ({} bytes)", o.class, o.size),
                    GroupBy::Root => match self.root_of(i) {
                        Some(r) => r.name.clone(),
                        None => "(unreachable)".to_string(),
                    },
                },
                objects: 0,
                bytes: 0,
                reachable_objects: 0,
                reachable_bytes: 0,
                retained: None,
                typed_by: (by == GroupBy::Type).then_some(o.typed_by),
                example: o.data_addr(),
            });
            add(&mut row.objects, 1);
            add(&mut row.bytes, o.size);
            if live {
                add(&mut row.reachable_objects, 1);
                add(&mut row.reachable_bytes, o.size);
            }
        }
        // Roots of one name (a global's words without symbols are each a root) are one row.
        let mut merged: HashMap<String, Row> = HashMap::new();
        for row in groups.into_values() {
            match merged.get_mut(&row.name) {
                Some(m) => m.absorb(&row),
                None => {
                    merged.insert(row.name.clone(), row);
                }
            }
        }
        let mut groups = merged;
        if by == GroupBy::Root {
            for (r, root) in self.roots.iter().enumerate() {
                if let Some(row) = groups.get_mut(&root.name) {
                    let own = retained.get(r.saturating_add(1)).copied().unwrap_or(0);
                    add(row.retained.get_or_insert(0), own);
                }
            }
        }
        let mut rows: Vec<Row> = groups.into_values().collect();
        rows.sort_by(|a, b| {
            b.bytes
                .cmp(&a.bytes)
                .then(b.objects.cmp(&a.objects))
                .then(a.name.cmp(&b.name))
        });
        let rest = (rows.len() > top).then(|| {
            let tail = rows.split_off(top);
            let mut sum = Row {
                name: format!("{} more", tail.len()),
                objects: 0,
                bytes: 0,
                reachable_objects: 0,
                reachable_bytes: 0,
                retained: None,
                typed_by: None,
                example: 0,
            };
            for r in tail {
                sum.absorb(&r);
            }
            sum
        });
        // The largest retainers without sorting every object.
        let keep = top.clamp(1, 20);
        let mut order: Vec<usize> = (0..self.objects.len()).collect();
        let by_retained = |i: &usize| {
            std::cmp::Reverse(retained.get(base.saturating_add(*i)).copied().unwrap_or(0))
        };
        if order.len() > keep {
            order.select_nth_unstable_by_key(keep.saturating_sub(1), by_retained);
            order.truncate(keep);
        }
        order.sort_by_key(by_retained);
        let retainers = order
            .into_iter()
            .take(top.min(20))
            .filter_map(|i| {
                let o = self.objects.get(i)?;
                let r = retained.get(base.saturating_add(i)).copied().unwrap_or(0);
                (r > 0).then(|| Retainer {
                    addr: o.data_addr(),
                    type_name: self.label_name(o.label).to_string(),
                    size: o.size,
                    retained: r,
                    root: self.root_of(i).map(|r| r.name.clone()),
                })
            })
            .collect();
        HeapReport {
            by: by.name(),
            totals,
            rows,
            rest,
            retainers,
            walk: self.walk.totals.clone(),
            dwarf: self.dwarf,
            found: self.walk.found.clone(),
            warnings: self
                .walk
                .warnings
                .iter()
                .chain(self.warnings.iter())
                .cloned()
                .collect(),
        }
    }

    /// The path from a root to the object containing `addr`.
    pub fn why(&self, addr: u64, types: Option<&TypeReader<Arc<dyn Memory>>>) -> Why {
        let mut out = Why {
            addr,
            object: None,
            reachable: false,
            retained: 0,
            path: Vec::new(),
            warnings: Vec::new(),
        };
        let Some(i) = self.object_at(addr) else {
            out.warnings
                .push(format!("{addr:#x} is not inside an allocated heap object"));
            return out;
        };
        let base = self.object_base();
        out.retained = self
            .retained()
            .get(base.saturating_add(i))
            .copied()
            .unwrap_or(0);
        out.reachable = self.reachable(i);
        out.path = self.path_to(i, types);
        out.object = self.objects.get(i).map(|o| Step::Object {
            addr: o.data_addr(),
            size: o.size,
            type_name: self.label_name(o.label).to_string(),
            typed_by: o.typed_by,
            via: None,
            at: None,
        });
        out
    }

    /// A pprof profile of the reachable objects, `inuse_objects` and `inuse_space`, whose
    /// sample stacks are the retaining paths: the object's type, the types along the way and
    /// the root at the bottom.
    pub fn pprof(&self) -> std::io::Result<Vec<u8>> {
        let mut p = ProfileBuilder::new(&[("inuse_objects", "count"), ("inuse_space", "bytes")]);
        p.comment(
            "goscope heap: sample stacks are paths from a root (bottom) to the object; \
             consecutive objects of one type (lists, trees) are one frame",
        );
        let base = self.object_base();
        let n = self.node_count();
        let labels = self.labels.len() as u32;
        let ellipsis = u32::MAX - 1;
        // Paths are interned: (the path of the parent, the node's frame) -> id, with the
        // path's parent and depth. A run of one type extends no path, and paths stop growing
        // at MAX_PATH frames (the root's end kept, "…", then the object's end), so lists
        // millions long cost one path, not millions.
        let mut paths: Vec<(u32, u32, u32)> = vec![(NO_PATH, NO_PATH, 0)]; // (parent, frame, depth)
        let mut index: crate::fasthash::FastMap<(u32, u32), u32> = Default::default();
        let mut pid = vec![NO_PATH; n];
        if let Some(first) = pid.first_mut() {
            *first = 0;
        }
        let frame_of = |node: usize| -> u32 {
            if node >= base {
                self.objects
                    .get(node.wrapping_sub(base))
                    .map_or(ellipsis, |o| o.label)
            } else {
                labels.saturating_add((node as u32).saturating_sub(1))
            }
        };
        let mut intern = |paths: &mut Vec<(u32, u32, u32)>, parent: u32, frame: u32| -> u32 {
            *index.entry((parent, frame)).or_insert_with(|| {
                let depth = paths
                    .get(parent as usize)
                    .map_or(0, |p| p.2)
                    .saturating_add(1);
                let id = paths.len() as u32;
                paths.push((parent, frame, depth));
                id
            })
        };
        let mut climb: Vec<u32> = Vec::new();
        for start in 1..n {
            if pid.get(start).is_some_and(|&p| p != NO_PATH) {
                continue;
            }
            // Up to the nearest node whose path is known, then back down.
            let mut v = start as u32;
            climb.clear();
            while pid.get(v as usize).is_some_and(|&p| p == NO_PATH) && climb.len() <= n {
                climb.push(v);
                v = self.parent_of(v);
            }
            let mut up = pid.get(v as usize).copied().unwrap_or(0);
            while let Some(node) = climb.pop() {
                let frame = frame_of(node as usize);
                let (last, depth) = paths.get(up as usize).map_or((NO_PATH, 0), |p| (p.1, p.2));
                let path = if last == frame && node as usize >= base {
                    up
                } else if depth as usize >= MAX_PATH {
                    // Keep the first MAX_PATH - 2 frames from the root, then "…".
                    let mut anc = up;
                    while paths
                        .get(anc as usize)
                        .is_some_and(|p| p.2 as usize > MAX_PATH - 2)
                    {
                        anc = paths.get(anc as usize).map_or(0, |p| p.0);
                    }
                    let cut = intern(&mut paths, anc, ellipsis);
                    intern(&mut paths, cut, frame)
                } else {
                    intern(&mut paths, up, frame)
                };
                if let Some(slot) = pid.get_mut(node as usize) {
                    *slot = path;
                }
                up = path;
            }
        }
        let mut totals: crate::fasthash::FastMap<u32, (i64, i64)> = Default::default();
        for (i, o) in self.objects.iter().enumerate() {
            if !self.reachable(i) {
                continue;
            }
            if let Some(&path) = pid.get(base.saturating_add(i)) {
                let t = totals.entry(path).or_insert((0, 0));
                t.0 = t.0.saturating_add(1);
                t.1 = t.1.saturating_add(o.size as i64);
            }
        }
        let mut samples: Vec<(u32, (i64, i64))> = totals.into_iter().collect();
        samples.sort_unstable_by_key(|s| s.0);
        let mut names: Vec<String> = Vec::with_capacity(MAX_PATH + 2);
        for (path, (count, bytes)) in samples {
            names.clear();
            let mut at = path;
            while at != 0 && names.len() <= MAX_PATH + 2 {
                let Some(&(parent, frame, _)) = paths.get(at as usize) else {
                    break;
                };
                names.push(if frame == ellipsis {
                    "…".to_string()
                } else if frame < labels {
                    self.label_name(frame).to_string()
                } else {
                    self.roots
                        .get(frame.wrapping_sub(labels) as usize)
                        .map_or_else(|| "?".to_string(), |r| format!("{} ({})", r.name, r.kind))
                });
                at = parent;
            }
            let stack: Vec<&str> = names.iter().map(String::as_str).collect();
            p.add(&stack, &[count, bytes]);
        }
        p.finish()
    }
}
