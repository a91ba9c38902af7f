//! A training step of the moons demo records about 65,000 nodes but, once the graph's arena has
//! grown, allocates only a handful of small buffers: nothing per operation.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use chainrule::micrograd::MoonsDemo;

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

#[test]
fn a_steady_state_step_allocates_nothing_per_operation() {
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
