//! The shape operations: broadcasting (`expand`), reshapes (`flatten`, `unflatten`), pieces
//! (`split`, `chunk`, strided and negative `slice`), `scatter`, `flip`, `pad`, `tril`/`triu`,
//! `repeat`, `topk`, `einsum` and `multinomial`; each differentiable one through every check
//! of `common` (gradients, recorded backward, second and third derivatives, forward mode), in
//! f64, and each at its ties, duplicates, bounds and bad arguments.
//!
//! Values said to be PyTorch's were printed by `tests/reference/torch_shape.py`.

use chainrule::tensor::{Array, Tape, Tensor};

mod common;
use common::*;

fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "expand, new leading dimension and a size-1 one",
            inputs: vec![randn(&[3, 1], 1)],
            f: |x| Ok(x[0].expand(&[2, -1, 4])?.exp()),
        },
        Case {
            name: "broadcast_to, from 0-d",
            inputs: vec![randn(&[], 2)],
            f: |x| Ok(x[0].broadcast_to(&[2, 3])?.sin()),
        },
        Case {
            name: "repeat with a new leading dimension",
            inputs: vec![randn(&[2, 3], 3)],
            f: |x| Ok(x[0].repeat(&[2, 1, 2])?.sin()),
        },
        Case {
            name: "flatten",
            inputs: vec![randn(&[2, 3, 2], 4)],
            f: |x| Ok(x[0].flatten(1, -1)?.exp()),
        },
        Case {
            name: "unflatten",
            inputs: vec![randn(&[2, 6], 5)],
            f: |x| Ok(x[0].unflatten(-1, &[3, -1])?.sin()),
        },
        Case {
            name: "split in pieces of a size, used unevenly",
            inputs: vec![randn(&[5, 2], 6)],
            f: |x| {
                let p = x[0].split(2, 0)?;
                Ok(p[0].exp() * p[1] + p[2].sum(&[0], false)?.sin())
            },
        },
        Case {
            name: "split by sizes, one piece unused",
            inputs: vec![randn(&[2, 6], 7)],
            f: |x| {
                let p = x[0].split(&[1, 3, 2], -1)?;
                Ok(p[0] * p[2].exp())
            },
        },
        Case {
            name: "chunk",
            inputs: vec![randn(&[2, 6], 8)],
            f: |x| {
                let p = x[0].chunk(3, 1)?;
                Ok(p[0] * p[1].exp() + p[2].sin())
            },
        },
        Case {
            name: "slice from the end",
            inputs: vec![randn(&[2, 5], 9)],
            f: |x| Ok(x[0].slice(-1, -3, None)?.exp()),
        },
        Case {
            name: "slice with a step",
            inputs: vec![randn(&[7, 2], 10)],
            f: |x| Ok(x[0].slice_step(0, 1, 100, 3)?.exp()),
        },
        Case {
            name: "flip two axes",
            inputs: vec![randn(&[2, 3, 2], 11)],
            f: |x| Ok(x[0].flip(&[0, -1])?.exp() * x[0]),
        },
        Case {
            name: "pad both sides, and crop",
            inputs: vec![randn(&[2, 3], 12)],
            f: |x| Ok(x[0].pad(&[1, -1, 2, 0], 0.5)?.exp()),
        },
        Case {
            name: "tril, batched",
            inputs: vec![randn(&[2, 3, 4], 13)],
            f: |x| Ok(x[0].tril(0)?.exp()),
        },
        Case {
            name: "triu above the diagonal",
            inputs: vec![randn(&[3, 3], 14)],
            f: |x| Ok(x[0].triu(1)?.sin()),
        },
        Case {
            name: "scatter with duplicates, src larger than the index",
            inputs: vec![randn(&[3, 4], 15), randn(&[2, 5], 16)],
            f: |x| {
                let index = Array::from_vec(vec![1, 1, 3, 0, 2, 2, 2, 2], &[2, 4]).unwrap();
                Ok(x[0].scatter(1, &index, x[1])?.exp())
            },
        },
        Case {
            name: "scatter along the first axis",
            inputs: vec![randn(&[3, 2], 17), randn(&[2, 2], 18)],
            f: |x| {
                Ok(x[0].scatter(
                    0,
                    &Array::from_vec(vec![2, 0, 2, 1], &[2, 2]).unwrap(),
                    x[1],
                )? * x[0])
            },
        },
        Case {
            name: "scatter_add with duplicates",
            inputs: vec![randn(&[4], 19), randn(&[5], 20)],
            f: |x| Ok(x[0].scatter_add(0, &[3, 0, 3, 3, 1], x[1])?.exp()),
        },
        Case {
            name: "topk, largest",
            inputs: vec![randn(&[3, 5], 21)],
            f: |x| Ok(x[0].topk(2, 1, true, true)?.0.exp()),
        },
        Case {
            name: "topk, smallest along the first axis",
            inputs: vec![randn(&[4, 3], 22)],
            f: |x| Ok(x[0].topk(3, 0, false, false)?.0.sin()),
        },
    ]
}

