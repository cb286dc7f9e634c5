"""Wide & Deep member: a linear model over binned features (memorisation) trained jointly with a deep network
over embeddings (generalisation), optionally fed by the sequence tower and the graph tower, end to end.

Why: the wide part learns sharp, readable effects of single bins and of a few crossed bins (this income
band *and* that utilisation band); the deep part learns smooth interactions across all features, and the
towers let the fulfilment sequence and the neighbourhood enter the same network instead of only through
hand-written aggregates. logit = wide(x) + deep(x, towers).

Inputs, all statistics from the training rows only (`TabularPrep`):
    wide  quantile bins of each numeric feature (`n_bins`, plus a missing bin), one-hot of each categorical
          (seen categories, plus 'other' and 'missing'), and crosses of every pair among the `cross_features`
          features with the highest information value
    deep  numeric features signed-log transformed where skewed, clipped to training quantiles and
          standardised, missing -> 0 plus a 0/1 missing indicator; categorical features as embeddings.
          All of it in float64, cast to float32 only once standardised. An infinity is the most extreme
          value, not a missing one: the training statistics are of the finite values, and +-inf then
          takes the clip bound (and the extreme wide bin) of its side. Finite values are bounded to
          +-LARGEST and statistics of values whose cubes would overflow are taken on a power-of-two
          rescaled copy (`_scaled`), so a feature holding 1e30 or 1e300 still gives finite inputs; a
          non-finite input left over is refused naming its feature.
    towers  use_sequence_tower: towers.SequenceTower over the temporal view (as in models.sequence);
            use_graph_tower: models.graph.GraphSAGETower over the structural view, node inputs from
            models.graph.NodeEncoder, neighbours sampled per batch in training (`fanouts`), all of them
            when predicting; a batch job may run it a layer at a time (`layer_states`, as the graph
            model does), its last layer then reading the stored states (ModelInput.node_states).
Protected attributes are never inputs unless allow_protected=True.

Explanation (log-odds of default; base + the five dimensions = the logit, up to float rounding):
    wide      exact: each field's weight for the row's bin, minus that field's training mean; a cross's
              contribution is split equally between its two features; then summed by the features'
              dimensions. Per feature as the explanation's by_feature (which so covers the wide part only:
              reason codes name features by it).
    deep      exact Shapley values over the dimensions as players: a dimension's tabular inputs, its
              sequence channel groups (towers.sequence_groups) and, for social_connections, the graph tower
              output; a player left out takes its reference (numeric columns at their training means,
              embeddings at their training-frequency-weighted means, events at the 'average event', the
              graph output at its training mean). 2^k passes of the MLP, 2^3 of the sequence tower.
    activity  (deep part with every player at its reference, at the person's own number of events) minus
              its training mean -> behaviour_preferences (0 without the sequence tower).
    base      = training mean of the wide part + training mean of the all-reference deep part (a constant).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from functools import cached_property
from itertools import combinations
from typing import cast

import numpy as np
import pandas as pd
import torch
from torch import nn

from deepcredit.data.schema import Dimension
from deepcredit.features.bundle import ModelInput
from deepcredit.features.sequences import Sequences
from deepcredit.features.spec import FeatureDef, Kind
from deepcredit.models import _torch
from deepcredit.models.base import DIMENSIONS, CreditModel, Explanation, fit_labels, read_meta
from deepcredit.models.gbdt import model_features, numeric_values
from deepcredit.models.graph import (
    Adjacency,
    GraphSAGETower,
    NodeEncoder,
    exact_layer,
    layer_output,
    sample_blocks,
)
from deepcredit.models.pretrain import EMBEDDING_PREFIX
from deepcredit.models.sequence import (
    SequenceData,
    SequencePrep,
    require_sequences,
    same_channels,
    sequence_values,
)
from deepcredit.models.towers import SequenceTower, TabularEncoder, WideLinear

FORMAT = 1
BATCH = 4096
"""Rows per scoring batch (fixed, so the same rows always give the same bits)."""
OTHER, MISSING = 0, 1
"""Codes of an unseen and a missing category; seen categories are 2, 3, ..."""
LARGEST = 1e300
"""Finite numeric inputs are bounded to +-this, so that differences of two of them cannot overflow float64."""
SAFE_MAGNITUDE = 2.0 ** 300
"""Above this (about 2e90) a column's cubes (the skew) or squares (the spread) may overflow float64."""


def _numeric(col: pd.Series) -> np.ndarray:
    """A column as float64: anything that is not a number NaN, +-inf kept (the most extreme value, as the
    scorecard and LightGBM read it), finite values bounded to +-LARGEST."""
    return _bounded(numeric_values(col))


def _bounded(x: np.ndarray) -> np.ndarray:
    """x with its finite values clipped to +-LARGEST, in place."""
    return np.clip(x, -LARGEST, LARGEST, out=x, where=np.isfinite(x))


