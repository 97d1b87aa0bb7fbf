//! Errors of reading, checking and expanding a search space.
//!
//! Every error starts with the origin (a file path or a caller-given name) and, where it
//! concerns one part of the document, the key path of that part (`search[1].grid.lr[2]`).

use std::fmt;
use std::io;

use thiserror::Error;

/// A 1-based position in the YAML text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Location {
    /// Line, counting from 1.
    pub line: usize,
    /// Column, counting from 1.
    pub column: usize,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}, column {}", self.line, self.column)
    }
}

/// Everything that can be wrong with a search-space file or document.
#[derive(Debug, Error)]
pub enum SpecError {
    /// The file could not be read.
    #[error("{origin}: cannot read the search space: {cause}")]
    Read {
        /// The file path.
        origin: String,
        /// The I/O failure (part of the message, so it is not repeated as a source).
        cause: io::Error,
    },
    /// The path names a directory instead of a YAML file.
    #[error("{origin}: is a directory, expected a search-space YAML file")]
    IsDirectory {
        /// The path.
        origin: String,
    },
    /// The file is not UTF-8 text.
    #[error("{origin}: not UTF-8 text (first invalid byte at offset {offset}); save the search space as UTF-8")]
    NotUtf8 {
        /// The file path.
        origin: String,
        /// Byte offset of the first invalid byte.
        offset: usize,
    },
    /// Malformed YAML, an unknown key, a wrong type or an invalid value.
    #[error(
        "{origin}: {}{message}{}",
        path_prefix(path),
        location_suffix(location)
    )]
    Invalid {
        /// The file path or caller-given origin.
        origin: String,
        /// Key path in the document (`base.lr`, `search[0].grid.lr[1]`); empty for the whole document.
        path: String,
        /// What is wrong: the offending value and what is expected.
        message: String,
        /// Where in the text, when the YAML parser knows it.
        location: Option<Location>,
    },
    /// The sweep would be too large to run; refused before expanding it.
    #[error("{origin}: {}{what} is {count}, over the limit of {limit}; narrow the search or split it into several studies", path_prefix(path))]
    TooLarge {
        /// The file path or caller-given origin.
        origin: String,
        /// Key path of the part that is too large (`search[0].grid`, `search`, `seeds`).
        path: String,
        /// What was counted.
        what: &'static str,
        /// The count.
        count: u64,
        /// The largest count allowed.
        limit: u64,
    },
}

impl SpecError {
    /// The key path in the document the error is about, if it is about one part of it.
    pub fn path(&self) -> Option<&str> {
        match self {
            SpecError::Invalid { path, .. } | SpecError::TooLarge { path, .. }
                if !path.is_empty() =>
            {
                Some(path)
            }
            _ => None,
        }
    }

    /// The line and column of the error in the text, when known.
    pub fn location(&self) -> Option<Location> {
        match self {
            SpecError::Invalid { location, .. } => *location,
            _ => None,
        }
    }
}

fn path_prefix(path: &str) -> String {
    if path.is_empty() {
        String::new()
    } else {
        format!("{path}: ")
    }
}

fn location_suffix(location: &Option<Location>) -> String {
    location.map_or_else(String::new, |l| format!(" ({l})"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_has_origin_path_message_and_location() {
        let err = SpecError::Invalid {
            origin: "study.yaml".into(),
            path: "search[0].grid.lr[1]".into(),
            message: "invalid lr '-1': expected a positive number".into(),
            location: Some(Location {
                line: 7,
                column: 12,
            }),
        };
        assert_eq!(
            err.to_string(),
            "study.yaml: search[0].grid.lr[1]: invalid lr '-1': expected a positive number (line 7, column 12)"
        );
        assert_eq!(err.path(), Some("search[0].grid.lr[1]"));
        let whole = SpecError::Invalid {
            origin: "x".into(),
            path: String::new(),
            message: "empty".into(),
            location: None,
        };
        assert_eq!(whole.to_string(), "x: empty");
        assert_eq!(whole.path(), None);
    }
}
