//! Dominators of a rooted graph.
//!
//! The heap's object graph has tens of millions of nodes, so this uses the Semi-NCA algorithm
//! (semidominators by path compression, then immediate dominators as nearest common ancestors
//! in the DFS tree) with u32 node numbers in flat arrays and no recursion: a deep linked list
//! in the heap must not overflow the stack. Besides the input, the peak is about 28 bytes per
//! node and 4 per edge (less for edges that need no predecessor list).
//!
//! The graph is computed from a target's memory, so it is treated as untrusted: edges whose
//! offsets are out of order or out of range, and targets that are not nodes, are ignored.

/// Successors in compressed-sparse-row form: node i's successors are targets[offsets[i]..offsets[i+1]].
pub struct Csr<'a> {
    pub offsets: &'a [u64],
    pub targets: &'a [u32],
}

impl Csr<'_> {
    /// Node `i`'s successors, empty when its offsets are missing, reversed or past the end.
    fn successors(&self, i: usize) -> &[u32] {
        let (Some(&lo), Some(&hi)) = (self.offsets.get(i), self.offsets.get(i.wrapping_add(1)))
        else {
            return &[];
        };
        let lo = usize::try_from(lo).unwrap_or(usize::MAX);
        let hi = usize::try_from(hi)
            .unwrap_or(usize::MAX)
            .min(self.targets.len());
        self.targets.get(lo..hi).unwrap_or(&[])
    }
}

/// Reads an internal array; the fallback (the root, 0) only guards against a bug, and makes
/// every loop below stop because they all walk towards smaller numbers.
#[inline]
fn rd(s: &[u32], i: u32) -> u32 {
    s.get(i as usize).copied().unwrap_or(0)
}

#[inline]
fn wr(s: &mut [u32], i: u32, v: u32) {
    if let Some(x) = s.get_mut(i as usize) {
        *x = v;
    }
}

/// Offsets of the predecessor lists: u32 when the edges fit, which saves 4 bytes per node on
/// the graphs this is meant for.
trait Offset: Copy + Default {
    fn to_usize(self) -> usize;
    fn from_usize(x: usize) -> Self;
}

impl Offset for u32 {
    #[inline]
    fn to_usize(self) -> usize {
        self as usize
    }
    #[inline]
    fn from_usize(x: usize) -> Self {
        u32::try_from(x).unwrap_or(u32::MAX)
    }
}

impl Offset for u64 {
    #[inline]
    fn to_usize(self) -> usize {
        usize::try_from(self).unwrap_or(usize::MAX)
    }
    #[inline]
    fn from_usize(x: usize) -> Self {
        x as u64
    }
}

/// Node 0 is the virtual root (its successors are the graph's roots). Returns idom[i] for every node; u32::MAX for nodes unreachable from node 0; idom[0] = 0.
pub fn immediate_dominators(n: usize, succ: Csr<'_>) -> Vec<u32> {
    if n == 0 {
        return Vec::new();
    }
    if succ.targets.len() <= u32::MAX as usize {
        semi_nca::<u32>(n, &succ)
    } else {
        semi_nca::<u64>(n, &succ)
    }
}

