"""The FastAPI application of ``affect serve``.

Endpoints (JSON unless noted; every error is ``{"error": {"code": ..., "message": ...}}`` with
a 4xx status, never a stack trace):

* ``POST /v1/jobs`` — multipart upload (parts named ``files``; fields ``modalities``, ``fps``,
  ``max_duration`` as in ``affect analyze``; header ``Idempotency-Key``) → 201 + the job
  (200 + the same job when the key was seen with the same request, 409 with another);
* ``GET /v1/jobs`` · ``GET /v1/jobs/{id}`` (status, progress, per-file state);
* ``GET /v1/jobs/{id}/results?format=json|csv|parquet`` · ``GET /v1/jobs/{id}/report`` (HTML);
* ``DELETE /v1/jobs/{id}`` — 204 (gone) or 202 (running: removed at the next file boundary);
* ``POST /v1/text`` — synchronous text / conversation analysis;
* ``GET /healthz`` · ``GET /openapi.json`` · ``GET /docs`` (Swagger UI) · ``GET /redoc`` ·
  ``GET /`` (the web page). The docs pages load their scripts and styles from the
  ``fastapi-offline`` package under ``/static-offline-docs/``: no CDN, they work offline.

With a token, every ``/v1`` endpoint needs ``Authorization: Bearer <token>``.
"""

from __future__ import annotations

import hmac
import inspect
import logging
import os
import shutil
import time
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Optional

from fastapi import Depends, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi_offline import FastAPIOffline
from pydantic import BaseModel, Field, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from affectkit import __version__
from affectkit.serve.jobs import JobStore, valid_id
from affectkit.serve.uploads import ApiError, Limits, classify, parse_options, receive_multipart, request_hash

log = logging.getLogger("affectkit.serve")
STATIC = Path(__file__).with_name("static")
RESULT_FILES = {"json": ("results.json", "application/json"),
                "csv": ("utterances.csv", "text/csv; charset=utf-8"),
                "parquet": ("utterances.parquet", "application/vnd.apache.parquet")}
JOB_STATUSES = ("queued", "running", "done", "failed", "deleting")
MAX_TEXT_BODY = 16 * 1024 * 1024
MAX_TEXTS = 10_000
MAX_TEXT_CHARS = 20_000


class TextRequest(BaseModel):
    """Utterances to analyse (text modality only); ``speakers`` is optional, one per text."""

    texts: list[str] = Field(..., min_length=1, max_length=MAX_TEXTS,
                             description="the utterances, in order")
    speakers: Optional[list[Optional[str]]] = Field(None, description="one speaker per text (or null)")
    name: str = Field("<text>", max_length=200, description="a label used as the file name in results")


def lock_data_folder(root: Path):
    """An exclusive lock on ``<root>/server.lock`` for the server's lifetime (released by the
    OS when the process dies, also on kill -9). Raises ConfigError when another server holds it."""
    import fcntl

    from affectkit.errors import ConfigError

    fh = open(Path(root) / "server.lock", "a+")
    try:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        fh.close()
        raise ConfigError(f"{root}: another affect serve is using this data folder; stop it or "
                          "pass another --data") from None
    return fh


