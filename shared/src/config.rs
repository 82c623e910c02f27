//! Settings the decision engine and executor follow. Built-in defaults are what a security team
//! would choose on day one; every field can be overridden.

use crate::finding::AlertKind;
use crate::identity::GroupingMode;
use serde::{Deserialize, Serialize};

/// What happens to a ticket once every finding on it is fixed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum WhenAllFixed {
    /// Mark it stale: a person confirms and closes it (the default: scanners can be wrong).
    #[default]
    MarkStale,
    /// Close (resolve) it.
    Close,
}

/// How findings of each alert kind are grouped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields, default)]
pub struct Grouping {
    pub code_scanning: GroupingMode,
    pub dependabot: GroupingMode,
    pub secret_scanning: GroupingMode,
}

impl Default for Grouping {
    fn default() -> Self {
        Grouping {
            code_scanning: GroupingMode::Rule,
            dependabot: GroupingMode::Package,
            secret_scanning: GroupingMode::Rule,
        }
    }
}

impl Grouping {
    pub fn mode_for(&self, kind: AlertKind) -> GroupingMode {
        match kind {
            AlertKind::CodeScanning => self.code_scanning,
            AlertKind::Dependabot => self.dependabot,
            AlertKind::SecretScanning => self.secret_scanning,
        }
    }
}

/// The engine's settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case", deny_unknown_fields, default)]
pub struct Config {
    pub grouping: Grouping,
    pub when_all_fixed: WhenAllFixed,
}