/// Semi-NCA. A node's semidominator is the smallest of its predecessors numbered before it
/// in preorder, and of what path compression finds above its predecessors numbered after it
/// ("late" edges). Only late edges need predecessor lists, which keeps them small.
///
/// On big graphs nearly every step is a cache (and TLB) miss, and misses that do not depend on
/// each other overlap. So the DFS tests a bitset that stays in cache, the passes over edges
/// read successor lists sequentially and look up a whole batch of targets before using them,
/// and the semidominator loop touches the forest a few predecessors ahead.
fn semi_nca<O: Offset>(n: usize, succ: &Csr<'_>) -> Vec<u32> {
    // u32::MAX marks "unreachable", so it cannot also be a node.
    let limit = n.min(u32::MAX as usize);

    // `pre` maps node -> preorder number, and later becomes the result. `order` maps back;
    // `parent` is the DFS tree.
    let mut pre = vec![u32::MAX; n];
    wr(&mut pre, 0, 0);
    let mut seen = vec![0u64; limit.div_ceil(64)];
    if let Some(b) = seen.first_mut() {
        *b = 1;
    }
    let mut order: Vec<u32> = vec![0];
    let mut parent: Vec<u32> = vec![0];

    // Depth-first search that pushes a node's unvisited successors (first successor on top)
    // and visits them as they are popped; a popped node already visited is skipped. This
    // visits in the same order as the recursive search, but never comes back to a node's
    // successor list, which on a big graph costs two cache misses each time. `starts[d]` is
    // where the entries pushed by the node at depth d begin, so its parent is known.
    let mut pending: Vec<u32> = Vec::new();
    let mut starts: Vec<usize> = vec![0];
    let push_successors = |node: u32, pending: &mut Vec<u32>, seen: &[u64]| {
        for &t in succ.successors(node as usize).iter().rev() {
            let unseen = seen
                .get(t as usize / 64)
                .is_some_and(|b| b & (1u64 << (t % 64)) == 0);
            if unseen && (t as usize) < limit {
                pending.push(t);
            }
        }
    };
    push_successors(0, &mut pending, &seen);
    let mut cur: u32 = 0;
    while let Some(&start) = starts.last() {
        if pending.len() <= start {
            starts.pop();
            cur = rd(&parent, cur);
            continue;
        }
        let Some(t) = pending.pop() else { break };
        let Some(b) = seen.get_mut(t as usize / 64) else {
            continue;
        };
        let bit = 1u64 << (t % 64);
        if *b & bit != 0 {
            continue;
        }
        *b |= bit;
        let num = order.len() as u32;
        wr(&mut pre, t, num);
        order.push(t);
        parent.push(cur);
        starts.push(pending.len());
        cur = num;
        push_successors(t, &mut pending, &seen);
    }
    drop((pending, starts, seen));
    let k = order.len();

    // By preorder number: `semi` starts as the smallest predecessor numbered before the node
    // (its parent at worst); `bounds` counts the late edges into it, and a prefix sum turns the
    // counts into where each list of late predecessors ends. Edges into the root and self
    // loops never matter. Two arrays rather than one of pairs: each pass touches one of them
    // per edge, and the smaller the array the fewer the TLB misses.
    let mut semi: Vec<u32> = parent.clone();
    let mut bounds: Vec<O> = vec![O::default(); k.saturating_add(1)];
    let mut batch = EdgeBatch::new();
    batch.run(succ, &pre, limit, |ps, qs| {
        for (&p, &q) in ps.iter().zip(qs) {
            if q > p {
                if let Some(s) = semi.get_mut(q as usize) {
                    *s = (*s).min(p);
                }
            } else if q < p && q != 0 {
                if let Some(c) = bounds.get_mut(q as usize) {
                    *c = O::from_usize(c.to_usize().saturating_add(1));
                }
            }
        }
    });
    let mut total = 0usize;
    for c in bounds.iter_mut() {
        total = total.saturating_add(c.to_usize());
        *c = O::from_usize(total);
    }
    // Counting sort: filling each list backwards leaves its bound at the list's start.
    let mut preds = vec![0u32; total];
    let mut slots: Vec<(usize, u32)> = Vec::with_capacity(BATCH);
    batch.run(succ, &pre, limit, |ps, qs| {
        slots.clear();
        for (&p, &q) in ps.iter().zip(qs) {
            if q < p && q != 0 {
                if let Some(c) = bounds.get_mut(q as usize) {
                    let at = c.to_usize().wrapping_sub(1);
                    *c = O::from_usize(at);
                    slots.push((at, p));
                }
            }
        }
        for &(at, p) in &slots {
            if let Some(slot) = preds.get_mut(at) {
                *slot = p;
            }
        }
    });
    drop(slots);

    // Semidominators, in decreasing preorder. Nodes numbered above `w` are linked into a
    // forest whose paths are compressed: forest[v] = [ancestor, label], where the label is the
    // smallest semidominator on the path from v up to (not including) its forest root.
    let mut forest: Vec<[u32; 2]> = parent
        .iter()
        .zip(semi.iter())
        .map(|(&a, &s)| [a, s])
        .collect();
    let mut path: Vec<u32> = Vec::new();
    // Reads of the forest made only to have it in cache when the loop gets there.
    let mut warm = 0u32;
    for w in (1..k as u32).rev() {
        let lo = bounds.get(w as usize).map_or(0, |c| c.to_usize());
        let hi = bounds
            .get((w as usize).saturating_add(1))
            .map_or(0, |c| c.to_usize());
        let mut s = rd(&semi, w);
        for at in (lo..hi).rev() {
            let ahead = preds.get(at.wrapping_sub(16)).copied().unwrap_or(0);
            warm ^= forest.get(ahead as usize).map_or(0, |f| f[0]);
            let v = preds.get(at).copied().unwrap_or(0);
            s = s.min(eval(v, w, &mut forest, &mut path));
        }
        wr(&mut semi, w, s);
        if let Some(f) = forest.get_mut(w as usize) {
            f[1] = s;
        }
    }
    std::hint::black_box(warm);
    drop((forest, path, preds, bounds));

    // The immediate dominator is the nearest ancestor of the DFS parent that is not below the
    // semidominator; ancestors have smaller numbers, so it is final when it is read.
    let mut idom = parent;
    for w in 1..k as u32 {
        let s = rd(&semi, w);
        let mut d = rd(&idom, w);
        while d > s {
            d = rd(&idom, d);
        }
        wr(&mut idom, w, d);
    }

    // Back from preorder numbers to nodes, in place of `pre`.
    for p in pre.iter_mut() {
        if *p != u32::MAX {
            *p = rd(&order, rd(&idom, *p));
        }
    }
    pre
}

