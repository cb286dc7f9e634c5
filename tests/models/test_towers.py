"""The neural building blocks: padding never matters, references and ablation behave, Shapley is exact."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch

from deepcredit.models import _torch
from deepcredit.models.towers import SEQUENCE_GROUPS, SequenceTower, TabularEncoder, WideLinear

torch.set_num_threads(1)


def _events(n: int = 6, length: int = 9, seed: int = 0) -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(seed)
    lengths = torch.tensor([0, 1, 3, 4, 5, length][:n])
    pos = torch.arange(length)[None, :] < lengths[:, None]
    kind = torch.randint(1, 9, (n, length), generator=g) * pos
    status = torch.randint(1, 15, (n, length), generator=g) * pos
    numeric = torch.randn(n, length, 4, generator=g) * pos[..., None]
    return kind, status, numeric, lengths


@pytest.mark.parametrize("cell,step,pair", [("gru", 1, 0), ("gru", 4, 0), ("lstm", 2, 0), ("gru", 4, 5)])
def test_sequence_tower_ignores_padding(cell, step, pair):
    torch.manual_seed(0)
    tower = SequenceTower(hidden=8, layers=2, cell=cell, events_per_step=step, pair_dim=pair).eval()
    kind, status, numeric, lengths = _events()
    with torch.no_grad():
        h = tower(kind, status, numeric, lengths)
        pad = 7
        h_pad = tower(torch.nn.functional.pad(kind, (0, pad)), torch.nn.functional.pad(status, (0, pad)),
                      torch.nn.functional.pad(numeric, (0, 0, 0, pad)), lengths)
        junk = numeric.clone()  # values behind the length are never read
        junk[0, :] = 99.0
        h_junk = tower(kind, status, junk, lengths)
    assert h.shape == (6, 8)
    if pair:  # the transition layer's matrix product over a longer padded batch rounds differently
        assert torch.allclose(h, h_pad, atol=1e-6) and torch.allclose(h, h_junk, atol=1e-6)
    else:
        assert torch.equal(h, h_pad)
        assert torch.equal(h, h_junk)
    assert torch.equal(h[0], tower.empty.detach())  # no events: the learned empty state


def test_sequence_tower_reads_the_most_recent_block_in_full():
    """With 4 events per step, a history of 5 is one partial block then the 4 latest: the last event counts."""
    torch.manual_seed(0)
    tower = SequenceTower(hidden=8, layers=1, events_per_step=4).eval()
    kind, status, numeric, lengths = _events()
    changed = status.clone()
    changed[4, 4] = 1 if status[4, 4] != 1 else 2  # the latest event of the 5-event row
    with torch.no_grad():
        a = tower(kind, status, numeric, lengths)
        b = tower(kind, changed, numeric, lengths)
    assert not torch.equal(a[4], b[4])
    assert torch.equal(a[:4], b[:4])


def test_transition_layer_reads_each_event_with_the_one_before():
    """Zero at padding; an event's transition moves with the event before it and with no other."""
    torch.manual_seed(0)
    tower = SequenceTower(hidden=8, layers=1, pair_dim=6).eval()
    kind, status, numeric, lengths = _events()
    changed = kind.clone()
    changed[5, 3] = 1 if kind[5, 3] != 1 else 2
    with torch.no_grad():
        a = tower.transitions(tower.slots(kind, status, numeric))
        b = tower.transitions(tower.slots(changed, status, numeric))
    assert a.shape == (6, 9, 6)
    assert torch.all(a[~(kind > 0)] == 0)
    moved = (a != b).any(-1)
    assert not moved[:5].any() and not moved[5, :3].any() and not moved[5, 5:].any()
    assert moved[5, 4]  # the event after the changed one


