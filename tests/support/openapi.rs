//! Checks HTTP requests against an official OpenAPI 3.0 description, so a fake server can refuse
//! what the real service would refuse (and tests learn about it) instead of answering anything.
//!
//! # What is enforced
//! - **Operation**: the path must match one of `paths` (a `{name}` template matches one whole
//!   segment; a parameter marked `x-multi-segment`, as GitHub's `contents/{path}`, matches the rest
//!   of the path; where several templates match, the one with a literal segment earliest wins, so
//!   `/search/jql` beats `/search/{id}`), and the method must be one the path item declares.
//! - **Parameters** (`in: path` and `in: query`, from the path item and the operation, `$ref`
//!   resolved): required ones present; values converted by their schema's `type` (`integer`,
//!   `number`, `boolean`; `array` values split on commas and on repeats) and then validated like a
//!   body, so `enum`, `minimum` and `maximum` apply. Query names the operation does not declare are
//!   reported too: Jira and GitHub ignore them silently, which hides typos. Headers and cookies are
//!   not checked.
//! - **Request body**: present when `requestBody.required`; absent when the operation takes none;
//!   validated against the schema of its `application/json` content.
//! - **Schemas** (JSON Schema as OpenAPI 3.0 uses it), one recursive [`OpenApi::validate`]:
//!   `$ref` (local, `#/components/...`; siblings ignored as OpenAPI 3.0 says), `type` (`integer`
//!   is a number without a fraction), `nullable`, `enum`, `required`, `properties`,
//!   `additionalProperties` (`false` or a schema; absent or `true` allows anything), `items`,
//!   `minItems`/`maxItems`, `minLength`/`maxLength` (in characters), `minimum`/`maximum`, `allOf`
//!   (all must hold), `anyOf` (at least one), `oneOf` (exactly one), and `readOnly` on properties
//!   (a value for a read-only property is a violation: requests must not send it; a required
//!   read-only property is required in responses only; parameters may reuse read-only schemas).
//!   As in JSON Schema, keywords that constrain one kind of value (`properties`, `items`,
//!   `minLength`, …) apply only to values of that kind, which is what lets
//!   `anyOf: [{required: [state]}, …]` work.
//! - **Ignored**: every other keyword (`format`, `pattern`, `uniqueItems`, `discriminator`, `not`,
//!   `default`, `writeOnly`, `x-*`), `security`, responses, and content types other than JSON.
//!
//! Violations are sentences with a JSON-ish path in front: `body.fields.summary: expected string,
//! got number`, `query.maxResults: expected integer, got "ten"`.

use anyhow::{Context, Result};
use serde_json::{Map, Value};
use std::path::Path;

/// An OpenAPI 3.0 description, loaded once and consulted for every request.
pub struct OpenApi {
    doc: Value,
}

/// Where an operation was found: its path template, whether each of its segments is a literal
/// (to prefer the most literal match), and the path parameters taken from the URL.
struct Matched<'a> {
    template: &'a str,
    literals: Vec<bool>,
    params: Vec<(String, String)>,
}

