//! An in-process fake Jira (being written).
