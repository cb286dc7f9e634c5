"""Plumbing shared by the torch members: device and threads, seeded splits, one deterministic training loop
with early stopping, state-dict bytes, and exact Shapley values over a few input groups.

Why one loop: every neural member must be reproducible (same seed, same data -> same weights) and stop on
the same rule, and a fix to either belongs in one place. Determinism: all randomness (initialisation,
dropout, shuffling) comes from generators seeded by `seed` inside `torch.random.fork_rng`, so fitting never
disturbs (or depends on) the caller's global random state; on CUDA, torch's deterministic algorithms (the
graph member's index_add_ aggregation among them), deterministic cuDNN and a fixed cuBLAS workspace are
switched on for the fit (and for the graph member's inference): `deterministic`. On CPU nothing changes.

Why `threads` defaults to 1: the recurrent towers run many small matrix products per step, where extra
intra-op threads only add synchronisation; on the shared 2-core machine one thread trained a 2-layer GRU
about 8x faster than two (2.8 s vs 22 s per 80k rows and epoch, measured while other jobs ran).
"""

from __future__ import annotations

import contextlib
import copy
import io
import math
import os
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from itertools import combinations
from typing import TypeVar

import numpy as np
import torch
from torch import nn

from deepcredit.models.parallel import usable_cores

ModuleT = TypeVar("ModuleT", bound=nn.Module)
ItemT = TypeVar("ItemT")
ResultT = TypeVar("ResultT")

ProgressFn = Callable[[int, int, str], None]
"""on_progress(epoch, max_epochs, message), called after every epoch."""


CUBLAS_WORKSPACE = ":4096:8"
"""CUBLAS_WORKSPACE_CONFIG for deterministic cuBLAS (CUDA 10.2+); read when cuBLAS starts, so it is set as
soon as a CUDA device is chosen (resolve_device), unless the user set it."""


def resolve_device(device: str | None) -> torch.device:
    """'auto' / None: CUDA when present, else CPU; anything else is passed to torch.device. Choosing CUDA
    sets CUBLAS_WORKSPACE_CONFIG (unless set), before cuBLAS first runs."""
    chosen = torch.device(("cuda" if torch.cuda.is_available() else "cpu") if device in (None, "", "auto")
                          else device)
    if chosen.type == "cuda":
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", CUBLAS_WORKSPACE)
    return chosen


@contextlib.contextmanager
def deterministic(device: torch.device) -> Iterator[None]:
    """On CUDA: torch's deterministic algorithms, deterministic cuDNN without benchmarking, and the fixed
    cuBLAS workspace, restored after. warn_only: an operation without a deterministic kernel warns, naming
    itself, instead of stopping a fit. On CPU nothing is changed (its results stay bit for bit the same)."""
    if device.type != "cuda":
        yield
        return
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", CUBLAS_WORKSPACE)
    cudnn = torch.backends.cudnn
    old = (torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled(),
           cudnn.deterministic, cudnn.benchmark)
    torch.use_deterministic_algorithms(True, warn_only=True)
    cudnn.deterministic, cudnn.benchmark = True, False
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(old[0], warn_only=old[1])
        cudnn.deterministic, cudnn.benchmark = old[2], old[3]


def device_of(module: nn.Module | None) -> str | None:
    """The device a module's weights are on ('cpu', 'cuda:0'), None for none: the device a member fitted on
    (run facts: a fit on CUDA need not give the bits a CPU fit gives)."""
    if module is None:
        return None
    weight = next(module.parameters(), None)
    return None if weight is None else str(weight.device)


@contextlib.contextmanager
def torch_threads(threads: int | None) -> Iterator[None]:
    """Run with `threads` intra-op threads (None: leave torch's setting), restoring the old value after."""
    if not threads:
        yield
        return
    old = torch.get_num_threads()
    torch.set_num_threads(int(threads))
    try:
        yield
    finally:
        torch.set_num_threads(old)


@contextlib.contextmanager
def seeded(seed: int, device: torch.device) -> Iterator[None]:
    """Seed torch inside a forked RNG state (the caller's global state is untouched); on CUDA, deterministic
    kernels (`deterministic`)."""
    devices = [device] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices), deterministic(device):
        torch.manual_seed(seed)
        yield