def _scaled(x: np.ndarray) -> tuple[np.ndarray, float]:
    """(x / s, s), s a power of two bringing |x| to at most 1 where it exceeds SAFE_MAGNITUDE, else (x, 1.0).

    A power of two scales exactly, so the mean and spread of the copy times s are those of x without the
    overflow (and the skew is scale-free); ordinary columns are not touched at all, nor their bits."""
    top = float(np.max(np.abs(x))) if x.size else 0.0
    if top <= SAFE_MAGNITUDE:
        return x, 1.0
    s = float(2.0 ** np.frexp(top)[1])
    return x / s, s


def _numeric_block(X: pd.DataFrame, names: list[str]) -> np.ndarray:
    """[n, len(names)] float64, column-major (each column contiguous, as `_numeric` gives it), as `_numeric`
    reads values: one copy out of the frame where every column is numeric, so a frame of one person costs
    one pandas call instead of one per column."""
    block = X[names]
    if all(t.kind in "biuf" for t in block.dtypes):  # bool, integer, float (numpy or pandas' own)
        return _bounded(np.asfortranarray(block.to_numpy(dtype=np.float64, na_value=np.nan)))
    out = np.empty((len(X), len(names)), dtype=np.float64, order="F")
    for j, n in enumerate(names):
        out[:, j] = _numeric(X[n])
    return out


def _iv(codes: np.ndarray, y: np.ndarray, size: int) -> float:
    """Information value of a binned column (0.5 added to every cell so empty bins stay finite)."""
    bad = np.bincount(codes[y == 1], minlength=size) + 0.5
    good = np.bincount(codes[y == 0], minlength=size) + 0.5
    b, g = bad / bad.sum(), good / good.sum()
    return float(np.sum((g - b) * np.log(g / b)))


