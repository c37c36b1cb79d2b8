"""Golden projects: specs and the exact tree `mlspec compile` must generate from them."""
