"""One serialisable run configuration for train, score, evaluate and benchmark.

Why one object: a result is only reproducible when everything that shaped it (data, split, members, their
parameters, seeds, scoring settings) is written down beside it. The same RunConfig is read from a TOML or
JSON file (`--config FILE`), overridden by command-line options, and written into every artifact's
manifest (config) and as config.json beside every artifact and result, with the data fingerprint and the
library versions.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from deepcredit.data.dataset import is_recorded_data
from deepcredit.data.io import atomic_write_bytes, code_record, library_versions
from deepcredit.data.validate import DataValidationError

CONFIG_FILE = "config.json"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SplitConfig(_Strict):
    """Which labelled rows are held out of training: none, a stratified hold-out grouped by person, or
    every row with as_of on or after `test_from` (a time split)."""

    kind: Literal["none", "holdout", "time"] = "none"
    fraction: float = Field(default=0.3, gt=0.0, lt=1.0)
    seed: int | None = None
    """The hold-out's seed (None: the run's seed)."""
    test_from: date | None = None

    @model_validator(mode="after")
    def _time_needs_date(self) -> SplitConfig:
        if self.kind == "time" and self.test_from is None:
            raise ValueError("a time split needs test_from (a date)")
        return self


class StackConfig(_Strict):
    folds: int = Field(default=5, ge=2)
    calibration: Literal["isotonic", "platt", "none"] = "isotonic"
    time_groups: int = Field(default=1, ge=1)
    """Person groups crossed with the stack's time folds (1: each fold trains on every earlier row)."""
    min_gain: float = 0.0
    """Validation AUC the blend must gain over the best member, else the stack is that member."""
    min_gain_se: float = Field(default=0.0, ge=0)
    """The blend's gain must also exceed this many bootstrap standard errors (0: off)."""
    temporal: bool = False
    """Off by default until it is measured to add lift (UCI +0.0003 AUC at twice the fit time; on OTC its
    embeddings lowered GBDT: docs/benchmarks.md). The temporal path: self-supervised pretraining on every person's event history (labelled or not), its
    embeddings as GBDT / Wide & Deep features and as the recurrent members' starting weights, and the hybrid
    member. False gives the stack without it (StackModel(temporal=...))."""
    pretrain: dict[str, Any] = {}
    """Pretraining settings (models.pretrain.PretrainSettings), e.g. {"epochs": 3, "dim": 16}."""
    n_jobs: int | None = None
    """Processes the member fits run on side by side (None: every core from 10,000 training rows, one below;
    -1: every core). The fitted stack should be the same whatever it is (models/parallel.py)."""


class ScoringConfig(_Strict):
    reasons: int = Field(default=4, ge=0)
    explain: bool = True
    chunk_size: int = Field(default=100_000, ge=1)
    """People per chunk in batch scoring: peak memory follows this, not the population."""
    as_of: date | None = None
    strict_input: bool = False
    """Refuse data that does not match the model (scoring/input_check.py) instead of warning."""


class RunConfig(_Strict):
    data: str | None = None
    """A data set directory, or a bundled name (uci, otc)."""
    split: SplitConfig = SplitConfig()
    model: str = "stack"
    """'stack', or one member kind trained on its own."""
    members: list[str] | None = None
    """The stack's member kinds (None: every implemented one)."""
    exclude_members: list[str] = []
    exclude_dimensions: list[str] = []
    exclude_features: list[str] = []
    member_params: dict[str, dict[str, Any]] = {}
    """Constructor arguments per member kind, e.g. {"scorecard": {"iv_min": 0.01}}."""
    stack: StackConfig = StackConfig()
    seed: int = 0
    scoring: ScoringConfig = ScoringConfig()

    @field_validator("members", "exclude_members", "exclude_dimensions", "exclude_features", mode="before")
    @classmethod
    def _comma_list(cls, v: Any) -> Any:
        """'a, b' from a command line reads as ['a', 'b']."""
        if isinstance(v, str):
            return [x.strip() for x in v.split(",") if x.strip()]
        return v

    def to_dict(self) -> dict:
        return self.model_dump(mode="json")


