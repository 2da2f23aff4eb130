"""Documents: attachment chips, reading files, fitting them into the context, sources."""
