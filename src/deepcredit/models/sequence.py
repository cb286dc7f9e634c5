"""Sequence member: a multi-layer GRU (or LSTM) over each person's fulfilment events before as_of.

Why: the tabular features summarise a history with fixed windows and counts; a recurrent network reads
the events in order (what kind, kept or broken, how late, how much, how far apart) and can learn patterns
no one wrote a feature for, such as a run of late payments that stopped, or lateness creeping in.

Inputs: the temporal view of the ModelInput (features.sequences): the most recent `max_len` events per
row. Numeric channels (signed log amount, months late, log gap to the next event, log age) are
standardised with means and standard deviations over the real events of the training rows only.
See towers.SequenceTower for the network and _torch for the training loop (seeded, early stopping on a
stratified validation share of the training rows).

Explanation (log-odds of default, adding up exactly with the base to the model's logit):
    base                   = the mean, over the training rows, of the logit the model gives when every
                             event of a row is replaced by the 'average event' (frequency-weighted mean
                             kind and status embeddings, numeric channels at their training means): the
                             average person's risk. One constant for all rows.
    credit_history,        = exact Shapley values of the channel groups of the person's own events
    fulfilment_capacity,     (towers.sequence_groups: status and lateness -> credit history, amounts ->
    behaviour_preferences    capacity, kind and timing -> behaviour, a declared measure's channels -> its
                             dimension); a group left out takes the average event's values at the
                             person's real events. Eight forward passes per row for three groups.
    behaviour_preferences += (logit with every channel averaged, at the person's own number of events)
                             - base: what the activity level alone (how many events, none at all) adds.
So base + the five dimensions = logit, up to float rounding; identity and social_connections are 0
unless a measure is declared in them.
"""

from __future__ import annotations

import json
from collections.abc import Sequence as SequenceType
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd
import torch
from torch import nn

from deepcredit.features.bundle import ModelInput
from deepcredit.features.sequences import Sequences, code_columns, with_periodic
from deepcredit.models import _torch
from deepcredit.models.base import (
    DIMENSIONS,
    CreditModel,
    Explanation,
    MemberCannotFit,
    fit_labels,
    read_meta,
)
from deepcredit.models.towers import SequenceTower

FORMAT = 1


def require_sequences(inp: ModelInput, who: str) -> Sequences:
    seq = inp.sequences
    if seq is None:
        raise ValueError(f"{who} reads the temporal view, but this ModelInput has none: build it with "
                         "build_model_input(..., views=('tabular', 'temporal', ...))")
    if seq.kind.shape[0] != len(inp.tabular.frame):
        raise ValueError(f"{who}: the sequences have {seq.kind.shape[0]} rows but the bundle "
                         f"{len(inp.tabular.frame)}: build both views from the same spine")
    if seq.kind.size and (seq.kind.max() >= len(seq.kind_vocab) or seq.status.max() >= len(seq.status_vocab)):
        raise ValueError(f"{who}: event kind/status codes outside the vocabularies of features.sequences")
    return seq


def same_channels(seq: Sequences, tower: dict, who: str) -> Sequences:
    """`seq`, if it codes events with the channels the tower was built on (its measures, in order); a model
    trained with other measures declared cannot read these events, so it says so instead of misreading them."""
    trained = [list(m) for m in tower.get("measures", [])]  # a tower saved before measures has none
    if {"n_numeric": tower["n_numeric"], "measures": trained} != seq.channel_config():
        names = [m[0] for m in trained] or "none"
        raise ValueError(f"{who}: trained on the event measures {names}, but these events code "
                         f"{[m[0] for m in seq.measures] or 'none'}: score with the spec the model was trained on")
    return seq


def event_view(inp: ModelInput, who: str, periodic: bool = True) -> Sequences:
    """The bundle's temporal view (all spine rows), with periodic time appended when `periodic`
    (features.sequences.with_periodic: what pretrained towers read)."""
    seq = require_sequences(inp, who)
    return with_periodic(seq, inp.tabular.frame["as_of"].to_numpy()) if periodic else seq


