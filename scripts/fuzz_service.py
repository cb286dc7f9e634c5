"""Contract fuzzing of the scoring service with Schemathesis, over the whole OpenAPI document, on loopback.

    python scripts/fuzz_service.py --minutes 20                 # the documented long run -> docs/results/fuzz.json
    python scripts/fuzz_service.py --examples 10 --out x.json  # the bounded CI mode (tests/security)

What it does: simulates a small world, fits a small scorecard, runs `serve-init`'s initialisation, registers
two merchants (policies for every scenario) and a person who granted the first one consent, starts
`deepcredit serve`'s application under uvicorn on a free loopback port, then runs `schemathesis run` with
every phase (examples, coverage, fuzzing, stateful) and every check until the time budget is spent.

Why the steering: a fuzzer left alone never gets past "policy not found" or "no consent", so the decision
logic would never run. This file is also Schemathesis's hooks module (SCHEMATHESIS_HOOKS=fuzz_service):
each request gets the credential of its role (merchant key, person token or operator key, by the
operation's tag), and half the generated bodies of the consent, decision, event and dispute operations are
pointed at the real merchant, person, policies and orders, so admit/decline, scopes, replays, conflicts and
re-scoring are all reached. The OpenAPI links (policy -> decision -> event, consent -> revoke, dispute ->
review -> resolve) drive the stateful phase.

Output (JSON): requests, operations, server_errors, schema_violations, failures by check, the duration.
The exit status is 1 if anything failed.
"""

from __future__ import annotations

import atexit
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import schemathesis
from hypothesis import strategies as st
from service_world import build_service, serve

ROOT = Path(__file__).resolve().parents[1]
ENV_CREDS = "FUZZ_CREDENTIALS"
ENV_COUNTS = "FUZZ_COUNTS"
STATE_RULES = ("/invalid-consent", "/invalid-event", "/invalid-correction", "/unknown-purpose", "/due-before-order",
               "/limits-out-of-order")
"""Problem types of rules about the clock or about two fields together (service/consent.py,
service/events.py: an amount paid above the amount owed), about the record a
dispute names (service/disputes.py: an event takes remove or restatus with one of the data set's statuses,
a profile attribute a value of its declared type), about the merchant's policies (a consent names a purpose
one of them uses), about the order an outcome concludes, or about the order of a pay-later policy's limits
(never decreasing from the lowest band to the highest: JSON Schema cannot compare two values), not about a
body's shape."""

# -- the hooks (run inside `schemathesis run`) ----------------------------------------------------------

_creds = json.loads(os.environ.get(ENV_CREDS, "{}"))
_counts: Counter = Counter()
_server_errors: Counter = Counter()


def _role(operation) -> str:
    tags = operation.tags or []
    return {"operator": "admin", "person": "person"}.get(tags[0] if tags else "", "merchant")


