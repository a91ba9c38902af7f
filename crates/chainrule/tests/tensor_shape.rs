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
        Case {
            name: "einsum ij,jk->ik",
            inputs: vec![randn(&[2, 3], 23), randn(&[3, 4], 24)],
            f: |x| Ok(Tensor::einsum("ij,jk->ik", &[x[0], x[1]])?.sin()),
        },
        Case {
            name: "einsum bhqd,bhkd->bhqk",
            inputs: vec![randn(&[1, 2, 3, 2], 25), randn(&[1, 2, 2, 2], 26)],
            f: |x| Ok(Tensor::einsum("bhqd,bhkd->bhqk", &[x[0], x[1]])?.sin()),
        },
        Case {
            name: "einsum bi,bi->b",
            inputs: vec![randn(&[3, 4], 27), randn(&[3, 4], 28)],
            f: |x| Ok(Tensor::einsum("bi,bi->b", &[x[0], x[1]])?.sin()),
        },
        Case {
            name: "einsum with a subscript summed out of one operand, output permuted",
            inputs: vec![randn(&[2, 3, 2], 29), randn(&[4, 3], 30)],
            f: |x| Ok(Tensor::einsum("ijl,kj->ki", &[x[0], x[1]])?.sin()),
        },
        Case {
            name: "einsum ij->ji, then an implicit ji,j",
            inputs: vec![randn(&[2, 3], 31), randn(&[3], 32)],
            f: |x| {
                let t = Tensor::einsum("ij->ji", &[x[0]])?;
                Ok(Tensor::einsum("ji,j", &[t, x[1]])?.sin())
            },
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
    assert_eq!(x.reshape(&i).unwrap().shape(), vec![6, 2]);
    assert_eq!(x.reshape(&[4, 3]).unwrap().shape(), vec![4, 3]);
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
        values(x.index_select(1, &Array::from_slice(&[1])).unwrap()),
        [2.0, 4.0]
    );
    assert_eq!(values(x.gather(1, &a).unwrap()), [2.0, 3.0]);
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

/// `sin(0 + seed), sin(1 + seed), ...` in row-major order, as `wave` in the reference script.
fn wave(shape: &[usize], seed: u64) -> Array<f64> {
    let n: usize = shape.iter().product();
    let v = (0..n).map(|i| (i as f64 + seed as f64).sin()).collect();
    Array::from_vec(v, shape).unwrap()
}

