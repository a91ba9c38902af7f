//! Clipping gradients by their global norm.

use super::Float;
use crate::tensor::kernels::isa::vectorized;
use crate::tensor::kernels::parallel::{par_blocks, SendPtr, CHUNK, PAR_MIN};

/// Scales all gradients together so that their global L2 norm is at most `max_norm`, and returns
/// the norm they had (as `torch.nn.utils.clip_grad_norm_`).
///
/// The norm is `‖g‖ = √(Σ g²)` over every value of every group (summed in `f64`). When
/// `max_norm / (‖g‖ + 1e-6) < 1`, every value is multiplied by that coefficient; otherwise
/// nothing changes. A non-finite norm is returned as is and leaves the gradients unchanged.
///
/// ```
/// use chainrule::optim::clip_grad_norm;
///
/// let (mut a, mut b) = (vec![3.0_f64], vec![4.0_f64]);
/// let norm = clip_grad_norm(&mut [&mut a, &mut b], 1.0);
/// assert_eq!(norm, 5.0);
/// let c = 1.0 / (5.0 + 1e-6);
/// assert_eq!((a[0], b[0]), (3.0 * c, 4.0 * c));
/// ```
pub fn clip_grad_norm<T: Float>(grads: &mut [&mut [T]], max_norm: f64) -> f64 {
    // Blocks of at most CHUNK values of one group each, on the threads of `par_blocks` when
    // there are enough values (the baby GPT's 0.8 million took 0.6 ms on one thread, 1.7% of
    // its step). Each block's sum goes into its own slot and the slots are added in order, so
    // the norm does not depend on the number of threads.
    let total: usize = grads.iter().map(|g| g.len()).sum();
    let mut blocks = Vec::with_capacity(total / CHUNK + grads.len());
    for (gi, g) in grads.iter().enumerate() {
        for start in (0..g.len()).step_by(CHUNK) {
            blocks.push((gi, start, CHUNK.min(g.len() - start)));
        }
    }
    let ptrs: Vec<SendPtr<T>> = grads.iter_mut().map(|g| SendPtr(g.as_mut_ptr())).collect();
    // SAFETY (both closures): the blocks are disjoint ranges inside the groups, which outlive
    // the loops, and each block is visited by one call.
    let block = |b: usize| unsafe {
        let (gi, start, len) = blocks[b];
        std::slice::from_raw_parts_mut(ptrs[gi].get().add(start), len)
    };
    let each = |f: &(dyn Fn(usize) + Sync)| {
        if total < PAR_MIN {
            (0..blocks.len()).for_each(f)
        } else {
            par_blocks(blocks.len(), f)
        }
    };
    let mut sums = vec![0.0_f64; blocks.len()];
    let out = SendPtr(sums.as_mut_ptr());
    each(&|b| {
        let s = vectorized(
            #[inline(always)]
            || sum_of_squares(block(b)),
        );
        // SAFETY: slot `b` is this block's alone.
        unsafe { *out.get().add(b) = s };
    });
    let norm = sums.iter().sum::<f64>().sqrt();
    let coef = max_norm / (norm + 1e-6);
    if coef < 1.0 && norm.is_finite() {
        let c = T::from_f64(coef);
        each(&|b| {
            vectorized(
                #[inline(always)]
                || {
                    for x in block(b).iter_mut() {
                        *x = *x * c;
                    }
                },
            )
        });
    }
    norm
}

/// `Σ g²`: squares summed in the values' type over short runs (which vectorise), the runs'
/// sums in `f64`; as accurate for any realistic gradient, and several times faster.
#[inline(always)]
fn sum_of_squares<T: Float>(g: &[T]) -> f64 {
    g.chunks(64)
        .map(|run| {
            // Eight partial sums, so that the additions need not wait for each other.
            let mut lanes = [T::from_f64(0.0); 8];
            let mut rows = run.chunks_exact(8);
            for row in &mut rows {
                for (l, &x) in lanes.iter_mut().zip(row) {
                    *l = *l + x * x;
                }
            }
            let tail = rows
                .remainder()
                .iter()
                .fold(T::from_f64(0.0), |s, &x| s + x * x);
            lanes.iter().fold(tail, |s, &l| s + l).value()
        })
        .sum()
}
