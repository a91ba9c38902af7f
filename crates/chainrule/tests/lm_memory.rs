//! A language model's training loop runs in flat memory: once the tape's pool and the
//! optimizer's moments have grown, the bytes held on the heap after step 40 are those held after
//! step 5 (less than a few kilobytes apart: the per-step loss history), although every step
//! makes far more than that of activations and gradients; evaluations in between do not add to
//! it either.
//!
//! The heap is measured by a counting allocator (live bytes: allocated minus freed), so the test
//! sees any buffer that a step keeps, wherever it is kept. One test in this file, so that no
//! other thread allocates while it measures.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};

use chainrule::data::{Split, TextCorpus};
use chainrule::train::{LmSettings, LmTrainer};

struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        System.alloc(layout)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        System.dealloc(ptr, layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(
            new_size as isize - layout.size() as isize,
            Ordering::Relaxed,
        );
        System.realloc(ptr, layout, new_size)
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn live() -> isize {
    LIVE.load(Ordering::Relaxed)
}

#[test]
fn the_heap_after_step_40_is_the_heap_after_step_5() {
    // With two workers the heap sometimes grew by one or two blocks of about 2 MiB over the
    // measured steps, never more: scratch that a worker thread allocates for the kernels the
    // first time it gets work, once for the life of the thread, and which worker first gets
    // work is up to the scheduler. One worker makes that allocation happen in the warm-up steps, so what
    // is measured below is what the steps themselves keep.
    rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build_global()
        .unwrap();
    // The pool's worker starts on its own thread, whose start-up allocations would count if a
    // busy machine only scheduled it inside the measured steps: run something on it first.
    rayon::broadcast(|_| ());
    let text = "ROMEO.\nBut soft, what light through yonder window breaks?\n\n".repeat(40);
    let corpus = TextCorpus::from_text(&text, "<play>").unwrap();
    let mut s = LmSettings::baby();
    (s.steps, s.context, s.layers, s.heads, s.channels) = (60, 16, 2, 2, 32);
    (s.batch, s.warmup, s.eval_every, s.eval_batches) = (4, 5, 0, 2);
    let mut trainer = LmTrainer::new(&corpus, s).unwrap();
    let start = live();
    let step = |trainer: &mut LmTrainer| {
        trainer.advance(&corpus, &mut |_| {}).unwrap();
    };
    // Evaluations and the whole-validation pass once, so that their buffers are in the pool.
    for _ in 0..4 {
        step(&mut trainer);
    }
    trainer.estimate_loss(&corpus, Split::Val, 2).unwrap();
    trainer.validation_loss(&corpus).unwrap();
    step(&mut trainer);

    let before = live();
    for k in 0..35 {
        step(&mut trainer);
        if k % 10 == 0 {
            trainer.estimate_loss(&corpus, Split::Train, 2).unwrap();
            trainer.validation_loss(&corpus).unwrap();
        }
    }
    let grown = live() - before;
    assert_eq!(trainer.step(), 40);
    // The loss history takes 4 bytes a step (and its vector may double once).
    assert!(
        grown.abs() <= 4096,
        "the heap grew by {grown} bytes over 35 steps"
    );
    // The first steps left their buffers (activations, gradients, the optimizer's moments) in
    // the tape's pool and the trainer: far more than that bound, so a step that kept any of its
    // tensors would break it.
    let warmed = before - start;
    assert!(
        warmed > 64 * 1024,
        "the first steps kept only {warmed} bytes"
    );
}