def load_config(path: Path) -> RunConfig:
    """A RunConfig from a TOML (.toml) or JSON file; errors name the file and the field."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such config file")
    text = path.read_text()
    try:
        raw = tomllib.loads(text) if path.suffix.lower() == ".toml" else json.loads(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        raise DataValidationError(str(path), f"unreadable config ({exc})") from None
    if isinstance(raw, dict) and "artifact_format" in raw:
        raise DataValidationError(str(path), f"this is an artifact's manifest, not a run config: pass the "
                                             f"{CONFIG_FILE} beside it (--config {path.parent / CONFIG_FILE})")
    if isinstance(raw, dict) and isinstance(raw.get("config"), dict):
        raw = raw["config"]  # a config.json written beside an artifact or result
    return _validated(raw, str(path))


def _validated(raw: Any, where: str) -> RunConfig:
    try:
        return RunConfig.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"]) or None
        raise DataValidationError(where, err["msg"], column=field) from None


def set_path(tree: dict, dotted: str, value: Any) -> None:
    """tree['a']['b'] = value for 'a.b', creating the levels on the way."""
    *parents, leaf = dotted.split(".")
    for p in parents:
        tree = tree.setdefault(p, {})
    tree[leaf] = value


def with_overrides(cfg: RunConfig, overrides: dict[str, Any]) -> RunConfig:
    """cfg with dotted keys replaced ({'split.kind': 'time', 'stack.folds': 3}); None values are ignored, so
    command-line options that were not given leave the file's values."""
    tree = cfg.to_dict()
    for key, value in overrides.items():
        if value is not None:
            set_path(tree, key, value)
    return _validated(tree, "command-line options")


def parse_member_params(items: list[str]) -> dict[str, dict[str, Any]]:
    """['scorecard.iv_min=0.01', 'gbdt.n_estimators=300'] -> {'scorecard': {'iv_min': 0.01}, ...}.

    A value is read as JSON when it parses (numbers, true/false, lists), else as a string."""
    out: dict[str, dict[str, Any]] = {}
    for item in items:
        key, sep, value = item.partition("=")
        kind, dot, param = key.strip().partition(".")
        if not sep or not dot or not kind or not param:
            raise ValueError(f"--member-param expects KIND.PARAM=VALUE, got {item!r}")
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError:
            parsed = value
        out.setdefault(kind, {})[param] = parsed
    return out


def merge_member_params(base: dict[str, dict[str, Any]], extra: dict[str, dict[str, Any]]) -> dict:
    out = {k: dict(v) for k, v in base.items()}
    for kind, params in extra.items():
        out.setdefault(kind, {}).update(params)
    return out


def run_record(cfg: RunConfig, data_fingerprint: str = "", data_path: str | None = None,
               other_data: dict | None = None) -> dict:
    """What is written beside an artifact or result: the config (its `data` as typed), the data set's absolute
    path (`data_path`: a typed relative path or bundled name resolves against the working directory), the
    data fingerprint, library versions and the code (its source fingerprint and the Python version: the
    package version names no commit). other_data: where a re-creation was allowed to train on data other
    than its config's, the config's recorded data (OTHER_DATA)."""
    record = {"config": cfg.to_dict(), "data_fingerprint": data_fingerprint, "versions": library_versions(),
              "code": code_record()}
    if data_path is not None:
        record["data_path"] = data_path
    if other_data:
        record[OTHER_DATA] = dict(other_data)
    return record


OTHER_DATA = "other_data_than_config"
"""The key under which an artifact re-created from a config on other data records the config's data."""


class OtherDataError(ValueError):
    """A re-creation from a recorded config was given data with another fingerprint than the recorded one."""


