"""Graph member: a GraphSAGE network over the as-of relation graph, with neighbour sampling for large graphs.

Why: the tabular social features summarise neighbours with a few fixed aggregates; message passing learns
which of the neighbours' own (point-in-time) traits carry risk, two hops out. It reads nothing but the
ModelInput: node inputs are every spine row's tabular features as of its date (never labels), edges are
the connections first seen before that date (features/graph.py), and labels of the fitted rows serve only
as the training loss. Neighbours may be rows of another fold: their features, never their labels, flow in.

Written in plain torch (index_add_ aggregation, numpy neighbour sampling over a CSR): PyG's SAGEConv would
be the only piece it needs, and PyG's NeighborLoader requires the compiled pyg-lib or torch-sparse. Seeding,
the training loop (Adam, early stopping) and the Shapley sums are the torch members' shared models/_torch.py.

The reusable tower (the Wide & Deep model trains it jointly):

    enc = NodeEncoder.fit(inp.tabular.X, inp.definitions, train_rows)     # standardise on training rows
    x_all = torch.from_numpy(enc.transform(inp.tabular.X))               # [num_nodes, enc.dim] float32
    adj = Adjacency.from_graph(inp.graph)
    tower = GraphSAGETower(enc.dim, hidden=64, layers=2, dropout=0.1, weighted=False)
    # training, sampled: one Block per layer, outermost hop first; fanouts[0] is the seeds' own hop
    blocks = sample_blocks(adj, seeds, fanouts=[10, 5], rng=np.random.default_rng(0))
    h = tower(x_all[blocks[0].src_nodes], blocks)      # [len(seeds), hidden], row i = seeds[i]
    # exact: fanouts=[None, None] (every neighbour); or the whole graph at once (small graphs):
    h = tower(x_all, torch.from_numpy(inp.graph.edge_index))   # [num_nodes, hidden]
    h = tower(x, None)                                  # no messages: each node sees only itself

Layer l: h_v = ReLU(W_self h_v + W_nb mean_{u -> v} h_u) (the concatenation [h_v, mean] times one matrix,
split in two), dropout between layers; with weighted=True the mean is sum(w h_u) / sum(|w|).

Explanation (log-odds of default, summing exactly with the base to the model's logit):
    base                = logit of the "average applicant in an average neighbourhood": every node input at
                          its training mean and every layer's incoming message at its training-row mean
                          (one constant for all rows)
    own features by dim = exact Shapley values of the five dimensions' input groups, with the incoming
                          messages held at those means (groups left out take their training means)
    social_connections += logit - the logit with those mean messages instead of the real ones: what the
                          actual neighbours add or take away (for an isolated node: having no connections)
Messages are replaced by their average rather than zeroed because training nodes almost never receive
exactly-zero messages: zeroing would push a large constant into social_connections for everyone.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import cast

import numpy as np
import pandas as pd
import torch
from torch import nn

from deepcredit.data.schema import Dimension
from deepcredit.features.bundle import ModelInput
from deepcredit.features.graph import Graph
from deepcredit.features.spec import FeatureDef, Kind
from deepcredit.models import _torch
from deepcredit.models.base import (
    DIMENSIONS,
    CreditModel,
    Explanation,
    MemberCannotFit,
    fit_labels,
    read_meta,
)

PREDICT_BATCH = 4096
"""Rows scored per exact (all-neighbour) forward pass."""
MISSING_CATEGORY = "<missing>"
LOG_ABOVE = 10.0


def category_codes(values: pd.Series, categories: list[str]) -> np.ndarray:
    """Each value's position in `categories` by its text (missing: MISSING_CATEGORY), -1 where absent. A
    categorical column's texts are looked up once per category rather than once per row."""
    index = pd.Index(categories, dtype=object)
    if isinstance(values.dtype, pd.CategoricalDtype):
        texts = pd.Series(values.cat.categories, dtype=object).astype("string").fillna(MISSING_CATEGORY)
        lookup = index.get_indexer(np.append(texts.to_numpy(dtype=object), MISSING_CATEGORY))
        return lookup[values.cat.codes.to_numpy()]  # code -1 (missing) reads the last entry
    return index.get_indexer(values.astype("string").fillna(MISSING_CATEGORY).to_numpy(dtype=object))