#[test]
fn einsum_agrees_with_pytorch() {
    #[allow(clippy::type_complexity)]
    let cases: Vec<(&str, Vec<Array<f64>>, Vec<usize>, Vec<f64>)> = vec![
        (
            "ij,jk->ik",
            vec![wave(&[2, 3], 0), wave(&[3, 4], 1)],
            vec![2, 4],
            vec![
                -0.432168675579,
                -0.729797030711,
                -0.356453361438,
                0.344611884472,
                0.449274256499,
                0.861457455628,
                0.481620642867,
                -0.341015967838,
            ],
        ),
        (
            "bij,bjk->bik",
            vec![wave(&[2, 3, 4], 2), wave(&[2, 4, 5], 3)],
            vec![2, 3, 5],
            vec![
                0.670094742915,
                -1.523415410865,
                -2.316304461486,
                -0.979593872402,
                1.257750805339,
                0.716763988274,
                1.524051393294,
                0.930132975842,
                -0.51894541007,
                -1.490907779204,
                -1.607111160115,
                -0.468957531325,
                1.100353489057,
                1.65800458614,
                0.691293913006,
                -1.234911366091,
                -2.407540758964,
                -1.366688280989,
                0.930691099722,
                2.37239737545,
                1.83692656142,
                1.870002575881,
                0.183806846036,
                -1.671380050386,
                -1.989907836447,
                -1.166479291643,
                -0.037089750482,
                1.126399936225,
                1.254282716225,
                0.22898375135,
            ],
        ),
        (
            "bhqd,bhkd->bhqk",
            vec![wave(&[1, 2, 3, 4], 4), wave(&[1, 2, 2, 4], 5)],
            vec![1, 2, 3, 2],
            vec![
                1.460077459389,
                0.136674296563,
                -2.410635067564,
                1.264115111948,
                1.691315008898,
                -1.789235854487,
                -1.604842931101,
                1.023060595741,
                1.450260492691,
                -2.279900497352,
                -0.291064108175,
                1.957424236855,
            ],
        ),
        (
            "i,i->",
            vec![wave(&[4], 6), wave(&[4], 7)],
            vec![],
            vec![0.649954537373],
        ),
        (
            "ij->ji",
            vec![wave(&[2, 3], 0)],
            vec![3, 2],
            vec![
                0.0,
                0.14112000806,
                0.841470984808,
                -0.756802495308,
                0.909297426826,
                -0.958924274663,
            ],
        ),
        ("ij->", vec![wave(&[2, 3], 0)], vec![], vec![0.176161649722]),
        (
            "bi,bi->b",
            vec![wave(&[3, 4], 8), wave(&[3, 4], 9)],
            vec![3],
            vec![1.264115111948, 0.647730196114, 1.023060595741],
        ),
        (
            "i,j->ij",
            vec![wave(&[4], 6), wave(&[3], 10)],
            vec![4, 3],
            vec![
                0.15200792973,
                0.279412761757,
                0.149926789203,
                -0.357414579274,
                -0.656980164554,
                -0.352521216362,
                -0.538231772396,
                -0.989348557394,
                -0.530862841339,
                -0.224201156159,
                -0.41211444918,
                -0.221131618188,
            ],
        ),
        (
            "ijl,kj->ki",
            vec![wave(&[2, 3, 2], 11), wave(&[4, 3], 12)],
            vec![4, 2],
            vec![
                1.77621983013,
                2.185411297439,
                -1.753770514184,
                -2.215382090492,
                1.696219469472,
                2.201011995941,
                -1.604718580546,
                -2.142588631326,
            ],
        ),
    ];
    for (eq, inputs, shape, want) in cases {
        let tape = Tape::<f64>::new();
        let xs: Vec<_> = inputs.into_iter().map(|a| tape.var(a)).collect();
        let y = Tensor::einsum(eq, &xs).unwrap();
        assert_eq!(y.shape(), shape, "{eq}");
        assert!(
            close(&y.to_vec(), &want, 1e-10),
            "{eq}: {:?}, PyTorch {want:?}",
            y.to_vec()
        );
    }
    // Implicit outputs: the letters seen once, in alphabetical order (PyTorch's answers for
    // "ij,jk" and "ba" are those of the explicit forms).
    let tape = Tape::<f64>::new();
    let (a, b) = (
        tape.constant(wave(&[2, 3], 0)),
        tape.constant(wave(&[3, 4], 1)),
    );
    for (implicit, explicit, xs) in [
        ("ij,jk", "ij,jk->ik", vec![a, b]),
        ("ba", "ba->ab", vec![a]),
    ] {
        let i = Tensor::einsum(implicit, &xs).unwrap();
        let e = Tensor::einsum(explicit, &xs).unwrap();
        assert_eq!(
            (i.shape(), i.to_vec()),
            (e.shape(), e.to_vec()),
            "{implicit}"
        );
    }
}