@dataclass
class SequencePrep:
    """Training-row statistics of the temporal view: numeric means/stds and kind/status frequencies, and each
    code channel's bucket frequencies (features.sequences.code_columns: read as they are, not standardised)."""

    max_len: int
    mean: list[float]
    std: list[float]
    kind_freq: list[float]
    status_freq: list[float]
    code_freq: list[list[float]] = field(default_factory=list)

    @staticmethod
    def _recent(seq: Sequences, rows: np.ndarray, max_len: int) -> tuple[np.ndarray, ...]:
        """The last `max_len` events of each row, still left-aligned (oldest first)."""
        if len(rows) == len(seq.lengths) and np.array_equal(rows, np.arange(len(rows))):  # all, in order: no copy
            kind, status, numeric, lengths = seq.kind, seq.status, seq.numeric, seq.lengths
        else:
            kind, status, numeric, lengths = seq.kind[rows], seq.status[rows], seq.numeric[rows], seq.lengths[rows]
        if kind.shape[1] > max_len:
            start = np.maximum(lengths - max_len, 0)
            pos = start[:, None] + np.arange(max_len)[None, :]
            kind = np.take_along_axis(kind, pos, 1)
            status = np.take_along_axis(status, pos, 1)
            numeric = np.take_along_axis(numeric, pos[..., None], 1)
            lengths = np.minimum(lengths, max_len)
            real = np.arange(max_len)[None, :] < lengths[:, None]
            kind, status = np.where(real, kind, 0), np.where(real, status, 0)
            numeric = np.where(real[..., None], numeric, 0)
        return kind, status, numeric, lengths

    @classmethod
    def fit(cls, seq: Sequences, rows: np.ndarray, max_len: int) -> SequencePrep:
        kind, status, numeric, _ = cls._recent(seq, rows, max_len)
        real = kind > 0
        x = numeric[real].astype(np.float64)
        known = ~np.isnan(x)  # a measure a row does not record (features.sequences.MeasureChannel) is left out
        count = known.sum(0)
        mean = np.where(known, x, 0.0).sum(0) / np.maximum(count, 1)
        std = np.sqrt(np.where(known, (x - mean) ** 2, 0.0).sum(0) / np.maximum(count, 1))
        std = np.where(std > 1e-6, std, 1.0)
        kf = np.bincount(kind[real], minlength=len(seq.kind_vocab)).astype(float)  # the data set's vocabularies
        sf = np.bincount(status[real], minlength=len(seq.status_vocab)).astype(float)
        code_freq = []
        for col, buckets in code_columns(seq.measures):  # bucket numbers pass through (NaN: 0, none recorded)
            mean[col], std[col] = 0.0, 1.0
            codes = np.nan_to_num(x[:, col]).astype(np.int64)
            code_freq.append(_shares(np.bincount(codes, minlength=buckets + 1).astype(float)))
        return cls(int(max_len), mean.tolist(), std.tolist(), _shares(kf), _shares(sf), code_freq)

    def tensors(self, seq: Sequences, rows: np.ndarray, device: torch.device) -> SequenceData:
        kind, status, numeric, lengths = self._recent(seq, rows, self.max_len)
        z = numeric - np.asarray(self.mean, np.float32)  # standardised in place: one array of a chunk's size
        z /= np.asarray(self.std, np.float32)
        z[np.isnan(z)] = 0  # unknown: the training mean
        np.copyto(z, np.float32(0), where=(kind == 0)[..., None])  # padding
        return SequenceData(torch.from_numpy(np.ascontiguousarray(kind)).to(device),
                            torch.from_numpy(np.ascontiguousarray(status)).to(device),
                            torch.from_numpy(np.ascontiguousarray(z)).to(device),
                            torch.from_numpy(np.ascontiguousarray(lengths)).to(device))


def _shares(counts: np.ndarray) -> list[float]:
    return (counts / max(counts.sum(), 1)).tolist()


@dataclass
class SequenceData:
    """Prepared tensors of some rows; `batch` trims each batch to its longest history."""

    kind: torch.Tensor
    status: torch.Tensor
    numeric: torch.Tensor
    lengths: torch.Tensor

    def batch(self, pos: np.ndarray) -> tuple[torch.Tensor, ...]:
        p = torch.from_numpy(np.asarray(pos, dtype=np.int64)).to(self.kind.device)
        lengths = self.lengths[p]
        length = max(int(lengths.max()) if len(p) else 0, 1)
        return self.kind[p, :length], self.status[p, :length], self.numeric[p, :length], lengths


def sequence_values(tower: SequenceTower, data: SequenceData, pos: np.ndarray, ref: torch.Tensor,
                    subsets: SequenceType[frozenset[str]], rows_per_pass: int = _torch.ROWS_PER_PASS
                    ) -> dict[frozenset[str], torch.Tensor]:
    """Tower outputs of rows `pos` with only the channel groups in each subset kept (see towers.sequence_groups);
    the other groups take the reference event's values at every real event.

    Ablated subsets share a recurrent pass while they fit in `rows_per_pass` rows (a person's re-score: all
    of them in one pass instead of one each); a subset keeping every group runs alone, on exactly the
    tensors a prediction of these rows runs, so it has the prediction's bits."""
    kind, status, numeric, lengths = data.batch(pos)
    slots = tower.slots(kind, status, numeric)
    masks = tower.group_masks()
    keeps = {}
    for subset in subsets:
        keep = torch.ones(tower.slot_dim, dtype=torch.bool)
        for g, m in masks.items():
            if g not in subset:
                keep &= ~m
        keeps[frozenset(subset)] = keep
    packed = tower.pack(slots, lengths)  # what encode runs: the unablated subset and, packed, the ablated
    out = {s: tower.run(packed, lengths) for s, keep in keeps.items() if bool(keep.all())}
    ablated = [s for s in keeps if s not in out]
    out.update(zip(ablated, tower.encode_ablated(slots, kind, lengths, [keeps[s] for s in ablated], ref,
                                                 rows_per_pass, packed), strict=True))
    return {frozenset(s): out[frozenset(s)] for s in subsets}