# --- node inputs -----------------------------------------------------------------------------------

@dataclass
class NodeEncoder:
    """Numeric features clipped and standardised, NaN -> 0 plus a missing flag, categoricals one-hot.

    Counts and amounts (never negative in training, reaching above LOG_ABOVE) are log1p'd first, so a few
    huge values do not squash everyone else into one point. Every statistic comes from the training rows
    only; the transform then applies to every node.
    """

    numeric: list[str]
    lo: list[float]
    hi: list[float]
    mean: list[float]
    std: list[float]
    log: list[bool]
    missing: list[str]
    """Numeric features that were missing in training: each gets a 0/1 indicator column."""
    categories: dict[str, list[str]]
    dimension: dict[str, str]
    baseline: list[float] = field(default_factory=list)
    """Training mean of each encoded column: the reference the explanation ablates to."""

    @property
    def columns(self) -> list[str]:
        return [*self.numeric, *(f"{c}__missing" for c in self.missing),
                *(f"{c}={v}" for c, vals in self.categories.items() for v in vals)]

    @property
    def column_dimensions(self) -> list[str]:
        return [self.dimension[c] for c in
                [*self.numeric, *self.missing, *(c for c, vals in self.categories.items() for _ in vals)]]

    @property
    def dim(self) -> int:
        return len(self.columns)

    @classmethod
    def fit(cls, X: pd.DataFrame, definitions: Sequence[FeatureDef], rows: np.ndarray,
            features: Sequence[str] | None = None, max_categories: int = 20,
            clip_quantile: float = 0.005) -> NodeEncoder:
        defs = {d.name: d for d in definitions}
        if features is None:  # protected attributes are never inputs unless asked for by name
            names = [n for n in X.columns if n in defs and not defs[n].is_protected()]
        else:
            unknown = [n for n in features if n not in X.columns or n not in defs]
            if unknown:
                raise ValueError(f"graph model: unknown feature(s) {unknown}")
            names = list(features)
        train = X.iloc[rows]
        numeric, log, lo, hi, mean, std, missing, categories = [], [], [], [], [], [], [], {}
        for name in names:
            d = defs[name]
            if d.kind is Kind.CATEGORICAL:
                if max_categories <= 0:
                    continue
                counts = train[name].astype("string").fillna(MISSING_CATEGORY).value_counts()
                top = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:max_categories]
                categories[name] = [str(k) for k, _ in top]
                continue
            x = pd.to_numeric(train[name], errors="coerce").to_numpy(dtype=np.float64)
            ok = x[np.isfinite(x)]  # the statistics; an infinity is the most extreme value, not a missing one
            if ok.size == 0:  # never observed in training: nothing to learn from
                continue
            use_log = bool(ok.min() >= 0 and ok.max() > LOG_ABOVE)
            if use_log:
                ok = np.log1p(ok)
            q_lo, q_hi = np.quantile(ok, [clip_quantile, 1 - clip_quantile]) if clip_quantile > 0 \
                else (ok.min(), ok.max())
            clipped = np.clip(ok, q_lo, q_hi)
            s = float(clipped.std())
            numeric.append(name)
            log.append(use_log)
            lo.append(float(q_lo))
            hi.append(float(q_hi))
            mean.append(float(clipped.mean()))
            std.append(s if s > 1e-12 else 1.0)
            if np.isnan(x).any():
                missing.append(name)
        enc = cls(numeric, lo, hi, mean, std, log, missing, categories,
                  {n: defs[n].dimension.value for n in [*numeric, *categories]})
        enc.baseline = enc.transform(train).astype(np.float64).mean(axis=0).tolist() if len(train) else \
            [0.0] * enc.dim
        return enc

    def transform(self, X: pd.DataFrame) -> np.ndarray:
        """[len(X), dim] float32, written into one array: at a chunk's few hundred thousand nodes the
        temporaries of concatenating parts and converting their layout cost more than the arithmetic."""
        out = np.zeros((len(X), self.dim), dtype=np.float32)
        j = 0
        if self.numeric:
            cols = X[self.numeric]
            if all(pd.api.types.is_numeric_dtype(t) for t in cols.dtypes):  # feature frames: no parsing to do
                x = np.array(cols.to_numpy(dtype=np.float64, na_value=np.nan), dtype=np.float64, order="C")
            else:
                x = cols.apply(pd.to_numeric, errors="coerce").to_numpy(dtype=np.float64)
            isnan = np.isnan(x)  # +-inf is kept: clipped to the bound of its side, as in Wide & Deep
            logged = np.asarray(self.log, dtype=bool)
            x[:, logged] = np.log1p(np.maximum(x[:, logged], 0.0))  # a negative (never seen in training): 0
            z = (np.clip(x, self.lo, self.hi) - np.asarray(self.mean)) / np.asarray(self.std)
            z[isnan] = 0.0
            out[:, : len(self.numeric)] = z
            j = len(self.numeric)
            out[:, j: j + len(self.missing)] = isnan[:, [self.numeric.index(c) for c in self.missing]]
            j += len(self.missing)
        for name, vals in self.categories.items():
            codes = category_codes(X[name], vals)
            hit = np.flatnonzero(codes >= 0)
            out[hit, j + codes[hit]] = 1.0
            j += len(vals)
        return out

    def to_dict(self) -> dict:
        return {"numeric": self.numeric, "lo": self.lo, "hi": self.hi, "mean": self.mean, "std": self.std,
                "log": self.log, "missing": self.missing, "categories": self.categories,
                "dimension": self.dimension, "baseline": self.baseline}

    @classmethod
    def from_dict(cls, d: dict) -> NodeEncoder:
        return cls(**d)


