//! The format reference must document every diagnostic code and every kind.

use clawops::spec::{Code, Kind};

#[test]
fn the_format_reference_documents_every_code_and_kind() {
    let reference = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/format.md"))
        .expect("docs/format.md");
    let missing_codes: Vec<&str> = Code::ALL
        .iter()
        .map(|code| code.as_str())
        .filter(|code| !reference.contains(&format!("`{code}`")))
        .collect();
    assert!(
        missing_codes.is_empty(),
        "docs/format.md lacks codes {missing_codes:?}"
    );
    let missing_kinds: Vec<&str> = Kind::ALL
        .iter()
        .map(|kind| kind.as_str())
        .filter(|kind| !reference.contains(kind))
        .collect();
    assert!(
        missing_kinds.is_empty(),
        "docs/format.md lacks kinds {missing_kinds:?}"
    );
}
