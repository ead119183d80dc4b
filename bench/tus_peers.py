"""Benchmark: resumable uploads, Dokaz vs @tus/server (file store), the same real client.

Installs ``tus-js-client@4``, ``@tus/server`` and ``@tus/file-store`` from npm into a scratch
directory under this run's own temp folder (never committed), starts

* Dokaz: uvicorn (httptools + uvloop, one worker) serving the public surface (as the
  public port of the documented deployment, whose staff surface has its own port) on a
  fresh SQLite database and a local data directory, with a recovery key seeded (intake
  refuses without one), as bench/upload.py does;
* the peer: @tus/server with its FileStore, in Node, on a local directory;

and drives the SAME Node client script (tus-js-client) against each, interleaved (the
order alternates every round), ``--rounds`` times:

1. one ``--size-mib`` file in ``--chunk-mib`` chunks: MB/s, the time of every PATCH, and
   the last PATCH against the median PATCH (finishing must cost what a PATCH costs);
2. ``--small`` files of 64 KiB to each server, from one client that sends one file to
   each in turn (the order flipped every file), so both are measured at the same
   moments of a shared machine: p50 of the per-file round trip. By
   default the creation carries the bytes (tus creation-with-upload, which both servers
   advertise; checked before the rounds): one request per file. ``--no-creation-with-upload``
   measures creation + PATCH instead.

After each big file, untimed, the client deletes it again (tus termination, which both
servers offer). On this machine's virtual machines the first write to a page the guest
has never used costs the host a fault: 2.2 ms of system CPU per MiB written to the page
cache, against 0.2 ms for a recycled page (measured with plain ``os.write``), more than
all of Dokaz's other work per MiB. Without the deletes the two servers' page-cache
writes land on fresh or recycled pages by the luck of the order (the peer measured
190-315 MB/s alone and 480-540 MB/s inside the bench, with the same code); with them,
both write to recycled pages, as a long-running server does.

Server CPU seconds per big file (and CPU ms per small file) come from /proc/<pid>/stat of
each server process: on a shared machine they are steadier than wall times.
Figures are the medians over rounds. Targets (exit 1 on a miss): throughput ratio
Dokaz/peer >= 0.8, small-upload p50 within 2x of the peer's, Dokaz's last PATCH <= 2x its
median PATCH.

    .venv/bin/python bench/tus_peers.py                        # 512 MiB, 3 rounds, 100 small
    .venv/bin/python bench/tus_peers.py --size-mib 64 --rounds 1 --small 20
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # allow running as a plain script
    sys.path.insert(0, str(ROOT))

from upload import free_port, prepare, serve, wait_ready  # noqa: E402  (bench/ is on sys.path)

MiB = 1024 * 1024
MB = 1_000_000
PACKAGES = ["tus-js-client@4", "@tus/server", "@tus/file-store"]

PEER_SERVER = r"""
const { Server } = await import('@tus/server');
const { FileStore } = await import('@tus/file-store');
const http = await import('node:http');
const [port, dir] = process.argv.slice(2);
const tus = new Server({ path: '/files', datastore: new FileStore({ directory: dir }) });
http.createServer((req, res) => tus.handle(req, res)).listen(Number(port), '127.0.0.1',
  () => console.log('ready'));
"""

CLIENT = r"""
const tus = await import('tus-js-client');
const fs = await import('node:fs');
const [endpoint, file, chunk, small, during] = process.argv.slice(2);
const Upload = tus.Upload || tus.default.Upload;

function send(data, chunkSize, patches, to = endpoint) {
  return new Promise((resolve, reject) => {
    const started = new Map();
    const up = new Upload(data, {
      endpoint: to, chunkSize, retryDelays: null, storeFingerprintForResuming: false,
      uploadDataDuringCreation: during === '1',
      metadata: { filename: 'bench.bin', filetype: 'application/octet-stream' },
      onBeforeRequest(req) {
        started.set(req, performance.now());
      },
      onAfterResponse(req, res) {
        // A PATCH, or a creation that carried bytes (creation-with-upload).
        const m = req.getMethod();
        const sent = m === 'PATCH' ? res.getStatus() === 204 : m === 'POST' && during === '1';
        if (!sent) return;
        patches.push(performance.now() - started.get(req));
      },
      onError: reject,
      onSuccess: () => resolve(up),
    });
    up.start();
  });
}

