//! The loops: element-wise maps (with broadcasting), reductions, copies between layouts,
//! matrix products through `gemm`, and softmax. No autograd here, only numbers.
//!
//! Element-wise kernels take the derivative rules of [`crate::ops`] as closures chosen by one
//! `match` outside the loop (see `with_unary!` and `with_binary!`), so each rule is inlined
//! into its own tight loop. Contiguous inputs take a fast path over slices; above
//! [`PAR_MIN`] elements the work is split across threads with rayon.

use rayon::prelude::*;

use super::array::Element;
use super::shape::{numel, strides};

/// Element-wise work is split across threads only above this many elements; below it, starting
/// threads costs more than it saves.
pub const PAR_MIN: usize = 1 << 17;

/// Elements per rayon task in element-wise loops.
const CHUNK: usize = 1 << 15;

/// Outputs of at least this many bytes are written with streaming (non-temporal) stores: they
/// would not stay in cache anyway, and bypassing it saves reading each output line before
/// writing it.
const STREAM_MIN_BYTES: usize = 16 << 20;

/// Whether an output of `n` elements is written with streaming stores.
#[inline]
pub fn streams<T>(n: usize) -> bool {
    cfg!(target_arch = "x86_64") && n * std::mem::size_of::<T>() >= STREAM_MIN_BYTES
}

/// Fills `out` block by block: `block(dst, start)` writes elements `start..start + dst.len()`
/// (of the whole chunk) into `dst`. With `stream`, each block is computed into a small buffer
/// and written with non-temporal stores.
#[inline(always)]
pub fn write_blocks<T: Element>(out: &mut [T], stream: bool, block: impl Fn(&mut [T], usize)) {
    #[cfg(target_arch = "x86_64")]
    if stream {
        use std::arch::x86_64::{__m128i, _mm_loadu_si128, _mm_sfence, _mm_stream_si128};
        let size = std::mem::size_of::<T>();
        let per = 64 / size; // one cache line per block
        let ptr = out.as_mut_ptr();
        let misaligned = ptr as usize % 16;
        if size <= 16 && 64 % size == 0 && misaligned % size == 0 {
            let head = ((16 - misaligned) % 16 / size).min(out.len());
            block(&mut out[..head], 0);
            let mut i = head;
            let mut tmp = [T::ZERO; 64];
            while i + per <= out.len() {
                block(&mut tmp[..per], i);
                // SAFETY: `ptr + i` is 16-byte aligned and the 64 bytes at it lie inside `out`;
                // `tmp` holds 64 initialised bytes.
                unsafe {
                    let src = tmp.as_ptr() as *const __m128i;
                    let dst = ptr.add(i) as *mut __m128i;
                    for q in 0..4 {
                        _mm_stream_si128(dst.add(q), _mm_loadu_si128(src.add(q)));
                    }
                }
                i += per;
            }
            block(&mut out[i..], i);
            // SAFETY: a store fence, always sound; it orders the streaming stores before later
            // ones.
            unsafe { _mm_sfence() };
            return;
        }
    }
    let _ = stream;
    block(out, 0);
}

/// Runs `$body` with `$f` bound to a closure computing `$op`'s forward rule; the `match` picks
/// a monomorphised copy of `$body` for each operation.
macro_rules! with_unary {
    ($op:expr, $T:ty, |$f:ident| $body:expr) => {{
        use $crate::ops::Unary as U;
        match $op {
            U::Neg => {
                let $f = |x: $T| U::Neg.apply(x);
                $body
            }
            U::Exp => {
                let $f = |x: $T| U::Exp.apply(x);
                $body
            }
            U::Ln => {
                let $f = |x: $T| U::Ln.apply(x);
                $body
            }
            U::Sqrt => {
                let $f = |x: $T| U::Sqrt.apply(x);
                $body
            }
            U::Tanh => {
                let $f = |x: $T| U::Tanh.apply(x);
                $body
            }
            U::Sigmoid => {
                let $f = |x: $T| U::Sigmoid.apply(x);
                $body
            }
            U::Relu => {
                let $f = |x: $T| U::Relu.apply(x);
                $body
            }
            U::Gelu => {
                let $f = |x: $T| U::Gelu.apply(x);
                $body
            }
            U::Abs => {
                let $f = |x: $T| U::Abs.apply(x);
                $body
            }
            U::AddConst(c) => {
                let $f = move |x: $T| U::AddConst(c).apply(x);
                $body
            }
            U::MulConst(c) => {
                let $f = move |x: $T| U::MulConst(c).apply(x);
                $body
            }
            U::Powf(p) => {
                let $f = move |x: $T| U::Powf(p).apply(x);
                $body
            }
            op => {
                let $f = move |x: $T| op.apply(x);
                $body
            }
        }
    }};
}

/// Like [`with_unary!`], binding `$f` to the backward rule `(x, y, g) -> g · dy/dx`.
macro_rules! with_unary_backward {
    ($op:expr, $T:ty, |$f:ident| $body:expr) => {{
        use $crate::ops::Unary as U;
        match $op {
            U::Neg => {
                let $f = |x: $T, y: $T, g: $T| U::Neg.backward(x, y, g);
                $body
            }
            U::Exp => {
                let $f = |x: $T, y: $T, g: $T| U::Exp.backward(x, y, g);
                $body
            }
            U::Ln => {
                let $f = |x: $T, y: $T, g: $T| U::Ln.backward(x, y, g);
                $body
            }
            U::Sqrt => {
                let $f = |x: $T, y: $T, g: $T| U::Sqrt.backward(x, y, g);
                $body
            }
            U::Tanh => {
                let $f = |x: $T, y: $T, g: $T| U::Tanh.backward(x, y, g);
                $body
            }
            U::Sigmoid => {
                let $f = |x: $T, y: $T, g: $T| U::Sigmoid.backward(x, y, g);
                $body
            }
            U::Relu => {
                let $f = |x: $T, y: $T, g: $T| U::Relu.backward(x, y, g);
                $body
            }
            U::Gelu => {
                let $f = |x: $T, y: $T, g: $T| U::Gelu.backward(x, y, g);
                $body
            }
            U::Abs => {
                let $f = |x: $T, y: $T, g: $T| U::Abs.backward(x, y, g);
                $body
            }
            U::MulConst(c) => {
                let $f = move |x: $T, y: $T, g: $T| U::MulConst(c).backward(x, y, g);
                $body
            }
            op => {
                let $f = move |x: $T, y: $T, g: $T| op.backward(x, y, g);
                $body
            }
        }
    }};
}

