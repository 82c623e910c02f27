//! The OCSF 1.8.0 JSON Schemas of the two classes scantix exports (`tests/fixtures/ocsf`, generated
//! by PyPI's `ocsf-json-schema`; `tests/fixtures/SOURCES.md`), as validators every exported event
//! is checked against: required fields, enums, types, no property the class does not define.

use serde_json::Value;
use std::path::PathBuf;

/// Validators for Vulnerability Finding (2002) and Detection Finding (2004).
pub struct OcsfSchemas {
    vulnerability: jsonschema::Validator,
    detection: jsonschema::Validator,
}

fn schema(file: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/ocsf/ocsf-json-schema-1.2.0")
        .join(file);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    serde_json::from_str(&text).expect("the schema is JSON")
}

impl OcsfSchemas {
    pub fn load() -> OcsfSchemas {
        let compile = |file: &str| {
            jsonschema::draft202012::new(&schema(file))
                .unwrap_or_else(|e| panic!("{file} is a valid draft 2020-12 schema: {e}"))
        };
        OcsfSchemas {
            vulnerability: compile("ocsf-1.8.0.vulnerability_finding.2002.schema.json"),
            detection: compile("ocsf-1.8.0.detection_finding.2004.schema.json"),
        }
    }

    /// What is wrong with `event` for the schema of its `class_uid` (empty: it is valid). An event
    /// of another class is wrong in itself.
    pub fn errors(&self, event: &Value) -> Vec<String> {
        let validator = match event["class_uid"].as_u64() {
            Some(2002) => &self.vulnerability,
            Some(2004) => &self.detection,
            other => return vec![format!("class_uid {other:?} is neither 2002 nor 2004")],
        };
        validator
            .iter_errors(event)
            .map(|e| format!("{}: {e}", e.instance_path))
            .collect()
    }

    /// Panics naming every event that does not validate, and why.
    pub fn assert_valid(&self, events: &[Value]) {
        let invalid: Vec<String> = events
            .iter()
            .filter_map(|event| {
                let errors = self.errors(event);
                (!errors.is_empty()).then(|| format!("{event}\n  {}", errors.join("\n  ")))
            })
            .collect();
        assert!(
            invalid.is_empty(),
            "{} of {} events are not valid OCSF:\n{}",
            invalid.len(),
            events.len(),
            invalid.join("\n")
        );
    }
}