if _creds:
    @schemathesis.auth()
    class RoleAuth:
        """The credential of the operation's caller: operator key, person token or merchant key."""

        def get(self, case, ctx):
            return _creds

        def set(self, case, data, ctx):
            case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data[_role(case.operation)]}"}

    def _steer(operation, body):
        """A body pointed at the real merchant, person, policies and orders (see the module docstring)."""
        if not isinstance(body, dict):
            return None
        key = (operation.method.upper(), operation.path)
        if key == ("POST", "/v1/decisions"):
            return {**body, "person_id": _creds["person_id"], "policy": st.sampled_from(_creds["policies"])}
        if key == ("POST", "/v1/events"):
            return {**body, "person_id": _creds["person_id"], "decision_id": st.sampled_from([None, 1, 2, 3]),
                    "occurred_at": None}
        if key == ("POST", "/v1/me/consents"):
            return {**body, "merchant_id": _creds["merchant_id"], "purpose": st.sampled_from(_creds["purposes"]),
                    "expires_at": _creds["expires_at"]}
        if key == ("POST", "/v1/me/disputes"):
            return {**body, "event_id": st.sampled_from(["s1", "s2", "s3", "b1"])}
        if key in {("POST", "/v1/admin/erasures"), ("POST", "/v1/admin/person-tokens")}:
            # real people with connections, none of the callers (others are an unknown-person 404)
            return {**body, "person_id": st.sampled_from(_creds["erasable"])}
        return None

    def _examples() -> dict[tuple[str, str], list[dict]]:
        """Request examples for the steered operations: the examples phase runs them first, in every mode."""
        c = _creds
        decide = [{"transaction_id": f"example-{p}-{inc}", "person_id": c["person_id"], "policy": p, "include": inc}
                  for p in c["policies"] for inc in ("admittance", "band", "score", "factors")]
        return {
            ("post", "/v1/decisions"): decide,
            ("post", "/v1/events"): [{"transaction_id": "example-event", "person_id": c["person_id"],
                                      "outcome": "rental_returned_on_time", "amount": 25}],
            ("post", "/v1/me/consents"): [{"merchant_id": c["merchant_id"], "scope": "band", "mode": "standing",
                                           "purpose": c["purposes"][0], "expires_at": c["expires_at"]}],
            ("post", "/v1/me/disputes"): [{"event_id": "s1", "reason": "I returned it on time."},
                                          {"attribute": "income", "reason": "My income went up."}],
            ("post", "/v1/admin/erasures"): [{"person_id": c["erasable"][1]}],
        }

    @schemathesis.hook
    def before_load_schema(ctx, raw_schema):
        for (method, path), bodies in _examples().items():
            op = raw_schema.get("paths", {}).get(path, {}).get(method)
            if op is None:
                continue
            media = op["requestBody"]["content"]["application/json"]
            media["examples"] = {f"steered{i}": {"value": body} for i, body in enumerate(bodies)}

    def _positive(case) -> bool:
        generation = getattr(getattr(case, "meta", None), "generation", None)
        return getattr(generation, "mode", None) == schemathesis.GenerationMode.POSITIVE

    @schemathesis.hook
    def flatmap_case(ctx, case):
        """Half the positive cases of the steered operations, pointed at the real callers and orders.

        Only positive ones: a negative case must stay invalid, or "invalid data accepted" would be reported.
        """
        steered = _steer(case.operation, case.body) if _positive(case) else None
        if steered is None:
            return st.just(case)
        fixed = st.fixed_dictionaries({k: v if isinstance(v, st.SearchStrategy) else st.just(v)
                                       for k, v in steered.items()})

        def with_body(body):  # the case is this example's own: set its body in place
            case.body = {k: v for k, v in body.items() if v is not None}
            return case

        return st.one_of(fixed.map(with_body), st.just(case))

    @schemathesis.hook
    def before_call(ctx, case, kwargs):
        """Never rotate or disable the fuzzing merchant, revoke the person's first consents, erase a caller or
        issue one a new token (which revokes theirs) (in any phase): every later call would be a 401 or a 403,
        and the decision logic would not be reached again."""
        if case.operation.path in {"/v1/admin/erasures", "/v1/admin/person-tokens"} and isinstance(case.body, dict) and \
                str(case.body.get("person_id")) in {_creds["person_id"], *_creds["crowd"]}:
            case.body = {**case.body, "person_id": _creds["erasable"][0]}
        params = case.path_parameters or {}
        if params.get("merchant_id") == _creds["merchant_id"]:
            case.path_parameters = {**params, "merchant_id": _creds["decoy_merchant_id"]}
        elif params.get("consent_id") in _creds["consent_ids"]:
            case.path_parameters = {**params, "consent_id": "cns_" + "0" * 22}  # well formed, names no consent

    @schemathesis.hook
    def filter_failure(ctx, failure, case, response):
        """A schema-valid body refused by a rule about time or state, which no schema can state, is no failure.

        These are the documented 422s about the clock (a consent's expiry in the past or beyond the maximum,
        an outcome in the future or over five years ago) and about the disputed record (a correction that does
        not fit it); every other rejection of a valid body still counts.
        """
        if type(failure).__name__ != "RejectedPositiveData" or response.status_code != 422:
            return True
        try:
            kind = str(json.loads(response.content).get("type", ""))
        except (ValueError, AttributeError):
            return True
        return not kind.endswith(STATE_RULES)

    @schemathesis.hook
    def after_call(ctx, case, response):
        _counts["requests"] += 1
        _counts[f"{case.operation.method.upper()} {case.operation.path} {response.status_code}"] += 1
        if os.environ.get("FUZZ_TRACE"):
            print("TRACE", case.operation.path, response.status_code, case.body, response.text[:200], flush=True)
        if response.status_code >= 500:
            _server_errors[f"{case.operation.method.upper()} {case.operation.path}"] += 1

    def _dump() -> None:
        path = os.environ.get(ENV_COUNTS)
        if path:
            Path(path).write_text(json.dumps({"counts": dict(_counts), "server_errors": dict(_server_errors)}))

    atexit.register(_dump)


# -- the driver ------------------------------------------------------------------------------------------

FAILURE_LINE = re.compile(r"^\s*\S+\s+(ST\d+) (.+?): (\d+)\s*$")
SCHEMA_VIOLATION, SERVER_ERROR = "ST108", "ST101"


