//! Bulk-loading helpers for imports (performance work).