def test_ablation_keeps_everything_when_nothing_is_dropped():
    torch.manual_seed(0)
    tower = SequenceTower(hidden=8).eval()
    kind, status, numeric, lengths = _events()
    slots = tower.slots(kind, status, numeric)
    ref = tower.reference([0.0] + [1.0] * 8, [0.0] + [1.0] * 14)
    keep_all = torch.ones(tower.slot_dim, dtype=torch.bool)
    assert torch.equal(tower.ablate(slots, kind, keep_all, ref), slots)
    masks = tower.group_masks()
    assert set(masks) == set(SEQUENCE_GROUPS)
    union = torch.stack(list(masks.values())).sum(0)
    assert int(union.max()) == 1 and int(union.sum()) == tower.slot_dim - 1  # disjoint; 'real' never ablated
    dropped = tower.ablate(slots, kind, ~masks["credit_history"], ref)
    real = kind > 0
    assert torch.equal(dropped[~real], slots[~real])  # padding stays zero
    cols = masks["credit_history"]
    assert torch.allclose(dropped[real][:, cols], ref[cols].expand(int(real.sum()), -1))


@pytest.mark.parametrize("cell,step,pair", [("gru", 1, 0), ("gru", 4, 0), ("lstm", 2, 0), ("gru", 4, 5)])
@pytest.mark.parametrize("rows_per_pass", [6, 1024])  # each copy alone; every copy in one pass
def test_encode_ablated_is_encode_of_the_ablated_slots(cell, step, pair, rows_per_pass):
    """Ablating packed steps gives what ablating the slots and then encoding gives, copy by copy."""
    torch.manual_seed(0)
    tower = SequenceTower(hidden=8, layers=2, cell=cell, events_per_step=step, pair_dim=pair).eval()
    kind, status, numeric, lengths = _events()
    slots = tower.slots(kind, status, numeric)
    ref = tower.reference([0.0] + [1.0] * 8, [0.0] + [1.0] * 14)
    masks = list(tower.group_masks().values())
    keeps = [~masks[0], ~(masks[0] | masks[2]), ~masks[1], torch.zeros(tower.slot_dim, dtype=torch.bool)]
    with torch.no_grad():
        got = tower.encode_ablated(slots, kind, lengths, keeps, ref, rows_per_pass)
        want = [tower.encode(tower.ablate(slots, kind, keep, ref), lengths) for keep in keeps]
    assert len(got) == len(keeps)
    for g, w in zip(got, want, strict=True):
        assert g.shape == (6, 8)
        # one copy per pass: the very same numbers; copies sharing a pass run a longer matrix product,
        # which rounds differently
        torch.testing.assert_close(g, w, rtol=0, atol=0 if rows_per_pass == 6 else 1e-6)
    assert not torch.allclose(got[0], got[2])  # each copy kept its own columns


def test_tabular_encoder_and_wide_linear():
    torch.manual_seed(0)
    enc = TabularEncoder(3, [4, 5], [2, 3])
    out = enc(torch.randn(7, 3), torch.randint(0, 4, (7, 2)))
    assert out.shape == (7, enc.out_dim) == (7, 8)
    assert enc.column_sources() == [("num", 0), ("num", 1), ("num", 2), ("cat", 0), ("cat", 0),
                                    ("cat", 1), ("cat", 1), ("cat", 1)]
    ref = enc.reference([0.1, 0.2, 0.3], [[1, 0, 0, 0], [0, 1, 1, 0, 0]])
    assert torch.allclose(ref[3:5], enc.embeddings[0].weight[0])
    assert torch.allclose(ref[5:], enc.embeddings[1].weight[1:3].mean(0))

    wide = WideLinear([3, 2, 6])
    idx = torch.tensor([[0, 1, 5], [2, 0, 3]])
    assert torch.equal(wide(idx), torch.zeros(2))  # starts neutral
    with torch.no_grad():
        wide.weight.weight.copy_(torch.arange(11, dtype=torch.float32)[:, None])
    assert torch.equal(wide.contributions(idx), torch.tensor([[0.0, 4.0, 10.0], [2.0, 3.0, 8.0]]))
    assert torch.equal(wide(idx), wide.contributions(idx).sum(1))


def test_shapley_is_exact_and_fair():
    x = {"a": np.array([1.0, 2.0]), "b": np.array([3.0, -1.0]), "c": np.array([0.5, 0.0])}

    def value(s: frozenset) -> np.ndarray:  # additive part plus an a*b interaction
        v = sum((x[p] for p in s), np.zeros(2))
        return v + (x["a"] * x["b"] if {"a", "b"} <= s else 0.0)

    phi = _torch.shapley(value, ["a", "b", "c"])
    assert np.allclose(phi["c"], x["c"])
    assert np.allclose(phi["a"], x["a"] + x["a"] * x["b"] / 2)
    assert np.allclose(sum(phi.values()), value(frozenset("abc")) - value(frozenset()))


