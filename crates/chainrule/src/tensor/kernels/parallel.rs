//! Threads and stores: how a loop is split across rayon's threads (only above a size where
//! threads pay), and streaming stores for outputs too large to stay in cache.

use rayon::prelude::*;

use crate::tensor::array::Element;

/// Element-wise work is split across threads only above this many elements; below it, starting
/// threads costs more than it saves. At 2¹⁶ rather than 2¹⁷ the baby GPT's tensors of 768×128
/// (98,304 elements: residual sums, layer norms) are split too: in alternating rounds its step
/// took 0.96 of the time (6 of 6), `mlp-mnist` 0.97 (5 of 5), `cnn-fashion` level; 2¹⁵ gained
/// nothing more and cost `mlp-small` 3%.
pub const PAR_MIN: usize = 1 << 16;

/// Elements per rayon task in element-wise loops.
pub(crate) const CHUNK: usize = 1 << 15;

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
pub(crate) struct SendPtr<T>(pub(crate) *mut T);
// SAFETY: used only to hand disjoint blocks of one buffer to the threads of one operation.
unsafe impl<T> Send for SendPtr<T> {}
unsafe impl<T> Sync for SendPtr<T> {}

impl<T> SendPtr<T> {
    /// The pointer (a method, so that closures capture the whole `SendPtr`).
    pub(crate) fn get(self) -> *mut T {
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