# --- adjacency and neighbour sampling ---------------------------------------------------------------

@dataclass
class Adjacency:
    """CSR by target node: the message sources of node v are src[indptr[v]:indptr[v + 1]]."""

    indptr: np.ndarray
    src: np.ndarray
    weight: np.ndarray

    @classmethod
    def from_edges(cls, edge_index: np.ndarray, num_nodes: int,
                   edge_weight: np.ndarray | None = None) -> Adjacency:
        edge_index = np.asarray(edge_index, dtype=np.int64)
        order = np.lexsort((edge_index[0], edge_index[1]))  # by target, then source: a fixed order
        indptr = np.zeros(num_nodes + 1, dtype=np.int64)
        np.cumsum(np.bincount(edge_index[1], minlength=num_nodes), out=indptr[1:])
        w = np.ones(edge_index.shape[1], np.float32) if edge_weight is None else np.asarray(edge_weight)
        return cls(indptr, edge_index[0][order], w[order].astype(np.float32))

    @classmethod
    def from_graph(cls, graph: Graph) -> Adjacency:
        return cls.from_edges(graph.edge_index, graph.num_nodes, graph.edge_weight)

    @property
    def num_nodes(self) -> int:
        return len(self.indptr) - 1


@dataclass
class Block:
    """One layer's bipartite message graph. The first n_dst of src_nodes are the destination nodes.

    src_nodes: global node ids (numpy) whose embeddings enter the layer; edge_src indexes them, edge_dst
    indexes the destinations (0..n_dst-1).
    """

    src_nodes: np.ndarray
    n_dst: int
    edge_src: torch.Tensor
    edge_dst: torch.Tensor
    edge_weight: torch.Tensor

    def to(self, device: torch.device | str) -> Block:
        return Block(self.src_nodes, self.n_dst, self.edge_src.to(device), self.edge_dst.to(device),
                     self.edge_weight.to(device))