/// Runs `$body` with `$f` bound to `$op`'s forward rule `(a, b) -> y`.
macro_rules! with_binary {
    ($op:expr, $T:ty, |$f:ident| $body:expr) => {{
        use $crate::ops::Binary as B;
        match $op {
            B::Add => {
                let $f = |a: $T, b: $T| B::Add.apply(a, b);
                $body
            }
            B::Sub => {
                let $f = |a: $T, b: $T| B::Sub.apply(a, b);
                $body
            }
            B::Mul => {
                let $f = |a: $T, b: $T| B::Mul.apply(a, b);
                $body
            }
            B::Div => {
                let $f = |a: $T, b: $T| B::Div.apply(a, b);
                $body
            }
            B::Pow => {
                let $f = |a: $T, b: $T| B::Pow.apply(a, b);
                $body
            }
            B::Max => {
                let $f = |a: $T, b: $T| B::Max.apply(a, b);
                $body
            }
            B::Min => {
                let $f = |a: $T, b: $T| B::Min.apply(a, b);
                $body
            }
        }
    }};
}

/// Runs `$body` with `$f` bound to `$op`'s backward rule `(a, b, y, g) -> (ga, gb)`.
macro_rules! with_binary_backward {
    ($op:expr, $T:ty, |$f:ident| $body:expr) => {{
        use $crate::ops::Binary as B;
        match $op {
            B::Add => {
                let $f = |a: $T, b: $T, y: $T, g: $T| B::Add.backward(a, b, y, g);
                $body
            }
            B::Sub => {
                let $f = |a: $T, b: $T, y: $T, g: $T| B::Sub.backward(a, b, y, g);
                $body
            }
            B::Mul => {
                let $f = |a: $T, b: $T, y: $T, g: $T| B::Mul.backward(a, b, y, g);
                $body
            }
            B::Div => {
                let $f = |a: $T, b: $T, y: $T, g: $T| B::Div.backward(a, b, y, g);
                $body
            }
            B::Pow => {
                let $f = |a: $T, b: $T, y: $T, g: $T| B::Pow.backward(a, b, y, g);
                $body
            }
            B::Max => {
                let $f = |a: $T, b: $T, y: $T, g: $T| B::Max.backward(a, b, y, g);
                $body
            }
            B::Min => {
                let $f = |a: $T, b: $T, y: $T, g: $T| B::Min.backward(a, b, y, g);
                $body
            }
        }
    }};
}

pub(crate) use {with_binary, with_binary_backward, with_unary, with_unary_backward};

/// Runs `f(0), …, f(total − 1)` on the calling thread and rayon's threads, each block once.
///
/// The caller works too, claiming blocks from a shared counter alongside the helpers it wakes,
/// and waits only for blocks a helper has claimed: when the machine is busy and a helper is slow
/// to wake, the caller simply does more of the work instead of sleeping until the helper runs
/// (as a plain `par_iter` from outside the pool would).
pub fn par_blocks(total: usize, f: &(dyn Fn(usize) + Sync)) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    struct Shared {
        next: AtomicUsize,
        done: AtomicUsize,
        total: usize,
        job: *const (dyn Fn(usize) + Sync + 'static),
    }
    // SAFETY: `job` is only called for a claimed block, and the caller keeps it alive until
    // every claimed block is done (see below).
    unsafe impl Send for Shared {}
    unsafe impl Sync for Shared {}
    impl Shared {
        fn work(&self) {
            loop {
                let i = self.next.fetch_add(1, Ordering::AcqRel);
                if i >= self.total {
                    return;
                }
                // SAFETY: block `i < total` was claimed, so the caller is still waiting for it
                // and `job` is alive.
                unsafe { (*self.job)(i) };
                self.done.fetch_add(1, Ordering::AcqRel);
            }
        }
    }

    let helpers = rayon::current_num_threads()
        .saturating_sub(1)
        .min(total.saturating_sub(1));
    if helpers == 0 || rayon::current_thread_index().is_some() {
        // One block, one thread, or already inside the pool (where rayon's own scheduling lets
        // the caller take back work nobody stole).
        (0..total).into_par_iter().for_each(f);
        return;
    }
    // SAFETY: only the lifetime is erased; this function does not return before every block
    // that was claimed has finished, and blocks claimed later (none remain) never call `job`.
    let job: *const (dyn Fn(usize) + Sync + 'static) = unsafe {
        std::mem::transmute::<
            *const (dyn Fn(usize) + Sync + '_),
            *const (dyn Fn(usize) + Sync + 'static),
        >(f)
    };
    let shared = Arc::new(Shared {
        next: AtomicUsize::new(0),
        done: AtomicUsize::new(0),
        total,
        job,
    });
    for _ in 0..helpers {
        let s = Arc::clone(&shared);
        rayon::spawn(move || s.work());
    }
    // Waits for the helpers' blocks, also if a block panics on this thread: no helper may run
    // `job` after this function has returned or unwound. (A panic on a helper aborts, as
    // rayon::spawn does.)
    struct Wait<'a>(&'a Shared);
    impl Drop for Wait<'_> {
        fn drop(&mut self) {
            let claimed = self
                .0
                .next
                .swap(usize::MAX / 2, Ordering::AcqRel)
                .min(self.0.total);
            let unfinished_here = usize::from(std::thread::panicking());
            while self.0.done.load(Ordering::Acquire) + unfinished_here < claimed {
                std::thread::yield_now();
            }
        }
    }
    let wait = Wait(&shared);
    shared.work();
    drop(wait);
}

