"""Load and fault test of ``affect serve`` (loopback only, bounded in count and time).

    python benchmarks/load_serve.py                      # 200 jobs, 20 clients, kill -9 at 40 %
    python benchmarks/load_serve.py --jobs 40 --clients 8 --quick

What it does:

1. builds inputs from the bundled demo media (``examples/demo``): the clip, the voice note,
   three 5 s slices of the voice note (WAV), a still of the clip's face (PNG), and 14 generated
   transcripts/conversations; one job in four is media, the rest text; every tenth text job has
   two files;
2. runs ``affect analyze`` once on every distinct input (a separate process) for reference;
3. measures ``POST /v1/text`` throughput (4 clients, batches of 50 utterances, ``--text-seconds``);
4. starts ``affect serve`` (its own process, default worker pool) and sends ``--jobs`` jobs from
   ``--clients`` concurrent clients (each with an Idempotency-Key, retried on connection errors);
5. ``kill -9``s the server once ``--kill-at`` of the jobs are finished, records the finished
   jobs' result files (mtime + hash), restarts the server on the same data folder;
6. checks: every job done exactly once (no job lost, none duplicated), every file's result
   identical to the CLI's, no finished job recomputed (run counters, result files unchanged);
   reports p50/p95 job latency (server clock: created → finished) and throughput;
7. streams a 1 GB body at a server limited to 100 MB and reports the server's RSS before/after.

Writes ``benchmarks/results/load_serve.json``. Exit code 1 when a check fails.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "examples" / "demo"
SENTENCES = [
    "I am so happy to see you today", "This is the worst day of my life", "I can't believe you did that",
    "Thank you, that is wonderful news", "I'm scared of what might happen next", "That smell is disgusting",
    "Wow, I did not expect that at all", "Please leave me alone", "We won the match!", "I miss her so much",
    "The meeting is at three o'clock", "Stop shouting at me", "What a lovely surprise", "I feel nothing",
    "Honestly this is fine", "Get out of my house", "I'm worried about the exam", "That was hilarious",
]


def build_inputs(d: Path) -> tuple[list[str], list[str]]:
    """Media and text inputs in ``d``; returns (media names, text names)."""
    import cv2
    import soundfile as sf

    from affectkit import media

    d.mkdir(parents=True, exist_ok=True)
    shutil.copy(DEMO / "interview.mp4", d / "interview.mp4")
    shutil.copy(DEMO / "voice_note.ogg", d / "voice_note.ogg")
    x = media.load_audio(DEMO / "voice_note.ogg")
    names = ["interview.mp4", "voice_note.ogg"]
    for k in range(3):
        sf.write(d / f"slice{k}.wav", x[k * 5 * 16000:(k + 1) * 5 * 16000], 16000)
        names.append(f"slice{k}.wav")
    frame = next(f for f in media.iter_frames(DEMO / "interview.mp4", fps=1.0))
    cv2.imwrite(str(d / "face.png"), cv2.cvtColor(frame.image, cv2.COLOR_RGB2BGR))
    names.append("face.png")
    rng = random.Random(0)
    texts = []
    for k in range(14):
        lines = rng.sample(SENTENCES, rng.randint(3, 8))
        if k % 2:
            name = f"chat{k}.csv"
            rows = ["speaker,text"] + [f"{'AB'[i % 2]},\"{s}\"" for i, s in enumerate(lines)]
            (d / name).write_text("\n".join(rows) + "\n")
        else:
            name = f"notes{k}.txt"
            (d / name).write_text("\n".join(lines) + "\n")
        texts.append(name)
    return names, texts


def cli_reference(d: Path, names: list[str], asr: str) -> dict[str, dict]:
    out = d / "cli-out"
    r = subprocess.run([sys.executable, "-m", "affectkit.cli", "analyze", *names, "-o", str(out),
                        "--format", "json", "-q", "--asr", asr], cwd=d, capture_output=True, text=True,
                       env=dict(os.environ, OMP_WAIT_POLICY="PASSIVE"))
    if r.returncode not in (0, 1):
        raise SystemExit(f"affect analyze failed:\n{r.stderr[-3000:]}")
    doc = json.loads((out / "results.json").read_text())
    return {f["file"]: f for f in doc["files"]}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(data: Path, port: int, log: Path, *extra: str) -> subprocess.Popen:
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    p = subprocess.Popen([sys.executable, "-m", "affectkit.cli", "serve", "--port", str(port), "--data", str(data),
                          "--log-level", "warning", *extra], stdout=open(log, "ab"), stderr=subprocess.STDOUT, env=env)
    t0 = time.time()
    while time.time() - t0 < 120:
        if p.poll() is not None:
            raise SystemExit(f"affect serve exited with {p.returncode}; see {log}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return p
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"affect serve did not answer within 120 s; see {log}")


def children(pid: int) -> list[int]:
    out = []
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                if int((p / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    out.append(int(p.name))
            except (OSError, IndexError, ValueError):
                pass
    return out


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (all its threads), seconds."""
    f = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")