const BATCH: usize = 1024;

/// Walks the reached edges (u -> t) in the order of u, handing them over as preorder numbers
/// (p, q) in batches. Looking up all of a batch's q before any is used lets those cache misses
/// overlap, which on a random graph makes an edge pass several times faster.
struct EdgeBatch {
    targets: Vec<u32>,
    ps: Vec<u32>,
    qs: Vec<u32>,
}

impl EdgeBatch {
    fn new() -> Self {
        EdgeBatch {
            targets: Vec::with_capacity(BATCH),
            ps: Vec::with_capacity(BATCH),
            qs: Vec::with_capacity(BATCH),
        }
    }

    /// Edges to targets that are not nodes come out with q = u32::MAX, which no caller uses.
    fn run(
        &mut self,
        succ: &Csr<'_>,
        pre: &[u32],
        limit: usize,
        mut f: impl FnMut(&[u32], &[u32]),
    ) {
        self.targets.clear();
        self.ps.clear();
        for (node, &p) in pre.iter().enumerate().take(limit) {
            if p == u32::MAX {
                continue;
            }
            for &t in succ.successors(node) {
                self.targets.push(t);
                self.ps.push(p);
                if self.targets.len() == BATCH {
                    self.flush(pre, limit, &mut f);
                }
            }
        }
        self.flush(pre, limit, &mut f);
    }

    fn flush(&mut self, pre: &[u32], limit: usize, f: &mut impl FnMut(&[u32], &[u32])) {
        self.qs.clear();
        self.qs.extend(self.targets.iter().map(|&t| {
            if (t as usize) < limit {
                rd_or_max(pre, t)
            } else {
                u32::MAX
            }
        }));
        f(&self.ps, &self.qs);
        self.targets.clear();
        self.ps.clear();
    }
}

#[inline]
fn rd_or_max(s: &[u32], i: u32) -> u32 {
    s.get(i as usize).copied().unwrap_or(u32::MAX)
}