/// A pointer that may cross to another thread, for handing disjoint blocks of one buffer to
/// the threads of [`par_blocks`].
#[derive(Clone, Copy)]
struct SendPtr<T>(*mut T);
// SAFETY: used only to hand disjoint blocks of one buffer to the threads of one operation.
unsafe impl<T> Send for SendPtr<T> {}
unsafe impl<T> Sync for SendPtr<T> {}

impl<T> SendPtr<T> {
    /// The pointer (a method, so that closures capture the whole `SendPtr`).
    fn get(self) -> *mut T {
        self.0
    }
}

/// Calls `f(chunk, start)` for consecutive chunks of `out`, on several threads when `out` has
/// at least [`PAR_MIN`] elements.
#[inline]
pub fn for_chunks<T: Copy + Send + Sync>(out: &mut [T], f: impl Fn(&mut [T], usize) + Sync) {
    let n = out.len();
    if n < PAR_MIN {
        return f(out, 0);
    }
    let ptr = SendPtr(out.as_mut_ptr());
    par_blocks(n.div_ceil(CHUNK), &|b| {
        let start = b * CHUNK;
        let len = CHUNK.min(n - start);
        // SAFETY: blocks are disjoint ranges of `out`, which outlives `par_blocks`.
        let chunk = unsafe { std::slice::from_raw_parts_mut(ptr.get().add(start), len) };
        f(chunk, start);
    });
}

/// `out[i] = f(x[i])`.
#[inline]
pub fn map1<T: Element>(x: &[T], out: &mut [T], f: impl Fn(T) -> T + Sync) {
    assert_eq!(x.len(), out.len());
    let stream = streams::<T>(out.len());
    for_chunks(out, |o, s| {
        write_blocks(o, stream, |o, t| {
            for (o, &v) in o.iter_mut().zip(&x[s + t..]) {
                *o = f(v);
            }
        })
    });
}

/// `out[i] = f(a[i], b[i], c[i])` over three slices of one length.
#[inline]
pub fn map3<T: Element>(a: &[T], b: &[T], c: &[T], out: &mut [T], f: impl Fn(T, T, T) -> T + Sync) {
    let n = out.len();
    assert!(a.len() == n && b.len() == n && c.len() == n);
    let stream = streams::<T>(n);
    for_chunks(out, |o, s| {
        write_blocks(o, stream, |o, t| {
            let (a, b, c) = (&a[s + t..], &b[s + t..], &c[s + t..]);
            for (((o, &a), &b), &c) in o.iter_mut().zip(a).zip(b).zip(c) {
                *o = f(a, b, c);
            }
        })
    });
}

/// How to read an input of a broadcast operation row by row: the offset of each row of the
/// output's last dimension, and whether the row is read (stride 1) or repeated (stride 0).
pub struct Broadcast {
    out_shape: Vec<usize>,
    /// Strides of each input in the output's dimensions (0 where broadcast).
    strides: Vec<Vec<usize>>,
}

impl Broadcast {
    /// The plan for reading inputs of the given shapes at `out_shape`.
    pub fn new(out_shape: &[usize], inputs: &[&[usize]]) -> Self {
        Broadcast {
            out_shape: out_shape.to_vec(),
            strides: inputs
                .iter()
                .map(|s| super::shape::broadcast_strides(s, out_shape))
                .collect(),
        }
    }

    /// Length of a row (the last output dimension; 1 for a scalar).
    pub fn row_len(&self) -> usize {
        self.out_shape.last().copied().unwrap_or(1)
    }

    /// The inner stride (0 or 1) of input `k`.
    pub fn inner(&self, k: usize) -> usize {
        self.strides[k].last().copied().unwrap_or(0)
    }

    /// The offset into input `k` of output row `r`.
    #[inline]
    pub fn row_offset(&self, k: usize, mut r: usize) -> usize {
        let st = &self.strides[k];
        let nd = self.out_shape.len();
        let mut off = 0;
        if nd < 2 {
            return 0;
        }
        for d in (0..nd - 1).rev() {
            let size = self.out_shape[d];
            off += (r % size) * st[d];
            r /= size;
        }
        off
    }
}

/// `out = f(a, b)` with `a` and `b` broadcast to `out_shape`.
pub fn binary<T: Element>(
    a: &[T],
    a_shape: &[usize],
    b: &[T],
    b_shape: &[usize],
    out_shape: &[usize],
    out: &mut [T],
    f: impl Fn(T, T) -> T + Sync + Copy,
) {
    let n = out.len();
    if a.len() == n && b.len() == n {
        let stream = streams::<T>(n);
        for_chunks(out, |o, s| {
            write_blocks(o, stream, |o, t| {
                for ((o, &x), &y) in o.iter_mut().zip(&a[s + t..]).zip(&b[s + t..]) {
                    *o = f(x, y);
                }
            })
        });
        return;
    }
    if b.len() == 1 && a.len() == n {
        let s = b[0];
        return map1(a, out, move |x| f(x, s));
    }
    if a.len() == 1 && b.len() == n {
        let s = a[0];
        return map1(b, out, move |y| f(s, y));
    }
    let plan = Broadcast::new(out_shape, &[a_shape, b_shape]);
    let len = plan.row_len();
    let (ia, ib) = (plan.inner(0), plan.inner(1));
    let row = |r: usize, o: &mut [T]| {
        let (oa, ob) = (plan.row_offset(0, r), plan.row_offset(1, r));
        match (ia, ib) {
            (1, 1) => {
                for ((o, &x), &y) in o.iter_mut().zip(&a[oa..oa + len]).zip(&b[ob..ob + len]) {
                    *o = f(x, y);
                }
            }
            (1, _) => {
                let y = b[ob];
                for (o, &x) in o.iter_mut().zip(&a[oa..oa + len]) {
                    *o = f(x, y);
                }
            }
            (_, 1) => {
                let x = a[oa];
                for (o, &y) in o.iter_mut().zip(&b[ob..ob + len]) {
                    *o = f(x, y);
                }
            }
            _ => o.fill(f(a[oa], b[ob])),
        }
    };
    if len == 0 {
        return;
    }
    if n >= PAR_MIN {
        out.par_chunks_mut(len)
            .enumerate()
            .for_each(|(r, o)| row(r, o));
    } else {
        out.chunks_mut(len).enumerate().for_each(|(r, o)| row(r, o));
    }
}

