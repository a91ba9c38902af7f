//! Allocations per training step, counted by the allocator. A step of the moons demo records
//! about 65,000 scalar nodes but, once the graph's arena has grown, allocates only a handful of
//! small buffers: nothing per operation. A step of a small tensor network, once the tape's pool
//! is warm, allocates only a few small blocks per operation (each new array's shared handle)
//! and none for shapes, names or gradient buffers: for networks this small, allocations were a
//! tenth of a step's work.
//!
//! The count is the whole process's, so the tests take turns ([`one_at_a_time`]).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};

use chainrule::data::{Dataset, Targets};
use chainrule::micrograd::MoonsDemo;
use chainrule::nn::MlpSpec;
use chainrule::train::{LossKind, OptimizerKind, OptimizerSpec, TrainConfig, Trainer};

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        System.alloc(layout)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        System.realloc(ptr, layout, new_size)
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Held by each test while it runs, so that no other test allocates during its count.
fn one_at_a_time() -> MutexGuard<'static, ()> {
    static TURN: Mutex<()> = Mutex::new(());
    TURN.lock().unwrap_or_else(|e| e.into_inner())
}

#[test]
fn a_steady_state_step_allocates_nothing_per_operation() {
    let _turn = one_at_a_time();
    let mut demo = MoonsDemo::new(1337);
    demo.step(); // grows the arena and the backward sweep's buffers
    demo.step();
    let steps = 5;
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    for _ in 0..steps {
        demo.step();
    }
    let per_step = (ALLOCATIONS.load(Ordering::Relaxed) - before) / steps;
    assert!(demo.nodes_per_step() > 60_000);
    // Four today: the parameters as variables, two layer buffers, and the gradient vector.
    assert!(per_step <= 8, "{per_step} allocations per step");
}

#[test]
fn a_small_networks_step_allocates_little_per_operation() {
    let _turn = one_at_a_time();
    // The `mlp-tiny` workload: 2-16-16-1, batch 100, MSE, SGD.
    let (batch, inputs) = (100, 2);
    let features: Vec<f32> = (0..batch * inputs).map(|i| (i % 7) as f32 - 3.0).collect();
    let values: Vec<f32> = (0..batch).map(|i| (i % 5) as f32).collect();
    let data = Dataset::new(features, inputs, Targets::Values(values)).unwrap();
    let spec = MlpSpec::new(vec![2, 16, 16, 1]).unwrap();
    let config = TrainConfig {
        epochs: 1,
        batch_size: batch,
        seed: 0,
        optimizer: OptimizerSpec::new(OptimizerKind::Sgd, 0.01),
    };
    let mut trainer = Trainer::new(spec, LossKind::Mse, config).unwrap();
    let indices: Vec<usize> = (0..batch).collect();
    for _ in 0..3 {
        trainer.train_step(&data, &indices).unwrap(); // fills the tape's pool
    }
    let steps = 10;
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    for _ in 0..steps {
        trainer.train_step(&data, &indices).unwrap();
    }
    let per_step = (ALLOCATIONS.load(Ordering::Relaxed) - before) / steps;
    // 43 today (107 before shapes were kept inline and parameters visited without their names):
    // the shared handle of each new array, the sweep's lists, the step's parameter lists.
    assert!(per_step <= 50, "{per_step} allocations per step");
}
