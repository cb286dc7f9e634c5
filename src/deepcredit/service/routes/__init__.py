"""Versioned HTTP routes, one module per caller: merchants, people, operators, and health."""
