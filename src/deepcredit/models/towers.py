"""The neural building blocks the sequence and Wide & Deep members share (plain nn.Modules, no data logic).

- SequenceTower: a multi-layer GRU/LSTM over a person's fulfilment events -> one vector per person.
- TabularEncoder: standardised numeric inputs next to learned embeddings of categorical features.
- WideLinear: one weight per bin of every wide field (one-hot bins and crosses), so its contribution per
  field is exact and additive.

Every tower can replace a group of its inputs by a reference vector (`ablate`): the explanations measure
what a group of inputs (a dimension) adds over that reference, with exact Shapley values (_torch.shapley).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import cast

import numpy as np
import torch
from torch import nn
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence

from deepcredit.data.schema import Dimension
from deepcredit.features.sequences import KIND_VOCAB, NUMERIC, PERIODIC, STATUS_VOCAB, code_columns
from deepcredit.models import _torch

SEQUENCE_GROUPS: dict[str, tuple[str, ...]] = {
    Dimension.CREDIT_HISTORY.value: ("status", "days_late_months"),
    Dimension.FULFILMENT_CAPACITY.value: ("signed_log_amount",),
    Dimension.BEHAVIOUR_PREFERENCES.value: ("kind", "log_gap_days", "log_age_days", *PERIODIC),
}
"""Which event channels speak to which dimension: whether commitments were kept (status, lateness) is
credit history, the money involved is capacity, what kind of commitments and when is behaviour. A tower
without the periodic channels (n_numeric = len(NUMERIC)) simply has none of them. A declared measure's
channels speak to the measure's own dimension (sequence_groups)."""


def sequence_groups(measures: Sequence[Sequence[object]] = ()) -> dict[str, tuple[str, ...]]:
    """SEQUENCE_GROUPS with each measure channel, given as (channel name, dimension[, buckets]), in its
    dimension."""
    groups = dict(SEQUENCE_GROUPS)
    for name, dimension, *_ in measures:
        groups[str(dimension)] = (*groups.get(str(dimension), ()), str(name))
    return groups