def create_app(root: str | os.PathLike = "affect-serve", *, token: str | None = None,
               limits: Limits | None = None, workers: int | None = None, pool: str = "process",
               ray_address: str | None = None):
    """Build the app. ``pool``: ``process`` | ``thread`` | ``ray`` | ``none`` (no workers: jobs
    stay queued, e.g. for tests of the API alone)."""
    from affectkit.serve.worker import LocalEngine, WorkerPool, pin_threads

    limits = limits or Limits()
    store = JobStore(root)
    n_workers = workers or max(1, os.cpu_count() or 1)
    state: dict = {"pool": None, "text_engine": LocalEngine(), "started": time.time(), "text_ready": False}
    import threading

    text_lock = threading.Lock()
    text_opts = {"modalities": ["text"], "fps": 2.0, "max_duration": None, "asr": None}

    def warm_text() -> None:
        """Load the text model before the first POST /v1/text (it is loaded lazily)."""
        try:
            with text_lock:
                state["text_engine"].analyzer(text_opts).analyze_text(["warming up"])
            state["text_ready"] = True
        except Exception:  # the endpoint will report the problem on use
            log.exception("could not load the text model")

    @asynccontextmanager
    async def lifespan(app):
        lock = lock_data_folder(store.root)  # recovery re-queues "running" jobs: one server per folder
        try:
            async with _serving(app):
                yield
        finally:
            lock.close()

    @asynccontextmanager
    async def _serving(app):
        info = store.recover()
        if info["requeued"] or info["deleted"]:
            log.warning("recovered after an unclean stop: re-queued %d job(s), finished %d delete(s)",
                        len(info["requeued"]), len(info["deleted"]))
        warm = threading.Thread(target=warm_text, name="affect-serve-warm-text", daemon=True)
        warm.start()
        if pool != "none":
            state["pool"] = WorkerPool(store.root, n_workers, pool, ray_address=ray_address,
                                       quota=limits.job_quota)
            state["pool"].start()
        try:
            yield
        finally:
            if state["pool"] is not None:
                state["pool"].stop()
            # never leave a model half-loaded in a thread at exit (C++ threads abort the process)
            warm.join(300)

    # FastAPIOffline: FastAPI whose /docs and /redoc pages use bundled assets, not a CDN
    app = FastAPIOffline(title="affectkit", version=__version__, lifespan=lifespan,
                         description="Multimodal emotion and sentiment analysis as a service: upload media, "
                                     "poll the job, download per-utterance results and the HTML report.",
                         swagger_ui_parameters={"validatorUrl": None})  # no online validator badge
    app.state.store = store
    app.state.limits = limits

    # -- errors: always JSON, never a trace -------------------------------------------------------
    def err(status: int, code: str, message: str, headers: dict | None = None) -> JSONResponse:
        return JSONResponse({"error": {"code": code, "message": message}}, status_code=status, headers=headers)

    @app.exception_handler(ApiError)
    async def _api_error(request, e: ApiError):
        return err(e.status, e.code, e.message, e.headers)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request, e):
        msg = {404: f"no such endpoint {request.url.path}", 405: f"{request.method} is not allowed on {request.url.path}"}
        return err(e.status_code, f"http_{e.status_code}", msg.get(e.status_code, str(e.detail)),
                   getattr(e, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request, e):
        parts = [f"{'.'.join(str(x) for x in d.get('loc', ()) if x != 'body')}: {d.get('msg')}" for d in e.errors()]
        return err(422, "invalid_request", "; ".join(parts))

    @app.exception_handler(Exception)
    async def _internal(request, e):
        log.exception("internal error on %s %s", request.method, request.url.path)
        return err(500, "internal", "internal server error; the details are in the server log")

    # -- auth -------------------------------------------------------------------------------------
    async def auth(request: Request) -> None:
        if token is None:
            return
        got = request.headers.get("authorization", "")
        if not hmac.compare_digest(got.encode(), f"Bearer {token}".encode()):
            raise ApiError(401, "unauthorized", "missing or wrong token: send the header "
                           "'Authorization: Bearer <token>' with the token given to affect serve --token",
                           {"WWW-Authenticate": "Bearer"})

    def public(job: dict) -> dict:
        j = dict(job)
        j["files"] = [{k: v for k, v in f.items() if k != "stored"} for f in job["files"]]
        base = f"/v1/jobs/{job['id']}"
        j["links"] = {"self": base, "report": f"{base}/report",
                      **{f"results_{k}": f"{base}/results?format={k}" for k in RESULT_FILES}}
        return j

    def find(job_id: str) -> dict:
        job = store.get(job_id) if valid_id(job_id) else None
        if job is None:
            raise ApiError(404, "no_such_job", f"no job {job_id[:64]!r} (deleted, or never created); "
                           "GET /v1/jobs lists the jobs")
        return job

    def final_or_409(job: dict) -> None:
        if job["status"] in ("queued", "running"):
            raise ApiError(409, "not_finished", f"job {job['id']} is {job['status']} "
                           f"({job['progress']['files_done']}/{job['progress']['files_total']} files); "
                           "results are ready when its status is done", {"Retry-After": "2"})
        if job["status"] == "deleting":
            raise ApiError(409, "being_deleted", f"job {job['id']} is being deleted")

    # -- endpoints --------------------------------------------------------------------------------
    @app.get("/healthz", tags=["service"])
    def healthz():
        p = state["pool"]
        return {"status": "ok", "version": __version__, "workers": p.alive() if p else 0,
                "pool": pool, "text_ready": state["text_ready"], "jobs": store.counts(), "auth": token is not None,
                "max_upload": limits.max_upload, "uptime_s": round(time.time() - state["started"], 1)}

    upload_schema = {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
        "type": "object", "required": ["files"], "properties": {
            "files": {"type": "array", "items": {"type": "string", "format": "binary"},
                      "description": "media files (video, audio, images) or a transcript/conversation"},
            "modalities": {"type": "string", "default": "text,audio,vision"},
            "fps": {"type": "number", "default": 2.0},
            "asr": {"type": "string", "description": "speech recognition model, as affect analyze --asr"},
            "diarise": {"type": "boolean", "description": "label utterances by speaker (default: "
                        "on with more than 20 s of speech), as affect analyze --diarise/--no-diarise"},
            "speakers": {"type": "integer", "description": "number of speakers, when known"},
            "max_duration": {"type": "number", "description": "refuse media longer than this (s)"}}}}}}}

    @app.post("/v1/jobs", status_code=201, tags=["jobs"], dependencies=[Depends(auth)],
              openapi_extra=upload_schema,
              responses={200: {"description": "the job already created with this Idempotency-Key"},
                         409: {"description": "Idempotency-Key reused with a different request"},
                         413: {"description": "upload or quota limit"},
                         415: {"description": "unsupported content"}, 422: {"description": "corrupt input"}})
    async def create_job(request: Request):
        """Upload one or more files as one analysis job (streamed to disk; limits enforced while
        streaming). Poll ``GET /v1/jobs/{id}`` until ``status`` is ``done``."""
        key = request.headers.get("idempotency-key")
        if key is not None and not (0 < len(key) <= 200 and key.isprintable()):
            raise ApiError(400, "bad_idempotency_key", "Idempotency-Key must be 1-200 printable characters")
        folder = store.new_upload_dir()
        try:
            got = await receive_multipart(request, folder, limits)
            if not got.files:
                raise ApiError(400, "no_files", "no files: send one or more parts named 'files' "
                               "(e.g. curl -F files=@clip.mp4 ...)")
            opts = parse_options(got.fields)
            for f in got.files:
                await run_in_threadpool(classify, f, limits)
            files = [{"index": f.index, "name": f.name, "kind": f.kind, "stored": f.path.name,
                      "size": f.size, "sha256": f.sha256} for f in got.files]
            try:
                job, created = store.create(folder, opts, files, idem_key=key,
                                            req_hash=request_hash(opts, got.files))
            except KeyError as e:
                raise ApiError(409, "idempotency_conflict", f"Idempotency-Key {key!r} was used for a different "
                               f"request (job {e.args[0]}); use a new key for new content") from None
        finally:
            shutil.rmtree(folder, ignore_errors=True)  # moved into the job on success
        return JSONResponse(public(job), status_code=201 if created else 200,
                            headers={"Location": f"/v1/jobs/{job['id']}"})

    @app.get("/v1/jobs", tags=["jobs"], dependencies=[Depends(auth)])
    def list_jobs(status: Optional[str] = Query(None, description=f"one of {', '.join(JOB_STATUSES)}"),
                  limit: int = Query(50, ge=1, le=500), offset: int = Query(0, ge=0)):
        if status is not None and status not in JOB_STATUSES:
            raise ApiError(400, "bad_status", f"status {status!r}: one of {', '.join(JOB_STATUSES)}")
        jobs, total = store.list(status=status, limit=limit, offset=offset)
        return {"jobs": [public(j) for j in jobs], "total": total, "limit": limit, "offset": offset}

    @app.get("/v1/jobs/{job_id}", tags=["jobs"], dependencies=[Depends(auth)])
    def get_job(job_id: str):
        return public(find(job_id))

    @app.get("/v1/jobs/{job_id}/results", tags=["jobs"], dependencies=[Depends(auth)])
    def get_results(job_id: str, format: str = Query("json", description="json | csv | parquet")):
        if format not in RESULT_FILES:
            raise ApiError(400, "bad_format", f"format {format!r}: one of {', '.join(RESULT_FILES)}")
        job = find(job_id)
        final_or_409(job)
        name, media_type = RESULT_FILES[format]
        path = store.job_dir(job_id) / "out" / name
        if not path.exists():
            raise ApiError(404, "no_results", f"job {job_id} has no results ({job['error'] or 'removed'})")
        return FileResponse(path, media_type=media_type, filename=f"affect-{job_id[:8]}-{name}")

    @app.get("/v1/jobs/{job_id}/report", tags=["jobs"], dependencies=[Depends(auth)],
             response_class=Response, responses={200: {"content": {"text/html": {}}}})
    def get_report(job_id: str, download: bool = False):
        job = find(job_id)
        final_or_409(job)
        path = store.job_dir(job_id) / "out" / "report.html"
        if not path.exists():
            raise ApiError(404, "no_results", f"job {job_id} has no report ({job['error'] or 'removed'})")
        headers = {"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src data:"}
        if download:
            headers["Content-Disposition"] = f'attachment; filename="affect-{job_id[:8]}-report.html"'
        return FileResponse(path, media_type="text/html; charset=utf-8", headers=headers)

    @app.delete("/v1/jobs/{job_id}", tags=["jobs"], dependencies=[Depends(auth)], status_code=204,
                responses={202: {"description": "running: removed at the next file boundary"}})
    def delete_job(job_id: str):
        what = store.delete(job_id) if valid_id(job_id) else "missing"
        if what == "missing":
            find(job_id)  # 404 with the standard message
        if what == "busy":
            raise ApiError(409, "being_deleted", f"job {job_id} is already being deleted")
        if what == "deleting":
            return JSONResponse({"id": job_id, "status": "deleting"}, status_code=202)
        return Response(status_code=204)

    text_schema = {"requestBody": {"required": True, "content": {"application/json": {
        "schema": TextRequest.model_json_schema()}}}}

    @app.post("/v1/text", tags=["text"], dependencies=[Depends(auth)], openapi_extra=text_schema)
    async def analyze_text(request: Request, format: str = Query("json", description="json | csv")):
        """Synchronous text-only analysis (the text modality of ``affect analyze``): one result
        per utterance, in the same shape as ``results.json``."""
        if format not in ("json", "csv"):
            raise ApiError(400, "bad_format", f"format {format!r}: json or csv")
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_TEXT_BODY:
                raise ApiError(413, "body_too_large", f"the body is over {MAX_TEXT_BODY // 2**20} MB; "
                               f"send at most {MAX_TEXTS} utterances per request")
        try:
            req = TextRequest.model_validate_json(bytes(body))
        except ValidationError as e:
            parts = [f"{'.'.join(map(str, d['loc'])) or 'body'}: {d['msg']}" for d in e.errors()]
            raise ApiError(422, "invalid_request", "; ".join(parts)[:2000] +
                           ' (expected {"texts": ["...", ...], "speakers": [...] optional})') from None
        if req.speakers is not None and len(req.speakers) != len(req.texts):
            raise ApiError(422, "invalid_request", f"speakers has {len(req.speakers)} entries for "
                           f"{len(req.texts)} texts; give one per text or leave it out")
        long = [i for i, t in enumerate(req.texts) if len(t) > MAX_TEXT_CHARS]
        if long:
            raise ApiError(413, "text_too_long", f"texts[{long[0]}] is over {MAX_TEXT_CHARS} characters; split it")
        keep = [i for i, t in enumerate(req.texts) if t.strip()]
        if not keep:
            raise ApiError(422, "empty_texts", "every text is blank; send at least one non-blank utterance")
        texts = [req.texts[i].strip() for i in keep]
        speakers = [((req.speakers[i] or "").strip() or None) if req.speakers else None for i in keep]

        def run():
            with text_lock:
                an = state["text_engine"].analyzer(text_opts)
                pin_threads(state["text_engine"].threads)
                # with speakers it is a conversation, as a .csv/.jsonl of speaker,text is for
                # `affect analyze` (cause links and reasons, where the Analyzer offers them)
                conv = req.speakers is not None
                kw = {"explain": True} if conv and "explain" in inspect.signature(an.analyze_text).parameters else {}
                fr = an.analyze_text(texts, speakers, name=req.name, **kw)
            if conv:
                fr.kind = "conversation"
            # the body is rendered here, in the worker thread after the model lock is released
            # (not on the event loop), and straight from the plain JSON types of to_json():
            # FastAPI's generic jsonable_encoder walk cost ~4 % of a request's CPU
            if format == "csv":
                import pandas as pd

                csv = pd.DataFrame([u.to_row() for u in fr.utterances]).to_csv(index=False)
                return Response(csv, media_type="text/csv; charset=utf-8")
            payload = {"files": [{**fr.summary(), "utterances": [u.to_json() for u in fr.utterances]}]}
            try:
                return JSONResponse(payload)
            except TypeError:  # a non-JSON type (numpy scalar …) in a result: the generic path
                from fastapi.encoders import jsonable_encoder

                return JSONResponse(jsonable_encoder(payload))

        return await run_in_threadpool(run)

    # -- the page ---------------------------------------------------------------------------------
    page_headers = {"Content-Security-Policy": "default-src 'self'; img-src 'self' data:; "
                    "style-src 'self' 'unsafe-inline'; frame-src 'self'; object-src 'none'",
                    "X-Content-Type-Options": "nosniff"}

    @app.get("/", include_in_schema=False)
    def index():
        return FileResponse(STATIC / "index.html", media_type="text/html; charset=utf-8", headers=page_headers)

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app