impl OpenApi {
    /// Reads a description from a JSON file.
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("while reading the OpenAPI description {}", path.display()))?;
        let doc: Value = serde_json::from_str(&text)
            .with_context(|| format!("while parsing the OpenAPI description {}", path.display()))?;
        anyhow::ensure!(
            doc["paths"].is_object(),
            "{} has no `paths`: not an OpenAPI description",
            path.display()
        );
        Ok(Self { doc })
    }

    /// The description as read: for a fake that answers with the description's own examples.
    pub fn doc(&self) -> &Value {
        &self.doc
    }

    /// The description with one more path item (`template` → `item`, replacing any there): for
    /// an operation of the same official description that a subset left out, transcribed. Its
    /// `$ref`s resolve against this description's components.
    pub fn with_path(mut self, template: &str, item: Value) -> Self {
        if let Some(paths) = self.doc["paths"].as_object_mut() {
            paths.insert(template.to_owned(), item);
        }
        self
    }

    /// The description with the paths and components of another part of the same official
    /// description (`path`, a JSON file shaped as this one) added, replacing none already here.
    pub fn with_part(mut self, path: impl AsRef<Path>) -> Result<Self> {
        let part = OpenApi::load(path)?.doc;
        for (section, entries) in [
            ("paths", &part["paths"]),
            ("components", &part["components"]),
        ] {
            let Some(entries) = entries.as_object() else {
                continue;
            };
            let target = &mut self.doc[section];
            if !target.is_object() {
                *target = Value::Object(Map::new());
            }
            for (name, entry) in entries {
                match (section, target.get_mut(name)) {
                    // Component kinds (schemas, parameters, …) merge one name at a time.
                    ("components", Some(known)) => {
                        if let (Some(known), Some(entry)) =
                            (known.as_object_mut(), entry.as_object())
                        {
                            for (name, value) in entry {
                                known.entry(name.clone()).or_insert_with(|| value.clone());
                            }
                        }
                    }
                    (_, Some(_)) => {}
                    (_, None) => {
                        if let Some(target) = target.as_object_mut() {
                            target.insert(name.clone(), entry.clone());
                        }
                    }
                }
            }
        }
        Ok(self)
    }

    /// Checks one request. `path` has no query string; `query` is the raw query string (with or
    /// without its `?`); `body` is the parsed JSON body, `None` when the request has none.
    pub fn check_request(
        &self,
        method: &str,
        path: &str,
        query: &str,
        body: Option<&Value>,
    ) -> Result<(), Vec<String>> {
        let method = method.to_ascii_lowercase();
        let Some(matched) = self.match_path(path) else {
            return Err(vec![format!("{path}: no such path in the description")]);
        };
        let item = &self.doc["paths"][matched.template];
        let Some(operation) = item.get(&method) else {
            let allowed: Vec<String> = HTTP_METHODS
                .iter()
                .filter(|m| item.get(**m).is_some())
                .map(|m| m.to_ascii_uppercase())
                .collect();
            return Err(vec![format!(
                "{} {}: method not allowed (the description has {})",
                method.to_ascii_uppercase(),
                matched.template,
                allowed.join(", ")
            )]);
        };

        let mut errors = Vec::new();
        let parameters = self.parameters(item, operation);
        self.check_path_params(&parameters, &matched.params, &mut errors);
        self.check_query(&parameters, query, &mut errors);
        self.check_body(operation, body, &mut errors);
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }

    /// The path template a concrete path belongs to, and the values of its parameters.
    fn match_path(&self, path: &str) -> Option<Matched<'_>> {
        let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        let paths = self.doc["paths"].as_object()?;
        let mut best: Option<Matched<'_>> = None;
        for (template, item) in paths {
            let Some(matched) = match_template(template, item, &segments, self) else {
                continue;
            };
            // Literal segments win over templates, the earliest difference deciding.
            if best.as_ref().is_none_or(|b| matched.literals > b.literals) {
                best = Some(matched);
            }
        }
        best
    }

    /// The operation's parameters: the path item's, overridden by the operation's of the same name
    /// and location, every `$ref` resolved.
    fn parameters<'a>(&'a self, item: &'a Value, operation: &'a Value) -> Vec<&'a Value> {
        let mut all: Vec<&Value> = Vec::new();
        let declared = |v: &'a Value| v.as_array().into_iter().flatten().map(|p| self.resolve(p));
        for parameter in declared(&item["parameters"]).chain(declared(&operation["parameters"])) {
            all.retain(|p| p["name"] != parameter["name"] || p["in"] != parameter["in"]);
            all.push(parameter);
        }
        all
    }

    fn check_path_params(
        &self,
        parameters: &[&Value],
        values: &[(String, String)],
        errors: &mut Vec<String>,
    ) {
        for parameter in parameters.iter().filter(|p| p["in"] == "path") {
            let name = parameter["name"].as_str().unwrap_or_default();
            match values.iter().find(|(n, _)| n == name) {
                Some((_, value)) => self.check_param_value(
                    parameter,
                    &[percent_decode(value)],
                    &format!("path.{name}"),
                    errors,
                ),
                None => errors.push(format!("path.{name}: required path parameter missing")),
            }
        }
    }

    fn check_query(&self, parameters: &[&Value], query: &str, errors: &mut Vec<String>) {
        let pairs = query_pairs(query);
        for parameter in parameters.iter().filter(|p| p["in"] == "query") {
            let name = parameter["name"].as_str().unwrap_or_default();
            let values: Vec<String> = pairs
                .iter()
                .filter(|(n, _)| n == name)
                .map(|(_, v)| v.clone())
                .collect();
            if values.is_empty() {
                if parameter["required"] == true {
                    errors.push(format!("query.{name}: required query parameter missing"));
                }
                continue;
            }
            self.check_param_value(parameter, &values, &format!("query.{name}"), errors);
        }
        for (name, _) in &pairs {
            let declared = parameters
                .iter()
                .any(|p| p["in"] == "query" && p["name"] == **name);
            if !declared {
                errors.push(format!(
                    "query.{name}: not a parameter of this operation (the server would ignore it)"
                ));
            }
        }
    }

    /// Converts the raw text of a parameter to the JSON its schema describes, then validates it.
    fn check_param_value(
        &self,
        parameter: &Value,
        raw: &[String],
        at: &str,
        errors: &mut Vec<String>,
    ) {
        let schema = self.resolve(&parameter["schema"]);
        let value = if schema["type"] == "array" {
            let items = self.resolve(&schema["items"]);
            Value::Array(
                raw.iter()
                    .flat_map(|r| r.split(','))
                    .map(|r| scalar_from_text(items, r))
                    .collect(),
            )
        } else {
            if raw.len() > 1 {
                errors.push(format!(
                    "{at}: given {} times, but takes one value",
                    raw.len()
                ));
            }
            scalar_from_text(schema, &raw[0])
        };
        self.validate(schema, &value, at, errors);
    }

    fn check_body(&self, operation: &Value, body: Option<&Value>, errors: &mut Vec<String>) {
        let request_body = self.resolve(&operation["requestBody"]);
        match (body, request_body.is_object()) {
            (None, true) if request_body["required"] == true => {
                errors.push("body: a request body is required".to_owned());
            }
            (None, _) => {}
            (Some(_), false) => {
                errors.push("body: this operation takes no request body".to_owned())
            }
            (Some(body), true) => match request_body["content"].get("application/json") {
                Some(media) => self.validate(&media["schema"], body, "body", errors),
                None => {
                    let types: Vec<&String> = request_body["content"]
                        .as_object()
                        .map(|c| c.keys().collect())
                        .unwrap_or_default();
                    errors.push(format!("body: JSON is not accepted here (takes {types:?})"));
                }
            },
        }
    }

    /// Validates `value` against `schema`, appending one sentence per violation, each starting
    /// with `path`. The whole JSON Schema subset lives here.
    pub fn validate(&self, schema: &Value, value: &Value, path: &str, errors: &mut Vec<String>) {
        if schema.get("$ref").is_some() {
            return self.validate(self.resolve(schema), value, path, errors);
        }
        if value.is_null() && schema["nullable"] == true {
            return;
        }
        if let Some(expected) = schema["type"].as_str()
            && !has_type(value, expected)
        {
            errors.push(format!(
                "{path}: expected {expected}, got {}",
                describe(value)
            ));
            return;
        }
        if let Some(allowed) = schema["enum"].as_array()
            && !allowed.contains(value)
        {
            let allowed: Vec<String> = allowed.iter().map(Value::to_string).collect();
            errors.push(format!(
                "{path}: {value} is not one of {}",
                allowed.join(", ")
            ));
        }

        match value {
            Value::String(text) => check_length(schema, text.chars().count(), path, errors),
            Value::Number(number) => check_range(schema, number.as_f64(), path, errors),
            Value::Array(items) => {
                if let Some(min) = schema["minItems"].as_u64()
                    && (items.len() as u64) < min
                {
                    errors.push(format!(
                        "{path}: has {} items, at least {min} needed",
                        items.len()
                    ));
                }
                if let Some(max) = schema["maxItems"].as_u64()
                    && (items.len() as u64) > max
                {
                    errors.push(format!(
                        "{path}: has {} items, at most {max} allowed",
                        items.len()
                    ));
                }
                if let Some(item_schema) = schema.get("items") {
                    for (i, item) in items.iter().enumerate() {
                        self.validate(item_schema, item, &format!("{path}[{i}]"), errors);
                    }
                }
            }
            Value::Object(object) => self.validate_object(schema, object, path, errors),
            Value::Null | Value::Bool(_) => {}
        }

        for branch in schema["allOf"].as_array().into_iter().flatten() {
            self.validate(branch, value, path, errors);
        }
        if let Some(branches) = schema["anyOf"].as_array() {
            let outcomes = self.try_branches(branches, value, path);
            if !outcomes.iter().any(Vec::is_empty) {
                errors.push(format!(
                    "{path}: matches none of the anyOf alternatives ({})",
                    summarize(&outcomes)
                ));
            }
        }
        if let Some(branches) = schema["oneOf"].as_array() {
            let outcomes = self.try_branches(branches, value, path);
            let matching: Vec<usize> = (0..outcomes.len())
                .filter(|i| outcomes[*i].is_empty())
                .map(|i| i + 1)
                .collect();
            match matching.len() {
                1 => {}
                0 => errors.push(format!(
                    "{path}: matches none of the oneOf alternatives ({})",
                    summarize(&outcomes)
                )),
                _ => errors.push(format!(
                    "{path}: matches oneOf alternatives {matching:?}; exactly one must match"
                )),
            }
        }
    }

    fn validate_object(
        &self,
        schema: &Value,
        object: &Map<String, Value>,
        path: &str,
        errors: &mut Vec<String>,
    ) {
        let properties = schema["properties"].as_object();
        for required in schema["required"].as_array().into_iter().flatten() {
            let Some(name) = required.as_str() else {
                continue;
            };
            // A required read-only property is required in responses only.
            let read_only = properties
                .and_then(|p| p.get(name))
                .is_some_and(|p| self.is_read_only(p));
            if !object.contains_key(name) && !read_only {
                errors.push(format!("{path}.{name}: required property missing"));
            }
        }
        for (name, property) in object {
            let at = format!("{path}.{name}");
            match properties.and_then(|p| p.get(name)) {
                // Read-only is a property's trait (`{"allOf": [ref], "readOnly": true}` or a
                // referenced read-only schema); parameters reuse such schemas and are exempt.
                Some(property_schema) if self.is_read_only(property_schema) => {
                    errors.push(format!("{at}: is read-only and must not be sent"));
                }
                Some(property_schema) => self.validate(property_schema, property, &at, errors),
                None => match &schema["additionalProperties"] {
                    Value::Bool(false) => {
                        let known: Vec<&String> =
                            properties.map(|p| p.keys().collect()).unwrap_or_default();
                        errors.push(format!(
                            "{at}: unknown property (additionalProperties is false; known: {})",
                            known
                                .iter()
                                .map(|k| k.as_str())
                                .collect::<Vec<_>>()
                                .join(", ")
                        ));
                    }
                    extra @ Value::Object(_) => self.validate(extra, property, &at, errors),
                    _ => {}
                },
            }
        }
    }

    fn is_read_only(&self, schema: &Value) -> bool {
        schema["readOnly"] == true || self.resolve(schema)["readOnly"] == true
    }

    /// Validates `value` against each alternative separately: one list of violations per branch.
    fn try_branches(&self, branches: &[Value], value: &Value, path: &str) -> Vec<Vec<String>> {
        branches
            .iter()
            .map(|branch| {
                let mut branch_errors = Vec::new();
                self.validate(branch, value, path, &mut branch_errors);
                branch_errors
            })
            .collect()
    }

    /// Follows `$ref`s (`#/components/...`) until a schema, parameter or body that is not one.
    /// An unresolvable reference resolves to `null`, which validates anything: the fixtures are
    /// checked to resolve, and a broken description is not the request's fault.
    fn resolve<'a>(&'a self, mut node: &'a Value) -> &'a Value {
        for _ in 0..32 {
            let Some(reference) = node["$ref"].as_str() else {
                return node;
            };
            let pointer = reference.strip_prefix('#').unwrap_or(reference);
            node = self.doc.pointer(pointer).unwrap_or(&Value::Null);
        }
        node
    }
}

