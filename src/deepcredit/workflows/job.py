"""A scoring job's directory: its manifest, its lock, its commit records and the atomic publication of the
finished result. Both engines (workflows/score.py, workflows/spark_score.py) run their jobs through it.

While a job runs, OUT holds `_job.json` ("complete": false), its score parts in OUT/_parts, a Spark run's
commit records in OUT/_commits and the stores of graph members; `pandas.read_parquet(OUT)` skips those
names, so it finds no part, and read_scores_file refuses the job as unfinished.

Why publish with renames of whole directories: moving the parts into OUT one by one let a kill (or a
reader polling OUT) land between two of them and see some parts but not all, which read as a complete
result. Job.finish instead writes the complete manifest into OUT/_parts, renames OUT/_parts to the
sibling `.OUT.publishing`, OUT to `.OUT.retiring` and `.OUT.publishing` to OUT, then removes
`.OUT.retiring`. Each step is one rename, so a reader of OUT sees the unfinished job, no OUT (between the
two last renames), or the whole result; the next run completes a swap a kill interrupted (recover).

Why a lock: two runs into one OUT raced on `_job.json` and the renames (one died with a bare "No such file
or directory"); the second now gets one clear error naming the first's pid. It is an flock on the sibling
`.OUT.lock`, released by the kernel when its holder dies, so a killed run leaves no lock behind.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from deepcredit.data.errors import DataValidationError
from deepcredit.data.io import atomic_write_json, atomic_write_parquet, file_sha256, output_lock

JOB = "_job.json"
PENDING = "_parts"
"""Where the score parts wait until every chunk is done (Job.finish publishes them as OUT)."""
COMMITS = "_commits"
"""A Spark task's record of the part it wrote (`part-NNNNN.parquet.json`: rows, sha256)."""
JOB_FORMAT = 1
IDENTITY = ("format", "model_sha256", "data_fingerprint", "spine", "chunk_size", "explain", "reasons",
            "chunks", "rows")
"""What makes two runs the same job: a rerun resumes only when all of these agree."""
PROGRESS = ("parts", "feature_parts", "history_parts", "state_parts", "complete")
"""What a run carries over from the one it resumes; the rest of the record (engine, settings) is the
current run's, so a job finished by another engine than it started on says which one finished it."""


def sibling(out: Path, role: str) -> Path:
    """`.OUT.<role>` beside OUT: on OUT's file system, so renames between them are atomic."""
    out = Path(out).absolute()  # `--out .` has no name of its own
    return out.with_name(f".{out.name}.{role}")


@contextmanager
def job_lock(out: Path) -> Iterator[None]:
    """Hold `.OUT.lock` for the job's whole run (data.io.output_lock, the lock of every output directory); a
    second run into OUT is refused with the holder's pid, even from the same thread."""
    with output_lock(out, "another `deepcredit score` run (pid {pid}) is writing this job: wait for it to finish "
                          "(then rerun to get its result), or choose another --out", join=False):
        yield


DAMAGED = ("this scoring job's record cannot be read ({why}), so the job cannot be resumed: remove the folder "
           "{out} and score again, or score into a new --out")
"""What is said of a `_job.json` that does not parse (read_job), by score and by monitor alike."""


def read_job(out: Path) -> dict:
    """OUT's job manifest (`_job.json`). One that does not parse (truncated, edited) is DataValidationError
    naming the file and what to do (DAMAGED).

    Why: a truncated manifest made monitor say "run the same `deepcredit score` again", and score then died
    with a bare "Unterminated string starting at: line 16 column 5", naming no file and no remedy."""
    path = Path(out) / JOB
    try:
        job = json.loads(path.read_bytes())
    except ValueError as exc:  # json.JSONDecodeError, UnicodeDecodeError
        why = f"not valid JSON at line {exc.lineno}, column {exc.colno}: cut short or edited" \
            if isinstance(exc, json.JSONDecodeError) else "not UTF-8 text"
        raise DataValidationError(str(path), DAMAGED.format(why=why, out=out)) from None
    if not isinstance(job, dict):
        raise DataValidationError(str(path), DAMAGED.format(why="not a JSON object", out=out))
    return job


def recover(out: Path) -> None:
    """Complete a publication (Job.finish) that a kill interrupted; called under the job's lock."""
    out = Path(out)
    ready, retiring = sibling(out, "publishing"), sibling(out, "retiring")
    if ready.is_dir():
        if not read_job(ready).get("complete"):
            raise RuntimeError(f"{ready}: not a finished scoring job: remove it")  # finish writes it complete first
        if out.exists():
            shutil.rmtree(retiring, ignore_errors=True)
            os.replace(out, retiring)
        os.replace(ready, out)
    shutil.rmtree(retiring, ignore_errors=True)


def unfinished(out: Path) -> str | None:
    """Why OUT is not (yet) a scoring job's result, or None: it is one, or no job's directory at all."""
    out = Path(out)
    if not out.exists() and sibling(out, "publishing").exists():
        return "a scoring job whose finish was interrupted: run the same `deepcredit score` again to complete it"
    if not (out / JOB).is_file():
        return None
    try:
        job = read_job(out)
    except DataValidationError as exc:
        return exc.problem  # what score says of it too: remove the folder, or score into a new --out
    except OSError as exc:
        return f"a scoring job whose {JOB} cannot be read ({exc.strerror})"
    if job.get("complete"):
        return None
    return (f"an unfinished scoring job ({len(job.get('parts', {}))} of {job.get('chunks', '?')} chunks scored; "
            f"its {JOB} says complete: false): run the same `deepcredit score` again to finish it")


