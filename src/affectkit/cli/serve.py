"""`affect serve`: the HTTP API and web page (FastAPI + uvicorn)."""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path

import typer

from affectkit.cli._util import console


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to bind. Anything but loopback needs --token."),
    port: int = typer.Option(8000, "--port", help="TCP port."),
    token: str = typer.Option(None, "--token", envvar="AFFECT_SERVE_TOKEN",
                              help="Bearer token clients must send (or set $AFFECT_SERVE_TOKEN)."),
    data: Path = typer.Option(Path("affect-serve"), "--data", help="Job store: SQLite + uploaded files."),
    workers: int = typer.Option(None, "--workers", help="Parallel jobs (default: number of cores)."),
    engine: str = typer.Option("local", "--engine", help="local (worker processes) | ray (files as Ray tasks)."),
    address: str = typer.Option(None, "--address", help="Ray cluster address (ray://host:10001 or auto); "
                                "default: a local Ray on this machine."),
    max_upload: str = typer.Option("2G", "--max-upload", help="Largest request body (e.g. 2G, 500M)."),
    job_quota: str = typer.Option("4G", "--job-quota", help="Disk per job: uploads + results."),
    log_level: str = typer.Option("info", "--log-level", help="uvicorn log level."),
) -> None:
    """Serve the analysis API (/v1/jobs, /v1/text, /docs) and the web page (/)."""
    # Idle OpenMP threads sleep instead of spinning: the server, its workers and other programs
    # share the cores (same results; 20-30x faster text analysis on a busy 2-core machine).
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    from affectkit.errors import ConfigError
    from affectkit.serve.uploads import Limits, parse_size

    if engine not in ("local", "ray"):
        raise ConfigError(f"--engine {engine!r}: local or ray")
    if not _is_loopback(host) and not token:
        raise ConfigError(f"--host {host} makes the service reachable from other machines; pass --token "
                          "SECRET (or set $AFFECT_SERVE_TOKEN) so that clients must send "
                          "'Authorization: Bearer SECRET', or bind 127.0.0.1")
    if token is not None and len(token) < 16:
        raise ConfigError("--token: use at least 16 characters (e.g. `python -c \"import secrets; "
                          "print(secrets.token_urlsafe())\"`)")
    if workers is not None and workers < 1:
        raise ConfigError(f"--workers must be >= 1, got {workers}")
    limits = Limits(max_upload=parse_size(max_upload), job_quota=parse_size(job_quota))
    import uvicorn

    from affectkit.serve.app import create_app

    from affectkit.serve.app import lock_data_folder

    data.mkdir(parents=True, exist_ok=True)
    lock_data_folder(data).close()  # a clear message now rather than a failed start-up later
    app = create_app(data, token=token, limits=limits, workers=workers,
                     pool="ray" if engine == "ray" else "process", ray_address=address)
    n = workers or max(1, os.cpu_count() or 1)
    shown = f"[{host}]" if ":" in host else host
    console.print(f"affect serve: http://{shown}:{port}/  (API docs /docs) · {n} worker(s), engine {engine} · "
                  f"data {data} · {'token required' if token else 'no token (loopback only)'}",
                  highlight=False)
    uvicorn.run(app, host=host, port=port, log_level=log_level)


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
