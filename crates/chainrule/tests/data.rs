//! The data loaders on arbitrary input: they return a dataset or an error, and never panic; and a
//! table written as CSV reads back as the same dataset.

use chainrule::data::{CsvOptions, Dataset, IdxArray, TargetKind};
use proptest::prelude::*;

/// Bytes that look a little like CSV: mostly digits, separators, quotes and newlines.
fn csvish() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(
        prop_oneof![
            4 => prop::sample::select(b"0123456789.,-e\n\r\" ab".to_vec()),
            1 => any::<u8>(),
        ],
        0..300,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn csv_never_panics(bytes in csvish(), header in any::<bool>(), regression in any::<bool>(), target in 0usize..4) {
        let options = CsvOptions {
            has_header: header,
            kind: if regression { TargetKind::Regression } else { TargetKind::Classes },
            target: target.into(),
            max_line_bytes: 64,
            ..CsvOptions::default()
        };
        if let Ok(d) = Dataset::from_csv_reader(&bytes[..], "fuzz.csv", &options) {
            prop_assert_eq!(d.features.len(), d.n_samples * d.n_features);
            prop_assert_eq!(d.targets.len(), d.n_samples);
            prop_assert!(d.features.iter().all(|x| x.is_finite()));
        }
    }

    #[test]
    fn idx_never_panics(mut bytes in prop::collection::vec(any::<u8>(), 0..64), dims in 0u8..4) {
        // Give most inputs a plausible magic number, so the checks past it are reached too.
        if bytes.len() >= 4 && bytes[0] % 4 != 0 {
            bytes[0] = 0;
            bytes[1] = 0;
            bytes[2] = 8;
            bytes[3] = dims;
        }
        if let Ok(a) = IdxArray::parse(&bytes, "fuzz.idx") {
            prop_assert_eq!(a.data.len(), a.dims.iter().product::<usize>());
        }
    }

    #[test]
    fn a_written_table_reads_back(
        rows in prop::collection::vec(
            (prop::collection::vec(-1e6f32..1e6, 3), 0usize..4),
            1..30,
        ),
    ) {
        let mut csv = String::from("f0,f1,f2,label\n");
        for (x, label) in &rows {
            csv.push_str(&format!("{},{},{},class{label}\n", x[0], x[1], x[2]));
        }
        let d = Dataset::from_csv_str(&csv, "t.csv", &CsvOptions::classes("label")).unwrap();
        prop_assert_eq!(d.n_samples, rows.len());
        let mut present: Vec<usize> = rows.iter().map(|r| r.1).collect();
        present.sort_unstable();
        present.dedup();
        prop_assert_eq!(d.n_classes(), present.len());
        for (i, (x, label)) in rows.iter().enumerate() {
            prop_assert_eq!(d.row(i), &x[..]);
            let k = d.labels().unwrap()[i];
            prop_assert_eq!(&d.class_names()[k], &format!("class{label}"));
        }
    }
}