def validation_split(y: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(train, validation) positions: a stratified, seeded share of each class held out for early stopping.

    A class with fewer than 2 rows, or fraction 0, holds out nothing (then early stopping watches the
    training loss).
    """
    y = np.asarray(y)
    rng = np.random.default_rng(seed)
    val = []
    for cls in np.unique(y):
        idx = np.flatnonzero(y == cls)
        k = int(round(len(idx) * fraction))
        if len(idx) >= 2 and k > 0:
            val.append(rng.permutation(idx)[:min(k, len(idx) - 1)])
    val_pos = np.sort(np.concatenate(val)) if val else np.zeros(0, dtype=np.int64)
    return np.setdiff1d(np.arange(len(y)), val_pos), val_pos


@dataclass
class TrainSettings:
    epochs: int = 12
    batch_size: int = 512
    lr: float = 2e-3
    weight_decay: float = 0.0
    patience: int = 2
    seed: int = 0
    clip_norm: float | None = 1.0
    eval_batch: int = 4096


@dataclass
class TrainResult:
    best_epoch: int
    best_loss: float
    history: list[dict] = field(default_factory=list)
    seconds: float = 0.0


def train(module: nn.Module, logits_of: Callable[[np.ndarray], torch.Tensor], y: np.ndarray,
          train_pos: np.ndarray, val_pos: np.ndarray, settings: TrainSettings, device: torch.device,
          param_groups: Iterable[dict] | None = None, on_progress: ProgressFn | None = None) -> TrainResult:
    """Adam on binary cross-entropy with early stopping on the validation positions; keeps the best epoch.

    logits_of(positions) returns the logits (on `device`) of those positions; `y` is indexed the same way.
    The module is left in eval mode with the weights of the epoch with the lowest validation loss.
    Must be called inside `seeded` for reproducibility.
    """
    t0 = time.perf_counter()
    y_t = torch.from_numpy(np.asarray(y, dtype=np.float32)).to(device)
    loss_fn = nn.BCEWithLogitsLoss()
    opt = torch.optim.Adam(list(param_groups) if param_groups is not None else module.parameters(),
                           lr=settings.lr, weight_decay=settings.weight_decay)
    gen = torch.Generator().manual_seed(settings.seed)
    watch = val_pos if len(val_pos) else train_pos
    best, best_epoch, best_state, bad = math.inf, 0, copy.deepcopy(module.state_dict()), 0
    history: list[dict] = []
    for epoch in range(1, settings.epochs + 1):
        module.train()
        perm = train_pos[torch.randperm(len(train_pos), generator=gen).numpy()]
        total = 0.0
        for b in range(0, len(perm), settings.batch_size):
            pos = perm[b: b + settings.batch_size]
            loss = loss_fn(logits_of(pos), y_t[torch.from_numpy(pos).to(device)])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if settings.clip_norm:
                nn.utils.clip_grad_norm_(module.parameters(), settings.clip_norm)
            opt.step()
            total += float(loss.detach()) * len(pos)
        module.eval()
        with torch.no_grad():
            logits = torch.cat([logits_of(watch[b: b + settings.eval_batch]).float()
                                for b in range(0, len(watch), settings.eval_batch)])
            val_loss = float(loss_fn(logits, y_t[torch.from_numpy(watch).to(device)]))
        history.append({"epoch": epoch, "train_loss": total / max(len(perm), 1), "val_loss": val_loss})
        if on_progress is not None:
            on_progress(epoch, settings.epochs, f"train loss {history[-1]['train_loss']:.4f}, "
                                                f"validation loss {val_loss:.4f}")
        if val_loss < best - 1e-5:
            best, best_epoch, best_state, bad = val_loss, epoch, copy.deepcopy(module.state_dict()), 0
        else:
            bad += 1
            if bad >= settings.patience:
                break
    module.load_state_dict(best_state)
    module.eval()
    return TrainResult(best_epoch, best, history, time.perf_counter() - t0)


ROWS_PER_PASS = 1024
"""Rows per forward pass when scoring or explaining. A recurrent pass over 4,096 histories made tensors of
about 40 MB, which the allocator maps fresh from the kernel and hands back every pass (about 300,000 page
faults per 100,000 rows); tensors a quarter of that size stay in memory the allocator reuses. The bits do
not change: each row's arithmetic does not depend on the rows beside it."""


def in_batches(fn: Callable[[np.ndarray], ResultT], n: int, batch: int = ROWS_PER_PASS) -> list[ResultT]:
    """fn of each fixed batch of positions 0..n-1, without gradients, in order; up to usable_cores()
    batches at once, on threads. What explanations run their passes with.

    Why threads: a member runs one intra-op thread (module doc), so one explanation pass at a time left the
    other core idle for most of a report-card job (an explanation runs a pass per coalition of its groups:
    8 for the sequence member); torch's kernels release the GIL, so passes on threads run side by side. The
    batches are the same at any thread count and each pass runs on its own, so the bits are too. In a fit's
    worker process usable_cores() is that worker's share of the cores. Scores (`batched`) keep one pass at a
    time: a scoring job's other stage already keeps the cores busy, and threads there made 1,000,000 scores
    about 3% slower (two alternated pairs)."""
    starts = range(0, n, batch)

    def one(b: int) -> ResultT:
        with torch.no_grad():  # grad mode is per thread
            return fn(np.arange(b, min(b + batch, n)))

    workers = min(usable_cores(), len(starts))
    if workers <= 1:
        return [one(b) for b in starts]
    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(one, starts))