/// Copies `x` of shape `shape` broadcast to `out_shape` into `out`.
pub fn expand<T: Element>(x: &[T], shape: &[usize], out_shape: &[usize], out: &mut [T]) {
    if x.len() == out.len() {
        out.copy_from_slice(x);
        return;
    }
    let plan = Broadcast::new(out_shape, &[shape]);
    let len = plan.row_len();
    if len == 0 {
        return;
    }
    let inner = plan.inner(0);
    for (r, o) in out.chunks_mut(len).enumerate() {
        let off = plan.row_offset(0, r);
        if inner == 1 {
            o.copy_from_slice(&x[off..off + len]);
        } else {
            o.fill(x[off]);
        }
    }
}

/// The kind of a reduction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reduce {
    /// Sum.
    Sum,
    /// Largest element.
    Max,
    /// Smallest element.
    Min,
}

impl Reduce {
    fn identity<T: Element>(self) -> T {
        match self {
            Reduce::Sum => T::ZERO,
            Reduce::Max => T::neg_infinity(),
            Reduce::Min => -T::neg_infinity(),
        }
    }
}

/// Whether `v` is NaN (the only value not comparable with itself); NaN wins in max and min, as
/// in PyTorch.
#[inline(always)]
fn is_nan<T: PartialOrd>(v: T) -> bool {
    v.partial_cmp(&v).is_none()
}

#[inline(always)]
fn fold_slice<T: Element>(kind: Reduce, x: &[T]) -> T {
    match kind {
        Reduce::Sum => {
            // Eight independent accumulators: vectorisable and more accurate than one.
            let mut acc = [T::ZERO; 8];
            let mut chunks = x.chunks_exact(8);
            for c in &mut chunks {
                for k in 0..8 {
                    acc[k] = acc[k] + c[k];
                }
            }
            let mut s = T::ZERO;
            for &v in chunks.remainder() {
                s = s + v;
            }
            let pairs = [
                acc[0] + acc[4],
                acc[1] + acc[5],
                acc[2] + acc[6],
                acc[3] + acc[7],
            ];
            s + ((pairs[0] + pairs[2]) + (pairs[1] + pairs[3]))
        }
        Reduce::Max => x.iter().fold(
            T::neg_infinity(),
            |m, &v| if v > m || is_nan(v) { v } else { m },
        ),
        Reduce::Min => x.iter().fold(
            -T::neg_infinity(),
            |m, &v| if v < m || is_nan(v) { v } else { m },
        ),
    }
}

#[inline(always)]
fn combine<T: Element>(kind: Reduce, a: T, b: T) -> T {
    match kind {
        Reduce::Sum => a + b,
        Reduce::Max => {
            if b > a || is_nan(b) {
                b
            } else {
                a
            }
        }
        Reduce::Min => {
            if b < a || is_nan(b) {
                b
            } else {
                a
            }
        }
    }
}

/// Reduces `x` of shape `shape` over the axes in `mask` into `out`, laid out in the kept-dimension
/// shape (reduced axes of size 1).
pub fn reduce<T: Element>(kind: Reduce, x: &[T], shape: &[usize], mask: u64, out: &mut [T]) {
    if out.len() == 1 {
        out[0] = if x.len() >= PAR_MIN {
            x.par_chunks(CHUNK)
                .map(|c| fold_slice(kind, c))
                .reduce(|| kind.identity(), |a, b| combine(kind, a, b))
        } else {
            fold_slice(kind, x)
        };
        return;
    }
    out.fill(kind.identity());
    if x.is_empty() {
        return;
    }
    let nd = shape.len();
    let kept: Vec<usize> = shape
        .iter()
        .enumerate()
        .map(|(i, &d)| if mask & (1 << i) != 0 { 1 } else { d })
        .collect();
    let plan = Broadcast::new(shape, &[&kept]);
    let len = shape[nd - 1];
    let last_reduced = mask & (1 << (nd - 1)) != 0;
    for (r, row) in x.chunks(len).enumerate() {
        let off = plan.row_offset(0, r);
        if last_reduced {
            out[off] = combine(kind, out[off], fold_slice(kind, row));
        } else {
            for (o, &v) in out[off..off + len].iter_mut().zip(row) {
                *o = combine(kind, *o, v);
            }
        }
    }
}

/// Sums `g` of shape `g_shape` down to `shape` (the shape it was broadcast from): the gradient
/// of a broadcast input (a copy when nothing was broadcast).
pub fn sum_to_shape<T: Element>(g: &[T], g_shape: &[usize], shape: &[usize], out: &mut [T]) {
    if g.len() == out.len() {
        out.copy_from_slice(g);
        return;
    }
    let lead = g_shape.len() - shape.len();
    let mut mask = 0u64;
    for (i, &d) in g_shape.iter().enumerate() {
        if i < lead || (shape[i - lead] == 1 && d != 1) {
            mask |= 1 << i;
        }
    }
    reduce(Reduce::Sum, g, g_shape, mask, out);
}

/// Copies `x` of shape `shape` into `out` with its axes permuted: output axis `i` is input
/// axis `perm[i]`.
pub fn permute<T: Element>(x: &[T], shape: &[usize], perm: &[usize], out: &mut [T]) {
    let st = strides(shape);
    let out_shape: Vec<usize> = perm.iter().map(|&p| shape[p]).collect();
    let in_st: Vec<usize> = perm.iter().map(|&p| st[p]).collect();
    let nd = out_shape.len();
    if nd == 0 || out.is_empty() {
        out.copy_from_slice(x);
        return;
    }
    let len = out_shape[nd - 1];
    let inner = in_st[nd - 1];
    for (r, o) in out.chunks_mut(len).enumerate() {
        let mut rem = r;
        let mut off = 0;
        for d in (0..nd - 1).rev() {
            off += (rem % out_shape[d]) * in_st[d];
            rem /= out_shape[d];
        }
        if inner == 1 {
            o.copy_from_slice(&x[off..off + len]);
        } else {
            for (j, v) in o.iter_mut().enumerate() {
                *v = x[off + j * inner];
            }
        }
    }
}