/// The smallest semidominator on the forest path above the linked node `v` (every node
/// numbered above `w` is linked). Compresses the path on the way, iteratively: ancestors
/// have smaller numbers, so the walk ends even on corrupt state.
#[inline]
fn eval(v: u32, w: u32, forest: &mut [[u32; 2]], path: &mut Vec<u32>) -> u32 {
    let get = |f: &[[u32; 2]], i: u32| f.get(i as usize).copied().unwrap_or([0, 0]);
    path.clear();
    let mut x = v;
    loop {
        let a = get(forest, x)[0];
        if a <= w || a >= x {
            break;
        }
        path.push(x);
        x = a;
    }
    // Top-down: each node takes its ancestor's ancestor and the smaller label, the ancestor's
    // path being compressed already.
    for &y in path.iter().rev() {
        let [a, l] = get(forest, y);
        let [aa, al] = get(forest, a);
        if let Some(f) = forest.get_mut(y as usize) {
            *f = [aa, l.min(al)];
        }
    }
    get(forest, v)[1]
}

/// Retained size of every node: its own size plus the retained sizes of the nodes it immediately dominates (unreachable nodes: 0). sizes.len() == idom.len().
///
/// Children are finished before their dominator by counting each node's unfinished children,
/// which needs no tree structure beyond `idom`. A malformed `idom` (cycles, out-of-range
/// entries) cannot make this loop forever: every node is finished at most once.
pub fn retained_sizes(idom: &[u32], sizes: &[u64]) -> Vec<u64> {
    let n = idom.len();
    // The dominator of node i, when it is a real other node.
    let up = |i: usize| -> Option<usize> {
        let d = *idom.get(i)?;
        let d = d as usize;
        (i != 0 && d != i && d < n && idom.get(d).is_some_and(|&x| x != u32::MAX)).then_some(d)
    };
    let mut retained: Vec<u64> = (0..n)
        .map(|i| match idom.get(i) {
            Some(&d) if d != u32::MAX => sizes.get(i).copied().unwrap_or(0),
            _ => 0,
        })
        .collect();
    let mut pending = vec![0u32; n];
    for i in 0..n {
        if let Some(c) = up(i).and_then(|d| pending.get_mut(d)) {
            *c = c.saturating_add(1);
        }
    }
    let mut ready: Vec<u32> = (0..n)
        .filter(|&i| pending.get(i) == Some(&0))
        .map(|i| i as u32)
        .collect();
    while let Some(i) = ready.pop() {
        let i = i as usize;
        let Some(d) = up(i) else { continue };
        let r = retained.get(i).copied().unwrap_or(0);
        if let Some(t) = retained.get_mut(d) {
            *t = t.saturating_add(r);
        }
        if let Some(c) = pending.get_mut(d) {
            *c = c.saturating_sub(1);
            if *c == 0 {
                ready.push(d as u32);
            }
        }
    }
    retained
}

#[cfg(test)]
#[allow(clippy::arithmetic_side_effects)]
mod tests {
    use super::*;

    const U: u32 = u32::MAX;

    /// Builds a CSR from an edge list.
    fn csr(n: usize, edges: &[(u32, u32)]) -> (Vec<u64>, Vec<u32>) {
        let mut adj = vec![Vec::new(); n];
        for &(a, b) in edges {
            adj[a as usize].push(b);
        }
        let mut offsets = vec![0u64];
        let mut targets = Vec::new();
        for list in adj {
            targets.extend(list);
            offsets.push(targets.len() as u64);
        }
        (offsets, targets)
    }

    fn idoms(n: usize, edges: &[(u32, u32)]) -> Vec<u32> {
        let (offsets, targets) = csr(n, edges);
        immediate_dominators(
            n,
            Csr {
                offsets: &offsets,
                targets: &targets,
            },
        )
    }

