"""A model promoted, or a data set copy written anew, while the service runs is served without a restart, by
every worker on its own.

`model-promote` (challenger.py) points the meta table at the new model; `serve-init` run again writes a new
data set copy (and scores), with the same model or another. Each records a new generation of what is served
(events.GENERATION) with what it changed, and a serving process follows the generation, not the model id
alone: a scorer holds its data set copy's tables in memory (its person index, read at load), so a copy
written anew under the same model is served only by a scorer loaded again.
- poll(), on every request (context.get_context): at most once every `Settings.model_check_s` seconds it
  starts a look in a background thread, which reads the meta table's model_id and generation and loads
  the meta table's model and copy where either differs from the served one's. No request waits for a look
  or a load; between looks a request costs a clock reading, not a database round trip;
- adopt(), at once, where a save was refused because what is served changed (events.score_and_save): the
  re-score under way during the promotion is done again with the promoted model, or the new copy.

Loading takes seconds (the artifact's hashes verified, the data set copy read, the scorer warmed): the new
scorer is loaded beside the old one, which serves meanwhile, then swapped in with its bands (on_swap: what
the application derives from it, app._derive). A model that fails to load (file missing, hash mismatch)
leaves the old one serving: logged without personal data and audited (`model_load_failed`, once per
generation and process); saves of the old model's scores stay refused, so nothing stale is stored, and the next
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
from deepcredit.service.events import served_generation, served_model_id
from deepcredit.service.scoring import Scorer

log = logging.getLogger("deepcredit.service")


class ServedModel:
    """Keeps `ctx.scorer` the meta table's model and data set copy; one load at a time per process."""

    def __init__(self, ctx: ServiceContext, every_s: float, load: Callable[[ServiceContext], Scorer | None] = build_scorer,
                 on_swap: Callable[[], None] | None = None) -> None:
        self.ctx, self.every_s, self.load, self.on_swap = ctx, every_s, load, on_swap
        self._lock = threading.Lock()
        self._looked = time.monotonic()
        self._failed: set[tuple[str, str]] = set()
        self.generation = self._generation_of(ctx.scorer)
        """The generation of what is served (events.GENERATION) the served scorer was built under."""

    def _generation_of(self, scorer: Scorer | None, looked: str | None = None) -> str:
        """A scorer's generation: the one it was built under (bootstrap.build_scorer), else the one read before
        it was loaded (`looked`), else, for a scorer the caller gave (create_app's), the meta table's now."""
        known = getattr(scorer, "generation", None)
        if known is not None:
            return str(known)
        if looked is not None:
            return looked
        with self.ctx.db.read() as s:
            return served_generation(s)

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
        """Serve the meta table's model and copy now (after a load under way); whether they are served. A model
        that failed to load is not tried again here, in a request's thread: only by the background looks,
        so no request waits for a load that keeps failing (a missing file, other library versions)."""
        with self._lock:
            self._looked = time.monotonic()
            return self._follow(retry_failed=False)

    def _follow(self, retry_failed: bool = True) -> bool:
        with self.ctx.db.read() as s:  # read before the load: a later write is then looked at again
            wanted, generation = served_model_id(s), served_generation(s)
        served = getattr(self.ctx.scorer, "model_id", None)
        if not wanted or (wanted, generation) == (served, self.generation):
            return True
        if (wanted, generation) in self._failed and not retry_failed:
            return False
        try:
            scorer = self.load(self.ctx)
            if scorer is None:
                raise ValueError("the meta table names no model")
            scorer.warm()
        except Exception as exc:  # noqa: BLE001 - any failure to load keeps the old model serving
            if (wanted, generation) not in self._failed:
                self._failed.add((wanted, generation))
                log.error("the served model %s... could not be loaded (%s); the previous one keeps serving",
                          wanted[:12], type(exc).__name__)
                with self.ctx.db.write() as s:
                    self.ctx.audit.append(s, self.ctx.now(), "service", "model_load_failed", None, model=wanted,
                                          serving=served, error=type(exc).__name__)
            return False
        self.ctx.serve(scorer)
        self.generation = self._generation_of(scorer, generation)
        if self.on_swap is not None:
            self.on_swap()
        log.info("now serving model %s... (was %s...)", scorer.model_id[:12], (served or "none")[:12])
        with self.ctx.db.write() as s:
            self.ctx.audit.append(s, self.ctx.now(), "service", "model_served", None, model=scorer.model_id,
                                  previous=served, generation=self.generation)
        return True