#[test]
fn every_shape_op_passes_every_check() {
    cases().iter().for_each(check_every_mode);
}

fn values(t: Tensor<'_, f64>) -> Vec<f64> {
    t.to_vec()
}

#[test]
fn expand_follows_pytorch_and_refuses_what_it_refuses() {
    let tape = Tape::<f64>::new();
    let x = tape.var(Array::from_vec(vec![1.0, 2.0, 3.0], &[3, 1]).unwrap());
    let y = x.expand(&[2, -1, 2]).unwrap();
    assert_eq!(y.shape(), vec![2, 3, 2]);
    assert_eq!(
        values(y),
        vec![1.0, 1.0, 2.0, 2.0, 3.0, 3.0, 1.0, 1.0, 2.0, 2.0, 3.0, 3.0]
    );
    assert_eq!(
        x.expand(&[-1, 2, 4]).unwrap_err().to_string(),
        "expand: cannot expand [3, 1] to [-1, 2, 4]: the new dimension 0 cannot be -1"
    );
    assert_eq!(
        x.expand(&[2, 2]).unwrap_err().to_string(),
        "expand: cannot expand [3, 1] to [2, 2]: dimension 0 has size 3, which is not 1"
    );
    assert!(x.expand(&[3]).is_err());
    // Expanding to an empty dimension: the gradient is zero.
    let e = x.expand(&[3, 0]).unwrap();
    assert_eq!(e.shape(), vec![3, 0]);
    e.sum_all().backward().unwrap();
    assert_eq!(x.grad().unwrap().to_vec(), vec![0.0; 3]);
}

#[test]
fn split_and_chunk_give_pytorchs_pieces() {
    let tape = Tape::<f64>::new();
    let sizes = |parts: Vec<Tensor<'_, f64>>| parts.iter().map(|p| p.numel()).collect::<Vec<_>>();
    let five = tape.constant(Array::arange(0.0, 5.0, 1.0));
    assert_eq!(sizes(five.chunk(3, 0).unwrap()), [2, 2, 1]);
    assert_eq!(
        sizes(tape.constant(Array::zeros(&[6])).chunk(4, 0).unwrap()),
        [2, 2, 2]
    );
    let empty = tape.constant(Array::zeros(&[0]));
    assert_eq!(sizes(empty.chunk(2, 0).unwrap()), [0, 0]);
    assert_eq!(sizes(empty.split(2, 0).unwrap()), [0]);
    assert_eq!(sizes(empty.split(0, 0).unwrap()), [0]);
    assert_eq!(
        five.split(0, 0).unwrap_err().to_string(),
        "split: cannot split dimension 0 of [5]: split size 0 can only split a dimension of size 0, not 5"
    );
    assert!(five.split(&[2, 2], 0).is_err());
    assert!(five.chunk(0, 0).is_err());
    assert!(five.split(2, 1).is_err());
    let v: Vec<usize> = vec![4, 1];
    assert_eq!(values(five.split(&v, 0).unwrap()[1]), [4.0]);
}