def recorded_rows(out: Path) -> int | None:
    """The rows a finished job's manifest records, or None where OUT is no job's directory."""
    try:
        job = read_job(out)
    except (OSError, ValueError):
        return None
    return int(job["rows"]) if "rows" in job else None


@dataclass
class Job:
    """The job manifest in memory; `record` writes it after every finished part. Open it under job_lock."""

    out: Path
    manifest: dict

    @classmethod
    def open(cls, out: Path, identity: dict, record: dict) -> Job:
        out = Path(out)
        if out.exists() and not out.is_dir():
            raise ValueError(f"{out}: exists and is not a scoring job directory (batch scores are a directory "
                             "of part files): choose another --out")
        recover(out)
        path = out / JOB
        if path.exists():
            old = read_job(out)
            diff = [k for k in IDENTITY if old.get(k) != identity[k]]
            if diff:
                raise ValueError(f"{out}: holds another scoring job (it differs in {', '.join(diff)}); "
                                 "choose another --out, or remove it")
            if old.get("complete"):
                done = cls(out, old)
                lost = {n for n in old.get("parts", {}) if not done.done("parts", n, done.part_path(n))}
                if not lost:
                    return done
                # a part of the finished job is missing or changed: score it again and publish anew, as a
                # resumed job (a rerun that trusted the record said it wrote rows that were not there)
                old = {**old, "complete": False, "parts": {n: e for n, e in old["parts"].items() if n not in lost}}
            job = cls(out, {**identity, **record, **{k: old[k] for k in PROGRESS if k in old}})
            job.save()
            collect_commits(job)
            return job
        if out.exists() and any(p.name.startswith("part-") for p in out.iterdir()):
            raise ValueError(f"{out}: has part files but no {JOB}: choose another --out, or remove it")
        job = cls(out, {**identity, **record, "parts": {}, "feature_parts": {}, "complete": False})
        job.save()
        collect_commits(job)  # a job of this identity whose _job.json was lost is still found by its records
        return job

    def save(self) -> None:
        atomic_write_json(self.out / JOB, self.manifest)

    def done(self, kind: str, name: str, path: Path) -> bool:
        """A part recorded in the manifest whose file is there with its recorded hash."""
        entry = self.manifest.setdefault(kind, {}).get(name)
        return entry is not None and path.exists() and file_sha256(path) == entry["sha256"]

    def part_path(self, name: str) -> Path:
        """Where score part `name` is, or is to be written: in OUT once published (a complete job, or a
        job written before parts waited), else in OUT/_parts."""
        final = self.out / name
        return final if final.exists() or self.manifest.get("complete") else self.out / PENDING / name

    def write(self, kind: str, name: str, path: Path, table: pa.Table) -> None:
        if kind == "parts":
            self._same_columns(table.column_names)
        atomic_write_parquet(path, table)
        self.record(kind, name, {"rows": table.num_rows, "sha256": file_sha256(path)})

    def _same_columns(self, columns: list[str]) -> None:
        """Refuse a score part whose columns differ from the job's earlier parts.

        Why: a job started by one DeepCredit and resumed by a newer one that writes more columns (the
        `<dimension>_no_record` flags, say) mixed parts of both, and a reader took the missing flags for
        false. The columns are those the manifest records, else (a job started before they were recorded)
        those of a part already written."""
        recorded = self.manifest.get("columns")
        if recorded is None:
            written = [n for n in sorted(self.manifest.get("parts", {})) if self.part_path(n).exists()]
            recorded = pq.read_schema(self.part_path(written[0])).names if written else list(columns)
            self.manifest["columns"] = recorded
        if list(columns) != recorded:
            new, gone = sorted(set(columns) - set(recorded)), sorted(set(recorded) - set(columns))
            change = "; ".join([*(["with " + ", ".join(new)] if new else []),
                                *(["without " + ", ".join(gone)] if gone else [])]) or "in another order"
            raise ValueError(f"{self.out}: this job's earlier parts were written with other columns (now {change}), "
                             "by another version of DeepCredit: remove it, or choose another --out, and score again")

    def record(self, kind: str, name: str, entry: dict) -> None:
        """A part committed (on disk under its final name): listed, and the manifest written."""
        self.manifest.setdefault(kind, {})[name] = entry
        self.save()

    def finish(self) -> dict:
        """Publish the finished job as OUT in renames of whole directories (module docstring)."""
        if self.manifest.get("complete"):
            return self.manifest
        pending, parts = self.out / PENDING, set(self.manifest.get("parts", {}))
        pending.mkdir(exist_ok=True)
        for name in sorted(parts):  # a job written before parts waited in _parts has them in OUT
            if (self.out / name).exists():
                os.replace(self.out / name, pending / name)
        for path in pending.iterdir():  # a temporary a killed write left there
            if path.name not in parts:
                shutil.rmtree(path) if path.is_dir() else path.unlink()
        published = Job(pending, {**self.manifest, "complete": True})
        published.save()
        ready = sibling(self.out, "publishing")
        os.replace(pending, ready)
        recover(self.out)
        self.manifest = published.manifest
        return self.manifest


def collect_commits(job: Job) -> None:
    """List in the manifest every part a Spark run (perhaps killed) committed whose record and file agree,
    so either engine resumes without scoring it again."""
    for path in sorted((job.out / COMMITS).glob("part-*.json")):
        entry = json.loads(path.read_text())
        name = path.name.removesuffix(".json")
        part = job.part_path(name)
        if not job.done("parts", name, part) and part.exists() and file_sha256(part) == entry["sha256"]:
            job.record("parts", name, entry)
