//! Checking GraphQL requests against a vendor's published schema (Linear's, here), with
//! `apollo-compiler`: a request is parsed and validated against the schema (every field,
//! argument and fragment must exist and fit), its operation picked by name, and its variables
//! coerced to the declared types (an input field the schema lacks, a missing required one, a
//! wrong scalar are all errors). What passes is handed to the fake as plain values: the root
//! fields with their arguments resolved, and each one's selection, so the fake can answer exactly
//! what was asked. Webhook payloads the fakes build are checked against the schema's payload
//! types the same way ([`GraphQlSchema::check_value`]).

use apollo_compiler::ast::{OperationType, Value as GqlValue};
use apollo_compiler::executable::{Selection, SelectionSet};
use apollo_compiler::schema::ExtendedType;
use apollo_compiler::validation::Valid;
use apollo_compiler::{ExecutableDocument, Node, Schema};
use serde_json::{Map, Value};
use std::path::Path;

/// A schema, loaded and validated once.
pub struct GraphQlSchema {
    schema: Valid<Schema>,
}

/// One field of a selection: its name, the key it answers under, and what is selected below it.
#[derive(Debug, Clone, PartialEq)]
pub struct Selected {
    pub name: String,
    pub key: String,
    pub children: Vec<Selected>,
}

/// A root field of a checked request, its arguments as JSON (variables substituted).
#[derive(Debug, Clone, PartialEq)]
pub struct RootField {
    pub name: String,
    pub key: String,
    pub arguments: Map<String, Value>,
    pub selection: Vec<Selected>,
}

/// A request that passed the schema.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckedRequest {
    pub operation: Option<String>,
    pub mutation: bool,
    pub fields: Vec<RootField>,
}

impl GraphQlSchema {
    pub fn load(path: impl AsRef<Path>) -> Result<GraphQlSchema, String> {
        let path = path.as_ref();
        let source =
            std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let schema = Schema::parse_and_validate(source, path).map_err(|e| e.errors.to_string())?;
        Ok(GraphQlSchema { schema })
    }

    /// Checks one request (`query`, `operationName`, `variables` as a client sends them).
    pub fn check(
        &self,
        query: &str,
        operation_name: Option<&str>,
        variables: &Value,
    ) -> Result<CheckedRequest, String> {
        let document =
            ExecutableDocument::parse_and_validate(&self.schema, query, "request.graphql")
                .map_err(|e| e.errors.to_string())?;
        let operation = document
            .operations
            .get(operation_name)
            .map_err(|_| format!("no operation {operation_name:?} in the document"))?;
        let given = match variables {
            Value::Null => Map::new(),
            Value::Object(map) => map.clone(),
            other => return Err(format!("variables must be an object, not {other}")),
        };
        let bytes_map: apollo_compiler::response::JsonMap =
            serde_json::from_value(Value::Object(given.clone()))
                .map_err(|e| format!("variables: {e}"))?;
        let coerced =
            apollo_compiler::request::coerce_variable_values(&self.schema, operation, &bytes_map)
                .map_err(|e| format!("variables: {}", e.message()))?;
        let coerced: Value =
            serde_json::to_value(coerced.into_inner()).map_err(|e| format!("variables: {e}"))?;
        let variables = coerced.as_object().cloned().unwrap_or_default();
        let mut fields = Vec::new();
        for selection in &operation.selection_set.selections {
            let Selection::Field(field) = selection else {
                return Err("fragments at the root are not modelled by the fake".into());
            };
            let mut arguments = Map::new();
            for argument in &field.arguments {
                arguments.insert(
                    argument.name.to_string(),
                    to_json(&argument.value, &variables),
                );
            }
            fields.push(RootField {
                name: field.name.to_string(),
                key: field.response_key().to_string(),
                arguments,
                selection: selected(&field.selection_set),
            });
        }
        Ok(CheckedRequest {
            operation: operation.name.as_ref().map(|n| n.to_string()),
            mutation: operation.operation_type == OperationType::Mutation,
            fields,
        })
    }