@torch.no_grad()
def batched(fn: Callable[[np.ndarray], torch.Tensor], n: int, batch: int = ROWS_PER_PASS) -> np.ndarray:
    """fn over positions 0..n-1 in fixed batches, one at a time, concatenated on the CPU as numpy (float32
    stays float32). Fixed batch boundaries make the result independent of anything but n: the same rows
    give the same bits."""
    out = [fn(np.arange(b, min(b + batch, n))).cpu() for b in range(0, n, batch)]
    return torch.cat(out).numpy() if out else np.zeros(0, dtype=np.float32)


def state_bytes(module: nn.Module) -> bytes:
    buf = io.BytesIO()
    torch.save({k: v.detach().cpu() for k, v in module.state_dict().items()}, buf)
    return buf.getvalue()


def load_state(module: ModuleT, data: bytes, device: torch.device) -> ModuleT:
    module.load_state_dict(torch.load(io.BytesIO(data), map_location="cpu", weights_only=True))
    return module.to(device).eval()


def shared_passes(items: Sequence[ItemT], rows: int, budget: int) -> Iterator[list[ItemT]]:
    """`items` (say the ablated coalitions of a block of `rows` rows) in groups that share one forward pass
    while it holds at most `budget` rows: one person's coalitions all together, a full block one at a time."""
    per = max(1, budget // max(rows, 1))
    for i in range(0, len(items), per):
        yield list(items[i: i + per])


def coalitions(players: Sequence[str]) -> list[frozenset[str]]:
    """Every subset of `players`, smallest first (what an exact Shapley computation evaluates)."""
    return [frozenset(s) for size in range(len(players) + 1) for s in combinations(players, size)]


def shapley(value: Callable[[frozenset[str]], np.ndarray], players: Sequence[str]) -> dict[str, np.ndarray]:
    """Exact Shapley values of a few players (2^k evaluations of `value`, each an [n] array), in float64.

    phi_i = sum over coalitions S without i of |S|! (k-|S|-1)! / k! * (v(S + i) - v(S)), so that
    sum_i phi_i = v(all) - v(empty) exactly (up to float64 rounding).
    """
    k = len(players)
    cache: dict[frozenset[str], np.ndarray] = {}
    for size in range(k + 1):
        for s in combinations(players, size):
            cache[frozenset(s)] = np.asarray(value(frozenset(s)), dtype=np.float64)
    out = {}
    for p in players:
        others = [o for o in players if o != p]
        phi = np.zeros_like(cache[frozenset()])
        for size in range(k):
            w = math.factorial(size) * math.factorial(k - size - 1) / math.factorial(k)
            for s in combinations(others, size):
                phi += w * (cache[frozenset(s) | {p}] - cache[frozenset(s)])
        out[p] = phi
    return out
