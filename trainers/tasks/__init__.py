"""Learning tasks: data, initial parameters and a per-example loss over a flat parameter vector."""
