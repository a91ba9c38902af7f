//! The GPT against PyTorch (nanoGPT's classes on the same weights: loss, logits and every
//! parameter's gradient, without and with biases), the embedding gradchecked in f64, weight
//! tying, nanoGPT's optimizer settings against PyTorch, model files, checkpoints that resume
//! bit for bit, generation, and the text data's errors.
//!
//! The constants are printed by tests/reference/torch_gpt.py.

use chainrule::data::{read_text, CharVocab, Split, TextCorpus};
use chainrule::model_file::ModelFile;
use chainrule::nn::{embedding, Context, GptConfig, Module, Sampling, GPT};
use chainrule::optim::{clip_grad_norm, AdamW, AdamWConfig, LrSchedule, Optimizer, WarmupCosine};
use chainrule::rand::Rng;
use chainrule::tensor::{gradcheck, Array, Tape};
use chainrule::train::{LmModel, LmSettings, LmTrainer};

// printed by tests/reference/torch_gpt.py with torch 2.15.0+cu132
// transformer.wte.weight, transformer.wpe.weight, transformer.h.0.ln_1.weight, transformer.h.0.attn.c_attn.weight, transformer.h.0.attn.c_proj.weight, transformer.h.0.ln_2.weight, transformer.h.0.mlp.c_fc.weight, transformer.h.0.mlp.c_proj.weight, transformer.h.1.ln_1.weight, transformer.h.1.attn.c_attn.weight, transformer.h.1.attn.c_proj.weight, transformer.h.1.ln_2.weight, transformer.h.1.mlp.c_fc.weight, transformer.h.1.mlp.c_proj.weight, transformer.ln_f.weight
#[rustfmt::skip]
const LOSS_NO_BIAS: [f64; 1] = [2.593007782509e+00];
#[rustfmt::skip]
const LOGITS_NO_BIAS: [f64; 110] = [1.016519538924e+00, 1.085772005302e+00, 6.676558993838e-01, -5.014973700595e-02, -7.454447490600e-01, -1.106133286365e+00, -9.703137189185e-01, -3.989511373220e-01, 3.514879403190e-01, 9.441552437604e-01, 1.113021241835e+00, 1.266825717799e+00, 5.689669901621e-01, -3.842829506624e-01, -1.165040478616e+00, -1.422848333933e+00, -1.041984757572e+00, -1.934073138674e-01, 7.419845309919e-01, 1.344323083107e+00, 1.343237694911e+00, 7.392155626965e-01, 1.064870143276e+00, 1.054627975995e+00, 5.709968021317e-01, -1.689367030513e-01, -8.330398871609e-01, -1.123217920789e+00, -9.092190998291e-01, -2.871006990457e-01, 4.638880880765e-01, 1.006652244165e+00, 1.097562176123e+00, 8.429547529486e-01, 1.000541863926e+00, 7.090175064161e-01, 9.923770655912e-02, -5.550867482784e-01, -9.602503897149e-01, -9.343881258998e-01, -4.891087057511e-01, 1.757160797741e-01, 7.616674973078e-01, 1.005730563590e+00, -5.084061928309e-01, -1.769195777566e-01, 2.339806173341e-01, 5.398543438307e-01, 6.034045995472e-01, 3.961056928592e-01, 1.100751978330e-02, -3.790315793573e-01, -5.989354394380e-01, -5.499962011600e-01, -2.541811344220e-01, 1.093632340691e+00, 1.104737040514e+00, 6.199603660065e-01, -1.430968287070e-01, -8.419224013428e-01, -1.162835744963e+00, -9.617890508676e-01, -3.290257953925e-01, 4.514266907554e-01, 1.029248071390e+00, 1.145072678629e+00, 8.697337819639e-01, 1.024342228686e+00, 7.191559790077e-01, 9.116344860425e-02, -5.777494587981e-01, -9.873289817474e-01, -9.537278794170e-01, -4.920286195721e-01, 1.905266622357e-01, 7.875605759251e-01, 1.031083557659e+00, 6.364193319249e-01, 9.114469188364e-01, 7.773549287207e-01, 2.943329975788e-01, -3.208056690373e-01, -7.919448586547e-01, -9.076051510311e-01, -6.158703139451e-01, -4.769085113525e-02, 5.418955202299e-01, 8.882422015509e-01, 9.768365621325e-01, 1.080550364564e+00, 6.992394234022e-01, 4.062110836242e-03, -6.929385542836e-01, -1.078901108049e+00, -9.805792170964e-01, -4.421064558632e-01, 2.948138534233e-01, 8.994015863176e-01, 1.100276509429e+00, -1.180672606685e+00, -1.221079747422e+00, -7.133829673969e-01, 1.145287717756e-01, 8.910321823905e-01, 1.267579542858e+00, 1.075150701086e+00, 4.001208531789e-01, -4.545105390735e-01, -1.105126584236e+00, -1.259686401263e+00];
#[rustfmt::skip]
const GRAD_NORMS_NO_BIAS: [f64; 15] = [1.014547903600e+00, 6.489321663090e-01, 1.589038326315e-01, 4.571261514220e-01, 4.651349443401e-01, 2.016875346742e-01, 3.375917984842e-01, 4.462570576416e-01, 7.148780452084e-02, 2.098837795359e-01, 1.556357318653e-01, 1.550665403432e-01, 2.124250197891e-01, 2.655266337054e-01, 2.645822060084e-01];
#[rustfmt::skip]
const GRAD_PROJECTIONS_NO_BIAS: [f64; 15] = [1.311188843320e+00, 1.061306987986e-01, 2.128609680313e-02, -1.369429105324e-01, -3.848413273521e-02, -3.299101540746e-02, -2.696024793324e-02, -4.344616963417e-02, 1.444596678955e-02, -5.998772909931e-01, 2.193964507671e-03, 7.807916900552e-02, -2.470590110398e-01, 5.093192249259e-03, 9.189766655643e-03];
// transformer.wte.weight, transformer.wpe.weight, transformer.h.0.ln_1.weight, transformer.h.0.ln_1.bias, transformer.h.0.attn.c_attn.weight, transformer.h.0.attn.c_attn.bias, transformer.h.0.attn.c_proj.weight, transformer.h.0.attn.c_proj.bias, transformer.h.0.ln_2.weight, transformer.h.0.ln_2.bias, transformer.h.0.mlp.c_fc.weight, transformer.h.0.mlp.c_fc.bias, transformer.h.0.mlp.c_proj.weight, transformer.h.0.mlp.c_proj.bias, transformer.h.1.ln_1.weight, transformer.h.1.ln_1.bias, transformer.h.1.attn.c_attn.weight, transformer.h.1.attn.c_attn.bias, transformer.h.1.attn.c_proj.weight, transformer.h.1.attn.c_proj.bias, transformer.h.1.ln_2.weight, transformer.h.1.ln_2.bias, transformer.h.1.mlp.c_fc.weight, transformer.h.1.mlp.c_fc.bias, transformer.h.1.mlp.c_proj.weight, transformer.h.1.mlp.c_proj.bias, transformer.ln_f.weight, transformer.ln_f.bias
#[rustfmt::skip]
const LOSS_BIAS: [f64; 1] = [2.836974684125e+00];
#[rustfmt::skip]
const LOGITS_BIAS: [f64; 110] = [2.062007683922e-01, -2.717598339976e-01, -6.277360771885e-01, -7.019415303570e-01, -4.610677221197e-01, -1.323525556004e-02, 4.405380969083e-01, 6.965678878518e-01, 6.399304748594e-01, 2.960485939878e-01, -1.807200991037e-01, -8.878063375725e-01, -6.435646072848e-01, -1.104471624815e-01, 4.722465060870e-01, 8.429637152150e-01, 8.353012825990e-01, 4.526986309042e-01, -1.331060598438e-01, -6.591636673798e-01, -8.893436377031e-01, -7.203254919656e-01, 1.772627961636e-01, -1.810113131230e-01, -4.580351923287e-01, -5.294616195310e-01, -3.632295398493e-01, -3.395525481727e-02, 3.105604657845e-01, 5.156754557707e-01, 4.893201099775e-01, 2.433245061641e-01, -1.118917412050e-01, 3.648933498572e-01, 8.390307704206e-03, -3.518788771261e-01, -5.542008086392e-01, -5.077595969206e-01, -2.334012270763e-01, 1.457235414750e-01, 4.594376400037e-01, 5.669247723052e-01, 4.199373781606e-01, 8.445343091958e-02, 4.873508987450e-01, 6.486567054581e-01, 5.188011164953e-01, 1.560721819155e-01, -2.767125987387e-01, -5.852898813868e-01, -6.311491233431e-01, -3.937055672463e-01, 2.045991507152e-02, 4.254415912597e-01, 6.394560478887e-01, 1.698845610765e-01, -3.129917508830e-01, -6.553760055565e-01, -7.035827841250e-01, -4.359735945927e-01, 2.733029632994e-02, 4.783664851588e-01, 7.146791502942e-01, 6.301950409429e-01, 2.628363908292e-01, -2.225011682271e-01, 3.067989248425e-01, -1.117898665192e-01, -4.801997369135e-01, -6.330631951202e-01, -5.017646892383e-01, -1.452399489089e-01, 2.764783920977e-01, 5.740943630216e-01, 6.140176059116e-01, 3.783278448775e-01, -2.718127115692e-02, 4.732359544075e-01, 1.525652745674e-01, -2.365871120074e-01, -5.195430573039e-01, -5.692926233162e-01, -3.635048097593e-01, 5.448769068784e-03, 3.719565684986e-01, 5.715048765617e-01, 5.145227948284e-01, 2.265877702076e-01, 2.237478086814e-01, -2.459361792503e-01, -6.052272265168e-01, -6.928509920134e-01, -4.694759500783e-01, -3.536806331047e-02, 4.146154238931e-01, 6.784912142616e-01, 6.378138454075e-01, 3.108420964173e-01, -1.556567982358e-01, 4.093630436600e-01, 6.594725608683e-01, 6.135657883864e-01, 2.922488185192e-01, -1.602493650295e-01, -5.408166976589e-01, -6.786285894361e-01, -5.118256586375e-01, -1.152804437345e-01, 3.330105013976e-01, 6.318236078736e-01];
#[rustfmt::skip]
const GRAD_NORMS_BIAS: [f64; 28] = [9.355379813198e-01, 1.876202329254e-01, 1.189384579427e-01, 8.206610661749e-02, 2.871927579614e-01, 7.162648597755e-02, 1.594499850884e-01, 1.348384785775e-02, 5.997948176880e-02, 3.341440203852e-02, 7.580094975632e-02, 2.995870223822e-02, 2.112876520741e-01, 1.879258569219e-02, 4.493599975033e-02, 1.715479390362e-02, 1.207141311698e-01, 1.572908484091e-02, 5.742913383537e-02, 1.743371164094e-02, 6.727926816649e-02, 4.189866721574e-02, 9.605342050174e-02, 3.405336728700e-02, 1.396453846383e-01, 2.448866092397e-02, 3.386230446005e-01, 1.467048679349e-01];
#[rustfmt::skip]
const GRAD_PROJECTIONS_BIAS: [f64; 28] = [-2.815436362067e-01, 3.164645131361e-02, 7.604133797484e-03, 1.829113170051e-03, 9.206745708725e-02, -5.502905318993e-03, 2.959327925213e-02, 8.159755267693e-03, -6.953062514057e-04, -2.435161494582e-03, 2.819946125035e-03, -3.177541081409e-03, 1.907214382929e-04, 7.999612008792e-03, -1.376461128295e-02, -1.705005484827e-03, 4.971703656648e-01, 1.401985590295e-03, -7.270973577662e-03, 1.041975164363e-02, 1.635049122354e-02, -2.839129067716e-03, -6.150868614264e-02, -5.664042551961e-03, -1.408298949784e-03, 1.297566096747e-02, 6.273800395286e-02, 7.112919484278e-03];
#[rustfmt::skip]
const OPTIM_LRS: [f64; 5] = [3.333333333333e-03, 6.666666666667e-03, 1.000000000000e-02, 8.550178566873e-03, 5.050000000000e-03];
#[rustfmt::skip]
const OPTIM_NORMS: [f64; 5] = [2.055622191555e+00, 4.057791928534e+00, 6.770747835347e+00, 8.380428369078e+00, 9.997900696539e+00];
#[rustfmt::skip]
const OPTIM_PARAMS: [f64; 45] = [4.998333333333e-01, -1.002999999931e+00, 2.002666666399e+00, 2.532499999260e-01, -3.333333194659e-03, -7.530833332475e-01, 9.966666667352e-01, -2.003333333223e+00, 5.033333330317e-01, 4.945503793568e-01, -1.008420196802e+00, 2.007259338929e+00, 2.584435034719e-01, -9.739900861149e-03, -7.565658538374e-01, 9.903580065858e-01, -2.004973410099e+00, 5.091815541336e-01, 4.854973235545e-01, -1.011254138934e+00, 2.014550350780e+00, 2.595831124963e-01, -1.918835432733e-02, -7.545522431014e-01, 9.854295456696e-01, -2.001156200605e+00, 5.184263277023e-01, 4.785399671766e-01, -1.009284823327e+00, 2.018861862677e+00, 2.569534884037e-01, -2.416460404904e-02, -7.502070256856e-01, 9.858804634207e-01, -1.996246695348e+00, 5.245494615042e-01, 4.770654062774e-01, -1.007303858723e+00, 2.018584563026e+00, 2.550561674576e-01, -2.442269761765e-02, -7.478467854075e-01, 9.871876287559e-01, -1.994207934966e+00, 5.253469318490e-01];