    /// Dominator sets by the textbook dataflow fixpoint (dom(v) = {v} ∪ ⋂ dom(preds)),
    /// then the immediate dominator as the strict dominator dominated by all the others.
    fn naive(n: usize, edges: &[(u32, u32)]) -> Vec<u32> {
        let mut reach = vec![false; n];
        reach[0] = true;
        let mut changed = true;
        while changed {
            changed = false;
            for &(a, b) in edges {
                if reach[a as usize] && !reach[b as usize] {
                    reach[b as usize] = true;
                    changed = true;
                }
            }
        }
        let mut dom: Vec<Vec<bool>> = (0..n)
            .map(|v| {
                if v == 0 {
                    (0..n).map(|u| u == 0).collect()
                } else {
                    vec![true; n]
                }
            })
            .collect();
        let mut changed = true;
        while changed {
            changed = false;
            for v in 1..n {
                if !reach[v] {
                    continue;
                }
                let mut new = vec![true; n];
                for &(a, b) in edges {
                    if b as usize == v && reach[a as usize] {
                        for u in 0..n {
                            new[u] &= dom[a as usize][u];
                        }
                    }
                }
                new[v] = true;
                if new != dom[v] {
                    dom[v] = new;
                    changed = true;
                }
            }
        }
        (0..n)
            .map(|v| {
                if v == 0 {
                    return 0;
                }
                if !reach[v] {
                    return U;
                }
                let strict: Vec<usize> = (0..n).filter(|&u| u != v && dom[v][u]).collect();
                // The immediate dominator is the strict dominator with the most dominators.
                *strict
                    .iter()
                    .max_by_key(|&&u| dom[u].iter().filter(|&&b| b).count())
                    .unwrap() as u32
            })
            .collect()
    }

