"""protos: filled in by a later issue."""
