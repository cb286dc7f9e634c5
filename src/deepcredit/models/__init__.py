"""Models that turn features into a probability of default; each maps its PD through models.scale."""