def text_throughput(base: str, seconds: float, clients: int = 4, batch: int = 50, pid: int | None = None) -> dict:
    rng = random.Random(1)
    stop = time.time() + seconds
    counts, lat, errors = [0] * clients, [], []

    def run(i):
        with httpx.Client(base_url=base, timeout=60) as c:
            while time.time() < stop:
                texts = [rng.choice(SENTENCES) + f" ({i}-{k})" for k in range(batch)]
                t0 = time.perf_counter()
                try:
                    r = c.post("/v1/text", json={"texts": texts})
                    r.raise_for_status()
                except httpx.HTTPError as e:
                    errors.append(f"{type(e).__name__}: {e}")
                    continue
                lat.append(time.perf_counter() - t0)
                counts[i] += batch

    t_wait = time.time()
    while not httpx.get(base + "/healthz").json().get("text_ready") and time.time() - t_wait < 120:
        time.sleep(0.2)  # the server loads the text model in the background at start
    httpx.post(base + "/v1/text", json={"texts": ["warm up"]}, timeout=60).raise_for_status()
    stop = time.time() + seconds
    cpu0 = cpu_seconds(pid) if pid else None
    t0 = time.perf_counter()
    ts = [threading.Thread(target=run, args=(i,)) for i in range(clients)]
    [t.start() for t in ts]
    [t.join() for t in ts]
    wall = time.perf_counter() - t0
    cpu = cpu_seconds(pid) - cpu0 if pid else None
    if not lat:
        return {"errors": errors[:5], "utterances_per_s": 0.0}
    return {"clients": clients, "batch": batch, "seconds": round(wall, 2), "utterances": sum(counts),
            "errors": len(errors),
            # the machine is shared: how much CPU the server got, and utterances per CPU-second
            # (x 2 = what two dedicated cores give when both are used)
            "server_cpu_seconds": round(cpu, 2) if cpu is not None else None,
            "server_cpu_share": round(cpu / wall, 2) if cpu is not None else None,
            "utterances_per_cpu_s": round(sum(counts) / cpu, 1) if cpu else None,
            "utterances_per_s": round(sum(counts) / wall, 1),
            "request_p50_s": round(float(np.percentile(lat, 50)), 3),
            "request_p95_s": round(float(np.percentile(lat, 95)), 3)}


