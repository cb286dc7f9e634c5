"""Drafting a spec from a user's files (`deepcredit spec draft`): draft_spec puts the sections together;
each of this package's modules drafts one of them or reads what they share (the sample, header words)."""

from deepcredit.data.draft.sections import draft_spec

__all__ = ["draft_spec"]