const out = { patches: [] };
if (file !== '-') {
  const data = fs.readFileSync(file);
  const t0 = performance.now();
  const up = await send(data, Number(chunk), out.patches);
  out.seconds = (performance.now() - t0) / 1000;
  out.bytes = data.length;
  // Untimed: each server deletes what it stored (tus termination), so every round's
  // writes go to page-cache pages the guest has used before (see the docstring).
  await Upload.terminate(up.url, {});
}
// Small files: to every endpoint given (comma-separated), one file to each in turn, the
// order flipped every time (A B B A A B ...), so a slow moment of the machine falls on
// both servers alike; out.small[k] holds endpoint k's round trips.
const endpoints = endpoint.split(',');
out.small = endpoints.map(() => []);
const piece = Buffer.alloc(64 * 1024, 7);
for (let i = 0; i < Number(small); i++) {
  const order = endpoints.map((_, k) => k);
  if (i % 2 === 1) order.reverse();
  for (const k of order) {
    piece.writeUInt32BE(i, 0);
    const t0 = performance.now();
    await send(piece, 64 * 1024, [], endpoints[k]);
    out.small[k].push(performance.now() - t0);
  }
}
console.log(JSON.stringify(out));
"""


def proc_counts(pid: int) -> tuple[float, float, int]:
    """CPU seconds (user + system), of them system, and minor page faults so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return ((int(fields[11]) + int(fields[12])) / tick, int(fields[12]) / tick,
            int(fields[7]))


def cpu_seconds(pid: int) -> float:
    return proc_counts(pid)[0]


def npm_install(where: Path) -> None:
    where.mkdir()
    (where / "package.json").write_text('{"private": true, "type": "module"}')
    subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--loglevel=error",
                    *PACKAGES], cwd=where, check=True)


def wait_line(proc: subprocess.Popen[str], text: str) -> None:
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if text not in line:
        raise SystemExit(f"the peer server did not start ({line!r})")


def drive(node_dir: Path, endpoint: str, file: str, chunk: int, small: int,
          during: bool = False) -> dict[str, Any]:
    run = subprocess.run(["node", "client.mjs", endpoint, file, str(chunk), str(small),
                          "1" if during else "0"],
                         cwd=node_dir, check=True, capture_output=True, text=True)
    result: dict[str, Any] = json.loads(run.stdout.strip().splitlines()[-1])
    return result