/// Splits a shape around `axis` into `(outer, size, inner)` element counts.
pub fn around(shape: &[usize], axis: usize) -> (usize, usize, usize) {
    (
        numel(&shape[..axis]),
        shape[axis],
        numel(&shape[axis + 1..]),
    )
}

/// Products smaller than this many multiply-adds (`m·n·k`) run on one thread: below about a
/// million (some 20 µs of work on one core) waking a helper thread costs about what it saves.
const GEMM_PAR_MIN: usize = 1 << 20;

/// Up to this size, a product is split into blocks of rows (or columns), two per thread, each a
/// single-threaded `gemm`; measured on two cores (AVX-512 kernels), this beats `gemm`'s own
/// threading by 3–10% at every size up to 1024³, and the caller keeps working when a helper
/// thread is slow to start (see [`par_blocks`]). Larger products use `gemm`'s threading, which
/// packs each panel once for all threads instead of once per block.
const GEMM_SPLIT_MAX: usize = 1024 * 1024 * 1024;

/// One matrix product through `gemm`: `dst (+)= lhs · rhs`, each matrix given by a pointer and
/// its row and column strides (in elements), `m × k` by `k × n`.
///
/// # Safety
/// The pointers must address matrices of the given sizes and strides, and `dst` must not
/// overlap `lhs` or `rhs`.
#[allow(clippy::too_many_arguments)]
pub unsafe fn gemm<T: Element>(
    m: usize,
    n: usize,
    k: usize,
    dst: *mut T,
    dst_rs: isize,
    dst_cs: isize,
    accumulate: bool,
    lhs: *const T,
    lhs_rs: isize,
    lhs_cs: isize,
    rhs: *const T,
    rhs_rs: isize,
    rhs_cs: isize,
) {
    let work = m * n * k;
    let threads = rayon::current_num_threads();
    let one = |m: usize, n: usize, dst: *mut T, lhs: *const T, rhs: *const T, par| {
        gemm::gemm(
            m,
            n,
            k,
            dst,
            dst_cs,
            dst_rs,
            accumulate,
            lhs,
            lhs_cs,
            lhs_rs,
            rhs,
            rhs_cs,
            rhs_rs,
            T::ONE,
            T::ONE,
            false,
            false,
            false,
            par,
        )
    };
    if work < GEMM_PAR_MIN || threads < 2 {
        return one(m, n, dst, lhs, rhs, gemm::Parallelism::None);
    }
    if work > GEMM_SPLIT_MAX {
        return one(m, n, dst, lhs, rhs, gemm::Parallelism::Rayon(0));
    }
    // Split the longer of the output's two sides into two blocks per thread; but a result
    // stored by columns is split by rows when it has enough of them: then each block packs only
    // its own rows of `lhs` (the operand `gemm` packs in that layout) and reads `rhs` in place,
    // instead of every block packing all of `lhs` again.
    let column_major = dst_rs.unsigned_abs() == 1 && dst_cs.unsigned_abs() != 1;
    let by_rows = m >= n || (column_major && m >= 32 * threads);
    let side = if by_rows { m } else { n };
    let block = side.div_ceil(2 * threads).max(16);
    let (dst, lhs, rhs) = (SendPtr(dst), SendPtr(lhs as *mut T), SendPtr(rhs as *mut T));
    par_blocks(side.div_ceil(block), &|p| {
        let (dst, lhs, rhs) = (dst.get(), lhs.get(), rhs.get());
        let start = p * block;
        let len = block.min(side - start);
        // SAFETY: the blocks of `dst` are disjoint and inside the matrix.
        unsafe {
            if by_rows {
                let (d, l) = (start as isize * dst_rs, start as isize * lhs_rs);
                one(
                    len,
                    n,
                    dst.offset(d),
                    lhs.offset(l),
                    rhs,
                    gemm::Parallelism::None,
                );
            } else {
                let (d, r) = (start as isize * dst_cs, start as isize * rhs_cs);
                one(
                    m,
                    len,
                    dst.offset(d),
                    lhs,
                    rhs.offset(r),
                    gemm::Parallelism::None,
                );
            }
        }
    });
}

/// `x · wᵀ` is computed transposed (into a scratch buffer, then copied out with the bias) when
/// both the batch and the output have at least this many rows and the product is large enough
/// to be threaded ([`GEMM_PAR_MIN`]); smaller products keep the direct layout, where the copy
/// would be a larger share of the work.
///
/// Both operands of `x · wᵀ` are contiguous along the summed dimension. Asked for a row-major
/// result, `gemm` packs `w` by gathering one element from each of its rows; with rows a multiple
/// of 1 KiB apart (784 inputs is fine, 1024 is not) those rows compete for the same few cache
/// sets, and on a 1024×1024 weight the product ran at 60% of its normal speed. Asked for the
/// transposed result, `gemm` reads `w` as it lies and gathers from `x` instead, which is smaller
/// and read once; the copy back costs one pass over the output, which also adds the bias. When
/// the rows of `x` are a multiple of 1 KiB apart too, `x` is first transposed into scratch (see
/// [`GATHER_CONFLICT_BYTES`]).
const LINEAR_TRANSPOSED_MIN: usize = 32;

/// Rows this many bytes apart (or a multiple of it) map to at most four sets of a 4 KiB-aliased
/// L1 cache, so gathering one element from each of 64 rows, as `gemm`'s packing does, evicts its
/// own lines. [`linear`] then transposes `x` first (one tiled pass) and lets `gemm` pack it by
/// contiguous runs: on two cores the 256×1024 by 1024×1024 forward product took 2.7 ms instead
/// of 3.1–3.3 ms, the transposition 0.04 ms.
const GATHER_CONFLICT_BYTES: usize = 1024;

