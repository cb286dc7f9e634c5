"""Tests of the data layer: schema, validation, storage, bundled and simulated data sets."""