/// The tiny GPT of the reference script, every parameter set by its formula.
fn tiny(bias: bool) -> GPT {
    let config = GptConfig {
        vocab_size: 11,
        block_size: 6,
        n_layer: 2,
        n_head: 2,
        n_embd: 8,
        dropout: 0.0,
        bias,
        tie_weights: true,
    };
    let mut gpt = GPT::new(config, 0).unwrap();
    for (k, (name, p)) in gpt.parameters_mut().into_iter().enumerate() {
        let matrix = p.ndim() >= 2;
        for (i, v) in p.data_mut().iter_mut().enumerate() {
            let wave = (0.7 * i as f64 + 1.3 * k as f64 + 0.1).sin();
            *v = if matrix {
                0.3 * wave
            } else if name.ends_with(".weight") {
                1.0 + 0.2 * wave
            } else {
                0.1 * wave
            } as f32;
        }
    }
    gpt
}

fn close(got: f64, want: f64, tol: f64, what: &str) {
    assert!(
        (got - want).abs() <= tol * (1.0 + want.abs()),
        "{what}: got {got}, PyTorch {want}"
    );
}

fn check_against_torch(bias: bool, loss: f64, logits: &[f64], norms: &[f64], projections: &[f64]) {
    let gpt = tiny(bias);
    let ids = Array::from_vec(vec![1, 4, 9, 0, 3, 10, 2, 2, 7, 5], &[2, 5]).unwrap();
    let targets = [4, 9, 0, 3, 8, 2, 2, 7, 5, 6];
    let tape = Tape::<f32>::new();
    let mut ctx = Context::new(&tape, 0);
    let got = gpt.logits(&ids, &mut ctx).unwrap().to_vec();
    for (i, (&g, &w)) in got.iter().zip(logits).enumerate() {
        close(f64::from(g), w, 1e-5, &format!("logit {i}"));
    }
    let tape = Tape::<f32>::new();
    let mut ctx = Context::new(&tape, 0);
    let l = gpt.loss(&ids, &targets, &mut ctx).unwrap();
    close(f64::from(l.item()), loss, 1e-6, "loss");
    l.backward().unwrap();
    let names: Vec<String> = gpt.named_parameters().into_iter().map(|(n, _)| n).collect();
    assert_eq!(ctx.parameters().len(), names.len());
    assert_eq!(names.len(), norms.len());
    for (k, p) in ctx.parameters().iter().enumerate() {
        let g = p.grad().unwrap();
        let norm = g
            .data()
            .iter()
            .map(|&v| f64::from(v).powi(2))
            .sum::<f64>()
            .sqrt();
        let proj: f64 = g
            .data()
            .iter()
            .enumerate()
            .map(|(i, &v)| f64::from(v) * (3.1 * i as f64 + 0.5).sin())
            .sum();
        close(
            norm,
            norms[k],
            1e-4,
            &format!("gradient norm of {}", names[k]),
        );
        assert!(
            (proj - projections[k]).abs() <= 1e-4 * (1.0 + norms[k]),
            "gradient projection of {}: got {proj}, PyTorch {}",
            names[k],
            projections[k]
        );
    }
}