def _union_first(first: np.ndarray, more: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unique nodes of first (unique already, kept in front, in order) then more; local ids of `more`."""
    both = np.concatenate([first, more])
    uniq, first_pos, inverse = np.unique(both, return_index=True, return_inverse=True)
    order = np.argsort(first_pos, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    return uniq[order], rank[inverse[len(first):]]


def sample_blocks(adj: Adjacency, seeds: np.ndarray, fanouts: Sequence[int | None],
                  rng: np.random.Generator | None = None) -> list[Block]:
    """Blocks for computing the seeds' embeddings, outermost hop first (feed blocks[0].src_nodes' inputs).

    fanouts[0] neighbours are drawn for each seed, fanouts[1] for each of those, ...; None (or a node with
    fewer neighbours) takes every neighbour, without replacement and without randomness.
    """
    nodes = np.asarray(seeds, dtype=np.int64)
    blocks = []
    for k in fanouts:
        start = adj.indptr[nodes]
        deg = adj.indptr[nodes + 1] - start
        seg = np.repeat(np.arange(len(nodes), dtype=np.int64), deg)
        offsets = np.cumsum(deg) - deg
        within = np.arange(len(seg), dtype=np.int64) - offsets[seg]
        pos = start[seg] + within
        if k is not None and len(seg) and deg.max() > k:
            if rng is None:
                raise ValueError("sampling neighbours needs a random generator")
            order = np.lexsort((rng.random(len(seg)), seg))  # seg stays grouped: shuffle within each node
            keep = np.sort(order[within < k])
            seg, pos = seg[keep], pos[keep]
        src_nodes, local = _union_first(nodes, adj.src[pos])
        blocks.append(Block(src_nodes, len(nodes), torch.from_numpy(local), torch.from_numpy(seg),
                            torch.from_numpy(adj.weight[pos])))
        nodes = src_nodes
    return blocks[::-1]


# --- the network ------------------------------------------------------------------------------------

class SAGELayer(nn.Module):
    """h_v' = W_self h_v + W_nb mean(h_u for u -> v) + b (the mean is |w|-normalised when weighted)."""

    def __init__(self, in_dim: int, out_dim: int, weighted: bool = False) -> None:
        super().__init__()
        self.lin_self = nn.Linear(in_dim, out_dim)
        self.lin_nb = nn.Linear(in_dim, out_dim, bias=False)
        self.weighted = weighted

    def forward(self, h: torch.Tensor, block: Block | None) -> torch.Tensor:
        if block is None:
            return self.lin_self(h)
        return self.lin_self(h[: block.n_dst]) + self.lin_nb(self.aggregate(h, block))

    def aggregate(self, h: torch.Tensor, block: Block) -> torch.Tensor:
        """[n_dst, in_dim]: the mean incoming message of each destination (0 where it has none)."""
        msg = h[block.edge_src]
        if self.weighted:
            w = block.edge_weight.to(h.dtype)
            msg = msg * w[:, None]
            w = w.abs()
        else:
            w = torch.ones_like(block.edge_dst, dtype=h.dtype)
        norm = h.new_zeros(block.n_dst).index_add_(0, block.edge_dst, w)
        agg = h.new_zeros(block.n_dst, h.shape[1]).index_add_(0, block.edge_dst, msg)
        return agg / norm.clamp_min(1e-12)[:, None]


class GraphSAGETower(nn.Module):
    """forward(x, graph) -> node embeddings [n_out, hidden]; see the module docstring for `graph`."""

    def __init__(self, in_dim: int, hidden: int = 64, layers: int = 2, dropout: float = 0.1,
                 weighted: bool = False) -> None:
        super().__init__()
        if layers < 1:
            raise ValueError("GraphSAGETower needs at least one layer")
        self.layers = nn.ModuleList(
            [SAGELayer(in_dim if i == 0 else hidden, hidden, weighted) for i in range(layers)])
        self.dropout = nn.Dropout(dropout)
        self.out_dim = hidden

    def forward(self, x: torch.Tensor, graph: torch.Tensor | Sequence[Block] | None,
                edge_weight: torch.Tensor | None = None) -> torch.Tensor:
        blocks = self._blocks(x, graph, edge_weight)
        h = x
        for i, (layer, block) in enumerate(zip(self.layers, blocks, strict=True)):
            h = torch.relu(layer(h, block))
            if i < len(self.layers) - 1:
                h = self.dropout(h)
        return h

    def _blocks(self, x: torch.Tensor, graph, edge_weight) -> list[Block | None]:
        if graph is None:
            return [None] * len(self.layers)
        if isinstance(graph, torch.Tensor):  # the whole graph, every layer
            n = x.shape[0]
            w = torch.ones(graph.shape[1], device=x.device) if edge_weight is None else edge_weight
            full = Block(np.arange(n), n, graph[0].to(x.device), graph[1].to(x.device), w.to(x.device))
            return [full] * len(self.layers)
        blocks = list(graph)
        if len(blocks) != len(self.layers):
            raise ValueError(f"{len(blocks)} blocks for a {len(self.layers)}-layer tower")
        return blocks