/// Elements per side of the square tiles of [`transpose_add_rows`]: a tile is read and written
/// by whole rows (one 64-byte line of `f32`), whatever the distance between rows.
const TILE: usize = 16;

/// The length of the scratch buffer [`linear`] needs for `x [n, k] · w [m, k]ᵀ` (0 if none).
pub fn linear_scratch<T>(n: usize, k: usize, m: usize) -> usize {
    match (transposed_linear(n, k, m), gathers_conflict::<T>(k)) {
        (false, _) => 0,
        (true, false) => n * m,
        (true, true) => n * m + n * k,
    }
}

fn transposed_linear(n: usize, k: usize, m: usize) -> bool {
    n >= LINEAR_TRANSPOSED_MIN && m >= LINEAR_TRANSPOSED_MIN && k > 0 && n * m * k >= GEMM_PAR_MIN
}

/// Whether rows of `k` elements lie a multiple of [`GATHER_CONFLICT_BYTES`] apart.
fn gathers_conflict<T>(k: usize) -> bool {
    (k * size_of::<T>()) % GATHER_CONFLICT_BYTES == 0
}

/// A fully connected layer: `out = x · wᵀ + b` for `x` `[n, k]`, `w` `[m, k]` and `b` `[m]`, all
/// contiguous; `scratch` must hold [`linear_scratch`]`(n, k, m)` elements (its contents are
/// overwritten).
///
/// # Panics
/// If a slice is shorter than its shape, or `scratch` shorter than [`linear_scratch`] says.
pub fn linear<T: Element>(
    x: &[T],
    w: &[T],
    b: &[T],
    (n, k, m): (usize, usize, usize),
    out: &mut [T],
    scratch: &mut [T],
) {
    assert!(x.len() >= n * k && w.len() >= m * k && b.len() >= m && out.len() >= n * m);
    if transposed_linear(n, k, m) {
        let (t, rest) = scratch.split_at_mut(n * m);
        // x is n×k, read in place with strides (k, 1), or from its transpose with strides (1, n).
        let (x, x_strides) = if gathers_conflict::<T>(k) {
            let xt = &mut rest[..n * k];
            transpose_add_rows(&x[..n * k], n, k, None, xt);
            (&*xt, (1, n as isize))
        } else {
            (x, (k as isize, 1))
        };
        // SAFETY: x is n×k with the strides chosen above, wᵀ is read as k×m with strides
        // (1, k), and `t` is the n×m result stored by columns (strides (1, n)); the slices were
        // checked above.
        unsafe {
            gemm(
                n,
                m,
                k,
                t.as_mut_ptr(),
                1,
                n as isize,
                false,
                x.as_ptr(),
                x_strides.0,
                x_strides.1,
                w.as_ptr(),
                1,
                k as isize,
            );
        }
        transpose_add_rows(t, m, n, Some(&b[..m]), &mut out[..n * m]);
        return;
    }
    let out = &mut out[..n * m];
    for row in out.chunks_exact_mut(m.max(1)) {
        row.copy_from_slice(&b[..m]);
    }
    if k > 0 && n > 0 && m > 0 {
        // SAFETY: x is n×k with rows of k, wᵀ is read as k×m with strides (1, k), out is n×m;
        // the slices were checked above.
        unsafe {
            gemm(
                n,
                m,
                k,
                out.as_mut_ptr(),
                m as isize,
                1,
                true,
                x.as_ptr(),
                k as isize,
                1,
                w.as_ptr(),
                1,
                k as isize,
            );
        }
    }
}

/// `out = srcᵀ + row`: `src` is `rows × cols` (row-major), `out` is `cols × rows` and `row`
/// (`rows` long), when given, is added to each of its rows.
pub fn transpose_add_rows<T: Element>(
    src: &[T],
    rows: usize,
    cols: usize,
    row: Option<&[T]>,
    out: &mut [T],
) {
    assert!(src.len() == rows * cols && out.len() == rows * cols);
    assert!(row.is_none_or(|row| row.len() == rows));
    if rows == 0 || cols == 0 {
        return;
    }
    #[cfg(target_arch = "x86_64")]
    let simd = simd_transpose::<T>();
    // Bands of TILE output rows (source columns), each written by one thread, a TILE × TILE
    // tile at a time: the tile is read by rows and written by rows (through registers, or a
    // small buffer), so both sides move whole cache lines.
    let band = |c0: usize, o: &mut [T]| {
        let w = TILE.min(cols - c0);
        let mut tile = [[T::ZERO; TILE]; TILE];
        for r0 in (0..rows).step_by(TILE) {
            let h = TILE.min(rows - r0);
            #[cfg(target_arch = "x86_64")]
            if simd && w == TILE && h == TILE {
                assert!(o.len() >= (TILE - 1) * rows + r0 + TILE);
                let add = row.map(|row| row[r0..r0 + TILE].as_ptr().cast::<f32>());
                // Both halves of each output line (band rows bj..bj + 8) are written before the
                // next eight rows: lines a multiple of 4 KiB apart share cache sets.
                for (bj, bi) in [(0, 0), (0, 8), (8, 0), (8, 8)] {
                    // SAFETY: T is f32 (checked by simd_transpose, as is AVX); the 8×8 block
                    // at source rows r0 + bi.., columns c0 + bj.. lies inside `src` (a whole
                    // tile), its transpose at band rows bj.., columns r0 + bi.. inside `o`
                    // (asserted above), and `add` has TILE values from r0.
                    unsafe {
                        transpose8_f32(
                            src.as_ptr().add((r0 + bi) * cols + c0 + bj).cast(),
                            cols,
                            o.as_mut_ptr().add(bj * rows + r0 + bi).cast(),
                            rows,
                            add.map(|a| a.add(bi)),
                        );
                    }
                }
                continue;
            }
            if w == TILE && h == TILE {
                // Fixed lengths, so that the copies compile to vector moves.
                for (i, t) in tile.iter_mut().enumerate() {
                    let s: &[T; TILE] = src[(r0 + i) * cols + c0..][..TILE]
                        .try_into()
                        .expect("a whole tile");
                    *t = *s;
                }
                let add: Option<&[T; TILE]> =
                    row.map(|row| row[r0..r0 + TILE].try_into().expect("a whole tile"));
                for j in 0..TILE {
                    let o: &mut [T; TILE] = (&mut o[j * rows + r0..][..TILE])
                        .try_into()
                        .expect("a whole tile");
                    match add {
                        Some(add) => {
                            for i in 0..TILE {
                                o[i] = tile[i][j] + add[i];
                            }
                        }
                        None => {
                            for i in 0..TILE {
                                o[i] = tile[i][j];
                            }
                        }
                    }
                }
                continue;
            }
            for (i, t) in tile.iter_mut().enumerate().take(h) {
                t[..w].copy_from_slice(&src[(r0 + i) * cols + c0..][..w]);
            }
            for j in 0..w {
                let o = &mut o[j * rows + r0..][..h];
                for (i, (o, t)) in o.iter_mut().zip(&tile[..h]).enumerate() {
                    *o = match row {
                        Some(row) => t[j] + row[r0 + i],
                        None => t[j],
                    };
                }
            }
        }
    };
    let bands = cols.div_ceil(TILE);
    if rows * cols < PAR_MIN {
        for (i, o) in out.chunks_mut(TILE * rows).enumerate() {
            band(i * TILE, o);
        }
        return;
    }
    let o = SendPtr(out.as_mut_ptr());
    par_blocks(bands, &|i| {
        let c0 = i * TILE;
        let len = (TILE.min(cols - c0)) * rows;
        // SAFETY: band `i` is output rows c0..c0 + TILE, disjoint from every other band's, and
        // inside `out`.
        let o = unsafe { std::slice::from_raw_parts_mut(o.get().add(c0 * rows), len) };
        band(c0, o);
    });
}