const HTTP_METHODS: [&str; 7] = ["get", "put", "post", "delete", "patch", "head", "options"];

/// Matches a concrete path (split into segments) against one template; `None` if it does not.
fn match_template<'a>(
    template: &'a str,
    item: &Value,
    segments: &[&str],
    api: &OpenApi,
) -> Option<Matched<'a>> {
    let parts: Vec<&str> = template.trim_start_matches('/').split('/').collect();
    let mut literals = Vec::new();
    let mut params = Vec::new();
    for (i, part) in parts.iter().enumerate() {
        let name = part.strip_prefix('{').and_then(|p| p.strip_suffix('}'));
        match name {
            Some(name) if i + 1 == parts.len() && is_multi_segment(api, item, name) => {
                if segments.len() <= i || segments[i..].iter().any(|s| s.is_empty()) {
                    return None;
                }
                params.push((name.to_owned(), segments[i..].join("/")));
                literals.push(false);
                return Some(Matched {
                    template,
                    literals,
                    params,
                });
            }
            Some(name) => {
                let segment = segments.get(i).filter(|s| !s.is_empty())?;
                params.push((name.to_owned(), (*segment).to_owned()));
                literals.push(false);
            }
            None => {
                if segments.get(i) != Some(part) {
                    return None;
                }
                literals.push(true);
            }
        }
    }
    (segments.len() == parts.len()).then_some(Matched {
        template,
        literals,
        params,
    })
}