@torch.no_grad()
def exact_layer(tower: GraphSAGETower, i: int, states: np.ndarray, adj: Adjacency, nodes: np.ndarray) -> np.ndarray:
    """Layer i (0-based) of an evaluating tower for `nodes`, every neighbour's row of `states` its message
    (exact), its ReLU applied as in forward, in fixed batches of PREDICT_BATCH nodes: [len(nodes), hidden]
    float32. Layer-wise inference (a batch job: every person's layer i, then layer i + 1 reading it) runs
    the tower one layer at a time through this."""
    layer = cast(SAGELayer, tower.layers[i])
    h_all = torch.from_numpy(np.require(states, np.float32, ["C", "W"])).to(layer.lin_self.weight.device)
    out = [layer_output(layer, h_all, adj, nodes[b: b + PREDICT_BATCH]).cpu().numpy()
           for b in range(0, len(nodes), PREDICT_BATCH)]  # h_all: from stored states, read-only
    return np.concatenate(out) if out else np.zeros((0, layer.lin_self.out_features), np.float32)


def layer_output(layer: nn.Module, h_all: torch.Tensor, adj: Adjacency, nodes: np.ndarray) -> torch.Tensor:
    """One layer's output (ReLU applied) for `nodes`, every neighbour's row of `h_all` its message."""
    block = sample_blocks(adj, nodes, [None])[0].to(h_all.device)
    return torch.relu(layer(h_all[torch.from_numpy(block.src_nodes).to(h_all.device)], block))


class _Net(nn.Module):
    def __init__(self, in_dim: int, hidden: int, layers: int, dropout: float, weighted: bool) -> None:
        super().__init__()
        self.tower = GraphSAGETower(in_dim, hidden, layers, dropout, weighted)
        self.head = nn.Linear(hidden, 1)

    def forward(self, x: torch.Tensor, graph) -> torch.Tensor:
        return self.head(self.tower(x, graph)).squeeze(-1)


# --- the model -----------------------------------------------------------------------------------

def _require_graph(inp: ModelInput, fitting: bool = False) -> Graph:
    """The structural view; fitting needs edges (MemberCannotFit without: the stack leaves the member out),
    scoring does not (rows without neighbours, e.g. one chunk of a batch, are isolated nodes)."""
    g = inp.graph
    if g is None or (fitting and g.edge_index.shape[1] == 0):
        name = inp.tabular.meta.get("dataset", "this data set")
        raise (MemberCannotFit if g is not None else ValueError)(f"graph model: {name} has no relations (no edges first seen before the as-of "
                         "dates), so there is no graph to learn from; build the 'structural' view of a data "
                         "set with relations, or leave the graph member out")
    if g.num_nodes != len(inp.tabular.frame):
        raise ValueError(f"graph model: the graph has {g.num_nodes} nodes but the bundle "
                         f"{len(inp.tabular.frame)} rows: build both views from the same spine")
    return g