@dataclass
class TabularPrep:
    """Everything the wide and deep inputs need from the training rows (JSON-serialisable)."""

    names: list[str]
    dimension: dict[str, str]
    numeric: list[str]
    log: list[bool]
    lo: list[float]
    hi: list[float]
    mean: list[float]
    std: list[float]
    missing: list[str]
    categories: dict[str, list[str]]
    category_counts: dict[str, list[float]]
    edges: dict[str, list[float]]
    crosses: list[list[str]]
    iv: dict[str, float]
    ref: list[float] = field(default_factory=list)
    """Training mean of each numeric/indicator deep column: the explanation's reference."""

    # -- fitting ------------------------------------------------------------------------------------
    @classmethod
    def fit(cls, X: pd.DataFrame, y: np.ndarray, defs: Sequence[FeatureDef], n_bins: int = 10,
            cross_features: int = 4, min_category_count: int = 5, max_categories: int = 50,
            clip_quantile: float = 0.005) -> TabularPrep:
        prep = cls([], {}, [], [], [], [], [], [], [], {}, {}, {}, [], {})
        for d in defs:
            col = X[d.name]
            if d.kind is Kind.CATEGORICAL:
                s = col.astype("string")
                counts = s.value_counts()
                kept = sorted((str(k) for k, c in counts.items() if c >= min_category_count),
                              key=lambda k: (-counts[k], k))[:max_categories]
                if len(kept) + int(s.isna().any()) + int(len(kept) < len(counts)) < 2:
                    continue  # one value in training: nothing to learn
                prep.categories[d.name] = kept
                codes = prep._category_codes(d.name, col)
                prep.category_counts[d.name] = np.bincount(codes, minlength=len(kept) + 2).astype(float).tolist()
            else:
                x = _numeric(col)
                ok = x[np.isfinite(x)]  # the statistics; an infinity then takes the bound of its side
                if ok.size == 0 or (np.ptp(ok) == 0 and ok.size == x.size):
                    continue  # never observed, or constant and never missing
                skew = float(pd.Series(_scaled(ok)[0]).skew()) if ok.size > 2 else 0.0  # scale-free
                log = bool(np.isfinite(skew) and abs(skew) > 2)
                t = np.sign(ok) * np.log1p(np.abs(ok)) if log else ok
                lo, hi = np.quantile(t, [clip_quantile, 1 - clip_quantile])
                u, scale = _scaled(np.clip(t, lo, hi))
                mean, std = float(u.mean()) * scale, float(u.std()) * scale
                prep.numeric.append(d.name)
                prep.log.append(log)
                prep.lo.append(float(lo))
                prep.hi.append(float(hi))
                prep.mean.append(mean)
                prep.std.append(std if std > 1e-12 else 1.0)
                if np.isnan(x).any():
                    prep.missing.append(d.name)
                qs = np.quantile(ok, np.linspace(0, 1, n_bins + 1)[1:-1]) if n_bins > 1 else np.zeros(0)
                prep.edges[d.name] = np.unique(qs).tolist()
            prep.names.append(d.name)
            prep.dimension[d.name] = d.dimension.value
        if not prep.names:
            raise ValueError("wide & deep: no feature varies in the training rows")
        codes = prep._field_codes(X, crosses=False)
        sizes = prep._field_sizes(crosses=False)
        prep.iv = {n: _iv(codes[:, j], y, s) for j, (n, s) in enumerate(zip(prep.names, sizes, strict=True))}
        top = [n for n in sorted(prep.names, key=lambda n: (-prep.iv[n], n))
               if sizes[prep.names.index(n)] <= 32][:cross_features]
        prep.crosses = [list(p) for p in combinations(top, 2)]
        prep.ref = prep.deep(X)[0].astype(np.float64).mean(0).tolist()
        return prep

    # -- transforms -----------------------------------------------------------------------------------
    def _category_codes(self, name: str, col: pd.Series) -> np.ndarray:
        s = col.astype("string")
        at = self._category_index(name).get_indexer(s)  # -1: unseen (or missing, set below)
        out = np.where(at < 0, OTHER, at + 2).astype(np.int64)
        out[s.isna().to_numpy()] = MISSING
        return out

    def _category_index(self, name: str) -> pd.Index:
        """The seen categories of `name` as a string Index, built on first use (a re-score codes one row)."""
        if name not in self._category_indexes:
            self._category_indexes[name] = pd.Index(self.categories[name], dtype="string")
        return self._category_indexes[name]

    @cached_property
    def _category_indexes(self) -> dict[str, pd.Index]:
        """_category_index's store: not a dataclass field, so never serialised."""
        return {}

    @staticmethod
    def _require(X: pd.DataFrame, names: list[str]) -> None:
        missing = [n for n in names if n not in X.columns]
        if missing:
            raise ValueError(f"wide & deep: feature column {missing[0]!r}, which the model uses, is missing from "
                             "the input")

    def _field_sizes(self, crosses: bool = True) -> list[int]:
        sizes = [len(self.edges[n]) + 2 if n in self.edges else len(self.categories[n]) + 2 for n in self.names]
        if crosses:
            at = {n: s for n, s in zip(self.names, sizes, strict=True)}
            sizes += [at[a] * at[b] for a, b in self.crosses]
        return sizes

    @property
    def field_sizes(self) -> list[int]:
        return self._field_sizes()

    @property
    def field_features(self) -> list[list[str]]:
        """The feature(s) behind each wide field: one per feature, then the crosses' pairs."""
        return [[n] for n in self.names] + [list(c) for c in self.crosses]

    def _field_codes(self, X: pd.DataFrame, crosses: bool = True) -> np.ndarray:
        self._require(X, self.names)
        binned = [n for n in self.names if n in self.edges]
        values = dict(zip(binned, _numeric_block(X, binned).T, strict=True))
        cols = []
        for n in self.names:
            if n in self.edges:
                x = values[n]
                edges = np.asarray(self.edges[n])
                code = np.searchsorted(edges, x, side="right")
                code[np.isnan(x)] = len(edges) + 1
                cols.append(code.astype(np.int64))
            else:
                cols.append(self._category_codes(n, X[n]))
        if crosses:
            at = {n: (c, s) for n, c, s in zip(self.names, cols, self._field_sizes(False), strict=True)}
            cols += [at[a][0] * at[b][1] + at[b][0] for a, b in self.crosses]
        return np.column_stack(cols) if cols else np.zeros((len(X), 0), dtype=np.int64)

    def wide(self, X: pd.DataFrame) -> np.ndarray:
        """[n, fields] int64 bin codes."""
        return self._field_codes(X)

    def deep(self, X: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """([n, numeric + indicators] float32, [n, categorical] int64)."""
        self._require(X, [*self.numeric, *self.categories])
        k = len(self.numeric)
        num = np.zeros((len(X), k + len(self.missing)), dtype=np.float64)
        if k:  # every numeric column at once: the same elementwise operations as one column at a time
            x = _numeric_block(X, self.numeric)
            miss = np.isnan(x)
            t = np.where(np.asarray(self.log, dtype=bool)[None, :], np.sign(x) * np.log1p(np.abs(x)), x)
            with np.errstate(over="ignore", invalid="ignore"):
                z = (np.clip(t, np.asarray(self.lo), np.asarray(self.hi)) - np.asarray(self.mean)) / np.asarray(self.std)
            z = np.where(miss, 0.0, z)
            bad = ~np.isfinite(z).all(axis=0)
            if bad.any():  # a float32 input must be finite; none of the above should leave one that is not
                raise ValueError(f"wide & deep: feature {self.numeric[int(np.argmax(bad))]!r} holds values too "
                                 "extreme to standardise")
            num[:, :k] = z
            at = {n: j for j, n in enumerate(self.numeric)}
            for i, n in enumerate(self.missing):
                if n in at:
                    num[:, k + i] = miss[:, at[n]]
        cat = [self._category_codes(n, X[n]) for n in self.categories]
        cat_arr = np.column_stack(cat) if cat else np.zeros((len(X), 0), dtype=np.int64)
        return num.astype(np.float32), cat_arr

    @property
    def deep_column_features(self) -> list[str]:
        """The feature behind each numeric/indicator deep column, then one entry per categorical."""
        return [*self.numeric, *self.missing, *self.categories]

    def embedding_dims(self, max_dim: int) -> list[int]:
        return [max(2, min(max_dim, (len(v) + 3) // 2)) for v in self.categories.values()]

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> TabularPrep:
        return cls(**d)


def _require_graph(inp: ModelInput):
    g = inp.graph
    if g is None:
        raise ValueError("wide & deep with use_graph_tower reads the structural view, but this ModelInput has "
                         "none: build it with build_model_input(..., views=('tabular', 'structural', ...))")
    if g.num_nodes != len(inp.tabular.frame):
        raise ValueError(f"wide & deep: the graph has {g.num_nodes} nodes but the bundle "
                         f"{len(inp.tabular.frame)} rows: build both views from the same spine")
    return g


class _WideDeepNet(nn.Module):
    def __init__(self, arch: dict) -> None:
        super().__init__()
        self.wide = WideLinear(arch["field_sizes"])
        self.encoder = TabularEncoder(arch["n_numeric"], arch["cardinalities"], arch["embedding_dims"])
        self.sequence = SequenceTower(**arch["sequence"]) if arch.get("sequence") else None
        self.graph: GraphSAGETower | None = None
        if arch.get("graph"):
            self.graph = GraphSAGETower(**arch["graph"])
        d_tab = self.encoder.out_dim
        self.aggregates: nn.Module | None = None
        if arch.get("aggregate_hidden"):  # the hybrid member: an MLP over the aggregates before the concatenation
            self.aggregates = nn.Sequential(nn.Linear(d_tab, arch["aggregate_hidden"]), nn.ReLU(),
                                            nn.Dropout(arch["dropout"]))
            d_tab = arch["aggregate_hidden"]
        d = d_tab + sum(t.out_dim for t in (self.sequence, self.graph) if t is not None)
        layers: list[nn.Module] = []
        for h in arch["hidden"]:
            layers += [nn.Linear(d, h), nn.ReLU(), nn.Dropout(arch["dropout"])]
            d = h
        layers.append(nn.Linear(d, 1))
        self.mlp = nn.Sequential(*layers)
        nn.init.constant_(cast(nn.Linear, self.mlp[-1]).bias, arch.get("prior", 0.0))

    def deep(self, parts: Sequence[torch.Tensor]) -> torch.Tensor:
        """parts: [tabular encoding, tower outputs...]."""
        parts = list(parts)
        if self.aggregates is not None:
            parts[0] = self.aggregates(parts[0])
        return self.mlp(torch.cat(parts, dim=1)).squeeze(-1)


@dataclass
class _Data:
    """The model's inputs for some rows, as tensors on the model's device."""

    wide: torch.Tensor
    numeric: torch.Tensor
    categorical: torch.Tensor
    sequence: SequenceData | None = None
    nodes: np.ndarray | None = None  # global node id of each row (graph tower)
    x_all: torch.Tensor | None = None  # node inputs of every node
    adjacency: Adjacency | None = None
    staged: torch.Tensor | None = None  # or what enters the graph tower's last layer, for every node


class WideDeepModel(CreditModel):
    """Wide (binned, crossed, linear) + deep (embeddings, MLP, optional towers); see the module docstring.

    Reads the tabular view, plus the temporal view with use_sequence_tower and the structural view with
    use_graph_tower. fit(..., on_progress) reports epochs. threads: torch threads while fitting and
    predicting (None: leave torch's setting); device None: CUDA when present, else CPU.
    """

    kind = "wide_deep"
    reads_embeddings = True
    views: tuple[str, ...] = ("tabular", "temporal", "structural")
    """The views it may read: temporal only with use_sequence_tower, structural only with use_graph_tower."""
    definitions_: list[FeatureDef]  # once fitted (CreditModel declares them None before)

    def __init__(self, n_bins: int = 10, cross_features: int = 4, hidden: Sequence[int] = (64, 32),
                 max_embedding: int = 8, dropout: float = 0.1, wide_l2: float = 1e-4,
                 use_sequence_tower: bool = False, cell: str = "gru", seq_layers: int = 2, seq_hidden: int = 32,
                 events_per_step: int = 4, max_len: int = 64, use_graph_tower: bool = False,
                 graph_hidden: int = 32, graph_layers: int = 2, fanouts: Sequence[int | None] | None = (10, 5),
                 features: Sequence[str] | None = None, allow_protected: bool = False, batch_size: int = 512,
                 lr: float = 1e-3, weight_decay: float = 1e-5, max_epochs: int = 15, patience: int = 3,
                 val_fraction: float = 0.15, seed: int = 0, device: str | None = None,
                 threads: int | None = 1) -> None:
        self.n_bins = n_bins
        self.cross_features = cross_features
        self.hidden = hidden
        self.max_embedding = max_embedding
        self.dropout = dropout
        self.wide_l2 = wide_l2
        self.use_sequence_tower = use_sequence_tower
        self.cell = cell
        self.seq_layers = seq_layers
        self.seq_hidden = seq_hidden
        self.events_per_step = events_per_step
        self.max_len = max_len
        self.use_graph_tower = use_graph_tower
        self.graph_hidden = graph_hidden
        self.graph_layers = graph_layers
        self.fanouts = fanouts
        self.features = features
        self.allow_protected = allow_protected
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.max_epochs = max_epochs
        self.patience = patience
        self.val_fraction = val_fraction
        self.seed = seed
        self.device = device
        self.threads = threads

    # -- inputs -------------------------------------------------------------------------------------
    def _data(self, inp: ModelInput, device: torch.device) -> _Data:
        X = inp.X
        num, cat = self.prep_.deep(X)
        data = _Data(torch.from_numpy(self.prep_.wide(X)).to(device), torch.from_numpy(num).to(device),
                     torch.from_numpy(cat).to(device))
        if self.use_sequence_tower:
            seq = same_channels(self._sequences(inp), self.arch_["sequence"], self.kind)
            data.sequence = self.seq_prep_.tensors(seq, inp.index, device)
        if self.use_graph_tower:
            data.adjacency = Adjacency.from_graph(_require_graph(inp))
            data.nodes = inp.index
            staged = (inp.node_states or {}).get(self.kind)  # a layer-wise job's: no node inputs needed
            if staged is not None:
                data.staged = torch.from_numpy(np.require(staged, np.float32, ["C", "W"])).to(device)
            else:
                data.x_all = torch.from_numpy(self.node_encoder_.transform(inp.tabular.X)).to(device)
        return data

    def _graph_h(self, net: _WideDeepNet, data: _Data, pos: np.ndarray,
                 rng: np.random.Generator | None) -> torch.Tensor:
        assert data.adjacency is not None and data.nodes is not None and net.graph is not None
        if data.staged is not None:  # the last layer alone, every neighbour (layer_states gave the one before)
            return layer_output(net.graph.layers[-1], data.staged, data.adjacency, data.nodes[pos])
        assert data.x_all is not None
        device = data.x_all.device
        fanouts = self._fanouts() if rng is not None else [None] * self.graph_layers
        blocks = [b.to(device) for b in sample_blocks(data.adjacency, data.nodes[pos], fanouts, rng)]
        return net.graph(data.x_all[torch.from_numpy(blocks[0].src_nodes).to(device)], blocks)

    def layer_states(self, inp: ModelInput, layer: int, states: np.ndarray | None = None) -> np.ndarray:
        """What the graph tower's layer `layer` (1 .. graph_layers - 1) gives the rows inp.index, [rows,
        graph_hidden] float32, from what the layer before gave every node of inp (`states`; for layer 1 the
        node inputs, built here): layer-wise inference, as models.graph.GraphModel.layer_states."""
        self._check()
        if not self.use_graph_tower or not 1 <= layer < self.graph_layers:
            raise ValueError(f"{self.kind}: layer {layer}: states are given for graph tower layers 1 to "
                             f"{self.graph_layers - 1 if self.use_graph_tower else 0} (the last one scores)")
        if states is None:
            states = self.node_encoder_.transform(inp.tabular.X)
        tower = self.net_.eval().graph
        assert tower is not None
        with _torch.torch_threads(self.threads):
            return exact_layer(tower, layer - 1, states, Adjacency.from_graph(_require_graph(inp)), inp.index)

    def _fanouts(self) -> list[int | None]:
        fan = [None] * self.graph_layers if self.fanouts is None else list(self.fanouts)
        if len(fan) != self.graph_layers:
            raise ValueError(f"{self.kind}: {len(fan)} fanouts for {self.graph_layers} graph layers")
        return [None if k is None or int(k) < 0 else int(k) for k in fan]

    def _logits(self, net: _WideDeepNet, data: _Data, pos: np.ndarray,
                rng: np.random.Generator | None = None) -> torch.Tensor:
        p = torch.from_numpy(np.asarray(pos, dtype=np.int64)).to(data.wide.device)
        parts = [net.encoder(data.numeric[p], data.categorical[p])]
        if net.sequence is not None:
            assert data.sequence is not None
            parts.append(net.sequence(*data.sequence.batch(pos)))
        if net.graph is not None:
            parts.append(self._graph_h(net, data, pos, rng if net.training else None))
        return net.wide(data.wide[p]) + net.deep(parts)

    # -- hooks for members built on this one (models.hybrid) ----------------------------------------
    def _sequences(self, inp: ModelInput) -> Sequences:
        """The temporal view the sequence tower reads."""
        return require_sequences(inp, self.kind)

    def _sequence_prep(self, inp: ModelInput) -> SequencePrep:
        return SequencePrep.fit(self._sequences(inp), inp.index, self.max_len)

    def _init_net(self, net: _WideDeepNet) -> None:
        """Runs once the network is built, before training (e.g. to load pretrained weights)."""

    # -- fitting ------------------------------------------------------------------------------------
    def _arch(self, prep: TabularPrep, prior: float, seq: Sequences | None) -> dict:
        arch = {"field_sizes": prep.field_sizes, "n_numeric": len(prep.numeric) + len(prep.missing),
                "cardinalities": [len(v) + 2 for v in prep.categories.values()],
                "embedding_dims": prep.embedding_dims(self.max_embedding), "hidden": [int(h) for h in self.hidden],
                "dropout": self.dropout, "prior": prior, "sequence": None, "graph": None}
        if seq is not None:
            arch["sequence"] = {"n_kinds": len(self.seq_prep_.kind_freq), "n_statuses": len(self.seq_prep_.status_freq),
                                **seq.channel_config(),
                                "hidden": self.seq_hidden, "layers": self.seq_layers,
                                "cell": self.cell, "events_per_step": self.events_per_step,
                                "dropout": self.dropout}
        if self.use_graph_tower:
            arch["graph"] = {"in_dim": self.node_encoder_.dim, "hidden": self.graph_hidden,
                             "layers": self.graph_layers, "dropout": self.dropout}
        return arch

    def fit(self, inp: ModelInput, y: np.ndarray | None = None,
            on_progress: _torch.ProgressFn | None = None) -> WideDeepModel:
        rows = inp.index
        y = fit_labels(inp, y, self.kind)
        X = inp.X
        self.definitions_ = model_features(inp.definitions, X.columns,
                                           list(self.features) if self.features is not None else None,
                                           self.allow_protected)
        device = _torch.resolve_device(self.device)
        with _torch.torch_threads(self.threads), _torch.seeded(self.seed, device):
            self.prep_ = TabularPrep.fit(X, y, self.definitions_, self.n_bins, self.cross_features)
            if self.use_sequence_tower:
                self.seq_prep_ = self._sequence_prep(inp)
            if self.use_graph_tower:
                _require_graph(inp)
                # a neighbour's inputs are its aggregates: pretrained embeddings need its history, which a
                # context row (a neighbour outside the scored people) does not carry
                self.node_encoder_ = NodeEncoder.fit(inp.tabular.X, self.definitions_, rows,
                                                     [d.name for d in self.definitions_
                                                      if not d.name.startswith(EMBEDDING_PREFIX)])
            self.arch_ = self._arch(self.prep_, float(np.log(y.mean() / (1 - y.mean()))),
                                    self._sequences(inp) if self.use_sequence_tower else None)
            data = self._data(inp, device)
            net = _WideDeepNet(self.arch_).to(device)
            self._init_net(net)
            train_pos, val_pos = _torch.validation_split(y, self.val_fraction, self.seed)
            settings = _torch.TrainSettings(self.max_epochs, self.batch_size, self.lr, self.weight_decay,
                                            self.patience, self.seed)
            wide = [p for name, p in net.named_parameters() if name.startswith("wide.")]
            other = [p for name, p in net.named_parameters() if not name.startswith("wide.")]
            groups: list[dict] = [{"params": wide, "weight_decay": self.wide_l2}, {"params": other}]
            rng = np.random.default_rng(self.seed)
            result = _torch.train(net, lambda pos: self._logits(net, data, pos, rng), y, train_pos, val_pos,
                                  settings, device, param_groups=groups, on_progress=on_progress)
            self.net_ = net
            self.history_, self.best_epoch_, self.fit_seconds_ = result.history, result.best_epoch, result.seconds
            self._fit_references(data)
        return self

    @torch.no_grad()
    def _fit_references(self, data: _Data) -> None:
        """Training means the explanation measures against: graph output, wide fields, all-reference deep."""
        net = self.net_
        n = len(data.wide)
        self.graph_mean_ = None
        if net.graph is not None:
            h = _torch.batched(lambda pos: self._graph_h(net, data, pos, None), n, BATCH)
            self.graph_mean_ = h.astype(np.float64).mean(0).tolist()
        wide = _torch.batched(lambda pos: net.wide.contributions(data.wide[torch.from_numpy(pos).to(data.wide.device)]), n, BATCH)
        self.wide_mean_ = wide.astype(np.float64).mean(0).tolist()
        empty = self._deep_values(data, np.arange(n), [frozenset()])[frozenset()]
        self.deep_base_ = float(empty.mean())

    # -- scoring ------------------------------------------------------------------------------------
    def _check(self) -> None:
        if not hasattr(self, "net_"):
            raise RuntimeError(f"{self.kind}: call fit (or load a fitted model) first")

    def _device(self) -> torch.device:
        return next(self.net_.parameters()).device

    def decision_function(self, inp: ModelInput) -> np.ndarray:
        """Logit of default per row (float32 network output, as float64)."""
        self._check()
        with _torch.torch_threads(self.threads):
            data = self._data(inp, self._device())
            return _torch.batched(lambda pos: self._logits(self.net_, data, pos), len(inp), BATCH).astype(np.float64)

    # -- explanation --------------------------------------------------------------------------------
    def players(self) -> list[str]:
        """The dimensions that have deep inputs: the Shapley players of the deep part."""
        have = {self.prep_.dimension[n] for n in self.prep_.names}
        if self.net_.sequence is not None:
            have |= set(self.net_.sequence.groups)
        if self.net_.graph is not None:
            have.add(Dimension.SOCIAL_CONNECTIONS.value)
        return [d for d in DIMENSIONS if d in have]

    @torch.no_grad()
    def _deep_values(self, data: _Data, pos_all: np.ndarray, subsets: Sequence[frozenset[str]],
                     logits: list[np.ndarray] | None = None) -> dict[frozenset[str], np.ndarray]:
        """Deep-part logits of rows pos_all with only the players in each subset at their real inputs.

        `logits`: a list that receives the model's logit of each batch, wide part + the deep part with every
        player real (the subset holding them all): the same tensors and batches as
        decision_function, so the same bits without a second pass.
        """
        net = self.net_
        device = self._device()
        enc_ref = net.encoder.reference(self.prep_.ref, list(self.prep_.category_counts.values())).to(device)
        col_feature = self.prep_.deep_column_features
        sources = net.encoder.column_sources()
        n_num = net.encoder.n_numeric
        col_dim = np.array([self.prep_.dimension[col_feature[j] if kind == "num" else col_feature[n_num + j]]
                            for kind, j in sources], dtype=object)
        seq_groups = list(net.sequence.groups) if net.sequence is not None else []
        seq_ref = net.sequence.reference(self.seq_prep_.kind_freq, self.seq_prep_.status_freq,
                                         self.seq_prep_.code_freq) if net.sequence is not None else None
        graph_ref = torch.tensor(self.graph_mean_, dtype=torch.float32, device=device)[None, :] \
            if net.graph is not None else None
        social = Dimension.SOCIAL_CONNECTIONS.value
        everyone = frozenset(self.players())
        if logits is not None and everyone not in subsets:
            raise ValueError(f"{self.kind}: the model's logit needs a subset holding every player")
        def batch_values(at: np.ndarray) -> tuple[dict[frozenset[str], np.ndarray], np.ndarray | None]:
            """One batch's deep part of every subset, and its logit when asked for."""
            pos = pos_all[at]
            p = torch.from_numpy(np.asarray(pos, dtype=np.int64)).to(device)
            tab = net.encoder(data.numeric[p], data.categorical[p])
            seq = {}
            if net.sequence is not None:
                assert data.sequence is not None and seq_ref is not None
                needed = {frozenset(s & set(seq_groups)) for s in subsets}
                seq = sequence_values(net.sequence, data.sequence, pos, seq_ref, sorted(needed, key=sorted))
            uses_graph = net.graph is not None and any(social in s for s in subsets)
            graph_h = self._graph_h(net, data, pos, None) if uses_graph else None

            def inputs(s: frozenset[str]) -> list[torch.Tensor]:
                keep = torch.from_numpy(np.isin(col_dim, list(s))).to(device)
                parts = [torch.where(keep[None, :], tab, enc_ref[None, :])]
                if net.sequence is not None:
                    parts.append(seq[frozenset(s & set(seq_groups))])
                if net.graph is not None:
                    assert graph_ref is not None
                    parts.append(graph_h if graph_h is not None and social in s else graph_ref.expand(len(pos), -1))
                return parts

            # every player real runs alone (the model's own logit: decision_function's tensors and bits); the
            # ablated subsets share a pass while they fit in BATCH rows (a re-score's 31 in one)
            values, logit = {}, None
            if everyone in subsets:
                deep = net.deep(inputs(everyone))
                values[everyone] = deep.cpu().numpy().astype(np.float64)
                if logits is not None:
                    logit = (net.wide(data.wide[p]) + deep).cpu().numpy()
            for group in _torch.shared_passes([s for s in subsets if s != everyone], len(pos), BATCH):
                each = [inputs(s) for s in group]
                joined = net.deep([torch.cat(col) for col in zip(*each, strict=True)])
                for s, d in zip(group, joined.split(len(pos)), strict=True):
                    values[s] = d.cpu().numpy().astype(np.float64)
            return values, logit

        batches = _torch.in_batches(batch_values, len(pos_all), BATCH)
        out = {s: [values[s] for values, _ in batches] for s in subsets}
        if logits is not None:
            logits.extend(logit for _, logit in batches if logit is not None)
        return {s: np.concatenate(v) if v else np.zeros(0) for s, v in out.items()}

    def _wide_contributions(self, idx: torch.Tensor) -> pd.DataFrame:
        """n x features: the wide part per feature, centred on its training mean (crosses split equally)."""
        with torch.no_grad():
            c = _torch.batched(lambda pos: self.net_.wide.contributions(idx[torch.from_numpy(pos).to(idx.device)]),
                               len(idx), BATCH)
        c = c.astype(np.float64) - np.asarray(self.wide_mean_)[None, :]
        names = self.prep_.names
        col = {n: j for j, n in enumerate(names)}
        out = np.zeros((len(idx), len(names)))
        for j, feats in enumerate(self.prep_.field_features):  # the same additions, in the same order
            for f in feats:
                out[:, col[f]] += c[:, j] / len(feats)
        return pd.DataFrame(out, index=pd.RangeIndex(len(idx)), columns=names)

    @property
    def used_features_(self) -> list[str]:
        """The tabular features both parts read (the wide part's are the reasons it can give)."""
        self._check()
        return list(self.prep_.names)

    @property
    def base_value_(self) -> float:
        return float(np.sum(self.wide_mean_)) + self.deep_base_

    def explain(self, inp: ModelInput) -> Explanation:
        """base + the five dimensions = logit (see the module docstring); by_feature is the wide part per
        feature (the deep part is per dimension only), so a person scored by this member alone still gets
        reason codes: the features whose bins cost points in the wide part."""
        self._check()
        players = self.players()
        subsets = _torch.coalitions(players)  # the last one holds every player: the model's own logit
        logits: list[np.ndarray] = []
        with _torch.torch_threads(self.threads):
            data = self._data(inp, self._device())  # built once: wide codes, deep inputs, towers' views
            wide = self._wide_contributions(data.wide)
            values = self._deep_values(data, np.arange(len(inp)), subsets, logits)
        phi = _torch.shapley(values.__getitem__, players)
        dims = {d: np.zeros(len(inp)) for d in DIMENSIONS}
        for f in wide.columns:
            dims[self.prep_.dimension[f]] += wide[f].to_numpy()
        for d, v in phi.items():
            dims[d] += v
        dims[Dimension.BEHAVIOUR_PREFERENCES.value] += values[frozenset()] - self.deep_base_
        by_dim = pd.DataFrame(dims, index=pd.RangeIndex(len(inp)), columns=list(DIMENSIONS))
        decision = np.concatenate(logits).astype(np.float64) if logits else np.zeros(0)
        return Explanation(np.full(len(inp), self.base_value_), by_dim, wide, decision)

    # -- artifacts ----------------------------------------------------------------------------------
    def to_files(self) -> dict[str, bytes]:
        self._check()
        meta = {"format": FORMAT, "arch": self.arch_, "prep": self.prep_.to_dict(),
                "definitions": [d.to_dict() for d in self.definitions_],
                "sequence_prep": asdict(self.seq_prep_) if self.use_sequence_tower else None,
                "node_encoder": self.node_encoder_.to_dict() if self.use_graph_tower else None,
                "graph_mean": self.graph_mean_, "wide_mean": self.wide_mean_, "deep_base": self.deep_base_,
                "history": self.history_, "best_epoch": self.best_epoch_}
        return {"wide_deep_net.pt": _torch.state_bytes(self.net_),
                "wide_deep_prep.json": json.dumps(meta, indent=1).encode()}

    @classmethod
    def from_files(cls, files: dict[str, bytes], params: dict) -> WideDeepModel:
        model = cls(**params)
        meta = read_meta(files, "wide_deep_prep.json", FORMAT, cls.kind)
        model.arch_ = meta["arch"]
        model.prep_ = TabularPrep.from_dict(meta["prep"])
        model.definitions_ = [FeatureDef.from_dict(d) for d in meta["definitions"]]
        if meta["sequence_prep"] is not None:
            model.seq_prep_ = SequencePrep(**meta["sequence_prep"])
        if meta["node_encoder"] is not None:
            model.node_encoder_ = NodeEncoder.from_dict(meta["node_encoder"])
        model.graph_mean_, model.wide_mean_, model.deep_base_ = meta["graph_mean"], meta["wide_mean"], meta["deep_base"]
        model.history_, model.best_epoch_ = meta["history"], meta["best_epoch"]
        model.net_ = _torch.load_state(_WideDeepNet(model.arch_), files["wide_deep_net.pt"],
                                       _torch.resolve_device(model.device))
        return model