#[test]
fn gpt_logits_loss_and_gradients_match_nanogpt_in_pytorch() {
    check_against_torch(
        false,
        LOSS_NO_BIAS[0],
        &LOGITS_NO_BIAS,
        &GRAD_NORMS_NO_BIAS,
        &GRAD_PROJECTIONS_NO_BIAS,
    );
    check_against_torch(
        true,
        LOSS_BIAS[0],
        &LOGITS_BIAS,
        &GRAD_NORMS_BIAS,
        &GRAD_PROJECTIONS_BIAS,
    );
}

#[test]
fn tied_embedding_is_one_parameter_with_both_names_in_the_state_dict() {
    let gpt = tiny(false);
    let names: Vec<String> = gpt.named_parameters().into_iter().map(|(n, _)| n).collect();
    assert_eq!(names.iter().filter(|n| n.contains("wte")).count(), 1);
    assert!(!names.iter().any(|n| n == "lm_head.weight"));
    let state = gpt.state_dict();
    let get = |n: &str| state.iter().find(|t| t.name == n).unwrap();
    assert_eq!(
        get("lm_head.weight").data,
        get("transformer.wte.weight").data
    );
    assert_eq!(state.len(), names.len() + 1);

    // The file loads back; a head that differs from the embedding, or is missing, is refused.
    let mut back = GPT::new(gpt.config, 1).unwrap();
    back.load_state_dict(&state).unwrap();
    assert_eq!(back.state_dict(), state);
    let mut changed = state.clone();
    changed
        .iter_mut()
        .find(|t| t.name == "lm_head.weight")
        .unwrap()
        .data[0] += 1.0;
    assert_eq!(
        back.load_state_dict(&changed).unwrap_err().to_string(),
        "tensor 'lm_head.weight' differs from 'transformer.wte.weight', but the architecture \
         ties them (one parameter)"
    );
    let missing: Vec<_> = state
        .iter()
        .filter(|t| t.name != "lm_head.weight")
        .cloned()
        .collect();
    assert!(back
        .load_state_dict(&missing)
        .unwrap_err()
        .to_string()
        .contains("'lm_head.weight' is missing"));

    // Untied, the head is a parameter of its own.
    let untied = GPT::new(
        GptConfig {
            tie_weights: false,
            ..gpt.config
        },
        0,
    )
    .unwrap();
    let names: Vec<String> = untied
        .named_parameters()
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert_eq!(names.last().unwrap(), "lm_head.weight");
    assert_eq!(untied.state_dict().len(), names.len());
}