def check_recorded_data(recorded: dict, fingerprints: Sequence[str],
                        allow_other_data: bool = False) -> dict | None:
    """None where the recorded run (recorded_run) names no data fingerprint or one the data are known by
    (`fingerprints`: Dataset.fingerprints, its own first; is_recorded_data); else refused
    (OtherDataError, naming both fingerprints), unless allow_other_data: then what the artifact records of
    the config's data (its fingerprint and path), since the model re-created is not the recorded one."""
    was = recorded.get("data_fingerprint")
    if is_recorded_data(was, fingerprints) or not was:  # compared first: a bare str is refused even unrecorded
        return None
    given = fingerprints[0]
    other = {"config_data_fingerprint": was, "config_data_path": recorded.get("data_path"),
             "data_fingerprint": given}
    if allow_other_data:
        return other
    where = f" at {recorded['data_path']}" if recorded.get("data_path") else ""
    raise OtherDataError(f"the data given (fingerprint {given}) are not the data the config was "
                         f"recorded with (fingerprint {was}{where}): a model re-created from them would not be "
                         "the recorded one; give the recorded data, or --allow-other-data to train on these "
                         "anyway (the artifact then records that its data are not its config's)")


def recorded_run(path: Path) -> dict:
    """The data fingerprint, library versions and code a run record (a config.json written beside an artifact or
    result) holds, {} for a config file written by hand: what a re-run from it is compared with."""
    try:
        raw = json.loads(Path(path).read_text()) if Path(path).suffix.lower() == ".json" else None
    except (OSError, json.JSONDecodeError):
        return {}
    if not isinstance(raw, dict) or not isinstance(raw.get("config"), dict):
        return {}
    return {k: raw[k] for k in ("data_fingerprint", "data_path", "versions", "code") if raw.get(k)}


def record_differences(recorded: dict, fingerprints: Sequence[str],
                       versions: dict[str, str] | None = None, code: dict[str, str] | None = None) -> list[str]:
    """Notes saying how this run's data and libraries differ from a recorded run's (none when they agree or
    nothing is recorded): a re-run on other data or versions need not reproduce the recorded result.
    `fingerprints`: those the data are known by, as check_recorded_data."""
    notes = []
    was = recorded.get("data_fingerprint")
    if not is_recorded_data(was, fingerprints) and was:  # compared first, as in check_recorded_data
        given = fingerprints[0]
        notes.append(f"note: the data differ from those of the recorded run (fingerprint {given[:12]}, "
                     f"recorded {was[:12]}): the result will not reproduce it")
    now = library_versions() if versions is None else versions
    changed = [f"{name} {now.get(name, 'not installed')} (recorded {v})"
               for name, v in sorted((recorded.get("versions") or {}).items()) if now.get(name) != v]
    if changed:
        notes.append("note: library versions differ from the recorded run's: " + ", ".join(changed))
    was_code, now_code = recorded.get("code") or {}, code_record() if code is None else code
    if was_code.get("fingerprint") and was_code["fingerprint"] != now_code.get("fingerprint"):
        notes.append(f"note: DeepCredit's code differs from the recorded run's (fingerprint "
                     f"{now_code.get('fingerprint', '')[:12]}, recorded {was_code['fingerprint'][:12]}): the result "
                     "need not reproduce it")
    if was_code.get("python") and was_code["python"] != now_code.get("python"):
        notes.append(f"note: Python {now_code.get('python')} (recorded {was_code['python']})")
    return notes


def write_run_record(directory: Path, cfg: RunConfig, data_fingerprint: str = "") -> Path:
    path = Path(directory) / CONFIG_FILE
    atomic_write_bytes(path, run_record_file(cfg, data_fingerprint)[CONFIG_FILE])
    return path


def run_record_file(cfg: RunConfig, data_fingerprint: str = "", data_path: str | None = None,
                    other_data: dict | None = None) -> dict[str, bytes]:
    """The run record as the file a model artifact is written with ({config.json: bytes}, as
    write_run_record writes it): inside the artifact, so its manifest hash-checks it."""
    text = json.dumps(run_record(cfg, data_fingerprint, data_path, other_data), indent=2, sort_keys=True,
                      default=str) + "\n"
    return {CONFIG_FILE: text.encode("utf-8")}
