"""A model promoted while the service runs is served without a restart, by every worker on its own.

`model-promote` (challenger.py) points the meta table at the new model. A serving process follows it:
- poll(), on every request (context.get_context): at most once every `Settings.model_check_s` seconds it
  starts a look in a background thread, which reads the meta table's model_id and adopts a model other
  than the served one. No request waits for a look or a load; between looks a request costs a clock
  reading, not a database round trip;
- adopt(), at once, where a save was refused because the model changed (events.score_and_save): the
  re-score under way during the promotion is done again with the promoted model.

Loading takes seconds (the artifact's hashes verified, the data set copy read, the scorer warmed): the new
scorer is loaded beside the old one, which serves meanwhile, then swapped in with its bands (on_swap: what
the application derives from it, app._derive). A model that fails to load (file missing, hash mismatch)
leaves the old one serving: logged without personal data and audited (`model_load_failed`, once per model
id and process); saves of the old model's scores stay refused, so nothing stale is stored, and the next
background look tries again once the operator has fixed it (a request's refused save does not: adopt). A swap
is audited as `model_served`, by each worker process that makes it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from deepcredit.service.bootstrap import build_scorer
from deepcredit.service.context import ServiceContext
from deepcredit.service.events import served_model_id
from deepcredit.service.scoring import Scorer

log = logging.getLogger("deepcredit.service")


class ServedModel:
    """Keeps `ctx.scorer` the meta table's model; one load at a time per process."""

    def __init__(self, ctx: ServiceContext, every_s: float, load: Callable[[ServiceContext], Scorer | None] = build_scorer,
                 on_swap: Callable[[], None] | None = None) -> None:
        self.ctx, self.every_s, self.load, self.on_swap = ctx, every_s, load, on_swap
        self._lock = threading.Lock()
        self._looked = time.monotonic()
        self._failed: set[str] = set()

    def poll(self) -> threading.Thread | None:
        """Look at the meta table in a background thread if `every_s` passed since the last look (the
        thread started, None if none was): the request goes on with the model served now, and a look or
        load under way is not started twice."""
        now = time.monotonic()
        if now - self._looked < self.every_s or not self._lock.acquire(blocking=False):
            return None
        self._looked = now
        look = threading.Thread(target=self._look, name="deepcredit-served-model", daemon=True)
        try:
            look.start()
        except BaseException:
            self._lock.release()
            raise
        return look

    def idle(self, timeout: float = 60) -> bool:
        """Wait until no look or load is under way (tests; a shutdown); whether none is."""
        if not self._lock.acquire(timeout=timeout):
            return False
        self._lock.release()
        return True

    def _look(self) -> None:
        """The background look poll started (holding the lock it took)."""
        try:
            self._follow()
        except Exception:  # noqa: BLE001 - a failed look (the database away) is tried again at the next one
            log.exception("looking for a promoted model failed; the served model stays")
        finally:
            self._lock.release()

    def adopt(self) -> bool:
        """Serve the meta table's model now (after a load under way); whether it is the one served. A model
        that failed to load is not tried again here, in a request's thread: only by the background looks,
        so no request waits for a load that keeps failing (a missing file, other library versions)."""
        with self._lock:
            self._looked = time.monotonic()
            return self._follow(retry_failed=False)

    def _follow(self, retry_failed: bool = True) -> bool:
        with self.ctx.db.read() as s:
            wanted = served_model_id(s)
        served = getattr(self.ctx.scorer, "model_id", None)
        if not wanted or wanted == served:
            return True
        if wanted in self._failed and not retry_failed:
            return False
        try:
            scorer = self.load(self.ctx)
            if scorer is None:
                raise ValueError("the meta table names no model")
            scorer.warm()
        except Exception as exc:  # noqa: BLE001 - any failure to load keeps the old model serving
            if wanted not in self._failed:
                self._failed.add(wanted)
                log.error("the promoted model %s... could not be loaded (%s); the previous one keeps serving",
                          wanted[:12], type(exc).__name__)
                with self.ctx.db.write() as s:
                    self.ctx.audit.append(s, self.ctx.now(), "service", "model_load_failed", None, model=wanted,
                                          serving=served, error=type(exc).__name__)
            return False
        self.ctx.serve(scorer)
        if self.on_swap is not None:
            self.on_swap()
        log.info("now serving model %s... (was %s...)", scorer.model_id[:12], (served or "none")[:12])
        with self.ctx.db.write() as s:
            self.ctx.audit.append(s, self.ctx.now(), "service", "model_served", None, model=scorer.model_id,
                                  previous=served)
        return True