#[test]
fn embedding_gradient_scatters_and_adds_and_skips_the_padding_row() {
    let ids = Array::from_vec(vec![2, 0, 2, 1, 3, 2], &[2, 3]).unwrap();
    // Against finite differences without a padding row (with one, its zero gradient is the
    // point, which differences do not see).
    let picks = ids.clone();
    gradcheck(
        move |x| Ok(embedding(x[0], &picks, None)?.tanh().sum_all()),
        &[Array::randn(&[4, 3], 1)],
    )
    .unwrap();
    let tape = Tape::<f64>::new();
    let w = tape.var(Array::randn(&[4, 3], 2));
    let y = embedding(w, &ids, Some(2)).unwrap();
    assert_eq!(y.shape(), vec![2, 3, 3]);
    y.sum_all().backward().unwrap();
    let g = w.grad().unwrap().to_vec();
    assert_eq!(
        g,
        [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0]
    );
    let err = embedding(w, &Array::from_vec(vec![4], &[1]).unwrap(), None).unwrap_err();
    assert_eq!(
        err.to_string(),
        "embedding: index 4 is out of a table of 4 rows"
    );
}

#[test]
fn adamw_groups_clipping_and_schedule_match_pytorch() {
    let schedule = WarmupCosine {
        warmup: 2,
        decay_steps: 6,
        min_lr: 1e-4,
    };
    let config = AdamWConfig::new(1e-2).betas(0.9, 0.99).weight_decay(0.1);
    let mut opt = AdamW::<f64>::new(config).with_decays(vec![true, false]);
    let mut w = vec![0.5, -1.0, 2.0, 0.25, 0.0, -0.75];
    let mut b = vec![1.0, -2.0, 0.5];
    for it in 0..5 {
        let lr = schedule.lr_at(1e-2, it);
        close(lr, OPTIM_LRS[it as usize], 1e-15, "learning rate");
        opt.set_lr(lr);
        let scale = 1.0 + it as f64;
        let mut gw: Vec<f64> = (0..6)
            .map(|i| (i as f64 * 1.7 + it as f64).sin() * scale)
            .collect();
        let mut gb: Vec<f64> = (0..3)
            .map(|i| (i as f64 * 0.9 + it as f64).cos() * scale)
            .collect();
        let norm = clip_grad_norm(&mut [&mut gw, &mut gb], 1.0);
        close(norm, OPTIM_NORMS[it as usize], 1e-12, "gradient norm");
        opt.step(&mut [&mut w, &mut b], &[&gw, &gb]);
        let want = &OPTIM_PARAMS[it as usize * 9..(it as usize + 1) * 9];
        for (i, (&got, &want)) in w.iter().chain(&b).zip(want).enumerate() {
            close(got, want, 1e-12, &format!("step {it}, parameter {i}"));
        }
    }
}