/// Whether [`transpose_add_rows`] can move `T` through [`transpose8_f32`]: `T` is `f32` and the
/// processor has AVX. Register shuffles transpose the 1 MiB matrices of `mlp-wide` 1.3–2× as fast
/// as the scalar path through a tile buffer.
#[cfg(target_arch = "x86_64")]
fn simd_transpose<T: 'static>() -> bool {
    std::any::TypeId::of::<T>() == std::any::TypeId::of::<f32>()
        && std::is_x86_feature_detected!("avx")
}

/// Transposes the 8×8 block whose row `i` starts at `src + i * src_stride` into the rows
/// `dst + j * dst_stride`, adding the 8 values at `add` (when given) to each written row.
///
/// # Safety
/// The processor must have AVX, and the 8 rows of 8 values at `src`, at `dst` and at `add` must
/// be readable (writable for `dst`).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx")]
unsafe fn transpose8_f32(
    src: *const f32,
    src_stride: usize,
    dst: *mut f32,
    dst_stride: usize,
    add: Option<*const f32>,
) {
    use std::arch::x86_64::*;
    // SAFETY: the caller guarantees every address read or written below.
    unsafe {
        let r: [__m256; 8] = std::array::from_fn(|i| _mm256_loadu_ps(src.add(i * src_stride)));
        // Interleave pairs of rows, then pairs of pairs, then swap 128-bit halves.
        let t = [
            _mm256_unpacklo_ps(r[0], r[1]),
            _mm256_unpackhi_ps(r[0], r[1]),
            _mm256_unpacklo_ps(r[2], r[3]),
            _mm256_unpackhi_ps(r[2], r[3]),
            _mm256_unpacklo_ps(r[4], r[5]),
            _mm256_unpackhi_ps(r[4], r[5]),
            _mm256_unpacklo_ps(r[6], r[7]),
            _mm256_unpackhi_ps(r[6], r[7]),
        ];
        let u = [
            _mm256_shuffle_ps::<0x44>(t[0], t[2]),
            _mm256_shuffle_ps::<0xEE>(t[0], t[2]),
            _mm256_shuffle_ps::<0x44>(t[1], t[3]),
            _mm256_shuffle_ps::<0xEE>(t[1], t[3]),
            _mm256_shuffle_ps::<0x44>(t[4], t[6]),
            _mm256_shuffle_ps::<0xEE>(t[4], t[6]),
            _mm256_shuffle_ps::<0x44>(t[5], t[7]),
            _mm256_shuffle_ps::<0xEE>(t[5], t[7]),
        ];
        let mut c = [
            _mm256_permute2f128_ps::<0x20>(u[0], u[4]),
            _mm256_permute2f128_ps::<0x20>(u[1], u[5]),
            _mm256_permute2f128_ps::<0x20>(u[2], u[6]),
            _mm256_permute2f128_ps::<0x20>(u[3], u[7]),
            _mm256_permute2f128_ps::<0x31>(u[0], u[4]),
            _mm256_permute2f128_ps::<0x31>(u[1], u[5]),
            _mm256_permute2f128_ps::<0x31>(u[2], u[6]),
            _mm256_permute2f128_ps::<0x31>(u[3], u[7]),
        ];
        if let Some(add) = add {
            let a = _mm256_loadu_ps(add);
            for v in &mut c {
                *v = _mm256_add_ps(*v, a);
            }
        }
        for (j, v) in c.into_iter().enumerate() {
            _mm256_storeu_ps(dst.add(j * dst_stride), v);
        }
    }
}

