"""Reports rendered on the server: figures (PNG, SVG, PDF) of a comparison."""
