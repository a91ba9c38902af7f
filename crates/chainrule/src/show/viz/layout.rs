//! A layered (Sugiyama-style) layout, left to right, for drawings of a graph.
//!
//! The steps are the classic ones:
//! 1. **Layers.** A node's layer is the length of the longest path from a leaf to it, so leaves
//!    sit at the left and the output at the right. A box marked [`BoxSpec::hug_user`] (a
//!    constant) is moved to the layer just before its first user, so it sits beside it.
//! 2. **Edge labels and long edges.** Between two layers lies a column for edge labels. An edge is
//!    split into a chain of small "dummy" items, one per column it crosses; the item in a label
//!    column nearest the middle of the edge carries the label. Labels thus take part in the
//!    layout like boxes, and never overlap a box or each other.
//! 3. **Order.** Items are ordered within each column by a few barycenter sweeps, down and up,
//!    keeping the order with the fewest crossings.
//! 4. **Coordinates.** Each column is as wide as its widest item. Vertical positions are pulled
//!    towards the mean of the neighbours' positions, a few times in each direction, and items are
//!    then placed as close to where they want to be as their order and sizes allow.
//!
//! Everything is deterministic: the same input gives the same coordinates.

/// What the layout needs to know about one box.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BoxSpec {
    /// The box's width.
    pub width: f64,
    /// The box's height.
    pub height: f64,
    /// Whether a leaf box should sit in the layer just before its first user instead of at the
    /// far left (used for constants).
    pub hug_user: bool,
}

/// What the layout needs to know about one edge.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EdgeSpec {
    /// Index of the source box.
    pub from: usize,
    /// Index of the target box; must be greater than `from`.
    pub to: usize,
    /// Width of the edge's label.
    pub label_width: f64,
    /// Height of the edge's label.
    pub label_height: f64,
}

/// An axis-aligned rectangle: top-left corner and size.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rect {
    /// Left side.
    pub x: f64,
    /// Top side.
    pub y: f64,
    /// Width.
    pub width: f64,
    /// Height.
    pub height: f64,
}

impl Rect {
    /// The right side.
    pub fn right(&self) -> f64 {
        self.x + self.width
    }
    /// The bottom side.
    pub fn bottom(&self) -> f64 {
        self.y + self.height
    }
    /// The vertical middle.
    pub fn center_y(&self) -> f64 {
        self.y + self.height / 2.0
    }
    /// Whether the two rectangles share some area (touching sides do not count).
    pub fn overlaps(&self, other: &Rect) -> bool {
        self.x < other.right()
            && other.x < self.right()
            && self.y < other.bottom()
            && other.y < self.bottom()
    }
}

/// The route of one edge.
#[derive(Clone, Debug, PartialEq)]
pub struct PlacedEdge {
    /// Waypoints from the right side of the source to the left side of the target, with `x`
    /// strictly increasing. The curve should leave and enter every waypoint horizontally.
    pub points: Vec<(f64, f64)>,
    /// Where the label goes; the route passes through its middle.
    pub label: Rect,
}

/// The result of [`layered`]: every box and every edge placed, with `(0, 0)` at the top left.
#[derive(Clone, Debug, PartialEq)]
pub struct Layout {
    /// The layer of each box (0 is the leftmost).
    pub layers: Vec<usize>,
    /// The rectangle of each box, in the order the boxes were given.
    pub nodes: Vec<Rect>,
    /// The route of each edge, in the order the edges were given.
    pub edges: Vec<PlacedEdge>,
    /// The width of the whole drawing.
    pub width: f64,
    /// The height of the whole drawing.
    pub height: f64,
}

/// Horizontal room between two columns, for the curves...
const COLUMN_GAP: f64 = 26.0;
/// ... plus this much per unit of the largest vertical distance a curve covers there...
const STEEPNESS_ROOM: f64 = 0.2;
/// ... up to this much.
const MAX_COLUMN_GAP: f64 = 80.0;
/// Vertical room between two boxes of the same column.
const BOX_GAP: f64 = 22.0;
/// Vertical room between a box and an edge passing by it.
const BOX_EDGE_GAP: f64 = 12.0;
/// Vertical room between two edges or labels.
const EDGE_GAP: f64 = 5.0;
/// The height an edge passing through a column takes.
const EDGE_THICKNESS: f64 = 4.0;
/// The most vertical room between the ends of two edges at the side of a box.
const PORT_SPACING: f64 = 10.0;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Box(usize),
    Pass,
    Label,
}

