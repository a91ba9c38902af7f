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

/// Runs `f(0), …, f(total − 1)` on the calling thread and the helper threads, each block once.
///
/// The caller works too, claiming blocks from the front of the range while the helpers it wakes
/// claim them from the back, and waits only for blocks a helper has claimed: when the machine is
/// busy and a helper is slow to wake, the caller simply does more of the work instead of
/// sleeping until the helper runs. With two threads, the caller thus keeps to the first rows of
/// a tensor and the helper to the last, loop after loop, and each finds the rows it reads in its
/// own core's cache more often: the baby GPT's step took 0.955 of the time with this than with
/// blocks claimed in turn from one counter (10 of 10 alternating rounds), `cnn-fashion` 0.951,
/// and 0.962 and 0.967 with the AVX2 build.
///
/// The helpers are threads of their own, one fewer than rayon's thread count, which keep
/// looking for the next loop for [`HELPER_SPIN`] before they sleep. Between two loops of a
/// training step there is usually a little work on one thread (recording the tape, a small
/// operation); rayon's workers, which had been the helpers, go to sleep after a few dozen
/// yields, and a product of 768×128 by 128×128 (65 µs on two cores) that came 200 µs after
/// the last one took 115 µs, waiting for its helper to wake.
/// Called from inside rayon's pool, the blocks go to rayon's scheduler instead; called from a
/// helper (a loop inside a loop), they run on that helper.
pub fn par_blocks(total: usize, f: &(dyn Fn(usize) + Sync)) {
    let helpers = rayon::current_num_threads()
        .saturating_sub(1)
        .min(total.saturating_sub(1));
    if rayon::current_thread_index().is_some() {
        // Inside rayon's pool, its own scheduling lets the caller take back work nobody stole.
        (0..total).into_par_iter().for_each(f);
        return;
    }
    if helpers == 0 || helpers::on_helper() {
        (0..total).for_each(f);
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
    let shared = std::sync::Arc::new(helpers::Blocks::new(total, job));
    helpers::post(&shared, helpers);
    // Waits for the helpers' blocks, also if a block panics on this thread (that block is then
    // the one claimed and never finished): no helper may run `job` after this function has
    // returned or unwound. (A panic on a helper aborts.)
    let worked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| shared.work(false)));
    shared.close(worked.is_err());
    if let Err(panic) = worked {
        std::panic::resume_unwind(panic);
    }
}

/// How long an idle helper of [`par_blocks`] keeps looking for the next loop before it sleeps
/// (checking a counter, and after the first 50 µs yielding its core between checks, so that
/// other runnable threads are not held up). GNU OpenMP, which the PyTorch wheels use, spins
/// 300,000 rounds by default before its threads sleep; a training step's gaps between loops are
/// far shorter than 2 ms, and a program that stops computing gives the cores back within 2 ms.
pub const HELPER_SPIN: std::time::Duration = std::time::Duration::from_millis(2);

/// The helper threads of [`par_blocks`] and the blocks they share with the caller.
mod helpers {
    use std::cell::Cell;
    use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
    use std::sync::{Arc, Condvar, Mutex, MutexGuard};
    use std::time::{Duration, Instant};

    /// One call's blocks: how many were claimed from each end, how many are done, and the
    /// function.
    ///
    /// The caller claims blocks from the front and the helpers from the back, so that with two
    /// threads each keeps to one end of the data. Consecutive loops over the same rows then
    /// find them in the cache of the core that last wrote them, instead of fetching the lines
    /// from the other core's.
    pub(super) struct Blocks {
        /// Blocks claimed from the front (the low 32 bits) and from the back (the high 32).
        claims: AtomicU64,
        done: AtomicUsize,
        total: usize,
        job: *const (dyn Fn(usize) + Sync + 'static),
    }
    /// One claim from the back, in [`Blocks::claims`].
    const BACK: u64 = 1 << 32;
    /// The claims after [`Blocks::close`]: more than any loop's blocks, from the front, with
    /// room below the back count for the few claims that still come.
    const CLOSED: u64 = 1 << 31;

    // SAFETY: `job` is only called for a claimed block, and the caller keeps it alive until
    // every claimed block is done (see `close`).
    unsafe impl Send for Blocks {}
    unsafe impl Sync for Blocks {}

