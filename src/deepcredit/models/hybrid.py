"""Hybrid temporal member: the multi-layer recurrent state over a person's events, concatenated with an MLP
over the tabular aggregates, into one head (the shape of the Amex Default Prediction winners).

Why: a recurrent network alone trails GBDT on aggregates, and aggregates alone miss what only the order
and timing of events show. Reading both in one network lets each make up for the other: the aggregates
carry the long-window summaries, the recurrent state what happened recently and in what order.

Network: logit = wide(bins) + head([MLP(aggregates), GRU state]), built on the Wide & Deep member
(models.wide_deep: the same preprocessing, training loop, artifacts and explanation) with
    aggregates  TabularPrep's deep inputs -> Linear(aggregate_hidden) + ReLU, before the concatenation;
    events      towers.SequenceTower over event slots: kind and status embeddings, signed log amount,
                months late, log days since the previous event, log age, weekday and time of year
                (sine/cosine, features.sequences.with_periodic);
    wide        a linear term on binned aggregates (no crosses by default).
`warm_start(encoder)` (the stack does it when its temporal path is on) starts the recurrent tower from the
self-supervised encoder of models.pretrain: its architecture, weights and input statistics.

Explanation: as Wide & Deep's (exact Shapley values over the dimensions' inputs, the event channel groups of
towers.sequence_groups included), so base + the five dimensions = the logit.
"""

from __future__ import annotations

from collections.abc import Sequence

from deepcredit.features.bundle import ModelInput
from deepcredit.features.sequences import Sequences
from deepcredit.models.sequence import SequencePrep, event_view
from deepcredit.models.wide_deep import TabularPrep, WideDeepModel, _WideDeepNet


class HybridModel(WideDeepModel):
    """Recurrent state + aggregate MLP in one network; see the module docstring."""

    kind = "hybrid"
    views: tuple[str, ...] = ("tabular", "temporal")
    reads_embeddings = False  # it reads the events itself, through the warm-started tower

    def __init__(self, aggregate_hidden: int = 32, hidden: Sequence[int] = (32,), n_bins: int = 10,
                 cross_features: int = 0, max_embedding: int = 8, dropout: float = 0.1, wide_l2: float = 1e-4,
                 cell: str = "gru", seq_layers: int = 2, seq_hidden: int = 32, kind_dim: int = 8,
                 status_dim: int = 8, events_per_step: int = 4, max_len: int = 64,
                 features: Sequence[str] | None = None, allow_protected: bool = False, batch_size: int = 512,
                 lr: float = 1e-3, weight_decay: float = 1e-5, max_epochs: int = 15, patience: int = 3,
                 val_fraction: float = 0.15, seed: int = 0, device: str | None = None,
                 threads: int | None = 1, pair_dim: int = 0) -> None:
        super().__init__(n_bins=n_bins, cross_features=cross_features, hidden=hidden, max_embedding=max_embedding,
                         dropout=dropout, wide_l2=wide_l2, use_sequence_tower=True, cell=cell,
                         seq_layers=seq_layers, seq_hidden=seq_hidden, events_per_step=events_per_step,
                         max_len=max_len, use_graph_tower=False, features=features,
                         allow_protected=allow_protected, batch_size=batch_size, lr=lr, weight_decay=weight_decay,
                         max_epochs=max_epochs, patience=patience, val_fraction=val_fraction, seed=seed,
                         device=device, threads=threads)
        self.aggregate_hidden = aggregate_hidden
        self.kind_dim = kind_dim
        self.status_dim = status_dim
        self.pair_dim = pair_dim

    def warm_start(self, encoder) -> HybridModel:
        """Start the next fit's recurrent tower from a pretrained models.pretrain.EventEncoder."""
        self.warm_start_ = encoder
        return self

    def _sequences(self, inp: ModelInput) -> Sequences:
        return event_view(inp, "hybrid")

    def _sequence_prep(self, inp: ModelInput) -> SequencePrep:
        encoder = getattr(self, "warm_start_", None)
        if encoder is not None:
            return SequencePrep(**vars(encoder.prep))
        return super()._sequence_prep(inp)

    def _arch(self, prep: TabularPrep, prior: float, seq: Sequences | None) -> dict:
        arch = super()._arch(prep, prior, seq)
        arch["aggregate_hidden"] = int(self.aggregate_hidden)
        encoder = getattr(self, "warm_start_", None)
        if encoder is not None:
            arch["sequence"] = {**encoder.tower_config, "dropout": self.dropout}
        else:
            arch["sequence"].update(kind_dim=self.kind_dim, status_dim=self.status_dim, pair_dim=self.pair_dim)
        return arch

    def _init_net(self, net: _WideDeepNet) -> None:
        encoder = getattr(self, "warm_start_", None)
        if encoder is not None and net.sequence is not None:
            net.sequence.load_state_dict(encoder.tower_state())