#[derive(Clone, Debug)]
struct Item {
    rank: usize,
    width: f64,
    height: f64,
    kind: Kind,
    /// For a dummy, the edge it belongs to.
    edge: Option<usize>,
    up: Vec<usize>,
    down: Vec<usize>,
}

/// Lays out `boxes` and `edges` left to right in layers.
///
/// # Panics
/// If an edge refers to a box that does not exist, or does not go from a box to a later one
/// (`from < to`: boxes must come in topological order).
pub fn layered(boxes: &[BoxSpec], edges: &[EdgeSpec]) -> Layout {
    let n = boxes.len();
    for e in edges {
        assert!(
            e.from < e.to && e.to < n,
            "edge {} -> {} does not go forward between existing boxes",
            e.from,
            e.to
        );
    }
    let layers = assign_layers(boxes, edges);

    // Items: the boxes first (item i is box i), then each edge's chain of dummies.
    let mut items: Vec<Item> = boxes
        .iter()
        .enumerate()
        .map(|(i, b)| Item {
            rank: 2 * layers[i],
            width: b.width,
            height: b.height,
            kind: Kind::Box(i),
            edge: None,
            up: Vec::new(),
            down: Vec::new(),
        })
        .collect();
    let mut chains: Vec<Vec<usize>> = Vec::with_capacity(edges.len());
    let mut label_items = Vec::with_capacity(edges.len());
    for (k, e) in edges.iter().enumerate() {
        let (lu, lv) = (layers[e.from], layers[e.to]);
        let label_rank = if (lu + lv) % 2 == 1 {
            lu + lv
        } else {
            lu + lv + 1
        };
        let mut chain = Vec::new();
        let mut prev = e.from;
        for rank in 2 * lu + 1..2 * lv {
            let id = items.len();
            let is_label = rank == label_rank;
            items.push(Item {
                rank,
                width: if is_label { e.label_width } else { 0.0 },
                height: if is_label {
                    e.label_height
                } else {
                    EDGE_THICKNESS
                },
                kind: if is_label { Kind::Label } else { Kind::Pass },
                edge: Some(k),
                up: vec![prev],
                down: Vec::new(),
            });
            items[prev].down.push(id);
            if is_label {
                label_items.push(id);
            }
            chain.push(id);
            prev = id;
        }
        items[prev].down.push(e.to);
        items[e.to].up.push(prev);
        chains.push(chain);
    }

    let rank_count = items.iter().map(|it| it.rank + 1).max().unwrap_or(0);
    let mut ranks: Vec<Vec<usize>> = vec![Vec::new(); rank_count];
    for (i, it) in items.iter().enumerate() {
        ranks[it.rank].push(i);
    }
    order_ranks(&items, &mut ranks);
    let ys = vertical_positions(&items, &ranks, &chains);

    // Columns.
    let col_width: Vec<f64> = ranks
        .iter()
        .map(|r| r.iter().map(|&i| items[i].width).fold(0.0, f64::max))
        .collect();
    // The gap after each column grows with the steepest curve crossing it, so that fans of
    // edges stay apart.
    let mut steepest = vec![0.0f64; rank_count];
    for (i, it) in items.iter().enumerate() {
        for &j in &it.down {
            steepest[it.rank] = steepest[it.rank].max((ys[i] - ys[j]).abs());
        }
    }
    let mut col_left = Vec::with_capacity(rank_count);
    let mut x = 0.0;
    for (r, w) in col_width.iter().enumerate() {
        col_left.push(x);
        x += w;
        if r + 1 < rank_count {
            x += (COLUMN_GAP + STEEPNESS_ROOM * steepest[r]).min(MAX_COLUMN_GAP);
        }
    }
    let width = x;

    let top = items
        .iter()
        .enumerate()
        .map(|(i, it)| ys[i] - it.height / 2.0)
        .fold(f64::INFINITY, f64::min);
    let top = if top.is_finite() { top } else { 0.0 };
    let bottom = items
        .iter()
        .enumerate()
        .map(|(i, it)| ys[i] + it.height / 2.0)
        .fold(f64::NEG_INFINITY, f64::max);
    let height = if bottom.is_finite() {
        bottom - top
    } else {
        0.0
    };
    let y_of = |i: usize| ys[i] - top;
    let rect_of = |i: usize| {
        let it = &items[i];
        Rect {
            x: col_left[it.rank] + (col_width[it.rank] - it.width) / 2.0,
            y: y_of(i) - it.height / 2.0,
            width: it.width,
            height: it.height,
        }
    };
    let nodes: Vec<Rect> = (0..n).map(rect_of).collect();

    // Ports: the ends of a box's edges are spread along its side, in the order of the items
    // they lead to, so that two edges between the same boxes (x * x) stay apart.
    let mut out_port = vec![0.0; edges.len()];
    let mut in_port = vec![0.0; edges.len()];
    let mut outgoing: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut incoming: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (k, e) in edges.iter().enumerate() {
        outgoing[e.from].push(k);
        incoming[e.to].push(k);
    }
    let spread =
        |list: &mut Vec<usize>, key: &dyn Fn(usize) -> f64, rect: &Rect, port: &mut [f64]| {
            list.sort_by(|&a, &b| key(a).total_cmp(&key(b)).then(a.cmp(&b)));
            let m = list.len();
            if m == 0 {
                return;
            }
            let step = if m > 1 {
                ((rect.height - 10.0).max(0.0) / (m - 1) as f64).min(PORT_SPACING)
            } else {
                0.0
            };
            for (j, &k) in list.iter().enumerate() {
                port[k] = rect.center_y() + (j as f64 - (m - 1) as f64 / 2.0) * step;
            }
        };
    for i in 0..n {
        let first = |k: usize| y_of(chains[k][0]);
        let last = |k: usize| y_of(*chains[k].last().expect("every edge has a label item"));
        spread(&mut outgoing[i], &first, &nodes[i], &mut out_port);
        spread(&mut incoming[i], &last, &nodes[i], &mut in_port);
    }

    let placed_edges = edges
        .iter()
        .enumerate()
        .map(|(k, e)| {
            let src = nodes[e.from];
            let dst = nodes[e.to];
            let mut points = vec![(src.right(), out_port[k])];
            let src_col = items[e.from].rank;
            let col_right = col_left[src_col] + col_width[src_col];
            if col_right - src.right() > 0.5 {
                points.push((col_right, out_port[k]));
            }
            for &i in &chains[k] {
                let r = items[i].rank;
                let y = y_of(i);
                points.push((col_left[r], y));
                if col_width[r] > 0.5 {
                    points.push((col_left[r] + col_width[r], y));
                }
            }
            let dst_col_left = col_left[items[e.to].rank];
            if dst.x - dst_col_left > 0.5 {
                points.push((dst_col_left, in_port[k]));
            }
            points.push((dst.x, in_port[k]));
            PlacedEdge {
                points,
                label: rect_of(label_items[k]),
            }
        })
        .collect();

    Layout {
        layers,
        nodes,
        edges: placed_edges,
        width,
        height,
    }
}

