//! Clipping gradients by their global norm.

use super::Float;

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
    // Squares summed in the parameters' type over short runs (which vectorise), the runs'
    // sums in f64: as accurate for any realistic gradient, and several times faster.
    let total: f64 = grads
        .iter()
        .flat_map(|g| g.chunks(64))
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
        .sum::<f64>()
        .sqrt();
    let coef = max_norm / (total + 1e-6);
    if coef < 1.0 {
        let c = T::from_f64(coef);
        for g in grads.iter_mut() {
            for x in g.iter_mut() {
                *x = *x * c;
            }
        }
    }
    total
}
