//! Each optimizer against the documented formulas, written out independently for a few steps.

use super::*;

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-12 * (1.0 + b.abs())
}

fn assert_all_close(got: &[f64], want: &[f64]) {
    assert_eq!(got.len(), want.len());
    for (i, (&a, &b)) in got.iter().zip(want).enumerate() {
        assert!(close(a, b), "value {i}: got {a}, expected {b}");
    }
}

/// The gradient of f(x, y) = x² + 3y² + xy, to get changing gradients along the run.
fn grad_f(p: &[f64]) -> Vec<f64> {
    vec![2.0 * p[0] + p[1], 6.0 * p[1] + p[0]]
}

/// Runs `opt` for `steps` steps on f from `start`, returning every point after each step.
fn run(opt: &mut dyn Optimizer<f64>, start: &[f64], steps: usize) -> Vec<Vec<f64>> {
    let mut x = start.to_vec();
    let mut out = Vec::new();
    for _ in 0..steps {
        let g = grad_f(&x);
        opt.step(&mut [&mut x], &[&g]);
        out.push(x.clone());
    }
    out
}

#[test]
fn plain_sgd_is_x_minus_lr_grad() {
    let mut opt = Sgd::new(SgdConfig::new(0.05));
    let got = run(&mut opt, &[1.0, -2.0], 3);
    let mut x = [1.0, -2.0];
    for point in got {
        let g = grad_f(&x);
        x = [x[0] - 0.05 * g[0], x[1] - 0.05 * g[1]];
        assert_all_close(&point, &x);
    }
    assert_eq!(opt.steps_taken(), 3);
}

#[test]
fn plain_sgd_on_large_groups_updates_every_element_once() {
    // Groups above the threaded-update threshold, of odd lengths, beside a small one and an
    // empty one: each element must be exactly θ − γ·g, in f32 as in f64.
    let lr = 0.01;
    let lens = [0, 3, (1 << 17) + 12_345, 1 << 18];
    let mut params: Vec<Vec<f32>> = lens
        .iter()
        .map(|&n| (0..n).map(|i| (i % 97) as f32 * 0.25 - 7.0).collect())
        .collect();
    let grads: Vec<Vec<f32>> = lens
        .iter()
        .map(|&n| (0..n).map(|i| (i % 89) as f32 * 0.125 - 3.0).collect())
        .collect();
    let want: Vec<Vec<f32>> = params
        .iter()
        .zip(&grads)
        .map(|(p, g)| p.iter().zip(g).map(|(&t, &d)| t - lr * d).collect())
        .collect();
    let mut opt = Sgd::<f32>::new(SgdConfig::new(f64::from(lr)));
    let mut ps: Vec<&mut [f32]> = params.iter_mut().map(|p| p.as_mut_slice()).collect();
    let gs: Vec<&[f32]> = grads.iter().map(|g| g.as_slice()).collect();
    opt.step(&mut ps, &gs);
    assert_eq!(params, want);
    assert_eq!(opt.steps_taken(), 1);
}

