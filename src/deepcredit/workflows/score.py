"""Batch scoring in chunks of people, resumable: OUT/part-NNNNN.parquet plus OUT/_job.json.

Why chunks: features, model input and report cards of a whole population do not fit in memory at the
sizes lenders score (1,000,000 people peaked at 14-17 GB when built at once). Each chunk of people is
scored from a data set narrowed to it (workflows/scope.py), so peak memory follows the chunk size.

Why a job manifest: a long job that is killed must resume where it stopped, with no duplicate rows and
the very bytes an uninterrupted run writes. `_job.json` pins what the output is (model sha256, data
fingerprint, spine, chunk size, scoring settings) and lists every finished part with its rows and sha256;
each part is written atomically and then recorded, so a part on disk but not in the manifest is redone,
and a rerun of another job into the same directory is refused.

Why parts wait in OUT/_parts: `pandas.read_parquet(OUT)` reads every part in OUT and skips names that start
with '_' or '.'. While the job runs, its parts are written to OUT/_parts; when every chunk is scored the
finished job is published as OUT in renames of whole directories (workflows/job.py), so no reader of OUT
sees some parts but not all, and a killed job's resume is unchanged. Its lock refuses a second run into OUT.

Two stages at once: while chunk i is scored (mostly the networks' arithmetic), a worker thread builds chunk
i + 1's model input (mostly DuckDB and Arrow, which release the interpreter), so both cores stay busy with
at most two chunks in memory (`prefetched`). For report cards a third runs beside them: chunk i's reason
table and part are written in a thread of their own while chunk i + 1 is explained, from chunk i's own rows
only (ModelInput.own), so little more is held. Parts are still written one at a time, in order.

Graph members read neighbours: a person's score depends on the people within the model's hops (two for
the default GraphSAGE). Those people enter a chunk as context rows: their features are read from the
job's feature store (OUT/_features, built chunk by chunk first), they are nodes of the chunk's graph, and
they are scored by nobody; so chunked scores equal the scores of the whole population at once.

Where every graph member can be run a layer at a time (models.stack.layer_wise_members), the context is
one hop, whatever the depth: every person's output of each layer but the last is computed first, chunk by
chunk, each chunk reading its neighbours' outputs of the layer before (OUT/_states/layer-L), and the last
layer reads them (ModelInput.node_states). Two hops from 100,000 people of the benchmark's world reach
579,103 people; one hop, 196,785.
"""

from __future__ import annotations

import shutil
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import closing
from dataclasses import replace
from functools import cached_property, partial
from itertools import islice
from pathlib import Path
from typing import TypeVar

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as pads

from deepcredit.config import RunConfig, ScoringConfig, run_record
from deepcredit.data.dataset import Dataset
from deepcredit.data.validate import DataValidationError
from deepcredit.features.bundle import ModelInput, build_model_input
from deepcredit.features.engine import FeatureFrame, build_features, neighbour_histories, open_session
from deepcredit.features.graph import build_graph
from deepcredit.features.sequences import Sequences, build_sequences
from deepcredit.features.spec import FeatureDef, Kind, Source
from deepcredit.models.artifacts import load_artifact
from deepcredit.models.base import CreditModel, Explanation, load_model
from deepcredit.models.scale import ScoreScale
from deepcredit.models.stack import graph_hops, layer_wise_members, model_views
from deepcredit.scoring.input_check import SAMPLE_ROWS, check_model_features, check_scoring_input
from deepcredit.scoring.scorer import Scorer
from deepcredit.workflows.job import JOB_FORMAT, Job, job_lock
from deepcredit.workflows.scope import ScopedData, neighbourhood
from deepcredit.workflows.spine import spine_sql

FEATURE_STORE = "_features"
HISTORY_STORE = "_neighbour_histories"
STATE_STORE = "_states"
"""Each graph member's output of each layer but the last, for every spine row (layer-wise inference)."""
MAX_HISTORY_DATES = 32
"""Neighbour histories are stored per person and as-of date of the spine: up to this many dates (a batch
spine has one); past it, each chunk reads its neighbours' events instead."""
FEATURE_BUILDS = 2
"""Chunks whose features are built at once (each a DuckDB session of its own): one session alone leaves
part of the second core idle while it converts and writes its results."""
T = TypeVar("T")
ChunkFn = Callable[[str, int, int], None]
"""on_chunk(stage, chunks done, chunks in all): stage is 'neighbour histories', 'features', 'graph layer
L' or 'scores'; on Spark also 'features (Spark SQL)', whose counts are Spark's tasks so far."""


