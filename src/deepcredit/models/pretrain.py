"""Self-supervised pretraining of an event encoder over every person's history, labelled or not
(contrastive sub-sequences, CoLES: Babaev et al., SIGMOD 2022), and its embeddings as features.

Why: supervised sequence members learn only from labelled rows and trail GBDT on aggregates. Most people
have a history but no label; a representation learnt from all histories, fed to the GBDT and Wide & Deep
members as features and used to initialise the recurrent members, is what the field found to add lift.

Objective: from each person's history draw `slices` random contiguous sub-sequences (length uniform in
[min_slice, max_slice], start uniform). Slices of the same person are positives, slices of the other
people in the batch negatives; the loss is the multi-positive softmax (InfoNCE / SupCon) over cosine
similarities divided by `temperature`. A person's habits (what kinds, how punctual, what amounts, at what
rhythm) are what stays the same across slices, so that is what the embedding learns to keep.

Encoder: towers.SequenceTower (a multi-layer GRU) over event slots [kind embedding, status embedding,
signed log amount, months late, log days since the previous event, log age, weekday and time of year as
sine/cosine (features.sequences.with_periodic), real] with its transition layer (each slot also carries a
learned function of it and the slot before it: what changed from one event to the next); the embedding is the last layer's final state, so
the same weights initialise the sequence and hybrid members' towers (`warm_start`).

Which people: one history per person (their latest row among those given: the longest history, so the
same person is never their own negative), at most `max_people` of them (a seeded sample).

Point in time: an embedding of a row is a function of that row's events strictly before its as_of only
(the temporal view is cut in features/sources.py); the encoder's weights never see a label.
Determinism: seeded numpy and torch generators (models/_torch.seeded), fixed scoring batches.

Features: coordinate j of the embedding becomes the feature `event_embedding_jj`, in the dimension whose
event channels move it most (mean absolute change when that dimension's channel group of towers.
towers.sequence_groups is replaced by the average event), so explanations sum it into a dimension like any other
feature. They are not actionable and carry no reason text of their own beyond what they summarise.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, replace
from typing import Literal

import numpy as np
import pandas as pd
import torch
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic_core import PydanticCustomError
from torch import nn

from deepcredit.data.schema import Dimension
from deepcredit.features.bundle import ModelInput
from deepcredit.features.engine import FeatureFrame
from deepcredit.features.sequences import Histories, Sequences, with_periodic
from deepcredit.features.spec import FeatureDef, Source
from deepcredit.models import _torch
from deepcredit.models.base import MemberCannotFit
from deepcredit.models.sequence import (
    SequenceData,
    SequencePrep,
    event_view,
    require_sequences,
    same_channels,
)
from deepcredit.models.towers import SequenceTower

FORMAT = 1
EMBEDDING_PREFIX = "event_embedding_"


class PretrainSettings(BaseModel):
    """What the pretraining does; every field can be set through StackModel(pretrain={...}).

    A pydantic model like the run configuration (deepcredit.config), so a bad value is refused before any
    work with a message that names the setting.
    """

    model_config = ConfigDict(extra="forbid")

    dim: int = Field(default=32, ge=1)
    """Embedding size = the recurrent state size."""
    layers: int = Field(default=2, ge=1)
    cell: Literal["gru", "lstm"] = "gru"
    kind_dim: int = Field(default=8, ge=1)
    status_dim: int = Field(default=8, ge=1)
    events_per_step: int = Field(default=4, ge=1)
    pair_dim: int = Field(default=32, ge=0)
    """Units of the tower's transition layer (towers.SequenceTower; 0: none). On a 100,000-person simulated
    world with temporal structure (seed 7, not the benchmark's; 70/30 split) 0 / 16 / 32 units gave GBDT with
    the embeddings a held-out AUC of 0.8080 / 0.8110 / 0.8117 and the warm-started hybrid 0.8063 / 0.8097 /
    0.8110, for 28 / 38 / 39 s of pretraining. It costs training time, since the warm-started sequence and
    hybrid members inherit it: fitting members one after another, the full stack on 100,000 people took
    1,464 s with 32 units (one run) against 904-1,140 s without (two runs); since the members' fits run side
    by side (models.parallel) it takes about 900-1,000 s with it (docs/results/train-100k-2026-12-03.json).
    `stack.pretrain = {pair_dim = 0}` turns it off, giving up its lift for time."""
    max_len: int = Field(default=64, ge=1)
    slices: int = Field(default=4, ge=2)
    """Sub-sequences per person: at least two, or a person has no positive to be pulled towards."""
    min_slice: int = Field(default=4, ge=1)
    max_slice: int = Field(default=48, ge=1)
    batch_people: int = Field(default=128, ge=1)
    epochs: int = Field(default=6, ge=0)
    """Passes over the sampled people. Chosen on the development world of scripts/study_pretrain.py (seed 7,
    temporal structure, its own split; docs/results/pretrain-study-2026-12-03.json): GBDT with the embeddings
    0.8080 after 3 epochs, 0.8113 after 6 (0.7961 without embeddings); pretraining on all 70,000 training
    people instead of 50,000 gave 0.8095 (3 epochs) and 0.8105 (6 epochs), so the sample stays. The least
    number of passes: on a small data set they are raised to reach `min_steps` (epochs_for)."""
    min_steps: int = Field(default=1000, ge=0)
    """At least this many optimizer steps: on a small data set the epochs are raised to reach it (up to
    `max_epochs`). A fixed number of passes left small data sets far from converged. On development worlds
    only (the simulator's, not a benchmark's test rows): 2,100 training people at 6 epochs made ~100 steps,
    the contrastive loss fell from 4.72 to 3.14 and was still dropping (near 2.3-2.4 after ~800+ steps); a
    ridge probe from the embeddings to the simulator's hidden temporal risk got R² 0.15 at 6 epochs, 0.44 at
    24 and 0.55 at 48; on 3,000-person worlds with temporal structure (seeds 1-3) the stack's held-out AUC
    gain from the temporal path rose from +0.0016 to +0.018 with longer pretraining (24 epochs, 1 event per
    step), better on every seed. Large data sets (≥ ~21,000 pretrained people, where 6 epochs already make
    1,000 steps; the benchmark's 50,000 make ~2,300) are unchanged. 0: exactly `epochs`."""
    max_epochs: int = Field(default=48, ge=1)
    """The cap on the raised epochs, which bounds the cost on a tiny data set (`epochs` itself is kept when
    it is larger)."""
    lr: float = Field(default=2e-3, gt=0)
    temperature: float = Field(default=0.1, gt=0)
    max_people: int | None = Field(default=50_000, ge=2)
    """A seeded sample of at most this many people is pretrained on (every row is still embedded): on the
    shared 2-core machine 3 epochs over 50,000 people took 57-75 s and 6 epochs 111 s (the development study,
    beside another job), which keeps the whole stack on 100,000 people within its 20-minute budget."""
    seed: int = 0
    threads: int | None = Field(default=1, ge=1)
    device: str | None = None

    @model_validator(mode="after")
    def _slice_range(self) -> PretrainSettings:
        if self.max_slice < self.min_slice:
            raise PydanticCustomError("slice_range", "max_slice ({max_slice}) must be at least min_slice "
                                      "({min_slice})", {"max_slice": self.max_slice, "min_slice": self.min_slice})
        return self

    def steps_per_epoch(self, n_people: int) -> int:
        """Optimizer steps of one pass over n_people: the batches the loop takes (one of fewer than two
        people is skipped)."""
        full, rest = divmod(n_people, self.batch_people)
        return (full if self.batch_people >= 2 else 0) + (rest >= 2)

    def epochs_for(self, n_people: int) -> int:
        """Passes run over n_people: `epochs`, raised to reach `min_steps`, the raise capped at `max_epochs`."""
        per_epoch = self.steps_per_epoch(n_people)
        if per_epoch == 0:
            return self.epochs
        return max(self.epochs, min(self.max_epochs, -(-self.min_steps // per_epoch)))

    @classmethod
    def of(cls, params: dict | None, seed: int = 0) -> PretrainSettings:
        """Settings from a dict; a bad or unknown name is a ValueError naming the setting (and, for an unknown
        one, listing the known ones)."""
        try:
            return cls.model_validate({"seed": seed, **(params or {})})
        except ValidationError as exc:
            err = exc.errors()[0]
            name = ".".join(str(p) for p in err["loc"])
            if err["type"] == "extra_forbidden":
                known = ", ".join(sorted(cls.model_fields))
                raise ValueError(f"pretrain: no setting {name!r} (known: {known})") from None
            where = f"setting {name!r}: " if name else ""  # a rule across settings names them in its message
            raise ValueError(f"pretrain: {where}{err['msg']}") from None

    def tower_config(self, n_kinds: int, n_statuses: int, seq: Sequences) -> dict:
        """The tower over `seq`, a periodic temporal view (its channels, measures included)."""
        return {"n_kinds": n_kinds, "n_statuses": n_statuses, **seq.channel_config(),
                "kind_dim": self.kind_dim, "status_dim": self.status_dim, "hidden": self.dim,
                "layers": self.layers, "cell": self.cell, "events_per_step": self.events_per_step, "dropout": 0.0,
                "pair_dim": self.pair_dim}


def latest_per_person(person_id: np.ndarray, as_of: np.ndarray) -> np.ndarray:
    """Row positions of each person's latest as-of date (first such row on a tie), in row order."""
    frame = pd.DataFrame({"p": person_id, "t": as_of, "i": np.arange(len(person_id))})
    last = frame.sort_values(["p", "t", "i"], kind="mergesort").groupby("p", sort=False).tail(1)
    return np.sort(last["i"].to_numpy())


class EventEncoder:
    """A pretrained encoder: embeddings of histories, the features they make, and the weights to warm-start
    a recurrent tower with."""

    def __init__(self, settings: PretrainSettings, tower_config: dict, prep: SequencePrep, tower: SequenceTower,
                 dimensions: list[str], info: dict, timing: dict | None = None) -> None:
        self.settings = settings
        self.tower_config = tower_config
        self.prep = prep
        self.tower = tower.eval()
        self.dimensions = dimensions
        self.info = info
        self.timing = dict(timing or {})  # seconds and device: run facts, never in encoder.json (identity)

    @property
    def dim(self) -> int:
        return int(self.tower_config["hidden"])

    @property
    def names(self) -> list[str]:
        return [f"{EMBEDDING_PREFIX}{j:02d}" for j in range(self.dim)]

    def definitions(self) -> list[FeatureDef]:
        """One numeric feature per coordinate, in the dimension its channels speak to (module docstring)."""
        return [FeatureDef(name, Dimension(dim), Source.EVENTS, f"-- coordinate {j} of the pretrained event encoder",
                           f"the pattern of your past commitments, as the learned summary of your history reads it "
                           f"(component {j})", "keep your commitments on time and regular", fill=None,
                           actionable=False)
                for j, (name, dim) in enumerate(zip(self.names, self.dimensions, strict=True))]

    def tower_state(self) -> dict[str, torch.Tensor]:
        """A copy of the encoder's weights, to load into a SequenceTower of `tower_config`."""
        return {k: v.detach().clone() for k, v in self.tower.state_dict().items()}

    @torch.no_grad()
    def embed_sequences(self, seq: Sequences, rows: np.ndarray) -> np.ndarray:
        """[len(rows), dim] float64 embeddings of rows of a periodic temporal view (see event_view)."""
        with _torch.torch_threads(self.settings.threads):
            device = next(self.tower.parameters()).device
            same_channels(seq, self.tower_config, "pretrained encoder")
            data = self.prep.tensors(seq, np.asarray(rows, dtype=np.int64), device)
            return _torch.batched(lambda pos: self.tower(*data.batch(pos)), len(rows)).astype(np.float64)

    def embed(self, inp: ModelInput) -> np.ndarray:
        """Embeddings of the bundle's rows (inp.index)."""
        return self.embed_sequences(event_view(inp, "pretrained encoder"), inp.index)

    # -- artifacts ------------------------------------------------------------------------------------
    def to_files(self) -> dict[str, bytes]:
        meta = {"format": FORMAT, "settings": self.settings.model_dump(), "tower": self.tower_config,
                "prep": asdict(self.prep), "dimensions": self.dimensions, "info": self.info}
        return {"encoder.pt": _torch.state_bytes(self.tower),
                "encoder.json": json.dumps(meta, indent=1, sort_keys=True).encode()}

    @classmethod
    def from_files(cls, files: dict[str, bytes]) -> EventEncoder:
        meta = json.loads(files["encoder.json"])
        if meta.get("format") != FORMAT:
            raise ValueError(f"pretrained encoder: unsupported format {meta.get('format')!r} (this version reads {FORMAT})")
        settings = PretrainSettings(**meta["settings"])
        tower = _torch.load_state(SequenceTower(**meta["tower"]), files["encoder.pt"], torch.device("cpu"))
        info = {k: v for k, v in meta["info"].items() if k not in ("seconds", "seconds_per_step")}  # older files
        return cls(settings, meta["tower"], SequencePrep(**meta["prep"]), tower, list(meta["dimensions"]), info)


def _slices(data: SequenceData, pos: np.ndarray, s: PretrainSettings, rng: np.random.Generator
            ) -> tuple[torch.Tensor, ...]:
    """`s.slices` random contiguous sub-sequences of each history in `pos` (owner i repeated s.slices times)."""
    owner = np.repeat(np.asarray(pos, dtype=np.int64), s.slices)
    length = data.lengths[torch.from_numpy(owner)].cpu().numpy()
    lo, hi = np.minimum(s.min_slice, length), np.minimum(s.max_slice, length)
    size = lo + np.floor(rng.random(len(owner)) * (hi - lo + 1)).astype(np.int64)
    start = np.floor(rng.random(len(owner)) * (length - size + 1)).astype(np.int64)
    width = max(int(size.max()), 1)
    idx = start[:, None] + np.arange(width)[None, :]
    valid = np.arange(width)[None, :] < size[:, None]
    idx = np.where(valid, idx, 0)
    dev = data.kind.device
    o, ix, v = torch.from_numpy(owner).to(dev), torch.from_numpy(idx).to(dev), torch.from_numpy(valid).to(dev)
    kind = torch.gather(data.kind[o], 1, ix) * v
    status = torch.gather(data.status[o], 1, ix) * v
    numeric = torch.gather(data.numeric[o], 1, ix[..., None].expand(-1, -1, data.numeric.shape[-1])) * v[..., None]
    return kind, status, numeric, torch.from_numpy(size).to(dev)


def contrastive_loss(z: torch.Tensor, per_owner: int, temperature: float) -> torch.Tensor:
    """Multi-positive softmax loss: rows i*per_owner .. (i+1)*per_owner-1 share an owner (positives)."""
    z = nn.functional.normalize(z, dim=1)
    n = len(z)
    sim = (z @ z.T) / temperature
    self_mask = torch.eye(n, dtype=torch.bool, device=z.device)
    sim = sim.masked_fill(self_mask, float("-inf"))
    log_prob = sim - torch.logsumexp(sim, dim=1, keepdim=True)
    owner = torch.arange(n, device=z.device) // per_owner
    positive = (owner[:, None] == owner[None, :]) & ~self_mask
    return -(log_prob.masked_fill(~positive, 0.0).sum(1) / positive.sum(1).clamp_min(1)).mean()


@torch.no_grad()
def _dimensions(tower: SequenceTower, data: SequenceData, prep: SequencePrep, n: int) -> list[str]:
    """The dimension of each embedding coordinate: the channel group whose replacement by the average
    event moves it most (mean absolute change over up to 2048 of the pretraining histories)."""
    pos = np.arange(min(n, 2048))
    kind, status, numeric, lengths = data.batch(pos)
    slots = tower.slots(kind, status, numeric)
    full = tower.encode(slots, lengths)
    ref = tower.reference(prep.kind_freq, prep.status_freq, prep.code_freq)
    groups = list(tower.groups)
    sens = []
    for mask in tower.group_masks().values():
        ablated = tower.encode(tower.ablate(slots, kind, ~mask, ref), lengths)
        sens.append((full - ablated).abs().mean(0).cpu().numpy())
    return [groups[i] for i in np.argmax(np.stack(sens), axis=0)]


def pretrain(histories: Histories, params: dict | None = None, seed: int = 0,
             on_progress: _torch.ProgressFn | None = None) -> EventEncoder:
    """Fit an EventEncoder on these histories (module docstring). MemberCannotFit when fewer than two
    people have two or more events."""
    s = PretrainSettings.of(params, seed)
    seq = with_periodic(histories.sequences, histories.as_of)
    rows = latest_per_person(histories.person_id, histories.as_of)
    rows = rows[seq.lengths[rows] >= 2]
    if len(rows) < 2:
        raise MemberCannotFit("pretraining: fewer than two people have two or more events before their as-of date")
    rng = np.random.default_rng(s.seed)
    if s.max_people is not None and len(rows) > s.max_people:
        rows = np.sort(rng.choice(rows, s.max_people, replace=False))
    device = _torch.resolve_device(s.device)
    t0 = time.perf_counter()
    with _torch.torch_threads(s.threads), _torch.seeded(s.seed, device):
        prep = SequencePrep.fit(seq, rows, s.max_len)
        data = prep.tensors(seq, rows, device)
        config = s.tower_config(len(prep.kind_freq), len(prep.status_freq), seq)
        tower = SequenceTower(**config).to(device)
        opt = torch.optim.Adam(tower.parameters(), lr=s.lr)
        history, step_seconds = [], []
        epochs = s.epochs_for(len(rows))
        for epoch in range(1, epochs + 1):
            tower.train()
            perm = rng.permutation(len(rows))
            total, batches = 0.0, 0
            for b in range(0, len(perm), s.batch_people):
                pos = perm[b: b + s.batch_people]
                if len(pos) < 2:
                    continue
                t_step = time.perf_counter()
                loss = contrastive_loss(tower(*_slices(data, pos, s, rng)), s.slices, s.temperature)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                nn.utils.clip_grad_norm_(tower.parameters(), 1.0)
                opt.step()
                step_seconds.append(time.perf_counter() - t_step)
                total, batches = total + float(loss.detach()), batches + 1
            history.append({"epoch": epoch, "loss": total / max(batches, 1)})
            if on_progress is not None:
                on_progress(epoch, epochs, f"contrastive loss {history[-1]['loss']:.4f}")
        tower.eval()
        dims = _dimensions(tower, data, prep, len(rows))
    info = {"people": int(len(rows)), "history": history, "epochs": epochs, "steps": len(step_seconds)}
    timing = {"seconds_per_step": float(np.mean(step_seconds)) if step_seconds else 0.0,
              "seconds": round(time.perf_counter() - t0, 2), "device": str(device)}
    return EventEncoder(s, config, prep, tower.cpu(), dims, info, timing)


def histories_of(inp: ModelInput, extra: Histories | None = None) -> Histories:
    """The bundle's own rows as histories, plus `extra` ones (e.g. every person, labelled or not)."""
    frame = inp.tabular.frame
    own = Histories(require_sequences(inp, "pretraining"), frame["person_id"].to_numpy(),
                    frame["as_of"].to_numpy()).take(inp.index)
    if extra is None:
        return own
    a, b = own.sequences, extra.sequences
    width = max(a.kind.shape[1], b.kind.shape[1])

    def pad(x: np.ndarray) -> np.ndarray:
        return np.pad(x, [(0, 0), (0, width - x.shape[1])] + [(0, 0)] * (x.ndim - 2))

    if a.kind_vocab != b.kind_vocab or a.status_vocab != b.status_vocab or a.measures != b.measures:
        raise ValueError("pretraining: the extra histories code events otherwise than the bundle (vocabularies "
                         "or measures)")
    seq = replace(a, kind=np.concatenate([pad(a.kind), pad(b.kind)]),
                  status=np.concatenate([pad(a.status), pad(b.status)]),
                  numeric=np.concatenate([pad(a.numeric), pad(b.numeric)]), lengths=np.concatenate([a.lengths, b.lengths]))
    return Histories(seq, np.concatenate([own.person_id, extra.person_id]),
                     np.concatenate([np.asarray(own.as_of, "datetime64[us]"), np.asarray(extra.as_of, "datetime64[us]")]))


def with_embeddings(inp: ModelInput, encoder: EventEncoder) -> ModelInput:
    """The bundle with the encoder's features added to its tabular view (computed for inp.index rows; other
    spine rows stay missing). Replaces embedding columns already there."""
    emb = np.full((len(inp.tabular.frame), encoder.dim), np.nan)
    emb[inp.index] = encoder.embed(inp)
    return with_embedding_values(inp, emb, encoder.definitions())


def with_embedding_values(inp: ModelInput, values: np.ndarray, definitions: list[FeatureDef]) -> ModelInput:
    """The bundle with embedding features already computed: `values` [rows of the tabular frame, dim], one
    column per definition (an encoder's). What a stack's fold fits read when each fold has its own encoder:
    the embeddings travel to the worker processes as arrays, not as whole bundles."""
    tab = inp.tabular
    names = [d.name for d in definitions]
    frame = tab.frame.drop(columns=[c for c in names if c in tab.frame.columns]).copy()
    frame[names] = values
    defs = [d for d in tab.definitions if not d.name.startswith(EMBEDDING_PREFIX)] + list(definitions)
    return replace(inp, tabular=FeatureFrame(frame, defs, tab.meta))
