"""The worker processes that run Pillow, so no image ever blocks the event loop.

Workers start on first use from a `forkserver` (a clean single-threaded parent, safe to fork
from a process running asyncio and database threads) and are recycled after
`_TASKS_PER_CHILD` jobs to bound memory. A crashed worker (a decoder fault on a hostile file)
breaks only the pool, which is rebuilt for the next job; the job itself is refused.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from homeserver.services.media.render import (
    RenderResult,
    ThumbnailRefusedError,
    ThumbnailSpec,
    configure_worker,
    render_thumbnails,
)

logger = logging.getLogger(__name__)

_TASKS_PER_CHILD = 200
_JOB_TIMEOUT_S = 60.0


class ThumbnailPool:
    """A lazily started process pool rendering thumbnails.

    Args:
        workers: How many processes at most.
        max_pixels: The decompression-bomb limit, per frame.
    """

    def __init__(self, workers: int, max_pixels: int) -> None:
        self._workers = workers
        self._max_pixels = max_pixels
        self._executor: ProcessPoolExecutor | None = None

    def _pool(self) -> ProcessPoolExecutor:
        if self._executor is None:
            self._executor = ProcessPoolExecutor(
                max_workers=self._workers,
                mp_context=multiprocessing.get_context("forkserver"),
                initializer=configure_worker,
                initargs=(self._max_pixels,),
                max_tasks_per_child=_TASKS_PER_CHILD,
            )
        return self._executor

    async def render(self, data: bytes, specs: Sequence[ThumbnailSpec]) -> RenderResult:
        """Render `specs` from the image `data` in a worker process.

        Raises:
            ImageTooLargeError: Too many pixels.
            ThumbnailRefusedError: Not a supported image, undecodable, or the worker died.
        """
        loop = asyncio.get_running_loop()
        pool = self._pool()
        future = loop.run_in_executor(pool, render_thumbnails, data, tuple(specs), self._max_pixels)
        try:
            return await asyncio.wait_for(future, _JOB_TIMEOUT_S)
        except BrokenProcessPool:
            logger.warning("thumbnail worker died; restarting the pool")
            if self._executor is pool:
                self._executor = None
                pool.shutdown(wait=False, cancel_futures=True)
            raise ThumbnailRefusedError("thumbnail worker failed") from None
        except TimeoutError:
            logger.warning("thumbnail job timed out seconds=%s", _JOB_TIMEOUT_S)
            raise ThumbnailRefusedError("thumbnailing took too long") from None

    async def close(self) -> None:
        """Stop the workers (waiting for running jobs, cancelling queued ones)."""
        executor, self._executor = self._executor, None
        if executor is not None:
            await asyncio.to_thread(executor.shutdown, wait=True, cancel_futures=True)
