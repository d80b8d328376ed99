//! The published JSON Schema of the report (`schema/report.schema.json`),
//! for tests that check real `--json` output against it.

use serde_json::Value;
use std::path::Path;

/// A validator for `schema/report.schema.json`.
pub fn schema() -> jsonschema::Validator {
    schema_file("report.schema.json")
}

/// A validator for the schema `schema/NAME`.
pub fn schema_file(name: &str) -> jsonschema::Validator {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("schema")
        .join(name);
    let schema: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    jsonschema::validator_for(&schema).expect("the schema itself is valid")
}

/// Panics with every violation when `report` does not match the schema.
#[track_caller]
pub fn assert_valid(validator: &jsonschema::Validator, report: &Value, what: &str) {
    let errors: Vec<String> = validator
        .iter_errors(report)
        .map(|e| format!("  at {}: {e}", e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{what} --json does not match schema/report.schema.json (update the schema with \
         the report):\n{}\n--- report ---\n{}",
        errors.join("\n"),
        serde_json::to_string_pretty(report).unwrap()
    );
}