#[test]
fn sgd_momentum_dampening_weight_decay_by_hand() {
    // μ = 0.9, τ = 0.3, λ = 0.1, γ = 0.05 from (1, -2), written step by step.
    let (lr, mu, tau, wd) = (0.05, 0.9, 0.3, 0.1);
    let mut opt = Sgd::new(
        SgdConfig::new(lr)
            .momentum(mu)
            .dampening(tau)
            .weight_decay(wd),
    );
    let got = run(&mut opt, &[1.0, -2.0], 3);

    // Step 1: g = ∇f + λθ; b = g (no dampening on the first step); θ -= γ b.
    let x0 = [1.0, -2.0];
    let g1 = [2.0 * 1.0 - 2.0 + 0.1 * 1.0, 6.0 * -2.0 + 1.0 + 0.1 * -2.0];
    let b1 = g1;
    let x1 = [x0[0] - lr * b1[0], x0[1] - lr * b1[1]];
    assert_all_close(&got[0], &x1);
    // Step 2: b = μ b + (1 - τ) g.
    let g2 = [
        2.0 * x1[0] + x1[1] + wd * x1[0],
        6.0 * x1[1] + x1[0] + wd * x1[1],
    ];
    let b2 = [
        mu * b1[0] + (1.0 - tau) * g2[0],
        mu * b1[1] + (1.0 - tau) * g2[1],
    ];
    let x2 = [x1[0] - lr * b2[0], x1[1] - lr * b2[1]];
    assert_all_close(&got[1], &x2);
    // Step 3.
    let g3 = [
        2.0 * x2[0] + x2[1] + wd * x2[0],
        6.0 * x2[1] + x2[0] + wd * x2[1],
    ];
    let b3 = [
        mu * b2[0] + (1.0 - tau) * g3[0],
        mu * b2[1] + (1.0 - tau) * g3[1],
    ];
    let x3 = [x2[0] - lr * b3[0], x2[1] - lr * b3[1]];
    assert_all_close(&got[2], &x3);
}

#[test]
fn sgd_nesterov_by_hand() {
    let (lr, mu) = (0.05, 0.9);
    let mut opt = Sgd::new(SgdConfig::new(lr).momentum(mu).nesterov(true));
    let got = run(&mut opt, &[1.0, -2.0], 2);
    // Step 1: b = g, update with g + μ b.
    let g1 = grad_f(&[1.0, -2.0]);
    let b1 = g1.clone();
    let x1 = [
        1.0 - lr * (g1[0] + mu * b1[0]),
        -2.0 - lr * (g1[1] + mu * b1[1]),
    ];
    assert_all_close(&got[0], &x1);
    // Step 2: b = μ b + g (no dampening), update with g + μ b.
    let g2 = grad_f(&x1);
    let b2 = [mu * b1[0] + g2[0], mu * b1[1] + g2[1]];
    let x2 = [
        x1[0] - lr * (g2[0] + mu * b2[0]),
        x1[1] - lr * (g2[1] + mu * b2[1]),
    ];
    assert_all_close(&got[1], &x2);
}

#[test]
fn nesterov_needs_momentum_and_no_dampening() {
    let e = Sgd::<f64>::try_new(SgdConfig::new(0.1).nesterov(true)).unwrap_err();
    assert!(e.to_string().contains("Nesterov"), "{e}");
    let e = Sgd::<f64>::try_new(
        SgdConfig::new(0.1)
            .momentum(0.9)
            .dampening(0.1)
            .nesterov(true),
    )
    .unwrap_err();
    assert!(e.to_string().contains("dampening"), "{e}");
    let e = Sgd::<f64>::try_new(SgdConfig::new(-1.0)).unwrap_err();
    assert_eq!(
        e.to_string(),
        "invalid learning rate -1: it must be a finite number >= 0"
    );
}

/// Adam written out for one coordinate, independently of the implementation.
struct AdamByHand {
    m: f64,
    v: f64,
    vmax: f64,
    t: i32,
}

impl AdamByHand {
    #[allow(clippy::too_many_arguments)]
    fn step(
        &mut self,
        theta: f64,
        g: f64,
        lr: f64,
        b1: f64,
        b2: f64,
        eps: f64,
        wd: f64,
        amsgrad: bool,
        decoupled: bool,
    ) -> f64 {
        self.t += 1;
        let mut theta = theta;
        let mut g = g;
        if decoupled {
            theta -= lr * wd * theta;
        } else {
            g += wd * theta;
        }
        self.m = b1 * self.m + (1.0 - b1) * g;
        self.v = b2 * self.v + (1.0 - b2) * g * g;
        let m_hat = self.m / (1.0 - b1.powi(self.t));
        let v_hat = if amsgrad {
            self.vmax = self.vmax.max(self.v);
            self.vmax / (1.0 - b2.powi(self.t))
        } else {
            self.v / (1.0 - b2.powi(self.t))
        };
        theta - lr * m_hat / (v_hat.sqrt() + eps)
    }
}