/// Softmax (or log-softmax) of `x` along the middle dimension of `(outer, n, inner)`,
/// subtracting the maximum first so that large logits stay finite.
pub fn softmax<T: Element>(x: &[T], dims: (usize, usize, usize), log: bool, out: &mut [T]) {
    let (outer, n, inner) = dims;
    let row = |xs: &[T], os: &mut [T], inner_i: usize| {
        let at = |j: usize| j * inner + inner_i;
        let mut m = T::neg_infinity();
        for j in 0..n {
            if xs[at(j)] > m {
                m = xs[at(j)];
            }
        }
        let mut s = T::ZERO;
        for j in 0..n {
            let e = (xs[at(j)] - m).exp();
            os[at(j)] = e;
            s = s + e;
        }
        if log {
            let ls = s.ln();
            for j in 0..n {
                os[at(j)] = xs[at(j)] - m - ls;
            }
        } else {
            let inv = T::ONE / s;
            for j in 0..n {
                os[at(j)] = os[at(j)] * inv;
            }
        }
    };
    let block = n * inner;
    if block == 0 {
        return;
    }
    for (xs, os) in x.chunks(block).zip(out.chunks_mut(block)).take(outer) {
        for i in 0..inner {
            row(xs, os, i);
        }
    }
}

/// The gradient of softmax (`y · (g − Σ g·y)`) or log-softmax (`g − e^y · Σ g`) along the middle
/// dimension of `(outer, n, inner)`, given the output `y` and its adjoint `g`.
pub fn softmax_backward<T: Element>(
    y: &[T],
    g: &[T],
    dims: (usize, usize, usize),
    log: bool,
    out: &mut [T],
) {
    let (_, n, inner) = dims;
    let block = n * inner;
    if block == 0 {
        return;
    }
    for ((ys, gs), os) in y
        .chunks(block)
        .zip(g.chunks(block))
        .zip(out.chunks_mut(block))
    {
        for i in 0..inner {
            let at = |j: usize| j * inner + i;
            let mut s = T::ZERO;
            for j in 0..n {
                s = s + if log {
                    gs[at(j)]
                } else {
                    gs[at(j)] * ys[at(j)]
                };
            }
            for j in 0..n {
                let (y, g) = (ys[at(j)], gs[at(j)]);
                os[at(j)] = if log { g - y.exp() * s } else { y * (g - s) };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::util::rand::Rng;

    fn random(n: usize, rng: &mut Rng) -> Vec<f32> {
        (0..n).map(|_| rng.normal() as f32).collect()
    }

    /// `x · wᵀ + b` by the definition, in f64.
    fn naive_linear(x: &[f32], w: &[f32], b: &[f32], (n, k, m): (usize, usize, usize)) -> Vec<f64> {
        let mut out = vec![0.0; n * m];
        for i in 0..n {
            for j in 0..m {
                let mut s = f64::from(b[j]);
                for p in 0..k {
                    s += f64::from(x[i * k + p]) * f64::from(w[j * k + p]);
                }
                out[i * m + j] = s;
            }
        }
        out
    }

    #[test]
    fn linear_matches_the_definition_on_both_paths() {
        let mut rng = Rng::new(7);
        // Odd sizes, empty sides, both sides of the transposed-path threshold, a stride of a
        // power of two, and outputs big enough for the threaded copy.
        let shapes = [
            (0, 3, 4),
            (3, 0, 4),
            (3, 4, 0),
            (1, 1, 1),
            (5, 7, 3),
            (31, 64, 200),
            (32, 64, 32),
            (33, 70, 65),
            (100, 1024, 40),
            (128, 256, 256),
            (40, 256, 128),
            (64, 1024, 128),
            (257, 9, 1025),
            (600, 33, 300),
        ];
        for &(n, k, m) in &shapes {
            let (x, w, b) = (
                random(n * k, &mut rng),
                random(m * k, &mut rng),
                random(m, &mut rng),
            );
            let mut out = vec![f32::NAN; n * m];
            let mut scratch = vec![f32::NAN; linear_scratch::<f32>(n, k, m)];
            linear(&x, &w, &b, (n, k, m), &mut out, &mut scratch);
            let want = naive_linear(&x, &w, &b, (n, k, m));
            for (i, (&got, &want)) in out.iter().zip(&want).enumerate() {
                let tol = 1e-4 * (1.0 + k as f64).sqrt() * (1.0 + want.abs());
                assert!(
                    (f64::from(got) - want).abs() <= tol,
                    "[{n}, {k}] x [{m}, {k}]ᵀ: element {i} is {got}, expected {want}"
                );
            }
        }
    }

    #[test]
    fn transpose_add_rows_matches_the_definition_in_f64() {
        // f64 takes the tile-buffer path (f32 on x86-64 takes the register shuffles).
        let (rows, cols) = (40, 35);
        let src: Vec<f64> = (0..rows * cols).map(|i| i as f64 * 0.5 - 300.0).collect();
        let row: Vec<f64> = (0..rows).map(|r| r as f64 * 1e-3).collect();
        let (mut out, mut bare) = (vec![f64::NAN; rows * cols], vec![f64::NAN; rows * cols]);
        transpose_add_rows(&src, rows, cols, Some(&row), &mut out);
        transpose_add_rows(&src, rows, cols, None, &mut bare);
        for r in 0..rows {
            for c in 0..cols {
                assert_eq!(out[c * rows + r], src[r * cols + c] + row[r]);
                assert_eq!(bare[c * rows + r], src[r * cols + c]);
            }
        }
    }

    #[test]
    fn transpose_add_rows_matches_the_definition() {
        let mut rng = Rng::new(8);
        for &(rows, cols) in &[
            (0, 5),
            (5, 0),
            (1, 1),
            (3, 17),
            (17, 3),
            (16, 16),
            (700, 301),
        ] {
            let mut src = random(rows * cols, &mut rng);
            if let Some(v) = src.first_mut() {
                // Transposing alone keeps the sign of a zero; adding +0 would not.
                *v = -0.0;
            }
            let row = random(rows, &mut rng);
            let mut out = vec![f32::NAN; rows * cols];
            let mut bare = vec![f32::NAN; rows * cols];
            transpose_add_rows(&src, rows, cols, Some(&row), &mut out);
            transpose_add_rows(&src, rows, cols, None, &mut bare);
            for r in 0..rows {
                for c in 0..cols {
                    let (i, s) = (c * rows + r, src[r * cols + c]);
                    assert_eq!(out[i], s + row[r], "{rows}x{cols}");
                    assert_eq!(bare[i].to_bits(), s.to_bits(), "{rows}x{cols}");
                }
            }
        }
    }
}
