"""``affect serve``: an HTTP service and a web page over :class:`affectkit.analysis.Analyzer`.

* :mod:`.jobs` — the durable job store (SQLite in WAL mode + one folder per job on disk);
* :mod:`.uploads` — streamed multipart uploads, content sniffing and input validation;
* :mod:`.worker` — the analysis engines (local / Ray) and the worker pool bounded by cores;
* :mod:`.app` — the FastAPI application (``create_app``) and the static page in ``static/``.

>>> from affectkit.serve import create_app                      # doctest: +SKIP
>>> app = create_app("affect-serve-data")                       # doctest: +SKIP
"""

from __future__ import annotations


def create_app(*args, **kwargs):
    from affectkit.serve.app import create_app as _create

    return _create(*args, **kwargs)


__all__ = ["create_app"]
