//! The closed unions of the JS API (src/bindings/types.rs) against the codes the Rust side
//! produces. An app switches on `ErrorCode`, `StateReason` and `ConnectionStatus`; a code the
//! core gains without the union would reach it typed as impossible. The codes are read from the
//! functions that return them, so a new variant's new arm is found without being listed here.

use std::collections::BTreeSet;

const TYPES: &str = include_str!("../src/bindings/types.rs");
const OUTPUT: &str = include_str!("../src/core/output.rs");
const PROTOCOL: &str = include_str!("../src/core/protocol.rs");

/// The string literals of `export type {name} = …;` in types.rs, comments left out.
fn ts_union(name: &str) -> BTreeSet<String> {
    let start = TYPES
        .find(&format!("export type {name} ="))
        .unwrap_or_else(|| panic!("types.rs declares no {name}"));
    let mut found = BTreeSet::new();
    for line in TYPES[start..].lines() {
        let code = line.split("//").next().unwrap_or_default();
        found.extend(literals(code));
        if code.trim_end().ends_with(';') {
            return found;
        }
    }
    panic!("{name} has no end");
}

/// The string literals in the body of the function `signature`, found after `after` in
/// `source`: from the signature to the line that closes it at its indentation.
fn returned_codes(source: &str, after: &str, signature: &str) -> BTreeSet<String> {
    let from = source.find(after).expect(after);
    let start = from + source[from..].find(signature).expect(signature);
    let indent = &source[source[..start].rfind('\n').map_or(0, |n| n + 1)..start];
    let close = format!("\n{indent}}}\n");
    let end = start + source[start..].find(&close).expect("the function's end");
    source[start..end].lines().flat_map(literals).collect()
}

fn literals(line: &str) -> impl Iterator<Item = String> + '_ {
    line.split('"').skip(1).step_by(2).map(str::to_owned)
}

fn set(codes: &[&str]) -> BTreeSet<String> {
    codes.iter().map(|code| (*code).to_owned()).collect()
}

#[test]
fn error_code_lists_every_code_of_the_core_the_bindings_and_the_react_provider() {
    let mut produced = returned_codes(OUTPUT, "impl ClientError {", "pub fn code(&self)");
    produced.extend(returned_codes(
        PROTOCOL,
        "impl DecodeError {",
        "pub fn code(&self)",
    ));
    assert!(produced.contains("server_error") && produced.contains("malformed_frame"));
    // A throwing handler (bindings/dispatch.rs), a client the React provider could not create,
    // options the constructor refused, a ws:// URL on an https: page (bindings/mod.rs).
    produced.extend(set(&[
        "handler_error",
        "setup_failed",
        "invalid_options",
        "mixed_content",
    ]));
    assert_eq!(ts_union("ErrorCode"), produced);
}

#[test]
fn state_reason_lists_every_reason_of_the_core_and_the_react_provider() {
    let mut produced = returned_codes(OUTPUT, "impl StateReason {", "pub fn as_str(self)");
    assert!(produced.contains("connect_requested"));
    produced.insert("setup_failed".to_owned());
    assert_eq!(ts_union("StateReason"), produced);
}

#[test]
fn connection_status_lists_every_status_of_the_core() {
    let produced = returned_codes(OUTPUT, "impl Status {", "pub fn as_str(self)");
    assert_eq!(produced.len(), 7);
    assert_eq!(ts_union("ConnectionStatus"), produced);
}