fn check_adam_family(
    opt: &mut dyn Optimizer<f64>,
    params: (f64, f64, f64, f64, f64),
    amsgrad: bool,
    decoupled: bool,
) {
    let (lr, b1, b2, eps, wd) = params;
    let start = [1.0, -2.0];
    let got = run(opt, &start, 5);
    let mut hand = [
        AdamByHand {
            m: 0.0,
            v: 0.0,
            vmax: 0.0,
            t: 0,
        },
        AdamByHand {
            m: 0.0,
            v: 0.0,
            vmax: 0.0,
            t: 0,
        },
    ];
    let mut x = start;
    for point in got {
        let g = grad_f(&x);
        for i in 0..2 {
            x[i] = hand[i].step(x[i], g[i], lr, b1, b2, eps, wd, amsgrad, decoupled);
        }
        assert_all_close(&point, &x);
    }
}

#[test]
fn adam_by_hand() {
    let mut opt = Adam::new(AdamConfig::new(0.1));
    check_adam_family(&mut opt, (0.1, 0.9, 0.999, 1e-8, 0.0), false, false);
}

#[test]
fn adam_with_weight_decay_and_other_betas_by_hand() {
    let mut opt = Adam::new(
        AdamConfig::new(0.05)
            .betas(0.8, 0.99)
            .eps(1e-3)
            .weight_decay(0.2),
    );
    check_adam_family(&mut opt, (0.05, 0.8, 0.99, 1e-3, 0.2), false, false);
}

#[test]
fn adam_amsgrad_by_hand() {
    // β₂ small so that v shrinks between steps and the maximum matters.
    let mut opt = Adam::new(AdamConfig::new(0.3).betas(0.5, 0.6).amsgrad(true));
    check_adam_family(&mut opt, (0.3, 0.5, 0.6, 1e-8, 0.0), true, false);
    let plain = run(
        &mut Adam::new(AdamConfig::new(0.3).betas(0.5, 0.6)),
        &[1.0, -2.0],
        5,
    );
    let ams = run(
        &mut Adam::new(AdamConfig::new(0.3).betas(0.5, 0.6).amsgrad(true)),
        &[1.0, -2.0],
        5,
    );
    assert_ne!(plain, ams, "the test should exercise the maximum");
}

#[test]
fn adamw_by_hand() {
    let mut opt = AdamW::new(AdamWConfig::new(0.1).weight_decay(0.3));
    check_adam_family(&mut opt, (0.1, 0.9, 0.999, 1e-8, 0.3), false, true);
    let mut opt = AdamW::new(AdamWConfig::new(0.1).amsgrad(true).betas(0.5, 0.6));
    check_adam_family(&mut opt, (0.1, 0.5, 0.6, 1e-8, 0.01), true, true);
}