    impl Blocks {
        pub(super) fn new(total: usize, job: *const (dyn Fn(usize) + Sync + 'static)) -> Self {
            assert!(total < 1 << 30, "too many blocks for one loop");
            Blocks {
                claims: AtomicU64::new(0),
                done: AtomicUsize::new(0),
                total,
                job,
            }
        }

        /// Claims and runs blocks until none is left, from the back of the range if `back`.
        pub(super) fn work(&self, back: bool) {
            while let Some(i) = self.claim(back) {
                // SAFETY: block `i < total` was claimed, so the caller is still waiting for it
                // and `job` is alive.
                unsafe { (*self.job)(i) };
                self.done.fetch_add(1, Ordering::AcqRel);
            }
        }

        /// Claims the next block from the front or the back, if one is left.
        fn claim(&self, back: bool) -> Option<usize> {
            let add = if back { BACK } else { 1 };
            // Every claim adds one to the sum of the two counts, so exactly `total` claims find
            // the sum at most `total` after their own: those get a block, the front ones `0, 1,
            // …` and the back ones `total − 1, total − 2, …`.
            let claims = self.claims.fetch_add(add, Ordering::AcqRel) + add;
            let (front, from_back) = (claims & (BACK - 1), claims >> 32);
            if front + from_back > self.total as u64 {
                None
            } else if back {
                Some(self.total - from_back as usize)
            } else {
                Some(front as usize - 1)
            }
        }

        /// Lets no more blocks be claimed and waits until every claimed one is done (`one_short`
        /// when this thread is unwinding from a block it claimed and will not finish).
        pub(super) fn close(&self, one_short: bool) {
            let claims = self.claims.swap(CLOSED, Ordering::AcqRel);
            let claimed = ((claims & (BACK - 1)) + (claims >> 32)).min(self.total as u64) as usize;
            let unfinished_here = usize::from(one_short);
            let mut spins = 0u32;
            while self.done.load(Ordering::Acquire) + unfinished_here < claimed {
                spins += 1;
                if spins < 1 << 10 {
                    std::hint::spin_loop();
                } else {
                    std::thread::yield_now();
                }
            }
        }
    }

    /// The latest call's blocks, and the helpers.
    struct State {
        blocks: Option<Arc<Blocks>>,
        threads: usize,
        sleeping: usize,
    }

    /// Counts the calls posted, so that a helper sees a new one without taking the lock.
    static POSTED: AtomicU64 = AtomicU64::new(0);
    static STATE: Mutex<State> = Mutex::new(State {
        blocks: None,
        threads: 0,
        sleeping: 0,
    });
    static WAKE: Condvar = Condvar::new();

    thread_local! {
        static HELPER: Cell<bool> = const { Cell::new(false) };
    }

    /// Whether this thread is one of the helpers.
    pub(super) fn on_helper() -> bool {
        HELPER.with(Cell::get)
    }

    fn state() -> MutexGuard<'static, State> {
        // No code panics while holding the lock; a poisoned lock still holds a sound state.
        STATE.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Offers `blocks` to the helpers, starting threads until there are `helpers` of them.
    pub(super) fn post(blocks: &Arc<Blocks>, helpers: usize) {
        let mut st = state();
        while st.threads < helpers {
            let spawned = std::thread::Builder::new()
                .name(format!("chainrule-helper-{}", st.threads))
                .spawn(run);
            if spawned.is_err() {
                // No thread to be had: the caller does the blocks itself.
                break;
            }
            st.threads += 1;
        }
        st.blocks = Some(Arc::clone(blocks));
        POSTED.fetch_add(1, Ordering::Release);
        if st.sleeping > 0 {
            WAKE.notify_all();
        }
    }

