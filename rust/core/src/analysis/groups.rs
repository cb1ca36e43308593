//! Goroutines with identical stacks in one group: the same functions at the same file:line,
//! in the same order (argument values and addresses ignored). 100,000 goroutines parked in a
//! handful of places reduce to that handful; one hash per goroutine, no pairwise comparing.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use serde::Serialize;

use crate::analysis::blocking::{blocking_with, Blocking, WaitCollector};
use crate::analysis::heapgraph::HeapGraph;
use crate::runtime::{state_text, Frame, Goroutine, Runtime, UserCode};

/// One group of goroutines with the same stack.
#[derive(Debug, Clone, Serialize)]
pub struct Group {
    pub count: usize,
    /// Goroutine ids, ascending.
    pub ids: Vec<u64>,
    /// State as the runtime prints it between brackets (wait reason or status), and how
    /// many goroutines of the group are in it.
    pub states: BTreeMap<String, usize>,
    /// Fewest and most minutes waited, when known for some of the group.
    pub min_wait_minutes: Option<i64>,
    pub max_wait_minutes: Option<i64>,
    /// `F in goroutine N` creators without the goroutine: function names and counts.
    pub created_by: BTreeMap<String, usize>,
    /// pprof label sets (`k=v, k=v`) and counts.
    pub labels: BTreeMap<String, usize>,
    /// The group holds the goroutine that crashed.
    pub crashed: bool,
    /// One goroutine of the group, and its stack.
    pub representative: u64,
    pub frames: Vec<Frame>,
    /// The index in `frames` of the frame that best says where the goroutines are
    /// (`UserCode::where_frame`).
    pub where_frame: Option<usize>,
}

/// What makes two stacks the same: function, file and line of every frame, and whether it
/// was inlined.
type StackKey = Vec<(Arc<str>, Arc<str>, i32, bool)>;

/// Goroutines in groups, how many there are, and what kept the goroutine list itself from
/// being read (no goroutine stands for it in the groups).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Grouped {
    pub groups: Vec<Group>,
    pub total: usize,
    pub list_error: Option<String>,
}

/// Every goroutine in groups of identical stacks: the crashed goroutine's group first,
/// then the largest, ties by smallest id. Goroutines that could not be read entirely
/// form groups of their own (their stacks are not comparable).
pub fn groups(rt: &Runtime, crashed: Option<u64>) -> Grouped {
    groups_and(rt, crashed, |_| {})
}

/// The groups and what goroutines wait on, from one decoding pass.
pub fn triage(rt: &Runtime, crashed: Option<u64>) -> (Grouped, Blocking) {
    triage_with(rt, crashed, None)
}

/// `triage`, with goroutine leaks by reachability through the heap's object graph.
pub fn triage_with(
    rt: &Runtime,
    crashed: Option<u64>,
    graph: Option<&dyn Fn() -> std::sync::Arc<HeapGraph>>,
) -> (Grouped, Blocking) {
    let mut waits = WaitCollector::default();
    let grouped = groups_and(rt, crashed, |g| waits.add(rt, g));
    (grouped, blocking_with(rt, waits, graph))
}

/// `groups`, showing each goroutine to `also` as it is decoded.
fn groups_and(rt: &Runtime, crashed: Option<u64>, mut also: impl FnMut(&Goroutine)) -> Grouped {
    let mut index: HashMap<StackKey, usize> = HashMap::new();
    let mut groups: Vec<Group> = Vec::new();
    let mut total = 0usize;
    let mut list_error: Option<String> = None;
    rt.for_each_goroutine(true, |g: Goroutine| {
        // A record of the list itself (gp 0, id 0): no goroutine to count or group.
        if g.gp == 0 && g.id == 0 {
            if let Some(e) = g.error {
                list_error.get_or_insert(e);
                return;
            }
        }
        total = total.saturating_add(1);
        also(&g);
        let key: StackKey = g
            .frames
            .iter()
            .map(|f| {
                (
                    Arc::clone(&f.function),
                    Arc::clone(&f.file),
                    f.line,
                    f.inlined,
                )
            })
            .collect();
        let slot = if g.error.is_some() {
            None
        } else {
            index.get(&key).copied()
        };
        let i = match slot {
            Some(i) => i,
            None => {
                let i = groups.len();
                groups.push(Group {
                    count: 0,
                    ids: Vec::new(),
                    states: BTreeMap::new(),
                    min_wait_minutes: None,
                    max_wait_minutes: None,
                    created_by: BTreeMap::new(),
                    labels: BTreeMap::new(),
                    crashed: false,
                    representative: g.id,
                    frames: g.frames.clone(),
                    where_frame: None,
                });
                if g.error.is_none() {
                    index.insert(key, i);
                }
                i
            }
        };
        let Some(group) = groups.get_mut(i) else {
            return;
        };
        group.count = group.count.saturating_add(1);
        group.ids.push(g.id);
        bump(group.states.entry(state_text(&g)).or_default());
        if let Some(m) = g.wait_minutes {
            group.min_wait_minutes = Some(group.min_wait_minutes.map_or(m, |x| x.min(m)));
            group.max_wait_minutes = Some(group.max_wait_minutes.map_or(m, |x| x.max(m)));
        }
        if let Some(c) = &g.created_by {
            bump(group.created_by.entry(c.function.to_string()).or_default());
        }
        if !g.labels.is_empty() {
            let set: Vec<String> = g.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
            bump(group.labels.entry(set.join(", ")).or_default());
        }
        if crashed == Some(g.id) && g.error.is_none() {
            group.crashed = true;
            group.representative = g.id;
        }
    });
    let user = UserCode::of_binary(rt.binary());
    for g in &mut groups {
        g.ids.sort_unstable();
        g.where_frame = user.where_index(&g.frames);
    }
    groups.sort_by(|a, b| {
        b.crashed
            .cmp(&a.crashed)
            .then(b.count.cmp(&a.count))
            .then(a.ids.first().cmp(&b.ids.first()))
    });
    Grouped {
        groups,
        total,
        list_error,
    }
}

/// Counts one more (saturating: a counter of a garbage list must not panic).
fn bump(n: &mut usize) {
    *n = n.saturating_add(1);
}