/// Whether any operation of the path item marks the path parameter `name` as `x-multi-segment`.
fn is_multi_segment(api: &OpenApi, item: &Value, name: &str) -> bool {
    HTTP_METHODS
        .iter()
        .filter_map(|m| item.get(*m))
        .any(|operation| {
            api.parameters(item, operation)
                .iter()
                .any(|p| p["name"] == name && p["in"] == "path" && p["x-multi-segment"] == true)
        })
}

fn has_type(value: &Value, expected: &str) -> bool {
    match expected {
        "string" => value.is_string(),
        "integer" => value.as_f64().is_some_and(|n| n.fract() == 0.0),
        "number" => value.is_number(),
        "boolean" => value.is_boolean(),
        "array" => value.is_array(),
        "object" => value.is_object(),
        _ => true,
    }
}

fn describe(value: &Value) -> String {
    match value {
        Value::Null => "null".to_owned(),
        Value::Bool(_) => "boolean".to_owned(),
        Value::Number(n) if n.is_f64() => format!("number {n}"),
        Value::Number(_) => "number".to_owned(),
        Value::String(s) => format!("string {s:?}"),
        Value::Array(_) => "array".to_owned(),
        Value::Object(_) => "object".to_owned(),
    }
}

fn check_length(schema: &Value, length: usize, path: &str, errors: &mut Vec<String>) {
    if let Some(min) = schema["minLength"].as_u64()
        && (length as u64) < min
    {
        errors.push(format!(
            "{path}: {length} characters, at least {min} needed"
        ));
    }
    if let Some(max) = schema["maxLength"].as_u64()
        && (length as u64) > max
    {
        errors.push(format!(
            "{path}: {length} characters, at most {max} allowed"
        ));
    }
}

