//! Reading the body: the JSON tree, strict fields reported at their path, and [`Loose`] for
//! everything else.

use super::*;

/// Parses the body once into a tree: syntax errors get a line and column here, and the action can
/// be looked at before the alert is read.
pub(crate) fn parse_json_object(body: &[u8]) -> Result<Value, PayloadError> {
    let payload: Value = serde_json::from_slice(body).map_err(|err| {
        let (line, column) = (err.line(), err.column());
        let message = err.to_string();
        // serde_json appends the position to its message; it is already in the fields.
        let message = message
            .strip_suffix(&format!(" at line {line} column {column}"))
            .unwrap_or(&message)
            .to_owned();
        PayloadError::NotJson {
            line,
            column,
            message,
        }
    })?;
    if !payload.is_object() {
        return Err(PayloadError::Invalid {
            path: ".".to_owned(),
            message: "expected a JSON object".to_owned(),
        });
    }
    Ok(payload)
}

/// Reads the payload tree into one of the shapes below, reporting where a strict field failed.
pub(super) fn read<T: DeserializeOwned>(payload: &Value) -> Result<T, PayloadError> {
    serde_path_to_error::deserialize(payload).map_err(|err| PayloadError::Invalid {
        path: err.path().to_string(),
        message: err.inner().to_string(),
    })
}

/// An object the envelope cannot do without. Checked on the tree because serde's derive would
/// also accept a JSON array for a struct, reading its elements as the fields in order.
pub(super) fn require_object(payload: &Value, field: &str) -> Result<(), PayloadError> {
    match payload.get(field) {
        Some(value) if value.is_object() => Ok(()),
        Some(Value::Null) | None => required(None::<()>, field),
        Some(_) => Err(PayloadError::Invalid {
            path: field.to_owned(),
            message: "expected a JSON object".to_owned(),
        }),
    }
}

/// A field that must be present; `path` names it in the error.
pub(super) fn required<T>(value: Option<T>, path: &str) -> Result<T, PayloadError> {
    value.ok_or_else(|| PayloadError::Invalid {
        path: path.to_owned(),
        message: "required field is missing or null".to_owned(),
    })
}

/// A field scantix can do without: absent, `null` or of an unexpected type, it reads as `None`, so
/// a payload that drifts from the schema loses that detail instead of failing the delivery.
///
/// This is also the lenient timestamp reader: `Loose<DateTime<Utc>>` is `None` for anything that is
/// not an RFC 3339 string.
pub(super) struct Loose<T>(Option<T>);

impl<T> Default for Loose<T> {
    fn default() -> Self {
        Loose(None)
    }
}

impl<'de, T: DeserializeOwned> Deserialize<'de> for Loose<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // The body is already a valid JSON tree, so reading a `Value` here cannot fail; only the
        // conversion to `T` can, and that failure is the detail we choose to lose.
        let value = Value::deserialize(deserializer)?;
        Ok(Loose(serde_json::from_value(value).ok()))
    }
}

impl<T> Loose<T> {
    pub(super) fn as_ref(&self) -> Option<&T> {
        self.0.as_ref()
    }

    pub(super) fn into_inner(self) -> Option<T> {
        self.0
    }

    pub(super) fn or_default(self) -> T
    where
        T: Default,
    {
        self.0.unwrap_or_default()
    }
}

impl<T: Copy> Loose<T> {
    pub(super) fn get(&self) -> Option<T> {
        self.0
    }
}

impl Loose<String> {
    /// The text, unless absent or blank: GitHub sends `""` for values it does not have (`ref` on
    /// `*_by_user` actions, `rule.name` of most CodeQL rules).
    pub(super) fn text(&self) -> Option<String> {
        self.str().map(str::to_owned)
    }

    pub(super) fn str(&self) -> Option<&str> {
        self.0.as_deref().filter(|s| !s.trim().is_empty())
    }
}