/// Longest path from a leaf, with hugging leaves moved next to their first user.
fn assign_layers(boxes: &[BoxSpec], edges: &[EdgeSpec]) -> Vec<usize> {
    let n = boxes.len();
    let mut preds: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut succs: Vec<Vec<usize>> = vec![Vec::new(); n];
    for e in edges {
        preds[e.to].push(e.from);
        succs[e.from].push(e.to);
    }
    let mut layer = vec![0; n];
    for i in 0..n {
        for &p in &preds[i] {
            layer[i] = layer[i].max(layer[p] + 1);
        }
    }
    for i in 0..n {
        if boxes[i].hug_user && preds[i].is_empty() {
            if let Some(first) = succs[i].iter().map(|&s| layer[s]).min() {
                layer[i] = first - 1;
            }
        }
    }
    layer
}

/// Reorders each rank by barycenter sweeps, keeping the order with the fewest crossings.
fn order_ranks(items: &[Item], ranks: &mut [Vec<usize>]) {
    let mut pos = vec![0usize; items.len()];
    let set_pos = |ranks: &[Vec<usize>], pos: &mut [usize]| {
        for r in ranks {
            for (j, &i) in r.iter().enumerate() {
                pos[i] = j;
            }
        }
    };
    set_pos(ranks, &mut pos);
    let mut best = ranks.to_vec();
    let mut best_crossings = crossings(items, ranks, &pos);
    // Large graphs get fewer sweeps; the drawing of a huge graph is not meant to be read anyway.
    let rounds = if items.len() > 5_000 { 2 } else { 16 };
    for round in 0..rounds {
        if best_crossings == 0 {
            break;
        }
        let downward = round % 2 == 0;
        let order: Vec<usize> = if downward {
            (1..ranks.len()).collect()
        } else {
            (0..ranks.len().saturating_sub(1)).rev().collect()
        };
        for r in order {
            let mut keyed: Vec<(f64, usize, usize)> = ranks[r]
                .iter()
                .map(|&i| {
                    let nb = if downward {
                        &items[i].up
                    } else {
                        &items[i].down
                    };
                    let bary = if nb.is_empty() {
                        pos[i] as f64
                    } else {
                        nb.iter().map(|&j| pos[j] as f64).sum::<f64>() / nb.len() as f64
                    };
                    (bary, pos[i], i)
                })
                .collect();
            keyed.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            ranks[r] = keyed.into_iter().map(|k| k.2).collect();
            for (j, &i) in ranks[r].iter().enumerate() {
                pos[i] = j;
            }
        }
        // Swapping neighbours whose swap changes nothing lets the next ranks improve: allowed
        // every other round (the best order is kept anyway).
        transpose(items, ranks, &mut pos, 4, round % 2 == 1);
        let c = crossings(items, ranks, &pos);
        if c < best_crossings {
            best_crossings = c;
            best = ranks.to_vec();
        }
    }
    ranks.clone_from_slice(&best);
    set_pos(ranks, &mut pos);
    transpose(items, ranks, &mut pos, 8, false);
}

