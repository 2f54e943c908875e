//! Shared helpers for the dataseal example binaries.
