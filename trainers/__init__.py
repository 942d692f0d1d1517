"""trainers: filled in by a later issue."""