#[test]
fn adam_family_on_large_groups_follows_the_formula_for_every_element() {
    // Groups above the threaded-update threshold (blocks on several threads), of odd lengths,
    // beside a small one and an empty one, the second exempt from the decay: every element
    // follows the formula written out by hand, with and without AMSGrad, Adam and AdamW.
    let lens = [(1 << 16) + 4_321, 0, 3, (1 << 15) + 77];
    let decays = vec![true, true, false, true];
    let (lr, b1, b2, eps, wd) = (0.05, 0.8, 0.6, 1e-8, 0.2);
    for (decoupled, amsgrad) in [(true, false), (true, true), (false, false), (false, true)] {
        let mut opt: Box<dyn Optimizer<f64>> = if decoupled {
            let c = AdamWConfig::new(lr).betas(b1, b2).eps(eps).weight_decay(wd);
            Box::new(AdamW::new(c.amsgrad(amsgrad)).with_decays(decays.clone()))
        } else {
            let c = AdamConfig::new(lr).betas(b1, b2).eps(eps).weight_decay(wd);
            Box::new(Adam::new(c.amsgrad(amsgrad)))
        };
        let mut params: Vec<Vec<f64>> = lens
            .iter()
            .map(|&n| (0..n).map(|i| (i % 97) as f64 * 0.25 - 7.0).collect())
            .collect();
        let mut hand: Vec<Vec<(f64, AdamByHand)>> = params
            .iter()
            .map(|p| {
                p.iter()
                    .map(|&x| {
                        let zero = AdamByHand {
                            m: 0.0,
                            v: 0.0,
                            vmax: 0.0,
                            t: 0,
                        };
                        (x, zero)
                    })
                    .collect()
            })
            .collect();
        for step in 0..3 {
            let grads: Vec<Vec<f64>> = params
                .iter()
                .map(|p| {
                    p.iter()
                        .enumerate()
                        .map(|(i, &x)| ((i + 31 * step) % 89) as f64 * 0.125 - 3.0 + 0.1 * x)
                        .collect()
                })
                .collect();
            let mut ps: Vec<&mut [f64]> = params.iter_mut().map(|p| p.as_mut_slice()).collect();
            let gs: Vec<&[f64]> = grads.iter().map(|g| g.as_slice()).collect();
            opt.step(&mut ps, &gs);
            for (gi, (h, g)) in hand.iter_mut().zip(&grads).enumerate() {
                // Adam's decay (added to the gradient) has no exemptions here.
                let wd = if decays[gi] || !decoupled { wd } else { 0.0 };
                for ((x, by_hand), &g) in h.iter_mut().zip(g) {
                    *x = by_hand.step(*x, g, lr, b1, b2, eps, wd, amsgrad, decoupled);
                }
            }
            for (p, h) in params.iter().zip(&hand) {
                let want: Vec<f64> = h.iter().map(|(x, _)| *x).collect();
                assert_all_close(p, &want);
            }
        }
    }
}

#[test]
fn adamw_defaults_are_pytorchs() {
    let c = AdamWConfig::default();
    assert_eq!(
        (c.lr, c.betas, c.eps, c.weight_decay, c.amsgrad),
        (1e-3, (0.9, 0.999), 1e-8, 0.01, false)
    );
    let c = AdamConfig::default();
    assert_eq!(
        (c.lr, c.betas, c.eps, c.weight_decay, c.amsgrad),
        (1e-3, (0.9, 0.999), 1e-8, 0.0, false)
    );
}

#[test]
fn f32_groups_follow_the_f64_run() {
    // Two groups of f32 (a weight vector and a bias) against the same run in f64.
    let mut a32 = Adam::<f32>::new(AdamConfig::new(0.01));
    let mut a64 = Adam::<f64>::new(AdamConfig::new(0.01));
    let (mut w32, mut b32) = (vec![0.5_f32, -0.25], vec![0.1_f32]);
    let (mut w64, mut b64) = (vec![0.5_f64, -0.25], vec![0.1_f64]);
    for k in 0..10 {
        let s = k as f64;
        let (gw, gb) = ([0.3 - 0.01 * s, -0.7 + 0.02 * s], [1.5 - 0.1 * s]);
        let (gw32, gb32) = (gw.map(|x| x as f32), gb.map(|x| x as f32));
        a32.step(&mut [&mut w32, &mut b32], &[&gw32, &gb32]);
        a64.step(&mut [&mut w64, &mut b64], &[&gw, &gb]);
    }
    for (a, b) in w32.iter().chain(&b32).zip(w64.iter().chain(&b64)) {
        assert!((*a as f64 - b).abs() < 1e-5, "{a} vs {b}");
    }
}

#[test]
#[should_panic(expected = "parameter group 1 has 2 values but its gradient has 3")]
fn mismatched_gradient_is_named() {
    let mut opt = Sgd::<f64>::new(SgdConfig::new(0.1));
    let (mut a, mut b) = (vec![1.0], vec![1.0, 2.0]);
    opt.step(&mut [&mut a, &mut b], &[&[0.1], &[0.1, 0.2, 0.3]]);
}

