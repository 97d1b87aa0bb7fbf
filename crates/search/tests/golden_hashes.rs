//! The configuration hashes of every shipped search space are pinned: a database filled by
//! any earlier version keeps reusing its trials. `golden-hashes.tsv` was written by the build
//! before the identity structure existed (file name, tab, hash, in expansion order).

use std::collections::BTreeMap;
use std::path::Path;

use fcnsweep_search::{expand, load_spec};

#[test]
fn shipped_search_spaces_keep_their_hashes() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let golden = include_str!("golden-hashes.tsv");
    let mut expected: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for line in golden.lines() {
        let (file, hash) = line.split_once('\t').expect("file<TAB>hash");
        expected.entry(file).or_default().push(hash);
    }
    let mut files: Vec<_> = std::fs::read_dir(root.join("search-spaces"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    let mut checked = 0;
    for path in files {
        let name = path.file_name().unwrap().to_str().unwrap();
        let Some(want) = expected.get(name) else {
            // Search spaces added after the golden file have no earlier hashes to keep.
            continue;
        };
        let (spec, _) = load_spec(&path).unwrap_or_else(|e| panic!("{e}"));
        let plan = expand(&spec).unwrap();
        let got: Vec<&str> = plan.configs.iter().map(|c| c.hash.as_str()).collect();
        assert_eq!(&got, want, "{name}: configuration hashes changed");
        checked += got.len();
    }
    assert_eq!(
        checked,
        golden.lines().count(),
        "a pinned search space is missing"
    );
}