fn tiny_settings() -> LmSettings {
    LmSettings {
        context: 8,
        batch: 4,
        layers: 1,
        heads: 2,
        channels: 16,
        steps: 12,
        warmup: 3,
        eval_every: 4,
        eval_batches: 2,
        ..LmSettings::baby()
    }
}

fn corpus() -> TextCorpus {
    TextCorpus::from_text(
        &"to be, or not to be: that is the question.\n".repeat(12),
        "<t>",
    )
    .unwrap()
}

#[test]
fn a_resumed_run_continues_bit_for_bit() {
    let corpus = corpus();
    let mut whole = LmTrainer::new(&corpus, tiny_settings()).unwrap();
    whole.fit(&corpus, &mut |_| {}).unwrap();

    let mut first = LmTrainer::new(&corpus, tiny_settings()).unwrap();
    while first.step() < 6 {
        first.advance(&corpus, &mut |_| {}).unwrap();
    }
    let file =
        ModelFile::from_bytes(&first.checkpoint("<t>").to_bytes().unwrap(), "c".as_ref()).unwrap();
    let mut resumed = LmTrainer::from_checkpoint(&corpus, &file, "c".as_ref()).unwrap();
    assert_eq!(resumed.step(), 6);
    resumed.fit(&corpus, &mut |_| {}).unwrap();
    assert_eq!(resumed.losses(), whole.losses());
    assert_eq!(resumed.evals(), whole.evals());
    assert_eq!(resumed.model.gpt.state_dict(), whole.model.gpt.state_dict());
    assert_eq!(
        whole.evals().iter().map(|e| e.step).collect::<Vec<_>>(),
        [0, 4, 8, 12]
    );

    // The checkpoint is for this text only.
    let other = TextCorpus::from_text(&"abcdefgh ".repeat(40), "<o>").unwrap();
    let err = LmTrainer::from_checkpoint(&other, &file, "c".as_ref()).unwrap_err();
    assert!(err.to_string().contains("vocabulary"), "{err}");
}