#[test]
#[should_panic(expected = "parameter group 0 had 2 values when the state was made, now 3")]
fn changed_shapes_are_named() {
    let mut opt = Adam::<f64>::new(AdamConfig::new(0.1));
    let mut a = vec![1.0, 2.0];
    opt.step(&mut [&mut a], &[&[0.1, 0.2]]);
    let mut a = vec![1.0, 2.0, 3.0];
    opt.step(&mut [&mut a], &[&[0.1, 0.2, 0.3]]);
}

#[test]
#[should_panic(expected = "the state was made for 1 parameter groups, this step has 2")]
fn changed_group_count_is_named() {
    let mut opt = Sgd::<f64>::new(SgdConfig::new(0.1).momentum(0.9));
    let mut a = vec![1.0];
    opt.step(&mut [&mut a], &[&[0.1]]);
    let mut b = vec![1.0];
    opt.step(&mut [&mut a, &mut b], &[&[0.1], &[0.1]]);
}

#[test]
fn state_round_trip_resumes_exactly() {
    type Maker = Box<dyn Fn() -> Box<dyn Optimizer<f64>>>;
    let makers: Vec<Maker> = vec![
        Box::new(|| Box::new(Sgd::new(SgdConfig::new(0.05).momentum(0.9)))),
        Box::new(|| Box::new(Sgd::new(SgdConfig::new(0.05)))),
        Box::new(|| Box::new(Adam::new(AdamConfig::new(0.05).amsgrad(true)))),
        Box::new(|| Box::new(AdamW::new(AdamWConfig::new(0.05)))),
    ];
    for make in makers {
        let mut straight = make();
        let ten = run(straight.as_mut(), &[1.0, -2.0], 10);

        let mut first = make();
        let five = run(first.as_mut(), &[1.0, -2.0], 5);
        let saved = first.state();
        assert_eq!(saved.step, 5);
        let mut resumed = make();
        resumed.load_state(&saved).unwrap();
        let rest = run(resumed.as_mut(), &five[4], 5);
        assert_eq!(
            rest[4], ten[9],
            "{} did not resume exactly",
            saved.optimizer
        );
    }
}

#[test]
fn bad_states_are_refused_with_the_reason() {
    let mut adam = Adam::<f64>::new(AdamConfig::new(0.1));
    let mut x = vec![1.0, 2.0];
    adam.step(&mut [&mut x], &[&[0.5, 0.5]]);
    let good = adam.state();

    let mut sgd = Sgd::<f64>::new(SgdConfig::new(0.1).momentum(0.9));
    assert_eq!(
        sgd.load_state(&good).unwrap_err().to_string(),
        "the state was saved by adam, not by sgd"
    );
    let mut ams = Adam::<f64>::new(AdamConfig::new(0.1).amsgrad(true));
    assert!(ams.load_state(&good).is_err());

    let mut renamed = good.clone();
    renamed.buffers[1].0 = "exp_avg_sq.7".into();
    assert_eq!(
        Adam::<f64>::new(AdamConfig::new(0.1))
            .load_state(&renamed)
            .unwrap_err()
            .to_string(),
        "buffer 1 is named 'exp_avg_sq.7', expected 'exp_avg_sq.0'"
    );
    let mut short = good.clone();
    short.buffers[1].1.pop();
    assert_eq!(
        Adam::<f64>::new(AdamConfig::new(0.1))
            .load_state(&short)
            .unwrap_err()
            .to_string(),
        "buffer 'exp_avg_sq.0' has 1 values but 'exp_avg.0' has 2"
    );
    // The refused loads changed nothing.
    assert_eq!(adam.state(), good);
}