    /// What is wrong with `value` as a `type_name` (an object or union type of the schema): a
    /// field the type lacks, a non-null field missing or null, and the same below.
    pub fn check_value(&self, type_name: &str, value: &Value, path: &str) -> Vec<String> {
        let mut problems = Vec::new();
        let Some(ty) = self.schema.types.get(type_name) else {
            return vec![format!("{path}: no type {type_name} in the schema")];
        };
        match ty {
            ExtendedType::Object(object) => {
                let Some(map) = value.as_object() else {
                    return vec![format!("{path}: expected an object ({type_name})")];
                };
                for key in map.keys() {
                    if !object.fields.contains_key(key.as_str()) {
                        problems.push(format!("{path}.{key}: {type_name} has no such field"));
                    }
                }
                for (name, field) in &object.fields {
                    let here = format!("{path}.{name}");
                    match map.get(name.as_str()) {
                        None | Some(Value::Null) if field.ty.is_non_null() => {
                            problems.push(format!("{here}: required by {type_name}"));
                        }
                        None | Some(Value::Null) => {}
                        Some(inner) => {
                            let named = field.ty.inner_named_type().as_str();
                            let items: Vec<&Value> = match inner {
                                Value::Array(items) if field.ty.is_list() => items.iter().collect(),
                                other => vec![other],
                            };
                            for item in items {
                                if matches!(
                                    self.schema.types.get(named),
                                    Some(ExtendedType::Object(_))
                                ) {
                                    problems.extend(self.check_value(named, item, &here));
                                }
                            }
                        }
                    }
                }
            }
            ExtendedType::Union(union) => {
                // The fake says which member it means by checking against that member directly.
                let members: Vec<String> = union.members.iter().map(|m| m.to_string()).collect();
                problems.push(format!(
                    "{path}: {type_name} is a union; check against one of {members:?}"
                ));
            }
            _ => problems.push(format!("{path}: {type_name} is not an object type")),
        }
        problems
    }
}

fn selected(set: &SelectionSet) -> Vec<Selected> {
    let mut out = Vec::new();
    for selection in &set.selections {
        match selection {
            Selection::Field(field) => out.push(Selected {
                name: field.name.to_string(),
                key: field.response_key().to_string(),
                children: selected(&field.selection_set),
            }),
            Selection::InlineFragment(fragment) => out.extend(selected(&fragment.selection_set)),
            Selection::FragmentSpread(_) => {}
        }
    }
    out
}

/// A GraphQL value as JSON, variables substituted from `variables`.
fn to_json(value: &Node<GqlValue>, variables: &Map<String, Value>) -> Value {
    match &**value {
        GqlValue::Null => Value::Null,
        GqlValue::Variable(name) => variables.get(name.as_str()).cloned().unwrap_or(Value::Null),
        GqlValue::Enum(name) => Value::String(name.to_string()),
        GqlValue::String(s) => Value::String(s.clone()),
        GqlValue::Boolean(b) => Value::Bool(*b),
        GqlValue::Int(i) => i
            .try_to_i32()
            .map(Value::from)
            .unwrap_or_else(|_| Value::String(i.to_string())),
        GqlValue::Float(f) => f
            .try_to_f64()
            .map(Value::from)
            .unwrap_or_else(|_| Value::String(f.to_string())),
        GqlValue::List(items) => {
            Value::Array(items.iter().map(|v| to_json(v, variables)).collect())
        }
        GqlValue::Object(fields) => Value::Object(
            fields
                .iter()
                .map(|(k, v)| (k.to_string(), to_json(v, variables)))
                .collect(),
        ),
    }
}

/// `value` cut down to what `selection` asks for, under the keys it asks them (aliases too);
/// lists are cut item by item. A field the value lacks answers `null`.
pub fn project(value: &Value, selection: &[Selected]) -> Value {
    if selection.is_empty() {
        return value.clone();
    }
    match value {
        Value::Array(items) => Value::Array(items.iter().map(|v| project(v, selection)).collect()),
        Value::Object(map) => Value::Object(
            selection
                .iter()
                .map(|s| {
                    let inner = map.get(&s.name).cloned().unwrap_or(Value::Null);
                    (s.key.clone(), project(&inner, &s.children))
                })
                .collect(),
        ),
        other => other.clone(),
    }
}