#[test]
fn training_lowers_the_loss_and_the_model_file_gives_the_same_model() {
    let corpus = corpus();
    let mut trainer = LmTrainer::new(
        &corpus,
        LmSettings {
            steps: 60,
            lr: 3e-3,
            ..tiny_settings()
        },
    )
    .unwrap();
    let before = trainer.validation_loss(&corpus).unwrap();
    trainer.fit(&corpus, &mut |_| {}).unwrap();
    let after = trainer.validation_loss(&corpus).unwrap();
    assert!(after < before - 0.5, "validation loss {before} -> {after}");
    assert!(
        (before - (corpus.vocab.len() as f64).ln()).abs() < 0.1,
        "{before}"
    );

    let file = trainer.model.to_file();
    assert_eq!(file.metadata["format"], "chainrule.gpt");
    let back = LmModel::from_file(&file, "m".as_ref()).unwrap();
    assert_eq!(back.vocab, corpus.vocab);
    let prompt = corpus.vocab.encode("to be").unwrap();
    assert_eq!(
        back.gpt.next_logits(&prompt).unwrap(),
        trainer.model.gpt.next_logits(&prompt).unwrap()
    );

    // Generation is the same for the same seed, and differs for another.
    let draw = |seed: u64| {
        let mut seen = Vec::new();
        let drawn = back
            .gpt
            .generate(
                &prompt,
                30,
                Sampling::default(),
                &mut Rng::new(seed),
                &mut |t| seen.push(t),
            )
            .unwrap();
        assert_eq!(seen, drawn);
        back.vocab.decode(&drawn)
    };
    assert_eq!(draw(1), draw(1));
    assert_ne!(draw(1), draw(2));
    // A context longer than the model's is cut to its last block_size tokens.
    let long = corpus.vocab.encode(&"to be ".repeat(5)).unwrap();
    assert!(back.gpt.next_logits(&long).is_ok());
    let ids = Array::from_vec(long.clone(), &[1, long.len()]).unwrap();
    let tape = Tape::new();
    let err = back
        .gpt
        .logits(&ids, &mut Context::inference(&tape))
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "gpt: a context of 30 tokens is longer than the model's 8"
    );
}