#[test]
fn einsum_refuses_what_it_does_not_support() {
    let tape = Tape::<f64>::new();
    let a = tape.constant(Array::zeros(&[2, 3]));
    let b = tape.constant(Array::zeros(&[2, 4]));
    let err = |eq: &str, xs: &[Tensor<'_, f64>]| Tensor::einsum(eq, xs).unwrap_err().to_string();
    assert_eq!(
        err("ij,jk->ik", &[a, b]),
        "einsum: subscript j has size 2 in operand 1 but 3 before (equation 'ij,jk->ik')"
    );
    assert_eq!(
        err("ii->i", &[a]),
        "einsum: subscript i is repeated in operand 0: diagonals are not supported (equation 'ii->i')"
    );
    assert_eq!(
        err("...ij->ij", &[a]),
        "einsum: an ellipsis ('...') is not supported (equation '...ij->ij')"
    );
    assert_eq!(
        err("ij,ik,il->jkl", &[a, a, a]),
        "einsum: more than two operands is not supported: contract them in pairs (equation 'ij,ik,il->jkl')"
    );
    assert_eq!(
        err("ijk->i", &[a]),
        "einsum: operand 0 has 3 subscripts for shape [2, 3] (equation 'ijk->i')"
    );
    assert!(err("ij->ik", &[a]).contains("output subscript k is in no operand"));
    assert!(err("ij->ii", &[a]).contains("repeated in the output"));
    assert!(err("ij,jk->ik", &[a]).contains("2 operand subscripts for 1 operands"));
    assert!(err("i1->i", &[a]).contains("'1' is not a subscript"));
    assert!(err("ij->i->j", &[a]).contains("more than one '->'"));
    assert!(err("", &[]).contains("no operands"));
    // Spaces are ignored, as in PyTorch.
    assert_eq!(Tensor::einsum(" i j -> j ", &[a]).unwrap().shape(), vec![3]);
}

#[test]
fn multinomial_draws_in_proportion_and_never_a_zero_weight() {
    let tape = Tape::<f64>::new();
    let p = tape.constant(Array::from_slice(&[0.1, 0.0, 0.2, 0.7]));
    let draws = p.multinomial(20_000, true, 3).unwrap().to_vec();
    let freq = |k: usize| draws.iter().filter(|&&d| d == k).count() as f64 / 20_000.0;
    assert_eq!(freq(1), 0.0);
    for (k, want) in [(0, 0.1), (2, 0.2), (3, 0.7)] {
        assert!((freq(k) - want).abs() < 0.015, "category {k}: {}", freq(k));
    }
    // Weights need not add up to one; the same seed draws the same.
    let w = tape.constant(Array::from_slice(&[1.0, 0.0, 2.0, 7.0]));
    assert_eq!(
        w.multinomial(50, true, 3).unwrap().to_vec(),
        draws[..50].to_vec()
    );
    // Without replacement: each category at most once, all of them when asked.
    let mut all = p.multinomial(3, false, 11).unwrap().to_vec();
    all.sort_unstable();
    assert_eq!(all, [0, 2, 3]);
    let firsts: Vec<usize> = (0..2000)
        .map(|s| p.multinomial(2, false, s).unwrap().to_vec()[0])
        .collect();
    let heavy = firsts.iter().filter(|&&d| d == 3).count() as f64 / 2000.0;
    assert!((heavy - 0.7).abs() < 0.04, "{heavy}");
    // A batch of rows, each from its own weights.
    let rows = tape.constant(Array::from_vec(vec![1.0, 0.0, 0.0, 0.0, 0.0, 1.0], &[2, 3]).unwrap());
    let r = rows.multinomial(4, true, 5).unwrap();
    assert_eq!(
        (r.shape(), r.to_vec()),
        (&[2, 4][..], vec![0, 0, 0, 0, 2, 2, 2, 2])
    );
}

#[test]
fn multinomial_refuses_bad_weights() {
    let tape = Tape::<f64>::new();
    let err = |v: Vec<f64>, shape: &[usize], n: usize, rep: bool| {
        tape.constant(Array::from_vec(v, shape).unwrap())
            .multinomial(n, rep, 0)
            .unwrap_err()
            .to_string()
    };
    assert_eq!(
        err(vec![0.0, 0.0], &[2], 1, true),
        "multinomial: row 0 has no positive weight to draw from"
    );
    assert_eq!(
        err(vec![1.0, 1.0, -1.0, 2.0], &[2, 2], 1, true),
        "multinomial: row 1 has the weight -1: weights must be finite and not negative"
    );
    assert!(err(vec![f64::INFINITY, 1.0], &[2], 1, true).contains("weight inf"));
    assert!(err(vec![f64::NAN, 1.0], &[2], 1, true).contains("weight NaN"));
    assert_eq!(
        err(vec![0.0, 1.0, 1.0], &[3], 3, false),
        "multinomial: cannot draw 3 without replacement from row 0, which has 2 categories of positive weight"
    );
    assert!(err(vec![1.0; 8], &[2, 2, 2], 1, true).contains("not shape [2, 2, 2]"));
    assert!(err(vec![], &[0], 1, true).contains("no categories"));
    assert!(err(vec![1.0], &[1], 0, true).contains("must be positive"));
}
