"""A small scored world behind the real service on loopback, for the fuzz and soak scripts.

    env, creds = build_service(root, people, seed)   # world, scorecard, serve-init, callers
    server, port = serve(env, log)                   # `deepcredit serve`'s application under uvicorn

What `build_service` sets up: a simulated world and a small scorecard fitted on it, the service initialised as
`serve-init` does (clock at the data's snapshot date), two merchants (the first with a deposit-free rental,
an own-threshold and a pay-later policy), and people who granted the first merchant standing consent for
every purpose, each with a token. `creds` holds the keys, tokens and ids the scripts need.
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def build_service(root: Path, people: int, seed: int, crowd: int = 0, database_url: str = "",
                  challenger: bool = False) -> tuple[dict, dict]:
    """A world, a scorecard, an initialised service database and the callers; returns (env, credentials).

    database_url: an empty database (default: an SQLite file under root). challenger: also save a second
    scorecard fitted on the same features with coarser bins (creds["challenger"]), for a promotion to serve."""
    from deepcredit.data.simulate import simulate_world
    from deepcredit.features.bundle import ModelInput
    from deepcredit.features.definitions import ALL_FEATURES
    from deepcredit.features.engine import build_features
    from deepcredit.models.base import save_model
    from deepcredit.models.scorecard import ScorecardModel
    from deepcredit.service.auth import MerchantPrincipal
    from deepcredit.service.bootstrap import initialise
    from deepcredit.service.config import Settings
    from deepcredit.service.consent import grant
    from deepcredit.service.context import make_context, sync_clock
    from deepcredit.service.enrolment import create_merchant, create_person_token
    from deepcredit.service.policies import create as create_policy
    from deepcredit.service.schemas import PayLaterPolicyCreate, StandingConsent, ThresholdPolicyCreate

    world = simulate_world(root / "world", people=people, seed=seed)
    names = {"identity_verified", "tenure_days", "n_bad_365d", "bad_rate", "utilisation", "last_bill_amount",
             "credit_limit", "degree", "share_neighbours_bad"}
    ff = build_features(world, definitions=[d for d in ALL_FEATURES if d.name in names])
    inp = ModelInput(ff)
    save_model(ScorecardModel(max_n_prebins=10).fit(inp), root / "model", inp)
    if challenger:
        save_model(ScorecardModel(max_n_prebins=4).fit(inp), root / "challenger", inp)
    env = {"DEEPCREDIT_PSEUDONYM_KEY": secrets.token_hex(32), "DEEPCREDIT_ADMIN_KEY": secrets.token_hex(24),
           "DEEPCREDIT_DATABASE_URL": database_url or f"sqlite:///{root / 'service.db'}"}
    initialise(Settings.from_env(env), world, root / "model", root / "state",
               as_of=world.snapshot_date.to_pydatetime())
    ctx = make_context(Settings.from_env(env))
    sync_clock(ctx)
    decoy = create_merchant(ctx, "Other Merchant")  # the first ids are every fuzzer's favourite boundary values
    made = create_merchant(ctx, "Fuzz Rentals")
    m = MerchantPrincipal(made.merchant.id, made.merchant.name)
    create_policy(ctx, m, ThresholdPolicyCreate(name="rental", scenario="deposit_free_rental", threshold=600))
    create_policy(ctx, m, ThresholdPolicyCreate(name="own", scenario="threshold", threshold=550, purpose="membership"))
    create_policy(ctx, m, PayLaterPolicyCreate(name="bnpl", scenario="pay_later",
                                               limits={n: 100.0 * i for i, n in enumerate(ctx.band_names())}))
    person = str(world.read("people")["person_id"].iloc[0])
    bystander = ctx.pseudonym(str(world.read("people")["person_id"].iloc[-1]))
    create_policy(ctx, MerchantPrincipal(decoy.merchant.id, decoy.merchant.name),
                  ThresholdPolicyCreate(name="other", scenario="threshold", threshold=600, purpose="x"))
    for _ in range(3):  # consent ids 1-3 belong to someone else, for the same reason
        grant(ctx, bystander, StandingConsent(merchant_id=decoy.merchant.id, scope="admittance", purpose="x",
                                              mode="standing", expires_at=ctx.now() + timedelta(days=300)))
    purposes = ["deposit_free_rental", "membership", "pay_later"]
    consents = [grant(ctx, ctx.pseudonym(person), StandingConsent(
        merchant_id=m.id, scope="factors", purpose=purpose, mode="standing",
        expires_at=ctx.now() + timedelta(days=300))).id for purpose in purposes]
    token = create_person_token(ctx, person, days=366).token
    others = [str(p) for p in world.read("people")["person_id"].iloc[1:crowd + 1]]
    for pid in others:  # `crowd` more people with a standing band-scope consent and a token (the soak)
        grant(ctx, ctx.pseudonym(pid), StandingConsent(merchant_id=m.id, scope="band", purpose="deposit_free_rental",
                                                       mode="standing", expires_at=ctx.now() + timedelta(days=300)))
    crowd_tokens = {pid: create_person_token(ctx, pid, days=366).token for pid in others}
    ctx.db.dispose()
    creds = {"merchant": made.api_key, "decoy_merchant_id": decoy.merchant.id, "person": token, "admin": env["DEEPCREDIT_ADMIN_KEY"],
             "person_id": person, "merchant_id": m.id, "policies": ["rental", "own", "bnpl"], "purposes": purposes,
             "consent_ids": consents, "expires_at": (ctx.now() + timedelta(days=30)).isoformat() + "Z",
             "crowd": crowd_tokens, "challenger": str(root / "challenger") if challenger else "",
             "erasable": [str(p) for p in world.read("people")["person_id"].iloc[crowd + 1:crowd + 6]]}
    return env, creds


def serve(env: dict, log: Path, workers: int = 1) -> tuple[subprocess.Popen, int]:
    """Start the application under uvicorn with `workers` processes; returns once every one has started
    (each says so in the log), so that traffic meets all of them."""
    port = _free_port()
    cmd = [sys.executable, "-m", "uvicorn", "deepcredit.service.app:app_from_env", "--factory", "--host",
           "127.0.0.1", "--port", str(port), "--no-access-log", "--log-level", "info", "--workers", str(workers)]
    server = subprocess.Popen(cmd, env={**os.environ, **env}, stdout=log.open("w"), stderr=subprocess.STDOUT)
    import httpx2

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx2.get(f"http://127.0.0.1:{port}/v1/health", timeout=1).status_code == 200 and \
                    log.read_text().count("Application startup complete") >= workers:
                return server, port
        except httpx2.TransportError:
            pass
        time.sleep(0.3)
        if server.poll() is not None:
            break
    server.kill()
    raise SystemExit(f"the service did not start; see {log}")