#[test]
fn text_data_splits_as_nanogpt_and_names_what_is_wrong() {
    let c = TextCorpus::from_text("hello world, hello", "<t>").unwrap();
    assert_eq!(c.vocab.as_string(), " ,dehlorw");
    assert_eq!((c.train.len(), c.val.len()), (16, 2));
    let err = |t: &str| TextCorpus::from_text(t, "f.txt").unwrap_err().to_string();
    assert_eq!(err(""), "f.txt: the text is empty");
    assert!(err("aaaa").contains("only one distinct character ('a')"));
    assert!(err("ab").contains("too few"));
    let v = CharVocab::from_text("abc");
    assert_eq!(
        v.encode("cabbage!").unwrap_err().to_string(),
        "'g', 'e', '!' are not in the vocabulary (3 characters: \"abc\")"
    );
    let path = std::env::temp_dir().join(format!("chainrule-gpt-{}.txt", std::process::id()));
    std::fs::write(
        &path,
        "ok\n\u{e9}t\u{e9}\n"
            .as_bytes()
            .iter()
            .chain(&[0xff, b'x'])
            .copied()
            .collect::<Vec<u8>>(),
    )
    .unwrap();
    let e = read_text(&path).unwrap_err().to_string();
    assert!(
        e.ends_with("byte 0xFF at offset 9 does not make a valid character"),
        "{e}"
    );
    std::fs::remove_file(&path).unwrap();
    let mut rng = Rng::new(3);
    let (x, y) = c.batch(Split::Val, 2, 8, &mut rng);
    assert_eq!((x.len(), y.len()), (2, 2)); // the part allows windows of one
                                            // The shipped corpus.
    let s = TextCorpus::open("shakespeare").unwrap();
    assert_eq!(s.train.len() + s.val.len(), 1_058_545);
    assert_eq!(s.vocab.len(), 72);
}