def prefetched(items: Iterable[int], make: Callable[[int], T], ahead: int = 1) -> Iterator[tuple[int, T]]:
    """(item, make(item)) in order, the next `ahead` items made in worker threads while the caller uses
    this one: at most ahead + 1 results exist at a time. An error in make is raised where its result is
    taken."""
    pending = iter(items)
    with ThreadPoolExecutor(max_workers=ahead, thread_name_prefix="deepcredit-prefetch") as pool:
        queue = deque((item, pool.submit(make, item)) for item in islice(pending, ahead))
        while queue:
            item, future = queue.popleft()
            result = future.result()
            following = next(pending, None)
            if following is not None:
                queue.append((following, pool.submit(make, following)))
            yield item, result


def run_stage(stage: str, n: int, done: Callable[[int], bool], make: Callable[[int], T],
              keep: Callable[[int, T], None], tick: ChunkFn, ahead: int = 1) -> None:
    """One stage of a chunked job: each chunk not done yet is made (its input built, in a worker thread,
    `ahead` chunks ahead: prefetched) and kept (scored, written and recorded) here, in order."""
    todo = [i for i in range(n) if not done(i)]
    for count, (i, made) in enumerate(prefetched(todo, make, ahead), start=n - len(todo) + 1):
        keep(i, made)
        tick(stage, count, n)


def part_name(i: int) -> str:
    return f"part-{i:05d}.parquet"


def store_name(i: int) -> str:
    """A job store's file for chunk i (named apart from the score parts: only those are `part-*`)."""
    return f"chunk-{i:05d}.parquet"


class Spine:
    """The rows to score (spine_sql), read one chunk of people at a time; chunk i holds the people ranked
    i*size .. (i+1)*size - 1 by id, with all their rows.

    Why not one DataFrame: the population's ids as Python strings grew a 5,000,000-person job's peak by
    about 330 MB per million people. Here only each chunk's first and last id stay in memory, and DuckDB
    reads a chunk's rows on their id range.
    """

    def __init__(self, dataset: Dataset, as_of: object | None, size: int) -> None:
        self.con = dataset.connect()
        self.joined = dataset.spec.role("joined_at")
        self.lock = threading.Lock()
        self.con.execute(f"CREATE TEMP VIEW _spine AS {spine_sql(as_of)}")
        self.bounds: list[tuple[str, str]] = self.con.execute(f"""
            SELECT min(person_id), max(person_id) FROM (
                SELECT person_id, (row_number() OVER (ORDER BY person_id) - 1) // {int(size)} AS chunk
                FROM (SELECT DISTINCT person_id FROM _spine)) GROUP BY chunk ORDER BY chunk""").fetchall()
        n_rows, n_dates = self.con.execute("SELECT COUNT(*), COUNT(DISTINCT as_of) FROM _spine").fetchone() or (0, 0)
        self.n_rows, self.n_dates = int(n_rows), int(n_dates)

    def __len__(self) -> int:
        return len(self.bounds)

    @cached_property
    def dates(self) -> np.ndarray:
        """Every as-of date of the spine, ascending (read once: every chunk's histories use them)."""
        dates = self.con.execute("SELECT DISTINCT as_of FROM _spine ORDER BY as_of").df()["as_of"]
        return pd.to_datetime(dates).astype("datetime64[us]").to_numpy()

    def rows(self, i: int) -> pd.DataFrame:
        """Chunk i's rows: person_id, as_of, label, sorted by person and date."""
        lo, hi = self.bounds[i]
        with self.lock:  # one connection, read by the prefetching worker and the caller
            frame = self.con.execute("SELECT person_id, as_of, label FROM _spine WHERE person_id BETWEEN ? AND ? "
                                     "ORDER BY person_id, as_of, label", [lo, hi]).df()
        frame["as_of"] = pd.to_datetime(frame["as_of"]).astype("datetime64[us]")
        frame["person_id"] = frame["person_id"].astype(object)
        return frame

    def sample(self, n: int) -> pd.DataFrame:
        """At most `n` rows evenly spaced over the whole spine (by person and date), the same each run: the
        input check's sample, which the chunk size must not narrow to the first chunk."""
        with self.lock:
            frame = self.con.execute(f"""
                SELECT person_id, as_of, label FROM (
                    SELECT *, row_number() OVER (ORDER BY person_id, as_of, label) - 1 AS r FROM _spine)
                WHERE (r + 1) * {int(n)} // {max(self.n_rows, 1)} > r * {int(n)} // {max(self.n_rows, 1)}
                ORDER BY person_id, as_of, label""").df()
        frame["as_of"] = pd.to_datetime(frame["as_of"]).astype("datetime64[us]")
        frame["person_id"] = frame["person_id"].astype(object)
        return frame

    def before_joining(self) -> int:
        """How many rows are dated before their person joined (the profile's joined_at; the earliest of a
        person's versions): scored on a history that had not begun. 0 where the spec declares no joined_at."""
        if self.joined is None:
            return 0
        with self.lock:
            found = self.con.execute(f"""
                SELECT COUNT(*) FROM _spine s JOIN (
                    SELECT person_id, MIN("{self.joined.name}") AS joined FROM people GROUP BY person_id) p
                ON s.person_id = p.person_id WHERE s.as_of < p.joined""").fetchone()
        return int(found[0]) if found else 0

    def close(self) -> None:
        self.con.close()


