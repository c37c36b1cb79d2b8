"""Loading and validating what the user wrote: YAML specs under specs/."""
