"""Models: the estimators a YAML may choose (params), how they are built, searched, saved."""
