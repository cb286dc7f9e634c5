"""Workflows: what a command does, as package functions (train, score, evaluate, benchmark, demo).

The CLI parses options into a RunConfig, calls one workflow and prints what it returns; scripts and
studies call the same functions. Imports flow data -> features -> models -> scoring -> evaluation ->
workflows -> cli, never back.
"""
