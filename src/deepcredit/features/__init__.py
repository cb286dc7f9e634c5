"""Point-in-time features: declarative definitions (SQL aggregate expressions) and the engine that runs them."""