#[test]
fn slices_follow_python() {
    let tape = Tape::<f64>::new();
    let a = tape.constant(Array::arange(0.0, 10.0, 1.0));
    // a[-3:], a[2:100:3], a[8:2], a[-100:3] in Python.
    assert_eq!(values(a.slice(0, -3, None).unwrap()), [7.0, 8.0, 9.0]);
    assert_eq!(values(a.slice_step(0, 2, 100, 3).unwrap()), [2.0, 5.0, 8.0]);
    assert_eq!(a.slice(0, 8, 2).unwrap().shape(), vec![0]);
    assert_eq!(values(a.slice(0, -100, 3).unwrap()), [0.0, 1.0, 2.0]);
    let n: usize = 4;
    assert_eq!(values(a.slice(0, 1usize, n).unwrap()), [1.0, 2.0, 3.0]);
    assert_eq!(values(a.slice(0, None, Some(-8)).unwrap()), [0.0, 1.0]);
    assert_eq!(
        a.slice_step(0, 0, 3, 0).unwrap_err().to_string(),
        "slice: step must be positive, not 0"
    );
    assert!(a.slice(1, 0, 1).is_err());
}

#[test]
fn flip_pad_and_triangles_follow_pytorch() {
    let tape = Tape::<f64>::new();
    let x = tape.constant(Array::arange(0.0, 24.0, 1.0).reshape(&[2, 3, 4]).unwrap());
    // x.flip(0, 2)[0]
    assert_eq!(
        values(x.flip(&[0, 2]).unwrap().slice(0, 0, 1).unwrap()),
        [15.0, 14.0, 13.0, 12.0, 19.0, 18.0, 17.0, 16.0, 23.0, 22.0, 21.0, 20.0]
    );
    assert!(x.flip(&[1, -2]).is_err());
    let m = tape.constant(Array::arange(0.0, 6.0, 1.0).reshape(&[2, 3]).unwrap());
    // F.pad(m, (-1, 2, 1, 0))
    let p = m.pad(&[-1, 2, 1, 0], 0.0).unwrap();
    assert_eq!(p.shape(), vec![3, 4]);
    assert_eq!(
        values(p),
        [0.0, 0.0, 0.0, 0.0, 1.0, 2.0, 0.0, 0.0, 4.0, 5.0, 0.0, 0.0]
    );
    assert_eq!(
        m.pad(&[-3, -1], 0.0).unwrap_err().to_string(),
        "pad: widths (-3, -1) leave a negative size for dimension 1 of [2, 3]"
    );
    assert!(m.pad(&[1], 0.0).is_err());
    assert!(m.pad(&[1, 1, 1, 1, 1, 1], 0.0).is_err());
    // Cropped to nothing, then padded: all the value.
    assert_eq!(values(m.pad(&[-3, 1], 7.0).unwrap()), [7.0, 7.0]);
    // torch.ones(2, 3, 4).tril(1)[0] and torch.ones(3, 4).triu(-1)
    let ones = tape.constant(Array::ones(&[2, 3, 4]));
    assert_eq!(
        values(ones.tril(1).unwrap().slice(0, 1, 2).unwrap()),
        [1.0, 1.0, 0.0, 0.0, 1.0, 1.0, 1.0, 0.0, 1.0, 1.0, 1.0, 1.0]
    );
    let ones = tape.constant(Array::ones(&[3, 4]));
    assert_eq!(
        values(ones.triu(-1).unwrap()),
        [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.0, 1.0, 1.0, 1.0]
    );
    let inf = tape.constant(Array::full(&[2, 2], f64::INFINITY));
    assert_eq!(
        values(inf.tril(0).unwrap()),
        [f64::INFINITY, 0.0, f64::INFINITY, f64::INFINITY]
    );
    assert_eq!(
        tape.constant(Array::zeros(&[3]))
            .tril(0)
            .unwrap_err()
            .to_string(),
        "tril: needs at least two dimensions, not [3]"
    );
}

#[test]
fn repeat_tiles_as_pytorch() {
    let tape = Tape::<f64>::new();
    let x = tape.var(Array::arange(0.0, 3.0, 1.0));
    let y = x.repeat(&[2, 2]).unwrap();
    assert_eq!(
        values(y),
        [0.0, 1.0, 2.0, 0.0, 1.0, 2.0, 0.0, 1.0, 2.0, 0.0, 1.0, 2.0]
    );
    y.sum_all().backward().unwrap();
    assert_eq!(x.grad().unwrap().to_vec(), vec![4.0; 3]);
    assert!(x.repeat(&[2, -1]).is_err());
    assert!(tape.constant(Array::zeros(&[2, 2])).repeat(&[2]).is_err());
    assert_eq!(x.repeat(&[0]).unwrap().shape(), vec![0]);
}