def chunk_people(rows: pd.DataFrame) -> np.ndarray:
    """A chunk's people, sorted (its rows are)."""
    return np.asarray(rows["person_id"].unique(), dtype=object)


def string_columns(frame: pd.DataFrame) -> pa.Table:
    """Object columns as Arrow strings, so every part has one schema (a part whose reasons are all empty
    would otherwise get Arrow's null type)."""
    table = pa.Table.from_pandas(frame, preserve_index=False)
    for i, name in enumerate(table.column_names):
        if frame[name].dtype == object and not pa.types.is_string(table.schema.field(name).type):
            table = table.set_column(i, pa.field(name, pa.string()), table.column(name).cast(pa.string()))
    return table


def job_identity(model_sha256: str, fingerprint: str, s: ScoringConfig, chunks: int, rows: int) -> dict:
    """What the output is (IDENTITY): the same on every engine, so either can resume the other's job."""
    return {"format": JOB_FORMAT, "model_sha256": model_sha256, "data_fingerprint": fingerprint,
            "spine": {"as_of": str(s.as_of)} if s.as_of else {"source": "outcomes"},
            "chunk_size": s.chunk_size, "explain": s.explain, "reasons": s.reasons, "chunks": chunks, "rows": rows}


def job_record(cfg: RunConfig, fingerprint: str, model_manifest: dict) -> dict:
    """What a scoring job records of how it ran: its own settings (the data and the scoring section) and the
    model's training configuration as its artifact records it, with the data fingerprint, library versions and
    code (config.run_record). Not the whole RunConfig: its training section holds defaults the job never
    used, which read as the model's ("folds": 5 beside a model trained with 3)."""
    record = run_record(cfg, fingerprint)
    record["config"] = {"data": cfg.data, "scoring": cfg.scoring.model_dump(mode="json")}
    record["model_config"] = model_manifest.get("config") or {}
    return record


def score_batch(model_dir: Path, dataset: Dataset, out: Path, cfg: RunConfig | None = None,
                on_chunk: ChunkFn | None = None) -> dict:
    """Score every row of the spine in chunks into `out`; resumes a killed run. Returns the job manifest."""
    with job_lock(out):
        return _score_batch(model_dir, dataset, out, cfg, on_chunk)