def oversized_upload(base: str, pid: int, total: int = 1024**3) -> dict:
    sent = 0
    chunk = b"\0" * (1 << 20)
    boundary = "loadboundary"
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"big.wav\"\r\n\r\n").encode()

    def body():
        nonlocal sent
        yield head
        while sent < total:
            sent += len(chunk)
            yield chunk
        yield f"\r\n--{boundary}--\r\n".encode()

    before = rss_mb(pid)
    peak = before
    stop = threading.Event()

    def watch():
        nonlocal peak
        while not stop.is_set():
            peak = max(peak, rss_mb(pid))
            time.sleep(0.05)

    w = threading.Thread(target=watch)
    w.start()
    t0 = time.perf_counter()
    try:
        r = httpx.post(base + "/v1/jobs", content=body(), timeout=120,
                       headers={"content-type": f"multipart/form-data; boundary={boundary}"})
        status, code = r.status_code, r.json().get("error", {}).get("code")
    except httpx.HTTPError as e:  # the server may close the connection after answering
        status, code = None, f"{type(e).__name__}"
    stop.set()
    w.join()
    return {"status": status, "code": code, "sent_mb": round(sent / 2**20), "seconds": round(time.perf_counter() - t0, 2),
            "server_rss_before_mb": round(before), "server_rss_peak_mb": round(peak)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jobs", type=int, default=200)
    ap.add_argument("--clients", type=int, default=20)
    ap.add_argument("--kill-at", type=float, default=0.4, help="kill -9 when this fraction is done (0: never)")
    ap.add_argument("--workers", type=int, default=None)
    ap.add_argument("--text-seconds", type=float, default=20.0)
    ap.add_argument("--text-clients", type=int, default=4)
    ap.add_argument("--text-batch", type=int, default=50, help="utterances per POST /v1/text")
    ap.add_argument("--text-only", action="store_true", help="measure POST /v1/text only (no jobs, no kill)")
    ap.add_argument("--asr", default="tiny.en", help="speech recognition for the media jobs (and the CLI)")
    ap.add_argument("--timeout", type=float, default=1800.0, help="give up after this many seconds")
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "load_serve.json")
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = ap.parse_args()
    deadline = time.time() + args.timeout
    tmp = Path(tempfile.mkdtemp(prefix="affect-load-"))
    res: dict = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "jobs": args.jobs, "asr": args.asr,
                 "load_average_at_start": os.getloadavg(),
                 "clients": args.clients, "cpus": os.cpu_count(), "checks": {}}
    srv = None
    try:
        media_names, text_names, ref = [], [], {}
        if not args.text_only:
            print("building inputs and the CLI reference …", flush=True)
            media_names, text_names = build_inputs(tmp / "in")
            t0 = time.perf_counter()
            ref = cli_reference(tmp / "in", media_names + text_names, args.asr)
            res["cli_reference_seconds"] = round(time.perf_counter() - t0, 1)
        specs = []
        for i in range(0 if args.text_only else args.jobs):
            if i % 4 == 0:
                files = [media_names[(i // 4) % len(media_names)]]
            else:
                files = [text_names[i % len(text_names)]]
                if i % 10 == 1:
                    files.append(text_names[(i + 5) % len(text_names)])
            specs.append({"key": f"load-{i}", "files": files})
        res["media_jobs"] = sum(1 for x in specs if x["files"][0] in media_names)

        port = free_port()
        base = f"http://127.0.0.1:{port}"
        data, log = tmp / "data", tmp / "serve.log"
        extra = ["--max-upload", "100M"] + (["--workers", str(args.workers)] if args.workers else [])
        srv = start_server(data, port, log, *extra)
        print(f"server up (pid {srv.pid}); POST /v1/text throughput for {args.text_seconds:g} s …", flush=True)
        res["text"] = text_throughput(base, args.text_seconds, args.text_clients, args.text_batch, srv.pid)
        res["text"]["load_average_after"] = os.getloadavg()
        print(f"  {res['text']['utterances_per_s']} utterances/s", flush=True)
        if args.text_only:
            res["ok"] = res["text"]["utterances_per_s"] > 0
            return _finish(res, args)

        # -- the load, with a kill -9 in the middle --------------------------------------------
        ids: dict[str, str] = {}
        post_codes: list[int] = []
        done: set[str] = set()
        lock = threading.Lock()
        queue = list(range(args.jobs))
        failures: list[str] = []

        def client(ci: int):
            with httpx.Client(base_url=base, timeout=60) as c:
                while time.time() < deadline:
                    with lock:
                        if not queue:
                            return
                        i = queue.pop(0)
                    s = specs[i]
                    while time.time() < deadline:  # submit (retry with the same key through the kill)
                        try:
                            fs = [("files", (n, (tmp / "in" / n).read_bytes())) for n in s["files"]]
                            r = c.post("/v1/jobs", files=fs, data={"asr": args.asr},
                                       headers={"Idempotency-Key": s["key"]})
                            if r.status_code in (200, 201):
                                with lock:
                                    ids[s["key"]] = r.json()["id"]
                                    post_codes.append(r.status_code)
                                break
                            failures.append(f"{s['key']}: POST {r.status_code} {r.text[:200]}")
                            break
                        except httpx.HTTPError:
                            time.sleep(0.5)
                    jid = ids.get(s["key"])
                    while jid and time.time() < deadline:  # poll until final
                        try:
                            j = c.get(f"/v1/jobs/{jid}").json()
                            if j.get("status") in ("done", "failed"):
                                with lock:
                                    done.add(s["key"])
                                break
                        except (httpx.HTTPError, ValueError):
                            pass
                        time.sleep(0.3)

        print(f"load: {args.jobs} jobs from {args.clients} clients …", flush=True)
        t_load = time.time()
        threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(args.clients)]
        [t.start() for t in threads]
        killed = None
        kill_n = int(args.kill_at * args.jobs) if args.kill_at > 0 else None
        while any(t.is_alive() for t in threads) and time.time() < deadline:
            if kill_n is not None and killed is None and len(done) >= kill_n:
                kids = children(srv.pid)
                os.kill(srv.pid, signal.SIGKILL)
                srv.wait()
                t_kill = time.time()
                with lock:
                    before = dict((k, ids[k]) for k in done)
                snap = {}
                for k, jid in before.items():
                    p = data / "jobs" / jid / "out" / "results.json"
                    if not p.exists():
                        failures.append(f"{k}: finished (job {jid}) but it has no results.json")
                        continue
                    snap[jid] = (p.stat().st_mtime_ns, hashlib.sha256(p.read_bytes()).hexdigest())
                time.sleep(1.0)
                orphans = [k for k in kids if Path(f"/proc/{k}").exists()
                           and "Z" not in (Path(f"/proc/{k}/stat").read_text().rsplit(")", 1)[1].split()[0])]
                print(f"kill -9 at {len(before)} finished jobs; worker orphans left: {orphans}", flush=True)
                srv = start_server(data, port, log, *extra)
                killed = {"finished_before": len(before), "restart_seconds": round(time.time() - t_kill, 1),
                          "worker_processes_before": len(kids), "orphans": orphans, "snapshot": snap}
            time.sleep(0.2)
        wall = time.time() - t_load
        if time.time() >= deadline:
            failures.append(f"timeout: {len(done)}/{args.jobs} jobs finished in {args.timeout:g} s")

        # -- checks ------------------------------------------------------------------------------
        with httpx.Client(base_url=base, timeout=60) as c:
            jobs, off = [], 0
            while True:
                page = c.get("/v1/jobs", params={"limit": 500, "offset": off}).json()
                jobs += page["jobs"]
                off += len(page["jobs"])
                if off >= page["total"] or not page["jobs"]:
                    break
            by_id = {j["id"]: j for j in jobs}
            res["checks"]["jobs_on_server"] = len(jobs)
            res["checks"]["distinct_keys_with_job"] = len(ids)
            res["checks"]["lost"] = args.jobs - len(set(ids.values()) & set(by_id))
            res["checks"]["duplicated"] = len(jobs) - len(set(ids.values()))
            res["checks"]["not_done"] = sum(1 for j in jobs if j["status"] != "done")
            mismatches = []
            for key, jid in ids.items():
                j = by_id.get(jid)
                if j is None or j["status"] != "done":
                    continue
                got = c.get(f"/v1/jobs/{jid}/results?format=json").json()
                for f in got["files"]:
                    if f != ref[f["file"]]:
                        mismatches.append(f"{key}/{f['file']}")
            res["checks"]["result_mismatches_vs_cli"] = len(mismatches)
            res["checks"]["mismatch_examples"] = mismatches[:5]
            recomputed = []
            if killed:
                for jid, (mt, h) in killed.pop("snapshot").items():
                    p = data / "jobs" / jid / "out" / "results.json"
                    j = by_id.get(jid)
                    if (not p.exists() or p.stat().st_mtime_ns != mt or hashlib.sha256(p.read_bytes()).hexdigest() != h
                            or j is None or j["runs"] != 1 or any(f["runs"] != 1 for f in j["files"])):
                        recomputed.append(jid)
                killed["requeued_jobs"] = sum(1 for j in jobs if j["runs"] > 1)
                killed["files_rerun"] = sum(1 for j in jobs for f in j["files"] if f["runs"] > 1)
                res["kill"] = killed
            res["checks"]["finished_then_recomputed"] = len(recomputed)
            lat = [j["finished"] - j["created"] for j in jobs if j["finished"]]
            span = max(j["finished"] for j in jobs if j["finished"]) - min(j["created"] for j in jobs)
            res["latency_s"] = {"p50": round(float(np.percentile(lat, 50)), 2),
                                "p95": round(float(np.percentile(lat, 95)), 2), "max": round(max(lat), 2)}
            res["throughput_jobs_per_s"] = round(len(lat) / span, 3)
            res["load_wall_s"] = round(wall, 1)
            res["post_codes"] = {str(k): post_codes.count(k) for k in sorted(set(post_codes))}
            res["workers"] = c.get("/healthz").json()["workers"]
        print("oversized streamed upload (1 GB at a 100 MB limit) …", flush=True)
        res["oversized_upload"] = oversized_upload(base, srv.pid)
        ok = (not failures and res["checks"]["lost"] == 0 and res["checks"]["duplicated"] == 0
              and res["checks"]["not_done"] == 0 and res["checks"]["result_mismatches_vs_cli"] == 0
              and res["checks"]["finished_then_recomputed"] == 0 and res["oversized_upload"]["status"] == 413
              and (not killed or not killed["orphans"]))
        res["failures"] = failures[:20]
        res["ok"] = ok
    finally:
        if srv is not None and srv.poll() is None:
            srv.send_signal(signal.SIGINT)
            try:
                srv.wait(20)
            except subprocess.TimeoutExpired:
                srv.kill()
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print(f"kept {tmp}")
    return _finish(res, args)


def _finish(res: dict, args) -> int:
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(res, indent=1))
    print(json.dumps({k: v for k, v in res.items() if k not in ("failures",)}, indent=1))
    print(f"wrote {args.out}; {'OK' if res.get('ok') else 'FAILED'}")
    return 0 if res.get("ok") else 1


if __name__ == "__main__":
    sys.exit(main())