/// Swaps neighbours within a rank wherever that removes crossings (or, with `ties`, does not add
/// any), for at most `max_rounds` rounds or until nothing changes.
fn transpose(
    items: &[Item],
    ranks: &mut [Vec<usize>],
    pos: &mut [usize],
    max_rounds: usize,
    ties: bool,
) {
    // Crossings among the segments of `a` and `b` when `a` is just above `b`.
    let cross = |pos: &[usize], a: usize, b: usize| -> usize {
        let side = |na: &[usize], nb: &[usize]| {
            na.iter()
                .map(|&x| nb.iter().filter(|&&y| pos[x] > pos[y]).count())
                .sum::<usize>()
        };
        side(&items[a].up, &items[b].up) + side(&items[a].down, &items[b].down)
    };
    for _ in 0..max_rounds {
        let mut improved = false;
        for rank in ranks.iter_mut() {
            for j in 0..rank.len().saturating_sub(1) {
                let (a, b) = (rank[j], rank[j + 1]);
                let (now, swapped) = (cross(pos, a, b), cross(pos, b, a));
                if swapped < now || (ties && swapped == now && now > 0) {
                    rank.swap(j, j + 1);
                    pos[a] = j + 1;
                    pos[b] = j;
                    improved = true;
                }
            }
        }
        if !improved {
            break;
        }
    }
}

/// The number of pairs of edge segments that cross between adjacent ranks.
fn crossings(items: &[Item], ranks: &[Vec<usize>], pos: &[usize]) -> u64 {
    let mut total = 0;
    for r in 0..ranks.len().saturating_sub(1) {
        let mut pairs: Vec<(usize, usize)> = ranks[r]
            .iter()
            .flat_map(|&a| items[a].down.iter().map(move |&b| (pos[a], pos[b])))
            .collect();
        pairs.sort_unstable();
        // Count inversions of the lower ends with a Fenwick tree.
        let size = ranks[r + 1].len();
        let mut tree = vec![0u64; size + 1];
        for (seen, &(_, b)) in pairs.iter().enumerate() {
            // How many already seen have a lower end <= b.
            let mut at_most = 0;
            let mut k = b + 1;
            while k > 0 {
                at_most += tree[k];
                k &= k - 1;
            }
            total += seen as u64 - at_most;
            let mut k = b + 1;
            while k <= size {
                tree[k] += 1;
                k += k & k.wrapping_neg();
            }
        }
    }
    total
}