class _SequenceNet(nn.Module):
    def __init__(self, tower: dict, head_hidden: int, prior: float = 0.0) -> None:
        super().__init__()
        self.tower = SequenceTower(**tower)
        h = self.tower.out_dim
        hidden, out = nn.Linear(h, head_hidden), nn.Linear(head_hidden, 1)  # created in this order: same seeds
        nn.init.constant_(out.bias, prior)
        self.head = nn.Sequential(hidden, nn.ReLU(), out)

    def forward(self, kind, status, numeric, lengths) -> torch.Tensor:
        return self.head(self.tower(kind, status, numeric, lengths)).squeeze(-1)


class SequenceModel(CreditModel):
    """GRU/LSTM over the temporal view; see the module docstring. fit(..., on_progress) reports epochs.

    events_per_step: events read per recurrent step (see towers.SequenceTower); threads: torch threads
    while fitting and predicting (None: leave torch's setting); device None: CUDA when present, else CPU.
    """

    kind = "sequence"
    views = ("temporal",)

    def __init__(self, cell: str = "gru", layers: int = 2, hidden: int = 32, kind_dim: int = 8,
                 status_dim: int = 8, events_per_step: int = 4, max_len: int = 64, head_hidden: int = 32,
                 dropout: float = 0.1, batch_size: int = 512, lr: float = 3e-3, weight_decay: float = 1e-5,
                 max_epochs: int = 15, patience: int = 3, val_fraction: float = 0.15, seed: int = 0,
                 device: str | None = None, threads: int | None = 1, pair_dim: int = 0) -> None:
        self.cell = cell
        self.layers = layers
        self.hidden = hidden
        self.kind_dim = kind_dim
        self.status_dim = status_dim
        self.events_per_step = events_per_step
        self.max_len = max_len
        self.head_hidden = head_hidden
        self.dropout = dropout
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.max_epochs = max_epochs
        self.patience = patience
        self.val_fraction = val_fraction
        self.seed = seed
        self.device = device
        self.threads = threads
        self.pair_dim = pair_dim

    def warm_start(self, encoder) -> SequenceModel:
        """Start the next fit from a pretrained encoder (models.pretrain.EventEncoder): its tower architecture,
        weights and input statistics (periodic time included) replace this member's own tower settings."""
        self.warm_start_ = encoder
        return self

    def _view(self, inp: ModelInput) -> Sequences:
        return event_view(inp, "sequence model", getattr(self, "periodic_", False))

    def _tower_config(self, seq: Sequences) -> dict:
        return {"n_kinds": len(self.prep_.kind_freq), "n_statuses": len(self.prep_.status_freq),
                **seq.channel_config(), "kind_dim": self.kind_dim, "status_dim": self.status_dim, "hidden": self.hidden,
                "layers": self.layers, "cell": self.cell, "events_per_step": self.events_per_step,
                "dropout": self.dropout, "pair_dim": self.pair_dim}

    # -- fitting ----------------------------------------------------------------------------------
    def fit(self, inp: ModelInput, y: np.ndarray | None = None,
            on_progress: _torch.ProgressFn | None = None) -> SequenceModel:
        encoder = getattr(self, "warm_start_", None)
        self.periodic_ = encoder is not None
        seq = self._view(inp)
        rows = inp.index
        if not seq.lengths[rows].any():
            raise MemberCannotFit("sequence model: no person has an event before their as-of date, so there is "
                                  "no history to learn from")
        y = fit_labels(inp, y, "sequence model")
        device = _torch.resolve_device(self.device)
        with _torch.torch_threads(self.threads), _torch.seeded(self.seed, device):
            if encoder is not None:
                self.prep_ = SequencePrep(**asdict(encoder.prep))
                self.tower_ = {**encoder.tower_config, "dropout": self.dropout}
            else:
                self.prep_ = SequencePrep.fit(seq, rows, self.max_len)
                self.tower_ = self._tower_config(seq)
            same_channels(seq, self.tower_, "sequence model")
            data = self.prep_.tensors(seq, rows, device)
            prior = float(np.log(y.mean() / (1 - y.mean())))
            net = _SequenceNet(self.tower_, self.head_hidden, prior).to(device)
            if encoder is not None:
                net.tower.load_state_dict(encoder.tower_state())
            train_pos, val_pos = _torch.validation_split(y, self.val_fraction, self.seed)
            settings = _torch.TrainSettings(self.max_epochs, self.batch_size, self.lr, self.weight_decay,
                                            self.patience, self.seed)
            result = _torch.train(net, lambda pos: net(*data.batch(pos)), y, train_pos, val_pos, settings,
                                  device, on_progress=on_progress)
            self.net_ = net
            self.history_, self.best_epoch_, self.fit_seconds_ = result.history, result.best_epoch, result.seconds
            self.base_ = float(self._values(data, [frozenset()])[frozenset()].mean())
        return self

    # -- scoring ----------------------------------------------------------------------------------
    def _check(self) -> None:
        if not hasattr(self, "net_"):
            raise RuntimeError("sequence model: call fit (or load a fitted model) first")

    def decision_function(self, inp: ModelInput) -> np.ndarray:
        """Logit of default per row (float32 network output, as float64)."""
        self._check()
        seq = same_channels(self._view(inp), self.tower_, "sequence model")
        device = next(self.net_.parameters()).device
        with _torch.torch_threads(self.threads):
            data = self.prep_.tensors(seq, inp.index, device)
            return _torch.batched(lambda pos: self.net_(*data.batch(pos)), len(inp)).astype(np.float64)

    @torch.no_grad()
    def _values(self, data: SequenceData, subsets: SequenceType[frozenset[str]]
                ) -> dict[frozenset[str], np.ndarray]:
        """Logits with each subset of channel groups kept, over all rows of `data`, in fixed batches."""
        net = self.net_
        ref = net.tower.reference(self.prep_.kind_freq, self.prep_.status_freq, self.prep_.code_freq)

        def logits(pos: np.ndarray) -> dict[frozenset[str], np.ndarray]:
            return {key: net.head(h).squeeze(-1).cpu().numpy().astype(np.float64)
                    for key, h in sequence_values(net.tower, data, pos, ref, subsets).items()}

        parts = _torch.in_batches(logits, len(data.lengths))
        return {frozenset(k): np.concatenate([p[frozenset(k)] for p in parts]) if parts else np.zeros(0)
                for k in subsets}

    def explain(self, inp: ModelInput) -> Explanation:
        """base + credit_history + fulfilment_capacity + behaviour_preferences = logit (see module doc)."""
        self._check()
        seq = same_channels(self._view(inp), self.tower_, "sequence model")
        device = next(self.net_.parameters()).device
        groups = list(self.net_.tower.groups)
        with _torch.torch_threads(self.threads):
            data = self.prep_.tensors(seq, inp.index, device)
            values = self._values(data, _torch.coalitions(groups))
        phi = _torch.shapley(values.__getitem__, groups)
        by_dim = pd.DataFrame(0.0, index=pd.RangeIndex(len(inp)), columns=DIMENSIONS)
        for g in groups:
            by_dim[g] = phi[g]
        by_dim["behaviour_preferences"] += values[frozenset()] - self.base_
        # every group kept is the unablated network on the same rows and batches: decision_function's bits
        return Explanation(np.full(len(inp), self.base_), by_dim, None, values[frozenset(groups)])

    # -- artifacts --------------------------------------------------------------------------------
    def to_files(self) -> dict[str, bytes]:
        self._check()
        meta = {"format": FORMAT, "prep": asdict(self.prep_), "base": self.base_, "history": self.history_,
                "best_epoch": self.best_epoch_, "tower": self.tower_, "periodic": self.periodic_}
        return {"sequence_net.pt": _torch.state_bytes(self.net_),
                "sequence_prep.json": json.dumps(meta, indent=1, sort_keys=True).encode()}

    @classmethod
    def from_files(cls, files: dict[str, bytes], params: dict) -> SequenceModel:
        model = cls(**params)
        meta = read_meta(files, "sequence_prep.json", FORMAT, "sequence model")
        model.prep_ = SequencePrep(**meta["prep"])
        model.base_, model.history_, model.best_epoch_ = meta["base"], meta["history"], meta["best_epoch"]
        model.tower_, model.periodic_ = meta["tower"], bool(meta.get("periodic", False))
        net = _SequenceNet(model.tower_, model.head_hidden)
        model.net_ = _torch.load_state(net, files["sequence_net.pt"], _torch.resolve_device(model.device))
        return model