def _score_batch(model_dir: Path, dataset: Dataset, out: Path, cfg: RunConfig | None = None,
                 on_chunk: ChunkFn | None = None) -> dict:
    cfg = cfg or RunConfig()
    s = cfg.scoring
    spine = Spine(dataset, s.as_of, s.chunk_size)
    if spine.n_rows == 0:
        spine.close()
        raise DataValidationError(str(dataset.root), "nothing to score: the data set has no outcome rows to score "
                                                     "as of their dates (their outcomes are not known yet?); give "
                                                     "--as-of DATE to score everyone as of that date")
    art = load_artifact(Path(model_dir), strict_versions=s.strict_input)  # other library versions: refused
    model = load_model(Path(model_dir))
    defs = [FeatureDef.from_dict(d) for d in art.manifest["features"]]
    check_model_features(art, dataset)
    n = len(spine)
    fingerprint = dataset.checked_fingerprint()  # a job of changed data is not the same job
    checked = check_scoring_input(art, model, defs, dataset, spine.sample(SAMPLE_ROWS), s.strict_input,
                                  spine.before_joining())
    job = Job.open(out, job_identity(art.sha256, fingerprint, s, n, spine.n_rows),
                   {**job_record(cfg, fingerprint, art.manifest), "engine": "duckdb", "input_check": checked})
    scorer = _ChunkScorer(model, defs, dataset, spine, job, fingerprint)
    tick = on_chunk or (lambda *_: None)
    pending = {i for i in range(n) if not job.done("parts", part_name(i), job.part_path(part_name(i)))}
    if n == 1 or not pending:
        scorer.hops = 0  # one chunk holds everybody (every neighbour is in it), or nothing is left to score
    elif scorer.reads_neighbours():
        for i in range(n):
            scorer.store_histories(i)
            tick("neighbour histories", i + 1, n)
        if (job.out / HISTORY_STORE).exists():
            scorer.histories = job.out / HISTORY_STORE
    if scorer.hops:
        run_stage("features", n, scorer.features_done, scorer.feature_table, scorer.store_features, tick,
                  ahead=FEATURE_BUILDS)
        for layer in range(1, scorer.state_layers + 1):
            run_stage(f"graph layer {layer}", n, partial(scorer.states_done, layer=layer),
                      partial(scorer.layer_input, layer=layer), partial(scorer.store_states, layer=layer), tick)

    def write_card(i: int, inp: ModelInput, explanation: Explanation | None = None) -> None:
        card = Scorer(model, ScoreScale(), s.reasons).report(inp, explain=s.explain, explanation=explanation)
        job.write("parts", part_name(i), job.part_path(part_name(i)), string_columns(card))

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="deepcredit-write") as writer:
        writing: deque[Future] = deque()

        def write_scores(i: int, inp: ModelInput) -> None:
            if not s.explain:  # scores alone: little to do past the model, and the cores are busy already
                write_card(i, inp)
                return
            # report cards: the reason table and the write of chunk i run beside the explanation of chunk i + 1
            explanation = model.explain(inp)
            while writing:  # one part at a time, in order; an error in the last write is raised here
                writing.popleft().result()
            writing.append(writer.submit(write_card, i, inp.own(), explanation))

        run_stage("scores", n, lambda i: i not in pending, scorer.model_input, write_scores, tick)
        while writing:
            writing.popleft().result()
    spine.close()
    for store in (FEATURE_STORE, HISTORY_STORE, STATE_STORE):
        shutil.rmtree(job.out / store, ignore_errors=True)
    return job.finish()


