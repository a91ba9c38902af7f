//! `chainrule train --report`: the page of a training run, with the curves and the gradient
//! flow drawn as inline SVG.

use chainrule::nn::Module;
use chainrule::train::page::{Chart, TrainingPage};
use chainrule::train::{Prepared, Trainer};

use crate::cmd::curves;
use crate::cmd::gradflow::FlowChart;

/// The HTML page of a finished run.
pub fn page(
    trainer: &Trainer,
    data: &str,
    prepared: &Prepared,
    seconds: f64,
) -> Result<String, String> {
    let net = &trainer.net;
    let c = &trainer.config;
    let name = format!("{} {} on {}", net.spec, net.spec.activation(), data);
    let mut p = TrainingPage::new(&name);
    p.subtitle = format!(
        "{} parameters; {}, learning rate {}, batches of {}, seed {}; {} training and {} test \
         samples",
        net.model.num_parameters(),
        c.optimizer.kind.name(),
        c.optimizer.lr,
        c.batch_size,
        c.seed,
        prepared.train.n_samples,
        prepared.test.n_samples
    );
    let mut metric = |k: &str, v: String| p.metrics.push((k.to_string(), v));
    metric("epochs", trainer.epoch().to_string());
    if let Some(m) = trainer.history().last() {
        metric("training loss", format!("{:.4}", m.train_loss));
        if let Some(a) = m.train_accuracy {
            metric("training accuracy", format!("{a:.4}"));
        }
        if let Some(l) = m.test_loss {
            metric("test loss", format!("{l:.4}"));
        }
        if let Some(a) = m.test_accuracy {
            metric(
                "test accuracy",
                format!(
                    "{a:.4} ({} of {})",
                    (a * prepared.test.n_samples as f64).round() as usize,
                    prepared.test.n_samples
                ),
            );
        }
    }
    metric("time", format!("{seconds:.2} s"));
    if let Some(r) = trainer.grad_flow().first_to_last(0) {
        metric(
            "gradient norm, first layer / last layer (epoch 1 of this run)",
            crate::plotting::short(r),
        );
    }
    if !trainer.history().is_empty() {
        p.charts.push(Chart {
            caption: "Loss and accuracy per epoch".into(),
            svg: curves::to_svg(trainer.history(), &name)?,
        });
    }
    let flow = trainer.grad_flow();
    if !flow.per_epoch.is_empty() {
        p.charts.push(Chart {
            caption: "Gradient flow: the gradient norm of each layer's weights (log scale)".into(),
            svg: FlowChart {
                title: format!("gradient flow: {name}"),
                panels: vec![("weight gradient norm per layer".into(), flow)],
            }
            .to_svg()?,
        });
        p.flow = Some(flow.clone());
    }
    p.history = trainer.history().to_vec();
    Ok(p.to_html())
}
