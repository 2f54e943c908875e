//! Shared inputs for the dataseal benchmarks.
