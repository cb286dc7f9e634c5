"""The four tables (people, events, relations, outcomes): schema, validation, storage, sources."""