    /// splitmix64: a small deterministic generator for the random graphs.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
    }

    #[test]
    fn diamond() {
        // 0 -> 1 -> {2, 3} -> 4
        let e = [(0, 1), (1, 2), (1, 3), (2, 4), (3, 4)];
        assert_eq!(idoms(5, &e), vec![0, 0, 1, 1, 1]);
    }

    #[test]
    fn simple_loop() {
        // 0 -> 1 -> 2 -> 3 -> 1, 2 -> 4, 3 -> 5
        let e = [(0, 1), (1, 2), (2, 3), (3, 1), (2, 4), (3, 5)];
        assert_eq!(idoms(6, &e), vec![0, 0, 1, 2, 2, 3]);
    }

    #[test]
    fn lengauer_tarjan_paper_example() {
        // The flow graph of Lengauer & Tarjan (1979), figure 1, with R as node 1 under the
        // virtual root. Nodes: R=1 A=2 B=3 C=4 D=5 E=6 F=7 G=8 H=9 I=10 J=11 K=12 L=13.
        let (r, a, b, c, d, e, f, g, h, i, j, k, l) = (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13);
        let edges = [
            (0, r),
            (r, a),
            (r, b),
            (r, c),
            (a, d),
            (b, a),
            (b, d),
            (b, e),
            (c, f),
            (c, g),
            (d, l),
            (e, h),
            (f, i),
            (g, i),
            (g, j),
            (h, e),
            (h, k),
            (i, k),
            (j, i),
            (k, i),
            (k, r),
            (l, h),
        ];
        let got = idoms(14, &edges);
        // From the paper: C dominates F and G, G dominates J, D dominates L; R the rest.
        let mut want = vec![r; 14];
        want[0] = 0;
        want[r as usize] = 0;
        want[f as usize] = c;
        want[g as usize] = c;
        want[j as usize] = g;
        want[l as usize] = d;
        assert_eq!(got, want);
        assert_eq!(got, naive(14, &edges));
    }

    #[test]
    fn unreachable_and_self_loops() {
        // 3 and 4 only point at each other and into the reachable part; 2 has a self loop.
        let e = [
            (0, 1),
            (1, 1),
            (1, 2),
            (2, 2),
            (3, 4),
            (4, 3),
            (4, 2),
            (0, 0),
        ];
        assert_eq!(idoms(5, &e), vec![0, 0, 1, U, U]);
        assert_eq!(idoms(1, &[]), vec![0]);
        assert_eq!(idoms(0, &[]), Vec::<u32>::new());
        assert_eq!(idoms(3, &[]), vec![0, U, U]);
    }

    #[test]
    fn edges_into_the_root() {
        // Node 2 is reached via 1 and via a path that goes back through 0: still under 1.
        let e = [(0, 1), (1, 2), (2, 0), (1, 0)];
        assert_eq!(idoms(3, &e), vec![0, 0, 1]);
    }

    #[test]
    fn long_chain_and_duplicate_edges() {
        // A linked list deeper than any call stack would allow, each link stored three times,
        // plus an edge from the root to the middle that cuts the chain's dominance in two.
        let n = 300_000u32;
        let mut e: Vec<(u32, u32)> = (0..n - 1)
            .flat_map(|i| [(i, i + 1), (i, i + 1), (i, i + 1)])
            .collect();
        e.push((0, n / 2));
        let got = idoms(n as usize, &e);
        for (i, &d) in got.iter().enumerate().skip(1) {
            let want = if i as u32 == n / 2 { 0 } else { i as u32 - 1 };
            assert_eq!(d, want, "node {i}");
        }
        let sizes = vec![1u64; n as usize];
        let r = retained_sizes(&got, &sizes);
        assert_eq!(r[0], n as u64);
        assert_eq!(r[1], (n / 2 - 1) as u64);
        assert_eq!(r[(n / 2) as usize], (n - n / 2) as u64);
    }

    #[test]
    fn malformed_input_does_not_panic() {
        // Targets past n, reversed offsets, offsets past the end, too few offsets.
        let targets = [1u32, 7, 2, 99, u32::MAX, 3, 1];
        let offsets = [0u64, 3, 2, 100, u64::MAX];
        let got = immediate_dominators(
            5,
            Csr {
                offsets: &offsets,
                targets: &targets,
            },
        );
        // Node 0 -> 1, 2 (7 is not a node). Node 1's range 3..2 is reversed: ignored. Node
        // 2's range 2..100 is clamped to 2..7: 2 (self), 3, 1. Node 3 has no end offset.
        assert_eq!(got, vec![0, 0, 0, 2, U]);

        let got = immediate_dominators(
            4,
            Csr {
                offsets: &[],
                targets: &[],
            },
        );
        assert_eq!(got, vec![0, U, U, U]);
        let got = immediate_dominators(
            2,
            Csr {
                offsets: &[5, 1],
                targets: &[1, 1],
            },
        );
        assert_eq!(got, vec![0, U]);
    }

    #[test]
    fn random_garbage_reads_as_its_valid_edges() {
        // Random offsets (often reversed or past the end) and targets (often not nodes): the
        // result is that of the edges the documented rule keeps.
        let mut rng = Rng(99);
        for _ in 0..300 {
            let n = 1 + rng.below(30) as usize;
            let targets: Vec<u32> = (0..rng.below(80))
                .map(|_| match rng.below(4) {
                    0 => rng.next() as u32,
                    _ => rng.below(n as u64 + 3) as u32,
                })
                .collect();
            let mut offsets: Vec<u64> = (0..rng.below(n as u64 + 3))
                .map(|_| rng.below(targets.len() as u64 + 5))
                .collect();
            if rng.below(2) == 0 {
                offsets.sort_unstable();
            }
            let mut edges = Vec::new();
            for i in 0..n {
                if let (Some(&lo), Some(&hi)) = (offsets.get(i), offsets.get(i + 1)) {
                    let hi = (hi as usize).min(targets.len());
                    for &t in targets.get(lo as usize..hi).unwrap_or(&[]) {
                        if (t as usize) < n {
                            edges.push((i as u32, t));
                        }
                    }
                }
            }
            let got = immediate_dominators(
                n,
                Csr {
                    offsets: &offsets,
                    targets: &targets,
                },
            );
            assert_eq!(got, naive(n, &edges), "{offsets:?} {targets:?}");
        }
    }

    #[test]
    fn random_graphs_match_naive() {
        let mut rng = Rng(7);
        for round in 0..300 {
            let n = 2 + rng.below(60) as usize;
            let m = rng.below(n as u64 * (1 + round % 4)) as usize;
            let mut edges: Vec<(u32, u32)> = (0..m)
                .map(|_| (rng.below(n as u64) as u32, rng.below(n as u64) as u32))
                .collect();
            // A few roots so much of the graph is reachable.
            for _ in 0..rng.below(3) + 1 {
                edges.push((0, rng.below(n as u64) as u32));
            }
            assert_eq!(idoms(n, &edges), naive(n, &edges), "graph {edges:?}");
        }
    }

    #[test]
    fn retained_sizes_by_hand() {
        // The diamond: 1 retains 2, 3 and 4; 2 and 3 retain only themselves.
        let idom = idoms(5, &[(0, 1), (1, 2), (1, 3), (2, 4), (3, 4)]);
        let sizes = [0, 10, 20, 30, 40];
        assert_eq!(retained_sizes(&idom, &sizes), vec![100, 100, 20, 30, 40]);
        // Unreachable nodes retain nothing, and are not counted by anyone.
        let idom = [0, 0, 1, U];
        assert_eq!(retained_sizes(&idom, &[1, 2, 3, 4]), vec![6, 5, 3, 0]);
        // Short sizes, garbage idoms and a cycle: no panic, no endless loop.
        let idom = [0, 9, 3, 2, 0];
        assert_eq!(retained_sizes(&idom, &[1, 1]), vec![1, 1, 0, 0, 0]);
        assert_eq!(retained_sizes(&[], &[]), Vec::<u64>::new());
        assert_eq!(
            retained_sizes(&[0, 0], &[1, u64::MAX]),
            vec![u64::MAX, u64::MAX]
        );
    }

    /// About a million nodes: a backbone from the root plus random edges. Checks that for every
    /// edge u -> v the immediate dominator of v dominates u (true of any dominator tree), and
    /// that the root retains everything. Timed by hand in release mode.
    #[test]
    fn a_million_random_nodes() {
        let n = 1 << 20;
        let mut rng = Rng(42);
        let mut edges = Vec::with_capacity(n * 4);
        for v in 1..n as u32 {
            // Each node hangs off an earlier one, so everything is reachable.
            edges.push((rng.below(v as u64) as u32, v));
            for _ in 0..3 {
                edges.push((v, rng.below(n as u64) as u32));
            }
        }
        let (offsets, targets) = csr(n, &edges);
        let start = std::time::Instant::now();
        let idom = immediate_dominators(
            n,
            Csr {
                offsets: &offsets,
                targets: &targets,
            },
        );
        let sizes: Vec<u64> = (0..n as u64).map(|i| i % 7 + 1).collect();
        let retained = retained_sizes(&idom, &sizes);
        eprintln!("{n} nodes, {} edges: {:?}", edges.len(), start.elapsed());

        let mut depth = vec![0u32; n];
        // Depths by repeated relaxation would be slow; compute them along the dominator tree
        // by memoised walks.
        let mut stack = Vec::new();
        for v in 1..n {
            let mut x = v;
            while x != 0 && depth[x] == 0 {
                stack.push(x);
                x = idom[x] as usize;
            }
            let mut d = depth[x];
            while let Some(y) = stack.pop() {
                d += 1;
                depth[y] = d;
            }
        }
        let dominates = |a: usize, mut b: usize| {
            while depth[b] > depth[a] {
                b = idom[b] as usize;
            }
            a == b
        };
        for &(u, v) in &edges {
            let (u, v) = (u as usize, v as usize);
            if v != 0 {
                assert!(dominates(idom[v] as usize, u), "edge {u} -> {v}");
            }
        }
        assert_eq!(retained[0], sizes.iter().sum::<u64>());
    }
}