class GraphModel(CreditModel):
    """GraphSAGE over the relation graph: node inputs are the tabular features, labels only the loss.

    fanouts: neighbours drawn per node and hop when training (one per layer); None = every neighbour
    (exact, fine for small graphs). Prediction and validation always use every neighbour.
    """

    kind = "graph"
    views = ("tabular", "structural")

    def __init__(self, hidden: int = 64, layers: int = 2, fanouts: Sequence[int | None] | None = (10, 5),
                 dropout: float = 0.3, edge_weight: bool = False, features: Sequence[str] | None = None,
                 max_categories: int = 20, clip_quantile: float = 0.005, batch_size: int = 512,
                 lr: float = 3e-3, weight_decay: float = 1e-3, max_epochs: int = 40, patience: int = 5,
                 val_fraction: float = 0.15, seed: int = 0, device: str | None = None,
                 threads: int | None = 1) -> None:
        self.hidden = hidden
        self.layers = layers
        self.fanouts = fanouts
        self.dropout = dropout
        self.edge_weight = edge_weight
        self.features = features
        self.max_categories = max_categories
        self.clip_quantile = clip_quantile
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.max_epochs = max_epochs
        self.patience = patience
        self.val_fraction = val_fraction
        self.seed = seed
        self.device = device
        self.threads = threads

    # -- fitting ----------------------------------------------------------------------------------
    def _fanouts(self) -> list[int | None]:
        fan = [None] * self.layers if self.fanouts is None else list(self.fanouts)
        if len(fan) != self.layers:
            raise ValueError(f"graph model: {len(fan)} fanouts for {self.layers} layers")
        return [None if k is None or int(k) < 0 else int(k) for k in fan]

    def fit(self, inp: ModelInput, y: np.ndarray | None = None,
            on_progress: _torch.ProgressFn | None = None) -> GraphModel:
        """Adam with early stopping on a stratified validation fold of the rows; on_progress per epoch."""
        graph = _require_graph(inp, fitting=True)
        rows = inp.index
        y = fit_labels(inp, y, "graph model")
        fanouts = self._fanouts()
        device = _torch.resolve_device(self.device)
        rng = np.random.default_rng(self.seed)  # neighbour samples
        self.encoder_ = NodeEncoder.fit(inp.tabular.X, inp.definitions, rows, self.features,
                                        self.max_categories, self.clip_quantile)
        adj = Adjacency.from_graph(graph)
        exact = [None] * self.layers
        with _torch.torch_threads(self.threads), _torch.seeded(self.seed, device):
            x_all = torch.from_numpy(self.encoder_.transform(inp.tabular.X)).to(device)
            net = _Net(self.encoder_.dim, self.hidden, self.layers, self.dropout, self.edge_weight).to(device)

            def logits_of(pos: np.ndarray) -> torch.Tensor:  # sampled while training, exact when validating
                blocks = sample_blocks(adj, rows[pos], fanouts if net.training else exact, rng)
                blocks = [b.to(device) for b in blocks]
                return net(x_all[torch.from_numpy(blocks[0].src_nodes).to(device)], blocks)

            train_pos, val_pos = _torch.validation_split(y, self.val_fraction, self.seed)
            settings = _torch.TrainSettings(self.max_epochs, self.batch_size, self.lr, self.weight_decay,
                                            self.patience, self.seed, eval_batch=PREDICT_BATCH)
            result = _torch.train(net, logits_of, y, train_pos, val_pos, settings, device,
                                  on_progress=on_progress)
            self.net_ = net.eval()
            self.messages_ = self._mean_messages(net, x_all, adj, rows[train_pos], device)
        self.history_, self.best_epoch_, self.val_loss_ = result.history, result.best_epoch, result.best_loss
        self.fit_seconds_ = result.seconds
        return self

    # -- scoring ----------------------------------------------------------------------------------
    @staticmethod
    @torch.no_grad()
    def _forward_rows(net: _Net, x_all: torch.Tensor, adj: Adjacency, nodes: np.ndarray,
                      device: torch.device) -> np.ndarray:
        """Exact logits (every neighbour), float32 as float64, in fixed batches of PREDICT_BATCH nodes."""
        out = []
        for b in range(0, len(nodes), PREDICT_BATCH):
            blocks = [blk.to(device) for blk in
                      sample_blocks(adj, nodes[b: b + PREDICT_BATCH], [None] * len(net.tower.layers))]
            out.append(net(x_all[torch.from_numpy(blocks[0].src_nodes).to(device)], blocks).cpu().numpy())
        return np.concatenate(out).astype(np.float64) if out else np.zeros(0)

    def _check_fitted(self) -> None:
        if not hasattr(self, "net_"):
            raise RuntimeError("graph model: call fit (or load a fitted model) first")

    def decision_function(self, inp: ModelInput) -> np.ndarray:
        """The logit of default for each row of inp."""
        self._check_fitted()  # before the encoder is read
        staged = self._staged(inp) is not None  # then only the last layer runs: no node inputs needed
        return self._decision(inp, None if staged else self.encoder_.transform(inp.tabular.X))

    def _staged(self, inp: ModelInput) -> np.ndarray | None:
        """What enters the last layer for every node, where a layer-wise job gives it (ModelInput.node_states)."""
        return (inp.node_states or {}).get(self.kind)

    def _decision(self, inp: ModelInput, x_all: np.ndarray | None) -> np.ndarray:
        """decision_function with the node inputs of every node (encoder_.transform) already at hand; with
        the states entering the last layer given (ModelInput.node_states), only that layer runs and x_all
        is not needed."""
        self._check_fitted()
        graph = _require_graph(inp)
        device = next(self.net_.parameters()).device
        states = self._staged(inp)
        with _torch.torch_threads(self.threads), _torch.deterministic(device):  # index_add_ on CUDA
            if states is None:
                assert x_all is not None
                return self._forward_rows(self.net_.eval(), torch.from_numpy(x_all).to(device),
                                          Adjacency.from_graph(graph), inp.index, device)
            h = self._layer(self.layers - 1, states, Adjacency.from_graph(graph), inp.index)
            with torch.no_grad():
                return self.net_.head(torch.from_numpy(h).to(device)).squeeze(-1).cpu().numpy().astype(np.float64)

    def layer_states(self, inp: ModelInput, layer: int, states: np.ndarray | None = None) -> np.ndarray:
        """What layer `layer` (1 .. layers - 1) gives the rows inp.index, [rows, hidden] float32, from what the
        layer before gave every node of inp (`states`; for layer 1 the node inputs, built here).

        Layer-wise inference: a batch job computes every person's states one layer at a time, each chunk of
        people reading its neighbours' states of the layer before, so no chunk needs people beyond one hop;
        the last layer then runs in decision_function (ModelInput.node_states)."""
        self._check_fitted()
        if not 1 <= layer < self.layers:
            raise ValueError(f"graph model: layer {layer} of {self.layers}: states are given for layers 1 to "
                             f"{self.layers - 1} (the last one scores)")
        if states is None:
            states = self.encoder_.transform(inp.tabular.X)
        with _torch.torch_threads(self.threads), _torch.deterministic(next(self.net_.parameters()).device):
            return self._layer(layer - 1, states, Adjacency.from_graph(_require_graph(inp)), inp.index)

    def _layer(self, i: int, states: np.ndarray, adj: Adjacency, nodes: np.ndarray) -> np.ndarray:
        return exact_layer(self.net_.eval().tower, i, states, adj, nodes)

    @staticmethod
    @torch.no_grad()
    def _mean_messages(net: _Net, x_all: torch.Tensor, adj: Adjacency, nodes: np.ndarray,
                       device: torch.device) -> list[list[float]]:
        """Each layer's incoming message averaged over `nodes` (exact, every neighbour; isolated: 0)."""
        layers = cast(list[SAGELayer], list(net.tower.layers))
        sums = [torch.zeros(layer.lin_nb.in_features, dtype=torch.float64) for layer in layers]
        for b in range(0, len(nodes), PREDICT_BATCH):
            seeds = nodes[b: b + PREDICT_BATCH]
            blocks = [blk.to(device) for blk in sample_blocks(adj, seeds, [None] * len(layers))]
            h = x_all[torch.from_numpy(blocks[0].src_nodes).to(device)]
            for i, (layer, block) in enumerate(zip(layers, blocks, strict=True)):
                agg = layer.aggregate(h, block)
                sums[i] += agg[: len(seeds)].double().sum(0).cpu()  # the seeds lead every block's nodes
                h = torch.relu(layer.lin_self(h[: block.n_dst]) + layer.lin_nb(agg))
        return [(t / max(len(nodes), 1)).tolist() for t in sums]

    @torch.no_grad()
    def _own_logits(self, x: np.ndarray) -> np.ndarray:
        """Logits with every layer's incoming message set to its training average (float64).

        The logit then depends on the node's own inputs alone, as if it sat in an average neighbourhood.
        """
        device = next(self.net_.parameters()).device
        messages = [torch.tensor(m, dtype=torch.float32, device=device)[None, :] for m in self.messages_]
        out = []
        for b in range(0, len(x), PREDICT_BATCH):
            h = torch.from_numpy(np.ascontiguousarray(x[b: b + PREDICT_BATCH])).to(device)
            for layer, m in zip(cast(list[SAGELayer], list(self.net_.tower.layers)), messages, strict=True):
                h = torch.relu(layer.lin_self(h) + layer.lin_nb(m))
            out.append(self.net_.head(h).squeeze(-1).cpu().numpy())
        return np.concatenate(out).astype(np.float64) if out else np.zeros(0)

    def _masked_logits(self, x: np.ndarray, x0: np.ndarray, keep: np.ndarray) -> np.ndarray:
        """[coalitions, rows]: `_own_logits` of every row with only each coalition's columns kept (`keep`:
        [coalitions, columns]; the others at the baseline `x0`).

        Every coalition of a block of rows goes through one forward pass, so a handful of rows (the service
        re-scoring one person) costs one pass instead of one per coalition."""
        def block(at: np.ndarray) -> np.ndarray:
            masked = np.where(keep[:, None, :], x[at[0]: at[-1] + 1][None, :, :], x0[None, None, :])
            return self._own_logits(masked.reshape(-1, x.shape[1])).reshape(len(keep), -1)

        parts = _torch.in_batches(block, len(x), max(1, PREDICT_BATCH // len(keep)))
        return np.concatenate(parts, axis=1) if parts else np.zeros((len(keep), 0))

    def explain(self, inp: ModelInput) -> Explanation:
        """base + Shapley values of own-feature dimensions + the neighbours' part = the logit, exactly."""
        self._check_fitted()
        if self._staged(inp) is not None:  # the last layer's inputs given: only the explained rows' own
            x = self.encoder_.transform(inp.X)
            logit = self._decision(inp, None)
        else:
            x_all = self.encoder_.transform(inp.tabular.X)  # row by row: the explained rows are a slice of it
            logit = self._decision(inp, x_all)
            x = x_all[inp.index]
        x0 = np.asarray(self.encoder_.baseline, dtype=np.float32)
        col_dim = np.asarray(self.encoder_.column_dimensions, dtype=object)
        groups = [d for d in DIMENSIONS if (col_dim == d).any()]
        coalitions = [c for c in _torch.coalitions(groups) if c]
        keep = np.array([np.isin(col_dim, list(c)) for c in coalitions], dtype=bool)  # [coalitions, columns]
        with _torch.torch_threads(self.threads):
            base = float(self._own_logits(x0[None, :])[0])
            values: dict[frozenset[str], np.ndarray] = {frozenset(): np.full(len(x), base)}
            if coalitions:
                values.update(zip(coalitions, self._masked_logits(x, x0, keep), strict=True))
        phi = _torch.shapley(values.__getitem__, groups)
        own = values[frozenset(groups)]
        by_dim = pd.DataFrame(0.0, index=pd.RangeIndex(len(x)), columns=DIMENSIONS)
        for d, contribution in phi.items():
            by_dim[d] = contribution
        by_dim[Dimension.SOCIAL_CONNECTIONS.value] += logit - own
        return Explanation(np.full(len(x), base), by_dim, None, logit)

    # -- artifacts --------------------------------------------------------------------------------
    def to_files(self) -> dict[str, bytes]:
        self._check_fitted()
        meta = {"format": 1, "encoder": self.encoder_.to_dict(), "history": self.history_,
                "best_epoch": self.best_epoch_, "val_loss": self.val_loss_, "messages": self.messages_}
        return {"graph_net.pt": _torch.state_bytes(self.net_),
                "graph_preprocess.json": json.dumps(meta, indent=1, sort_keys=True).encode()}

    @classmethod
    def from_files(cls, files: dict[str, bytes], params: dict) -> GraphModel:
        model = cls(**params)
        meta = read_meta(files, "graph_preprocess.json", 1, "graph model")
        model.encoder_ = NodeEncoder.from_dict(meta["encoder"])
        model.history_, model.best_epoch_ = meta["history"], meta["best_epoch"]
        model.val_loss_, model.messages_ = meta["val_loss"], meta["messages"]
        # a model trained on a GPU still loads where there is none
        device = _torch.resolve_device(model.device if torch.cuda.is_available() else "cpu")
        net = _Net(model.encoder_.dim, model.hidden, model.layers, model.dropout, model.edge_weight)
        model.net_ = _torch.load_state(net, files["graph_net.pt"], device)
        return model
