//! Anomaly detection: the first NaN or infinity is reported with the operation, its inputs, the
//! phase and the line that created it.

use chainrule::anomaly::{Operand, Phase};
use chainrule::tensor::{Array, Tape};
use chainrule::{Expr, Graph};

#[test]
fn scalar_forward_names_ln_its_input_and_this_line() {
    let g = Graph::new();
    g.set_detect_anomaly(true);
    let x = g.var(-1.0);
    let line = line!() + 1;
    let y = x.ln();
    let z = y * 3.0 + x; // NaN too, but not the first
    let a = g.anomaly().expect("ln(-1) is reported");
    assert_eq!(a.phase, Phase::Forward);
    assert_eq!(a.op, "ln");
    assert_eq!(a.node, y.id().index());
    assert_eq!(a.inputs, vec![Operand::Value(-1.0)]);
    assert!(a.produced.is_nan());
    let at = a.location.unwrap();
    assert_eq!((at.file(), at.line()), (file!(), line));
    let text = a.to_string();
    assert!(text.contains("ln") && text.contains("-1"), "{text}");
    assert!(text.contains(&format!("{}:{line}", file!())), "{text}");
    assert!(z.value().is_nan());
}

#[test]
fn scalar_operators_and_functions_record_the_callers_line() {
    let g = Graph::new();
    g.set_detect_anomaly(true);
    let (x, y) = (g.var(2.0), g.var(3.0));
    let ops = [
        (x + y, line!()),
        (x - y, line!()),
        (x * y, line!()),
        (x / y, line!()),
        (-x, line!()),
        (x + 1.0, line!()),
        (2.0 * x, line!()),
        (1.0 / x, line!()),
        (x.exp(), line!()),
        (x.powi(3), line!()),
        (x.powf(y), line!()),
        (x.max(y), line!()),
        (x.sigmoid(), line!()),
    ];
    for (v, line) in ops {
        let at = g.location(v.id()).unwrap();
        assert_eq!((at.file(), at.line()), (file!(), line));
    }
    assert!(g.anomaly().is_none());
}

#[test]
fn scalar_backward_names_sqrt_at_zero() {
    let g = Graph::new();
    g.set_detect_anomaly(true);
    let x = g.var(0.0);
    let line = line!() + 1;
    let s = x.sqrt();
    let y = s * 2.0 + 1.0;
    assert!(g.anomaly().is_none(), "the forward pass is finite");
    let err = g.try_grad(y, &[x]).unwrap_err();
    assert_eq!(err.phase, Phase::Backward);
    assert_eq!(err.op, "sqrt");
    assert_eq!(err.node, s.id().index());
    assert_eq!(err.inputs, vec![Operand::Value(0.0)]);
    assert_eq!(err.produced, f64::INFINITY);
    assert_eq!(err.location.unwrap().line(), line);
    // The plain calls still return the gradient, and expose the anomaly on the graph.
    assert_eq!(g.grad(y, &[x]), vec![f64::INFINITY]);
    assert_eq!(g.anomaly(), Some(err));
}

#[test]
fn the_backward_anomaly_is_the_op_that_turned_a_finite_adjoint_non_finite() {
    // ln(x) * 0 at x = -1: the value is NaN; the product's rule multiplies by the NaN value.
    let g = Graph::new();
    let x = g.var(-1.0);
    let w = g.var(0.5);
    let y = x.ln() * w;
    let err = g.try_grad(y, &[x, w]).unwrap_err();
    assert_eq!(err.op, "mul");
    assert!(err.location.is_none(), "recorded with detection off");
    assert!(err.to_string().contains("no location"));
    assert!(g.anomaly().is_none(), "detection is off: nothing is kept");
}

#[test]
fn backward_and_gradients_expose_the_anomaly_and_agree_with_the_plain_sweep() {
    let g = Graph::new();
    let x = g.var(0.0);
    let y = g.detect_anomaly(|| (x.sqrt() + x.exp()).tanh());
    let plain = g.gradients(y);
    g.set_detect_anomaly(true);
    y.backward();
    assert_eq!(g.anomaly().unwrap().op, "sqrt");
    assert_eq!(g.take_anomaly().unwrap().phase, Phase::Backward);
    assert!(g.anomaly().is_none());
    let checked = g.gradients(y);
    assert_eq!(format!("{plain:?}"), format!("{checked:?}"));
    assert_eq!(g.anomaly().unwrap().op, "sqrt");
}

#[test]
fn finite_gradients_are_identical_with_and_without_checks() {
    let e = Expr::parse("sigmoid(w*x + b)^2 + ln(x^2 + 1) / max(w, b)").unwrap();
    let g = Graph::new();
    let built = e.build_with(&g, &[0.3, -1.2, 0.7]);
    let plain = g.grad(built.output, &built.inputs);
    assert_eq!(g.try_grad(built.output, &built.inputs).unwrap(), plain);
}