#[test]
fn flatten_and_unflatten_follow_pytorch() {
    let tape = Tape::<f64>::new();
    assert_eq!(tape.scalar(3.0).flatten(0, -1).unwrap().shape(), vec![1]);
    let x = tape.constant(Array::zeros(&[2, 3, 4]));
    assert_eq!(x.flatten(0, 1).unwrap().shape(), vec![6, 4]);
    assert!(x.flatten(2, 1).is_err());
    assert!(x.flatten(0, 3).is_err());
    assert_eq!(x.unflatten(2, &[2, 2]).unwrap().shape(), vec![2, 3, 2, 2]);
    assert!(x.unflatten(2, &[3, -1]).is_err());
    assert!(x.unflatten(2, &[] as &[usize]).is_err());
}

#[test]
fn reshape_takes_every_shape_argument_form() {
    let tape = Tape::<f64>::new();
    let x = tape.constant(Array::zeros(&[2, 6]));
    let u: Vec<usize> = vec![3, 4];
    let i: Vec<isize> = vec![-1, 2];
    assert_eq!(x.reshape(&u).unwrap().shape(), vec![3, 4]);
    assert_eq!(x.reshape(u.clone()).unwrap().shape(), vec![3, 4]);
    assert_eq!(x.reshape(&i).unwrap().shape(), vec![6, 2]);
    assert_eq!(x.reshape([4, 3]).unwrap().shape(), vec![4, 3]);
    assert_eq!(
        x.reshape(&u[..1]).unwrap_err().to_string(),
        "reshape: cannot reshape [2, 6] into [3]: 12 elements"
    );
    assert!(x.reshape(&[usize::MAX, 2]).is_err());
    assert!(x.reshape(&[-1, -1]).is_err());
    assert!(x.reshape(&[-2, -6]).is_err());
    let a = Array::<f64>::zeros(&[2, 6]);
    assert_eq!(a.reshape(&[-1, 3]).unwrap().shape(), &[4, 3]);
    assert_eq!(a.reshape(&u).unwrap().shape(), &[3, 4]);
    assert_eq!(
        a.reshape(&[0, -1]).unwrap_err().to_string(),
        "reshape: cannot reshape [2, 6] into [0, -1]: 12 elements"
    );
    assert_eq!(
        Array::<f64>::zeros(&[0, 3])
            .reshape(&[-1, 3])
            .unwrap()
            .shape(),
        &[0, 3]
    );
}

#[test]
fn scatter_follows_pytorch_with_the_exact_gradient_at_duplicates() {
    let tape = Tape::<f64>::new();
    let x = tape.var(Array::zeros(&[5]));
    let src = tape.var(Array::from_slice(&[1.0, 2.0, 3.0, 4.0]));
    // torch.zeros(5).scatter(0, [1, 1, 3, 1], [1, 2, 3, 4]): the last write wins on the CPU.
    let y = x.scatter(0, &[1, 1, 3, 1], src).unwrap();
    assert_eq!(values(y), [0.0, 4.0, 0.0, 3.0, 0.0]);
    y.backward_with(&Array::from_slice(&[10.0, 20.0, 30.0, 40.0, 50.0]))
        .unwrap();
    // PyTorch's gradients: x [10, 0, 30, 0, 50] (the same), src [20, 20, 40, 20] (every
    // duplicate as if it had won); the writes that were overwritten do not reach the output.
    assert_eq!(x.grad().unwrap().to_vec(), [10.0, 0.0, 30.0, 0.0, 50.0]);
    assert_eq!(src.grad().unwrap().to_vec(), [0.0, 0.0, 40.0, 20.0]);

    let m = tape.var(Array::zeros(&[2, 3]));
    let s = tape.var(Array::ones(&[2, 3]));
    assert_eq!(
        m.scatter(1, &Array::from_vec(vec![3], &[1, 1]).unwrap(), s)
            .unwrap_err()
            .to_string(),
        "scatter: index 3 is out of bounds for dimension 1 of [2, 3]"
    );
    assert_eq!(
        m.scatter(1, &[0, 1], s).unwrap_err().to_string(),
        "scatter: index of shape [2] does not fit input of shape [2, 3] along axis 1"
    );
    let small = tape.var(Array::ones(&[1, 1]));
    assert_eq!(
        m.scatter(1, &Array::from_vec(vec![0, 1], &[1, 2]).unwrap(), small)
            .unwrap_err()
            .to_string(),
        "scatter: index of shape [1, 2] does not fit src of shape [1, 1]"
    );
    assert!(m.scatter(2, &[0], s).is_err());
    assert!(m
        .scatter_add(0, &Array::from_vec(vec![2], &[1, 1]).unwrap(), s)
        .is_err());
}