class _ChunkScorer:
    """Builds one chunk's ModelInput: on its own, or with its neighbours as context rows."""

    def __init__(self, model: CreditModel, defs: list[FeatureDef], dataset: Dataset, spine: Spine,
                 job: Job, fingerprint: str) -> None:
        self.defs, self.dataset, self.spine, self.job = defs, dataset, spine, job
        self.views = model_views(model)
        self.hops = graph_hops(model)
        self.layered = layer_wise_members(model)
        """Graph members run a layer at a time (kind: member), or None: context rows within their hops."""
        self.meta = {"dataset": dataset.name, "data_fingerprint": fingerprint}
        self.histories: Path | None = None
        """The job's store of neighbour histories, once built (store_histories)."""

    def _scoped(self, people: np.ndarray) -> ScopedData:
        """The chunk's data: with the stored neighbour histories, only its own events are read."""
        return ScopedData(self.dataset, people, neighbour_histories=self.histories)

    @property
    def state_layers(self) -> int:
        """The layers whose outputs are stored before scoring (every graph member's but its last)."""
        return 0 if not self.hops or not self.layered else max(graph_hops(m) for m in self.layered.values()) - 1

    def model_input(self, i: int) -> ModelInput:
        """Chunk i's bundle."""
        rows = self.spine.rows(i)
        if not self.hops:
            return build_model_input(self._scoped(chunk_people(rows)), spine=rows, views=self.views,
                                     definitions=self.defs)
        last = {kind: graph_hops(m) - 1 for kind, m in (self.layered or {}).items()}  # what each last layer reads
        return self._with_context(rows, last)

    # -- layer-wise inference: each graph member's layer outputs, one layer at a time -------------------
    def states_path(self, i: int, layer: int) -> Path:
        return self.job.out / STATE_STORE / f"layer-{layer}" / store_name(i)

    def states_done(self, i: int, layer: int) -> bool:
        path = self.states_path(i, layer)
        return self.job.done("state_parts", f"{layer}/{path.name}", path)

    def layer_input(self, i: int, layer: int) -> ModelInput:
        """Chunk i with its one-hop context and the stored outputs of layer `layer` - 1: what layer `layer`
        of every graph member reads."""
        return self._with_context(self.spine.rows(i), dict.fromkeys(self.deeper(layer), layer - 1), final=False)

    def deeper(self, layer: int) -> dict[str, CreditModel]:
        """The graph members (by kind) with a layer after `layer`: those whose layer `layer` outputs are stored."""
        assert self.layered is not None
        return {kind: m for kind, m in self.layered.items() if graph_hops(m) > layer}

    def store_states(self, i: int, inp: ModelInput, layer: int) -> None:
        """Chunk i's outputs of layer `layer` of every graph member that has a layer after it, from `inp`, its
        layer_input."""
        own = inp.tabular.frame.iloc[inp.index]
        columns = {"person_id": pa.array(own["person_id"].astype(str).to_numpy(), pa.string()),
                   "as_of": pa.array(own["as_of"].to_numpy())}
        for kind, m in self.deeper(layer).items():
            states = m.layer_states(inp, layer, (inp.node_states or {}).get(kind))  # type: ignore[attr-defined]
            columns[kind] = pa.FixedSizeListArray.from_arrays(pa.array(states.reshape(-1), pa.float32()),
                                                              states.shape[1])
        path = self.states_path(i, layer)
        self.job.write("state_parts", f"{layer}/{path.name}", path, pa.table(columns))

    def _states(self, layer: int, kinds: list[str], frame: pd.DataFrame) -> dict[str, np.ndarray]:
        """The stored outputs of layer `layer` for the rows of `frame` (ordered (as_of, person_id), as the
        feature store's are), by member kind.

        Why only this job's chunk files: a Spark run of the same job (killed, resumed here) leaves its own
        `part-*` files of the layer in the same folder; reading the folder read every row twice. The files
        read are the ones store_states wrote and recorded in `state_parts` (run_stage made each before any
        is read)."""
        files = [str(self.states_path(i, layer)) for i in range(len(self.spine))]
        store = pads.dataset(files, format="parquet")
        wanted = pads.field("person_id").isin(pa.array(frame["person_id"].astype(str).unique(), pa.string())) & \
            pads.field("as_of").isin(pa.array(pd.DatetimeIndex(frame["as_of"].unique()).astype("datetime64[us]")))
        table = store.to_table(filter=wanted).sort_by([("as_of", "ascending"), ("person_id", "ascending")])
        keys = table.select(["person_id", "as_of"]).to_pandas()
        if len(keys) != len(frame) or \
                not (keys["person_id"].to_numpy() == frame["person_id"].astype(str).to_numpy()).all():
            raise RuntimeError(f"{self.job.out}: internal error: the stored layer {layer} outputs ({len(keys)} rows) "
                               f"do not match the stored features ({len(frame)} rows); please report it")
        return {kind: table[kind].combine_chunks().flatten().to_numpy().reshape(len(table), -1) for kind in kinds}

    # -- neighbour histories: each person's once, read by every chunk that has them as a neighbour -------
    def reads_neighbours(self) -> bool:
        """Whether the features read neighbours' events, and the spine's dates are few enough to store
        every person's history at each (MAX_HISTORY_DATES)."""
        return any(d.source is Source.NEIGHBOURS for d in self.defs) and self.spine.n_dates <= MAX_HISTORY_DATES

    def store_histories(self, i: int) -> None:
        path = self.job.out / HISTORY_STORE / store_name(i)
        if self.job.done("history_parts", path.name, path):
            return
        people, dates = chunk_people(self.spine.rows(i)), self.spine.dates
        spine = pd.DataFrame({"person_id": np.repeat(people, len(dates)), "as_of": np.tile(dates, len(people))})
        with closing(open_session(ScopedData(self.dataset, people, own_events=True, relations=False), spine)) as session:
            table = neighbour_histories(session)
        if table is not None:
            self.job.write("history_parts", path.name, path, table)

    # -- graph members: features stored first, then each chunk with its neighbours as context ------------
    def features_path(self, i: int) -> Path:
        return self.job.out / FEATURE_STORE / store_name(i)

    def features_done(self, i: int) -> bool:
        return self.job.done("feature_parts", store_name(i), self.features_path(i))

    def feature_table(self, i: int) -> pa.Table:
        """Chunk i's features, as stored."""
        rows = self.spine.rows(i)
        ff = build_features(self._scoped(chunk_people(rows)), self.defs, spine=rows)
        return pa.Table.from_pandas(ff.frame, preserve_index=False)

    def store_features(self, i: int, table: pa.Table) -> None:
        """Chunk i's features (its feature_table) into the job's store."""
        self.job.write("feature_parts", store_name(i), self.features_path(i), table)

    def _stored(self, people: np.ndarray, dates: np.ndarray) -> pd.DataFrame:
        """The stored features of these people on these as-of dates (every spine row the store holds),
        ordered (as_of, person_id) like the engine's; filtered and sorted in Arrow, so one pandas copy."""
        store = pads.dataset(str(self.job.out / FEATURE_STORE), format="parquet")
        wanted = pads.field("person_id").isin(pa.array(list(people), pa.string())) & \
            pads.field("as_of").isin(pa.array(pd.DatetimeIndex(dates).astype("datetime64[us]")))
        table = store.to_table(filter=wanted).sort_by([("as_of", "ascending"), ("person_id", "ascending")])
        frame = table.to_pandas()
        for d in self.defs:  # one category set over all rows, as when the engine builds them at once
            if d.kind is not Kind.NUMERIC and d.name in frame:
                frame[d.name] = frame[d.name].astype(object).astype("category")
        return frame

    def _with_context(self, own: pd.DataFrame, layers: dict[str, int] | None = None, final: bool = True
                      ) -> ModelInput:
        """Chunk `own`'s bundle with its neighbours as context rows: within the members' hops, or, layer-wise
        (`layers`: the stored layer each graph member reads, by kind; 0 the node inputs), one hop with those
        layers' outputs for every row. final: a bundle to score (with sequences), else for a layer's states."""
        people = chunk_people(own)
        hops = 1 if self.layered else self.hops
        inner = neighbourhood(self.dataset, people, hops - 1)  # whose messages the members read
        ball = neighbourhood(self.dataset, inner, 1)  # and the one hop further that sends them
        frame = self._stored(ball, own["as_of"].unique())
        defs = [d for d in self.defs if d.name in frame.columns]
        tabular = FeatureFrame(frame, defs, self.meta)
        positions = np.flatnonzero(frame["person_id"].isin(people).to_numpy())
        # the graph: every message into the inner people (all the members' layers read), over the ball
        inner_rows = frame.loc[frame["person_id"].isin(inner), ["person_id", "as_of", "label"]]
        with closing(open_session(ScopedData(self.dataset, inner, own_events=True), inner_rows, inline=True)
                     ) as session:
            session.con.register("_ball_rows", pa.table({"person_id": pa.array(frame["person_id"], pa.string()),
                                                         "as_of": pa.array(frame["as_of"].to_numpy()),
                                                         "row_id": pa.array(np.arange(len(frame)))}))
            graph = build_graph(session, nodes="SELECT person_id, as_of, row_id FROM _ball_rows")
        states: dict[str, np.ndarray] = {}
        for layer in sorted(set((layers or {}).values()) - {0}):
            states.update(self._states(layer, [k for k, v in (layers or {}).items() if v == layer], frame))
        sequences = None
        if final and "temporal" in self.views:
            with closing(open_session(ScopedData(self.dataset, people, own_events=True, relations=False), own,
                                      inline=True)) as own_session:
                mine = build_sequences(own_session)
            sequences = scatter(mine, positions, len(frame)) if mine is not None else None  # no events declared
        return ModelInput(tabular, sequences, graph, rows=positions, node_states=states or None)


def scatter(seq: Sequences, positions: np.ndarray, n: int) -> Sequences:
    """A chunk's sequences placed at its rows among n rows; context rows stay empty (no member reads a
    context row's history). np.zeros is lazily mapped, so empty rows cost no resident memory."""
    L, f = seq.kind.shape[1], seq.numeric.shape[2]
    out = replace(seq, kind=np.zeros((n, L), np.int64), status=np.zeros((n, L), np.int64),
                  numeric=np.zeros((n, L, f), np.float32), lengths=np.zeros(n, np.int64))
    out.kind[positions], out.status[positions] = seq.kind, seq.status
    out.numeric[positions], out.lengths[positions] = seq.numeric, seq.lengths
    return out


def read_scores(out: Path, columns: list[str] | None = None) -> pd.DataFrame:
    """The job's scores (all parts, in order)."""
    return pd.read_parquet(Path(out), columns=columns)