fn check_range(schema: &Value, number: Option<f64>, path: &str, errors: &mut Vec<String>) {
    let Some(number) = number else { return };
    if let Some(min) = schema["minimum"].as_f64()
        && number < min
    {
        errors.push(format!("{path}: {number} is below the minimum {min}"));
    }
    if let Some(max) = schema["maximum"].as_f64()
        && number > max
    {
        errors.push(format!("{path}: {number} is above the maximum {max}"));
    }
}

/// The first violation of each alternative, for a message that says why none matched.
fn summarize(outcomes: &[Vec<String>]) -> String {
    outcomes
        .iter()
        .enumerate()
        .map(|(i, errs)| format!("{}: {}", i + 1, errs.first().map_or("ok", String::as_str)))
        .collect::<Vec<_>>()
        .join("; ")
}

/// The JSON a parameter's text stands for, by the declared type; text that does not parse stays a
/// string, so the type check reports it.
fn scalar_from_text(schema: &Value, text: &str) -> Value {
    let parsed = match schema["type"].as_str() {
        Some("integer") => text.parse::<i64>().ok().map(Value::from),
        Some("number") => text.parse::<f64>().ok().map(Value::from),
        Some("boolean") => match text {
            "true" => Some(Value::Bool(true)),
            "false" => Some(Value::Bool(false)),
            _ => None,
        },
        _ => None,
    };
    parsed.unwrap_or_else(|| Value::String(text.to_owned()))
}

/// The decoded `name=value` pairs of a query string (`+` is a space, `%XX` a byte), in order.
pub fn query_pairs(query: &str) -> Vec<(String, String)> {
    query
        .trim_start_matches('?')
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            (
                percent_decode(&name.replace('+', " ")),
                percent_decode(&value.replace('+', " ")),
            )
        })
        .collect()
}

/// Decodes `%XX` escapes; malformed escapes are kept as they are.
pub fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .filter(|h| h.iter().all(u8::is_ascii_hexdigit))
            .and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}