#[test]
fn off_by_default_records_no_location() {
    let g = Graph::new();
    assert!(!g.is_anomaly_enabled());
    let x = g.var(-1.0);
    let y = x.ln();
    assert!(g.location(y.id()).is_none());
    assert!(g.anomaly().is_none());
    // Turned on and off again by the scope.
    let z = g.detect_anomaly(|| y + 1.0);
    assert!(!g.is_anomaly_enabled());
    assert!(g.location(z.id()).is_some());
    assert!(g.location(y.id()).is_none());
    // The first non-finite value recorded while on: z (its input was already NaN).
    assert_eq!(g.anomaly().unwrap().op, "x + 1");
}

#[test]
fn leaves_holding_nan_are_anomalies() {
    let g = Graph::new();
    g.set_detect_anomaly(true);
    let _ = g.constant(f64::NAN);
    let a = g.anomaly().unwrap();
    assert_eq!((a.op.as_str(), a.inputs.len()), ("constant", 0));
}

#[test]
fn clearing_forgets_locations() {
    let mut g = Graph::new();
    g.set_detect_anomaly(true);
    let id = g.var(1.0).id();
    assert!(g.location(id).is_some());
    g.clear();
    let id = g.var(1.0).id();
    assert_eq!(g.location(id).unwrap().line(), line!() - 1);
}

#[test]
fn tensor_forward_names_ln_the_shape_and_this_line() {
    let tape = Tape::<f32>::new();
    tape.set_detect_anomaly(true);
    let x = tape.var(Array::from_vec(vec![1.0, -2.0, 3.0, 4.0], &[2, 2]).unwrap());
    let line = line!() + 1;
    let y = x.ln();
    let _loss = y.sum_all();
    let a = tape.anomaly().unwrap();
    assert_eq!(
        (a.op.as_str(), a.phase, a.node),
        ("ln", Phase::Forward, y.id())
    );
    assert_eq!(a.inputs, vec![Operand::Shape(vec![2, 2])]);
    assert!(a.produced.is_nan());
    let at = a.location.unwrap();
    assert_eq!((at.file(), at.line()), (file!(), line));
    assert!(a.to_string().contains("[2, 2]"), "{a}");
}

#[test]
fn tensor_ops_record_the_callers_line() {
    let tape = Tape::<f64>::new();
    tape.set_detect_anomaly(true);
    let a = tape.var(Array::ones(&[2, 3]));
    let b = tape.var(Array::ones(&[3, 2]));
    let ops = [
        (a.matmul(b).unwrap(), line!()),
        (a + 1.0, line!()),
        (a * a, line!()),
        (-a, line!()),
        (2.0 / a, line!()),
        (a.sum(&[0], false).unwrap(), line!()),
        (a.mean_all(), line!()),
        (a.softmax(-1).unwrap(), line!()),
        (a.transpose(0, 1).unwrap(), line!()),
        (a.reshape(&[-1]).unwrap(), line!()),
        (a.clamp(0.0, 1.0), line!()),
        (a.index_select(1, &[0, 2]).unwrap(), line!()),
        (a.detach(), line!()),
    ];
    for (t, line) in ops {
        let at = tape.location(t.id()).unwrap();
        assert_eq!((at.file(), at.line()), (file!(), line), "node {}", t.id());
    }
    assert!(tape.anomaly().is_none());
}

#[test]
fn tensor_backward_names_the_rule_and_fails() {
    let tape = Tape::<f64>::new();
    let x = tape.var(Array::from_vec(vec![1.0, 0.0, 4.0], &[3]).unwrap());
    let w = tape.var(Array::from_vec(vec![2.0, 2.0, 2.0], &[3]).unwrap());
    let line = line!() + 2;
    let loss = tape.detect_anomaly(|| {
        let s = x.sqrt();
        (s * w).sum_all()
    });
    assert!(tape.anomaly().is_none());
    // Off: backward succeeds and the gradient holds the infinity.
    loss.backward().unwrap();
    assert_eq!(x.grad().unwrap().to_vec()[1], f64::INFINITY);
    tape.set_detect_anomaly(true);
    let err = loss.backward().unwrap_err().to_string();
    assert!(err.contains("sqrt") && err.contains("backward"), "{err}");
    assert!(err.contains(&format!("{}:{line}", file!())), "{err}");
    let a = tape.anomaly().unwrap();
    assert_eq!((a.op.as_str(), a.phase), ("sqrt", Phase::Backward));
    assert_eq!(a.inputs, vec![Operand::Shape(vec![3])]);
}

#[test]
fn tensor_detection_off_by_default() {
    let tape = Tape::<f32>::new();
    assert!(!tape.is_anomaly_enabled());
    let x = tape.var(Array::from_vec(vec![-1.0], &[1]).unwrap());
    let y = x.ln();
    assert!(tape.location(y.id()).is_none());
    assert!(tape.anomaly().is_none());
    y.sum_all().backward().unwrap();
}