#[test]
fn topk_breaks_ties_by_the_lower_index_and_puts_nan_first() {
    let tape = Tape::<f64>::new();
    let x = tape.var(Array::from_slice(&[1.0, 3.0, 3.0, 2.0, 3.0, 1.0]));
    // PyTorch: values [3, 3, 3] with indices [2, 4, 1]; [1, 1, 2] with [5, 0, 3].
    let (v, i) = x.topk(3, 0, true, true).unwrap();
    assert_eq!((values(v), i.to_vec()), (vec![3.0; 3], vec![1, 2, 4]));
    let (v, i) = x.topk(3, 0, false, true).unwrap();
    assert_eq!(
        (values(v), i.to_vec()),
        (vec![1.0, 1.0, 2.0], vec![0, 5, 3])
    );
    // The gradient goes to the elements picked.
    let (v, _) = x.topk(2, -1, true, false).unwrap();
    v.sum_all().backward().unwrap();
    assert_eq!(x.grad().unwrap().to_vec(), [0.0, 1.0, 1.0, 0.0, 0.0, 0.0]);
    // PyTorch: topk([1, nan, 3], 2) is [nan, 3] at [1, 2]; with largest=False, [1, 3] at [0, 2].
    let n = tape.constant(Array::from_slice(&[1.0, f64::NAN, 3.0]));
    let (v, i) = n.topk(2, 0, true, true).unwrap();
    assert!(v.to_vec()[0].is_nan());
    assert_eq!(i.to_vec(), [1, 2]);
    assert_eq!(n.topk(2, 0, false, true).unwrap().1.to_vec(), [0, 2]);
    // Along an inner axis, k = 0 and k = n.
    let m = tape.constant(Array::from_vec(vec![1.0, 5.0, 4.0, 2.0, 3.0, 6.0], &[3, 2]).unwrap());
    let (v, i) = m.topk(2, 0, true, true).unwrap();
    assert_eq!(
        (values(v), i.to_vec()),
        (vec![4.0, 6.0, 3.0, 5.0], vec![1, 2, 2, 0])
    );
    assert_eq!(m.topk(0, 0, true, true).unwrap().1.shape(), &[0, 2]);
    assert_eq!(
        m.topk(3, 0, true, true).unwrap().1.to_vec(),
        [1, 2, 2, 0, 0, 1]
    );
    assert_eq!(
        m.topk(4, 0, true, true).unwrap_err().to_string(),
        "topk: k = 4 is more than the size 3 of dimension 0 of [3, 2]"
    );
    assert!(m.topk(1, 2, true, true).is_err());
}

#[test]
fn index_arguments_take_every_form() {
    let tape = Tape::<f64>::new();
    let x = tape.constant(Array::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[2, 2]).unwrap());
    let v: Vec<usize> = vec![1, 0];
    let a = Array::from_vec(vec![1, 0], &[2, 1]).unwrap();
    assert_eq!(values(x.index_select(0, &v).unwrap()), [3.0, 4.0, 1.0, 2.0]);
    assert_eq!(
        values(x.index_select(1, v.as_slice()).unwrap()),
        [2.0, 1.0, 4.0, 3.0]
    );
    assert_eq!(
        values(x.index_select(1, Array::from_slice(&[1])).unwrap()),
        [2.0, 4.0]
    );
    assert_eq!(values(x.gather(1, &a).unwrap()), [2.0, 3.0]);
    assert_eq!(values(x.gather(1, a.clone()).unwrap()), [2.0, 3.0]);
    assert_eq!(
        x.index_select(0, &a).unwrap_err().to_string(),
        "index_select: the index must have one dimension, not shape [2, 1]"
    );
    assert_eq!(
        x.index_select(0, &[2]).unwrap_err().to_string(),
        "index_select: index 2 is out of bounds for dimension 0 of [2, 2]"
    );
    assert!(x.gather(1, &v).is_err()); // one dimension for a 2-d input
}