#[test]
fn attention_composed_for_dropout_agrees_with_the_fused_kernel() {
    // With a dropout too small to drop anything, the composed path (scores, mask, softmax,
    // dropout, values) must give the fused kernel's output and gradients.
    let fused = tiny(true);
    let mut composed = fused.clone();
    for b in &mut composed.h {
        b.attn.dropout = 1e-12;
    }
    let ids = Array::from_vec(vec![1, 4, 9, 0, 3, 10, 2, 2, 7, 5], &[2, 5]).unwrap();
    let targets = [4, 9, 0, 3, 8, 2, 2, 7, 5, 6];
    let run = |gpt: &GPT| {
        let tape = Tape::<f32>::new();
        let mut ctx = Context::new(&tape, 0);
        let loss = gpt.loss(&ids, &targets, &mut ctx).unwrap();
        loss.backward().unwrap();
        let grads: Vec<Vec<f32>> = ctx
            .parameters()
            .iter()
            .map(|p| p.grad().unwrap().to_vec())
            .collect();
        (loss.item(), grads)
    };
    let ((a, ga), (b, gb)) = (run(&fused), run(&composed));
    assert!((a - b).abs() < 1e-5, "{a} vs {b}");
    for (x, y) in ga.iter().flatten().zip(gb.iter().flatten()) {
        assert!((x - y).abs() < 1e-5 * (1.0 + x.abs()), "{x} vs {y}");
    }
    // The weights drawn for a prompt: each row sums to one over the positions seen.
    let w = fused.attention(&[1, 4, 9, 0], 1).unwrap();
    assert_eq!(w.shape(), &[2, 4, 4]);
    for (r, row) in w.data().chunks(4).enumerate() {
        let i = r % 4;
        assert!((row.iter().sum::<f32>() - 1.0).abs() < 1e-5);
        assert!(row[i + 1..].iter().all(|&v| v == 0.0));
    }
    // A real dropout trains without error and changes the loss; evaluation mode switches it off.
    let mut dropping = fused.clone();
    for b in &mut dropping.h {
        b.attn.dropout = 0.5;
    }
    let (c, _) = run(&dropping);
    assert!((c - a).abs() > 1e-4);
    dropping.set_training(false);
    let tape = Tape::<f32>::new();
    let l = dropping
        .loss(&ids, &targets, &mut Context::inference(&tape))
        .unwrap()
        .item();
    assert!((l - a).abs() < 1e-5);
}

#[test]
fn a_block_and_its_attention_take_batch_time_channels_and_name_any_other_shape() {
    let gpt = tiny(false);
    let block = &gpt.h[0];
    let c = gpt.config.n_embd;
    let tape = Tape::<f32>::new();
    let mut ctx = Context::new(&tape, 0);
    let x = tape.constant(Array::randn(&[2, 5, c], 3));
    // Applied to [batch, time, channels], each keeps the shape, and the sequences of a batch do
    // not see each other: the first one's attention is the same when it is alone.
    let y = block.forward(x, &mut ctx).unwrap();
    assert_eq!(y.shape(), vec![2, 5, c]);
    let a = block.attn.forward(x, &mut ctx).unwrap();
    assert_eq!(a.shape(), vec![2, 5, c]);
    let alone = tape.constant(Array::from_vec(x.to_vec()[..5 * c].to_vec(), &[1, 5, c]).unwrap());
    let a1 = block.attn.forward(alone, &mut ctx).unwrap().to_vec();
    for (p, q) in a1.iter().zip(&a.to_vec()[..5 * c]) {
        assert!((p - q).abs() < 1e-6, "{p} vs {q}");
    }
    // Any other number of dimensions is an error that names the module and the shape.
    let flat = tape.constant(Array::randn(&[10, c], 4));
    let e = block.forward(flat, &mut ctx).unwrap_err().to_string();
    assert!(
        e.contains("block") && e.contains(&format!("got [10, {c}]")),
        "{e}"
    );
    let e = block.attn.forward(flat, &mut ctx).unwrap_err().to_string();
    assert!(
        e.contains("attention") && e.contains("expected [batch, time, channels]"),
        "{e}"
    );
}