def require_extension(name: str, endpoint: str, extension: str) -> None:
    """Both servers must advertise what the client is told to use (a fair comparison)."""
    request = urllib.request.Request(endpoint, method="OPTIONS",  # noqa: S310 (http://127...)
                                     headers={"Tus-Resumable": "1.0.0"})
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        advertised = (response.headers.get("Tus-Extension") or "").split(",")
    if extension not in advertised:
        raise SystemExit(f"{name} does not advertise {extension}: {advertised}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mib", type=int, default=512)
    parser.add_argument("--chunk-mib", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--small", type=int, default=100)
    parser.add_argument("--no-creation-with-upload", action="store_true",
                        help="small files: POST then PATCH, as without the extension "
                             "(default: the POST carries the bytes, for both servers)")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        # The public surface: behind Tor the staff surface has its own port and processes
        # (README, Deployment), so the port submitters reach serves only public routes.
        serve(args.serve, "public")
        return
    size = args.size_mib * MiB
    tmp = Path(tempfile.mkdtemp(prefix="dokaz-tus-bench-", dir=os.environ.get("BENCH_DIR")))
    procs: list[subprocess.Popen[Any]] = []
    try:
        node_dir = tmp / "node"
        npm_install(node_dir)
        (node_dir / "server.mjs").write_text(PEER_SERVER)
        (node_dir / "client.mjs").write_text(CLIENT)
        data_file = tmp / "file.bin"
        with data_file.open("wb") as f:
            for _ in range(args.size_mib):
                f.write(os.urandom(MiB))
        data_dir = tmp / "data"
        data_dir.mkdir(mode=0o700)
        env = {
            "DOKAZ_DATA_DIR": str(data_dir), "DOKAZ_LOG_LEVEL": "WARNING",
            "DOKAZ_MAX_FILE_BYTES": str(size + MiB),
            "DOKAZ_MAX_SUBMISSION_BYTES": str(size + 4 * MiB),
            "DOKAZ_INTAKE_RATE_PER_CLIENT_PER_HOUR": "1000000",
            "DOKAZ_INTAKE_RATE_GLOBAL_PER_MINUTE": "1000000",
            "DOKAZ_MIN_FREE_DISK_BYTES": str(256 * MiB),
        }
        prepare(data_dir, env)
        d_port, p_port = free_port(), free_port()
        dokaz = subprocess.Popen([sys.executable, __file__, "--serve", str(d_port)],
                                 env={**os.environ, **env}, cwd=ROOT)
        procs.append(dokaz)
        wait_ready(d_port, dokaz)
        (tmp / "peer").mkdir()
        peer = subprocess.Popen(["node", "server.mjs", str(p_port), str(tmp / "peer")],
                                cwd=node_dir, stdout=subprocess.PIPE, text=True)
        procs.append(peer)
        wait_line(peer, "ready")
        targets = {
            "dokaz": (dokaz.pid, f"http://127.0.0.1:{d_port}/api/v1/uploads"),
            "peer": (peer.pid, f"http://127.0.0.1:{p_port}/files"),
        }
        if not args.no_creation_with_upload:
            for name, (_, endpoint) in targets.items():
                require_extension(name, endpoint, "creation-with-upload")
        ok = report(run_rounds(args, targets, node_dir, str(data_file)), args)
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(timeout=30)
        shutil.rmtree(tmp, ignore_errors=True)
    sys.exit(0 if ok else 1)


def run_rounds(args: argparse.Namespace, targets: dict[str, tuple[int, str]], node_dir: Path,
               data_file: str) -> dict[str, dict[str, list[Any]]]:
    got: dict[str, dict[str, list[Any]]] = {
        k: {"mbs": [], "cpu": [], "patches": [], "small": [], "last_ratio": [], "small_cpu": []}
        for k in targets}
    names = list(targets)
    for r in range(args.rounds):
        order = names if r % 2 == 0 else names[::-1]
        for name in order:
            pid, endpoint = targets[name]
            cpu0, sys0, flt0 = proc_counts(pid)
            big = drive(node_dir, endpoint, data_file, args.chunk_mib * MiB, 0)
            cpu, sys_cpu, faults = (b - a for a, b in zip((cpu0, sys0, flt0),
                                                          proc_counts(pid), strict=True))
            g = got[name]
            g["mbs"].append(big["bytes"] / MB / big["seconds"])
            g["cpu"].append(cpu)
            g["patches"].append(big["patches"])
            g["last_ratio"].append(big["patches"][-1] / statistics.median(big["patches"]))
            # System CPU and page faults: on virtual machines that hand freed pages back
            # to the host, a page used afresh costs the host a fault (see above).
            print(f"round {r + 1} {name:5s}: {g['mbs'][-1]:7.1f} MB/s, cpu {cpu:5.2f} s "
                  f"(sys {sys_cpu:4.2f} s, {faults / 1000:5.1f}k faults), "
                  f"last PATCH {big['patches'][-1]:6.1f} ms"
                  f" / median {statistics.median(big['patches']):6.1f} ms", flush=True)
        if not args.small:
            continue
        # Untimed: the disk settles first. Dokaz writes a big file's parts to disk as they
        # arrive (direct I/O) and the delete after it frees their blocks, which this disk
        # (mounted with discard) trims in the next journal commit: without the sync the
        # small uploads' fsyncs would wait for that. The peer's file never reached the
        # disk (deleted while still in the page cache).
        os.sync()
        # The small files go to both servers from one client, one file to each in turn
        # (see CLIENT): each server's CPU over the phase is its own, its p50 is measured
        # beside the other's at the same moments.
        cpu1 = {name: cpu_seconds(targets[name][0]) for name in order}
        small = drive(node_dir, ",".join(targets[name][1] for name in order), "-", 0,
                      args.small, not args.no_creation_with_upload)["small"]
        for name, times in zip(order, small, strict=True):
            g = got[name]
            g["small"].append(statistics.median(times))
            g["small_cpu"].append((cpu_seconds(targets[name][0]) - cpu1[name]) * 1000
                                  / args.small)
        print(f"round {r + 1} small: " + ", ".join(
            f"{name} p50 {got[name]['small'][-1]:5.1f} ms (cpu {got[name]['small_cpu'][-1]:4.1f}"
            " ms)" for name in names), flush=True)
    return got


def report(got: dict[str, dict[str, list[Any]]], args: argparse.Namespace) -> bool:
    med = {k: {m: statistics.median(v[m]) if v[m] else 0.0
               for m in ("mbs", "cpu", "small", "last_ratio", "small_cpu")}
           for k, v in got.items()}
    d, p = med["dokaz"], med["peer"]
    how = ("POST then PATCH" if args.no_creation_with_upload
           else "creation-with-upload, both servers")
    print(f"\n{args.size_mib} MiB in {args.chunk_mib} MiB chunks, {args.rounds} interleaved "
          f"rounds, {args.small} x 64 KiB ({how}) (medians over rounds)")
    for name in ("dokaz", "peer"):
        m = med[name]
        print(f"  {name:5s}: {m['mbs']:7.1f} MB/s, server CPU {m['cpu']:5.2f} s per file, "
              f"small p50 {m['small']:5.1f} ms (server CPU {m['small_cpu']:4.1f} ms each), "
              f"last/median PATCH {m['last_ratio']:4.2f}")
    print("  Dokaz PATCH times (ms, last round): "
          + " ".join(f"{t:.0f}" for t in got["dokaz"]["patches"][-1]))
    ratio = d["mbs"] / p["mbs"]
    small = d["small"] / p["small"] if args.small else 0.0
    checks = [
        (f"throughput ratio {ratio:.2f}", ratio >= 0.8, ">= 0.8"),
        (f"small-upload p50 {small:.2f}x the peer's", not args.small or small <= 2.0, "<= 2x"),
        (f"last PATCH {d['last_ratio']:.2f}x the median PATCH", d["last_ratio"] <= 2.0,
         "<= 2x"),
    ]
    for text, passed, target in checks:
        print(f"  {'ok  ' if passed else 'MISS'} {text} (target {target})")
    return all(passed for _, passed, _ in checks)


if __name__ == "__main__":
    main()