#[test]
fn reset_forgets_everything() {
    let mut opt = Adam::<f64>::new(AdamConfig::new(0.1));
    let first = run(&mut opt, &[1.0, -2.0], 1);
    opt.reset();
    assert_eq!(opt.steps_taken(), 0);
    assert!(opt.state().buffers.is_empty());
    assert_eq!(run(&mut opt, &[1.0, -2.0], 1), first);
}

#[test]
fn step_lr_closed_form() {
    let s = StepLr {
        step_size: 3,
        gamma: 0.1,
    };
    for epoch in 0..10u64 {
        let want = 0.5 * 0.1_f64.powi((epoch / 3) as i32);
        assert!(close(s.lr_at(0.5, epoch), want));
    }
}

#[test]
fn cosine_annealing_closed_form() {
    let s = CosineAnnealing {
        t_max: 8,
        eta_min: 0.01,
    };
    for epoch in 0..=8u64 {
        let want =
            0.01 + (0.2 - 0.01) * (1.0 + (std::f64::consts::PI * epoch as f64 / 8.0).cos()) / 2.0;
        assert!(close(s.lr_at(0.2, epoch), want));
    }
    assert!(close(s.lr_at(0.2, 8), 0.01));
    assert!(close(s.lr_at(0.2, 4), 0.105));
}

#[test]
fn clipping_scales_only_above_the_limit() {
    // Norm √(1 + 4 + 4 + 16) = 5 across two groups.
    let (mut a, mut b) = (vec![1.0_f64, 2.0], vec![2.0_f64, 4.0]);
    assert_eq!(clip_grad_norm(&mut [&mut a, &mut b], 10.0), 5.0);
    assert_eq!((a.clone(), b.clone()), (vec![1.0, 2.0], vec![2.0, 4.0]));
    let norm = clip_grad_norm(&mut [&mut a, &mut b], 2.5);
    assert_eq!(norm, 5.0);
    let c = 2.5 / (5.0 + 1e-6);
    assert_all_close(&a, &[c, 2.0 * c]);
    assert_all_close(&b, &[2.0 * c, 4.0 * c]);
    let after: f64 = a.iter().chain(&b).map(|x| x * x).sum::<f64>().sqrt();
    assert!(after < 2.5 && after > 2.4999);

    let mut f = vec![3.0_f32, 4.0];
    assert_eq!(clip_grad_norm(&mut [&mut f], 1.0), 5.0);
    assert!((f[0] - 0.6).abs() < 1e-6 && (f[1] - 0.8).abs() < 1e-6);
}

#[test]
fn clipping_many_values_on_several_threads_matches_the_direct_sum() {
    // Over the size where the blocks go to the threads, in groups that are not whole blocks.
    let groups: Vec<Vec<f64>> = [70_001usize, 33_333, 5]
        .iter()
        .enumerate()
        .map(|(g, &n)| {
            (0..n)
                .map(|i| ((i * 31 + g * 7) % 97) as f64 / 97.0 - 0.4)
                .collect()
        })
        .collect();
    let want = groups.iter().flatten().map(|x| x * x).sum::<f64>().sqrt();
    let mut clipped = groups.clone();
    let mut refs: Vec<&mut [f64]> = clipped.iter_mut().map(|g| g.as_mut_slice()).collect();
    let norm = clip_grad_norm(&mut refs, 1.0);
    assert!((norm - want).abs() <= 1e-12 * want, "{norm} vs {want}");
    let c = 1.0 / (want + 1e-6);
    for (g, h) in groups.iter().flatten().zip(clipped.iter().flatten()) {
        assert!((g * c - h).abs() <= 1e-15, "{} vs {h}", g * c);
    }
}

#[test]
fn clipping_leaves_gradients_with_a_non_finite_norm_as_they_are() {
    for bad in [f32::NAN, f32::INFINITY] {
        let mut g = vec![1.0_f32, bad, 2.0];
        let norm = clip_grad_norm(&mut [&mut g], 1.0);
        assert!(!norm.is_finite());
        assert_eq!(g[0], 1.0);
        assert_eq!(g[2], 2.0);
    }
}
