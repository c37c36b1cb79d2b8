"""Where things are in YAML text: positions of keys and values, and the spec's source map."""