    /// A helper's life: wait for a call newer than the last one seen, work on its blocks.
    fn run() {
        HELPER.with(|h| h.set(true));
        let mut seen = 0;
        loop {
            seen = wait_for_post(seen);
            let blocks = state().blocks.clone();
            if let Some(blocks) = blocks {
                let worked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    blocks.work(true);
                }));
                if worked.is_err() {
                    // The caller would wait for this block for ever.
                    std::process::abort();
                }
            }
        }
    }

    /// Waits until more than `seen` calls were posted, spinning for [`super::HELPER_SPIN`]
    /// first; returns the count.
    fn wait_for_post(seen: u64) -> u64 {
        let start = Instant::now();
        let mut spins = 0u32;
        loop {
            let posted = POSTED.load(Ordering::Acquire);
            if posted != seen {
                return posted;
            }
            spins = spins.wrapping_add(1);
            if spins % 64 != 0 {
                std::hint::spin_loop();
                continue;
            }
            let waited = start.elapsed();
            if waited < Duration::from_micros(50) {
                continue;
            }
            if waited < super::HELPER_SPIN {
                std::thread::yield_now();
                continue;
            }
            let mut st = state();
            st.sleeping += 1;
            while POSTED.load(Ordering::Acquire) == seen {
                st = WAKE.wait(st).unwrap_or_else(|e| e.into_inner());
            }
            st.sleeping -= 1;
            return POSTED.load(Ordering::Acquire);
        }
    }

    #[cfg(test)]
    mod tests {
        use super::Blocks;

        #[test]
        fn claims_from_both_ends_meet_and_stop_at_close() {
            fn nothing(_: usize) {}
            let job: &(dyn Fn(usize) + Sync) = &nothing;
            for total in [0, 1, 2, 5, 6] {
                let blocks = Blocks::new(total, job);
                let mut got = Vec::new();
                // Alternate ends, and keep claiming past the end: every block exactly once.
                for c in 0..2 * total + 3 {
                    if let Some(i) = blocks.claim(c % 3 == 1) {
                        got.push((c % 3 == 1, i));
                        blocks
                            .done
                            .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
                    }
                }
                let mut all: Vec<usize> = got.iter().map(|&(_, i)| i).collect();
                all.sort_unstable();
                assert_eq!(all, (0..total).collect::<Vec<_>>(), "{total} blocks");
                // The front's blocks are the first ones in order, the back's the last ones.
                let front: Vec<usize> = got.iter().filter(|g| !g.0).map(|g| g.1).collect();
                let back: Vec<usize> = got.iter().filter(|g| g.0).map(|g| g.1).collect();
                assert_eq!(front, (0..front.len()).collect::<Vec<_>>());
                assert_eq!(back, (total - back.len()..total).rev().collect::<Vec<_>>());
                blocks.close(false);
                assert_eq!(blocks.claim(false), None);
                assert_eq!(blocks.claim(true), None);
            }
            // Closed early, the blocks not yet claimed are never handed out.
            let blocks = Blocks::new(4, job);
            assert_eq!(blocks.claim(false), Some(0));
            blocks
                .done
                .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
            blocks.close(false);
            assert_eq!(blocks.claim(true), None);
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

    /// Runs `par_blocks(total, …)` and returns how often each block ran.
    fn counts(total: usize) -> Vec<usize> {
        let runs: Vec<AtomicUsize> = (0..total).map(|_| AtomicUsize::new(0)).collect();
        par_blocks(total, &|i| {
            runs[i].fetch_add(1, Ordering::Relaxed);
        });
        runs.into_iter().map(AtomicUsize::into_inner).collect()
    }

    #[test]
    fn every_block_runs_exactly_once() {
        for total in [0, 1, 2, 3, 7, 100, 1000] {
            assert_eq!(counts(total), vec![1; total], "{total} blocks");
        }
    }

    #[test]
    fn calls_from_several_threads_at_once_each_run_all_their_blocks() {
        std::thread::scope(|s| {
            for t in 0..4 {
                s.spawn(move || {
                    for call in 0..200 {
                        let total = 1 + (t * 7 + call) % 9;
                        assert_eq!(counts(total), vec![1; total]);
                    }
                });
            }
        });
    }

    #[test]
    fn a_loop_inside_a_block_runs_all_its_blocks() {
        let runs: Vec<AtomicUsize> = (0..4 * 5).map(|_| AtomicUsize::new(0)).collect();
        par_blocks(4, &|i| {
            par_blocks(5, &|j| {
                runs[i * 5 + j].fetch_add(1, Ordering::Relaxed);
            });
        });
        assert!(runs.iter().all(|r| r.load(Ordering::Relaxed) == 1));
    }

    #[test]
    fn helpers_that_went_to_sleep_take_work_again() {
        let threads = rayon::current_num_threads().min(4);
        // Each block waits (up to a second) for the others to start; a call whose blocks ran on
        // `threads` different threads had every helper wake up and take one. Other tests' calls
        // may take the helpers meanwhile, so a few tries are allowed. The first call starts the
        // helpers.
        assert_eq!(counts(8), vec![1; 8]);
        let woke = (0..10).any(|_| {
            std::thread::sleep(HELPER_SPIN * 3);
            let started = AtomicUsize::new(0);
            let ran_on = std::sync::Mutex::new(std::collections::HashSet::new());
            par_blocks(threads, &|_| {
                ran_on.lock().unwrap().insert(std::thread::current().id());
                started.fetch_add(1, Ordering::AcqRel);
                let t0 = std::time::Instant::now();
                while started.load(Ordering::Acquire) < threads && t0.elapsed().as_secs() < 1 {
                    std::thread::yield_now();
                }
            });
            let distinct = ran_on.lock().unwrap().len();
            distinct == threads
        });
        assert!(woke, "the helpers did not wake up for a call");
    }

    #[test]
    fn a_panic_in_the_callers_block_reaches_the_caller_and_the_next_call_works() {
        // A helper's block waits (up to a second) until the caller has taken one: blocks that
        // return at once could all go to a helper that is already spinning, before the caller
        // claims its first, and then nothing would panic.
        let caller_started = AtomicBool::new(false);
        let caught = std::panic::catch_unwind(|| {
            par_blocks(4, &|_| {
                if !helpers::on_helper() {
                    caller_started.store(true, Ordering::Release);
                    panic!("a block failed");
                }
                let t0 = std::time::Instant::now();
                while !caller_started.load(Ordering::Acquire) && t0.elapsed().as_secs() < 1 {
                    std::thread::yield_now();
                }
            })
        });
        assert!(caught.is_err());
        assert_eq!(counts(6), vec![1; 6]);
    }
}