def _failures(summary: str) -> dict[str, int]:
    """Failures by Schemathesis code and title, from the run's summary ("❌ ST108 Response violates schema: 3")."""
    out: dict[str, int] = {}
    for line in summary.split("Failures:", 1)[1].splitlines() if "Failures:" in summary else []:
        m = FAILURE_LINE.match(line)
        if m:
            out[f"{m[1]} {m[2]}"] = int(m[3])
        elif line.strip() and not line.startswith(" "):
            break
    return out


def run(seconds: float | None, out: Path, people: int = 300, seed: int = 0, workers: int = 1,
        extra: tuple[str, ...] = (), examples: int | None = None) -> dict:
    """One fuzzing run, bounded by `seconds` or by `examples` per operation and phase.

    The CI mode is bounded by examples, not seconds: a time bound's reach depends on how busy the machine is
    (beside a benchmark on 2 cores, 60 s once ended before the decision logic was reached), while a count of
    examples does the same work on any machine, only slower. Short timed runs take fewer examples per
    operation so every phase gets its turn.
    """
    if examples is None:
        examples = 10 if seconds is not None and seconds < 300 else 50
    with tempfile.TemporaryDirectory(prefix="deepcredit-fuzz-") as tmp:
        root = Path(tmp)
        t0 = time.monotonic()
        env, creds = build_service(root, people, seed)
        server, port = serve(env, root / "server.log")
        counts = root / "counts.json"
        try:
            start = time.monotonic()
            cmd = [str(Path(sys.executable).parent / "schemathesis"), "run", f"http://127.0.0.1:{port}/openapi.json",
                   "--checks", "all", *(["--max-time", str(int(seconds))] if seconds is not None else []),
                   "--seed", str(seed), "--max-examples", str(examples), "--workers",
                   str(workers), "--request-timeout", "30", "--continue-on-failure", "--no-color", *extra]
            hooks_env = {**os.environ, "SCHEMATHESIS_HOOKS": "fuzz_service", ENV_CREDS: json.dumps(creds),
                         ENV_COUNTS: str(counts),
                         "PYTHONPATH": os.pathsep.join([str(ROOT / "scripts"), os.environ.get("PYTHONPATH", "")])}
            proc = subprocess.run(cmd, env=hooks_env, capture_output=True, text=True, cwd=root)
            fuzz_seconds = time.monotonic() - start
        finally:
            server.terminate()
            server.wait(timeout=30)
        seen = json.loads(counts.read_text()) if counts.exists() else {"counts": {}, "server_errors": {}}
        failures = _failures(proc.stdout)
        by_status = {k: v for k, v in seen["counts"].items() if k != "requests"}
        operations = sorted({" ".join(k.split()[:2]) for k in by_status})
        result = {
            "mode": (f"{examples} examples per operation and phase" if seconds is None
                     else f"{seconds / 60:g} minutes" if seconds >= 60 else f"{seconds:g} seconds"),
            "schemathesis": schemathesis.__version__ if hasattr(schemathesis, "__version__") else "4.32.5",
            "seed": seed, "people": people, "fuzz_seconds": round(fuzz_seconds, 1),
            "total_seconds": round(time.monotonic() - t0, 1),
            "requests": seen["counts"].get("requests", 0), "operations": len(operations),
            "server_errors": sum(seen["server_errors"].values()),
            "schema_violations": sum(v for k, v in failures.items() if k.startswith(SCHEMA_VIOLATION)),
            "failures_by_check": dict(failures), "server_errors_by_operation": seen["server_errors"],
            "responses_by_operation_and_status": dict(sorted(by_status.items())),
            "schemathesis_exit_code": proc.returncode,
            "schemathesis_report": proc.stdout[-20000:],
        }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
    return result


def main() -> None:
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--minutes", type=float, default=None)
    ap.add_argument("--seconds", type=float, default=None)
    ap.add_argument("--examples", type=int, default=None,
                    help="Bound the run by examples per operation and phase instead of time (the CI mode).")
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "results" / "fuzz.json")
    ap.add_argument("--people", type=int, default=300)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("extra", nargs="*", help="Further `schemathesis run` options (after --).")
    args = ap.parse_args()
    seconds: float | None = (args.seconds if args.seconds is not None
                             else 60 * args.minutes if args.minutes is not None
                             else None if args.examples is not None else 60 * 20)
    r = run(seconds, args.out, people=args.people, seed=args.seed, extra=tuple(args.extra), examples=args.examples)
    print(json.dumps({k: r[k] for k in ("requests", "operations", "server_errors", "schema_violations",
                                        "failures_by_check", "fuzz_seconds")}, indent=2))
    sys.exit(0 if not r["server_errors"] and not r["schema_violations"] and not r["failures_by_check"] else 1)


if __name__ == "__main__":
    main()