def test_validation_split_is_stratified_and_seeded():
    y = np.array([0] * 90 + [1] * 10)
    tr, va = _torch.validation_split(y, 0.2, seed=3)
    assert len(va) == 20 and y[va].sum() == 2
    assert np.array_equal(np.sort(np.concatenate([tr, va])), np.arange(100))
    tr2, va2 = _torch.validation_split(y, 0.2, seed=3)
    assert np.array_equal(va, va2)
    assert not np.array_equal(va, _torch.validation_split(y, 0.2, seed=4)[1])


def test_shared_passes_group_items_within_the_row_budget():
    items = list(range(7))
    assert list(_torch.shared_passes(items, rows=1, budget=4096)) == [items]  # one person: one pass
    assert list(_torch.shared_passes(items, rows=2, budget=6)) == [[0, 1, 2], [3, 4, 5], [6]]
    assert list(_torch.shared_passes(items, rows=4096, budget=4096)) == [[i] for i in items]  # a full block alone
    assert list(_torch.shared_passes(items, rows=0, budget=4)) == [[0, 1, 2, 3], [4, 5, 6]]
    assert list(_torch.shared_passes([], rows=1, budget=8)) == []


@pytest.mark.parametrize("cores", ["1", "2", "3"])
def test_batches_on_threads_give_the_same_bits_in_order(monkeypatch, cores):
    """Passes on threads: fixed batches, handed back in order, without gradients, whatever the cores."""
    monkeypatch.setenv("OMP_NUM_THREADS", cores)  # what usable_cores() reads
    torch.manual_seed(0)
    tower = SequenceTower(hidden=8, layers=2, events_per_step=2).eval()
    kind, status, numeric, lengths = _events()
    kind, status, numeric, lengths = (t.repeat(40, *([1] * (t.dim() - 1))) for t in (kind, status, numeric, lengths))
    seen: list[bool] = []

    def states(pos: np.ndarray) -> torch.Tensor:
        seen.append(torch.is_grad_enabled())
        p = torch.from_numpy(pos)
        return tower(kind[p], status[p], numeric[p], lengths[p])

    got = torch.cat(_torch.in_batches(states, len(lengths), batch=16)).numpy()
    with torch.no_grad():
        want = torch.cat([states(np.arange(b, min(b + 16, len(lengths)))) for b in range(0, len(lengths), 16)])
    assert got.shape == (240, 8) and np.array_equal(got, want.numpy())
    assert not any(seen)
    assert [len(a) for a in _torch.in_batches(lambda pos: pos, 37, batch=10)] == [10, 10, 10, 7]
    assert _torch.in_batches(lambda pos: pos, 0) == []


def test_on_cuda_the_fit_runs_deterministic_kernels_and_on_cpu_nothing_changes(monkeypatch):
    """The switches need no GPU to be set: torch accepts them on a CPU-only build too."""
    monkeypatch.delenv("CUBLAS_WORKSPACE_CONFIG", raising=False)
    before = torch.are_deterministic_algorithms_enabled(), torch.backends.cudnn.benchmark
    with _torch.deterministic(torch.device("cpu")):
        assert (torch.are_deterministic_algorithms_enabled(), torch.backends.cudnn.benchmark) == before
    assert "CUBLAS_WORKSPACE_CONFIG" not in os.environ
    with _torch.deterministic(torch.device("cuda")):
        assert torch.are_deterministic_algorithms_enabled() and torch.is_deterministic_algorithms_warn_only_enabled()
        assert torch.backends.cudnn.deterministic and not torch.backends.cudnn.benchmark
        assert os.environ["CUBLAS_WORKSPACE_CONFIG"] == _torch.CUBLAS_WORKSPACE
    assert (torch.are_deterministic_algorithms_enabled(), torch.backends.cudnn.benchmark) == before
    assert _torch.device_of(torch.nn.Linear(2, 1)) == "cpu" and _torch.device_of(None) is None
