//! The state of an optimizer as named flat vectors, for checkpoints.

use std::fmt;

/// Everything an optimizer needs to resume where it stopped.
///
/// Buffers are named `kind.group`, with PyTorch's names for the kinds: `momentum_buffer` (SGD),
/// `exp_avg`, `exp_avg_sq` and `max_exp_avg_sq` (Adam, AdamW), listed group by group:
/// `exp_avg.0, exp_avg_sq.0, exp_avg.1, exp_avg_sq.1, ...`. Before the first step there are none.
///
/// ```
/// use chainrule::optim::{Adam, AdamConfig, Optimizer};
///
/// let mut adam = Adam::<f32>::new(AdamConfig::new(0.01));
/// let (mut w, mut b) = (vec![1.0_f32, 2.0], vec![0.5_f32]);
/// adam.step(&mut [&mut w, &mut b], &[&[0.1, -0.2], &[0.3]]);
///
/// let saved = adam.state();
/// assert_eq!(saved.step, 1);
/// let names: Vec<&str> = saved.buffers.iter().map(|(n, _)| n.as_str()).collect();
/// assert_eq!(names, ["exp_avg.0", "exp_avg_sq.0", "exp_avg.1", "exp_avg_sq.1"]);
///
/// let mut resumed = Adam::<f32>::new(AdamConfig::new(0.01));
/// resumed.load_state(&saved).unwrap();
/// assert_eq!(resumed.state(), saved);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct OptimizerState<T> {
    /// Which optimizer made it: `"sgd"`, `"adam"` or `"adamw"`.
    pub optimizer: String,
    /// The number of steps taken.
    pub step: u64,
    /// The learning rate at the time (a schedule may have changed it).
    pub lr: f64,
    /// The named buffers, each as long as its parameter group.
    pub buffers: Vec<(String, Vec<T>)>,
}

/// A saved state that does not fit the optimizer it is loaded into.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StateError(pub String);

impl fmt::Display for StateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for StateError {}

/// `bufs[k][group]` as named vectors, group by group.
pub(crate) fn save<T: Clone>(kinds: &[&str], bufs: &[&Vec<Vec<T>>]) -> Vec<(String, Vec<T>)> {
    let groups = bufs.first().map_or(0, |b| b.len());
    let mut out = Vec::with_capacity(groups * kinds.len());
    for g in 0..groups {
        for (kind, buf) in kinds.iter().zip(bufs) {
            out.push((format!("{kind}.{g}"), buf[g].clone()));
        }
    }
    out
}

/// The buffers of `state` as `bufs[k][group]` for the expected `kinds`, with the groups' lengths
/// (`None` when there are no buffers).
#[allow(clippy::type_complexity)]
pub(crate) fn load<T: Clone>(
    name: &str,
    kinds: &[&str],
    state: &OptimizerState<T>,
) -> Result<(Vec<Vec<Vec<T>>>, Option<Vec<usize>>), StateError> {
    if state.optimizer != name {
        return Err(StateError(format!(
            "the state was saved by {}, not by {name}",
            state.optimizer
        )));
    }
    if !(state.lr.is_finite() && state.lr >= 0.0) {
        return Err(StateError(format!(
            "the saved learning rate {} is not a non-negative number",
            state.lr
        )));
    }
    let mut bufs: Vec<Vec<Vec<T>>> = vec![Vec::new(); kinds.len()];
    if kinds.is_empty() || state.buffers.is_empty() {
        if !state.buffers.is_empty() {
            return Err(StateError(format!(
                "{name} with these settings keeps no buffers, but the state has {} (first '{}')",
                state.buffers.len(),
                state.buffers[0].0
            )));
        }
        if !kinds.is_empty() && state.step > 0 {
            return Err(StateError(format!(
                "the state is at step {} but has none of the buffers {} needs ({})",
                state.step,
                name,
                kinds.join(", ")
            )));
        }
        return Ok((bufs, None));
    }
    if state.step == 0 {
        return Err(StateError(
            "the state has buffers but is at step 0".to_string(),
        ));
    }
    if state.buffers.len() % kinds.len() != 0 {
        return Err(StateError(format!(
            "{} buffers cannot be {} per parameter group ({})",
            state.buffers.len(),
            kinds.len(),
            kinds.join(", ")
        )));
    }
    let mut lengths = Vec::new();
    for (i, (got, values)) in state.buffers.iter().enumerate() {
        let (g, k) = (i / kinds.len(), i % kinds.len());
        let want = format!("{}.{g}", kinds[k]);
        if *got != want {
            return Err(StateError(format!(
                "buffer {i} is named '{got}', expected '{want}'"
            )));
        }
        if k == 0 {
            lengths.push(values.len());
        } else if values.len() != lengths[g] {
            return Err(StateError(format!(
                "buffer '{got}' has {} values but '{}.{g}' has {}",
                values.len(),
                kinds[0],
                lengths[g]
            )));
        }
        bufs[k].push(values.clone());
    }
    Ok((bufs, Some(lengths)))
}