class SequenceTower(nn.Module):
    """Events -> [batch, hidden]: embeddings of kind and status plus numeric channels, through a GRU/LSTM.

    Inputs are left-aligned, oldest first, as in features.sequences (kind/status 0 = padding). Each
    recurrent step reads a block of `events_per_step` consecutive events; blocks are aligned to the most
    recent event, so the last step always sees the latest events in full (1 = one event per step, the
    classic form; 4 makes a 64-event history 16 steps: on the 100k simulated world about 3.5x faster per
    epoch on one CPU thread for 0.004 less held-out AUC of the sequence member alone, 0.769 vs 0.773).
    Each event slot carries [kind embedding, status embedding, numeric channels, code embeddings, 1 if real];
    padding slots are all zeros. A code channel (a category's hash bucket, features.sequences.code_columns)
    is embedded (code_dim values, zero where not recorded) and its own numeric column held at 0. Sequences
    are packed, so neither padding nor the padded length change the output (with a transition layer, to
    float rounding: its matrix product over a longer batch rounds differently).
    A person with no events gets a learned `empty` vector.

    pair_dim > 0 adds a transition layer: each event slot also carries ReLU(W [this slot, the slot before])
    (pair_dim units; zeros before the first event and at padding), so a recurrent step that reads a block
    of events still sees each change from one event to the next (a repeat of the same kind, a late payment
    right after a bill) directly, instead of having to work it out from a linear map of the block.
    """

    def __init__(self, n_kinds: int = len(KIND_VOCAB), n_statuses: int = len(STATUS_VOCAB),
                 n_numeric: int = len(NUMERIC), kind_dim: int = 8, status_dim: int = 8, hidden: int = 32,
                 layers: int = 2, cell: str = "gru", events_per_step: int = 4, dropout: float = 0.0,
                 pair_dim: int = 0, measures: Sequence[Sequence[object]] = (), code_dim: int = 8) -> None:
        super().__init__()
        if cell not in ("gru", "lstm"):
            raise ValueError(f"cell must be 'gru' or 'lstm', not {cell!r}")
        if events_per_step < 1 or layers < 1 or hidden < 1:
            raise ValueError("events_per_step, layers and hidden must be at least 1")
        if pair_dim < 0:
            raise ValueError("pair_dim must not be negative")
        self.kind_emb = nn.Embedding(n_kinds, kind_dim, padding_idx=0)
        self.status_emb = nn.Embedding(n_statuses, status_dim, padding_idx=0)
        self.n_numeric = n_numeric
        self.measures = tuple(tuple(m) for m in measures)
        self.groups = sequence_groups(self.measures)
        self.codes = code_columns(self.measures)
        self.code_emb = nn.ModuleList([nn.Embedding(buckets + 1, code_dim, padding_idx=0) for _, buckets in self.codes])
        for emb in self.code_emb:  # a bucket training never saw reads as nothing recorded, not as noise
            nn.init.zeros_(cast(nn.Embedding, emb).weight)
        if self.codes:
            plain = torch.ones(n_numeric)
            plain[[col for col, _ in self.codes]] = 0.0
            self.register_buffer("plain", plain, persistent=False)
        self.slot_dim = kind_dim + status_dim + n_numeric + code_dim * len(self.codes) + 1
        self.events_per_step = events_per_step
        self.pair = nn.Linear(2 * self.slot_dim, pair_dim) if pair_dim else None
        rnn = nn.GRU if cell == "gru" else nn.LSTM
        self.rnn = rnn((self.slot_dim + pair_dim) * events_per_step, hidden, layers, batch_first=True,
                       dropout=dropout if layers > 1 else 0.0)
        self.empty = nn.Parameter(torch.zeros(hidden))
        self.out_dim = hidden

    # -- layout of a slot: [kind emb | status emb | numeric | real] -----------------------------------
    def channel_columns(self) -> dict[str, np.ndarray]:
        """Slot columns of each channel name (kind, status, the NUMERIC, measure then PERIODIC names, real)."""
        k, s = self.kind_emb.embedding_dim, self.status_emb.embedding_dim
        cols = {"kind": np.arange(k), "status": np.arange(k, k + s)}
        names = (*NUMERIC, *(str(m[0]) for m in self.measures), *PERIODIC)[: self.n_numeric]
        for j, name in enumerate(names):
            cols[name] = np.array([k + s + j])
        start = k + s + self.n_numeric
        for (col, _), emb in zip(self.codes, self.code_emb, strict=True):
            width = cast(nn.Embedding, emb).embedding_dim
            cols[names[col]] = np.concatenate([cols[names[col]], np.arange(start, start + width)])
            start += width
        cols["real"] = np.array([self.slot_dim - 1])
        return cols

    def group_masks(self, groups: Mapping[str, Sequence[str]] | None = None) -> dict[str, torch.Tensor]:
        """Boolean slot-column mask of each group (by default each dimension: self.groups)."""
        cols = self.channel_columns()
        masks = {}
        for g, channels in (self.groups if groups is None else groups).items():
            m = torch.zeros(self.slot_dim, dtype=torch.bool)
            for c in channels:
                if c in cols:
                    m[torch.from_numpy(cols[c])] = True
            masks[g] = m
        return masks

    def slots(self, kind: torch.Tensor, status: torch.Tensor, numeric: torch.Tensor) -> torch.Tensor:
        """[B, L, slot_dim]; numeric must already be standardised and 0 at padding."""
        real = (kind > 0).unsqueeze(-1).to(numeric.dtype)
        numeric = numeric[..., : self.n_numeric]
        if not self.codes:
            return torch.cat([self.kind_emb(kind), self.status_emb(status), numeric, real], -1)
        codes = [emb(numeric[..., col].long()) for (col, _), emb in zip(self.codes, self.code_emb, strict=True)]
        plain = cast(torch.Tensor, self.plain)
        return torch.cat([self.kind_emb(kind), self.status_emb(status), numeric * plain, *codes, real], -1)

    def reference(self, kind_freq: Sequence[float], status_freq: Sequence[float],
                  code_freq: Sequence[Sequence[float]] = ()) -> torch.Tensor:
        """The 'average event': frequency-weighted mean embeddings (kind, status and each code channel's
        buckets), numeric channels 0 (the training mean)."""
        dev = self.empty.device
        kf = torch.tensor(kind_freq, dtype=torch.float32, device=dev)
        sf = torch.tensor(status_freq, dtype=torch.float32, device=dev)
        ref = torch.zeros(self.slot_dim, device=dev)
        k, s = self.kind_emb.embedding_dim, self.status_emb.embedding_dim
        ref[:k] = (kf[:, None] * self.kind_emb.weight).sum(0) / kf.sum().clamp_min(1e-12)
        ref[k: k + s] = (sf[:, None] * self.status_emb.weight).sum(0) / sf.sum().clamp_min(1e-12)
        start = k + s + self.n_numeric
        for emb, freq in zip(cast(list[nn.Embedding], list(self.code_emb)), code_freq, strict=True):
            f = torch.tensor(freq, dtype=torch.float32, device=dev)
            ref[start: start + emb.embedding_dim] = (f[:, None] * emb.weight).sum(0) / f.sum().clamp_min(1e-12)
            start += emb.embedding_dim
        ref[-1] = 1.0
        return ref

    @staticmethod
    def ablate(slots: torch.Tensor, kind: torch.Tensor, keep: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
        """Columns outside `keep` set to `ref` at real events (padding stays zero)."""
        drop = (~keep.to(slots.device))[None, None, :] & (kind > 0)[..., None]
        return torch.where(drop, ref.to(slots.dtype), slots)

    def transitions(self, slots: torch.Tensor) -> torch.Tensor:
        """[B, L, pair_dim]: the transition layer on each event and the one before it, 0 at padding."""
        assert self.pair is not None
        before = nn.functional.pad(slots[:, :-1], (0, 0, 1, 0))
        return torch.relu(self.pair(torch.cat([slots, before], -1))) * slots[..., -1:]

    def pack(self, slots: torch.Tensor, lengths: torch.Tensor) -> PackedSequence:
        """The recurrent steps of slots [B, L, slot_dim] (left-aligned) and lengths [B], packed: transitions
        added, blocks of events_per_step events aligned to the latest one."""
        k = self.events_per_step
        if self.pair is not None:
            slots = torch.cat([slots, self.transitions(slots)], -1)
        batch, length, dim = slots.shape
        lengths = lengths.to(slots.device)
        steps = torch.div(lengths + k - 1, k, rounding_mode="floor")
        n_steps = max(int(steps.max()) if batch else 0, 1)
        if k > 1:  # right-align each history to a block boundary: the last block ends with the latest event
            pos = torch.arange(n_steps * k, device=slots.device)[None, :] - (steps * k - lengths)[:, None]
            valid = (pos >= 0) & (pos < lengths[:, None])
            idx = pos.clamp(0, max(length - 1, 0))
            if length == 0:
                slots = slots.new_zeros(batch, 1, dim)
            slots = torch.gather(slots, 1, idx[..., None].expand(-1, -1, dim)) * valid[..., None].to(slots.dtype)
        else:
            slots = slots[:, :n_steps]
            if slots.shape[1] < n_steps:
                slots = nn.functional.pad(slots, (0, 0, 0, n_steps - slots.shape[1]))
        x = slots.reshape(batch, n_steps, k * dim)
        return pack_padded_sequence(x, steps.clamp(min=1).cpu(), batch_first=True, enforce_sorted=False)

    def run(self, packed: PackedSequence, lengths: torch.Tensor) -> torch.Tensor:
        """[B, hidden]: the last recurrent state of each packed history (`empty` where lengths is 0)."""
        _, state = self.rnn(packed)
        h = (state[0] if isinstance(state, tuple) else state)[-1]
        return torch.where((lengths.to(h.device) > 0)[:, None], h, self.empty.expand_as(h))

    def encode(self, slots: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """[B, hidden] from slots [B, L, slot_dim] (left-aligned) and lengths [B]."""
        return self.run(self.pack(slots, lengths), lengths)

    def encode_ablated(self, slots: torch.Tensor, kind: torch.Tensor, lengths: torch.Tensor,
                       keeps: Sequence[torch.Tensor], ref: torch.Tensor, rows_per_pass: int,
                       packed: PackedSequence | None = None) -> list[torch.Tensor]:
        """`encode` of slots `ablate`d with each mask of `keeps`: one [B, hidden] per mask. Ablated copies
        share a recurrent pass while they fit in `rows_per_pass` rows (a person's re-score: all in one pass).
        `packed`: `pack(slots, lengths)` when the caller has it already.

        Without a transition layer every packed slot is one event's own, so the slots are aligned and
        packed once and each copy is ablated in the packed layout: the same numbers as ablating first, for
        one masked select per copy instead of an alignment and a packing each. A transition layer reads the
        event before, so there the slots are ablated first."""
        packed = None if self.pair is not None else packed if packed is not None else self.pack(slots, lengths)
        out: list[torch.Tensor] = []
        for group in _torch.shared_passes(list(keeps), len(lengths), rows_per_pass):
            if packed is None:
                states = self.encode(torch.cat([self.ablate(slots, kind, keep, ref) for keep in group]),
                                     lengths.repeat(len(group)))
            else:
                states = self.run(self._ablated(packed, group, ref), lengths.repeat(len(group)))
            out.extend(states.split(len(lengths)))
        return out

    def _ablated(self, packed: PackedSequence, keeps: Sequence[torch.Tensor], ref: torch.Tensor
                 ) -> PackedSequence:
        """One copy of the packed histories per mask, copy i as rows i*B to (i+1)*B of the batch, with the
        columns outside its mask set to `ref` at real events (see _repeated for where copy i's rows are)."""
        copies = len(keeps)
        packed = _repeated(packed, copies)
        events = packed.data.view(len(packed.data), self.events_per_step, self.slot_dim)
        keep = torch.stack([k.to(events.device) for k in keeps])
        if copies > 1:
            keep = keep[torch.arange(len(events), device=events.device) % copies]
        drop = (events[..., -1:] > 0) & ~keep[:, None, :]  # the last column is 1 at real events, 0 at padding
        data = torch.where(drop, ref.to(events.dtype), events).view(len(events), -1)
        return PackedSequence(data, packed.batch_sizes, packed.sorted_indices, packed.unsorted_indices)

    def forward(self, kind: torch.Tensor, status: torch.Tensor, numeric: torch.Tensor,
                lengths: torch.Tensor) -> torch.Tensor:
        return self.encode(self.slots(kind, status, numeric), lengths)


class TabularEncoder(nn.Module):
    """[numeric columns as given | one embedding per categorical feature] -> [B, out_dim].

    Numeric inputs arrive standardised, with missing values at 0 and their 0/1 indicators as extra columns
    (the preprocessing does that, from training statistics). Categorical inputs are integer codes.
    """

    def __init__(self, n_numeric: int, cardinalities: Sequence[int], embedding_dims: Sequence[int]) -> None:
        super().__init__()
        if len(cardinalities) != len(embedding_dims):
            raise ValueError("one embedding size per categorical feature")
        self.n_numeric = n_numeric
        self.embeddings = nn.ModuleList([nn.Embedding(c, d) for c, d in zip(cardinalities, embedding_dims,
                                                                                strict=True)])
        self.out_dim = n_numeric + sum(embedding_dims)

    def column_sources(self) -> list[tuple[str, int]]:
        """The input of every output column: ('num', j) or ('cat', j)."""
        out = [("num", j) for j in range(self.n_numeric)]
        for j, e in enumerate(cast(list[nn.Embedding], list(self.embeddings))):
            out += [("cat", j)] * e.embedding_dim
        return out

    def forward(self, numeric: torch.Tensor, categorical: torch.Tensor) -> torch.Tensor:
        parts = [numeric] + [e(categorical[:, j]) for j, e in enumerate(self.embeddings)]
        return torch.cat(parts, dim=1)

    def reference(self, numeric_ref: Sequence[float], category_counts: Sequence[Sequence[float]]) -> torch.Tensor:
        """The 'average row': numeric columns at `numeric_ref`, each embedding at its training-weighted mean."""
        dev = next(self.parameters()).device if len(list(self.parameters())) else torch.device("cpu")
        parts = [torch.tensor(numeric_ref, dtype=torch.float32, device=dev)]
        for e, counts in zip(cast(list[nn.Embedding], list(self.embeddings)), category_counts, strict=True):
            c = torch.tensor(counts, dtype=torch.float32, device=dev)
            parts.append((c[:, None] * e.weight).sum(0) / c.sum().clamp_min(1e-12))
        return torch.cat(parts)


class WideLinear(nn.Module):
    """Sum over fields of one learned weight per bin: a linear model on one-hot bins, kept as lookups.

    forward(idx [B, F]) -> [B]; contributions(idx) -> [B, F], the exact per-field share of the sum.
    Weights start at 0, so the wide part begins neutral and only learns what the data support.
    """

    def __init__(self, field_sizes: Sequence[int]) -> None:
        super().__init__()
        sizes = torch.tensor([0, *field_sizes], dtype=torch.long)
        self.register_buffer("offsets", torch.cumsum(sizes, 0)[:-1].clone(), persistent=False)
        self.weight = nn.Embedding(max(int(sizes.sum()), 1), 1)
        nn.init.zeros_(self.weight.weight)

    def contributions(self, idx: torch.Tensor) -> torch.Tensor:
        offsets = cast(torch.Tensor, self.offsets)
        return self.weight(idx + offsets[None, :]).squeeze(-1)

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        return self.contributions(idx).sum(dim=1)


def _repeated(packed: PackedSequence, copies: int) -> PackedSequence:
    """`copies` copies of every packed history, copy i of history b as row i*B + b of the batch: each step's
    rows repeated in place, so a step's rows stay together (copy i of a step's row r at r*copies + i)."""
    if copies == 1:
        return packed
    assert packed.sorted_indices is not None
    n = len(packed.sorted_indices)
    sorted_indices = (packed.sorted_indices[:, None]
                      + n * torch.arange(copies, device=packed.sorted_indices.device)[None, :]).reshape(-1)
    unsorted_indices = torch.empty_like(sorted_indices)
    unsorted_indices[sorted_indices] = torch.arange(len(sorted_indices), device=sorted_indices.device)
    return PackedSequence(packed.data.repeat_interleave(copies, dim=0), packed.batch_sizes * copies,
                          sorted_indices, unsorted_indices)