/// The room wanted between item `a` and the item `b` just below it.
fn gap(items: &[Item], a: usize, b: usize) -> f64 {
    let boxed = |i: usize| matches!(items[i].kind, Kind::Box(_));
    match (boxed(a), boxed(b)) {
        (true, true) => BOX_GAP,
        (true, false) | (false, true) => BOX_EDGE_GAP,
        (false, false) => EDGE_GAP,
    }
}

/// Vertical centres of every item, keeping each rank's order.
fn vertical_positions(items: &[Item], ranks: &[Vec<usize>], chains: &[Vec<usize>]) -> Vec<f64> {
    let mut ys = vec![0.0; items.len()];
    // Start with every rank stacked and centred on 0.
    for r in ranks {
        let total: f64 = r.iter().map(|&i| items[i].height).sum::<f64>()
            + r.windows(2).map(|w| gap(items, w[0], w[1])).sum::<f64>();
        let mut y = -total / 2.0;
        for (j, &i) in r.iter().enumerate() {
            if j > 0 {
                y += gap(items, r[j - 1], i);
            }
            ys[i] = y + items[i].height / 2.0;
            y += items[i].height;
        }
    }
    let mean = |ys: &[f64], nb: &[usize]| -> Option<f64> {
        (!nb.is_empty()).then(|| nb.iter().map(|&j| ys[j]).sum::<f64>() / nb.len() as f64)
    };
    let passes = if items.len() > 5_000 { 2 } else { 10 };
    let mut chain_mean = vec![0.0; chains.len()];
    for pass in 0..3 * passes {
        // First pull each item towards one side's neighbours, alternately; then towards both;
        // last, pull the dummies of each long edge towards one level, so that it runs straight.
        let downward = pass % 2 == 0;
        let both = pass >= passes;
        let straighten = pass >= 2 * passes;
        if straighten {
            for (m, chain) in chain_mean.iter_mut().zip(chains) {
                *m = chain.iter().map(|&i| ys[i]).sum::<f64>() / chain.len() as f64;
            }
        }
        let order: Vec<usize> = if downward {
            (0..ranks.len()).collect()
        } else {
            (0..ranks.len()).rev().collect()
        };
        for r in order {
            let desired: Vec<f64> = ranks[r]
                .iter()
                .map(|&i| {
                    let it = &items[i];
                    let want = if let (true, Some(k)) = (straighten, it.edge) {
                        Some(chain_mean[k])
                    } else if both {
                        let all: Vec<usize> = it.up.iter().chain(&it.down).copied().collect();
                        mean(&ys, &all)
                    } else if downward {
                        mean(&ys, &it.up)
                    } else {
                        mean(&ys, &it.down)
                    };
                    want.unwrap_or(ys[i])
                })
                .collect();
            place(items, &ranks[r], &desired, &mut ys);
        }
    }
    ys
}

/// Places the items of one rank, in order and without overlap, as close as possible (least
/// squares) to their desired centres: adjacent items that would overlap are merged into blocks
/// placed at their members' mean wish.
fn place(items: &[Item], rank: &[usize], desired: &[f64], ys: &mut [f64]) {
    struct Block {
        first: usize,
        last: usize,
        height: f64,
        weight: f64,
        sum: f64,
    }
    let weight = |i: usize| match items[i].kind {
        Kind::Box(_) => 2.0,
        Kind::Label => 1.0,
        Kind::Pass => 1.0,
    };
    let mut blocks: Vec<Block> = Vec::new();
    for (j, &i) in rank.iter().enumerate() {
        let h = items[i].height;
        let w = weight(i);
        blocks.push(Block {
            first: j,
            last: j,
            height: h,
            weight: w,
            sum: w * (desired[j] - h / 2.0),
        });
        while blocks.len() > 1 {
            let cur = &blocks[blocks.len() - 1];
            let prev = &blocks[blocks.len() - 2];
            let g = gap(items, rank[prev.last], rank[cur.first]);
            let prev_top = prev.sum / prev.weight;
            let cur_top = cur.sum / cur.weight;
            if prev_top + prev.height + g <= cur_top {
                break;
            }
            let cur = blocks.pop().expect("two blocks");
            let prev = blocks.last_mut().expect("two blocks");
            let shift = prev.height + g;
            prev.sum += cur.sum - cur.weight * shift;
            prev.weight += cur.weight;
            prev.height += g + cur.height;
            prev.last = cur.last;
        }
    }
    for b in &blocks {
        let mut y = b.sum / b.weight;
        for j in b.first..=b.last {
            if j > b.first {
                y += gap(items, rank[j - 1], rank[j]);
            }
            ys[rank[j]] = y + items[rank[j]].height / 2.0;
            y += items[rank[j]].height;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn boxed(n: usize) -> Vec<BoxSpec> {
        vec![
            BoxSpec {
                width: 40.0,
                height: 30.0,
                hug_user: false,
            };
            n
        ]
    }

    fn edge(from: usize, to: usize) -> EdgeSpec {
        EdgeSpec {
            from,
            to,
            label_width: 30.0,
            label_height: 14.0,
        }
    }

    fn item(rank: usize, kind: Kind) -> Item {
        Item {
            rank,
            width: 10.0,
            height: 10.0,
            kind,
            edge: None,
            up: Vec::new(),
            down: Vec::new(),
        }
    }

    #[test]
    fn crossings_are_counted() {
        // Two items above, two below, linked crosswise: one crossing; straight: none.
        let mut items: Vec<Item> = (0..4).map(|i| item(i / 2, Kind::Box(i))).collect();
        items[0].down = vec![3];
        items[1].down = vec![2];
        let ranks = vec![vec![0, 1], vec![2, 3]];
        assert_eq!(crossings(&items, &ranks, &[0, 1, 0, 1]), 1);
        let ranks = vec![vec![0, 1], vec![3, 2]];
        assert_eq!(crossings(&items, &ranks, &[0, 1, 1, 0]), 0);
    }

    #[test]
    fn placement_keeps_order_and_room() {
        let items: Vec<Item> = (0..3).map(|i| item(0, Kind::Box(i))).collect();
        let mut ys = vec![0.0; 3];
        // All three want the same spot: they are spread around it, in order.
        place(&items, &[0, 1, 2], &[5.0, 5.0, 5.0], &mut ys);
        assert_eq!(ys[1], 5.0);
        assert_eq!(ys[1] - ys[0], 10.0 + BOX_GAP);
        assert_eq!(ys[2] - ys[1], 10.0 + BOX_GAP);
        // Items far enough apart get exactly what they want.
        place(&items, &[0, 1, 2], &[0.0, 100.0, 200.0], &mut ys);
        assert_eq!(ys, vec![0.0, 100.0, 200.0]);
    }

    #[test]
    fn layers_are_longest_paths_and_hugging_leaves_move_right() {
        // 0 -> 3 -> 4 -> 5, and 0 -> 5; leaf 1 hugs its user 5, leaf 2 does not.
        let mut boxes = boxed(6);
        boxes[1].hug_user = true;
        let edges = [
            edge(0, 3),
            edge(3, 4),
            edge(4, 5),
            edge(0, 5),
            edge(1, 5),
            edge(2, 5),
        ];
        let lay = layered(&boxes, &edges);
        assert_eq!(lay.layers, vec![0, 2, 0, 1, 2, 3]);
        // The long edge 0 -> 3 passes between boxes, through its label.
        let long = &lay.edges[3];
        assert!(long.points.len() > 4);
        for r in &lay.nodes {
            assert!(!r.overlaps(&long.label));
        }
    }

    #[test]
    fn an_empty_layout_is_empty() {
        let lay = layered(&[], &[]);
        assert_eq!((lay.width, lay.height), (0.0, 0.0));
        let one = layered(&boxed(1), &[]);
        assert_eq!(
            one.nodes[0],
            Rect {
                x: 0.0,
                y: 0.0,
                width: 40.0,
                height: 30.0
            }
        );
        assert_eq!((one.width, one.height), (40.0, 30.0));
    }

    #[test]
    #[should_panic(expected = "does not go forward")]
    fn backward_edges_are_refused() {
        layered(&boxed(2), &[edge(1, 0)]);
    }
}
